"""Break-even of derive / build / evaluate (times are reported, never asserted)."""

from __future__ import annotations

import json

from diffkit.analysis.breakeven import break_even
from diffkit.cli import main


def test_break_even_table_for_the_three_models():
    for name in ("ridge-sigmoid", "logistic-regression", "mlp"):
        t = break_even(name, repeats=2)
        assert [w.name for w in t.ways] == ["lambdify", "lambdify_cse", "engine_eager", "engine_replay"]
        assert all(w.agrees for w in t.ways), name
        assert all(w.evaluate > 0 and w.derive >= 0 and w.build >= 0 for w in t.ways)
        for w in t.ways:      # the break-even count is what its definition says
            eager = t.ways[2]
            if w.break_even not in (None, 0):
                n = w.break_even
                assert w.prepare + n * w.evaluate <= eager.prepare + n * eager.evaluate + 1e-12


def test_breakeven_cli(capsys):
    assert main(["breakeven", "--models", "ridge-sigmoid", "--repeats", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["models"][0]["model"] == "ridge-sigmoid"
    assert set(d["models"][0]["ways"][0]) == {"name", "label", "derive", "build", "evaluate", "prepare",
                                             "break_even", "agrees"}
    assert main(["breakeven", "--models", "resnet"]) == 2
    assert "allowed: ridge-sigmoid, logistic-regression, mlp" in capsys.readouterr().err


def test_jacobian_modes_agree_and_cli(capsys):
    from diffkit.analysis.modes import jacobian_costs

    rows = jacobian_costs(d=30, m=40, repeats=2)
    assert [(r.inputs, r.outputs) for r in rows] == [(30, 1), (2, 40)] and all(r.agree for r in rows)
    assert main(["jacobian", "--inputs", "10", "--outputs", "10", "--repeats", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [w["name"] for w in d["workloads"]] == ["many_to_one", "few_to_many"]
    assert main(["jacobian", "--inputs", "0"]) == 2
    assert "--inputs must be an integer in [1, 2000]" in capsys.readouterr().err  # the option, not "d"
