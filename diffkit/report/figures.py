"""The report's plots as deterministic SVG text (matplotlib, no pyplot state, no display needed).

Every figure only reads result objects.  ``metadata={"Date": None}`` drops the timestamp, and
:func:`normalise_svg` rounds coordinates to 0.01 pt and renames matplotlib's content-hashed ids to
``<figure name>_<k>``, so the same results give the same bytes and floating-point jitter in the 6th
digit of a coordinate (another NumPy/BLAS/matplotlib build) no longer changes any id.  The SVG
serves both the HTML (inline) and the PDF (fpdf2).
"""

from __future__ import annotations

import io
import re
from typing import Sequence

import numpy as np

#: Inches; wide enough for an A4 text column at a readable font size.
FIGSIZE = (6.4, 3.5)

#: Excess losses below this are rounding noise (float64 on losses of order 1): drawn at the floor.
FLOOR = 1e-15

#: One colour and marker per method, in a fixed order (colour-blind-safe Tableau colours).
COLORS = {"gd": "#1f77b4", "sgd": "#d62728", "minibatch": "#2ca02c"}

_RC = {"svg.hashsalt": "diffkit-report", "svg.fonttype": "path", "font.size": 9.5,
       "axes.titlesize": 10, "axes.labelsize": 9.5, "legend.fontsize": 8.5, "axes.grid": True,
       "grid.alpha": 0.3, "font.family": "DejaVu Sans"}


def _svg(fig, name: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight", pad_inches=0.06)
    return normalise_svg(buf.getvalue(), name)


#: Attributes whose numbers are coordinates (rounded); ``transform`` is handled apart (scale kept).
_COORD_ATTRS = re.compile(r'\b(d|x|y|x1|y1|x2|y2|cx|cy|r|width|height|viewBox|points)="([^"]*)"')
_NUMBER = re.compile(r"-?\d+\.\d+")
_TRANSLATE = re.compile(r"\b(translate|rotate)\(([^)]*)\)")


def _round(text: str, digits: int = 2) -> str:
    def one(m):
        v = round(float(m.group(0)), digits)
        out = f"{v:.{digits}f}".rstrip("0").rstrip(".")
        return "0" if out in ("-0", "") else out
    return _NUMBER.sub(one, text)


def normalise_svg(svg: str, name: str, *, digits: int = 2) -> str:
    r"""A matplotlib SVG made stable and safe to inline beside others in one page.

    * the XML prolog and the ``<metadata>`` block go;
    * coordinates (path data, positions, sizes, ``translate``/``rotate``) are rounded to ``digits``
      decimals (0.01 pt: far below what a screen or a projector shows);
    * ids that something refers to (``#id``: markers, clip paths, glyphs) become ``name_1``,
      ``name_2``, … in order of first appearance; ids nothing refers to (``figure_1``, ``patch_3``)
      are dropped, so two figures in one HTML page never share an id.

    >>> s = '<?xml version="1.0"?><svg width="10.123456pt"><g id="patch_1"><path id="m3f2a" d="M 1.004999 2"/>'
    >>> normalise_svg(s + '<use xlink:href="#m3f2a" x="0.5"/></g></svg>', "fig")
    '<svg width="10.12pt"><g><path id="fig_1" d="M 1 2"/><use xlink:href="#fig_1" x="0.5"/></g></svg>\n'
    """
    svg = strip_metadata(strip_prolog(svg))
    svg = _COORD_ATTRS.sub(lambda m: f'{m.group(1)}="{_round(m.group(2), digits)}"', svg)
    svg = _TRANSLATE.sub(lambda m: f"{m.group(1)}({_round(m.group(2), digits)})", svg)
    referenced = set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg))
    names: dict[str, str] = {}

    def ident(m):
        old = m.group(1)
        if old not in referenced:
            return ""
        names.setdefault(old, f"{name}_{len(names) + 1}")  # \w only: fpdf2 reads url(#\w+)
        return f' id="{names[old]}"'
    svg = re.sub(r'\s+id="([^"]+)"', ident, svg)
    return re.sub(r'(href="#|url\(#)([^")]+)', lambda m: m.group(1) + names.get(m.group(2), m.group(2)), svg)


def strip_metadata(svg: str) -> str:
    """Without matplotlib's ``<metadata>`` block (RDF; fpdf2 ignores it with a warning)."""
    return re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)


def strip_prolog(svg: str) -> str:
    """The ``<svg ...>...</svg>`` element alone (no XML declaration, DOCTYPE or comments before it)."""
    i = svg.find("<svg")
    return svg[i:].strip() + "\n" if i >= 0 else svg


def _figure():
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=FIGSIZE, dpi=100)
        ax = fig.add_subplot()
    return fig, ax


def swell_svg(rows: Sequence) -> str:
    """Operations against depth n of the logistic map, log scale: l_n, naive, expanded, CSE, tape."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig, ax = _figure()
        n = np.array([r.n for r in rows], dtype=float)
        series = [
            ("d l_n/dx, naive tree (sympy.diff)", [r.ops_naive for r in rows], "#d62728", "o", "-"),
            ("d l_n/dx, expanded polynomial", [r.ops_expanded for r in rows], "#ff7f0e", "s", "-"),
            ("d l_n/dx after sympy.cse", [r.ops_cse for r in rows], "#2ca02c", "^", "-"),
            ("reverse mode: tape forward + backward", [r.ops_tape_forward + r.ops_tape_backward for r in rows],
             "#1f77b4", "D", "-"),
            ("l_n itself (tree)", [r.ops_function for r in rows], "#7f7f7f", "", "--"),
        ]
        for label, ys, color, marker, ls in series:
            y = np.array(ys, dtype=float)
            keep = y > 0  # log scale: n = 1 needs no operation at all
            ax.plot(n[keep], y[keep], ls, color=color, marker=marker or None, ms=4, lw=1.6, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("depth n of the logistic map  $l_{n+1} = 4\\,l_n(1-l_n)$")
        ax.set_ylabel("operations (count)")
        ax.set_xticks(n[n > 1])
        ax.set_xlim(1.7, n.max() + 0.3)
        ax.legend(loc="upper left", frameon=False)
        ax.set_title("Expression swell: operations to evaluate d l_n/dx")
        return _svg(fig, "swell")


def _floor(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    return np.where(np.isfinite(y), np.maximum(y, FLOOR), np.nan)


def _base(label: str) -> str:
    return label.split("(")[0]


def convergence_svg(study, *, x: str, eps: float | None = None) -> str:
    """Excess loss F(w_k) − F* against ``x`` (iteration, sample_gradients or time_s):
    median over seeds as a line, min–max over seeds as a shaded band, both axes logarithmic."""
    import matplotlib

    from ..optim import median_curve

    xlabel = {"iteration": "iterations k (parameter updates)",
              "sample_gradients": "sample gradients evaluated (∇l_i computations)",
              "time_s": "wall time (s)"}[x]
    with matplotlib.rc_context(_RC):
        fig, ax = _figure()
        for label, runs in study.by_method().items():
            color = COLORS.get(_base(label), "#9467bd")
            if x == "time_s":
                cur = _time_curve(runs)
            else:
                cur = median_curve(runs, x=x, y="excess_loss", spread=(0.0, 100.0))
            xs = np.asarray(cur["x"], dtype=float)
            keep = xs > 0
            if not keep.any():
                continue
            ax.fill_between(xs[keep], _floor(cur["lo"])[keep], _floor(cur["hi"])[keep], color=color, alpha=0.2,
                            lw=0, step=None)
            ax.plot(xs[keep], _floor(cur["median"])[keep], color=color, lw=1.7,
                    label=f"{label} (median of {len(runs)} seeds)")
        if eps is not None:
            ax.axhline(eps, color="#555555", lw=0.9, ls=":", label=f"ε = {eps:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("excess loss F(w) − F*")
        ax.set_ylim(bottom=FLOOR / 3)
        # below the axes: inside, some corner always holds a curve
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2, frameon=False)
        ax.set_title(f"Excess loss against {xlabel.split(' (')[0]}; band: min–max over seeds")
        return _svg(fig, f"conv_{x}")


def _time_curve(runs, points: int = 60) -> dict[str, np.ndarray]:
    """Median/min/max over runs on a shared log-spaced time grid (each run interpolated in log–log;
    seeds record times that never coincide, so a per-point median would be one run at a time)."""
    curves = []
    for r in runs:
        t = np.array([h.time_s if h.time_s is not None else np.nan for h in r.history], dtype=float)
        e = _floor([h.excess_loss for h in r.history])
        ok = np.isfinite(t) & (t > 0) & np.isfinite(e)
        if ok.sum() >= 2:
            curves.append((np.log(t[ok]), np.log(e[ok])))
    if not curves:
        return {"x": np.array([]), "median": np.array([]), "lo": np.array([]), "hi": np.array([])}
    lo_t = min(c[0][0] for c in curves)
    hi_t = max(c[0][-1] for c in curves)
    grid = np.linspace(lo_t, hi_t, points)
    table = np.full((len(curves), points), np.nan)
    for i, (lt, le) in enumerate(curves):
        inside = (grid >= lt[0]) & (grid <= lt[-1])
        table[i, inside] = np.interp(grid[inside], lt, le)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {"x": np.exp(grid), "median": np.exp(np.nanmedian(table, axis=0)),
                "lo": np.exp(np.nanmin(table, axis=0)), "hi": np.exp(np.nanmax(table, axis=0))}
