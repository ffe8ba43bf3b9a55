"""LaTeX → SVG for equations, in pure Python (ziamath, STIX Two Math glyphs drawn as paths).

The same SVG string goes inline into the HTML and, through fpdf2, into the PDF.  Glyphs are paths,
so neither reader needs a font; ``svg2 = False`` writes every glyph in place (no ``<symbol>`` ids,
which would clash between the many equations inlined in one HTML page).

Long expressions (the logistic map's derivative) are split at top-level ``+`` / ``−`` into lines,
since neither ziamath nor fpdf2 breaks lines.

>>> lines = equation_svgs(r"\\sigma'\\left(w x + b\\right)")
>>> len(lines), lines[0].startswith("<svg")
(1, True)
>>> len(split_latex("a + b + c", width=5))
3
"""

from __future__ import annotations

import functools
import re
import warnings

#: Font size (px) maths in tables is drawn at (the HTML body text is 16 px).
SIZE = 15.0
#: Font size of display equations: large enough to read on a projector from the back of a room.
DISPLAY_SIZE = 22.0

#: Characters of LaTeX source per displayed line before a long expression is split.
WIDTH = 150


def split_latex(latex: str, *, width: int = WIDTH) -> list[str]:
    """``latex`` cut at top-level ``+``/``-`` (outside braces and ``\\left…\\right``) into lines of
    at most about ``width`` source characters; continuation lines start with the operator."""
    if len(latex) <= width:
        return [latex]
    cuts, depth, i = [], 0, 0
    while i < len(latex):
        if latex.startswith(r"\left", i):
            depth += 1
            i += 5
            continue
        if latex.startswith(r"\right", i):
            depth -= 1
            i += 6
            continue
        ch = latex[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch in "+-" and depth == 0 and i > 0 and latex[i - 1] == " ":
            cuts.append(i)
        i += 1
    lines, start, last = [], 0, 0
    for c in cuts:
        if c - start > width and last > start:
            lines.append(latex[start:last].strip())
            start = last
        last = c
    lines.append(latex[start:].strip())
    if len(lines) > 1 and len(lines[-1]) > width and last > start:
        tail = lines.pop()
        k = last - start
        lines += [tail[:k].strip(), tail[k:].strip()]
    return [ln for ln in lines if ln]


@functools.lru_cache(maxsize=4096)
def latex_svg(latex: str, size: float = SIZE) -> str:
    """One line of LaTeX maths as a standalone SVG string (deterministic for the same input)."""
    import ziamath as zm

    zm.config.svg2 = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ziamath's pkg_resources use
        return _draw(zm, latex, size)


def _draw(zm, latex: str, size: float) -> str:
    try:
        svg = zm.Latex(latex, size=size).svg()
    except Exception:  # noqa: BLE001 — an unsupported command must not sink the whole report
        svg = zm.Latex(r"\text{" + _escape_text(latex) + "}", size=size).svg()
    return svg


def equation_svgs(latex: str, *, size: float = SIZE, width: int = WIDTH) -> list[str]:
    """``latex`` as one SVG per displayed line."""
    parts = split_latex(latex, width=width)
    out = []
    for k, part in enumerate(parts):
        src = part if k == 0 else r"\quad " + part
        out.append(latex_svg(src, size))
    return out


@functools.lru_cache(maxsize=4096)
def latex_mathml(latex: str) -> str:
    """One line of LaTeX maths as inline MathML (latex2mathml): what the HTML uses for maths in
    table cells, where browsers typeset it natively (MathML Core) — a few hundred bytes and
    milliseconds instead of the SVG's tens of kilobytes and the layout's tenths of a second."""
    import latex2mathml.converter as l2m

    try:
        return l2m.convert(latex)
    except Exception:  # noqa: BLE001 — an unsupported command falls back to its text
        return l2m.convert(r"\text{" + _escape_text(latex) + "}")


def equation_mathml(latex: str, *, width: int = WIDTH) -> list[str]:
    """``latex`` as one MathML element per displayed line (split as :func:`equation_svgs` does)."""
    return [latex_mathml(part) for part in split_latex(latex, width=width)]


def svg_size(svg: str) -> tuple[float, float]:
    """(width, height) of an SVG from its ``width``/``height`` attributes (pt/px, unitless)."""
    head = svg[: svg.index(">")]
    w = re.search(r'\bwidth="([0-9.]+)', head)
    h = re.search(r'\bheight="([0-9.]+)', head)
    if not (w and h):
        raise ValueError("SVG without width/height")
    return float(w.group(1)), float(h.group(1))


def _escape_text(s: str) -> str:
    return re.sub(r"([\\{}_^#$%&~])", lambda m: "\\" + m.group(1) if m.group(1) not in "\\~^" else " ", s)
