"""How long reports take and how big they are: the default report and the MLP report.

``python benchmarks/bench_report.py [--json PATH]``.  Each case runs ``diffkit report ... --no-timing``
in a fresh process and records wall time, CPU time (user + system of the child: on a busy machine
the wall time also counts the other processes) and the sizes of the HTML and PDF.  The targets of
issue 13 are ≤ 30 s and ≤ 3 MB for the MLP report; this script reports, it does not judge.
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

CASES = {
    "ridge-sigmoid": [],
    "mlp 2-2-1": ["mlp"],
    "mlp 2-3-3-1": ["mlp", "--sizes", "2,3,3,1", "--activations", "sigmoid,sigmoid,identity"],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("diffkit")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in CASES.items():
            html = Path(tmp) / (name.replace(" ", "_") + ".html")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([str(exe), "report", *extra, "--no-timing", "--out", str(html)], check=True,
                           stdout=subprocess.DEVNULL, env=dict(os.environ, COLUMNS="100"))
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            out[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "html_bytes": html.stat().st_size,
                         "pdf_bytes": html.with_suffix(".pdf").stat().st_size}
            r = out[name]
            print(f"{name:14} wall {r['wall_s']:6.1f} s  cpu {r['cpu_s']:6.1f} s  HTML {r['html_bytes'] / 2**20:5.2f} MB"
                  f"  PDF {r['pdf_bytes'] / 2**20:5.2f} MB", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
