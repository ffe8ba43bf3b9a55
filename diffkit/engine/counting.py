"""Operation counts of a graph's forward and backward passes — the one documented convention.

Convention
----------
* **Forward**: one operation per primitive application (per op node).  SymPy's n-ary ``Add``
  and ``Mul`` are folded into binary nodes when the graph is built, so a sum of n terms costs
  n − 1, exactly as :func:`sympy.count_ops` counts it.  Leaves and constants cost nothing.
* **Backward**: for every op node the backward pass visits and every argument that needs a
  gradient, the elementary operations its VJP rule performs, from :data:`VJP_COST` (one table,
  per primitive and argument); plus one ``add`` per extra contribution accumulated into an
  adjoint (a node used k times costs k − 1 adds); plus one reduction when broadcasting must be
  undone (argument and result shapes differ).
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

#: How a VJP contribution relates to the incoming adjoint g.
PASS, MUL, NONE, ZERO = "pass", "mul", "none", "zero"

#: Per primitive, per argument: (elementary ops of the VJP rule, how it uses g).
#: ``MUL``: the count includes one final multiplication by g (dropped when g is the seed 1);
#: ``PASS``: the contribution is g itself; ``NONE``: all ops counted; ``ZERO``: symbolic zero.
VJP_COST: dict[str, tuple[tuple[int, str], ...]] = {
    "add": ((0, PASS), (0, PASS)),
    "sub": ((0, PASS), (1, NONE)),                 # −g
    "mul": ((1, MUL), (1, MUL)),                   # g·b, g·a
    "div": ((1, NONE), (3, MUL)),                  # g/b;  −(g·ans)/b
    "neg": ((1, NONE),),
    "pow": ((4, MUL), (3, MUL)),                   # g·b·a^(b−1) (square: g·2a, see below);  g·ans·log a
    "exp": ((1, MUL),),                            # g·ans
    "log": ((1, NONE),),                           # g/x
    "sqrt": ((2, MUL),),                           # g·½/ans
    "abs": ((2, MUL),),                            # g·sign x
    "sigmoid": ((3, MUL),),                        # g·ans·σ(−x) (σ(−x): one op, as 1 − ans was)
    "tanh": ((3, MUL),),                           # g·(1 − ans²)
    "relu": ((2, NONE),),                          # where(x > 0, g, 0)
    "step": ((0, ZERO),),
    "sign": ((0, ZERO),),
    "softplus": ((2, MUL),),                       # g·σ(x)
    "sin": ((2, MUL),),                            # g·cos x
    "cos": ((3, MUL),),                            # −g·sin x
    "maximum": ((5, MUL), (5, MUL)),               # g·([a > b] + ½[a = b])
    "minimum": ((5, MUL), (5, MUL)),
    "where": ((0, ZERO), (1, NONE), (1, NONE)),    # where(c, g, 0)
    "matmul": ((1, NONE), (1, NONE)),              # g·Bᵀ, Aᵀ·g
    "sum": ((0, PASS),),
    "mean": ((1, NONE),),                          # g/n
    "reshape": ((0, PASS),),
    "transpose": ((0, PASS),),
    "broadcast_to": ((1, NONE),),                  # the unbroadcast sum
    "log_sigmoid": ((3, MUL),),                    # g·σ(−x)
    "bce_with_logits": ((3, MUL), (2, MUL)),       # g·(σ(z) − y);  −g·z
    "log_softmax": ((4, NONE),),                   # g − exp(ans)·Σg
    "softmax": ((4, NONE),),                       # g·ans − ans·Σ(g·ans)
    "softmax_cross_entropy": ((3, MUL), (3, MUL)),  # g·(softmax z − y);  −g·log_softmax z
}

#: Primitives whose VJP ends in ``unbroadcast`` (a reduction when shapes differ).
BROADCASTING = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "bce_with_logits"}


def vjp_cost(node: Any, argnum: int) -> tuple[int, str]:
    """(ops, use of g) of the VJP of ``node`` for argument ``argnum``."""
    name = node.primitive.name
    if name == "pow" and argnum == 0:
        e = node.parents[1]
        if e.kind == "const" and np.ndim(e.value) == 0 and e.value == 2:
            return 2, MUL                          # g·(2a)
    return VJP_COST[name][argnum]


def op_counts(graph: Any) -> dict[str, int]:
    """``{"forward": ..., "backward": ...}`` for ``graph`` under the convention above."""
    forward = sum(1 for n in graph.nodes if n.primitive is not None)
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
            if n.primitive.name in BROADCASTING and _shapes_differ(values.get(p), values.get(n)):
                ops += 1
            backward += ops
            first = p not in contributions
            contributions[p] = contributions.get(p, 0) + 1
            is_one[p] = first and use == PASS and one
    return {"forward": forward, "backward": backward}


def _shapes_differ(a: Any, b: Any) -> bool:
    return a is not None and b is not None and np.shape(a) != np.shape(b)
