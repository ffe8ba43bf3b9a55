"""The buffer cache never hands out memory something can still see; the fast paths agree with the
general rules; float32 stays float32."""

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit.engine import buffers
from diffkit.engine.rules.losses import _sce_vjp_logits
from diffkit.engine.rules.elementwise import _relu_vjp
from diffkit.engine.rules.array import _mean_impl
from diffkit.engine.sweep import settle

BIG = (512, 1024)  # 4 MB of float64: above buffers.MIN_BYTES


def test_cached_buffer_is_not_reused_while_any_view_of_it_lives():
    a = buffers.empty(BIG, np.float64)
    a.fill(1.0)
    v = a[::3, 5:]  # a view: keeps a's block alive after a is dropped
    del a
    b = buffers.empty(BIG, np.float64)
    b.fill(2.0)
    assert not np.shares_memory(b, v)
    assert np.all(v == 1.0)


def test_idle_block_is_reused_and_cache_can_be_switched_off():
    a = buffers.empty(BIG, np.float64)
    where = a.ctypes.data
    del a
    assert buffers.empty(BIG, np.float64).ctypes.data == where
    old = buffers.set_buffer_cache(0)
    try:
        assert buffers.stats()["blocks"] == 0
        assert buffers.empty(BIG, np.float64).base is None  # plain np.empty
    finally:
        buffers.set_buffer_cache(old)
    with pytest.raises(ValueError, match="max_idle_bytes"):
        buffers.set_buffer_cache(-1)


def test_gradients_kept_by_the_caller_are_not_overwritten_by_later_calls():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300_000), rng.uniform(size=300_000)

    def f(w, x, y):
        return dk.mean((y - dk.sigmoid(w * x)) ** 2)
    vg = dk.value_and_grad(f)
    g1 = vg(np.full(300_000, 0.5), x, y)[1]
    keep = g1.copy()
    for w0 in (0.1, -2.0, 3.0):
        g2 = vg(np.full(300_000, w0), x, y)[1]
        assert not np.shares_memory(g1, g2)
    assert np.array_equal(g1, keep)


def test_large_forward_values_and_inputs_are_never_overwritten():
    rng = np.random.default_rng(1)
    x = rng.normal(size=300_000)
    x0 = x.copy()
    seen = []

    def f(w):
        z = dk.tanh(w * x)
        seen.append(z)  # a user keeping an intermediate node
        return dk.sum(z * z)
    g = dk.grad(f)
    g(0.3)
    z_val = seen[0].value.copy()
    g(0.7)
    assert np.array_equal(seen[0].value, z_val)
    assert np.array_equal(x, x0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_gradients_keep_the_dtype_and_match_float64(dtype):
    rng = np.random.default_rng(2)
    sizes = (300, 64, 10)  # 600×64 float64 activations (300 KB) ≥ MIN_BYTES: the cached paths
    params = [((rng.normal(size=(m, k)) / np.sqrt(m)), np.zeros(k)) for m, k in zip(sizes, sizes[1:])]
    X = rng.normal(size=(600, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 600)]

    def loss(ps, X, Y):
        a = X
        for i, (W, b) in enumerate(ps):
            a = a @ W + b
            a = dk.relu(a) if i < len(ps) - 1 else a
        return dk.softmax_cross_entropy(a, Y).mean()
    cast = [(W.astype(dtype), b.astype(dtype)) for W, b in params]
    value, grads = dk.value_and_grad(loss)(cast, X.astype(dtype), Y.astype(dtype))
    _, want = dk.value_and_grad(loss)(params, X, Y)
    assert np.result_type(value) == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for (gW, gb), (wW, wb) in zip(grads, want):
        assert gW.dtype == dtype and gb.dtype == dtype
        assert np.allclose(gW, wW, rtol=tol, atol=tol) and np.allclose(gb, wb, rtol=tol, atol=tol)


def test_fast_paths_agree_with_the_general_rules():
    rng = np.random.default_rng(3)
    z, g = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    assert np.array_equal(_relu_vjp(g, None, z), np.where(z > 0, g, 0.0))
    y = np.eye(5)[rng.integers(0, 5, 7)]
    gr = rng.normal(size=7)
    fast = _sce_vjp_logits(gr, np.zeros(7), z, y)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert np.allclose(fast, gr[:, None] * (p - y), rtol=1e-14)
    # the traced (create_graph) path uses the general rule: both give the same Hessian-vector row
    h = dk.hessian(lambda v: dk.softmax_cross_entropy(v.reshape(1, 5), y[:1]).mean())(z[0])
    assert np.allclose(h, np.diag(p[0]) - np.outer(p[0], p[0]), atol=1e-12)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    for axis in (None, (0,), (1,), (0, 1)):
        got, want = _mean_impl(x, axis), np.mean(x, axis=axis)
        assert np.allclose(got, want) and np.result_type(got) == np.result_type(want)
    for gshape, shape, want_shape in [((5, 1, 3), (4, 3), (1, 3)), ((5, 4, 3), (4, 1), (4, 1)),
                                      ((5, 4, 3), (3,), (3,)), ((2, 3), (2, 3), (2, 3))]:
        gg = np.ones(gshape)
        logical = np.broadcast_shapes(gshape, shape)
        assert settle(gg, logical, shape).shape == want_shape
        assert settle(dk.const(gg), logical, shape).shape == want_shape  # the traced path agrees


@pytest.mark.parametrize("case", ["chain", "fan_out", "shared_relu_input", "two_grad_parents"])
def test_in_place_reuse_of_owned_cotangents_changes_no_gradient(case):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 30))
    Ws = [dk.param(rng.normal(size=s), f"W{i}") for i, s in enumerate([(30, 20), (20, 20), (20, 1)])]

    def build():
        h = dk.relu(X @ Ws[0])
        if case == "chain":
            out = dk.relu(h @ Ws[1]) @ Ws[2]
        elif case == "fan_out":  # relu(h) feeds two products: its cotangent is a sum
            r = dk.relu(h @ Ws[1])
            out = r @ Ws[2] + (r * 2.0) @ Ws[2]
        elif case == "shared_relu_input":  # one product feeds two relus
            z = h @ Ws[1]
            out = (dk.relu(z) + dk.relu(z * -1.0)) @ Ws[2]
        else:  # a product whose both arguments need gradients
            out = dk.relu(h @ Ws[1]) @ dk.relu(Ws[1] @ Ws[2])
        return dk.sum(out * out)
    out = build()
    from diffkit.engine.fast import backward
    fast = backward(out, 1.0, wrt=Ws)
    slow = dk.backward_pass(out, 1.0, wrt=Ws)  # the reference sweep: nothing is overwritten
    for W in Ws:
        assert np.array_equal(fast[W], slow[W])
    # and the forward values the rules read were not touched
    assert float(out.value) == float(build().value)
