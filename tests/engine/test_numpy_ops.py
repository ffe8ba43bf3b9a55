"""NumPy functions on traced values, as NumPy users write them (the patterns of HIPS/autograd's
tests/test_numpy.py, in diffkit's words): products, reductions with axis/keepdims, indexing
(integers, slices, ``None``/``...``, masks, integer arrays with repeats), assembly, ties, lists of
traced values — each against central differences (first and second order), several against torch —
and NumPy's dispatch: every NumPy function given a traced value works or names what to use.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit.errors import BadInput
from npcheck import check_grads, check_torch, torch

rng = np.random.default_rng(1)
R = lambda *shape: rng.normal(size=shape)  # noqa: E731


# -- products ------------------------------------------------------------------------------------------
def test_dot():
    m1, m2, v1, v2, v3 = R(4, 5), R(4, 5), R(4), R(5), R(5)
    for a, b in [(m1, v2), (m1, m2.T), (v1, m1), (v2, v3)]:
        check_grads(np.dot, a, b)
        check_grads(lambda a: a.dot(b), a)  # the method of a traced value
        check_torch(np.dot, lambda a, b: a @ b, a, b)


def test_dot_with_floats():
    m, v, f = R(4, 5), R(4), float(R())
    for a, b in [(m, f), (f, m), (v, f), (f, v)]:
        check_grads(np.dot, a, b)


def test_outer_inner_vdot_kron():
    v2, v3 = R(5), R(5)
    check_grads(np.outer, v2, v3)
    check_grads(np.outer, R(2, 2), R(3))  # flattened, as NumPy
    check_grads(np.vdot, R(2, 3), R(3, 2))
    check_grads(np.kron, R(2, 3), R(3, 2))
    check_torch(np.outer, torch.outer if torch else None, v2, v3)


def test_tensordot_kwargs_by_position():
    assert float(dk.grad(lambda x: np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2))(1.0)) == 8.0


# -- reductions -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fun", [np.max, np.min, np.sum, np.mean, np.prod])
@pytest.mark.parametrize("kw", [{}, {"axis": 1}, {"axis": 1, "keepdims": True}, {"axis": (0, 2)}, {"axis": -1}])
def test_reductions_axis_keepdims(fun, kw):
    x = R(3, 4, 2) if fun is not np.prod else np.abs(R(3, 4, 2)) + 0.5
    check_grads(lambda x: fun(x, **kw), x)


def test_sum_with_axis_tuple_and_methods():
    check_grads(lambda x: np.sum(x, axis=(1, 2)), R(4, 3, 2))
    for m in ("sum", "mean", "max", "min", "prod", "var", "std"):
        check_grads(lambda x: getattr(x, m)(axis=0), np.abs(R(3, 4)) + 0.3)


def test_python_sum_of_arrays():
    check_grads(lambda x, y: sum([x, y]), R(3, 4), R(3, 4))


def test_reductions_of_lists_of_traced_values():
    # the example: dk.mean([x, x + 2]) is d/dx (x + x + 2)/2 = 1
    assert float(dk.grad(lambda x: dk.mean([x, x + 2]))(3.0)) == 1.0
    assert float(dk.grad(lambda x: np.mean(dk.array([x, x + 2])))(3.0)) == 1.0
    for f in (dk.sum, dk.mean, dk.max, dk.min, dk.prod, dk.var, dk.std):
        check_grads(lambda x: f([x, x * x, 2.0 * x + 1.0]), 1.3, what=f.__name__)
        check_grads(lambda x: f([x[0], x[1] * 3.0], axis=0), R(2, 3), what=f.__name__)


def test_prod_is_exact_at_zeros():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, -1.0]])
    for axis in (None, 0, 1):
        check_grads(lambda x: np.prod(x, axis=axis), x, order=3)
    # by hand: d/dx0 (x0·0·x2) = 0, d/dx1 = x0·x2, a row with two zeros has zero gradient
    g = dk.grad(lambda x: dk.sum(dk.prod(x, axis=1)))(x)
    assert np.array_equal(g, [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [-2.0, -1.0, 2.0]])


def test_var_std_ddof():
    B, C, D = R(3), R(3, 4), R(1, 3)
    for x in (B, C, D):
        for ddof in (0, 1):
            for keep in (True, False):
                check_grads(lambda x: np.var(x, ddof=ddof, keepdims=keep), x)
                check_grads(lambda x: np.std(x, ddof=ddof, keepdims=keep), x)
    for x in (C, D):
        check_grads(lambda x: np.var(x, axis=1, ddof=2), x) if x.shape[1] > 2 else None
    check_torch(lambda x: np.std(x, axis=1, ddof=1), lambda x: x.std(1, correction=1) if torch else None, C)
    with pytest.raises(BadInput, match="ddof=3 leaves no degrees of freedom for 3 values"):
        dk.var(dk.param(B), ddof=3)


def test_cumsum_and_diff():
    for kw in ({"axis": 0}, {"axis": 1}, {}):
        check_grads(lambda x: np.cumsum(x, **kw), R(4, 5))
    check_grads(np.cumsum, R(6))
    check_grads(lambda x: np.diff(x, n=2, axis=0, prepend=0.5), R(4, 3))


def test_max_min_ties_split_evenly():
    # autograd's tie tests: the gradient of a function of one scalar through tied entries
    check_grads(lambda x: np.max(dk.array([x, x])), 1.0)
    check_grads(lambda x: np.max(dk.array([[x, x], [x, 0.5]]), axis=1), 1.0)
    check_grads(lambda x: np.max(dk.array([[x, x], [x, 0.5]]), axis=1), -1.0)
    m = lambda x: np.min(dk.array([[x, x, x], [x, 0.5, 0.5], [0.5, 0.5, 0.5], [x, x, 0.5]]), axis=0)  # noqa: E731
    check_grads(m, 1.0)
    check_grads(m, -1.0)
    check_grads(lambda x: np.maximum(x, x), 1.0)
    mm = lambda x: np.maximum(dk.array([x, x, 0.5]), dk.array([[x, 0.5, x], [x, x, 0.5]]))  # noqa: E731
    for x0 in (1.0, -1.0, 2.0):
        check_grads(mm, x0)
    # three tied entries share the gradient in thirds
    assert np.allclose(dk.grad(lambda x: dk.max(x))(np.array([1.0, 3.0, 3.0, 3.0])), [0, 1 / 3, 1 / 3, 1 / 3])


# -- indexing -------------------------------------------------------------------------------------------
A = R(5, 6, 4)
INDEXES = {
    "ints": (3, 0, 1), "slice": (slice(None, None, -1), slice(2, 4), slice(None)), "lists": ([0, 1, 2],),
    "mixed": (3, slice(2, None), [1, 3]), "negative": (-1, slice(-3, None), -2), "newaxis": (None, 1, Ellipsis),
    "ellipsis": (Ellipsis, 2), "ellipsis_mid": (1, Ellipsis, None, 0), "step": (slice(0, 5, 2), slice(5, 0, -2)),
    "mask": (A[:, :, 0] > 0,), "mask_axis1": (slice(None), A[0, :, 0] > 0), "int_array_2d": (np.array([[0, 4], [2, 2]]),),
    "repeats": ([0, 0, 4, 0], slice(None), [1, 1, 1, 3]), "empty": ([],), "empty_slice": (slice(3, 3),),
}


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_indexing(name):
    index = INDEXES[name]
    check_grads(lambda x: x[index], A, what=name)


@pytest.mark.skipif(torch is None, reason="torch is not installed (an optional oracle)")
# (torch orders the axes of a mixed basic/advanced index differently from NumPy; negative steps and
# empty integer lists it does not take)
@pytest.mark.parametrize("name", sorted(set(INDEXES) - {"step", "empty", "empty_slice", "slice", "mixed", "repeats"}))
def test_indexing_against_torch(name):
    index = INDEXES[name]
    tindex = tuple(torch.tensor(np.asarray(k)) if isinstance(k, (list, np.ndarray)) else k for k in index)
    check_torch(lambda x: x[index], lambda x: x[tindex], A, what=name)


def test_vector_slices_and_fanout():
    check_grads(lambda x: x[2:4], R(5))
    check_grads(lambda x: x[::-1, 2:4, :] + x[::-1, 3:5, :], A)
    check_grads(lambda x: x[2:6][1:3], R(7))
    check_grads(lambda x: np.dot(x[:2], x[2:]), R(4))
    check_grads(lambda x: np.sum(x[[0, 0]]), R(3))
    check_grads(lambda x: np.sum(x[[0, 1, 0]]), R(3))


def test_repeated_indices_accumulate():
    x = np.arange(4.0)
    g = dk.grad(lambda x: dk.sum(x[[0, 0, 3, 0]] * np.array([1.0, 2.0, 3.0, 4.0])))(x)
    assert np.array_equal(g, [7.0, 0.0, 0.0, 3.0])  # np.add.at semantics, not assignment
    g2 = dk.grad(lambda x: dk.sum(x[np.array([[1, 1], [1, 2]])]))(x)
    assert np.array_equal(g2, [0.0, 3.0, 1.0, 0.0])


def test_iteration_unpacking_and_len():
    def f(x):
        a, b, c = x
        assert len(x) == 3
        return a * b + c[1]
    check_grads(f, R(3, 2))
    check_grads(lambda x: sum(r * (i + 1.0) for i, r in enumerate(x)), R(4))


def test_cast_to_int_index():
    # autograd's test: integer indices computed from the values are constants
    inds = np.ones(5)[:, None]

    def fun(W):
        glued = np.concatenate((W, inds), axis=1)
        new_W, new_inds = glued[:, :-1], glued[:, -1].astype(int)
        return new_W[new_inds].sum()
    check_grads(fun, R(5, 10))


def test_index_errors_are_clear():
    x = dk.param(R(3, 4))
    with pytest.raises(BadInput, match="index arrays must hold integers or booleans, got dtype float64"):
        x[np.array([0.5])]
    with pytest.raises(BadInput, match=r"a boolean mask of shape \(2,\) does not match axes of shape \(3,\)"):
        x[np.array([True, False])]
    with pytest.raises(BadInput, match="getitem cannot be applied to arguments of shapes"):
        x[7]
    with pytest.raises(BadInput, match="traced values are immutable"):
        x[0] = 1.0


# -- shapes and assembly ----------------------------------------------------------------------------------
def test_reshape_ravel_flatten_squeeze_expand():
    check_grads(lambda x: x.reshape((5 * 4, 6)), A)
    check_grads(lambda x: np.reshape(x, (5 * 4, 6)), A)
    check_grads(lambda x: x.reshape(5 * 4, 6), A)
    for f in (lambda x: x.ravel(), np.ravel, lambda x: x.flatten()):
        check_grads(f, A)
    B = R(5, 1, 4)
    for f in (np.squeeze, lambda x: x.squeeze(), lambda x: np.squeeze(x, axis=1), lambda x: np.expand_dims(x, 2),
              lambda x: np.expand_dims(x, (0, -1)), lambda x: x.T, lambda x: np.swapaxes(x, 0, 2)):
        check_grads(f, B)


def test_append_concatenate_stack():
    check_grads(lambda a, b: np.append(a, b), [1.0, 2.0, 3.0], 4.0, argnums=(1,))
    check_grads(lambda a, b: np.append(a, b), np.array([1.0, 2.0, 3.0]), 4.0)
    Bs = R(4, 6, 4)
    check_grads(lambda x: np.concatenate((A, x)), Bs)
    check_grads(lambda x: np.concatenate((A, x, A)), R(5, 6, 4))
    check_grads(lambda x: np.concatenate((A, x, A), axis=1), R(5, 6, 4))
    check_grads(lambda x: np.concatenate((A, x, A), 1), R(5, 6, 4))
    check_grads(lambda x: np.concatenate([x, x], axis=None), R(2, 3))
    check_grads(lambda x: np.stack([x, 2.0 * x, x * x], axis=1), R(2, 3))
    check_grads(lambda x: np.hstack([x, x]), R(2, 3))


def test_arrays_from_traced_scalars():
    check_grads(lambda x: dk.array([x, x * 1.0, x + 2.5]), 3.0)
    check_grads(lambda x: dk.array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]]), 3.0)
    check_grads(lambda x: (lambda A: A + A)(dk.array([x, x * 1.0, x + 2.5])), 3.0)
    check_grads(lambda x: dk.array([x, x]), R(3, 2))
    check_grads(lambda x: dk.array([[2 * x, x + 1], [x, x]]), R(3, 2))
    check_grads(lambda x: dk.array(x), 3.0)


def test_flips_rolls_triangles_trace():
    M = R(4, 5)
    for f in (np.flipud, np.fliplr, np.rot90, lambda x: np.rot90(x, 3), lambda x: np.rot90(x, 2, axes=(1, 0)),
              lambda x: np.roll(x, 2, axis=1), lambda x: np.roll(x, -3), lambda x: np.roll(x, (1, 2), axis=(0, 1)),
              lambda x: np.triu(x, k=2), lambda x: np.tril(x, k=2), lambda x: np.tril(x, k=-1), np.diag,
              lambda x: np.trace(x, offset=1), lambda x: np.trace(x, offset=-3), lambda x: np.diagonal(x, 1),
              lambda x: np.flip(x), lambda x: np.flip(x, 1), lambda x: x.diagonal()):
        check_grads(f, M)
    check_grads(lambda x: np.trace(x, offset=2), R(5, 6, 4, 3))
    check_grads(lambda x: np.diagonal(x, axis1=-1, axis2=-2), R(3, 4, 4))


def test_clip_where_select():
    check_grads(lambda x: np.clip(x, a_min=0.1, a_max=1.1), R(5, 5))
    check_grads(lambda x: x.clip(-0.5, 0.5), R(5, 5))
    check_grads(lambda x: np.clip(x, 0.1, None), R(5, 5))
    check_grads(lambda x, lo, hi: np.clip(x, lo, hi), R(3, 4), R(4) - 1.0, R(3, 1) + 1.0)
    C = R(4, 5) > 0
    check_grads(lambda x, y: np.where(C, x, y), R(4, 5), R(4, 5))
    check_grads(lambda x: np.where(C, x, 0.0), R(4, 5))   # a scalar branch
    check_grads(lambda x: np.where(x > 0, x, 0.01 * x), R(4, 5))
    # at the bounds the gradient is split evenly, as maximum's ties: ½
    assert np.array_equal(dk.grad(lambda x: dk.sum(dk.clip(x, 0.0, 1.0)))(np.array([0.0, 0.5, 1.0, 2.0])),
                          [0.5, 1.0, 0.5, 0.0])


def test_repeat_tile_pad_sort_take():
    X = R(5, 3, 4)
    for f in (lambda x: np.repeat(x, 2, axis=1), lambda x: np.repeat(x, 1, axis=1), lambda x: np.repeat(x, 2, axis=0),
              lambda x: np.repeat(x, [1, 0, 2], axis=1), lambda x: np.repeat(x, 2)):
        check_grads(f, X)
    check_grads(lambda x: np.repeat(x, 2, axis=0), R(5))
    check_grads(lambda x: np.repeat(x, 1, axis=0), R(5, 1))
    check_grads(lambda x: np.tile(x, (2, 1, 3)), R(2, 3))
    for mode in ("constant", "edge", "reflect", "symmetric", "wrap"):
        check_grads(lambda x: np.pad(x, ((1, 2), (0, 3)), mode=mode), R(4, 5), what=mode)
    check_grads(lambda x: np.pad(x, 2, constant_values=1.5), R(3))
    check_grads(lambda x: np.sort(x, axis=0), R(4, 3))
    check_grads(lambda x: np.take(x, [0, 3, 3], axis=1), R(2, 4))
    order = np.argsort(R(3, 4), axis=1)
    check_grads(lambda x: np.take_along_axis(x, order, axis=1), R(3, 4))


def test_linspace_and_nan_to_num():
    for num in (0, 1, 5):
        for a, b in ((1.2, 3.4), (1.2, -3.4), (1.2, 1.2)):
            check_grads(lambda x, y: np.linspace(x, y, num), a, b)
    y = np.array([0.0, np.nan, np.inf, -np.inf])
    check_grads(lambda x: np.sum(np.sin(np.nan_to_num(x + y))), R(4))


def test_astype_keeps_the_gradient_dtype():
    x = np.arange(3, dtype="float32")
    g = dk.grad(lambda x: np.sum(np.sin(x.astype("float64"))))(x)
    assert g.dtype == np.float32 and np.allclose(g, np.cos(x))
    g64 = dk.grad(lambda x: dk.sum(x.astype(np.float32) * 2.0))(np.ones(2))
    assert g64.dtype == np.float64 and np.array_equal(g64, [2.0, 2.0])


# -- the layer patterns: MLP, attention, convolution ---------------------------------------------------
def test_einsum_layer_patterns_against_torch():
    X, W, b = R(5, 3), R(3, 4), R(4)
    mlp = lambda X, W, b: np.tanh(np.einsum("ni,io->no", X, W) + b)  # noqa: E731
    check_grads(mlp, X, W, b)
    Q, K, V = R(2, 3, 4), R(2, 5, 4), R(2, 5, 4)

    def attention(Q, K, V):
        s = np.einsum("bqd,bkd->bqk", Q, K) / 2.0
        return np.einsum("bqk,bkd->bqd", dk.softmax(s, axis=-1), V)
    check_grads(attention, Q, K, V)
    img, ker = R(1, 2, 5, 5), R(3, 2, 2, 2)

    def conv(img, ker):  # valid 2×2 convolution: patches by slicing, one einsum contraction
        patches = dk.stack([dk.stack([img[:, :, i:i + 4, j:j + 4] for j in range(2)], -1) for i in range(2)], -2)
        return np.einsum("nchwij,kcij->nkhw", patches, ker)
    check_grads(conv, img, ker)
    if torch is not None:
        F = torch.nn.functional
        check_torch(mlp, lambda X, W, b: torch.tanh(torch.einsum("ni,io->no", X, W) + b), X, W, b)
        check_torch(attention, lambda Q, K, V: torch.einsum("bqk,bkd->bqd", torch.softmax(
            torch.einsum("bqd,bkd->bqk", Q, K) / 2.0, -1), V), Q, K, V)
        check_torch(conv, lambda img, ker: F.conv2d(img, ker), img, ker)


# -- NumPy's dispatch ------------------------------------------------------------------------------------
def test_numpy_functions_dispatch_or_name_what_to_use():
    x = dk.param(R(3, 4))
    assert isinstance(np.tan(x), dk.Node) and isinstance(np.einsum("ij->i", x), dk.Node)
    assert isinstance(np.add.reduce(x, axis=0), dk.Node) and isinstance(np.maximum.reduce(x), dk.Node)
    assert np.argmax(x) == np.argmax(x.value) and np.array_equal(np.isnan(x), np.zeros((3, 4), bool))
    assert np.array_equal(np.argsort(x, axis=0), np.argsort(x.value, axis=0))
    with pytest.raises(BadInput, match=r"np.linalg.svd cannot take a traced diffkit value: diffkit has no "
                                       r"differentiable svd"):
        np.linalg.svd(x)
    with pytest.raises(BadInput, match=r"np.sum on a traced value does not take dtype; allowed: axis, keepdims"):
        np.sum(x, dtype=np.float32)
    with pytest.raises(BadInput, match=r"np.add.at cannot take a traced diffkit value"):
        np.add.at(x, [0], 1.0)
    with pytest.raises(BadInput, match=r"np.gcd cannot take a traced diffkit value"):
        np.gcd(x, 2)
    # NumPy would otherwise wrap the Node in an object array and compute nonsense with it
    with pytest.raises(BadInput, match=r"a traced value cannot become a plain NumPy array"):
        np.ones((2, 3)).dot(x)
    with pytest.raises(BadInput, match=r"use diffkit's functions instead \(dk.array"):
        np.array([x, x])


def test_bad_inputs_name_the_op_and_shapes():
    with pytest.raises(BadInput, match=r"concatenate along axis 0: shapes \(2, 3\), \(2, 4\) differ"):
        np.concatenate([dk.param(R(2, 3)), R(2, 4)])
    with pytest.raises(BadInput, match=r"einsum: operand of shape \(2, 3\) has 2 dimensions but subscripts 'i' name 1"):
        np.einsum("i,i->", dk.param(R(2, 3)), R(3))
    with pytest.raises(BadInput, match=r"einsum cannot be applied to arguments of shapes \(2,\), \(3,\)"):
        np.einsum("i,i->", dk.param(R(2)), R(3))
    with pytest.raises(BadInput, match=r"max: axis 2 is out of range"):
        np.max(dk.param(R(2, 3)), axis=2)
    with pytest.raises(BadInput, match=r"max cannot be applied to arguments of shapes \(0,\)"):
        dk.max(dk.param(np.zeros(0)))
    with pytest.raises(BadInput, match=r"split: an axis of length 5 does not split into 2 equal sections"):
        np.split(dk.param(R(5)), 2)
