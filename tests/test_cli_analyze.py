"""The analyzer's commands end to end: compare, backprop, check, swell."""

from __future__ import annotations

import json

import pytest

from diffkit.cli import main

from test_analysis import LECTURE_LISTING


def _json(argv, capsys, code=0):
    assert main(argv) == code
    return json.loads(capsys.readouterr().out)


def test_compare_without_arguments_prints_the_lecture_comparison(capsys):
    assert main(["compare"]) == 0
    out = capsys.readouterr().out
    for needle in ("ridge-sigmoid", "∂L/∂w = (σ(wx + b) − y)·σ′(wx + b)·x + 2λw", "Gradient, four ways",
                   "wx + b", "×4", "∂_w L = ∂_z L·x + ∂_r L·2w", "Agreement: OK"):
        assert needle in out


def test_compare_json_contract(capsys):
    d = _json(["compare", "--json"], capsys)
    assert d["model"] == "ridge-sigmoid" and d["wrt"] == ["w", "b"]
    assert d["point"] == {"w": 0.5, "b": -0.3, "x": 1.7, "y": 1.0, "lam": 0.1}
    assert isinstance(d["loss"], str) and isinstance(d["value"], float)
    for src in ("symbolic", "reverse", "numeric"):
        assert set(d["gradients"][src]) == {"w", "b"}
    assert {"max_abs_error", "max_rel_error", "ok"} <= set(d["agreement"]) and d["agreement"]["ok"] is True
    reps = {r["subexpression"]: r["count"] for r in d["redundancy"]}
    assert reps["w*x + b"] == 4 and reps["sigmoid(w*x + b)"] == 2 and reps["sigmoid_prime(w*x + b)"] == 2
    assert all(isinstance(r["count"], int) for r in d["redundancy"])
    assert {"symbolic_naive", "symbolic_cse", "forward", "backward"} <= set(d["ops"])
    assert all(isinstance(d["ops"][k], int) for k in ("symbolic_naive", "symbolic_cse", "forward", "backward"))


def test_compare_json_same_shape_for_expr_models(capsys):
    d = _json(["compare", "--expr", "0.5*(y - sigmoid(w*x + b))**2 + lam*w**2", "--wrt", "w,b",
               "--at", "w=0.5,b=-0.3,x=1.7,y=1,lam=0.1", "--json"], capsys)
    ref = _json(["compare", "--json"], capsys)
    for key in ("wrt", "point", "value", "gradients"):
        assert d[key] == ref[key]
    assert [(r["subexpression"], r["count"]) for r in d["redundancy"]] == \
           [(r["subexpression"], r["count"]) for r in ref["redundancy"]]


def test_compare_marks_kinks(capsys):
    d = _json(["compare", "--expr", "relu(w*x + b) + abs(b)", "--wrt", "w,b", "--at", "w=1,b=0,x=0", "--json"],
              capsys)
    assert d["agreement"]["verdicts"]["b"] == "kink" and d["agreement"]["ok"] is True


def test_compare_same_seed_same_json(capsys):
    a = main(["compare", "--json", "--points", "5", "--seed", "3"]), capsys.readouterr().out
    b = main(["compare", "--json", "--points", "5", "--seed", "3"]), capsys.readouterr().out
    assert a == b


@pytest.mark.parametrize("argv,needle", [
    (["compare", "--at", "w=abc"], "value 'abc' for 'w' is not a number"),
    (["compare", "--at", "w"], "--at expects name=value pairs"),
    (["compare", "--at", "w=1,w=2"], "'w' is given twice"),
    (["compare", "--at", "q=1"], "unknown symbol 'q'"),
    (["compare", "--at", "w=inf"], "is not finite"),
    (["compare", "--expr", "w*x", "--wrt", "w"], "no value for symbol 'w'"),
    (["compare", "--expr", "w*x", "--wrt", "w", "--at", "w=1"], "no value for symbol 'x'"),
    (["compare", "--points", "-1"], "--points must be an integer in [0, 100000]"),
    (["compare", "--expr", "w*x", "--wrt", "w", "--at", "w=1,x=1,zz=3"], "'zz', which does not appear"),
    (["check", "--claims", "/nonexistent/claims.txt"], "does not exist"),
    (["check"], "--claims FILE is required"),
    (["swell", "--max-n", "0"], "--max-n must be an integer in [1, 12]"),
])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1 and needle in err, err


def test_check_lecture_listing(tmp_path, capsys):
    f = tmp_path / "claims.txt"
    f.write_text(LECTURE_LISTING)
    d = _json(["check", "ridge-sigmoid", "--claims", str(f), "--json"], capsys, code=1)
    assert d["ok"] is False
    bad = [ln for ln in d["lines"] if not ln["ok"]]
    assert [ln["line"] for ln in bad] == [7] and bad[0]["name"] == "d_w"
    ce = bad[0]["counterexample"]
    assert set(ce) == {"point", "claimed", "true"} and ce["claimed"] != ce["true"]
    assert all(ln["counterexample"] is None for ln in d["lines"] if ln["ok"])
    f.write_text(LECTURE_LISTING.replace("d_u * x", "d_z * x"))
    assert _json(["check", "ridge-sigmoid", "--claims", str(f), "--json"], capsys)["ok"] is True


def test_check_bad_claims_file(tmp_path, capsys):
    f = tmp_path / "claims.txt"
    f.write_text("d_q = 1\n")
    assert main(["check", "--claims", str(f)]) == 2
    assert "line 1: unknown name 'd_q'" in capsys.readouterr().err
    f.write_text("d_w = __import__('os')\n")
    assert main(["check", "--claims", str(f)]) == 2
    assert "line 1: names may not start with an underscore" in capsys.readouterr().err


def test_backprop_command(capsys):
    assert main(["backprop"]) == 0
    out = capsys.readouterr().out
    assert "∂_z L = ∂_u L·σ′(z)" in out and "FORWARD" in out and "BACKWARD" in out
    d = _json(["backprop", "--json"], capsys)
    assert [ln["node"] for ln in d["backward"]] == ["L", "r", "l", "u", "z", "w", "b"]


def test_swell_json_contract(capsys):
    d = _json(["swell", "--max-n", "5", "--json"], capsys)
    assert [r["n"] for r in d["rows"]] == [1, 2, 3, 4, 5]
    keys = {"n", "ops_function", "ops_naive", "ops_expanded", "ops_cse", "ops_tape_forward", "ops_tape_backward",
            "ops_dag", "ops_dag_flat", "ops_forward_primal", "ops_forward_tangent", "seconds_symbolic", "backend"}
    assert all(set(r) == keys for r in d["rows"])
    assert [g["column"] for g in d["growth"]] == ["ops_naive", "ops_cse", "ops_dag", "ops_tape", "ops_forward"]
    assert d["backend"] == "sympy" and d["convention"] == "diffkit.analysis.operation_counts"
