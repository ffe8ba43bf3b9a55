"""Closed forms too long to read are summarised (size, operation count) instead of printed.

The 24 partials of the lecture's 2-3-3-1 network are each over a thousand characters: printed,
they are hairlines nobody reads.  The CLI and the reports print a closed form when it is short
enough to read, and otherwise its length and its operation count (the tree size, under the one
convention of :mod:`diffkit.analysis.operation_counts`) with where to find the whole.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> readable("x + 1", x + 1)
'x + 1'
>>> e = sp.Add(*[x**k for k in range(80)])
>>> readable(str(e), e, hint="see --json")
'(not shown: 621 characters, 157 ops as a tree; see --json)'
"""

from __future__ import annotations

from typing import Any

#: Longest closed form printed as it is (characters).
READABLE_CHARS = 300


def too_long(text: str) -> bool:
    return len(text) > READABLE_CHARS


def summary(text: str, expr: Any, *, hint: str = "") -> str:
    """The one-line summary of a closed form: its length and operation count."""
    from ..analysis.operation_counts import tree_ops

    return f"(not shown: {len(text)} characters, {tree_ops(expr)} ops as a tree" + (f"; {hint}" if hint else "") + ")"


def readable(text: str, expr: Any, *, hint: str = "") -> str:
    """``text`` when it is short enough to read, else :func:`summary`."""
    return summary(text, expr, hint=hint) if too_long(text) else text
