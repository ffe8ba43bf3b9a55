"""Coverage of HIPS/autograd's NumPy functions, counted against the names its ``numpy_vjps.py`` gives a
derivative (``defvjp``/``defvjps``/``defvjp_argnum``/``defvjp_is_zero``).

Each supported name is called the way a NumPy user calls it, inside a sum, and its reverse-mode
gradient is compared with central differences of the same function evaluated on plain arrays.
The names diffkit does not support are listed with the reason, and the count is asserted, so the
number quoted in the README and in issue 9's closing note is the one this test measures.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit.engine import ops

#: every NumPy name autograd's numpy_vjps.py differentiates (107 names)
AUTOGRAD_NAMES = """
where nan_to_num add multiply subtract divide maximum minimum fmax fmin logaddexp logaddexp2
true_divide mod remainder power negative abs fabs absolute reciprocal exp exp2 expm1 log log2 log10
log1p sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh rad2deg degrees deg2rad
radians square sqrt sinc reshape roll array_split split vsplit hsplit dsplit ravel expand_dims squeeze
diag flipud fliplr rot90 trace full triu tril clip swapaxes moveaxis rollaxis real_if_close real imag
conj conjugate angle cross linspace diff repeat tile kron transpose sum mean prod var std max min amax
amin cumsum inner matmul dot tensordot outer concatenate sort msort partition atleast_1d atleast_2d
atleast_3d einsum diagonal make_diagonal
""".split()

#: names not supported, and why
UNSUPPORTED = {
    "imag": "diffkit's engine is real-valued (complex numbers are used only by the complex-step oracle)",
    "angle": "complex argument; the engine is real-valued",
    "msort": "removed from NumPy 2 (use sort(x, axis=0))",
    "make_diagonal": "autograd-internal helper, not a NumPy function",
}

_rng = np.random.default_rng(0)
A = _rng.uniform(0.2, 0.8, (3, 4))
B = _rng.uniform(0.2, 0.8, (4, 3))
V = _rng.uniform(0.2, 0.8, 4)
S = _rng.uniform(0.2, 0.8, (3, 3))
C3 = _rng.uniform(0.2, 0.8, (2, 3, 4))
W342 = _rng.uniform(0.2, 0.8, (3, 4, 2))
RAMP = np.arange(4.0)

#: name -> (function written with diffkit's NumPy names, argument)
CASES = {
    "where": (lambda x: dk.where(x > 0.5, x, 2 * x), A),
    "nan_to_num": (lambda x: dk.nan_to_num(x) * A, A),
    "add": (lambda x: dk.add(x, V) ** 2, A),
    "multiply": (lambda x: dk.multiply(x, V), A),
    "subtract": (lambda x: dk.subtract(V, x) ** 2, A),
    "divide": (lambda x: dk.divide(V, x), A),
    "maximum": (lambda x: dk.maximum(x, 0.5), A),
    "minimum": (lambda x: dk.minimum(x, 0.5), A),
    "fmax": (lambda x: dk.fmax(x, 0.5), A),
    "fmin": (lambda x: dk.fmin(x, 0.5), A),
    "logaddexp": (lambda x: dk.logaddexp(x, V), A),
    "logaddexp2": (lambda x: dk.logaddexp2(x, V), A),
    "true_divide": (lambda x: dk.true_divide(x, V), A),
    "mod": (lambda x: dk.mod(x, 0.3) * A, A),
    "remainder": (lambda x: dk.remainder(x, 0.3) * A, A),
    "power": (lambda x: dk.power(x, V), A),
    "arccosh": (dk.arccosh, A + 1.0),
    "reshape": (lambda x: dk.reshape(x, (4, 3)) * B, A),
    "roll": (lambda x: dk.roll(x, 1, axis=1) * A, A),
    "array_split": (lambda x: dk.array_split(x, 2, axis=1)[1] ** 2, A),
    "split": (lambda x: dk.split(x, 2, axis=1)[0] ** 2, A),
    "vsplit": (lambda x: dk.vsplit(x[:2], 2)[1] ** 2, A),
    "hsplit": (lambda x: dk.hsplit(x, 2)[1] ** 2, A),
    "dsplit": (lambda x: dk.dsplit(x, 2)[1] ** 2, C3),
    "ravel": (lambda x: dk.ravel(x) ** 2, A),
    "expand_dims": (lambda x: dk.expand_dims(x, 1) * V[None, None, :1], A),
    "squeeze": (lambda x: dk.squeeze(x[:, :1]) ** 2, A),
    "diag": (lambda x: dk.diag(x) ** 2, S),
    "flipud": (lambda x: dk.flipud(x) * A, A),
    "fliplr": (lambda x: dk.fliplr(x) * A, A),
    "rot90": (lambda x: dk.rot90(x) * B, A),
    # dk.trace is the graph recorder; NumPy's trace is np.trace on a traced value (or ops.trace)
    "trace": (lambda x: np.trace(x @ x), S),
    "full": (lambda x: dk.full((2, 2), x[0, 0]) * S[:2, :2], A),
    "triu": (lambda x: dk.triu(x) ** 2, S),
    "tril": (lambda x: dk.tril(x, -1) ** 2, S),
    "clip": (lambda x: dk.clip(x, 0.3, 0.6) ** 2, A),
    "swapaxes": (lambda x: dk.swapaxes(x, 0, 1) * B, A),
    "moveaxis": (lambda x: dk.moveaxis(x, 0, -1) ** 2 * W342, C3),
    "rollaxis": (lambda x: dk.rollaxis(x, 2) ** 2 * np.moveaxis(C3, 2, 0), C3),
    "real": (lambda x: dk.real(x) ** 2, A),
    "real_if_close": (lambda x: dk.real_if_close(x) ** 2, A),
    "conj": (lambda x: dk.conj(x) ** 2, A),
    "conjugate": (lambda x: dk.conjugate(x) ** 2, A),
    "cross": (lambda x: dk.cross(x, S) ** 2, S),
    "linspace": (lambda x: dk.linspace(x[0, 0], x[1, 1], 5) ** 2, A),
    "diff": (lambda x: dk.diff(x, n=2, axis=1) ** 2, A),
    "repeat": (lambda x: dk.repeat(x, 2, axis=0) ** 2, A),
    "tile": (lambda x: dk.tile(x, (2, 1)) ** 2, A),
    "kron": (lambda x: dk.kron(x, S) ** 2, S),
    "transpose": (lambda x: dk.transpose(x) * B, A),
    "sum": (lambda x: dk.sum(x**2, axis=0, keepdims=True), A),
    "mean": (lambda x: dk.mean(x**2, axis=1), A),
    "prod": (lambda x: dk.prod(x, axis=1), A),
    "var": (lambda x: dk.var(x, axis=0, ddof=1), A),
    "std": (lambda x: dk.std(x, axis=1), A),
    "max": (lambda x: dk.max(x, axis=1), A),
    "min": (lambda x: dk.min(x, axis=0), A),
    "amax": (lambda x: dk.amax(x), A),
    "amin": (lambda x: dk.amin(x, axis=1), A),
    "cumsum": (lambda x: dk.cumsum(x, axis=1) ** 2, A),
    "inner": (lambda x: dk.inner(x, A) ** 2, A),
    "matmul": (lambda x: dk.matmul(x, B) ** 2, A),
    "dot": (lambda x: dk.dot(x, B) ** 2, A),
    "tensordot": (lambda x: dk.tensordot(x, B, axes=1) ** 2, A),
    "outer": (lambda x: dk.outer(x[0], V) ** 2, A),
    "concatenate": (lambda x: dk.concatenate([x, x**2], axis=0) ** 2, A),
    "sort": (lambda x: dk.sort(x) ** 2 * RAMP, V),
    "partition": (lambda x: dk.partition(x, 2) ** 2 * RAMP, V),
    "atleast_1d": (lambda x: dk.atleast_1d(x) ** 2, A),
    "atleast_2d": (lambda x: dk.atleast_2d(x[0]) ** 2, A),
    "atleast_3d": (lambda x: dk.atleast_3d(x) ** 2, A),
    "einsum": (lambda x: dk.einsum("ij,jk->ik", x, B) ** 2, A),
    "diagonal": (lambda x: dk.diagonal(x, 1) ** 2, S),
}
for _name in (
    "negative abs fabs absolute reciprocal exp exp2 expm1 log log2 log10 log1p sin cos tan arcsin "
    "arccos arctan sinh cosh tanh arcsinh arctanh rad2deg degrees deg2rad radians square sqrt sinc"
).split():
    CASES[_name] = ((lambda name: lambda x: getattr(dk, name)(x) ** 2)(_name), A)


def _central(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (np.sum(np.asarray(f(x + e))) - np.sum(np.asarray(f(x - e)))) / (2 * h)
    return g


def test_the_name_lists_partition_autograds_names():
    assert len(AUTOGRAD_NAMES) == len(set(AUTOGRAD_NAMES)) == 107
    assert set(CASES) | set(UNSUPPORTED) == set(AUTOGRAD_NAMES)
    assert not set(CASES) & set(UNSUPPORTED)
    # the count the closing note and the README quote
    assert len(CASES) == 103


@pytest.mark.parametrize("name", sorted(CASES))
def test_autograd_name_gradient_agrees_with_central_differences(name):
    f, x = CASES[name]
    assert name == "trace" or hasattr(dk, name), f"dk.{name} is missing"
    g = np.asarray(dk.grad(lambda z: dk.sum(f(z)))(x))
    ref = _central(f, x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-7 * max(1.0, np.max(np.abs(ref))))


def test_numpys_trace_on_a_traced_value_is_the_engines():
    x = S.copy()
    g = np.asarray(dk.grad(lambda z: ops.trace(z @ z))(x))
    np.testing.assert_allclose(g, 2 * x.T, rtol=1e-12)
