"""The NumPy-like user API: ``import diffkit.engine as dk`` and write ordinary array code.

Operators ``+ - * / ** @``, unary ``-``, comparisons (which give plain boolean arrays), ``.T``,
``.reshape``, ``.sum``, ``.mean`` work on :class:`Node`; the functions below work on Nodes and on
plain arrays alike.

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

from .core import Node, raw
from .losses import bce_with_logits, log_sigmoid, log_softmax, softmax, softmax_cross_entropy
from .prims import (absolute, add, cos, div, exp, log, maximum, minimum, mul, neg, power, relu,
                    sigmoid, sign, sin, softplus, sqrt, step, sub, tanh, where)
from .prims_array import broadcast_to, matmul, mean, reshape, sum, transpose, unbroadcast

abs = absolute  # noqa: A001 - NumPy's name, on purpose: dk.abs


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
        raise TypeError("label() names graph nodes; got a plain value (trace the function first)")
    x.name, x.named = name, True
    return x


def _cmp(op):
    return lambda a, b: op(raw(a), raw(b))


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
Node.__float__ = lambda a: float(a.value)
Node.__len__ = lambda a: len(a.value)
Node.T = property(lambda a: transpose(a))
Node.reshape = _reshape_method
Node.transpose = _transpose_method
Node.sum = lambda a, axis=None, keepdims=False: sum(a, axis, keepdims)
Node.mean = lambda a, axis=None, keepdims=False: mean(a, axis, keepdims)

__all__ = [
    "add", "sub", "mul", "div", "neg", "power", "square", "exp", "log", "sqrt", "abs", "absolute",
    "sigmoid", "tanh", "relu", "step", "sign", "softplus", "sin", "cos", "maximum", "minimum",
    "where", "matmul", "sum", "mean", "reshape", "transpose", "broadcast_to", "unbroadcast",
    "log_sigmoid", "bce_with_logits", "log_softmax", "softmax", "softmax_cross_entropy", "label",
]
