"""The fast backward sweep: the reference sweep (``sweep.backward_pass``) plus buffer reuse.

It computes exactly what the reference computes (``tests/engine/test_backends.py`` checks
every primitive), with these savings, which matter on large arrays:

* **Residuals.**  A primitive with a ``fwd`` (e.g. softmax cross-entropy keeps its log-softmax)
  hands its VJP what the forward pass already computed, instead of recomputing it.
* **In-place reuse of owned cotangents.**  A cotangent this sweep made with a ``fresh`` rule and
  holds in its adjoint map alone may be overwritten by the single rule that consumes it (e.g.
  relu's mask applied in place to the product from matmul's rule, as hand-written backprop
  does), sparing a full-size array and its page faults.
* **Scalar factors kept apart.**  A cotangent may be a :class:`Scaled` (``base·scale``, the scale
  a scalar): a rule in the record's ``lazy`` set returns one instead of writing the product
  (d(a²)/da·g for a scalar g is ``Scaled(a, 2g)``, a negation is ``Scaled(g, −1)``), and a rule
  receiving one is called with the base and its contribution scaled (every VJP is linear in g).
  The scale joins the next reduction (``scale·sum(base)``, ``scale·(base·x)``) or is applied once
  where the gradient is returned; the array passes of the product are spared, as the replay's
  lazy scales spare them.
* **Scatters kept sparse.**  ``x[index]``'s contribution is a :class:`Scatter` (g at ``index`` of
  zeros): the first stays as it is, and the next ones are added in place at their index into one
  array of x's shape, made once — so T reads ``u[:, t]`` of a sequence cost T slices, not T
  full-size arrays (the recurrence of an RNN).

All apply only on plain NumPy values: inside a nested transformation (values are nodes of an
outer level) this is the reference sweep.  The loop itself is kept lean (it runs once per node on
every ``grad`` call): it visits only the op nodes that receive an adjoint, from a heap in the
reference's order (contributions to leaves and ``wrt`` nodes go straight to the result), and the
common contribution — a plain array of the argument's shape, of the output's shape summed over
leading axes (a bias), or a 0-d one of a non-elementwise rule — skips the general ``settle``.
"""

from __future__ import annotations

from heapq import heappop as _heappop, heappush as _heappush
from typing import Any, Mapping, Sequence

import numpy as np

from .core import Node, _ANOMALY, zero
from .sweep import backward_pass, expand, settle

_ndarray = np.ndarray
_F64 = np.dtype(np.float64)
_reduce = np.add.reduce
_SCALARS = (float, np.float64, np.float32)  # a 0-d contribution of a non-elementwise rule needs no settle


class Scaled:
    """A cotangent contribution ``base·scale``: an array and a scalar factor not yet applied to it."""

    __slots__ = ("base", "scale")

    def __init__(self, base: np.ndarray, scale: Any) -> None:
        self.base, self.scale = base, scale

    def __repr__(self) -> str:
        return f"Scaled(shape={self.base.shape}, scale={self.scale!r})"


class Scatter:
    """A cotangent contribution ``zeros(shape)`` with ``g`` added at ``index`` (a normalised index)."""

    __slots__ = ("index", "g", "shape")

    def __init__(self, index: tuple, g: Any, shape: tuple) -> None:
        self.index, self.g, self.shape = index, g, shape

    def __repr__(self) -> str:
        return f"Scatter(shape={self.shape}, at={self.index!r})"


def scatter_add(out: np.ndarray, index: tuple, g: Any) -> np.ndarray:
    """``out[index] += g`` with repeated positions of an integer-array index accumulating."""
    if any(isinstance(k, (np.ndarray, list)) for k in index):
        np.add.at(out, index, g)
    else:  # basic indexing never repeats a position
        out[index] += g
    return out


def dense_scatter(g: Any, index: tuple, shape: tuple, like: Any = None) -> np.ndarray:
    """A new array of ``shape``, ``like`` broadcast (zeros without it), with ``g`` added at ``index``;
    float (``g``'s float dtype, or float64), as getitem's transpose ``untake`` makes it."""
    dt = np.result_type(g) if like is None else np.result_type(like, g)
    dt = dt if dt.kind == "f" else np.dtype(np.float64)
    out = np.zeros(shape, dt) if like is None else np.array(np.broadcast_to(like, shape), dtype=dt)
    return scatter_add(out, index, g)


def _dense(c: Scatter) -> np.ndarray:
    """The Scatter as an array (made here, so this sweep may add into it)."""
    return dense_scatter(c.g, c.index, c.shape)


def _mat(c: Any) -> Any:
    """A contribution as a plain value (a Scaled one multiplied out, a Scatter filled in)."""
    t = type(c)
    return c.base * c.scale if t is Scaled else _dense(c) if t is Scatter else c


def _plus(prev: Any, c: Any, acc: dict) -> Any:
    """prev + c.  A Scatter is added in place at its index into an array this sweep made for the
    sum (kept in ``acc``), so k scatters into one node cost one full-size array, not k."""
    if type(prev) is Scatter and type(c) is not Scatter:
        prev, c = c, prev  # addition commutes: the Scatter second
    if type(c) is not Scatter:
        return _mat(prev) + _mat(c)
    if not (type(prev) is _ndarray and acc.get(id(prev)) is prev and prev.shape == c.shape
            and np.result_type(prev, c.g) == prev.dtype):
        prev = dense_scatter(c.g, c.index, c.shape, like=_mat(prev))
        acc[id(prev)] = prev
        return prev
    return scatter_add(prev, c.index, c.g)


def backward(out: Node, seed: Any, *, wrt: Sequence[Node] = (), values: Mapping[Node, Any] | None = None,
             order: Sequence[Node] | None = None, consume: bool = False) -> dict[Node, Any]:
    """The adjoints of ``wrt`` (as ``sweep.backward_pass``), reusing buffers where that is safe.

    ``order`` is accepted for the reference's signature; the sweep does not need it (see below).
    ``consume``: this is the graph's only sweep (``grad``), so a rule may write over the residuals
    its node kept for it (``consume=True``; e.g. σ′ over the kept exponential); they are dropped
    afterwards (``node.res = None``), and a later sweep of the graph would recompute without them.
    """
    if isinstance(out._v, Node) or _ANOMALY[0] or values is not None:
        return backward_pass(out, seed, wrt=wrt, values=values, order=order)
    stop = set(wrt)
    if out.primitive is None or out in stop:
        return {out: seed}
    # Nodes are visited in decreasing id, the reference's order: a node is made before its
    # consumers, so it is visited after all of them, when its adjoint is complete.  A heap of the
    # op nodes holding an adjoint gives that order without walking the graph first.
    adj: dict[Node, Any] = {out: seed}
    pop = adj.pop
    kept: dict[Node, Any] = {}
    owned: dict[int, Any] = {}  # id → array: cotangents made fresh by this sweep, held only in adj
    acc: dict[int, Any] = {}  # id → array: sums this sweep made, which scatters may add into
    heap = [(-out.id, out)]
    while heap:
        n = _heappop(heap)[1]
        g = pop(n)
        prim = n.primitive
        parents = n.parents
        own = bool(owned) and owned.pop(id(g), None) is g
        tg = type(g)
        if tg is Scatter:
            g, own, tg = _dense(g), True, _ndarray  # made here: only this node's rules see it
        elif acc:
            own = acc.pop(id(g), None) is g or own
        ans = n._v  # a ghost where the forward elided it: no rule here reads it (elide.py)
        ta = type(ans)
        shape = ans.shape if ta is _ndarray else () if ta in _SCALARS else np.shape(ans)
        ew = prim.elementwise
        scale = None
        if tg is Scaled:  # linearity: the rules get the base, their contributions the scale
            g, scale, own, tg = g.base, g.scale, False, _ndarray
        if not ew and (g.shape if tg is _ndarray else () if tg in _SCALARS else np.shape(g)) != shape:
            # the rule gets g of the output's shape; a scalar is filled in (np.broadcast_to, the
            # reference's read-only view, costs ~10 µs of Python per call; np.full a few)
            if type(g) in _SCALARS:
                full = np.empty(shape, _F64 if type(g) is float else g.dtype)
                full.fill(g)
                g = full
            else:
                g = np.full(shape, g) if np.ndim(g) == 0 and type(g) is not Node else expand(g, shape)
            own = False
        k = len(parents)
        vals = (parents[0]._v, parents[1]._v) if k == 2 else (parents[0]._v,) if k == 1 else [q._v for q in parents]
        if own and k > 1 and (parents[0].needs_grad + parents[1].needs_grad if k == 2
                              else sum(p.needs_grad for p in parents)) > 1:
            own = False  # g goes to two rules: neither may overwrite it
        rules, params, fresh_args = prim.vjps, n.params, prim.fresh
        plain = not (prim.res_args or prim.lazy or (own and prim.inplace))  # the rules take params alone
        i = -1
        for p in parents:
            i += 1
            if not p.needs_grad:
                continue
            rule = rules[i] or prim.vjp(i)  # prim.vjp raises the "not differentiable" error
            if plain:
                c = rule(g, ans, *vals, **params)
            else:
                kw, res_args = params, prim.res_args
                if own and i in prim.inplace:
                    kw = {**kw, "out": g}
                used = False
                if i in res_args:
                    used = consume and len(res_args) == 1
                    kw = {**kw, "res": n.res, "consume": True} if used else {**kw, "res": n.res}
                if i in prim.lazy:
                    kw = {**kw, "lazy": True}
                c = rule(g, ans, *vals, **kw)
                if used:
                    n.res = None  # written over: no later sweep may read it
            tc = type(c)
            x = vals[i]
            if tc is _ndarray and scale is None:  # the common case first: a plain array, no scale
                target = x.shape if type(x) is _ndarray else () if type(x) in _SCALARS else np.shape(x)
                if c.shape != target or (ew and shape != target):
                    c = _settle(c, shape if ew else None, target, prim, i)
            else:
                if c is zero:
                    continue
                s = scale
                if tc is Scaled:
                    c, s, tc = c.base, c.scale if s is None else c.scale * s, _ndarray
                if tc is Scatter:  # of the argument's shape, as it is: the scale goes to the slice
                    if s is not None:
                        c, s = Scatter(c.index, c.g * s, c.shape), None
                elif ew or tc not in _SCALARS:  # a 0-d non-elementwise one (mean's g/n) stands for itself
                    tx = type(x)
                    target = x.shape if tx is _ndarray else () if tx in _SCALARS else np.shape(x)
                    if tc in _SCALARS and target == () and (not ew or shape == ()):
                        pass  # a scalar for a scalar (W1's graphs on Python floats): nothing to settle
                    elif tc is not _ndarray or c.shape != target or (ew and shape != target):
                        c = _settle(c, shape if ew else None, target, prim, i)
                if s is not None:  # an array keeps its scale for later; a scalar takes it now
                    c = Scaled(c, s) if type(c) is _ndarray and c.ndim else c * s
            if p.primitive is None or p in stop:  # a leaf or a node to stop at: its adjoint is returned
                prev = kept.get(p)
                kept[p] = c if prev is None else _plus(prev, c, acc)
                continue
            prev = adj.get(p)
            if prev is None:
                adj[p] = c
                _heappush(heap, (-p.id, p))
                # a new array of a fresh rule (or one settle made from it): the consumer may overwrite it
                if i in fresh_args and type(c) is _ndarray and c.flags.writeable and c.shape == target:
                    owned[id(c)] = c
            else:
                if owned:
                    owned.pop(id(prev), None)
                adj[p] = _plus(prev, c, acc)
    for p, c in kept.items():
        if type(c) is Scaled or type(c) is Scatter:
            kept[p] = _mat(c)
    return kept


def _settle(c: Any, logical: tuple | None, target: tuple, prim: Any, i: int) -> Any:
    """``sweep.settle``, with the commonest case first: a plain array of the output's shape summed
    over leading axes down to the argument (a bias added to a batch) — the same reduction."""
    if logical is not None and type(c) is _ndarray and c.shape == logical:
        lead = len(logical) - len(target)
        if lead > 0 and logical[lead:] == target:
            return _reduce(c, axis=0) if lead == 1 else _reduce(c, axis=tuple(range(lead)))
    return settle(c, logical, target, f"the VJP of {prim.name} (argument {i})")
