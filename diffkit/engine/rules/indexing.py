"""Indexing primitives, one record each: ``getitem`` (``x[i]``, ``x[a:b]``, ``x[..., None]``,
boolean masks, integer arrays), its transpose ``untake`` (a scatter-add with ``np.add.at``
semantics, so repeated indices accumulate) and the variadic ``concatenate``.

``getitem`` and ``untake`` are each other's VJP, so gradients of gradients stay exact.  An index
is normalised once (:func:`normalize_index`): boolean masks become the integer arrays of their
``nonzero()`` (NumPy's own definition of mask indexing), after their shape is checked.

>>> import numpy as np
>>> x = np.arange(4.0)
>>> untake(np.ones(3), normalize_index([0, 0, 3], (4,)), (4,))  # repeated indices accumulate
array([2., 0., 0., 1.])
>>> getitem(x, np.array([True, False, True, True]))
array([0., 2., 3.])
>>> getitem(x, np.array([True, False]))
Traceback (most recent call last):
...
diffkit.errors.BadInput: index: a boolean mask of shape (2,) does not match axes of shape (4,)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import BadInput, brief
from ..core import NONE, Absent, Node, bind, defprim
from ..fast import Scatter, dense_scatter
from .variadic import defprim_variadic

__all__ = ["Index", "normalize_index", "getitem", "untake", "concatenate", "stack", "array", "as_array_arg"]

_ARRAY_CODE = {"math": Absent("array primitive"), "numpy": Absent("replay calls impl and the VJP rules")}


def _leaf(x):
    while isinstance(x, Node):
        x = x.value
    return x


class Index(tuple):
    """A normalised index: ints, slices, ``None``, ``Ellipsis`` and integer arrays.

    Its ``repr`` is Python that rebuilds it (replay writes a node's parameters into code).

    >>> Index((1, slice(None, 2), None, np.array([0, 2])))
    (1, slice(None, 2, None), None, np.array([0, 2], dtype=np.intp))
    """

    __slots__ = ()

    def __repr__(self) -> str:
        parts = [f"np.array({k.tolist()!r}, dtype=np.intp)" if isinstance(k, np.ndarray) else repr(k) for k in self]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

    @property
    def advanced(self) -> bool:
        """Whether an integer array is among the entries (then the scatter must accumulate)."""
        return any(isinstance(k, np.ndarray) for k in self)


def _int(k: Any, what: str) -> int | None:
    k = _leaf(k)
    if k is None:
        return None
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise BadInput(f"index: {what} must be an integer or None, got {brief(k)}")
    return int(k)


def normalize_index(index: Any, shape: tuple) -> Index:
    """``index`` as an :class:`Index` for an array of ``shape``; BadInput for what NumPy rejects
    or what cannot be differentiated through (float or object indices)."""
    if isinstance(index, Index):
        return index
    if not isinstance(index, tuple):
        index = (index,)
    out: list = []
    masks: list[tuple[int, np.ndarray]] = []  # (position in out, mask) to check against the shape
    for k in index:
        k = _leaf(k)
        if k is None or k is Ellipsis:
            out.append(k)
        elif isinstance(k, slice):
            out.append(slice(_int(k.start, "a slice start"), _int(k.stop, "a slice stop"),
                             _int(k.step, "a slice step")))
        elif isinstance(k, (bool, np.bool_)):
            raise BadInput("index: a single True/False is not supported; use x[None] to add an axis "
                           "or a boolean array of the indexed axes' shape")
        elif isinstance(k, (int, np.integer)):
            out.append(int(k))
        else:
            try:
                a = np.asarray(k)
            except Exception:
                raise BadInput(f"index {k!r} is not an integer, slice, None, Ellipsis or array") from None
            if a.dtype == np.bool_ and a.ndim:
                masks.append((len(out), a))
                out.append(a)
            elif a.dtype.kind in "iu" or (a.size == 0 and a.dtype.kind == "f"):
                out.append(a.astype(np.intp, copy=False))
            else:
                raise BadInput(f"index arrays must hold integers or booleans, got dtype {a.dtype}")
    if sum(k is Ellipsis for k in out) > 1:
        raise BadInput("index: an index can only have a single ellipsis ('...')")
    if masks:
        out = _expand_masks(out, masks, shape)
    return Index(out)


def _consumes(k: Any) -> int:
    """How many axes of the indexed array an entry of an index consumes."""
    if k is None or k is Ellipsis:
        return 0
    if isinstance(k, np.ndarray) and k.dtype == np.bool_:
        return k.ndim
    return 1


def _expand_masks(out: list, masks: list, shape: tuple) -> list:
    used = sum(_consumes(k) for k in out)
    if used > len(shape):
        raise BadInput(f"index: too many indices for an array of shape {shape}")
    axis, where = 0, {}
    for pos, k in enumerate(out):
        where[pos] = axis
        axis += len(shape) - used if k is Ellipsis else _consumes(k)
    new: list = []
    mask_at = dict(masks)
    for pos, k in enumerate(out):
        if pos in mask_at:
            a = mask_at[pos]
            covered = tuple(shape[where[pos]:where[pos] + a.ndim])
            if a.shape != covered:
                raise BadInput(f"index: a boolean mask of shape {a.shape} does not match axes of shape {covered}")
            new.extend(np.nonzero(a))
        else:
            new.append(k)
    return new


# -- getitem and untake --------------------------------------------------------------------------
def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` with NumPy's rules (basic and advanced indexing)."""
    return bind(getitem_p, x, index=normalize_index(index, np.shape(_leaf(x))))


def untake(g: Any, index: Any, shape: tuple) -> Any:
    """An array of zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    shape = tuple(int(s) for s in shape)
    return bind(untake_p, g, index=normalize_index(index, shape), shape=shape)


def _getitem_vjp(g, x, index, lazy=False):
    # for the fast sweep (lazy): g at index of zeros, kept sparse until it meets other contributions
    if lazy and not isinstance(g, Node) and not isinstance(x, Node):
        return Scatter(tuple(index), g, np.shape(x))
    return untake(g, index, np.shape(x))


def _getitem_impl(x, index):
    return np.asarray(x)[tuple(index)]


def _untake_impl(g, index, shape):
    out = dense_scatter(np.asarray(g), tuple(index), shape)
    return out[()] if out.ndim == 0 else out


def _index_cases(rng):
    A, T = rng.normal(size=(4, 5)), rng.normal(size=(3, 4, 2))
    return [((A,), {"index": normalize_index(i, A.shape)}) for i in
            [1, -1, (2, 3), slice(1, 3), (slice(None, None, -1), slice(0, 5, 2)), (Ellipsis, None),
             (None, 1), [0, 0, 3], (np.array([[0, 1], [1, 3]]),), A > 0, (slice(1, 3), [4, 0, 4])]] + [
        ((T,), {"index": normalize_index(i, T.shape)}) for i in
        [(Ellipsis, 1), (1, Ellipsis, None), ([0, 2], slice(None), [1, 1]), (slice(None), T[0] > 0),
         (2, slice(1, None), [1, 0])]] + [
        ((np.float64(1.5),), {"index": normalize_index((), ())}),
        ((np.float64(1.5),), {"index": normalize_index(None, ())})]


def _untake_cases(rng):
    out = []
    for (x,), p in _index_cases(rng):
        ans = _getitem_impl(x, p["index"])
        out.append(((rng.normal(size=np.shape(ans))[()],), {"index": p["index"], "shape": np.shape(x)}))
    return out


getitem_p = defprim(
    "getitem", _getitem_impl,
    vjp=(lambda g, ans, x, index, lazy=False: _getitem_vjp(g, x, index, lazy),),
    jvp=(lambda t, ans, x, index: getitem(t, index),),
    cost=(1, ((1, NONE),)), local=("scatter (·) back to x[index]",),
    sympy=Absent("array indexing"), code=_ARRAY_CODE, cases=_index_cases, lazy=(0,),
    doc="x[index]; the VJP scatters back, adding at repeated indices (np.add.at)")

untake_p = defprim(
    "untake", _untake_impl,
    vjp=(lambda g, ans, x, index, shape: getitem(g, index),),
    jvp=(lambda t, ans, x, index, shape: untake(t, index, shape),),
    cost=(1, ((0, NONE),)), local=("(·)[index]",),
    sympy=Absent("array indexing"), code=_ARRAY_CODE, cases=_untake_cases,
    doc="zeros(shape) with g added at index (the transpose of getitem)")


# -- concatenate ---------------------------------------------------------------------------------
def _offsets(args: Sequence, axis: int) -> list[int]:
    offs = [0]
    for a in args:
        offs.append(offs[-1] + np.shape(a)[axis])
    return offs


def _block(i: int, args: Sequence, axis: int) -> Index:
    offs = _offsets(args, axis)
    return Index((slice(None),) * axis + (slice(offs[i], offs[i + 1]),))


def _concat_vjp(i, g, ans, *args, axis):
    return getitem(g, _block(i, args, axis))


def _concat_jvp(i, t, ans, *args, axis):
    return untake(t, _block(i, args, axis), np.shape(ans))


def _concat_impl(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _concat_cases(rng):
    R = rng.normal
    return [((R(size=1), R(size=3)), {"axis": 0}), ((R(size=(2, 2)), R(size=(2, 3))), {"axis": 1}),
            ((R(size=(2, 2)), R(size=(1, 2)), R(size=(3, 2))), {"axis": 0}),
            ((R(size=(2, 2, 2)), R(size=(2, 2, 2))), {"axis": 2}), ((R(size=(2, 3)),), {"axis": 0})]


def concatenate(xs: Any, axis: int | None = 0) -> Any:
    """Join a sequence of arrays along an existing ``axis`` (``None``: flatten them first)."""
    if isinstance(xs, Node) or isinstance(xs, np.ndarray):
        xs = [getitem(xs, i) for i in range(len(_leaf(xs)))]  # NumPy iterates an array's rows
    try:
        xs = list(xs)
    except TypeError:
        raise BadInput(f"concatenate takes a sequence of arrays, got {type(xs).__name__}") from None
    if not xs:
        raise BadInput("concatenate needs at least one array")
    if axis is None:
        from .array import reshape
        xs, axis = [reshape(x, (-1,)) for x in xs], 0
    shapes = [np.shape(_leaf(x)) for x in xs]
    nd = len(shapes[0])
    if nd == 0 or any(len(s) != nd for s in shapes):
        raise BadInput(f"concatenate needs arrays of one number of dimensions (at least 1); got shapes "
                       f"{', '.join(map(str, shapes))}")
    ax = _int(axis, "concatenate's axis")
    if not -nd <= ax < nd:
        raise BadInput(f"concatenate: axis {ax} is out of range for arrays of {nd} dimension"
                       f"{'' if nd == 1 else 's'} (allowed: {-nd} to {nd - 1})")
    ax %= nd
    for s in shapes[1:]:
        if s[:ax] + s[ax + 1:] != shapes[0][:ax] + shapes[0][ax + 1:]:
            raise BadInput(f"concatenate along axis {ax}: shapes {', '.join(map(str, shapes))} differ "
                           "in another axis")
    return bind(concatenate_p, *xs, axis=ax)


concatenate_p = defprim_variadic(
    "concatenate", _concat_impl, vjp=_concat_vjp, jvp=_concat_jvp,
    cost=lambda node, i: (0, NONE), local=lambda node, i: f"block {i} of (·)",
    sympy=Absent("array primitive"), code=_ARRAY_CODE, cases=_concat_cases,
    doc="join arrays along an axis; argument i's VJP is its block of g")


# -- compositions: stack and array -----------------------------------------------------------------
def _has_node(obj: Any) -> bool:
    if isinstance(obj, Node):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_node(o) for o in obj)
    return False


def stack(xs: Any, axis: int = 0) -> Any:
    """Join arrays of one shape along a new ``axis``: ``concatenate`` of the arrays with that axis
    inserted (a composition: its gradient is concatenate's)."""
    from .array import reshape
    if isinstance(xs, Node):
        xs = [getitem(xs, i) for i in range(len(_leaf(xs)))]
    xs = list(xs)
    if not xs:
        raise BadInput("stack needs at least one array")
    shapes = [np.shape(_leaf(x)) for x in xs]
    if any(s != shapes[0] for s in shapes):
        raise BadInput(f"stack needs arrays of one shape; got {', '.join(map(str, shapes))}")
    nd = len(shapes[0]) + 1
    ax = _int(axis, "stack's axis")
    if not -nd <= ax < nd:
        raise BadInput(f"stack: axis {ax} is out of range for the result of {nd} dimensions "
                       f"(allowed: {-nd} to {nd - 1})")
    ax %= nd
    new = shapes[0][:ax] + (1,) + shapes[0][ax:]
    return concatenate([reshape(x, new) for x in xs], axis=ax)


def array(obj: Any) -> Any:
    """``np.array`` that keeps traced values: nested lists/tuples holding Nodes are stacked
    (``dk.array([x, x * 2.0, x + 2.5])``); anything else is NumPy's array."""
    if isinstance(obj, Node):
        return obj
    if isinstance(obj, (list, tuple)) and _has_node(obj):
        if not obj:
            return np.array(obj)
        return stack([array(o) for o in obj])
    try:
        return np.array(obj)
    except Exception as exc:
        raise BadInput(f"array: cannot make an array of {type(obj).__name__}: {exc}") from None


def as_array_arg(x: Any) -> Any:
    """A function's array argument: lists/tuples holding Nodes become one stacked Node."""
    return array(x) if isinstance(x, (list, tuple)) and _has_node(x) else x
