"""JSON as an interface: every ``--json`` output validates against its schema in
``diffkit/schemas`` — also at non-finite points and at kinks — carries ``schema_version``, has every
documented key (null where not applicable), and encodes ∞ and NaN as "Infinity"/"-Infinity"/"NaN"."""

import json
import math

import pytest

jsonschema = pytest.importorskip("jsonschema")

from diffkit.cli import main  # noqa: E402
from diffkit.schemas import SCHEMA_VERSION, SCHEMAS, complete, decode_number, encode, payload, schema, validate  # noqa: E402

CASES = {
    "compare": [["compare", "--points", "2"],
                # a kink: relu at 0, no complex step (the loss is not analytic)
                ["compare", "--expr", "relu(w*x + b) + abs(w)", "--wrt", "w,b", "--at", "w=0,b=0,x=1", "--points", "2"],
                ["compare", "mlp", "--points", "1"]],
    "derive": [["derive"], ["derive", "--hessian"], ["derive", "--form", "cse"], ["derive", "linear-regression", "--form", "matrix"]],
    "backprop": [["backprop"], ["backprop", "--expr", "max(w, b)*x", "--wrt", "w,b", "--at", "w=1,b=1,x=2"]],
    "check": [["check", "--claims", "CLAIMS"]],
    "swell": [["swell", "--max-n", "3"]],
    "train": [["train", "--n", "60", "--d", "2", "--epochs", "2", "--seeds", "0"],
              # diverging SGD: the losses become huge
              ["train", "--n", "60", "--d", "2", "--epochs", "3", "--seeds", "0", "--C", "1e6", "--methods", "sgd"],
              # a step so large that the losses overflow: NaN in the JSON
              ["train", "--n", "60", "--d", "2", "--epochs", "5", "--seeds", "0", "--methods", "gd", "--schedule",
               "constant", "--C", "1e200"]],
    "sweep": [["train", "--n", "60", "--d", "2", "--epochs", "1", "--seeds", "0", "--sweep", "2", "--methods", "gd"]],
    "report": [["report", "--sections", "model", "--no-timing", "--points", "1", "--out", "OUT"]],
    "explore": [["explore", "--out", "OUT"]],
    "higher": [["higher", "--max-k", "3"]],
    "hessian": [["hessian", "--n", "40", "--dim", "3"], ["hessian", "ridge-sigmoid"],
                # a kink: relu's second derivative
                ["hessian", "mlp", "--sizes", "1,1,1", "--activations", "relu,identity"]],
    "breakeven": [["breakeven", "--models", "ridge-sigmoid", "--repeats", "1"]],
    "jacobian": [["jacobian", "--inputs", "20", "--outputs", "5", "--repeats", "1"]],
    "profile": [["profile", "--problems", "diabetes", "--seeds", "0"]],
}


def _run(args, capsys, tmp_path):
    (tmp_path / "claims.txt").write_text("d_b = d_z\nd_w = d_u * x\n")
    args = [str(tmp_path / "claims.txt") if a == "CLAIMS" else str(tmp_path / "r.html") if a == "OUT" else a
            for a in args]
    rc = main([*args, "--json"])
    out = capsys.readouterr()
    assert rc in (0, 1), out.err
    return json.loads(out.out)


@pytest.mark.parametrize("name,args", [(n, a) for n, cases in CASES.items() for a in cases],
                         ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_every_json_output_validates(name, args, capsys, tmp_path):
    data = _run(args, capsys, tmp_path)
    validate(name, data)
    assert data["schema_version"] == SCHEMA_VERSION
    # every key the schema documents is there, at the top level
    assert set(schema(name)["required"]) <= set(data)
    # no bare non-finite token could have been written (allow_nan=False), and no legacy spelling survives
    text = json.dumps(data)
    assert '"inf"' not in text and '"-inf"' not in text and '"nan"' not in text


def test_every_command_with_json_has_a_schema():
    assert set(CASES) <= set(SCHEMAS)
    for name in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(schema(name))
        assert "schema_version" in schema(name)["required"]


def test_complex_step_is_null_for_a_non_smooth_loss(capsys, tmp_path):
    data = _run(CASES["compare"][1], capsys, tmp_path)
    assert data["gradients"]["complex_step"] is None
    assert data["agreement"]["errors"]["complex_step"] is None
    assert data["agreement"]["verdicts"]["w"] == "kink"
    assert data["agreement"]["kinks"]["w"]["left"] != data["agreement"]["kinks"]["w"]["right"]


def test_non_finite_numbers_have_one_encoding():
    s = schema("compare")
    doc = {"value": math.inf, "ops": {"ratio": math.nan}, "lint": [{"fragile_value": "nan", "stable_value": 0.0}],
           "gradients": {"symbolic": {"w": -math.inf}}}
    out = complete(encode(doc), s)
    assert out["value"] == "Infinity" and out["ops"]["ratio"] == "NaN"
    assert out["lint"][0]["fragile_value"] == "NaN"  # a legacy "nan" string is normalised
    assert out["gradients"]["symbolic"]["w"] == "-Infinity"
    assert out["gradients"]["complex_step"] is None  # missing → null, as documented
    assert decode_number(out["value"]) == math.inf and math.isnan(decode_number("NaN"))
    # a string that is not a number stays a string
    assert complete({"model": "nan"}, s)["model"] == "nan"


def test_validation_catches_a_broken_output(capsys, tmp_path):
    data = _run(["swell", "--max-n", "2"], capsys, tmp_path)
    del data["rows"][0]["ops_cse"]
    with pytest.raises(jsonschema.ValidationError):
        validate("swell", data)
    data = _run(CASES["compare"][0], capsys, tmp_path)
    validate("compare", data)
    with pytest.raises(jsonschema.ValidationError):
        validate("compare", {**data, "value": None})  # null is never a number
    with pytest.raises(jsonschema.ValidationError):
        validate("compare", {**data, "value": "inf"})  # one spelling only


def test_non_finite_losses_of_a_diverged_run_validate(capsys, tmp_path):
    data = _run(CASES["train"][2], capsys, tmp_path)
    validate("train", data)
    run = data["runs"][0]
    assert run["status"] == "diverged"
    assert run["final"]["loss"] in ("NaN", "Infinity") and run["final"]["excess_loss"] in ("NaN", "Infinity")
    assert math.isnan(decode_number("NaN"))


def test_a_non_finite_point_validates():
    """exp(w·x) at w = 800 overflows: the value is +∞ and the errors are NaN, encoded as documented."""
    from diffkit import model_from_expr
    from diffkit.analysis.compare import compare
    from diffkit.errors import DiffkitError

    m = model_from_expr("exp(w*x)", wrt="w", at={"w": 800.0, "x": 1.0})
    try:
        c = compare(m, points=1)
    except DiffkitError as exc:  # the library may refuse such a point outright: nothing to encode then
        pytest.skip(f"compare refuses the overflow point: {exc}")
    data = json.loads(json.dumps(payload("compare", c.to_dict()), allow_nan=False))
    validate("compare", data)
    assert data["value"] == "Infinity"
    assert "NaN" in json.dumps(data["agreement"])
