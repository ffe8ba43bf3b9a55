"""``write_report``: build the document, render HTML and PDF in memory, then write both atomically."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import BadInput
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
    """(HTML path, PDF path) for ``path``; BadInput for a wrong suffix or an unwritable directory.

    Missing parent directories are created.
    """
    p = Path(path)
    if p.suffix.lower() not in HTML_SUFFIXES:
        raise BadInput(f"report path {str(p)!r} must end in .html (the PDF is written beside it with .pdf)")
    if p.is_dir():
        raise BadInput(f"report path {str(p)!r} is a directory; give a file name ending in .html")
    parent = p.parent if str(p.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the report directory {str(parent)!r}: {exc.strerror or exc}") from None
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"report directory {str(parent)!r} is not writable; choose another path")
    pdf = p.with_suffix(".pdf")
    for q in (p, pdf):
        if q.exists() and (q.is_dir() or not os.access(q, os.W_OK) and not os.access(parent, os.W_OK)):
            raise BadInput(f"cannot overwrite {str(q)!r}")
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
    """Write every file to a temporary sibling, then rename all; on any error remove the temporaries."""
    temps: dict[Path, str] = {}
    try:
        for target, data in files.items():
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            temps[target] = tmp
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
        for target, tmp in temps.items():
            os.replace(tmp, target)
    except OSError as exc:
        raise BadInput(f"cannot write the report to {str(next(iter(files)).parent)!r}: "
                       f"{exc.strerror or exc}") from None
    finally:
        for tmp in temps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
