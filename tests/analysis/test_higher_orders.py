"""Higher derivatives four ways: nested AD swells geometrically, symbolic + cse linearly; values agree."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

from diffkit.analysis.higher import higher_orders
from diffkit.cli import main


@pytest.fixture(scope="module")
def sigma():
    return higher_orders("sigmoid", max_k=8)


def test_sigmoid_eight_orders_published_sizes_and_growth(sigma):
    rows = sigma.rows
    # SymPy on σ = 1/(1 + e^(−x)): 70 operations at k = 8, 47 after cse (the published numbers)
    assert rows[-1].sizes["symbolic"] == 70 and rows[-1].sizes["symbolic_cse"] == 47
    cse = np.array([r.sizes["symbolic_cse"] for r in rows])
    assert np.all(np.diff(cse, 2) <= 0)                                 # at most linear
    nested = np.array([r.sizes["nested_reverse"] for r in rows[2:]], float)
    assert np.all(nested[1:] / nested[:-1] > 2.5)                      # geometric
    assert sigma.growth["nested_reverse"]["ratio"] > 2.5 and sigma.growth["symbolic_cse"]["slope"] < 10
    assert sigma.ok and max(r.max_rel_error for r in rows) <= 1e-9


def test_values_are_the_derivatives_of_sigma(sigma):
    # an independent oracle: σ^(k) from the polynomial recurrence p_(k+1)(s) = p_k'(s)·s(1 − s)
    s = sp.Symbol("s")
    p = s
    x = 0.3
    sv = 1 / (1 + np.exp(-x))
    for r in sigma.rows:
        p = sp.expand(sp.diff(p, s) * s * (1 - s))
        want = float(p.subs(s, sv))
        for way, v in r.values.items():
            assert v == pytest.approx(want, rel=1e-9, abs=1e-12), (r.k, way)


@pytest.mark.parametrize("fn", ["tanh", "neuron"])
def test_tanh_and_neuron_agree_to_1e_9(fn):
    h = higher_orders(fn, max_k=6)
    assert h.ok and all(r.sizes["nested_reverse"] > r.sizes["symbolic_cse"] for r in h.rows[4:])


def test_higher_cli_table_json_and_bad_input(capsys):
    assert main(["higher", "--max-k", "4"]) == 0
    out = capsys.readouterr().out
    assert "nested reverse" in out and "fwd-over-rev" in out and "all agree" in out
    assert main(["higher", "--expr", "softplus(x)*x", "--wrt", "x", "--at", "x=0.5", "--max-k", "3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] and [r["k"] for r in d["rows"]] == [1, 2, 3] and d["ways"] == [
        "symbolic", "symbolic_cse", "nested_reverse", "forward_over_reverse"]
    for argv, needle in [(["higher", "--max-k", "0"], "--max-k must be an integer from 1 to 10, got 0"),
                         (["higher", "--max-k", "11"], "from 1 to 10"),
                         (["higher", "cosine"], "unknown function 'cosine'; allowed: sigmoid, tanh, neuron"),
                         (["higher", "--expr", "w*x", "--wrt", "w,x"], "one variable")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and err.count("\n") == 1 and needle in err, err
