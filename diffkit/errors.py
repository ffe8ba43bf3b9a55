"""The one exception hierarchy of diffkit.

The CLI turns a :class:`BadInput` into ``Error: <message>`` and exit code 2, and any other
:class:`DiffkitError` into ``Error: <message>`` and exit code 1.  Library code raises these
(never ``assert``) so that validation survives ``python -O``.
"""

from __future__ import annotations

from typing import Any


def brief(x: Any, limit: int = 60) -> str:
    """``repr(x)`` for an error message: on one line, cut to ``limit`` characters.

    >>> brief([[1.0], [1.0, 2.0]])
    '[[1.0], [1.0, 2.0]]'
    >>> brief(list(range(40)))
    '[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16...'
    """
    r = " ".join(repr(x).split())
    return r if len(r) <= limit else r[:limit - 3] + "..."


class DiffkitError(Exception):
    """Base class of every error diffkit raises on purpose."""

    exit_code = 1


class BadInput(DiffkitError, ValueError):
    """The user gave something diffkit cannot accept (expression, option, file, data)."""

    exit_code = 2


class ParseError(BadInput):
    """An expression string is not in diffkit's allow-listed grammar."""


class ComputationError(DiffkitError, ArithmeticError):
    """A computation failed at run time (NaN/inf under anomaly mode, divergence, ...)."""

    exit_code = 1


class DomainError(BadInput):
    """A point lies outside a function's domain, or a value overflows float64 there.

    The message names the function, the point and the value, e.g.
    ``log(w) is undefined at w = 0 (log needs a positive argument)``.
    """


class BudgetExceeded(BadInput):
    """The work asked for is estimated to exceed a time or memory budget (``--force`` overrides).

    The message names the size, its limit and the estimate.
    """


class OutputError(DiffkitError):
    """Writing the output failed (a full disk, a closed stream, an unwritable file)."""

    exit_code = 1
