"""NumPy's shape and assembly functions as compositions of primitives (no records of their own).

Each is a few lines over ``reshape``, ``transpose``, ``broadcast_to``, ``getitem``, ``untake``,
``concatenate`` and ``where``, so its gradient (and every higher one) is exactly the gradient of
those: ``flip``/``roll``/``repeat``/``take``/``sort`` are gathers (scattered back with
``np.add.at`` semantics), ``tile`` is a broadcast, ``split`` is slicing, ``pad`` is a scatter (or a
gather for the ``edge``/``reflect``/``symmetric``/``wrap`` modes), ``triu``/``tril`` are masks.

>>> import numpy as np
>>> tile(np.array([1.0, 2.0]), 2), roll(np.arange(4.0), 1)
(array([1., 2., 1., 2.]), array([3., 0., 1., 2.]))
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import BadInput
from ..core import Node
from .array import as_int, as_ints, broadcast_to, norm_axis, reshape, transpose
from .elementwise import add, mul, sub, where
from .indexing import as_array_arg, concatenate, getitem, untake

__all__ = ["moveaxis", "swapaxes", "rollaxis", "expand_dims", "squeeze", "ravel", "atleast_1d", "atleast_2d",
           "atleast_3d", "flip", "flipud", "fliplr", "rot90", "roll", "repeat", "tile", "split", "array_split",
           "hsplit", "vsplit", "dsplit", "hstack", "vstack", "dstack", "column_stack", "append", "take",
           "take_along_axis", "sort", "partition", "pad", "triu", "tril", "full", "full_like", "linspace",
           "select", "diff", "broadcast_arrays"]


def _leaf(x):
    while isinstance(x, Node):
        x = x.value
    return x


def _shape(x) -> tuple:
    return np.shape(_leaf(x))


def _one_axis(axis: Any, nd: int, op: str) -> int:
    (a,) = norm_axis(int(axis) if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) else axis,
                     nd, op)
    return a


def _axes_list(axis: Any, nd: int, op: str) -> list[int]:
    axes = [axis] if np.ndim(axis) == 0 else list(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -nd <= a < nd:
            raise BadInput(f"{op}: axis {a!r} is out of range for an array of {nd} dimensions")
        out.append(int(a) % nd)
    if len(set(out)) != len(out):
        raise BadInput(f"{op}: axis {axis!r} repeats an axis")
    return out


def _along(axis: int, key: Any) -> tuple:
    return (slice(None),) * axis + (key,)


# -- axes -----------------------------------------------------------------------------------------
def moveaxis(x: Any, source: Any, destination: Any) -> Any:
    """Move axes ``source`` to positions ``destination`` (a transpose)."""
    nd = len(_shape(x))
    src, dst = _axes_list(source, nd, "moveaxis"), _axes_list(destination, nd, "moveaxis")
    if len(src) != len(dst):
        raise BadInput("moveaxis: source and destination must name the same number of axes")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return x if order == list(range(nd)) else transpose(x, tuple(order))


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    nd = len(_shape(x))
    a, b = _one_axis(axis1, nd, "swapaxes"), _one_axis(axis2, nd, "swapaxes")
    perm = list(range(nd))
    perm[a], perm[b] = perm[b], perm[a]
    return x if a == b else transpose(x, tuple(perm))


def rollaxis(x: Any, axis: int, start: int = 0) -> Any:
    """NumPy's ``rollaxis`` (``moveaxis`` is the clearer spelling)."""
    nd = len(_shape(x))
    a = _one_axis(axis, nd, "rollaxis")
    s = int(start)
    if not -nd <= s <= nd:
        raise BadInput(f"rollaxis: start {start} is out of range for {nd} dimensions (allowed: {-nd} to {nd})")
    s %= nd + 1
    if a < s:
        s -= 1
    if a == s:
        return x
    order = [i for i in range(nd) if i != a]
    order.insert(s, a)
    return transpose(x, tuple(order))


def expand_dims(x: Any, axis: Any) -> Any:
    shape = _shape(x)
    axes = [axis] if np.ndim(axis) == 0 else list(axis)
    nd = len(shape) + len(axes)
    new_axes = set(_axes_list(axes, nd, "expand_dims"))
    it = iter(shape)
    return reshape(x, tuple(1 if i in new_axes else next(it) for i in range(nd)))


def squeeze(x: Any, axis: Any = None) -> Any:
    shape = _shape(x)
    if axis is None:
        return reshape(x, tuple(s for s in shape if s != 1))
    axes = _axes_list(axis, len(shape), "squeeze")
    if any(shape[a] != 1 for a in axes):
        raise BadInput(f"squeeze: axis {axis!r} of an array of shape {shape} does not have size 1")
    return reshape(x, tuple(s for i, s in enumerate(shape) if i not in axes))


def ravel(x: Any) -> Any:
    """The values as a 1-D array (C order)."""
    return reshape(as_array_arg(x), (-1,))


def _atleast(x: Any, nd: int) -> Any:
    x = as_array_arg(x)
    s = _shape(x)
    if len(s) >= nd:
        return x
    if nd == 3 and len(s) == 2:
        return reshape(x, s + (1,))
    if nd == 3 and len(s) == 1:
        return reshape(x, (1,) + s + (1,))
    return reshape(x, (1,) * (nd - len(s)) + s)


def atleast_1d(*xs: Any) -> Any:
    out = [_atleast(x, 1) for x in xs]
    return out[0] if len(out) == 1 else out


def atleast_2d(*xs: Any) -> Any:
    out = [_atleast(x, 2) for x in xs]
    return out[0] if len(out) == 1 else out


def atleast_3d(*xs: Any) -> Any:
    out = [_atleast(x, 3) for x in xs]
    return out[0] if len(out) == 1 else out


# -- gathers: flip, roll, rot90, repeat, take, sort ----------------------------------------------------
def flip(x: Any, axis: Any = None) -> Any:
    nd = len(_shape(x))
    axes = range(nd) if axis is None else _axes_list(axis, nd, "flip")
    key = [slice(None)] * nd
    for a in axes:
        key[a] = slice(None, None, -1)
    return getitem(x, tuple(key))


def flipud(x: Any) -> Any:
    if len(_shape(x)) < 1:
        raise BadInput("flipud needs an array of at least 1 dimension")
    return flip(x, 0)


def fliplr(x: Any) -> Any:
    if len(_shape(x)) < 2:
        raise BadInput("fliplr needs an array of at least 2 dimensions")
    return flip(x, 1)


def rot90(x: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """Rotate by 90° k times in the plane of ``axes`` (NumPy's algorithm: flips and a transpose)."""
    nd = len(_shape(x))
    a0, a1 = _axes_list(list(axes), nd, "rot90")
    k = as_int(k, "k", "rot90") % 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(x, a1), tuple(perm))
    return flip(transpose(x, tuple(perm)), a1)


def roll(x: Any, shift: Any, axis: Any = None) -> Any:
    """Shift entries cyclically by ``shift`` along ``axis`` (``None``: the flattened array)."""
    shape = _shape(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), shape)
    shifts, axes = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
    for s, a in zip(shifts.ravel(), axes.ravel()):
        a = _one_axis(int(a), len(shape), "roll")
        n = shape[a]
        s = int(s) % n if n else 0
        if s:
            x = concatenate([getitem(x, _along(a, slice(n - s, None))), getitem(x, _along(a, slice(0, n - s)))], a)
    return x


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Any:
    """Repeat each entry ``repeats`` times along ``axis`` (a gather: repeated entries accumulate)."""
    x = as_array_arg(x)
    if axis is None:
        x, axis = ravel(x), 0
    shape = _shape(x)
    a = _one_axis(axis, len(shape), "repeat")
    try:
        idx = np.repeat(np.arange(shape[a]), repeats)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"repeat: repeats {repeats!r} do not fit an axis of length {shape[a]}: {exc}") from None
    return getitem(x, _along(a, idx))


def tile(x: Any, reps: Any) -> Any:
    """Repeat the whole array ``reps`` times along each axis (a broadcast, then a reshape)."""
    x = as_array_arg(x)
    reps = as_ints(reps, "reps", "tile")
    if any(r < 0 for r in reps):
        raise BadInput(f"tile: reps {reps} must be non-negative")
    shape = _shape(x)
    nd = max(len(shape), len(reps))
    shape, reps = (1,) * (nd - len(shape)) + shape, (1,) * (nd - len(reps)) + reps
    inter = reshape(x, tuple(v for s in shape for v in (1, s)))
    big = broadcast_to(inter, tuple(v for s, r in zip(shape, reps) for v in (r, s)))
    return reshape(big, tuple(s * r for s, r in zip(shape, reps)))


def take(x: Any, indices: Any, axis: int | None = None) -> Any:
    x = as_array_arg(x)
    if axis is None:
        return getitem(ravel(x), indices)
    return getitem(x, _along(_one_axis(axis, len(_shape(x)), "take"), indices))


def take_along_axis(x: Any, indices: Any, axis: int | None) -> Any:
    x = as_array_arg(x)
    if axis is None:
        return take_along_axis(ravel(x), indices, 0)
    shape = _shape(x)
    idx = np.asarray(_leaf(indices))
    if idx.ndim != len(shape):
        raise BadInput(f"take_along_axis: indices of {idx.ndim} dimensions for an array of {len(shape)}")
    a = _one_axis(axis, len(shape), "take_along_axis")
    key = tuple(idx if i == a else np.arange(n).reshape([-1 if j == i else 1 for j in range(len(shape))])
                for i, n in enumerate(shape))
    return getitem(x, key)


def sort(x: Any, axis: int | None = -1) -> Any:
    """Sorted values (a gather by the stable argsort of the values)."""
    x = as_array_arg(x)
    if axis is None:
        x, axis = ravel(x), 0
    return take_along_axis(x, np.argsort(_leaf(x), axis=axis, kind="stable"), axis)


def partition(x: Any, kth: Any, axis: int | None = -1) -> Any:
    x = as_array_arg(x)
    if axis is None:
        x, axis = ravel(x), 0
    try:
        order = np.argpartition(_leaf(x), kth if isinstance(kth, (int, np.integer)) else as_ints(kth, "kth", "partition"),
                                axis=axis)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"partition: kth {kth!r} does not fit an array of shape {_shape(x)}: {exc}") from None
    return take_along_axis(x, order, axis)


# -- splitting and joining ---------------------------------------------------------------------------
def _split(x: Any, sections: Any, axis: int, equal: bool, op: str) -> list:
    shape = _shape(x)
    a = _one_axis(axis, len(shape), op)
    n = shape[a]
    if np.ndim(sections) == 0:
        k = as_int(sections, "the number of sections", op)
        if k <= 0:
            raise BadInput(f"{op}: the number of sections must be positive, got {k}")
        if equal and n % k:
            raise BadInput(f"{op}: an axis of length {n} does not split into {k} equal sections "
                           "(use array_split for unequal ones)")
        each, extra = divmod(n, k)
        sizes = [each + 1] * extra + [each] * (k - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    else:
        idx = as_ints(sections, "indices_or_sections", op)
        bounds = [0] + [min(max(i if i >= 0 else n + i, 0), n) for i in idx] + [n]
    return [getitem(x, _along(a, slice(int(lo), max(int(lo), int(hi))))) for lo, hi in zip(bounds[:-1], bounds[1:])]


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    return _split(as_array_arg(x), indices_or_sections, axis, True, "split")


def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    return _split(as_array_arg(x), indices_or_sections, axis, False, "array_split")


def hsplit(x: Any, indices_or_sections: Any) -> list:
    x = as_array_arg(x)
    if len(_shape(x)) == 0:
        raise BadInput("hsplit needs an array of at least 1 dimension")
    return _split(x, indices_or_sections, 1 if len(_shape(x)) > 1 else 0, True, "hsplit")


def vsplit(x: Any, indices_or_sections: Any) -> list:
    x = as_array_arg(x)
    if len(_shape(x)) < 2:
        raise BadInput("vsplit needs an array of at least 2 dimensions")
    return _split(x, indices_or_sections, 0, True, "vsplit")


def dsplit(x: Any, indices_or_sections: Any) -> list:
    x = as_array_arg(x)
    if len(_shape(x)) < 3:
        raise BadInput("dsplit needs an array of at least 3 dimensions")
    return _split(x, indices_or_sections, 2, True, "dsplit")


def _seq(xs: Any, op: str) -> list:
    if isinstance(xs, (Node, np.ndarray)):
        return [xs]
    try:
        return list(xs)
    except TypeError:
        raise BadInput(f"{op} takes a sequence of arrays, got {type(xs).__name__}") from None


def hstack(xs: Any) -> Any:
    arrs = [_atleast(x, 1) for x in _seq(xs, "hstack")]
    return concatenate(arrs, 0 if arrs and len(_shape(arrs[0])) == 1 else 1)


def vstack(xs: Any) -> Any:
    return concatenate([_atleast(x, 2) for x in _seq(xs, "vstack")], 0)


def dstack(xs: Any) -> Any:
    return concatenate([_atleast(x, 3) for x in _seq(xs, "dstack")], 2)


def column_stack(xs: Any) -> Any:
    arrs = []
    for x in _seq(xs, "column_stack"):
        x = as_array_arg(x)
        arrs.append(reshape(x, (-1, 1)) if len(_shape(x)) < 2 else x)
    return concatenate(arrs, 1)


def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([as_array_arg(arr), as_array_arg(values)], axis)


# -- pad, triangles ---------------------------------------------------------------------------------
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Any:
    """NumPy's ``pad``: ``constant`` (a scatter into the bigger array) or ``edge``, ``reflect``,
    ``symmetric``, ``wrap`` (gathers, built from ``np.pad`` of the index ranges)."""
    x = as_array_arg(x)
    shape = _shape(x)
    try:
        width = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(shape), 2))
    except (ValueError, TypeError):
        raise BadInput(f"pad: pad_width {pad_width!r} does not fit an array of shape {shape}") from None
    if np.any(width < 0):
        raise BadInput(f"pad: pad_width {pad_width!r} must be non-negative")
    if mode == "constant":
        big = tuple(int(s + lo + hi) for s, (lo, hi) in zip(shape, width))
        out = untake(x, tuple(slice(int(lo), int(lo) + s) for s, (lo, _) in zip(shape, width)), big)
        filler = np.pad(np.zeros(shape), width, mode="constant", constant_values=constant_values)
        return add(out, filler) if np.any(filler) else out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise BadInput(f"pad: mode {mode!r} is not supported; allowed: constant, edge, reflect, symmetric, wrap")
    for a, (lo, hi) in enumerate(width):
        if lo or hi:
            try:
                idx = np.pad(np.arange(shape[a]), (int(lo), int(hi)), mode=mode)
            except ValueError as exc:
                raise BadInput(f"pad: {exc}") from None
            x = getitem(x, _along(a, idx))
    return x


def _tri_mask(x: Any, k: int, upper: bool) -> np.ndarray:
    shape = _shape(x)
    if len(shape) == 0:
        raise BadInput("triu/tril need an array of at least 1 dimension")
    n, m = (shape[-1], shape[-1]) if len(shape) == 1 else shape[-2:]
    lower = np.tri(n, m, as_int(k, "k", "triu/tril") - (1 if upper else 0), dtype=bool)
    return ~lower if upper else lower


def triu(x: Any, k: int = 0) -> Any:
    """The upper triangle (j ≥ i + k) of the last two axes, zeros below (a mask)."""
    x = as_array_arg(x)
    return where(_tri_mask(x, k, True), x, 0.0)


def tril(x: Any, k: int = 0) -> Any:
    """The lower triangle (j ≤ i + k) of the last two axes, zeros above (a mask)."""
    x = as_array_arg(x)
    return where(_tri_mask(x, k, False), x, 0.0)


# -- making arrays from traced values ------------------------------------------------------------------
def full(shape: Any, fill_value: Any) -> Any:
    shape = as_ints(shape, "shape", "full")
    if not isinstance(fill_value, Node):
        return np.full(shape, fill_value)
    return broadcast_to(fill_value, shape)


def full_like(x: Any, fill_value: Any) -> Any:
    return full(_shape(x), fill_value)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True) -> Any:
    """``num`` points from start to stop, as (1 − t)·start + t·stop for NumPy's t in [0, 1]
    (differentiable in start and stop; the end points are exact)."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise BadInput(f"linspace: num must be a non-negative integer, got {num!r}")
    t = np.linspace(0.0, 1.0, int(num), endpoint=endpoint)
    nd = len(np.broadcast_shapes(_shape(start), _shape(stop)))
    t = t.reshape((-1,) + (1,) * nd)
    return add(mul(1.0 - t, start), mul(t, stop))


def select(condlist: Sequence, choicelist: Sequence, default: Any = 0) -> Any:
    """The first choice whose condition holds, else ``default`` (nested ``where``)."""
    if len(condlist) != len(choicelist):
        raise BadInput(f"select: {len(condlist)} conditions but {len(choicelist)} choices")
    out = default
    for c, v in reversed(list(zip(condlist, choicelist))):
        out = where(np.asarray(_leaf(c), dtype=bool), v, out)
    return out


def diff(x: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """n-th differences along ``axis`` (slices and a subtraction, n times)."""
    x = as_array_arg(x)
    nd = len(_shape(x))
    if nd == 0:
        raise BadInput("diff needs an array of at least 1 dimension")
    a = _one_axis(axis, nd, "diff")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise BadInput(f"diff: order n must be a non-negative integer, got {n!r}")

    def edge(v):  # a scalar prepend/append stands for one slice along the axis
        if np.ndim(_leaf(v)) == 0:
            shp = list(_shape(x))
            shp[a] = 1
            return broadcast_to(v, tuple(shp)) if isinstance(v, Node) else np.full(shp, v)
        return v
    parts = ([edge(prepend)] if prepend is not None else []) + [x] + ([edge(append)] if append is not None else [])
    if len(parts) > 1:
        x = concatenate(parts, a)
    for _ in range(int(n)):
        x = sub(getitem(x, _along(a, slice(1, None))), getitem(x, _along(a, slice(None, -1))))
    return x


def broadcast_arrays(*xs: Any) -> list:
    shape = np.broadcast_shapes(*[_shape(x) for x in xs])
    return [broadcast_to(x, shape) if isinstance(x, Node) else np.broadcast_to(x, shape) for x in xs]
