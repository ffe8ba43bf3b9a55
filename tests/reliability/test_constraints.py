"""Declared parameter constraints: one declaration, read by the API and by the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit.constraints as C
from diffkit.builtins import BUILTINS
from diffkit.cli import main
from diffkit.errors import BadInput


@pytest.mark.parametrize("c, good, bad", [
    (C.Interval(int, 0, 10), [0, 10, np.int64(3)], [-1, 11, 1.5, True, "3", None]),
    (C.Interval(float, 0, None), [0, 1e300, np.float32(2)], [-1e-300, math.nan, math.inf, "1", None]),
    (C.Interval(float, 0, 1, closed="neither"), [0.5], [0.0, 1.0]),
    (C.Options(("a", "b")), ["a"], ["c", None, 1]),
    (C.Seq(C.Interval(int, 1, 5), 1, 3, unique=True), [[1], (1, 2, 3)], [[], [1, 1], [0], (1, 2, 3, 4), "12"]),
])
def test_constraints_accept_what_they_describe_and_nothing_else(c, good, bad):
    for v in good:
        assert c.ok(v), (c, v)
    for v in bad:
        assert not c.ok(v), (c, v)
    for v in c.bad_examples():  # the values the common test feeds must really be outside
        assert not c.ok(v), (c, v)


def test_the_message_names_the_argument_the_value_and_what_is_allowed():
    with pytest.raises(BadInput) as e:
        C.check("points", 10**9, C.POINTS.constraint)
    assert str(e.value) == "points must be an integer in [0, 100000]; got 1000000000"


def test_a_huge_value_is_never_echoed_whole():
    with pytest.raises(BadInput) as e:
        C.check("expr", "x" * 100_000, C.Text(10))
    assert len(str(e.value)) < 200 and "100000 characters" in str(e.value)


def test_declared_model_names_match_the_builtins():
    assert tuple(C.MODEL_NAMES) == tuple(BUILTINS)


def test_validate_params_checks_positional_and_keyword_arguments():
    @C.validate_params(k=C.Param("k", C.Interval(int, 1, 3)))
    def f(k=1, *, z=0):
        return k

    assert f(2) == 2 and f(k=3) == 3
    with pytest.raises(BadInput, match="k must be an integer in"):
        f(0)
    with pytest.raises(BadInput, match="f\\(\\): "):
        f(1, 2)  # a wrong call is BadInput too, not a bare TypeError
    assert "k" in f.__diffkit_params__


@pytest.mark.parametrize("argv, flag", [
    (["compare", "--points", "-1"], "--points"),
    (["check", "--points", "-1", "--claims", "-"], "--points"),
    (["backprop", "logistic-map", "--depth", "65"], "--depth"),
    (["derive", "linear-regression", "--dim", "1001"], "--dim"),
    (["derive", "mlp", "--sizes", "2,0,1"], "--sizes"),
    (["swell", "--max-n", "13"], "--max-n"),
    (["train", "--n", "0"], "--n"),
    (["train", "--lam", "nan"], "--lam"),
    (["train", "--lam", "-1"], "--lam"),
    (["train", "--eps", "0"], "--eps"),
    (["train", "--condition", "0.5"], "--condition"),
])
def test_cli_refuses_out_of_range_values_under_the_flag_given(argv, flag, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {flag}") and err.count("\n") == 1, err


def test_help_prints_the_enforced_range(capsys):
    main(["compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Allowed: 0..100000" in out and "Allowed: 1..64" in out
    assert C.POINTS.constraint.high == 100000 and C.DEPTH.constraint.high == 64
