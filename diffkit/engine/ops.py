"""The NumPy-like user API: ``import diffkit.engine as dk`` and write ordinary array code.

Operators ``+ - * / ** @``, unary ``-``, indexing (``x[i]``, ``x[a:b]``, ``x[..., None]``, masks,
integer arrays), comparisons (which give plain boolean arrays), ``.T`` and NumPy's array methods
(``.reshape``, ``.sum``, ``.max``, ``.dot``, ``.astype``, ...) work on :class:`Node`; the functions
below work on Nodes and on plain arrays alike, under their NumPy names and NumPy's spellings
(``multiply``, ``negative``, ``divide``, ``amax``, ``remainder``, ``degrees`` ... are aliases).
NumPy's own functions and ufuncs given a Node dispatch here (``np.sum(node)``, ``np.exp(node)``,
``array + node``, ``np.einsum(...)``); the non-differentiable ones (``np.argmax``, ``np.isnan``,
...) answer from the plain values; anything else raises one clear error naming what to use.

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
from .rules import array as _array
from .rules.array import broadcast_to, matmul, reshape, transpose
from .rules.composed import (append, array_split, atleast_1d, atleast_2d, atleast_3d, broadcast_arrays,
                             column_stack, diff, dsplit, dstack, expand_dims, flip, fliplr, flipud, full,
                             full_like, hsplit, hstack, linspace, moveaxis, pad, partition, ravel, repeat, roll,
                             rollaxis, rot90, select, sort, split, squeeze, swapaxes, take, take_along_axis, tile,
                             tril, triu, vsplit, vstack)
from .rules.elementwise import (absolute, add, cos, div, exp, log, maximum, minimum, mul, neg, power, relu,
                                sigmoid, sign, sin, softplus, sqrt, step, sub, tanh, where)
from .rules.indexing import array, as_array_arg, concatenate, getitem, stack, untake
from .rules.linalg import cross, diag, diagonal, dot, einsum, inner, kron, outer, tensordot, trace, vdot
from .rules.losses import bce_with_logits, log_sigmoid, log_softmax, softmax, softmax_cross_entropy
from .rules.more_elementwise import (arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, astype, cbrt,
                                     ceil, clip, cosh, deg2rad, exp2, expm1, floor, fmax, fmin, fmod, hypot, log1p,
                                     log2, log10, logaddexp, logaddexp2, mod, nan_to_num, rad2deg, reciprocal, rint,
                                     round, sinc, sinh, tan, trunc)
from .rules.reductions import amax, amin, average, cumsum, logsumexp, prod, ptp, std, var

abs = absolute  # noqa: A001 - NumPy's name, on purpose: dk.abs
multiply, subtract, divide, true_divide, negative = mul, sub, div, div, neg
max, min = amax, amin  # noqa: A001 - NumPy's names: dk.max, dk.min
fabs, remainder, around, fix, float_power = absolute, mod, round, trunc, power
degrees, radians, row_stack, flatten = rad2deg, deg2rad, vstack, ravel


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - NumPy's name
    """Sum over ``axis`` (all axes by default); a list of traced arrays is stacked first."""
    return _array.sum(as_array_arg(x), axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over ``axis`` (all axes by default); a list of traced arrays is stacked first
    (``dk.mean([x, x + 2])``)."""
    return _array.mean(as_array_arg(x), axis, keepdims)


def square(x: Any) -> Any:
    """x ** 2."""
    return power(x, 2.0)


def floor_divide(a: Any, b: Any) -> Any:
    """⌊a / b⌋ (derivative 0)."""
    return floor(div(a, b))


def real(x: Any) -> Any:
    """The real part: diffkit's values are real, so ``x`` itself (likewise ``conj``, ``copy``)."""
    return x


conj = conjugate = real_if_close = copy = positive = real


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


def _plain(f):
    """``f`` of the plain values (for what has no derivative: comparisons, argmax, isnan, ...)."""
    def plain(*args, **kwargs):
        return f(*_plain_args(args), **{k: _plain_args(v) for k, v in kwargs.items()})
    plain.__name__ = getattr(f, "__name__", "plain")
    return plain


def _reshape_method(self, *shape):
    return reshape(self, shape[0] if len(shape) == 1 and np.ndim(shape[0]) else shape)


def _transpose_method(self, *axes):
    return transpose(self, (axes[0] if len(axes) == 1 and np.ndim(axes[0]) else axes) or None)


def _iter(self):
    if not self.ndim:
        raise TypeError("iteration over a 0-d traced value")
    return (getitem(self, i) for i in range(self.shape[0]))


def _no_array(self, *args, **kwargs):
    # Without this NumPy would wrap a Node in an object array (np.asarray(node), ndarray.dot(node),
    # np.array([node, node])) and compute something silently wrong with it.
    raise BadInput("a traced value cannot become a plain NumPy array (np.asarray, np.array, or an ndarray "
                   "method given a traced argument); use diffkit's functions instead (dk.array, dk.dot, "
                   "dk.stack, ...) or call the method on the traced value")


def _setitem(self, index, value):
    raise BadInput("traced values are immutable: x[...] = v is not supported; build the array with "
                   "dk.where(mask, v, x), dk.concatenate/dk.stack, or x + dk.untake(v - x[i], i, x.shape)")


Node.__add__ = add  # the function itself: one call less per traced operator
Node.__radd__ = lambda a, b: add(b, a)
Node.__sub__ = sub
Node.__rsub__ = lambda a, b: sub(b, a)
Node.__mul__ = mul
Node.__rmul__ = lambda a, b: mul(b, a)
Node.__truediv__ = div
Node.__rtruediv__ = lambda a, b: div(b, a)
Node.__floordiv__ = floor_divide
Node.__rfloordiv__ = lambda a, b: floor_divide(b, a)
Node.__mod__ = mod
Node.__rmod__ = lambda a, b: mod(b, a)
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
Node.__getitem__ = getitem
Node.__setitem__ = _setitem
Node.__array__ = _no_array
Node.__iter__ = _iter
Node.T = property(lambda a: transpose(a))
Node.reshape = _reshape_method
Node.transpose = _transpose_method
Node.sum = _array.sum  # a method's self is a Node: no list to stack first
Node.mean = _array.mean
Node.max = lambda a, axis=None, keepdims=False: amax(a, axis, keepdims)
Node.min = lambda a, axis=None, keepdims=False: amin(a, axis, keepdims)
Node.prod = lambda a, axis=None, keepdims=False: prod(a, axis, keepdims)
Node.var = lambda a, axis=None, ddof=0, keepdims=False: var(a, axis, ddof, keepdims)
Node.std = lambda a, axis=None, ddof=0, keepdims=False: std(a, axis, ddof, keepdims)
Node.ptp = lambda a, axis=None, keepdims=False: ptp(a, axis, keepdims)
Node.cumsum = lambda a, axis=None: cumsum(a, axis)
Node.ravel = Node.flatten = lambda a: ravel(a)
Node.squeeze = lambda a, axis=None: squeeze(a, axis)
Node.swapaxes = swapaxes
Node.repeat = lambda a, repeats, axis=None: repeat(a, repeats, axis)
Node.take = lambda a, indices, axis=None: take(a, indices, axis)
Node.diagonal = lambda a, offset=0, axis1=0, axis2=1: diagonal(a, offset, axis1, axis2)
# (no .trace() method: Node.trace is the trace level; np.trace(node) and dk.trace work)
Node.dot = dot
Node.clip = lambda a, min=None, max=None: clip(a, min, max)  # noqa: A002 - NumPy's keywords
Node.astype = lambda a, dtype, **kw: astype(a, dtype)
Node.round = lambda a, decimals=0: round(a, decimals)
Node.copy = lambda a: a
Node.item = lambda a: _leaf(a).item() if hasattr(_leaf(a), "item") else _leaf(a)
Node.tolist = lambda a: np.asarray(_leaf(a)).tolist()
Node.argmax = lambda a, axis=None: np.argmax(_leaf(a), axis)
Node.argmin = lambda a, axis=None: np.argmin(_leaf(a), axis)
Node.argsort = lambda a, axis=-1: np.argsort(_leaf(a), axis)
Node.all = lambda a, axis=None: np.all(_leaf(a), axis)
Node.any = lambda a, axis=None: np.any(_leaf(a), axis)


# -- NumPy's functions on Nodes ----------------------------------------------------------------
#: NumPy ufuncs that have a diffkit operation (array + node, np.exp(node), ...).
UFUNCS: dict[Any, Any] = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div, np.negative: neg,
    np.power: power, np.float_power: power, np.exp: exp, np.log: log, np.sqrt: sqrt, np.absolute: absolute,
    np.fabs: absolute, np.tanh: tanh, np.sin: sin, np.cos: cos, np.tan: tan, np.arcsin: arcsin,
    np.arccos: arccos, np.arctan: arctan, np.sinh: sinh, np.cosh: cosh, np.arcsinh: arcsinh,
    np.arccosh: arccosh, np.arctanh: arctanh, np.log1p: log1p, np.expm1: expm1, np.log2: log2,
    np.log10: log10, np.exp2: exp2, np.reciprocal: reciprocal, np.cbrt: cbrt, np.square: square,
    np.deg2rad: deg2rad, np.rad2deg: rad2deg, np.radians: deg2rad, np.degrees: rad2deg,
    np.maximum: maximum, np.minimum: minimum, np.fmax: fmax, np.fmin: fmin, np.logaddexp: logaddexp,
    np.logaddexp2: logaddexp2, np.arctan2: arctan2, np.hypot: hypot, np.remainder: mod, np.fmod: fmod,
    np.sign: sign, np.floor: floor, np.ceil: ceil, np.trunc: trunc, np.rint: rint,
    np.floor_divide: floor_divide, np.matmul: matmul, np.positive: lambda a: a, np.conjugate: real,
}
for _f in (np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal, np.logical_and,
           np.logical_or, np.logical_xor, np.logical_not, np.isfinite, np.isnan, np.isinf, np.signbit):
    UFUNCS.setdefault(_f, _plain(_f))

#: ufunc methods with a diffkit reduction: (ufunc, method) → function.
UFUNC_METHODS: dict[tuple[Any, str], Any] = {
    (np.add, "reduce"): lambda x, axis=0, keepdims=False: sum(x, axis, keepdims),
    (np.multiply, "reduce"): lambda x, axis=0, keepdims=False: prod(x, axis, keepdims),
    (np.maximum, "reduce"): lambda x, axis=0, keepdims=False: amax(x, axis, keepdims),
    (np.minimum, "reduce"): lambda x, axis=0, keepdims=False: amin(x, axis, keepdims),
    (np.add, "accumulate"): lambda x, axis=0: cumsum(x, axis),
}

def _np_clip(x, a_min=None, a_max=None, min=None, max=None):  # noqa: A002 - NumPy 2's keywords
    return clip(x, a_min if min is None else min, a_max if max is None else max)


def _np_reshape(x, shape=None, newshape=None):
    return reshape(x, newshape if shape is None else shape)


#: NumPy functions that have a diffkit operation (np.sum(node), ...); the keywords allowed are
#: those of the diffkit function's signature (NumPy's names).
FUNCTIONS: dict[Any, Any] = {
    np.sum: sum, np.mean: mean, np.max: amax, np.min: amin, np.amax: amax, np.amin: amin, np.prod: prod,
    np.ptp: ptp, np.var: var, np.std: std, np.average: average, np.cumsum: cumsum, np.diff: diff,
    np.reshape: _np_reshape, np.transpose: transpose, np.broadcast_to: broadcast_to,
    np.broadcast_arrays: broadcast_arrays, np.where: where, np.select: select, np.matmul: matmul,
    np.maximum: maximum, np.minimum: minimum, np.square: square, np.clip: _np_clip, np.sinc: sinc,
    np.concatenate: concatenate, np.stack: stack, np.hstack: hstack, np.vstack: vstack, np.dstack: dstack,
    np.column_stack: column_stack, np.append: append, np.split: split, np.array_split: array_split,
    np.hsplit: hsplit, np.vsplit: vsplit, np.dsplit: dsplit, np.expand_dims: expand_dims, np.squeeze: squeeze,
    np.ravel: ravel, np.moveaxis: moveaxis, np.swapaxes: swapaxes, np.rollaxis: rollaxis,
    np.atleast_1d: atleast_1d, np.atleast_2d: atleast_2d, np.atleast_3d: atleast_3d, np.flip: flip,
    np.flipud: flipud, np.fliplr: fliplr, np.rot90: rot90, np.roll: roll, np.repeat: repeat, np.tile: tile,
    np.take: take, np.take_along_axis: take_along_axis, np.sort: sort, np.partition: partition, np.pad: pad,
    np.triu: triu, np.tril: tril, np.diag: diag, np.diagonal: diagonal, np.trace: trace, np.dot: dot,
    np.vdot: vdot, np.inner: inner, np.outer: outer, np.tensordot: tensordot, np.einsum: einsum, np.kron: kron,
    np.cross: cross, np.linspace: linspace, np.full_like: full_like, np.round: round, np.around: round,
    np.fix: trunc, np.nan_to_num: nan_to_num, np.real: real, np.conj: real, np.real_if_close: real,
    np.copy: real,
}


def _keywords(fn: Any) -> tuple[str, ...]:
    got = _KEYWORDS.get(fn)
    if got is None:
        import inspect
        try:
            ps = inspect.signature(fn).parameters.values()
            got = tuple(p.name for p in ps if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))[1:]
        except (TypeError, ValueError):
            got = ()
        _KEYWORDS[fn] = got
    return got


_KEYWORDS: dict[Any, tuple[str, ...]] = {}

#: NumPy functions that only look at a value (shape, dtype, ...): answered from the plain value.
INTROSPECTION = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj, np.isscalar,
                 np.isfinite, np.isnan, np.isinf, np.all, np.any, np.array_equal, np.allclose, np.isclose,
                 # no derivative (integer or boolean results, or constant in the values):
                 np.argmax, np.argmin, np.argsort, np.argpartition, np.argwhere, np.nonzero, np.flatnonzero,
                 np.count_nonzero, np.searchsorted, np.array_equiv, np.iscomplex, np.isreal, np.isneginf,
                 np.isposinf, np.zeros_like, np.ones_like, np.empty_like}


def _numpy_name(f: Any) -> str:
    mod = getattr(f, "__module__", "") or ""
    sub = ".linalg" if "linalg" in mod else ".fft" if "fft" in mod else ".random" if "random" in mod else ""
    return f"np{sub}." + getattr(f, "__name__", repr(f))


def _suggest(name: str) -> str:
    if name in globals() and name in __all__:
        return f"use dk.{name} (diffkit's differentiable version) on traced values"
    return (f"diffkit has no differentiable {name}; write it with diffkit's operations, or compute it "
            "outside the differentiated function if it does not depend on the traced value")


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    name = getattr(ufunc, "__name__", "op")
    if method == "__call__":
        op = UFUNCS.get(ufunc)
        if op is not None and not kwargs:
            return op(*inputs)
        if op is not None:
            raise BadInput(f"{_numpy_name(ufunc)} on a traced value does not take {', '.join(kwargs)}; "
                           f"call it without keywords (or use dk.{name})")
        raise BadInput(f"{_numpy_name(ufunc)} cannot take a traced diffkit value: {_suggest(name)}")
    op = UFUNC_METHODS.get((ufunc, method))
    bad = [k for k in kwargs if k not in ("axis", "keepdims")]
    if op is not None and not bad and len(inputs) == 1:
        return op(*inputs, **kwargs)
    raise BadInput(f"{_numpy_name(ufunc)}.{method} cannot take a traced diffkit value; supported: "
                   "np.add.reduce, np.multiply.reduce, np.maximum.reduce, np.minimum.reduce, np.add.accumulate "
                   "(or dk.sum, dk.prod, dk.max, dk.min, dk.cumsum)")


def _plain_args(x: Any) -> Any:
    if isinstance(x, Node):
        return _leaf(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain_args(v) for v in x)
    return x


def _array_function(self, func, types, args, kwargs):
    if func in INTROSPECTION:
        return func(*_plain_args(args), **{k: _plain_args(v) for k, v in kwargs.items()})
    entry = FUNCTIONS.get(func)
    if entry is None:
        raise BadInput(f"{_numpy_name(func)} cannot take a traced diffkit value: "
                       f"{_suggest(getattr(func, '__name__', 'op'))}")
    fn, allowed = entry, _keywords(entry)
    kwargs = {k: v for k, v in kwargs.items() if not (k == "out" and v is None)}
    bad = [k for k in kwargs if k not in allowed]
    if bad:
        raise BadInput(f"{_numpy_name(func)} on a traced value does not take {', '.join(bad)}; "
                       f"allowed: {', '.join(allowed) or 'no keywords'}")
    return fn(*args, **kwargs)


Node.__array_ufunc__ = _array_ufunc
Node.__array_function__ = _array_function

__all__ = [
    "add", "sub", "mul", "div", "neg", "power", "square", "exp", "log", "sqrt", "abs", "absolute",
    "sigmoid", "tanh", "relu", "step", "sign", "softplus", "sin", "cos", "maximum", "minimum",
    "where", "matmul", "sum", "mean", "reshape", "transpose", "broadcast_to",
    "log_sigmoid", "bce_with_logits", "log_softmax", "softmax", "softmax_cross_entropy", "label",
    "multiply", "subtract", "divide", "true_divide", "negative",
    # the NumPy surface
    "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "log1p", "expm1",
    "log2", "log10", "exp2", "reciprocal", "cbrt", "deg2rad", "rad2deg", "degrees", "radians", "sinc",
    "floor", "ceil", "trunc", "fix", "rint", "round", "around", "floor_divide", "nan_to_num", "fabs",
    "logaddexp", "logaddexp2", "arctan2", "hypot", "mod", "remainder", "fmod", "fmax", "fmin", "clip",
    "float_power", "astype", "real", "conj", "conjugate", "real_if_close", "copy", "positive",
    "max", "min", "amax", "amin", "prod", "var", "std", "ptp", "average", "cumsum", "logsumexp", "diff",
    "getitem", "untake", "concatenate", "stack", "array", "hstack", "vstack", "row_stack", "dstack",
    "column_stack", "append", "split", "array_split", "hsplit", "vsplit", "dsplit",
    "expand_dims", "squeeze", "ravel", "flatten", "moveaxis", "swapaxes", "rollaxis", "atleast_1d",
    "atleast_2d", "atleast_3d", "flip", "flipud", "fliplr", "rot90", "roll", "repeat", "tile", "take",
    "take_along_axis", "sort", "partition", "pad", "triu", "tril", "full", "full_like", "linspace", "select",
    "broadcast_arrays", "einsum", "tensordot", "dot", "vdot", "inner", "outer", "kron", "trace", "diagonal",
    "diag", "cross",
    # the layer zoo (diffkit.engine.layers), imported at the end of this module
    "dense", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm",
    "batch_normalize", "BatchNorm", "running_stats", "elman_rnn", "residual_block",
    "scaled_dot_product_attention", "attention", "causal_mask", "unfold", "fold",
]

# -- the layer zoo (diffkit.engine.layers) ------------------------------------------------------
# (dk.take is NumPy's take, rules/composed.py; the zoo's one-index take is its special case)
from .rules.layers import batch_normalize, fold, unfold  # noqa: E402
from .layers import (BatchNorm, attention, avg_pool1d, avg_pool2d, batch_norm, causal_mask, conv1d,  # noqa: E402
                     conv2d, dense, elman_rnn, max_pool1d, max_pool2d, residual_block, running_stats,
                     scaled_dot_product_attention)
