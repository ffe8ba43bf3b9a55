"""The PDF report: every section heading and the agreement numbers, deterministic bytes."""

import io
import re

import pytest

pypdf = pytest.importorskip("pypdf")


def _text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\u2212", "-"))


def test_pdf_has_every_section_and_the_agreement_numbers(report, comparison):
    from diffkit.report.content import g

    text = _norm(_text(report.pdf.read_bytes()))
    for sec in report.document.sections:
        assert _norm(sec.title) in text, sec.title
    a = comparison.agreement
    for src, values in a.gradients.items():
        for p, v in values.items():
            assert _norm(g(v, 12)) in text, (src, p)
    for p in comparison.model.wrt:
        assert f"∂L/∂{p}" in text
        assert a.verdicts[p] in text


def test_pdf_embeds_every_equation_and_figure(report):
    reader = pypdf.PdfReader(io.BytesIO(report.pdf.read_bytes()))
    assert len(reader.pages) >= 5
    assert reader.metadata.title == report.document.title
    # DejaVu Sans is embedded (σ, λ, ∂ come out as text)
    fonts = set()
    for page in reader.pages:
        res = page.get("/Resources") or {}
        for f in (res.get("/Font") or {}).values():
            fonts.add(str(f.get_object().get("/BaseFont")))
    assert any("DejaVu" in f for f in fonts)


def test_same_inputs_give_identical_files(tmp_path, comparison, small_study, swell_rows, baydin, report):
    from diffkit.report import write_report

    again = write_report(comparison, tmp_path / "again.html", study=small_study, swell_rows=swell_rows,
                         baydin=baydin)
    assert again.html.read_bytes() == report.html.read_bytes()
    assert again.pdf.read_bytes() == report.pdf.read_bytes()
