"""The model options are declared once, and there is one seed grammar."""

from __future__ import annotations

import pytest

from diffkit.cli import main
from diffkit.cli.app import app as typer_app
from diffkit.cli.app import ModelOptions, parse_seeds
from diffkit.errors import BadInput

MODEL_COMMANDS = ("compare", "backprop", "check", "derive", "report")
SHARED = ("--expr", "--wrt", "--depth", "--dim", "--sizes", "--activations", "--mlp-loss", "--force")


def _options(command: str) -> dict:
    import typer.main

    group = typer.main.get_command(typer_app)
    cmd = group.commands[command]
    return {opt: p for p in cmd.params for opt in getattr(p, "opts", [])}


@pytest.mark.parametrize("command", MODEL_COMMANDS)
def test_every_model_command_has_the_same_model_options(command):
    opts = _options(command)
    ref = _options("compare")
    for flag in SHARED:
        assert flag in opts, (command, flag)
        assert opts[flag].help == ref[flag].help  # the same declaration, not a copy


def test_model_options_build_one_model():
    m, point = ModelOptions(model="logistic-map", depth=3, at="x=0.25").build()
    assert m.name == "logistic-map" and m.spec["n"] == 3 and point == {"x": 0.25}
    m, _ = ModelOptions(expr="w*x", wrt="w").build()
    assert m.wrt == ("w",)


@pytest.mark.parametrize("text, seeds", [
    ("3", (3,)), ("0,1,2", (0, 1, 2)), ("0..4", (0, 1, 2, 3, 4)), (" 0..2 , 9 ", (0, 1, 2, 9)),
    ("4294967295", (4294967295,)),
])
def test_the_seed_grammar(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text, needle", [
    ("-1", "is not a seed"), ("1.5", "is not a seed"), ("4294967296", "too large"), ("3..1", "empty"),
    ("0..4294967295", "more than 1000 seeds"), ("", "at least one seed"), ("1,,2", "empty item"),
    ("1,1", "given twice"), ("x" * 20000, "characters long"),
])
def test_bad_seeds_name_the_rule(text, needle):
    with pytest.raises(BadInput, match=needle) as e:
        parse_seeds(text)
    assert len(str(e.value)) < 400


@pytest.mark.parametrize("argv", [
    ["compare", "--seed", "-1"], ["check", "--seed", "-1", "--claims", "-"], ["report", "--seeds", "-1"],
    ["train", "--seeds", "-1"], ["train", "--data-seed", "-1"], ["train", "--split-seed", "-1"],
])
def test_every_seed_option_reads_the_same_grammar(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is not a seed; seeds are non-negative integers" in err and err.count("\n") == 1


def test_single_seed_options_take_one_seed(capsys):
    assert main(["compare", "--seed", "0..3"]) == 2
    assert "takes one seed" in capsys.readouterr().err
