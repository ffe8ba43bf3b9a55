"""``diffkit optimize``: GD vs SGD vs minibatch SGD on a built-in model, as a cost table or JSON.

Parses options, calls :func:`diffkit.optim.study` once, formats the result; no maths here.
"""

from __future__ import annotations

import math
from typing import Optional

import typer

from .. import constraints as C_
from ..constraints import shorten
from ..errors import BadInput
from .app import app, emit_json, finite_float, given, option, parse_seeds, seed_option

_SYNTHETIC = ("linear-regression", "logistic-regression")


def _per_method(text: Optional[str], option: str, convert):
    """``value`` for every method, or ``gd=value,sgd=value`` per method; None stays None."""
    if text is None:
        return None
    text = text.strip()
    if "=" not in text:
        return convert(text)
    out = {}
    for piece in text.split(","):
        name, eq, value = (p.strip() for p in piece.partition("="))
        if not eq or not name or not value:
            raise BadInput(f"{option} expects a value or method=value pairs (e.g. gd=0.5,sgd=0.1), "
                           f"got {shorten(piece)}")
        if name in out:
            raise BadInput(f"{option}: method {shorten(name)} is given twice")
        out[name] = convert(value)
    return out


def _number(option: str):
    def conv(v: str) -> float:
        return C_.check(option, finite_float(v, f"{option}: {shorten(v)}"), C_.STEP_SCALE.constraint)
    return conv


def _fmt(v, spec: str = ".4g") -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, spec)


@app.command("optimize")
def optimize(
    model: str = typer.Argument("linear-regression", help="Built-in model (linear-regression, logistic-regression, ...)."),
    data: Optional[str] = typer.Option(None, "--data", help="CSV file with a header row (instead of synthetic data)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column of --data."),
    n: int = option(C_.N_SAMPLES, default=1000),
    d: int = option(C_.N_FEATURES, default=10),
    noise: float = option(C_.NOISE, default=0.1),
    condition: float = option(C_.CONDITION, default=1.0),
    data_seed: str = seed_option(C_.DATA_SEED, default="0"),
    methods: str = typer.Option("gd,sgd,minibatch", "--methods", help="Comma-separated: gd, sgd, minibatch."),
    schedule: Optional[str] = typer.Option(
        None, "--schedule",
        help="constant (α=C), c/k (α=C/k, the lecture's), c/sqrt(k) (α=C/√k) or bottou (α=C/(1+Cλ(k−1))); "
             "one for all methods or per method (gd=constant,sgd=c/k). Default: constant for gd, c/k otherwise."),
    C: Optional[str] = typer.Option(None, "--C", help="Step-size scale, one value or per method (gd=0.5,sgd=0.1). "
                                    "Default: 1/L for gd, 1/mean‖x‖² for sgd/minibatch (linear and logistic models)."),
    lam: float = option(C_.LAM, help="L2 regulariser λ: minimise mean loss + λ·½‖W‖².", default=0.0),
    epochs: int = option(C_.EPOCHS, default=10),
    batch: int = option(C_.BATCH, default=32),
    seeds: str = seed_option(C_.SEEDS, help="Run seeds.", single=False, default="0"),
    sampling: str = typer.Option("replacement", "--sampling",
                                 help="replacement (i.i.d. uniform, the lecture's) or shuffle (permutation per epoch)."),
    gradient: str = typer.Option("symbolic", "--gradient", help="symbolic (SymPy closed form) or engine (reverse mode)."),
    eps: float = option(C_.EPS, help="Target excess loss for the 'cost to reach ε' column.", default=1e-3),
    timing: Optional[bool] = typer.Option(
        None, "--timing/--no-timing",
        help="Measure wall time. On by default for the table; off by default with --json, whose output is then "
             "byte-identical for the same options and seeds (time_s is null). --json --timing adds times."),
    json_out: bool = typer.Option(False, "--json", help="Print the study as JSON (stable keys, no progress bar)."),
) -> None:
    """Compare full-batch GD, SGD and minibatch SGD: cost to reach the optimum, per run and seed.

    Minimises F(W) = (1/n) Σ lᵢ(W) + λ·½‖W‖² from W₀ = 0.  Costs: iterations, epochs, sample
    gradients, flops (counted from the symbolic gradient; see diffkit.optim.cost), wall time.
    """
    from .. import builtin
    from ..optim import load_csv, make_data, study

    if data is not None:
        if target is None:
            raise BadInput("--data needs --target, the name of the target column")
        ignored = [f for f, k in (("--n", "n"), ("--d", "d"), ("--noise", "noise"), ("--condition", "condition"),
                                  ("--data-seed", "data_seed")) if given(k)]
        if ignored:
            raise BadInput(f"{', '.join(ignored)} describe{'s' if len(ignored) == 1 else ''} synthetic data and "
                           "cannot be used with --data (the data file fixes n and d)")
        ds = load_csv(data, target=target)
    else:
        if target is not None:
            raise BadInput("--target only applies with --data")
        if model not in _SYNTHETIC:
            raise BadInput(f"synthetic data exist for {', '.join(_SYNTHETIC)}; give --data for model {model!r}")
        ds = make_data(model, n=n, d=d, noise=noise, seed=data_seed, condition=condition)
    m = builtin(model, d=ds.d) if model in _SYNTHETIC else builtin(model)
    res = study(
        m, ds, methods=tuple(p.strip() for p in methods.split(",") if p.strip()),
        schedule=_per_method(schedule, "--schedule", str), C=_per_method(C, "--C", _number("--C")),
        lam=lam, epochs=epochs, batch=batch, seeds=tuple(seeds), sampling=sampling, gradient=gradient,
        eps=eps, timing=(not json_out) if timing is None else timing, progress=not json_out)
    if json_out:
        emit_json(res.to_dict())
        return
    _table(res)


def _table(res) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:  # piped output: do not squeeze the table into 80 columns
        console = Console(highlight=False, width=200)
    console.print(f"{res.model} on {res.data}: n = {res.n}, d = {res.d}")
    console.print(f"optimum F* = {res.optimum_loss:.10g} ({res.optimum_method}); ε = {res.eps:g}")
    table = Table(show_edge=False)
    cols = ("method", "schedule", "C", "seed", "status", "iterations", "epochs", "sample grads", "flops",
            "time s", "final loss", "excess loss", "grads to ε")
    for c in cols:
        table.add_column(c, justify="left" if c in ("method", "schedule", "status") else "right")
    for r in res.runs:
        f = r.final
        table.add_row(r.label, r.schedule, _fmt(r.C, ".3g"), str(r.seed), r.status, str(f.iteration),
                      _fmt(f.epoch, ".3g"), str(f.sample_gradients), _fmt(float(f.flops), ".3g"),
                      _fmt(f.time_s, ".3g"), _fmt(f.loss, ".6g"), _fmt(f.excess_loss, ".3g"),
                      _fmt(r.cost_to_reach(res.eps), "d") if res.eps else "—")
    console.print(table)
    for r in res.runs:
        if r.status == "diverged":
            console.print(f"{r.label} (seed {r.seed}): {r.message}")
