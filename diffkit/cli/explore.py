"""``diffkit explore``: write one self-contained, offline HTML page to step through backprop.

Parses options, calls the analyzer (:func:`diffkit.analysis.compare.compare`), for ``--study`` the
optimisation layer (:func:`diffkit.optim.study`, once per grid point), and hands the results to
:func:`diffkit.report.explore.write_explore`, which only reads them.  No maths here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..budget import enforce, estimate_compare
from ..constraints import shorten
from .analyze import _model
from .app import JsonOpt, ModelOptions, emit_json, model_command

#: The study grid: multiples of the default step-size scale C, and batch sizes (b = 1 is the
#: lecture's single-sample SGD).
C_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
BATCHES = (1, 8, 32, 128)


def study_grid(*, n: int = 500, d: int = 5, epochs: int = 5, seeds=(0, 1, 2)):
    """Convergence curves of minibatch SGD (α_k = C/(k + k0)) over C × b on the lecture's
    least-squares setting, and full-batch GD for reference, from :func:`diffkit.optim.study`."""
    import numpy as np

    from .. import builtin
    from ..optim import make_data, median_curve, study
    from ..report.explore import StudyGrid

    m = builtin("linear-regression", d=d)
    data = make_data("linear-regression", n=n, d=d, noise=0.1, seed=0)
    base = study(m, data, methods=("gd", "minibatch"), epochs=epochs, seeds=seeds, timing=False)
    C0, k0 = base.config["C"]["minibatch"], base.config["k0"]["minibatch"]
    gd = median_curve(base.by_method()["gd"], x="sample_gradients", spread=(0.0, 100.0))
    curves = {}
    Cs = tuple(float(C0 * f) for f in C_FACTORS)
    for C in Cs:
        for b in BATCHES:
            res = study(m, data, methods=("minibatch",), C=C, k0=k0, batch=b, epochs=epochs, seeds=seeds,
                        timing=False)
            cur = median_curve(res.runs, x="sample_gradients", spread=(0.0, 100.0))
            curves[(C, b)] = (np.asarray(cur["x"]).tolist(), np.asarray(cur["median"]).tolist())
    return StudyGrid("linear-regression", base.data, Cs, BATCHES, curves,
                     (np.asarray(gd["x"]).tolist(), np.asarray(gd["median"]).tolist()), tuple(seeds))


@model_command("explore")
def explore_cmd(
    opts: ModelOptions,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="HTML file to write (default explore/<model>.html).")] = None,
    with_study: Annotated[bool, typer.Option(
        "--study", help="Add GD vs SGD convergence curves on a precomputed grid of step sizes × batch sizes, "
                        "with sliders (about 20 small studies).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write an interactive page: step FORWARD and BACKWARD node by node, click a node for its sum over children.

    One self-contained HTML file (no server, no network): the model's graph; FORWARD and BACKWARD
    one node at a time with the values filled in; a click on a node shows its local derivatives and
    the lecture's ∂L/∂v = Σ_c ∂L/∂c · ∂c/∂v with the numbers, and the symbolic partial beside the
    engine's value.  A page draws a graph of at most 80 nodes, and its symbolic side must fit the
    budget (see --force).

    [bold]Examples[/bold]

      diffkit explore --out neuron.html

      diffkit explore mlp --sizes 2,2,1 --study --out mlp.html
    """
    from ..analysis.compare import compare
    from ..report.explore import MAX_NODES, write_explore
    from ..errors import BadInput

    m, point = _model(opts)
    path = out if out is not None else Path("explore") / f"{m.name}.html"
    if path.suffix.lower() not in (".html", ".htm"):
        raise BadInput(f"page path {shorten(str(path), 80)} must end in .html")
    if path.is_dir():
        raise BadInput(f"page path {shorten(str(path), 80)} is a directory; give a file name ending in .html")
    from ..io import check_output

    check_output((path,), what="page path")  # before any work
    from ..engine import from_model

    size = len(from_model(m).nodes)  # the graph alone is cheap: refuse a big model before any derivation
    if size > MAX_NODES:
        raise BadInput(f"the graph of {m.name} has {size} nodes; explore draws at most {MAX_NODES} "
                       "(choose a smaller model, e.g. mlp --sizes 2,2,1)")
    # the page holds the comparison: its symbolic side is what grows (logistic-map --depth 20 ran for hours)
    enforce(estimate_compare(m, 1).named(f"the explore page of {m.name}"), force=opts.force)
    c = compare(m, point, points=1, seed=0)
    grid = study_grid() if with_study else None
    p = write_explore(c, path, study=grid)
    if json_out:
        emit_json({"html": str(p), "model": m.name, "nodes": len(c.graph.nodes), "edges": len(c.graph.edges),
                   "bytes": p.stat().st_size, "study": grid is not None}, "explore")
        return
    typer.echo(f"Page written to {p} ({p.stat().st_size / 1024:.0f} kB; open it in any browser, offline)")
