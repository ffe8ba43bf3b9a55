"""The backprop listing: for each node, the children it feeds and the local derivatives.

:func:`backprop_steps` returns data (no printing) in reverse topological order — the order
BACKWARD() visits nodes — so a report can write the lecture's
∂_v L = Σ_{j ∈ children(v)} ∂_j L · ∂_v j line by line.

>>> from diffkit import builtin
>>> from diffkit.engine import from_model
>>> steps = backprop_steps(from_model(builtin("ridge-sigmoid")))
>>> [(s.node, [(c.child, c.local) for c in s.terms]) for s in steps if s.node in ("u", "w")]
[('u', [('v2', '-1')]), ('w', [('v1', 'x'), ('r', '2*w')])]
>>> [c.local for s in steps if s.node == "z" for c in s.terms]
['u*sigmoid(-z)']
"""

from __future__ import annotations

from typing import Any, NamedTuple

class Term(NamedTuple):
    """One term ∂_child L · ∂child/∂node of a node's adjoint."""

    child: str
    argnum: int
    primitive: str
    local: str


class Step(NamedTuple):
    """The adjoint of ``node`` as a sum of ``terms`` (empty for the output: the seed 1)."""

    node: str
    kind: str
    terms: tuple[Term, ...]


def local_derivative(child: Any, argnum: int) -> str:
    """∂child/∂(argument ``argnum``) as text, from the ``local`` entry of the primitive's record,
    with node labels substituted ({0}, {1}, … the arguments, {ans} the child)."""
    local = child.primitive.local
    text = local(child, argnum) if callable(local) else local[argnum]
    labels = [p.label for p in child.parents]
    return text.format(*labels, ans=child.label)


def backprop_steps(graph: Any) -> list[Step]:
    """For each node needing a gradient, in reverse topological order, its (child, local) terms."""
    children = graph.children()
    steps = []
    for n in reversed(graph.nodes):
        if not n.needs_grad:
            continue
        terms = tuple(Term(c.label, i, c.primitive.name, local_derivative(c, i))
                      for c, i in children[n] if c.needs_grad or c is graph.output)
        if terms or n is graph.output:
            steps.append(Step(n.label, n.kind, terms))
    return steps
