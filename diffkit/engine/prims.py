"""Elementwise primitives, each followed by its VJP and JVP rules (autodidax style).

Binary rules end in :func:`unbroadcast`; kinked functions use the almost-everywhere derivative
(relu′ = step, step′ = sign′ = 0, |x|′ = sign x) and split ties of ``maximum``/``minimum`` evenly.
Rules reuse the forward output ``ans`` where it is cheaper (exp, sigmoid, tanh, sqrt).

>>> import numpy as np
>>> float(sigmoid(np.float64(0.0)))
0.5
>>> float(softplus(np.float64(1000.0)))  # no overflow
1000.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import buffers
from .core import Node, bind, defjvp, defvjp, primitive, raw, zero
from .prims_array import unbroadcast


def _shape(x: Any) -> tuple:
    return np.shape(raw(x))


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


_square, _power = _cached(np.square), _cached(np.power)


def _square_or_power(a, b):
    # np.square is a plain multiply; np.power(x, 2.0) takes a slower path (W2's (y - u)**2).
    if isinstance(b, (int, float)) and b == 2:
        return _square(a)
    return _power(a, b)


def _sigmoid_impl(x):
    if isinstance(x, np.ndarray) and x.ndim:
        with np.errstate(over="ignore"):  # exp(-x) = inf gives the right limit 0
            t = np.negative(x, out=_out(x))
            np.exp(t, out=t)
            t += 1
            return np.reciprocal(t, out=t)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _tie(a, b):
    """1 where a wins, ½ at ties, 0 where b wins (dtype of a)."""
    a, b = raw(a), raw(b)
    return (np.greater(a, b) + 0.5 * np.equal(a, b)).astype(np.result_type(a, b), copy=False)


# -- arithmetic --------------------------------------------------------------------------------
add_p = primitive("add", _cached(np.add), 2)
sub_p = primitive("sub", _cached(np.subtract), 2)
mul_p = primitive("mul", _cached(np.multiply), 2)
div_p = primitive("div", _cached(np.true_divide), 2)
neg_p = primitive("neg", _cached(np.negative), 1)
pow_p = primitive("pow", _square_or_power, 2)


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


def _pass_through(g, x):
    # g itself when it already has x's shape (checked on plain arrays first: every bias add of
    # an MLP comes through here), else summed down to x's shape
    if type(g) is np.ndarray and type(x) is np.ndarray and g.shape == x.shape:
        return g
    return unbroadcast(g, _shape(x))


defvjp(add_p, 0)(lambda g, ans, a, b: _pass_through(g, a))
defvjp(add_p, 1)(lambda g, ans, a, b: _pass_through(g, b))
defjvp(add_p, 0)(lambda t, ans, a, b: t)
defjvp(add_p, 1)(lambda t, ans, a, b: t)

defvjp(sub_p, 0)(lambda g, ans, a, b: _pass_through(g, a))
defvjp(sub_p, 1)(lambda g, ans, a, b: unbroadcast(neg(g), _shape(b)))
defjvp(sub_p, 0)(lambda t, ans, a, b: t)
defjvp(sub_p, 1)(lambda t, ans, a, b: neg(t))


def _mul_vjp(g, other, shape):
    # g·other summed to a scalar is one dot product: no temporary array (W2's d/dw of w·x).
    if shape == () and not isinstance(g, Node) and not isinstance(other, Node) \
            and np.ndim(other) >= 1 and np.shape(g) == np.shape(other):
        if g.ndim == 1 and g.dtype == other.dtype:
            return np.dot(g, other)  # BLAS dot: about twice as fast as vdot on 10⁶ points
        return np.vdot(g, other)
    return unbroadcast(mul(g, other), shape)


defvjp(mul_p, 0)(lambda g, ans, a, b: _mul_vjp(g, b, _shape(a)))
defvjp(mul_p, 1)(lambda g, ans, a, b: _mul_vjp(g, a, _shape(b)))
defjvp(mul_p, 0)(lambda t, ans, a, b: mul(t, b))
defjvp(mul_p, 1)(lambda t, ans, a, b: mul(a, t))

defvjp(div_p, 0)(lambda g, ans, a, b: unbroadcast(div(g, b), _shape(a)))
defvjp(div_p, 1)(lambda g, ans, a, b: unbroadcast(neg(div(mul(g, ans), b)), _shape(b)))
defjvp(div_p, 0)(lambda t, ans, a, b: div(t, b))
defjvp(div_p, 1)(lambda t, ans, a, b: neg(div(mul(t, ans), b)))

defvjp(neg_p, 0)(lambda g, ans, a: neg(g))
defjvp(neg_p, 0)(lambda t, ans, a: neg(t))


def _dpow_base(a, b):
    """d(a**b)/da; ``2a`` for the common square."""
    if not isinstance(b, Node) and np.ndim(b) == 0 and b == 2:
        return mul(2.0, a)
    return mul(b, power(a, sub(b, 1.0)))


def _plain(*xs) -> bool:
    return not any(isinstance(x, Node) for x in xs)


def _pow_vjp_base(g, ans, a, b):
    if _plain(g, a, b) and np.ndim(b) == 0 and b == 2 and np.ndim(g) == 0:
        # scalar factors first: one pass over a
        return unbroadcast(np.multiply(a, 2.0 * g, out=_out(a, 2.0 * g)), _shape(a))
    return unbroadcast(mul(g, _dpow_base(a, b)), _shape(a))


defvjp(pow_p, 0)(_pow_vjp_base)
defvjp(pow_p, 1)(lambda g, ans, a, b: unbroadcast(mul(g, mul(ans, log(a))), _shape(b)))
defjvp(pow_p, 0)(lambda t, ans, a, b: mul(t, _dpow_base(a, b)))
defjvp(pow_p, 1)(lambda t, ans, a, b: mul(t, mul(ans, log(a))))


# -- elementwise functions ---------------------------------------------------------------------
def _unary(name: str, impl) -> tuple:
    p = primitive(name, impl, 1)
    return p, (lambda x: bind(p, x))


exp_p, exp = _unary("exp", _cached(np.exp))
defvjp(exp_p, 0)(lambda g, ans, x: mul(g, ans))
defjvp(exp_p, 0)(lambda t, ans, x: mul(t, ans))

log_p, log = _unary("log", _cached(np.log))
defvjp(log_p, 0)(lambda g, ans, x: div(g, x))
defjvp(log_p, 0)(lambda t, ans, x: div(t, x))

sqrt_p, sqrt = _unary("sqrt", _cached(np.sqrt))
defvjp(sqrt_p, 0)(lambda g, ans, x: div(mul(g, 0.5), ans))
defjvp(sqrt_p, 0)(lambda t, ans, x: div(mul(t, 0.5), ans))

abs_p, absolute = _unary("abs", np.abs)
defvjp(abs_p, 0)(lambda g, ans, x: mul(g, sign(x)))
defjvp(abs_p, 0)(lambda t, ans, x: mul(t, sign(x)))

sigmoid_p, sigmoid = _unary("sigmoid", _sigmoid_impl)
def _sigmoid_vjp(g, ans, x):
    # σ′(x) = σ(x)·σ(−x), not ans·(1 − ans): 1 − ans cancels to 0 for x ≫ 0 (σ′(40) ≈ 4e-18 would
    # come out as 0), while σ(−x) = 1/(1 + eˣ) keeps full relative accuracy in both tails.  On 10⁶
    # points this costs ~0.3 ms more than ans·(1 − ans) (W2); keeping e^−x from the forward as a
    # residual instead was slower still (one more large buffer in flight).
    if _plain(g, ans, x) and isinstance(ans, np.ndarray) and ans.ndim and np.ndim(g) <= ans.ndim \
            and isinstance(x, np.ndarray) and x.shape == ans.shape:
        with np.errstate(over="ignore"):  # eˣ = inf gives the right limit σ(−x) = 0
            t = np.exp(x, out=_out(ans))  # one buffer, updated in place
        t += 1
        np.divide(ans, t, out=t)
        return np.multiply(t, g, out=t)
    return mul(g, _dsigmoid(ans, x))


def _dsigmoid(ans, x):
    return mul(ans, sigmoid(neg(x)))


defvjp(sigmoid_p, 0)(_sigmoid_vjp)
defjvp(sigmoid_p, 0)(lambda t, ans, x: mul(t, _dsigmoid(ans, x)))

tanh_p, tanh = _unary("tanh", _cached(np.tanh))
def _tanh_vjp(g, ans, x):
    if _plain(g, ans) and isinstance(ans, np.ndarray) and ans.ndim and np.ndim(g) <= ans.ndim:
        t = np.multiply(ans, ans, out=_out(ans))
        np.subtract(1.0, t, out=t)
        t *= g
        return t
    return mul(g, sub(1.0, mul(ans, ans)))


defvjp(tanh_p, 0)(_tanh_vjp)
defjvp(tanh_p, 0)(lambda t, ans, x: mul(t, sub(1.0, mul(ans, ans))))

relu_p, relu = _unary("relu", _cached(np.maximum, 0))
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


defvjp(relu_p, 0, fresh=True, inplace=True)(_relu_vjp)
defjvp(relu_p, 0)(lambda t, ans, x: where(raw(x) > 0, t, 0.0))

step_p, step = _unary("step", lambda x: (np.asarray(x) > 0).astype(np.result_type(x, np.float32))[()])
defvjp(step_p, 0)(lambda g, ans, x: zero)
defjvp(step_p, 0)(lambda t, ans, x: zero)

sign_p, sign = _unary("sign", np.sign)
defvjp(sign_p, 0)(lambda g, ans, x: zero)
defjvp(sign_p, 0)(lambda t, ans, x: zero)

softplus_p, softplus = _unary("softplus", lambda x: np.logaddexp(0.0, x))
defvjp(softplus_p, 0)(lambda g, ans, x: mul(g, sigmoid(x)))
defjvp(softplus_p, 0)(lambda t, ans, x: mul(t, sigmoid(x)))

sin_p, sin = _unary("sin", _cached(np.sin))
defvjp(sin_p, 0)(lambda g, ans, x: mul(g, cos(x)))
defjvp(sin_p, 0)(lambda t, ans, x: mul(t, cos(x)))

cos_p, cos = _unary("cos", _cached(np.cos))
defvjp(cos_p, 0)(lambda g, ans, x: neg(mul(g, sin(x))))
defjvp(cos_p, 0)(lambda t, ans, x: neg(mul(t, sin(x))))


# -- selections --------------------------------------------------------------------------------
maximum_p = primitive("maximum", np.maximum, 2)
minimum_p = primitive("minimum", np.minimum, 2)
where_p = primitive("where", np.where, 3)


def maximum(a, b):
    return bind(maximum_p, a, b)


def minimum(a, b):
    return bind(minimum_p, a, b)


def where(cond, a, b):
    """``a`` where ``cond`` else ``b``; ``cond`` is a plain boolean array (not differentiated)."""
    cond = raw(cond)
    return bind(where_p, cond, a, b)


defvjp(maximum_p, 0)(lambda g, ans, a, b: unbroadcast(mul(g, _tie(a, b)), _shape(a)))
defvjp(maximum_p, 1)(lambda g, ans, a, b: unbroadcast(mul(g, _tie(b, a)), _shape(b)))
defjvp(maximum_p, 0)(lambda t, ans, a, b: mul(t, _tie(a, b)))
defjvp(maximum_p, 1)(lambda t, ans, a, b: mul(t, _tie(b, a)))
defvjp(minimum_p, 0)(lambda g, ans, a, b: unbroadcast(mul(g, _tie(b, a)), _shape(a)))
defvjp(minimum_p, 1)(lambda g, ans, a, b: unbroadcast(mul(g, _tie(a, b)), _shape(b)))
defjvp(minimum_p, 0)(lambda t, ans, a, b: mul(t, _tie(b, a)))
defjvp(minimum_p, 1)(lambda t, ans, a, b: mul(t, _tie(a, b)))

# where's condition (argument 0) has no rule on purpose: it is a boolean mask.
defvjp(where_p, 1)(lambda g, ans, c, a, b: unbroadcast(where(c, g, 0.0), _shape(a)))
defvjp(where_p, 2)(lambda g, ans, c, a, b: unbroadcast(where(c, 0.0, g), _shape(b)))
defjvp(where_p, 1)(lambda t, ans, c, a, b: where(c, t, 0.0))
defjvp(where_p, 2)(lambda t, ans, c, a, b: where(c, 0.0, t))
