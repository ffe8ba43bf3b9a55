"""Systematic checks of the NumPy surface (the coverage of HIPS/autograd's tests/test_systematic.py,
in diffkit's words): NumPy's own functions and ufuncs applied to traced values, over every
combination of argument shapes and keyword values, each against central differences (first and
second order, forward and reverse mode) and — for the reductions and contractions — torch.

(Every record, these included, also runs through the shared rule checker: tests/engine/test_checker.py.)
"""

from __future__ import annotations

import itertools
import operator as op

import numpy as np
import pytest

import diffkit.engine as dk
from npcheck import check_grads, check_torch, torch

rng = np.random.default_rng(0)
R = lambda *shape: rng.normal(size=shape)  # noqa: E731


def combo(fun, argnums, *arg_lists, order=2, **kwarg_lists):
    """``fun`` checked at every combination of the arguments and keyword values (autograd's combo_check)."""
    keys = list(kwarg_lists)
    for args in itertools.product(*arg_lists):
        for values in itertools.product(*[kwarg_lists[k] for k in keys]):
            kw = dict(zip(keys, values))
            check_grads(lambda *a: fun(*a, **kw), *args, argnums=argnums, order=order,
                        what=f"{getattr(fun, '__name__', fun)}{[np.shape(a) for a in args]} {kw}")


# -- statistics --------------------------------------------------------------------------------------
STATS = {"sum": (np.sum, "sum"), "mean": (np.mean, "mean"), "max": (np.max, "amax"), "min": (np.min, "amin"),
         "prod": (np.prod, "prod"), "var": (np.var, "var"), "std": (np.std, "std")}
X, A, B, C, D = 3.5, R(), R(3), R(2, 3), R(1, 3)


@pytest.mark.parametrize("name", sorted(STATS))
def test_statistics(name):
    fun = STATS[name][0]
    if name == "std":  # a single value has no spread: its std is not differentiable
        combo(fun, (0,), [B, C])
    else:
        combo(fun, (0,), [X, A])
    combo(fun, (0,), [B, C, D], axis=[None, 0], keepdims=[True, False])
    combo(fun, (0,), [C, D] if name != "std" else [C], axis=[None, 0, 1], keepdims=[True, False])


@pytest.mark.skipif(torch is None, reason="torch is not installed (an optional oracle)")
@pytest.mark.parametrize("name", sorted(STATS))
def test_statistics_against_torch(name):
    fun = STATS[name][0]
    tfun = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin,
            "prod": None, "var": lambda x, dim=None, keepdim=False: torch.var(x, dim=dim, keepdim=keepdim, correction=0),
            "std": lambda x, dim=None, keepdim=False: torch.std(x, dim=dim, keepdim=keepdim, correction=0)}[name]
    for x, axis, keep in itertools.product([B, C, R(2, 3, 4)], [None, 0, -1, (0, 1)], [True, False]):
        if axis == (0, 1) and x.ndim < 2:
            continue
        if name == "prod":  # torch.prod takes one axis
            tf = (lambda x, axis=axis, keep=keep: torch.prod(x).reshape([1] * x.ndim if keep else [])
                  if axis is None else torch.prod(x, dim=axis, keepdim=keep))
            if np.ndim(axis):
                continue
        else:
            tf = (lambda x, axis=axis, keep=keep: tfun(x) if axis is None and not keep
                  else tfun(x, dim=tuple(range(x.ndim)) if axis is None else axis, keepdim=keep))
        check_torch(lambda x: fun(x, axis=axis, keepdims=keep), tf, x, what=f"{name} axis={axis} keepdims={keep}")


def test_logical_reductions_answer_from_the_values():
    for fun in (np.all, np.any):
        assert dk.grad(lambda x: dk.sum(x) * float(fun(x > 0)))(C).shape == C.shape
        assert fun(dk.param(C) > 0) == fun(C > 0)


# -- unary ufuncs -------------------------------------------------------------------------------------
def transform(lims, x):
    return x * (lims[1] - lims[0]) + lims[0]


UNARY = {"sin": (np.sin, None), "abs": (np.abs, [0.1, 4.0]), "absolute": (np.absolute, [0.1, 4.0]),
         "arccosh": (np.arccosh, [1.1, 4.0]), "arcsinh": (np.arcsinh, [-0.9, 0.9]),
         "arctanh": (np.arctanh, [-0.9, 0.9]), "arcsin": (np.arcsin, [-0.9, 0.9]), "arccos": (np.arccos, [-0.9, 0.9]),
         "arctan": (np.arctan, None), "ceil": (np.ceil, [-1.5, 1.5]), "cos": (np.cos, None), "cosh": (np.cosh, None),
         "deg2rad": (np.deg2rad, None), "degrees": (lambda x: np.degrees(x) / 50.0, None), "exp": (np.exp, None),
         "exp2": (np.exp2, None), "expm1": (np.expm1, None), "fabs": (np.fabs, [0.1, 4.0]),
         "floor": (np.floor, [-1.5, 1.5]), "log": (np.log, [0.2, 2.0]), "log10": (np.log10, [0.2, 2.0]),
         "log1p": (np.log1p, [0.2, 2.0]), "log2": (np.log2, [0.2, 2.0]),
         "rad2deg": (lambda x: np.rad2deg(x) / 50.0, None), "radians": (np.radians, None), "sign": (np.sign, None),
         "sinh": (np.sinh, None), "sqrt": (np.sqrt, [1.0, 3.0]), "square": (np.square, None),
         "tan": (np.tan, [-1.1, 1.1]), "tanh": (np.tanh, None), "real": (np.real, None),
         "real_if_close": (np.real_if_close, None), "conj": (np.conj, None), "cbrt": (np.cbrt, [0.2, 2.0]),
         "reciprocal": (np.reciprocal, [0.5, 2.0]), "sinc": (np.sinc, None), "rint": (np.rint, [-1.4, 1.4]),
         "trunc": (np.trunc, [-1.5, 1.5]), "nan_to_num": (np.nan_to_num, None), "negative": (np.negative, None),
         "positive": (np.positive, None)}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ufuncs(name):
    fun, lims = UNARY[name]
    lims = lims or [-2.0, 2.0]
    args = [transform(lims, 0.4), transform(lims, rng.random(2)), transform(lims, rng.random((3, 2))),
            transform(lims, rng.random((1, 2)))]
    combo(fun, (0,), args)


# -- binary ufuncs ------------------------------------------------------------------------------------
def binary_check(fun, lims_a=(-2.0, 2.0), lims_b=(-2.0, 2.0), same_args=True):
    vals = [0.6, rng.random(2), rng.random((3, 2)), rng.random((1, 2))]
    other = vals if same_args else [0.7, rng.random(2), rng.random((3, 2)), rng.random((1, 2))]
    combo(fun, (0, 1), [transform(lims_a, v) for v in vals], [transform(lims_b, v) for v in other])


BINARY = {"add": (np.add, {}), "logaddexp": (np.logaddexp, {}), "logaddexp2": (np.logaddexp2, {}),
          "remainder": (np.remainder, {"lims_a": (-0.9, 0.9), "lims_b": (0.7, 1.9), "same_args": False}),
          "true_divide": (np.true_divide, {"lims_b": (0.8, 1.2)}),
          "mod": (np.mod, {"lims_b": (0.8, 2.1), "same_args": False}),
          "true_divide_neg": (np.true_divide, {"lims_b": (-0.3, -2.0)}),
          "mod_neg": (np.mod, {"lims_b": (-0.3, -2.0), "same_args": False}),
          "fmod": (np.fmod, {"lims_b": (0.8, 2.1), "same_args": False}),
          "arctan2": (np.arctan2, {"lims_a": (0.3, 2.0)}), "hypot": (np.hypot, {"lims_a": (0.3, 2.0)}),
          "power": (np.power, {"lims_a": (0.7, 2.0)}), "float_power": (np.float_power, {"lims_a": (0.7, 2.0)}),
          "op_mul": (op.mul, {}), "op_add": (op.add, {}), "op_sub": (op.sub, {}),
          "op_mod": (op.mod, {"lims_b": (0.3, 2.0), "same_args": False}),
          "op_mod_neg": (op.mod, {"lims_b": (-0.3, -2.0), "same_args": False}),
          "op_div": (op.truediv, {"lims_b": (0.5, 2.0)}), "op_pow": (op.pow, {"lims_a": (0.7, 2.0)})}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ufuncs(name):
    fun, kw = BINARY[name]
    binary_check(fun, **kw)


# -- shapes, products, assembly ------------------------------------------------------------------------
def test_transpose():
    combo(np.transpose, (0,), [R(2, 3, 4)], axes=[None, [0, 1, 2], [0, 2, 1], [2, 0, 1], [2, 1, 0], [1, 0, 2], [1, 2, 0]])


def test_repeat():
    combo(np.repeat, (0,), [R(2, 3, 4), R(3, 1)], repeats=[0, 1, 2], axis=[None, 0, 1])


def test_diff():
    combo(np.diff, (0,), [R(4, 4), R(3, 3, 3)], n=[1, 2], axis=[0, 1])
    combo(np.diff, (0,), [R(1), R(1, 1)], axis=[0])
    combo(np.diff, (0,), [R(1, 1), R(3, 1)], axis=[1])


def test_tile():
    combo(np.tile, (0,), [R(2, 1, 3, 1)], reps=[(1, 4, 1, 2)])
    combo(np.tile, (0,), [R(1, 2)], reps=[(1, 2), (2, 3), (3, 2, 1)])
    combo(np.tile, (0,), [R(1)], reps=[(2,), 2])


def test_kron():
    combo(np.kron, (0, 1), [R(3, 3), R(2, 2)], [R(2, 2), R(1, 2)])


def test_inner():
    combo(np.inner, (0, 1), [1.5, R(3), R(2, 3)], [0.3, R(3), R(4, 3)])


def test_dot():
    combo(np.dot, (0, 1), [1.5, R(3), R(2, 3), R(2, 2, 3)], [0.3, R(3), R(3, 4), R(2, 3, 4)])


def test_matmul():
    combo(np.matmul, (0, 1), [R(3), R(2, 3), R(2, 2, 3)], [R(3), R(3, 4), R(2, 3, 4)])


@pytest.mark.parametrize("a,b,axes", [
    ([R(1, 3), R(2, 3, 2)], [R(3), R(3, 1), R(3, 4, 2)], [[(1,), (0,)]]),
    ([R(3), R(3, 1), R(3, 4, 2)], [R(1, 3), R(2, 3, 2)], [[(0,), (1,)]]),
    ([R(2, 3), R(2, 3, 4)], [R(1, 2, 3), R(2, 2, 3, 4)], [[(0, 1), (1, 2)], [(1, 0), (2, 1)]]),
    ([R(2, 2), R(4, 2, 2)], [R(2, 2), R(2, 2, 4)], [1, 2]),
    ([R(4)], [R()], [0]),
    ([R(2, 6)], [R(6, 3)], [[[-1], [0]]])])
def test_tensordot(a, b, axes):
    combo(np.tensordot, (0, 1), a, b, axes=axes)


@pytest.mark.parametrize("fun", [np.maximum, np.fmax, np.minimum, np.fmin])
def test_extremes_elementwise(fun):
    combo(fun, (0, 1), [R(1), R(1, 4), R(3, 4)], [R(1), R(1, 4), R(3, 4)])


def test_sort_and_partition():
    combo(np.sort, (0,), [R(1), R(7), R(3, 4)])
    combo(np.sort, (0,), [R(3, 4)], axis=[0, None])
    combo(np.partition, (0,), [R(7), R(9)], kth=[0, 3, 6])


@pytest.mark.parametrize("fun", [np.atleast_1d, np.atleast_2d, np.atleast_3d])
def test_atleast(fun):
    combo(fun, (0,), [1.2, R(1), R(7), R(1, 4), R(2, 4), R(2, 4, 5), R(2, 4, 3, 5)])


EINSUM = [
    (["ij->ji"], [R(1, 1), R(4, 4), R(3, 4)]),
    (["ij,jk->ik"], [R(2, 3)], [R(3, 4)]),
    (["...ij,...jk->...ik"], [R(2, 3), R(2, 2, 3)], [R(3, 4), R(2, 3, 4)]),
    (["ijk,lji->lki"], [R(3, 4, 4)], [R(4, 4, 3)]),
    (["...jk,...lj->...lk", "...,...->..."], [R(4, 4), R(3, 4, 4)], [R(4, 4), R(3, 4, 4)]),
    (["jk...,lj...->lk..."], [R(3, 2), R(3, 2, 4)], [R(2, 3), R(2, 3, 4)]),
    (["j...k,lj...->lk..."], [R(2, 2), R(2, 2, 2)], [R(2, 2), R(2, 2, 2)]),
    (["ijk,lji,lli->lki"], [R(3, 4, 4)], [R(4, 4, 3)], [R(4, 4, 3)]),
    (["ii->", "ii->i", "ii", "ij", "ij->", "ij->j", "ji"], [R(3, 3)]),
    (["bqd,bkd->bqk", "bqd,bkd"], [R(2, 3, 4)], [R(2, 5, 4)]),      # attention scores
    (["nchw,kcij->nkhw"], [R(1, 2, 3, 3)], [R(2, 2, 3, 3)]),        # a convolution's contraction
    (["ni,oi->no", "ni,io->no"], [R(5, 3)], [R(4, 3)]),             # dense layers
]


@pytest.mark.parametrize("k", range(len(EINSUM)))
def test_einsum(k):
    subs, *ops = EINSUM[k]
    if k == 11:
        ops = [ops[0], [R(4, 3), R(3, 4)]]
        for a, b in [(ops[0][0], ops[1][0]), (ops[0][0], ops[1][1])]:
            s = "ni,oi->no" if b.shape == (4, 3) else "ni,io->no"
            check_grads(lambda a, b: np.einsum(s, a, b), a, b)
        return
    combo(np.einsum, tuple(range(1, len(ops) + 1)), subs, *ops)


def test_einsum_sublists():
    combo(np.einsum, (0,), [R(1, 1), R(4, 4), R(3, 4)], [(0, 1)], [(1, 0)])
    combo(np.einsum, (0, 2), [R(2, 3)], [(0, 1)], [R(3, 4)], [(1, 2)], [(0, 2)])
    combo(np.einsum, (0, 2), [R(2, 3), R(2, 2, 3)], [(Ellipsis, 0, 1)], [R(3, 4), R(2, 3, 4)], [(Ellipsis, 1, 2)],
          [(Ellipsis, 0, 2)])
    combo(np.einsum, (0, 2), [R(3, 4, 4)], [(0, 1, 2)], [R(4, 4, 3)], [(3, 1, 0)], [(3, 2, 0)])
    combo(np.einsum, (0, 2, 4), [R(3, 4, 4)], [(0, 1, 2)], [R(4, 4, 3)], [(3, 1, 0)], [R(4, 4, 3)], [(3, 3, 0)],
          [(3, 2, 0)])


@pytest.mark.skipif(torch is None, reason="torch is not installed (an optional oracle)")
def test_einsum_against_torch():
    for subs, *ops in EINSUM[:11]:
        for s in subs:
            for args in itertools.product(*ops):
                try:
                    np.einsum(s, *args)
                except ValueError:
                    continue
                check_torch(lambda *xs: np.einsum(s, *xs), lambda *xs: torch.einsum(s, *xs), *args, what=s)


def test_trace_diag_triangles():
    combo(np.trace, (0,), [R(5, 5), R(4, 5), R(5, 4), R(3, 4, 5)], offset=[-1, 0, 1])
    combo(np.diag, (0,), [R(5, 5)], k=[-1, 0, 1])
    combo(np.diag, (0,), [R(5)], k=[-1, 0, 1])
    combo(np.tril, (0,), [R(5, 5), R(5, 5, 4)], k=[-1, 0, 1])
    combo(np.triu, (0,), [R(5, 5), R(5, 5, 4)], k=[-1, 0, 1])
    combo(np.diagonal, (0,), [R(3, 4, 5)], offset=[-1, 0, 2], axis1=[0, 2], axis2=[1])


def test_swapaxes_rollaxis_moveaxis():
    combo(np.swapaxes, (0,), [R(3, 4, 5)], axis1=[0, 1, 2], axis2=[0, 1, 2])
    combo(np.rollaxis, (0,), [R(2, 3, 4)], axis=[0, 1, 2], start=[0, 1, 2, 3])
    for src, dst in [(0, 2), (-1, 0), ((0, 1), (2, 0)), (1, 1)]:
        check_grads(lambda x: np.moveaxis(x, src, dst), R(2, 3, 4))


def test_cross():
    combo(np.cross, (0, 1), [R(3, 3)], [R(3, 3)], axisa=[-1, 0, 1], axisb=[-1, 0, 1], axisc=[-1, 0, 1], order=1)
    combo(np.cross, (0, 1), [R(3, 3)], [R(3, 3)], axis=[-1, 0, 1])


def _joined(pieces):
    """Split pieces as one vector, each weighted by its position (so a mix-up would show)."""
    return dk.concatenate([dk.ravel(p) * (i + 1.0) for i, p in enumerate(pieces)]) if pieces else np.zeros(0)


@pytest.mark.parametrize("fun,arrays,splits,axes", [
    (np.vsplit, [R(4, 8), R(4, 4, 4)], [2, [1, 2]], None), (np.hsplit, [R(4, 8), R(4, 4, 4)], [2, [1, 2]], None),
    (np.dsplit, [R(4, 4, 4)], [2, [1, 2]], None), (np.split, [R(1), R(7)], [1], [0]),
    (np.split, [R(4, 8)], [4, [1, 2]], [0, 1]), (np.split, [R(4, 4, 4)], [2, [1, 2]], [0, 1, 2]),
    (np.array_split, [R(1), R(7)], [1, 3], [0]), (np.array_split, [R(7, 7)], [4, [3, 5]], [0, 1]),
    (np.array_split, [R(3, 5, 7)], [4, [3, 5]], [0, 1, 2])])
def test_splits(fun, arrays, splits, axes):
    for x, s in itertools.product(arrays, splits):
        for ax in (axes or [None]):
            kw = {} if ax is None else {"axis": ax}
            check_grads(lambda x: _joined(fun(x, s, **kw)), x, what=f"{fun.__name__}({x.shape}, {s}, {kw})")


def test_concatenate_and_stacks():
    combo(lambda a, b: np.concatenate((a, b), axis=0), (0, 1), [R(1)], [R(3)])
    combo(lambda a, b: np.concatenate([a, b], axis=0), (0, 1), [R(1)], [R(3)])
    combo(lambda a, b, axis: np.concatenate((a, b), axis=axis), (0, 1), [R(2, 2)], [R(2, 2)], [0, 1])
    combo(lambda a, b, axis: np.concatenate((a, b), axis=axis), (0, 1), [R(2, 2, 2)], [R(2, 2, 2)], [0, 1, 2])
    for fun, cases in [(np.vstack, [(R(2),), (R(2), R(2)), (R(2, 3),), (R(2, 4), R(1, 4)), (R(2, 3, 4), R(5, 3, 4))]),
                       (np.hstack, [(R(2),), (R(2), R(2)), (R(3, 2),), (R(3, 4), R(3, 5)), (R(2, 1, 4), R(2, 5, 4))]),
                       (np.column_stack, [(R(2),), (R(2), R(2)), (R(2, 2), R(2, 2))]),
                       (np.dstack, [(R(2),), (R(2, 3), R(2, 3))]),
                       (dk.row_stack, [(R(2),), (R(2, 4), R(1, 4))])]:
        for parts in cases:
            n = len(parts)
            check_grads(lambda *ps: fun(list(ps)), *parts, argnums=range(n), what=f"{fun.__name__}{len(parts)}")
    for axis in (0, 1, -1):
        check_grads(lambda a, b: np.stack((a, b), axis=axis), R(2), R(2))
        check_grads(lambda a: np.stack((a,), axis=axis), R(2))


def test_select():
    conds = [R(3, 4, 5) > 0, R(3, 4, 5) > 0, R(3, 4, 5) > 0]
    combo(lambda choices, default: np.select(conds, list(choices), default=default), (0,),
          [np.stack([R(3, 4, 5), R(3, 4, 5), R(3, 4, 5)])], [0.0, 1.1])
