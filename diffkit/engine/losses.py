"""Numerically stable loss primitives: log-sigmoid, binary and softmax cross-entropy, (log-)softmax.

Each is one primitive so that the forward pass never forms ``log(σ(z))`` or ``exp(z)`` of a large
logit, and each VJP is the textbook closed form (σ(z) − y, softmax(z) − y).

>>> import numpy as np
>>> float(log_sigmoid(np.float64(-800.0)))
-800.0
>>> z = np.array([[1000.0, 0.0]]); y = np.array([[0.0, 1.0]])
>>> softmax_cross_entropy(z, y)
array([1000.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Node, bind, defforward, defjvp, defvjp, primitive, raw
from .prims import mul, neg, sigmoid, softplus, sub
from .prims_array import broadcast_to, reshape, sum, unbroadcast


def _logsumexp(z, axis: int):
    m = np.max(z, axis=axis, keepdims=True)
    s = z - m
    return m + np.log(np.sum(np.exp(s), axis=axis, keepdims=True)), s, m


def _log_softmax_impl(z, axis=-1):
    z = np.asarray(z)
    s = z - z.max(axis=axis, keepdims=True)
    s -= np.log(np.exp(s).sum(axis=axis, keepdims=True))
    return s


def _onehot(labels, logits, axis):
    """Integer class labels → one-hot of the logits' shape; probability labels unchanged."""
    lab = raw(labels)
    z = raw(logits)
    if np.ndim(lab) == np.ndim(z) - 1 and np.result_type(lab).kind in "iu":
        ax = axis % np.ndim(z)
        k = np.shape(z)[ax]
        oh = (np.expand_dims(lab, ax) == np.arange(k).reshape([-1 if i == ax else 1 for i in range(np.ndim(z))]))
        return oh.astype(np.result_type(z))
    if np.shape(lab) != np.shape(z):
        raise ValueError(f"labels of shape {np.shape(lab)} must match the logits {np.shape(z)} "
                         "(probabilities) or drop the class axis (integer classes)")
    return labels


# -- log-sigmoid and binary cross-entropy with logits -----------------------------------------
log_sigmoid_p = primitive("log_sigmoid", lambda z: -np.logaddexp(0.0, -np.asarray(z))[()], 1)


def log_sigmoid(z: Any) -> Any:
    """log σ(z) = −softplus(−z), stable for large |z|."""
    return bind(log_sigmoid_p, z)


defvjp(log_sigmoid_p, 0)(lambda g, ans, z: mul(g, sigmoid(neg(z))))
defjvp(log_sigmoid_p, 0)(lambda t, ans, z: mul(t, sigmoid(neg(z))))

bce_p = primitive("bce_with_logits", lambda z, y: np.logaddexp(0.0, z) - y * z, 2)


def bce_with_logits(z: Any, y: Any) -> Any:
    """Binary cross-entropy on logits, elementwise: −y log σ(z) − (1−y) log(1−σ(z)) = softplus(z) − yz."""
    return bind(bce_p, z, y)


defvjp(bce_p, 0)(lambda g, ans, z, y: unbroadcast(mul(g, sub(sigmoid(z), y)), np.shape(raw(z))))
defvjp(bce_p, 1)(lambda g, ans, z, y: unbroadcast(neg(mul(g, z)), np.shape(raw(y))))
defjvp(bce_p, 0)(lambda t, ans, z, y: mul(t, sub(sigmoid(z), y)))
defjvp(bce_p, 1)(lambda t, ans, z, y: neg(mul(t, z)))

# -- log-softmax, softmax ----------------------------------------------------------------------
log_softmax_p = primitive("log_softmax", _log_softmax_impl, 1)


def log_softmax(z: Any, axis: int = -1) -> Any:
    """z − logsumexp(z) along ``axis``."""
    return bind(log_softmax_p, z, axis=axis)


def _exp(x):
    from .prims import exp
    return exp(x)


defvjp(log_softmax_p, 0)(
    lambda g, ans, z, axis=-1: sub(broadcast_to(g, np.shape(raw(ans))), mul(_exp(ans), sum(g, axis, keepdims=True))))
defjvp(log_softmax_p, 0)(
    lambda t, ans, z, axis=-1: sub(t, sum(mul(_exp(ans), t), axis, keepdims=True)))

softmax_p = primitive("softmax", lambda z, axis=-1: np.exp(_log_softmax_impl(z, axis)), 1)


def softmax(z: Any, axis: int = -1) -> Any:
    """exp(z) / Σ exp(z) along ``axis``, computed from the stable log-softmax."""
    return bind(softmax_p, z, axis=axis)


def _softmax_vjp(g, ans, z, axis=-1):
    ga = mul(g, ans)
    return sub(ga, mul(ans, sum(ga, axis, keepdims=True)))


defvjp(softmax_p, 0)(_softmax_vjp)
defjvp(softmax_p, 0)(lambda t, ans, z, axis=-1: _softmax_vjp(broadcast_to(t, np.shape(raw(z))), ans, z, axis))


# -- softmax cross-entropy ---------------------------------------------------------------------
def _sce_impl(z, labels, axis=-1):
    y = _onehot(labels, z, axis)
    t = _log_softmax_impl(z, axis)
    if np.result_type(t, y) == t.dtype:
        t *= y  # in place: t is this call's own temporary
    else:
        t = t * y  # NumPy's promotion (e.g. float64 labels with float32 logits)
    return -t.sum(axis=axis)


softmax_ce_p = primitive("softmax_cross_entropy", _sce_impl, 2)


@defforward(softmax_ce_p)
def _sce_fwd(z, labels, axis=-1):
    # keeps the log-softmax (and one-hot labels) for the VJP instead of recomputing them there
    y = _onehot(labels, z, axis)
    t = _log_softmax_impl(z, axis)
    return -(t * y).sum(axis=axis), (t, y)


def softmax_cross_entropy(logits: Any, labels: Any, axis: int = -1) -> Any:
    """Per-example −Σ y log softmax(z) along ``axis`` (the class axis is summed out).

    ``labels`` are probabilities/one-hot rows of the logits' shape, or integer classes.
    """
    return bind(softmax_ce_p, logits, labels, axis=axis)


def _expand(g, ans, axis):
    shape = list(np.shape(raw(ans)))
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape(broadcast_to(g, np.shape(raw(ans))), tuple(shape)) if np.ndim(raw(g)) else g


@defvjp(softmax_ce_p, 0, residuals=True)
def _sce_vjp_logits(g, ans, z, labels, axis=-1, res=None):
    if type(z) is np.ndarray and not any(isinstance(v, Node) for v in (g, labels)) \
            and (np.ndim(g) == 0 or np.shape(g) == np.shape(ans)):
        # plain arrays: (softmax(z) − y)·g in place in one buffer, no binds (W3's last layer)
        y = _onehot(labels, z, axis) if res is None else res[1]
        if np.result_type(z, y, g) == z.dtype:  # else NumPy's promotion, below
            if res is None:
                p = _log_softmax_impl(z, axis)
                np.exp(p, out=p)
            else:
                p = np.exp(res[0])  # a new array: the residual stays intact for another sweep
            p -= y
            p *= np.expand_dims(g, axis) if np.ndim(g) else g
            return p
    p = softmax(z, axis)
    return mul(_expand(g, ans, axis), sub(p, _onehot(labels, z, axis)))


@defvjp(softmax_ce_p, 1)
def _sce_vjp_labels(g, ans, z, labels, axis=-1):
    return neg(mul(_expand(g, ans, axis), log_softmax(z, axis)))


@defjvp(softmax_ce_p, 0)
def _sce_jvp_logits(t, ans, z, labels, axis=-1):
    return sum(mul(t, sub(softmax(z, axis), _onehot(labels, z, axis))), axis)


@defjvp(softmax_ce_p, 1)
def _sce_jvp_labels(t, ans, z, labels, axis=-1):
    return neg(sum(mul(t, log_softmax(z, axis)), axis))


__all__ = ["log_sigmoid", "bce_with_logits", "log_softmax", "softmax", "softmax_cross_entropy", "softplus"]
