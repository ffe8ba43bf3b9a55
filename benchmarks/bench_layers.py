"""Layer-zoo benchmarks against the same computation written by hand in NumPy (and torch).

    python benchmarks/bench_layers.py [--json PATH] [--quick] [--only conv2d attention ...]

conv2d     batch 32, 3 → 16 channels, 32×32, 3×3 kernel, padding 1: forward + backward (ms)
attention  batch 16, 128 tokens, width 64, causal mask: forward + backward of Q, K, V (ms)
maxpool    batch 32, 16 channels, 32×32, 2×2 windows (ms)
batchnorm  batch 32, 16 channels, 32×32, training mode (ms)
rnn        batch 32, T = 50, 32 → 64 hidden, tanh (ms)

The loss of every workload is ⟨output, G⟩ for a fixed random G, so the backward pass starts from
a full cotangent; gradients are taken with respect to every input and parameter.  All float64.
Every implementation is checked against the hand-written one first (rtol 1e-10).  Each repeat
times the hand version and then every other one back to back; ``ratio`` is the median over
repeats of impl_time / hand_time of that repeat.  The load average is printed with the results:
the machine these run on is shared.  NumPy's BLAS and torch both run with one thread (on a
loaded 2-core machine OpenBLAS with two threads spins: a batched 16×128×64 product took 0.77 s
instead of 8 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import diffkit.engine as dk  # noqa: E402
from timing import interleaved  # noqa: E402 - benchmarks/timing.py


def run(impls: dict[str, Callable[[], object]], *, repeats: int, inner: int) -> dict:
    for fn in impls.values():  # warm-up
        for _ in range(max(2, inner // 3)):
            fn()
    return interleaved(impls, repeats=repeats, inner=inner)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


# -- conv2d -------------------------------------------------------------------------------------------
def conv_data(n=32, c=3, o=16, hw=32, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, hw, hw))
    w = rng.normal(size=(o, c, k, k)) / np.sqrt(c * k * k)
    b = rng.normal(size=o)
    G = rng.normal(size=(n, o, hw, hw))
    return x, w, b, G


def hand_conv(x, w, b, G, pad=1):
    """im2col + one matmul forward; the matmul's transposes and col2im backward."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH, OW = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    cols = sliding_window_view(xp, (kh, kw), axis=(2, 3)).transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, OH * OW)
    w2 = w.reshape(O, -1)
    out = (w2 @ cols).reshape(N, O, OH, OW) + b[:, None, None]
    loss = np.vdot(out, G)
    g = G.reshape(N, O, OH * OW)
    db = G.sum(axis=(0, 2, 3))
    dw = (g @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    dcols = (w2.T @ g).reshape(N, C, kh, kw, OH, OW)
    dxp = np.zeros_like(xp)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + OH, j:j + OW] += dcols[:, :, i, j]
    return loss, (dxp[:, :, pad:pad + H, pad:pad + W], dw, db)


def conv_impls(x, w, b, G) -> dict:
    vg = dk.value_and_grad(lambda x, w, b: dk.sum(dk.conv2d(x, w, b, padding=1) * G), (0, 1, 2))
    impls = {"hand": lambda: hand_conv(x, w, b, G), "diffkit": lambda: vg(x, w, b)}
    torch = _torch()
    if torch is not None:
        F = torch.nn.functional
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tG = torch.from_numpy(G)

        def f():
            tx.grad = tw.grad = tb.grad = None
            L = (F.conv2d(tx, tw, tb, padding=1) * tG).sum()
            L.backward()
            return L, (tx.grad, tw.grad, tb.grad)
        impls["torch"] = f
    return impls


# -- attention ----------------------------------------------------------------------------------------
def attention_data(n=16, t=128, d=64, seed=0):
    rng = np.random.default_rng(seed)
    q, k, v, G = (rng.normal(size=(n, t, d)) for _ in range(4))
    return q, k, v, G


def hand_attention(q, k, v, G, mask):
    scale = 1.0 / np.sqrt(q.shape[-1])
    qs = q * scale
    s = qs @ k.transpose(0, 2, 1)
    s = np.where(mask, s, -np.inf)
    s -= s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    a = e / e.sum(axis=-1, keepdims=True)
    out = a @ v
    loss = np.vdot(out, G)
    dv = a.transpose(0, 2, 1) @ G
    da = G @ v.transpose(0, 2, 1)
    ds = a * (da - (da * a).sum(axis=-1, keepdims=True))
    dq = (ds @ k) * scale
    dk_ = ds.transpose(0, 2, 1) @ qs
    return loss, (dq, dk_, dv)


def attention_impls(q, k, v, G) -> dict:
    mask = dk.causal_mask(q.shape[1])
    vg = dk.value_and_grad(lambda q, k, v: dk.sum(dk.attention(q, k, v, causal=True) * G), (0, 1, 2))
    impls = {"hand": lambda: hand_attention(q, k, v, G, mask), "diffkit": lambda: vg(q, k, v)}
    torch = _torch()
    if torch is not None:
        F = torch.nn.functional
        tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
        tG = torch.from_numpy(G)

        def f():
            tq.grad = tk.grad = tv.grad = None
            L = (F.scaled_dot_product_attention(tq, tk, tv, is_causal=True) * tG).sum()
            L.backward()
            return L, (tq.grad, tk.grad, tv.grad)
        impls["torch"] = f
    return impls


# -- max pooling, batch norm, rnn (beside the two of the issue) ---------------------------------------
def hand_maxpool(x, G):
    N, C, H, W = x.shape
    t = x.reshape(N, C, H // 2, 2, W // 2, 2)
    out = t.max(axis=(3, 5))
    loss = np.vdot(out, G)
    m = t == out[:, :, :, None, :, None]
    dx = (m * G[:, :, :, None, :, None]).reshape(N, C, H, W)
    return loss, (dx,)


def maxpool_impls(x, G) -> dict:
    vg = dk.value_and_grad(lambda x: dk.sum(dk.max_pool2d(x, 2) * G), (0,))
    impls = {"hand": lambda: hand_maxpool(x, G), "diffkit": lambda: vg(x)}
    torch = _torch()
    if torch is not None:
        F = torch.nn.functional
        tx, tG = torch.tensor(x, requires_grad=True), torch.from_numpy(G)

        def f():
            tx.grad = None
            L = (F.max_pool2d(tx, 2) * tG).sum()
            L.backward()
            return L, (tx.grad,)
        impls["torch"] = f
    return impls


def hand_batchnorm(x, gamma, beta, G, eps=1e-5):
    axes = (0, 2, 3)
    mu = x.mean(axis=axes, keepdims=True)
    d = x - mu
    var = (d * d).mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = d * inv
    g4, b4 = gamma[None, :, None, None], beta[None, :, None, None]
    out = xhat * g4 + b4
    loss = np.vdot(out, G)
    dbeta = G.sum(axis=axes)
    dgamma = (G * xhat).sum(axis=axes)
    gx = G * g4
    dx = inv * (gx - gx.mean(axis=axes, keepdims=True) - xhat * (gx * xhat).mean(axis=axes, keepdims=True))
    return loss, (dx, dgamma, dbeta)


def batchnorm_impls(x, gamma, beta, G) -> dict:
    vg = dk.value_and_grad(lambda x, g, b: dk.sum(dk.batch_norm(x, g, b) * G), (0, 1, 2))
    impls = {"hand": lambda: hand_batchnorm(x, gamma, beta, G), "diffkit": lambda: vg(x, gamma, beta)}
    torch = _torch()
    if torch is not None:
        F = torch.nn.functional
        tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
        tG = torch.from_numpy(G)

        def f():
            tx.grad = tg.grad = tb.grad = None
            L = (F.batch_norm(tx, None, None, tg, tb, training=True) * tG).sum()
            L.backward()
            return L, (tx.grad, tg.grad, tb.grad)
        impls["torch"] = f
    return impls


def rnn_data(n=32, t=50, d=32, h=64, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(n, t, d))
    h0 = np.zeros((n, h))
    Wx, Wh = rng.normal(size=(h, d)) / np.sqrt(d), rng.normal(size=(h, h)) / np.sqrt(h)
    b = rng.normal(size=h) * 0.1
    G = rng.normal(size=(n, h))
    return xs, h0, Wx, Wh, b, G


def hand_rnn(xs, h0, Wx, Wh, b, G):
    hs, h = [], h0
    u = xs @ Wx.T + b  # the input projection of every step at once, as the engine's layer does
    for t in range(xs.shape[1]):
        h = np.tanh(u[:, t] + h @ Wh.T)
        hs.append(h)
    loss = np.vdot(h, G)
    dh = G
    du, dWh = np.zeros(u.shape), np.zeros_like(Wh)
    for t in reversed(range(xs.shape[1])):
        da = dh * (1.0 - hs[t] * hs[t])
        prev = hs[t - 1] if t else h0
        dWh += da.T @ prev
        du[:, t] = da
        dh = da @ Wh
    dxs = du @ Wx
    dWx = np.einsum("nth,ntd->hd", du, xs)
    return loss, (dxs, dWx, dWh, du.sum(axis=(0, 1)))


def rnn_impls(xs, h0, Wx, Wh, b, G) -> dict:
    vg = dk.value_and_grad(lambda xs, Wx, Wh, b: dk.sum(dk.elman_rnn(xs, h0, Wx, Wh, b)[-1] * G), (0, 1, 2, 3))
    return {"hand": lambda: hand_rnn(xs, h0, Wx, Wh, b, G), "diffkit": lambda: vg(xs, Wx, Wh, b)}


# -- main ---------------------------------------------------------------------------------------------
def _grads(res):
    loss, grads = res
    plain = lambda a: np.asarray(a.detach() if hasattr(a, "detach") else a)  # noqa: E731  (torch tensors)
    return float(plain(loss)), [plain(g) for g in grads]


def check_agreement(workloads: dict) -> None:
    """Every implementation computes what the hand-written one computes (else timings mean nothing)."""
    for name, impls in workloads.items():
        want_l, want = _grads(impls["hand"]())
        for k, fn in impls.items():
            got_l, got = _grads(fn())
            assert abs(got_l - want_l) <= 1e-10 * max(1.0, abs(want_l)), (name, k, got_l, want_l)
            for g, h in zip(got, want):
                scale = max(1.0, float(np.max(np.abs(h))))
                assert np.max(np.abs(g - h)) <= 1e-10 * scale, (name, k)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    names = ("conv2d", "attention", "maxpool", "batchnorm", "rnn")
    ap.add_argument("--only", nargs="+", choices=names, help="run only these workloads; default: all")
    a = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        return _main(a)


def _main(a) -> int:
    names = ("conv2d", "attention", "maxpool", "batchnorm", "rnn")
    reps = 3 if a.quick else 11
    inner = 2 if a.quick else 5
    rng = np.random.default_rng(1)
    px = rng.normal(size=(32, 16, 32, 32))
    builders = {
        "conv2d": lambda: conv_impls(*conv_data()),
        "attention": lambda: attention_impls(*attention_data()),
        "maxpool": lambda: maxpool_impls(px, rng.normal(size=(32, 16, 16, 16))),
        "batchnorm": lambda: batchnorm_impls(px, rng.normal(size=16), rng.normal(size=16), rng.normal(size=px.shape)),
        "rnn": lambda: rnn_impls(*rnn_data()),
    }
    chosen = [n for n in names if a.only is None or n in a.only]
    workloads = {n: builders[n]() for n in chosen}
    check_agreement(workloads)
    load0 = os.getloadavg()
    results = {n: run(impls, repeats=reps, inner=inner) for n, impls in workloads.items()}
    load1 = os.getloadavg()
    print(f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (1 min); {os.cpu_count()} cores; one BLAS "
          f"thread (threadpoolctl), torch.set_num_threads(1); medians of {reps} interleaved repeats × {inner} calls")
    print(f"{'workload':10} {'implementation':14} {'median':>11} {'ratio':>8}")
    for w, res in results.items():
        for k, r in res.items():
            ratio = f"{r['ratio']:.2f}×" if "ratio" in r else "1"
            print(f"{w:10} {k:14} {r['median_s'] * 1e3:8.2f} ms {ratio:>8}")
    if a.json:
        a.json.write_text(json.dumps({"load_before": load0, "load_after": load1, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
