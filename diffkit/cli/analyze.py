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
    step; which subexpressions the naive symbolic gradient recomputes; operation counts; and the
    BACKWARD listing.

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
        return
    _print_comparison(c)
    if report is not None:
        typer.echo(f"\nReport written to {report} and {report.with_suffix('.pdf')}")


def _print_comparison(c) -> None:
    con = _console()
    m = c.model
    d = c.derivations["lecture"].rendered("pretty")
    con.print(f"[bold]{m.name}[/bold]: {m.description or m.source}")
    con.print(f"L = {d['loss']}")
    con.print("at " + ", ".join(f"{k} = {_g(v, 6)}" for k, v in c.point.items()) + f"   →   L = {_g(c.value)}")
    con.print()
    for p, e in d["gradient"].items():
        con.print(f"∂L/∂{p} = {e}")
    con.print()

    a = c.agreement
    con.print("[bold]Gradient, four ways[/bold]")
    t = Table(box=box.SIMPLE_HEAD)
    t.add_column("param")
    sources = [s for s in ("symbolic", "reverse", "numeric", "complex_step") if s in a.gradients]
    for s in sources:
        t.add_column(s.replace("_", " "), justify="right")
    t.add_column("max rel. error", justify="right")
    t.add_column("verdict")
    for p in m.wrt:
        rel = max((a.errors[s][p][1] for s in a.errors), default=0.0)
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
    con.print("[bold]Operation counts[/bold] (convention: diffkit.analysis.counting)")
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


def _pretty(e) -> str:
    from ..symbolic.render import pretty

    return pretty(e)


@model_command("backprop")
def backprop_cmd(
    opts: ModelOptions,
    latex: Annotated[bool, typer.Option("--latex", help="Print LaTeX instead of Unicode text.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The step-by-step BACKWARD listing with values, as in the lecture.

    [bold]Examples[/bold]

      diffkit backprop

      diffkit backprop --at w=1,b=0 --latex

      diffkit backprop logistic-map --depth 3
    """
    from ..analysis.listing import backprop_listing

    m, point = _model(opts)
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
    json_out: JsonOpt = False,
) -> None:
    """Expression swell on the logistic map l_{n+1} = 4 l_n (1 − l_n) (Baydin et al. 2018, Table 1).

    [bold]Examples[/bold]

      diffkit swell

      diffkit swell --max-n 10 --json
    """
    from ..analysis.swell import baydin_rows, swell_table

    rows = swell_table(max_n)
    if json_out:
        emit_json({"rows": [r.to_dict() for r in rows]})
        return
    con = _console()
    con.print("[bold]Operation counts for l_n and d l_n/dx[/bold] (convention: diffkit.analysis.counting)")
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("n", "l_n", "naive d/dx", "expanded d/dx", "d/dx after CSE", "tape fwd", "tape bwd",
                "(fwd+bwd)/fwd"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(str(r.n), str(r.ops_function), str(r.ops_naive), str(r.ops_expanded), str(r.ops_cse),
                  str(r.ops_tape_forward), str(r.ops_tape_backward),
                  f"{r.tape_ratio:.2f}" if r.ops_tape_forward else "—")
    con.print(t)
    con.print("[bold]The first rows, as in Baydin et al. (2018), Table 1[/bold]")
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("n", "l_n", "d l_n/dx", "d l_n/dx (simplified)"):
        t.add_column(col)
    for row in baydin_rows(min(3, max_n)):
        t.add_row(str(row["n"]), row["l_pretty"], row["d_pretty"], row["simplified_pretty"])
    con.print(t)
