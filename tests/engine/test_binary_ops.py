"""Binary operations on every pairing of scalar, vector, matrix and row (the pattern of HIPS/autograd's
tests/test_binary_ops.py), and broadcasting on every axis: each function and its gradients in
each argument (grad of grad too) against central differences, and against torch where installed.
"""

from __future__ import annotations

import itertools
import operator as op

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit.errors import BadInput
from npcheck import check_grads, check_torch, torch

rng = np.random.default_rng(1)
#: autograd's argument set: a scalar, a vector, a matrix and a matrix of one row (broadcast)
ARGS = {"scalar": 2.0, "vector": rng.normal(size=6), "mat": rng.normal(size=(4, 6)), "row": rng.normal(size=(1, 6))}
PAIRS = list(itertools.product(ARGS, ARGS))


def gap(x):
    """Away from zero (for divisors, logarithms and kinks)."""
    return np.sqrt(np.asarray(x) ** 2 + 0.5)


T = torch
#: name → (diffkit f, torch f, how to move the first argument, how to move the second)
OPS = {
    "mul": (op.mul, op.mul, None, None),
    "add": (op.add, op.add, None, None),
    "sub": (op.sub, op.sub, None, None),
    "div": (op.truediv, op.truediv, gap, gap),
    "pow": (op.pow, op.pow, lambda x: np.abs(x) + 1.1, np.round),
    "pow_real": (op.pow, op.pow, lambda x: np.abs(x) + 0.3, None),
    "maximum": (dk.maximum, lambda a, b: T.maximum(a, b), None, lambda x: x + 0.05),
    "minimum": (dk.minimum, lambda a, b: T.minimum(a, b), None, lambda x: x + 0.05),
    "fmax": (dk.fmax, lambda a, b: T.fmax(a, b), None, lambda x: x + 0.05),
    "fmin": (dk.fmin, lambda a, b: T.fmin(a, b), None, lambda x: x + 0.05),
    "logaddexp": (dk.logaddexp, lambda a, b: T.logaddexp(a, b), None, None),
    "logaddexp2": (dk.logaddexp2, lambda a, b: T.logaddexp2(a, b), None, None),
    "arctan2": (dk.arctan2, lambda a, b: T.atan2(a, b), gap, None),
    "hypot": (dk.hypot, lambda a, b: T.hypot(a, b), gap, None),
    "mod": (dk.mod, lambda a, b: T.remainder(a, b), lambda x: x + 0.05, lambda x: np.abs(x) + 3.1),
    "fmod": (dk.fmod, lambda a, b: T.fmod(a, b), lambda x: x + 0.05, lambda x: np.abs(x) + 3.1),
    "where>0": (lambda a, b: dk.where(np.asarray(a) > 0 if not isinstance(a, dk.Node) else a > 0, a, b),
                None, None, None),
}


def _args(name, a, b):
    _, _, ta, tb = OPS[name]
    a, b = ARGS[a], ARGS[b]
    return (ta(a) if ta else a), (tb(b) if tb else b)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("a,b", PAIRS)
def test_gradients_and_gradients_of_gradients(name, a, b):
    f = OPS[name][0]
    x, y = _args(name, a, b)
    check_grads(f, x, y, order=2, what=f"{name}({a}, {b})")


@pytest.mark.skipif(torch is None, reason="torch is not installed (an optional oracle)")
@pytest.mark.parametrize("name", sorted(n for n in OPS if OPS[n][1] is not None))
def test_against_torch(name):
    f, tf, _, _ = OPS[name]
    for a, b in PAIRS:
        x, y = _args(name, a, b)
        check_torch(f, tf, x, y, what=f"{name}({a}, {b})")


# -- broadcasting on every axis ---------------------------------------------------------------------
SHAPES = [((3, 1), (1, 4)), ((3, 1), (4,)), ((2, 1, 3), (4, 1)), ((1, 3, 1), (2, 1, 4)), ((2, 3, 4), (3, 1)),
          ((), (2, 3)), ((1,), (2, 3)), ((2, 1, 1), (1, 3, 1)), ((1, 1), (1, 1)), ((2, 3), (2, 3))]


@pytest.mark.parametrize("sa,sb", SHAPES)
def test_broadcasting_on_every_axis_under_reductions(sa, sb):
    r = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = r.normal(size=sa), gap(r.normal(size=sb))
    # the pattern: a broadcast operand under a reduction (a lazily broadcast cotangent)
    fns = [lambda a, b: dk.sum(a * b), lambda a, b: dk.mean(a + b, axis=-1), lambda a, b: dk.sum(a / b, axis=0),
           lambda a, b: dk.max(dk.sum(a - b, axis=-1, keepdims=True)), lambda a, b: dk.prod(dk.tanh(a * b))]
    for k, f in enumerate(fns):
        if k == 2 and np.ndim(a * b) == 0:
            continue
        check_grads(f, a, b, order=2, what=f"pattern {k} with {sa}, {sb}")
        check_torch(f, _TORCH_FNS[k] if torch is not None else None, a, b, what=f"pattern {k} with {sa}, {sb}")


_TORCH_FNS = [] if torch is None else [
    lambda a, b: (a * b).sum(), lambda a, b: (a + b).mean(-1), lambda a, b: (a / b).sum(0),
    lambda a, b: (a - b).sum(-1, keepdim=True).amax(), lambda a, b: torch.tanh(a * b).prod()]


def test_broadcast_constant_under_sum():
    # the first example: d/dc Σ(c + ones(4)) = 4, not 1
    assert float(dk.grad(lambda c: dk.sum(c + np.ones(4)))(0.0)) == 4.0
    assert float(dk.grad(lambda c: np.sum(np.ones(4) + c))(0.0)) == 4.0
    assert float(dk.grad(lambda c: dk.sum(dk.broadcast_to(c, (3, 4))))(1.0)) == 12.0


def test_shape_mismatch_is_one_clear_error():
    with pytest.raises(BadInput, match=r"add cannot be applied to arguments of shapes \(3,\), \(4,\)"):
        dk.grad(lambda a: dk.sum(a + np.ones(4)))(np.ones(3))


# -- constants written as Python lists ------------------------------------------------------------
L = [[1.0, 2.0, 0.5], [0.1, 0.2, 0.3]]
LIST_CASES = {  # each f(w, c) with c the constant, given once as a nested list and once as an array
    "maximum": lambda w, c: dk.sum(dk.maximum(w, c)),
    "minimum": lambda w, c: dk.sum(dk.minimum(c, w)),
    "fmax": lambda w, c: dk.sum(dk.fmax(w, c)),
    "clip": lambda w, c: dk.sum(dk.clip(w, c[0], 0.5)),
    "hypot": lambda w, c: dk.sum(dk.hypot(w, c)),
    "mul": lambda w, c: dk.sum(w * c),
    "rsub": lambda w, c: dk.sum(c - w),
    "rpow": lambda w, c: dk.sum(c ** w),
    "where": lambda w, c: dk.sum(dk.where(w > 0, w, c)),
    "dot": lambda w, c: dk.sum(dk.dot(w, c[0])),
    "mean of squares": lambda w, c: dk.mean((w - c) ** 2),
}


@pytest.mark.parametrize("name", sorted(LIST_CASES))
def test_list_constants_act_as_arrays(name):
    # a constant written as nested lists is the array NumPy would make of it (maximum, minimum, fmax
    # and clip raised a raw TypeError inside their VJPs, which read the constant's dtype)
    f = LIST_CASES[name]
    w = np.array([[0.3, -0.7, 1.1], [0.5, 0.2, -0.4]])
    g_list = dk.grad(lambda w: f(w, L))(w)
    g_array = dk.grad(lambda w: f(w, np.array(L)))(w)
    assert np.array_equal(g_list, g_array)
    check_grads(lambda w: f(w, L), w, order=1)
