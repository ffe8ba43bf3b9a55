"""The one entry point of the optimisers: :func:`study` runs methods × seeds on one model and data.

The CLI (``diffkit optimize``) and the report both call :func:`study` and only read the
:class:`~diffkit.optim.results.StudyResult` it returns.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Mapping, Sequence

import numpy as np

from .. import constraints as C_
from ..constraints import validate_params
from ..errors import BadInput
from ..model import Model
from .config import METHODS, RunConfig, Schedule, schedule_name
from .data import Dataset, bind
from .gradients import GradientSource, Objective, SymbolicGradient
from .optimum import solve_optimum
from .results import RunResult, StudyResult

#: Gradient sources :func:`study` accepts ("auto": the engine for networks, SymPy otherwise).
GRADIENTS: tuple[str, ...] = ("auto", "symbolic", "engine")

#: Schedules used when none is given: GD's classical constant step 1/L, the lecture's C/k for SGD.
DEFAULT_SCHEDULE: dict[str, str] = {"gd": "constant", "sgd": "c/k", "minibatch": "c/k"}

#: Budgets (epochs) used when none is given.  A GD epoch is one iteration, so GD gets more of
#: them: 5000 reach 1e-6 relative excess loss at a condition number of a few hundred (κ·ln 10⁶).
DEFAULT_EPOCHS: dict[str, int] = {"gd": 5000, "sgd": 50, "minibatch": 50}

#: Networks: GD's full-batch steps cost a whole pass each and reach no closed-form optimum.
NETWORK_EPOCHS: dict[str, int] = {"gd": 1000, "sgd": 50, "minibatch": 50}

#: Networks have no μ or L to derive a step from: these first steps α₁ (decaying as C/(k + k₀)
#: with k₀ = 10 epochs of steps) train the bundled classifiers on standardised features.
NETWORK_FIRST_STEP: dict[str, float] = {"gd": 0.5, "sgd": 0.02, "minibatch": 0.2}


def make_source(model: Model, data: Dataset, gradient: str = "symbolic") -> GradientSource:
    """The gradient source called ``gradient`` for ``model`` on ``data``."""
    return build_sources(model, data, gradient)[0]


def build_sources(model: Model, data: Dataset, gradient: str = "auto"):
    """(source the runs take gradients from, reference that measures F) for ``model`` on ``data``.

    For networks (``mlp``) the engine source is its own reference; with ``gradient="symbolic"``
    a small single-output net uses its SymPy per-sample gradient for both.  Other models are
    measured with the SymPy closed form whichever source gives the gradients.
    """
    if gradient not in GRADIENTS:
        raise BadInput(f"unknown gradient source {gradient!r}; choose {', '.join(GRADIENTS)}")
    from .stream import FileData, StreamingGradient
    if isinstance(data, FileData):
        if gradient == "engine":
            raise BadInput("streamed data use the symbolic matrix-form gradient; drop --gradient engine")
        src = StreamingGradient(model, data)
        return src, src
    if model.spec.get("kind") == "mlp":
        from .network import NetworkGradient, check_network_data
        check_network_data(model, data)
        if gradient == "symbolic":
            if model.loss is None or model.spec["sizes"][-1] != 1:
                raise BadInput("the symbolic gradient trains only small single-output networks (≤ 64 parameters, "
                               "one output); use --gradient engine")
            src = SymbolicGradient(model, data)
            return src, src
        src = NetworkGradient(model, data)
        return src, src
    reference = SymbolicGradient(model, data)
    if gradient in ("auto", "symbolic"):
        return reference, reference
    from .engine_source import EngineGradient
    return EngineGradient(model, data), reference


def _curvature_scale(source) -> tuple[np.ndarray, float] | None:
    """(Gram matrix AᵀA/n of the design A, bound c on the loss's second derivative in the linear
    score) when the model has a linear score, else None."""
    kind = source.model.spec.get("kind") or source.model.source
    if getattr(source, "streamed", False):
        return source.gram()[0], 1.0 if kind == "linear-regression" else 0.25
    if getattr(source, "form", None) == "matrix" and kind in ("linear-regression", "logistic-regression"):
        A = source.design
        return A.T @ A / A.shape[0], 1.0 if kind == "linear-regression" else 0.25
    if kind == "ridge-sigmoid":
        x = source.data.X[:, 0]
        A = np.column_stack([x, np.ones_like(x)])
        return A.T @ A / A.shape[0], 0.25
    return None


def condition_number(source) -> float | None:
    """κ = λ_max/λ_min of AᵀA/n for the design A of a linear score (inf when singular), else None."""
    cs = _curvature_scale(source)
    if cs is None:
        return None
    ev = np.linalg.eigvalsh(cs[0])
    return float(ev[-1] / ev[0]) if ev[0] > 0 else float("inf")


def default_schedule(source, lam: float, method: str, *, steps_per_epoch: int = 1) -> tuple[float, float]:
    """(C, k₀) used when no step size is given.

    For least squares (c = 1), logistic regression and the ridge-sigmoid neuron (c = ¼, the bound
    on σ′), with design matrix A (a bias is a column of ones):

    * GD: the classical safe constant step C = 1/L, L = c·λ_max(AᵀA/n) + λ.
    * SGD and minibatch, α_k = C/(k + k₀): C = 1/μ with μ = c·λ_min(AᵀA/n) + λ, so Cμ = 1 > ½ —
      the condition for the O(1/k) rate (Bottou, Curtis & Nocedal 2018, Thm 4.7, α_k = β/(γ + k));
      and k₀ = C·s − 1 with s = c·mean‖aᵢ‖² + λ, so the first step is α₁ = 1/s, the "stable first
      step" of a single sample.  Without k₀, C = 1/μ on ill-conditioned data makes the first steps
      C·‖aᵢ‖² ≫ 2 and SGD blows up; with C capped instead, Cμ ≪ ½ and C/k stalls.
      With μ = 0 (a singular design) and for the non-convex neuron, α₁ = 1/s decaying after 10
      steps (C = 10/s, k₀ = 9).
    * Networks (mlp): α₁ from :data:`NETWORK_FIRST_STEP`, halved after 10 epochs (k₀ = 10 epochs of
      steps); no curvature bound exists for them.

    Other models have no such bound: BadInput asks for C.
    """
    cs = _curvature_scale(source)
    if cs is None:
        if source.model.spec.get("kind") == "mlp":
            a1 = NETWORK_FIRST_STEP[method]
            if method == "gd":
                return a1, 0.0
            k0 = 10.0 * steps_per_epoch
            return a1 * (k0 + 1.0), k0
        raise BadInput(f"no default step size for model {source.model.name!r}; give C (--C)")
    G, c = cs
    neuron = source.model.source == "ridge-sigmoid"
    extra = 2.0 * float(source.model.defaults.get("lam", 0.0)) if neuron else 0.0
    eig = np.linalg.eigvalsh(G)
    if method == "gd":
        return 1.0 / (c * float(eig[-1]) + lam + extra), 0.0
    mu = c * max(float(eig[0]), 0.0) + lam + extra
    s = c * float(np.trace(G)) + lam + extra  # trace(AᵀA/n) = mean‖aᵢ‖²
    if mu <= 0 or neuron:
        return 10.0 / s, 9.0
    C = 1.0 / mu
    return C, max(C * s - 1.0, 0.0)


def default_C(source, lam: float, method: str) -> float:
    """The step-size scale C of :func:`default_schedule` (kept for callers that only want C)."""
    return default_schedule(source, lam, method)[0]


def divergence_hint(run: RunResult, *, kappa: float | None, standardized: bool | None) -> str:
    """One line on what to change after a diverged run."""
    parts = [f"lower the step size, e.g. --C {run.method}={run.C / 10:.3g} (it was {run.C:.3g})"]
    if run.schedule == "constant" and run.method != "gd":
        parts.append("or use a decaying schedule (--schedule c/k)")
    if kappa is not None and kappa > 1e3 and not standardized:
        parts.append(f"or standardise the features (--standardize): the condition number is {kappa:.3g}")
    return "; ".join(parts)


@dataclasses.dataclass
class Plan:
    """Everything a study's runs share, built once (see :func:`plan`); sweeps reuse it."""

    model: Model
    data: Dataset
    setup: Setup
    source: object
    reference: object
    objective: Objective
    methods: tuple[str, ...]
    kinds: dict
    Cs: dict
    k0s: dict
    epochs: dict
    kwargs: dict
    kappa: float | None
    optimum: object
    heldout: dict

    def config(self, method: str, *, C: float | None = None) -> RunConfig:
        """The RunConfig of ``method`` (with step-size scale ``C`` instead of the planned one)."""
        kw = self.kwargs
        c = self.Cs[method] if C is None else C
        return RunConfig(method, Schedule(self.kinds[method], C=c, lam=kw["lam"], k0=self.k0s[method]),
                         epochs=self.epochs[method], batch=kw["batch"], sampling=kw["sampling"], lam=kw["lam"],
                         gtol=kw["gtol"], history_points=kw["history_points"], timing=kw["timing"],
                         fast=kw["fast"], init=kw["init"], patience=kw["patience"])

    def steps(self, cfg: RunConfig) -> int:
        return cfg.epochs * (1 if cfg.method == "gd" else -(-self.data.n // cfg.effective_batch(self.data.n)))


def _per_method(value, methods, what, convert):
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(methods))
        if unknown:
            raise BadInput(f"{what} given for {unknown[0]!r}, which is not among the methods {', '.join(methods)}")
        return {m: (convert(value[m]) if value.get(m) is not None else None) for m in methods}
    return dict.fromkeys(methods, None if value is None else convert(value))


def plan(model: Model, data: Dataset, *, methods: Sequence[str] = METHODS,
         schedule: str | Mapping[str, str] | None = None, C: float | Mapping[str, float] | None = None,
         k0: float | Mapping[str, float] | None = None, lam: float = 0.0,
         epochs: int | Mapping[str, int] | None = None, batch: int = 32, sampling: str = "replacement",
         gradient: str = "auto", timing: bool = True, gtol: float = 1e-10, history_points: int = 40,
         fast: bool = True, val: Dataset | None = None, test: Dataset | None = None, patience: int = 0,
         init: str | None = None, heldout: Mapping | None = None) -> Plan:
    """Validate a study's settings and build what its runs share (sources, F*, step sizes)."""
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
    if gradient not in GRADIENTS:
        raise BadInput(f"unknown gradient source {gradient!r}; choose {', '.join(GRADIENTS)}")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise BadInput(f"batch size must be a positive integer, got {batch!r}")
    if "minibatch" in methods and batch > data.n:
        raise BadInput(f"the minibatch size {batch} is larger than the {data.n} training rows; use --batch ≤ {data.n}")
    if patience and val is None:
        raise BadInput("early stopping (--patience) needs a validation set (--val > 0)")
    kinds = {m: schedule_name(v) if v is not None else DEFAULT_SCHEDULE[m]
             for m, v in _per_method(schedule, methods, "schedule", str).items()}
    Cs = _per_method(C, methods, "C", float)
    k0s = _per_method(k0, methods, "k0", float)
    ep = _per_method(epochs, methods, "epochs", lambda v: v)
    table = NETWORK_EPOCHS if model.spec.get("kind") == "mlp" else DEFAULT_EPOCHS
    ep = {m: table[m] if v is None else v for m, v in ep.items()}
    from .network import default_init
    init = default_init(model) if init is None else init
    if model.spec.get("kind") != "mlp":
        data = bind(model, data)
    source, reference = build_sources(model, data, gradient)
    from .stream import FileData
    if isinstance(data, FileData) and (val is not None or test is not None):
        raise BadInput("streamed data are not split; use --val 0 --test 0 (hold out data in a file of its own)")
    for extra, what in ((val, "validation"), (test, "test")):
        if extra is not None and extra.d != data.d:
            raise BadInput(f"the {what} set has {extra.d} columns but the training set {data.d}")
    objective = Objective(reference, lam, val=val, test=test)
    optimum = solve_optimum(objective) if getattr(reference, "form", "") == "matrix" else None
    f_star = optimum.loss if optimum is not None else float("nan")
    kappa = condition_number(reference)
    defaults_needed = [m for m in methods if Cs[m] is None]
    for m in methods:
        spe = 1 if m == "gd" else -(-data.n // (1 if m == "sgd" else min(batch, data.n)))
        if Cs[m] is None:
            c, k = default_schedule(reference, float(lam), m, steps_per_epoch=spe)
            Cs[m] = c
            if k0s[m] is None and kinds[m] != "constant":
                k0s[m] = k
        if k0s[m] is None:
            k0s[m] = 0.0
    del defaults_needed
    from .parallel import Setup, model_recipe, register
    setup = Setup(model_recipe(model), data, val, test, gradient, float(lam), f_star, tuple(model.wrt))
    register(setup, source, objective)
    kwargs = dict(lam=lam, batch=batch, sampling=sampling, gtol=gtol, history_points=history_points,
                  timing=timing, fast=fast, init=init, patience=patience, gradient=gradient)
    p = Plan(model, data, setup, source, reference, objective, methods, kinds, Cs, k0s, ep, kwargs, kappa,
             optimum, dict(heldout or {}))
    for m in methods:
        p.config(m)  # validate every setting before any work
    return p


def finish(p: Plan, runs: Sequence[RunResult], *, eps: float | None, eps_rel: float | None,
           wall_s: float | None, executor: str, configs: Sequence[RunConfig] | None = None) -> StudyResult:
    """The StudyResult of ``runs`` made under plan ``p`` (F* from the runs when there is no closed form)."""
    optimum = p.optimum
    f_star = optimum.loss if optimum is not None else float("nan")
    how = optimum.method if optimum is not None else "best-seen"
    params = optimum.params if optimum is not None else None
    runs = list(runs)
    if optimum is None:
        seen = [h.loss for r in runs for h in r.history if math.isfinite(h.loss)]
        f_star = min(seen) if seen else float("nan")
        runs = [_with_excess(r, f_star) for r in runs]
    std = p.heldout.get("standardized")
    runs = [dataclasses.replace(r, hint=divergence_hint(r, kappa=p.kappa, standardized=std))
            if r.status == "diverged" else r for r in runs]
    kw = p.kwargs
    configs = list(configs) if configs is not None else [p.config(m) for m in p.methods]
    config = {"methods": list(p.methods), "schedule": {m: p.kinds[m] for m in p.methods},
              "C": {m: p.Cs[m] for m in p.methods}, "k0": {m: p.k0s[m] for m in p.methods},
              "epochs": {m: p.epochs[m] for m in p.methods},
              "lam": float(kw["lam"]), "batch": int(kw["batch"]),
              "seeds": sorted({int(r.seed) for r in runs}), "sampling": kw["sampling"],
              "gradient": kw["gradient"], "gtol": float(kw["gtol"]), "timing": bool(kw["timing"]),
              "gradient_form": getattr(p.reference, "form", "network"), "init": kw["init"],
              "patience": int(kw["patience"])}
    task = "classification" if p.data.labels is not None else "regression"
    return StudyResult(model=p.model.name, n=p.data.n, d=p.data.d, data=p.data.source, param_names=tuple(p.model.wrt),
                       optimum_loss=f_star, optimum_params=params, optimum_method=how, runs=tuple(runs), eps=eps,
                       config=config, eps_rel=eps_rel, condition_number=p.kappa, heldout=dict(p.heldout),
                       task=task, wall_s=wall_s, executor=executor)


def _check_seeds(seeds) -> tuple[int, ...]:
    seeds = tuple(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise BadInput(f"seeds must be non-negative integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise BadInput(f"a seed is listed twice in {seeds!r}")
    return tuple(int(s) for s in seeds)


def _check_eps(eps, what: str) -> None:
    if eps is not None and not (isinstance(eps, (int, float)) and not isinstance(eps, bool)
                                and math.isfinite(eps) and eps > 0):
        raise BadInput(f"{what} must be a number > 0, got {eps!r}")


@validate_params(model=C_.MODEL, data=C_.DATASET, lam=C_.LAM, batch=C_.BATCH, seeds=C_.SEEDS,
                 eps=C_.EPS, eps_rel=C_.EPS_REL, workers=C_.WORKERS)
def study(model: Model, data: Dataset, *, methods: Sequence[str] = METHODS,
          schedule: str | Mapping[str, str] | None = None,
          C: float | Mapping[str, float] | None = None, k0: float | Mapping[str, float] | None = None,
          lam: float = 0.0, epochs: int | Mapping[str, int] | None = None,
          batch: int = 32, seeds: Sequence[int] = (0,), sampling: str = "replacement",
          gradient: str = "auto", eps: float | None = None, eps_rel: float | None = None, timing: bool = True,
          gtol: float = 1e-10, history_points: int = 40, fast: bool = True,
          progress: bool = False, val: Dataset | None = None, test: Dataset | None = None, patience: int = 0,
          init: str | None = None, heldout: Mapping | None = None, executor: str | None = None,
          workers: int | None = None) -> StudyResult:
    """Run every method with every seed on ``model`` and ``data``; measure against the optimum.

    Parameters
    ----------
    model : Model
        E.g. ``builtin("linear-regression", d=data.d)`` or ``builtin("mlp", sizes=(64, 32, 10), ...)``.
    data : Dataset
        The training data (from :func:`~diffkit.optim.make_data`, :func:`~diffkit.optim.load_csv`,
        :func:`diffkit.datasets.load`, or :func:`~diffkit.optim.prepare.prepare`'s ``train``).
    methods : sequence of {"gd", "sgd", "minibatch"}
        Which optimisers, in order.
    schedule : {"constant", "c/k", "c/sqrt(k)", "bottou"}, mapping of method to one, or None
        Step sizes (see :data:`~diffkit.optim.config.SCHEDULES`); ``bottou`` uses λ = ``lam``.
        None (the default) means "constant" for GD and the lecture's "c/k" for SGD and minibatch.
    C, k0 : float, mapping of method to float, or None
        Step-size scale and clock offset (α_k = C/(k + k₀)); None picks :func:`default_schedule`.
    lam : float, default 0
        Regulariser strength λ in F(W) = mean loss + λ·½‖W‖².
    epochs : int, mapping of method to int, or None
        Budget in passes over the data; None: :data:`DEFAULT_EPOCHS` (GD 5000, SGD/minibatch 50).
    batch : int, default 32
        Minibatch size (≤ the number of rows).
    seeds : sequence of int
        One run per method and seed; seed s drives the sampling and W₀ of that run.
    sampling : {"replacement", "shuffle"}
        How SGD and minibatch choose samples.
    gradient : {"auto", "symbolic", "engine"}
        Where gradients come from ("auto": the engine for networks, the SymPy closed form otherwise).
    eps, eps_rel : float, optional
        Targets for "cost to reach": absolute excess loss F − F*, or relative (F − F*)/(F(W₀) − F*).
    timing : bool, default True
        Measure wall time (False: ``time_s`` None, output reproducible byte for byte).
    gtol, history_points, fast, patience, init
        See :class:`~diffkit.optim.config.RunConfig`; ``init`` None: He for ReLU nets, Glorot for
        other nets, zeros otherwise.
    progress : bool, default False
        Show a progress bar on stderr when the work takes more than ~2 s.
    val, test : Dataset, optional
        Held-out data: validation loss/accuracy are recorded during the runs, test at the end.
    heldout : mapping, optional
        How the split was made (:meth:`~diffkit.optim.prepare.Preparation.to_dict`), kept in the result.
    executor : {"serial", "processes"} or a Dask scheduler address, default serial
        Where the runs execute (:mod:`diffkit.optim.parallel`); results are identical.
    workers : int, optional
        Processes for ``executor="processes"`` (default: the core count).

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
    seeds = _check_seeds(seeds)
    _check_eps(eps, "eps")
    _check_eps(eps_rel, "eps_rel")
    from .parallel import check_executor, run_tasks
    ex = check_executor(executor, workers)
    p = plan(model, data, methods=methods, schedule=schedule, C=C, k0=k0, lam=lam, epochs=epochs, batch=batch,
             sampling=sampling, gradient=gradient, timing=timing, gtol=gtol, history_points=history_points,
             fast=fast, val=val, test=test, patience=patience, init=init, heldout=heldout)
    configs = [p.config(m) for m in p.methods]
    tasks = [(cfg, s) for cfg in configs for s in seeds]
    t0 = time.perf_counter()
    runs = run_tasks(p.setup, tasks, executor=ex, workers=workers, progress=progress,
                     steps_of=p.steps if ex == "serial" else None)
    wall = time.perf_counter() - t0 if timing else None
    return finish(p, runs, eps=eps, eps_rel=eps_rel, wall_s=wall, executor=ex)


def _with_excess(r: RunResult, f_star: float) -> RunResult:
    hist = tuple(dataclasses.replace(h, excess_loss=h.loss - f_star) for h in r.history)
    return dataclasses.replace(r, history=hist)


# The runner is imported under another name so ``study.run_one`` is easy to find.
from .runner import run as run_one  # noqa: E402,F401
from .parallel import Setup  # noqa: E402
