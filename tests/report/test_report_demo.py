"""``make demo`` regenerates the committed example report.

"Regenerates" means the same *content*, not the same bytes: another NumPy/BLAS/matplotlib build
moves plotted points in their 6th digit (and matplotlib's hashed ids with them).  So every word
and printed number of the HTML and of the PDF's text must be equal, every picture must have the
same structure with its coordinates within half a point, and timing fragments are ignored
(:func:`diffkit.report.reproduce.content_diff`).  When the report's content really changes, this
fails: regenerate with ``make demo`` and commit ``reports/``.
"""

import io
import re
import subprocess
from pathlib import Path

import pytest

from diffkit.report.reproduce import content_diff, text_diff

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "reports" / "ridge-sigmoid.html"
HINT = "the committed report is stale: run `make demo` and commit reports/"


def _pdf_text(data: bytes) -> str:
    pypdf = pytest.importorskip("pypdf")
    text = "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\d+(\.\d+)? ?(µs|ms|s)\b", "<time>", text)


def _demo_command() -> list[str]:
    """The `diffkit report ...` line of the Makefile's demo target, as arguments."""
    text = (REPO / "Makefile").read_text()
    recipe = text.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    line = next(ln for ln in recipe.splitlines() if " report " in ln)
    return line.split("diffkit", 1)[1].split()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    from diffkit.cli import main

    args = _demo_command()
    out = tmp_path_factory.mktemp("demo") / "ridge-sigmoid.html"
    i = args.index("--out")
    args[i + 1] = str(out)
    assert main(args) == 0
    return out


@pytest.mark.skipif(not COMMITTED.exists(), reason="no committed reports/ridge-sigmoid.html yet")
def test_demo_regenerates_the_committed_html(regenerated):
    diff = content_diff(regenerated.read_text(encoding="utf-8"), COMMITTED.read_text(encoding="utf-8"))
    assert not diff, HINT + "\n" + "\n".join(diff)


@pytest.mark.skipif(not COMMITTED.exists(), reason="no committed reports/ridge-sigmoid.html yet")
def test_demo_regenerates_the_committed_pdf(regenerated):
    diff = text_diff(_pdf_text(regenerated.with_suffix(".pdf").read_bytes()),
                     _pdf_text(COMMITTED.with_suffix(".pdf").read_bytes()))
    assert not diff, HINT + "\n" + "\n".join(diff)


@pytest.mark.skipif(not COMMITTED.exists(), reason="no committed reports/ridge-sigmoid.html yet")
def test_content_check_fails_on_a_real_change():
    html = COMMITTED.read_text(encoding="utf-8")
    assert content_diff(html, html) == []
    # a printed number changes
    i = html.index("L = 0.09")
    assert content_diff(html[:i] + "L = 0.08" + html[i + 8:], html)
    # a word changes
    assert content_diff(html.replace("What this shows", "What this hides", 1), html)
    # one plotted point moves by 3 pt (well above jitter, still a small change in a picture)
    m = re.search(r'<path d="M ([0-9.]+) ', html[html.index("<figure"):])
    start = html.index("<figure") + m.start(1)
    moved = html[:start] + f"{float(m.group(1)) + 3:.2f}" + html[start + len(m.group(1)):]
    assert any("coordinate" in d for d in content_diff(moved, html))
    # ... while jitter in the 6th digit and renamed ids are not a change
    jitter = re.sub(r"<figure.*?</figure>", lambda f: re.sub(
        r"<svg.*?</svg>", lambda sv: re.sub(r"(\d+\.\d\d)\d*", lambda q: q.group(1) + "4", sv.group(0)),
        f.group(0), flags=re.S), html, flags=re.S)
    assert jitter != html
    jitter = jitter.replace('id="graph_1"', 'id="zz"').replace('#graph_1"', '#zz"')
    assert '#zz"' in jitter
    assert content_diff(jitter, html) == []

