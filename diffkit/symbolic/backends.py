"""Symbolic backends: SymPy (always) and SymEngine (optional, ``pip install 'diffkit[symengine]'``).

SymEngine's ``diff`` memoises the subexpressions it has visited, so the tree derivative of the
logistic map at depth 12 — 195,072 operations written out — takes a fraction of a millisecond
instead of SymPy's second.  The tree is just as large: diffkit converts SymEngine's result back
to SymPy with a memo (one conversion per distinct node, so the shared structure survives) and
counts it under the one convention, flat and shared sizes separately.

Only what the swell table needs goes through a backend: the tree derivative and ``cse``.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x", real=True)
>>> be = backend("sympy")
>>> be.diff(x * (1 - x), x)
1 - 2*x
>>> backend("maple")
Traceback (most recent call last):
...
diffkit.errors.BadInput: unknown symbolic backend 'maple'; allowed: sympy, symengine
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

from ..errors import BadInput
from ..constraints import shorten

BACKENDS = ("sympy", "symengine")
INSTALL_HINT = "pip install 'diffkit[symengine]' (or pip install symengine)"


def symengine_available() -> bool:
    try:
        import symengine  # noqa: F401
    except ImportError:
        return False
    return True


class SymPyBackend:
    name = "sympy"

    def diff(self, expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
        return sp.diff(expr, x)

    def cse(self, exprs: list[sp.Expr], symbols) -> tuple[list, list]:
        repl, reduced = sp.cse(exprs, symbols=symbols, order="canonical")
        return list(repl), list(reduced)


class SymEngineBackend:
    """``diff`` and ``cse`` by SymEngine; results converted to SymPy with a memo."""

    name = "symengine"

    def __init__(self) -> None:
        try:
            import symengine
        except ImportError:
            raise BadInput(f"the symengine backend needs SymEngine, which is not installed: {INSTALL_HINT}") from None
        self.se = symengine
        self._native: dict = {}

    def diff(self, expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
        e, names = self._to_se(expr)
        d = e.diff(self.se.Symbol(x.name))
        out = self.to_sympy(d, names)
        self._native[out] = (d, names)   # cse of this result starts from SymEngine's own object
        return out

    def cse(self, exprs: list[sp.Expr], symbols) -> tuple[list, list]:
        names: dict[str, sp.Symbol] = {}
        se_exprs = []
        for e in exprs:
            if e in self._native:
                native, known = self._native[e]
                se_exprs.append(native)
                names.update(known)
                continue
            s, n = self._to_se(e)
            se_exprs.append(s)
            names.update(n)
        repl, reduced = self.se.cse(se_exprs)
        memo: dict = {}
        # SymEngine names its replacements x0, x1, ...; rename them to ``symbols``
        new = {}
        for s, _ in repl:
            new[str(s)] = next(symbols)
        names.update(new)
        out_repl = [(new[str(s)], self.to_sympy(e, names, memo)) for s, e in repl]
        return out_repl, [self.to_sympy(e, names, memo) for e in reduced]

    def _to_se(self, expr: sp.Expr):
        names = {s.name: s for s in expr.free_symbols}
        return self.se.sympify(expr), names

    def to_sympy(self, e, names: dict[str, sp.Symbol], memo: dict | None = None) -> sp.Expr:
        """SymEngine → SymPy, one conversion per distinct node (iterative, memoised)."""
        se = self.se
        memo = {} if memo is None else memo
        stack = [(e, False)]
        while stack:
            a, ready = stack.pop()
            if a in memo:
                continue
            kids = a.args
            if kids and not ready:
                stack.append((a, True))
                stack.extend((k, False) for k in kids if k not in memo)
                continue
            memo[a] = self._node(a, [memo[k] for k in kids], names, se)
        return memo[e]

    @staticmethod
    def _node(a, args: list, names: dict, se) -> sp.Expr:
        if isinstance(a, se.Symbol):
            name = str(a)
            return names.get(name) or sp.Symbol(name, real=True)
        if isinstance(a, se.Integer):
            return sp.Integer(int(a))
        if isinstance(a, se.Rational):
            return sp.Rational(int(a.get_num()), int(a.get_den()))
        # unevaluated: SymEngine's tree as it is (SymPy's flattening would copy shared factors
        # into every product that holds them, and cost seconds on a 10⁵-operation tree)
        if isinstance(a, se.Add):
            return sp.Add(*args, evaluate=False)
        if isinstance(a, se.Mul):
            return sp.Mul(*args, evaluate=False)
        if isinstance(a, se.Pow):
            return sp.Pow(*args, evaluate=False)
        if not args:
            return sp.sympify(a._sympy_())
        fn: Callable | None = getattr(sp, type(a).__name__.lower(), None) or getattr(sp, a.get_name(), None) \
            if hasattr(a, "get_name") else getattr(sp, type(a).__name__.lower(), None)
        if fn is None:
            raise BadInput(f"the symengine backend cannot convert {type(a).__name__} back to SymPy")
        return fn(*args)


def backend(name: str = "sympy"):
    """The backend called ``name`` (``sympy`` or ``symengine``); BadInput naming what to install."""
    if name == "sympy":
        return SymPyBackend()
    if name == "symengine":
        return SymEngineBackend()
    raise BadInput(f"unknown symbolic backend {shorten(name)}; allowed: {', '.join(BACKENDS)}")
