"""``diffkit optimize``: GD vs SGD vs minibatch SGD on a built-in model, as a cost table or JSON.

Parses options, calls :func:`diffkit.optim.study` once, formats the result; no maths here.
"""

from __future__ import annotations

import math
from typing import Optional

import typer

from ..errors import BadInput
from .app import app, emit_json, finite_float

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
            raise BadInput(f"{option} expects a value or method=value pairs (e.g. gd=0.5,sgd=0.1), got {piece!r}")
        if name in out:
            raise BadInput(f"{option}: method {name!r} is given twice")
        out[name] = convert(value)
    return out


def _number(option: str):
    def conv(v: str) -> float:
        return finite_float(v, f"{option}: {v!r}")
    return conv


def _seeds(text: str) -> tuple[int, ...]:
    out = []
    for p in text.split(","):
        p = p.strip()
        if not p:
            continue
        if not p.isdigit():
            raise BadInput(f"--seeds expects non-negative integers separated by commas, got {p!r}")
        out.append(int(p))
    if not out:
        raise BadInput("--seeds needs at least one seed, e.g. --seeds 0,1,2")
    return tuple(out)


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
    n: int = typer.Option(1000, "--n", help="Synthetic data: samples."),
    d: int = typer.Option(10, "--d", help="Synthetic data: features."),
    noise: float = typer.Option(0.1, "--noise", help="Synthetic regression noise (std)."),
    condition: float = typer.Option(1.0, "--condition", help="Synthetic feature covariance condition number."),
    data_seed: int = typer.Option(0, "--data-seed", help="Seed of the synthetic data."),
    methods: str = typer.Option("gd,sgd,minibatch", "--methods", help="Comma-separated: gd, sgd, minibatch."),
    schedule: Optional[str] = typer.Option(
        None, "--schedule",
        help="constant (α=C), c/k (α=C/k, the lecture's), c/sqrt(k) (α=C/√k) or bottou (α=C/(1+Cλ(k−1))); "
             "one for all methods or per method (gd=constant,sgd=c/k). Default: constant for gd, c/k otherwise."),
    C: Optional[str] = typer.Option(None, "--C", help="Step-size scale, one value or per method (gd=0.5,sgd=0.1). "
                                    "Default: 1/L for gd, 1/mean‖x‖² for sgd/minibatch (linear and logistic models)."),
    lam: float = typer.Option(0.0, "--lam", help="L2 regulariser λ: minimise mean loss + λ·½‖W‖²."),
    epochs: int = typer.Option(10, "--epochs", help="Passes over the data per run."),
    batch: int = typer.Option(32, "--batch", help="Minibatch size b."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated run seeds, e.g. 0,1,2."),
    sampling: str = typer.Option("replacement", "--sampling",
                                 help="replacement (i.i.d. uniform, the lecture's) or shuffle (permutation per epoch)."),
    gradient: str = typer.Option("symbolic", "--gradient", help="symbolic (SymPy closed form) or engine (reverse mode)."),
    eps: float = typer.Option(1e-3, "--eps", help="Target excess loss for the 'cost to reach ε' column."),
    timing: Optional[bool] = typer.Option(
        None, "--timing/--no-timing",
        help="Measure wall time. On by default for the table; off by default with --json, whose output is then "
             "byte-identical for the same options and seeds (time_s is null). --json --timing adds times."),
    json_out: bool = typer.Option(False, "--json", help="Print the study as JSON (stable keys, no progress bar)."),
    wide: bool = typer.Option(False, "--wide", help="Show every column and every digit (no fitting to the "
                                                     "terminal's width)."),
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
        lam=lam, epochs=epochs, batch=batch, seeds=_seeds(seeds), sampling=sampling, gradient=gradient,
        eps=eps, timing=(not json_out) if timing is None else timing, progress=not json_out)
    if json_out:
        emit_json(res.to_dict())
        return
    _table(res, wide=wide)


def _table(res, *, wide: bool = False) -> None:
    """The runs as a table that fits the terminal (diffkit.cli.tables); ``wide``: every column."""
    from .tables import Column, echo_fit, echo_table, number

    echo_fit(f"{res.model} on {res.data}: n = {res.n}, d = {res.d}")
    echo_fit(f"optimum F* = {res.optimum_loss:.10g} ({res.optimum_method}); ε = {res.eps:g}")
    cols = [Column("method"), Column("schedule", optional=3), Column("C", "r", optional=2), Column("seed", "r"),
            Column("status"), Column("iterations", "r", optional=4), Column("epochs", "r"),
            Column("sample grads", "r"), Column("flops", "r", optional=5), Column("time s", "r", optional=6),
            Column("final loss", "r", optional=1), Column("excess loss", "r"), Column("grads to ε", "r")]
    rows = []
    for r in res.runs:
        f = r.final
        rows.append((r.label, r.schedule, _fmt(r.C, ".3g"), str(r.seed), r.status, str(f.iteration),
                     _fmt(f.epoch, ".3g"), str(f.sample_gradients), _fmt(float(f.flops), ".3g"),
                     _fmt(f.time_s, ".3g"), number(f.loss, 6, wide=wide), number(f.excess_loss, 3, wide=wide),
                     _fmt(r.cost_to_reach(res.eps), "d") if res.eps else "—"))
    echo_table(cols, rows, wide=wide)
    for r in res.runs:
        if r.status == "diverged":
            echo_fit(f"{r.label} (seed {r.seed}): {r.message}")
