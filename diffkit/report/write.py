"""``write_report``: build the document, render HTML and PDF in memory, then write both atomically.

The report only *reads* result objects: a :class:`~diffkit.analysis.compare.Comparison`, and
optionally a study (:class:`~diffkit.optim.results.StudyResult`, computed by :mod:`diffkit.optim`)
and the swell rows (:func:`diffkit.analysis.swell.swell_table`).  A section whose result object
is not given is left out; nothing here derives, trains or measures anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..constraints import shorten
from ..errors import BadInput
from ..io import check_output, write_atomically as _write_atomically
from .document import Document
from .. import constraints as _cons

HTML_SUFFIXES = (".html", ".htm")

#: Depth of the logistic map for the swell plot and table, and rows of the Baydin table
#: (what callers such as ``diffkit report`` compute and hand to the report).
SWELL_MAX_N = 8
BAYDIN_ROWS = 4

#: Every section a report can hold, in order, and what each one reads.
SECTIONS = {
    "model": "the model, its loss and its computation graph (Comparison)",
    "gradients": "symbolic gradients: lecture form, expanded, CSE (Comparison)",
    "backprop": "the FORWARD/BACKWARD listing (Comparison)",
    "counts": "redundancy and operation counts (Comparison)",
    "agreement": "symbolic vs reverse mode vs finite differences vs complex step (Comparison)",
    "layers": "the network layer by layer, for an MLP or a layer model (Comparison.layer)",
    "swell": "expression swell on the logistic map (swell rows)",
    "study": "GD vs SGD convergence and cost (StudyResult)",
}


@dataclass(frozen=True)
class Written:
    """Where a report went, and its document (for callers that want to count or inspect)."""

    html: Path
    pdf: Path
    document: Document


def parse_sections(sections: str | Iterable[str] | None) -> tuple[str, ...]:
    """The section names to write, in report order; BadInput naming an unknown one.

    >>> parse_sections("study, model")
    ('model', 'study')
    >>> parse_sections(None) == tuple(SECTIONS)
    True
    """
    if sections is None:
        return tuple(SECTIONS)
    names = [s.strip() for s in (sections.split(",") if isinstance(sections, str) else sections)]
    names = [s for s in names if s]
    if not names:
        raise BadInput(f"--sections needs at least one name; choose from {', '.join(SECTIONS)}")
    for s in names:
        if s not in SECTIONS:
            shown = s if len(s) <= 40 else s[:40] + "…"
            raise BadInput(f"--sections: unknown section {shown!r}; choose from {', '.join(SECTIONS)}")
    return tuple(s for s in SECTIONS if s in names)


def check_path(path: str | os.PathLike) -> tuple[Path, Path]:
    """(HTML path, PDF path) for ``path``; BadInput for a wrong suffix, a folder, a name too long or
    an unwritable place.  Nothing is created here (see :func:`diffkit.io.check_output`)."""
    p = Path(path)
    if p.suffix.lower() not in HTML_SUFFIXES:
        raise BadInput(f"report path {shorten(str(p), 80)} must end in .html (the PDF is written beside it with .pdf)")
    pdf = p.with_suffix(".pdf")
    check_output((p, pdf), what="report path")  # a folder, a name too long, an unwritable place
    return p, pdf


def build_report(comparison, *, study=None, swell_rows: Sequence | None = None,
                 baydin: Sequence[dict] | None = None, sections: str | Iterable[str] | None = None) -> Document:
    """The report document from the result objects given (pure: computes nothing).

    ``sections`` (names from :data:`SECTIONS`) selects what to show; by default every section
    whose result object is given.  Asking for ``swell`` without ``swell_rows`` or for ``study``
    without ``study`` is BadInput.
    """
    from .content import build_document

    explicit = sections is not None
    names = parse_sections(sections)
    missing = {"swell": swell_rows is None, "study": study is None}
    if explicit:
        lacking = [s for s in names if missing.get(s)]
        if lacking:
            raise BadInput(f"section(s) {', '.join(lacking)} need their results (swell rows / a study); "
                           "pass them or leave the section out")
    else:
        names = tuple(s for s in names if not missing.get(s))
    return build_document(comparison, study, list(swell_rows or ()), list(baydin or ()), sections=names)


@_cons.validate_params(comparison=_cons.COMPARISON, path=_cons.PATH)
def write_report(comparison, path: str | os.PathLike, *, study=None, swell_rows: Sequence | None = None,
                 baydin: Sequence[dict] | None = None, sections: str | Iterable[str] | None = None) -> Written:
    """Write the HTML report to ``path`` and the PDF beside it (same name, ``.pdf``).

    Parameters
    ----------
    comparison : Comparison
        From :func:`diffkit.compare` / :func:`diffkit.analysis.compare.compare`.
    path : path
        Ends in ``.html``; missing folders are created when the files are written.
    study : StudyResult, optional
        A GD/SGD study computed by :func:`diffkit.study`; without it there is no study section.
    swell_rows, baydin : optional
        Rows of :func:`~diffkit.analysis.swell.swell_table` / ``baydin_rows``; without them there is
        no swell section.
    sections : str or sequence of str, optional
        Only these sections (names from :data:`SECTIONS`, e.g. ``"model,agreement"``).

    Everything is validated, then both files are rendered in memory, written to temporary files
    in the target folder and only then renamed into place (``os.replace``): a failure leaves
    neither a partial HTML nor a partial PDF, an earlier report at the same path untouched, and
    no folder it created.
    """
    from .html import render_html
    from .pdf import render_pdf

    if comparison is None or not hasattr(comparison, "agreement"):
        raise BadInput(f"write_report needs a Comparison (from diffkit.compare), got {type(comparison).__name__}")
    html_path, pdf_path = check_path(path)
    doc = build_report(comparison, study=study, swell_rows=swell_rows, baydin=baydin, sections=sections)
    html = render_html(doc).encode("utf-8")
    pdf = render_pdf(doc)
    write_atomically({html_path: html, pdf_path: pdf})
    return Written(html_path, pdf_path, doc)


def write_atomically(files: dict[Path, bytes]) -> None:
    """Write every file to a temporary sibling, then rename all (:func:`diffkit.io.write_atomically`:
    folders are created only now and removed again on failure; temporaries never survive a
    failure, and the next run removes those a SIGKILL left)."""
    _write_atomically(files, what="report")
