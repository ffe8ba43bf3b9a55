"""The one home of diffkit's numerically stable formulas for σ, σ′, softplus and log σ.

Everything that evaluates these numbers — the engine's primitives and rules, replay and code
generation, the SymPy→NumPy bridge (``symbolic/numeric.py``) — calls the functions here, so
there is exactly one NumPy formula (and one Python-float formula) for each.

* σ(z) = 1/(1 + e^(−z)).  For z ≪ 0, e^(−z) overflows to inf and 1/inf = 0 is the right limit
  (the warning is silenced); for z ≫ 0 the result rounds to 1 with full relative accuracy.
  (½(1 + tanh(z/2)) would lose the lower tail: at z = −40 it gives 0 instead of 4.2e-18.)
* σ′(z) = σ(z)·σ(−z) = σ(z)/(1 + e^z).  Not σ(1 − σ): 1 − σ(z) cancels to 0 for z ≫ 0
  (σ′(40) ≈ 4.2e-18 would come out as 0), while 1/(1 + e^z) keeps full relative accuracy in
  both tails (e^z = inf for z > 709 gives the right limit 0).
* softplus(z) = log(1 + e^z) = logaddexp(0, z); log σ(z) = −softplus(−z).

All NumPy functions accept complex input (the complex-step check) and ``out=`` buffers.

>>> float(sigmoid(np.float64(-40.0)))
4.248354255291589e-18
>>> float(sigmoid_prime(np.float64(40.0)))
4.248354255291589e-18
>>> sigmoid_float(-800.0), sigmoid_prime_float(800.0)
(0.0, 0.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["sigmoid", "sigmoid_prime", "softplus", "log_sigmoid", "sigmoid_float", "sigmoid_prime_float",
           "softplus_float"]


def sigmoid(z: Any, out: np.ndarray | None = None) -> Any:
    """σ(z) = 1/(1 + e^(−z)), accurate in both tails; ``out`` is an optional result buffer."""
    with np.errstate(over="ignore"):
        if out is None or np.ndim(z) == 0:
            return 1.0 / (1.0 + np.exp(-z))
        t = np.negative(z, out=out)
        np.exp(t, out=t)
        t += 1.0
        return np.divide(1.0, t, out=t)  # the same correctly rounded 1/t; twice as fast as np.reciprocal


def sigmoid_prime(z: Any, s: Any = None, out: np.ndarray | None = None) -> Any:
    """σ′(z) = σ(z)/(1 + e^z); ``s`` is σ(z) when already computed, ``out`` a result buffer."""
    if s is None:
        s = sigmoid(z)
    with np.errstate(over="ignore"):
        if out is None or np.ndim(z) == 0:
            return s / (1.0 + np.exp(z))
        t = np.exp(z, out=out)
        t += 1.0
        return np.divide(s, t, out=t)


def sigmoid_and_exp(z: np.ndarray, out: np.ndarray | None = None, t_out: np.ndarray | None = None):
    """(σ(z), t) with t = e^(−z): σ exactly as :func:`sigmoid` computes it, and the exponential kept
    so that σ′ needs no second one (:func:`sigmoid_prime_from_exp`)."""
    with np.errstate(over="ignore"):
        t = np.negative(z, out=t_out)
        np.exp(t, out=t)
        s = np.add(t, 1.0, out=out)
        return np.divide(1.0, s, out=s), t


def sigmoid_prime_from_exp(t: np.ndarray, s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """σ′(z) = (t·σ(z))·σ(z) from t = e^(−z): the same value as σ(z)/(1 + e^z) without cancellation;
    where t = inf (z below about −709 in float64, −88.7 in float32, where σ(z) = 0) it is 0, not
    inf·0 = nan.  ``out`` may be t itself (σ′ then replaces the exponential), not σ.

    Two passes: t·σ, then ·σ.  Only where the first met inf·0 (NumPy's "invalid" flag says so;
    nothing else in a product of t ≥ 0 and σ raises it) is the product set to 0, and those are
    exactly the places where σ = 0 (σ = 1/(1 + t) is 0 only for t = inf).
    """
    if out is None:
        out = np.empty(np.broadcast_shapes(np.shape(t), np.shape(s)), np.result_type(t, s))
    try:
        with np.errstate(invalid="raise"):
            np.multiply(t, s, out=out)
    except FloatingPointError:
        np.copyto(out, 0.0, where=np.equal(s, 0))
    out *= s
    return out


def softplus(z: Any) -> Any:
    """log(1 + e^z), stable for real input; the analytic formula for complex input."""
    if np.iscomplexobj(z):
        return np.log1p(np.exp(z))
    return np.logaddexp(0.0, z)


def log_sigmoid(z: Any) -> Any:
    """log σ(z) = −softplus(−z), stable for large |z|."""
    return -softplus(-z)


def sigmoid_float(z: float, _exp=math.exp) -> float:
    """σ(z) on a Python float without overflow: ``math.exp`` raises above ~709, so the exponent
    is kept non-positive (e^z/(1 + e^z) for z < 0).  (``_exp``: a local name, not a global lookup,
    on a path replayed gradients take once per call.)"""
    if z >= 0.0:
        return 1.0 / (1.0 + _exp(-z))
    e = _exp(z)
    return e / (1.0 + e)


def sigmoid_prime_float(z: float, _exp=math.exp) -> float:
    """σ′(z) = e^(−|z|)/(1 + e^(−|z|))² on a Python float (the same value as σ(z)/(1 + e^z),
    with the exponent kept non-positive so that ``math.exp`` never overflows)."""
    e = _exp(-abs(z))
    return e / ((1.0 + e) * (1.0 + e))


def softplus_float(z: float) -> float:
    """log(1 + e^z) on a Python float without overflow."""
    return z + math.log1p(math.exp(-z)) if z > 0.0 else math.log1p(math.exp(z))
