"""Fuzzing the command line and the API with Hypothesis, on a bounded budget.

The invariants, for any arguments:

* the exit code is 0, 1 or 2; a non-zero exit prints exactly one ``Error:`` line (or, for exit 1,
  a verdict on standard output: a wrong claim, a FAILED agreement);
* nothing prints a traceback, "internal error", a raw NumPy warning or an internal path;
* a call under the default limits uses at most 10 s of CPU (a hang would be caught by a wall
  clock alarm, far above that);
* no file appears in the working folder except the outputs the arguments name;
* the API raises nothing but DiffkitError subclasses.

The whole module stays under the ≤ 60 s the issue allows (``max_examples`` below).
"""

from __future__ import annotations

import io
import os
import resource
import signal
import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from diffkit.cli import main  # noqa: E402

CPU_LIMIT_S = 10.0
WALL_LIMIT_S = 60.0
BANNED = ("Traceback", "internal error", "RuntimeWarning", ".py:", "Exception ignored")

ints = st.one_of(st.integers(-3, 70), st.sampled_from([0, 1, 2, 64, 65, 100000, 100001, 10**12, -10**6]))
reals = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                  st.sampled_from([0.0, -0.0, 1e-300, 1e300, -1.0, 0.5]))
junk = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "-", "--", "nan", "inf", "1e999", "0x10",
                                                        "１", "σ", "a=b", "0..3", "1,,2", "-1", "w" * 300]))


def _num(s):
    return st.one_of(s.map(str), junk)


VALUES = {
    "--depth": _num(ints), "--dim": _num(ints), "--points": _num(st.integers(-2, 40)),
    "--seed": _num(ints), "--seeds": st.one_of(junk, st.sampled_from(["0", "0..2", "0,1", "5..1", "0..4294967295"])),
    "--sizes": st.one_of(junk, st.lists(st.integers(-1, 5), min_size=0, max_size=4).map(
        lambda v: ",".join(map(str, v)))),
    "--activations": st.one_of(junk, st.lists(st.sampled_from(["sigmoid", "tanh", "relu", "gelu", "identity"]),
                                              max_size=3).map(",".join)),
    "--mlp-loss": st.one_of(junk, st.sampled_from(["squared", "cross-entropy"])),
    "--expr": st.one_of(junk, st.sampled_from(["w*x", "log(w)", "sqrt(w)", "1/w", "w**x", "exp(w)**2",
                                               "relu(w*x + b)**2", "sigmoid(w)*tanh(b)", "__import__('os')",
                                               "(" * 120 + "w" + ")" * 120, "max(w, b)", "w ^ 2"])),
    "--wrt": st.one_of(junk, st.sampled_from(["w", "w,b", "b", "q", "w,w"])),
    "--at": st.one_of(junk, st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["w", "b", "x", "q"]),
                                      _num(reals))),
    "--form": st.one_of(junk, st.sampled_from(["lecture", "expanded", "cse", "matrix"])),
    "--max-n": _num(st.integers(-1, 14)),
    "--claims": st.sampled_from(["claims.txt", "missing.txt", ".", "pipe", "/dev/null", "-"]),
    "--n": _num(st.integers(-1, 400)), "--d": _num(st.integers(-1, 6)), "--epochs": _num(st.integers(-1, 4)),
    "--lam": _num(reals), "--eps": _num(reals), "--noise": _num(reals), "--condition": _num(reals),
    "--batch": _num(st.integers(-1, 50)), "--methods": st.one_of(junk, st.sampled_from(["gd", "sgd,gd", "adam"])),
    "--C": st.one_of(_num(reals), st.sampled_from(["gd=0.5", "gd=1,gd=2", "adam=1"])),
    "--data-seed": _num(ints), "--val": _num(reals), "--test": _num(reals),
}
MODEL = st.one_of(st.sampled_from(["ridge-sigmoid", "linear-regression", "logistic-regression", "mlp",
                                   "logistic-map"]), junk)
#: Each command with the options the fuzzer may give it (cheap defaults; nothing near a budget).
COMMANDS = {
    "compare": ["--depth", "--dim", "--points", "--seed", "--sizes", "--activations", "--mlp-loss", "--expr",
                "--wrt", "--at"],
    "backprop": ["--depth", "--dim", "--sizes", "--activations", "--expr", "--wrt", "--at"],
    "derive": ["--depth", "--dim", "--sizes", "--activations", "--mlp-loss", "--expr", "--wrt", "--form"],
    "check": ["--claims", "--points", "--seed", "--depth", "--expr", "--wrt", "--at"],
    "swell": ["--max-n"],
    "train": ["--n", "--d", "--epochs", "--lam", "--eps", "--noise", "--condition", "--batch", "--methods",
              "--C", "--seeds", "--data-seed", "--val", "--test"],
}


@st.composite
def command_lines(draw):
    cmd = draw(st.sampled_from(sorted(COMMANDS)))
    argv = [cmd]
    if cmd in ("compare", "backprop", "derive", "check") and draw(st.booleans()):
        argv.append(draw(MODEL))
    for opt in draw(st.lists(st.sampled_from(COMMANDS[cmd]), max_size=4, unique=True)):
        argv += [opt, draw(VALUES[opt])]
    if cmd == "check" and "--claims" not in argv:
        argv += ["--claims", "claims.txt"]
    if cmd == "train" and "--epochs" not in argv:
        argv += ["--epochs", "2"]
    if cmd == "swell" and "--max-n" not in argv:
        argv += ["--max-n", "4"]
    if cmd in ("compare", "check") and "--points" not in argv:
        argv += ["--points", "3"]
    return argv


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


class _Hang(BaseException):
    pass


def _run(argv: list[str], root: Path) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr, sys.stdin = out, err, io.StringIO("d_b = d_z\n")

    def alarm(signum, frame):
        raise _Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, WALL_LIMIT_S)
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    try:
        code = main(argv)
    except _Hang:
        code = "hang"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        sys.stdout, sys.stderr, sys.stdin = saved
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    return code, out.getvalue(), err.getvalue(), cpu


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@settings(max_examples=int(os.environ.get("DIFFKIT_FUZZ_CLI", 80)), deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=not os.environ.get("DIFFKIT_FUZZ_RANDOM"))
@given(argv=command_lines())
def test_fuzz_the_command_line(argv, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "claims.txt").write_text("d_b = d_z\nd_w = d_z * x\n")
    if not (root / "pipe").exists():
        os.mkfifo(root / "pipe")
    before = _files(root)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code, out, err, cpu = _run(argv, root)
    finally:
        os.chdir(cwd)
    assert code in (0, 1, 2), (argv, code, err)
    if code != 0 and not (code == 1 and not err and out):
        assert err.startswith("Error: ") and err.count("\n") == 1, (argv, err)
    assert not any(b in err for b in BANNED), (argv, err)
    assert cpu <= CPU_LIMIT_S, (argv, cpu)
    assert _files(root) == before, (argv, _files(root) - before)


# -- the API --------------------------------------------------------------------------------------

def _api_calls():
    import numpy as np

    import diffkit as dk
    from diffkit.analysis.checker import check_claims
    from diffkit.analysis.listing import backprop_listing
    from diffkit.optim import Schedule, make_data

    m = dk.builtin("ridge-sigmoid")
    return {
        # cost-driving sizes stay small here (the CLI's budgets judge big ones); out-of-range ones are refused
        "compare": lambda v: dk.compare(m, points=v if not isinstance(v, int) or not 50 < v <= 100_000 else 3)
        if isinstance(v, int) else dk.compare(v, points=0),
        "derive": lambda v: dk.derive(m, form=v) if isinstance(v, str) else dk.derive(v),
        "point": lambda v: m.point({"w": v}),
        "random_points": lambda v: m.random_points(v if isinstance(v, int) else 2, vary=v if isinstance(v, str) else "all"),
        "builtin": lambda v: dk.builtin("logistic-map", n=v),
        "mlp": lambda v: dk.builtin("mlp", sizes=v if isinstance(v, (tuple, list)) else (2, v, 1)),
        "model_from_expr": lambda v: dk.model_from_expr(v if isinstance(v, str) else "w*x", "w",
                                                         at=None if isinstance(v, str) else {"x": v}),
        "backprop_listing": lambda v: backprop_listing(m, {"w": v}),
        "check_claims": lambda v: check_claims(m, "d_b = d_z", rtol=v, points=0),
        "make_data": lambda v: make_data(n=v if isinstance(v, int) else 5, d=1, seed=0,
                                         noise=v if isinstance(v, float) else 0.1),
        "schedule": lambda v: Schedule("c/k", C=1.0).steps(v if isinstance(v, int) else 0, 3),
        "to_numpy": lambda v: dk.to_numpy(v, [m.params[0]]),
        "parse": lambda v: dk.parse(v),
        "engine_from_array": lambda v: __import__("diffkit.engine", fromlist=["sum"]).grad(
            lambda x: __import__("diffkit.engine", fromlist=["sum"]).sum(x * x))(np.array([1.0, 2.0])),
    }


API_VALUES = st.one_of(st.none(), st.booleans(), ints, reals, junk, st.lists(ints, max_size=3),
                       st.tuples(ints, ints), st.dictionaries(junk, reals, max_size=2))


@settings(max_examples=int(os.environ.get("DIFFKIT_FUZZ_API", 150)), deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=not os.environ.get("DIFFKIT_FUZZ_RANDOM"))
@given(name=st.sampled_from(sorted(_api_calls())), value=API_VALUES)
def test_fuzz_the_api_raises_only_diffkit_errors(name, value):
    from diffkit.errors import DiffkitError

    call = _api_calls()[name]
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    try:
        call(value)
    except DiffkitError:
        pass
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    assert (c1.ru_utime - c0.ru_utime) <= CPU_LIMIT_S, (name, value)
