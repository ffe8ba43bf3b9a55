"""The layer zoo's small models, both ways: on each, compare shows the symbolic gradient, the
engine's layer gradient, their agreement, the redundancy the layer's structure causes and op counts;
the RNN's swell; the MLP's layer-wise listing and matrix form at the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

from diffkit import builtin
from diffkit.analysis.compare import compare
from diffkit.cli import main
from diffkit.errors import BadInput
from diffkit.layer_models import LAYER_MODELS, layer_gradient
from diffkit.schemas import validate

try:
    import jsonschema  # noqa: F401
except ImportError:  # the schema checks need it (a test extra)
    jsonschema = None


def _run(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def comparisons():
    """One compare per layer model (2 random points: the symbolic gradients of attention are large)."""
    return {name: compare(builtin(name), points=2) for name in LAYER_MODELS}


@pytest.mark.parametrize("name", sorted(LAYER_MODELS))
def test_engine_layer_agrees_with_the_symbolic_gradient(name, comparisons):
    c = comparisons[name]
    lc = c.layer
    assert lc is not None and lc.ok and c.ok
    assert set(lc.gradient) == set(c.model.wrt)  # every parameter and input of the model
    # the layer's gradient against SymPy's own partials evaluated at 30 digits (independent of lambdify)
    sub = c.model.subs_point(c.point)
    p = c.model.wrt[0]
    want = float(sp.N(c.prepared.gradient[p].xreplace({k: sp.Float(v, 30) for k, v in sub.items()}), 30))
    assert abs(lc.gradient[p] - want) <= 1e-12 * max(1.0, abs(want))
    # the engine's scalar graph and the layer agree too
    assert max(abs(lc.gradient[q] - c.agreement.gradients["reverse"][q]) for q in c.model.wrt) <= 1e-12
    assert c.ops["symbolic_naive"] > c.ops["symbolic_cse"] and lc.tape["forward"] >= 1


def test_redundancy_names_what_the_structure_shares(comparisons):
    h = {name: {x.what: x for x in comparisons[name].layer.highlights} for name in LAYER_MODELS}
    assert h["conv1d"]["sliding window"].count == 3                 # x3 is in all three windows
    assert h["conv1d"]["window residual"].count == 6                 # y1 − t1 in 6 of the 9 partials
    assert h["batchnorm"]["batch mean"].count > 5 and h["batchnorm"]["batch variance"].count > 5
    assert h["attention"]["softmax denominator"].count > 10
    assert h["maxpool"]["window maximum"].count == 4
    assert h["avgpool"]["window residual"].count == 4
    assert h["rnn"]["first hidden state"].count > 50
    assert h["residual"]["inner layer"].count > 10 and h["residual"]["skip connection"].count == 14


@pytest.mark.parametrize("name,inputs", [("rnn", ("x", "h0")), ("attention", ("x",))])
def test_the_layers_inputs_that_are_data_agree_with_the_symbolic_gradient_too(name, inputs):
    """Where the model's inputs are data (the RNN's sequence and initial state, attention's tokens),
    the layer's gradient with respect to them is checked against SymPy's partials as well."""
    import diffkit.engine as dk
    from diffkit.layer_models import _loss_fn, layer_arrays

    m = builtin(name)
    arrays, names = layer_arrays(m), list(m.spec["arrays"])
    nums = tuple(names.index(k) for k in inputs)
    grads = dk.grad(_loss_fn(m), nums)(*[arrays[k] for k in names])
    sub = {sp.Symbol(k, real=True): sp.Float(v, 30) for k, v in m.point().items()}
    loss = m.loss_expr
    for k, g in zip(inputs, grads):
        for s, got in zip(m.spec["arrays"][k][1], np.asarray(g).reshape(-1)):
            want = float(sp.N(sp.diff(loss, s).xreplace(sub), 30))
            assert abs(got - want) <= 1e-12 * max(1.0, abs(want)), (k, s)


def test_compare_conv1d_at_the_command_line(capsys):
    rc, out, err = _run(["compare", "conv1d", "--points", "2"], capsys)
    assert rc == 0 and not err
    assert "∂L/∂x3 = (w1·x3 + w2·x4 + w3·x5 + b − t3)·w1 + (w1·x2 + w2·x3 + w3·x4 + b − t2)·w2 + " in out
    assert "The engine's layer (dk.conv1d(x, w, b), on arrays) against the symbolic gradient" in out
    assert "sliding window: — x3 is read by 3 windows (y1, y2, y3)" in out
    assert "window residual: ×6 in the partials, 7 ops each" in out
    counts = {line[:65].strip(): line[65:].split() for line in out.splitlines() if line.startswith(" ")}
    assert counts["tree derivative (sympy.diff)"] == ["176", "—"]           # 9 partials as trees
    assert counts["engine, reverse mode (forward + backward tape)"] == ["—", "65"]
    assert "Agreement: OK" in out and all(len(line) <= 100 for line in out.splitlines())


@pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed")
def test_compare_json_of_a_layer_model_has_the_layer(comparisons):
    from diffkit.schemas import payload
    data = json.loads(json.dumps(payload("compare", comparisons["batchnorm"].to_dict())))
    validate("compare", data)
    assert data["layer"]["ok"] and data["layer"]["call"] == "dk.batch_norm(x, gamma, beta, eps=eps)"


def test_rnn_swell_tree_outgrows_any_polynomial_and_the_tapes_are_linear():
    from diffkit.analysis.rnn_swell import growth, rnn_swell_table
    rows = rnn_swell_table(8)
    assert [r.T for r in rows] == list(range(1, 9))
    fits = {g.column: g for g in growth(rows)}
    tree = fits["ops_naive"]
    assert tree.rate > 2.0                                                   # geometric growth per step
    assert all(b > a + 0.5 for a, b in zip(tree.degrees, tree.degrees[1:]))  # no polynomial degree holds
    for col in ("ops_tape", "ops_layer", "ops_dag"):                         # constant work per step
        steps = np.diff([getattr(r, col) for r in rows[1:]])
        assert len(set(steps.tolist())) == 1, col
    assert fits["ops_tape"].rate == pytest.approx(40.0) and fits["ops_layer"].rate == pytest.approx(12.0)


def test_swell_model_rnn_at_the_command_line(capsys):
    rc, out, _ = _run(["swell", "--model", "rnn", "--max-n", "4"], capsys)
    assert rc == 0
    assert " 4  217  8012       260  148         63+94               24+33" in out.splitlines()
    assert "tape +40.0/step; layer tape +12.0/step (linear)" in out
    rc, out, err = _run(["swell", "--model", "rnn", "--max-n", "9"], capsys)
    assert rc == 2 and err.strip() == "Error: --max-n (the largest T of the RNN) must be an integer from 1 to 8, got 9"


def test_backprop_layers_of_the_lectures_network_fits_in_twelve_lines(capsys):
    rc, out, _ = _run(["backprop", "mlp", "--sizes", "2,3,3,1", "--layers"], capsys)
    lines = out.rstrip("\n").splitlines()
    assert rc == 0 and len(lines) == 12
    assert lines[0].startswith("FORWARD") and lines[5].startswith("BACKWARD")
    assert lines[1].split("  ")[1] == "z⁽¹⁾ = σ(a⁽¹⁾), a⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾"
    assert "δ⁽²⁾ = (W⁽³⁾)ᵀδ⁽³⁾ ⊙ σ′(a⁽²⁾)" in lines[7] and "3×1" in lines[7]
    assert "∂L/∂W⁽¹⁾ = δ⁽¹⁾xᵀ, ∂L/∂b⁽¹⁾ = δ⁽¹⁾" in lines[11] and "3×2, 3×1" in lines[11]
    # the values are the engine's gradient
    rc, out, _ = _run(["backprop", "mlp", "--sizes", "2,3,3,1", "--layers", "--json"], capsys)
    data = json.loads(out)
    if jsonschema is not None:
        validate("backprop-layers", data)
    import diffkit.engine as dk
    g = dk.from_model(builtin("mlp", sizes=(2, 3, 3, 1)), use_spec=True).gradient(flat=False)
    dW1 = np.array(data["backward"][-1]["values"][0])
    assert np.max(np.abs(dW1 - g["W1"])) <= 1e-15


def test_derive_mlp_matrix_form_and_long_closed_forms_summarised(capsys):
    rc, out, _ = _run(["derive", "mlp", "--sizes", "2,3,3,1", "--form", "matrix"], capsys)
    assert rc == 0
    for line in ("δ⁽³⁾ = ŷ − y", "δ⁽²⁾ = (W⁽³⁾)ᵀδ⁽³⁾ ⊙ σ′(a⁽²⁾)", "δ⁽¹⁾ = (W⁽²⁾)ᵀδ⁽²⁾ ⊙ σ′(a⁽¹⁾)",
                 "∂L/∂W⁽¹⁾ = δ⁽¹⁾xᵀ", "∂L/∂b⁽²⁾ = δ⁽²⁾", "∂L/∂W⁽³⁾ = δ⁽³⁾z⁽²⁾ᵀ", "L = ½‖ŷ − y‖²"):
        assert line in out.splitlines(), line
    rc, out, _ = _run(["derive", "mlp", "--sizes", "2,3,3,1"], capsys)
    assert "∂L/∂W1_1_1 = (not shown: 984 characters, 174 ops as a tree; see --json, or --form matrix)" in out
    rc, out, _ = _run(["derive", "mlp", "--sizes", "2,3,3,1", "--json"], capsys)
    assert len(json.loads(out)["gradient"]["W1_1_1"]["text"]) > 900   # the JSON keeps the whole


def test_one_spelling_of_parameter_names():
    m = builtin("mlp", sizes=(2, 3, 1))
    import diffkit.engine as dk
    g = dk.from_model(m).gradient()
    assert list(g) == list(m.wrt) and "W1_2_1" in m.wrt               # row 2, column 1 of W⁽¹⁾
    from diffkit.analysis.layer_listing import layer_listing
    assert list(layer_listing(m).gradient()) == list(m.wrt)
    assert "Wq1_2" in builtin("attention").wrt                         # row 1, column 2 of W_q
    # the report's prose too (it once said w1_1_1: str.capitalize lower-cases the rest of a sentence)
    import re
    from diffkit.report import build_report
    from diffkit.report.html import render_html
    html = render_html(build_report(compare(m, points=1), sections="model"))
    assert re.findall(r"\bw\d+_\d+_\d+", html) == [] and "Parameters: W1_1_1, W1_1_2" in html


@pytest.mark.parametrize("args,message", [
    (["compare", "rnn", "--depth", "0"], "Error: --depth must be an integer in [1, 64]; got 0 (per model: "
                                         "logistic-map 1..64, rnn 1..8, attention 1..3)"),
    (["compare", "rnn", "--depth", "9"], "Error: rnn: T = 9 steps; allowed: T in 1..8 (--depth T)"),
    (["compare", "attention", "--depth", "4"], "Error: attention: T = 4 tokens; allowed: T in 1..3 (--depth T)"),
    (["backprop", "mlp", "--sizes", "10,10,1"],
     "Error: mlp 10-10-1 has 121 parameters; the scalar listing is kept for nets of at most 64; use --layers for "
     "the layer-wise listing"),
    (["backprop", "--layers"], "Error: --layers lists the layers of an MLP; 'ridge-sigmoid' is not one (use: "
                               "diffkit backprop mlp --sizes 2,3,3,1 --layers)"),
    (["swell", "--model", "cnn"], "Error: --model 'cnn' is not a swell model; allowed: logistic-map, rnn"),
    (["compare", "conv1d", "--depth", "3"], "Error: option n (--depth) does not apply to model 'conv1d'; it takes "
                                            "no options"),
])
def test_bad_input_is_one_error_line(args, message, capsys):
    rc, out, err = _run(args, capsys)
    assert rc == 2 and err.strip() == message and not out


def test_rnn_model_is_refused_at_zero_steps_by_the_library():
    with pytest.raises(BadInput, match=r"rnn: T = 0 steps; allowed: T in 1\.\.8"):
        builtin("rnn", n=0)


def test_layer_gradient_at_another_point_follows_the_point():
    m = builtin("batchnorm")
    pt = {**m.point(), "x1": 3.0, "eps": 1e-3}
    from diffkit.symbolic.derive import gradient
    sym = gradient(m)
    g = layer_gradient(m, pt)
    sub = m.subs_point(pt)
    assert all(abs(g[p] - float(sym[p].xreplace(sub))) <= 1e-12 for p in m.wrt)
