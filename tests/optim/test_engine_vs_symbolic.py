"""``gradient="engine"`` and ``gradient="symbolic"`` make the same iterates (1e-12 relative) on every
built-in model that can be trained, for GD, SGD and minibatch SGD."""

import numpy as np
import pytest

from diffkit import builtin
from diffkit.datasets import load
from diffkit.optim import study
from diffkit.optim.data import Dataset, as_classes
from diffkit.optim.prepare import prepare

KW = dict(methods=("gd", "sgd", "minibatch"), epochs={"gd": 40, "sgd": 2, "minibatch": 3}, seeds=(0,), timing=False)


def _problem(name):
    if name == "linear-regression":
        p = prepare(load("diabetes"), standardize=True, intercept=True)
        return builtin(name, d=p.train.d), p.train, 0.0
    if name == "logistic-regression":
        p = prepare(as_classes(load("breast-cancer")), standardize=True)
        return builtin(name, d=p.train.d), p.train, 0.01
    moons = prepare(load("moons", n=200, seed=3), standardize=True).train
    if name == "ridge-sigmoid":
        return builtin(name), Dataset(moons.X[:, :1], moons.y, ("x",), labels=moons.labels), 0.1  # λ > 0: the issue-9 case
    return builtin("mlp", sizes=(2, 3, 1), activations=("tanh", "identity"), loss="cross-entropy"), moons, 0.0


@pytest.mark.parametrize("name", [
    "linear-regression", "logistic-regression",
    "ridge-sigmoid",  # the λw² of a batch-summed graph counted once per sample (fixed by issue 9)
    "mlp",
])
def test_engine_and_symbolic_iterates_agree(name):
    model, data, lam = _problem(name)
    a = study(model, data, gradient="symbolic", lam=lam, **KW)
    b = study(model, data, gradient="engine", lam=lam, **KW)
    assert [r.gradient for r in a.runs] == ["symbolic"] * 3 and [r.gradient for r in b.runs] == ["engine"] * 3
    for x, y in zip(a.runs, b.runs):
        xa, ya = np.array(x.params), np.array(y.params)
        assert np.max(np.abs(xa - ya)) <= 1e-12 * np.max(np.abs(xa)), (x.method, xa, ya)
        assert x.final.iteration == y.final.iteration


def test_engine_runs_count_flops_on_the_engines_tape():
    # the flops axis of an engine run is the per-sample tape (forward + backward) times the samples
    import diffkit.engine as dk

    model, data, lam = _problem("ridge-sigmoid")
    b = study(model, data, gradient="engine", lam=lam, **KW)
    c = dk.from_model(model).op_counts()
    per = c["forward"] + c["backward"]
    for r in b.runs:
        assert r.final.flops == per * r.final.sample_gradients > 0


def test_ridge_sigmoid_fits_real_valued_targets(tmp_path, capsys):
    # the lecture's neuron is a squared-error fit: targets need not be class labels
    from diffkit.cli import main

    rng = np.random.default_rng(1)
    x = rng.normal(size=120)
    y = 1 / (1 + np.exp(-(1.5 * x - 0.3))) + 0.05 * rng.normal(size=120)
    f = tmp_path / "neuron.csv"
    f.write_text("x,y\n" + "".join(f"{a:.17g},{t:.17g}\n" for a, t in zip(x, y)))
    finals = {}
    for g in ("engine", "symbolic"):
        assert main(["train", "ridge-sigmoid", "--data", str(f), "--target", "y", "--gradient", g,
                     "--lam", "0.1", "--json"]) == 0
        import json
        out = json.loads(capsys.readouterr().out)
        assert all(r["test_accuracy"] is None for r in out["runs"])  # a regression: no accuracy
        finals[g] = [r["final"]["params"] for r in out["runs"]]
    for a, b in zip(finals["engine"], finals["symbolic"]):
        for k in a:
            assert abs(a[k] - b[k]) <= 1e-12 * max(1.0, abs(b[k]))
