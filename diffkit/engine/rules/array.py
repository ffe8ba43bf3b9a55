"""Array primitives — reductions, shape changes and products — one record each.

Reductions hand back lazily broadcast cotangents: ``sum`` returns ``g`` with the summed axes kept
as size 1, ``mean`` returns ``g/n``; the sweep knows what shape they stand for.

>>> import numpy as np
>>> float(sum(np.ones((2, 3))))
6.0
>>> sum(np.ones(2), axis=5)
Traceback (most recent call last):
...
diffkit.errors.BadInput: sum: axis 5 is out of range for an array of 1 dimension (allowed: -1 to 0)
"""

from __future__ import annotations

import builtins
from math import prod
from typing import Any

import numpy as np
import sympy as sp

from ...errors import BadInput, brief
from .. import buffers
from ..compile.fused import ALL, Fused, V, lit
from ..core import MUL, NONE, PASS, Absent, Code, Node, SymPy, bind, defprim, raw
from .elementwise import FUSED_DIV, div, mul


#: Replay calls the implementation and the VJP rules of array primitives (they carry the shapes).
_ARRAY_CODE = {"math": Absent("array primitive"), "numpy": Absent("replay calls impl and the VJP rules")}


def _leaf(x):
    # only shapes are read of it here, so an elided value's ghost (elide.py) serves and stays
    while isinstance(x, Node):
        x = x._v
    return x


def as_int(v: Any, what: str, op: str) -> int:
    """An integer parameter (an offset, k, decimals), taken as ``int(v)`` takes it; one BadInput
    line naming ``op`` and ``what`` for anything else (a list, an array of several values)."""
    try:
        return int(v)
    except (TypeError, ValueError):
        raise BadInput(f"{op}: {what} must be an integer, got {brief(v)}") from None


def as_ints(v: Any, what: str, op: str) -> tuple[int, ...]:
    """A tuple of integer parameters (a shape, axes, reps; one integer stands for itself)."""
    if isinstance(v, (int, np.integer)):
        return (int(v),)
    try:
        items = tuple(v)
    except TypeError:
        raise BadInput(f"{op}: {what} must be an integer or a sequence of integers, got {brief(v)}") from None
    return tuple(as_int(s, f"each entry of {what}", op) for s in items)


def norm_axis(axis: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """``axis`` as a sorted tuple of non-negative axes; BadInput when out of range or repeated."""
    if axis is None:
        return None
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise BadInput(f"{op}: axis must be an integer or a tuple of integers, got {a!r}")
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 0) or (ndim == 0 and a not in (0, -1)):
            raise BadInput(f"{op}: axis {a} is out of range for an array of {ndim} dimension"
                           f"{'' if ndim == 1 else 's'} (allowed: {-ndim} to {ndim - 1})")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise BadInput(f"{op}: axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def _kept_shape(shape: tuple, axis: tuple[int, ...] | None) -> tuple:
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def _keep(g: Any, x_shape: tuple, axis, keepdims: bool) -> Any:
    """``g`` (the reduced shape) with the reduced axes as size 1: it broadcasts to ``x_shape``."""
    if keepdims or axis is None or np.ndim(g) == 0:
        return g
    return reshape(g, _kept_shape(x_shape, axis))


# -- checker cases (see core.defprim: valid points covering the argument patterns) -------------
def _reduction_cases(rng):
    A, T = rng.normal(size=(3, 4)), rng.normal(size=(2, 3, 4))
    out = [((A,), {"axis": None, "keepdims": False}), ((np.float64(1.5),), {"axis": None, "keepdims": False})]
    for x in (A, T):
        for ax in [(0,), (x.ndim - 1,), tuple(range(x.ndim)), (0, x.ndim - 1)]:
            out += [((x,), {"axis": ax, "keepdims": k}) for k in (False, True)]
    out += [((rng.normal(size=(3, 1)),), {"axis": (1,), "keepdims": False}),
            ((np.zeros((0, 3)),), {"axis": (0,), "keepdims": False})]
    return out


def _mean_cases(rng):
    return [c for c in _reduction_cases(rng) if np.size(c[0][0])]  # the mean of nothing is nan


def _reshape_cases(rng):
    return [((rng.normal(size=(3, 4)),), {"shape": (2, 6)}), ((rng.normal(size=(3, 4)),), {"shape": (12,)}),
            ((rng.normal(size=(12,)),), {"shape": (3, 1, 4)}), ((np.float64(2.0),), {"shape": (1, 1)})]


def _transpose_cases(rng):
    return [((rng.normal(size=(3, 4)),), {"axes": None}), ((rng.normal(size=(2, 3, 4)),), {"axes": (1, 2, 0)}),
            ((rng.normal(size=(2, 3, 4)),), {"axes": None}), ((rng.normal(size=(5,)),), {"axes": None})]


def _broadcast_cases(rng):
    return [((rng.normal(size=(4,)),), {"shape": (3, 4)}), ((rng.normal(size=(3, 1)),), {"shape": (3, 4)}),
            ((np.float64(0.7),), {"shape": (2, 3)}), ((rng.normal(size=(1, 4)),), {"shape": (2, 3, 4)})]


def _matmul_cases(rng):
    A, M, V4, R = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=4)
    return [((A, M), {}), ((V4, M), {}), ((A, V4), {}), ((V4, R), {}), ((rng.normal(size=(2, 3, 4)), M), {}),
            ((A, rng.normal(size=(2, 4, 5))), {}), ((rng.normal(size=(2, 1, 3, 4)), rng.normal(size=(5, 4, 2))), {})]


# -- sum, mean ---------------------------------------------------------------------------------
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - NumPy's name
    """Sum over ``axis`` (all axes by default)."""
    return bind(sum_p, x, axis=norm_axis(axis, np.ndim(_leaf(x)), "sum"), keepdims=bool(keepdims))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over ``axis`` (all axes by default)."""
    return bind(mean_p, x, axis=None if axis is None else norm_axis(axis, np.ndim(_leaf(x)), "mean"),
                keepdims=bool(keepdims))


def _count(x_shape: tuple, axis) -> int:
    return prod(x_shape) if axis is None else prod(x_shape[a] for a in axis)


def _mean_impl(x, axis=None, keepdims=False):
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if x.dtype.kind != "f" or x.dtype.itemsize < 4 or not x.size:
        return np.mean(x, axis=axis, keepdims=keepdims)
    # sum / n is what np.mean does for float32/64, without its ~10 µs of Python bookkeeping
    return np.add.reduce(x, axis=axis, keepdims=keepdims) / _count(x.shape, axis)


# -- fused NumPy emitters of sum and mean (``code["fused"]``, read by compile/codegen.py) ----------
def _full(n, ndim: int) -> bool:
    ax = n.params.get("axis")
    return not n.params.get("keepdims") and (ax is None or len(ax) == ndim)


def _fz_reduce(mean: bool):
    def fwd(gen, n, a, out):
        x, ax, keep = a[0], n.params.get("axis"), n.params.get("keepdims", False)
        shape, dtype = np.shape(gen.vals[n]), np.result_type(gen.vals[n])
        if x.shape == ():  # a reduction of a scalar is the scalar
            gen.emit(f"{out} = {x.expr}")
            return V(out, (), x.dtype)
        if x.prod is not None:  # a full sum of a 1-D product is a dot product (no product array)
            expr = f"np.dot({x.prod[0].expr}, {x.prod[1].expr})"
        else:  # the scale leaves a full sum: one scalar product, no array pass
            how = "" if _full(n, len(x.shape)) else f"axis={ax!r}" + (", keepdims=True" if keep else "")
            expr = f"{x.expr if x.scale is None else x.base}.sum({how})"
        if x.scale is not None:
            expr = f"{x.scale} * {expr}"
        if mean:
            expr += f" / {prod(x.shape) // builtins.max(prod(shape), 1)}"
        gen.emit(f"{out} = {expr}")
        return V(out, shape, dtype, fresh=shape != ())

    def vjp(gen, n, i, g, a, ans, fresh):
        x = a[0]
        r = gen.ew(FUSED_DIV, g, lit(f"{prod(x.shape) // builtins.max(prod(ans.shape), 1)}.0")) if mean else gen.hold(g)
        ax = n.params.get("axis")
        if ax is not None and not n.params.get("keepdims") and r.shape != ():
            r = gen.force(r)  # g with the reduced axes back as size 1 (lazily broadcast to x)
            kept = _kept_shape(x.shape, ax)
            return V(f"{r.expr}.reshape({kept!r})", kept, r.dtype, r.buf, r.fresh)
        return r

    def absorbs(n, a):
        x = a[0]
        if not _full(n, len(x.shape)):
            return [()]
        return [("scale", "prod") if len(x.shape) == 1 else ("scale",)]

    return Fused(fwd, vjp, absorbs=absorbs,
                 g_absorbs=lambda n: ALL if n.params.get("axis") is None and not n.params.get("keepdims") else frozenset())


def _mean_vjp(g, ans, x, axis=None, keepdims=False):
    n = float(_count(np.shape(x), axis))
    if type(g) is float and type(x) is np.ndarray and x.dtype.kind == "f":
        # the seed 1.0 of a gradient: g/n in x's dtype (a cotangent has its primal's dtype), so a
        # float32 graph stays float32 below; a Python or float64 scalar broadcast for the next
        # rule would be a float64 array and promote every later array (W3 at float32: 3× slower)
        return x.dtype.type(g / n)
    return _keep(div(g, n), np.shape(x), axis, keepdims)


sum_p = defprim(
    "sum", lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    vjp=(lambda g, ans, x, axis=None, keepdims=False: _keep(g, np.shape(x), axis, keepdims),),
    jvp=(lambda t, ans, x, axis=None, keepdims=False: sum(t, axis, keepdims),),
    cost=(1, ((0, PASS),)), local=("1 (broadcast)",),
    sympy=Absent("array reduction: the symbolic side writes sums out (or in matrix form)"),
    code={**_ARRAY_CODE, "fused": _fz_reduce(mean=False)},
    reads=((),), cases=_reduction_cases, doc="Σ over axis")

mean_p = defprim(
    "mean", _mean_impl,
    vjp=(_mean_vjp,),
    jvp=(lambda t, ans, x, axis=None, keepdims=False: mean(t, axis, keepdims),),
    cost=(1, ((1, NONE),)), local=("1/n (broadcast)",),
    sympy=Absent("array reduction: the symbolic side writes sums out (or in matrix form)"),
    code={**_ARRAY_CODE, "fused": _fz_reduce(mean=True)},
    reads=((),), cases=_mean_cases, doc="mean over axis")


# -- reshape, transpose, broadcast_to ----------------------------------------------------------
def reshape(x: Any, shape: Any) -> Any:
    """Reshape to ``shape`` (one entry may be -1)."""
    try:
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
        new = np.empty(np.shape(_leaf(x)), dtype=np.bool_).reshape(shape).shape
    except (TypeError, ValueError) as exc:
        raise BadInput(f"reshape: cannot reshape an array of shape {np.shape(_leaf(x))} into {shape}: {exc}") from None
    if new == np.shape(_leaf(x)) and isinstance(x, Node):
        return x
    return bind(reshape_p, x, shape=new)


reshape_p = defprim(
    "reshape", lambda x, shape: np.reshape(x, shape),
    vjp=(lambda g, ans, x, shape: reshape(g, np.shape(x)),), jvp=(lambda t, ans, x, shape: reshape(t, shape),),
    cost=(1, ((0, PASS),)), local=("reshape back",),
    sympy=Absent("array primitive"), code=_ARRAY_CODE,
    cases=_reshape_cases, doc="the same numbers in another shape")


def transpose(x: Any, axes: Any = None) -> Any:
    """Permute axes (reverse them by default); a view, no copy."""
    nd = np.ndim(_leaf(x))
    if axes is not None:
        axes = as_ints(axes, "axes", "transpose")
        if sorted(a % nd if nd else a for a in axes) != list(range(nd)) or len(axes) != nd:
            raise BadInput(f"transpose: axes {axes} are not a permutation of the {nd} axes of an array of shape "
                           f"{np.shape(_leaf(x))}")
        axes = tuple(a % nd for a in axes)
    return bind(transpose_p, x, axes=axes)


def _inverse(axes):
    return None if axes is None else tuple(int(i) for i in np.argsort(axes))


transpose_p = defprim(
    "transpose", lambda x, axes=None: np.transpose(x, axes),
    vjp=(lambda g, ans, x, axes=None: transpose(g, _inverse(axes)),),
    jvp=(lambda t, ans, x, axes=None: transpose(t, axes),),
    cost=(1, ((0, PASS),)), local=("transpose back",),
    sympy=Absent("array primitive"),
    code=_ARRAY_CODE,
    cases=_transpose_cases, doc="permute axes")


def broadcast_to(x: Any, shape: tuple) -> Any:
    """Broadcast to ``shape`` (a read-only view); a no-op when the shape already matches."""
    shape = as_ints(shape, "shape", "broadcast_to")
    xs = np.shape(_leaf(x))
    if xs == shape:
        return x
    try:
        np.broadcast_shapes(xs, shape)
        if len(xs) > len(shape) or np.broadcast_shapes(xs, shape) != shape:
            raise ValueError
    except ValueError:
        raise BadInput(f"broadcast_to: an array of shape {xs} cannot be broadcast to {shape}") from None
    return bind(broadcast_to_p, x, shape=shape)


# Elementwise in the sweep's sense: its argument is broadcast to the result shape, so the sweep
# sums the cotangent back down (the rule itself just passes g on).
broadcast_to_p = defprim(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape), elementwise=True,
    vjp=(lambda g, ans, x, shape: g,), jvp=(lambda t, ans, x, shape: t,),
    cost=(1, ((0, PASS),)), local=("sum back",),  # the sum back is counted as broadcasting undone
    sympy=Absent("array primitive"),
    code=_ARRAY_CODE,
    cases=_broadcast_cases, doc="broadcast to a shape (the backward pass sums back)")


# -- matmul ------------------------------------------------------------------------------------
def _matmul_impl(a, b):
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 == b.ndim and a.shape[1] == b.shape[0]:
        # the common case first, checks kept to attribute lookups (W3 makes 8 products a step)
        return _matmul_2d(a, b)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        raise ValueError("matmul needs arrays of at least one dimension, not scalars (use * instead)")
    ka, kb = np.shape(a)[-1], np.shape(b)[-2 if np.ndim(b) > 1 else 0]
    if ka != kb:
        raise ValueError(f"the last axis of the first ({ka}) must equal the "
                         f"{'second-to-last' if np.ndim(b) > 1 else 'only'} axis of the second ({kb})")
    return np.matmul(a, b)


def _matmul_2d(a, b):
    """a @ b for 2-D arrays (checked by the caller); large float results of one dtype in a cached buffer."""
    m, n = a.shape[0], b.shape[1]
    if m * n * a.itemsize < buffers.MIN_BYTES or a.dtype != b.dtype or a.dtype.kind != "f":
        return np.matmul(a, b)
    return np.matmul(a, b, out=buffers.empty((m, n), a.dtype))


def matmul(a: Any, b: Any) -> Any:
    """Matrix product ``a @ b`` with NumPy's rules for 1-D and stacked arguments."""
    return bind(matmul_p, a, b)


def _swap(x):
    nd = np.ndim(x)
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _matmul_grad(g, a, b, argnum):
    # Promote 1-D arguments to matrices as NumPy does, differentiate, then undo the promotion;
    # batch axes the argument was broadcast over are summed by the sweep.
    sa, sb = np.shape(a), np.shape(b)
    g2 = g
    if len(sa) == 1:
        s = np.shape(g2)
        g2 = reshape(g2, s[:-1] + (1,) + s[-1:])
    if len(sb) == 1:
        g2 = reshape(g2, np.shape(g2) + (1,))
    if argnum == 0:
        b2 = b if len(sb) > 1 else reshape(b, sb + (1,))
        out = matmul(g2, _swap(b2))
        return reshape(out, np.shape(out)[:-2] + sa) if len(sa) == 1 else out
    a2 = a if len(sa) > 1 else reshape(a, (1,) + sa)
    out = matmul(_swap(a2), g2)
    return reshape(out, np.shape(out)[:-1]) if len(sb) == 1 else out


def _matmul_vjp_a(g, ans, a, b):
    if type(g) is _nd and type(a) is _nd and type(b) is _nd and g.ndim == a.ndim == b.ndim == 2:
        return _matmul_2d(g, b.T)  # plain 2-D arrays: NumPy directly, no binds
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        return matmul(g, transpose(b))
    return _matmul_grad(g, a, b, 0)


def _matmul_vjp_b(g, ans, a, b):
    if type(g) is _nd and type(a) is _nd and type(b) is _nd and g.ndim == a.ndim == b.ndim == 2:
        return _matmul_2d(a.T, g)
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        return matmul(transpose(a), g)
    return _matmul_grad(g, a, b, 1)


_nd = np.ndarray


def _fz_matmul(gen, n, a, out):
    shape, dtype = (a[0].shape[0], a[1].shape[1]), np.result_type(gen.vals[n])
    return gen.write("np.matmul", [a[0].expr, a[1].expr], shape, dtype, out=out)


def _fz_matmul_vjp(gen, n, i, g, a, ans, fresh):  # g @ bᵀ, aᵀ @ g (fresh arrays for returned gradients)
    G = g.expr if g.shape == ans.shape else f"np.broadcast_to({g.expr}, {ans.shape!r})"
    shape, args = (a[0].shape, [G, f"{a[1].expr}.T"]) if i == 0 else (a[1].shape, [f"{a[0].expr}.T", G])
    return gen.write("np.matmul", args, shape, np.result_type(gen.vals[n]), fresh=fresh)


def _fz_matmul_2d(n, vals):
    return np.ndim(vals[n.parents[0]]) == 2 == np.ndim(vals[n.parents[1]])


matmul_p = defprim(
    "matmul", _matmul_impl,
    vjp=(_matmul_vjp_a, _matmul_vjp_b),
    jvp=(lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t)),
    cost=(1, ((1, NONE), (1, NONE))), local=("(·) @ {1}ᵀ", "{0}ᵀ @ (·)"),
    sympy=SymPy(lambda a, b: sp.MatMul(a, b)),
    code={**_ARRAY_CODE, "fused": Fused(_fz_matmul, _fz_matmul_vjp, supports=_fz_matmul_2d, g_absorbs=frozenset(),
                                        uses=lambda n: [n.parents[1 - i] for i in (0, 1) if n.parents[i].needs_grad])},
    fresh=(0, 1), reads=({1}, {0}), cases=_matmul_cases, doc="matrix product")

__all__ = ["sum", "mean", "reshape", "transpose", "broadcast_to", "matmul", "norm_axis", "as_int", "as_ints"]
