"""What "the same report" means when wall times are measured.

Everything in a report is a deterministic function of its inputs except measured wall times.  The
HTML wraps each timing-dependent fragment (the wall-time plot, the time column of the cost table) in
``<!--timing-->…<!--/timing-->``; :func:`strip_timing` removes them, and two reports of the same
inputs must then be byte-identical.  With timing switched off (``StudySettings(timing=False)``,
``diffkit report --no-timing``) the HTML *and* the PDF are byte-identical as they are.  A report
rendered twice from the same result objects is byte-identical in both formats, timing or not.

>>> strip_timing("a<!--timing-->12 ms<!--/timing-->b")
'a<!--timing--><!--/timing-->b'
"""

from __future__ import annotations

import re

_TIMING = re.compile(r"<!--timing-->.*?<!--/timing-->", re.S)


def strip_timing(html: str) -> str:
    """``html`` with the content of every timing-dependent fragment removed (markers kept)."""
    return _TIMING.sub("<!--timing--><!--/timing-->", html)


# -- "the same content": what the committed example report is checked against ---------------------
#
# Bytes are the wrong test across machines: another NumPy/BLAS/matplotlib build moves a plotted
# point in its 6th digit.  Content is: every word and every printed number of the text, the
# structure of every picture, and every coordinate to within a fraction of a point.

_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_NUM = re.compile(r"(?<![\w#.\-−])[−-]?\d+(?:\.\d+)?(?:e[−+-]?\d+)?")

#: A printed number below this in magnitude is rounding noise (an error against the symbolic
#: gradient, an excess loss at the float64 floor): two reports need only agree on its order.
NOISE = 1e-8

#: Coordinates (SVG user units, i.e. points) may move by this much: invisible at any zoom.
SVG_TOLERANCE = 0.5


def _float(s: str) -> float:
    return float(s.replace("−", "-"))


def _numbers(text: str) -> tuple[str, list[str]]:
    return _NUM.sub("#", text), _NUM.findall(text)


def _same_number(a: str, b: str, *, svg: bool) -> bool:
    if a == b:
        return True
    x, y = _float(a), _float(b)
    if svg:
        return abs(x - y) <= SVG_TOLERANCE
    return abs(x) < NOISE and abs(y) < NOISE  # both rounding noise


def _ids(html: str) -> str:
    """Every id (and reference to it) renamed ``@1``, ``@2``, … in order of first appearance."""
    names: dict[str, str] = {}
    for m in re.finditer(r'\bid="([^"]+)"', html):
        names.setdefault(m.group(1), f"@{len(names) + 1}")

    def ref(m):
        return m.group(1) + names.get(m.group(2), m.group(2)) + m.group(3)
    html = re.sub(r'(\bid=")([^"]+)(")', ref, html)
    return re.sub(r'(href="#|url\(#)([^")]+)([")])', ref, html)


def _pieces(html: str) -> list[tuple[bool, str]]:
    """(is_svg, text) pieces of a report's HTML, timing fragments emptied, ids canonical."""
    html = _ids(strip_timing(html))
    out, last = [], 0
    for m in _SVG.finditer(html):
        out.append((False, html[last:m.start()]))
        out.append((True, m.group(0)))
        last = m.end()
    out.append((False, html[last:]))
    return out


def content_diff(new: str, old: str, *, limit: int = 5) -> list[str]:
    """How the content of two report HTML texts differs (empty: the same report).

    Words, markup and printed numbers must be equal (numbers below :data:`NOISE` in magnitude only
    need both to be that small); inside pictures the structure must be equal and every coordinate
    within :data:`SVG_TOLERANCE`; ids are compared up to renaming; timing fragments are ignored.

    >>> a = '<p>L = 0.0919</p><svg><path id="m1" d="M 1.000001 2"/><use href="#m1"/></svg>'
    >>> b = '<p>L = 0.0919</p><svg><path id="q7" d="M 1.000004 2"/><use href="#q7"/></svg>'
    >>> content_diff(a, b)
    []
    >>> content_diff(a.replace("0.0919", "0.0920"), b)
    ["text: number 0.0920 where the other report has 0.0919, in '<p>L = #</p>'"]
    >>> content_diff(a.replace("M 1.0", "M 3.0"), b)[0].startswith("picture 1: coordinate 3.000001")
    True
    """
    out: list[str] = []
    pa, pb = _pieces(new), _pieces(old)
    if [s for s, _ in pa] != [s for s, _ in pb]:
        return [f"the reports hold {sum(s for s, _ in pa)} and {sum(s for s, _ in pb)} pictures"]
    pic = 0
    for (svg, ta), (_, tb) in zip(pa, pb):
        pic += svg
        where = f"picture {pic}" if svg else "text"
        (ka, na), (kb, nb) = _numbers(ta), _numbers(tb)
        if ka != kb:
            i = next((i for i, (x, y) in enumerate(zip(ka, kb)) if x != y), min(len(ka), len(kb)))
            out.append(f"{where}: {ka[max(0, i - 60):i + 60]!r} where the other report has "
                       f"{kb[max(0, i - 60):i + 60]!r}")
        else:
            skel = ka.split("#")
            for k, (x, y) in enumerate(zip(na, nb)):
                if not _same_number(x, y, svg=svg):
                    ctx = "#".join(skel[max(0, k - 1):k + 3])[-80:] if not svg else ""
                    out.append(f"{where}: {'coordinate' if svg else 'number'} {x} where the other report has "
                               f"{y}" + (f", in {ctx!r}" if ctx else ""))
                    break
        if len(out) >= limit:
            break
    return out


def text_diff(new: str, old: str, *, limit: int = 5) -> list[str]:
    """The same rule for plain text (e.g. a PDF's extracted text): words and numbers, noise aside."""
    (ka, na), (kb, nb) = _numbers(new), _numbers(old)
    if ka != kb:
        i = next((i for i, (x, y) in enumerate(zip(ka, kb)) if x != y), min(len(ka), len(kb)))
        return [f"{ka[max(0, i - 60):i + 60]!r} where the other has {kb[max(0, i - 60):i + 60]!r}"]
    return [f"number {x} where the other has {y}" for x, y in zip(na, nb)
            if not _same_number(x, y, svg=False)][:limit]
