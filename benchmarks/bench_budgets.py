"""Budgets against reality: every command at (or near) its limits, timed, next to its estimate.

``python benchmarks/bench_budgets.py [--json PATH] [--only WORD]`` runs each case as the real
command line in a subprocess (with ``--force``, so the budget itself does not refuse it) and
prints the measured wall and CPU time (the CPU time is what a 2-core machine without other load
takes; the wall time depends on the load), the estimate of :mod:`diffkit.budget` and their ratio.  This is
how the coefficients in ``diffkit/budget.py`` were set, and how one checks that "every command at
its limit finishes in ≤ 60 s on 2 cores": run it, and read the ``limit`` rows.

The ``limit`` rows are the largest sizes the budget lets through without ``--force``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffkit import builtin, model_from_expr  # noqa: E402
from diffkit import budget as B  # noqa: E402

TIMEOUT_S = 180


def _sum(k):
    e = " + ".join(f"sigmoid(w*{i % 7 + 1}*x{i} + b)" for i in range(k))
    return model_from_expr(e, wrt="w,b", at={"w": 0.1, "b": 0.2, **{f"x{i}": 0.5 for i in range(k)}}), e


def cases():
    out = []
    for n in (6, 8, 10, 11):
        m = builtin("logistic-map", n=n)
        out.append((f"compare logistic-map n={n}", ["compare", "logistic-map", "--depth", str(n)],
                    B.estimate_compare(m, 10)))
    for d in (20, 50, 100):
        m = builtin("linear-regression", d=d)
        out.append((f"compare linear-regression d={d}", ["compare", "linear-regression", "--dim", str(d)],
                    B.estimate_compare(m, 10)))
    m = builtin("mlp", sizes=(3, 4, 4, 1), activations=("sigmoid", "tanh", "identity"))
    out.append(("compare mlp 3,4,4,1", ["compare", "mlp", "--sizes", "3,4,4,1", "--activations",
                                        "sigmoid,tanh,identity"], B.estimate_compare(m, 10)))
    for pts in (1000, 10000):
        m = builtin("ridge-sigmoid")
        out.append((f"compare ridge-sigmoid points={pts}", ["compare", "--points", str(pts)],
                    B.estimate_compare(m, pts)))
    for k in (50, 100):
        m, e = _sum(k)
        at = ",".join(f"{k_}={v}" for k_, v in m.defaults.items())
        out.append((f"compare sum of {k} sigmoids", ["compare", "--expr", e, "--wrt", "w,b", "--at", at],
                    B.estimate_compare(m, 10)))
    for n in (10, 12):
        m = builtin("logistic-map", n=n)
        out.append((f"derive logistic-map n={n}", ["derive", "logistic-map", "--depth", str(n)],
                    B.estimate_derive(m)))
    for d in (100, 200):
        m = builtin("linear-regression", d=d)
        out.append((f"derive linear-regression d={d}", ["derive", "linear-regression", "--dim", str(d)],
                    B.estimate_derive(m)))
    for form in ("expanded", "cse", "simplified"):
        m = builtin("logistic-map", n=6)
        out.append((f"derive logistic-map n=6 --form {form}", ["derive", "logistic-map", "--depth", "6",
                                                               "--form", form], B.estimate_derive(m, form)))
    m = builtin("logistic-map", n=64)
    out.append(("backprop logistic-map n=64", ["backprop", "logistic-map", "--depth", "64"], None))
    for pts in (20, 500):
        m = builtin("ridge-sigmoid")
        out.append((f"check ridge-sigmoid points={pts}", ["check", "--claims", "examples/lecture-backprop.txt",
                                                          "--points", str(pts)], B.estimate_check(m, pts, 7)))
    out.append(("report ridge-sigmoid", ["report", "--out", "/tmp/diffkit-bench/r.html", "--no-timing"],
                B.estimate_report(builtin("ridge-sigmoid"), 10)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    rows = []
    print(f"{'case':44s} {'wall s':>10s} {'cpu s':>8s} {'estimate s':>10s} {'est/cpu':>9s}")
    for label, argv, est in cases():
        if args.only and args.only not in label:
            continue
        t0 = time.perf_counter()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            rc = subprocess.run([sys.executable, "-m", "diffkit.cli", *argv, "--force"], capture_output=True,
                                timeout=TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        dt = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        e = est.seconds if est is not None else float("nan")
        rows.append({"case": label, "argv": argv, "seconds": dt, "cpu_seconds": cpu, "estimate": e, "rc": rc})
        print(f"{label:44s} {dt:10.1f} {cpu:8.1f} {e:10.1f} {e / cpu:9.2f}  rc={rc}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
