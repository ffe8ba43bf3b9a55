"""Redundancy: the subexpressions a naive symbolic gradient computes more than once.

Counted under the one convention of :mod:`diffkit.analysis.operation_counts` (every occurrence in
the expression tree counts).

Examples
--------
>>> from diffkit import builtin
>>> from diffkit.symbolic.derive import gradient
>>> g = gradient(builtin("ridge-sigmoid"))
>>> [(r.pretty, r.count) for r in redundancy(g)]
[('wx + b', 4), ('wx', 4), ('y − σ(wx + b)', 2), ('σ(wx + b)', 2), ('σ′(wx + b)', 2)]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from ..functions import expand_sigmoid
from ..symbolic import render
from .operation_counts import count_ops


@dataclass(frozen=True)
class Repeated:
    """A subexpression the naive gradient computes ``count`` times (``ops`` operations each)."""

    expr: sp.Expr
    count: int
    ops: int
    inside: sp.Expr | None  # a larger repeated subexpression that holds every occurrence, if any

    @property
    def text(self) -> str:
        return render.text(self.expr)

    @property
    def pretty(self) -> str:
        return render.pretty(self.expr)

    @property
    def wasted_ops(self) -> int:
        """Operations spent recomputing it: (count − 1) × ops."""
        return (self.count - 1) * self.ops

    def to_dict(self) -> dict:
        return {"subexpression": self.text, "pretty": self.pretty, "latex": render.latex(self.expr),
                "count": self.count, "ops": self.ops,
                "inside": render.text(self.inside) if self.inside is not None else None}


def _trivial(e: sp.Basic) -> bool:
    if e.is_Atom:
        return True
    # a negation −a or a number times an atom is folded into the surrounding sum or product
    if e.is_Mul and len(e.args) == 2 and e.args[0].is_Number and e.args[1].is_Atom:
        return True
    if e.is_Mul and len(e.args) == 2 and e.args[0] == -1:
        return True
    return False


def _occurrences(exprs) -> Counter:
    c: Counter = Counter()
    for e in exprs:
        for node in sp.preorder_traversal(e):
            if not _trivial(node):
                c[node] += 1
    return c


def redundancy(grad: Mapping[str, sp.Expr], *, expanded: bool = False) -> list[Repeated]:
    """Non-trivial subexpressions that the naive partials compute more than once.

    Parameters
    ----------
    grad : mapping of parameter name to expression
        The naive partials (before CSE).
    expanded : bool, default False
        Count in the expanded view (σ, σ′ written with exponentials) instead of with σ and σ′ as
        primitives.

    Returns
    -------
    list of Repeated
        Most repeated first; ties broken by size (larger first), then canonical order.  Whole
        partials are not listed.
    """
    exprs = [expand_sigmoid(e) if expanded else e for e in grad.values()]
    occ = _occurrences(exprs)
    tops = set(exprs)
    reps = {e: n for e, n in occ.items() if n > 1 and e not in tops}
    out = []
    for e, n in reps.items():
        holders = [p for p, m in reps.items() if p is not e and m == n and p.has(e) and p != e]
        inside = max(holders, key=lambda p: (count_ops(p), sp.default_sort_key(p))) if holders else None
        out.append(Repeated(e, n, count_ops(e), inside))
    out.sort(key=lambda r: (-r.count, -r.ops, sp.default_sort_key(r.expr)))
    return out
