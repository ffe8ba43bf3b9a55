"""The HTML report: self-contained, every equation and figure present, deterministic."""

import json
import re
import shutil
import subprocess

import markupsafe
import pytest

from diffkit.report import strip_timing
from diffkit.report.html import render_html

SECTIONS = ("model", "gradients", "backprop", "counts", "agreement", "swell", "study")


def _html(report):
    return report.html.read_text(encoding="utf-8")


def test_html_has_every_section_equation_and_figure(report, comparison):
    html, doc = _html(report), report.document
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in html
    # equations: loss + steps, 3 forms of each partial + CSE replacements, listing, redundancy,
    # agreement (the gradient table and the error table)
    c = comparison
    k = len(c.model.wrt)
    expected = (1 + len(c.listing.steps)) + 3 * k + len(c.derivations["cse"].replacements) \
        + len(c.listing.steps) + len(c.listing.lines) + len(c.redundancy) + min(len(c.redundancy_expanded), 8) \
        + 2 * k + 3 * 2  # Baydin rows n = 1, 2: l_n, d l_n/dx, simplified
    assert len(doc.equations()) == expected
    assert html.count('class="math"') == expected
    assert html.count("<figure") == len(doc.figures()) == 4  # graph, swell, 2 convergence plots (no timing)
    # every Math carries its SVG (display) or MathML (table cell) lines, every figure its SVG
    assert all(bool(m.svgs) != bool(m.mathml) for m in doc.equations())
    assert html.count("<svg") >= sum(len(m.svgs) for m in doc.equations()) + len(doc.figures())
    assert html.count("<math ") == sum(len(m.mathml) for m in doc.equations())


def test_html_is_self_contained(report):
    html = _html(report)
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", html)
    assert not re.search(r"""(src|href)=["'](?!#)""", html)  # only in-page anchors
    assert "@import" not in html and "url(http" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1998/Math/MathML"}
    assert "Content-Security-Policy" in html  # a browser refuses any load the report might try


def test_dot_text_is_in_a_collapsible_block(report, comparison):
    from diffkit.engine import to_dot

    html = _html(report)
    assert "<details><summary>Graphviz DOT text" in html
    first_edge = to_dot(comparison.graph).splitlines()[-2].strip()
    assert str(markupsafe.escape(first_edge)) in html


def test_html_is_a_pure_function_of_the_document(report):
    assert render_html(report.document) == _html(report)


def test_strip_timing_removes_only_marked_fragments():
    a = "x<!--timing-->1 ms<!--/timing-->y<!--timing--><svg>a</svg><!--/timing-->"
    b = "x<!--timing-->9 ms<!--/timing-->y<!--timing--><svg>b</svg><!--/timing-->"
    assert strip_timing(a) == strip_timing(b) != strip_timing(a.replace("y", "z"))


def test_timing_parts_are_marked(comparison, swell_rows, baydin):
    from diffkit.report import StudySettings, build_report, report_study

    st = report_study(settings=StudySettings(n=100, d=2, epochs=2, seeds=(0,), timing=True))
    html = render_html(build_report(comparison, study=st, swell_rows=swell_rows, baydin=baydin))
    assert html.count("<figure") == 5
    stripped = strip_timing(html)
    assert "wall time" not in re.sub(r"<figcaption>.*?</figcaption>", "", stripped.split('id="study"')[1]) \
        or stripped.count("<figure") == 4
    assert stripped.count("<figure") == 4  # the wall-time plot sits inside the timing markers
    assert not re.search(r"\d (µs|ms|s)</td>", stripped)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
#: Chromium's own background services (updates, time, accounts); not requests made by the page.
BROWSER_HOSTS = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_chromium_renders_offline_without_requests(report, tmp_path):
    netlog = tmp_path / "net.json"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--disable-default-apps", f"--log-net-log={netlog}",
           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", report.html.resolve().as_uri()]
    try:
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True).stdout
    except (subprocess.SubprocessError, OSError) as exc:  # a broken browser install is not our failure
        pytest.skip(f"chromium did not run: {exc}")
    urls = set(re.findall(r'"url":"([^"]+)"', netlog.read_text(errors="replace"))) if netlog.exists() else set()
    page = {u for u in urls if not any(h in u.split("/")[2] if "://" in u else False for h in BROWSER_HOSTS)}
    assert {u.split(":", 1)[0] for u in page} <= {"file"}, page
    assert {u for u in page if u.startswith("file:")} <= {report.html.resolve().as_uri()}
    doc = report.document
    assert dom.count('class="math"') == len(doc.equations())
    assert dom.count("<figure") == len(doc.figures())
    assert dom.count("<svg") == _html(report).count("<svg")
