"""The derivation checker: which of a user's claimed derivatives are right.

A claim is one line ``name = expression``.  ``name`` is a node of the model's graph (a forward
step such as ``z`` or ``u``), an adjoint ``d_<node>`` (∂_node L, e.g. ``d_u``, ``d_w``), or
``dL/d<param>``.  Expressions may use the model's symbols, the step names and the adjoints.
Each claim is judged on its own: every name on its right-hand side takes its *true* value, so one
slip does not make the lines after it wrong.  A claim is right when it agrees with the truth at
the model's point and at ``points`` random points (relative tolerance ``rtol``); otherwise the
first point where it differs is returned with both values.

Examples
--------
>>> from diffkit import builtin
>>> claims = '''
... d_L = 1
... d_r = lam
... d_l = 1
... d_u = u - y
... d_z = d_u * sigmoid_prime(z)
... d_w = d_u * x + d_r * 2*w
... d_b = d_z
... '''
>>> res = check_claims(builtin("ridge-sigmoid"), claims)
>>> res.ok, [c.line for c in res.claims if not c.ok]
(False, [7])
>>> bad = res.claims[5].counterexample
>>> round(bad["claimed"], 6), round(bad["true"], 6)
(-0.521969, -0.044302)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from .. import constraints as C
from ..constraints import shorten, validate_params
from ..domain import check_model
from ..errors import BadInput, DomainError, ParseError
from ..model import Model, _names
from ..parse import parse
from .listing import backprop_listing, model_steps

_NAME = re.compile(r"^\s*(?:(d_[A-Za-z][A-Za-z0-9_]*)|dL/d([A-Za-z][A-Za-z0-9_]*)|([A-Za-z][A-Za-z0-9_]*))\s*=(.*)$")


@dataclass(frozen=True)
class Claim:
    line: int
    name: str
    text: str
    ok: bool
    counterexample: dict | None  # {"point": {...}, "claimed": float, "true": float}

    def to_dict(self) -> dict:
        return {"line": self.line, "name": self.name, "expression": self.text, "ok": self.ok,
                "counterexample": self.counterexample}


@dataclass(frozen=True)
class CheckResult:
    model: str
    claims: tuple[Claim, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.claims)

    @property
    def first_wrong(self) -> Claim | None:
        return next((c for c in self.claims if not c.ok), None)

    def to_dict(self) -> dict:
        return {"model": self.model, "ok": self.ok, "lines": [c.to_dict() for c in self.claims],
                "first_wrong_line": self.first_wrong.line if self.first_wrong else None}


def parse_claims(model: Model, text: str) -> list[tuple[int, str, str, sp.Expr]]:
    """``(line number, target name, expression text, expression)`` for every claim in ``text``."""
    steps = model_steps(model)
    nodes = [s.name for s, _ in steps]
    variables = nodes + list(model.wrt)
    symbols = {s.name: s for s in model.symbols}
    symbols.update({s.name: s for s, _ in steps})
    symbols.update({f"d_{v}": sp.Symbol(f"d_{v}", real=True) for v in variables})
    allowed_targets = nodes + [f"d_{v}" for v in variables]
    out = []
    for i, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _NAME.match(line)
        if m is None:
            raise BadInput(f"line {i}: expected 'name = expression', got {shorten(line[:60])}")
        adj, dl, node, rhs = m.groups()
        target = adj or (f"d_{dl}" if dl else node)
        if target in model.wrt:  # "w = ..." in a per-parameter list means ∂L/∂w
            target = f"d_{target}"
        if target not in allowed_targets:
            raise BadInput(f"line {i}: unknown name {shorten(target)}; allowed: {_names(allowed_targets)}")
        local = dict(symbols)
        try:
            expr = parse(rhs.strip(), symbols=local)
        except ParseError as exc:
            raise BadInput(f"line {i}: {exc}") from None
        unknown = sorted(set(local) - set(symbols))
        if unknown:
            raise BadInput(f"line {i}: unknown symbol {shorten(unknown[0])}; allowed: {_names(sorted(symbols))}")
        out.append((i, target, rhs.strip(), expr))
    if not out:
        raise BadInput("no claims found: write one 'name = expression' per line")
    return out


def _truth(model: Model, point: Mapping[str, float]) -> dict[sp.Symbol, sp.Float]:
    lst = backprop_listing(model, point)
    env = {s: sp.Float(v, 30) for s, v in model.subs_point(lst.point).items()}
    env.update({sp.Symbol(k, real=True): sp.Float(v, 30) for k, v in lst.forward_values.items()})
    env.update({sp.Symbol(f"d_{ln.node}", real=True): sp.Float(ln.value, 30) for ln in lst.lines})
    return env


@validate_params(model=C.MODEL, text=C.Param("text", C.Text(10**6)), points=C.POINTS, seed=C.SEED, rtol=C.RTOL)
def check_claims(model: Model, text: str, *, points: int = 20, seed: int = 0, rtol: float = 1e-9) -> CheckResult:
    """Judge every claim in ``text`` (see the module docstring)."""
    claims = parse_claims(model, text)
    try:
        base = model.point()
    except BadInput:
        base = None
    if base is not None:
        check_model(model, base)  # the user's point must lie in the loss's domain (DomainError)
    truths = [] if base is None else [(_truth(model, base), base)]
    for p in model.random_points(points, seed=seed, base=base):
        try:
            truths.append((_truth(model, p), p))
        except DomainError:  # a random point outside the domain (log of a negative, say) is skipped
            continue
    results = []
    for line, target, rhs, expr in claims:
        tsym = sp.Symbol(target, real=True)
        counter = None
        for env, p in truths:
            true = float(env[tsym])
            try:
                claimed = float(expr.xreplace(env).evalf(30))
            except (TypeError, ValueError):
                claimed = float("nan")
            if not abs(claimed - true) <= rtol * max(1.0, abs(true)):
                counter = {"point": dict(p), "claimed": claimed, "true": true}
                break
        results.append(Claim(line, target, rhs, counter is None, counter))
    return CheckResult(model.name, tuple(results))
