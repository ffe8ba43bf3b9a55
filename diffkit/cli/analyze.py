"""``diffkit compare``, ``backprop``, ``check`` and ``swell``: parse options, call the analyzer, format."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from .. import constraints as C
from ..errors import BadInput
from .app import AtOpt, JsonOpt, ModelOptions, app, emit_json, model_command, option, replace_defaults, seed_option

PointsOpt = Annotated[int, option(C.POINTS)]
SeedOpt = Annotated[str, seed_option(C.SEED)]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def _g(v: float, digits: int = 12) -> str:
    return f"{v:.{digits}g}"


def _e(v: float) -> str:
    return f"{v:.1e}"


def _model(opts: ModelOptions):
    """The model and the ``--at`` point, checked against the model's domain."""
    return opts.build()


@model_command("compare")
def compare_cmd(
    opts: ModelOptions, points: PointsOpt = 10, seed: SeedOpt = "0", json_out: JsonOpt = False,
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
    c = compare(m, point, points=points, seed=seed)
    if report is not None:
        from ..report import write_report

        write_report(c, report)
    if json_out:
        emit_json(c.to_dict())
    else:
        _print_comparison(c)
        if report is not None:
            typer.echo(f"\nReport written to {report} and {report.with_suffix('.pdf')}")
    if not c.ok:
        raise typer.Exit(1)


def _print_comparison(c) -> None:
    con = _console()
    m = c.model
    d = c.derivations["lecture"].rendered("pretty")
    from ..symbolic.readable import readable  # long closed forms: size and op count, not hairlines
    hint = "see --json" + (", or derive --form matrix" if (m.spec or {}).get("kind") == "mlp" else "")
    lec = c.derivations["lecture"]
    con.print(f"[bold]{m.name}[/bold]: {m.description or m.source}")
    con.print(f"L = {readable(d['loss'], lec.loss, hint=hint)}")
    con.print("at " + ", ".join(f"{k} = {_g(v, 6)}" for k, v in c.point.items()) + f"   →   L = {_g(c.value)}")
    con.print()
    for p, e in d["gradient"].items():
        con.print(f"∂L/∂{p} = {readable(e, lec.gradient[p], hint=hint)}")
    con.print()

    a = c.agreement
    con.print("[bold]Gradient, four ways[/bold]")
    t = Table(box=box.SIMPLE_HEAD)
    t.add_column("param")
    sources = [s for s in ("symbolic", "reverse", "numeric", "complex_step") if s in a.gradients]
    errs = [s for s in a.errors]
    for s in sources:
        t.add_column(s.replace("_", " "), justify="right")
    t.add_column("max rel. error", justify="right")
    t.add_column("verdict")
    for p in m.wrt:
        rel = max((a.errors[s][p][1] for s in errs), default=0.0)
        verdict = a.verdicts[p]
        if p in a.kinks:
            verdict += f" (left {_g(a.kinks[p]['left'], 6)}, right {_g(a.kinks[p]['right'], 6)})"
        t.add_row(p, *[_g(a.gradients[s][p], 10) for s in sources], _e(rel), verdict)
    con.print(t)
    r = a.random
    con.print(f"At {r['points']} random points (seed {r['seed']}): max abs. error {_e(r['max_abs_error'])}, "
              f"max rel. error {_e(r['max_rel_error'])}, mismatches {r['mismatches']}"
              + (f", kinks {r['kinks']}" if r["kinks"] else "") + (f", skipped {r['skipped']}" if r["skipped"] else "")
              + f".  Agreement: {'OK' if a.ok else 'FAILED'}")
    if a.kink_sites:
        con.print(f"Kink at this point: {', '.join(a.kink_sites)} — one-sided derivatives differ; "
                  "tools disagree by convention here, this is not a failure.")
    con.print()
    if c.layer is not None:
        from .layers import print_layer_section
        print_layer_section(con, c.layer)

    con.print("[bold]Recomputed by the naive symbolic gradient[/bold] (σ, σ′ as primitives)")
    t = Table(box=box.SIMPLE_HEAD)
    t.add_column("subexpression")
    t.add_column("times", justify="right")
    t.add_column("ops each", justify="right")
    t.add_column("inside")
    for rep in c.redundancy:
        t.add_row(rep.pretty, f"×{rep.count}", str(rep.ops), "" if rep.inside is None else _pretty(rep.inside))
    if not c.redundancy:
        t.add_row("(nothing is computed twice)", "", "", "")
    con.print(t)

    o = c.ops
    con.print(f"[bold]Operation counts[/bold] (convention: {o['convention']})")
    t = Table(box=box.SIMPLE_HEAD)
    t.add_column("computation")
    t.add_column("ops", justify="right")
    t.add_row("symbolic gradient, naive (all partials)", str(o["symbolic_naive"]))
    t.add_row("symbolic gradient, σ written with exp", str(o["symbolic_expanded"]))
    t.add_row("symbolic gradient after sympy.cse", str(o["symbolic_cse"]))
    t.add_row("reverse mode: forward tape", str(o["forward"]))
    t.add_row("reverse mode: backward tape", str(o["backward"]))
    t.add_row("(forward + backward) / forward", f"{o['ratio']:.2f}" if o["ratio"] else "—")
    con.print(t)

    _print_representations(con, c.representations)
    fm = c.forward_mode
    if fm:
        direction = ", ".join(f"{_g(v, 3)}" for v in fm["direction"].values())
        fg = fm["full_gradient"]
        con.print(f"[bold]Forward mode[/bold] (one JVP along v = ({direction})): ∇L·v = {_g(fm['jvp'], 12)}")
        con.print(f"  reverse mode: ∇L·v = {_g(fm['reverse'], 12)}, rel. error {_e(fm['rel_error'])}")
        con.print(f"  the full gradient: {fg['jvps']} JVP sweep(s), {fg['ops_by_jvps']} ops; "
                  f"{fg['vjps']} VJP, {fg['ops_by_vjp']} ops")
        con.print()

    con.print("[bold]Backprop[/bold] (FORWARD, then BACKWARD in reverse topological order)")
    for line, (s, _) in zip(c.listing.forward_lines(), c.listing.steps):
        con.print(f"  {line:<40} = {_g(c.listing.forward_values[s.name], 8)}")
    for ln in c.listing.lines:
        con.print(f"  {ln.pretty:<40} = {_g(ln.value, 8)}")
    if c.lint:
        con.print()
        con.print("[bold]Stability lint[/bold] (fragile float64 patterns, e.g. once σ is written with exp)")
        by_pattern: dict = {}
        for f in c.lint:
            by_pattern.setdefault(f.pattern, []).append(f)
        for pattern, fs in by_pattern.items():
            f = fs[0]
            con.print(f"  {pattern}: {len(fs)} place(s), e.g. {f.where}")
            con.print(f"    {f.why}")
            if f.at is not None:
                con.print(f"    at z = {f.at:g}: fragile form gives {_g(f.fragile_value, 6)}, "
                          f"stable form {_g(f.stable_value, 6)}")
            con.print(f"    rewrite: {f.rewrite}")
    if c.numeric_warnings:
        con.print()
        con.print("[bold]Numerical warnings[/bold] (raised by NumPy while evaluating; reported, not printed raw)")
        for w in c.numeric_warnings:
            con.print(f"  {w.source}: {w.message} (×{w.count})")


def _print_representations(con, reps) -> None:
    con.print("[bold]Five representations of the gradient[/bold] (flat = as a tree, shared = each "
              "subexpression once)")
    t = Table(box=box.SIMPLE_HEAD)
    t.add_column("representation")
    t.add_column("flat", justify="right")
    t.add_column("shared", justify="right")
    for r in reps:
        t.add_row(r.label, "—" if r.flat is None else str(r.flat), "—" if r.shared is None else str(r.shared))
    con.print(t)


def _pretty(e) -> str:
    from ..symbolic.render import pretty

    return pretty(e)


@model_command("backprop")
def backprop_cmd(
    opts: ModelOptions,
    latex: Annotated[bool, typer.Option("--latex", help="Print LaTeX instead of Unicode text.")] = False,
    layers: Annotated[bool, typer.Option(
        "--layers", help="mlp: one line per layer in matrix form (δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ σ′(a⁽ˡ⁾)), with shapes.")] = False,
    json_out: JsonOpt = False,
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
    lst = backprop_listing(m, point)
    if json_out:
        emit_json(lst.to_dict())
        return
    style = "latex" if latex else "pretty"
    typer.echo("FORWARD")
    for line, (s, _) in zip(lst.forward_lines(style), lst.steps):
        typer.echo(f"  {line:<44} = {_g(lst.forward_values[s.name], 8)}")
    typer.echo("BACKWARD")
    for ln in lst.lines:
        typer.echo(f"  {(ln.latex if latex else ln.pretty):<44} = {_g(ln.value, 8)}")


@model_command("check")
def check_cmd(
    opts: ModelOptions,
    claims: Annotated[Optional[str], typer.Option(
        "--claims", help="File with one claim per line, 'name = expression' (- for standard input).")] = None,
    points: PointsOpt = 20, seed: SeedOpt = "0", json_out: JsonOpt = False,
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
    m = replace_defaults(m, point)
    res = check_claims(m, text, points=points, seed=seed)
    if json_out:
        emit_json(res.to_dict())
    else:
        for c in res.claims:
            mark = "ok   " if c.ok else "WRONG"
            typer.echo(f"line {c.line:>3}  {mark}  {c.name} = {c.text}")
            if not c.ok:
                ce = c.counterexample
                at_txt = ", ".join(f"{k}={_g(v, 6)}" for k, v in ce["point"].items())
                typer.echo(f"             at {at_txt}: claimed {_g(ce['claimed'])}, true {_g(ce['true'])}")
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
    json_out: JsonOpt = False,
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
        return print_rnn_swell(max_n, json_out=json_out)
    rows = swell_table(max_n, backend=backend)
    fits = growth(rows)
    if json_out:
        emit_json({"rows": [r.to_dict() for r in rows], "growth": [g.to_dict() for g in fits],
                   "backend": backend, "convention": CONVENTION})
        return
    con = _console()
    con.print(f"[bold]Size of d l_n/dx in five representations[/bold] (convention: {CONVENTION})")
    t = Table(box=box.SIMPLE_HEAD)
    cols = ["n", "l_n", "tree", "tree+cse", "DAG", "tape fwd+bwd", "forward mode", "(fwd+bwd)/fwd"]
    if timing:
        cols.append("symbolic s")
    for col in cols:
        t.add_column(col, justify="right")
    for r in rows:
        cells = [str(r.n), str(r.ops_function), str(r.ops_naive), str(r.ops_cse), str(r.ops_dag),
                 f"{r.ops_tape_forward}+{r.ops_tape_backward}", f"{r.ops_forward_primal}+{r.ops_forward_tangent}",
                 f"{r.tape_ratio:.2f}" if r.ops_tape_forward else "—"]
        if timing:
            cells.append(f"{r.seconds_symbolic:.3f}")
        t.add_row(*cells)
    con.print(t)
    con.print("tree: flat size of sympy.diff's tree; tree+cse, DAG (symbolic, differentiated on the "
              "DAG): shared size")
    con.print(f"Fitted growth (n ≥ {fits[0].fitted_from}): " + "; ".join(_growth_text(g) for g in fits[:3]))
    con.print("  " + "; ".join(_growth_text(g) for g in fits[3:]))
    con.print()
    con.print("[bold]The first rows, as in Baydin et al. (2018), Table 1[/bold]")
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("n", "l_n", "d l_n/dx", "d l_n/dx (simplified)"):
        t.add_column(col)
    for row in baydin_rows(min(3, max_n)):
        t.add_row(str(row["n"]), row["l_pretty"], row["d_pretty"], row["simplified_pretty"])
    con.print(t)


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
