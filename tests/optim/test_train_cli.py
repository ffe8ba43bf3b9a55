"""``diffkit train``: parallel and Dask runs equal the serial run, the sweep's plot, bad input."""

import json
import os

import numpy as np
import pytest

from diffkit.cli import main

QUICK = ["--data", "diabetes", "--seeds", "0,1", "--epochs", "gd=300,sgd=5,minibatch=5"]


def run_cli(capsys, *args):
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def _without_wall_times(text: str) -> dict:
    data = json.loads(text)
    data.pop("wall_s", None)
    return data


def test_serial_processes_and_dask_give_identical_json(capsys):
    distributed = pytest.importorskip("distributed")
    args = ["train", *QUICK, "--json"]
    rc, serial, err = run_cli(capsys, *args)
    assert rc == 0, err
    rc, procs, err = run_cli(capsys, *args, "--workers", "2")
    assert rc == 0, err
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        rc, dask, err = run_cli(capsys, *args, "--scheduler", cl.scheduler_address)
    assert rc == 0, err
    a, b, c = (_without_wall_times(t) for t in (serial, procs, dask))
    assert len(a["runs"]) == 6
    assert _diff(a, b) == [] and _diff(a, c) == []


def _diff(x, y, path=""):
    """The paths where two JSON documents differ (for a readable failure)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return [d for k in sorted(set(x) | set(y)) for d in _diff(x.get(k), y.get(k), f"{path}/{k}")]
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [d for i, (u, v) in enumerate(zip(x, y)) for d in _diff(u, v, f"{path}[{i}]")]
    return [] if x == y else [f"{path}: {x!r} != {y!r}"]


def test_parallel_run_reports_its_wall_time(capsys):
    rc, out, err = run_cli(capsys, "train", *QUICK, "--workers", "2", "--json", "--timing")
    assert rc == 0, err
    assert json.loads(out)["wall_s"] > 0


def test_sweep_12_points_3_methods_5_seeds_writes_the_sensitivity_plot(capsys, tmp_path):
    svg = tmp_path / "sensitivity.svg"
    rc, out, err = run_cli(capsys, "train", "--data", "diabetes", "--sweep", "12", "--seeds", "0..4",
                           "--epochs", "gd=200,sgd=3,minibatch=3", "--workers", "2", "--plot", str(svg), "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert len(data["points"]) == 36 and all(len(p["seeds"]) == 5 for p in data["points"])
    by = {}
    for p in data["points"]:
        by.setdefault(p["method"], []).append(p["C"])
    assert set(by) == {"gd", "sgd", "minibatch"} and all(len(v) == 12 for v in by.values())
    # the grid is log-spaced from 0.01× to 10× each default C
    for m, cs in by.items():
        assert cs[0] == pytest.approx(0.01 * data["default_C"][m]) and cs[-1] == pytest.approx(10 * data["default_C"][m])
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg")) and "Step-size sensitivity" in svg.read_text()
    assert os.listdir(tmp_path) == ["sensitivity.svg"]


def test_table_prints_condition_number_heldout_and_accuracy(capsys, tmp_path):
    png = tmp_path / "conv.png"
    rc, out, err = run_cli(capsys, "train", "logistic-regression", "--data", "breast-cancer", "--lam", "0.01",
                           "--methods", "gd", "--epochs", "200", "--plot", str(png), "--x", "sample-gradients")
    assert rc == 0, err
    assert "condition number κ(AᵀA/n) = " in out and "held out: 341 train / 114 validation / 114 test" in out
    assert "test acc" in out and png.read_bytes()[:4] == b"\x89PNG"


def test_diverged_run_has_status_and_a_one_line_hint(capsys):
    rc, out, err = run_cli(capsys, "train", "--data", "diabetes", "--no-standardize", "--methods", "sgd",
                           "--schedule", "constant", "--C", "0.01", "--epochs", "5", "--json")
    assert rc == 0, err
    run = json.loads(out)["runs"][0]
    assert run["status"] == "diverged"
    assert "lower the step size" in run["hint"] and "standardise" in run["hint"] and "\n" not in run["hint"]


def test_eps_rel_target(capsys):
    rc, out, err = run_cli(capsys, "train", "--data", "diabetes", "--methods", "gd", "--epochs", "300",
                           "--eps-rel", "1e-3", "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["eps_rel"] == 1e-3 and data["eps"] is None
    r = data["runs"][0]
    first = next(h for h in r["history"] if h["excess_loss"] <= 1e-3 * r["history"][0]["excess_loss"])
    assert first["iteration"] > 0


def test_help_states_the_defaults_the_code_uses(capsys):
    from diffkit.optim.study import DEFAULT_EPOCHS, NETWORK_EPOCHS, NETWORK_FIRST_STEP
    rc = main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert rc == 0
    assert f"gd {DEFAULT_EPOCHS['gd']}, sgd and minibatch {DEFAULT_EPOCHS['sgd']}" in out
    assert f"mlp: gd {NETWORK_EPOCHS['gd']}" in out
    assert (f"α₁ = {NETWORK_FIRST_STEP['gd']} (gd), {NETWORK_FIRST_STEP['sgd']} (sgd), "
            f"{NETWORK_FIRST_STEP['minibatch']} (minibatch)") in out
    rc = main(["optimize", "--help"])
    assert rc == 0 and "--sizes" in capsys.readouterr().out


@pytest.mark.parametrize("make_args, needle", [
    (lambda d: ["logistic-regression", "--data", str(d / "labels.csv"), "--target", "diagnosis"],
     "class labels must be numbers"),
    (lambda d: ["--data", "diabetes", "--val", "0.001"], "validation set empty"),
    (lambda d: ["--data", "diabetes", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    (lambda d: ["--data", "diabetes", "--methods", "minibatch", "--batch", "100000"], "larger than the"),
    (lambda d: ["--data", "diabetes", "--val", "0.6", "--test", "0.5"], "leave no training rows"),
    (lambda d: ["mlp", "--data", "digits", "--sizes", "60,32,10", "--activations", "relu,identity",
                "--mlp-loss", "cross-entropy"], "input width"),
    (lambda d: ["--data", "diabetes", "--plot", str(d / "x.pdf")], ".svg or .png"),
    (lambda d: ["--data", "nosuchset"], "bundled data set"),
    (lambda d: ["--data", "diabetes", "--x", "minutes"], "unknown x-axis"),
])
def test_bad_input_is_one_error_line_and_leaves_no_file(capsys, tmp_path, make_args, needle):
    (tmp_path / "labels.csv").write_text("x1,diagnosis\n1.0,M\n2.0,B\n")
    plot = tmp_path / "out.svg"
    args = make_args(tmp_path)
    if "--plot" not in args:
        args += ["--plot", str(plot)]
    before = sorted(os.listdir(tmp_path))
    rc, out, err = run_cli(capsys, "train", *args)
    assert rc == 2, err
    assert err.startswith("Error: ") and err.count("\n") == 1 and needle in err, err
    assert out == "" and sorted(os.listdir(tmp_path)) == before


def test_performance_profile_against_costs_computed_here(capsys, tmp_path):
    from diffkit.optim.sweep import profile_from_studies
    from diffkit import builtin
    from diffkit.optim import make_data, study
    studies = {f"p{i}": study(builtin("linear-regression", d=3), make_data(n=200, d=3, seed=i, condition=c),
                              epochs={"gd": 500, "sgd": 10, "minibatch": 10}, seeds=(0, 1, 2), timing=False)
               for i, c in enumerate((1.0, 30.0))}
    prof = profile_from_studies(studies, eps_rel=1e-3, taus=(1.0, 2.0, 1e9))
    for name, s in studies.items():
        for label, runs in s.by_method().items():
            got = [r.cost_to_reach(1e-3, relative=True) for r in runs]
            ok = [g for g in got if g is not None]
            want = float(np.median(ok)) if len(ok) * 2 > len(got) else None
            assert prof.costs[name][label.split("(")[0]] == want
    for m in prof.methods:  # ρ(τ) by hand: fraction of problems within τ × the best cost
        for t, rho in zip(prof.taus, prof.rho[m]):
            hits = 0
            for row in prof.costs.values():
                best = min(v for v in row.values() if v is not None)
                hits += row[m] is not None and row[m] <= t * best
            assert rho == hits / len(prof.costs)
    svg = tmp_path / "p.svg"
    rc, out, err = run_cli(capsys, "profile", "--problems", "diabetes", "--seeds", "0", "--plot", str(svg), "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["problems"] == ["diabetes (least squares)"] and svg.exists()
