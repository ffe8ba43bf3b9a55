import json

import numpy as np
import pytest

from diffkit import builtin
from diffkit.errors import BadInput
from diffkit.optim import Dataset, cost_to_reach, make_data, median_curve, study


def test_study_result_layout(lr_small):
    model, ds = lr_small
    res = study(model, ds, methods=["gd", "minibatch"], epochs=2, batch=16, seeds=[0, 1], eps=1e-2, timing=False)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert {"model", "n", "d", "optimum", "runs"} <= set(d)
    assert (d["model"], d["n"], d["d"]) == ("linear-regression", ds.n, ds.d)
    assert set(d["optimum"]["params"]) == {"w1", "w2", "w3", "w4"}
    assert [(r["method"], r["seed"], r["batch"]) for r in d["runs"]] == [("gd", 0, ds.n), ("gd", 1, ds.n),
                                                                          ("minibatch", 0, 16), ("minibatch", 1, 16)]
    run = d["runs"][0]
    assert {"method", "schedule", "seed", "batch", "status", "final", "history"} <= set(run)
    assert {"loss", "excess_loss", "params"} <= set(run["final"])
    assert set(run["history"][0]) == {"iteration", "epoch", "sample_gradients", "flops", "time_s", "loss",
                                      "excess_loss", "val_loss", "val_accuracy"}
    assert run["history"][0]["time_s"] is None
    # excess loss is measured against the optimum the study reports
    for r in d["runs"]:
        for h in r["history"]:
            assert h["excess_loss"] == pytest.approx(h["loss"] - d["optimum"]["loss"], abs=1e-15)


def test_gd_on_one_seed_is_the_same_for_every_seed(lr_small):
    model, ds = lr_small
    res = study(model, ds, methods=["gd"], epochs=5, seeds=[0, 1], timing=False)
    assert res.runs[0].params == res.runs[1].params


def test_median_curve_and_cost_to_reach(lr_small):
    model, ds = lr_small
    res = study(model, ds, methods=["sgd"], epochs=4, seeds=[0, 1, 2], timing=False)
    runs = res.by_method()["sgd"]
    curve = median_curve(runs)
    table = np.array([[h.excess_loss for h in r.history] for r in runs])
    assert np.allclose(curve["median"], np.median(table, axis=0))
    assert np.all(curve["lo"] <= curve["median"]) and np.all(curve["median"] <= curve["hi"])
    eps = float(np.median(table[:, -1])) * 1.5
    c = cost_to_reach(runs, eps)
    # the first recorded hit of ε (SGD is not monotone: a run may hit ε and end above it)
    firsts = [next((h.sample_gradients for h in r.history if h.excess_loss <= eps), None) for r in runs]
    got = [f for f in firsts if f is not None]
    assert c["reached"] == len(got) >= 2 and c["median"] == float(np.median(got))
    assert cost_to_reach(runs, 1e-30)["reached"] == 0


def test_model_without_closed_form_uses_best_seen_loss():
    model = builtin("ridge-sigmoid")
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 200)
    ds = Dataset(x[:, None], (x > 0).astype(float), ("x",))
    res = study(model, ds, methods=["gd", "sgd"], schedule="constant", C=0.5, epochs=20, timing=False)
    assert res.optimum_method == "best-seen"
    assert res.optimum_loss == min(h.loss for r in res.runs for h in r.history)
    assert min(h.excess_loss for r in res.runs for h in r.history) == 0.0
    from diffkit import model_from_expr
    user = model_from_expr("(y - w*x)**2", wrt="w")
    with pytest.raises(BadInput, match="give C"):
        study(user, ds, methods=["gd"], epochs=1)


def test_bottou_schedule_with_regulariser(lr_small):
    model, ds = lr_small
    res = study(model, ds, methods=["sgd"], schedule="bottou", C=0.05, lam=0.1, epochs=5, timing=False)
    r = res.runs[0]
    assert r.schedule == "bottou" and r.status == "max_epochs"
    assert r.final.excess_loss < 0.05 * r.history[0].excess_loss


@pytest.mark.parametrize("kwargs, match", [
    (dict(methods=[]), "at least one method"),
    (dict(methods=["gd", "gd"]), "twice"),
    (dict(methods=["newton"]), "unknown method"),
    (dict(seeds=[]), "seeds"),
    (dict(seeds=[-1]), "seeds"),
    (dict(eps=0.0), "eps"),
    (dict(gradient="finite-differences"), "gradient source"),
    (dict(schedule={"adam": "c/k"}), "not among the methods"),
    (dict(C={"adam": 1.0}), "not among the methods"),
    (dict(C=-1.0), "C"),
])
def test_bad_study_options(lr_small, kwargs, match):
    model, ds = lr_small
    with pytest.raises(BadInput, match=match):
        study(model, ds, **{"epochs": 1, **kwargs})


def test_separable_logistic_data_need_regularisation():
    x = np.linspace(-1, 1, 40)
    ds = Dataset(x[:, None], (x > 0).astype(float), ("x1",))
    with pytest.raises(BadInput, match="separable"):
        study(builtin("logistic-regression", d=1), ds, methods=["gd"], epochs=1)
    res = study(builtin("logistic-regression", d=1), ds, methods=["gd"], epochs=1, lam=0.1)
    assert res.optimum_method == "Newton's method"


def test_per_iteration_cost_is_nd_for_gd_and_d_for_sgd():
    # the accounted flops per iteration against the closed form 2bd + 2b + d of −Xᵀ(y − Xw) on a
    # batch of b rows: b = n for GD, 1 for SGD.  (Measured seconds per iteration as n and d vary
    # are timings, so they live in benchmarks/bench_optim.py, not in a pass/fail test.)
    for n in (200, 800):
        for d in (3, 12):
            ds = make_data(n=n, d=d, seed=0)
            res = study(builtin("linear-regression", d=d), ds, methods=["gd", "sgd"], epochs=1, timing=False)
            for run in res.runs:
                b = n if run.method == "gd" else 1
                h = [p for p in run.history if p.iteration > 0]
                per_iter = {p.flops / p.iteration for p in h}
                assert per_iter == {2 * b * d + 2 * b + d}, (run.method, n, d, per_iter)


def test_declared_parameters_refuse_their_bad_examples(lr_small):
    # every parameter study() and prepare() declare (diffkit.constraints) refuses each bad example it lists
    from diffkit.optim.prepare import prepare
    model, ds = lr_small
    for func, base in ((study, dict(model=model, data=ds, methods=["gd"], epochs=1)), (prepare, dict(data=ds))):
        for name, param in func.__diffkit_params__.items():
            cons = param.constraint if isinstance(param.constraint, tuple) else (param.constraint,)
            for c in cons:
                if c is None:
                    continue
                for bad in c.bad_examples():
                    from diffkit.constraints import satisfied
                    if satisfied(bad, param.constraint):
                        continue
                    with pytest.raises(BadInput, match=name):
                        func(**{**base, name: bad})
