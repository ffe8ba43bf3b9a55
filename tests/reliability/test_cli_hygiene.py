"""The CLI at the edges of the operating system: pipes, full disks, closed streams, encodings,
interrupts.  Each case runs the real console script in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DIFFKIT = [sys.executable, "-c", "import sys; from diffkit.cli import main; sys.exit(main())"]


def _run(args, **kw):
    return subprocess.run(DIFFKIT + args, capture_output=True, timeout=120, **kw)


def test_a_closed_pipe_ends_quietly():
    p = subprocess.Popen(DIFFKIT + ["compare"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()  # like `diffkit compare | head -1`
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141
    assert err == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_full_disk_is_one_line():
    with open("/dev/full", "w") as full:
        r = subprocess.run(DIFFKIT + ["derive"], stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 1
    assert r.stderr.decode() == "Error: cannot write to standard output: No space left on device\n"


def test_a_closed_stdout_is_one_line():
    r = subprocess.run(DIFFKIT + ["derive"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
                       preexec_fn=lambda: os.close(1))
    assert r.returncode == 1
    assert r.stderr.decode().startswith("Error: standard output is closed") and r.stderr.count(b"\n") == 1


def test_an_ascii_terminal_gets_ascii_renderings():
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    r = _run(["derive"], env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("ascii")
    assert "dL/dw = (sigma(wx + b) - y)*sigma'(wx + b)*x + 2*lambda*w" in out
    r = _run(["derive", "--expr", "σ(w)", "--wrt", "w"], env=env)  # an error line is ASCII too
    assert r.returncode == 2 and r.stderr.decode("ascii").startswith("Error: ")


def test_ctrl_c_is_one_line_exit_130_and_leaves_no_file(tmp_path):
    out = tmp_path / "reports" / "r.html"
    p = subprocess.Popen(DIFFKIT + ["report", "--out", str(out), "--no-timing"], stderr=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    time.sleep(4)  # well inside the run (imports, compare, the study)
    p.send_signal(signal.SIGINT)
    err = p.stderr.read().decode()
    code = p.wait(timeout=120)
    if code == 0:
        pytest.skip("the report finished before the interrupt")
    assert code == 130 and err == "Error: interrupted\n"
    assert list(tmp_path.iterdir()) == []


def test_no_runtime_warning_reaches_stderr():
    r = _run(["compare", "--expr", "log(w)", "--wrt", "w", "--at", "w=2", "--points", "40"])
    assert b"RuntimeWarning" not in r.stderr and b".py:" not in r.stderr
