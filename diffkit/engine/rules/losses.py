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

from ... import stable
from ...errors import BadInput, brief
from ..compile.fused import Fused, V
from ..core import MUL, NONE, Absent, Code, Node, SymPy, bind, defprim
from ...functions import softplus as sp_softplus
from .array import reshape, sum
from .elementwise import exp, mul, neg, sigmoid, sub


def _leaf(x):
    while isinstance(x, Node):
        x = x.value
    return x


_amax, _asum = np.maximum.reduce, np.add.reduce  # z.max(), z.sum() without NumPy's Python wrappers


def _log_softmax_impl(z, axis=-1):
    if type(z) is not np.ndarray:
        z = np.asarray(z)
    s = z - _amax(z, axis=axis, keepdims=True)
    s -= np.log(_asum(np.exp(s), axis=axis, keepdims=True))
    return s


def _ndim(x):
    while type(x) is Node:  # only the shape is read: an elided value's ghost serves (elide.py)
        x = x._v
    return x.ndim if type(x) is np.ndarray else np.ndim(x)


def _check_axis(z, axis, op):
    nd = _ndim(z)
    if type(axis) is int and nd and -nd <= axis < nd:
        return axis % nd  # the common case, checked at once
    if nd == 0:
        raise BadInput(f"{op} needs an array of at least one dimension, got a scalar")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool) or not -nd <= axis < nd:
        raise BadInput(f"{op}: axis {axis!r} is out of range for an array of shape {np.shape(_leaf(z))} "
                       f"(allowed: {-nd} to {nd - 1})")
    return int(axis) % nd


def _onehot(labels, logits, axis):
    """Integer class labels → one-hot of the logits' shape; probability labels unchanged."""
    if type(labels) is np.ndarray and type(logits) is np.ndarray and labels.shape == logits.shape:
        return labels  # probabilities of the logits' shape (W3's one-hot rows): checked in attributes
    lab, z = _leaf(labels), _leaf(logits)
    if np.ndim(lab) == np.ndim(z) - 1 and np.result_type(lab).kind in "iu":
        ax = axis % np.ndim(z)
        k = np.shape(z)[ax]
        if np.size(lab) and (np.min(lab) < 0 or np.max(lab) >= k):
            raise ValueError(f"class labels must be in 0..{k - 1}")
        oh = (np.expand_dims(lab, ax) == np.arange(k).reshape([-1 if i == ax else 1 for i in range(np.ndim(z))]))
        return oh.astype(np.result_type(z))
    if np.shape(lab) != np.shape(z):
        raise ValueError(f"labels of shape {np.shape(lab)} must match the logits {np.shape(z)} "
                         "(probabilities) or drop the class axis (integer classes)")
    return labels


# -- checker cases ---------------------------------------------------------------------------
def _softmax_cases(rng):
    return [((rng.normal(size=(3, 4)),), {"axis": a}) for a in (0, 1)] + [
        ((rng.normal(size=(5,)),), {"axis": 0}), ((rng.normal(size=(2, 3, 4)),), {"axis": 1})]


def _sce_cases(rng):
    z = rng.normal(size=(3, 4))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    q = rng.dirichlet(np.ones(3), size=4)  # probabilities along axis 1 of a (4, 3)
    return [((z, p), {"axis": 1}), ((rng.normal(size=(4, 3)), q), {"axis": 1}),
            ((z, rng.integers(0, 4, size=3)), {"axis": 1}), ((rng.normal(size=(5,)), rng.dirichlet(np.ones(5))), {"axis": 0})]


# -- log-sigmoid and binary cross-entropy with logits -----------------------------------------
def log_sigmoid(z: Any) -> Any:
    """log σ(z) = −softplus(−z), stable for large |z|."""
    return bind(log_sigmoid_p, z)


log_sigmoid_p = defprim(
    "log_sigmoid", lambda z: stable.log_sigmoid(np.asarray(z))[()], elementwise=True,
    vjp=(lambda g, ans, z: mul(g, sigmoid(neg(z))),), jvp=(lambda t, ans, z: mul(t, sigmoid(neg(z))),),
    cost=(1, ((3, MUL),)), local=("sigmoid(-{0})",),
    sympy=SymPy(lambda z: -sp_softplus(-z)),
    code={"math": Code("-_softplus(-{0})", ((MUL, "_sig(-{0})"),)),
          "numpy": Code("_stable.log_sigmoid({0})", ((MUL, "_stable.sigmoid(-{0})"),))},
    doc="log σ(z) = −softplus(−z)")


def bce_with_logits(z: Any, y: Any) -> Any:
    """Binary cross-entropy on logits, elementwise: −y log σ(z) − (1−y) log(1−σ(z)) = softplus(z) − yz."""
    return bind(bce_p, z, y)


bce_p = defprim(
    "bce_with_logits", lambda z, y: stable.softplus(z) - y * z, elementwise=True,
    vjp=(lambda g, ans, z, y: mul(g, sub(sigmoid(z), y)), lambda g, ans, z, y: neg(mul(g, z))),
    jvp=(lambda t, ans, z, y: mul(t, sub(sigmoid(z), y)), lambda t, ans, z, y: neg(mul(t, z))),
    cost=(1, ((3, MUL), (2, MUL))), local=("sigmoid({0}) - {1}", "-{0}"),
    sympy=SymPy(lambda z, y: sp_softplus(z) - y * z),
    code={"math": Code("_softplus({0}) - {1} * {0}", ((MUL, "_sig({0}) - {1}"), (MUL, "-{0}"))),
          "numpy": Code("_stable.softplus({0}) - {1} * {0}", ((MUL, "_stable.sigmoid({0}) - {1}"), (MUL, "-{0}")))},
    domain=("real", "unit"), doc="softplus(z) − y·z")


# -- log-softmax, softmax ----------------------------------------------------------------------
def log_softmax(z: Any, axis: int = -1) -> Any:
    """z − logsumexp(z) along ``axis``."""
    return bind(log_softmax_p, z, axis=_check_axis(z, axis, "log_softmax"))


log_softmax_p = defprim(
    "log_softmax", _log_softmax_impl,
    vjp=(lambda g, ans, z, axis=-1: sub(g, mul(exp(ans), sum(g, axis, keepdims=True))),),
    jvp=(lambda t, ans, z, axis=-1: sub(t, sum(mul(exp(ans), t), axis, keepdims=True)),),
    cost=(1, ((4, NONE),)), local=("(·) - softmax({0})·Σ(·)",),
    sympy=Absent("axis-wise over an array"), code={"math": Absent("array primitive"),
                                                   "numpy": Absent("replay calls impl and the VJP rules")},
    cases=_softmax_cases, doc="z − logsumexp(z) along an axis")


def softmax(z: Any, axis: int = -1) -> Any:
    """exp(z) / Σ exp(z) along ``axis``, computed from the stable log-softmax."""
    return bind(softmax_p, z, axis=_check_axis(z, axis, "softmax"))


def _softmax_vjp(g, ans, z, axis=-1):
    ga = mul(g, ans)
    return sub(ga, mul(ans, sum(ga, axis, keepdims=True)))


softmax_p = defprim(
    "softmax", lambda z, axis=-1: np.exp(_log_softmax_impl(z, axis)),
    vjp=(_softmax_vjp,), jvp=(lambda t, ans, z, axis=-1: _softmax_vjp(t, ans, z, axis),),
    cost=(1, ((4, NONE),)), local=("{ans}·((·) - Σ(·)·{ans})",),
    sympy=Absent("axis-wise over an array"), code={"math": Absent("array primitive"),
                                                   "numpy": Absent("replay calls impl and the VJP rules")},
    cases=_softmax_cases, doc="exp(z)/Σexp(z) along an axis")


# -- softmax cross-entropy ---------------------------------------------------------------------
def _sce_impl(z, labels, axis=-1):
    y = _onehot(labels, z, axis)
    t = _log_softmax_impl(z, axis)
    if np.result_type(t, y) == t.dtype:
        t *= y  # in place: t is this call's own temporary
    else:
        t = t * y  # NumPy's promotion (e.g. float64 labels with float32 logits)
    return -_asum(t, axis=axis)


def _sce_fwd(z, labels, axis=-1):
    # keeps the log-softmax (and one-hot labels) for the VJP instead of recomputing them there
    y = _onehot(labels, z, axis)
    t = _log_softmax_impl(z, axis)
    return -_asum(t * y, axis=axis), (t, y)


def softmax_cross_entropy(logits: Any, labels: Any, axis: int = -1) -> Any:
    """Per-example −Σ y log softmax(z) along ``axis`` (the class axis is summed out).

    ``labels`` are probabilities/one-hot rows of the logits' shape, or integer classes; an array
    or (nested) lists of them.
    """
    if isinstance(labels, (list, tuple)):
        labels = _label_array(labels)
    return bind(softmax_ce_p, logits, labels, axis=_check_axis(logits, axis, "softmax_cross_entropy"))


def _label_array(labels: list | tuple) -> Any:
    """Labels written as (nested) lists: one array (stacked, when they hold traced values)."""
    from .indexing import as_array_arg
    out = as_array_arg(labels)
    if isinstance(out, Node):
        return out
    try:
        arr = np.asarray(out)
    except ValueError:
        arr = None
    if arr is None or arr.dtype.kind not in "fiub":
        raise BadInput("softmax_cross_entropy: labels must be integer classes or probability rows of "
                       f"numbers (an array or nested lists of one shape), got {brief(labels)}")
    return arr


def _expand(g, ans, axis):
    """g (shape of ans) with the class axis back as size 1."""
    shape = list(np.shape(ans))
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape(g, tuple(shape)) if np.ndim(g) else g


def _sce_vjp_logits(g, ans, z, labels, axis=-1, res=None, consume=False):
    gs = g.shape if type(g) is np.ndarray else np.shape(g)
    if type(z) is np.ndarray and type(g) is not Node and type(labels) is not Node \
            and (gs == () or gs == np.shape(ans)):
        # plain arrays: (softmax(z) − y)·g in place in one buffer, no binds (W3's last layer)
        y = _onehot(labels, z, axis) if res is None else res[1]
        dt = z.dtype
        if (getattr(y, "dtype", None) == dt and getattr(g, "dtype", None) == dt) or np.result_type(z, y, g) == dt:
            if res is None:
                p = _log_softmax_impl(z, axis)
                np.exp(p, out=p)
            elif consume and res[0].flags.writeable:  # this sweep is its last reader
                p = np.exp(res[0], out=res[0])
            else:
                p = np.exp(res[0])  # a new array: the residual stays intact for another sweep
            p -= y
            if gs:  # g with the class axis back (a reshape: np.expand_dims costs ~5 µs)
                ax = axis % (g.ndim + 1)
                g = g.reshape(g.shape[:ax] + (1,) + g.shape[ax:])
            p *= g
            return p
    p = softmax(z, axis)
    return mul(_expand(g, ans, axis), sub(p, _onehot(labels, z, axis)))


def _fz_sce(gen, n, a, out):
    # the log-softmax s of _log_softmax_impl, in a pool buffer kept for the VJP; then −Σ s·y
    z, y = a
    s = gen.alloc(z.shape, z.dtype)
    gen.emit(f"s_{out} = np.subtract({z.expr}, {z.expr}.max(axis=-1, keepdims=True), out={s})")
    gen.emit(f"s_{out} -= np.log(np.exp(s_{out}).sum(axis=-1, keepdims=True))")
    gen.save(n, "s", V(f"s_{out}", z.shape, z.dtype, s))
    t = gen.alloc(z.shape, z.dtype)
    gen.emit(f"{out} = -np.multiply(s_{out}, {y.expr}, out={t}).sum(axis=-1)")
    gen.drop(V(t, z.shape, z.dtype, t))
    shape = np.shape(gen.vals[n])
    return V(out, shape, np.result_type(gen.vals[n]), fresh=shape != ())


def _fz_sce_vjp(gen, n, i, g, a, ans, fresh):  # (softmax(z) − y)·g in one buffer, as _sce_vjp_logits
    s = gen.saved(n, "s")
    buf = gen.alloc(s.shape, s.dtype)
    t = gen.tmp()
    gen.emit(f"{t} = np.exp({s.expr}, out={buf})")
    gen.emit(f"{t} -= {a[1].expr}")
    if g.expr != "1.0":
        gen.emit(f"{t} *= {g.expr if g.shape == () else f'np.expand_dims({g.expr}, -1)'}")
    return V(t, s.shape, s.dtype, buf)


def _fz_sce_supports(n, vals):
    # probability labels of the logits' shape, the class axis last, labels not differentiated
    z, y = vals[n.parents[0]], vals[n.parents[1]]
    return (not n.parents[1].needs_grad and np.shape(y) == np.shape(z) and np.ndim(z) >= 1
            and n.params.get("axis", -1) in (-1, np.ndim(z) - 1) and np.result_type(y) == np.result_type(z))


softmax_ce_p = defprim(
    "softmax_cross_entropy", _sce_impl, fwd=_sce_fwd, res_args=(0,),
    vjp=(_sce_vjp_logits,
         lambda g, ans, z, labels, axis=-1: neg(mul(_expand(g, ans, axis), log_softmax(z, axis)))),
    jvp=(lambda t, ans, z, labels, axis=-1: sum(mul(t, sub(softmax(z, axis), _onehot(labels, z, axis))), axis),
         lambda t, ans, z, labels, axis=-1: neg(sum(mul(t, log_softmax(z, axis)), axis))),
    cost=(1, ((3, MUL), (3, MUL))), local=("softmax({0}) - {1}", "-log_softmax({0})"),
    sympy=Absent("axis-wise over an array"),
    code={"math": Absent("array primitive"), "numpy": Absent("replay calls impl and the VJP rules"),
          "fused": Fused(_fz_sce, _fz_sce_vjp, supports=_fz_sce_supports, g_absorbs=frozenset(), residuals=("s",),
                         uses=lambda n: [n.parents[1]])},
    cases=_sce_cases, domain=("real", "label"), doc="−Σ y·log softmax(z) along the class axis")

__all__ = ["log_sigmoid", "bce_with_logits", "log_softmax", "softmax", "softmax_cross_entropy"]
