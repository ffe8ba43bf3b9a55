"""Scalar functions and their higher derivatives (the patterns of HIPS/autograd's
tests/test_scalar_ops.py, in diffkit's words): for every differentiable elementwise function,
``3·f(x)`` and its first and second derivatives agree with central differences (so derivatives up
to the third order are checked), and value, f′ and f″ agree with torch where it is installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit.engine as dk
from npcheck import check_grads, torch

T = None if torch is None else torch
F = None if torch is None else torch.nn.functional

#: name → (diffkit function, torch function or None, two points inside its domain, away from kinks)
UNARY = {
    "abs": (dk.abs, lambda x: T.abs(x), (1.1, -1.1)),
    "fabs": (dk.fabs, lambda x: T.abs(x), (0.7, -1.3)),
    "sign": (dk.sign, lambda x: T.sign(x), (1.1, -1.1)),
    "neg": (lambda x: -x, lambda x: -x, (0.4, -1.6)),
    "exp": (dk.exp, lambda x: T.exp(x), (0.3, -1.2)),
    "log": (dk.log, lambda x: T.log(x), (0.4, 2.3)),
    "sqrt": (dk.sqrt, lambda x: T.sqrt(x), (0.4, 2.3)),
    "sin": (dk.sin, lambda x: T.sin(x), (0.3, -2.1)),
    "cos": (dk.cos, lambda x: T.cos(x), (0.3, -2.1)),
    "tan": (dk.tan, lambda x: T.tan(x), (0.3, -1.1)),
    "sinh": (dk.sinh, lambda x: T.sinh(x), (0.3, -1.7)),
    "cosh": (dk.cosh, lambda x: T.cosh(x), (0.3, -1.7)),
    "tanh": (dk.tanh, lambda x: T.tanh(x), (0.3, -1.7)),
    "arcsin": (dk.arcsin, lambda x: T.asin(x), (0.3, -0.8)),
    "arccos": (dk.arccos, lambda x: T.acos(x), (0.3, -0.8)),
    "arctan": (dk.arctan, lambda x: T.atan(x), (0.3, -2.5)),
    "arcsinh": (dk.arcsinh, lambda x: T.asinh(x), (0.3, -2.5)),
    "arccosh": (dk.arccosh, lambda x: T.acosh(x), (1.2, 3.5)),
    "arctanh": (dk.arctanh, lambda x: T.atanh(x), (0.3, -0.8)),
    "log1p": (dk.log1p, lambda x: T.log1p(x), (0.3, -0.6)),
    "expm1": (dk.expm1, lambda x: T.expm1(x), (0.3, -1.6)),
    "log2": (dk.log2, lambda x: T.log2(x), (0.4, 2.3)),
    "log10": (dk.log10, lambda x: T.log10(x), (0.4, 2.3)),
    "exp2": (dk.exp2, lambda x: T.exp2(x), (0.4, -2.3)),
    "reciprocal": (dk.reciprocal, lambda x: T.reciprocal(x), (0.4, -2.3)),
    "cbrt": (dk.cbrt, lambda x: T.sign(x) * T.abs(x) ** (1.0 / 3.0), (0.4, -2.3)),
    "square": (dk.square, lambda x: T.square(x), (0.4, -2.3)),
    "deg2rad": (dk.deg2rad, lambda x: T.deg2rad(x), (30.0, -45.0)),
    "rad2deg": (lambda x: dk.rad2deg(x) / 50.0, lambda x: T.rad2deg(x) / 50.0, (0.4, -2.3)),
    "sinc": (dk.sinc, lambda x: T.sinc(x), (0.37, -1.6)),
    "sigmoid": (dk.sigmoid, lambda x: T.sigmoid(x), (0.4, -2.3)),
    "softplus": (dk.softplus, lambda x: F.softplus(x), (0.4, -2.3)),
    "log_sigmoid": (dk.log_sigmoid, lambda x: F.logsigmoid(x), (0.4, -2.3)),
    "relu": (dk.relu, lambda x: T.relu(x), (0.4, -2.3)),
    "floor": (dk.floor, lambda x: T.floor(x), (0.4, -2.3)),
    "ceil": (dk.ceil, lambda x: T.ceil(x), (0.4, -2.3)),
    "trunc": (dk.trunc, lambda x: T.trunc(x), (0.4, -2.3)),
    "rint": (dk.rint, lambda x: T.round(x), (0.4, -2.3)),
    "step": (dk.step, None, (0.4, -2.3)),
    "power_2.5": (lambda x: x ** 2.5, lambda x: x ** 2.5, (0.4, 2.3)),
}

CASES = [(name, k) for name in UNARY for k in range(2)]


@pytest.mark.parametrize("name,k", CASES)
def test_third_derivatives_match_central_differences(name, k):
    f, _, points = UNARY[name]
    check_grads(lambda x: 3.0 * f(x), points[k], order=3, what=name)


@pytest.mark.skipif(torch is None, reason="torch is not installed (an optional oracle)")
@pytest.mark.parametrize("name,k", [c for c in CASES if UNARY[c[0]][1] is not None])
def test_value_and_two_derivatives_match_torch(name, k):
    f, tf, points = UNARY[name]
    x0 = points[k]
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    y = 3.0 * tf(x)
    (d1,) = torch.autograd.grad(y, x, create_graph=True)
    d2 = torch.autograd.grad(d1, x, allow_unused=True)[0] if d1.requires_grad else None
    d2 = 0.0 if d2 is None else d2.item()
    g = lambda x: 3.0 * f(x)  # noqa: E731
    assert float(g(x0)) == pytest.approx(y.item(), rel=1e-13, abs=1e-15)
    assert float(dk.grad(g)(x0)) == pytest.approx(d1.item(), rel=1e-12, abs=1e-14)
    assert float(dk.grad(dk.grad(g))(x0)) == pytest.approx(d2, rel=1e-10, abs=1e-12)


def test_sinc_derivatives_at_zero_are_exact():
    # sinc′(0) = 0, sinc″(0) = −π²/3, sinc‴(0) = 0, sinc⁗(0) = π⁴/5: the Taylor branch of the rule
    d = [dk.sinc]
    for _ in range(4):
        d.append(dk.grad(d[-1]))
    assert [float(fn(0.0)) for fn in d] == pytest.approx([1.0, 0.0, -math.pi ** 2 / 3, 0.0, math.pi ** 4 / 5],
                                                          rel=1e-12, abs=1e-12)
    # and just outside the Taylor branch the closed form agrees with it
    for x in (0.0099, 0.0101):
        want = (math.cos(math.pi * x) - math.sin(math.pi * x) / (math.pi * x)) / x
        assert float(dk.grad(dk.sinc)(x)) == pytest.approx(want, rel=1e-9)


def test_powers_at_zero_are_finite():
    # d/dx x**3 at 0 is 0, and d/dp 0**p is its limit 0 (not 0·log 0 = nan)
    assert float(dk.grad(lambda x: x ** 3.0)(0.0)) == 0.0
    assert float(dk.grad(lambda p: 0.0 ** p, 0)(2.0)) == 0.0


def test_flat_functions_have_zero_derivatives_of_every_order():
    for f in (dk.floor, dk.ceil, dk.trunc, dk.rint, dk.round, dk.sign, dk.step):
        assert float(dk.grad(f)(0.4)) == 0.0
        assert float(dk.grad(lambda x: x * f(x))(1.4)) == float(f(1.4))
