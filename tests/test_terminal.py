"""A terminal that fits: every command's default output fits 100 columns (``COLUMNS=100``), no
number is cut, and ``--wide`` shows every column and every digit."""

import pytest

from diffkit.cli import main
from diffkit.cli.tables import Column, render, text_width

CLAIMS = "d_L = 1\nd_u = u - y\nd_w = d_u * x + d_r * 2*w\n"

COMMANDS = [
    ["compare", "--points", "3"],
    ["compare", "mlp", "--points", "2"],
    ["compare", "--expr", "relu(w*x + b)**2 + abs(w - 1)*lam", "--wrt", "w,b", "--at", "w=1,b=-1,x=1,lam=0.5",
     "--points", "2"],
    ["backprop"], ["backprop", "mlp"], ["backprop", "logistic-map", "--depth", "4", "--latex"],
    ["swell", "--max-n", "5"],
    ["derive"], ["derive", "mlp", "--form", "expanded"], ["derive", "logistic-map", "-n", "4", "--latex"],
    ["derive", "--hessian"],
    ["optimize", "--n", "200", "--d", "3", "--epochs", "2", "--seeds", "0,1"],
    ["higher", "--max-k", "3"], ["hessian", "--n", "40", "--dim", "3"], ["hessian", "mlp"],
    ["jacobian", "--inputs", "20", "--outputs", "5", "--repeats", "1"],
    ["breakeven", "--models", "ridge-sigmoid", "--repeats", "1"],
    ["explore", "--out", "page.html"], ["profile", "--problems", "diabetes", "--seeds", "0"], ["report", "--sections", "model", "--no-timing", "--out", "r.html"],
    ["train", "--data", "moons", "--epochs", "2", "--seeds", "0"],
]


def _run(args, capsys, monkeypatch, tmp_path, columns="100"):
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "claims.txt").write_text(CLAIMS)
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out


@pytest.mark.parametrize("args", COMMANDS + [["check", "--claims", "claims.txt", "--points", "3"]],
                         ids=lambda a: " ".join(a))
def test_default_output_fits_100_columns(args, capsys, monkeypatch, tmp_path):
    rc, out = _run(args, capsys, monkeypatch, tmp_path)
    assert rc in (0, 1) and out.strip()
    too_long = [ln for ln in out.splitlines() if text_width(ln) > 100]
    assert not too_long, too_long[:3]


def test_wide_shows_every_column_and_digit(capsys, monkeypatch, tmp_path):
    args = ["optimize", "--n", "200", "--d", "3", "--epochs", "2", "--seeds", "0", "--no-timing"]
    _, narrow = _run(args, capsys, monkeypatch, tmp_path)
    _, wide = _run(args + ["--wide"], capsys, monkeypatch, tmp_path)
    header = lambda out: next(ln for ln in out.splitlines() if ln.lstrip().startswith("method"))  # noqa: E731
    assert "flops" not in header(narrow) and "--wide shows all" in narrow
    assert "flops" in header(wide) and "iterations" in header(wide) and "left out" not in wide
    _, cmp = _run(["compare", "--points", "2", "--wide"], capsys, monkeypatch, tmp_path)
    # every digit: the symbolic ∂L/∂w as repr(float) (17 significant digits)
    from diffkit import builtin
    from diffkit.analysis.compare import compare

    gw = compare(builtin("ridge-sigmoid"), points=2).agreement.gradients["symbolic"]["w"]
    assert repr(gw) in cmp


def test_a_narrow_terminal_drops_then_wraps_then_turns_vertical():
    cols = [Column("expression"), Column("value", "r"), Column("extra", optional=1)]
    rows = [("σ(wx + b)·σ′(wx + b)·x + 2λw with a long tail", "-0.0443016767576", "x")]
    # 1. the optional column goes
    assert "extra" not in render(cols, rows, width=66).splitlines()[0]
    # 2. the text column wraps; the number keeps every digit
    wrapped = render(cols, rows, width=40)
    assert all(text_width(ln) <= 40 for ln in wrapped.splitlines()[:-2])
    assert "-0.0443016767576" in wrapped
    # 3. too narrow even for that: one block of "name : value" lines per row
    vertical = render(cols, rows, width=24)
    assert "value      : -0.0443016767576" in vertical


def test_default_width_without_a_terminal_is_100(monkeypatch):
    from diffkit.cli import tables

    monkeypatch.delenv("COLUMNS", raising=False)
    assert tables.terminal_width() == 100
