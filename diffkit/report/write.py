"""``write_report``: build the document, render HTML and PDF in memory, then write both atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..constraints import shorten
from ..errors import BadInput
from ..io import check_output, write_atomically as _write_atomically
from .document import Document

HTML_SUFFIXES = (".html", ".htm")

#: Depth of the logistic map for the swell plot and table, and rows of the Baydin table.
SWELL_MAX_N = 8
BAYDIN_ROWS = 4


@dataclass(frozen=True)
class Written:
    """Where a report went, and its document (for callers that want to count or inspect)."""

    html: Path
    pdf: Path
    document: Document


def check_path(path: str | os.PathLike) -> tuple[Path, Path]:
    """(HTML path, PDF path) for ``path``; BadInput for a wrong suffix, a folder, a name too long or
    an unwritable place.  Nothing is created here (see :func:`diffkit.io.check_output`)."""
    p = Path(path)
    if p.suffix.lower() not in HTML_SUFFIXES:
        raise BadInput(f"report path {shorten(str(p), 80)} must end in .html (the PDF is written beside it with .pdf)")
    if p.is_dir():
        raise BadInput(f"report path {shorten(str(p), 80)} is a directory; give a file name ending in .html")
    pdf = p.with_suffix(".pdf")
    check_output((p, pdf), what="report path")
    return p, pdf


def build_report(comparison, *, study=None, swell_rows: Sequence | None = None,
                 baydin: Sequence[dict] | None = None, settings=None) -> Document:
    """The report document; computes the default study and swell rows when they are not given."""
    from ..analysis.swell import baydin_rows, swell_table
    from .content import build_document
    from .study import report_study

    if study is None:
        study = report_study(comparison.model, settings)
    if swell_rows is None:
        swell_rows = swell_table(SWELL_MAX_N)
    if baydin is None:
        baydin = baydin_rows(BAYDIN_ROWS)
    return build_document(comparison, study, list(swell_rows), list(baydin))


def write_report(comparison, path: str | os.PathLike, *, study=None, swell_rows: Sequence | None = None,
                 baydin: Sequence[dict] | None = None, settings=None) -> Written:
    """Write the HTML report to ``path`` and the PDF beside it (same name, ``.pdf``).

    Parameters
    ----------
    comparison : Comparison
        From :func:`diffkit.analysis.compare.compare`.
    path : path
        Ends in ``.html``; missing directories are created.
    study : StudyResult, optional
        The GD/SGD study to show; default :func:`~diffkit.report.study.report_study` with ``settings``.
    swell_rows, baydin : optional
        Rows of :func:`~diffkit.analysis.swell.swell_table` / ``baydin_rows``; default n ≤ 8 / 4 rows.
    settings : StudySettings, optional
        Size of the default study (ignored when ``study`` is given).

    Both files are rendered in memory, written to temporary files in the target directory and
    only then renamed into place (``os.replace``), so a failure leaves neither a partial HTML nor
    a partial PDF (nor the temporaries).
    """
    from .html import render_html
    from .pdf import render_pdf

    html_path, pdf_path = check_path(path)
    doc = build_report(comparison, study=study, swell_rows=swell_rows, baydin=baydin, settings=settings)
    html = render_html(doc).encode("utf-8")
    pdf = render_pdf(doc)
    write_atomically({html_path: html, pdf_path: pdf})
    return Written(html_path, pdf_path, doc)


def write_atomically(files: dict[Path, bytes]) -> None:
    """Write every file to a temporary sibling, then rename all (:func:`diffkit.io.write_atomically`:
    folders are created only now and removed again on failure; temporaries never survive a
    failure, and the next run removes those a SIGKILL left)."""
    _write_atomically(files, what="report")
