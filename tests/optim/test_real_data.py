"""Training on the bundled real data sets, with the defaults, against independent oracles
(normal equations by numpy.linalg.lstsq; scikit-learn where installed)."""

import json

import numpy as np
import pytest

from diffkit import builtin
from diffkit.cli import main
from diffkit.datasets import load
from diffkit.optim import fit_slope, study
from diffkit.optim.data import as_classes
from diffkit.optim.prepare import prepare


@pytest.fixture(scope="module")
def diabetes_study():
    p = prepare(load("diabetes"), val=0.2, test=0.2, seed=0, standardize=True, intercept=True)
    res = study(builtin("linear-regression", d=p.train.d), p.train, val=p.val, test=p.test, seeds=range(10),
                timing=False)
    return p, res


def test_bundled_data_match_scikit_learn():
    skd = pytest.importorskip("sklearn.datasets")
    for name, loader in (("diabetes", lambda: skd.load_diabetes(scaled=False)), ("breast-cancer", skd.load_breast_cancer),
                         ("digits", skd.load_digits)):
        ours, theirs = load(name), loader()
        assert np.array_equal(ours.X, theirs.data) and np.array_equal(ours.y, theirs.target), name


def test_diabetes_defaults_gd_reaches_the_normal_equations(diabetes_study):
    p, res = diabetes_study
    A, y = np.asarray(p.train.X), np.asarray(p.train.y)
    assert np.allclose(A[:, :-1].mean(axis=0), 0) and np.all(A[:, -1] == 1)  # standardised, with intercept
    w = np.linalg.lstsq(A, y, rcond=None)[0]
    f_star = 0.5 * np.mean((A @ w - y) ** 2)
    assert res.optimum_loss == pytest.approx(f_star, rel=1e-12)
    for r in res.by_method()["gd"]:
        excess = r.final.loss - f_star
        assert excess <= 1e-6 * f_star and r.relative_excess() <= 1e-6
        assert np.allclose(r.params, w, rtol=1e-3, atol=1e-6 * np.abs(w).max())


def test_diabetes_defaults_no_method_ends_worse_than_it_started(diabetes_study):
    _, res = diabetes_study
    for r in res.runs:
        assert r.status != "diverged", (r.label, r.message)
        assert r.final.loss < r.history[0].loss, r.label
        assert r.test_loss is not None and np.isfinite(r.test_loss)
    # κ of the standardised design (AᵀA/n), recomputed here
    A = np.asarray(diabetes_study[0].train.X)
    ev = np.linalg.eigvalsh(A.T @ A / len(A))
    assert res.condition_number == pytest.approx(ev[-1] / ev[0], rel=1e-9)


def test_diabetes_sgd_with_c_over_k_has_rate_one_over_k(diabetes_study):
    _, res = diabetes_study
    runs = res.by_method()["sgd"]
    assert len(runs) == 10 and all(r.schedule == "c/k" for r in runs)
    C, k0, mu = runs[0].C, res.config["k0"]["sgd"], None
    A = np.asarray(diabetes_study[0].train.X)
    mu = np.linalg.eigvalsh(A.T @ A / len(A))[0]
    assert C * mu == pytest.approx(1.0, rel=1e-9) and k0 > 0  # the O(1/k) condition Cμ > 1/2
    slopes = [fit_slope([h.iteration for h in r.history], [h.excess_loss for h in r.history],
                        start=r.final.iteration / 10) for r in runs]
    assert -1.3 <= float(np.median(slopes)) <= -0.7, slopes


def test_breast_cancer_logistic_and_mlp_test_accuracy():
    p = prepare(as_classes(load("breast-cancer")), val=0.2, test=0.2, seed=0, standardize=True)
    lr = study(builtin("logistic-regression", d=p.train.d), p.train, val=p.val, test=p.test, lam=0.01,
               methods=("gd", "minibatch"), seeds=(0,), timing=False)
    assert lr.optimum_method == "Newton's method"
    for r in lr.runs:
        assert r.test_accuracy >= 0.95, (r.label, r.test_accuracy)
    # oracle: the predictions of the exact optimum, computed here from its parameters
    w = np.array(lr.optimum_params)
    pred = (p.test.X @ w[:-1] + w[-1] > 0)
    assert lr.runs[0].test_accuracy == pytest.approx(np.mean(pred == p.test.y), abs=2 / p.test.n)
    net = study(builtin("mlp", sizes=(30, 16, 1), activations=("relu", "identity"), loss="cross-entropy"), p.train,
                val=p.val, test=p.test, methods=("minibatch",), seeds=(0, 1), timing=False)
    for r in net.runs:
        assert r.test_accuracy >= 0.95 and r.init == "he", (r.seed, r.test_accuracy)
    assert net.runs[0].history[0].loss != net.runs[1].history[0].loss  # W₀ changes with the seed


def test_digits_from_the_cli_exactly(capsys):
    rc = main(["train", "mlp", "--data", "digits", "--sizes", "64,32,10", "--activations", "relu,identity",
               "--mlp-loss", "cross-entropy", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    data = json.loads(out)
    accs = {r["method"]: r["test_accuracy"] for r in data["runs"]}
    assert set(accs) == {"gd", "sgd", "minibatch"} and all(isinstance(a, float) for a in accs.values())
    assert accs["minibatch"] >= 0.95, accs
    assert data["heldout"]["test"] == 359 and data["task"] == "classification"


def test_moons_two_layer_net_beats_a_linear_classifier():
    ds = load("moons", n=400, noise=0.15, seed=0)
    p = prepare(ds, val=0.0, test=0.25, seed=0, standardize=True)
    lin = study(builtin("logistic-regression", d=2), p.train, test=p.test, methods=("gd",), lam=1e-3, timing=False)
    net = study(builtin("mlp", sizes=(2, 16, 1), activations=("tanh", "identity"), loss="cross-entropy"), p.train,
                test=p.test, methods=("gd",), timing=False)
    assert net.runs[0].test_accuracy >= 0.95 > lin.runs[0].test_accuracy


def test_early_stopping_keeps_the_best_validation_weights():
    # a wide net on few noisy rows overfits: the validation loss turns up and the run stops
    ds = load("moons", n=120, noise=0.45, seed=4)
    p = prepare(ds, val=0.3, test=0.0, seed=1, standardize=True)
    m = builtin("mlp", sizes=(2, 64, 1), activations=("tanh", "identity"), loss="cross-entropy")
    res = study(m, p.train, val=p.val, methods=("gd",), C=2.0, epochs=3000, patience=50, timing=False)
    r = res.runs[0]
    assert r.status == "early_stopped", r.message
    ends = [h for h in r.history if h.iteration > 0 and h.val_loss is not None]
    best = min(ends, key=lambda h: h.val_loss)
    assert f"kept the weights of epoch {best.iteration}" in r.message
    assert r.final.iteration - best.iteration >= 50
    # the reported parameters are the best epoch's: their validation loss is the best one recorded
    from diffkit.optim.network import mlp_outputs
    z = mlp_outputs(m, np.array(r.params), p.val.X)[:, 0]
    val = float(np.mean(np.logaddexp(0.0, z) - p.val.y * z))
    assert val == pytest.approx(best.val_loss, rel=1e-12)


def test_sweep_reruns_the_best_step_with_ten_seeds():
    from diffkit.optim.sweep import sweep
    p = prepare(load("diabetes"), standardize=True, intercept=True)
    res = sweep(builtin("linear-regression", d=p.train.d), p.train, methods=("sgd",), points=4, seeds=(0, 1),
                rerun_seeds=range(10), epochs=3, timing=False)
    pts = res.by_method()["sgd"]
    ok = [q for q in pts if q.diverged == 0]
    assert res.best_C["sgd"] == min(ok, key=lambda q: np.median(q.final)).C
    assert [r.seed for r in res.rerun.runs] == list(range(10))
    assert all(r.C == res.best_C["sgd"] for r in res.rerun.runs)
