"""Every layer of the zoo: its gradient with respect to every parameter and input agrees with
central differences (4-point stencil) and with torch's own layers when torch is installed
(≤ 1e-10 relative, float64); second order and forward mode work through every layer."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk
from oracles import central_diff

RTOL_TORCH = 1e-10
RTOL_FD = 1e-10  # the 4-point stencil at h = 3e-4 (worst case here 7e-12: truncation and rounding balance)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # optional peer
    torch = None


def _rel(a, b) -> float:
    """max |a − b| / max(1, max |b|): relative to the scale of the reference."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b), initial=0.0) / max(1.0, float(np.max(np.abs(b), initial=0.0))))


def _fd(f, args, i, h=3e-4):
    x = np.asarray(args[i], dtype=float)

    def fi(flat):
        moved = list(args)
        moved[i] = flat.reshape(x.shape)
        return float(f(*moved))
    return central_diff(fi, x.reshape(-1), h).reshape(x.shape)


def _distinct(rng, shape):
    """Values at least 0.05 apart (no ties a difference step could cross: max pooling)."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.05 - 1.0) + rng.uniform(-0.01, 0.01, shape)


# -- the layers, each as a scalar loss of (inputs..., parameters...) ---------------------------------
def _cases():
    rng = np.random.default_rng(7)
    # every closure binds its own U (the cotangent of its output) as a default argument
    cases = {}
    # dense
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    U = rng.normal(size=(4, 2))
    cases["dense"] = (lambda x, W, b, U=U: dk.sum(dk.dense(x, W, b, dk.tanh) * U), (x, W, b),
                      lambda x, W, b, U=U: (torch.tanh(F.linear(x, W, b)) * torch.from_numpy(U)).sum())
    # conv2d with stride, padding and channels
    for name, (xs, ws, stride, pad) in {"conv2d": ((2, 3, 6, 5), (4, 3, 3, 2), (2, 1), (1, 0)),
                                        "conv2d_1x1": ((1, 2, 3, 3), (3, 2, 1, 1), 1, 0),
                                        "conv2d_same": ((2, 2, 4, 4), (2, 2, 3, 3), 1, 1)}.items():
        x, w, b = rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[0])
        out = dk.conv2d(x, w, b, stride=stride, padding=pad)
        U = rng.normal(size=out.shape)
        cases[name] = (lambda x, w, b, U=U, s=stride, p=pad: dk.sum(dk.conv2d(x, w, b, stride=s, padding=p) * U),
                       (x, w, b),
                       lambda x, w, b, U=U, s=stride, p=pad: (F.conv2d(x, w, b, stride=s, padding=p)
                                                              * torch.from_numpy(U)).sum())
    # conv1d: 3 taps over 5 inputs (the small model's layer) and a strided, padded, 2-channel one
    for name, (xs, ws, stride, pad) in {"conv1d": ((1, 1, 5), (1, 1, 3), 1, 0),
                                        "conv1d_strided": ((2, 2, 7), (3, 2, 3), 2, 1)}.items():
        x, w, b = rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[0])
        U = rng.normal(size=dk.conv1d(x, w, b, stride=stride, padding=pad).shape)
        cases[name] = (lambda x, w, b, U=U, s=stride, p=pad: dk.sum(dk.conv1d(x, w, b, stride=s, padding=p) ** 2 * U),
                       (x, w, b),
                       lambda x, w, b, U=U, s=stride, p=pad: (F.conv1d(x, w, b, stride=s, padding=p) ** 2
                                                              * torch.from_numpy(U)).sum())
    # pooling
    for name, (xs, k, s, p) in {"max_pool2d": ((2, 2, 4, 4), 2, None, 0),
                                "max_pool2d_overlap": ((1, 2, 5, 5), 3, 1, 1),
                                "max_pool2d_strided": ((2, 1, 5, 6), (2, 3), (2, 2), (1, 1))}.items():
        x = _distinct(rng, xs)
        U = rng.normal(size=dk.max_pool2d(x, k, s, p).shape)
        cases[name] = (lambda x, U=U, k=k, s=s, p=p: dk.sum(dk.max_pool2d(x, k, s, p) * U), (x,),
                       lambda x, U=U, k=k, s=s, p=p: (F.max_pool2d(x, k, s, p) * torch.from_numpy(U)).sum())
    for name, (xs, k, s, p) in {"avg_pool2d": ((2, 2, 4, 4), 2, None, 0),
                                "avg_pool2d_padded": ((1, 2, 5, 4), 3, 2, 1)}.items():
        x = rng.normal(size=xs)
        U = rng.normal(size=dk.avg_pool2d(x, k, s, p).shape)
        cases[name] = (lambda x, U=U, k=k, s=s, p=p: dk.sum(dk.avg_pool2d(x, k, s, p) ** 2 * U), (x,),
                       lambda x, U=U, k=k, s=s, p=p: (F.avg_pool2d(x, k, s, p) ** 2 * torch.from_numpy(U)).sum())
    x = _distinct(rng, (2, 3, 6))
    U = rng.normal(size=(2, 3, 3))
    cases["max_pool1d"] = (lambda x, U=U: dk.sum(dk.max_pool1d(x, 2) * U), (x,),
                           lambda x, U=U: (F.max_pool1d(x, 2) * torch.from_numpy(U)).sum())
    # batch norm: training (batch statistics) over (N, F) and (N, C, H, W); evaluation (running statistics)
    for name, xs in {"batch_norm": (3, 2), "batch_norm_images": (4, 2, 3, 3)}.items():
        x, gm, bt = rng.normal(size=xs), rng.normal(size=xs[1]), rng.normal(size=xs[1])
        U = rng.normal(size=xs)
        cases[name] = (lambda x, g, b, U=U: dk.sum(dk.batch_norm(x, g, b) ** 2 * U), (x, gm, bt),
                       lambda x, g, b, U=U: (F.batch_norm(x, None, None, g, b, training=True) ** 2
                                             * torch.from_numpy(U)).sum())
    x, gm, bt = rng.normal(size=(3, 2, 2)), rng.normal(size=2), rng.normal(size=2)
    rm, rv = rng.normal(size=2), rng.uniform(0.5, 2.0, size=2)
    U = rng.normal(size=x.shape)
    cases["batch_norm_eval"] = (
        lambda x, g, b, rm, rv, U=U: dk.sum(dk.batch_norm(x, g, b, training=False, running_mean=rm,
                                                          running_var=rv) * U),
        (x, gm, bt, rm, rv),
        # torch's F.batch_norm does not differentiate the running statistics: its formula in torch ops
        lambda x, g, b, rm, rv, U=U: (((x - rm[:, None]) / torch.sqrt(rv[:, None] + 1e-5) * g[:, None] + b[:, None])
                                      * torch.from_numpy(U)).sum())
    # Elman RNN over T steps (BPTT), loss on every hidden state
    for T in (1, 4):
        xs, h0 = rng.normal(size=(2, T, 3)), rng.normal(size=(2, 4))
        Wx, Wh, b = rng.normal(size=(4, 3)) * 0.5, rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
        U = rng.normal(size=(2, T, 4))

        def rnn_loss(xs, h0, Wx, Wh, b, U=U):
            hs = dk.elman_rnn(xs, h0, Wx, Wh, b)
            return sum(dk.sum(h * U[:, t]) for t, h in enumerate(hs))

        def rnn_torch(xs, h0, Wx, Wh, b, U=U):
            rnn = torch.nn.RNN(3, 4, batch_first=True).double()
            with torch.no_grad():
                rnn.bias_hh_l0.zero_()
            out, _ = torch.func.functional_call(
                rnn, {"weight_ih_l0": Wx, "weight_hh_l0": Wh, "bias_ih_l0": b, "bias_hh_l0": rnn.bias_hh_l0},
                (xs, h0[None]))
            return (out * torch.from_numpy(U)).sum()
        cases[f"elman_rnn_T{T}"] = (rnn_loss, (xs, h0, Wx, Wh, b), rnn_torch)
    # residual block
    x, W1, b1, W2, b2 = (rng.normal(size=s) for s in ((3, 4), (5, 4), (5,), (4, 5), (4,)))
    U = rng.normal(size=(3, 4))
    cases["residual_block"] = (
        lambda x, W1, b1, W2, b2, U=U: dk.sum(dk.residual_block(x, W1, b1, W2, b2, activation=dk.tanh) * U),
        (x, W1, b1, W2, b2),
        lambda x, W1, b1, W2, b2, U=U: (torch.tanh(x + F.linear(torch.tanh(F.linear(x, W1, b1)), W2, b2))
                                   * torch.from_numpy(U)).sum())
    # attention: plain, causal, a boolean mask; self-attention over 3 tokens of width 2
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    U = rng.normal(size=(2, 3, 3))
    mask = rng.uniform(size=(3, 5)) > 0.4
    mask[:, 0] = True
    cases["attention"] = (lambda q, k, v, U=U: dk.sum(dk.attention(q, k, v) * U), (q, k, v),
                          lambda q, k, v, U=U: (F.scaled_dot_product_attention(q, k, v) * torch.from_numpy(U)).sum())
    cases["attention_mask"] = (
        lambda q, k, v, U=U: dk.sum(dk.attention(q, k, v, mask) * U), (q, k, v),
        lambda q, k, v, U=U: (F.scaled_dot_product_attention(q, k, v, attn_mask=torch.from_numpy(mask))
                         * torch.from_numpy(U)).sum())
    x = rng.normal(size=(1, 3, 2))
    Ux = rng.normal(size=(1, 3, 2))
    cases["attention_causal_self"] = (
        lambda x: dk.sum(dk.attention(x, x, x, causal=True) * Ux), (x,),
        lambda x: (F.scaled_dot_product_attention(x, x, x, is_causal=True) * torch.from_numpy(Ux)).sum())
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_agrees_with_central_differences(name):
    f, args, _ = CASES[name]
    nums = tuple(range(len(args)))
    grads = dk.grad(f, nums)(*args)
    for i in nums:
        assert _rel(grads[i], _fd(f, args, i)) <= RTOL_FD, (name, i)


@pytest.mark.skipif(torch is None, reason="torch is not installed (optional: pip install torch==2.13.0)")
@pytest.mark.parametrize("name", sorted(CASES))
def test_value_and_gradient_agree_with_torch(name):
    f, args, tf = CASES[name]
    nums = tuple(range(len(args)))
    value, grads = dk.value_and_grad(f, nums)(*args)
    targs = [torch.tensor(a, requires_grad=True) for a in args]
    tv = tf(*targs)
    tv.backward()
    assert _rel(value, tv.item()) <= RTOL_TORCH, name
    for i, (g, t) in enumerate(zip(grads, targs)):
        assert _rel(g, t.grad.numpy()) <= RTOL_TORCH, (name, i)


@pytest.mark.parametrize("name", ["conv2d", "max_pool2d_overlap", "avg_pool2d_padded", "batch_norm_images",
                                  "elman_rnn_T4", "residual_block", "attention_mask", "conv1d_strided"])
def test_second_order_and_forward_mode_through_the_layer(name):
    """hvp (forward-over-reverse), reverse-over-reverse and jvp through every layer, against differences."""
    f, args, _ = CASES[name]
    rng = np.random.default_rng(3)
    for i in range(len(args)):
        x = args[i]
        v = rng.normal(size=np.shape(x))

        def fi(xi, i=i):
            moved = list(args)
            moved[i] = xi
            return f(*moved)
        g = dk.grad(fi)
        eps = 1e-5
        want = (g(x + eps * v) - g(x - eps * v)) / (2 * eps)
        assert _rel(dk.hvp(fi)(x, v), want) <= 1e-6, (name, i, "hvp")
        assert _rel(dk.grad(lambda xi: dk.sum(g(xi) * v))(x), want) <= 1e-6, (name, i, "rev-over-rev")
        _, t = dk.jvp(fi, (x,), (v,))
        assert _rel(t, np.sum(g(x) * v)) <= 1e-10, (name, i, "jvp")


def test_conv2d_hessian_is_zero_in_the_weights_of_a_linear_loss():
    rng = np.random.default_rng(0)
    x, U = rng.normal(size=(1, 1, 3, 3)), rng.normal(size=(1, 1, 2, 2))
    H = dk.hessian(lambda w: dk.sum(dk.conv2d(x, w) * U))(rng.normal(size=(1, 1, 2, 2)))
    assert H.shape == (1, 1, 2, 2, 1, 1, 2, 2) and not np.any(H)


def test_nested_grad_closes_over_a_layer_weight():
    """d/dw ⟨∇_x L(x, w), v⟩ with the inner grad over x closing over the outer w (no perturbation confusion)."""
    rng = np.random.default_rng(1)
    x, w, v = rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(2, 2, 3, 3)), rng.normal(size=(1, 2, 4, 4))
    U = rng.normal(size=(1, 2, 4, 4))
    loss = lambda x, w: dk.sum(dk.tanh(dk.conv2d(x, w, padding=1)) * U)  # noqa: E731
    h = lambda w: dk.sum(dk.grad(lambda x: loss(x, w))(x) * v)  # noqa: E731
    got = dk.grad(h)(w)
    num = _fd(lambda w: h(w), (w,), 0, h=1e-4)
    assert _rel(got, num) <= 1e-7


def test_max_pool_splits_a_tie_evenly():
    x = np.array([[[[1.0, 1.0], [0.0, -1.0]]]])
    g = dk.grad(lambda x: dk.sum(dk.max_pool2d(x, 2)))(x)
    assert g.tolist() == [[[[0.5, 0.5], [0.0, 0.0]]]]


def test_batch_norm_layer_keeps_running_statistics_as_torch():
    rng = np.random.default_rng(2)
    bn = dk.BatchNorm(3, momentum=0.2)
    xs = [rng.normal(loc=1.0, size=(5, 3, 2)) for _ in range(3)]
    for x in xs:
        bn(x, np.ones(3), np.zeros(3))
    if torch is not None:
        t = torch.nn.BatchNorm1d(3, momentum=0.2).double()
        for x in xs:
            t(torch.from_numpy(x))
        assert _rel(bn.running_mean, t.running_mean.numpy()) <= 1e-12
        assert _rel(bn.running_var, t.running_var.numpy()) <= 1e-12
    x = rng.normal(size=(2, 3, 2))
    y = bn(x, np.full(3, 2.0), np.full(3, 0.5), training=False)
    want = (x - bn.running_mean[:, None]) / np.sqrt(bn.running_var[:, None] + 1e-5) * 2.0 + 0.5
    assert _rel(y, want) <= 1e-14
