"""Orchestration computes once: one compare run derives the gradient once, runs its cse once and
builds the engine graph once; compare exits 1 on a FAILED verdict; NumPy warnings become findings."""

from __future__ import annotations

import json
import sys

import pytest

import diffkit
from diffkit import builtin
from diffkit.cli import main


def _count_calls(monkeypatch, module_name: str, attr: str) -> list:
    """Wrap ``module.attr`` in every loaded diffkit module that holds it; return the call log."""
    import importlib

    original = getattr(importlib.import_module(module_name), attr)
    calls: list = []

    def wrapper(*a, **k):
        calls.append(a)
        return original(*a, **k)

    for name, mod in list(sys.modules.items()):
        if (name == "diffkit" or name.startswith("diffkit.")) and getattr(mod, attr, None) is original:
            monkeypatch.setattr(mod, attr, wrapper)
    return calls


@pytest.mark.parametrize("name,opts", [("ridge-sigmoid", {}), ("logistic-regression", {"d": 2}),
                                       ("mlp", {"sizes": (2, 2, 1)})])
def test_one_compare_run_derives_once_and_builds_the_graph_once(name, opts, monkeypatch):
    import diffkit.analysis.compare  # noqa: F401  (load every stage before wrapping)
    import diffkit.engine.from_sympy  # noqa: F401

    grads = _count_calls(monkeypatch, "diffkit.symbolic.derive", "gradient")
    cses = _count_calls(monkeypatch, "diffkit.symbolic.derive", "cse_gradient")
    graphs = _count_calls(monkeypatch, "diffkit.engine.from_sympy", "from_model")
    c = diffkit.compare(builtin(name, **opts), points=3)
    assert c.agreement.ok
    assert (len(grads), len(cses), len(graphs)) == (1, 1, 1)
    # and the graph it hands on is the one the agreement used, left at the user's point
    assert c.graph is c.prepared.graph
    assert c.graph.values["L"] == pytest.approx(c.value, rel=1e-13)


def test_compare_is_exported_and_refuses_a_non_model():
    assert diffkit.compare is diffkit.analysis.compare.compare and "compare" in diffkit.__all__
    with pytest.raises(diffkit.BadInput, match="model must be a Model"):
        diffkit.compare(None)


def test_compare_exits_1_when_agreement_fails(monkeypatch, capsys):
    import diffkit.analysis.agreement as ag

    monkeypatch.setitem(ag.RTOL, "reverse", -1.0)      # no error can pass: every verdict is a mismatch
    assert main(["compare", "--points", "2"]) == 1
    out = capsys.readouterr().out
    assert "Agreement: FAILED" in out and "mismatch" in out
    assert main(["compare", "--points", "2", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["agreement"]["ok"] is False


def test_numpy_warnings_are_findings_not_printed(capsys):
    # exp(w·x) is finite at the point, but the numeric stencil steps past exp's overflow at 709.78
    argv = ["compare", "--expr", "exp(w*x)", "--wrt", "w", "--at", "w=700,x=1.0139", "--points", "0"]
    code = main(argv + ["--json"])
    cap = capsys.readouterr()
    assert "RuntimeWarning:" not in cap.err + cap.out and cap.err == ""
    d = json.loads(cap.out)
    found = {(w["source"], w["message"]) for w in d["numeric_warnings"]}
    assert ("numeric", "overflow encountered in exp") in found
    assert code == 1 and d["agreement"]["verdicts"]["w"] == "mismatch"   # the numeric estimate is inf
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "Numerical warnings" in out and "numeric: overflow encountered in exp" in out


def test_compare_at_a_point_outside_the_domain_is_one_error_line(capsys):
    assert main(["compare", "--expr", "log(w) + x", "--wrt", "w", "--at", "w=0,x=1"]) == 2
    err = capsys.readouterr().err
    # refused before any work, naming the function, the point and the value (diffkit.domain)
    assert err == "Error: log(w) is undefined at w = 0 (log needs a positive argument; here it is 0)\n"


def test_json_lists_every_source_with_null_where_it_does_not_apply(capsys):
    assert main(["compare", "--expr", "relu(w*x) + b**2", "--wrt", "w,b", "--at", "w=1,b=0.5,x=2",
                 "--points", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["gradients"]) == {"symbolic", "reverse", "numeric", "complex_step"}
    assert d["gradients"]["complex_step"] is None and d["agreement"]["errors"]["complex_step"] is None
    assert [r["name"] for r in d["representations"]] == ["tree", "tree_cse", "dag", "tape", "forward"]
    assert set(d["forward_mode"]) == {"direction", "jvp", "reverse", "abs_error", "rel_error", "ok",
                                      "full_gradient"}
    assert d["numeric_warnings"] == [] and d["ops"]["convention"] == "diffkit.analysis.operation_counts"
