"""The swell table: five representations of d l_n/dx, their growth laws, and the SymEngine backend."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from diffkit.analysis.swell import growth, swell_table
from diffkit.cli import main
from diffkit.errors import BadInput
from diffkit.symbolic.backends import symengine_available


@pytest.fixture(scope="module")
def rows():
    return swell_table(9)


def test_growth_laws(rows):
    n = np.array([r.n for r in rows[2:]], float)
    tree = np.array([r.ops_naive for r in rows[2:]], float)
    assert np.all(tree[1:] / tree[:-1] > 2.0)                                   # exponential
    cse = np.array([r.ops_cse for r in rows[2:]], float)
    assert 1.0 < np.polyfit(np.log(n[2:]), np.log(cse[2:]), 1)[0] < 3.0           # polynomial
    for col in ("ops_dag", "ops_tape", "ops_forward"):
        v = np.array([getattr(r, col) for r in rows[2:]])
        assert np.all(np.diff(v, 2) == 0), col                                   # exactly linear
    assert all(r.ops_dag <= r.ops_tape for r in rows)                            # DAG ≤ tape
    fits = {g.column: g for g in growth(rows)}
    assert fits["ops_dag"].rate == pytest.approx(6.0) and fits["ops_tape"].rate == pytest.approx(8.0)
    assert fits["ops_naive"].kind == "exponential" and fits["ops_naive"].rate > 2.0


def test_swell_prints_five_representations_and_the_fits(capsys):
    assert main(["swell", "--max-n", "5"]) == 0
    out = capsys.readouterr().out
    assert "tree+cse" in out and "DAG" in out and "forward mode" in out
    assert "DAG +6.0/level" in out and "tape +8.0/level" in out


@pytest.mark.skipif(not symengine_available(), reason="SymEngine is not installed (pip install 'diffkit[symengine]')")
def test_symengine_backend_gives_the_same_tree_sizes(rows):
    fast = swell_table(9, backend="symengine")
    assert [r.ops_naive for r in fast[2:]] == [r.ops_naive for r in rows[2:]]
    assert [r.ops_dag for r in fast] == [r.ops_dag for r in rows]
    assert all(r.backend == "symengine" for r in fast)
    assert swell_table(12, backend="symengine")[-1].ops_naive == 195072        # the flat tree at n = 12


def test_missing_backend_is_one_error_line_naming_what_to_install(monkeypatch, capsys):
    real = builtins.__import__

    def no_symengine(name, *a, **k):
        if name == "symengine":
            raise ImportError("No module named 'symengine'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_symengine)
    with pytest.raises(BadInput, match=r"pip install 'diffkit\[symengine\]'"):
        swell_table(3, backend="symengine")
    assert main(["swell", "--backend", "symengine"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: the symengine backend needs SymEngine") and err.count("\n") == 1
    assert main(["swell", "--backend", "maple"]) == 2
    assert "allowed: sympy, symengine" in capsys.readouterr().err
