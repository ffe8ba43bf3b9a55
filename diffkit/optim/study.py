"""The one entry point of the optimisers: :func:`study` runs methods × seeds on one model and data.

The CLI (``diffkit optimize``) and the report both call :func:`study` and only read the
:class:`~diffkit.optim.results.StudyResult` it returns.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Mapping, Sequence

import numpy as np

from ..errors import BadInput
from ..model import Model
from .config import METHODS, RunConfig, Schedule, schedule_name
from .data import Dataset, bind
from .gradients import GradientSource, Objective, SymbolicGradient
from .optimum import solve_optimum
from .results import HistoryPoint, RunResult, StudyResult

#: Gradient sources :func:`study` accepts.
GRADIENTS: tuple[str, ...] = ("symbolic", "engine")

#: Schedules used when none is given: GD's classical constant step 1/L, the lecture's C/k for SGD.
DEFAULT_SCHEDULE: dict[str, str] = {"gd": "constant", "sgd": "c/k", "minibatch": "c/k"}

#: Work shorter than this (seconds) shows no progress bar.
PROGRESS_AFTER_S = 2.0


def make_source(model: Model, data: Dataset, gradient: str = "symbolic") -> GradientSource:
    """The gradient source called ``gradient`` for ``model`` on ``data``."""
    if gradient == "symbolic":
        return SymbolicGradient(model, data)
    if gradient == "engine":
        from .engine_source import EngineGradient
        return EngineGradient(model, data)
    raise BadInput(f"unknown gradient source {gradient!r}; choose {' or '.join(GRADIENTS)}")


def default_C(source: SymbolicGradient, lam: float, method: str) -> float:
    """The step-size scale used when none is given: 1/L for GD, 1/μ (capped) for SGD and minibatch.

    For least squares (c = 1) and logistic regression (c = ¼, the bound on σ′), with design
    matrix A: GD uses 1/(c·λ_max(AᵀA/n) + λ), the classical safe step.  SGD and minibatch use the
    lecture's α_k = C/k with C = 1/μ, μ = c·λ_min(AᵀA/n) + λ: C/k reaches the O(1/k) rate only
    when C·μ > 1/2 (Bottou, Curtis & Nocedal 2018, Thm 4.7), and 1/mean‖aᵢ‖² — the "stable first
    step" — gives C·μ ≈ 1/d, where SGD stalls.  C is capped at 10/(c·mean‖aᵢ‖² + λ) to bound the
    transient of the first, too-large steps on ill-conditioned data (there C·μ < 1/2 and C/k is
    slow: the schedule's known weakness, which the study then shows).  Other models have no such
    bound: BadInput asks for C.
    """
    kind = source.model.spec.get("kind")
    if source.form != "matrix" or kind not in ("linear-regression", "logistic-regression"):
        raise BadInput(f"no default step size for model {source.model.name!r}; give C (--C)")
    A, c = source.design, 1.0 if kind == "linear-regression" else 0.25
    eig = np.linalg.eigvalsh(A.T @ A / A.shape[0])
    if method == "gd":
        return 1.0 / (c * float(eig[-1]) + lam)
    mu = c * float(eig[0]) + lam
    cap = 10.0 / (c * float(np.einsum("ij,ij->", A, A) / A.shape[0]) + lam)
    return min(1.0 / mu, cap) if mu > 0 else cap


class _LazyProgress:
    """A rich progress bar on stderr that appears only once the work has taken > 2 s."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.done = total, enabled, 0
        self.start, self.bar, self.task = time.perf_counter(), None, None

    def __call__(self, steps: int) -> None:
        self.done += steps
        if not self.enabled:
            return
        if self.bar is None and time.perf_counter() - self.start > PROGRESS_AFTER_S:
            from rich.console import Console
            from rich.progress import Progress
            self.bar = Progress(console=Console(file=sys.stderr), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("optimising", total=self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def study(model: Model, data: Dataset, *, methods: Sequence[str] = METHODS,
          schedule: str | Mapping[str, str] | None = None,
          C: float | Mapping[str, float] | None = None, lam: float = 0.0, epochs: int = 10,
          batch: int = 32, seeds: Sequence[int] = (0,), sampling: str = "replacement",
          gradient: str = "symbolic", eps: float | None = None, timing: bool = True,
          gtol: float = 1e-10, history_points: int = 40, fast: bool = True,
          progress: bool = False) -> StudyResult:
    """Run every method with every seed on ``model`` and ``data``; measure against the optimum.

    Parameters
    ----------
    model : Model
        E.g. ``builtin("linear-regression", d=data.d)``.
    data : Dataset
        From :func:`~diffkit.optim.make_data` or :func:`~diffkit.optim.load_csv`.
    methods : sequence of {"gd", "sgd", "minibatch"}
        Which optimisers, in order.
    schedule : {"constant", "c/k", "c/sqrt(k)", "bottou"}, mapping of method to one, or None
        Step sizes (see :data:`~diffkit.optim.config.SCHEDULES`); ``bottou`` uses λ = ``lam``.
        A mapping gives each method its own; None (the default) means "constant" for GD and the
        lecture's "c/k" for SGD and minibatch (also for methods a mapping omits).
    C : float, mapping of method to float, or None
        Step-size scale; None picks :func:`default_C` per method.
    lam : float, default 0
        Regulariser strength λ in F(W) = mean loss + λ·½‖W‖².
    epochs, batch : int
        Budget in passes over the data; minibatch size.
    seeds : sequence of int
        One run per method and seed; seed s drives all sampling of that run.
    sampling : {"replacement", "shuffle"}
        How SGD and minibatch choose samples.
    gradient : {"symbolic", "engine"}
        Where gradients come from.
    eps : float, optional
        Target excess loss for "cost to reach ε" (kept in the result for reports).
    timing : bool, default True
        Measure wall time (False: ``time_s`` None, output reproducible byte for byte).
    gtol, history_points, fast
        See :class:`~diffkit.optim.config.RunConfig`.
    progress : bool, default False
        Show a progress bar on stderr when the work takes more than ~2 s.

    Returns
    -------
    StudyResult

    Examples
    --------
    >>> from diffkit import builtin
    >>> from diffkit.optim import make_data
    >>> ds = make_data(n=200, d=3, noise=0.1, seed=0)
    >>> res = study(builtin("linear-regression", d=3), ds, methods=("gd", "sgd"), epochs=50,
    ...             seeds=(0,), timing=False)
    >>> [(r.method, r.status) for r in res.runs]
    [('gd', 'converged'), ('sgd', 'max_epochs')]
    >>> res.runs[0].final.excess_loss < 1e-12
    True
    """
    if isinstance(methods, str):
        methods = tuple(m.strip() for m in methods.split(",") if m.strip())
    methods = tuple(methods)
    if not methods:
        raise BadInput("give at least one method (gd, sgd, minibatch)")
    for m in methods:
        if m not in METHODS:
            raise BadInput(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    if len(set(methods)) != len(methods):
        raise BadInput(f"a method is listed twice in {', '.join(methods)}")
    seeds = tuple(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise BadInput(f"seeds must be non-negative integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise BadInput(f"a seed is listed twice in {seeds!r}")
    if eps is not None and not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise BadInput(f"eps must be a number > 0, got {eps!r}")
    if isinstance(schedule, Mapping):
        unknown = sorted(set(schedule) - set(methods))
        if unknown:
            raise BadInput(f"schedule given for {unknown[0]!r}, which is not among the methods {', '.join(methods)}")
        kinds = {m: schedule_name(schedule.get(m, DEFAULT_SCHEDULE[m])) for m in methods}
    elif schedule is None:
        kinds = {m: DEFAULT_SCHEDULE[m] for m in methods}
    else:
        kinds = dict.fromkeys(methods, schedule_name(schedule))
    if isinstance(C, Mapping):
        unknown = sorted(set(C) - set(methods))
        if unknown:
            raise BadInput(f"C given for {unknown[0]!r}, which is not among the methods {', '.join(methods)}")
    data = bind(model, data)
    reference = SymbolicGradient(model, data)
    source = reference if gradient == "symbolic" else make_source(model, data, gradient)
    objective = Objective(reference, lam)
    configs = []
    for m in methods:
        c = C.get(m) if isinstance(C, Mapping) else C
        c = default_C(reference, float(lam), m) if c is None else c
        configs.append(RunConfig(m, Schedule(kinds[m], C=c, lam=lam), epochs=epochs, batch=batch,
                                 sampling=sampling, lam=lam, gtol=gtol, history_points=history_points,
                                 timing=timing, fast=fast))
    optimum = solve_optimum(objective)
    f_star = optimum.loss if optimum is not None else float("nan")
    names = tuple(model.wrt)
    total = sum(cfg.epochs * (1 if cfg.method == "gd" else -(-data.n // cfg.effective_batch(data.n)))
                for cfg in configs) * len(seeds)
    bar = _LazyProgress(total, progress)
    try:
        runs = [run_one(source, objective, cfg, seed=s, optimum_loss=f_star, param_names=names, progress=bar)
                for cfg in configs for s in seeds]
    finally:
        bar.close()
    how = optimum.method if optimum is not None else "best-seen"
    params = optimum.params if optimum is not None else None
    if optimum is None:
        seen = [h.loss for r in runs for h in r.history if math.isfinite(h.loss)]
        f_star = min(seen) if seen else float("nan")
        runs = [_with_excess(r, f_star) for r in runs]
    config = {"methods": list(methods), "schedule": {c.method: c.schedule.kind for c in configs}, "C": {c.method: c.schedule.C for c in configs},
              "lam": float(lam), "epochs": int(epochs), "batch": int(batch), "seeds": [int(s) for s in seeds],
              "sampling": sampling, "gradient": gradient, "gtol": float(gtol), "timing": bool(timing),
              "gradient_form": reference.form}
    return StudyResult(model=model.name, n=data.n, d=data.d, data=data.source, param_names=names,
                       optimum_loss=f_star, optimum_params=params, optimum_method=how,
                       runs=tuple(runs), eps=eps, config=config)


def _with_excess(r: RunResult, f_star: float) -> RunResult:
    hist = tuple(dataclasses.replace(h, excess_loss=h.loss - f_star) for h in r.history)
    return dataclasses.replace(r, history=hist)


# The runner is imported under another name so ``study.run_one`` is easy to find and patch.
from .runner import run as run_one  # noqa: E402
