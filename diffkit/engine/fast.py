"""The fast backward sweep: the reference sweep (``sweep.backward_pass``) plus buffer reuse.

It computes exactly what the reference computes (``tests/engine/test_fast.py`` checks every
primitive), with two savings that matter on large arrays:

* **Residuals.**  A primitive with a ``fwd`` (e.g. softmax cross-entropy keeps its log-softmax)
  hands its VJP what the forward pass already computed, instead of recomputing it.
* **In-place reuse of owned cotangents.**  A cotangent this sweep made with a ``fresh`` rule and
  holds in its adjoint map alone may be overwritten by the single rule that consumes it (e.g.
  relu's mask applied in place to the product from matmul's rule, as hand-written backprop
  does), sparing a full-size array and its page faults.

Both apply only on plain NumPy values: inside a nested transformation (values are nodes of an
outer level) this is the reference sweep.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .core import Node, _ANOMALY, zero
from .sweep import backward_pass, expand, grad_order, settle


def backward(out: Node, seed: Any, *, wrt: Sequence[Node] = (), values: Mapping[Node, Any] | None = None,
             order: Sequence[Node] | None = None) -> dict[Node, Any]:
    """The adjoints of ``wrt`` (as ``sweep.backward_pass``), reusing buffers where that is safe."""
    if isinstance(out.value, Node) or _ANOMALY[0] or values is not None:
        return backward_pass(out, seed, wrt=wrt, values=values, order=order)
    if order is None:
        order = grad_order(out, wrt)
    stop = set(wrt)
    adj: dict[Node, Any] = {out: seed}
    kept: dict[Node, Any] = {}
    owned: dict[int, Any] = {}  # id → array: cotangents made fresh by this sweep, held only in adj
    ndarray = np.ndarray
    for n in reversed(order):
        g = adj.pop(n, None)
        if g is None:
            continue
        prim = n.primitive
        if prim is None or n in stop:
            kept[n] = g
            continue
        parents = n.parents
        own = bool(owned) and owned.pop(id(g), None) is g
        ans = n.value
        shape = ans.shape if type(ans) is ndarray else np.shape(ans)
        if not prim.elementwise:
            gs = g.shape if type(g) is ndarray else np.shape(g)
            if gs != shape:
                g, own = expand(g, shape), False
        rules, params = prim.vjps, n.params
        if own and len(parents) > 1 and sum(p.needs_grad for p in parents) > 1:
            own = False  # g goes to two rules: neither may overwrite it
        i = -1
        for p in parents:
            i += 1
            if not p.needs_grad:
                continue
            rule = rules[i] or prim.vjp(i)  # prim.vjp raises the "not differentiable" error
            kw = params
            if own and i in prim.inplace:
                kw = {**kw, "out": g}
            if i in prim.res_args:
                kw = {**kw, "res": n.res}
            x = p.value
            c = rule(g, ans, *[q.value for q in parents], **kw)
            if c is zero:
                continue
            target = x.shape if type(x) is ndarray else np.shape(x)
            fresh = type(c) is ndarray and i in prim.fresh and c.flags.writeable
            if type(c) is not ndarray or c.shape != target or (prim.elementwise and shape != target):
                c = settle(c, shape if prim.elementwise else None, target, f"the VJP of {prim.name} (argument {i})")
                fresh = fresh and type(c) is ndarray and c.shape == target
            prev = adj.get(p)
            if prev is None:
                adj[p] = c
                if fresh:
                    owned[id(c)] = c
            else:
                if owned:
                    owned.pop(id(prev), None)
                adj[p] = prev + c
    return kept
