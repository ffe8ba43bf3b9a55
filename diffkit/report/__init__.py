"""Reports: a self-contained HTML file and a PDF with the same content, from result objects only.

>>> from diffkit.report import write_report   # doctest: +SKIP
>>> write_report(compare(builtin("ridge-sigmoid")), "reports/ridge-sigmoid.html")  # doctest: +SKIP

Layers: :mod:`.content` arranges a :class:`~diffkit.analysis.compare.Comparison`, a study and the
swell rows into a :class:`~.document.Document`; :mod:`.html` (Jinja2) and :mod:`.pdf` (fpdf2) render
that one document; :mod:`.write` writes both files atomically.  The report only reads result
objects: a study (:func:`diffkit.study`, or :func:`.study.report_study` for the report's default
setting) is computed by the caller and handed in, never run here.
"""

from .document import Document
from .reproduce import strip_timing
from .study import StudySettings, report_study
from .write import SECTIONS, build_report, write_report

__all__ = ["Document", "SECTIONS", "StudySettings", "build_report", "report_study", "strip_timing", "write_report"]
