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
from ..core import MUL, NONE, PASS, ZERO, Absent, Code, Node, Summed, SymPy, bind, defprim, raw, zero


def _out(*args: Any) -> np.ndarray | None:
    """A cached buffer for the float result of an elementwise op on ``args`` when it is large.

    None for small results (plain allocation is cheap there) and non-float results; see
    ``buffers`` for why large ones come from the cache.  Kept cheap (a few µs would show in W3).
    """
    shape = None
    for a in args:
        if isinstance(a, np.ndarray) and a.nbytes >= buffers.MIN_BYTES:
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
    return buffers.empty(shape, dtype) if dtype.kind == "f" else None


def _cached(ufunc: np.ufunc, *extra: Any):
    """``ufunc(*args, *extra)`` writing large results into a cached buffer."""
    def impl(*args):
        out = _out(*args, *extra)
        return ufunc(*args, *extra) if out is None else ufunc(*args, *extra, out=out)
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


add_p = defprim(
    "add", _cached(np.add), elementwise=True,
    vjp=(lambda g, ans, a, b: g, lambda g, ans, a, b: g),
    jvp=(lambda t, ans, a, b: t, lambda t, ans, a, b: t),
    cost=(1, ((0, PASS), (0, PASS))), local=("1", "1"), sympy=SymPy(lambda a, b: a + b),
    code={"math": Code("{0} + {1}", ((PASS, None), (PASS, None))),
          "numpy": Code("{0} + {1}", ((PASS, None), (PASS, None)))},
    doc="a + b")

sub_p = defprim(
    "sub", _cached(np.subtract), elementwise=True,
    vjp=(lambda g, ans, a, b: g, lambda g, ans, a, b: neg(g)),
    jvp=(lambda t, ans, a, b: t, lambda t, ans, a, b: neg(t)),
    cost=(1, ((0, PASS), (1, NONE))), local=("1", "-1"), sympy=SymPy(lambda a, b: a - b),
    code={"math": Code("{0} - {1}", ((PASS, None), (NONE, "-{g}"))),
          "numpy": Code("{0} - {1}", ((PASS, None), (NONE, "-{g}")))},
    doc="a − b")


def _mul_vjp(g, other, ans, x):
    # g·other summed to a scalar is one dot product: no temporary array (W2's d/dw of w·x).
    if np.ndim(x) == 0 and type(g) is np.ndarray and type(other) is np.ndarray \
            and g.ndim >= 1 and g.shape == other.shape and not isinstance(x, Node):
        if g.ndim == 1 and g.dtype == other.dtype:
            return Summed(np.dot(g, other))  # BLAS dot: about twice as fast as vdot on 10⁶ points
        return Summed(np.vdot(g, other))
    return mul(g, other)


mul_p = defprim(
    "mul", _cached(np.multiply), elementwise=True,
    vjp=(lambda g, ans, a, b: _mul_vjp(g, b, ans, a), lambda g, ans, a, b: _mul_vjp(g, a, ans, b)),
    jvp=(lambda t, ans, a, b: mul(t, b), lambda t, ans, a, b: mul(a, t)),
    cost=(1, ((1, MUL), (1, MUL))), local=("{1}", "{0}"), sympy=SymPy(lambda a, b: a * b),
    code={"math": Code("{0} * {1}", ((MUL, "{1}"), (MUL, "{0}"))),
          "numpy": Code("{0} * {1}", ((MUL, "{1}"), (MUL, "{0}")))},
    doc="a · b")

div_p = defprim(
    "div", _cached(np.true_divide), elementwise=True,
    vjp=(lambda g, ans, a, b: div(g, b), lambda g, ans, a, b: neg(div(mul(g, ans), b))),
    jvp=(lambda t, ans, a, b: div(t, b), lambda t, ans, a, b: neg(div(mul(t, ans), b))),
    cost=(1, ((1, NONE), (3, MUL))), local=("1/{1}", "-{ans}/{1}"), sympy=SymPy(lambda a, b: a / b),
    code={"math": Code("{0} / {1}", ((NONE, "{g} / {1}"), (NONE, "-({g} * {ans}) / {1}"))),
          "numpy": Code("{0} / {1}", ((NONE, "{g} / {1}"), (NONE, "-({g} * {ans}) / {1}")))},
    domain=("real", "real"), doc="a / b")

neg_p = defprim(
    "neg", _cached(np.negative), elementwise=True,
    vjp=(lambda g, ans, a: neg(g),), jvp=(lambda t, ans, a: neg(t),),
    cost=(1, ((1, NONE),)), local=("-1",), sympy=SymPy(lambda a: -a),
    code={"math": Code("-{0}", ((NONE, "-{g}"),)), "numpy": Code("-{0}", ((NONE, "-{g}"),))},
    doc="−a")


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


def _pow_vjp_base(g, ans, a, b):
    if _plain(g, a) and _is_two(b) and np.ndim(g) == 0 and isinstance(a, np.ndarray):
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


pow_p = defprim(
    "pow", _pow_impl, elementwise=True,
    vjp=(_pow_vjp_base, lambda g, ans, a, b: mul(g, _dpow_exp(ans, a))),
    jvp=(lambda t, ans, a, b: mul(t, _dpow_base(a, b)), lambda t, ans, a, b: mul(t, _dpow_exp(ans, a))),
    cost=_pow_cost, local=_pow_local, sympy=SymPy(lambda a, b: a ** b),
    # the exponent's VJP has no template (log 0 is handled by the rule): replay calls the rule
    code={"math": Code(lambda n: "{0} * {0}" if _is_square(n) else "pow({0}, {1})",
                       (lambda n: (MUL, "2.0 * {0}" if _is_square(n) else "{1} * pow({0}, {1} - 1.0)"), None)),
          "numpy": Code(lambda n: "{0} * {0}" if _is_square(n) else "{0} ** {1}",
                        (lambda n: (MUL, "2.0 * {0}" if _is_square(n) else "{1} * np.power({0}, {1} - 1.0)"), None))},
    domain=("positive", "real"), doc="a ** b (for a = 0 the derivative in b is taken as its limit 0)")


# -- elementwise functions ---------------------------------------------------------------------
def _unary(name: str, impl, d, *, cost: int, local: str, sympy: Any, math: str | None, numpy: str | None,
           dmath: str | None, dnumpy: str | None, doc: str = "", domain: str = "real"):
    """A unary primitive whose VJP is g·d(x, ans) and JVP t·d(x, ans); returns (primitive, op)."""
    code = {"math": Code(math, ((MUL, dmath),)) if math else Absent("no Python-float template"),
            "numpy": Code(numpy, ((MUL, dnumpy),)) if numpy else Absent("no NumPy template")}
    p = defprim(name, impl, elementwise=True, vjp=(lambda g, ans, x: mul(g, d(x, ans)),),
                jvp=(lambda t, ans, x: mul(t, d(x, ans)),), cost=(1, ((cost, MUL),)), local=(local,),
                sympy=sympy, code=code, doc=doc, domain=(domain,))
    return p, (lambda x: bind(p, x))


exp_p, exp = _unary("exp", _cached(np.exp), lambda x, ans: ans, cost=1, local="{ans}", sympy=SymPy(sp.exp, sp.exp),
                    math="exp({0})", numpy="np.exp({0})", dmath="{ans}", dnumpy="{ans}", doc="eˣ")
log_p = defprim(
    "log", _cached(np.log), elementwise=True,
    vjp=(lambda g, ans, x: div(g, x),), jvp=(lambda t, ans, x: div(t, x),),
    cost=(1, ((1, NONE),)), local=("1/{0}",), sympy=SymPy(sp.log, sp.log),
    code={"math": Code("log({0})", ((NONE, "{g} / {0}"),)), "numpy": Code("np.log({0})", ((NONE, "{g} / {0}"),))},
    domain=("positive",), doc="natural logarithm")


def log(x):
    return bind(log_p, x)


sqrt_p, sqrt = _unary("sqrt", _cached(np.sqrt), lambda x, ans: div(0.5, ans), cost=2, local="1/(2*{ans})",
                      sympy=SymPy(sp.sqrt), math="sqrt({0})", numpy="np.sqrt({0})", dmath="0.5 / {ans}",
                      dnumpy="0.5 / {ans}", domain="positive", doc="√x")
abs_p, absolute = _unary("abs", np.abs, lambda x, ans: sign(x), cost=2, local="sign({0})",
                         sympy=SymPy(sp.Abs, sp.Abs), math="fabs({0})", numpy="np.abs({0})",
                         dmath="(copysign(1.0, {0}) if {0} else 0.0)", dnumpy="np.sign({0})",
                         doc="|x|; derivative sign(x), 0 at the kink")
sin_p, sin = _unary("sin", _cached(np.sin), lambda x, ans: cos(x), cost=2, local="cos({0})", sympy=SymPy(sp.sin, sp.sin),
                    math="sin({0})", numpy="np.sin({0})", dmath="cos({0})", dnumpy="np.cos({0})", doc="sin x")
cos_p, cos = _unary("cos", _cached(np.cos), lambda x, ans: neg(sin(x)), cost=3, local="-sin({0})",
                    sympy=SymPy(sp.cos, sp.cos), math="cos({0})", numpy="np.cos({0})", dmath="-sin({0})",
                    dnumpy="-np.sin({0})", doc="cos x")
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


def _sigmoid_vjp(g, ans, x):
    if _plain(g, ans, x) and isinstance(ans, np.ndarray) and ans.ndim and np.ndim(g) <= ans.ndim \
            and isinstance(x, np.ndarray) and x.shape == ans.shape:
        t = stable.sigmoid_prime(x, ans, out=_out(ans))  # one buffer, updated in place
        return np.multiply(t, g, out=t)
    return mul(g, _dsigmoid(x, ans))


sigmoid_p = defprim(
    "sigmoid", _sigmoid_impl, elementwise=True,
    vjp=(_sigmoid_vjp,), jvp=(lambda t, ans, x: mul(t, _dsigmoid(x, ans)),),
    cost=(1, ((3, MUL),)), local=("{ans}*sigmoid(-{0})",), sympy=SymPy(sp_sigmoid, sp_sigmoid),
    code={"math": Code("_sig({0})", ((MUL, "{ans} * _sig(-{0})"),)),
          "numpy": Code("_stable.sigmoid({0})", ((MUL, "_stable.sigmoid_prime({0}, {ans})"),))},
    doc="σ(x) = 1/(1 + e⁻ˣ); σ′ = σ(x)σ(−x)")


def _tanh_vjp(g, ans, x):
    if _plain(g, ans) and isinstance(ans, np.ndarray) and ans.ndim and np.ndim(g) <= ans.ndim:
        t = np.multiply(ans, ans, out=_out(ans))
        np.subtract(1.0, t, out=t)
        t *= g
        return t
    return mul(g, sub(1.0, mul(ans, ans)))


tanh_p = defprim(
    "tanh", _cached(np.tanh), elementwise=True,
    vjp=(_tanh_vjp,), jvp=(lambda t, ans, x: mul(t, sub(1.0, mul(ans, ans))),),
    cost=(1, ((3, MUL),)), local=("1-{ans}^2",), sympy=SymPy(sp.tanh, sp.tanh),
    code={"math": Code("tanh({0})", ((MUL, "1.0 - {ans} * {ans}"),)),
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


relu_p = defprim(
    "relu", _cached(np.maximum, 0), elementwise=True,
    vjp=(_relu_vjp,), jvp=(lambda t, ans, x: where(raw(x) > 0, t, 0.0),),
    cost=(1, ((2, NONE),)), local=("step({0})",), sympy=SymPy(sp_relu, sp_relu),
    code={"math": Code("({0} if {0} > 0.0 else 0.0)", ((NONE, "({g} if {0} > 0.0 else 0.0)"),)),
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
