"""Atomic writes and path errors of ``write_report``."""

import os

import pytest

from diffkit.errors import BadInput, DiffkitError
from diffkit.report import write_report


def _kw(small_study, swell_rows, baydin):
    return {"study": small_study, "swell_rows": swell_rows, "baydin": baydin}


@pytest.mark.parametrize("name", ["report.pdf", "report.txt", "report"])
def test_bad_suffix_is_bad_input(tmp_path, comparison, name):
    with pytest.raises(BadInput, match="must end in .html"):
        write_report(comparison, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_directory_as_path_is_bad_input(tmp_path, comparison):
    (tmp_path / "x.html").mkdir()
    with pytest.raises(BadInput, match="is a directory"):
        write_report(comparison, tmp_path / "x.html")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_is_bad_input(tmp_path, comparison):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(BadInput, match="not writable"):
            write_report(comparison, ro / "r.html")
    finally:
        ro.chmod(0o700)


def test_missing_parent_below_a_file_is_bad_input(tmp_path, comparison):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BadInput, match="cannot create the directory"):
        write_report(comparison, tmp_path / "afile" / "r.html")


def test_pdf_failure_leaves_no_file_and_keeps_the_old_report(tmp_path, monkeypatch, comparison, small_study,
                                                            swell_rows, baydin):
    import diffkit.report.pdf as pdfmod

    target = tmp_path / "r.html"
    target.write_text("old report")

    def boom(doc):
        raise RuntimeError("pdf failed")

    monkeypatch.setattr(pdfmod, "render_pdf", boom)
    with pytest.raises(RuntimeError):
        write_report(comparison, target, **_kw(small_study, swell_rows, baydin))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    assert target.read_text() == "old report"


def test_failing_rename_removes_the_temporaries(tmp_path, monkeypatch, comparison, small_study, swell_rows, baydin):
    import diffkit.report.write as w

    calls = []

    def replace(src, dst):
        calls.append(dst)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(w.os, "replace", replace)
    with pytest.raises(DiffkitError, match="cannot write the report"):  # OutputError: exit 1, not bad input
        write_report(comparison, tmp_path / "r.html", **_kw(small_study, swell_rows, baydin))
    assert list(tmp_path.iterdir()) == []
    assert len(calls) == 1


def test_writes_html_and_pdf_side_by_side(report):
    assert report.html.suffix == ".html" and report.pdf == report.html.with_suffix(".pdf")
    assert report.pdf.read_bytes().startswith(b"%PDF-")
    assert not [p for p in report.html.parent.iterdir() if p.name.endswith(".tmp")]
