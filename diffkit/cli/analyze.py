"""``diffkit compare``, ``backprop``, ``check`` and ``swell``: parse options, call the analyzer, format."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import constraints as C
from ..budget import enforce, estimate_backprop, estimate_check, estimate_compare
from ..errors import BadInput
from .tables import Column, WideOpt, echo_fit, echo_table, number
from .app import AtOpt, JsonOpt, ModelOptions, app, emit_json, model_command, option, replace_defaults, seed_option

PointsOpt = Annotated[int, option(C.POINTS)]
SeedOpt = Annotated[str, seed_option(C.SEED)]


def _g(v: float, digits: int = 12) -> str:
    return f"{v:.{digits}g}"


def _e(v: float) -> str:
    return f"{v:.1e}"


def _model(opts: ModelOptions):
    """The model and the ``--at`` point, checked against the model's domain."""
    return opts.build()


@model_command("compare")
def compare_cmd(
    opts: ModelOptions, points: PointsOpt = 10, seed: SeedOpt = "0", json_out: JsonOpt = False, wide: WideOpt = False,
    report: Annotated[Optional[Path], typer.Option(
        "--report", help="Also write a self-contained HTML report here, and a PDF beside it.")] = None,
) -> None:
    """Compare symbolic (SymPy) and reverse-mode differentiation of one model.

    Shows the gradients from SymPy, the reverse-mode engine, finite differences and the complex
    step; which subexpressions the naive symbolic gradient recomputes; the sizes of five
    representations of the gradient (tree, tree + cse, DAG, reverse tape, forward mode); a
    forward-mode directional derivative; and the BACKWARD listing.  Exit code 1 when the
    agreement verdict is FAILED, 2 for bad input.

    [bold]Examples[/bold]

      diffkit compare                                   (the lecture's ridge-sigmoid neuron)

      diffkit compare --at w=2,b=0.1 --points 100 --json

      diffkit compare --expr 'relu(w*x + b)**2' --wrt w,b --at w=1,b=-1,x=1
    """
    from ..analysis.compare import compare

    m, point = _model(opts)
    enforce(estimate_compare(m, points), force=opts.force)
    c = compare(m, point, points=points, seed=seed)
    if report is not None:
        from ..report import write_report
        from .report import report_inputs

        write_report(c, report, **report_inputs(m))
    if json_out:
        emit_json(c.to_dict(), "compare")
    else:
        _print_comparison(c, wide=wide)
        if report is not None:
            typer.echo(f"\nReport written to {report} and {report.with_suffix('.pdf')}")
    if not c.ok:
        raise typer.Exit(1)


def _print_comparison(c, *, wide: bool = False) -> None:
    m = c.model
    d = c.derivations["lecture"].rendered("pretty")
    digits = 17 if wide else 10
    from ..symbolic.readable import readable  # long closed forms: size and op count, not hairlines
    hint = "see --json" + (", or derive --form matrix" if (m.spec or {}).get("kind") == "mlp" else "")
    lec = c.derivations["lecture"]
    short = (lambda text, expr: text) if wide else (lambda text, expr: readable(text, expr, hint=hint))
    echo_fit(f"{m.name}: {m.description or m.source}")
    echo_fit(f"L = {short(d['loss'], lec.loss)}")
    echo_fit("at " + ", ".join(f"{k} = {_g(v, 6)}" for k, v in c.point.items()) + f"   →   L = {_g(c.value)}")
    typer.echo()
    for p, e in d["gradient"].items():
        echo_fit(f"∂L/∂{p} = {short(e, lec.gradient[p])}")
    typer.echo()

    a = c.agreement
    typer.echo("Gradient, four ways")
    sources = [s for s in ("symbolic", "reverse", "numeric", "complex_step") if s in a.gradients]
    errs = [s for s in a.errors]
    cols = [Column("param"), *[Column(s.replace("_", " "), "r") for s in sources],
            Column("max rel. error", "r", optional=1), Column("verdict")]
    rows = []
    for p in m.wrt:
        rel = max((a.errors[s][p][1] for s in errs), default=0.0)
        verdict = a.verdicts[p]
        if p in a.kinks:
            verdict += f" (left {_g(a.kinks[p]['left'], 6)}, right {_g(a.kinks[p]['right'], 6)})"
        rows.append((p, *[number(a.gradients[s][p], digits, wide=wide) for s in sources], _e(rel), verdict))
    echo_table(cols, rows, wide=wide)
    r = a.random
    typer.echo()
    echo_fit(f"At {r['points']} random points (seed {r['seed']}): max abs. error {_e(r['max_abs_error'])}, "
             f"max rel. error {_e(r['max_rel_error'])}, mismatches {r['mismatches']}"
             + (f", kinks {r['kinks']}" if r["kinks"] else "") + (f", skipped {r['skipped']}" if r["skipped"] else "")
             + ".")
    typer.echo(f"Agreement: {'OK' if a.ok else 'FAILED'}")
    echo_fit("(rel. error = |a − b| / max(|b|, 1) against the symbolic value b)")
    if a.kink_sites:
        echo_fit(f"Kink at this point: {', '.join(a.kink_sites)} — one-sided derivatives differ; "
                 "tools disagree by convention here, this is not a failure.")
    typer.echo()
    if c.layer is not None and hasattr(c.layer, "highlights"):  # a layer model: the engine's layer
        from .layers import print_layer_section
        print_layer_section(c.layer, wide=wide)

    typer.echo("Recomputed by the naive symbolic gradient (σ, σ′ as primitives)")
    rows = [(rep.pretty, f"×{rep.count}", str(rep.ops), "" if rep.inside is None else _pretty(rep.inside))
            for rep in c.redundancy] or [("(nothing is computed twice)", "", "", "")]
    echo_table([Column("subexpression"), Column("times", "r"), Column("ops each", "r"), Column("inside", optional=1)],
               rows, wide=wide)
    typer.echo()

    o = c.ops
    echo_fit(f"Operation counts (convention: {o['convention']})")
    echo_table([Column("computation"), Column("ops", "r")], [
        ("symbolic gradient, naive (all partials)", str(o["symbolic_naive"])),
        ("symbolic gradient, σ written with exp", str(o["symbolic_expanded"])),
        ("symbolic gradient after sympy.cse", str(o["symbolic_cse"])),
        ("reverse mode: forward tape", str(o["forward"])),
        ("reverse mode: backward tape", str(o["backward"])),
        ("(forward + backward) / forward", f"{o['ratio']:.2f}" if o["ratio"] else "—")], wide=wide)
    typer.echo()

    _print_representations(c.representations, wide=wide)
    fm = c.forward_mode
    if fm:
        direction = ", ".join(f"{_g(v, 3)}" for v in fm["direction"].values())
        fg = fm["full_gradient"]
        echo_fit(f"Forward mode (one JVP along v = ({direction})): ∇L·v = {number(fm['jvp'], 12, wide=wide)}")
        echo_fit(f"  reverse mode: ∇L·v = {number(fm['reverse'], 12, wide=wide)}, rel. error {_e(fm['rel_error'])}")
        echo_fit(f"  the full gradient: {fg['jvps']} JVP sweep(s), {fg['ops_by_jvps']} ops; "
                 f"{fg['vjps']} VJP, {fg['ops_by_vjp']} ops")
        typer.echo()

    typer.echo("Backprop (FORWARD, then BACKWARD in reverse topological order)")
    _listing_lines([(line, c.listing.forward_values[s.name]) for line, (s, _) in
                    zip(c.listing.forward_lines(), c.listing.steps)]
                   + [(ln.pretty, ln.value) for ln in c.listing.lines], 40, wide=wide)
    if c.lint:
        typer.echo()
        typer.echo("Stability lint (fragile float64 patterns, e.g. once σ is written with exp)")
        by_pattern: dict = {}
        for f in c.lint:
            by_pattern.setdefault(f.pattern, []).append(f)
        for pattern, fs in by_pattern.items():
            f = fs[0]
            echo_fit(f"  {pattern}: {len(fs)} place(s), e.g. {f.where}")
            echo_fit(f"    {f.why}")
            if f.at is not None:
                echo_fit(f"    at z = {f.at:g}: fragile form gives {_g(f.fragile_value, 6)}, "
                         f"stable form {_g(f.stable_value, 6)}")
            echo_fit(f"    rewrite: {f.rewrite}")
    if c.numeric_warnings:
        typer.echo()
        typer.echo("Numerical warnings (raised by NumPy while evaluating; reported, not printed raw)")
        for w in c.numeric_warnings:
            echo_fit(f"  {w.source}: {w.message} (×{w.count})")


def _print_representations(reps, *, wide: bool = False) -> None:
    echo_fit("Five representations of the gradient (flat = as a tree, shared = each subexpression once)")
    echo_table([Column("representation"), Column("flat", "r"), Column("shared", "r")],
               [(r.label, "—" if r.flat is None else str(r.flat), "—" if r.shared is None else str(r.shared))
                for r in reps], wide=wide)
    typer.echo()


def _listing_lines(pairs, pad: int, *, wide: bool = False) -> None:
    """``  rule = value`` lines, the values aligned at ``pad``; a rule too long for the terminal
    wraps and its value follows on the last line."""
    from .tables import fit, terminal_width, text_width

    width = terminal_width()
    for rule, value in pairs:
        val = f"= {number(value, 8, wide=wide)}"
        line = f"  {rule}{' ' * max(1, pad - text_width(rule))} {val}"
        if wide or text_width(line) <= width:
            typer.echo(line)
            continue
        body = fit(rule, width=width - 2, indent="  ", hang="    ")
        last = body.split("\n")[-1]
        typer.echo(body + ("\n" + " " * (pad + 3) + val if text_width(last) + len(val) + 1 > width else " " + val))


def _pretty(e) -> str:
    from ..symbolic.render import pretty

    return pretty(e)


@model_command("backprop")
def backprop_cmd(
    opts: ModelOptions,
    latex: Annotated[bool, typer.Option("--latex", help="Print LaTeX instead of Unicode text.")] = False,
    layers: Annotated[bool, typer.Option(
        "--layers", help="mlp: one line per layer in matrix form (δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ σ′(a⁽ˡ⁾)), with shapes.")] = False,
    json_out: JsonOpt = False, wide: WideOpt = False,
) -> None:
    """The step-by-step BACKWARD listing with values, as in the lecture.

    [bold]Examples[/bold]

      diffkit backprop

      diffkit backprop --at w=1,b=0 --latex

      diffkit backprop logistic-map --depth 3

      diffkit backprop mlp --sizes 2,3,3,1 --layers
    """
    from ..analysis.listing import backprop_listing
    from .layers import print_layer_listing, refuse_scalar_listing_of_a_wide_mlp

    m, point = _model(opts)
    if layers:
        print_layer_listing(m, point, latex=latex, json_out=json_out)
        return
    refuse_scalar_listing_of_a_wide_mlp(m)
    enforce(estimate_backprop(m), force=opts.force)
    lst = backprop_listing(m, point)
    if json_out:
        emit_json(lst.to_dict(), "backprop")
        return
    style = "latex" if latex else "pretty"
    typer.echo("FORWARD")
    _listing_lines([(line, lst.forward_values[s.name]) for line, (s, _) in zip(lst.forward_lines(style), lst.steps)],
                   44, wide=wide)
    typer.echo("BACKWARD")
    _listing_lines([(ln.latex if latex else ln.pretty, ln.value) for ln in lst.lines], 44, wide=wide)


@model_command("check")
def check_cmd(
    opts: ModelOptions,
    claims: Annotated[Optional[str], typer.Option(
        "--claims", help="File with one claim per line, 'name = expression' (- for standard input).")] = None,
    points: PointsOpt = 20, seed: SeedOpt = "0", json_out: JsonOpt = False,
    wide: WideOpt = False,
) -> None:
    """Check a hand derivation: which claimed derivatives are right.

    A claim is a node of the graph (z = w*x + b), an adjoint (d_u = u - y, d_w = d_z*x + d_r*2*w)
    or a gradient (dL/dw = ...).  Each wrong claim is shown with a point where it differs.
    Exit code 0 when every claim is right, 1 when one is wrong, 2 for bad input.

    [bold]Examples[/bold]

      diffkit check ridge-sigmoid --claims my-backprop.txt

      printf 'd_b = d_z\\n' | diffkit check --claims - --json
    """
    from ..analysis.checker import check_claims

    if claims is None:
        raise BadInput("--claims FILE is required (one 'name = expression' per line; - reads standard input)")
    text = _read_text(claims)
    m, point = _model(opts)
    enforce(estimate_check(m, points, sum(1 for ln in text.splitlines() if ln.split("#")[0].strip())),
            force=opts.force)
    m = replace_defaults(m, point)
    res = check_claims(m, text, points=points, seed=seed)
    if json_out:
        emit_json(res.to_dict(), "check")
    else:
        for c in res.claims:
            mark = "ok   " if c.ok else "WRONG"
            echo_fit(f"line {c.line:>3}  {mark}  {c.name} = {c.text}", hang=" " * 17, width=None if not wide else 10**6)
            if not c.ok:
                ce = c.counterexample
                at_txt = ", ".join(f"{k}={_g(v, 6)}" for k, v in ce["point"].items())
                echo_fit(f"             at {at_txt}: claimed {number(ce['claimed'], 12, wide=wide)}, "
                         f"true {number(ce['true'], 12, wide=wide)}", hang=" " * 17, width=None if not wide else 10**6)
        first = res.first_wrong
        typer.echo("all claims are right" if first is None else f"first wrong line: {first.line}")
    if not res.ok:
        raise typer.Exit(1)


def _read_text(path: str) -> str:
    from ..io import CLAIMS_LIMIT_BYTES, read_text

    return read_text(path, what="claims file", limit=CLAIMS_LIMIT_BYTES, allow_stdin=True)


@app.command("swell")
def swell_cmd(
    max_n: Annotated[int, option(C.SWELL_MAX_N)] = 8,
    backend: Annotated[str, typer.Option(
        "--backend", help="Symbolic backend of the tree columns: sympy, or symengine (optional, faster).")] = "sympy",
    timing: Annotated[bool, typer.Option("--timing", help="Add the seconds of each row's symbolic column.")] = False,
    swell_model: Annotated[str, typer.Option(
        "--model", help="logistic-map, or rnn: an Elman RNN unrolled over T = 1..--max-n steps (at most 8).")
    ] = "logistic-map",
    json_out: JsonOpt = False, wide: WideOpt = False,
) -> None:
    """Expression swell on the logistic map l_{n+1} = 4 l_n (1 − l_n) (Baydin et al. 2018, Table 1).

    With --model rnn: the recurrent analogue, an RNN over T steps (naive symbolic against the tape).

    The derivative d l_n/dx in five representations: the tree (sympy.diff), the tree after
    sympy.cse, symbolic differentiation on the DAG, the engine's reverse tape and its forward
    mode; with the fitted growth of each.

    [bold]Examples[/bold]

      diffkit swell

      diffkit swell --max-n 12 --backend symengine --timing

      diffkit swell --max-n 10 --json

      diffkit swell --model rnn

    JSON (every key always present): ``rows`` — one per n with ``n``, ``ops_function``,
    ``ops_naive``, ``ops_expanded``, ``ops_cse``, ``ops_dag``, ``ops_dag_flat``,
    ``ops_tape_forward``, ``ops_tape_backward``, ``ops_forward_primal``, ``ops_forward_tangent``,
    ``seconds_symbolic``, ``backend``; ``growth`` — per column {column, kind, rate, fitted_from};
    ``backend``; ``convention``.
    """
    from ..analysis.operation_counts import CONVENTION
    from ..analysis.swell import baydin_rows, growth, swell_table

    if swell_model not in ("logistic-map", "rnn"):
        raise BadInput(f"--model {swell_model!r} is not a swell model; allowed: logistic-map, rnn")
    if swell_model == "rnn":
        from .layers import print_rnn_swell
        return print_rnn_swell(max_n, json_out=json_out, wide=wide)
    rows = swell_table(max_n, backend=backend)
    fits = growth(rows)
    if json_out:
        emit_json({"rows": [r.to_dict() for r in rows], "growth": [g.to_dict() for g in fits],
                   "backend": backend, "convention": CONVENTION}, "swell")
        return
    echo_fit(f"Size of d l_n/dx in five representations (convention: {CONVENTION})")
    cols = [Column(c, "r") for c in ("n", "l_n", "tree", "tree+cse", "DAG", "tape fwd+bwd", "forward mode",
                                     "(fwd+bwd)/fwd")]
    if timing:
        cols.append(Column("symbolic s", "r"))
    table = []
    for r in rows:
        cells = [str(r.n), str(r.ops_function), str(r.ops_naive), str(r.ops_cse), str(r.ops_dag),
                 f"{r.ops_tape_forward}+{r.ops_tape_backward}", f"{r.ops_forward_primal}+{r.ops_forward_tangent}",
                 f"{r.tape_ratio:.2f}" if r.ops_tape_forward else "—"]
        if timing:
            cells.append(f"{r.seconds_symbolic:.3f}")
        table.append(cells)
    echo_table(cols, table, wide=wide)
    echo_fit("tree: flat size of sympy.diff's tree; tree+cse, DAG (symbolic, differentiated on the "
             "DAG): shared size")
    echo_fit(f"Fitted growth (n ≥ {fits[0].fitted_from}): " + "; ".join(_growth_text(g) for g in fits[:3]))
    echo_fit("  " + "; ".join(_growth_text(g) for g in fits[3:]))
    typer.echo()
    typer.echo("The first rows, as in Baydin et al. (2018), Table 1")
    echo_table([Column("n", "r"), Column("l_n"), Column("d l_n/dx"), Column("d l_n/dx (simplified)")],
               [(str(row["n"]), row["l_pretty"], row["d_pretty"], row["simplified_pretty"])
                for row in baydin_rows(min(3, max_n))], wide=wide)


_COLUMN_NAMES = {"ops_naive": "tree", "ops_cse": "tree+cse", "ops_dag": "DAG", "ops_tape": "tape",
                 "ops_forward": "forward"}


def _growth_text(g) -> str:
    name = _COLUMN_NAMES.get(g.column, g.column)
    if g.rate is None:
        return f"{name} —"
    if g.kind == "exponential":
        return f"{name} ×{g.rate:.2f}/level"
    if g.kind == "polynomial":
        return f"{name} ~n^{g.rate:.1f}"
    return f"{name} +{g.rate:.1f}/level"
