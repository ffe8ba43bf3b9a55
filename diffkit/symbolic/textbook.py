"""Textbook forms: a simplification pass that knows the identities of the lecture's functions.

``sympy.simplify`` does not know that σ′ = σ(1 − σ), so it cannot cancel the σ′/σ of a
cross-entropy gradient, and on a tanh neuron it makes the gradient longer.  This pass knows

* σ′(z) = σ(z)(1 − σ(z)), σ(−z) = 1 − σ(z), σ′(−z) = σ′(z);
* tanh′(z) = 1 − tanh²(z), tanh(−z) = −tanh(z);
* softplus′ = σ, and log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z);

and collects the common factor of a gradient.  It works in four steps:

1. every σ(z), σ′(z), tanh(z) becomes a plain symbol (σ′ as s(1 − s)), every log σ(z) a
   softplus, so the expression is a rational function of ordinary symbols;
2. the candidates: the expression, its numeric content pulled out (``factor_terms``), and the
   cancelled rational function (``cancel``) with each symbol's common factor collected;
3. each candidate is mapped back (s·(1 − s) → σ′(z), s → σ(z), …) and counted under the one
   convention (:mod:`diffkit.analysis.operation_counts`);
4. the shortest wins, ties going to the original: the result is never longer than the input.

Expressions larger than :data:`MAX_OPS` operations get only the cheap steps (no ``cancel``), so
the pass always ends in milliseconds.

Examples
--------
>>> import sympy as sp
>>> from diffkit.functions import sigmoid
>>> from diffkit.symbolic.render import pretty
>>> w, x, b, y, lam = sp.symbols("w x b y lam", real=True)
>>> z = w * x + b
>>> ce = -y * sp.log(sigmoid(z)) - (1 - y) * sp.log(1 - sigmoid(z)) + lam * w**2
>>> pretty(sp.diff(ce, w))
'(1 − y)·σ′(wx + b)·x/(1 − σ(wx + b)) + 2λw − σ′(wx + b)·xy/σ(wx + b)'
>>> pretty(textbook(sp.diff(ce, w)))
'(σ(wx + b) − y)·x + 2λw'
>>> pretty(textbook(sp.diff((y - sp.tanh(z))**2 / 2, b)))
'(tanh(wx + b) − y)·(1 − tanh(wx + b)²)'
>>> pretty(textbook(ce))
'(1 − y)·softplus(wx + b) + softplus(−(wx + b))·y + λw²'
"""

from __future__ import annotations

import sympy as sp

from ..functions import sigmoid, sigmoid_prime, softplus

#: Above this many operations only the cheap rewrites run (no ``cancel``/``collect``).
MAX_OPS = 400
#: Nor when expanding would write out more terms than this (a power of a sum, say).
MAX_TERMS = 200


def expansion_terms(e: sp.Expr, cap: int = 10**9) -> int:
    """An upper bound on the number of terms of ``sympy.expand(e)``, without expanding.

    >>> x, y, z = sp.symbols("x y z")
    >>> expansion_terms((x + y + z)**30), expansion_terms((x + 1)*(y + 1) + z), expansion_terms(x**30)
    (496, 5, 1)
    """
    from math import comb

    memo: dict = {}
    stack = [(e, False)]
    while stack:
        a, ready = stack.pop()
        if a in memo:
            continue
        if not a.args or not (a.is_Add or a.is_Mul or a.is_Pow):
            memo[a] = 1
            continue
        if not ready:
            stack.append((a, True))
            stack.extend((k, False) for k in a.args if k not in memo)
            continue
        if a.is_Add:
            n = sum(memo[k] for k in a.args)
        elif a.is_Mul:
            n = 1
            for k in a.args:
                n = min(cap, n * memo[k])
        else:
            base, ex = a.args
            k = memo[base]
            if not (ex.is_Integer and ex > 0) or k == 1:
                n = 1                           # x**n, or a power expand does not distribute
            else:
                n = comb(int(ex) + k - 1, k - 1) if int(ex) < 10**4 else cap
        memo[a] = min(cap, n)
    return memo[e]


def _canonical(z: sp.Expr) -> tuple[sp.Expr, bool]:
    """(z, False) or (−z, True), whichever does not start with a minus sign."""
    if z.could_extract_minus_sign():
        return -z, True
    return z, False


class _Placeholders:
    """Plain symbols standing for σ(z) and tanh(z), one per canonical argument z."""

    def __init__(self) -> None:
        self.sig: dict[sp.Expr, sp.Symbol] = {}
        self.tanh: dict[sp.Expr, sp.Symbol] = {}
        self.back: dict[sp.Symbol, tuple[str, sp.Expr]] = {}

    def _get(self, table, kind: str, z: sp.Expr) -> sp.Symbol:
        s = table.get(z)
        if s is None:
            s = sp.Dummy(f"{kind}{len(self.back)}", real=True)
            table[z] = s
            self.back[s] = (kind, z)
        return s

    def sigma(self, z: sp.Expr) -> sp.Expr:
        c, neg = _canonical(z)
        s = self._get(self.sig, "s", c)
        return 1 - s if neg else s

    def th(self, z: sp.Expr) -> sp.Expr:
        c, neg = _canonical(z)
        h = self._get(self.tanh, "h", c)
        return -h if neg else h


def _to_symbols(e: sp.Expr, ph: _Placeholders) -> sp.Expr:
    def log_rule(a):
        arg = a.args[0]
        if isinstance(arg, sigmoid):                    # log σ(z) = −softplus(−z)
            return -softplus(-arg.args[0])
        if arg.is_Add and len(arg.args) == 2 and sp.S.One in arg.args:
            other = arg - 1                              # log(1 − σ(z)) = −softplus(z)
            if isinstance(-other, sigmoid):
                return -softplus((-other).args[0])
        return a

    e = e.replace(lambda a: isinstance(a, sp.log), log_rule)
    e = e.replace(lambda a: isinstance(a, sigmoid_prime), lambda a: ph.sigma(a.args[0]) * (1 - ph.sigma(a.args[0])))
    e = e.replace(lambda a: isinstance(a, sigmoid), lambda a: ph.sigma(a.args[0]))
    e = e.replace(lambda a: isinstance(a, sp.tanh), lambda a: ph.th(a.args[0]))
    return e


def _from_symbols(e: sp.Expr, ph: _Placeholders) -> sp.Expr:
    """Back to σ, σ′, tanh: s^a·(1 − s)^b → σ′(z)^min(a, b) · (rest)."""
    if not ph.back:
        return e

    def mul_rule(m):
        factors = sp.Mul.make_args(m)
        powers: dict[sp.Expr, sp.Expr] = {}
        for f in factors:
            base, ex = f.as_base_exp()
            powers[base] = powers.get(base, 0) + ex
        changed = False
        for s, (kind, z) in ph.back.items():
            if kind != "s":
                continue
            a, b = powers.get(s, 0), powers.get(1 - s, 0)
            if a and b and (a > 0) == (b > 0):
                k = min(a, b) if a > 0 else max(a, b)
                powers[s] = a - k
                powers[1 - s] = b - k
                powers[sigmoid_prime(z)] = powers.get(sigmoid_prime(z), 0) + k
                changed = True
        if not changed:
            return m
        return sp.Mul(*[base**ex for base, ex in powers.items() if ex != 0])

    e = e.replace(lambda a: a.is_Mul, mul_rule)
    return e.xreplace({s: (sigmoid(z) if kind == "s" else sp.tanh(z)) for s, (kind, z) in ph.back.items()})


def _collections(e: sp.Expr, most: int = 4) -> list[sp.Expr]:
    """``e`` with a common factor collected, for the symbols that are a factor of two or more terms."""
    if not e.is_Add:
        return []
    counts: dict[sp.Symbol, int] = {}
    for term in e.args:
        for f in sp.Mul.make_args(term):
            base = f.as_base_exp()[0]
            if base.is_Symbol:
                counts[base] = counts.get(base, 0) + 1
    common = sorted((s for s, k in counts.items() if k >= 2), key=lambda s: (-counts[s], sp.default_sort_key(s)))
    out = []
    for s in common[:most]:
        try:
            out.append(sp.collect(e, s))
        except (TypeError, ValueError, NotImplementedError):  # pragma: no cover - SymPy refusals
            continue
    return out


def textbook(expr: sp.Expr) -> sp.Expr:
    """The shortest textbook form of ``expr`` (see the module docstring); never longer than it."""
    from ..analysis.operation_counts import tree_ops

    if not isinstance(expr, sp.Expr) or expr.is_Atom or isinstance(expr, sp.MatrixExpr):
        return expr
    size = tree_ops(expr)
    ph = _Placeholders()
    e = _to_symbols(expr, ph)
    candidates = [e, sp.factor_terms(e)]
    if size <= MAX_OPS and expansion_terms(e) <= MAX_TERMS:
        # cancel only what the identities made cancellable: a σ (or 1 − σ, or tanh) in a
        # denominator.  A softmax's Σ exp in a denominator never cancels, and cancel is slow there.
        placeholders = set(ph.back)
        cancellable = any(a.is_Pow and a.exp.is_negative and a.base.free_symbols
                          and a.base.free_symbols <= placeholders for a in sp.preorder_traversal(e))
        r = sp.cancel(sp.together(e)) if cancellable else sp.expand(e)
        if tree_ops(r) <= 3 * size:          # an expansion that explodes holds no shorter form
            collected = _collections(r)
            candidates += [r, sp.factor_terms(r)] + collected + [sp.factor_terms(c) for c in collected]
    best, cost = expr, size
    for c in candidates:
        back = _from_symbols(c, ph)
        k = tree_ops(back)
        if k < cost:
            best, cost = back, k
    return best
