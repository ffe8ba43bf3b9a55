"""Build the report :class:`~diffkit.report.document.Document` from result objects.

A pure function of a :class:`~diffkit.analysis.compare.Comparison`, a
:class:`~diffkit.optim.results.StudyResult` and swell rows: nothing here derives, trains or
measures anything; it only arranges, formats and typesets what those objects hold.
"""

from __future__ import annotations

import math
from typing import Sequence

import sympy as sp

from ..symbolic import render
from . import prose
from .document import Code, Document, Equations, Figure, Math, Para, Section, Table
from .mathsvg import equation_svgs

SOURCES = ("symbolic", "reverse", "numeric", "complex_step")
SOURCE_NAMES = {"symbolic": "symbolic (SymPy)", "reverse": "reverse mode", "numeric": "central differences",
                "complex_step": "complex step"}
FORM_NAMES = {"lecture": "lecture form (sympy.diff, σ and σ′ as functions)",
              "expanded": "expanded (σ written with exponentials)",
              "cse": "after sympy.cse (shared subexpressions named)"}


def M(latex: str, pretty: str = "", *, width: int | None = None) -> Math:
    """Typeset ``latex`` (deterministic SVG lines; split at about ``width`` source characters)."""
    svgs = equation_svgs(latex) if width is None else equation_svgs(latex, width=width)
    return Math(latex, tuple(svgs), pretty or latex)


def g(v: float | None, digits: int = 6) -> str:
    """A number for a table: ``digits`` significant digits, '—' for missing, 'nan'/'inf' spelled out."""
    if v is None:
        return "—"
    v = float(v)
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "−inf")
    return f"{v:.{digits}g}".replace("-", "−")


def e(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{float(v):.1e}".replace("-", "−")


def integer(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{int(round(v)):,}".replace(",", " ")


def seconds(v: float | None) -> str:
    """Wall time with a unit (µs, ms or s)."""
    if v is None or not math.isfinite(v):
        return "—"
    if v < 1e-3:
        return f"{v * 1e6:.0f} µs"
    if v < 1:
        return f"{v * 1e3:.3g} ms"
    return f"{v:.3g} s"


def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def _partial(p: str) -> str:
    return r"\frac{\partial L}{\partial %s}" % render.latex(_sym(p))


# -- sections ---------------------------------------------------------------------------------------

def model_section(c) -> Section:
    from ..engine import draw, to_dot
    from .figures import normalise_svg

    m = c.model
    lec = c.derivations["lecture"]
    blocks: list = [Para(f"{m.name}: {m.description or m.source or 'a user expression'}. {m.describe().capitalize()}.")]
    rows = [("loss", M("L = " + render.latex(lec.loss), "L = " + render.pretty(lec.loss)))]
    if m.steps:
        rows += [("", M(f, q)) for f, q in zip(c.listing.forward_lines("latex"), c.listing.forward_lines("pretty"))]
    blocks.append(Equations(tuple(rows), caption="The loss and the named steps of the computation graph."))
    point = ", ".join(f"{render.pretty(_sym(k))} = {g(v)}" for k, v in c.point.items())
    blocks.append(Para(f"Evaluated at {point}: L = {g(c.value, 10)}."))
    dot = to_dot(c.graph)
    try:
        svg = normalise_svg(draw(c.graph, fmt="svg"), "graph")
        blocks.append(Figure(svg, "The computation graph at the point (diffkit.engine.draw): each box shows the "
                                  "node, its primitive, its forward value and its adjoint ∂L/∂v (from one "
                                  "backward pass). Blue: parameters; grey: data and hyperparameters; yellow: L.",
                             kind="graph"))
    except Exception as exc:  # noqa: BLE001 — too large to draw: the DOT text below still describes it
        blocks.append(Para(f"The graph is not drawn ({exc}); its DOT text follows.", kind="note"))
    blocks.append(Code(dot, f"Graphviz DOT text of the graph ({len(c.graph.nodes)} nodes, {len(c.graph.edges)} edges)"))
    blocks.append(Para(prose.model(c), kind="shows"))
    return Section("model", "1. The model and its computation graph", tuple(blocks))


def gradients_section(c) -> Section:
    blocks: list = []
    for form in ("lecture", "expanded", "cse"):
        d = c.derivations[form]
        lat = d.rendered("latex")
        pre = d.rendered("pretty")
        rows = []
        for s, ex in lat["replacements"]:
            rows.append(("", M(f"{render.latex(_sym(s))} = {ex}")))
        for p, ex in lat["gradient"].items():
            rows.append(("", M(f"{_partial(p)} = {ex}", f"∂L/∂{p} = {pre['gradient'][p]}")))
        blocks.append(Equations(tuple(rows), caption=FORM_NAMES[form][0].upper() + FORM_NAMES[form][1:] + "."))
    blocks.append(Para(prose.gradients(c), kind="shows"))
    return Section("gradients", "2. Symbolic gradients: lecture form, expanded, CSE", tuple(blocks))


def listing_section(c) -> Section:
    lst = c.listing
    fwd = [(M(line, pretty), g(lst.forward_values[s.name], 8))
           for line, pretty, (s, _) in zip(lst.forward_lines("latex"), lst.forward_lines("pretty"), lst.steps)]
    bwd = [(M(ln.latex, ln.pretty), g(ln.value, 8)) for ln in lst.lines]
    blocks = [
        Table(("FORWARD: step", "value"), tuple(fwd), align="lr", widths=(4, 1),
              caption="FORWARD(): each node v_i from its parents, in topological order."),
        Table(("BACKWARD: adjoint rule", "value"), tuple(bwd), align="lr", widths=(4, 1),
              caption="BACKWARD(): ∂_v L = Σ over children c of ∂_c L · ∂c/∂v, in reverse topological order "
                      "(∂_x f := ∂f/∂x, as in the lecture)."),
        Para(prose.listing(c), kind="shows"),
    ]
    return Section("backprop", "3. The backprop listing", tuple(blocks))


def _redundancy_table(reps, caption: str) -> Table:
    rows = []
    for r in reps:
        d = r.to_dict()
        inside = "" if r.inside is None else render.pretty(r.inside)
        rows.append((M(d["latex"], r.pretty), f"×{r.count}", str(r.ops), str(r.wasted_ops), inside))
    if not rows:
        rows.append(("(nothing is computed twice)", "", "", "", ""))
    return Table(("subexpression", "times", "ops each", "ops wasted", "inside a larger repeat"), tuple(rows),
                 align="lrrrl", widths=(3, 1, 1, 1.2, 2.4), caption=caption)


def counts_section(c) -> Section:
    o = c.ops
    ratio = f"{o['ratio']:.2f}" if o.get("ratio") else "—"
    ops_rows = (
        ("symbolic gradient, naive (all partials, as sympy.diff returns them)", str(o["symbolic_naive"])),
        ("symbolic gradient, σ written with exp", str(o["symbolic_expanded"])),
        ("symbolic gradient after sympy.cse", str(o["symbolic_cse"])),
        ("reverse mode: forward tape (the function)", str(o["forward"])),
        ("reverse mode: backward tape", str(o["backward"])),
        ("reverse mode: (forward + backward) / forward", ratio),
    )
    expanded = c.redundancy_expanded[:8]
    blocks = [
        _redundancy_table(c.redundancy, "Subexpressions the naive symbolic gradient computes more than once "
                                        "(σ and σ′ as primitives)."),
        _redundancy_table(expanded, "The same with σ written with exponentials"
                          + (f" (the {len(expanded)} most repeated of {len(c.redundancy_expanded)})."
                             if len(c.redundancy_expanded) > len(expanded) else ".")),
        Table(("computation", "operations"), ops_rows, widths=(5, 1),
              caption="Operation counts (convention: diffkit.analysis.operation_counts — every occurrence in the "
                      "expression tree counts; an n-ary sum or product counts n − 1)."),
    ]
    if c.lint:
        rows = tuple((f.pattern, f.where, f.rewrite) for f in c.lint)
        blocks.append(Table(("fragile pattern", "where", "stable rewrite"), rows, align="lll", widths=(1.3, 2, 3),
                            caption="Stability lint: float64-fragile patterns in the gradient (mostly once σ is "
                                    "written with exp)."))
    blocks.append(Para(prose.counts(c), kind="shows"))
    return Section("counts", "4. Redundancy and operation counts", tuple(blocks))


def agreement_section(c) -> Section:
    a = c.agreement
    sources = [s for s in SOURCES if s in a.gradients]
    rows = []
    for p in c.model.wrt:
        rel = max((a.errors[s][p][1] for s in a.errors), default=0.0)
        verdict = a.verdicts[p]
        if p in a.kinks:
            verdict += f" (left {g(a.kinks[p]['left'])}, right {g(a.kinks[p]['right'])})"
        rows.append((M(_partial(p), f"∂L/∂{p}"), *[g(a.gradients[s][p], 12) for s in sources], e(rel), verdict))
    err_rows = []
    for s in [s for s in sources if s in a.errors]:
        for p in c.model.wrt:
            ae, re = a.errors[s][p]
            err_rows.append((SOURCE_NAMES[s], p, e(ae), e(re)))
    blocks = [
        Table(("", *[SOURCE_NAMES[s] for s in sources], "max rel. error", "verdict"), tuple(rows),
              align="l" + "r" * (len(sources) + 1) + "l", widths=(1.1, *[2.0] * len(sources), 1.2, 1.1),
              caption=f"The gradient at the point, {len(sources)} ways (float64)."),
        Table(("source", "parameter", "abs. error vs symbolic", "rel. error vs symbolic"), tuple(err_rows),
              align="llrr", widths=(2, 1, 2, 2), caption="Errors of each source against the symbolic gradient."),
        Para(prose.agreement(c), kind="shows"),
    ]
    return Section("agreement", "5. Agreement: symbolic, reverse mode, finite differences, complex step", tuple(blocks))


def swell_section(rows: Sequence, baydin: Sequence[dict]) -> Section:
    from .figures import swell_svg

    table = tuple((str(r.n), str(r.ops_function), str(r.ops_naive), str(r.ops_expanded), str(r.ops_cse),
                   str(r.ops_tape_forward), str(r.ops_tape_backward),
                   f"{r.tape_ratio:.2f}" if r.ops_tape_forward else "—") for r in rows)
    b_rows = tuple((str(b["n"]), M(b["l_latex"], b["l_pretty"], width=60), M(b["d_latex"], b["d_pretty"], width=60),
                    M(b["simplified_latex"], b["simplified_pretty"], width=60)) for b in baydin)
    blocks = [
        Figure(swell_svg(rows), "Operations against depth n of the logistic map l₁ = x, l_{n+1} = 4 l_n (1 − l_n), "
                                "logarithmic scale (n = 1 needs no operation and is left out)."),
        Table(("n", "l_n", "d/dx naive", "d/dx expanded", "d/dx after CSE", "tape fwd", "tape bwd", "(fwd+bwd)/fwd"),
              table, align="rrrrrrrr", widths=(0.5, 0.8, 1.1, 1.2, 1.2, 0.9, 0.9, 1.3), caption="Operation counts for l_n and d l_n/dx."),
        Table(("n", "l_n", "d l_n/dx", "d l_n/dx simplified"), b_rows, align="llll", widths=(0.4, 2.5, 4, 3),
              caption="The first rows as in Baydin et al. (2018), Table 1."),
        Para(prose.swell(rows), kind="shows"),
    ]
    return Section("swell", "6. Expression swell on the logistic map", tuple(blocks))


def study_rows(study) -> list[dict]:
    """Per method: medians (and ranges) over seeds of the final costs, and the cost to reach ε."""
    import numpy as np

    from ..optim import cost_to_reach

    out = []
    for label, runs in study.by_method().items():
        fin = [r.final for r in runs]

        def med(field):
            vals = [getattr(h, field) for h in fin if getattr(h, field) is not None]
            return float(np.median(vals)) if vals else None
        excess = [h.excess_loss for h in fin]
        reach = cost_to_reach(runs, study.eps, measure="sample_gradients") if study.eps else None
        statuses = sorted({r.status for r in runs})
        out.append({"label": label, "runs": len(runs), "iterations": med("iteration"), "epochs": med("epoch"),
                    "sample_gradients": med("sample_gradients"), "flops": med("flops"), "time_s": med("time_s"),
                    "excess": float(np.median(excess)), "excess_min": float(min(excess)),
                    "excess_max": float(max(excess)), "reach": reach, "status": ", ".join(statuses),
                    "schedule": runs[0].schedule, "C": runs[0].C, "batch": runs[0].batch})
    return out


def study_section(study, *, own_model: bool) -> Section:
    from .figures import convergence_svg

    timing = bool(study.config.get("timing"))
    rows = study_rows(study)
    table = []
    for r in rows:
        reach = r["reach"]
        if reach is None:
            reach_txt = "—"
        elif reach["median"] is None:
            reach_txt = f"not reached (0/{reach['runs']})"
        else:
            reach_txt = f"{integer(reach['median'])} ({reach['reached']}/{reach['runs']} runs)"
        table.append((r["label"], integer(r["iterations"]), g(r["epochs"], 3), integer(r["sample_gradients"]),
                      integer(r["flops"]), seconds(r["time_s"]),
                      f"{e(r['excess'])} [{e(r['excess_min'])}, {e(r['excess_max'])}]", reach_txt))
    eps = study.eps
    blocks = [
        Para(prose.study_setting(study, own_model=own_model)),
        Figure(convergence_svg(study, x="iteration", eps=eps),
               "Excess loss against iterations (parameter updates): median over seeds, band min–max."),
        Figure(convergence_svg(study, x="sample_gradients", eps=eps),
               "Excess loss against sample gradients evaluated (the work a GD step and n SGD steps share)."),
    ]
    if timing:
        blocks.append(Figure(convergence_svg(study, x="time_s", eps=eps),
                             "Excess loss against measured wall time (this machine, this run; loss evaluations "
                             "for the plot are excluded).", timing=True))
    else:
        blocks.append(Para("Wall time was not measured for this report (timing off), so there is no wall-time "
                           "plot and the time column is empty.", kind="note"))
    cols = ("method", "iterations", "epochs", "sample gradients", "flops", "time",
            "final excess loss, median [min, max]", f"sample gradients to reach ε = {eps:g}")
    blocks.append(Table(cols, tuple(table), align="lrrrrrrr", widths=(1.7, 1.1, 0.9, 1.2, 1.1, 1.0, 2.9, 1.6),
                        caption=f"Cost table: medians over {len(study.config.get('seeds', []))} seeds of the final "
                                "values; F* " + ("is the lowest loss any run reached." if study.optimum_method == "best-seen"
                                                 else f"from {study.optimum_method}."),
                        timing_columns=(5,) if timing else ()))
    blocks.append(Para(prose.study(study, rows), kind="shows"))
    return Section("study", "7. GD vs SGD: convergence and cost", tuple(blocks))


def build_document(comparison, study, swell_rows: Sequence, baydin: Sequence[dict]) -> Document:
    """The whole report as a :class:`Document` (pure: reads its arguments only)."""

    m = comparison.model
    own = study.model == m.name
    from .layers import layer_section  # the network layer by layer (MLPs and the layer zoo's models)

    layers = layer_section(comparison)
    sections = (model_section(comparison), gradients_section(comparison), listing_section(comparison),
                counts_section(comparison), agreement_section(comparison), swell_section(swell_rows, baydin),
                study_section(study, own_model=own)) + ((layers,) if layers is not None else ())
    sub = (f"Symbolic (SymPy) and reverse-mode differentiation of {m.name}, side by side; "
           f"GD vs SGD on {study.model}.")
    return Document(f"diffkit report: {m.name}", sub, sections)
