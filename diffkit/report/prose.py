"""The "what this shows" paragraph of each section, written from the numbers of the result objects.

Plain Unicode text (no markup), so the HTML and the PDF print the same sentences.  Wall times never
appear here: the prose is identical for two runs on the same inputs.
"""

from __future__ import annotations

import math

import sympy as sp

from ..symbolic import render


def _times(k: int) -> str:
    return {1: "once", 2: "twice"}.get(k, f"{k} times")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "—"


def model(c) -> str:
    gr = c.graph
    params = [n for n in gr.nodes if n.kind == "param"]
    inner = [n for n in gr.nodes if n.kind not in ("param", "input", "const")]
    adj = ", ".join(f"∂L/∂{render.pretty(sp.Symbol(p, real=True))} = {c.listing.adjoints.get(p, float('nan')):.6g}"
                    for p in c.model.wrt if p in c.listing.adjoints)
    return (f"What this shows: the loss is a graph of {len(gr.nodes)} nodes — {len(params)} parameter(s), "
            f"{len(inner)} operations and the rest data, hyperparameters and constants. One forward pass "
            f"gives L = {c.value:.6g} and one backward pass leaves every node's adjoint on it; the adjoints of "
            f"the parameters are the gradient ({adj}).")


def gradients(c) -> str:
    o = c.ops
    cse = c.derivations["cse"]
    shared = len(cse.replacements)
    k = len(c.model.wrt)
    return (f"What this shows: written out by sympy.diff, the {k} partial derivative(s) take "
            f"{o['symbolic_naive']} operations; with σ written with exponentials they take "
            f"{o['symbolic_expanded']} ({_ratio(o['symbolic_expanded'], o['symbolic_naive'])}). "
            f"Common-subexpression elimination names {shared} shared piece(s) and brings the count down to "
            f"{o['symbolic_cse']} — symbolic differentiation with sharing does the work of reverse mode "
            f"(Laue 2019).")


def listing(c) -> str:
    lst = c.listing
    n_fwd, n_bwd = len(lst.steps), len(lst.lines)
    multi = [ln.node for ln in lst.lines if len(ln.terms) > 1]
    txt = (f"What this shows: FORWARD computes {n_fwd} named step(s) once each; BACKWARD then visits "
           f"{n_bwd} variable node(s) in reverse order, and each adjoint only reuses adjoints already "
           f"computed, so nothing is recomputed.")
    if multi:
        txt += (f" Node(s) {', '.join(multi)} feed more than one child, so their adjoint sums one term per "
                f"child (the multivariate chain rule).")
    pv = [f"∂L/∂{ln.node} = {ln.value:.6g}" for ln in lst.lines if ln.kind == "param"]
    if pv:
        txt += f" The parameter lines give the gradient: {', '.join(pv)}."
    return txt


def counts(c) -> str:
    o = c.ops
    parts = ["What this shows:"]
    if c.redundancy:
        top = c.redundancy[0]
        parts.append(f"the naive symbolic gradient recomputes {top.pretty} {_times(top.count)}"
                     + (f" and {c.redundancy[1].pretty} {_times(c.redundancy[1].count)}" if len(c.redundancy) > 1 else "")
                     + f"; repeated subexpressions waste {sum(r.wasted_ops for r in c.redundancy if r.inside is None)} "
                       f"of its {o['symbolic_naive']} operations (counting only outermost repeats).")
    else:
        parts.append("the naive symbolic gradient computes no subexpression twice.")
    f, b = o["forward"], o["backward"]
    if f:
        parts.append(f"Reverse mode needs {f} forward + {b} backward operations, {(f + b) / f:.1f}× the function "
                     f"(the cheap-gradient principle: a small constant, below 6, whatever the number of parameters),"
                     f" against {o['symbolic_naive']} for the naive and {o['symbolic_cse']} for the CSE'd symbolic "
                     f"gradient.")
    reps = {r.name: r for r in getattr(c, "representations", ())}
    if {"tree", "dag", "tape"} <= set(reps):
        parts.append(f"The representation, not the differentiation, makes the size: {reps['tree'].flat} operations "
                     f"as a tree, {reps['dag'].shared} on the DAG, {reps['tape'].shared} on the reverse-mode tape.")
    if c.lint:
        parts.append(f"The stability lint flags {len(c.lint)} fragile float64 pattern(s).")
    return " ".join(parts)


def agreement(c) -> str:
    a = c.agreement
    r = a.random
    srcs = [s.replace("_", " ") for s in a.gradients if s != "symbolic"]
    worst = max(((s, p, ae_re[1]) for s, v in a.errors.items() for p, ae_re in v.items()),
                key=lambda t: t[2], default=None)
    txt = "What this shows: " + ("all sources agree" if a.ok else "the sources DISAGREE")
    txt += f" with the symbolic gradient at the point ({', '.join(srcs)})"
    if worst is not None:
        txt += f"; the largest relative error here is {worst[2]:.1e} ({worst[0].replace('_', ' ')}, ∂L/∂{worst[1]})"
    txt += (f". Over {r['points']} random points (seed {r['seed']}) the maximum relative error is "
            f"{r['max_rel_error']:.1e} with {r['mismatches']} mismatch(es)")
    if r.get("kinks"):
        txt += f" and {r['kinks']} point(s) at a kink"
    if r.get("skipped"):
        txt += f"; {r['skipped']} point(s) outside the loss's domain were skipped"
    worst_of = {s: max((ae_re[1] for ae_re in v.values()), default=0.0) for s, v in a.errors.items()}
    said = [f"{src.replace('_', ' ').replace('numeric', 'central differences')} {worst_of[src]:.1e}"
            for src in ("reverse", "complex_step", "numeric") if src in worst_of]
    txt += (f". At the point the largest relative error ({'|a − b| / max(|b|, 1)'}) of each source is: "
            + ", ".join(said) + "." if said else ".")
    if "numeric" in worst_of and "reverse" in worst_of and worst_of["reverse"] < worst_of["numeric"]:
        txt += (" Reverse mode is exact up to float64 rounding; central differences also carry the truncation "
                "error of their step.")
    if "complex_step" not in a.gradients:
        txt += " The complex step is not applicable: the loss is not analytic."
    if a.kinks:
        txt += (f" At this point {', '.join(a.kink_sites)} sits at its kink: the one-sided derivatives differ and "
                "tools follow different conventions, so 'kink' is not a failure.")
    return txt


def swell(rows) -> str:
    big = rows[-1]
    txt = (f"What this shows: at depth n = {big.n} the derivative as a tree takes {big.ops_naive} operations, "
           f"expanded {big.ops_expanded}, after CSE {big.ops_cse}, while the tape takes "
           f"{big.ops_tape_forward} + {big.ops_tape_backward} = {big.ops_tape_forward + big.ops_tape_backward}")
    if big.ops_tape_forward:
        txt += f" ({big.tape_ratio:.2f}× the function)"
    grow = [(a, b) for a, b in zip(rows, rows[1:]) if a.ops_naive > 0]
    if grow:
        factor = (big.ops_naive / grow[0][0].ops_naive) ** (1 / max(big.n - grow[0][0].n, 1))
        txt += (f". The tree grows by about {factor:.1f}× per step (exponential swell: l_k appears twice in "
                f"l_(k+1)); the tape grows by {rows[-1].ops_tape_forward - rows[-2].ops_tape_forward} forward "
                "operations per step (linear).")
    else:
        txt += "."
    return txt


def _schedule_text(kind: str, C: float, k0: float) -> str:
    if kind == "constant":
        return f"α = C with C = {C:.3g}"
    if kind == "c/k":
        return f"α_k = C/(k + k₀) with C = {C:.3g}, k₀ = {k0:.4g}" if k0 else f"α_k = C/k with C = {C:.3g}"
    return f"{kind} with C = {C:.3g}"


def study_setting(study, *, own_model: bool) -> str:
    cfg = study.config
    which = ("the report's own model" if own_model else
             "the lecture's least-squares setting (the report's model is not linear or logistic regression)")
    k0 = cfg.get("k0", {})
    sched = "; ".join(f"{m}: {_schedule_text(cfg['schedule'][m], cfg['C'][m], k0.get(m, 0.0))}" for m in cfg["methods"])
    epochs = cfg["epochs"]
    if isinstance(epochs, dict):
        vals = {epochs[m] for m in cfg["methods"]}
        budget = (f"{vals.pop()} epochs each" if len(vals) == 1 else
                  ", ".join(f"{m} {epochs[m]} epochs" for m in cfg["methods"]))
    else:
        budget = f"{epochs} epochs each"
    held = study.heldout or {}
    split = (f" The data were split into {held['train']} training, {held['val']} validation and {held['test']} test "
             f"rows (seed {held['seed']})" + (", features standardised on the training rows" if held.get("standardized")
                                              else "") + "." if held.get("val") or held.get("test") else "")
    kappa = ("" if study.condition_number is None else
             f" The condition number of the design, κ(AᵀA/n), is {study.condition_number:.4g}.")
    star = ("the exact optimum" if study.optimum_method != "best-seen" else
            "the lowest loss any run reached (no closed-form optimum)")
    return (f"Study setting: {which} — built-in {study.model} on {study.data}, fitted by minimising the mean "
            f"loss F(w) = (1/n) Σ l_i(w) over n = {study.n} rows; F* = {study.optimum_loss:.6g} is {star}"
            + ("" if study.optimum_method == "best-seen" else f" ({study.optimum_method})") + f".{split}{kappa} Methods: full-batch GD, single-sample SGD and minibatch SGD "
            f"(b = {cfg['batch']}); {budget}, seeds {', '.join(str(s) for s in cfg['seeds'])}, samples drawn "
            f"{'with replacement' if cfg.get('sampling') == 'replacement' else 'by reshuffling each epoch'}. "
            f"Step sizes: {sched}.")


def _ex(v: float) -> str:
    """An excess loss for the prose: a negative one is rounding below F*, so it reads as 0."""
    return "0 (to rounding)" if v <= 0 else f"{v:.1e}"


def _excess_at(runs, samples: float) -> float | None:
    """Median over runs of the last recorded excess loss at ≤ ``samples`` sample gradients."""
    import numpy as np

    vals = []
    for r in runs:
        seen = [h.excess_loss for h in r.history if h.sample_gradients <= samples]
        if seen and _finite(seen[-1]):
            vals.append(seen[-1])
    return float(np.median(vals)) if vals else None


def study(study, rows) -> str:
    """Sentences that only restate the numbers of ``study`` and the cost table ``rows``."""
    import numpy as np

    by = {r["label"].split("(")[0]: r for r in rows}
    runs = {lab.split("(")[0]: rs for lab, rs in study.by_method().items()}
    parts = ["What this shows:"]
    gd, sgd = by.get("gd"), by.get("sgd")
    if gd and sgd:
        if gd["status"] == "converged":
            parts.append(f"per iteration GD evaluates n = {study.n} sample gradients and SGD one; GD converged after "
                         f"{gd['iterations']:.0f} updates ({gd['epochs']:.3g} epochs), while SGD made "
                         f"{sgd['iterations']:.0f} updates in {sgd['epochs']:.3g} epochs.")
        elif gd["epochs"] == sgd["epochs"]:
            parts.append(f"per iteration GD evaluates n = {study.n} sample gradients and SGD one, so after the same "
                         f"{gd['epochs']:.3g} epochs GD has made {gd['iterations']:.0f} updates and SGD "
                         f"{sgd['iterations']:.0f}.")
        else:
            parts.append(f"per iteration GD evaluates n = {study.n} sample gradients and SGD one; GD ran "
                         f"{gd['epochs']:.3g} epochs ({gd['iterations']:.0f} updates) and SGD {sgd['epochs']:.3g} "
                         f"epochs ({sgd['iterations']:.0f} updates).")
        parts.append(f"GD ends at excess loss {_ex(gd['excess'])}, SGD at {_ex(sgd['excess'])} (median; over seeds "
                     f"{_ex(sgd['excess_min'])} to {_ex(sgd['excess_max'])}).")
        early_gd, early_sgd = _excess_at(runs["gd"], study.n), _excess_at(runs["sgd"], study.n)
        if early_gd is not None and early_sgd is not None and early_gd != early_sgd:
            ahead_early = "SGD" if early_sgd < early_gd else "GD"
            parts.append(f"After one pass over the data (n sample gradients) {ahead_early} is ahead: excess loss "
                         f"{_ex(early_sgd)} for SGD against {_ex(early_gd)} for GD.")
            ahead_late = "GD" if gd["excess"] < sgd["excess"] else "SGD"
            if ahead_early == "SGD" and ahead_late == "GD":
                parts.append("Cheap noisy steps win early and exact steps win for high accuracy here, as Bottou & "
                             "Bousquet (2008) predict.")
            elif ahead_early == ahead_late:
                parts.append(f"{ahead_late} stays ahead to the end of its budget.")
            else:
                parts.append(f"By the end of the budgets {ahead_late} is ahead.")
    eps = study.eps
    reach = [(r["label"], r["reach"]) for r in rows if r["reach"] and r["reach"]["median"] is not None]
    if len(reach) == 1 and eps:
        parts.append(f"Only {reach[0][0]} reaches ε = {eps:g}, after {reach[0][1]['median']:.0f} sample gradients "
                     "(median).")
    elif reach and eps:
        best = min(reach, key=lambda t: t[1]["median"])
        parts.append(f"To reach ε = {eps:g}, {best[0]} needs the fewest sample gradients "
                     f"(median {best[1]['median']:.0f}): "
                     + "; ".join(f"{lab} {rr['median']:.0f}" for lab, rr in reach) + ".")
    missing = [r["label"] for r in rows if r["reach"] and r["reach"]["median"] is None]
    if missing and eps:
        parts.append(f"{', '.join(missing)} never reach{'es' if len(missing) == 1 else ''} ε = {eps:g} within the "
                     "budget.")
    div = [r for r in study.runs if r.status == "diverged"]
    if div:
        parts.append(f"{len(div)} of {len(study.runs)} runs diverged ({div[0].label}: {div[0].hint}).")
    accs = {lab: [r.test_accuracy for r in rs if r.test_accuracy is not None] for lab, rs in study.by_method().items()}
    if any(accs.values()):
        parts.append("Test accuracy (median over seeds): "
                     + ", ".join(f"{lab} {np.median(v):.3f}" for lab, v in accs.items() if v) + ".")
    return " ".join(parts)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
