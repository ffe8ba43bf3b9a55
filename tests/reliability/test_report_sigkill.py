"""Reports survive failure: ``diffkit report`` is killed with SIGKILL at 20 random moments.

An earlier report sits at the path.  Each trial forks a child that runs the command line
(``diffkit.cli.main``, as the console script does) to write a *different* report to the same
path, and kills it after a random delay drawn uniformly from [0, 1.2 T], T being the time of one
complete run.  After every kill each of the two files (HTML, PDF) must be byte for byte either
the earlier report or the complete new one: never truncated, never a mixture.  A temporary left
by a kill is removed by the next run that writes the same report.

(The parent process imports diffkit and writes both reports once before forking, so the children
start warm; with one section, 20 trials take about half a minute.)
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

TRIALS = int(os.environ.get("DIFFKIT_KILL_TRIALS", "20"))
#: one section (the model and its graph) keeps a run near 2 s: the kill lands anywhere in the same
#: sequence of steps (parse, build, render HTML, render PDF, write both atomically) as a full report
BASE = ["report", "--no-timing", "--points", "0", "--sections", "model"]


def _quiet_main(argv) -> int:
    from diffkit.cli import main

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    return main(argv)


def _child(argv) -> None:
    try:
        code = _quiet_main(argv)
    except BaseException:  # noqa: BLE001 - a child must never return into pytest
        code = 99
    os._exit(code)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs fork and SIGKILL")
def test_a_killed_report_leaves_the_old_one_or_a_complete_new_one(tmp_path):
    from diffkit.cli import main

    target = tmp_path / "out" / "neuron.html"
    pdf = target.with_suffix(".pdf")
    new_args = BASE + ["--out", str(target), "--at", "w=0.7"]
    # the complete new report, for reference (written once, then put aside)
    assert main(new_args) == 0
    new_html, new_pdf = target.read_bytes(), pdf.read_bytes()
    # the earlier report at the same path
    t0 = time.perf_counter()
    assert main(BASE + ["--out", str(target)]) == 0
    full = time.perf_counter() - t0
    old_html, old_pdf = target.read_bytes(), pdf.read_bytes()
    assert old_html != new_html and old_pdf != new_pdf

    rng = random.Random(14)
    seen = {"old": 0, "new": 0}
    for trial in range(TRIALS):
        delay = rng.uniform(0.0, 1.2 * full)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            _child(new_args)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        html, pdf_bytes = target.read_bytes(), pdf.read_bytes()
        assert html in (old_html, new_html), f"trial {trial}: HTML truncated or mixed after {delay:.2f} s"
        assert pdf_bytes in (old_pdf, new_pdf), f"trial {trial}: PDF truncated or mixed after {delay:.2f} s"
        seen["new" if html == new_html else "old"] += 1
        if html == new_html:  # put the earlier report back for the next trial
            target.write_bytes(old_html)
            pdf.write_bytes(old_pdf)
    # a run that completes removes what the kills left behind
    assert main(new_args) == 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["neuron.html", "neuron.pdf"]
    assert target.read_bytes() == new_html
    assert seen["old"] > 0  # the kills did land before the rename (and, usually, some after)
