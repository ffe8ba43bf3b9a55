"""``make demo`` regenerates the committed example report.

"Regenerates" means: the HTML is byte-identical once the timing-dependent fragments (marked
``<!--timing-->…<!--/timing-->``: the wall-time plot and the time column) are emptied, and the
PDF's text is identical once measured times (``12.3 ms``) are masked.  Skipped until the example
report is committed.
"""

import io
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "reports" / "ridge-sigmoid.html"


def _pdf_text(data: bytes) -> str:
    pypdf = pytest.importorskip("pypdf")
    text = "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\d+(\.\d+)? ?(µs|ms|s)\b", "<time>", text)


@pytest.mark.skipif(not COMMITTED.exists(), reason="no committed reports/ridge-sigmoid.html yet")
def test_demo_regenerates_the_committed_report(tmp_path):
    from diffkit import builtin
    from diffkit.analysis.compare import compare
    from diffkit.report import strip_timing, write_report

    w = write_report(compare(builtin("ridge-sigmoid")), tmp_path / "ridge-sigmoid.html")
    assert strip_timing(w.html.read_text(encoding="utf-8")) == strip_timing(COMMITTED.read_text(encoding="utf-8"))
    assert _pdf_text(w.pdf.read_bytes()) == _pdf_text(COMMITTED.with_suffix(".pdf").read_bytes())
