"""The analyzer against the lecture and independent oracles."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from diffkit import builtin, model_from_expr
from diffkit.analysis.agreement import agreement
from diffkit.analysis.checker import check_claims
from diffkit.analysis.compare import compare
from diffkit.analysis.operation_counts import symbolic_counts
from diffkit.analysis.redundancy import redundancy
from diffkit.analysis.lint import lint
from diffkit.analysis.listing import backprop_listing
from diffkit.analysis.swell import expanded_derivative, swell_table
from diffkit.builtins import logistic_map
from diffkit.engine import from_model
from diffkit.symbolic.derive import gradient

LECTURE_LISTING = """\
# the lecture's BACKWARD listing, as printed (with its slip in the d_w line)
d_L = 1
d_r = lam
d_l = 1
d_u = u - y
d_z = d_u * sigmoid_prime(z)
d_w = d_u * x + d_r * 2*w
d_b = d_z
"""


def test_lecture_redundancy_counts():
    reps = {r.pretty: r.count for r in redundancy(gradient(builtin("ridge-sigmoid")))}
    assert reps["wx + b"] == 4
    assert reps["σ(wx + b)"] == 2
    assert reps["σ′(wx + b)"] == 2


def test_expanded_view_counts_exponentials():
    reps = {r.text: r.count for r in redundancy(gradient(builtin("ridge-sigmoid")), expanded=True)}
    assert reps["exp(-w*x - b)"] == 6 and reps["exp(-w*x - b) + 1"] == 4


def test_op_counts_follow_sympy_count_ops():
    g = gradient(builtin("ridge-sigmoid"))
    counts = symbolic_counts(g)
    assert counts["naive"] == sum(sp.count_ops(e) for e in g.values())
    repl, red = sp.cse(list(g.values()))
    assert counts["cse"] == sum(sp.count_ops(e) for _, e in repl) + sum(sp.count_ops(e) for e in red)
    assert counts["cse"] < counts["naive"]


def test_backprop_listing_is_the_lectures():
    lst = backprop_listing(builtin("ridge-sigmoid"))
    assert [ln.pretty for ln in lst.lines] == [
        "∂_L L = 1", "∂_r L = λ", "∂_l L = 1", "∂_u L = u − y", "∂_z L = ∂_u L·σ′(z)",
        "∂_w L = ∂_z L·x + ∂_r L·2w", "∂_b L = ∂_z L"]
    assert lst.lines[5].latex == r"\partial_{w} L = \partial_{z} L \cdot x + \partial_{r} L \cdot 2 w"


@pytest.mark.parametrize("spec", [("ridge-sigmoid", {}), ("logistic-map", {"n": 4}), ("logistic-regression", {})])
def test_listing_values_equal_engine_adjoints(spec):
    m = builtin(spec[0], **spec[1])
    lst = backprop_listing(m)
    g = from_model(m)
    g.backward()
    adj = g.adjoints
    for ln in lst.lines:
        if ln.node in adj:
            assert float(np.asarray(adj[ln.node])) == pytest.approx(ln.value, rel=1e-12, abs=1e-15)


def test_checker_flags_exactly_the_lectures_slip():
    res = check_claims(builtin("ridge-sigmoid"), LECTURE_LISTING)
    wrong = [c for c in res.claims if not c.ok]
    assert [c.name for c in wrong] == ["d_w"] and wrong[0].line == 7
    ce = wrong[0].counterexample
    # an independent recomputation of both values at the counterexample point
    p = ce["point"]
    z = p["w"] * p["x"] + p["b"]
    u = 1 / (1 + np.exp(-z))
    d_u, d_z = u - p["y"], (u - p["y"]) * u * (1 - u)
    assert ce["claimed"] == pytest.approx(d_u * p["x"] + p["lam"] * 2 * p["w"], rel=1e-12)
    assert ce["true"] == pytest.approx(d_z * p["x"] + p["lam"] * 2 * p["w"], rel=1e-12)
    fixed = LECTURE_LISTING.replace("d_w = d_u * x", "d_w = d_z * x")
    assert check_claims(builtin("ridge-sigmoid"), fixed).ok


def test_checker_per_parameter_claims_and_forward_nodes():
    claims = "dL/dw = (sigmoid(w*x+b) - y)*sigmoid_prime(w*x+b)*x + 2*lam*w\nd_b = (y - sigmoid(w*x+b))\nz = w*x + b\n"
    res = check_claims(builtin("ridge-sigmoid"), claims)
    assert [(c.name, c.ok) for c in res.claims] == [("d_w", True), ("d_b", False), ("z", True)]


def test_swell_growth_shapes():
    rows = swell_table(8)
    naive = np.array([r.ops_naive for r in rows[2:]], dtype=float)
    ratios = naive[1:] / naive[:-1]
    assert np.all(ratios > 2.0)                          # exponential: a constant factor per level
    tape_f = np.array([r.ops_tape_forward for r in rows])
    tape_b = np.array([r.ops_tape_backward for r in rows])
    assert np.all(np.diff(tape_f, 2) == 0) and np.all(np.diff(tape_b[1:], 2) == 0)  # exactly linear
    cse = np.array([r.ops_cse for r in rows[1:]], dtype=float)
    n = np.arange(2, 9, dtype=float)
    slope = np.polyfit(np.log(n[3:]), np.log(cse[3:]), 1)[0]
    assert 1.0 < slope < 3.0                              # polynomial (about quadratic), not exponential
    assert all(r.tape_ratio < 6 for r in rows[1:])


def test_expanded_derivative_equals_sympy_expand():
    x = logistic_map(1).params[0]
    for n in range(1, 6):
        assert sp.expand(sp.diff(logistic_map(n).loss, x) - expanded_derivative(n)) == 0


@pytest.mark.parametrize("expr,at,param", [
    ("relu(w*x + b)", {"w": 1.0, "b": -1.0, "x": 1.0}, "w"),
    ("abs(w) + b**2", {"w": 0.0, "b": 0.5}, "w"),
    ("max(w, b) + w", {"w": 0.3, "b": 0.3}, "b"),
])
def test_kinks_are_reported_as_kinks_not_failures(expr, at, param):
    m = model_from_expr(expr, "w,b", at=at)
    a = agreement(m, points=5)
    assert a.verdicts[param] == "kink" and a.ok
    assert a.kinks[param]["left"] != a.kinks[param]["right"]


def test_smooth_point_of_a_kinked_function_is_ok():
    m = model_from_expr("relu(w*x + b)**2", "w,b", at={"w": 0.0, "b": 0.0, "x": 2.0})
    assert agreement(m, points=5).verdicts == {"w": "ok", "b": "ok"}


@pytest.mark.parametrize("name,opts", [("ridge-sigmoid", {}), ("logistic-regression", {}), ("logistic-map", {"n": 5}),
                                       ("mlp", {"sizes": (2, 2, 1)}), ("linear-regression", {"d": 3})])
def test_agreement_tolerances_hold_on_builtins(name, opts):
    a = agreement(builtin(name, **opts), points=20, seed=1)
    assert a.ok
    for p in a.verdicts:
        assert a.errors["numeric"][p][1] <= 1e-7
        assert a.errors["reverse"][p][1] <= 1e-12
        if "complex_step" in a.errors:
            assert a.errors["complex_step"][p][1] <= 1e-12


def test_cheap_gradient_principle_on_builtins():
    for m in [builtin("ridge-sigmoid"), builtin("mlp"), builtin("logistic-map", n=8)]:
        c = compare(m, points=0)
        assert c.ops["ratio"] < 6
    c = compare(builtin("ridge-sigmoid"), points=0)
    assert c.ops["symbolic_cse"] < c.ops["symbolic_naive"]


def test_lint_finds_fragile_patterns_and_values_prove_it():
    z = sp.Symbol("z", real=True)
    from diffkit.functions import sigmoid
    found = {f.pattern: f for f in lint([sp.log(1 + sp.exp(z)), 1 - sigmoid(z), sp.log(sp.exp(z) + sp.exp(2 * z)),
                                         sp.exp(-z) / (1 + sp.exp(-z)) ** 2])}
    assert set(found) == {"log(1 + exp(z))", "1 - sigma(z)", "log(sum(exp(a_i)))", "1/(1 + exp(-z))"}
    assert np.isinf(found["log(1 + exp(z))"].fragile_value) and found["log(1 + exp(z))"].stable_value == 800.0
    assert found["1 - sigma(z)"].fragile_value == 0.0 and found["1 - sigma(z)"].stable_value > 0
    assert np.isnan(found["1/(1 + exp(-z))"].fragile_value)
    assert lint([sp.Symbol("w") ** 2]) == []
