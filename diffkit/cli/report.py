"""``diffkit report``: compare a model, run the GD/SGD study, write the HTML report and the PDF beside it.

Parses options and calls the library (:func:`diffkit.analysis.compare.compare`,
:func:`diffkit.report.write_report`); no maths here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import constraints as C
from .analyze import PointsOpt, SeedOpt, _model
from .app import JsonOpt, ModelOptions, emit_json, model_command, option, seed_option


@model_command("report")
def report_cmd(
    opts: ModelOptions, points: PointsOpt = 10, seed: SeedOpt = "0",
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="HTML file to write (default reports/<model>.html); the PDF goes beside it.")] = None,
    n: Annotated[int, typer.Option("--n", help="GD/SGD study: synthetic samples.")] = 1000,
    d: Annotated[int, typer.Option("--d", help="GD/SGD study: features (when the model is not linear/logistic "
                                               "regression itself).")] = 5,
    epochs: Annotated[Optional[int], typer.Option(
        "--epochs", help="GD/SGD study: passes over the data (default 20; with --data, diffkit train's defaults).",
        show_default=False)] = None,
    data: Annotated[Optional[str], typer.Option(
        "--data", help="GD/SGD study of the report's own model on this data set (bundled name, CSV or .npy), "
                       "split and trained as diffkit train does.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="Target column of --data.")] = None,
    lam: Annotated[float, option(C.LAM, help="GD/SGD study: L2 regulariser λ.")] = 0.0,
    seeds: Annotated[str, seed_option(C.SEEDS, help="GD/SGD study: seeds.", single=False)] = "0..4",
    eps: Annotated[float, typer.Option("--eps", help="GD/SGD study: target excess loss for 'cost to reach ε'.")] = 1e-4,
    timing: Annotated[bool, typer.Option("--timing/--no-timing", help="Measure wall time (--no-timing: no wall-time "
                                                                       "plot; the files are byte-identical per input).")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Write a self-contained HTML report and a PDF with the same content.

    The report shows the model and its computation graph, the symbolic gradients (lecture form,
    expanded, CSE), the backprop listing, redundancy and operation counts, the agreement table,
    expression swell on the logistic map and GD vs SGD convergence.

    [bold]Examples[/bold]

      diffkit report                                    (reports/ridge-sigmoid.html and .pdf)

      diffkit report --at w=2,b=0.1 --out /tmp/neuron.html --no-timing

      diffkit report linear-regression --dim 3 --epochs 40 --seeds 0..9
    """
    from ..analysis.compare import compare
    from ..report import StudySettings, write_report

    settings = StudySettings(n=n, d=d, epochs=epochs, seeds=tuple(seeds), eps=eps, timing=timing,
                             data=data, target=target, lam=lam)
    m, point = _model(opts)
    path = out if out is not None else Path("reports") / f"{m.name}.html"
    from ..report.write import check_path

    check_path(path)  # fail on a bad path before the work
    c = compare(m, point, points=points, seed=seed)
    w = write_report(c, path, settings=settings)
    if json_out:
        emit_json({"html": str(w.html), "pdf": str(w.pdf), "model": m.name,
                   "equations": len(w.document.equations()), "figures": len(w.document.figures()),
                   "sections": [s.title for s in w.document.sections]})
        return
    typer.echo(f"Report written to {w.html} and {w.pdf}")
