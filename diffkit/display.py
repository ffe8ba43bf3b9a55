"""Rich display in notebooks: diffkit's result objects render themselves in Jupyter.

In the lecture's notation (λ, not ``lam``; σ and σ′; ∂_v L), as LaTeX (``_repr_latex_``, which
Jupyter typesets with MathJax) and as HTML (``_repr_html_``; maths as MathML, which browsers
typeset natively, so the output also reads in a notebook viewed offline):

=============================  ==========================================  ======================
object                         HTML                                        LaTeX
=============================  ==========================================  ======================
:class:`~diffkit.Model`        name, parameters, data, the loss            L = …
:class:`~diffkit.Derivation`   the loss and each partial in its form       aligned equations
``Comparison``                 the gradient four ways, agreement, counts   the partials
``BackpropListing``            FORWARD and BACKWARD with values            the listing
``StudyResult``                per method: status, final excess loss       —
``diffkit.engine.Graph``       ``_repr_svg_``: the drawing with values
=============================  ==========================================  ======================

``StudyResult.plot(x=...)`` draws the convergence curves (a matplotlib Figure).

The classes get these methods by one-line delegations in their own modules; this module holds
all the rendering, so the engine, the analyzer and the optimiser stay free of display code.

>>> from diffkit import builtin
>>> m = builtin("ridge-sigmoid")
>>> model_latex(m)
'$\\\\displaystyle L = \\\\frac{\\\\left(y - \\\\sigma\\\\left(w x + b\\\\right)\\\\right)^{2}}{2} + \\\\lambda w^{2}$'
>>> "λ" in model_html(m) and "lam" not in model_html(m).split("<math")[0]
True
"""

from __future__ import annotations

import html
import math
from typing import Any

import sympy as sp

_STYLE = ("<style>.dk-t{border-collapse:collapse;margin:.3em 0}.dk-t td,.dk-t th{padding:.15em .6em;"
          "border-bottom:1px solid #d9dde3;text-align:right}.dk-t td.l,.dk-t th.l{text-align:left}"
          ".dk-h{font-weight:600;margin:.4em 0 .2em}.dk-m{color:#4b5260}</style>")


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _mathml(latex: str) -> str:
    from .report.mathsvg import latex_mathml

    return latex_mathml(latex)


def _num(v: Any, digits: int = 10) -> str:
    if v is None:
        return "—"
    v = float(v)
    if not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    return f"{v:.{digits}g}".replace("-", "−")


def _sym(model, name: str) -> sp.Symbol:
    try:
        return model.symbol(name)
    except Exception:  # noqa: BLE001 — a name that is not one of the model's symbols
        return sp.Symbol(name, real=True)


def _partial_latex(model, p: str) -> str:
    from .symbolic import render

    return r"\frac{\partial L}{\partial %s}" % render.latex(_sym(model, p))


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    th = "".join(f'<th class="{"l" if j < left else "r"}">{h}</th>' for j, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if j < left else "r"}">{c}</td>' for j, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f'<table class="dk-t"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


# -- Model -------------------------------------------------------------------------------------------

def model_latex(m) -> str:
    from .symbolic import render

    return r"$\displaystyle L = %s$" % render.latex(m.loss_expr)


def model_html(m) -> str:
    from .symbolic import render

    names = lambda syms: ", ".join(render.pretty(s) for s in syms) or "—"  # noqa: E731
    params = [_sym(m, p) for p in m.wrt]
    rest = [s for s in m.symbols if s.name not in m.wrt]
    return (_STYLE + f'<div class="dk-h">{_e(m.name)}</div><div class="dk-m">{_e(m.description or "")}</div>'
            f"<div>L = {_mathml(render.latex(m.loss_expr))}</div>"
            f"<div>parameters: {_e(names(params))}; data and hyperparameters: {_e(names(rest))}</div>")


# -- Derivation ---------------------------------------------------------------------------------------

def _derivation_rows(d) -> list[tuple[str, str]]:
    from .symbolic import render

    rows = []
    if d.loss is not None:
        rows.append(("L", render.latex(d.loss)))
    for s, e in d.replacements:
        rows.append((render.latex(s), render.latex(e)))
    for p, e in d.gradient.items():
        head = (r"\nabla_{%s} L" % p) if d.form == "matrix" else _partial_latex(d.model, p)
        rows.append((head, render.latex(e)))
    return rows


def derivation_latex(d) -> str:
    body = r" \\ ".join(f"{a} &= {b}" for a, b in _derivation_rows(d))
    return r"$\displaystyle \begin{aligned} %s \end{aligned}$" % body


def derivation_html(d) -> str:
    rows = "".join(f"<div>{_mathml(a + ' = ' + b)}</div>" for a, b in _derivation_rows(d))
    notes = "".join(f'<div class="dk-m">{_e(n)}</div>' for n in d.notes)
    return _STYLE + f'<div class="dk-h">{_e(d.model.name)}: {_e(d.form)} form</div>{rows}{notes}'


# -- Comparison ---------------------------------------------------------------------------------------

_SOURCES = ("symbolic", "reverse", "numeric", "complex_step")


def comparison_latex(c) -> str:
    a = c.agreement
    rows = [r"L &= %s = %s" % (c.derivations["lecture"].rendered("latex")["loss"], _num(c.value, 12))]
    lat = c.derivations["lecture"].rendered("latex")["gradient"]
    for p in c.model.wrt:
        rows.append(r"%s &= %s = %s" % (_partial_latex(c.model, p), lat[p], _num(a.gradients["symbolic"][p], 12)))
    return r"$\displaystyle \begin{aligned} %s \end{aligned}$" % r" \\ ".join(rows)


def comparison_html(c) -> str:
    from .symbolic import render

    a = c.agreement
    sources = [s for s in _SOURCES if s in a.gradients]
    rows = []
    for p in c.model.wrt:
        rel = max((a.errors[s][p][1] for s in a.errors), default=0.0)
        rows.append([_mathml(_partial_latex(c.model, p)), *[_num(a.gradients[s][p], 12) for s in sources],
                     f"{rel:.1e}", _e(a.verdicts[p])])
    point = ", ".join(f"{render.pretty(_sym(c.model, k))} = {_num(v, 6)}" for k, v in c.point.items())
    o = c.ops
    missing = [s.replace("_", " ") for s in _SOURCES if s not in a.gradients]
    return (_STYLE + f'<div class="dk-h">{_e(c.model.name)}: symbolic and reverse mode, side by side</div>'
            f"<div>L = {_mathml(render.latex(c.model.loss_expr))} = {_num(c.value, 12)} at {_e(point)}</div>"
            + _table(["", *[s.replace("_", " ") for s in sources], "max rel. error", "verdict"], rows)
            + f'<div class="dk-m">rel. error = |a − b| / max(|b|, 1) against the symbolic value b'
            + (f"; not applicable here: {_e(', '.join(missing))}" if missing else "") + "</div>"
            + f"<div>Agreement: <b>{'OK' if a.ok else 'FAILED'}</b> ({a.random['points']} random points, "
              f"max rel. error {a.random['max_rel_error']:.1e}). Operations: symbolic {o['symbolic_naive']} "
              f"(after cse {o['symbolic_cse']}), reverse mode {o['forward']} + {o['backward']}.</div>")


# -- the backprop listing -----------------------------------------------------------------------------

def listing_latex(lst) -> str:
    rows = [line.replace(" = ", " &= ", 1) for line in lst.forward_lines("latex")]
    rows += [ln.latex.replace(" = ", " &= ", 1) for ln in lst.lines]
    return r"$\displaystyle \begin{aligned} %s \end{aligned}$" % r" \\ ".join(rows)


def listing_html(lst) -> str:
    fwd = [[_mathml(line), _num(lst.forward_values[s.name], 8)]
           for line, (s, _) in zip(lst.forward_lines("latex"), lst.steps)]
    bwd = [[_mathml(ln.latex), _num(ln.value, 8)] for ln in lst.lines]
    return (_STYLE + f'<div class="dk-h">{_e(lst.model.name)}: backprop</div>'
            + _table(["FORWARD", "value"], fwd) + _table(["BACKWARD", "value ∂L/∂v"], bwd))


# -- studies ------------------------------------------------------------------------------------------

def study_html(st) -> str:
    rows = []
    for label, runs in st.by_method().items():
        ex = [r.final.excess_loss for r in runs if r.final.excess_loss is not None]
        med = sorted(ex)[len(ex) // 2] if ex else None
        statuses = ", ".join(sorted({r.status for r in runs}))
        rows.append([_e(label), str(len(runs)), _e(statuses), _num(runs[0].final.epoch, 3),
                     str(runs[0].final.sample_gradients), _num(max(med, 0.0) if med is not None else None, 3)])
    return (_STYLE + f'<div class="dk-h">{_e(st.model)} on {_e(st.data)}: GD vs SGD</div>'
            f"<div>F* = {_num(st.optimum_loss, 10)} ({_e(st.optimum_method)}); excess loss F(w) − F*, "
            "median over seeds (below 0 only by rounding: shown as 0)</div>"
            + _table(["method", "runs", "status", "epochs", "sample gradients", "final excess loss"], rows)
            + '<div class="dk-m">StudyResult.plot() draws the convergence curves.</div>')


def study_latex(st) -> str:
    rows = []
    for label, runs in st.by_method().items():
        ex = sorted(r.final.excess_loss for r in runs if r.final.excess_loss is not None)
        med = max(ex[len(ex) // 2], 0.0) if ex else float("nan")
        rows.append(r"\text{%s} & %s" % (label, sp.latex(sp.Float(med, 3)) if math.isfinite(med) else r"\text{—}"))
    return (r"$\displaystyle F^* = %s;\quad \begin{array}{lr} \text{method} & F(w) - F^* \\ \hline %s \end{array}$"
            % (sp.latex(sp.Float(st.optimum_loss, 8)), r" \\ ".join(rows)))


def study_plot(st, *, x: str = "sample_gradients"):
    """The convergence figure of a study (excess loss against ``x``; median over seeds, min–max band)."""
    from .report.study import convergence_figure

    fig = convergence_figure(st, x=x)
    _register_figure_formatter()
    return fig


def _register_figure_formatter() -> None:
    """In IPython, show matplotlib Figures made without pyplot as SVG."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    from matplotlib.figure import Figure

    def svg(fig) -> str:
        import io

        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
        return buf.getvalue()
    ip.display_formatter.formatters["image/svg+xml"].for_type(Figure, svg)


# -- graphs -------------------------------------------------------------------------------------------

def graph_svg(g) -> str | None:
    """The engine's drawing of a graph (values and adjoints), or None when it is too large to draw."""
    from .engine import draw
    from .report.figures import normalise_svg

    try:
        return normalise_svg(draw(g, fmt="svg"), f"g{id(g) % 100000}")
    except Exception:  # noqa: BLE001 — too large or not drawable: Jupyter falls back to the text repr
        return None


def attach_graph() -> None:
    """Give ``diffkit.engine.Graph`` its ``_repr_svg_`` (the engine keeps no display code)."""
    from .engine import Graph

    if not hasattr(Graph, "_repr_svg_"):
        Graph._repr_svg_ = lambda self: graph_svg(self)


attach_graph()
