import json

import pytest

from diffkit.cli import main

SMALL = ["--n", "200", "--d", "3", "--epochs", "3"]


def run_cli(capsys, *args):
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_is_byte_identical_for_the_same_seed(capsys):
    args = ["optimize", *SMALL, "--seeds", "0,1", "--methods", "gd,sgd,minibatch", "--json"]
    rc1, out1, err1 = run_cli(capsys, *args)
    rc2, out2, _ = run_cli(capsys, *args)
    assert rc1 == rc2 == 0 and err1 == ""
    assert out1 == out2
    data = json.loads(out1)
    assert [r["seed"] for r in data["runs"]] == [0, 1, 0, 1, 0, 1]
    assert all(h["time_s"] is None for r in data["runs"] for h in r["history"])
    rc3, out3, _ = run_cli(capsys, "optimize", *SMALL, "--seeds", "5", "--methods", "sgd", "--json")
    assert json.loads(out3)["runs"][0]["final"] != data["runs"][2]["final"]


def test_json_with_timing_reports_times(capsys):
    rc, out, _ = run_cli(capsys, "optimize", *SMALL, "--methods", "sgd", "--json", "--timing")
    assert rc == 0
    hist = json.loads(out)["runs"][0]["history"]
    assert all(isinstance(h["time_s"], float) for h in hist)


def test_json_matches_the_normal_equations(capsys):
    import numpy as np
    from diffkit.optim import make_data
    rc, out, _ = run_cli(capsys, "optimize", "--n", "150", "--d", "2", "--data-seed", "4", "--methods", "gd",
                         "--epochs", "500", "--json")
    data = json.loads(out)
    ds = make_data(n=150, d=2, seed=4)
    w = np.linalg.lstsq(ds.X, ds.y, rcond=None)[0]
    opt = data["optimum"]["params"]
    assert np.allclose([opt["w1"], opt["w2"]], w, rtol=1e-12)
    fin = data["runs"][0]["final"]["params"]
    assert np.allclose([fin["w1"], fin["w2"]], w, rtol=1e-8)
    assert data["runs"][0]["status"] == "converged"


def test_table_output(capsys):
    rc, out, err = run_cli(capsys, "optimize", *SMALL, "--methods", "gd,sgd", "--eps", "0.5", "--wide")
    assert rc == 0
    for word in ("method", "schedule", "status", "iterations", "sample grads", "flops", "excess loss",
                 "normal equations", "gd", "sgd", "c/k", "constant"):
        assert word in out, word


def test_divergence_in_the_cli(capsys):
    rc, out, _ = run_cli(capsys, "optimize", *SMALL, "--methods", "gd,sgd", "--schedule", "constant",
                         "--C", "gd=5,sgd=0.01", "--epochs", "100")
    assert rc == 0
    assert "diverged" in out and "gd (seed 0): diverged at iteration" in out
    rc, out, _ = run_cli(capsys, "optimize", *SMALL, "--methods", "gd", "--schedule", "constant", "--C", "5",
                         "--epochs", "100", "--json")
    run = json.loads(out)["runs"][0]
    assert run["status"] == "diverged" and "diverged at iteration" in run["message"]


def test_csv_input(capsys, tmp_path):
    p = tmp_path / "data.csv"
    p.write_text("x1,x2,target\n" + "\n".join(f"{i % 7},{(i * 3) % 5},{i % 7 - 2 * ((i * 3) % 5)}"
                                              for i in range(60)))
    rc, out, err = run_cli(capsys, "optimize", "--data", str(p), "--target", "target", "--methods", "gd",
                           "--epochs", "400", "--val", "0", "--test", "0", "--no-standardize", "--no-intercept", "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["n"] == 60 and data["d"] == 2
    assert data["optimum"]["params"]["w1"] == pytest.approx(1.0) and data["optimum"]["params"]["w2"] == pytest.approx(-2.0)


@pytest.mark.parametrize("text, needles", [
    ("x1,y\n1,2\n3,nan\n", ["row 3", "'y'"]),
    ("x1,y\n1,2\n3,abc\n", ["row 3", "'y'", "'abc'"]),
    ("x1,y\n1,2\n3\n", ["row 3", "column 2"]),
    ("", ["empty"]),
])
def test_csv_errors_in_the_cli(capsys, tmp_path, text, needles):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    rc, out, err = run_cli(capsys, "optimize", "--data", str(p), "--target", "y")
    assert rc == 2 and out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1
    for needle in needles:
        assert needle in err


@pytest.mark.parametrize("args, needle", [
    (["--methods", "gd,adam"], "unknown method"),
    (["--schedule", "cosine"], "unknown schedule"),
    (["--C", "abc"], "not a number"),
    (["--C", "gd=1,gd=2"], "twice"),
    (["--seeds", "0,x"], "--seeds"),
    (["--epochs", "0"], "epochs"),
    (["--gradient", "magic"], "gradient source"),
    (["--sampling", "cyclic"], "sampling"),
    (["--target", "y"], "only applies with --data"),
    (["--data", "x.csv"], "--target"),
    (["--n", "0"], "n must be"),
])
def test_bad_options_exit_2(capsys, args, needle):
    rc, out, err = run_cli(capsys, "optimize", *SMALL, *args)
    assert rc == 2, err
    assert err.startswith("Error: ") and needle in err


def test_model_needs_data_or_synthetic(capsys):
    rc, _, err = run_cli(capsys, "optimize", "ridge-sigmoid")
    assert rc == 2 and "--data" in err
