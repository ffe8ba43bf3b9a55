"""``diffkit train`` (alias ``optimize``): GD vs SGD vs minibatch SGD on any built-in model and data set,
with held-out data, step-size sweeps, plots, and runs spread over processes or a Dask cluster.

Parses options, calls the library (:func:`diffkit.optim.study`, :func:`diffkit.optim.sweep.sweep`),
formats the result; no maths here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import constraints as C_
from ..constraints import shorten
from ..errors import BadInput
from ..optim.problem import SYNTHETIC as _SYNTHETIC
from ..budget import enforce, estimate_study
from .app import (ActsOpt, ForceOpt, MlpLossOpt, SizesOpt, app, emit_json, finite_float, given, option,
                  seed_option)
from .app import parse_seeds as _parse_seeds


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


def _number(option: str, param=None):
    def conv(v: str) -> float:
        f = finite_float(v, f"{option}: {shorten(v)}")
        return f if param is None else C_.check(option, f, param.constraint)
    return conv


def _int(option: str, param=None):
    def conv(v: str) -> int:
        if not v.strip().isdigit():
            raise BadInput(f"{option} expects a positive integer, got {shorten(v)}")
        return int(v) if param is None else C_.check(option, int(v), param.constraint)
    return conv


def parse_seeds(text: str, option: str = "--seeds") -> tuple[int, ...]:
    """The CLI's one seed grammar (:func:`diffkit.cli.app.parse_seeds`)."""
    return _parse_seeds(text, option=option)


def _fmt(v, spec: str = ".4g") -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, spec)


def _check_plot(path: Optional[Path]) -> Optional[Path]:
    if path is None:
        return None
    if path.suffix.lower() not in (".svg", ".png"):
        raise BadInput(f"--plot {str(path)!r}: the file must end in .svg or .png")
    if path.exists() and path.is_dir():
        raise BadInput(f"--plot {str(path)!r} is a folder; give a file name ending in .svg or .png")
    if not path.parent.exists():
        raise BadInput(f"--plot {str(path)!r}: the folder {str(path.parent)!r} does not exist")
    return path


def _refuse_synthetic_options(data, target) -> None:
    """--n, --d, --noise and --condition shape synthetic data; with --data they would be ignored."""
    from ..datasets import canonical

    ignored = [f for f, k in (("--n", "n"), ("--d", "d"), ("--noise", "noise"), ("--condition", "condition"))
               if given(k)]
    if data is not None and ignored and (target is not None or canonical(data) is not None):
        raise BadInput(f"{', '.join(ignored)} describe{'s' if len(ignored) == 1 else ''} synthetic data and "
                       "cannot be used with --data (the data fix n and d)")


@app.command("train")
def train(
    model: Annotated[str, typer.Argument(help="Built-in model: linear-regression, logistic-regression, "
                                              "ridge-sigmoid or mlp.")] = "linear-regression",
    data: Annotated[Optional[str], typer.Option(
        "--data", help="A bundled data set (diabetes, breast-cancer, digits, moons), a CSV file with a header "
                       "row, or a .npy array; default: synthetic data (--n, --d, --noise, --condition).")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="Target column of a CSV (name) or .npy "
                                                                   "(index).")] = None,
    sizes: SizesOpt = None, activations: ActsOpt = None, mlp_loss: MlpLossOpt = None,
    n: Annotated[int, option(C_.N_SAMPLES)] = 1000,
    d: Annotated[int, option(C_.N_FEATURES)] = 10,
    noise: Annotated[float, option(C_.NOISE)] = 0.1,
    condition: Annotated[float, option(C_.CONDITION)] = 1.0,
    data_seed: Annotated[str, seed_option(C_.DATA_SEED, help="Seed of the synthetic (or moons) data.")] = "0",
    val: Annotated[Optional[float], option(
        C_.VAL, help="Fraction held out for validation (recorded during the runs). Default 0.2 with --data, "
                     "0 for synthetic data.")] = None,
    test: Annotated[Optional[float], option(
        C_.TEST, help="Fraction held out for the final test. Default 0.2 with --data, 0 for synthetic data; "
                      "--val + --test < 1.")] = None,
    split_seed: Annotated[str, seed_option(C_.SEED, "--split-seed",
                                           help="Seed of the train/validation/test split.")] = "0",
    standardize: Annotated[Optional[bool], typer.Option(
        "--standardize/--no-standardize",
        help="Scale features to mean 0, std 1 on the training rows. Default: on with --data.")] = None,
    intercept: Annotated[Optional[bool], typer.Option(
        "--intercept/--no-intercept",
        help="linear-regression: append a column of ones (unless the data have a constant column). "
             "Default: on with --data.")] = None,
    methods: Annotated[str, typer.Option("--methods", help="Comma-separated: gd, sgd, minibatch.")] = "gd,sgd,minibatch",
    schedule: Annotated[Optional[str], typer.Option(
        "--schedule",
        help="constant (α=C), c/k (α=C/(k+k0), the lecture's C/k), c/sqrt(k) or bottou (α=C/(1+Cλ(k−1))); one for "
             "all methods or per method (gd=constant,sgd=c/k). Default: constant for gd, c/k otherwise.")] = None,
    C: Annotated[Optional[str], typer.Option(
        "--C", help="Step-size scale, one value or per method (gd=0.5,sgd=0.1). Default (linear, logistic, "
                    "ridge-sigmoid): gd 1/L; sgd and minibatch C = 1/μ with k0 = C·mean‖x‖² − 1, so α₁ = "
                    "1/mean‖x‖² and Cμ = 1 (the O(1/k) condition). mlp: α₁ = 0.5 (gd), 0.02 (sgd), 0.2 "
                    "(minibatch), halved after 10 epochs. Allowed: number > 0, each.")] = None,
    k0: Annotated[Optional[str], typer.Option("--k0", help="Clock offset k0 of c/k and c/sqrt(k), one value or per "
                                                           "method. Default: see --C (0 when --C is given). "
                                                           "Allowed: number ≥ 0, each.")] = None,
    lam: Annotated[float, option(C_.LAM, help="L2 regulariser λ: minimise mean loss + λ·½‖W‖².")] = 0.0,
    epochs: Annotated[Optional[str], typer.Option(
        "--epochs", help="Passes over the data per run, one value or per method. Default: gd 5000, sgd and "
                         "minibatch 50 (mlp: gd 1000). Allowed: 1..10000000, each.")] = None,
    batch: Annotated[int, option(C_.BATCH, help="Minibatch size b (at most the training rows).")] = 32,
    seeds: Annotated[str, seed_option(C_.SEEDS, help="Run seeds.", single=False)] = "0",
    sampling: Annotated[str, typer.Option(
        "--sampling", help="replacement (i.i.d. uniform, the lecture's) or shuffle (permutation per epoch).")] = "replacement",
    gradient: Annotated[str, typer.Option(
        "--gradient", help="auto (engine for mlp, SymPy otherwise), symbolic (SymPy closed form) or engine "
                           "(reverse mode).")] = "auto",
    init: Annotated[Optional[str], typer.Option(
        "--init", help="Initial weights: zeros, glorot or he (seeded by the run seed). Default: he for ReLU "
                       "networks, glorot for other networks, zeros otherwise.")] = None,
    patience: Annotated[int, option(C_.PATIENCE, help="Early stopping: stop when the validation loss has not "
                                                      "improved for this many epochs (0: off).")] = 0,
    eps: Annotated[float, option(C_.EPS, help="Target excess loss F − F* for the 'cost to reach ε' column.")] = 1e-3,
    eps_rel: Annotated[Optional[float], option(
        C_.EPS_REL, help="Relative target (F − F*)/(F(W₀) − F*) instead of --eps.")] = None,
    sweep_points: Annotated[Optional[int], option(
        C_.SWEEP_POINTS, help="Step-size sweep: this many log-spaced C per method, from 0.01× to 10× its default C "
                        "(the sensitivity study; --plot draws it).")] = None,
    best_seeds: Annotated[Optional[str], typer.Option(
        "--best-seeds", help="With --sweep: rerun each method's best C with these seeds (e.g. 0..9).")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", help="Write a figure (.svg or .png): convergence (x-axis from --x), or with --sweep the "
                       "step-size sensitivity.")] = None,
    x: Annotated[str, typer.Option("--x", help="x-axis of the convergence plot: iterations, passes, "
                                               "sample-gradients, flops or seconds.")] = "passes",
    stream: Annotated[bool, typer.Option(
        "--stream", help="Read a .npy or CSV --data from disk a window at a time instead of loading it (data "
                         "larger than memory; linear/logistic regression; no split or scaling).")] = False,
    workers: Annotated[Optional[int], option(C_.WORKERS, help="Run the study's runs in this many local "
                                                              "processes.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Run the study's runs on the Dask scheduler at this address (tcp://host:8786).")] = None,
    timing: Annotated[Optional[bool], typer.Option(
        "--timing/--no-timing",
        help="Measure wall time. On by default for the table; off by default with --json, whose output is then "
             "byte-identical for the same options and seeds (time_s is null). --json --timing adds times.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the study as JSON (stable keys, no progress "
                                                           "bar).")] = False,
    force: ForceOpt = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show every column and every digit (no fitting to the "
                                                      "terminal's width).")] = False,
) -> None:
    """Train a model with full-batch GD, SGD and minibatch SGD; compare cost, convergence and held-out accuracy.

    Minimises F(W) = (1/n) Σ lᵢ(W) + λ·½‖W‖² on the training rows from W₀ (0, or Glorot/He for
    networks). Reports per run: status (converged, max_epochs, early_stopped, diverged — with a hint),
    iterations, passes, sample gradients, flops, time, final and excess loss against F*, and the
    validation/test loss and accuracy. The condition number of the design is printed with the run.

    [bold]Examples[/bold]

      diffkit train --data diabetes

      diffkit train mlp --data digits --sizes 64,32,10 --activations relu,identity --mlp-loss cross-entropy

      diffkit train --data diabetes --sweep 12 --seeds 0..4 --plot sensitivity.svg
    """
    from ..optim import study

    plot = _check_plot(plot)
    if workers is not None and scheduler is not None:
        raise BadInput("give either --workers (local processes) or --scheduler (Dask), not both")
    if best_seeds is not None and sweep_points is None:
        raise BadInput("--best-seeds goes with --sweep")
    executor = scheduler if scheduler is not None else ("processes" if workers is not None else "serial")
    seed_list = tuple(seeds)
    rerun = parse_seeds(best_seeds, "--best-seeds") if best_seeds is not None else None
    _refuse_synthetic_options(data, target)
    method_list = tuple(p.strip() for p in methods.split(",") if p.strip())
    epoch_plan = _per_method(epochs, "--epochs", _int("--epochs", C_.EPOCHS))
    runs = len(seed_list) * (sweep_points or 1) + len(rerun or ())

    def _budget(n_rows: int, d_cols: int, params=None, network=False) -> None:
        enforce(estimate_study(n=n_rows, d=d_cols, params=params, methods=method_list, epochs=epoch_plan,
                               batch=batch, seeds=runs, network=network, what="training"), force=force)

    if data is None:  # synthetic data: refuse before the data are made
        _budget(n, d)
    from ..optim.results import x_axis
    xfield = x_axis(x)
    if stream:
        m, train_data, prep_info, val_ds, test_ds = _streamed(model, data, target, val, test, standardize, intercept)
        _budget(train_data.n, train_data.d, params=len(m.params))
        res = study(m, train_data, C=_per_method(C, "--C", _number("--C", C_.STEP_SCALE)), seeds=seed_list,
                    methods=tuple(p.strip() for p in methods.split(",") if p.strip()),
                    schedule=_per_method(schedule, "--schedule", str), k0=_per_method(k0, "--k0", _number("--k0", C_.K0)),
                    lam=lam, epochs=_per_method(epochs, "--epochs", _int("--epochs", C_.EPOCHS)), batch=batch,
                    sampling=sampling, gradient=gradient, eps=None if eps_rel is not None else eps, eps_rel=eps_rel,
                    timing=(not json_out) if timing is None else timing, init=init, heldout=prep_info,
                    executor=executor, workers=workers, progress=not json_out)
        if plot is not None:
            from ..report.study import convergence_figure, save_figure
            save_figure(convergence_figure(res, x=xfield), plot)
        if json_out:
            emit_json(res.to_dict(), "train")
        else:
            _table(res, plot, wide=wide)
        return
    from ..optim.problem import problem
    m, prep = problem(model, data, target, sizes=sizes, activations=activations, mlp_loss=mlp_loss, n=n, d=d,
                      noise=noise, condition=condition, data_seed=data_seed, val=val, test=test,
                      split_seed=split_seed, standardize=standardize, intercept=intercept)
    _budget(prep.train.n, prep.train.d, params=len(m.params), network=m.spec.get("kind") == "mlp")
    kwargs = dict(methods=tuple(p.strip() for p in methods.split(",") if p.strip()),
                  schedule=_per_method(schedule, "--schedule", str), k0=_per_method(k0, "--k0", _number("--k0", C_.K0)),
                  lam=lam, epochs=_per_method(epochs, "--epochs", _int("--epochs", C_.EPOCHS)), batch=batch,
                  sampling=sampling, gradient=gradient, eps=None if eps_rel is not None else eps, eps_rel=eps_rel,
                  timing=(not json_out) if timing is None else timing, val=prep.val, test=prep.test,
                  patience=patience, init=init, heldout=prep.to_dict(), executor=executor, workers=workers,
                  progress=not json_out)
    if sweep_points is not None:
        if C is not None:
            raise BadInput("--sweep chooses C itself; drop --C")
        from ..optim.sweep import sweep
        res = sweep(m, prep.train, points=sweep_points, seeds=seed_list, rerun_seeds=rerun, **kwargs)
        if plot is not None:
            from ..report.study import save_figure, sensitivity_figure
            save_figure(sensitivity_figure(res), plot)
        if json_out:
            emit_json(res.to_dict(), "sweep")
            return
        _sweep_table(res, plot, wide=wide)
        return
    res = study(m, prep.train, C=_per_method(C, "--C", _number("--C", C_.STEP_SCALE)), seeds=seed_list, **kwargs)
    if plot is not None:
        from ..report.study import convergence_figure, save_figure
        save_figure(convergence_figure(res, x=xfield), plot)
    if json_out:
        emit_json(res.to_dict(), "train")
        return
    _table(res, plot, wide=wide)


@app.command("profile")
def profile_cmd(
    eps_rel: Annotated[float, option(C_.EPS_REL, help="Target relative excess loss (F − F*)/(F(W₀) − F*) "
                                                      "each method must reach.")] = 1e-2,
    seeds: Annotated[str, seed_option(C_.SEEDS, help="Run seeds per method and problem.", single=False)] = "0,1,2",
    methods: Annotated[str, typer.Option("--methods", help="Comma-separated: gd, sgd, minibatch.")] = "gd,sgd,minibatch",
    problems: Annotated[Optional[str], typer.Option(
        "--problems", help="Comma-separated subset of the built-in problems (default: all): diabetes, "
                           "breast-cancer, moons, digits.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write the profile as .svg or .png.")] = None,
    workers: Annotated[Optional[int], option(C_.WORKERS, help="Local processes for the runs.")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address for the "
                                                                         "runs.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
    force: ForceOpt = False,
) -> None:
    """Performance profile of GD, SGD and minibatch SGD across the built-in problems (AlgoPerf-style).

    Each problem (diabetes least squares, breast-cancer logistic regression with λ = 0.01, a moons
    2-16-1 network, a digits 64-32-10 network) is trained with the defaults on its standardised
    training split. A method's cost on a problem is the median over seeds of the sample gradients it
    needs to reach the relative target (a method solves a problem when most seeds reach it); ρ(τ) is
    the fraction of problems it solves within τ × the cheapest method's cost.
    """
    from ..optim.sweep import builtin_problems, performance_profile

    plot = _check_plot(plot)
    if workers is not None and scheduler is not None:
        raise BadInput("give either --workers (local processes) or --scheduler (Dask), not both")
    executor = scheduler if scheduler is not None else ("processes" if workers is not None else "serial")
    table = builtin_problems()
    chosen = None
    if problems is not None:
        chosen = []
        for word in (p.strip() for p in problems.split(",") if p.strip()):
            hit = [k for k in table if k.split(" ")[0] == word]
            if not hit:
                raise BadInput(f"unknown problem {word!r}; choose from {', '.join(k.split(' ')[0] for k in table)}")
            chosen += hit
    if eps_rel <= 0 or eps_rel >= 1 or eps_rel != eps_rel:
        raise BadInput(f"--eps-rel must be in (0, 1), got {eps_rel!r}")
    from ..budget import PROFILE_BUDGET_S, estimate_profile
    n_methods = len([m for m in methods.split(",") if m.strip()])
    enforce(estimate_profile(chosen, len(seeds), n_methods), force=force, budget_s=PROFILE_BUDGET_S)
    prof, studies = performance_profile(eps_rel=eps_rel, seeds=tuple(seeds), problems=chosen,
                                        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
                                        executor=executor, workers=workers, progress=not json_out)
    if plot is not None:
        from ..report.study import profile_figure, save_figure
        save_figure(profile_figure(prof), plot)
    if json_out:
        emit_json(prof.to_dict(), "profile")
        return
    from .tables import Table, _console  # fitted to the terminal (diffkit.cli.tables)
    console = _console()
    console.print(f"sample gradients to reach relative excess loss {eps_rel:g} (median over seeds; — = not reached)")
    t = Table(show_edge=False)
    t.add_column("problem")
    for m in prof.methods:
        t.add_column(m, justify="right")
    for pname, row in prof.costs.items():
        t.add_row(pname, *[_fmt(row.get(m), ".4g") for m in prof.methods])
    console.print(t)
    solved = {m: prof.rho[m][-1] for m in prof.methods}
    console.print("solved within any τ: " + ", ".join(f"{m} {v:.0%}" for m, v in solved.items()))
    if plot is not None:
        console.print(f"figure written to {plot}")


def _streamed(model, data, target, val, test, standardize, intercept):
    from .. import builtin
    from ..optim.stream import open_npy, stream_csv

    if data is None or target is None:
        raise BadInput("--stream needs --data FILE (.npy or .csv) and --target")
    if model not in _SYNTHETIC:
        raise BadInput(f"--stream trains linear-regression or logistic-regression, not {model!r}")
    for flag, v in (("--val", val), ("--test", test)):
        if v not in (None, 0, 0.0):
            raise BadInput(f"{flag} does not apply with --stream: streamed data are not split")
    if standardize or intercept:
        raise BadInput("--standardize/--intercept do not apply with --stream: streamed data are used as they are")
    fd = open_npy(data, target=target) if str(data).endswith(".npy") else stream_csv(data, target=target)
    return builtin(model, d=fd.d), fd, {}, None, None


app.command("optimize", help="Alias of [bold]diffkit train[/bold] (same options).")(train)


def _table(res, plot, *, wide: bool = False) -> None:
    """The runs as a table that fits the terminal (diffkit.cli.tables); ``wide``: every column."""
    from .tables import Column, echo_fit, echo_table, number

    echo_fit(f"{res.model} on {res.data}: n = {res.n}, d = {res.d}")
    h = res.heldout
    if h:
        echo_fit(f"held out: {h['train']} train / {h['val']} validation / {h['test']} test rows "
                 f"(split seed {h['seed']}); features {'standardised' if h['standardized'] else 'as given'}"
                 + ("; intercept column added" if h.get("intercept_added") else ""))
    kappa = res.condition_number
    if kappa is not None:
        echo_fit(f"condition number κ(AᵀA/n) = {kappa:.4g}")
    target = (f"ε_rel = {res.eps_rel:g} (relative excess loss)" if res.eps_rel is not None
              else f"ε = {res.eps:g}" if res.eps is not None else "no target")
    echo_fit(f"optimum F* = {res.optimum_loss:.10g} ({res.optimum_method}); {target}")
    classify = res.task == "classification"
    # optional: higher numbers are left out first when the terminal is too narrow
    cols = [Column("method"), Column("schedule", optional=4), Column("C", "r", optional=3), Column("seed", "r"),
            Column("status"), Column("iterations", "r", optional=5), Column("epochs", "r"),
            Column("sample grads", "r"), Column("flops", "r", optional=6), Column("time s", "r", optional=7),
            Column("final loss", "r", optional=2), Column("excess loss", "r"), Column("grads to ε", "r", optional=1)]
    if h and h.get("val"):
        cols.append(Column("val loss", "r"))
    if classify:
        cols += [Column("train acc", "r", optional=1)] + ([Column("test acc", "r")] if h and h.get("test") else [])
    rows = []
    for r in res.runs:
        f = r.final
        reach = r.cost_to_reach(res.eps_rel, relative=True) if res.eps_rel is not None else \
            r.cost_to_reach(res.eps) if res.eps else None
        row = [r.label, r.schedule, _fmt(r.C, ".3g"), str(r.seed), r.status, str(f.iteration),
               _fmt(f.epoch, ".3g"), str(f.sample_gradients), _fmt(float(f.flops), ".3g"),
               _fmt(f.time_s, ".3g"), number(f.loss, 6, wide=wide), number(f.excess_loss, 3, wide=wide),
               _fmt(reach, "d")]
        if h and h.get("val"):
            row.append(number(f.val_loss, 4, wide=wide))
        if classify:
            row.append(_fmt(r.train_accuracy, ".3f"))
            if h and h.get("test"):
                row.append(_fmt(r.test_accuracy, ".3f"))
        rows.append(row)
    echo_table(cols, rows, wide=wide)
    for r in res.runs:
        if r.status in ("diverged", "early_stopped"):
            echo_fit(f"{r.label} (seed {r.seed}): {r.message}" + (f" — hint: {r.hint}" if r.hint else ""))
    if res.wall_s is not None and res.executor != "serial":
        echo_fit(f"wall time {res.wall_s:.3g} s on {res.executor}")
    if plot is not None:
        echo_fit(f"figure written to {plot}")


def _sweep_table(res, plot, *, wide: bool = False) -> None:
    from .tables import Column, echo_fit, echo_table, number

    echo_fit(f"step-size sweep: {res.model} on {res.data}; C from {res.span[0]:g}× to {res.span[1]:g}× "
             "each method's default; F* = " + f"{res.optimum_loss:.10g}")
    cols = [Column("method"), Column("C", "r"), Column("× default", "r", optional=2),
            Column("median final loss", "r"), Column("min", "r", optional=3), Column("max", "r", optional=3),
            Column("median best loss", "r", optional=1), Column("diverged", "r")]
    rows = []
    for m, pts in res.by_method().items():
        for q in pts:
            st, bt = q.stats("final"), q.stats("best")
            mark = " ←" if res.best_C.get(m) == q.C else ""
            rows.append((res.labels.get(m, m) + mark, _fmt(q.C, ".3g"), _fmt(q.C / res.default_C[m], ".3g"),
                         number(st["median"], 6, wide=wide), number(st["min"], 6, wide=wide),
                         number(st["max"], 6, wide=wide), number(bt["median"], 6, wide=wide),
                         f"{q.diverged}/{len(q.seeds)}"))
    echo_table(cols, rows, wide=wide)
    echo_fit("best C: " + ", ".join(f"{m} {_fmt(c, '.3g')}" for m, c in res.best_C.items()))
    if res.rerun is not None:
        _table(res.rerun, None, wide=wide)
    if plot is not None:
        echo_fit(f"figure written to {plot}")
