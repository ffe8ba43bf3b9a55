"""Array primitives — sum, mean, reshape, transpose, broadcast_to, matmul — and ``unbroadcast``.

Each primitive is followed by its VJP and JVP rules.  Broadcasting is undone in one place,
:func:`unbroadcast`; rules may return lazily broadcast cotangents (see ``core``), so ``sum`` and
``mean`` hand back ``g`` (or ``g/n``) with kept dimensions instead of an array of the full size.

>>> import numpy as np
>>> unbroadcast(np.ones((4, 3)), (3,))
array([4., 4., 4.])
>>> unbroadcast(np.ones((4, 3)), (4, 1)).shape
(4, 1)
"""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np

from . import buffers
from .core import Node, bind, defjvp, defvjp, primitive, raw


def _norm_axis(axis: Any, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


def _kept_shape(shape: tuple, axis: tuple[int, ...] | None) -> tuple:
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


# -- sum ---------------------------------------------------------------------------------------
sum_p = primitive("sum", lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims), 1)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - NumPy's name
    """Sum over ``axis`` (all axes by default)."""
    return bind(sum_p, x, axis=_norm_axis(axis, np.ndim(raw(x))), keepdims=keepdims)


@defvjp(sum_p, 0)
def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    # Lazily broadcast: g with the summed axes kept as size 1 broadcasts to x's shape.
    if keepdims or axis is None or np.ndim(raw(g)) == 0:
        return g
    return reshape(g, _kept_shape(np.shape(raw(x)), axis))


@defjvp(sum_p, 0)
def _sum_jvp(t, ans, x, axis=None, keepdims=False):
    return sum(broadcast_to(t, np.shape(raw(x))), axis, keepdims)


# -- mean --------------------------------------------------------------------------------------
def _mean_impl(x, axis=None, keepdims=False):
    x = np.asarray(x)
    if x.dtype.kind != "f" or x.dtype.itemsize < 4 or not x.size:
        return np.mean(x, axis=axis, keepdims=keepdims)
    # sum / n is what np.mean does for float32/64, without its ~10 µs of Python bookkeeping
    n = x.size if axis is None else prod(x.shape[a] for a in (axis if isinstance(axis, tuple) else (axis,)))
    return x.sum(axis=axis, keepdims=keepdims) / n


mean_p = primitive("mean", _mean_impl, 1)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over ``axis`` (all axes by default)."""
    return bind(mean_p, x, axis=_norm_axis(axis, np.ndim(raw(x))), keepdims=keepdims)


def _count(x, ans) -> int:
    return max(int(np.size(raw(x)) // max(np.size(raw(ans)), 1)), 1)


@defvjp(mean_p, 0)
def _mean_vjp(g, ans, x, axis=None, keepdims=False):
    return _sum_vjp(g / _count(x, ans), ans, x, axis, keepdims)


@defjvp(mean_p, 0)
def _mean_jvp(t, ans, x, axis=None, keepdims=False):
    return mean(broadcast_to(t, np.shape(raw(x))), axis, keepdims)


# -- reshape, transpose, broadcast_to ----------------------------------------------------------
reshape_p = primitive("reshape", lambda x, shape: np.reshape(x, shape), 1)


def reshape(x: Any, shape: Any) -> Any:
    """Reshape to ``shape`` (one entry may be -1)."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    if -1 in shape:
        shape = np.empty(np.shape(raw(x)), dtype=np.bool_).reshape(shape).shape if np.size(raw(x)) else shape
    return bind(reshape_p, x, shape=shape)


@defvjp(reshape_p, 0)
def _reshape_vjp(g, ans, x, shape):
    return reshape(broadcast_to(g, np.shape(raw(ans))), np.shape(raw(x)))


@defjvp(reshape_p, 0)
def _reshape_jvp(t, ans, x, shape):
    return reshape(broadcast_to(t, np.shape(raw(x))), shape)


transpose_p = primitive("transpose", lambda x, axes=None: np.transpose(x, axes), 1)


def transpose(x: Any, axes: Any = None) -> Any:
    """Permute axes (reverse them by default); a view, no copy."""
    return bind(transpose_p, x, axes=None if axes is None else tuple(int(a) for a in axes))


@defvjp(transpose_p, 0)
def _transpose_vjp(g, ans, x, axes=None):
    inv = None if axes is None else tuple(np.argsort(axes))
    return transpose(broadcast_to(g, np.shape(raw(ans))), inv)


@defjvp(transpose_p, 0)
def _transpose_jvp(t, ans, x, axes=None):
    return transpose(broadcast_to(t, np.shape(raw(x))), axes)


broadcast_to_p = primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape), 1)


def broadcast_to(x: Any, shape: tuple) -> Any:
    """Broadcast to ``shape`` (a read-only view); a no-op when the shape already matches."""
    shape = tuple(shape)
    if np.shape(raw(x)) == shape:
        return x
    return bind(broadcast_to_p, x, shape=shape)


@defvjp(broadcast_to_p, 0)
def _broadcast_to_vjp(g, ans, x, shape):
    return unbroadcast(g, np.shape(raw(x)))


@defjvp(broadcast_to_p, 0)
def _broadcast_to_jvp(t, ans, x, shape):
    return broadcast_to(t, shape)


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` down to something broadcastable to ``shape`` — the one place broadcasting is undone.

    Only sums when the shapes differ; a ``g`` of lower rank is left as it is (lazy broadcast).
    """
    gshape = g.shape if type(g) is np.ndarray else np.shape(raw(g))
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead >= 0 and type(g) is np.ndarray:  # plain array: one NumPy reduction, no binds
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)
        if axes and len(axes) == lead:  # only leading axes (a bias): the sum has the shape already
            return g.sum(axis=axes)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        return g.reshape(g.shape[lead:]) if lead else g
    if lead < 0:
        if all(s == 1 or gs == 1 for gs, s in zip(gshape[::-1], shape[::-1]) if gs != s):
            return g  # already broadcastable with nothing to sum
        g, gshape, lead = reshape(g, (1,) * -lead + gshape), (1,) * -lead + gshape, 0
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)
    if axes:
        g = sum(g, axes, keepdims=True)
    if lead:
        g = reshape(g, np.shape(raw(g))[lead:])
    return g


# -- matmul ------------------------------------------------------------------------------------
def _matmul_impl(a, b):
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 == b.ndim \
            and a.shape[1] == b.shape[0] and a.dtype == b.dtype and a.dtype.kind == "f":
        # the common case first, checks kept to attribute lookups (W3 makes 8 products a step)
        return _matmul_2d(a, b)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        raise ValueError("matmul needs arrays of at least one dimension, not scalars (use * instead)")
    if np.shape(a)[-1] != np.shape(b)[-2 if np.ndim(b) > 1 else 0]:
        raise ValueError(f"the last axis of the first ({np.shape(a)[-1]}) must equal "
                         f"the {'second-to-last' if np.ndim(b) > 1 else 'only'} axis of the second "
                         f"({np.shape(b)[-2 if np.ndim(b) > 1 else 0]})")
    return np.matmul(a, b)


def _matmul_2d(a, b):
    """a @ b for 2-D float arrays of one dtype (checked by the caller); large results in a cached buffer."""
    m, n = a.shape[0], b.shape[1]
    if m * n * a.itemsize < buffers.MIN_BYTES:
        return np.matmul(a, b)
    return np.matmul(a, b, out=buffers.empty((m, n), a.dtype))


matmul_p = primitive("matmul", _matmul_impl, 2)


def matmul(a: Any, b: Any) -> Any:
    """Matrix product ``a @ b`` with NumPy's rules for 1-D and stacked arguments."""
    return bind(matmul_p, a, b)


def _swap(x):
    nd = np.ndim(raw(x))
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _matmul_grad(g, ans, a, b, argnum):
    # Promote 1-D arguments to matrices as NumPy does, differentiate, then undo the promotion.
    sa, sb = np.shape(raw(a)), np.shape(raw(b))
    g2 = broadcast_to(g, np.shape(raw(ans)))
    if len(sa) == 1:
        s = np.shape(raw(g2))
        g2 = reshape(g2, s[:-1] + (1,) + s[-1:])
    if len(sb) == 1:
        g2 = reshape(g2, np.shape(raw(g2)) + (1,))
    if argnum == 0:
        b2 = b if len(sb) > 1 else reshape(b, sb + (1,))
        out = matmul(g2, _swap(b2))
        if len(sa) == 1:
            out = reshape(out, np.shape(raw(out))[:-2] + sa)
        return unbroadcast(out, sa)
    a2 = a if len(sa) > 1 else reshape(a, (1,) + sa)
    out = matmul(_swap(a2), g2)
    if len(sb) == 1:
        out = reshape(out, np.shape(raw(out))[:-1])
    return unbroadcast(out, sb)


def _plain_2d(g, a, b) -> bool:
    """All plain 2-D arrays of one float dtype: the VJPs can call NumPy directly (no binds)."""
    return (type(g) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray
            and g.ndim == a.ndim == b.ndim == 2 and g.dtype == a.dtype == b.dtype and g.dtype.kind == "f")


@defvjp(matmul_p, 0, fresh=True)
def _matmul_vjp_a(g, ans, a, b):
    if _plain_2d(g, a, b) and g.shape == ans.shape:
        return _matmul_2d(g, b.T)
    if np.ndim(raw(a)) == 2 and np.ndim(raw(b)) == 2:
        return matmul(broadcast_to(g, np.shape(raw(ans))), transpose(b))  # the common case, no reshapes
    return _matmul_grad(g, ans, a, b, 0)


@defvjp(matmul_p, 1, fresh=True)
def _matmul_vjp_b(g, ans, a, b):
    if _plain_2d(g, a, b) and g.shape == ans.shape:
        return _matmul_2d(a.T, g)
    if np.ndim(raw(a)) == 2 and np.ndim(raw(b)) == 2:
        return matmul(transpose(a), broadcast_to(g, np.shape(raw(ans))))
    return _matmul_grad(g, ans, a, b, 1)


@defjvp(matmul_p, 0)
def _matmul_jvp_a(t, ans, a, b):
    return matmul(broadcast_to(t, np.shape(raw(a))), b)


@defjvp(matmul_p, 1)
def _matmul_jvp_b(t, ans, a, b):
    return matmul(a, broadcast_to(t, np.shape(raw(b))))


def is_node(x: Any) -> bool:
    return isinstance(x, Node)
