"""Benchmark of diffkit's optimisers against NumPy and scikit-learn (plain script, < 2 minutes).

Measures, on least squares with n = 200,000 samples and d = 100 features:

* one epoch of single-sample SGD with α_k = C/k (diffkit's runner, exact blocked fast path)
  against scikit-learn's ``SGDRegressor`` with the same schedule (``invscaling``, power_t = 1,
  no penalty, no intercept, one shuffled epoch) — target ≤ 1.5× (skipped without scikit-learn);
  the plain per-sample loop (fast path off) is timed on a slice for reference;
* one full GD step through the runner (symbolic matrix-form gradient + update) against NumPy's
  ``X.T @ (X @ w - y)`` — target ≤ 1.2×.

Best of several repeats is reported.  Usage: ``python benchmarks/bench_optim.py [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from diffkit import builtin
from diffkit.optim import Objective, RunConfig, Schedule, SymbolicGradient, make_data, run

N, D, C = 200_000, 100, 0.001


def best(f, repeats: int) -> float:
    out = float("inf")
    for _ in range(repeats):
        out = min(out, f())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    ds = make_data("linear-regression", n=N, d=D, noise=0.1, seed=0)
    model = builtin("linear-regression", d=D)
    src = SymbolicGradient(model, ds)
    obj = Objective(src, 0.0)
    names = model.wrt
    results: dict = {"n": N, "d": D, "C": C}

    def sgd_epoch(fast: bool = True) -> float:
        cfg = RunConfig("sgd", Schedule("c/k", C=C), epochs=1, sampling="shuffle", gtol=0.0,
                        history_points=2, fast=fast)
        return run(src, obj, cfg, seed=0, optimum_loss=0.0, param_names=names).final.time_s

    results["sgd_epoch_s"] = best(sgd_epoch, args.repeats)

    # the plain per-sample loop, timed on a 20,000-sample slice and scaled to one epoch
    small = make_data("linear-regression", n=20_000, d=D, noise=0.1, seed=0)
    ssrc = SymbolicGradient(model, small)
    cfg = RunConfig("sgd", Schedule("c/k", C=C), epochs=1, sampling="shuffle", gtol=0.0, history_points=2,
                    fast=False)
    loop = run(ssrc, Objective(ssrc, 0.0), cfg, seed=0, optimum_loss=0.0, param_names=names).final.time_s
    results["sgd_epoch_per_sample_loop_s"] = loop * N / small.n

    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import SGDRegressor
    except ImportError:
        results["sklearn_sgd_epoch_s"] = None
        results["sgd_ratio_vs_sklearn"] = None
    else:
        X, y = np.asarray(ds.X), np.asarray(ds.y)

        def sk() -> float:
            m = SGDRegressor(max_iter=1, tol=None, learning_rate="invscaling", eta0=C, power_t=1.0,
                             penalty=None, alpha=0.0, fit_intercept=False, shuffle=True, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                m.fit(X, y)
                return time.perf_counter() - t0

        results["sklearn_sgd_epoch_s"] = best(sk, args.repeats)
        results["sgd_ratio_vs_sklearn"] = results["sgd_epoch_s"] / results["sklearn_sgd_epoch_s"]

    steps = 10

    def gd_step() -> float:
        cfg = RunConfig("gd", Schedule("constant", C=0.1), epochs=steps, gtol=0.0, history_points=2)
        return run(src, obj, cfg, seed=0, optimum_loss=0.0, param_names=names).final.time_s / steps

    X, y, w = ds.X, ds.y, np.full(D, 0.01)

    def numpy_step() -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            X.T @ (X @ w - y)
        return (time.perf_counter() - t0) / steps

    results["gd_step_s"] = best(gd_step, args.repeats)
    results["numpy_gradient_s"] = best(numpy_step, args.repeats)
    results["gd_ratio_vs_numpy"] = results["gd_step_s"] / results["numpy_gradient_s"]

    for k, v in results.items():
        print(f"{k:30s} {v:.4g}" if isinstance(v, float) else f"{k:30s} {v}")
    if results["sgd_ratio_vs_sklearn"] is not None:
        print(f"SGD epoch: {results['sgd_ratio_vs_sklearn']:.2f}× scikit-learn (target ≤ 1.5×)")
    print(f"GD step:   {results['gd_ratio_vs_numpy']:.2f}× NumPy (target ≤ 1.2×)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
