"""``diffkit higher``: the k-th derivative four ways (symbolic, symbolic + cse, nested reverse, forward-over-reverse)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich import box
from .tables import Table  # fitted to the terminal (diffkit.cli.tables)

from .app import JsonOpt, app, emit_json, parse_assignments

_HEADS = {"symbolic": "symbolic", "symbolic_cse": "symbolic+cse", "nested_reverse": "nested reverse",
          "forward_over_reverse": "fwd-over-rev"}


@app.command("higher")
def higher_cmd(
    function: Annotated[str, typer.Argument(
        help="sigmoid (default), tanh, or neuron (the lecture's loss as a function of w).")] = "sigmoid",
    max_k: Annotated[int, typer.Option("--max-k", "-k", help="Highest order k (1..10).")] = 8,
    expr: Annotated[Optional[str], typer.Option("--expr", help="A scalar expression instead, e.g. 'sigmoid(x)*x'.")] = None,
    wrt: Annotated[Optional[str], typer.Option("--wrt", help="With --expr: the one variable, e.g. x.")] = None,
    at: Annotated[Optional[str], typer.Option("--at", help="The point (and fixed values), e.g. x=0.3.")] = None,
    timing: Annotated[bool, typer.Option("--timing", help="Add the seconds of each way.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Higher derivatives: where nested AD swells and symbolic differentiation does not.

    The k-th derivative, k = 1..K, by SymPy (as a tree, and after cse), by nested reverse mode
    (grad of grad ...) and by forward-over-reverse (one JVP over the nested gradients): the size
    of each, the values against a 30-digit reference, and the fitted growth per order.
    Exit code 1 if a value disagrees (relative error above 1e-9), 2 for bad input.

    [bold]Examples[/bold]

      diffkit higher                                   (σ, k = 1..8)

      diffkit higher tanh --max-k 6 --timing

      diffkit higher --expr 'softplus(x)*x' --wrt x --at x=0.5 --json
    """
    from ..analysis.higher import WAYS, higher_orders
    from .tables import _console

    h = higher_orders(function, max_k=max_k, expr=expr, wrt=wrt, at=parse_assignments(at))
    if json_out:
        emit_json(h.to_dict(), "higher")
    else:
        con = _console()
        con.print(f"[bold]d^k f/d{h.variable}^k[/bold] of f = {h.expression} at {h.variable} = {h.point:g} "
                  "(sizes: diffkit.analysis.operation_counts)")
        t = Table(box=box.SIMPLE_HEAD)
        t.add_column("k", justify="right")
        for way in WAYS:
            t.add_column(_HEADS[way], justify="right")
            if timing:
                t.add_column("s", justify="right")
        t.add_column("value", justify="right")
        t.add_column("max rel. err", justify="right")
        for r in h.rows:
            cells = [str(r.k)]
            for way in WAYS:
                cells.append(str(r.sizes[way]))
                if timing:
                    cells.append(f"{r.seconds[way]:.3f}")
            cells += [f"{r.exact:.10g}", f"{r.max_rel_error:.1e}"]
            t.add_row(*cells)
        con.print(t)
        g = h.growth
        if g["symbolic"]["slope"] is not None:
            con.print(f"Fitted growth (k ≥ {g['symbolic']['from_k']}): symbolic +{g['symbolic']['slope']:.1f}/order, "
                      f"symbolic+cse +{g['symbolic_cse']['slope']:.1f}/order (linear)")
            con.print(f"  nested reverse ×{g['nested_reverse']['ratio']:.2f}/order, "
                      f"fwd-over-rev ×{g['forward_over_reverse']['ratio']:.2f}/order (geometric)")
        con.print("symbolic: σ, tanh written with exp, as the lecture does; nested AD: the ops it records")
        con.print(f"Values: {'all agree' if h.ok else 'DISAGREE'} with the 30-digit reference (rtol 1e-9)")
    if not h.ok:
        raise typer.Exit(1)
