"""The backprop listing: for each node, the children it feeds and the local derivatives.

:func:`backprop_steps` returns data (no printing) in reverse topological order — the order
BACKWARD() visits nodes — so a report can write the lecture's
∂_v L = Σ_{j ∈ children(v)} ∂_j L · ∂_v j line by line.

>>> from diffkit import builtin
>>> from diffkit.engine import from_model
>>> steps = backprop_steps(from_model(builtin("ridge-sigmoid")))
>>> [(s.node, [(c.child, c.local) for c in s.terms]) for s in steps if s.node in ("u", "w")]
[('u', [('v2', '-1')]), ('w', [('v1', 'x'), ('r', '2*w')])]
"""

from __future__ import annotations

from typing import Any, NamedTuple

#: Local derivative ∂child/∂argument as text; {0}, {1}, {2} are the arguments, {ans} the child.
LOCAL: dict[str, tuple[str, ...]] = {
    "add": ("1", "1"), "sub": ("1", "-1"), "mul": ("{1}", "{0}"),
    "div": ("1/{1}", "-{ans}/{1}"), "neg": ("-1",), "pow": ("{1}*{0}^({1}-1)", "{ans}*log({0})"),
    "exp": ("{ans}",), "log": ("1/{0}",), "sqrt": ("1/(2*{ans})",), "abs": ("sign({0})",),
    "sigmoid": ("{ans}*(1-{ans})",), "tanh": ("1-{ans}^2",), "relu": ("step({0})",), "step": ("0",),
    "sign": ("0",), "softplus": ("sigmoid({0})",), "sin": ("cos({0})",), "cos": ("-sin({0})",),
    "maximum": ("[{0} >= {1}]", "[{1} >= {0}]"), "minimum": ("[{0} <= {1}]", "[{1} <= {0}]"),
    "where": ("—", "[{0}]", "[not {0}]"), "matmul": ("(·) @ {1}ᵀ", "{0}ᵀ @ (·)"),
    "sum": ("1 (broadcast)",), "mean": ("1/n (broadcast)",), "reshape": ("reshape back",),
    "transpose": ("transpose back",), "broadcast_to": ("sum back",),
    "log_sigmoid": ("sigmoid(-{0})",), "bce_with_logits": ("sigmoid({0}) - {1}", "-{0}"),
    "log_softmax": ("(·) - softmax({0})·Σ(·)",), "softmax": ("{ans}·((·) - Σ(·)·{ans})",),
    "softmax_cross_entropy": ("softmax({0}) - {1}", "-log_softmax({0})"),
}


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
    """∂child/∂(argument ``argnum``) as text, with node labels substituted."""
    name = child.primitive.name
    if name == "pow" and argnum == 0 and child.parents[1].kind == "const" and child.parents[1].value == 2:
        return f"2*{child.parents[0].label}"
    labels = [p.label for p in child.parents]
    return LOCAL[name][argnum].format(*labels, ans=child.label)


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
