"""Study protocols over many runs: the step-size sweep (sensitivity), and the performance profile.

* :func:`sweep` — DeepOBS's protocol: every method on a log grid of step-size scales C (a span of
  multiples of its default C), a few seeds each; the sensitivity of the final and best training loss
  to C; the best C per method (lowest median final loss among grid points where no seed diverged),
  optionally rerun with more seeds (≥ 10) as an ordinary :class:`~diffkit.optim.results.StudyResult`.
* :func:`performance_profile` — AlgoPerf/Dolan–Moré: on each problem, each method's cost (sample
  gradients, median over seeds) to reach a relative excess-loss target, divided by the best method's;
  ρ_m(τ) is the fraction of problems on which method m is within a factor τ of the best.

Results are frozen dataclasses with ``to_dict()``; plots read them (``diffkit.report.study``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import BadInput
from ..constraints import shorten
from .results import RunResult, StudyResult

#: Default grid span, as multiples of each method's default C.
SPAN: tuple[float, float] = (1e-2, 1e1)


@dataclass(frozen=True)
class SweepPoint:
    """One (method, C) grid point: per-seed final and best losses and statuses."""

    method: str
    C: float
    seeds: tuple[int, ...]
    final: tuple[float, ...]
    best: tuple[float, ...]
    statuses: tuple[str, ...]

    @property
    def diverged(self) -> int:
        return sum(s == "diverged" for s in self.statuses)

    def stats(self, which: str = "final") -> dict[str, float]:
        v = np.array(self.final if which == "final" else self.best, dtype=float)
        v = v[np.isfinite(v)]
        if not len(v):
            return {"median": math.nan, "min": math.nan, "max": math.nan}
        return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max())}

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "C": self.C, "seeds": list(self.seeds), "final_loss": list(self.final),
                "best_loss": list(self.best), "statuses": list(self.statuses), "diverged": self.diverged,
                "final": self.stats("final"), "best": self.stats("best")}


@dataclass(frozen=True)
class SweepResult:
    """A step-size sweep: the grid points per method, the best C per method and the rerun."""

    model: str
    data: str
    points: tuple[SweepPoint, ...]
    best_C: dict[str, float | None]
    default_C: dict[str, float]
    span: tuple[float, float]
    optimum_loss: float
    rerun: StudyResult | None = None
    wall_s: float | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def by_method(self) -> dict[str, list[SweepPoint]]:
        out: dict[str, list[SweepPoint]] = {}
        for p in self.points:
            out.setdefault(p.method, []).append(p)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "data": self.data, "span": list(self.span), "optimum_loss": self.optimum_loss,
                "default_C": dict(self.default_C), "best_C": dict(self.best_C), "wall_s": self.wall_s,
                "points": [p.to_dict() for p in self.points],
                "rerun": self.rerun.to_dict() if self.rerun is not None else None}


def _grid(points: int, span: Sequence[float]) -> np.ndarray:
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 2 <= points <= 64:
        raise BadInput(f"the sweep needs 2 to 64 grid points, got {shorten(points)}")
    lo, hi = (float(v) for v in span)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise BadInput(f"the sweep span must be two numbers 0 < lo < hi, got {shorten(tuple(span))}")
    return np.geomspace(lo, hi, int(points))


def sweep(model, data, *, points: int = 12, span: Sequence[float] = SPAN, seeds: Sequence[int] = (0, 1, 2, 3, 4),
          rerun_seeds: Sequence[int] | None = None, eps: float | None = None, eps_rel: float | None = None,
          executor: str | None = None, workers: int | None = None, progress: bool = False,
          **study_kwargs) -> SweepResult:
    """Sweep C over ``points`` log-spaced multiples (``span``) of each method's default C.

    ``study_kwargs`` are those of :func:`~diffkit.optim.study` (methods, epochs, lam, val, ...;
    not ``C``).  With ``rerun_seeds`` the best C of each method is rerun with those seeds and
    returned as ``rerun``.  All runs of the grid are independent tasks for ``executor``.
    """
    from .parallel import check_executor, run_tasks
    from .study import _check_seeds, finish, plan

    if "C" in study_kwargs:
        raise BadInput("a sweep chooses C itself; give the grid with points and span instead")
    seeds = _check_seeds(seeds)
    grid = _grid(points, span)
    ex = check_executor(executor, workers)
    p = plan(model, data, **study_kwargs)
    tasks, where = [], []
    for m in p.methods:
        for mult in grid:
            C = p.Cs[m] * float(mult)
            cfg = p.config(m, C=C)
            for s in seeds:
                tasks.append((cfg, s))
                where.append((m, C))
    t0 = time.perf_counter()
    runs = run_tasks(p.setup, tasks, executor=ex, workers=workers, progress=progress)
    wall = time.perf_counter() - t0 if p.kwargs["timing"] else None
    res = finish(p, runs, eps=eps, eps_rel=eps_rel, wall_s=wall, executor=ex)  # F* and excess for all runs
    grouped: dict[tuple[str, float], list[RunResult]] = {}
    for key, r in zip(where, res.runs):
        grouped.setdefault(key, []).append(r)
    pts = tuple(SweepPoint(m, C, tuple(r.seed for r in rs), tuple(r.final.loss for r in rs),
                           tuple(r.best_loss() for r in rs), tuple(r.status for r in rs))
                for (m, C), rs in grouped.items())
    best: dict[str, float | None] = {}
    for m in p.methods:
        ok = [q for q in pts if q.method == m and q.diverged == 0 and math.isfinite(q.stats()["median"])]
        best[m] = min(ok, key=lambda q: q.stats()["median"]).C if ok else None
    rerun = None
    if rerun_seeds is not None:
        from .study import study
        chosen = {m: c for m, c in best.items() if c is not None}
        if chosen:
            kw = dict(study_kwargs)
            kw["methods"] = tuple(chosen)
            rerun = study(model, data, C=chosen, seeds=_check_seeds(rerun_seeds), eps=eps, eps_rel=eps_rel,
                          executor=ex, workers=workers, progress=progress, **kw)
    return SweepResult(p.model.name, p.data.source, pts, best, dict(p.Cs), (float(span[0]), float(span[1])),
                       res.optimum_loss, rerun, wall, {r.method: r.label for r in res.runs})


@dataclass(frozen=True)
class ProfileResult:
    """Costs to a relative target per (problem, method), the ratios to the best, and ρ_m(τ)."""

    problems: tuple[str, ...]
    methods: tuple[str, ...]
    eps_rel: float
    measure: str
    costs: dict[str, dict[str, float | None]]
    taus: tuple[float, ...]
    rho: dict[str, tuple[float, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {"problems": list(self.problems), "methods": list(self.methods), "eps_rel": self.eps_rel,
                "measure": self.measure, "costs": {k: dict(v) for k, v in self.costs.items()},
                "taus": list(self.taus), "rho": {k: list(v) for k, v in self.rho.items()}}


def profile_from_studies(studies: dict[str, StudyResult], *, eps_rel: float, measure: str = "sample_gradients",
                         taus: Sequence[float] | None = None) -> ProfileResult:
    """The performance profile of the methods in ``studies`` (problem name → StudyResult)."""
    methods: list[str] = []
    for s in studies.values():
        for lab in s.by_method():
            if lab.split("(")[0] not in methods:
                methods.append(lab.split("(")[0])
    costs: dict[str, dict[str, float | None]] = {}
    for name, s in studies.items():
        row: dict[str, float | None] = {}
        for lab, runs in s.by_method().items():
            vals = [r.cost_to_reach(eps_rel, measure=measure, relative=True) for r in runs]
            got = [v for v in vals if v is not None]
            # a method counts as solving the problem when most of its seeds reach the target
            row[lab.split("(")[0]] = float(np.median(got)) if len(got) * 2 > len(vals) else None
        costs[name] = row
    ratios = {m: [] for m in methods}
    for row in costs.values():
        solved = [v for v in row.values() if v is not None]
        base = min(solved) if solved else None
        for m in methods:
            v = row.get(m)
            ratios[m].append(v / base if v is not None and base else math.inf)
    finite = [r for rs in ratios.values() for r in rs if math.isfinite(r)]
    top = max(finite) if finite else 1.0
    taus = tuple(float(t) for t in (taus if taus is not None else np.geomspace(1.0, max(top, 1.0) * 2, 50)))
    rho = {m: tuple(float(np.mean([r <= t for r in ratios[m]])) for t in taus) for m in methods}
    return ProfileResult(tuple(studies), tuple(methods), float(eps_rel), measure, costs, taus, rho)


def builtin_problems() -> dict[str, dict[str, Any]]:
    """The built-in problems of the performance profile: model, data and study settings for each."""
    return {
        "diabetes (least squares)": {"model": ("linear-regression", {}), "data": "diabetes", "lam": 0.0},
        "breast-cancer (logistic, λ=0.01)": {"model": ("logistic-regression", {}), "data": "breast-cancer",
                                             "lam": 0.01},
        "moons (mlp 2-16-1 tanh)": {"model": ("mlp", {"sizes": (2, 16, 1), "activations": ("tanh", "identity"),
                                                      "loss": "cross-entropy"}), "data": "moons", "lam": 0.0},
        "digits (mlp 64-32-10 relu)": {"model": ("mlp", {"sizes": (64, 32, 10), "activations": ("relu", "identity"),
                                                         "loss": "cross-entropy"}), "data": "digits", "lam": 0.0},
    }


def performance_profile(*, eps_rel: float = 1e-2, seeds: Sequence[int] = (0, 1, 2), epochs: dict | None = None,
                        methods: Sequence[str] = ("gd", "sgd", "minibatch"), problems: Sequence[str] | None = None,
                        executor: str | None = None, workers: int | None = None, progress: bool = False,
                        timing: bool = False) -> tuple[ProfileResult, dict[str, StudyResult]]:
    """Run every method on the built-in problems (standardised, training split) and profile them."""
    from .. import builtin
    from ..datasets import load
    from .data import as_classes
    from .prepare import prepare
    from .study import study

    table = builtin_problems()
    names = tuple(problems) if problems is not None else tuple(table)
    studies = {}
    for name in names:
        if name not in table:
            raise BadInput(f"unknown problem {shorten(name)}; built-in problems: {', '.join(table)}")
        spec = table[name]
        ds = load(spec["data"])
        mname, opts = spec["model"]
        if mname != "linear-regression":
            ds = as_classes(ds)
        prep = prepare(ds, standardize=True, intercept=mname == "linear-regression")
        model = builtin(mname, **opts) if mname == "mlp" else builtin(mname, d=prep.train.d)
        studies[name] = study(model, prep.train, methods=methods, lam=spec["lam"], seeds=seeds, epochs=epochs,
                              eps_rel=eps_rel, executor=executor, workers=workers, progress=progress,
                              timing=timing, heldout=prep.to_dict())
    return profile_from_studies(studies, eps_rel=eps_rel), studies
