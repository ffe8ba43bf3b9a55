"""The layer zoo's primitives, one record each: sliding windows, max pooling, batch normalisation.

Most layers are compositions of the engine's operations (``diffkit.engine.layers``); these are
the pieces a composition cannot express, or only slowly:

* ``unfold`` — the sliding windows of an image, (N, C, H, W) → (N, C, kh, kw, OH, OW), with
  stride and zero padding (im2col).  Linear; its transpose is
* ``fold`` — every window's entries added back where they came from (col2im).  Each is the
  other's VJP and JVP, so the pair is closed under differentiation to any order.  A convolution
  is ``unfold`` followed by one matrix product, an average pool ``unfold`` then a mean.
* ``max_pool2d`` — the maximum of each window.  Its VJP routes g to the maximum of each window
  (ties split evenly, the tie rule of ``maximum``) by ``fold``; the routing mask is piecewise
  constant in x, so the rule is differentiable (its own derivative in x is 0 almost everywhere).
* ``batch_normalize`` — (x − mean) / sqrt(var + eps) over the batch axes (biased variance, as
  in training mode).  Its Jacobian is symmetric, invstd·(I − 11ᵀ/n − x̂x̂ᵀ/n), so the VJP and the
  JVP are the same closed form.  Written as a composition it would be ten primitives whose
  backward pass sweeps the array about twenty times; the closed form sweeps it five times.
Every rule is written with the engine's operations, so that ``hessian``, ``hvp`` and nested
``grad`` work through the layers.  On plain arrays, rules call NumPy directly where that saves
temporaries (the same arithmetic).

>>> import numpy as np
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> unfold(x, kernel=(2, 2), stride=(2, 2)).shape
(1, 1, 2, 2, 2, 2)
>>> max_pool2d(x, kernel=(2, 2), stride=(2, 2))[0, 0]
array([[ 5.,  7.],
       [13., 15.]])
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...errors import BadInput
from .. import buffers
from ..core import NONE, Absent, Node, bind, defprim
from .array import mean, reshape, sum
from .elementwise import add, div, mul, sqrt, sub

_ARRAY_CODE = {"math": Absent("array primitive"), "numpy": Absent("replay calls impl and the VJP rules")}
_NO_SYMPY = Absent("array primitive: the symbolic side writes the windows out as scalar sums")


def _leaf(x: Any) -> Any:
    while isinstance(x, Node):
        x = x.value
    return x


def _plain(*xs: Any) -> bool:
    return not any(isinstance(x, Node) for x in xs)


# -- validation: one place for the window arguments ------------------------------------------------
def pair(value: Any, what: str, op: str, *, low: int) -> tuple[int, int]:
    """``value`` (an int or a pair of ints) as a pair; BadInput naming the value and what is allowed.

    >>> pair(2, "stride", "conv2d", low=1)
    (2, 2)
    >>> pair(1.5, "stride", "conv2d", low=1)
    Traceback (most recent call last):
    ...
    diffkit.errors.BadInput: conv2d: stride 1.5 is not an integer; allowed: an integer ≥ 1 or a pair of them
    """
    items = (value, value) if np.ndim(value) == 0 else tuple(value) if isinstance(value, (tuple, list)) else None
    allowed = f"allowed: an integer ≥ {low} or a pair of them"
    if items is None or len(items) != 2:
        raise BadInput(f"{op}: {what} {value!r} is not an integer or a pair of integers; {allowed}")
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise BadInput(f"{op}: {what} {value!r} is not an integer; {allowed}")
        if v < low:
            raise BadInput(f"{op}: {what} {value!r} is below {low}; {allowed}")
        out.append(int(v))
    return out[0], out[1]


def window_shape(x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple, op: str) -> tuple[int, int]:
    """(OH, OW) of the windows of an (N, C, H, W) input; BadInput when the kernel does not fit."""
    if len(x_shape) != 4:
        raise BadInput(f"{op} needs an input of shape (batch, channels, height, width), got shape {x_shape}")
    H, W = x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]
    kh, kw = kernel
    if kh > H or kw > W:
        pad = f" (padded to {H}×{W})" if any(padding) else ""
        raise BadInput(f"{op}: kernel {kh}×{kw} is larger than the input {x_shape[2]}×{x_shape[3]}{pad}; "
                       f"allowed: a kernel of at most {H}×{W}")
    return (H - kh) // stride[0] + 1, (W - kw) // stride[1] + 1


def _windows_params(x: Any, kernel, stride, padding, op: str) -> dict:
    kernel = pair(kernel, "kernel size", op, low=1)
    stride = pair(kernel if stride is None else stride, "stride", op, low=1)
    padding = pair(padding, "padding", op, low=0)
    window_shape(np.shape(_leaf(x)), kernel, stride, padding, op)
    return {"kernel": kernel, "stride": stride, "padding": padding}


# -- unfold / fold ----------------------------------------------------------------------------------
def _windows(xp: np.ndarray, kernel, stride) -> np.ndarray:
    """The windows of a padded (N, C, H, W) array as a view (N, C, OH, OW, kh, kw)."""
    v = sliding_window_view(xp, kernel, axis=(2, 3))
    return v[:, :, ::stride[0], ::stride[1]]


def _pad(x: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _empty(shape: tuple, dtype) -> np.ndarray:
    """A result array; large ones from the engine's buffer cache (no page faults, see ``buffers``)."""
    if int(np.prod(shape)) * np.dtype(dtype).itemsize >= buffers.MIN_BYTES:
        return buffers.empty(shape, dtype)
    return np.empty(shape, dtype)


def _unfold_impl(x, kernel, stride, padding):
    # A contiguous copy (im2col): a convolution reshapes it to (N, C·kh·kw, OH·OW) for one matrix
    # product, which is then a view; the copy lands in a cached buffer instead of fresh pages.
    x = np.asarray(x)
    v = _windows(_pad(x, padding), kernel, stride).transpose(0, 1, 4, 5, 2, 3)
    out = _empty(v.shape, v.dtype)
    np.copyto(out, v)
    return out


def _fold_impl(g, x_shape, kernel, stride, padding):
    g = np.asarray(g)
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = g.shape[-2:]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    out = _empty((N, C, Hp, Wp), g.dtype)
    if (sh, sw) == (kh, kw) and Hp == kh * OH and Wp == kw * OW:  # tiling windows: one copy, no adds
        tiles = out.view()
        tiles.shape = (N, C, OH, kh, OW, kw)  # raises rather than copy: the writes must land in out
        tiles[...] = g.transpose(0, 1, 4, 2, 5, 3)
    else:
        out[...] = 0.0
        for i in range(kh):
            for j in range(kw):
                out[:, :, i:i + sh * OH:sh, j:j + sw * OW:sw] += g[:, :, i, j]
    return out[:, :, ph:ph + H, pw:pw + W] if ph or pw else out


def unfold(x: Any, kernel: Any, stride: Any = 1, padding: Any = 0, *, op: str = "unfold") -> Any:
    """The sliding windows of ``x`` (N, C, H, W): shape (N, C, kh, kw, OH, OW), zero padded.

    ``kernel``, ``stride``, ``padding``: an integer or a pair (height, width); ``op`` names the
    layer in error messages.
    """
    return bind(unfold_p, x, **_windows_params(x, kernel, stride, padding, op))


def fold(g: Any, x_shape: Sequence[int], kernel: Any, stride: Any = 1, padding: Any = 0) -> Any:
    """The transpose of :func:`unfold`: window entries (N, C, kh, kw, OH, OW) added into (N, C, H, W)."""
    x_shape = tuple(int(s) for s in x_shape)
    kw = dict(kernel=pair(kernel, "kernel size", "fold", low=1), stride=pair(stride, "stride", "fold", low=1),
              padding=pair(padding, "padding", "fold", low=0))
    OH, OW = window_shape(x_shape, kw["kernel"], kw["stride"], kw["padding"], "fold")
    want = x_shape[:2] + kw["kernel"] + (OH, OW)
    if np.shape(_leaf(g)) != want:
        raise BadInput(f"fold: windows of shape {np.shape(_leaf(g))} do not match an input of shape {x_shape} "
                       f"(expected {want})")
    return bind(fold_p, g, x_shape=x_shape, **kw)


def _unfold_cases(rng):
    out = []
    # small (the checker differentiates element by element), covering strides, padding, channels
    for shape, k, s, p in [((1, 1, 4, 4), (2, 2), (2, 2), (0, 0)), ((2, 2, 3, 4), (2, 3), (1, 2), (0, 1)),
                           ((1, 2, 4, 3), (3, 3), (2, 1), (1, 1)), ((2, 1, 2, 2), (1, 1), (1, 1), (0, 0)),
                           ((1, 1, 1, 5), (1, 3), (1, 1), (0, 0))]:
        out.append(((rng.normal(size=shape),), {"kernel": k, "stride": s, "padding": p}))
    return out


def _fold_cases(rng):
    out = []
    for (x,), params in _unfold_cases(rng):
        g = rng.normal(size=np.shape(_unfold_impl(x, **params)))
        out.append(((g,), {"x_shape": x.shape, **params}))
    return out


unfold_p = defprim(
    "unfold", _unfold_impl,
    vjp=(lambda g, ans, x, kernel, stride, padding: fold(g, np.shape(x), kernel, stride, padding),),
    jvp=(lambda t, ans, x, kernel, stride, padding: unfold(t, kernel, stride, padding),),
    cost=(1, ((1, NONE),)), local=("fold(·)",), sympy=_NO_SYMPY, code=_ARRAY_CODE,
    cases=_unfold_cases, doc="the sliding windows of an image (im2col), zero padded; linear")

fold_p = defprim(
    "fold", _fold_impl,
    vjp=(lambda g, ans, w, x_shape, kernel, stride, padding: unfold(g, kernel, stride, padding),),
    jvp=(lambda t, ans, w, x_shape, kernel, stride, padding: fold(t, x_shape, kernel, stride, padding),),
    cost=(1, ((1, NONE),)), local=("unfold(·)",), sympy=_NO_SYMPY, code=_ARRAY_CODE,
    cases=_fold_cases, doc="window entries added back into the image (col2im); the transpose of unfold")


# -- max pooling ------------------------------------------------------------------------------------
def _tiles(shape: tuple, kernel, stride, padding) -> bool:
    """Whether the windows tile the input exactly (stride = kernel, no padding): then they are a reshape."""
    return (tuple(stride) == tuple(kernel) and not any(padding)
            and shape[2] % kernel[0] == 0 and shape[3] % kernel[1] == 0)


def _tile_view(x: np.ndarray, kernel) -> np.ndarray:
    N, C, H, W = x.shape
    return x.reshape(N, C, H // kernel[0], kernel[0], W // kernel[1], kernel[1])


def _max_pool_impl(x, kernel, stride, padding):
    x = np.asarray(x)
    if _tiles(x.shape, kernel, stride, padding):  # 2×2 pooling and the like: a reduction of a reshape
        return _tile_view(x, kernel).max(axis=(3, 5))
    return _windows(_pad(x, padding, -np.inf), kernel, stride).max(axis=(-2, -1))


def _routing(x, ans, kernel, stride, padding) -> np.ndarray:
    """Where each window's maximum sits, in unfold's layout (N, C, kh, kw, OH, OW); ties share evenly."""
    x, ans = np.asarray(x), np.asarray(ans)
    if _tiles(x.shape, kernel, stride, padding):
        m = (_tile_view(x, kernel) == ans[:, :, :, None, :, None]).astype(np.result_type(x, np.float32))
        if m.sum() != ans.size:  # a tie somewhere: share
            m /= m.sum(axis=(3, 5), keepdims=True)
        return m.transpose(0, 1, 3, 5, 2, 4)
    w = _windows(_pad(x, padding, -np.inf), kernel, stride)
    m = (w == ans[..., None, None]).astype(np.result_type(x, np.float32))
    if m.sum() != ans.size:
        m /= m.sum(axis=(-2, -1), keepdims=True)
    return m.transpose(0, 1, 4, 5, 2, 3)


def _max_pool_vjp(g, ans, x, kernel, stride, padding):
    xv, av = _leaf(x), _leaf(ans)
    N, C, OH, OW = np.shape(av)
    m = _routing(xv, av, kernel, stride, padding)
    if _plain(g):
        if _tiles(np.shape(xv), kernel, stride, padding):  # the windows tile x: the routed g is x's shape
            t = m.transpose(0, 1, 4, 2, 5, 3)  # back to (N, C, OH, kh, OW, kw), a view of the mask
            t *= np.asarray(g)[:, :, :, None, :, None]
            return t.reshape(np.shape(xv))
        return _fold_impl(np.asarray(g)[:, :, None, None] * m, np.shape(xv), kernel, stride, padding)
    return fold(mul(reshape(g, (N, C, 1, 1, OH, OW)), m), np.shape(xv), kernel, stride, padding)


def _max_pool_jvp(t, ans, x, kernel, stride, padding):
    m = _routing(_leaf(x), _leaf(ans), kernel, stride, padding)
    return sum(mul(unfold(t, kernel, stride, padding), m), axis=(2, 3))


def max_pool2d(x: Any, kernel: Any, stride: Any = None, padding: Any = 0) -> Any:
    """The maximum of each window of ``x`` (N, C, H, W); ``stride`` defaults to the kernel size.

    Padding is with −∞ (as torch), at most half the kernel, so no window is padding only.
    """
    params = _windows_params(x, kernel, stride, padding, "max_pool2d")
    k, p = params["kernel"], params["padding"]
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise BadInput(f"max_pool2d: padding {padding!r} is more than half the kernel {k[0]}×{k[1]}; "
                       f"allowed: at most {k[0] // 2}×{k[1] // 2}")
    return bind(max_pool_p, x, **params)


def _pool_cases(rng):
    out = []
    for shape, k, s, p in [((1, 1, 4, 4), (2, 2), (2, 2), (0, 0)), ((2, 2, 4, 3), (3, 2), (1, 2), (1, 0)),
                           ((1, 2, 3, 4), (2, 2), (1, 1), (0, 1)), ((1, 1, 6, 6), (3, 3), (3, 3), (0, 0))]:
        # distinct values a few differences apart: central differences never cross a tie
        x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(-0.01, 0.01, shape)
        out.append(((x,), {"kernel": k, "stride": s, "padding": p}))
    return out


max_pool_p = defprim(
    "max_pool2d", _max_pool_impl,
    vjp=(_max_pool_vjp,), jvp=(_max_pool_jvp,),
    cost=(1, ((2, NONE),)), local=("[{0} is its window's max]",), sympy=_NO_SYMPY, code=_ARRAY_CODE,
    cases=_pool_cases, doc="max over each window; the gradient goes to each window's maximum (ties share evenly)")


# -- batch normalisation ----------------------------------------------------------------------------
def _stats(x: np.ndarray, axes, eps):
    mu = x.mean(axis=axes, keepdims=True)
    d = x - mu
    var = np.mean(d * d, axis=axes, keepdims=True)
    return d, 1.0 / np.sqrt(var + eps)


def _bn_impl(x, axes, eps):
    d, invstd = _stats(np.asarray(x), axes, eps)
    d *= invstd
    return d


def _bn_fwd(x, axes, eps):
    d, invstd = _stats(np.asarray(x), axes, eps)
    d *= invstd
    return d, invstd


def _bn_rule(g, ans, x, axes, eps, res=None, consume=False):
    """invstd·(g − mean(g) − x̂·mean(g·x̂)): the VJP and (the Jacobian being symmetric) the JVP."""
    if _plain(g, ans, x):
        g, xhat = np.asarray(g), np.asarray(ans)
        invstd = res if res is not None else _stats(np.asarray(x), axes, eps)[1]
        out = g - g.mean(axis=axes, keepdims=True)
        out -= xhat * np.mean(g * xhat, axis=axes, keepdims=True)
        out *= invstd
        return out
    mu = mean(x, axes, keepdims=True)
    d = sub(x, mu)
    invstd = div(1.0, sqrt(add(mean(mul(d, d), axes, keepdims=True), eps)))
    inner = sub(sub(g, mean(g, axes, keepdims=True)), mul(ans, mean(mul(g, ans), axes, keepdims=True)))
    return mul(invstd, inner)


def batch_normalize(x: Any, axes: Any = (0,), eps: float = 1e-5) -> Any:
    """(x − mean) / sqrt(var + eps) over ``axes`` (biased variance: the batch statistics)."""
    from .array import norm_axis
    nd = np.ndim(_leaf(x))
    axes = norm_axis(axes, nd, "batch_norm")
    if not axes:
        raise BadInput("batch_norm: no axis to take the statistics over; give the batch axis (0)")
    n = int(np.prod([np.shape(_leaf(x))[a] for a in axes]))
    if n < 2:
        raise BadInput(f"batch_norm: the statistics over axes {axes} of shape {np.shape(_leaf(x))} cover {n} value; "
                       "allowed: at least 2 values per channel (a batch of one has no variance)")
    if not isinstance(eps, (int, float, np.floating)) or isinstance(eps, bool) or not eps > 0 or not np.isfinite(eps):
        raise BadInput(f"batch_norm: eps {eps!r} must be a positive finite number")
    return bind(batch_norm_p, x, axes=axes, eps=float(eps))


def _bn_cases(rng):
    return [((rng.normal(size=(3, 2)),), {"axes": (0,), "eps": 1e-5}),
            ((rng.normal(size=(4, 2, 2, 2)),), {"axes": (0, 2, 3), "eps": 1e-3}),
            ((rng.normal(size=(2, 3, 4)),), {"axes": (0, 2), "eps": 0.1}),
            ((rng.normal(size=(5,)),), {"axes": (0,), "eps": 1e-5})]


batch_norm_p = defprim(
    "batch_normalize", _bn_impl, fwd=_bn_fwd, res_args=(0,),
    vjp=(_bn_rule,), jvp=(lambda t, ans, x, axes, eps: _bn_rule(t, ans, x, axes, eps),),
    cost=(1, ((8, NONE),)), local=("invstd·((·) − mean(·) − {ans}·mean((·)·{ans}))",),
    sympy=Absent("statistics over a batch axis: the symbolic side writes the mean and variance out"),
    code=_ARRAY_CODE, cases=_bn_cases,
    doc="(x − mean)/sqrt(var + eps) over the batch axes; symmetric Jacobian, one closed form for VJP and JVP")


__all__ = ["unfold", "fold", "max_pool2d", "batch_normalize", "pair", "window_shape"]
