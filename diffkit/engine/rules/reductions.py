"""Reductions beyond ``sum``/``mean``, one record each: ``max``/``min`` (ties split evenly, as
``maximum`` does), ``prod`` (exact at zeros) and ``cumsum``; and compositions of primitives whose
gradients stay exact: ``var``/``std`` (with ``ddof``), ``average``, ``ptp``, ``logsumexp``.

Every reduction takes ``axis`` (an int, a tuple or None) and ``keepdims``, and a list of arrays
holding traced values is stacked first (``dk.mean([x, x + 2])``), as NumPy makes an array of it.

>>> import numpy as np
>>> from diffkit.engine.sweep import backward_pass
>>> from diffkit.engine import param
>>> x = param(np.array([2.0, 0.0, 3.0]))
>>> backward_pass(prod(x), 1.0, wrt=(x,))[x]  # exact at the zero: not ans / x
array([0., 6., 0.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import BadInput
from ..core import MUL, NONE, Absent, Node, bind, defprim
from .array import _count, _keep, _kept_shape, _reduction_cases, mean, norm_axis, reshape, sum, transpose
from .elementwise import add, div, exp, log, mul, sqrt, sub, where
from .indexing import as_array_arg, getitem

__all__ = ["amax", "amin", "prod", "cumsum", "var", "std", "average", "ptp", "logsumexp"]

_ARRAY_CODE = {"math": Absent("array primitive"), "numpy": Absent("replay calls impl and the VJP rules")}


def _leaf(x):
    while isinstance(x, Node):
        x = x.value
    return x


def _plain(*xs) -> bool:
    return not any(isinstance(x, Node) for x in xs)


def _axis(x: Any, axis: Any, op: str):
    return norm_axis(axis, np.ndim(_leaf(x)), op)


# -- max, min ---------------------------------------------------------------------------------------
def _chooser(x, ans, axis, keepdims):
    """Where ``x`` attains the reduced extreme, each of k tied positions weighted 1/k."""
    xv, av = np.asarray(_leaf(x)), _leaf(ans)
    at = xv == (np.reshape(av, _kept_shape(xv.shape, axis)) if not keepdims else av)
    w = at / np.sum(at, axis=axis, keepdims=True)
    return w.astype(np.result_type(xv, np.float32), copy=False)


def _chooser_vjp(g, ans, x, axis=None, keepdims=False):
    return mul(_keep(g, np.shape(x), axis, keepdims), _chooser(x, ans, axis, keepdims))


def _chooser_jvp(t, ans, x, axis=None, keepdims=False):
    return sum(mul(t, _chooser(x, ans, axis, keepdims)), axis, keepdims)


def _extreme_cases(rng):
    return [c for c in _reduction_cases(rng) if np.size(c[0][0])]  # the max of nothing is an error


def _reduction(prim, x, axis, keepdims, op):
    x = as_array_arg(x)
    return bind(prim, x, axis=_axis(x, axis, op), keepdims=bool(keepdims))


max_p = defprim(
    "max", lambda x, axis=None, keepdims=False: np.max(x, axis=axis, keepdims=keepdims),
    vjp=(_chooser_vjp,), jvp=(_chooser_jvp,), cost=(1, ((2, MUL),)), local=("[{0} = {ans}]/#ties",),
    sympy=Absent("array reduction (the scalar counterpart is Max)"), code=_ARRAY_CODE, cases=_extreme_cases,
    doc="the largest entry over axis; k tied entries get 1/k of the gradient each")

min_p = defprim(
    "min", lambda x, axis=None, keepdims=False: np.min(x, axis=axis, keepdims=keepdims),
    vjp=(_chooser_vjp,), jvp=(_chooser_jvp,), cost=(1, ((2, MUL),)), local=("[{0} = {ans}]/#ties",),
    sympy=Absent("array reduction (the scalar counterpart is Min)"), code=_ARRAY_CODE, cases=_extreme_cases,
    doc="the smallest entry over axis; k tied entries get 1/k of the gradient each")


def amax(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The largest entry over ``axis`` (NumPy's ``max``/``amax``)."""
    return _reduction(max_p, x, axis, keepdims, "max")


def amin(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The smallest entry over ``axis`` (NumPy's ``min``/``amin``)."""
    return _reduction(min_p, x, axis, keepdims, "min")


def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """max − min over ``axis`` (a composition)."""
    x = as_array_arg(x)
    return sub(amax(x, axis, keepdims), amin(x, axis, keepdims))


# -- prod ---------------------------------------------------------------------------------------------
def _to_last(x, axis):
    """``x`` with the reduced axes moved to the end and flattened into one: (kept..., n)."""
    shape = np.shape(_leaf(x))
    red = tuple(range(len(shape))) if axis is None else axis
    keep = tuple(i for i in range(len(shape)) if i not in red)
    perm = keep + red
    kept_shape = tuple(shape[i] for i in keep)
    n = _count(shape, axis)
    moved = x if perm == tuple(range(len(shape))) else transpose(x, perm)
    return reshape(moved, kept_shape + (n,)), perm, kept_shape, tuple(shape[i] for i in red)


def _from_last(y, shape, perm, kept_shape, red_shape):
    y = reshape(y, kept_shape + red_shape)
    if perm == tuple(range(len(shape))):
        return y
    return transpose(y, tuple(int(i) for i in np.argsort(perm)))


def _others(x, axis):
    """∂ prod / ∂ x: for each entry, the product of the other entries of its slice — exact at zeros."""
    shape = np.shape(_leaf(x))
    flat, perm, kept_shape, red_shape = _to_last(x, axis)
    n = np.shape(_leaf(flat))[-1]
    if _plain(x):
        # exclusive products from the left and from the right: O(n), no division
        f = np.asarray(flat)
        ones = np.ones(f.shape[:-1] + (1,), f.dtype)
        left = np.cumprod(np.concatenate([ones, f[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, f[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        res = left * right
    elif not np.any(_leaf(x) == 0):
        return div(prod(x, axis, True), x)  # traced: differentiable, and exact away from zeros
    else:
        # traced and with zeros: the product over each row of x with its own entry replaced by 1,
        # as traced operations, so that higher derivatives stay exact too
        rows = where(np.eye(n, dtype=bool), 1.0, reshape(flat, kept_shape + (1, n)))
        res = prod(rows, axis=len(kept_shape) + 1)
    return _from_last(res, shape, perm, kept_shape, red_shape)


def _prod_vjp(g, ans, x, axis=None, keepdims=False):
    return mul(_keep(g, np.shape(x), axis, keepdims), _others(x, axis))


def _prod_jvp(t, ans, x, axis=None, keepdims=False):
    return sum(mul(t, _others(x, axis)), axis, keepdims)


def _prod_cases(rng):
    Z = rng.normal(size=(3, 4))
    Z[0, 1] = 0.0
    Z[2, 0] = Z[2, 3] = 0.0  # two zeros in one row: every partial of that row's product is 0
    return _extreme_cases(rng) + [((Z,), {"axis": a, "keepdims": k}) for a in (None, (0,), (1,)) for k in (False, True)]


prod_p = defprim(
    "prod", lambda x, axis=None, keepdims=False: np.prod(x, axis=axis, keepdims=keepdims),
    vjp=(_prod_vjp,), jvp=(_prod_jvp,), cost=(1, ((4, MUL),)), local=("product of the others",),
    sympy=Absent("array reduction (the scalar counterpart is Mul)"), code=_ARRAY_CODE, cases=_prod_cases,
    doc="the product over axis; its derivative is the product of the other entries (exact at zeros)")


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The product over ``axis``."""
    return _reduction(prod_p, x, axis, keepdims, "prod")


# -- cumsum -----------------------------------------------------------------------------------------
def _flip(x, axis):
    return getitem(x, (slice(None),) * axis + (slice(None, None, -1),))


def _cumsum_cases(rng):
    A = rng.normal(size=(3, 4))
    return [((A,), {"axis": 0}), ((A,), {"axis": 1}), ((rng.normal(size=5),), {"axis": 0}),
            ((rng.normal(size=(2, 3, 2)),), {"axis": 1})]


cumsum_p = defprim(
    "cumsum", lambda x, axis: np.cumsum(x, axis=axis),
    vjp=(lambda g, ans, x, axis: _flip(cumsum(_flip(g, axis), axis), axis),),
    jvp=(lambda t, ans, x, axis: cumsum(t, axis),),
    cost=(1, ((1, NONE),)), local=("reversed cumulative sum of (·)",),
    sympy=Absent("array primitive"), code=_ARRAY_CODE, cases=_cumsum_cases,
    doc="running sums along an axis; the VJP is the running sum from the end")


def cumsum(x: Any, axis: int | None = None) -> Any:
    """Running sums along ``axis`` (``None``: of the flattened array, as NumPy)."""
    x = as_array_arg(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    nd = np.ndim(_leaf(x))
    if nd == 0:
        x, nd = reshape(x, (1,)), 1
    (ax,) = norm_axis(axis, nd, "cumsum")
    return bind(cumsum_p, x, axis=ax)


# -- compositions -------------------------------------------------------------------------------------
def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Variance Σ(x − mean)²/(n − ddof) over ``axis`` (a composition of mean, sub, mul and sum:
    two passes over x, as NumPy's own ``var``)."""
    x = as_array_arg(x)
    ax = _axis(x, axis, "var")
    n = _count(np.shape(_leaf(x)), ax)
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise BadInput(f"var: ddof must be a non-negative integer, got {ddof!r}")
    if n - ddof <= 0:
        raise BadInput(f"var/std: ddof={ddof} leaves no degrees of freedom for {n} value{'s' * (n != 1)} "
                       "(need ddof < the number of values reduced)")
    d = sub(x, mean(x, ax, keepdims=True))
    return mul(sum(mul(d, d), ax, bool(keepdims)), 1.0 / (n - ddof))


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """Standard deviation sqrt(var) over ``axis``.  Over a single value it is identically 0 (so is
    its gradient); over several equal values its gradient is undefined (nan, as torch's)."""
    x = as_array_arg(x)
    v = var(x, axis, ddof, keepdims)
    return v if _count(np.shape(_leaf(x)), _axis(x, axis, "std")) == 1 else sqrt(v)


def average(x: Any, axis: Any = None, weights: Any = None, returned: bool = False) -> Any:
    """NumPy's ``average``: Σ w·x / Σ w over ``axis`` (the mean without weights)."""
    x = as_array_arg(x)
    if weights is None:
        avg = mean(x, axis)
        if returned:
            return avg, np.float64(_count(np.shape(_leaf(x)), _axis(x, axis, "average")))
        return avg
    w = as_array_arg(weights)
    xs, ws = np.shape(_leaf(x)), np.shape(_leaf(w))
    if ws != xs:
        if axis is None or len(ws) != 1 or np.ndim(axis) != 0:
            raise BadInput(f"average: weights of shape {ws} must match the values {xs}, or be 1-D along one axis")
        (ax,) = norm_axis(axis, len(xs), "average")
        if ws[0] != xs[ax]:
            raise BadInput(f"average: {ws[0]} weights for an axis of length {xs[ax]}")
        w = reshape(w, tuple(ws[0] if i == ax else 1 for i in range(len(xs))))
    total = sum(mul(w, np.ones(xs)) if ws != xs else w, axis)
    avg = div(sum(mul(x, w), axis), total)
    return (avg, total) if returned else avg


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log Σ exp(x) over ``axis``, shifted by the (constant) maximum so that nothing overflows;
    the gradient is the softmax."""
    x = as_array_arg(x)
    ax = _axis(x, axis, "logsumexp")
    m = np.max(_leaf(x), axis=ax, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = add(log(sum(exp(sub(x, m)), ax, keepdims=True)), m)
    if keepdims:
        return out
    shape = np.shape(_leaf(x))
    return reshape(out, () if ax is None else tuple(s for i, s in enumerate(shape) if i not in ax))

