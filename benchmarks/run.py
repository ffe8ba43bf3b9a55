"""Run every benchmark in one go: ``make bench`` (or ``python benchmarks/run.py [--json PATH]``).

Each script measures ratios against a baseline timed in the same run (hand-written NumPy,
scikit-learn), so the numbers compare across machines; absolute times do not.

* ``bench_engine.py`` — W1 (one gradient, µs), W2 (10⁶ points, ms), W3 (MLP, f32/f64);
* ``bench_optim.py`` — one SGD epoch vs scikit-learn's SGDRegressor, one GD step vs NumPy;
* ``bench_layers.py`` — the layer zoo (conv2d, attention, max pooling, batch norm, RNN) forward +
  backward vs the same computation written by hand in NumPy (torch beside them when installed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write all results as one JSON file")
    ap.add_argument("--quick", action="store_true", help="engine benchmark with fewer repeats")
    args = ap.parse_args()
    merged: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("bench_engine.py", ["--quick"] if args.quick else []), ("bench_optim.py", []),
                            ("bench_layers.py", ["--quick"] if args.quick else [])):
            out = Path(tmp) / (name + ".json")
            print(f"== {name}", flush=True)
            rc = subprocess.call([sys.executable, str(HERE / name), "--json", str(out), *extra])
            if rc != 0:
                print(f"{name} failed with exit code {rc}", file=sys.stderr)
                return rc
            merged[name.removesuffix(".py")] = json.loads(out.read_text())
    if args.json:
        args.json.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
