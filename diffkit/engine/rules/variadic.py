"""Primitives that take any number of arguments (``concatenate``, ``einsum``).

A record keeps one rule per argument (``Primitive.vjps[i]``); a variadic primitive cannot list
them in advance, so its record holds a :class:`PerArgument`: ``vjps[i]`` is ``rule(i, ...)``,
made when first asked for, with the ordinary rule signature ``(g, ans, *args, **params)``.
Everything that reads rules (the sweeps, ``fast``, replay) indexes ``vjps[i]`` and so works
unchanged.

>>> import numpy as np
>>> rules = PerArgument(lambda i, g, ans, *args: f"rule for argument {i}")
>>> rules[3](1.0, 2.0)
'rule for argument 3'
>>> rules[3] is rules[3]
True
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from ..core import Primitive, defprim

__all__ = ["PerArgument", "defprim_variadic"]


class PerArgument:
    """The rules of a variadic primitive: ``self[i]`` is ``rule`` with the argument number bound."""

    __slots__ = ("rule", "_made")

    def __init__(self, rule: Callable) -> None:
        self.rule = rule
        self._made: dict[int, Callable] = {}

    def __getitem__(self, i: int) -> Callable:
        r = self._made.get(i)
        if r is None:
            r = self._made[i] = partial(self.rule, i)
        return r

    def __len__(self) -> int:  # one rule stands for every argument
        return 1

    def __iter__(self):
        yield self[0]

    def __repr__(self) -> str:
        return f"PerArgument({getattr(self.rule, '__name__', self.rule)!r})"


def defprim_variadic(name: str, impl: Callable, *, vjp: Callable, jvp: Callable, cost: Callable,
                     local: Callable, cases: Callable, **kw: Any) -> Primitive:
    """:func:`~diffkit.engine.core.defprim` for a primitive of any number of arguments.

    ``vjp(i, g, ans, *args, **params)`` and ``jvp(i, t, ans, *args, **params)`` take the argument
    number first; ``cost(node, i)`` and ``local(node, i)`` are callables; ``cases`` is required
    (the checker cannot know how many arguments to sample).
    """
    p = defprim(name, impl, vjp=(vjp,), jvp=(jvp,), cost=cost, local=local, cases=cases, **kw)
    p.vjps, p.jvps = PerArgument(vjp), PerArgument(jvp)
    return p
