"""Elementwise primitives, one record each: implementation, VJP, JVP, cost, lecture text, SymPy
counterpart and code templates side by side.

Kinked functions use the almost-everywhere derivative (relu′ = step, step′ = sign′ = 0,
|x|′ = sign x) and split ties of ``maximum``/``minimum`` evenly (½ to each side, the tie rule of
every interpretation below).  Rules reuse the forward output ``ans`` where it is cheaper (exp,
σ, tanh, sqrt).  Broadcasting is undone by the sweep, never here.

>>> import numpy as np
>>> float(sigmoid(np.float64(0.0)))
0.5
>>> float(softplus(np.float64(1000.0)))  # no overflow
1000.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from ... import stable
from ...functions import relu as sp_relu, sigmoid as sp_sigmoid, softplus as sp_softplus, step as sp_step
from .. import buffers
from ..compile.fused import Fused, Ufunc, V, lit
from ..core import MUL, NONE, PASS, ZERO, Absent, Code, Node, Summed, SymPy, bind, defprim, raw, zero
from ..fast import Scaled


def _out(*args: Any) -> np.ndarray | None:
    """A cached buffer for the float result of an elementwise op on ``args`` when it is large.

    None for small results (plain allocation is cheap there) and non-float results; see
    ``buffers`` for why large ones come from the cache.  Kept cheap (a few µs would show in W3).
    """
    return _out_of(args)


def _out_of(args: tuple) -> np.ndarray | None:
    for a in args:
        if type(a) is _nd and a.nbytes >= buffers.MIN_BYTES:
            shape = a.shape
            break
    else:
        return None
    n = len(shape)
    for a in args:
        s = np.shape(a)
        if s != shape and (len(s) > n or s != shape[n - len(s):]):
            shape = np.broadcast_shapes(*[np.shape(b) for b in args])
            break
    dtype = np.result_type(*args)
    return buffers.empty(shape, dtype) if dtype.kind == "f" else None  # (an elided argument's buffer first)


_nd = np.ndarray


def _cached(ufunc: np.ufunc, *extra: Any):
    """``ufunc(*args, *extra)`` writing large results into a cached buffer."""
    if extra:
        def impl(*args):
            args += extra
            out = _out_of(args)
            return ufunc(*args) if out is None else ufunc(*args, out=out)
    else:
        def impl(*args):
            out = _out_of(args)
            return ufunc(*args) if out is None else ufunc(*args, out=out)
    impl.__name__ = impl.__qualname__ = ufunc.__name__
    return impl


def _plain(*xs) -> bool:
    return not any(isinstance(x, Node) for x in xs)


def _tie(a, b):
    """1 where a wins, ½ at ties, 0 where b wins (the one tie rule of maximum and minimum)."""
    a, b = raw(a), raw(b)
    return (np.greater(a, b) + 0.5 * np.equal(a, b)).astype(np.result_type(a, b, np.float32), copy=False)


def _is_two(b) -> bool:
    return not isinstance(b, Node) and np.ndim(b) == 0 and b == 2


# -- arithmetic --------------------------------------------------------------------------------
def add(a, b):
    return bind(add_p, a, b)


def sub(a, b):
    return bind(sub_p, a, b)


def mul(a, b):
    return bind(mul_p, a, b)


def div(a, b):
    return bind(div_p, a, b)


def neg(a):
    return bind(neg_p, a)


def power(a, b):
    return bind(pow_p, a, b)


# -- fused NumPy emitters of the arithmetic (``code["fused"]``, read by compile/codegen.py) --------
# Each writes the same operations as the primitive's VJP rule below it; ``gen.ew`` folds scalar
# factors and shifts into lazy values by the entry's ``algebra``.
def _fz_pass(gen, n, i, g, a, ans, fresh):
    return gen.hold(g)


def _fz_sub(gen, n, i, g, a, ans, fresh):
    return gen.hold(g) if i == 0 else gen.ew(FUSED_NEG, g)


def _fz_mul(gen, n, i, g, a, ans, fresh):
    return gen.ew(FUSED_MUL, g, a[1 - i])


def _fz_div(gen, n, i, g, a, ans, fresh):
    if i == 0:
        return gen.ew(FUSED_DIV, g, a[1])
    t = gen.ew(FUSED_MUL, g, ans)
    r = gen.ew(FUSED_DIV, t, a[1])
    gen.drop(t)
    if r.shape == () or r.lazy or r.buf is None:
        q = gen.ew(FUSED_NEG, r)  # lazy for arrays: the sign joins the scale
        gen.drop(r)
        return q
    gen.emit(f"np.negative({r.expr}, out={r.expr})")
    return r


def _other_operand(n):  # operand j is read only for the other operand's adjoint
    return [n.parents[1 - i] for i in (0, 1) if n.parents[i].needs_grad]


FUSED_ADD = Ufunc("np.add", _fz_pass, infix="+", algebra="plus")
FUSED_SUB = Ufunc("np.subtract", _fz_sub, infix="-", algebra="minus")
FUSED_MUL = Ufunc("np.multiply", _fz_mul, infix="*", algebra="times", uses=_other_operand, uses_absorb=("scale",))
FUSED_DIV = Ufunc("np.divide", _fz_div, infix="/", algebra="over", uses=lambda n: [n.parents[1], n])
FUSED_NEG = Ufunc("np.negative", lambda gen, n, i, g, a, ans, fresh: gen.ew(FUSED_NEG, g), algebra="negated")


add_p = defprim(
    "add", _cached(np.add), elementwise=True,
    vjp=(lambda g, ans, a, b: g, lambda g, ans, a, b: g),
    jvp=(lambda t, ans, a, b: t, lambda t, ans, a, b: t),
    cost=(1, ((0, PASS), (0, PASS))), local=("1", "1"), sympy=SymPy(lambda a, b: a + b),
    code={"fused": FUSED_ADD, "math": Code("{0} + {1}", ((PASS, None), (PASS, None))),
          "numpy": Code("{0} + {1}", ((PASS, None), (PASS, None)))},
    reads=((), ()), doc="a + b")

sub_p = defprim(
    "sub", _cached(np.subtract), elementwise=True,
    vjp=(lambda g, ans, a, b: g, lambda g, ans, a, b, out=None, lazy=False: _neg_into(g, out, lazy)),
    jvp=(lambda t, ans, a, b: t, lambda t, ans, a, b: neg(t)),
    cost=(1, ((0, PASS), (1, NONE))), local=("1", "-1"), sympy=SymPy(lambda a, b: a - b),
    code={"fused": FUSED_SUB, "math": Code("{0} - {1}", ((PASS, None), (NONE, "-{g}"))),
          "numpy": Code("{0} - {1}", ((PASS, None), (NONE, "-{g}")))},
    fresh=(1,), inplace=(1,), lazy=(1,), reads=((), ()), doc="a − b")


def _mul_vjp(g, other, ans, x, lazy=False):
    # g·other summed to a scalar is one dot product: no temporary array (W2's d/dw of w·x).
    if np.ndim(x) == 0 and type(g) is np.ndarray and type(other) is np.ndarray \
            and g.ndim >= 1 and g.shape == other.shape and not isinstance(x, Node):
        if g.ndim == 1 and g.dtype == other.dtype:
            return Summed(np.dot(g, other))  # BLAS dot: about twice as fast as vdot on 10⁶ points
        return Summed(np.vdot(g, other))
    if lazy and _plain(g, other):  # an array times a scalar: the fast sweep keeps the scalar apart
        if type(g) is np.ndarray and g.ndim and g.dtype.kind == "f" and np.ndim(other) == 0 \
                and np.result_type(g, other) == g.dtype:
            return Scaled(g, other)
        if type(other) is np.ndarray and other.ndim and other.dtype.kind == "f" and np.ndim(g) == 0 \
                and np.result_type(g, other) == other.dtype:
            return Scaled(other, g)
    return mul(g, other)


mul_p = defprim(
    "mul", _cached(np.multiply), elementwise=True,
    vjp=(lambda g, ans, a, b, lazy=False: _mul_vjp(g, b, ans, a, lazy),
         lambda g, ans, a, b, lazy=False: _mul_vjp(g, a, ans, b, lazy)),
    jvp=(lambda t, ans, a, b: mul(t, b), lambda t, ans, a, b: mul(a, t)),
    cost=(1, ((1, MUL), (1, MUL))), local=("{1}", "{0}"), sympy=SymPy(lambda a, b: a * b),
    code={"fused": FUSED_MUL, "math": Code("{0} * {1}", ((MUL, "{1}"), (MUL, "{0}"))),
          "numpy": Code("{0} * {1}", ((MUL, "{1}"), (MUL, "{0}")))},
    fresh=(0, 1), lazy=(0, 1), reads=({1}, {0}), doc="a · b")

div_p = defprim(
    "div", _cached(np.true_divide), elementwise=True,
    vjp=(lambda g, ans, a, b: div(g, b), lambda g, ans, a, b: neg(div(mul(g, ans), b))),
    jvp=(lambda t, ans, a, b: div(t, b), lambda t, ans, a, b: neg(div(mul(t, ans), b))),
    cost=(1, ((1, NONE), (3, MUL))), local=("1/{1}", "-{ans}/{1}"), sympy=SymPy(lambda a, b: a / b),
    code={"fused": FUSED_DIV, "math": Code("{0} / {1}", ((NONE, "{g} / {1}"), (NONE, "-({g} * {ans}) / {1}"))),
          "numpy": Code("{0} / {1}", ((NONE, "{g} / {1}"), (NONE, "-({g} * {ans}) / {1}")))},
    domain=("real", "real"), reads=({1}, {"ans", 1}), doc="a / b")

def _neg_into(g, out=None, lazy=False):
    # −g: for the fast sweep the scale −1 of g (no pass at all), or written over g itself when the
    # sweep owns it (out=g: a pass with no new buffer)
    if type(g) is np.ndarray and g.dtype.kind == "f" and g.ndim:
        if lazy:
            return Scaled(g, -1.0)
        if out is g:
            return np.negative(g, out=g)
    return neg(g)


neg_p = defprim(
    "neg", _cached(np.negative), elementwise=True,
    vjp=(lambda g, ans, a, out=None, lazy=False: _neg_into(g, out, lazy),), jvp=(lambda t, ans, a: neg(t),),
    cost=(1, ((1, NONE),)), local=("-1",), sympy=SymPy(lambda a: -a),
    code={"fused": FUSED_NEG, "math": Code("-{0}", ((NONE, "-{g}"),)), "numpy": Code("-{0}", ((NONE, "-{g}"),))},
    fresh=(0,), inplace=(0,), lazy=(0,), reads=((),), doc="−a")


_square, _power = _cached(np.square), _cached(np.power)


def _pow_impl(a, b):
    # np.square is a plain multiply; np.power(x, 2.0) takes a slower path (W2's (y - u)**2).
    if isinstance(b, (int, float)) and b == 2:
        return _square(a)
    return _power(a, b)


def _dpow_base(a, b):
    """d(a**b)/da; ``2a`` for the common square."""
    if _is_two(b):
        return mul(2.0, a)
    return mul(b, power(a, sub(b, 1.0)))


def _pow_vjp_base(g, ans, a, b, lazy=False):
    if _plain(g, a) and _is_two(b) and np.ndim(g) == 0 and isinstance(a, np.ndarray):
        if lazy and a.ndim and a.dtype.kind == "f" and np.result_type(a, g) == a.dtype:
            return Scaled(a, 2.0 * g)  # for the fast sweep: no pass at all
        return np.multiply(a, 2.0 * g, out=_out(a))  # scalar factors first: one pass over a
    return mul(g, _dpow_base(a, b))


def _dpow_exp(ans, a):
    # d(a**b)/db = a**b · log a, with log 0 replaced by 0: at a = 0 the power is 0 and so is the
    # derivative (the limit for b > 0), not 0·(−inf) = nan (as autograd's replace_zero).
    zeros = np.equal(_leaf(a), 0)
    return mul(ans, log(where(zeros, 1.0, a)) if np.any(zeros) else log(a))


def _leaf(x):
    while isinstance(x, Node):
        x = x.value
    return x


def _is_square(node) -> bool:
    e = node.parents[1]
    return e.kind == "const" and _is_two(e.value)


def _pow_cost(node, i):
    if i == 0:
        e = node.parents[1]
        if e.kind == "const" and _is_two(e.value):
            return 2, MUL  # g·(2a)
        return 4, MUL      # g·b·a^(b−1)
    return 3, MUL          # g·ans·log a


def _pow_local(node, i):
    e = node.parents[1]
    if i == 0 and e.kind == "const" and _is_two(e.value):
        return "2*{0}"
    return ("{1}*{0}^({1}-1)", "{ans}*log({0})")[i]


def _fz_square_vjp(gen, n, i, g, a, ans, fresh):
    t = gen.ew(FUSED_MUL, a[0], lit("2.0"))  # lazy: 2·x·g is one pass or a dot product
    if g.expr == "1.0":
        return t
    if t.lazy and g.shape != () and t.shape != g.shape:  # broadcast product: write it once
        t = gen.force(t, keep_scale=True)
    if not t.lazy and t.buf is not None and np.broadcast_shapes(t.shape, g.shape) == t.shape:
        gen.inplace("*", t, g)
        return t
    r = gen.ew(FUSED_MUL, t, g)
    gen.drop(t)
    return r


# fused only as the square (a constant exponent 2), the case of every built-in loss
FUSED_SQUARE = Fused(lambda gen, n, a, out: gen.ew(FUSED_MUL, a[0], a[0], out=out), _fz_square_vjp,
                     supports=lambda n, vals: _is_square(n), uses=lambda n: [n.parents[0]], uses_absorb=("scale",),
                     absorbs=lambda n, a: [("scale",), ()],
                     cases=lambda rng: [((rng.uniform(0.2, 2.0, shape)[()], 2.0), {}, (1,)) for shape in
                                        [(), (5,), (3, 4)]])

pow_p = defprim(
    "pow", _pow_impl, elementwise=True,
    vjp=(_pow_vjp_base, lambda g, ans, a, b: mul(g, _dpow_exp(ans, a))),
    jvp=(lambda t, ans, a, b: mul(t, _dpow_base(a, b)), lambda t, ans, a, b: mul(t, _dpow_exp(ans, a))),
    cost=_pow_cost, local=_pow_local, sympy=SymPy(lambda a, b: a ** b),
    # the exponent's VJP has no template (log 0 is handled by the rule): replay calls the rule
    code={"fused": FUSED_SQUARE,
          "math": Code(lambda n: "{0} * {0}" if _is_square(n) else "pow({0}, {1})",
                       (lambda n: (MUL, "2.0 * {0}" if _is_square(n) else "{1} * pow({0}, {1} - 1.0)"), None)),
          "numpy": Code(lambda n: "{0} * {0}" if _is_square(n) else "{0} ** {1}",
                        (lambda n: (MUL, "2.0 * {0}" if _is_square(n) else "{1} * np.power({0}, {1} - 1.0)"), None))},
    domain=("positive", "real"), fresh=(0, 1), lazy=(0,),
    reads=({0, 1}, {"ans", 0}),
    doc="a ** b (for a = 0 the derivative in b is taken as its limit 0)")


# -- elementwise functions ---------------------------------------------------------------------
def _unary(name: str, impl, d, *, cost: int, local: str, sympy: Any, math: str | None, numpy: str | None,
           dmath: str | None, dnumpy: str | None, doc: str = "", domain: str = "real", fused: Fused | None = None):
    """A unary primitive whose VJP is g·d(x, ans) and JVP t·d(x, ans); returns (primitive, op)."""
    code = {"math": Code(math, ((MUL, dmath),)) if math else Absent("no Python-float template"),
            "numpy": Code(numpy, ((MUL, dnumpy),)) if numpy else Absent("no NumPy template")}
    if fused is not None:
        code["fused"] = fused
    p = defprim(name, impl, elementwise=True, vjp=(lambda g, ans, x: mul(g, d(x, ans)),),
                jvp=(lambda t, ans, x: mul(t, d(x, ans)),), cost=(1, ((cost, MUL),)), local=(local,),
                sympy=sympy, code=code, doc=doc, domain=(domain,))
    return p, (lambda x: bind(p, x))


# fused emitters of the unary functions: g·d written with the same operations as ``d`` above
def _arg0(n):
    return [n.parents[0]]


def _ans(n):
    return [n]


def _fz_times(gen, g, d):
    r = gen.ew(FUSED_MUL, g, d)
    gen.drop(d)
    return r


def _fz_sqrt(gen, n, i, g, a, ans, fresh):
    return _fz_times(gen, g, gen.ew(FUSED_DIV, lit("0.5"), ans))


def _fz_cos(gen, n, i, g, a, ans, fresh):
    r = _fz_times(gen, g, gen.ew(FUSED_SIN, a[0]))
    q = gen.ew(FUSED_NEG, r)  # lazy for arrays: the sign joins the scale
    gen.drop(r)
    return q


FUSED_EXP = Ufunc("np.exp", lambda gen, n, i, g, a, ans, fresh: gen.ew(FUSED_MUL, g, ans), uses=_ans)
FUSED_LOG = Ufunc("np.log", lambda gen, n, i, g, a, ans, fresh: gen.ew(FUSED_DIV, g, a[0]), uses=_arg0)
FUSED_SQRT = Ufunc("np.sqrt", _fz_sqrt, uses=_ans)
FUSED_SIN = Ufunc("np.sin", lambda gen, n, i, g, a, ans, fresh: _fz_times(gen, g, gen.ew(FUSED_COS, a[0])), uses=_arg0)
FUSED_COS = Ufunc("np.cos", _fz_cos, uses=_arg0)
FUSED_ABS = Ufunc("np.absolute", lambda gen, n, i, g, a, ans, fresh: _fz_times(
    gen, g, gen.write("np.sign", [a[0].expr], a[0].shape, a[0].dtype)), uses=_arg0)

exp_p, exp = _unary("exp", _cached(np.exp), lambda x, ans: ans, cost=1, local="{ans}", sympy=SymPy(sp.exp, sp.exp),
                    math="exp({0})", numpy="np.exp({0})", dmath="{ans}", dnumpy="{ans}", doc="eˣ", fused=FUSED_EXP)
log_p = defprim(
    "log", _cached(np.log), elementwise=True,
    vjp=(lambda g, ans, x: div(g, x),), jvp=(lambda t, ans, x: div(t, x),),
    cost=(1, ((1, NONE),)), local=("1/{0}",), sympy=SymPy(sp.log, sp.log),
    code={"fused": FUSED_LOG, "math": Code("log({0})", ((NONE, "{g} / {0}"),)),
          "numpy": Code("np.log({0})", ((NONE, "{g} / {0}"),))},
    domain=("positive",), doc="natural logarithm")


def log(x):
    return bind(log_p, x)


sqrt_p, sqrt = _unary("sqrt", _cached(np.sqrt), lambda x, ans: div(0.5, ans), cost=2, local="1/(2*{ans})",
                      sympy=SymPy(sp.sqrt), math="sqrt({0})", numpy="np.sqrt({0})", dmath="0.5 / {ans}",
                      dnumpy="0.5 / {ans}", domain="positive", doc="√x", fused=FUSED_SQRT)
abs_p, absolute = _unary("abs", np.abs, lambda x, ans: sign(x), cost=2, local="sign({0})",
                         sympy=SymPy(sp.Abs, sp.Abs), math="fabs({0})", numpy="np.abs({0})",
                         dmath="(copysign(1.0, {0}) if {0} else 0.0)", dnumpy="np.sign({0})",
                         doc="|x|; derivative sign(x), 0 at the kink", fused=FUSED_ABS)
sin_p, sin = _unary("sin", _cached(np.sin), lambda x, ans: cos(x), cost=2, local="cos({0})", sympy=SymPy(sp.sin, sp.sin),
                    math="sin({0})", numpy="np.sin({0})", dmath="cos({0})", dnumpy="np.cos({0})", doc="sin x",
                    fused=FUSED_SIN)
cos_p, cos = _unary("cos", _cached(np.cos), lambda x, ans: neg(sin(x)), cost=3, local="-sin({0})",
                    sympy=SymPy(sp.cos, sp.cos), math="cos({0})", numpy="np.cos({0})", dmath="-sin({0})",
                    dnumpy="-np.sin({0})", doc="cos x", fused=FUSED_COS)
softplus_p, softplus = _unary("softplus", stable.softplus, lambda x, ans: sigmoid(x), cost=2, local="sigmoid({0})",
                              sympy=SymPy(sp_softplus, sp_softplus), math="_softplus({0})",
                              numpy="_stable.softplus({0})", dmath="_sig({0})", dnumpy="_stable.sigmoid({0})",
                              doc="log(1 + eˣ), stable")

# σ: the VJP reuses ans, σ′ = σ(x)/(1 + eˣ) (stable.sigmoid_prime: no 1 − σ cancellation)


def _sigmoid_impl(x):
    return stable.sigmoid(x, out=_out(x) if isinstance(x, np.ndarray) and x.ndim else None)


def _dsigmoid(x, ans):
    if _plain(x, ans):
        return stable.sigmoid_prime(x, ans, out=_out(ans) if isinstance(ans, np.ndarray) and ans.ndim else None)
    return mul(ans, sigmoid(neg(x)))


def _sigmoid_fwd(x):
    # with a gradient to come: keep t = e^(−x) as the residual, so that σ′ needs no second exp
    if isinstance(x, np.ndarray) and x.ndim and x.dtype.kind == "f":
        return stable.sigmoid_and_exp(x, out=_out(x), t_out=_out(x))
    return _sigmoid_impl(x), None


def _sigmoid_reads(x):
    # what the VJP reads (elide.py): the result, and x only where there is no kept exponential
    return ({"ans"},) if isinstance(x, np.ndarray) and x.ndim and x.dtype.kind == "f" else ({"ans", 0},)


def _sigmoid_vjp(g, ans, x, res=None, consume=False):
    if _plain(g, ans, x) and isinstance(ans, np.ndarray) and ans.ndim and np.ndim(g) <= ans.ndim \
            and isinstance(x, np.ndarray) and x.shape == ans.shape:
        if res is not None and res.shape == ans.shape and res.dtype == ans.dtype:
            # σ′ over the kept exponential when this sweep is its last reader (consume), else beside it
            t = stable.sigmoid_prime_from_exp(res, ans, out=res if consume and res.flags.writeable else _out(ans))
        else:
            t = stable.sigmoid_prime(x, ans, out=_out(ans))  # one buffer, updated in place
        return np.multiply(t, g, out=t)
    return mul(g, _dsigmoid(x, ans))


_STABLE = "from diffkit import stable as _stable"


def _fz_sigmoid(gen, n, a, out):
    gen.require(_STABLE)  # the one σ formula, writing into a pool buffer
    if a[0].shape == () or not n.needs_grad:
        return gen.write("_stable.sigmoid", [a[0].expr], a[0].shape, a[0].dtype, out=out)
    # σ and t = e^(−x) in two pool buffers; t is kept for the VJP (σ′ = (t·σ)·σ, no second exp)
    sb, tb = gen.out_buffer(a[0].shape, a[0].dtype), gen.alloc(a[0].shape, a[0].dtype)  # σ may replace x
    gen.emit(f"{out}, t_{out} = _stable.sigmoid_and_exp({a[0].expr}, out={sb}, t_out={tb})")
    gen.save(n, "t", V(f"t_{out}", a[0].shape, a[0].dtype, tb))
    return V(out, a[0].shape, a[0].dtype, sb)


def _fz_sigmoid_vjp(gen, n, i, g, a, ans, fresh):
    # σ′ from the kept exponential (or by stable.sigmoid_prime for a scalar), in a pool buffer, then
    # ·g in place; a scalar or lazy scale of g stays a lazy scale of the result
    if ans.shape == () or ("t", n) not in gen.extra:
        t = gen.write("_stable.sigmoid_prime", [a[0].expr, ans.expr], ans.shape, ans.dtype)
    else:
        e = gen.saved(n, "t")  # dies with this VJP: σ′ may replace it
        t = gen.write("_stable.sigmoid_prime_from_exp", [e.expr, ans.expr], ans.shape, ans.dtype, buf=gen.steal(e))
    if ans.shape == ():
        return _fz_times(gen, g, t)
    if g.expr == "1.0":
        return t
    if g.shape == ():
        q = gen.scaled(t, "times", g.expr)  # hold the buffer before letting go of t
        gen.drop(t)
        return q
    if g.shape != ans.shape or g.prod is not None or g.offset is not None:
        g = gen.force(gen.hold(g))
        gen.inplace("*", t, g)
        gen.drop(g)
        return t
    gen.emit(f"{t.expr} *= {g.expr if g.scale is None else g.base}")
    if g.scale is None:
        return t
    q = gen.scaled(t, "times", g.scale)
    gen.drop(t)
    return q


sigmoid_p = defprim(
    "sigmoid", _sigmoid_impl, elementwise=True, fwd=_sigmoid_fwd, res_args=(0,),
    vjp=(_sigmoid_vjp,), jvp=(lambda t, ans, x: mul(t, _dsigmoid(x, ans)),),
    cost=(1, ((3, MUL),)), local=("{ans}*sigmoid(-{0})",), sympy=SymPy(sp_sigmoid, sp_sigmoid),
    # the VJP reads x only where there is no kept exponential (a scalar σ)
    code={"fused": Fused(_fz_sigmoid, _fz_sigmoid_vjp, uses=lambda n: [n] if n.shape != () else [n.parents[0], n],
                         residuals=("t",), inplace_fwd=True),
          "math": Code("_sig({0})", ((MUL, "_sigp({0})"),)),
          "numpy": Code("_stable.sigmoid({0})", ((MUL, "_stable.sigmoid_prime({0}, {ans})"),))},
    fresh=(0,), reads=_sigmoid_reads, doc="σ(x) = 1/(1 + e⁻ˣ); σ′ = σ(x)σ(−x)")


def _tanh_vjp(g, ans, x):
    if _plain(g, ans) and isinstance(ans, np.ndarray) and ans.ndim and np.ndim(g) <= ans.ndim:
        t = np.multiply(ans, ans, out=_out(ans))
        np.subtract(1.0, t, out=t)
        t *= g
        return t
    return mul(g, sub(1.0, mul(ans, ans)))


def _fz_tanh_vjp(gen, n, i, g, a, ans, fresh):  # g·(1 − ans²), as the rule
    t = gen.ew(FUSED_MUL, ans, ans)
    u = gen.ew(FUSED_SUB, lit("1.0"), t)
    gen.drop(t)
    return _fz_times(gen, g, u)


tanh_p = defprim(
    "tanh", _cached(np.tanh), elementwise=True,
    vjp=(_tanh_vjp,), jvp=(lambda t, ans, x: mul(t, sub(1.0, mul(ans, ans))),),
    cost=(1, ((3, MUL),)), local=("1-{ans}^2",), sympy=SymPy(sp.tanh, sp.tanh),
    code={"fused": Ufunc("np.tanh", _fz_tanh_vjp, uses=_ans),
          "math": Code("tanh({0})", ((MUL, "1.0 - {ans} * {ans}"),)),
          "numpy": Code("np.tanh({0})", ((MUL, "1.0 - {ans} * {ans}"),))},
    doc="tanh x; tanh′ = 1 − tanh²")


def _relu_vjp(g, ans, x, out=None):
    if type(g) is np.ndarray and type(x) is np.ndarray and g.shape == x.shape and g.dtype.kind == "f":
        # g·[x > 0]: a multiply by a boolean mask, several times faster than np.where (W3)
        if out is None or out.shape != x.shape or out.dtype != g.dtype:
            out = _out(g)
        return np.multiply(g, np.greater(x, 0), out=out)
    if _plain(g, x) and isinstance(x, np.ndarray) and np.ndim(g) <= x.ndim:
        mask = np.greater(x, 0)
        if out is None or out.shape != x.shape or out.dtype != np.result_type(g, mask):
            out = _out(g, mask)
        return np.multiply(g, mask, out=out)
    return where(raw(x) > 0, g, 0.0)


def _fz_relu_vjp(gen, n, i, g, a, ans, fresh):  # g·[x > 0]: a multiply by a boolean mask
    t = gen.tmp()
    gen.emit(f"{t} = {a[0].expr} > 0")
    return gen.ew(FUSED_MUL, g, V(t, a[0].shape, np.dtype(bool)))


relu_p = defprim(
    "relu", _cached(np.maximum, 0), elementwise=True,
    vjp=(_relu_vjp,), jvp=(lambda t, ans, x: where(raw(x) > 0, t, 0.0),),
    cost=(1, ((2, NONE),)), local=("step({0})",), sympy=SymPy(sp_relu, sp_relu),
    code={"fused": Fused(lambda gen, n, a, out: gen.write("np.maximum", [a[0].expr, "0"], a[0].shape, a[0].dtype,
                                                         out=out), _fz_relu_vjp, uses=_arg0),
          "math": Code("({0} if {0} > 0.0 else 0.0)", ((NONE, "({g} if {0} > 0.0 else 0.0)"),)),
          "numpy": Code("np.maximum({0}, 0)", ((NONE, "np.where({0} > 0, {g}, 0.0)"),))},
    fresh=(0,), inplace=(0,), doc="max(x, 0); derivative step(x), 0 at the kink")

step_p = defprim(
    "step", lambda x: (np.asarray(x) > 0).astype(np.result_type(x, np.float32))[()], elementwise=True,
    vjp=(lambda g, ans, x: zero,), jvp=(lambda t, ans, x: zero,),
    cost=(1, ((0, ZERO),)), local=("0",), sympy=SymPy(sp_step, sp_step, sp.Heaviside),
    code={"math": Code("(1.0 if {0} > 0.0 else 0.0)", ((ZERO, None),)),
          "numpy": Code("np.greater({0}, 0).astype(float)", ((ZERO, None),))},
    doc="1 for x > 0 else 0 (the lecture's step; 0 at the kink); derivative 0")

sign_p = defprim(
    "sign", np.sign, elementwise=True,
    vjp=(lambda g, ans, x: zero,), jvp=(lambda t, ans, x: zero,),
    cost=(1, ((0, ZERO),)), local=("0",), sympy=SymPy(sp.sign, sp.sign),
    code={"math": Code("(copysign(1.0, {0}) if {0} else 0.0)", ((ZERO, None),)),
          "numpy": Code("np.sign({0})", ((ZERO, None),))},
    doc="sign x; derivative 0")


def sigmoid(x):
    return bind(sigmoid_p, x)


def tanh(x):
    return bind(tanh_p, x)


def relu(x):
    return bind(relu_p, x)


def step(x):
    return bind(step_p, x)


def sign(x):
    return bind(sign_p, x)


# -- selections --------------------------------------------------------------------------------
def maximum(a, b):
    return bind(maximum_p, a, b)


def minimum(a, b):
    return bind(minimum_p, a, b)


def where(cond, a, b):
    """``a`` where ``cond`` else ``b``; ``cond`` is a plain boolean array (not differentiated)."""
    return bind(where_p, np.asarray(_leaf(cond), dtype=bool) if isinstance(cond, Node) else cond, a, b)


_TIE_MATH = "(1.0 if {a} > {b} else 0.5 if {a} == {b} else 0.0)"

maximum_p = defprim(
    "maximum", np.maximum, elementwise=True,
    vjp=(lambda g, ans, a, b: mul(g, _tie(a, b)), lambda g, ans, a, b: mul(g, _tie(b, a))),
    jvp=(lambda t, ans, a, b: mul(t, _tie(a, b)), lambda t, ans, a, b: mul(t, _tie(b, a))),
    cost=(1, ((5, MUL), (5, MUL))), local=("[{0} > {1}] + ½[{0} = {1}]", "[{1} > {0}] + ½[{0} = {1}]"),
    sympy=SymPy(sp.Max, sp.Max),
    code={"math": Code("max({0}, {1})", ((MUL, _TIE_MATH.format(a="{0}", b="{1}")),
                                          (MUL, _TIE_MATH.format(a="{1}", b="{0}")))),
          "numpy": Code("np.maximum({0}, {1})", ((MUL, "_tie({0}, {1})"), (MUL, "_tie({1}, {0})")))},
    doc="max(a, b); at a tie each side gets half the gradient")

minimum_p = defprim(
    "minimum", np.minimum, elementwise=True,
    vjp=(lambda g, ans, a, b: mul(g, _tie(b, a)), lambda g, ans, a, b: mul(g, _tie(a, b))),
    jvp=(lambda t, ans, a, b: mul(t, _tie(b, a)), lambda t, ans, a, b: mul(t, _tie(a, b))),
    cost=(1, ((5, MUL), (5, MUL))), local=("[{0} < {1}] + ½[{0} = {1}]", "[{1} < {0}] + ½[{0} = {1}]"),
    sympy=SymPy(sp.Min, sp.Min),
    code={"math": Code("min({0}, {1})", ((MUL, _TIE_MATH.format(a="{1}", b="{0}")),
                                          (MUL, _TIE_MATH.format(a="{0}", b="{1}")))),
          "numpy": Code("np.minimum({0}, {1})", ((MUL, "_tie({1}, {0})"), (MUL, "_tie({0}, {1})")))},
    doc="min(a, b); at a tie each side gets half the gradient")

where_p = defprim(
    "where", np.where, elementwise=True, nondiff=(0,),
    vjp=(None, lambda g, ans, c, a, b: where(c, g, 0.0), lambda g, ans, c, a, b: where(c, 0.0, g)),
    jvp=(None, lambda t, ans, c, a, b: where(c, t, 0.0), lambda t, ans, c, a, b: where(c, 0.0, t)),
    cost=(1, ((0, ZERO), (1, NONE), (1, NONE))), local=("—", "[{0}]", "[not {0}]"),
    sympy=Absent("the condition is a NumPy boolean array, not a SymPy expression"),
    code={"math": Code("({1} if {0} else {2})", (None, (NONE, "({g} if {0} else 0.0)"), (NONE, "(0.0 if {0} else {g})"))),
          "numpy": Code("np.where({0}, {1}, {2})", (None, (NONE, "np.where({0}, {g}, 0.0)"),
                                                     (NONE, "np.where({0}, 0.0, {g})")))},
    domain=("bool", "real", "real"), doc="a where cond else b; cond (argument 0) is a boolean mask, not differentiated")
