"""Reports: a self-contained HTML file and a PDF with the same content, from result objects only.

>>> from diffkit.report import write_report   # doctest: +SKIP
>>> write_report(compare(builtin("ridge-sigmoid")), "reports/ridge-sigmoid.html")  # doctest: +SKIP

Layers: :mod:`.content` arranges a :class:`~diffkit.analysis.compare.Comparison`, a study and the
swell rows into a :class:`~.document.Document`; :mod:`.html` (Jinja2) and :mod:`.pdf` (fpdf2) render
that one document; :mod:`.write` writes both files atomically.  :mod:`.study` is the library
function that runs the report's GD/SGD study when the caller does not pass one.
"""

from .document import Document
from .reproduce import strip_timing
from .study import StudySettings, report_study
from .write import build_report, write_report

__all__ = ["Document", "StudySettings", "build_report", "report_study", "strip_timing", "write_report"]
