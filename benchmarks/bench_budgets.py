"""Every limit, timed: each command at the limit its ``--help`` gives, and at the budget's frontier.

``python benchmarks/bench_budgets.py [--json PATH] [--only WORD] [--skip-frontier] [--skip-help]``

Two tables, each run as the real command line in a subprocess (``python -m diffkit.cli``, no
``--force``), with the wall time, the CPU time of the child (what the command costs without
other load) and the load average of the machine at the start of the run (the machine is shared:
the wall time depends on it, the CPU time much less):

1. **At the --help limits.** For every option of every command whose ``--help`` states a range,
   the value at its upper end (the cases ``tests/reliability/hostile_corpus.py`` builds from the
   help texts): the command either finishes (exit 0/1), or the budget refuses it before any work
   (exit 2, naming the estimate and ``--force``).  Never a range error, never past 60 s.
2. **At the budget's frontier.** For each size that drives cost, the largest value the budget lets
   through without ``--force`` (found by bisection on :mod:`diffkit.budget`'s estimate, the one
   the command calls), run to completion: it must finish in ≤ 60 s on 2 cores.  The next value
   up is run too and must be refused by the budget.

The estimate and the CPU time are printed side by side; their ratio is how the coefficients in
``diffkit/budget.py`` were checked.  Exit status: the number of rows that broke a promise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "reliability"))

from diffkit import builtin, model_from_expr  # noqa: E402
from diffkit import budget as B  # noqa: E402

LIMIT_S = 60.0
TIMEOUT_S = 180.0


def run(argv: list[str], cwd: Path) -> dict:
    """One command line in a subprocess: exit code, wall and CPU seconds, load, first stderr line."""
    load = os.getloadavg()[0]
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "diffkit.cli", *argv], cwd=cwd, capture_output=True,
                           timeout=TIMEOUT_S, env={**os.environ, "PYTHONPATH": str(REPO)})
        rc, err = r.returncode, r.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        rc, err = "timeout", ""
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    return {"argv": argv, "rc": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load": round(load, 2),
            "stderr": err.strip().splitlines()[0][:200] if err.strip() else ""}


def _outcome(r: dict) -> str:
    if r["rc"] in (0, 1):
        return "done"
    if r["rc"] == 2 and "budget" in r["stderr"]:
        return "refused by the budget"
    if r["rc"] == 2:
        return "refused (another stated limit): " + r["stderr"][7:60]
    return f"exit {r['rc']}"


def _range_refused(r: dict, argv: list[str]) -> bool:
    """Whether the command refused the value at the limit by the very range its --help gives."""
    import re

    flags = [a for a in argv if a.startswith("--")]
    return r["rc"] == 2 and any(re.search(rf"{re.escape(f)}:? (must be|takes|more than)", r["stderr"]) for f in flags[-1:])


# -- 1. the --help limits -------------------------------------------------------------------------

def help_limit_rows() -> list[tuple[str, list[str]]]:
    import hostile_corpus as hc

    return [(c.name().removeprefix("diffkit ").replace("  ", " "), c.args) for c in hc.option_cases()
            if c.expect == "limit"]


# -- 2. the budget's frontier ---------------------------------------------------------------------

def _largest(lo: int, hi: int, fits) -> int:
    """The largest v in [lo, hi] with fits(v) (fits is monotone: true, then false)."""
    if not fits(lo):
        return lo - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def _fits(estimate, k) -> bool:
    from diffkit.errors import BadInput

    try:
        est = estimate(k)
    except BadInput:  # past another declared limit (e.g. an MLP's parameter count)
        return False
    return est.seconds <= B.TIME_BUDGET_S and est.bytes <= B.MEMORY_BUDGET_BYTES


def _sum_expr(k: int) -> tuple[str, str]:
    e = " + ".join(f"sigmoid(w*x{i} + b)" for i in range(k))
    at = ",".join(["w=0.1", "b=0.2"] + [f"x{i}={(i % 7 + 1) / 8}" for i in range(k)])
    return e, at


def _sum_model(k: int):
    e, _ = _sum_expr(k)
    return model_from_expr(e, wrt="w,b", at={"w": 0.1, "b": 0.2, **{f"x{i}": (i % 7 + 1) / 8 for i in range(k)}})


def frontier_rows() -> list[tuple[str, list[str], list[str], float]]:
    """(label, argv at the frontier, argv one step past it, estimate at the frontier)."""
    rows = []

    def add(label, lo, hi, estimate, argv):
        v = _largest(lo, hi, lambda k: _fits(estimate, k))
        if v < lo:
            rows.append((f"{label}: nothing fits", argv(lo), argv(lo), estimate(lo).seconds))
            return
        rows.append((f"{label} = {v}", argv(v), argv(v + 1) if v < hi else [], estimate(v).seconds))

    add("compare logistic-map --depth", 1, 64, lambda n: B.estimate_compare(builtin("logistic-map", n=n), 10),
        lambda n: ["compare", "logistic-map", "--depth", str(n)])
    add("compare linear-regression --dim", 1, 1000, lambda d: B.estimate_compare(builtin("linear-regression", d=d), 10),
        lambda d: ["compare", "linear-regression", "--dim", str(d)])
    add("compare --points", 0, 100_000, lambda p: B.estimate_compare(builtin("ridge-sigmoid"), p),
        lambda p: ["compare", "--points", str(p)])
    add("compare mlp --sizes 2,W,1: W (64 parameters at most)", 1, 15,
        lambda w: B.estimate_compare(builtin("mlp", sizes=(2, w, 1)), 10),
        lambda w: ["compare", "mlp", "--sizes", f"2,{w},1"])
    from diffkit.constraints import MAX_OPTION_CHARS

    longest = _largest(1, 5000, lambda k: max(map(len, _sum_expr(k))) <= MAX_OPTION_CHARS)
    add("compare sum of K sigmoids: K", 1, longest, lambda k: B.estimate_compare(_sum_model(k), 10),
        lambda k: ["compare", "--expr", _sum_expr(k)[0], "--wrt", "w,b", "--at", _sum_expr(k)[1]])
    add("derive logistic-map --depth", 1, 64, lambda n: B.estimate_derive(builtin("logistic-map", n=n)),
        lambda n: ["derive", "logistic-map", "--depth", str(n)])
    add("derive linear-regression --dim", 1, 1000, lambda d: B.estimate_derive(builtin("linear-regression", d=d)),
        lambda d: ["derive", "linear-regression", "--dim", str(d)])
    add("backprop linear-regression --dim", 1, 1000,
        lambda d: B.estimate_backprop(builtin("linear-regression", d=d)),
        lambda d: ["backprop", "linear-regression", "--dim", str(d)])
    claims = str(REPO / "examples" / "lecture-backprop.txt")
    n_claims = sum(1 for ln in Path(claims).read_text().splitlines() if ln.split("#")[0].strip())
    add("check --points", 0, 100_000, lambda p: B.estimate_check(builtin("ridge-sigmoid"), p, n_claims),
        lambda p: ["check", "--claims", claims, "--points", str(p)])
    add("train --epochs (gd only)", 1, 10**7,
        lambda e: B.estimate_study(n=1000, d=10, methods=("gd",), epochs=e, seeds=1),
        lambda e: ["train", "--methods", "gd", "--epochs", str(e)])
    add("train --epochs (sgd only)", 1, 10**7,
        lambda e: B.estimate_study(n=1000, d=10, methods=("sgd",), epochs=e, seeds=1),
        lambda e: ["train", "--methods", "sgd", "--epochs", str(e)])
    add("train --n (default epochs)", 1, 10**8,
        lambda n: B.estimate_study(n=n, d=10, seeds=1), lambda n: ["train", "--n", str(n)])
    add("train --seeds 0..S-1 (default epochs): S", 1, 1000,
        lambda s: B.estimate_study(n=1000, d=10, seeds=s), lambda s: ["train", "--seeds", f"0..{s - 1}"])
    rs = builtin("ridge-sigmoid")
    add("report --n (ridge-sigmoid; 20 epochs, seeds 0..4)", 2, 10**6,
        lambda n: B.estimate_report(rs, 10, study=B.estimate_study(n=n, d=5, epochs=20, seeds=5,
                                                                   sample_s=B.REPORT_SAMPLE_S)),
        lambda n: ["report", "--no-timing", "--n", str(n), "--out", "r.html"])
    add("report --epochs (ridge-sigmoid; n 1000, seed 0)", 1, 10**4,
        lambda e: B.estimate_report(rs, 10, study=B.estimate_study(n=1000, d=5, epochs=e, seeds=1,
                                                                   sample_s=B.REPORT_SAMPLE_S)),
        lambda e: ["report", "--no-timing", "--epochs", str(e), "--seeds", "0", "--out", "r.html"])
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", default="")
    ap.add_argument("--skip-help", action="store_true")
    ap.add_argument("--skip-frontier", action="store_true")
    args = ap.parse_args()
    out: dict = {"cpus": os.cpu_count(), "load_start": os.getloadavg(), "help_limits": [], "frontier": []}
    broken = 0
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="diffkit-bench-budgets-") as tmp:
        cwd = Path(tmp)
        if not args.skip_help:
            print("\n1. each command at the limit its --help gives (no --force)")
            print(f"{'case':62s} {'wall s':>7s} {'cpu s':>6s} {'load':>5s}  outcome")
            for label, argv in help_limit_rows():
                if args.only not in label:
                    continue
                r = run(argv, cwd)
                r["case"], r["outcome"] = label, _outcome(r)
                r["ok"] = r["rc"] in (0, 1, 2) and not _range_refused(r, argv) and r["wall_s"] <= LIMIT_S
                broken += not r["ok"]
                out["help_limits"].append(r)
                print(f"{label[:62]:62s} {r['wall_s']:7.1f} {r['cpu_s']:6.1f} {r['load']:5.1f}  {r['outcome']}"
                      + ("" if r["ok"] else "   <-- BROKEN"), flush=True)
        if not args.skip_frontier:
            print("\n2. the largest size the budget lets through without --force, run to the end; the next one up")
            print(f"{'size':46s} {'estimate s':>10s} {'wall s':>7s} {'cpu s':>6s} {'load':>5s}  outcome;  next: outcome")
            for label, argv, past, est in frontier_rows():
                if args.only not in label:
                    continue
                r = run(argv, cwd)
                p = run(past, cwd) if past else None
                r.update(case=label, estimate_s=round(est, 2), outcome=_outcome(r),
                         next=_outcome(p) if p else "(the range's end)", next_wall_s=p["wall_s"] if p else None)
                r["ok"] = (r["outcome"] == "done" and r["wall_s"] <= LIMIT_S
                           and (p is None or p["rc"] == 2))
                broken += not r["ok"]
                out["frontier"].append(r)
                print(f"{label[:46]:46s} {est:10.1f} {r['wall_s']:7.1f} {r['cpu_s']:6.1f} {r['load']:5.1f}  "
                      f"{r['outcome']};  next: {r['next']}" + ("" if r["ok"] else "   <-- BROKEN"), flush=True)
    out["load_end"] = os.getloadavg()
    print(f"\nload average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}; rows breaking a promise: {broken}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return broken


if __name__ == "__main__":
    sys.exit(min(main(), 255))
