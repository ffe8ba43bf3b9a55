import numpy as np
import pytest

from diffkit import builtin
from diffkit.optim import (Objective, RunConfig, Schedule, SymbolicGradient, fit_slope, linear_rate, make_data,
                           quadratic_constants, run, study)
from diffkit.optim.engine_source import EngineGradient
from diffkit.optim.fastpath import sgd_least_squares


def test_gd_reaches_the_normal_equation_solution(lr_small):
    model, ds = lr_small
    mu, L = quadratic_constants(ds.X)
    res = study(model, ds, methods=["gd"], schedule="constant", C=1.0 / L, epochs=2000, gtol=1e-13,
                timing=False)
    r = res.runs[0]
    w_ne = np.linalg.solve(ds.X.T @ ds.X, ds.X.T @ ds.y)
    assert r.status == "converged"
    assert np.linalg.norm(np.array(r.params) - w_ne) <= 1e-8 * np.linalg.norm(w_ne)
    assert abs(r.final.excess_loss) < 1e-12


def test_gd_linear_rate_matches_theory():
    ds = make_data(n=400, d=4, noise=0.5, seed=11, condition=10.0)
    mu, L = quadratic_constants(ds.X)
    res = study(builtin("linear-regression", d=4), ds, methods=["gd"], schedule="constant", C=1.0 / L,
                epochs=60, gtol=0.0, timing=False)
    rho = linear_rate(res.runs[0])
    # the bound (1 − μ/L)^k holds, and on a quadratic the loss contracts by (1 − μ/L)² asymptotically
    assert rho <= 1 - mu / L
    assert abs(rho - (1 - mu / L) ** 2) < 0.05
    excess = [h.excess_loss for h in res.runs[0].history]
    e0 = excess[0]
    for h in res.runs[0].history:
        assert h.excess_loss <= (1 - mu / L) ** h.iteration * e0 * (1 + 1e-9) + 1e-14


def test_sgd_with_c_over_k_has_slope_minus_one():
    ds = make_data(n=1000, d=5, noise=1.0, seed=3)
    res = study(builtin("linear-regression", d=5), ds, methods=["sgd"], schedule="c/k", C=1.0, epochs=20,
                seeds=range(5), timing=False, history_points=60)
    slopes = [fit_slope([h.iteration for h in r.history], [h.excess_loss for h in r.history], start=ds.n)
              for r in res.runs]
    assert -1.3 <= float(np.median(slopes)) <= -0.7, slopes


@pytest.mark.parametrize("method", ["gd", "sgd", "minibatch"])
@pytest.mark.parametrize("kind", ["linear-regression", "logistic-regression"])
def test_symbolic_and_engine_iterates_agree(kind, method):
    ds = make_data(kind, n=120, d=3, noise=0.3, seed=4)
    model = builtin(kind, d=3)
    kw = dict(methods=[method], schedule="c/sqrt(k)", C=0.3, lam=0.01, epochs=3, batch=7, seeds=[5],
              timing=False, gtol=0.0)
    a = study(model, ds, gradient="symbolic", **kw).runs[0]
    b = study(model, ds, gradient="engine", **kw).runs[0]
    assert b.gradient == "engine" and a.gradient == "symbolic"
    scale = max(1.0, np.max(np.abs(a.params)))
    assert np.max(np.abs(np.subtract(a.params, b.params))) <= 1e-12 * scale
    assert [h.iteration for h in a.history] == [h.iteration for h in b.history]
    assert np.allclose([h.loss for h in a.history], [h.loss for h in b.history], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("lam", [0.0, 0.05])
def test_fast_path_gives_the_per_sample_iterates(lam):
    ds = make_data(n=500, d=6, noise=0.5, seed=9)
    model = builtin("linear-regression", d=6)
    kw = dict(methods=["sgd"], schedule="c/k", C=0.1, lam=lam, epochs=2, seeds=[1], timing=False, gtol=0.0)
    fast = study(model, ds, fast=True, **kw).runs[0]
    slow = study(model, ds, fast=False, **kw).runs[0]
    assert np.allclose(fast.params, slow.params, rtol=1e-11, atol=1e-13)
    assert fast.final.flops == slow.final.flops and fast.final.sample_gradients == slow.final.sample_gradients


def test_fast_path_against_a_hand_written_loop():
    rng = np.random.default_rng(0)
    A, y = rng.standard_normal((300, 5)), rng.standard_normal(300)
    idx = rng.integers(0, 300, 300)
    alphas = 0.2 / np.sqrt(np.arange(1, 301))
    w = np.zeros(5)
    for i, a in zip(idx, alphas):
        w = w - a * ((A[i] @ w - y[i]) * A[i])
    got = sgd_least_squares(np.zeros(5), A, y, idx, alphas, 0.0, block=37)
    assert np.allclose(got, w, rtol=1e-12, atol=1e-14)


def test_same_seed_same_iterates_other_seed_differs(lr_small):
    model, ds = lr_small
    kw = dict(methods=["sgd", "minibatch"], epochs=2, timing=False)
    a = study(model, ds, seeds=[3], **kw)
    b = study(model, ds, seeds=[3], **kw)
    c = study(model, ds, seeds=[4], **kw)
    assert a.to_dict() == b.to_dict()
    assert a.runs[0].params != c.runs[0].params


def test_lecture_sgd_with_replacement_is_reproduced_exactly(lr_small):
    """Seeded indices i ~ U{1..n}, α_k = C/k, w₀ = 0, w ← w + α_k (yᵢ − ⟨w, xᵢ⟩) xᵢ."""
    model, ds = lr_small
    C, epochs = 0.05, 2
    r = study(model, ds, methods=["sgd"], schedule="c/k", C=C, epochs=epochs, seeds=[8], timing=False,
              fast=False, gtol=0.0).runs[0]
    rng = np.random.default_rng(8)
    w, k = np.zeros(ds.d), 0
    for _ in range(epochs):
        for i in rng.integers(0, ds.n, ds.n):
            k += 1
            w = w + (C / k) * (ds.y[i] - ds.X[i] @ w) * ds.X[i]
    assert np.allclose(r.params, w, rtol=1e-13, atol=1e-15)


def test_shuffle_visits_every_sample_once_per_epoch(lr_small):
    model, ds = lr_small

    class Spy:
        name, least_squares = "spy", False

        def __init__(self):
            self.inner, self.seen = SymbolicGradient(model, ds), []

        def grad_sum(self, w, idx=None):
            self.seen.extend(idx.tolist())
            return self.inner.grad_sum(w, idx)

    spy = Spy()
    cfg = RunConfig("minibatch", Schedule("constant", C=0.01), epochs=2, batch=32, sampling="shuffle", gtol=0.0)
    r = run(spy, Objective(spy.inner, 0.0), cfg, seed=0, optimum_loss=0.0, param_names=model.wrt)
    assert sorted(spy.seen[:ds.n]) == list(range(ds.n)) and sorted(spy.seen[ds.n:]) == list(range(ds.n))
    assert r.final.iteration == 2 * -(-ds.n // 32) and r.final.sample_gradients == 2 * ds.n


def test_cost_accounting(lr_small):
    model, ds = lr_small
    res = study(model, ds, methods=["gd", "sgd", "minibatch"], epochs=3, batch=64, timing=True, gtol=0.0)
    gd, sgd, mb = res.runs
    n, d = ds.n, ds.d
    assert (gd.final.iteration, gd.final.sample_gradients, gd.final.flops) == (3, 3 * n, 3 * (2 * n * d + 2 * n + d))
    assert (sgd.final.iteration, sgd.final.sample_gradients, sgd.final.flops) == (3 * n, 3 * n, 3 * n * (3 * d + 2))
    steps = -(-n // 64)
    last = n - (steps - 1) * 64
    per_epoch = (steps - 1) * (2 * 64 * d + 2 * 64 + d) + (2 * last * d + 2 * last + d)
    assert (mb.final.iteration, mb.final.flops) == (3 * steps, 3 * per_epoch)
    for r in res.runs:
        it = [h.iteration for h in r.history]
        assert it == sorted(set(it)) and it[0] == 0
        ends = {h.epoch for h in r.history}
        assert {1.0, 2.0, 3.0} <= ends
        times = [h.time_s for h in r.history]
        assert all(t is not None and t >= 0 for t in times) and times == sorted(times)


def test_divergence_is_reported_cleanly(lr_small):
    model, ds = lr_small
    mu, L = quadratic_constants(ds.X)
    res = study(model, ds, methods=["gd", "sgd"], schedule="constant", C={"gd": 2.5 / L, "sgd": 0.01}, epochs=200,
                timing=False, gtol=0.0)
    gd, sgd = res.runs
    assert gd.status == "diverged"
    assert f"at iteration {gd.final.iteration}" in gd.message and "loss" in gd.message
    f0 = gd.history[0].loss
    # GD with 2.5/L is worse than its start after the first step: it stops there, with a hint
    assert gd.final.loss > f0 and gd.final.iteration == 1
    assert "lower the step size" in gd.hint and f"{gd.C / 10:.3g}" in gd.hint
    assert sgd.status != "diverged" and sgd.hint == ""  # the study completes the other runs


def test_divergence_to_non_finite_values():
    ds = make_data(n=200, d=3, seed=0)
    cfg = RunConfig("sgd", Schedule("constant", C=50.0), epochs=5, diverge_factor=1e300, gtol=0.0)
    src = SymbolicGradient(builtin("linear-regression", d=3), ds)
    r = run(src, Objective(src, 0.0), cfg, seed=0, optimum_loss=0.0, param_names=("w1", "w2", "w3"))
    assert r.status == "diverged" and "diverged at iteration" in r.message
    assert not np.isfinite(r.final.loss) or r.final.loss > 1e300


@pytest.mark.parametrize("lam", [0.0, 0.2])
@pytest.mark.parametrize("block,chunk", [(1, 1), (3, 2), (16, 4), (7, 1000)])
def test_blocked_sgd_matches_the_loop_across_blocks_and_chunks(lam, block, chunk):
    rng = np.random.default_rng(2)
    A, y = rng.standard_normal((90, 6)), rng.standard_normal(90)
    idx = rng.integers(0, 90, 211)  # with replacement: repeated rows inside a block
    alphas = 0.05 / np.arange(1, 212)
    w0 = rng.standard_normal(6)
    keep, w = w0.copy(), w0.copy()
    for i, a in zip(idx, alphas):
        w = w - a * ((A[i] @ w - y[i]) * A[i] + lam * w)
    got = sgd_least_squares(w0, A, y, idx, alphas, lam, block=block, chunk=chunk)
    assert np.allclose(got, w, rtol=1e-12, atol=1e-14)
    assert np.array_equal(w0, keep)  # the start is not modified


def test_blocked_sgd_with_a_step_that_zeroes_the_iterate():
    rng = np.random.default_rng(3)
    A, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    idx, alphas = rng.permutation(40), np.full(40, 0.5)  # α λ = 1: the scaling trick cannot be used
    w = np.zeros(3)
    for i, a in zip(idx, alphas):
        w = w - a * ((A[i] @ w - y[i]) * A[i] + 2.0 * w)
    assert np.allclose(sgd_least_squares(np.zeros(3), A, y, idx, alphas, 2.0, block=4, chunk=2), w,
                       rtol=1e-12, atol=1e-14)


def test_blocked_sgd_rejects_out_of_range_indices():
    A, y = np.ones((5, 2)), np.ones(5)
    with pytest.raises(IndexError, match=r"\[0, 5\)"):
        sgd_least_squares(np.zeros(2), A, y, np.array([0, 5]), np.ones(2), 0.0)


@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_fast_gd_gives_the_plain_gd_iterates(lam):
    ds = make_data(n=400, d=5, noise=0.5, seed=6)
    kw = dict(methods=["gd"], schedule="constant", C=0.05, lam=lam, epochs=30, seeds=[0], timing=False, gtol=0.0)
    model = builtin("linear-regression", d=5)
    fast = study(model, ds, fast=True, **kw).runs[0]
    slow = study(model, ds, fast=False, **kw).runs[0]
    assert np.allclose(fast.params, slow.params, rtol=1e-12, atol=1e-14)
    assert [h.loss for h in fast.history] == pytest.approx([h.loss for h in slow.history], rel=1e-12)
