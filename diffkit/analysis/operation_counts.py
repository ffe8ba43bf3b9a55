"""Operation counts: the one convention the CLI, the JSON, the reports and the tests share.

Convention (symbolic side)
--------------------------
An expression is counted as the tree SymPy stores, with ``sympy.count_ops``: every occurrence of
an operation counts, so a subexpression written twice is counted twice.  An n-ary sum or product
counts n − 1 operations; a subtraction, a division, a power and a function application (σ, σ′,
exp, ...) count one each; a negation counts one.

* The **flat (tree) size** of an expression is that count (:func:`tree_ops`; equal to
  ``sympy.count_ops``, computed with a memo so a tree of 10⁵ operations that SymPy stores as a
  small DAG is counted in milliseconds).
* The **shared (DAG) size** of a straight-line program — definitions ``t_i = e_i`` then outputs —
  is the sum of the flat sizes of the definitions and the outputs (:func:`program_ops`): each
  named subexpression is counted once, where it is defined.  ``sympy.cse``'s output is such a
  program, and so is diffkit's DAG derivative (:mod:`diffkit.symbolic.dag`).
* The *naive* count of a gradient is the sum of the flat sizes of its partials, each as
  ``sympy.diff`` returns it; the *CSE* count is the shared size of ``sympy.cse`` run jointly over
  all partials.

Convention (engine side)
------------------------
* **Reverse mode**: the tape's forward and backward operations, ``diffkit.engine.op_counts``
  (documented in the engine: one per primitive forward, the elementary operations of each VJP
  rule backward).
* **Forward mode**: :func:`jvp_ops` — the recorded graph's operations (the primal) plus the
  tangent operations of one JVP sweep: for every op node and every argument whose tangent is
  not zero, the elementary operations of that argument's JVP rule (the same arithmetic as its
  VJP rule with the tangent in place of the cotangent, read from the primitive records), the final
  multiplication dropped when the tangent is exactly the seed 1, plus one ``add`` per extra
  contribution.  No broadcasting is undone in forward mode.  A full gradient by forward mode
  runs one tangent sweep per parameter over one primal: primal + n·tangent.

Examples
--------
>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> tree_ops((x*y + 1)**2 + (x*y + 1)**3) == sp.count_ops((x*y + 1)**2 + (x*y + 1)**3)
True
>>> t0 = sp.Symbol("t0")
>>> program_ops([(t0, x*y + 1)], [t0**2 + t0**3])
5
>>> from diffkit import builtin
>>> from diffkit.symbolic.derive import gradient
>>> symbolic_counts(gradient(builtin("ridge-sigmoid")))
{'naive': 21, 'cse': 11}
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.core.function import _coeff_isneg
from sympy.core.operations import LatticeOp
from sympy.simplify.radsimp import fraction

CONVENTION = "diffkit.analysis.operation_counts"


def count_ops(expr: sp.Expr) -> int:
    """Operations in the tree of ``expr`` (the flat size; ``sympy.count_ops``)."""
    return tree_ops(expr)


def _local(a: sp.Basic) -> tuple[int, list]:
    """The operations ``sympy.count_ops`` charges node ``a`` itself, and the nodes it then visits.

    A transcription of the loop body of ``sympy.core.function.count_ops`` (SymPy 1.12–1.14), so
    that the memoised walk below gives exactly its count.
    """
    ops = 0
    if a.is_Rational:
        if a is not sp.S.One:
            return int(a.p < 0) + int(a.q != 1), []
    elif a.is_Mul or a.is_MatMul:
        if _coeff_isneg(a):
            ops += 1
            a = a.as_two_terms()[1] if a.args[0] is sp.S.NegativeOne else -a
        n, d = fraction(a)
        if n.is_Integer:
            return ops + 1 + int(bool(n.is_negative)), [d]
        if d is not sp.S.One:
            return ops + 1, ([] if d.is_Integer else [d]) + [n]
    elif a.is_Add or a.is_MatAdd:
        kids, negs = [], 0
        for i, ai in enumerate(a.args):
            if _coeff_isneg(ai):
                negs += 1
                kids.append(-ai)
            else:
                kids.append(ai)
            if i > 0:
                ops += 1
        if negs == len(a.args):
            ops += 1
        return ops, kids
    if a.is_Pow and a.exp is sp.S.NegativeOne:
        return ops + 1, [a.base]
    if a == sp.S.Exp1:
        return ops + 1, []
    if a.is_Pow and a.base == sp.S.Exp1:
        return ops + 1, [a.exp]
    if a.is_Mul or isinstance(a, LatticeOp):
        ops += len(a.args) - 1
    elif a.args and (a.is_Pow or a.is_Function or isinstance(a, sp.Derivative)):
        ops += 1
    return ops, ([] if a.is_Symbol else list(a.args))


def tree_ops(expr: Any, memo: dict | None = None) -> int:
    """The flat (tree) size of ``expr``: ``sympy.count_ops(expr)``, in time linear in its DAG.

    Iterative, so a deep expression cannot hit the recursion limit.  ``memo`` may be shared
    between calls on related expressions.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> e = x
    >>> for _ in range(40):
    ...     e = e * (1 - e)       # 2^40 leaves as a tree, 80 distinct nodes
    >>> tree_ops(e) > 10**12
    True
    """
    if not isinstance(expr, sp.Basic):
        if isinstance(expr, (list, tuple)):
            return sum(tree_ops(e, memo) for e in expr)
        return 0
    if not isinstance(expr, sp.Expr) or expr.is_Relational:
        return int(sp.count_ops(expr))
    memo = {} if memo is None else memo
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    plan: dict[sp.Basic, tuple[int, list]] = {}
    while stack:
        a, ready = stack.pop()
        if a in memo:
            continue
        if not ready:
            local = plan.get(a)
            if local is None:
                local = plan[a] = _local(a)
            stack.append((a, True))
            stack.extend((k, False) for k in local[1] if k not in memo)
            continue
        ops, kids = plan.pop(a)
        memo[a] = ops + sum(memo[k] for k in kids)
    return memo[expr]


def program_ops(definitions: Iterable[tuple[sp.Symbol, sp.Expr]], outputs: Iterable[sp.Expr] = ()) -> int:
    """The shared (DAG) size of a straight-line program: Σ flat size of definitions and outputs."""
    memo: dict = {}
    return sum(tree_ops(e, memo) for _, e in definitions) + sum(tree_ops(e, memo) for e in outputs)


def symbolic_counts(grad: Mapping[str, sp.Expr], cse: tuple | None = None) -> dict[str, int]:
    """``{"naive": Σ flat size of each partial, "cse": shared size after joint sympy.cse}``.

    ``cse`` — an already computed ``(replacements, reduced)`` pair for ``grad`` (from
    :func:`diffkit.symbolic.derive.cse_gradient`); computed here when not given.
    """
    from ..symbolic.derive import cse_gradient

    memo: dict = {}
    naive = sum(tree_ops(e, memo) for e in grad.values())
    repl, reduced = cse if cse is not None else cse_gradient(dict(grad))
    return {"naive": naive, "cse": program_ops(repl, reduced)}


# -- the engine side ----------------------------------------------------------------------------
def tape_ops(graph: Any) -> dict[str, int]:
    """The engine's reverse-mode tape: ``{"forward", "backward"}`` from ``diffkit.engine.op_counts``."""
    from .. import engine as dk

    c = dk.op_counts(graph)
    return {"forward": int(c["forward"]), "backward": int(c["backward"])}


def jvp_ops(graph: Any, seeds: Sequence[str] | None = None) -> dict[str, int]:
    """Forward mode over ``graph``: ``{"primal", "tangent"}`` for one tangent sweep.

    ``seeds`` — names of the leaves whose tangent is nonzero (default: every parameter, each
    with tangent 1, as for one directional derivative along a vector of ones).  Counted by the
    engine from its primitive records (``diffkit.engine.opcount.jvp_counts``), under the same
    convention as the backward pass.
    """
    from ..engine.opcount import jvp_counts

    return jvp_counts(graph, seeds)