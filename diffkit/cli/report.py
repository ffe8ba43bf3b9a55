"""``diffkit report``: compare a model, run the GD/SGD study, write the HTML report and the PDF beside it.

Parses options and calls the library: :func:`diffkit.analysis.compare.compare`, the optimisation
layer for the study (through :func:`diffkit.report.study.report_study`, which picks the study's
model and data), :func:`diffkit.analysis.swell.swell_table`, then
:func:`diffkit.report.write_report`, which only reads those results.  No maths here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import constraints as C
from ..errors import BadInput
from ..budget import enforce, estimate_report, estimate_study
from .analyze import PointsOpt, SeedOpt, _model
from .app import JsonOpt, ModelOptions, emit_json, model_command, option, seed_option


def report_inputs(model, *, settings=None, sections=None) -> dict:
    """The result objects the selected report sections read, each computed once, here (not in the report)."""
    from ..analysis.swell import baydin_rows, swell_table
    from ..report.study import report_study
    from ..report.write import BAYDIN_ROWS, SWELL_MAX_N, parse_sections

    names = parse_sections(sections)
    out: dict = {"sections": names}
    if "swell" in names:
        out["swell_rows"] = swell_table(SWELL_MAX_N)
        out["baydin"] = baydin_rows(BAYDIN_ROWS)
    if "study" in names:
        out["study"] = report_study(model, settings)
    return out


@model_command("report")
def report_cmd(
    opts: ModelOptions, points: PointsOpt = 10, seed: SeedOpt = "0",
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="HTML file to write (default reports/<model>.html); the PDF goes beside it.")] = None,
    n: Annotated[int, option(C.REPORT_N)] = 1000,
    d: Annotated[int, option(C.REPORT_D)] = 5,
    epochs: Annotated[Optional[int], option(
        C.REPORT_EPOCHS, help="GD/SGD study: passes over the data (default 20; with --data, diffkit train's defaults).",
        show_default=False)] = None,
    data: Annotated[Optional[str], typer.Option(
        "--data", help="GD/SGD study of the report's own model on this data set (bundled name, CSV or .npy), "
                       "split and trained as diffkit train does.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="Target column of --data.")] = None,
    lam: Annotated[float, option(C.LAM, help="GD/SGD study: L2 regulariser λ.")] = 0.0,
    seeds: Annotated[str, seed_option(C.REPORT_SEEDS, single=False)] = "0..4",
    eps: Annotated[float, option(C.REPORT_EPS)] = 1e-4,
    timing: Annotated[bool, typer.Option("--timing/--no-timing", help="Measure wall time (--no-timing: no wall-time "
                                                                       "plot; the files are byte-identical per input).")] = True,
    sections: Annotated[Optional[str], typer.Option(
        "--sections", help="Only these sections, comma-separated: model, gradients, backprop, counts, agreement, "
                           "layers, swell, study (default: all).")] = None,
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

      diffkit report mlp --sections model,agreement
    """
    from ..analysis.compare import compare
    from ..report import StudySettings, write_report
    from ..report.write import check_path, parse_sections

    if target is not None and data is None:
        raise BadInput("--target only applies with --data (the target column of the data set)")
    settings = StudySettings(n=n, d=d, epochs=epochs, seeds=tuple(seeds), eps=eps, timing=timing,
                             data=data, target=target, lam=lam)
    names = parse_sections(sections)
    m, point = _model(opts)
    path = out if out is not None else Path("reports") / f"{m.name}.html"
    check_path(path)  # fail on a bad path before the work
    enforce(estimate_report(m, points, study=None if data is not None else estimate_study(
        n=settings.n, d=int(m.spec.get("d", settings.d)), epochs=settings.epochs, batch=settings.batch,
        seeds=len(settings.seeds))), force=opts.force)
    c = compare(m, point, points=points, seed=seed)
    inputs = report_inputs(m, settings=settings, sections=names)
    w = write_report(c, path, **inputs)
    if json_out:
        emit_json({"html": str(w.html), "pdf": str(w.pdf), "model": m.name,
                   "equations": len(w.document.equations()), "figures": len(w.document.figures()),
                   "sections": [s.title for s in w.document.sections]}, "report")
        return
    typer.echo(f"Report written to {w.html} and {w.pdf}")
