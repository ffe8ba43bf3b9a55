"""``diffkit jacobian``: a full Jacobian by n JVPs (forward mode) against m VJPs (reverse mode)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from .tables import Table  # fitted to the terminal (diffkit.cli.tables)

from ..budget import enforce, estimate_jacobian
from .app import ForceOpt, JsonOpt, app, emit_json


@app.command("jacobian")
def jacobian_cmd(
    d: Annotated[int, typer.Option("--inputs", help="Inputs of the many-to-one workload (1..2000).")] = 200,
    m: Annotated[int, typer.Option("--outputs", help="Outputs of the few-to-many workload (1..2000).")] = 200,
    repeats: Annotated[int, typer.Option("--repeats", help="Timing repeats (1..100).")] = 5,
    json_out: JsonOpt = False,
    force: ForceOpt = False,
) -> None:
    """Forward or reverse mode for a full Jacobian: n JVPs against m VJPs, measured.

    Many inputs and one output (a logistic-regression loss of d weights): one VJP beats d JVPs.
    Few inputs and many outputs (σ(At) with 2 inputs): two JVPs beat m VJPs.  Times are measured
    in this run on this machine.

    [bold]Examples[/bold]

      diffkit jacobian

      diffkit jacobian --inputs 500 --outputs 50 --json
    """
    from ..analysis.modes import jacobian_costs
    from .tables import _console

    enforce(estimate_jacobian(d, m, repeats), force=force)
    rows = jacobian_costs(d=d, m=m, repeats=repeats)
    if json_out:
        emit_json({"workloads": [r.to_dict() for r in rows]}, "jacobian")
        return
    con = _console()
    con.print("[bold]A full Jacobian, forward (n JVPs) against reverse (m VJPs)[/bold]")
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("workload", "n in", "m out", "n JVPs s", "m VJPs s", "faster", "agree"):
        t.add_column(col, justify="left" if col in ("workload", "faster") else "right")
    for r in rows:
        t.add_row(r.description, str(r.inputs), str(r.outputs), f"{r.jvps_seconds:.2g}", f"{r.vjps_seconds:.2g}",
                  r.faster, "yes" if r.agree else "NO")
    con.print(t)
    if not all(r.agree for r in rows):
        raise typer.Exit(1)
