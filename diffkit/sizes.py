"""Sizes of SymPy expressions, computed on the DAG (each distinct subexpression visited once).

SymPy shares subexpressions, so an expression such as the logistic map's l₃₀ is a DAG of a few
hundred nodes whose *tree* has 10⁹ nodes.  SymPy's own walks (``free_symbols``, ``count_ops``,
printing, ``cse``) follow the tree and never finish on it.  These functions follow the DAG, with
an explicit stack (no recursion limit), so they are cheap enough to run *before* any work, to
estimate what the work will cost (:mod:`diffkit.budget`).

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> l = x
>>> for _ in range(40):
...     l = 4 * l * (1 - l)
>>> tree_size(l) > 10**12, dag_size(l) < 200
(True, True)
>>> sorted(s.name for s in free_symbols(l))
['x']
>>> derivative_tree_size(x**2 * sp.sin(x), [x]) >= tree_size(sp.diff(x**2 * sp.sin(x), x)) // 2
True
"""

from __future__ import annotations

from typing import Iterable

import sympy as sp


def _postorder(expr: sp.Basic):
    """Each distinct node of ``expr`` once, children before parents."""
    seen: set = set()
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in seen:
            continue
        if ready or not e.args:
            seen.add(e)
            yield e
            continue
        stack.append((e, True))
        stack.extend((a, False) for a in e.args if a not in seen)


def dag_size(expr: sp.Basic) -> int:
    """Number of distinct subexpressions of ``expr``."""
    return sum(1 for _ in _postorder(expr))


def tree_size(expr: sp.Basic) -> int:
    """Number of nodes of ``expr`` written out as a tree (what printing and tree walks visit)."""
    size: dict = {}
    for e in _postorder(expr):
        size[e] = 1 + sum(size[a] for a in e.args)
    return size[expr]


def free_symbols(expr: sp.Basic) -> set[sp.Symbol]:
    """``expr.free_symbols`` for the plain expressions diffkit builds, computed on the DAG."""
    out: set[sp.Symbol] = set()
    for e in _postorder(expr):
        if isinstance(e, sp.Symbol):
            out.add(e)
    return out


def derivative_tree_size(expr: sp.Expr, wrt: Iterable[sp.Symbol]) -> int:
    """Estimated tree size of the naive partials ∂expr/∂p for all ``p`` in ``wrt``, summed.

    Computed without differentiating, by the product and chain rules applied to sizes: for a
    product each factor's derivative comes with copies of the other factors, for f(a) the
    derivative f′(a)·a′ carries a copy of a.  It follows ``sympy.diff`` before simplification
    within a small factor, and grows exactly as fast (e.g. n·2ⁿ for the logistic map).
    """
    params = set(wrt)
    size: dict = {}
    grad: dict = {}    # Σ_p tree size of ∂e/∂p
    dep: dict = {}     # the parameters e depends on
    empty: frozenset = frozenset()
    for e in _postorder(expr):
        args = e.args
        size[e] = 1 + sum(size[a] for a in args)
        if not args:
            dep[e] = frozenset([e]) if e in params else empty
            grad[e] = len(dep[e])
            continue
        ds = [dep[a] for a in args if dep[a]]
        dep[e] = empty if not ds else ds[0] if len(ds) == 1 else frozenset().union(*ds)
        if not dep[e]:
            grad[e] = 0
            continue
        n = len(dep[e])
        if isinstance(e, sp.Add):
            grad[e] = sum(grad[a] for a in args) + n
        elif isinstance(e, sp.Mul):
            total = sum(size[a] for a in args)
            grad[e] = sum(grad[a] + len(dep[a]) * (total - size[a] + len(args)) for a in args if dep[a])
        elif isinstance(e, sp.Pow):
            b, p = args
            grad[e] = grad[b] + grad[p] + n * (2 * size[b] + 2 * size[p] + 5)
        else:  # f(a, ...): f′(a)·a′ carries a copy of the argument
            grad[e] = sum(grad[a] + len(dep[a]) * (size[a] + 3) for a in args if dep[a])
    return grad[expr]
