"""Engine benchmarks W1–W3 against hand-written code, SymPy lambdify and peers when installed.

    python benchmarks/bench_engine.py [--json PATH] [--quick] [--only W2 [W3_f64 ...]] [--threads N]
                                      [--clock {wall,cpu}] [--repeats R]

W1  ridge-sigmoid gradient at one point (µs per call); hand = Python floats with ``math``.
W2  the same loss averaged over 10⁶ points (ms); hand = NumPy.
W3  MLP 784-256-256-10, ReLU, softmax cross-entropy, batch 128, forward+backward (ms), f32 and f64.

Every implementation is warmed up first, for as many calls as fill one timing's budget (that many
calls make one timing of it); each repeat times the hand version and every other one back to back,
and ``ratio`` is the median over repeats of impl_time / hand_time of that repeat.
``--threads N`` limits the BLAS threads (threadpoolctl) of every implementation alike: on a shared
machine a multi-threaded BLAS competing with other processes makes the matrix products of W3 vary
tenfold from one repeat to the next.  ``--clock cpu`` (with ``--threads 1``) times with this
thread's CPU time instead of the wall clock: time the scheduler gives to other processes is not
counted, page faults and everything the implementation itself does are.  The load average, the
clock and the thread count are printed with the table.

``--malloc pinned`` (the default on glibc) sets glibc's mmap and trim thresholds to 1 GiB before
anything is timed, so that the hand-written NumPy, which makes and drops several 8 MB temporaries
per W2 call, reuses warm heap memory instead of paying a page fault per 4 KiB page on every call
(whether it does otherwise depends on what the process allocated before: 10.8 against 20.7 ms were
measured for the same W2 loop).  This is the hand code's best case, and it makes W2 reproducible;
``--malloc default`` leaves the allocator as the process found it.  The mode is printed too.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import diffkit.engine as dk  # noqa: E402
from timing import interleaved, warm  # noqa: E402 - benchmarks/timing.py
from diffkit import builtin  # noqa: E402
from diffkit.symbolic import to_numpy  # noqa: E402

W0, B0, X0, Y0, LAM0 = 0.5, -0.3, 1.7, 1.0, 0.1


#: The clock timings are taken with: the wall clock, or this thread's CPU time (``--clock cpu``).
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = [CLOCKS["wall"]]


def run(impls: dict[str, Callable[[], object]], *, repeats: int, budget: float) -> dict:
    """Median time per call of each implementation, and its median ratio to ``hand`` (same repeat)."""
    inner = {k: warm(fn, budget, _clock[0]) for k, fn in impls.items()}
    return interleaved(impls, repeats=repeats, inner=inner, clock=_clock[0])


def _sympy_gradient(cse: bool):
    m = builtin("ridge-sigmoid")
    grads = [sp.diff(m.loss, p) for p in m.params]
    return to_numpy(grads, m.symbols, cse=cse)


# -- W1 ----------------------------------------------------------------------------------------
def hand_w1(w, b, x, y, lam):
    z = w * x + b
    u = 1.0 / (1.0 + math.exp(-z))
    dz = (u - y) * u * (1.0 - u)
    return 0.5 * (y - u) ** 2 + lam * w * w, (dz * x + 2.0 * lam * w, dz)


def w1_impls() -> dict[str, Callable]:
    cg = dk.compile_gradient(dk.from_model(builtin("ridge-sigmoid")))
    order = cg.argnames
    pt = {"w": W0, "b": B0, "x": X0, "y": Y0, "lam": LAM0}
    args = tuple(pt[n] for n in order)
    fn = cg.fn

    def eager(w, b, x, y, lam):
        z = w * x + b
        return 0.5 * (y - dk.sigmoid(z)) ** 2 + lam * w ** 2
    vg = dk.value_and_grad(eager, argnum=(0, 1))
    impls = {
        "hand": lambda: hand_w1(W0, B0, X0, Y0, LAM0),
        "diffkit": lambda: fn(*args),
        "diffkit_eager": lambda: vg(W0, B0, X0, Y0, LAM0),
        "lambdify": (lambda g: lambda: g(W0, B0, X0, Y0, LAM0))(_sympy_gradient(False)),
        "lambdify_cse": (lambda g: lambda: g(W0, B0, X0, Y0, LAM0))(_sympy_gradient(True)),
    }
    impls.update(_peers_w1())
    return impls


# -- W2 ----------------------------------------------------------------------------------------
def hand_w2(w, b, x, y, lam):
    u = 1.0 / (1.0 + np.exp(-(w * x + b)))
    r = u - y
    loss = 0.5 * np.mean(r * r) + lam * w * w
    dz = r * u * (1.0 - u)
    return loss, (np.dot(dz, x) / x.size + 2.0 * lam * w, dz.mean())


def w2_loss(w, b, x, y, lam):
    u = dk.sigmoid(w * x + b)
    return dk.mean(0.5 * (y - u) ** 2) + lam * w ** 2


def w2_impls(n: int) -> dict[str, Callable]:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=n), rng.uniform(size=n)
    vg = dk.value_and_grad(w2_loss, argnum=(0, 1))
    cg = dk.compile_gradient(dk.trace(w2_loss, W0, B0, x, y, LAM0, wrt=("w", "b")))
    pt = {"w": W0, "b": B0, "x": x, "y": y, "lam": LAM0}
    rargs = tuple(pt[n] for n in cg.argnames)  # the compiled function's own argument order
    g_plain, g_cse = _sympy_gradient(False), _sympy_gradient(True)
    impls = {
        "hand": lambda: hand_w2(W0, B0, x, y, LAM0),
        "diffkit": lambda: vg(W0, B0, x, y, LAM0),
        "diffkit_replay": lambda: cg(*rargs),
        "lambdify": lambda: [np.mean(gi) for gi in g_plain(W0, B0, x, y, LAM0)],
        "lambdify_cse": lambda: [np.mean(gi) for gi in g_cse(W0, B0, x, y, LAM0)],
    }
    impls.update(_peers_w2(x, y))
    return impls


# -- W3 ----------------------------------------------------------------------------------------
def _mlp_data(dtype, batch=128, sizes=(784, 256, 256, 10)):
    rng = np.random.default_rng(0)
    params = [((rng.normal(size=(m, k)) / np.sqrt(m)).astype(dtype), np.zeros(k, dtype))
              for m, k in zip(sizes, sizes[1:])]
    X = rng.normal(size=(batch, sizes[0])).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], batch)]
    return params, X, Y


def hand_w3(params, X, Y):
    (W1, b1), (W2, b2), (W3, b3) = params
    z1 = X @ W1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ W2 + b2
    a2 = np.maximum(z2, 0)
    z3 = a2 @ W3 + b3
    m = z3.max(axis=1, keepdims=True)
    s = z3 - m
    lse = np.log(np.exp(s).sum(axis=1, keepdims=True))
    logp = s - lse
    n = X.shape[0]
    loss = -(Y * logp).sum() / n
    dz3 = (np.exp(logp) - Y) / n
    dW3, db3 = a2.T @ dz3, dz3.sum(axis=0)
    dz2 = (dz3 @ W3.T) * (z2 > 0)
    dW2, db2 = a1.T @ dz2, dz2.sum(axis=0)
    dz1 = (dz2 @ W2.T) * (z1 > 0)
    dW1, db1 = X.T @ dz1, dz1.sum(axis=0)
    return loss, [(dW1, db1), (dW2, db2), (dW3, db3)]


def w3_impls(dtype) -> dict[str, Callable]:
    params, X, Y = _mlp_data(dtype)

    def loss(params):
        a = X
        for i, (W, b) in enumerate(params):
            z = a @ W + b
            a = dk.relu(z) if i < len(params) - 1 else z
        return dk.softmax_cross_entropy(a, Y).mean()
    vg = dk.value_and_grad(loss)

    def flat(W1, b1, W2, b2, W3, b3):
        return loss([(W1, b1), (W2, b2), (W3, b3)])
    rargs = tuple(a for p in params for a in p)
    cg = dk.compile_gradient(dk.trace(flat, *rargs))  # X, Y enter the replay as constants
    impls = {"hand": lambda: hand_w3(params, X, Y), "diffkit": lambda: vg(params),
             "diffkit_replay": lambda: cg(*rargs)}
    impls.update(_peers_w3(params, X, Y))
    return impls


# -- peers (optional) --------------------------------------------------------------------------
def _autograd():
    try:
        import autograd
        import autograd.numpy as anp
        from autograd.scipy.special import logsumexp
        return autograd, anp, logsumexp
    except ImportError:
        return None


def _autograd_ridge(anp, x, y):
    return lambda p: anp.mean(0.5 * (y - 1.0 / (1.0 + anp.exp(-(p[0] * x + p[1])))) ** 2) + LAM0 * p[0] ** 2


def _torch():
    try:
        import torch
        torch.set_num_threads(1)
        return torch
    except ImportError:
        return None


def _peers_w1() -> dict:
    out = {}
    ag = _autograd()
    if ag is not None:
        autograd, anp, _ = ag
        vg = autograd.value_and_grad(_autograd_ridge(anp, X0, Y0))
        out["autograd"] = lambda: vg((W0, B0))
    torch = _torch()
    if torch is None:
        return out
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(B0, dtype=torch.float64, requires_grad=True)

    def f():
        w.grad = b.grad = None
        L = 0.5 * (Y0 - torch.sigmoid(w * X0 + b)) ** 2 + LAM0 * w ** 2
        L.backward()
        return w.grad, b.grad
    return {**out, "torch": f}


def _peers_w2(x, y) -> dict:
    out = {}
    ag = _autograd()
    if ag is not None:
        autograd, anp, _ = ag
        vg = autograd.value_and_grad(_autograd_ridge(anp, x, y))
        out["autograd"] = lambda: vg((W0, B0))
    torch = _torch()
    if torch is None:
        return out
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(B0, dtype=torch.float64, requires_grad=True)

    def f():
        w.grad = b.grad = None
        L = (0.5 * (ty - torch.sigmoid(w * tx + b)) ** 2).mean() + LAM0 * w ** 2
        L.backward()
        return w.grad, b.grad
    return {**out, "torch": f}


def _peers_w3(params, X, Y) -> dict:
    out = {}
    ag = _autograd()
    if ag is not None:
        autograd, anp, logsumexp = ag

        def loss(ps):
            a = X
            for i, (W, b) in enumerate(ps):
                a = anp.dot(a, W) + b
                a = anp.maximum(a, 0.0) if i < len(ps) - 1 else a
            return -anp.sum(Y * (a - logsumexp(a, axis=1, keepdims=True))) / X.shape[0]
        vg = autograd.value_and_grad(loss)
        out["autograd"] = lambda: vg(params)
    torch = _torch()
    if torch is None:
        return out
    tp = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)

    def f():
        a = tX
        for i, (W, b) in enumerate(tp):
            W.grad = b.grad = None
            a = a @ W + b
            a = torch.relu(a) if i < len(tp) - 1 else a
        L = -(tY * torch.log_softmax(a, dim=1)).sum(dim=1).mean()
        L.backward()
    return {**out, "torch": f}


# -- allocator ---------------------------------------------------------------------------------
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def pin_allocator() -> str:
    """Keep freed heap memory and serve large arrays from the heap (glibc): no page fault per call."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "default (not glibc: mallopt unavailable)"
    ok = mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1 and mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1
    return "pinned (glibc mmap and trim thresholds 1 GiB)" if ok else "default (mallopt refused)"


# -- main --------------------------------------------------------------------------------------
def check_agreement() -> None:
    """The implementations being timed must agree (else the timings mean nothing)."""
    im = w1_impls()
    want = im["hand"]()[1]
    assert np.allclose(im["diffkit"]()[1], want, rtol=1e-12)
    im = w2_impls(1000)
    want_v, want = im["hand"]()
    for k in ("diffkit", "diffkit_replay") + (("autograd",) if "autograd" in im else ()):
        v, got = im[k]()
        assert np.allclose(v, want_v, rtol=1e-12) and np.allclose(got, want, rtol=1e-10), k
    params, X, Y = _mlp_data(np.float64, batch=8, sizes=(20, 7, 5, 3))
    _, hand = hand_w3(params, X, Y)
    loss = lambda p: dk.softmax_cross_entropy(dk.relu(dk.relu(X @ p[0][0] + p[0][1]) @ p[1][0] + p[1][1])  # noqa: E731
                                              @ p[2][0] + p[2][1], Y).mean()
    got = dk.grad(loss)(params)
    assert all(np.allclose(g, h, rtol=1e-10) for gp, hp in zip(got, hand) for g, h in zip(gp, hp))
    cg = dk.compile_gradient(dk.trace(lambda W1, b1, W2, b2, W3, b3: loss([(W1, b1), (W2, b2), (W3, b3)]),
                                      *[a for p in params for a in p]))
    _, replayed = cg(*[a for p in params for a in p])
    assert all(np.allclose(g, h, rtol=1e-10) for g, h in zip(replayed, [a for p in hand for a in p]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    ap.add_argument("--only", nargs="+", choices=("W1", "W2", "W3", "W3_f32", "W3_f64"),
                    help="run only these workloads (W3 = both dtypes); default: all")
    ap.add_argument("--threads", type=int, default=None,
                    help="limit BLAS threads to N for every implementation (default: NumPy's own)")
    ap.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                    help="time with the wall clock (default) or this thread's CPU time (needs --threads 1)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per workload (default 31; --quick: 3)")
    ap.add_argument("--malloc", choices=("pinned", "default"), default="pinned",
                    help="pin glibc's allocator so hand-written NumPy reuses warm heap memory (default) "
                         "or leave it as it is")
    a = ap.parse_args(argv)
    malloc = pin_allocator() if a.malloc == "pinned" else "default"
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        malloc += " (environment: " + ", ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ)
                                              if k.startswith("MALLOC_")) + ")"

    if a.threads is not None:
        if a.threads < 1:
            ap.error(f"--threads must be at least 1, got {a.threads}")
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(a.threads)  # noqa: F841 - kept for the whole run
    if a.clock == "cpu" and a.threads != 1:
        ap.error("--clock cpu needs --threads 1 (the CPU time of other BLAS threads is not this thread's)")
    if a.repeats is not None and a.repeats < 1:
        ap.error(f"--repeats must be at least 1, got {a.repeats}")
    _clock[0] = CLOCKS[a.clock]
    reps = a.repeats or (3 if a.quick else 31)
    s = 0.2 if a.quick else 1.0  # seconds per timing, scaled
    check_agreement()
    workloads = {
        "W1": lambda: run(w1_impls(), repeats=reps, budget=0.02 * s),
        "W2": lambda: run(w2_impls(100_000 if a.quick else 1_000_000), repeats=reps, budget=0.1 * s),
        "W3_f32": lambda: run(w3_impls(np.float32), repeats=reps, budget=0.06 * s),
        "W3_f64": lambda: run(w3_impls(np.float64), repeats=reps, budget=0.06 * s),
    }
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    only = None if a.only is None else {w for o in a.only for w in workloads if w == o or w.startswith(o + "_")}
    results = {w: bench() for w, bench in workloads.items() if only is None or w in only}
    unit = {"W1": (1e6, "µs"), "W2": (1e3, "ms"), "W3_f32": (1e3, "ms"), "W3_f64": (1e3, "ms")}
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"load average before/after: {load0} / {load}; BLAS threads: {a.threads or 'default'}; "
          f"clock: {a.clock}; repeats: {reps}; allocator: {malloc}")
    print(f"{'workload':8} {'implementation':16} {'median':>12} {'ratio':>8}")
    for w, res in results.items():
        scale, u = unit[w]
        for k, r in res.items():
            ratio = f"{r['ratio']:.2f}×" if "ratio" in r else "1"
            print(f"{w:8} {k:16} {r['median_s'] * scale:9.3f} {u:2} {ratio:>8}")
    if a.json:
        a.json.write_text(json.dumps({**results, "load_average": [load0, load], "threads": a.threads,
                                      "clock": a.clock, "repeats": reps, "allocator": malloc}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
