"""Fused NumPy replay (``codegen``): values and gradients equal the eager engine's."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk


def _ridge(w, b, x, y, lam):
    u = dk.sigmoid(w * x + b)
    return dk.mean(0.5 * (y - u) ** 2) + lam * w ** 2


def _close(got, want, rtol):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=0)


def _mlp(dtype, batch, rng):
    X = rng.normal(size=(batch, 7)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, batch)]
    args = [(rng.normal(size=(7, 6)) / 3).astype(dtype), np.full(6, 0.1, dtype),
            (rng.normal(size=(6, 5)) / 3).astype(dtype), np.zeros(5, dtype),
            (rng.normal(size=(5, 3)) / 3).astype(dtype), np.zeros(3, dtype)]
    return X, Y, args


def _mlp_loss(W1, b1, W2, b2, W3, b3, X, Y):
    a = dk.relu(X @ W1 + b1)
    a = dk.relu(a @ W2 + b2)
    return dk.softmax_cross_entropy(a @ W3 + b3, Y).mean()


def test_codegen_ridge_sigmoid_vectorised_matches_eager():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=200), rng.uniform(size=200)
    cg = dk.compile_gradient(dk.trace(_ridge, 0.5, -0.3, x, y, 0.1, wrt=("w", "b")))
    for w, b in [(0.5, -0.3), (2.0, 40.0), (-1.0, 3.0)]:
        value, grads = cg.call({"w": w, "b": b, "x": x, "y": y, "lam": 0.1})
        want_v, (dw, db) = dk.value_and_grad(_ridge, argnum=(0, 1))(w, b, x, y, 0.1)
        _close(value, want_v, 1e-12)
        _close(grads["w"], dw, 1e-12)
        _close(grads["b"], db, 1e-12)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_codegen_mlp_relu_softmax_ce_matches_eager_and_keeps_dtype(dtype, rtol):
    rng = np.random.default_rng(1)
    X, Y, args = _mlp(dtype, 16, rng)
    cg = dk.compile_gradient(dk.trace(_mlp_loss, *args, X, Y, wrt=tuple(range(6))))
    assert "out=" in cg.source
    value, grads = cg(*args, X, Y)
    want_v, want = dk.value_and_grad(_mlp_loss, argnum=tuple(range(6)))(*args, X, Y)
    _close(value, want_v, rtol)
    for g, w in zip(grads, want):
        assert g.dtype == dtype and g.shape == w.shape
        _close(g, w, rtol)


def test_codegen_new_inputs_and_batch_size_respecialise():
    rng = np.random.default_rng(2)
    X, Y, args = _mlp(np.float64, 16, rng)
    cg = dk.compile_gradient(dk.trace(_mlp_loss, *args, X, Y, wrt=tuple(range(6))))
    for batch in (16, 5, 33, 16):
        X2, Y2, args2 = _mlp(np.float64, batch, rng)
        value, grads = cg(*args2, X2, Y2)
        want_v, want = dk.value_and_grad(_mlp_loss, argnum=tuple(range(6)))(*args2, X2, Y2)
        _close(value, want_v, 1e-12)
        for g, w in zip(grads, want):
            _close(g, w, 1e-12)


def test_codegen_outputs_are_not_aliased_between_calls():
    rng = np.random.default_rng(3)
    X, Y, args = _mlp(np.float64, 8, rng)
    cg = dk.compile_gradient(dk.trace(_mlp_loss, *args, X, Y, wrt=tuple(range(6))))
    _, first = cg(*args, X, Y)
    kept = [g.copy() for g in first]
    _, second = cg(*[a * 1.5 for a in args], X, Y)
    for g, k, s in zip(first, kept, second):
        np.testing.assert_array_equal(g, k)
        assert not np.shares_memory(g, s)
    first[0][...] = 7.0  # mutating one call's result leaves the next call's alone
    _, third = cg(*args, X, Y)
    np.testing.assert_array_equal(third[0], kept[0])


def test_codegen_broadcast_bias_and_fan_out_accumulate():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(6, 4))

    def f(b, c):
        z = dk.tanh(A + b)        # bias broadcast over rows
        h = z * z + z * c         # z used three times: adjoints accumulate
        return dk.sum(dk.exp(-h) + h / (1.0 + c * c))
    b, c = rng.normal(size=4), rng.normal(size=(6, 1))
    cg = dk.compile_gradient(dk.trace(f, b, c))
    b2, c2 = rng.normal(size=4), rng.normal(size=(6, 1))
    value, grads = cg(b2, c2)
    want_v, want = dk.value_and_grad(f, argnum=(0, 1))(b2, c2)
    _close(value, want_v, 1e-12)
    for g, w in zip(grads, want):
        assert g.shape == w.shape
        _close(g, w, 1e-12)


def test_codegen_source_runs_standalone():
    rng = np.random.default_rng(5)
    X, Y, args = _mlp(np.float64, 8, rng)

    def closed(W1, b1, W2, b2, W3, b3):  # X, Y enter as constants
        return _mlp_loss(W1, b1, W2, b2, W3, b3, X, Y)
    cg = dk.compile_gradient(dk.trace(closed, *args))
    ns: dict = {}
    exec(cg.source, ns)
    value, grads = ns["make_gradient"](*cg.constants)(*args)
    want_v, want = cg(*args)
    assert value == want_v
    for g, w in zip(grads, want):
        np.testing.assert_array_equal(g, w)


def test_replayed_sigmoid_gradient_stays_finite_far_in_the_tails():
    import diffkit.engine as dk

    def loss(w, b, x, y, lam):
        u = dk.sigmoid(w * x + b)
        return dk.mean(0.5 * (y - u) ** 2) + lam * w ** 2

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=50), rng.uniform(size=50)
    g = dk.trace(loss, 0.5, -0.3, x, y, 0.1, wrt=("w", "b"))
    cg = dk.compile_gradient(g)
    for b in (-1000.0, -750.0, 750.0, 1000.0):
        value, grads = cg.call({"w": 0.5, "b": b, "x": x, "y": y, "lam": 0.1})
        want_value, want = dk.value_and_grad(loss, argnum=(0, 1))(0.5, b, x, y, 0.1)
        assert np.isfinite(value) and all(np.isfinite(float(v)) for v in grads.values())
        assert float(value) == pytest.approx(float(want_value), rel=1e-12)
        assert float(grads["w"]) == pytest.approx(float(want[0]), rel=1e-12, abs=1e-300)
        assert float(grads["b"]) == pytest.approx(float(want[1]), rel=1e-12, abs=1e-300)
