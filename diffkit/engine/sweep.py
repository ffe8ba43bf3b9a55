"""The reference interpreters: one forward evaluator, one backward sweep, one forward-mode sweep.

Every other executor (``fast.py``, replay, codegen) is tested against these.  They are plain on
purpose: pop an adjoint, call the VJP rules, sum each contribution down to its node's shape, add.

Broadcasting is undone here and only here (:func:`settle`, by the shape rule of :mod:`.broadcasting`,
which the fused code generator shares).  A contribution of an
``elementwise`` primitive stands for an array of the primitive's output shape; any other
contribution stands for an array of its argument's shape.  Either may arrive smaller (lazily
broadcast): summing a lazily broadcast axis is a multiplication by its length, so a scalar
``g/n`` is never expanded into a full array.

>>> import numpy as np
>>> settle(np.ones((4, 3)), (4, 3), (3,))
array([4., 4., 4.])
>>> settle(2.0, (4, 3), (4, 1))  # a lazily broadcast scalar standing for a (4, 3) array
6.0
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import DiffkitError
from .anomaly import check_finite
from .broadcasting import settle_plan
from .core import Node, Summed, _ANOMALY, zero

_node_id, _value = attrgetter("id"), attrgetter("value")
__all__ = ["grad_order", "settle", "materialize", "expand", "evaluate", "backward_pass",
           "jvp_pass"]


def grad_order(out: Node, stop: Sequence[Node] = ()) -> list[Node]:
    """The nodes that need gradients reachable from ``out`` (``stop`` nodes not descended into),
    parents before children.  Node ids grow in creation order and a node is made after its
    parents, so sorting by id is a topological order (cheaper than a post-order walk)."""
    stopset, seen, stack = set(stop), {out}, [out]
    while stack:
        n = stack.pop()
        if n in stopset:
            continue
        for p in n.parents:
            if p.needs_grad and p not in seen:
                seen.add(p)
                stack.append(p)
    return sorted(seen, key=_node_id)


# -- shapes ------------------------------------------------------------------------------------
def _ops():
    from .rules import array, elementwise
    return array, elementwise


def settle(c: Any, logical: tuple | None, target: tuple, what: str = "a rule") -> Any:
    """Sum ``c``, which stands for ``broadcast_to(c, logical)``, down to ``target``.

    ``logical`` is the output shape for the rules of elementwise primitives; ``None`` for the
    others, whose contributions stand for ``c`` broadcast against the argument (leading batch
    axes are summed, lazily broadcast axes kept).  The result broadcasts to ``target`` (it stays
    smaller where ``c`` was lazily broadcast).
    ``what`` names the rule in the error raised when ``c`` does not broadcast to ``logical``.
    """
    if type(c) is Summed:
        s = np.shape(c.value)
        if len(s) > len(target) or np.broadcast_shapes(s, target) != target:
            raise DiffkitError(f"{what} returned a summed contribution of shape {s} for an argument of shape {target}")
        return c.value
    cs = c.shape if type(c) is np.ndarray else np.shape(c)
    if cs == target and (logical is None or logical == target):
        return c
    if logical is None:  # not elementwise: c stands for itself broadcast against its argument
        try:
            logical = np.broadcast_shapes(cs, target)
        except ValueError:
            raise DiffkitError(f"{what} returned a contribution of shape {cs} for an argument of shape {target}") from None
    nl, nc = len(logical), len(cs)
    if nc > nl:  # extra leading axes must be size 1
        if any(s != 1 for s in cs[:nc - nl]):
            raise DiffkitError(f"{what} returned a contribution of shape {cs} for a value of shape {logical}")
        c, cs, nc = _reshape(c, cs[nc - nl:]), cs[nc - nl:], nl
    plan = settle_plan(cs, logical, target)
    if plan is None:
        raise DiffkitError(f"{what} returned a contribution of shape {cs} for a value of shape {logical}")
    axes, factor = plan
    if axes:
        c = _sum(c, axes)
    if factor != 1:
        c = c * factor if not isinstance(c, Node) else _ops()[1].mul(c, float(factor))
    drop = nc - len(target)
    if drop > 0:  # leading axes the target does not have: all size 1 by now
        c = _reshape(c, np.shape(c)[drop:])
    return c


def _sum(c: Any, axes: tuple) -> Any:
    return _ops()[0].sum(c, axes, keepdims=True) if isinstance(c, Node) else np.sum(c, axis=axes, keepdims=True)


def _reshape(c: Any, shape: tuple) -> Any:
    return _ops()[0].reshape(c, shape) if isinstance(c, Node) else np.reshape(c, shape)


def expand(g: Any, shape: tuple) -> Any:
    """``g`` broadcast to exactly ``shape`` (a read-only view for arrays; no copy)."""
    if g is zero or np.shape(g) == shape:
        return g
    if isinstance(g, Node):
        return _ops()[0].broadcast_to(g, shape)
    return np.broadcast_to(g, shape)


def materialize(g: Any, like: Any) -> Any:
    """A cotangent with exactly the shape and dtype of ``like`` (zeros for the symbolic zero)."""
    if type(g) is np.ndarray and type(like) is np.ndarray and g.shape == like.shape and g.dtype == like.dtype:
        return g
    shape = np.shape(like)
    if isinstance(g, Node):
        return expand(g, shape)
    dtype = like.dtype if isinstance(like, Node) else np.result_type(like)
    if shape == () and g is not zero and np.ndim(g) == 0:
        return dtype.type(g)  # a scalar: the same value as below, without broadcast_to (~8 µs)
    return (np.zeros(shape, dtype) if g is zero else np.array(np.broadcast_to(g, shape), dtype=dtype))[()]


# -- the interpreters --------------------------------------------------------------------------
def evaluate(nodes: Sequence[Node], values: dict) -> dict:
    """The forward interpreter: fill ``values`` (node → value) for every op node of ``nodes``
    (a topological order) from the values of their parents already in ``values``."""
    for n in nodes:
        if n.primitive is not None:
            values[n] = n.primitive.impl(*[values[p] for p in n.parents], **n.params)
    return values


def backward_pass(out: Node, seed: Any, *, wrt: Sequence[Node] = (), retain: bool = False,
                  values: Mapping[Node, Any] | None = None, order: Sequence[Node] | None = None
                  ) -> dict[Node, Any]:
    """Reverse sweep from ``out``: a fresh mapping node → adjoint, owned by this call.

    Parameters
    ----------
    out : Node
        The node whose adjoint is ``seed``.
    wrt : sequence of Node
        Nodes to stop at; their adjoints are returned.
    retain : bool, default False
        Return every adjoint (for inspection); otherwise each is freed once used.
    values : mapping, optional
        Forward values by node (a replayed :class:`Graph`); default ``node.value``.

    Adjoints are lazily broadcast (see :func:`settle`); :func:`materialize` gives full arrays.
    """
    if order is None:
        order = grad_order(out, wrt)
    stop = set(wrt)
    value = _value if values is None else values.__getitem__
    add = _ops()[1].add
    adj: dict[Node, Any] = {out: seed}
    kept: dict[Node, Any] = {}
    for n in reversed(order):
        g = adj.get(n) if retain else adj.pop(n, None)
        if g is None:
            continue
        prim = n.primitive
        if prim is None or n in stop:
            kept[n] = g
            continue
        ans, args = value(n), [value(p) for p in n.parents]
        shape = np.shape(ans)
        if not prim.elementwise:
            g = expand(g, shape)
        kw = dict(n.params, res=None) if prim.res_args else n.params
        for i, p in enumerate(n.parents):
            if not p.needs_grad:
                continue
            c = prim.vjp(i)(g, ans, *args, **(kw if i in prim.res_args else n.params))
            if c is zero:
                continue
            if _ANOMALY[0]:
                check_finite(c, n, "backward", i)
            target = np.shape(args[i])
            c = settle(c, shape if prim.elementwise else None, target, f"the VJP of {prim.name} (argument {i})")
            prev = adj.get(p)
            adj[p] = c if prev is None else add(prev, c)
    if retain:
        return adj
    return kept


def jvp_pass(order: Sequence[Node], tangents: Mapping[Node, Any], *,
             values: Mapping[Node, Any] | None = None) -> dict[Node, Any]:
    """Forward sweep: the tangent of every node of ``order`` from the tangents of its leaves
    (symbolic zeros skipped).  Tangents are lazily broadcast like adjoints."""
    value = _value if values is None else values.__getitem__
    add = _ops()[1].add
    tan = dict(tangents)
    for n in order:
        prim = n.primitive
        if prim is None:
            continue
        t = zero
        ans, args = value(n), [value(p) for p in n.parents]
        for i, p in enumerate(n.parents):
            tp = tan.get(p, zero)
            if tp is zero:
                continue
            if not prim.elementwise:
                tp = expand(tp, np.shape(args[i]))
            c = prim.jvp(i)(tp, ans, *args, **n.params)
            if c is zero:
                continue
            t = c if t is zero else add(t, c)
        if t is not zero:
            tan[n] = t
    return tan
