"""The reports as a reader sees them: every HTML page in a real Chromium at 1280 px with no element
whose content overflows its box, and the PDF's pages rendered with pdftoppm (first page at least
half full).  Skipped, with the reason, where no browser or no pdftoppm is installed."""

import shutil
import subprocess

import pytest

from browser import chromium, needs_chromium, overflowing, requests_made


@needs_chromium
@pytest.mark.parametrize("which", ["report", "mlp_report"])
def test_no_element_overflows_at_1280_px(which, request):
    written = request.getfixturevalue(which)
    with chromium(1280) as d:
        d.get(written.html.resolve().as_uri())
        assert d.execute_script("return document.querySelectorAll('section').length") == len(written.document.sections)
        assert overflowing(d) == []
        assert set(requests_made(d)) <= {written.html.resolve().as_uri()}


def _ink_rows(png) -> tuple[int, int]:
    """(last row with ink, page height) of a rendered page."""
    from PIL import Image

    im = Image.open(png).convert("L")
    w, h = im.size
    px = im.load()
    last = 0
    for y in range(h):
        if any(px[x, y] < 200 for x in range(0, w, 2)):
            last = y
    return last, h


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm is not installed (apt-get install poppler-utils)")
@pytest.mark.parametrize("which", ["report", "mlp_report"])
def test_first_pdf_page_is_at_least_half_full(which, request, tmp_path):
    written = request.getfixturevalue(which)
    subprocess.run(["pdftoppm", "-r", "30", "-png", "-f", "1", "-l", "3", str(written.pdf), str(tmp_path / "p")],
                   check=True, timeout=60)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) == 3
    last, h = _ink_rows(pages[0])
    assert last / h >= 0.5, f"first page filled to {last / h:.0%}"
