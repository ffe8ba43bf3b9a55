"""Stability lint: fragile floating-point patterns in symbolic gradients and generated code.

Each finding names the pattern, where it occurs, the stable rewrite, and — evaluated in float64 at
an argument where the pattern breaks — what the fragile and the stable form give.

Patterns
--------
* ``1/(1 + exp(−z))`` (σ written out): exp(−z) overflows for z ≲ −710; with σ′ written as
  exp(−z)/(1 + exp(−z))² the quotient becomes inf/inf = nan.  Rewrite: keep σ a function of its
  own (``scipy.special.expit``), σ′(z) = e/(1 + e)² with e = exp(−|z|).
* ``log(1 + exp(z))``: overflows to inf for z ≳ 710.  Rewrite: softplus(z) =
  ``np.logaddexp(0, z)`` = max(z, 0) + log1p(exp(−|z|)).
* ``log(Σ exp(a_i))``: overflows for large a_i.  Rewrite: m + log Σ exp(a_i − m), m = max a_i
  (``scipy.special.logsumexp``).
* ``1 − σ(z)``: cancels to 0 when σ(z) ≈ 1 (z ≳ 37) and loses all relative accuracy.  Rewrite:
  σ(−z) = 1/(1 + exp(z)).

Examples
--------
>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> [f.pattern for f in lint([sp.log(1 + sp.exp(z)), 1 / (1 + sp.exp(-z))])]
['log(1 + exp(z))', '1/(1 + exp(-z))']
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import sympy as sp

from ..functions import sigmoid
from ..symbolic import render


@dataclass(frozen=True)
class Finding:
    pattern: str
    where: str          # the offending subexpression, as text
    rewrite: str
    why: str
    fragile_value: float | None = None   # float64 value of the fragile form at ``at``
    stable_value: float | None = None
    at: float | None = None

    def to_dict(self) -> dict:
        return {"pattern": self.pattern, "where": self.where, "rewrite": self.rewrite, "why": self.why,
                "at": self.at, "fragile_value": _num(self.fragile_value), "stable_value": _num(self.stable_value)}


def _num(v):
    if v is None:
        return None
    return v if np.isfinite(v) else ("nan" if np.isnan(v) else ("inf" if v > 0 else "-inf"))


def _np(f, *a):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(f(*a))


def _is_exp(e) -> bool:
    return isinstance(e, sp.exp)


def _one_plus_exp(e) -> sp.Expr | None:
    """The exponent z when e is 1 + exp(z)."""
    if e.is_Add and len(e.args) == 2 and sp.S.One in e.args:
        other = e.args[0] if e.args[1] == 1 else e.args[1]
        if _is_exp(other):
            return other.args[0]
    return None


def lint(exprs: Iterable[sp.Expr]) -> list[Finding]:
    """Findings for every fragile pattern in ``exprs`` (each pattern reported once per subexpression)."""
    found: dict[tuple[str, str], Finding] = {}

    def add(f: Finding) -> None:
        found.setdefault((f.pattern, f.where), f)

    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            # 1/(1 + exp(-z)) and exp(-z)/(1 + exp(-z))**2
            if node.is_Pow and node.exp.is_negative and _one_plus_exp(node.base) is not None:
                add(Finding(
                    "1/(1 + exp(-z))", render.text(node),
                    "sigma(z) as its own function (scipy.special.expit); sigma'(z) = e/(1 + e)**2 with e = exp(-|z|)",
                    "exp(-z) overflows for z below about -709; exp(-z)/(1 + exp(-z))**2 then gives inf/inf = nan",
                    _np(lambda t: np.exp(-t) / (1 + np.exp(-t)) ** 2, -800.0),
                    _np(lambda t: np.exp(-abs(t)) / (1 + np.exp(-abs(t))) ** 2, -800.0), -800.0))
            # log(1 + exp(z)) and log of a sum of exps
            if isinstance(node, sp.log) and node.args[0].is_Add:
                arg = node.args[0]
                if _one_plus_exp(arg) is not None:
                    add(Finding(
                        "log(1 + exp(z))", render.text(node), "softplus(z) = np.logaddexp(0, z)",
                        "exp(z) overflows to inf for z above about 709",
                        _np(lambda t: np.log(1 + np.exp(t)), 800.0), _np(lambda t: np.logaddexp(0, t), 800.0), 800.0))
                elif sum(1 for a in arg.args if _is_exp(a)) >= 2:
                    add(Finding(
                        "log(sum(exp(a_i)))", render.text(node),
                        "m + log(sum(exp(a_i - m))) with m = max(a_i) (scipy.special.logsumexp)",
                        "each exp(a_i) overflows for a_i above about 709",
                        _np(lambda t: np.log(np.exp(t) + np.exp(t)), 800.0),
                        _np(lambda t: t + np.log(2.0), 800.0), 800.0))
            # 1 - sigma(z)
            if node.is_Add and sp.S.One in node.args:
                for a in node.args:
                    if a.is_Mul and len(a.args) == 2 and a.args[0] == -1 and isinstance(a.args[1], sigmoid):
                        add(Finding(
                            "1 - sigma(z)", render.text(node), "sigma(-z) = 1/(1 + exp(z))",
                            "1 - sigma(z) cancels to 0 once sigma(z) rounds to 1 (z above about 37)",
                            _np(lambda t: 1 - 1 / (1 + np.exp(-t)), 40.0),
                            _np(lambda t: 1 / (1 + np.exp(t)), 40.0), 40.0))
    return list(found.values())


def lint_source(source: str) -> list[Finding]:
    """Findings in generated NumPy source text (e.g. ``to_numpy(...).source``)."""
    import re

    out = []
    if re.search(r"log\(1 \+ exp\(|log\(exp\([^)]*\) \+ 1\)", source):
        out.append(Finding("log(1 + exp(z))", "generated code", "np.logaddexp(0, z)", "overflow for z > 709"))
    if re.search(r"1/\(1 \+ exp\(-|1/\(exp\(-[^)]*\) \+ 1\)", source):
        out.append(Finding("1/(1 + exp(-z))", "generated code", "0.5*(1 + tanh(z/2))", "overflow for z < -709"))
    return out
