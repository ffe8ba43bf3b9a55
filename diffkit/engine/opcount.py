"""Operation counts of a graph's forward and backward passes — the one documented convention.

Convention
----------
* **Forward**: one operation per primitive application (per op node).  SymPy's n-ary ``Add``
  and ``Mul`` are folded into binary nodes when the graph is built, so a sum of n terms costs
  n − 1, exactly as :func:`sympy.count_ops` counts it.  Leaves and constants cost nothing.
* **Backward**: for every op node the backward pass visits and every argument that needs a
  gradient, the elementary operations its VJP rule performs, from the ``cost`` entry of the
  primitive's record (per argument); plus one ``add`` per extra contribution accumulated into an
  adjoint (a node used k times costs k − 1 adds); plus one reduction when broadcasting must be
  undone (an elementwise primitive whose argument and result shapes differ).
* Not counted: the multiplication by an adjoint that is exactly the seed 1 (the output's own
  adjoint, passed unchanged through ``add``/``sum``/``reshape``…), pass-throughs, and symbolic
  zeros (``step``/``sign`` contribute nothing).

These counts are what the cheap-gradient principle speaks about: (forward + backward) / forward
stays a small constant (Griewank & Walther; typically 2–3, always < 6 here), and for the
logistic map both grow linearly with depth while the symbolic derivative swells.

>>> from diffkit import builtin
>>> from diffkit.engine import from_model
>>> op_counts(from_model(builtin("ridge-sigmoid")))
{'forward': 9, 'backward': 10}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import MUL, NONE, PASS, ZERO  # noqa: F401  (the uses of g, re-exported)


def vjp_cost(node: Any, argnum: int) -> tuple[int, str]:
    """(ops, use of g) of the VJP of ``node`` for argument ``argnum``, from its primitive's record.

    ``MUL``: the count includes one final multiplication by g (dropped when g is the seed 1);
    ``PASS``: the contribution is g itself; ``NONE``: all ops counted; ``ZERO``: symbolic zero.
    """
    cost = node.primitive.cost
    if callable(cost):
        return cost(node, argnum)
    return cost[1][argnum]


def forward_cost(node: Any) -> int:
    cost = node.primitive.cost
    return 1 if callable(cost) else cost[0]


def op_counts(graph: Any) -> dict[str, int]:
    """``{"forward": ..., "backward": ...}`` for ``graph`` under the convention above."""
    forward = sum(forward_cost(n) for n in graph.nodes if n.primitive is not None)
    out = graph.output
    if not out.needs_grad:
        return {"forward": forward, "backward": 0}
    values = getattr(graph, "_vals", {})
    contributions: dict[Any, int] = {out: 1}
    is_one: dict[Any, bool] = {out: True}
    backward = 0
    for n in reversed(graph.nodes):
        if n not in contributions:
            continue
        backward += contributions[n] - 1           # accumulating k contributions costs k − 1 adds
        if n.primitive is None:
            continue
        one = is_one.get(n, False) and contributions[n] == 1
        for i, p in enumerate(n.parents):
            if not p.needs_grad:
                continue
            ops, use = vjp_cost(n, i)
            if use == ZERO:
                continue
            if use == MUL and one:
                ops -= 1
            if n.primitive.elementwise and _shapes_differ(values.get(p), values.get(n)):
                ops += 1
            backward += ops
            first = p not in contributions
            contributions[p] = contributions.get(p, 0) + 1
            is_one[p] = first and use == PASS and one
    return {"forward": forward, "backward": backward}


def _shapes_differ(a: Any, b: Any) -> bool:
    return a is not None and b is not None and np.shape(a) != np.shape(b)


def jvp_counts(graph: Any, seeds: Any = None) -> dict[str, int]:
    """Forward mode over ``graph``: ``{"primal", "tangent"}`` operations of one tangent sweep.

    The same convention as the backward pass, read from the same record entries: a JVP rule does
    the arithmetic of its VJP rule with the tangent in place of the cotangent (t·local instead of
    g·local); the final product is dropped when the tangent is exactly a seed 1; one ``add`` per
    extra contribution; no broadcasting is undone.  ``seeds``: names of the leaves with a nonzero
    tangent (default: every parameter, each with tangent 1).

    >>> from diffkit import builtin
    >>> from diffkit.engine import from_model
    >>> jvp_counts(from_model(builtin("ridge-sigmoid")))
    {'primal': 9, 'tangent': 11}
    """
    nodes = list(graph.nodes)
    primal = sum(forward_cost(n) for n in nodes if n.primitive is not None)
    if seeds is None:
        live = {n: True for n in nodes if n.kind == "param"}  # node -> its tangent is exactly 1
    else:
        wanted = set(seeds)
        live = {n: True for n in nodes if n.primitive is None and n.name in wanted}
    tangent = 0
    for n in nodes:
        if n.primitive is None:
            continue
        contributions, unit = 0, False
        for i, p in enumerate(n.parents):
            if p not in live:
                continue
            ops, use = vjp_cost(n, i)
            if use == ZERO:
                continue
            if use == MUL and live[p]:
                ops -= 1
            tangent += max(ops, 0)
            contributions += 1
            unit = use == PASS and live[p]  # a pass-through of a unit tangent
        if contributions:
            tangent += contributions - 1
            live[n] = unit and contributions == 1
    return {"primal": primal, "tangent": tangent}
