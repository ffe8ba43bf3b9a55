"""Forward elision inside ``grad``: a value no rule will read gives its memory to the next result.

NumPy computes ``(a + b) * c`` in the memory of the temporary ``a + b``, since nothing else can see
it.  A graph cannot do that blindly: every node keeps its value for the backward sweep.  But many
values are never read again — ``w·x`` in ``σ(w·x + b)`` (neither ``add``'s VJP nor ``mul``'s reads
the product), or ``r²`` in ``mean(0.5·r²)``.  Inside ``grad``/``value_and_grad``, whose graph is
swept once (its trace level is in ``core.ONE_SWEEP``), such a value is *elided*: the consumer's
result is written into its buffer, as NumPy does, and the node keeps a *ghost* (a read-only
array of its shape and dtype, all NaN, taking no memory) — shapes are all the sweeps read of it.

A value may be elided when the consumer is bound and

1. its primitive declares ``reads`` (the record: per argument, what that VJP reads — "ans" or
   argnums) and none of its own VJPs for arguments that need a gradient reads "ans";
2. it is a writeable float array of at least :data:`MIN_BYTES` (declaring ``reads`` also
   promises that the primitive's result is a new array, never a view of an argument);
3. every consumer bound so far declares ``reads`` and none of their VJPs reads it (a consumer
   whose VJP does, or which declares nothing, *pins* it: it is never elided);
4. nothing outside the engine's sweeps has read it: ``Node.value`` pins.

A later reader loses nothing: ``Node.value`` (and ``bind``, for a consumer bound after the
elision) recomputes a ghost's value from its parents (:func:`remat`, bit for bit the same
NumPy call) and keeps it.  So a wrong guess costs one recomputation, never a wrong number.
Only elementwise consumers write into the donated buffer (their implementations read each entry
of their arguments before writing that entry of the result: single ufuncs, and σ, which writes
its result last).  ``tests/engine/test_elide.py`` checks that gradients with elision equal the
reference sweep's on every primitive with a record ``reads``, with the size limit lowered.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import buffers
from .core import _ANOMALY, Node, Primitive

_NAN: dict = {}
_ndarray = np.ndarray

#: Smallest value elided (at least ``buffers.MIN_BYTES``, whose ``empty`` hands the buffer on).
#: Below about a megabyte the arrays stay in the processor's caches anyway and the checks cost
#: more than the memory saves (the MLP of W3, 128–256 KiB activations, was 2–3% slower with
#: 64 KiB); at 8 MB (W2) writing into the dying buffer is what makes the eager pass as fast as
#: NumPy's own temporaries.
MIN_BYTES = 1 << 20


def _reads(prim: Primitive, parents: Sequence[Node], params: dict) -> Any:
    r = prim.reads
    return r(*[p._v for p in parents], **params) if callable(r) else r


def _read_by(prim: Primitive, parents: Sequence[Node], params: dict) -> set | None:
    """What the VJPs of the arguments needing a gradient read ("ans", argnums); None: unknown."""
    if prim.reads is None:
        return None
    r = _reads(prim, parents, params)
    return set().union(*[r[i] for i, p in enumerate(parents) if p.needs_grad])


def dying(prim: Primitive, parents: tuple, needs_grad: bool, params: dict) -> list[Node]:
    """The parents whose values die at this new node (and are offered as its result's buffer);
    the parents the new node's VJPs will read are pinned."""
    for p in parents:  # most operations have no large array argument: done at once
        v = p._v
        if type(v) is _ndarray and v.nbytes >= MIN_BYTES:
            break
    else:
        return []
    if _ANOMALY[0]:
        return []
    read = _read_by(prim, parents, params) if needs_grad else set()
    out: list[Node] = []
    for k, p in enumerate(parents):
        if read is None or k in read:
            p.pinned = True
            continue
        q = p.primitive
        if p.pinned or p.gone or q is None or q.reads is None or p in out:
            continue
        v = p._v
        if type(v) is not _ndarray or v.dtype.kind != "f" or v.nbytes < MIN_BYTES \
                or not v.flags.writeable:
            continue
        if p.needs_grad and "ans" in _read_by(q, p.parents, p.params):
            p.pinned = True
            continue
        out.append(p)
    if out and prim.elementwise:
        buffers.donate([p._v for p in out])
    return out


def done(nodes: list[Node]) -> None:
    """After the consumer is computed: the dying values become ghosts (their memory is free)."""
    buffers.donate([])
    for p in nodes:
        p._v, p.gone = ghost(p._v), True


def ghost(v: np.ndarray) -> np.ndarray:
    """A read-only array of ``v``'s shape and dtype, all NaN, in one element of memory."""
    one = _NAN.get(v.dtype)
    if one is None:
        one = _NAN[v.dtype] = np.full(1, np.nan, v.dtype)
    g = np.ndarray(v.shape, v.dtype, buffer=one, strides=(0,) * v.ndim)
    g.flags.writeable = False
    return g


def remat(node: Node) -> None:
    """Recompute an elided value from its parents (``Node.value`` calls this; it then keeps it)."""
    node._v = node.primitive.impl(*[p.value for p in node.parents], **node.params)
    node.gone = False
