"""Walking a graph: its nodes in topological order (for ``Graph``, drawing and listings).

The sweeps do not need this walk (``sweep.grad_order`` orders by node id); it keeps argument order,
which is what a reader of a listing or a drawing expects.
"""

from __future__ import annotations

from typing import Sequence

from .core import Node

__all__ = ["toposort"]


def toposort(out: Node, *, stop: Sequence[Node] = (), only_grad: bool = False) -> list[Node]:
    """Nodes reachable from ``out``, parents before children (in argument order), iteratively;
    ``stop`` nodes are included but not descended into; ``only_grad``: only nodes needing gradients."""
    stopset = set(stop)
    order: list[Node] = []
    visited: set[Node] = set()
    stack: list[tuple[Node, bool]] = [(out, False)]
    while stack:
        n, done = stack.pop()
        if done:
            order.append(n)
            continue
        if n in visited:
            continue
        visited.add(n)
        stack.append((n, True))
        if n in stopset:
            continue
        for p in reversed(n.parents):
            if p not in visited and (p.needs_grad or not only_grad):
                stack.append((p, False))
    return order
