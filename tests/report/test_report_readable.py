"""What makes a report readable and projectable: sections on demand, numbers defined where they
appear, excess losses clamped with a note, no source dump in the PDF, big models summarised."""

import io
import re

import pytest

from diffkit.errors import BadInput
from diffkit.report import SECTIONS, build_report, write_report
from diffkit.report.content import MAX_EQ_LATEX, clamp, clamp_note, vertical
from diffkit.report.document import Table


def _pdf_text(path) -> str:
    pypdf = pytest.importorskip("pypdf")
    return "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(path.read_bytes())).pages)


def test_sections_filter_keeps_order_and_renumbers(comparison, small_study):
    doc = build_report(comparison, study=small_study, sections="study,agreement")
    assert [s.id for s in doc.sections] == ["agreement", "study"]
    assert [s.title.split(".")[0] for s in doc.sections] == ["1", "2"]


def test_default_sections_are_those_with_results(comparison):
    doc = build_report(comparison)  # no study, no swell rows: those sections are left out, nothing is run
    assert [s.id for s in doc.sections] == ["model", "gradients", "backprop", "counts", "agreement"]
    assert "GD vs SGD" not in doc.subtitle


@pytest.mark.parametrize("bad", ["bogus", "model,nope", ",", ""])
def test_unknown_section_is_bad_input_and_writes_nothing(tmp_path, comparison, bad):
    with pytest.raises(BadInput, match="choose from model, gradients"):
        write_report(comparison, tmp_path / "sub" / "r.html", sections=bad)
    assert list(tmp_path.iterdir()) == []


def test_a_section_without_its_results_is_bad_input(tmp_path, comparison):
    with pytest.raises(BadInput, match="study"):
        write_report(comparison, tmp_path / "r.html", sections=["study"])
    assert list(tmp_path.iterdir()) == []


def test_write_report_refuses_what_is_not_a_comparison(tmp_path):
    with pytest.raises(BadInput, match="a Comparison"):
        write_report(None, tmp_path / "r.html")


def test_relative_error_is_defined_beside_the_numbers(report):
    doc = report.document
    agreement = next(s for s in doc.sections if s.id == "agreement")
    captions = " ".join(b.caption for b in agreement.blocks if isinstance(b, Table))
    assert "|a − b| / max(|b|, 1)" in captions and "abs. = |a − b|" in captions
    errors = [b for b in agreement.blocks if isinstance(b, Table)][1]
    # the lecture's neuron has |∂L/∂w|, |∂L/∂b| < 1: the note says why abs. and rel. coincide
    assert all(row[1] == row[2] for row in errors.rows)
    assert "rel. equals abs." in errors.note
    text = re.sub(r"\s+", " ", _pdf_text(report.pdf))
    assert "|a − b| / max(|b|, 1)" in text


def test_excess_losses_below_zero_are_clamped_with_a_note():
    assert clamp(-1.7e-18) == 0.0 and clamp(2e-5) == 2e-5 and clamp(None) is None
    rows = [{"excess": 1e-9, "excess_min": -1.7e-18, "excess_max": 3e-9}, {"excess": 2e-3, "excess_min": 1e-3,
                                                                          "excess_max": 4e-3}]
    assert clamp_note(rows).startswith("Excess losses below 0 (down to −1.7e−18")
    assert clamp_note(rows[1:]) == ""


def test_the_study_table_shows_no_negative_excess_loss(report):
    study = next(s for s in report.document.sections if s.id == "study")
    cost = next(b for b in study.blocks if isinstance(b, Table))
    excess = next(r for r in cost.rows if r[0].startswith("final excess loss"))
    assert not any("−" in c.split("e")[0] for c in excess[1:]), excess


def test_vertical_turns_a_wide_table_on_its_side():
    t = Table(("method", "a", "b", "c"), (("gd", "1", "2", "3"), ("sgd", "4", "5", "6")), timing_columns=(2,))
    v = vertical(t)
    assert v.columns == ("method", "gd", "sgd")
    assert v.rows == (("a", "1", "4"), ("b", "2", "5"), ("c", "3", "6"))
    assert v.is_timing(1, 1) and not v.is_timing(1, 0) and not v.is_timing(0, 1)


def test_pdf_has_no_dot_dump_and_says_where_it_is(report):
    text = _pdf_text(report.pdf)
    assert "digraph" not in text and "->" not in text
    assert "in the HTML report" in text


def test_display_maths_is_large(report):
    from diffkit.report.mathsvg import DISPLAY_SIZE, SIZE

    doc = report.document
    from diffkit.report.document import Equations

    display = [m for b in doc.blocks() if isinstance(b, Equations) for _, m in b.rows]
    assert display and all(m.size == DISPLAY_SIZE and m.svgs for m in display)
    assert DISPLAY_SIZE >= 1.3 * 16 > SIZE  # well above the 16 px body text


def test_prose_comes_from_the_numbers(report, comparison):
    agreement = next(s for s in report.document.sections if s.id == "agreement")
    shows = agreement.blocks[-1].text
    worst = max(e[1] for e in comparison.agreement.errors["numeric"].values())
    assert f"central differences {worst:.1e}" in shows
    assert "≈1e−16" not in shows and "about 1e−12" not in shows


def test_big_model_is_summarised(mlp_report):
    html = mlp_report.html.read_text(encoding="utf-8")
    assert mlp_report.html.stat().st_size <= 3 * 2**20
    assert mlp_report.pdf.stat().st_size <= 3 * 2**20
    doc = mlp_report.document
    grads = next(s for s in doc.sections if s.id == "gradients")
    summary = next(b for b in grads.blocks if isinstance(b, Table))
    assert summary.caption.startswith("Partials too long to read")
    c_params = len(mlp_report.document.sections[0].blocks)  # noqa: F841 — the model section exists
    # every partial is either typeset or summarised, none typeset beyond the limit
    from diffkit.report.document import Equations

    typeset = [m for b in grads.blocks if isinstance(b, Equations) for _, m in b.rows]
    assert all(len(m.latex) <= MAX_EQ_LATEX + 40 for m in typeset)
    assert "Graphviz DOT" in html or "more than the" in html


def test_sections_option_in_the_cli(tmp_path, capsys, monkeypatch):
    import diffkit.report.write as w
    from diffkit.cli import main

    monkeypatch.setattr(w, "SWELL_MAX_N", 3)
    out = tmp_path / "r.html"
    assert main(["report", "--sections", "model,agreement", "--out", str(out), "--points", "2"]) == 0
    html = out.read_text(encoding="utf-8")
    assert '<section id="agreement">' in html and '<section id="study">' not in html
    capsys.readouterr()
    bad = tmp_path / "new" / "r.html"
    assert main(["report", "--sections", "model,graphs", "--out", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error: --sections: unknown section 'graphs'")
    assert not (tmp_path / "new").exists()


def test_every_section_name_is_documented():
    assert list(SECTIONS) == ["model", "gradients", "backprop", "counts", "agreement", "layers", "swell", "study"]
    import typing
    from diffkit.cli.report import report_cmd
    help_text = typing.get_type_hints(report_cmd, include_extras=True)["sections"].__metadata__[0].help
    assert [name for name in SECTIONS if name not in help_text] == []  # --help names every section


@pytest.mark.parametrize("which", ["report", "mlp_report"])
def test_no_heading_is_left_at_a_page_foot(which, request):
    pypdf = pytest.importorskip("pypdf")
    w = request.getfixturevalue(which)
    titles = [s.title for s in w.document.sections]
    pages = [p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(w.pdf.read_bytes())).pages]
    for k, text in enumerate(pages[:-1]):
        tail = " ".join(ln.strip() for ln in text.splitlines() if ln.strip())[-160:]
        for t in titles:
            # a heading must not be the last thing on a page (nothing of its section after it)
            assert not tail.rstrip().endswith(t[-25:]), f"page {k + 1} ends with the heading {t!r}"
