"""A hostile user's corpus: bad and extreme inputs across every command, every option and the API.

``python tests/reliability/hostile_corpus.py [--only WORD] [--json PATH] [--limit-s 30]`` runs
every case in this process (each in a fresh empty working folder, with an address-space limit
of 4 GiB and a per-case time limit) and checks the promises of the guide:

* the exit code is 0, 1 or 2; a non-zero exit prints exactly one line ``Error: ...``;
* bad input (``expect="bad"``) exits 2; nothing prints a traceback, "internal error", a NumPy
  ``RuntimeWarning`` or an internal file path;
* no case runs past the time limit (no hang) or runs out of memory;
* no file appears in the working folder except the outputs the case names;
* the Python API raises only DiffkitError subclasses (BadInput for bad arguments).

It prints one line per failing case and a count per category; the exit status is the number of
failures (0: all promises kept).  ``tests/reliability/test_hostile_corpus.py`` runs a sample of
it in the default test suite.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
LECTURE_CLAIMS = REPO / "examples" / "lecture-backprop.txt"

#: xfail reasons: cases whose failure is known and owned elsewhere.
ENGINE_API = "engine issue 9 (argument checks of the engine's public functions)"


@dataclass
class Case:
    category: str
    kind: str                      # "cli" or "api"
    args: Any                      # argv list, or a zero-argument callable
    expect: str = "bad"            # "bad" (exit 2 / BadInput), "ok" (exit 0 or 1 / no error), "any"
    outputs: tuple[str, ...] = ()  # files the case may create (relative to its working folder)
    setup: Callable[[Path], None] | None = None
    xfail: str = ""
    label: str = ""
    must: str = ""                 # "bad": text the one Error line must contain (the option's name)

    def name(self) -> str:
        if self.label:
            return self.label
        if self.kind == "cli":
            text = " ".join(self.args)
            return "diffkit " + (text if len(text) <= 90 else text[:87] + "...")
        return getattr(self.args, "__name__", "api call")


def _fifo(name="pipe"):
    def setup(d: Path):
        os.mkfifo(d / name)
    return setup


def _file(name, data: bytes | str):
    def setup(d: Path):
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
    return setup


def _chain(*fns):
    def setup(d: Path):
        for f in fns:
            f(d)
    return setup


# -- the cases ----------------------------------------------------------------------------------

def cli_cases() -> list[Case]:
    C: list[Case] = []

    def add(cat, argv, expect="bad", **kw):
        C.append(Case(cat, "cli", list(argv), expect, **kw))

    model_cmds = ("compare", "backprop", "derive", "report")
    # model names and model options, on every model command
    for cmd in model_cmds + ("check",):
        extra = ["--claims", str(LECTURE_CLAIMS)] if cmd == "check" else []
        extra += ["--out", "r.html"] if cmd == "report" else []
        for argv in (["nonesuch"], ["__import__"], ["RIDGE-SIGMOID"], ["logistic-map", "--depth", "0"],
                     ["logistic-map", "--depth", "65"], ["logistic-map", "--depth", "-1"],
                     ["logistic-map", "--depth", "abc"], ["logistic-map", "--depth", "1e3"],
                     ["logistic-map", "--depth", "99999999999999999999999"],
                     ["linear-regression", "--dim", "0"], ["linear-regression", "--dim", "1001"],
                     ["mlp", "--sizes", "2"], ["mlp", "--sizes", "2,x"], ["mlp", "--sizes", "2,0,1"],
                     ["mlp", "--sizes", ",".join(["2"] * 30)], ["mlp", "--sizes", "100000,100000"],
                     ["mlp", "--sizes", "2,3,1", "--activations", "gelu,identity"],
                     ["mlp", "--sizes", "2,3,1", "--activations", "sigmoid"],
                     ["mlp", "--mlp-loss", "hinge"], ["ridge-sigmoid", "--depth", "3"],
                     ["logistic-map", "--dim", "3"], ["--expr", "w*x", "--depth", "2"],
                     ["ridge-sigmoid", "--expr", "w*x", "--wrt", "w"], ["--wrt", "w"],
                     ["--at", "w=nan"], ["--at", "w=inf"], ["--at", "w"], ["--at", "w=1,w=2"],
                     ["--at", "q=1"], ["--at", "w=" + "1" * 20000]):
            if cmd == "derive" and argv[:1] == ["--at"]:
                continue  # derive takes no point
            cat = "model options" if argv[0] != "--at" else "points (--at)"
            add(cat, [cmd, *argv, *extra], outputs=("r.html", "r.pdf"))
        for text in ("__import__('os').system('true')", "lambda: 0", "w.__class__", "[w for w in x]",
                     "w ^ 2", "w; x", "'w'", "9**9**9", "w**100000", "(" * 200 + "w" + ")" * 200,
                     "-" * 500 + "w", "w" * 20000, "exp(", "w +", "foo(w)", "sigmoid", "max(w)",
                     "log(w, 2)", "1/0", "0**-1", "w\x00", "w\nx", "σ(w)", "ｗ", "1e999*w",
                     " + ".join(f"w*x{i}" for i in range(2500))):
            add("expressions", [cmd, "--expr", text, "--wrt", "w", *extra], outputs=("r.html", "r.pdf"))
        for wrt in ("", "q", "w,w", "1w", "w" * 5000, ",,,"):
            add("expressions", [cmd, "--expr", "w*x", "--wrt", wrt, *extra], outputs=("r.html", "r.pdf"))
    # domains: the point outside a function's domain, or an overflow
    for cmd in ("compare", "backprop", "check", "report"):
        extra = ["--claims", str(LECTURE_CLAIMS)] if cmd == "check" else []
        extra += ["--out", "r.html"] if cmd == "report" else []
        for expr, at in (("log(w) + x", "w=0,x=1"), ("1/w", "w=0"), ("sqrt(w)", "w=-1"), ("w**x", "w=-1,x=0.5"),
                         ("exp(w)**2", "w=400"), ("w**2", "w=1e200"), ("log(w)", "w=-1e-300"),
                         ("sqrt(w)", "w=0")):
            add("domains", [cmd, "--expr", expr, "--wrt", "w", "--at", at, *extra], outputs=("r.html", "r.pdf"))
    add("domains", ["compare", "--at", "w=1e200"])
    add("domains", ["backprop", "--at", "w=1e300"])
    add("domains", ["compare", "--expr", "log(w)", "--wrt", "w", "--at", "w=2", "--points", "200"], "ok")
    add("domains", ["compare", "--expr", "w**x", "--wrt", "w", "--at", "w=2,x=0.5"], "ok")
    # compare
    for pts in ("-1", "100001", "1e3", "abc", "1000000000000"):
        add("compare", ["compare", "--points", pts])
    for seed in ("-1", "abc", "1.5", "0..3", "4294967296", "", "9" * 5000):
        add("seeds", ["compare", "--seed", seed])
    add("compare", ["compare", "--points", "0"], "ok")
    add("compare", ["compare", "--seed", "4294967295", "--points", "3"], "ok")
    add("compare", ["compare", "--report", "r.txt"])
    add("compare", ["compare", "--report", "r.html", "--points", "0"], "ok", outputs=("r.html", "r.pdf"))
    add("compare", ["compare", "--nope"])
    add("compare", ["compare", "a", "b"])
    # check
    bad_claims = {"empty": "", "garbage": "this is not a claim\n", "unknown": "d_q = 1\n",
                  "dunder": "d_w = __import__('os')\n", "binary": b"\xff\xfe\x00\x01",
                  "deep": "d_w = " + "(" * 300 + "1" + ")" * 300 + "\n", "nul": "d_w = 1\x00\n"}
    for name, data in bad_claims.items():
        add("files", ["check", "--claims", f"{name}.txt"], setup=_file(f"{name}.txt", data))
    add("files", ["check", "--claims", "missing.txt"])
    add("files", ["check", "--claims", "."])
    add("files", ["check", "--claims", "pipe"], setup=_fifo())
    add("files", ["check", "--claims", "/dev/zero"])
    add("files", ["check", "--claims", "/dev/null"])
    add("files", ["check", "--claims", "big.txt"], setup=_file("big.txt", b"d_w = 1\n" * 300_000))
    add("files", ["check"])
    add("check", ["check", "--claims", str(LECTURE_CLAIMS), "--points", "-1"])
    add("check", ["check", "--claims", str(LECTURE_CLAIMS), "--points", "1000000000000"])
    add("check", ["check", "--claims", str(LECTURE_CLAIMS), "--seed", "-1"])
    add("check", ["check", "--claims", str(LECTURE_CLAIMS)], "ok")
    add("check", ["check", "--claims", "ok.txt", "--points", "0"], "ok", setup=_file("ok.txt", "d_b = d_z\n"))
    # derive
    for form in ("bogus", "", "MATRIX"):
        add("derive", ["derive", "--form", form])
    add("derive", ["derive", "ridge-sigmoid", "--form", "matrix"])
    add("derive", ["derive", "--expr", "tanh(w*x + b)**7 * tanh(w - b)**5 + tanh(w*b)**3", "--wrt", "w,b",
                   "--form", "simplified"], "any")
    add("derive", ["derive", "mlp", "--sizes", "300,300"])
    add("derive", ["derive", "linear-regression", "--dim", "1000"])
    add("derive", ["derive", "logistic-map", "--depth", "64"])
    add("derive", ["derive", "logistic-map", "--depth", "64", "--form", "matrix"])
    add("derive", ["derive", "--hessian", "logistic-map", "--depth", "20"])
    add("derive", ["derive", "--latex", "--hessian"], "ok")
    # swell
    for n in ("0", "13", "-1", "x"):
        add("swell", ["swell", "--max-n", n])
    add("swell", ["swell", "--max-n", "12"], "ok")
    add("swell", ["swell", "--backend", "nonesuch"])
    # backprop at its limits: depth 64 is linear in the steps
    add("backprop", ["backprop", "logistic-map", "--depth", "64"], "ok")
    add("expressions", ["derive", "--expr", "w*" * 3000 + "w", "--wrt", "w"], "ok")  # SymPy makes it w**3001
    add("backprop", ["backprop", "linear-regression", "--dim", "1000"], "any")
    add("backprop", ["backprop", "--latex", "--json"], "ok")
    # limits: the hangs, refused or finished in time
    add("limits", ["backprop", "logistic-map", "--depth", "30"], "ok")
    add("limits", ["derive", "--expr", "tanh(w*x + b)**20", "--wrt", "w,b", "--form", "simplified"], "any")
    for argv in (["compare", "logistic-map", "--depth", "64"],
                 ["compare", "--points", "100000"], ["compare", "linear-regression", "--dim", "1000"],
                 ["compare", "mlp", "--sizes", "8,8,1"], ["compare", "--expr", " + ".join(
                     f"sigmoid(w*{i} + b)" for i in range(600)), "--wrt", "w,b", "--at", "w=0.1,b=0.2"],
                 ["report", "--epochs", "10000", "--n", "1000000", "--out", "r.html"],
                 ["report", "--seeds", "0..49", "--epochs", "10000", "--out", "r.html"]):
            add("limits", argv, "bad", outputs=("r.html", "r.pdf"))
    # report paths: bad ones leave nothing behind
    for out in ("r.txt", "r", ".", "nodir/", "x" * 300 + ".html", "afile/r.html", "ro/r.html", "r\x00.html"):
        setup = None
        if out.startswith("afile"):
            setup = _file("afile", "x")
        if out.startswith("ro/"):
            if os.geteuid() == 0:
                continue  # root writes into a read-only folder anyway
            def setup(d: Path):
                (d / "ro").mkdir()
                os.chmod(d / "ro", 0o500)
        add("report", ["report", "--out", out], setup=setup, outputs=("afile", "ro"))
    for argv in (["--n", "1"], ["--n", "10000000"], ["--d", "0"], ["--epochs", "0"], ["--epochs", "-5"],
                 ["--seeds", "-1"], ["--seeds", "0..99"], ["--seeds", "x"], ["--eps", "-1"], ["--eps", "nan"],
                 ["--lam", "nan"], ["--lam", "-1"], ["--points", "-1"], ["--data", "nonesuch.csv"],
                 ["--data", "pipe"], ["--data", "/dev/zero"], ["--target", "y"]):
        add("report", ["report", *argv, "--out", "reports/r.html"], setup=_fifo() if "pipe" in argv else None)
    add("report", ["report", "--out", "deep/er/r.html", "--no-timing", "--points", "0", "--epochs", "2",
                   "--seeds", "0", "--n", "100"], "ok", outputs=("deep/er/r.html", "deep/er/r.pdf", "deep/er", "deep"))
    # train
    csv_ok = "x1,x2,y\n" + "".join(f"{i % 7 / 7},{i % 3 / 3},{(i % 5) / 5}\n" for i in range(60))
    for argv in (["--methods", "gd,adam"], ["--methods", ""], ["--methods", "gd,gd"], ["--schedule", "cosine"],
                 ["--schedule", "gd=bogus"], ["--C", "abc"], ["--C", "-1"], ["--C", "0"], ["--C", "nan"],
                 ["--C", "gd=1,gd=2"], ["--C", "adam=1"], ["--k0", "-1"], ["--k0", "x"], ["--lam", "nan"],
                 ["--lam", "-1"], ["--lam", "inf"], ["--epochs", "0"], ["--epochs", "-1"], ["--epochs", "x"],
                 ["--epochs", "10000000"], ["--epochs", "gd=0"], ["--batch", "0"], ["--batch", "-1"],
                 ["--seeds", "-1"], ["--seeds", "0..9999"], ["--seeds", "1,1"], ["--seeds", "a"],
                 ["--sampling", "cyclic"], ["--gradient", "magic"], ["--init", "random"], ["--patience", "-1"],
                 ["--eps", "0"], ["--eps", "-1"], ["--eps-rel", "0"], ["--eps-rel", "2"], ["--eps-rel", "nan"],
                 ["--sweep", "0"], ["--sweep", "-3"], ["--sweep", "100000"], ["--best-seeds", "0..3"],
                 ["--plot", "p.pdf"], ["--plot", "."], ["--plot", "nodir/p.svg"], ["--x", "bogus"],
                 ["--workers", "0"], ["--workers", "-1"], ["--workers", "100000"], ["--workers", "2", "--scheduler", "x"],
                 ["--scheduler", "tcp://127.0.0.1:1"], ["--val", "-0.1"], ["--val", "1"], ["--val", "0.6", "--test", "0.6"],
                 ["--test", "nan"], ["--split-seed", "-1"], ["--data-seed", "-1"], ["--n", "0"], ["--n", "100000000"],
                 ["--d", "0"], ["--d", "100000"], ["--noise", "-1"], ["--noise", "nan"], ["--condition", "0.5"],
                 ["--condition", "inf"], ["--target", "y"], ["--data", "missing.csv", "--target", "y"],
                 ["--data", "pipe", "--target", "y"], ["--data", "/dev/zero", "--target", "y"], ["--data", "."],
                 ["--data", "ok.csv"], ["--data", "ok.csv", "--target", "nope"], ["--data", "ok.csv", "--target", "y", "--n", "5"],
                 ["--data", "bad.csv", "--target", "y"], ["--data", "ragged.csv", "--target", "y"],
                 ["--data", "dup.csv", "--target", "y"], ["--data", "empty.csv", "--target", "y"],
                 ["--data", "nonesuch"], ["--data", "diabetes", "--target", "y"], ["--stream"],
                 ["mlp", "--sizes", "2,x"], ["ridge-sigmoid", "--sizes", "2,3,1"], ["nonesuch"],
                 ["mlp", "--data", "moons", "--sizes", "3,4,1"], ["--data", "moons", "--batch", "100000"]):
        setup = _chain(_fifo(), _file("ok.csv", csv_ok), _file("bad.csv", "x1,y\n1,abc\n"),
                       _file("ragged.csv", "x1,x2,y\n1,2\n"), _file("dup.csv", "x1,x1,y\n1,2,3\n"),
                       _file("empty.csv", ""))
        add("train", ["train", *argv, "--epochs", "2"] if "--epochs" not in argv else ["train", *argv],
            setup=setup, outputs=("pipe", "ok.csv", "bad.csv", "ragged.csv", "dup.csv", "empty.csv"))
    add("train", ["train", "--n", "200", "--d", "3", "--epochs", "3", "--json"], "ok")
    add("train", ["train", "--data", "ok.csv", "--target", "y", "--epochs", "2", "--plot", "p.svg"], "ok",
        setup=_file("ok.csv", csv_ok), outputs=("ok.csv", "p.svg"))
    add("train", ["optimize", "--seeds", "-1"])
    # profile, hessian, higher, jacobian, breakeven
    for argv in (["profile", "--seeds", "-1"], ["profile", "--seeds", "0..999"], ["profile", "--eps-rel", "0"],
                 ["profile", "--eps-rel", "nan"], ["profile", "--problems", "nonesuch"], ["profile", "--methods", "x"],
                 ["profile", "--plot", "p.txt"], ["profile", "--workers", "0"],
                 ["hessian", "--n", "0"], ["hessian", "--n", "100001"], ["hessian", "--dim", "0"],
                 ["hessian", "--dim", "501"], ["hessian", "--lam", "-1"], ["hessian", "--lam", "nan"],
                 ["hessian", "--seed", "-1"], ["hessian", "nonesuch"], ["hessian", "logistic-map", "--depth", "64"],
                 ["hessian", "--n", "100000", "--dim", "500"], ["hessian", "mlp", "--sizes", "300,300"],
                 ["higher", "--max-k", "0"], ["higher", "--max-k", "11"], ["higher", "nonesuch"],
                 ["higher", "--expr", "__import__('os')", "--wrt", "x"], ["higher", "--expr", "x*y", "--wrt", "x,y"],
                 ["higher", "--expr", "x", "--wrt", "q"], ["higher", "--at", "x=nan"],
                 ["higher", "--expr", "log(x)", "--wrt", "x", "--at", "x=0"],
                 ["higher", "--expr", "sigmoid(sigmoid(sigmoid(sigmoid(x))))*tanh(tanh(x))", "--wrt", "x",
                  "--max-k", "10"],
                 ["jacobian", "--inputs", "0"], ["jacobian", "--inputs", "2001"], ["jacobian", "--outputs", "0"],
                 ["jacobian", "--repeats", "0"], ["jacobian", "--repeats", "101"],
                 ["breakeven", "--models", "nonesuch"], ["breakeven", "--repeats", "0"], ["breakeven", "--repeats", "101"]):
        add("analysis commands", argv, outputs=())
    add("analysis commands", ["hessian", "ridge-sigmoid"], "ok")
    add("analysis commands", ["higher", "--max-k", "10"], "ok")
    add("analysis commands", ["jacobian", "--inputs", "2000", "--outputs", "2000", "--repeats", "1"], "any")
    add("analysis commands", ["breakeven", "--models", "ridge-sigmoid", "--repeats", "1"], "ok")
    # the command line itself
    for argv in ([], ["--help"], ["nonesuch"], ["--version"], ["compare", "--help"], ["train", "--help"]):
        add("usage", argv, "any")
    return C


#: cheap settings of each command, so a case costs only what the option under test drives
_BASE = {
    "compare": ["--points", "0"], "check": ["--claims", str(LECTURE_CLAIMS), "--points", "0"],
    "report": ["--out", "r.html", "--no-timing", "--points", "0", "--epochs", "2", "--seeds", "0", "--n", "100"],
    "explore": ["--out", "e.html"], "train": ["--epochs", "2", "--n", "200"], "optimize": ["--epochs", "2", "--n", "200"],
    "profile": ["--problems", "diabetes", "--seeds", "0"], "swell": ["--max-n", "4"], "jacobian": ["--repeats", "1"],
    "breakeven": ["--repeats", "1", "--models", "ridge-sigmoid"],
}
#: the model an option needs to apply (else it is refused as not applying, which proves nothing)
_NEEDS = {"--depth": "logistic-map", "--dim": "linear-regression", "--sizes": "mlp", "--activations": "mlp",
          "--mlp-loss": "mlp"}
_OUTPUTS = ("r.html", "r.pdf", "e.html", "p.svg", "reports", "explore")


def _range_values(text: str, kind: str):
    """(past, at) values for the range ``text`` of an option's help, e.g. ``1..64``, ``number ≥ 0``."""
    import re

    past, at = [], []
    m = re.search(r"at most (\d+) seeds", text)
    if m:
        k = int(m.group(1))
        return [f"0..{k}", "-1", "0,0"], [f"0..{k - 1}"]
    m = re.search(r"(\d+) to (\d+) widths, each (\d+)\.\.(\d+)", text)
    if m:
        lo, hi, wlo, whi = map(int, m.groups())
        return ([",".join(["2"] * (hi + 1)), "2", f"2,{wlo - 1},1", f"2,{whi + 1},1"],
                [",".join(["2"] * hi), f"2,{whi},1"])
    m = re.search(r"a string of (\d+) to (\d+) characters", text)
    if m:
        hi = int(m.group(2))
        return ["w" * (hi + 1)], [("w*x + " * hi)[: hi - 3] .rstrip(" +") or "w"]
    m = re.search(r"(-?[\d.e+]+)\.\.(-?[\d.e+]+)", text)
    if m:
        lo, hi = (float(g) for g in m.groups())
        step = 1 if kind == "integer" else 0.5
        fmt = (lambda v: str(int(v))) if kind == "integer" else (lambda v: repr(float(v)))
        past = [fmt(lo - step), fmt(hi + step * max(1.0, abs(hi) * 1e-6) if kind != "integer" else hi + 1)]
        if kind != "integer":
            past.append("nan")
        return past, [fmt(hi)]
    m = re.search(r"number ([≥>]) (-?[\d.]+)", text)
    if m:
        v = float(m.group(2))
        return ([repr(v - 1.0) if m.group(1) == "≥" else repr(v), "nan", "inf", "-inf"],
                ["1e300"])
    m = re.search(r"number in ([\[(])(-?[\d.]+), (-?[\d.]+)([\])])", text)
    if m:
        lo, hi = float(m.group(2)), float(m.group(3))
        past = ["nan", repr(hi + 1e-9) if m.group(4) == "]" else repr(hi), repr(lo - 1e-9) if m.group(1) == "[" else repr(lo)]
        return past, [repr(hi - 1e-6)]
    return [], []


def option_cases() -> list[Case]:
    """Every option of every command, from its own ``--help``: values just past each advertised limit
    (refused, exit 2, the message naming the option), the value at the limit (done, or refused by the
    budget before any work, never by the range), and junk (any outcome, the promises kept)."""
    import re

    import typer.main

    from diffkit.cli.app import app

    root = typer.main.get_command(app)
    out: list[Case] = []
    for cmd_name, cmd in sorted(root.commands.items()):
        base = _BASE.get(cmd_name, [])
        for p in cmd.params:
            if p.param_type_name == "argument" or getattr(p, "is_flag", False) or not p.opts[0].startswith("--"):
                continue
            flag = p.opts[0]
            help_text = " ".join((p.help or "").split())
            m = re.search(r"Allowed: (.*?)\.?$", help_text) or re.search(r"\(((?!e\.g\.)[^()]*\d\.\.\d[^()]*|≥ -?\d+)\)", help_text)
            allowed = m.group(1) if m else ""
            if m and m.group(0).startswith("(≥"):
                allowed = "number " + allowed
            model = [_NEEDS[flag]] if flag in _NEEDS and cmd_name not in ("jacobian", "swell", "profile") else []
            if flag == "--dim" and cmd_name == "hessian":
                model = []
            rest = [a for i, a in enumerate(base) if a != flag and (i == 0 or base[i - 1] != flag)]
            kind = "float" if p.bare_type() == "float" else "integer"  # seeds and per-method epochs are text
            past, at = _range_values(allowed, kind) if allowed else ([], [])
            cat = f"options: {cmd_name}"
            for v in past:
                out.append(Case(cat, "cli", [cmd_name, *model, *rest, flag, v], "bad", outputs=_OUTPUTS,
                                label=f"diffkit {cmd_name} {' '.join(model)} {flag} {v[:40]} (past {allowed[:30]})",
                                must=flag.lstrip("-")))
            for v in at:
                wrt = ["--wrt", "w"] if flag == "--expr" else []
                out.append(Case(cat, "cli", [cmd_name, *model, *rest, *wrt, flag, v], "limit", outputs=_OUTPUTS,
                                label=f"diffkit {cmd_name} {' '.join(model)} {flag} {v[:40]} (at the limit)",
                                must=allowed))
            for v in (("", "1e999", "x" * 20000) if p.bare_type() in ("int", "float") else ("", "\x00", "x" * 20000, "１")):
                out.append(Case(f"junk: {cmd_name}", "cli", [cmd_name, *model, *rest, flag, v], "any",
                                outputs=_OUTPUTS, label=f"diffkit {cmd_name} {flag} {v[:12]!r}"))
    return out


#: how a command is started with a hostile standard output: the shell redirection, the exit codes
#: allowed, and the one stderr line expected (None: empty)
_STREAMS = {
    "/dev/full": ("> /dev/full", (1,), "Error: cannot write to standard output"),
    "closed stdout": (">&-", (1,), "Error: standard output is closed"),
    "ascii terminal": ("", (0, 1), None),
}
_STREAM_COMMANDS = (["compare", "--points", "2"], ["derive"], ["backprop"], ["check", "--claims", str(LECTURE_CLAIMS),
                    "--points", "2"], ["swell", "--max-n", "4"], ["train", "--epochs", "2", "--n", "100"],
                    ["hessian", "ridge-sigmoid"], ["higher", "--max-k", "3"], ["derive", "--json"],
                    ["compare", "--json", "--points", "0"], ["--help"], ["compare", "--help"],
                    ["report", "--no-timing", "--points", "0", "--sections", "model", "--out", "r.html"])


def stream_cases() -> list[Case]:
    """Each command with standard output on a full disk, closed, or an ASCII-only encoding (in a
    subprocess: the operating system's streams, not Python's)."""
    out = []
    for how in _STREAMS:
        for argv in _STREAM_COMMANDS:
            if how != "ascii terminal" and argv[-1] == "--help":
                continue
            out.append(Case(f"streams: {how}", "proc", list(argv), "any", outputs=("r.html", "r.pdf"),
                            label=f"diffkit {' '.join(a if len(a) < 30 else Path(a).name for a in argv)} [{how}]",
                            must=how))
    # a bad option with an ASCII-only terminal: the one error line is ASCII too
    out.append(Case("streams: ascii terminal", "proc", ["compare", "--at", "σ=1"], "bad",
                    label="diffkit compare --at σ=1 [ascii terminal]", must="ascii terminal"))
    out.append(Case("streams: ascii terminal", "proc", ["train", "--lam", "-1"], "bad",
                    label="diffkit train --lam -1 [ascii terminal]", must="ascii terminal"))
    return out


def api_cases() -> list[Case]:
    import numpy as np

    import diffkit as dk
    from diffkit import optim
    from diffkit.analysis.checker import check_claims
    from diffkit.analysis.listing import backprop_listing
    from diffkit.optim import Dataset, Schedule, load_csv, make_data, study
    from diffkit.report import StudySettings, write_report

    m = dk.builtin("ridge-sigmoid")
    C: list[Case] = []

    def add(cat, fn, expect="bad", label="", xfail=""):
        C.append(Case(cat, "api", fn, expect, label=label, xfail=xfail))

    bad_any = [None, 3, "x", object(), float("nan"), -1, [], {}]
    for i, v in enumerate(bad_any):
        add("api: models", lambda v=v: dk.compare(v), label=f"compare({v!r})")
        add("api: models", lambda v=v: dk.derive(v), label=f"derive({v!r})")
        add("api: models", lambda v=v: dk.gradient(v), label=f"gradient({v!r})")
        add("api: models", lambda v=v: dk.hessian(v), label=f"hessian({v!r})")
        add("api: models", lambda v=v: backprop_listing(v), label=f"backprop_listing({v!r})")
        add("api: models", lambda v=v: dk.builtin(v), label=f"builtin({v!r})")
        if v is not None:  # load_model(None) is the default model
            add("api: models", lambda v=v: dk.load_model(v), label=f"load_model({v!r})")
        add("api: models", lambda v=v: dk.model_from_expr(v, "w"), label=f"model_from_expr({v!r}, 'w')")
        if v != "x":  # x is a symbol of w*x
            add("api: models", lambda v=v: dk.model_from_expr("w*x", v), label=f"model_from_expr('w*x', {v!r})")
        add("api: models", lambda v=v: dk.parse(v), label=f"parse({v!r})") if not isinstance(v, str) else None
        add("api: optim", lambda v=v: study(m, v), label=f"study(m, {v!r})")
        add("api: optim", lambda v=v: study(v, make_data(n=20, d=1)), label=f"study({v!r}, data)")
        add("api: report", lambda v=v: write_report(v, "r.html"), label=f"write_report({v!r})")
        if v != []:  # to_numpy([], []) is the empty function
            add("api: numeric", lambda v=v: dk.to_numpy(v, v), label=f"to_numpy({v!r}, {v!r})")
    add("api: models", lambda: dk.compare(m, points=-1), label="compare(points=-1)")
    add("api: models", lambda: dk.compare(m, points=10**9), label="compare(points=1e9)")
    add("api: models", lambda: dk.compare(m, seed=-1), label="compare(seed=-1)")
    add("api: models", lambda: dk.compare(m, seed="x"), label="compare(seed='x')")
    add("api: models", lambda: dk.compare(m, {"w": float("nan")}), label="compare(point w=nan)")
    add("api: models", lambda: dk.compare(m, {"q": 1.0}), label="compare(point q=1)")
    add("api: models", lambda: dk.compare(m, "w=1"), label="compare(point='w=1')")
    add("api: models", lambda: dk.derive(m, form="bogus"), label="derive(form='bogus')")
    add("api: models", lambda: dk.derive(m, form=None), label="derive(form=None)")
    add("api: models", lambda: dk.builtin("logistic-map", n=0), label="builtin(n=0)")
    add("api: models", lambda: dk.builtin("logistic-map", n=2.5), label="builtin(n=2.5)")
    add("api: models", lambda: dk.builtin("logistic-map", nope=1), label="builtin(nope=1)")
    add("api: models", lambda: dk.builtin("mlp", sizes="2,3,1"), label="builtin(mlp, sizes='2,3,1')")
    add("api: models", lambda: dk.builtin("mlp", sizes=(2, -3, 1)), label="builtin(mlp, sizes=(2,-3,1))")
    add("api: models", lambda: dk.builtin("mlp", activations=("gelu", "identity")), label="builtin(mlp, gelu)")
    add("api: models", lambda: dk.model_from_expr("w*x", "w", at={"x": float("nan")}), label="model_from_expr(at nan)")
    add("api: models", lambda: dk.model_from_expr("w*x", "w", at={"x": "one"}), label="model_from_expr(at 'one')")
    add("api: models", lambda: dk.model_from_expr("w*x", "w", at=[1, 2]), label="model_from_expr(at list)")
    add("api: models", lambda: dk.Model("x", None, ()), label="Model(no params)")
    add("api: models", lambda: dk.Model(3, None, ()), label="Model(name=3)")
    add("api: models", lambda: dk.Model("x", "w*x", ()), label="Model(loss=str)")
    add("api: models", lambda: dk.Model("x", None, ("w",)), label="Model(params=str)")
    add("api: models", lambda: m.point({"w": "abc"}), label="point(w='abc')")
    add("api: models", lambda: m.point({"w": float("inf")}), label="point(w=inf)")
    add("api: models", lambda: m.random_points(5, vary="bogus"), label="random_points(vary='bogus')")
    add("api: models", lambda: m.random_points(-5), label="random_points(-5)")
    add("api: models", lambda: m.random_points(5, seed=-1), label="random_points(seed=-1)")
    add("api: models", lambda: m.symbol("nope"), label="symbol('nope')")
    add("api: models", lambda: dk.parse("x" * 20000), label="parse(20 000 chars)")
    add("api: models", lambda: dk.parse("9**9**9"), label="parse(9**9**9)")
    add("api: models", lambda: dk.compare(dk.model_from_expr("log(w)", "w", at={"w": 0.0})), label="compare(log(0))")
    add("api: check", lambda: check_claims(m, "d_b = d_z", rtol=-1), label="check_claims(rtol=-1)")
    add("api: check", lambda: check_claims(m, "d_b = d_z", rtol=float("nan")), label="check_claims(rtol=nan)")
    add("api: check", lambda: check_claims(m, "d_b = d_z", points=-1), label="check_claims(points=-1)")
    add("api: check", lambda: check_claims(m, None), label="check_claims(text=None)")
    add("api: check", lambda: check_claims(None, "d_b = d_z"), label="check_claims(model=None)")
    add("api: optim", lambda: make_data(seed=-1), label="make_data(seed=-1)")
    add("api: optim", lambda: make_data(n=0), label="make_data(n=0)")
    add("api: optim", lambda: make_data(n=10**9, d=1000), label="make_data(n=1e9, d=1000)")
    add("api: optim", lambda: make_data(noise=float("nan")), label="make_data(noise=nan)")
    add("api: optim", lambda: make_data("bogus"), label="make_data('bogus')")
    add("api: optim", lambda: Dataset(np.array([["a", "b"]]), np.array([1.0]), ("x1", "x2")), label="Dataset(strings)")
    add("api: optim", lambda: Dataset(np.ones((2, 2)), np.ones(3), ("x1", "x2")), label="Dataset(shape mismatch)")
    add("api: optim", lambda: Dataset(np.ones((2, 2)), np.ones(2), ("x1", "x1")), label="Dataset(duplicate names)")
    add("api: optim", lambda: Dataset(None, None, ()), label="Dataset(None)")
    add("api: optim", lambda: Schedule("c/k", C=1.0).steps(-5, 3), label="Schedule.steps(-5, 3)")
    add("api: optim", lambda: Schedule("c/k", C=1.0).steps(0, -3), label="Schedule.steps(0, -3)")
    add("api: optim", lambda: Schedule("c/k", C=-1.0), label="Schedule(C=-1)")
    add("api: optim", lambda: Schedule("bogus"), label="Schedule('bogus')")
    add("api: optim", lambda: optim.RunConfig("gd", epochs=0), label="RunConfig(epochs=0)")
    add("api: optim", lambda: optim.RunConfig("adam"), label="RunConfig('adam')")
    data = make_data(n=50, d=1, seed=0)
    lr = dk.builtin("linear-regression", d=1)
    for kw in ({"lam": float("nan")}, {"lam": -1.0}, {"epochs": 0}, {"epochs": 10**9}, {"seeds": (-1,)},
               {"seeds": ()}, {"seeds": "0"}, {"batch": 0}, {"methods": ("adam",)}, {"eps": -1.0},
               {"C": float("nan")}, {"gradient": "magic"}, {"sampling": "bogus"}):
        add("api: optim", lambda kw=kw: study(lr, data, **kw), label=f"study({kw})")
    add("api: optim", lambda: load_csv("missing.csv", target="y"), label="load_csv(missing)")
    add("api: optim", lambda: load_csv("/dev/zero", target="y"), label="load_csv(/dev/zero)")
    add("api: optim", lambda: load_csv(None, target="y"), label="load_csv(None)")
    add("api: report", lambda: StudySettings(n=-1), label="StudySettings(n=-1)")
    add("api: report", lambda: StudySettings(seeds=(-1,)), label="StudySettings(seeds=(-1,))")
    add("api: report", lambda: StudySettings(eps=float("nan")), label="StudySettings(eps=nan)")
    add("api: report", lambda: write_report(dk.compare(m, points=0), "r.txt"), label="write_report(r.txt)")
    add("api: numeric", lambda: dk.to_numpy("w*x", []), label="to_numpy('w*x', [])")
    # the engine (issue 9 owns it; listed, marked, and reported)
    import diffkit.engine as de
    add("api: engine", lambda: de.sum(np.ones(2), axis=5), label="engine sum(ones(2), axis=5)")
    add("api: engine", lambda: de.mean(np.ones((2, 3)), axis=-3), label="engine mean(ones((2,3)), axis=-3)")
    add("api: engine", lambda: de.grad(lambda x: de.sum(x, axis=3))(np.ones(2)), label="engine grad(sum axis=3)")
    add("api: engine", lambda: de.grad(lambda x: x)(np.ones(3)), label="engine grad of a non-scalar")
    add("api: engine", lambda: de.grad(lambda x: de.sum(x * np.ones(3)))(np.ones(4)), label="engine shape mismatch")
    add("api: engine", lambda: de.grad(None)(1.0), label="engine grad(None)")
    add("api: engine", lambda: de.from_model(None), label="engine from_model(None)")
    return [c for c in C if c is not None]


def why_cases() -> list[Case]:
    """Each case the issue's "Why" lists, by itself (category "issue 14 why"), with the words its
    one line must contain where the issue says the message misled."""
    out: list[Case] = []
    csv_ok = "x1,x2,y\n" + "".join(f"{i % 7 / 7},{i % 3 / 3},{(i % 5) / 5}\n" for i in range(60))

    def cli(label, argv, expect="bad", must="", **kw):
        out.append(Case("issue 14 why", "cli", list(argv), expect, label=label, must=must, **kw))

    def proc(label, argv, how, expect="any"):
        out.append(Case("issue 14 why", "proc", list(argv), expect, label=label, must=how,
                        outputs=("r.html", "r.pdf")))

    cli("compare logistic-map --depth 64 (the help's maximum)", ["compare", "logistic-map", "--depth", "64"],
        must="budget")
    cli("backprop logistic-map --depth 30", ["backprop", "logistic-map", "--depth", "30"], "ok")
    cli("compare --points 100000 (the advertised maximum)", ["compare", "--points", "100000"], must="budget")
    cli("check --points 1000000000000", ["check", "--claims", str(LECTURE_CLAIMS), "--points", "1000000000000"],
        must="--points")
    cli("derive linear-regression --dim 1000", ["derive", "linear-regression", "--dim", "1000"], must="budget")
    cli("derive mlp --sizes 300,300", ["derive", "mlp", "--sizes", "300,300"], must="--sizes")
    cli("optimize --epochs 10000000", ["optimize", "--epochs", "10000000"], must="budget")
    cli("optimize --seeds 0..9999", ["optimize", "--seeds", "0..9999"], must="--seeds")
    cli("optimize --n 100000000", ["optimize", "--n", "100000000"], must="budget")
    cli("derive --form simplified on a 73-character tanh power",
        ["derive", "--expr", "(tanh(w*x + b) + tanh(w - b) + tanh(w*b) + tanh(x))**6 * tanh(w + b*x)**3",
         "--wrt", "w,b", "--form", "simplified"], "any")
    cli("compare on a 600-term sum within the length limit",
        ["compare", "--expr", "+".join(f"tanh({i}*w+b)" for i in range(1, 601)), "--wrt", "w,b",
         "--at", "w=0.01,b=0.2"], "any")
    for expr, at, must in (("log(w) + x", "w=0,x=1", "log(w) is undefined at w = 0"), ("1/w", "w=0", "w = 0"),
                           ("sqrt(w)", "w=-1", "sqrt"), ("exp(w)**2", "w=400", "overflow"),
                           ("w**2", "w=1e200", "w = 1e+200")):
        cli(f"compare --expr {expr} --at {at} (a domain error)", ["compare", "--expr", expr, "--wrt", "w", "--at", at],
            must=must)
    cli("compare --at w=1e200", ["compare", "--at", "w=1e200"], must="1e+200")
    cli("backprop at log(0)", ["backprop", "--expr", "log(w)", "--wrt", "w", "--at", "w=0"], must="log(w)")
    cli("check at log(0)", ["check", "--expr", "log(w)*x", "--wrt", "w", "--at", "w=0,x=1", "--claims",
                            "c.txt"], must="log(w)", setup=_file("c.txt", "d_w = x/w\n"), outputs=("c.txt",))
    cli("compare w**x (a symbolic exponent)", ["compare", "--expr", "w**x", "--wrt", "w", "--at", "w=2,x=0.5"], "ok")
    cli("compare --seed -1", ["compare", "--seed", "-1"], must="--seed")
    cli("optimize --data-seed -1", ["optimize", "--data-seed", "-1"], must="--data-seed")
    proc("compare > /dev/full", ["compare", "--points", "2"], "/dev/full")
    proc("compare with stdout closed", ["compare", "--points", "2"], "closed stdout")
    proc("compare on an ASCII-only terminal", ["compare", "--points", "2"], "ascii terminal")
    cli("report --out <300-character name>.html", ["report", "--out", "x" * 300 + ".html"], must="report path")
    cli("report with a bad option leaves no folder", ["report", "--points", "-1", "--out", "new/dir/r.html"],
        must="--points", outputs=("new",))
    cli("report with a bad option leaves no reports/", ["report", "--seeds", "-1"], must="--seeds",
        outputs=("reports",))
    cli("optimize --data <a FIFO with no writer>", ["optimize", "--data", "pipe.csv", "--target", "y"], must="FIFO",
        setup=_fifo("pipe.csv"), outputs=("pipe.csv",))
    cli("check --claims <a FIFO with no writer>", ["check", "--claims", "pipe"], must="FIFO", setup=_fifo(),
        outputs=("pipe",))
    cli("optimize --data /dev/zero", ["optimize", "--data", "/dev/zero", "--target", "y"], must="/dev/zero")
    cli("check --claims /dev/zero", ["check", "--claims", "/dev/zero"], must="/dev/zero")
    cli("optimize --lam nan (names λ, not C)", ["optimize", "--lam", "nan"], must="--lam")
    cli("compare logistic-map --depth 0 (names --depth, not --n)", ["compare", "logistic-map", "--depth", "0"],
        must="--depth")
    cli("compare linear-regression --dim 0 (names --dim, not --d)", ["compare", "linear-regression", "--dim", "0"],
        must="--dim")
    cli("hessian logistic-map --depth 0 (names --depth)", ["hessian", "logistic-map", "--depth", "0"], must="--depth")
    cli("compare --at w=<9 999 digits> (not echoed whole)", ["compare", "--at", "w=" + "1" * 9997], "any")
    cli("compare --at w=<100 KB> (not echoed whole)", ["compare", "--at", "w=" + "1" * 100_000], must="--at")
    cli("optimize --seeds <100 KB> (not echoed whole)", ["optimize", "--seeds", "1," * 50_000], must="--seeds")
    for opt, v in (("--n", "50"), ("--d", "3"), ("--noise", "0.5"), ("--data-seed", "3"), ("--condition", "5")):
        cli(f"optimize --data ok.csv {opt} {v} (not silently ignored)",
            ["optimize", "--data", "ok.csv", "--target", "y", opt, v, "--epochs", "2"], must=opt,
            setup=_file("ok.csv", csv_ok), outputs=("ok.csv",))
    cli("check --points -1 (refused as compare refuses it)", ["check", "--claims", str(LECTURE_CLAIMS),
                                                              "--points", "-1"], must="--points")
    # the API calls the issue names
    import numpy as np

    import diffkit as dk
    import diffkit.engine as de
    from diffkit.analysis.checker import check_claims
    from diffkit.optim import Dataset, Schedule, load_csv, make_data, study
    from diffkit.report import write_report

    m = dk.builtin("ridge-sigmoid")

    def api(label, fn, must="", outputs=()):
        out.append(Case("issue 14 why", "api", fn, "bad", label=label, must=must, outputs=outputs))

    api("compare(None)", lambda: dk.compare(None), "model")
    api("to_numpy(None, None)", lambda: dk.to_numpy(None, None), "exprs")
    api("study(m, data=None)", lambda: study(dk.builtin("linear-regression", d=1), None), "data")
    api("write_report(None, 'r.html')", lambda: write_report(None, "r.html"), "Comparison")
    api("make_data(seed=-1)", lambda: make_data(seed=-1), "seed")
    api("Dataset with string features", lambda: Dataset(np.array([["a", "b"]]), np.array([1.0]), ("x1", "x2")))
    api("Schedule.steps(-5, 3)", lambda: Schedule("c/k", C=1.0).steps(-5, 3), "start")
    api("random_points(vary='bogus')", lambda: m.random_points(5, vary="bogus"), "vary")
    api("check_claims(rtol=-1)", lambda: check_claims(m, "d_b = d_z", rtol=-1), "rtol")
    api("check_claims(rtol=nan)", lambda: check_claims(m, "d_b = d_z", rtol=float("nan")), "rtol")
    api("model_from_expr(at={'x': nan})", lambda: dk.model_from_expr("w*x", "w", at={"x": float("nan")}), "x")

    out.append(Case("issue 14 why", "api", lambda: load_csv("dup.csv", target="y"), "bad",
                    label="load_csv with a duplicated feature column", must="x1",
                    setup=_file("dup.csv", "x1,x1,y\n1,2,3\n4,5,6\n")))
    api("engine sum(ones(2), axis=5) raises as NumPy does", lambda: de.sum(np.ones(2), axis=5), "axis")
    api("engine grad through sum(axis=5) raises", lambda: de.grad(lambda x: de.sum(x, axis=5))(np.ones(2)), "axis")
    return out


def all_cases() -> list[Case]:
    return why_cases() + cli_cases() + option_cases() + stream_cases() + api_cases()


# -- running a case -----------------------------------------------------------------------------

class _Timeout(BaseException):
    pass


@dataclass
class Outcome:
    case: Case
    ok: bool
    why: str = ""
    seconds: float = 0.0
    code: Any = None
    stderr: str = ""


BANNED = ("Traceback", "internal error", "RuntimeWarning", ".py:", "Exception ignored")


def _files(root: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for n in dirnames + filenames:
            out.add(str(rel / n) if str(rel) != "." else n)
    return out


#: the longest Error line a case may print (an option's value is shortened, never echoed whole)
MAX_ERROR_CHARS = 500


def _run_proc(case: Case, root: Path, limit_s: float) -> tuple[Any, str, str]:
    """Run ``python -m diffkit.cli`` with the case's hostile standard output; (code, why, stderr)."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PYTHONIOENCODING", None)
    kw: dict = {"stdout": subprocess.PIPE}
    how = case.must
    if how == "/dev/full":
        kw["stdout"] = open("/dev/full", "wb")
    elif how == "closed stdout":
        kw["stdout"] = None
        kw["preexec_fn"] = lambda: os.close(1)
    elif how == "ascii terminal":
        env.update(PYTHONIOENCODING="ascii", LC_ALL="C", LANG="C")
    try:
        r = subprocess.run([sys.executable, "-m", "diffkit.cli", *case.args], cwd=root, env=env,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=limit_s, **kw)
    except subprocess.TimeoutExpired:
        return None, f"ran past {limit_s:g} s", ""
    finally:
        if how == "/dev/full":
            kw["stdout"].close()
    err = r.stderr.decode("utf-8", "replace")
    code = r.returncode
    codes, line = _STREAMS[how][1], _STREAMS[how][2]
    if case.expect == "bad":
        codes = (2,)
    why = ""
    if code not in codes:
        why = f"exit code {code}, expected {codes}: {err[:200]!r}"
    elif code == 1 and not err and how == "ascii terminal" and r.stdout.strip():
        pass  # a verdict (a wrong claim, FAILED agreement) on standard output: not an error
    elif code != 0 and (not err.startswith(line or "Error: ") or err.count("\n") != 1):
        why = f"not the one line {line or 'Error: ...'!r}: {err[:200]!r}"
    elif code == 0 and err:
        why = f"wrote to stderr: {err[:200]!r}"
    elif how == "ascii terminal":
        try:
            r.stdout.decode("ascii")
            r.stderr.decode("ascii")
        except UnicodeDecodeError:
            why = "non-ASCII output on an ASCII-only terminal"
        if not why and code in (0, 1) and not r.stdout.strip():
            why = "printed nothing"
    return code, why, err


def run_case(case: Case, *, limit_s: float = 30.0) -> Outcome:
    from diffkit.cli import main
    from diffkit.errors import BadInput, DiffkitError

    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="diffkit-hostile-") as tmp:
        root = Path(tmp)
        os.chdir(root)
        try:
            if case.setup is not None:
                case.setup(root)
            before = _files(root)
            if case.kind == "proc":
                t0 = time.perf_counter()
                code, why, stderr = _run_proc(case, root, limit_s)
                return _judge_files(case, root, before, why, code, stderr, time.perf_counter() - t0)
            out, err = io.StringIO(), io.StringIO()
            saved = sys.stdout, sys.stderr, sys.stdin
            sys.stdout, sys.stderr, sys.stdin = out, err, io.StringIO("")

            def on_alarm(signum, frame):
                raise _Timeout()

            old = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, limit_s)
            t0 = time.perf_counter()
            code: Any = None
            why = ""
            try:
                if case.kind == "cli":
                    code = main(list(case.args))
                else:
                    try:
                        case.args()
                        code = 0
                    except BadInput as exc:
                        code, err_text = 2, str(exc)
                        err.write(f"Error: {' '.join(err_text.split())}\n")
                    except DiffkitError as exc:
                        code = 1
                        err.write(f"Error: {' '.join(str(exc).split())}\n")
            except _Timeout:
                why = f"ran past {limit_s:g} s"
            except MemoryError:
                why = "out of memory"
            except BaseException as exc:  # noqa: BLE001 - the point is to catch anything
                why = f"raised {type(exc).__name__}: {str(exc)[:150]}"
                if case.kind == "api":
                    why += " (not a DiffkitError)"
                err.write(traceback.format_exc())
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
                sys.stdout, sys.stderr, sys.stdin = saved
            dt = time.perf_counter() - t0
            stderr = err.getvalue()
            if not why:
                if code not in (0, 1, 2):
                    why = f"exit code {code}"
                elif code == 1 and not stderr and out.getvalue():
                    pass  # a verdict (a wrong claim, FAILED agreement), printed on stdout: not an error
                elif code != 0 and (not stderr.startswith("Error: ") or stderr.count("\n") != 1):
                    why = f"not one Error: line: {stderr[:200]!r}"
                elif any(b in stderr for b in BANNED):
                    why = f"banned text on stderr: {stderr[:200]!r}"
                elif len(stderr) > MAX_ERROR_CHARS:
                    why = f"an Error line of {len(stderr)} characters: {stderr[:120]!r}..."
                elif case.expect == "bad" and code != 2:
                    why = f"accepted (exit {code}), expected a refusal with exit 2"
                elif case.expect == "bad" and case.must and case.must not in stderr:
                    why = f"the refusal does not name {case.must!r}: {stderr.strip()[:200]}"
                elif case.expect == "ok" and code == 2:
                    why = f"refused: {stderr.strip()[:200]}"
                elif case.expect == "limit" and code == 2 and re.search(
                        r"--[a-z-]+:? (must|takes|more than|is \d+ characters)", stderr) and "budget" not in stderr:
                    why = f"the limit its --help gives ({case.must}) is refused: {stderr.strip()[:200]}"
            return _judge_files(case, root, before, why, code, stderr, dt)
        finally:
            os.chdir(old_cwd)
            for dirpath, dirnames, _ in os.walk(tmp):
                for dname in dirnames:
                    try:
                        os.chmod(os.path.join(dirpath, dname), 0o700)
                    except OSError:
                        pass


def _judge_files(case: Case, root: Path, before: set, why: str, code, stderr: str, dt: float) -> Outcome:
    """The case's outcome, failing it too when it left a file it does not name, or when a refused
    run created one of the outputs it names."""
    new = _files(root) - before
    allowed = set(case.outputs)
    stray = sorted(f for f in new if f not in allowed and not any(f.startswith(a + "/") for a in allowed))
    if not why and stray:
        why = f"left files behind: {stray[:5]}"
    if not why and code != 0 and case.expect == "bad":
        made = sorted(f for f in new if f in allowed)
        if made:
            why = f"a refused run created {made[:5]}"
    ok = not why
    return Outcome(case, ok, why, dt, code, stderr[:500])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run the cases whose category or name contains this")
    ap.add_argument("--json", type=Path, help="write every outcome as JSON")
    ap.add_argument("--limit-s", type=float, default=60.0, help="time limit per case (seconds)")
    ap.add_argument("--memory-gib", type=float, default=4.0, help="address-space limit of this process")
    args = ap.parse_args(argv)
    if args.memory_gib > 0:
        lim = int(args.memory_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    cases = [c for c in all_cases() if args.only in c.category or args.only in c.name()]
    counts: dict[str, dict[str, int]] = {}
    failures = xfails = 0
    outcomes = []
    t_all = time.perf_counter()
    for c in cases:
        o = run_case(c, limit_s=args.limit_s)
        outcomes.append(o)
        tally = counts.setdefault(c.category, dict.fromkeys(("cases", "kept", "failed", "xfail", "exit 0",
                                                              "exit 1", "exit 2"), 0))
        tally["cases"] += 1
        if o.code in (0, 1, 2):
            tally[f"exit {o.code}"] += 1
        if o.ok:
            tally["kept"] += 1
        elif c.xfail:
            xfails += 1
            tally["xfail"] += 1
            print(f"XFAIL [{c.category}] {c.name()}: {o.why}  ({c.xfail})", flush=True)
        else:
            failures += 1
            tally["failed"] += 1
            print(f"FAIL  [{c.category}] {c.name()}: {o.why}", flush=True)
    print()
    cols = ("cases", "kept", "failed", "xfail", "exit 0", "exit 1", "exit 2")
    print(f"{'category':26s} " + " ".join(f"{k:>7s}" for k in cols))
    for cat, t in counts.items():
        print(f"{cat:26s} " + " ".join(f"{t[k]:7d}" for k in cols))
    tot = {k: sum(t[k] for t in counts.values()) for k in cols}
    print(f"{'total':26s} " + " ".join(f"{tot[k]:7d}" for k in cols))
    print(f"(exit 0: done; exit 1: a runtime failure or a verdict; exit 2: refused as bad input; "
          f"kept: every promise held; {time.perf_counter() - t_all:.0f} s in all)")
    slow = sorted(outcomes, key=lambda o: -o.seconds)[:5]
    print("slowest: " + "; ".join(f"{o.case.name()[:50]} {o.seconds:.1f} s" for o in slow))
    if args.json:
        args.json.write_text(json.dumps([{"category": o.case.category, "case": o.case.name(), "ok": o.ok,
                                          "why": o.why, "seconds": round(o.seconds, 3), "code": o.code,
                                          "xfail": o.case.xfail} for o in outcomes], indent=1))
    return failures


if __name__ == "__main__":
    sys.exit(min(main(), 255))
