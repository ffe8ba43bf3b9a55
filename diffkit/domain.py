"""Where a loss is undefined or overflows: one line that names the function, the point and the value.

:func:`check_point` evaluates an expression bottom-up in float64, one subexpression at a time,
and stops at the first (innermost) subexpression that leaves the real numbers or float64:

* ``log(a)`` with a ≤ 0, ``a**p`` with a < 0 and p not an integer, ``1/a`` (any negative
  power) at a = 0 — *undefined*;
* ``exp(a)``, powers, products and sums whose value exceeds float64's range although their
  arguments are finite — *overflows*.

It raises :class:`~diffkit.errors.DomainError` (exit code 2 on the command line), so that a
point outside a function's domain is refused before any work starts, instead of surfacing as a
complex number, a NaN or an internal error much later.

Examples
--------
>>> import sympy as sp
>>> w, x = sp.symbols("w x", real=True)
>>> check_point(sp.log(w) + x, {"w": 0.0, "x": 1.0})
Traceback (most recent call last):
...
diffkit.errors.DomainError: log(w) is undefined at w = 0 (log needs a positive argument; here it is 0)
>>> check_point(sp.exp(w * x), {"w": 1000.0, "x": 1.0})
Traceback (most recent call last):
...
diffkit.errors.DomainError: exp(w*x) overflows at w = 1000, x = 1 (its value, about 1.97e+434, is beyond float64's 1.8e+308)
>>> locate(1 / w, {"w": 0.0}).reason
'division by zero'
>>> locate(w**2, {"w": 3.0}) is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import sympy as sp

from .constraints import shorten
from .errors import DomainError
from .functions import relu, sigmoid, sigmoid_prime, softplus, step
from .sizes import free_symbols

FLOAT_MAX = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class Problem:
    """The innermost subexpression that is undefined or overflows at a point."""

    expr: sp.Expr
    kind: str                       # "undefined" or "overflows"
    point: dict[str, float]         # the symbols ``expr`` depends on
    reason: str

    def message(self, prefix: str = "") -> str:
        at = ", ".join(f"{k} = {_num(v)}" for k, v in self.point.items())
        what = shorten(str(self.expr), 80).strip("'")
        return f"{prefix}{what} {self.kind} at {at} ({self.reason})"


def _num(v: float) -> str:
    return f"{v:.6g}"


def _magnitude(expr: sp.Expr, env: Mapping[sp.Symbol, float]) -> str:
    """|expr| at the point in arbitrary precision (SymPy Floats have no exponent limit)."""
    try:
        return str(sp.Abs(expr.xreplace({s: sp.Float(env[s], 30) for s in free_symbols(expr)})).evalf(3))
    except Exception:  # pragma: no cover - a function SymPy cannot evaluate
        return "more than 1.8e+308"


def _isint(v: float) -> bool:
    return math.isfinite(v) and float(v).is_integer()


def _eval(e: sp.Expr, vals: list) -> float | None:
    """float64 value of node ``e`` from its arguments' values; None when unsupported."""
    with np.errstate(all="ignore"):
        if isinstance(e, sp.Add):
            return float(np.sum(np.array(vals, dtype=np.float64))) if len(vals) > 1 else float(vals[0])
        if isinstance(e, sp.Mul):
            return float(np.prod(np.array(vals, dtype=np.float64)))
        if isinstance(e, sp.Pow):
            b, p = vals
            return float(np.float64(b) ** np.float64(p)) if not (b < 0 and not _isint(p)) else math.nan
        fn = {sp.exp: np.exp, sp.log: np.log, sp.sin: np.sin, sp.cos: np.cos, sp.tanh: np.tanh,
              sp.Abs: np.abs, sp.sign: np.sign}.get(type(e))
        if fn is not None:
            return float(fn(np.float64(vals[0])))
        if isinstance(e, (sigmoid, sigmoid_prime, softplus, relu, step, sp.Heaviside)):
            from .symbolic.numeric import NUMPY_FUNCTIONS

            f = NUMPY_FUNCTIONS.get(type(e).__name__)
            if f is not None:
                return float(f(np.float64(vals[0])))
            return float(np.heaviside(vals[0], 0.5))
        if isinstance(e, (sp.Max, sp.Min)):
            return float(max(vals) if isinstance(e, sp.Max) else min(vals))
    return None


def locate(expr: sp.Expr, point: Mapping[str, float]) -> Problem | None:
    """The innermost subexpression of ``expr`` that is undefined or overflows at ``point``, or None."""
    env = {s: float(point[s.name]) for s in free_symbols(expr) if s.name in point}
    values: dict[sp.Basic, float] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:  # iterative post-order over the DAG: deep expressions do not hit the recursion limit
        e, ready = stack.pop()
        if e in values:
            continue
        if e.is_Symbol:
            values[e] = env.get(e, math.nan)
            continue
        if e.is_Number:
            values[e] = float(e) if e.is_extended_real and e.is_finite else math.nan
            continue
        if not ready:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in values)
            continue
        args = [values[a] for a in e.args]
        if not all(math.isfinite(v) for v in args):
            values[e] = math.nan  # reported at the argument already (or an unknown symbol)
            continue
        v = _eval(e, args)
        if v is None:  # a function this checker does not model: evaluate it as SymPy does
            try:
                c = complex(e.xreplace({s: sp.Float(env[s]) for s in free_symbols(e) if s in env}).evalf())
                v = c.real if abs(c.imag) <= 1e-300 else math.nan
            except (TypeError, ValueError, OverflowError, KeyError):
                v = math.nan
        values[e] = v
        if math.isfinite(v):
            continue
        sub = {s.name: env[s] for s in sorted(free_symbols(e), key=lambda s: s.name) if s in env}
        kind, reason = _why(e, args, env)
        return Problem(e, kind, sub, reason)
    return None


def _why(e: sp.Expr, args: list, env) -> tuple[str, str]:
    if isinstance(e, sp.log):
        return "is undefined", f"log needs a positive argument; here it is {_num(args[0])}"
    if isinstance(e, sp.Pow):
        b, p = args
        if b == 0 and p < 0:
            return "is undefined", "division by zero"
        if b < 0 and not _isint(p):
            if e.exp == sp.S.Half or e.exp == -sp.S.Half:
                return "is undefined", f"a square root of a negative number, {_num(b)}"
            return "is undefined", f"a negative number, {_num(b)}, to the non-integer power {_num(p)}"
    return "overflows", f"its value, about {_magnitude(e, env)}, is beyond float64's 1.8e+308"


def check_point(expr: sp.Expr, point: Mapping[str, float], *, what: str = "") -> None:
    """DomainError naming the innermost undefined or overflowing subexpression of ``expr`` at ``point``."""
    p = locate(expr, point)
    if p is not None:
        raise DomainError(p.message(what))


def check_model(model, point: Mapping[str, float] | None = None) -> dict[str, float]:
    """The model's full point (``model.point(point)``), after checking its loss is defined there."""
    pt = model.point(point)
    if model.loss is not None:
        check_point(model.loss, pt)
    return pt


def check_value(value, expr: sp.Expr, env: Mapping, *, what: str, point: Mapping[str, float]) -> float:
    """``float(value)`` when it is a finite real; else DomainError naming where ``expr`` breaks.

    ``env`` maps the symbols of ``expr`` to their values (SymPy numbers or floats), ``point`` is
    the user's point, shown when the culprit cannot be pinned down.
    """
    try:
        c = complex(value)
        if abs(c.imag) <= 1e-300 * max(1.0, abs(c.real)) and math.isfinite(c.real):
            return c.real
    except (TypeError, ValueError, OverflowError):
        pass
    vals = {}
    for s, v in env.items():
        try:
            f = complex(v)
        except (TypeError, ValueError, OverflowError):
            continue
        if f.imag == 0 and math.isfinite(f.real):
            vals[getattr(s, "name", str(s))] = f.real
    p = locate(expr, vals)
    if p is not None:
        raise DomainError(p.message(f"{what}: "))
    at = ", ".join(f"{k} = {_num(v)}" for k, v in point.items())
    raise DomainError(f"{what} is undefined at {at} (its value is {value})")
