"""micrograd's engine tests (karpathy/micrograd, test/test_engine.py) in diffkit's words.

The published numbers are reproduced exactly: the sanity check gives y = −20 and dy/dx = 46 at
x = −4; the "more ops" expression gives g = 24.7041, ∂g/∂a = 138.8338, ∂g/∂b = 645.5773 (the
values in micrograd's README).  Where torch is installed the same expressions run there too.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk
from npcheck import check_grads, torch


def sanity(x):
    z = 2 * x + 2 + x
    q = dk.relu(z) + z * x
    h = dk.relu(z * z)
    return h + q + q * x


def more_ops(a, b, relu=dk.relu):
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + relu(b + a)
    d = d + 3 * d + relu(b - a)
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def test_sanity_check_published_values():
    y, dx = dk.value_and_grad(sanity)(-4.0)
    assert float(y) == -20.0 and float(dx) == 46.0


def test_more_ops_published_values():
    g, (da, db) = dk.value_and_grad(more_ops, (0, 1))(-4.0, 2.0)
    assert abs(float(g) - 24.7041) < 1e-4
    assert abs(float(da) - 138.8338) < 1e-4 and abs(float(db) - 645.5773) < 1e-4
    # exactly: g = f/2 + 10/f with e = c − d, as rational numbers
    a, b = -4.0, 2.0
    assert float(g) == pytest.approx(more_ops(a, b, relu=lambda t: max(t, 0.0)), rel=1e-15)


def test_more_ops_against_central_differences_and_second_order():
    check_grads(more_ops, -4.0, 2.0, order=2)
    check_grads(sanity, -4.0, order=2)


def test_unary_functions_at_micrograd_points():
    # micrograd's extra unary checks (tanh, exp at −1, 0.123, 2), with their second derivatives
    for x in (-1.0, 0.123, 2.0):
        for f, d1, d2 in [(dk.tanh, 1 - np.tanh(x) ** 2, -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
                          (dk.exp, np.exp(x), np.exp(x))]:
            assert float(dk.grad(f)(x)) == pytest.approx(d1, rel=1e-14)
            assert float(dk.grad(dk.grad(f))(x)) == pytest.approx(d2, rel=1e-13)


@pytest.mark.skipif(torch is None, reason="torch is not installed (an optional oracle)")
def test_against_torch():
    for fn, args in [(sanity, (-4.0,)), (more_ops, (-4.0, 2.0)), (more_ops, (0.7, -1.3))]:
        ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
        out = fn(*ts, relu=torch.relu) if fn is more_ops else _torch_sanity(*ts)
        out.backward()
        val, grads = dk.value_and_grad(fn, tuple(range(len(args))))(*args)
        assert float(val) == pytest.approx(out.item(), rel=1e-14)
        for g, t in zip(grads, ts):
            assert float(g) == pytest.approx(t.grad.item(), rel=1e-13)


def _torch_sanity(x):
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    return h + q + q * x
