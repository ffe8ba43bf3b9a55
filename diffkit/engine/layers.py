"""The lecture's layer zoo, written with the engine's operations: dense, convolution, pooling,
batch normalisation, an Elman RNN, a residual block and scaled dot-product attention.

Each layer is a short composition, so it is differentiable to any order (``grad``, ``hessian``,
``jvp``, nested ``grad``) with no rule of its own.  Three pieces are primitives with their own
rules (``diffkit.engine.rules.layers``) because a composition would be much slower or could not
be written: the sliding windows of a convolution (``unfold``, whose transpose ``fold`` is its
VJP), max pooling, and the batch normalisation of training mode.

Which is which, and why:

=====================  ===========================================================================
layer                  how
=====================  ===========================================================================
dense                  composition: ``x @ Wᵀ + b`` (one matmul each way)
conv1d, conv2d         composition: ``unfold`` (primitive, im2col) then one matmul; conv1d is a
                       conv2d of height 1.  The matmul VJPs are the convolution's backward pass.
avg_pool2d             composition: ``mean(unfold(x))`` over each window
max_pool2d             primitive: a max over the windows of a view (no copy); its VJP routes g to
                       the maxima through ``fold``.  As a composition (max over a copied ``unfold``)
                       it would copy every window twice more.
batch_norm (training)  primitive ``batch_normalize`` then ``γ·x̂ + β``: the composition (mean, var,
                       sqrt, divide: ten primitives) sweeps the array about twenty times backward,
                       the closed form five.
batch_norm (eval)      composition: ``(x − running mean)/sqrt(running var + eps)·γ + β``
elman_rnn              composition unrolled over T steps (backprop through time is the sweep)
residual_block         composition: ``σ(x + W₂σ(W₁x + b₁) + b₂)``
attention              composition: ``softmax(QKᵀ/√d, masked)·V`` (softmax is one primitive)
=====================  ===========================================================================

Shapes follow torch.nn.functional: images (N, C, H, W), kernels (out, in, kh, kw), sequences
(N, T, D), weights (out, in) as the lecture's W⁽ˡ⁾.

>>> import numpy as np
>>> import diffkit.engine as dk
>>> rng = np.random.default_rng(0)
>>> x, w = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=(4, 3, 3, 3))
>>> dk.conv2d(x, w, stride=2, padding=1).shape
(2, 4, 3, 3)
>>> g = dk.grad(lambda w: dk.sum(dk.conv2d(x, w) ** 2))(w)
>>> g.shape
(4, 3, 3, 3)
>>> dk.conv2d(x, w[:, :2])
Traceback (most recent call last):
...
diffkit.errors.BadInput: conv2d: the input has 3 channels but the kernel has 2 (weight shape (4, 2, 3, 3)); allowed: a weight of shape (out, 3, kh, kw)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import BadInput
from .core import Node
from .rules.array import matmul, mean, reshape, transpose
from .rules.elementwise import add, div, mul, relu, sqrt, sub, tanh, where
from .rules.indexing import getitem
from .rules.layers import batch_normalize, max_pool2d, pair, unfold, window_shape
from .rules.losses import softmax

__all__ = ["dense", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm",
           "BatchNorm", "running_stats", "elman_rnn", "residual_block", "scaled_dot_product_attention",
           "attention", "causal_mask"]


def _leaf(x: Any) -> Any:
    while isinstance(x, Node):
        x = x.value
    return x


def _shape(x: Any) -> tuple:
    return np.shape(_leaf(x))


def _identity(z: Any) -> Any:
    return z


# -- dense ------------------------------------------------------------------------------------------
def dense(x: Any, W: Any, b: Any = None, activation: Callable | None = None) -> Any:
    """σ(W x + b) for a batch of rows: ``x @ Wᵀ + b`` with W of shape (out, in), as the lecture's W⁽ˡ⁾."""
    xs, ws = _shape(x), _shape(W)
    if len(ws) != 2:
        raise BadInput(f"dense: the weight must be a matrix (out, in), got shape {ws}")
    if not xs or xs[-1] != ws[1]:
        raise BadInput(f"dense: the input has {xs[-1] if xs else 'no'} features (shape {xs}) but the weight "
                       f"{ws} expects {ws[1]}; allowed: inputs of shape (..., {ws[1]})")
    z = matmul(x, transpose(W))
    if b is not None:
        if _shape(b) != (ws[0],):
            raise BadInput(f"dense: the bias has shape {_shape(b)}; allowed: ({ws[0]},)")
        z = add(z, b)
    return (activation or _identity)(z)


# -- convolution ------------------------------------------------------------------------------------
def conv2d(x: Any, w: Any, b: Any = None, *, stride: Any = 1, padding: Any = 0) -> Any:
    """2-D cross-correlation (what deep learning calls convolution), as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : (N, C, H, W)
    w : (O, C, kh, kw)
    b : (O,), optional
    stride, padding : int or (int, int)
        Positive integer strides; zero padding of each side.
    """
    xs, ws = _shape(x), _shape(w)
    if len(xs) != 4:
        raise BadInput(f"conv2d needs an input of shape (batch, channels, height, width), got shape {xs}")
    if len(ws) != 4:
        raise BadInput(f"conv2d needs a weight of shape (out, in, kh, kw), got shape {ws}")
    if ws[1] != xs[1]:
        raise BadInput(f"conv2d: the input has {xs[1]} channels but the kernel has {ws[1]} (weight shape {ws}); "
                       f"allowed: a weight of shape (out, {xs[1]}, kh, kw)")
    N, C = xs[:2]
    O, _, kh, kw = ws
    stride, padding = pair(stride, "stride", "conv2d", low=1), pair(padding, "padding", "conv2d", low=0)
    OH, OW = window_shape(xs, (kh, kw), stride, padding, "conv2d")
    cols = reshape(unfold(x, (kh, kw), stride, padding), (N, C * kh * kw, OH * OW))
    out = reshape(matmul(reshape(w, (O, C * kh * kw)), cols), (N, O, OH, OW))
    if b is not None:
        if _shape(b) != (O,):
            raise BadInput(f"conv2d: the bias has shape {_shape(b)}; allowed: ({O},), one per output channel")
        out = add(out, reshape(b, (O, 1, 1)))
    return out


def conv1d(x: Any, w: Any, b: Any = None, *, stride: int = 1, padding: int = 0) -> Any:
    """1-D cross-correlation of x (N, C, L) with w (O, C, K): a conv2d of height 1."""
    xs, ws = _shape(x), _shape(w)
    if len(xs) != 3:
        raise BadInput(f"conv1d needs an input of shape (batch, channels, length), got shape {xs}")
    if len(ws) != 3:
        raise BadInput(f"conv1d needs a weight of shape (out, in, k), got shape {ws}")
    if ws[1] != xs[1]:
        raise BadInput(f"conv1d: the input has {xs[1]} channels but the kernel has {ws[1]} (weight shape {ws}); "
                       f"allowed: a weight of shape (out, {xs[1]}, k)")
    s = _scalar_int(stride, "stride", "conv1d", 1)
    p = _scalar_int(padding, "padding", "conv1d", 0)
    if ws[2] > xs[2] + 2 * p:
        raise BadInput(f"conv1d: kernel of {ws[2]} taps is longer than the input of {xs[2]}"
                       + (f" (padded to {xs[2] + 2 * p})" if p else "") + f"; allowed: at most {xs[2] + 2 * p} taps")
    out = conv2d(reshape(x, (xs[0], xs[1], 1, xs[2])), reshape(w, (ws[0], ws[1], 1, ws[2])), b,
                 stride=(1, s), padding=(0, p))
    return reshape(out, (xs[0], ws[0], _shape(out)[-1]))


def _scalar_int(v: Any, what: str, op: str, low: int) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise BadInput(f"{op}: {what} {v!r} is not an integer; allowed: an integer ≥ {low}")
    if v < low:
        raise BadInput(f"{op}: {what} {v!r} is below {low}; allowed: an integer ≥ {low}")
    return int(v)


# -- pooling ----------------------------------------------------------------------------------------
def avg_pool2d(x: Any, kernel: Any, stride: Any = None, padding: Any = 0) -> Any:
    """The mean of each window (zero padding counted, as torch's default); stride defaults to the kernel."""
    k = pair(kernel, "kernel size", "avg_pool2d", low=1)
    return mean(unfold(x, k, k if stride is None else stride, padding, op="avg_pool2d"), axis=(2, 3))


def _pool1d(pool, name, x, kernel, stride, padding):
    xs = _shape(x)
    if len(xs) != 3:
        raise BadInput(f"{name} needs an input of shape (batch, channels, length), got shape {xs}")
    k = _scalar_int(kernel, "kernel size", name, 1)
    s = k if stride is None else _scalar_int(stride, "stride", name, 1)
    p = _scalar_int(padding, "padding", name, 0)
    out = pool(reshape(x, (xs[0], xs[1], 1, xs[2])), (1, k), (1, s), (0, p))
    return reshape(out, (xs[0], xs[1], _shape(out)[-1]))


def max_pool1d(x: Any, kernel: int, stride: int | None = None, padding: int = 0) -> Any:
    """The maximum of each window of x (N, C, L)."""
    return _pool1d(max_pool2d, "max_pool1d", x, kernel, stride, padding)


def avg_pool1d(x: Any, kernel: int, stride: int | None = None, padding: int = 0) -> Any:
    """The mean of each window of x (N, C, L)."""
    return _pool1d(avg_pool2d, "avg_pool1d", x, kernel, stride, padding)


# -- batch normalisation ----------------------------------------------------------------------------
def _bn_axes(xs: tuple) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(statistics axes, shape that broadcasts a per-channel vector): channels on axis 1, as torch."""
    if len(xs) == 1:
        return (0,), ()
    if len(xs) < 1:
        raise BadInput("batch_norm needs a batch: an array of shape (N,), (N, C), (N, C, L) or (N, C, H, W)")
    axes = (0,) + tuple(range(2, len(xs)))
    return axes, (xs[1],) + (1,) * (len(xs) - 2)


def _per_channel(v: Any, xs: tuple, bshape: tuple, what: str) -> Any:
    want = bshape[:1] if bshape else ()
    if _shape(v) != want:
        raise BadInput(f"batch_norm: {what} has shape {_shape(v)}; allowed: {want}, one per channel of the input "
                       f"{xs}")
    return reshape(v, bshape) if len(bshape) > 1 else v


def batch_norm(x: Any, gamma: Any, beta: Any, *, training: bool = True, running_mean: Any = None,
               running_var: Any = None, eps: float = 1e-5) -> Any:
    """Batch normalisation γ·x̂ + β, channels on axis 1 (as ``torch.nn.functional.batch_norm``).

    ``training=True`` normalises with the batch statistics (biased variance) — the primitive
    ``batch_normalize``; ``training=False`` with ``running_mean``/``running_var`` (a composition).
    The running statistics are not updated here: :func:`running_stats` or :class:`BatchNorm` do.
    """
    xs = _shape(x)
    axes, bshape = _bn_axes(xs)
    g = _per_channel(gamma, xs, bshape, "gamma")
    bt = _per_channel(beta, xs, bshape, "beta")
    if training:
        xhat = batch_normalize(x, axes, eps)
    else:
        if running_mean is None or running_var is None:
            raise BadInput("batch_norm with training=False needs running_mean and running_var")
        rm = _per_channel(running_mean, xs, bshape, "running_mean")
        rv = _per_channel(running_var, xs, bshape, "running_var")
        if np.any(np.asarray(_leaf(running_var)) < 0):
            raise BadInput("batch_norm: running_var has a negative entry; a variance is ≥ 0")
        xhat = div(sub(x, rm), sqrt(add(rv, float(eps))))
    return add(mul(xhat, g), bt)


def running_stats(x: Any, running_mean: Any, running_var: Any, *, momentum: float = 0.1) -> tuple:
    """The running statistics after one training batch (torch's update: unbiased batch variance).

    Plain NumPy values (the statistics are not differentiated).
    """
    xv = np.asarray(_leaf(x), dtype=np.float64)
    axes, _ = _bn_axes(xv.shape)
    n = int(np.prod([xv.shape[a] for a in axes]))
    mu = xv.mean(axis=axes)
    var = xv.var(axis=axes) * n / max(n - 1, 1)
    m = float(momentum)
    return (1 - m) * np.asarray(running_mean) + m * mu, (1 - m) * np.asarray(running_var) + m * var


class BatchNorm:
    """A batch-norm layer's running statistics: ``bn(x, gamma, beta, training=True)`` normalises with
    the batch statistics and updates the running ones; ``training=False`` uses them.

    >>> bn = BatchNorm(2)
    >>> x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    >>> np.round(bn(x, np.ones(2), np.zeros(2)), 4)
    array([[-1.2247, -1.2247],
           [ 0.    ,  0.    ],
           [ 1.2247,  1.2247]])
    >>> bn.running_mean
    array([0.3, 0.6])
    """

    def __init__(self, channels: int, *, momentum: float = 0.1, eps: float = 1e-5) -> None:
        self.running_mean, self.running_var = np.zeros(channels), np.ones(channels)
        self.momentum, self.eps = momentum, eps

    def __call__(self, x: Any, gamma: Any, beta: Any, *, training: bool = True) -> Any:
        if not training:
            return batch_norm(x, gamma, beta, training=False, running_mean=self.running_mean,
                              running_var=self.running_var, eps=self.eps)
        y = batch_norm(x, gamma, beta, eps=self.eps)
        self.running_mean, self.running_var = running_stats(x, self.running_mean, self.running_var,
                                                            momentum=self.momentum)
        return y


# -- recurrent --------------------------------------------------------------------------------------
def elman_rnn(xs: Any, h0: Any, W_xh: Any, W_hh: Any, b: Any, *, activation: Callable | None = None) -> list:
    """An Elman RNN unrolled over the T steps of ``xs`` (N, T, D): h_t = σ(W_xh x_t + W_hh h_{t−1} + b).

    Returns the hidden states [h_1, ..., h_T], each (N, H); σ defaults to tanh.  Differentiating a
    loss of them is backpropagation through time.
    """
    s = _shape(xs)
    if len(s) != 3:
        raise BadInput(f"elman_rnn needs a sequence of shape (batch, T, features), got shape {s}")
    N, T, D = s
    if T < 1:
        raise BadInput(f"elman_rnn: the sequence has T = {T} steps; allowed: T ≥ 1")
    Hs, Hh = _shape(W_xh), _shape(W_hh)
    if len(Hs) != 2 or Hs[1] != D:
        raise BadInput(f"elman_rnn: W_xh has shape {Hs}; allowed: (hidden, {D}) for inputs with {D} features")
    H = Hs[0]
    if Hh != (H, H):
        raise BadInput(f"elman_rnn: W_hh has shape {Hh}; allowed: ({H}, {H})")
    if _shape(b) != (H,):
        raise BadInput(f"elman_rnn: the bias has shape {_shape(b)}; allowed: ({H},)")
    if _shape(h0) not in ((N, H), (H,)):
        raise BadInput(f"elman_rnn: h0 has shape {_shape(h0)}; allowed: ({N}, {H}) or ({H},)")
    act = activation or tanh
    # W_xh x_t + b for every step in one product (as cuDNN does); the recurrence is what is left
    u = add(matmul(xs, transpose(W_xh)), b)
    whh_t = transpose(W_hh)
    h, out = h0, []
    for t in range(T):
        h = act(add(getitem(u, (slice(None), t)), matmul(h, whh_t)))  # u[:, t]
        out.append(h)
    return out


# -- residual ---------------------------------------------------------------------------------------
def residual_block(x: Any, W1: Any, b1: Any, W2: Any, b2: Any, *, activation: Callable | None = None) -> Any:
    """σ(x + W₂ σ(W₁ x + b₁) + b₂): two dense layers with a skip connection from layer l to l + 2.

    σ defaults to relu.  W₂ must map back to the width of x.
    """
    act = activation or relu
    width = _shape(x)[-1] if _shape(x) else None
    if _shape(W2) and _shape(W2)[0] != width:
        raise BadInput(f"residual_block: W2 has shape {_shape(W2)} but the skip connection needs {width} outputs "
                       f"(the width of x); allowed: ({width}, hidden)")
    inner = dense(x, W1, b1, act)
    return act(add(x, dense(inner, W2, b2)))


# -- attention --------------------------------------------------------------------------------------
def causal_mask(tq: int, tk: int | None = None) -> np.ndarray:
    """True where query i may attend to key j: j ≤ i (top-left aligned, as torch's ``is_causal``)."""
    return np.tril(np.ones((tq, tq if tk is None else tk), dtype=bool))


def scaled_dot_product_attention(q: Any, k: Any, v: Any, mask: Any = None, *, causal: bool = False,
                                 scale: float | None = None) -> Any:
    """softmax(Q Kᵀ · scale, masked) V, as ``torch.nn.functional.scaled_dot_product_attention``.

    Parameters
    ----------
    q : (..., Tq, d);  k : (..., Tk, d);  v : (..., Tk, dv)
    mask : boolean array broadcasting to (..., Tq, Tk), optional
        True where a query may attend to a key (masked scores become −∞ before the softmax).
    causal : bool
        Also mask keys after the query (j > i).
    scale : float, default 1/√d
    """
    qs, ks, vs = _shape(q), _shape(k), _shape(v)
    if min(len(qs), len(ks), len(vs)) < 2:
        raise BadInput(f"attention needs q, k, v of shape (..., tokens, width), got {qs}, {ks}, {vs}")
    if qs[-1] != ks[-1]:
        raise BadInput(f"attention: queries of width {qs[-1]} and keys of width {ks[-1]}; allowed: equal widths")
    if ks[-2] != vs[-2]:
        raise BadInput(f"attention: {ks[-2]} keys but {vs[-2]} values; allowed: one value per key")
    try:
        batch = np.broadcast_shapes(qs[:-2], ks[:-2], vs[:-2])
    except ValueError:
        raise BadInput(f"attention: the batch shapes of q {qs}, k {ks}, v {vs} do not broadcast") from None
    scores_shape = batch + (qs[-2], ks[-2])
    keep = None
    if mask is not None:
        if isinstance(mask, Node):
            raise BadInput("attention: the mask is a boolean array, not a traced value")
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise BadInput(f"attention: the mask has dtype {m.dtype}; allowed: a boolean array (True = attend)")
        try:
            ok = m.ndim <= len(scores_shape) and np.broadcast_shapes(m.shape, scores_shape) == scores_shape
        except ValueError:
            ok = False
        if not ok:
            raise BadInput(f"attention: a mask of shape {m.shape} does not fit the scores of shape {scores_shape} "
                           f"(…, queries, keys); allowed: a boolean array broadcasting to {scores_shape}")
        keep = m
    if causal:
        c = causal_mask(qs[-2], ks[-2])
        keep = c if keep is None else keep & c
    if keep is not None and not np.all(np.broadcast_to(keep, scores_shape).any(axis=-1)):
        raise BadInput("attention: the mask leaves a query with no key to attend to; "
                       "allowed: a mask with at least one True in every query row")
    d = qs[-1]
    sc = 1.0 / np.sqrt(d) if scale is None else float(scale)
    nk = len(ks)
    s = matmul(mul(q, sc), transpose(k, tuple(range(nk - 2)) + (nk - 1, nk - 2)))
    if keep is not None:
        s = where(np.broadcast_to(keep, scores_shape), s, -np.inf)
    return matmul(softmax(s, axis=-1), v)


attention = scaled_dot_product_attention
