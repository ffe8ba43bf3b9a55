"""Build the report :class:`~diffkit.report.document.Document` from result objects.

A pure function of a :class:`~diffkit.analysis.compare.Comparison`, a
:class:`~diffkit.optim.results.StudyResult` and swell rows: nothing here derives, trains or
measures anything; it only arranges, formats and typesets what those objects hold.

Big models are summarised rather than printed in full (see the ``MAX_*`` limits): a partial
derivative too long to read becomes a row of sizes, a long listing shows its first and last
lines, a graph too large to draw is described by counts.  Every number is defined where it
appears (captions say what a column measures, and in which convention).
"""

from __future__ import annotations

import math
from typing import Sequence

import sympy as sp

from ..symbolic import render
from . import prose
from .document import Code, Document, Equations, Figure, Math, Para, Section, Table
from .mathsvg import DISPLAY_SIZE, SIZE, equation_mathml, equation_svgs

SOURCES = ("symbolic", "reverse", "numeric", "complex_step")
SOURCE_NAMES = {"symbolic": "symbolic (SymPy)", "reverse": "reverse mode", "numeric": "central differences",
                "complex_step": "complex step"}
SHORT_NAMES = {"reverse": "reverse", "numeric": "central diff.", "complex_step": "complex step"}
FORM_NAMES = {"lecture": "lecture form (sympy.diff, σ and σ′ as functions)",
              "expanded": "expanded (σ written with exponentials)",
              "cse": "after sympy.cse (shared subexpressions named)"}

#: A partial longer than this (LaTeX characters) is summarised by its size instead of typeset.
MAX_EQ_LATEX = 320
#: Per gradient form, at most this many partials are typeset; the others are summarised.
MAX_PARTIALS = 4
#: Models with more parameters show the expanded form (σ written with exp) as sizes only: it is
#: the longest and least readable form, and typesetting it costs the most.
MAX_EXPANDED_PARAMS = 4
#: CSE replacements typeset at most.
MAX_REPLACEMENTS = 8
#: FORWARD / BACKWARD lines shown at most (the first and the last halves).
MAX_LISTING = 24
#: Rows of a redundancy table.
MAX_REDUNDANCY = 8
#: Graphs with more nodes are not drawn in the report (the drawing would be unreadable on a
#: page or a projector); the DOT text is kept in the HTML up to this size too.
MAX_GRAPH_NODES = 60

#: Definitions printed beside the numbers they define.
REL_ERROR = "|a − b| / max(|b|, 1)"


def M(latex: str, pretty: str = "", *, width: int | None = None) -> Math:
    """Maths in a table cell: MathML lines for the HTML (split at about ``width`` source
    characters), the Unicode ``pretty`` text for the PDF."""
    lines = equation_mathml(latex) if width is None else equation_mathml(latex, width=width)
    return Math(latex, (), pretty or latex, SIZE, tuple(lines))


def D(latex: str, pretty: str = "") -> Math:
    """Display maths: deterministic SVG lines (HTML and PDF), large enough to read from the back
    of a room."""
    return Math(latex, tuple(equation_svgs(latex, size=DISPLAY_SIZE, width=110)), pretty or latex, DISPLAY_SIZE)


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
    v = float(v)
    if not math.isfinite(v):
        return g(v)
    return f"{v:.1e}".replace("-", "−")


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


def _pretty_name(p: str) -> str:
    return render.pretty(_sym(p))


# -- sections ---------------------------------------------------------------------------------------

def model_section(c) -> Section:
    from ..engine import draw, to_dot
    from .figures import normalise_svg

    m = c.model
    lec = c.derivations["lecture"]
    roles = m.describe()  # str.capitalize() would lower-case the rest: W1_1_1 must stay W1_1_1
    blocks: list = [Para(f"{m.name}: {m.description or m.source or 'a user expression'}. {roles[:1].upper()}{roles[1:]}.")]
    loss_latex = "L = " + render.latex(lec.loss)
    rows = [("loss", D(loss_latex, "L = " + render.pretty(lec.loss)) if len(loss_latex) <= 3 * MAX_EQ_LATEX
             else D(r"\text{L: %d operations}" % _ops(lec.loss)))]
    if m.steps:
        steps = list(zip(c.listing.forward_lines("latex"), c.listing.forward_lines("pretty")))
        shown, hidden = _head_tail(steps, MAX_LISTING)
        rows += [("", D(f, q)) for f, q in shown]
        if hidden:
            rows.insert(1 + MAX_LISTING // 2, ("", D(r"\text{… %d more steps …}" % hidden)))
    blocks.append(Equations(tuple(rows), caption="The loss and the named steps of the computation graph."))
    point = ", ".join(f"{_pretty_name(k)} = {g(v)}" for k, v in c.point.items())
    blocks.append(Para(f"Evaluated at {point}: L = {g(c.value, 10)}."))
    gr = c.graph
    n_nodes, n_edges = len(gr.nodes), len(gr.edges)
    if n_nodes <= MAX_GRAPH_NODES:
        try:
            svg = normalise_svg(draw(gr, fmt="svg"), "graph")
            blocks.append(Figure(svg, "The computation graph at the point (diffkit.engine.draw): each box shows the "
                                      "node, its primitive, its forward value v and its adjoint ∂L/∂v (from one "
                                      "backward pass). Blue: parameters; grey: data and hyperparameters; yellow: L.",
                                 kind="graph"))
        except Exception as exc:  # noqa: BLE001 — a drawing failure must not sink the report
            blocks.append(Para(f"The graph is not drawn ({exc}).", kind="note"))
        blocks.append(Code(to_dot(gr), f"Graphviz DOT text of the graph ({n_nodes} nodes, {n_edges} edges)"))
    else:
        kinds: dict[str, int] = {}
        for n in gr.nodes:
            key = n.kind if n.kind != "op" else f"op: {n.primitive.name}"
            kinds[key] = kinds.get(key, 0) + 1
        blocks.append(Table(("nodes of the graph", "count"), tuple(sorted(kinds.items(), key=lambda t: (-t[1], t[0]))),
                            align="lr", widths=(3, 1),
                            caption=f"The graph has {n_nodes} nodes and {n_edges} edges, more than the "
                                    f"{MAX_GRAPH_NODES} a readable drawing holds, so it is summarised by kind "
                                    "(`diffkit explore` steps through it node by node)."))
    blocks.append(Para(prose.model(c), kind="shows"))
    return Section("model", "The model and its computation graph", tuple(blocks))


def _ops(expr) -> int:
    from ..analysis.operation_counts import count_ops

    return count_ops(expr)


def _head_tail(items: list, limit: int) -> tuple[list, int]:
    """At most ``limit`` items: the first and last halves; and how many were left out."""
    if len(items) <= limit:
        return items, 0
    half = limit // 2
    return items[:half] + items[-half:], len(items) - 2 * half


def gradients_section(c) -> Section:
    blocks: list = []
    summary_rows = []
    for form in ("lecture", "expanded", "cse"):
        d = c.derivations[form]
        lat = d.rendered("latex")
        pre = d.rendered("pretty")
        rows = []
        repl = lat["replacements"]
        for s, ex in repl[:MAX_REPLACEMENTS]:
            if len(ex) <= MAX_EQ_LATEX:
                rows.append(("", D(f"{render.latex(_sym(s))} = {ex}")))
        typeset = 0
        limit = MAX_PARTIALS if form != "expanded" or len(c.model.wrt) <= MAX_EXPANDED_PARAMS else 0
        for p, ex in lat["gradient"].items():
            if typeset < limit and len(ex) <= MAX_EQ_LATEX:
                rows.append(("", D(f"{_partial(p)} = {ex}", f"∂L/∂{p} = {pre['gradient'][p]}")))
                typeset += 1
            else:
                summary_rows.append((FORM_NAMES[form].split(" (")[0], f"∂L/∂{_pretty_name(p)}",
                                     str(_ops(d.gradient[p])), integer(len(pre["gradient"][p]))))
        skipped = len(repl) - sum(1 for _, ex in repl[:MAX_REPLACEMENTS] if len(ex) <= MAX_EQ_LATEX)
        cap = FORM_NAMES[form][0].upper() + FORM_NAMES[form][1:]
        if skipped:
            cap += f"; {len(repl)} shared subexpressions, {len(repl) - skipped} shown"
        if rows:
            blocks.append(Equations(tuple(rows), caption=cap + "."))
    if summary_rows:
        blocks.append(Table(("form", "partial", "operations", "characters"), tuple(summary_rows),
                            align="llrr", widths=(2, 2, 1, 1),
                            caption=f"Partials too long to read (over {MAX_EQ_LATEX} LaTeX characters, beyond the "
                                    f"first {MAX_PARTIALS} of a form, or the expanded form of a model with more than "
                                    f"{MAX_EXPANDED_PARAMS} parameters), summarised by size: operations under the "
                                    "counting convention of section 4, characters of the Unicode form. "
                                    "`diffkit derive` prints them in full."))
    blocks.append(Para(prose.gradients(c), kind="shows"))
    return Section("gradients", "Symbolic gradients: lecture form, expanded, CSE", tuple(blocks))


def listing_section(c) -> Section:
    lst = c.listing
    fwd_all = [(M(line, pretty), g(lst.forward_values[s.name], 8))
               for line, pretty, (s, _) in zip(lst.forward_lines("latex"), lst.forward_lines("pretty"), lst.steps)]
    bwd_all = [(M(ln.latex, ln.pretty), g(ln.value, 8)) for ln in lst.lines]
    fwd, fwd_hidden = _head_tail(fwd_all, MAX_LISTING)
    bwd, bwd_hidden = _head_tail(bwd_all, MAX_LISTING)
    if fwd_hidden:
        fwd.insert(MAX_LISTING // 2, (f"… {fwd_hidden} more steps …", ""))
    if bwd_hidden:
        bwd.insert(MAX_LISTING // 2, (f"… {bwd_hidden} more adjoints …", ""))
    blocks = [
        Table(("FORWARD: step", "value v"), tuple(fwd), align="lr", widths=(4, 1),
              caption="FORWARD(): each node v_i from its parents, in topological order; value: v_i at the point."),
        Table(("BACKWARD: adjoint rule", "value ∂L/∂v"), tuple(bwd), align="lr", widths=(4, 1),
              caption="BACKWARD(): ∂_v L = Σ over children c of ∂_c L · ∂c/∂v, in reverse topological order "
                      "(∂_x f := ∂f/∂x, as in the lecture); value: the adjoint at the point."),
    ]
    if fwd_hidden or bwd_hidden:
        blocks.append(Para(f"The listing has {len(fwd_all)} FORWARD and {len(bwd_all)} BACKWARD lines; the first and "
                           f"last {MAX_LISTING // 2} of each are shown (`diffkit backprop` prints all of them).",
                           kind="note"))
    blocks.append(Para(prose.listing(c), kind="shows"))
    return Section("backprop", "The backprop listing", tuple(blocks))


def _redundancy_table(reps, caption: str) -> Table:
    rows = []
    for r in reps[:MAX_REDUNDANCY]:
        d = r.to_dict()
        inside = "" if r.inside is None else render.pretty(r.inside)
        rows.append((M(d["latex"], r.pretty) if len(d["latex"]) <= MAX_EQ_LATEX else r.pretty[:80] + "…",
                     f"×{r.count}", str(r.ops), str(r.wasted_ops), inside if len(inside) <= 60 else inside[:57] + "…"))
    if not rows:
        rows.append(("(nothing is computed twice)", "", "", "", ""))
    if len(reps) > MAX_REDUNDANCY:
        caption += f" The {MAX_REDUNDANCY} most repeated of {len(reps)}."
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
    blocks = [
        _redundancy_table(c.redundancy, "Subexpressions the naive symbolic gradient computes more than once "
                                        "(σ and σ′ as primitives). times: occurrences in all partials together; "
                                        "ops each: operations to compute it once; ops wasted: (times − 1) × ops each."),
        _redundancy_table(c.redundancy_expanded, "The same with σ written with exponentials."),
        Table(("computation", "operations"), ops_rows, widths=(5, 1),
              caption="Operation counts (convention: diffkit.analysis.operation_counts — every occurrence in the "
                      "expression tree counts; an n-ary sum or product counts n − 1)."),
    ]
    if c.representations:
        rows = tuple((r.label, "—" if r.flat is None else str(r.flat), "—" if r.shared is None else str(r.shared),
                      ", ".join(f"{k} {v}" for k, v in r.parts.items()) or "—") for r in c.representations)
        blocks.append(Table(("representation", "as a tree", "shared", "parts"), rows, align="lrrl",
                            widths=(3.4, 1, 1, 2),
                            caption="The same gradient in five representations, in operations under the same "
                                    "convention (Laue 2019: symbolic and automatic differentiation do the same "
                                    "operations; expression swell comes from the representation). as a tree: "
                                    "every occurrence counted; shared: each distinct subexpression once; —: the "
                                    "representation has no such size (a tape is shared by construction)."))
    if c.lint:
        rows = tuple((f.pattern, f.where if len(f.where) <= 80 else f.where[:77] + "…", f.rewrite)
                     for f in c.lint[:MAX_REDUNDANCY])
        blocks.append(Table(("fragile pattern", "where", "stable rewrite"), rows, align="lll", widths=(1.3, 2, 3),
                            caption="Stability lint: float64-fragile patterns in the gradient (mostly once σ is "
                                    "written with exp)."))
    blocks.append(Para(prose.counts(c), kind="shows"))
    return Section("counts", "Redundancy and operation counts", tuple(blocks))


def agreement_section(c) -> Section:
    a = c.agreement
    sources = [s for s in SOURCES if s in a.gradients]
    others = [s for s in sources if s in a.errors]
    rows = []
    for p in c.model.wrt:
        rel = max((a.errors[s][p][1] for s in a.errors), default=0.0)
        verdict = a.verdicts[p]
        if p in a.kinks:
            verdict += f" (left {g(a.kinks[p]['left'])}, right {g(a.kinks[p]['right'])})"
        rows.append((M(_partial(p), f"∂L/∂{p}"), *[g(a.gradients[s][p], 12) for s in sources], e(rel), verdict))
    err_rows = []
    for p in c.model.wrt:
        cells = []
        for s in others:
            ae, re_ = a.errors[s][p]
            cells += [e(ae), e(re_)]
        err_rows.append((M(_partial(p), f"∂L/∂{p}"), *cells))
    err_cols = ("",) + tuple(f"{SHORT_NAMES[s]}: {k}" for s in others for k in ("abs.", "rel."))
    small = all(abs(a.gradients["symbolic"][p]) <= 1 for p in c.model.wrt)
    missing = [SOURCE_NAMES[s] for s in SOURCES if s not in a.gradients]
    cap = (f"The gradient at the point, {len(sources)} ways (float64). max rel. error: the largest "
           f"{REL_ERROR} over the sources a, against the symbolic value b.")
    if missing:
        cap += (f" Not applicable here: {', '.join(missing)} (the complex step needs a loss that is analytic, "
                "with no relu, step, sign, abs, max or min).")
    blocks = [
        Table(("", *[SOURCE_NAMES[s] for s in sources], "max rel. error", "verdict"), tuple(rows),
              align="l" + "r" * (len(sources) + 1) + "l", widths=(1.1, *[2.0] * len(sources), 1.2, 1.1),
              caption=cap),
        Table(err_cols, tuple(err_rows), align="l" + "r" * (len(err_cols) - 1),
              widths=(1.1, *[1.0] * (len(err_cols) - 1)),
              caption=f"Errors of each source a against the symbolic gradient b: abs. = |a − b|, rel. = {REL_ERROR} "
                      "(mixed scale, as numpy.allclose with atol = rtol: an entry near 0 is judged by its absolute "
                      "error).",
              note=("Every symbolic partial here has |b| ≤ 1, so rel. equals abs. in every row." if small else "")),
        Para(prose.agreement(c), kind="shows"),
    ]
    return Section("agreement", "Agreement: symbolic, reverse mode, finite differences, complex step", tuple(blocks))


def swell_section(rows: Sequence, baydin: Sequence[dict]) -> Section:
    from .figures import swell_svg

    table = tuple((str(r.n), str(r.ops_function), str(r.ops_naive), str(r.ops_expanded), str(r.ops_cse),
                   str(r.ops_tape_forward), str(r.ops_tape_backward),
                   f"{r.tape_ratio:.2f}" if r.ops_tape_forward else "—") for r in rows)
    # one row per expression (not per n): the expressions get the whole width, none is squeezed
    b_rows = tuple((str(b["n"]) if k == 0 else "", what, M(b[f"{key}_latex"], b[f"{key}_pretty"], width=90))
                   for b in baydin
                   for k, (what, key) in enumerate((("l_n", "l"), ("d l_n/dx", "d"), ("simplified", "simplified"))))
    blocks = [
        Figure(swell_svg(rows), "Operations against depth n of the logistic map l₁ = x, l_{n+1} = 4 l_n (1 − l_n), "
                                "logarithmic scale (n = 1 needs no operation and is left out)."),
        Table(("n", "l_n", "d/dx naive", "d/dx expanded", "d/dx after CSE", "tape fwd", "tape bwd", "(fwd+bwd)/fwd"),
              table, align="rrrrrrrr", widths=(0.5, 0.8, 1.1, 1.2, 1.2, 0.9, 0.9, 1.3),
              caption="Operation counts (convention of section 4) for l_n and d l_n/dx: the tree as sympy.diff "
                      "returns it (naive), the expanded polynomial, after sympy.cse, and the reverse-mode tape "
                      "(forward and backward)."),
    ]
    if b_rows:
        blocks.append(Table(("n", "", "expression"), b_rows, align="lll", widths=(0.4, 1.2, 8),
                            caption="The first rows as in Baydin et al. (2018), Table 1: l_n, its derivative d l_n/dx "
                                    "as sympy.diff returns it, and that derivative simplified."))
    blocks.append(Para(prose.swell(rows), kind="shows"))
    return Section("swell", "Expression swell on the logistic map", tuple(blocks))


def clamp(v: float | None) -> float | None:
    """An excess loss F(w) − F* for display: below 0 only by rounding in F*, so shown as 0."""
    return v if v is None or not math.isfinite(v) or v >= 0 else 0.0


def clamp_note(rows: list[dict]) -> str:
    """The note that says which excess losses were clamped at 0, and by how much they were below."""
    low = [v for r in rows for v in (r["excess"], r["excess_min"], r["excess_max"]) if v is not None and v < 0]
    if not low:
        return ""
    return (f"Excess losses below 0 (down to {e(min(low))}: F(w) under the computed F* by rounding) are shown "
            "as 0.")


def vertical(t: Table) -> Table:
    """``t`` turned on its side: one row per column of ``t``, one column per row (for wide tables
    with few rows, so every header stays readable instead of being squeezed or clipped)."""
    cols = (t.columns[0], *[str(r[0]) for r in t.rows])
    rows = tuple((t.columns[j], *[r[j] for r in t.rows]) for j in range(1, len(t.columns)))
    timing_rows = {j - 1 for j in t.timing_columns}
    return Table(cols, rows, align="l" + "r" * len(t.rows), caption=t.caption, widths=(2.2, *[2.0] * len(t.rows)),
                 note=t.note, timing_rows=tuple(sorted(timing_rows)))


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
                      f"{e(clamp(r['excess']))} [{e(clamp(r['excess_min']))}, {e(clamp(r['excess_max']))}]",
                      reach_txt))
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
    fstar = ("is the lowest loss any run reached" if study.optimum_method == "best-seen"
             else f"from {study.optimum_method}")
    cost = Table(cols, tuple(table), align="lrrrrrrr", widths=(1.7, 1.1, 0.9, 1.2, 1.1, 1.0, 2.9, 1.6),
                 caption=f"Cost table: medians over {len(study.config.get('seeds', []))} seeds of the final "
                         f"values; excess loss F(w) − F*, F* {fstar}; flops under the optimiser's cost model "
                         "(diffkit.optim.cost).",
                 timing_columns=(5,) if timing else (), note=clamp_note(rows))
    blocks.append(vertical(cost))
    blocks.append(Para(prose.study(study, rows), kind="shows"))
    return Section("study", "GD vs SGD: convergence and cost", tuple(blocks))


def build_document(comparison, study, swell_rows: Sequence, baydin: Sequence[dict], *,
                   sections: Sequence[str] | None = None) -> Document:
    """The whole report as a :class:`Document` (pure: reads its arguments only).

    ``sections``: the section ids to include, in report order (default: all whose inputs exist).
    """
    m = comparison.model
    from .layers import layer_section

    builders = {
        "model": lambda: model_section(comparison), "gradients": lambda: gradients_section(comparison),
        "backprop": lambda: listing_section(comparison), "counts": lambda: counts_section(comparison),
        "agreement": lambda: agreement_section(comparison),
        "layers": lambda: layer_section(comparison),  # MLPs and the layer zoo's models (diffkit.report.layers)
        "swell": lambda: swell_section(swell_rows, baydin) if swell_rows else None,
        "study": lambda: (study_section(study, own_model=study.model == m.name)
                          if study is not None else None),
    }
    wanted = list(builders) if sections is None else list(sections)
    built = [s for s in (builders[k]() for k in wanted) if s is not None]
    numbered = tuple(Section(s.id, f"{k}. {s.title}", s.blocks) for k, s in enumerate(built, 1))
    sub = f"Symbolic (SymPy) and reverse-mode differentiation of {m.name}, side by side"
    sub += f"; GD vs SGD on {study.model}." if study is not None and "study" in wanted else "."
    return Document(f"diffkit report: {m.name}", sub, numbered)
