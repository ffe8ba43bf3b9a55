"""Symbolic differentiation on the expression DAG: every shared subexpression differentiated once.

The tree derivative (``sympy.diff``) swells because a subexpression used twice is differentiated
twice, and its derivative copied into every place that needs it.  Laue (2019) shows that the
swell comes from the representation, not from symbolic differentiation: run the chain rule on
the *DAG* of the expression and you perform the operations reverse-mode AD performs.

:func:`dag_gradient` does that, CSE first (as SymPy 1.14's private ``_cse_diff`` does):

1. ``sympy.cse`` turns the expression into a straight-line program of definitions
   ``t_i = e_i`` (each shared subexpression once) and one output expression;
2. a reverse sweep over the definitions, last to first, accumulates the adjoint
   ∂_t L = Σ_{c uses t} ∂_c L · ∂e_c/∂t of each definition, with every local derivative
   ∂e_c/∂t taken by ``sympy.diff`` on the one small definition ``e_c``; an adjoint that is more
   than a symbol or a number is named ``d_t`` (printed ∂_t L) and used by name from then on;
3. definitions the derivative does not need are dropped (the value of the output itself, say).

(``mode="forward"`` runs the same program forward for one parameter: dt_i = Σ ∂e_i/∂s · ds.)

The result is again a straight-line program, counted under the one convention
(:mod:`diffkit.analysis.operation_counts`): its shared size is the sum over its definitions.

Examples
--------
>>> import sympy as sp
>>> from diffkit.builtins import logistic_map
>>> m = logistic_map(4)
>>> d = dag_gradient(m.loss_expr, m.params)
>>> for s, e in d.definitions:
...     print(s, "=", e)
t0 = 1 - x
t1 = t0*x
t2 = 1 - 4*t1
t3 = t1*t2
d_t3 = 64 - 2048*t3
d_t1 = d_t3*(-4*t1 + t2)
>>> d.gradient["x"]
d_t1*(t0 - x)
>>> sp.expand(d.inline()["x"] - sp.diff(m.loss_expr, m.params[0]))
0
>>> d.ops, d.flat_ops, sp.count_ops(sp.diff(m.loss_expr, m.params[0]))
(12, 17, 82)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import sympy as sp

from ..errors import BadInput
from ..constraints import shorten

MODES = ("reverse", "forward")


@dataclass(frozen=True)
class DagDerivative:
    """A derivative as a straight-line program over the expression DAG.

    Attributes
    ----------
    definitions : tuple of (Symbol, Expr)
        In order; each uses only the parameters, data and earlier definitions.  Primal
        definitions (``t0, t1, ...``) come first, then the derivative's (``d_t1, ...``).
    gradient : dict of str to Expr
        Each partial, in terms of the definitions.
    primal : int
        How many of the definitions belong to the primal (the function itself).
    mode : {"reverse", "forward"}
    """

    definitions: tuple[tuple[sp.Symbol, sp.Expr], ...]
    gradient: dict[str, sp.Expr]
    primal: int
    mode: str = "reverse"

    @property
    def ops(self) -> int:
        """The shared (DAG) size: operations of every definition and every partial."""
        from ..analysis.operation_counts import program_ops

        return program_ops(self.definitions, self.gradient.values())

    @property
    def primal_ops(self) -> int:
        from ..analysis.operation_counts import program_ops

        return program_ops(self.definitions[: self.primal])

    def inline(self) -> dict[str, sp.Expr]:
        """Each partial with every definition substituted back: the same function as a tree."""
        env: dict[sp.Symbol, sp.Expr] = {}
        for s, e in self.definitions:
            env[s] = e.xreplace(env)
        return {k: v.xreplace(env) for k, v in self.gradient.items()}

    @property
    def flat_ops(self) -> int:
        """The flat (tree) size of the inlined partials (what the program would be as trees)."""
        from ..analysis.operation_counts import tree_ops

        memo: dict = {}
        return sum(tree_ops(e, memo) for e in self.inline().values())


def _trivial(e: sp.Basic) -> bool:
    """Atoms, and −a or c·a of an atom: folded into the surrounding operation, never named."""
    return e.is_Atom or (e.is_Mul and len(e.args) == 2 and e.args[0].is_Number and e.args[1].is_Atom)


def _program(expr: sp.Expr, avoid: Iterable[str]) -> tuple[list, sp.Expr]:
    """The DAG of ``expr`` as single-operation definitions (post-order), and the output.

    ``sympy.cse`` runs first: SymPy flattens products and sums (16·x·(1 − x)·(1 − 4x(1 − x))
    holds x·(1 − x) only as loose factors), and cse's matching of common arguments of Add and
    Mul exposes that sharing again.  Each definition is then split into one operation per
    distinct non-trivial subexpression.
    """
    from .derive import cse_prefix

    symbols = sp.numbered_symbols(cse_prefix(avoid), real=True)
    repl, (red,) = sp.cse([expr], symbols=symbols, order="none")
    names: dict[sp.Basic, sp.Basic] = {s: s for s, _ in repl}
    defs: list[tuple[sp.Symbol, sp.Expr]] = []
    out = None
    for target, top in list(repl) + [(None, red)]:
        stack: list[tuple[sp.Basic, bool]] = [(top, False)]
        while stack:                  # iterative: deep expressions cannot hit the recursion limit
            e, ready = stack.pop()
            if e in names:
                continue
            if _trivial(e):
                names[e] = e if e.is_Atom else e.func(*[names.get(a, a) for a in e.args])
                continue
            if not ready:
                stack.append((e, True))
                stack.extend((a, False) for a in reversed(e.args) if a not in names)
                continue
            body = e.func(*[names[a] for a in e.args])
            if e is top:
                if target is None:
                    out = body
                    continue
                sym = target
            else:
                sym = next(symbols)
            defs.append((sym, body))
            names[e] = sym
        if target is None and out is None:
            out = names[top]
    return defs, out


def dag_gradient(expr: sp.Expr, wrt: Sequence[sp.Symbol], *, mode: str = "reverse",
                 avoid: Iterable[str] = ()) -> DagDerivative:
    """The gradient of ``expr`` with respect to ``wrt``, differentiated on its DAG.

    Parameters
    ----------
    expr : sympy.Expr
        A scalar expression (a loss).
    wrt : sequence of sympy.Symbol
        The parameters.
    mode : {"reverse", "forward"}, default "reverse"
        ``"reverse"``: one backward sweep for all partials (the cheap-gradient principle).
        ``"forward"``: one forward sweep per parameter (the shape of SymPy's CSE-first Jacobian).
    avoid : iterable of str
        Names the generated symbols must not take (the model's own symbol names).

    Returns
    -------
    DagDerivative
    """
    if mode not in MODES:
        raise BadInput(f"unknown DAG differentiation mode {shorten(mode)}; allowed: {', '.join(MODES)}")
    wrt = tuple(wrt)
    avoid = set(avoid) | {s.name for s in expr.free_symbols} | {s.name for s in wrt}
    repl, out = _program(expr, avoid)
    inverse = {e: s for s, e in repl}
    if mode == "reverse":
        derivs, grad = _reverse(repl, out, wrt, inverse)
    else:
        derivs, grad = _forward(repl, out, wrt, inverse)
    defs, grad = _inline_single_use(_prune(repl, derivs, grad), grad)
    primal_syms = {s for s, _ in repl}
    defs = [(s, e if s in primal_syms else _cheapest(e)) for s, e in defs]
    grad = {k: _cheapest(v) for k, v in grad.items()}
    primal = sum(1 for s, _ in defs if s in primal_syms)
    defs, grad = _renumber(defs, grad, primal_syms, avoid)
    return DagDerivative(tuple(defs), grad, primal, mode)


def _local(e: sp.Expr, s: sp.Symbol, inverse: dict) -> sp.Expr:
    """∂e/∂s with subexpressions that are already defined replaced by their names."""
    d = sp.diff(e, s)
    return d.xreplace(inverse) if inverse else d


def _name(value: sp.Expr, sym: sp.Symbol, out: list) -> sp.Expr:
    """``value`` itself when it is a symbol or a number (or ± one), else a new definition ``sym``."""
    if value.is_Atom or (value.is_Mul and len(value.args) == 2 and value.args[0].is_Number
                         and value.args[1].is_Atom):
        return value
    out.append((sym, value))
    return sym


def _reverse(repl, out, wrt, inverse):
    adj: dict[sp.Symbol, list[sp.Expr]] = {}
    defined = {s for s, _ in repl}

    def push(e: sp.Expr, bar: sp.Expr) -> None:
        for s in sorted(e.free_symbols & (defined | set(wrt)), key=sp.default_sort_key):
            local = _local(e, s, inverse)
            if local != 0:
                adj.setdefault(s, []).append(bar * local)

    push(out, sp.Integer(1))
    derivs: list[tuple[sp.Symbol, sp.Expr]] = []
    for s, e in reversed(repl):
        contributions = adj.pop(s, None)
        if not contributions:
            continue
        bar = _name(sp.Add(*contributions), sp.Symbol(f"d_{s.name}", real=True), derivs)
        push(e, bar)
    grad = {p.name: sp.Add(*adj.get(p, [])) for p in wrt}
    return derivs, grad


def _forward(repl, out, wrt, inverse):
    derivs: list[tuple[sp.Symbol, sp.Expr]] = []
    grad = {}
    for p in wrt:
        tan: dict[sp.Symbol, sp.Expr] = {p: sp.Integer(1)}

        def sweep(e: sp.Expr) -> sp.Expr:
            return sp.Add(*[_local(e, s, inverse) * tan[s]
                            for s in sorted(e.free_symbols & set(tan), key=sp.default_sort_key)])
        for s, e in repl:
            t = sweep(e)
            if t != 0:
                tag = f"d{p.name}_{s.name}" if len(wrt) > 1 else f"d{s.name}"
                tan[s] = _name(t, sp.Symbol(tag, real=True), derivs)
        grad[p.name] = sweep(out)
    return derivs, grad


def _prune(repl, derivs, grad) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Keep only the definitions the partials need, in order (dead-code elimination)."""
    defs = list(repl) + list(derivs)
    need = set().union(*[e.free_symbols for e in grad.values()]) if grad else set()
    keep = []
    for s, e in reversed(defs):
        if s in need:
            keep.append((s, e))
            need |= e.free_symbols
    return keep[::-1]


def _inline_single_use(defs, grad):
    """Substitute every definition used exactly once back into its one user.

    A temporary used once shares nothing; inlining it gives the expression SymPy would write
    (``b + w*x``, not ``t0 = w*x; t1 = b + t0``) and changes no operation but the bookkeeping of
    signs (``x + (−y)`` becomes ``x − y``).
    """
    from collections import Counter

    uses: Counter = Counter()
    for _, e in defs:
        uses.update(_symbol_uses(e))
    for e in grad.values():
        uses.update(_symbol_uses(e))
    names = {s.name for s, _ in defs}
    # a value whose adjoint (or tangent) is a definition keeps its name, so ∂_t L names a t
    single = {s for s, _ in defs if uses[s] == 1 and f"d_{s.name}" not in names and f"d{s.name}" not in names}
    env: dict[sp.Symbol, sp.Expr] = {}
    kept = []
    for s, e in defs:
        e = e.xreplace(env) if env else e
        if s in single:
            env[s] = e
        else:
            kept.append((s, e))
    return kept, {k: v.xreplace(env) for k, v in grad.items()}


def _symbol_uses(e: sp.Expr) -> list:
    """Every occurrence of a symbol in the tree of ``e`` (with multiplicity)."""
    out = []
    stack = [e]
    while stack:
        a = stack.pop()
        if a.is_Symbol:
            out.append(a)
        else:
            stack.extend(a.args)
    return out


def _cheapest(e: sp.Expr) -> sp.Expr:
    """``e`` or a factored form of it, whichever has fewer operations.

    The sweep writes ∂_t L = ∂_c L·a + ∂_c L·b when t reaches c along two paths; the
    distributive law gives ∂_c L·(a + b), one multiplication fewer.
    """
    from ..analysis.operation_counts import tree_ops

    if e.is_Atom:
        return e
    best, cost = e, tree_ops(e)
    adjoints = sorted((s for s in e.free_symbols if s.name.startswith("d")), key=sp.default_sort_key)
    candidates = [sp.factor_terms(e)]
    if adjoints:
        candidates.append(sp.collect(e, adjoints))
    for c in candidates:
        k = tree_ops(c)
        if k < cost:
            best, cost = c, k
    return best


def _renumber(defs, grad, primal_syms, avoid):
    """Name the primal definitions t0, t1, ... in program order (adjoints follow: d_t0, ...)."""
    from .derive import cse_prefix

    prefix = cse_prefix(avoid)
    primal_ren: dict[str, str] = {}
    for s, _ in defs:
        if s in primal_syms:
            primal_ren[s.name] = f"{prefix}{len(primal_ren)}"
    ren: dict[sp.Symbol, sp.Symbol] = {}
    for s, _ in defs:
        if s in primal_syms:
            ren[s] = sp.Symbol(primal_ren[s.name], real=True)
            continue
        # d_<t> (adjoint), d<t> (tangent) or d<p>_<t> (tangent for parameter p)
        head, sep, tail = s.name.rpartition("_")
        if sep and tail in primal_ren:
            ren[s] = sp.Symbol(f"{head}_{primal_ren[tail]}", real=True)
        elif s.name[1:] in primal_ren:
            ren[s] = sp.Symbol("d" + primal_ren[s.name[1:]], real=True)
    defs = [(ren.get(s, s), e.xreplace(ren)) for s, e in defs]
    return defs, {p: e.xreplace(ren) for p, e in grad.items()}
