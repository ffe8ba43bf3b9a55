"""Independent numerical oracles for the tests: finite differences, complex step, relative errors."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import sympy as sp


def mp_value(expr: sp.Expr, subs: Mapping[sp.Symbol, float], digits: int = 30) -> float:
    """``expr`` evaluated by SymPy/mpmath at ``digits`` significant digits (independent of NumPy)."""
    return float(sp.N(expr.subs(subs), digits))


def central_diff(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Gradient by the 4-point central difference (Richardson): error O(h⁴), rounding O(ε/h)."""
    x = np.asarray(x, dtype=float)
    g = np.empty_like(x)
    for i in range(x.size):
        hi = h * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = hi
        g[i] = (8 * (f(x + e) - f(x - e)) - (f(x + 2 * e) - f(x - 2 * e))) / (12 * hi)
    return g


def complex_step(f: Callable[[np.ndarray], complex], x: np.ndarray, h: float = 1e-30) -> np.ndarray:
    """Gradient by the complex step Im f(x + ih e_i)/h: no cancellation, exact to rounding."""
    x = np.asarray(x, dtype=complex)
    g = np.empty(x.size)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = 1j * h
        g[i] = np.imag(f(x + e)) / h
    return g


def rel_err(a, b) -> float:
    """Norm-wise relative error ‖a − b‖ / ‖b‖ (absolute when b = 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nb = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / (nb if nb > 0 else 1.0))
