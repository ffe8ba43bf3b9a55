"""The NumPy-like user API: ``import diffkit.engine as dk`` and write ordinary array code.

Operators ``+ - * / ** @``, unary ``-``, comparisons (which give plain boolean arrays), ``.T``,
``.reshape``, ``.sum``, ``.mean`` work on :class:`Node`; the functions below work on Nodes and on
plain arrays alike, under their NumPy names (``multiply``, ``negative``, ``divide`` ... are
aliases).  NumPy's own functions given a Node dispatch here (``np.sum(node)``, ``np.exp(node)``,
``array + node``), or raise one clear error naming the diffkit function to use.

Examples
--------
An L-layer MLP with ReLU and softmax cross-entropy, and its gradient, in a few lines:

>>> import numpy as np
>>> import diffkit.engine as dk
>>> rng = np.random.default_rng(0)
>>> sizes = [4, 8, 8, 3]
>>> params = [(rng.normal(size=(m, n)) / np.sqrt(m), np.zeros(n)) for m, n in zip(sizes, sizes[1:])]
>>> X, labels = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
>>> def loss(params):
...     a = X
...     for i, (W, b) in enumerate(params):
...         z = a @ W + b
...         a = dk.relu(z) if i < len(params) - 1 else z
...     return dk.softmax_cross_entropy(a, labels).mean()
>>> grads = dk.grad(loss)(params)
>>> [g.shape for g in grads[0]]
[(4, 8), (8,)]
>>> h = 1e-6; E = np.zeros((4, 8)); E[0, 0] = h
>>> bumped = lambda s: [(W + s * E, b) if i == 0 else (W, b) for i, (W, b) in enumerate(params)]
>>> fd = (loss(bumped(1)) - loss(bumped(-1))) / (2 * h)
>>> bool(abs(fd - grads[0][0][0, 0]) < 1e-7)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BadInput
from .core import Node
from .rules.array import broadcast_to, matmul, mean, reshape, sum, transpose
from .rules.elementwise import (absolute, add, cos, div, exp, log, maximum, minimum, mul, neg, power, relu,
                                sigmoid, sign, sin, softplus, sqrt, step, sub, tanh, where)
from .rules.losses import bce_with_logits, log_sigmoid, log_softmax, softmax, softmax_cross_entropy

abs = absolute  # noqa: A001 - NumPy's name, on purpose: dk.abs
multiply, subtract, divide, true_divide, negative = mul, sub, div, div, neg


def square(x: Any) -> Any:
    """x ** 2."""
    return power(x, 2.0)


def label(x: Node, name: str) -> Node:
    """Give a node a display name (e.g. the lecture's ``z``); returns the node.

    >>> import diffkit.engine as dk
    >>> z = dk.label(dk.param(1.0, "w") * 2.0, "z")
    >>> z.name, z.named
    ('z', True)
    """
    if not isinstance(x, Node):
        raise BadInput("label() names graph nodes; got a plain value (trace the function first)")
    x.name, x.named = name, True
    return x


def _leaf(x: Any) -> Any:
    while isinstance(x, Node):
        x = x.value
    return x


def _cmp(op):
    return lambda a, b: op(_leaf(a), _leaf(b))


def _reshape_method(self, *shape):
    return reshape(self, shape[0] if len(shape) == 1 and np.ndim(shape[0]) else shape)


def _transpose_method(self, *axes):
    return transpose(self, (axes[0] if len(axes) == 1 and np.ndim(axes[0]) else axes) or None)


Node.__add__ = add  # the function itself: one call less per traced operator
Node.__radd__ = lambda a, b: add(b, a)
Node.__sub__ = sub
Node.__rsub__ = lambda a, b: sub(b, a)
Node.__mul__ = mul
Node.__rmul__ = lambda a, b: mul(b, a)
Node.__truediv__ = div
Node.__rtruediv__ = lambda a, b: div(b, a)
Node.__pow__ = power
Node.__rpow__ = lambda a, b: power(b, a)
Node.__matmul__ = matmul
Node.__rmatmul__ = lambda a, b: matmul(b, a)
Node.__neg__ = neg
Node.__pos__ = lambda a: a
Node.__abs__ = lambda a: absolute(a)
Node.__gt__ = _cmp(np.greater)
Node.__ge__ = _cmp(np.greater_equal)
Node.__lt__ = _cmp(np.less)
Node.__le__ = _cmp(np.less_equal)
Node.__eq__ = _cmp(np.equal)  # elementwise, as NumPy (hashing stays by identity)
Node.__ne__ = _cmp(np.not_equal)
Node.__float__ = lambda a: float(_leaf(a))
Node.__int__ = lambda a: int(_leaf(a))
Node.__bool__ = lambda a: bool(_leaf(a))
Node.__len__ = lambda a: len(_leaf(a))
Node.T = property(lambda a: transpose(a))
Node.reshape = _reshape_method
Node.transpose = _transpose_method
Node.sum = lambda a, axis=None, keepdims=False: sum(a, axis, keepdims)
Node.mean = lambda a, axis=None, keepdims=False: mean(a, axis, keepdims)


# -- NumPy's functions on Nodes ----------------------------------------------------------------
#: NumPy ufuncs that have a diffkit operation (array + node, np.exp(node), ...).
UFUNCS: dict[Any, Any] = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div, np.negative: neg,
    np.power: power, np.exp: exp, np.log: log, np.sqrt: sqrt, np.absolute: absolute, np.tanh: tanh,
    np.sin: sin, np.cos: cos, np.maximum: maximum, np.minimum: minimum, np.sign: sign, np.square: square,
    np.matmul: matmul, np.positive: lambda a: a,
    np.greater: _cmp(np.greater), np.greater_equal: _cmp(np.greater_equal), np.less: _cmp(np.less),
    np.less_equal: _cmp(np.less_equal), np.equal: _cmp(np.equal), np.not_equal: _cmp(np.not_equal),
}

#: NumPy functions that have a diffkit operation (np.sum(node), ...): name → (function, keywords).
FUNCTIONS: dict[Any, tuple[Any, tuple[str, ...]]] = {
    np.sum: (sum, ("axis", "keepdims")), np.mean: (mean, ("axis", "keepdims")),
    np.reshape: (reshape, ("shape", "newshape")), np.transpose: (transpose, ("axes",)),
    np.broadcast_to: (broadcast_to, ("shape",)), np.where: (where, ()), np.matmul: (matmul, ()),
    np.maximum: (maximum, ()), np.minimum: (minimum, ()), np.square: (square, ()),
}


def _numpy_name(f: Any) -> str:
    return "np." + getattr(f, "__name__", repr(f))


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    op = UFUNCS.get(ufunc)
    if method != "__call__" or op is None or kwargs:
        what = _numpy_name(ufunc) + ("" if method == "__call__" else "." + method)
        extra = f" with {', '.join(kwargs)}" if kwargs and op is not None else ""
        raise BadInput(f"{what}{extra} cannot take a traced diffkit value; use the diffkit.engine function of "
                       f"the same name (dk.{getattr(ufunc, '__name__', 'op')}) if it exists, "
                       "or compute that part outside the differentiated function")
    return op(*inputs)


#: NumPy functions that only look at a value (shape, dtype, ...): answered from the plain value.
INTROSPECTION = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj, np.isscalar,
                 np.isfinite, np.isnan, np.isinf, np.all, np.any, np.array_equal, np.allclose, np.isclose}


def _plain_args(x: Any) -> Any:
    if isinstance(x, Node):
        return _leaf(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain_args(v) for v in x)
    return x


def _array_function(self, func, types, args, kwargs):
    if func in INTROSPECTION:
        return func(*_plain_args(args), **kwargs)
    entry = FUNCTIONS.get(func)
    if entry is None:
        raise BadInput(f"{_numpy_name(func)} cannot take a traced diffkit value; use the diffkit.engine "
                       f"function of the same name (dk.{getattr(func, '__name__', 'op')}) if it exists")
    fn, allowed = entry
    bad = [k for k in kwargs if k not in allowed]
    if bad:
        raise BadInput(f"{_numpy_name(func)} on a traced value does not take {', '.join(bad)}; "
                       f"allowed: {', '.join(allowed) or 'no keywords'}")
    if "newshape" in kwargs:
        kwargs = dict(kwargs, shape=kwargs.pop("newshape"))
    return fn(*args, **kwargs)


Node.__array_ufunc__ = _array_ufunc
Node.__array_function__ = _array_function

__all__ = [
    "add", "sub", "mul", "div", "neg", "power", "square", "exp", "log", "sqrt", "abs", "absolute",
    "sigmoid", "tanh", "relu", "step", "sign", "softplus", "sin", "cos", "maximum", "minimum",
    "where", "matmul", "sum", "mean", "reshape", "transpose", "broadcast_to",
    "log_sigmoid", "bce_with_logits", "log_softmax", "softmax", "softmax_cross_entropy", "label",
    "multiply", "subtract", "divide", "true_divide", "negative",
    # the layer zoo (diffkit.engine.layers), imported at the end of this module
    "dense", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm",
    "batch_normalize", "BatchNorm", "running_stats", "elman_rnn", "residual_block",
    "scaled_dot_product_attention", "attention", "causal_mask", "unfold", "fold", "take",
]

# -- the layer zoo (diffkit.engine.layers) ------------------------------------------------------
from .rules.layers import batch_normalize, fold, take, unfold  # noqa: E402
from .layers import (BatchNorm, attention, avg_pool1d, avg_pool2d, batch_norm, causal_mask, conv1d,  # noqa: E402
                     conv2d, dense, elman_rnn, max_pool1d, max_pool2d, residual_block, running_stats,
                     scaled_dot_product_attention)
