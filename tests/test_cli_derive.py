"""`diffkit derive` end to end: output, JSON contract, and hostile expression strings."""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import time

import pytest

from diffkit.cli import main

HOSTILE = [
    "__import__('os').system('touch /tmp/diffkit-pwned')",
    "__import__",
    "w.__class__",
    "w.__class__.__mro__[1].__subclasses__()",
    "x.real",
    "().__class__",
    "lambda: 0",
    "(lambda x: x)(w)",
    "[w for w in x]",
    "{w: 1}",
    "'w'",
    '"w" * 3',
    "9**9**9",
    "10**10**10",
    "w**(10**9)",
    "1e999999 * w",
    "9" * 200 + "*w",
    "(" * 10_000 + "w" + ")" * 10_000,
    "(" * 150 + "w" + ")" * 150,
    "-" * 500 + "w",
    "sigmoid(" * 200 + "w" + ")" * 200,
    "",
    "   ",
    "(w + b",
    "w + b)",
    "w +",
    "* w",
    "w b",
    "2w",
    "foo(w)",
    "eval('w')",
    "exec('import os')",
    "open('/etc/passwd')",
    "getattr(w, 'x')",
    "globals()",
    "w if b else x",
    "w; import os",
    "w = 1",
    "w @ b",
    "w ^ 2",
    "w % 2",
    "max(w)",
    "exp(w, b)",
    "exp",
    "sqrt(-1) * w",
    "log(0) + w",
    "1/0 + w",
    "w\x00",
    "w # comment",
    "`w`",
    "w[0]",
    "not w",
    "True + w",
]


@pytest.fixture()
def no_eval(monkeypatch, request):
    """Fail loudly if the user's text reaches eval, exec, sympify or parse_expr.

    (typer itself evaluates our own string annotations, so only calls carrying the user's text
    are refused.)
    """
    import sympy
    import sympy.parsing.sympy_parser as sp_parser

    text = request.node.callspec.params["expr"].strip()
    real = {"eval": builtins.eval, "exec": builtins.exec, "sympify": sympy.sympify}

    def guard(name):
        def call(src, *a, **k):
            # short texts ("exp") also occur in our own annotations, which typer evaluates
            if text and isinstance(src, str) and (src.strip() == text or (len(text) >= 8 and text in src)):
                raise AssertionError(f"{name} was called on the user's text")
            return real[name](src, *a, **k)
        return call

    def refuse(*a, **k):
        raise AssertionError("parse_expr was called")

    monkeypatch.setattr(builtins, "eval", guard("eval"))
    monkeypatch.setattr(builtins, "exec", guard("exec"))
    monkeypatch.setattr(sympy, "sympify", guard("sympify"))
    monkeypatch.setattr(sp_parser, "parse_expr", refuse)
    monkeypatch.setattr(sympy, "parse_expr", refuse)


@pytest.mark.parametrize("expr", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_expression_is_refused_in_one_line(expr, capsys, no_eval):
    assert len(HOSTILE) >= 30
    start = time.perf_counter()
    code = main(["derive", "--expr", expr, "--wrt", "w"])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert "Traceback" not in err
    assert elapsed < 1.0  # the bound: refusals are immediate (no 9**9**9 evaluation)
    assert not os.path.exists("/tmp/diffkit-pwned")


def test_hostile_expression_through_the_real_console_script(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "diffkit")
    r = subprocess.run([exe, "derive", "--expr", "__import__('os').system('touch pwned')", "--wrt", "w"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("Error: names may not start with an underscore") and r.stderr.count("\n") == 1
    assert not (tmp_path / "pwned").exists()


def test_derive_default_prints_the_lecture_gradients(capsys):
    assert main(["derive"]) == 0
    out = capsys.readouterr().out
    assert "∂L/∂w = (σ(wx + b) − y)·σ′(wx + b)·x + 2λw" in out
    assert "∂L/∂b = (σ(wx + b) − y)·σ′(wx + b)" in out


def test_derive_expr_equals_builtin(capsys):
    main(["derive", "--expr", "0.5*(y - sigmoid(w*x + b))**2 + lam*w**2", "--wrt", "w,b", "--json"])
    user = json.loads(capsys.readouterr().out)
    main(["derive", "ridge-sigmoid", "--json"])
    ref = json.loads(capsys.readouterr().out)
    assert user["gradient"] == ref["gradient"]


def test_derive_json_has_stable_keys(capsys):
    assert main(["derive", "--json", "--hessian"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"model", "form", "wrt", "params", "loss", "gradient", "replacements", "notes", "hessian"} <= set(d)
    assert d["wrt"] == ["w", "b"]
    assert set(d["gradient"]["w"]) == {"text", "pretty", "latex"}
    assert d["gradient"]["b"]["text"] == "(sigmoid(w*x + b) - y)*sigmoid_prime(w*x + b)"
    assert d["hessian"]["w"]["b"]["text"] == d["hessian"]["b"]["w"]["text"]


@pytest.mark.parametrize("form", ["lecture", "expanded", "simplified", "cse"])
def test_every_form_renders(form, capsys):
    assert main(["derive", "--form", form]) == 0
    assert "∂L/∂w" in capsys.readouterr().out


def test_matrix_form_and_latex(capsys):
    assert main(["derive", "linear-regression", "--form", "matrix", "--latex"]) == 0
    assert r"- X^{T} \left(y - X w\right)" in capsys.readouterr().out


def test_derive_help_shows_an_example(capsys):
    assert main(["derive", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples" in out and "diffkit derive --expr" in out


@pytest.mark.parametrize("argv,needle", [
    (["derive", "nosuch"], "unknown model 'nosuch'"),
    (["derive", "--form", "bogus"], "unknown form 'bogus'"),
    (["derive", "ridge-sigmoid", "--form", "matrix"], "has no matrix form"),
    (["derive", "--expr", "w*x"], "--wrt is required"),
    (["derive", "--expr", "w*x", "--wrt", "q"], "'q', which does not appear"),
    (["derive", "mlp", "--sizes", "2,x"], "--sizes expects comma-separated integers"),
    (["derive", "mlp", "--activations", "sigmoid,gelu"], "got 'gelu'"),
    (["derive", "logistic-map", "--depth", "0"], "--depth must be an integer in [1, 64]"),
    (["derive", "ridge-sigmoid", "--depth", "3"], "does not apply to model 'ridge-sigmoid'"),
    (["derive", "--nope"], "No such option"),
])
def test_bad_options_are_one_line_errors(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1 and needle in err, err
