"""``diffkit report``: options, the files it writes, one-line errors."""

import json

import diffkit.cli.report  # noqa: F401  (registers the command)
from diffkit.cli import main

import pytest

SMALL = ["--n", "100", "--d", "2", "--epochs", "2", "--seeds", "0,1", "--no-timing", "--points", "2"]


@pytest.fixture(autouse=True)
def _small_swell(monkeypatch):
    import diffkit.report.write as w

    monkeypatch.setattr(w, "SWELL_MAX_N", 3)
    monkeypatch.setattr(w, "BAYDIN_ROWS", 2)


def test_report_command_writes_both_files(tmp_path, capsys):
    out = tmp_path / "sub" / "neuron.html"
    rc = main(["report", "--out", str(out), "--at", "w=1,b=0", *SMALL])
    assert rc == 0
    assert capsys.readouterr().out.strip() == f"Report written to {out} and {out.with_suffix('.pdf')}"
    assert out.exists() and out.with_suffix(".pdf").exists()
    assert "w = 1, b = 0" in out.read_text(encoding="utf-8")


def test_report_command_json(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", "--out", str(out), "--json", *SMALL]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["html"] == str(out) and data["pdf"] == str(out.with_suffix(".pdf"))
    assert data["figures"] == 4 and len(data["sections"]) == 7


def test_bad_suffix_is_one_error_line(tmp_path, capsys):
    rc = main(["report", "--out", str(tmp_path / "r.pdf"), *SMALL])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("Error: report path")


def test_bad_seeds_is_one_error_line(tmp_path, capsys):
    rc = main(["report", "--out", str(tmp_path / "r.html"), "--seeds", "a,b"])
    assert rc == 2
    assert capsys.readouterr().err.startswith("Error: --seeds")
