"""Convergence analysis over result objects: medians over seeds, fitted rates, costs to reach ε.

Everything here reads :class:`~diffkit.optim.results.RunResult` histories (nothing re-runs),
except :func:`scaling`, which *measures* the per-iteration cost as n and d vary.

Theory the fits are compared with (Bottou, Curtis & Nocedal 2018):

* GD with step 1/L on a μ-strongly convex, L-smooth F: F(w_k) − F* ≤ (1 − μ/L)^k (F(w_0) − F*);
  :func:`linear_rate` fits the observed per-iteration factor.
* SGD with α_k = C/k (C large enough, Cμ > ½): E F(w_k) − F* = O(1/k), a slope of −1 on
  log-log axes; :func:`fit_slope` fits it.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from .results import RunResult


def cost_to_reach(runs: Sequence[RunResult], eps: float, *, measure: str = "sample_gradients") -> dict:
    """Median and range over ``runs`` of ``measure`` at the first recorded excess loss ≤ eps.

    Runs that never reach ε count as missing; ``reached`` says how many did.
    """
    vals = [r.cost_to_reach(eps, measure=measure) for r in runs]
    got = [v for v in vals if v is not None]
    return {"measure": measure, "eps": eps, "reached": len(got), "runs": len(vals),
            "median": float(np.median(got)) if got else None,
            "min": float(min(got)) if got else None, "max": float(max(got)) if got else None}


def median_curve(runs: Sequence[RunResult], *, x: str = "iteration", y: str = "excess_loss",
                 spread: tuple[float, float] = (25.0, 75.0)) -> dict[str, np.ndarray]:
    """Median (and the ``spread`` percentiles) of ``y`` over runs at each recorded ``x``.

    Runs of one method record at the same iterations; a run that stopped early simply has no
    value beyond its end (NaN-aware statistics).  ``x`` may be any HistoryPoint field
    ("iteration", "sample_gradients", "flops", "epoch", "time_s").

    >>> from diffkit.optim.results import HistoryPoint, RunResult
    >>> def fake(vals):
    ...     h = tuple(HistoryPoint(k, k, k, k, None, v, v) for k, v in enumerate(vals))
    ...     return RunResult("sgd", "c/k", 1.0, 0, 1, "shuffle", "symbolic", "max_epochs", "", ("w",), (0.0,), h)
    >>> median_curve([fake([4.0, 2.0, 1.0]), fake([8.0, 4.0])])["median"].tolist()
    [6.0, 3.0, 1.0]
    """
    grid = sorted({getattr(h, x) for r in runs for h in r.history if getattr(h, x) is not None})
    pos = {v: i for i, v in enumerate(grid)}
    table = np.full((len(runs), len(grid)), np.nan)
    for i, r in enumerate(runs):
        for h in r.history:
            xv = getattr(h, x)
            if xv is not None:
                table[i, pos[xv]] = getattr(h, y)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return {"x": np.asarray(grid, dtype=float), "median": np.nanmedian(table, axis=0),
                    "lo": np.nanpercentile(table, spread[0], axis=0),
                    "hi": np.nanpercentile(table, spread[1], axis=0)}


def fit_slope(x: Sequence[float], y: Sequence[float], *, start: float = 0.0) -> float:
    """Least-squares slope of log y against log x over the points with x ≥ start, x > 0, y > 0.

    >>> k = np.arange(1.0, 100.0)
    >>> round(fit_slope(k, 3.0 / k), 12)
    -1.0
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = (x >= start) & (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def linear_rate(run: RunResult, *, floor: float = 1e-12) -> float:
    """The per-iteration contraction factor ρ fitted to excess_k ≈ c·ρ^k (points above ``floor``·|F|).

    Only points where the excess loss is clearly above rounding (``floor`` relative to the loss)
    are used; compare with 1 − μ/L from :func:`quadratic_constants`.
    """
    k = np.array([h.iteration for h in run.history], dtype=float)
    e = np.array([h.excess_loss for h in run.history], dtype=float)
    loss = np.array([abs(h.loss) for h in run.history], dtype=float)
    keep = (k > 0) & (e > floor * np.maximum(loss, 1.0)) & np.isfinite(e)
    if keep.sum() < 2:
        return float("nan")
    return float(np.exp(np.polyfit(k[keep], np.log(e[keep]), 1)[0]))


def quadratic_constants(A: np.ndarray, lam: float = 0.0) -> tuple[float, float]:
    """(μ, L) of the least-squares objective F(w) = ‖Aw − y‖²/(2n) + λ‖w‖²/2: extreme eigenvalues of AᵀA/n + λI."""
    ev = np.linalg.eigvalsh(A.T @ A / A.shape[0])
    return float(ev[0] + lam), float(ev[-1] + lam)


def scaling(*, ns: Sequence[int] = (2000, 8000, 32000), ds: Sequence[int] = (10,),
            methods: Sequence[str] = ("gd", "sgd"), steps: int = 200, repeats: int = 3,
            seed: int = 0) -> dict:
    """Measure seconds per iteration of GD and SGD on least squares as n and d vary.

    Each iteration uses the symbolic matrix-form gradient and the plain update (no fast path):
    GD touches all n rows (O(nd)), SGD one row (O(d)).  The best of ``repeats`` timings of
    ``steps`` iterations is kept.  Returns the rows and, per method and d, the log-log slope of
    time against n (≈ 1 for GD, ≈ 0 for SGD) and, per method and n, against d.
    """
    from .. import builtin
    from .data import make_data
    from .gradients import SymbolicGradient

    rows = []
    for d in ds:
        model = builtin("linear-regression", d=int(d))
        for n in ns:
            src = SymbolicGradient(model, make_data(n=int(n), d=int(d), seed=seed))
            rng = np.random.default_rng(seed)
            for m in methods:
                best = float("inf")
                for _ in range(repeats):
                    w = np.zeros(int(d))
                    idx = rng.integers(0, int(n), steps)
                    t0 = time.perf_counter()
                    for s in range(steps):
                        if m == "gd":
                            w -= 1e-3 * src.grad_sum(w) / n
                        else:
                            w -= 1e-3 * src.grad_sum(w, idx[s:s + 1])
                    best = min(best, (time.perf_counter() - t0) / steps)
                rows.append({"method": m, "n": int(n), "d": int(d), "seconds_per_iteration": best})
    slopes_n = {f"{m}, d={d}": fit_slope([r["n"] for r in rows if r["method"] == m and r["d"] == d],
                                         [r["seconds_per_iteration"] for r in rows if r["method"] == m and r["d"] == d])
                for m in methods for d in ds}
    slopes_d = {f"{m}, n={n}": fit_slope([r["d"] for r in rows if r["method"] == m and r["n"] == n],
                                         [r["seconds_per_iteration"] for r in rows if r["method"] == m and r["n"] == n])
                for m in methods for n in ns} if len(ds) > 1 else {}
    return {"rows": rows, "slope_vs_n": slopes_n, "slope_vs_d": slopes_d}
