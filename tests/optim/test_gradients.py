import numpy as np
import pytest

from diffkit import builtin
from diffkit.optim import Objective, SymbolicGradient, make_data, solve_optimum
from diffkit.optim.engine_source import EngineGradient


def test_linear_matrix_gradient_equals_the_normal_equation_residual(lr_small):
    model, ds = lr_small
    src = SymbolicGradient(model, ds)
    assert src.form == "matrix" and src.least_squares
    w = np.linspace(-1, 1, 4)
    assert np.allclose(src.grad_sum(w), ds.X.T @ (ds.X @ w - ds.y), rtol=1e-13)
    idx = np.array([3, 3, 10])
    Xb, yb = ds.X[idx], ds.y[idx]
    assert np.allclose(src.grad_sum(w, idx), Xb.T @ (Xb @ w - yb), rtol=1e-13)
    assert np.isclose(src.loss_sum(w), 0.5 * np.sum((ds.y - ds.X @ w) ** 2), rtol=1e-13)


def test_logistic_matrix_gradient_uses_a_bias_column(logit_small):
    model, ds = logit_small
    src = SymbolicGradient(model, ds)
    assert src.form == "matrix" and not src.least_squares
    w = np.array([0.3, -0.2, 0.5, 0.1])  # w1..w3, b
    z = ds.X @ w[:3] + w[3]
    s = 1 / (1 + np.exp(-z))
    assert np.allclose(src.grad_sum(w), np.append(ds.X.T @ (s - ds.y), np.sum(s - ds.y)), rtol=1e-12)
    assert np.isclose(src.loss_sum(w), np.sum(np.log1p(np.exp(z)) - ds.y * z), rtol=1e-12)


@pytest.mark.parametrize("kind", ["linear-regression", "logistic-regression"])
def test_matrix_sample_and_engine_sources_agree(kind):
    ds = make_data(kind, n=40, d=3, seed=5)
    model = builtin(kind, d=3)
    w = np.random.default_rng(0).uniform(-1, 1, len(model.params))
    idx = np.array([0, 7, 7, 39])
    mat, per = SymbolicGradient(model, ds), SymbolicGradient(model, ds, form="sample")
    eng = EngineGradient(model, ds)
    for i in (None, idx):
        ref = mat.grad_sum(w, i)
        assert np.allclose(per.grad_sum(w, i), ref, rtol=1e-12, atol=1e-12)
        assert np.allclose(eng.grad_sum(w, i), ref, rtol=1e-12, atol=1e-12)


def test_model_without_matrix_form_uses_per_sample_gradient():
    model = builtin("ridge-sigmoid")  # params w, b; data x, y; hyper lam = 0.1
    rng = np.random.default_rng(1)
    from diffkit.optim import Dataset
    ds = Dataset(rng.uniform(-2, 2, (25, 1)), rng.uniform(0, 1, 25), ("x",))
    src = SymbolicGradient(model, ds)
    assert src.form == "sample"
    w, b = 0.4, -0.2
    x, y = ds.X[:, 0], ds.y
    s = 1 / (1 + np.exp(-(w * x + b)))
    # the lecture's closed form: ∂L/∂w = (σ − y)σ′x + 2λw, ∂L/∂b = (σ − y)σ′
    gw = np.sum((s - y) * s * (1 - s) * x + 2 * 0.1 * w)
    gb = np.sum((s - y) * s * (1 - s))
    assert np.allclose(src.grad_sum(np.array([w, b])), [gw, gb], rtol=1e-12)


def test_flops_follow_the_documented_convention(lr_small, logit_small):
    model, ds = lr_small
    src = SymbolicGradient(model, ds)
    n, d = ds.n, ds.d
    assert src.flops(n) == 2 * n * d + 2 * n + d
    assert src.flops(1) == 2 * d + 2 + d
    model, ds = logit_small
    src = SymbolicGradient(model, ds)
    p = ds.d + 1
    # Xw (n·p) + σ (n) + y·(−1) (n) + sum (n) + Xᵀ(·) (n·p)
    assert src.flops(ds.n) == 2 * ds.n * p + 3 * ds.n


def test_optimum_least_squares_and_ridge(lr_small):
    model, ds = lr_small
    src = SymbolicGradient(model, ds)
    opt = solve_optimum(Objective(src, 0.0))
    w_ne = np.linalg.solve(ds.X.T @ ds.X, ds.X.T @ ds.y)
    assert np.allclose(opt.params, w_ne, rtol=1e-10)
    lam = 0.3
    opt = solve_optimum(Objective(src, lam))
    w_ridge = np.linalg.solve(ds.X.T @ ds.X + lam * ds.n * np.eye(ds.d), ds.X.T @ ds.y)
    assert np.allclose(opt.params, w_ridge, rtol=1e-10)


def test_optimum_logistic_is_a_stationary_point(logit_small):
    model, ds = logit_small
    obj = Objective(SymbolicGradient(model, ds), 0.0)
    opt = solve_optimum(obj)
    w = np.array(opt.params)
    A = np.hstack([ds.X, np.ones((ds.n, 1))])
    g = A.T @ (1 / (1 + np.exp(-A @ w)) - ds.y) / ds.n
    assert np.linalg.norm(g) < 1e-12
    # and it is a minimum: nearby points are worse
    for e in np.eye(4) * 1e-3:
        assert obj.loss(w + e) > opt.loss and obj.loss(w - e) > opt.loss
