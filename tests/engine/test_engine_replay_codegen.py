"""Fused NumPy replay (``codegen``): values and gradients equal the eager engine's."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk


def _ridge(w, b, x, y, lam):
    u = dk.sigmoid(w * x + b)
    return dk.mean(0.5 * (y - u) ** 2) + lam * w ** 2


def _close(got, want, rtol):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=0)


def _mlp(dtype, batch, rng):
    X = rng.normal(size=(batch, 7)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, batch)]
    args = [(rng.normal(size=(7, 6)) / 3).astype(dtype), np.full(6, 0.1, dtype),
            (rng.normal(size=(6, 5)) / 3).astype(dtype), np.zeros(5, dtype),
            (rng.normal(size=(5, 3)) / 3).astype(dtype), np.zeros(3, dtype)]
    return X, Y, args


def _mlp_loss(W1, b1, W2, b2, W3, b3, X, Y):
    a = dk.relu(X @ W1 + b1)
    a = dk.relu(a @ W2 + b2)
    return dk.softmax_cross_entropy(a @ W3 + b3, Y).mean()


def test_codegen_ridge_sigmoid_vectorised_matches_eager():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=200), rng.uniform(size=200)
    cg = dk.compile_gradient(dk.trace(_ridge, 0.5, -0.3, x, y, 0.1, wrt=("w", "b")))
    for w, b in [(0.5, -0.3), (2.0, 40.0), (-1.0, 3.0)]:
        value, grads = cg.call({"w": w, "b": b, "x": x, "y": y, "lam": 0.1})
        want_v, (dw, db) = dk.value_and_grad(_ridge, argnum=(0, 1))(w, b, x, y, 0.1)
        _close(value, want_v, 1e-12)
        _close(grads["w"], dw, 1e-12)
        _close(grads["b"], db, 1e-12)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_codegen_mlp_relu_softmax_ce_matches_eager_and_keeps_dtype(dtype, rtol):
    rng = np.random.default_rng(1)
    X, Y, args = _mlp(dtype, 16, rng)
    cg = dk.compile_gradient(dk.trace(_mlp_loss, *args, X, Y, wrt=tuple(range(6))))
    assert "out=" in cg.source
    value, grads = cg(*args, X, Y)
    want_v, want = dk.value_and_grad(_mlp_loss, argnum=tuple(range(6)))(*args, X, Y)
    _close(value, want_v, rtol)
    for g, w in zip(grads, want):
        assert g.dtype == dtype and g.shape == w.shape
        _close(g, w, rtol)


def test_codegen_new_inputs_and_batch_size_respecialise():
    rng = np.random.default_rng(2)
    X, Y, args = _mlp(np.float64, 16, rng)
    cg = dk.compile_gradient(dk.trace(_mlp_loss, *args, X, Y, wrt=tuple(range(6))))
    for batch in (16, 5, 33, 16):
        X2, Y2, args2 = _mlp(np.float64, batch, rng)
        value, grads = cg(*args2, X2, Y2)
        want_v, want = dk.value_and_grad(_mlp_loss, argnum=tuple(range(6)))(*args2, X2, Y2)
        _close(value, want_v, 1e-12)
        for g, w in zip(grads, want):
            _close(g, w, 1e-12)


def test_codegen_outputs_are_not_aliased_between_calls():
    rng = np.random.default_rng(3)
    X, Y, args = _mlp(np.float64, 8, rng)
    cg = dk.compile_gradient(dk.trace(_mlp_loss, *args, X, Y, wrt=tuple(range(6))))
    _, first = cg(*args, X, Y)
    kept = [g.copy() for g in first]
    _, second = cg(*[a * 1.5 for a in args], X, Y)
    for g, k, s in zip(first, kept, second):
        np.testing.assert_array_equal(g, k)
        assert not np.shares_memory(g, s)
    first[0][...] = 7.0  # mutating one call's result leaves the next call's alone
    _, third = cg(*args, X, Y)
    np.testing.assert_array_equal(third[0], kept[0])


def test_codegen_broadcast_bias_and_fan_out_accumulate():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(6, 4))

    def f(b, c):
        z = dk.tanh(A + b)        # bias broadcast over rows
        h = z * z + z * c         # z used three times: adjoints accumulate
        return dk.sum(dk.exp(-h) + h / (1.0 + c * c))
    b, c = rng.normal(size=4), rng.normal(size=(6, 1))
    cg = dk.compile_gradient(dk.trace(f, b, c))
    b2, c2 = rng.normal(size=4), rng.normal(size=(6, 1))
    value, grads = cg(b2, c2)
    want_v, want = dk.value_and_grad(f, argnum=(0, 1))(b2, c2)
    _close(value, want_v, 1e-12)
    for g, w in zip(grads, want):
        assert g.shape == w.shape
        _close(g, w, 1e-12)


def test_codegen_source_runs_standalone():
    rng = np.random.default_rng(5)
    X, Y, args = _mlp(np.float64, 8, rng)

    def closed(W1, b1, W2, b2, W3, b3):  # X, Y enter as constants
        return _mlp_loss(W1, b1, W2, b2, W3, b3, X, Y)
    cg = dk.compile_gradient(dk.trace(closed, *args))
    ns: dict = {}
    exec(cg.source, ns)
    value, grads = ns["make_gradient"](*cg.constants)(*args)
    want_v, want = cg(*args)
    assert value == want_v
    for g, w in zip(grads, want):
        np.testing.assert_array_equal(g, w)


def test_replayed_sigmoid_gradient_stays_finite_far_in_the_tails():
    import diffkit.engine as dk

    def loss(w, b, x, y, lam):
        u = dk.sigmoid(w * x + b)
        return dk.mean(0.5 * (y - u) ** 2) + lam * w ** 2

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=50), rng.uniform(size=50)
    g = dk.trace(loss, 0.5, -0.3, x, y, 0.1, wrt=("w", "b"))
    cg = dk.compile_gradient(g)
    for b in (-1000.0, -750.0, 750.0, 1000.0):
        value, grads = cg.call({"w": 0.5, "b": b, "x": x, "y": y, "lam": 0.1})
        want_value, want = dk.value_and_grad(loss, argnum=(0, 1))(0.5, b, x, y, 0.1)
        assert np.isfinite(value) and all(np.isfinite(float(v)) for v in grads.values())
        assert float(value) == pytest.approx(float(want_value), rel=1e-12)
        assert float(grads["w"]) == pytest.approx(float(want[0]), rel=1e-12, abs=1e-300)
        assert float(grads["b"]) == pytest.approx(float(want[1]), rel=1e-12, abs=1e-300)


# -- peepholes: lazy scalings and 1-D products ------------------------------------------------
def _check_against_eager(f, args, wrt, rtol=1e-12):
    import inspect
    names = list(inspect.signature(f).parameters)
    cg = dk.compile_gradient(dk.trace(f, *args, wrt=wrt))
    value, grads = cg.call(dict(zip(names, args)))  # the compiled argument order is its own
    want_v, want = dk.value_and_grad(f, argnum=wrt)(*args)
    _close(value, want_v, rtol)
    for i, w in zip(wrt, want):
        assert np.shape(grads[names[i]]) == np.shape(w)
        _close(grads[names[i]], w, rtol)
    return cg.source


def _array_writes(src):
    return [ln.strip() for ln in src.splitlines() if "out=" in ln or "*=" in ln or "+=" in ln or "-=" in ln]


def test_peephole_scalar_chain_is_one_pass():
    rng = np.random.default_rng(10)
    x = rng.normal(size=30)

    def f(w, x):  # x·2, negation, /w, ·3 and w· on one array: one multiply by the combined scalar
        return dk.sum(dk.tanh(w * (-(x * 2.0) / (w + 1.0) * 3.0)))
    src = _check_against_eager(f, (0.7, x), (0, 1))
    fwd = src.split("np.tanh")[0]
    assert fwd.count("np.multiply(x,") == 1 and "np.negative" not in fwd and "np.divide" not in fwd


def test_peephole_scale_moves_outside_a_full_reduction():
    rng = np.random.default_rng(11)
    x = rng.normal(size=40)

    def f(w, x):
        return dk.mean(0.5 * (x * w)) + dk.sum(-x / w)
    src = _check_against_eager(f, (1.3, x), (0, 1))
    fwd = src.split("def gradient")[1].split("t1 =")[0]
    assert fwd.count("x.sum()") == 2 and "out=" not in fwd  # the forward pass writes no array at all


def test_peephole_full_reductions_of_1d_products_are_dot_products():
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=50), rng.normal(size=50)

    def f(w, b, x, y):
        r = x * w + b - y
        return dk.mean(r ** 2) + dk.sum(r * x) + dk.mean(0.25 * (x * y))
    src = _check_against_eager(f, (0.4, -0.2, x, y), (0, 1))
    # forward: r·r, r·x and x·y are never written (dot products); backward: w's adjoint is a dot with x
    import re
    fwd, bwd = src.split("def gradient")[1].split("= 1.0 / 50.0")  # the backward pass starts with 1/n
    assert re.search(r"np\.dot\((\w+), \1\) / 50", fwd)  # mean(r**2)
    assert re.search(r"np\.dot\(\w+, x\)", fwd) and "0.25 * np.dot(x, y) / 50" in fwd
    assert re.search(r"np\.dot\(\w+, x\)", bwd)  # w's adjoint: sum(g·x)
    assert len(_array_writes(fwd)) == 3 and "np.multiply(x, y" not in src  # x·w, +b, −y only


def test_peephole_sigmoid_vjp_carries_the_upstream_scale():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=200), rng.uniform(size=200)
    cg = dk.compile_gradient(dk.trace(_ridge, 0.5, -0.3, x, y, 0.1, wrt=("w", "b")))
    src = cg.source
    # the W2 loss: 11 array writes (hand NumPy: ~11) and three reductions, two of them dot products
    assert len(_array_writes(src)) <= 11, _array_writes(src)
    assert src.count("np.dot(") == 2
    # σ and σ′ come from diffkit.stable's formulas, sharing one exponential (finite in both tails)
    assert "_stable.sigmoid_and_exp(" in src and "_stable.sigmoid_prime_from_exp(" in src
    assert src.count("exp") == src.count("_stable.sigmoid_and_exp(") + src.count("_from_exp(")
    for w, b in [(0.5, -0.3), (2.0, 40.0), (-1.0, 3.0), (0.5, -1000.0)]:
        value, grads = cg.call({"w": w, "b": b, "x": x, "y": y, "lam": 0.1})
        want_v, (dw, db) = dk.value_and_grad(_ridge, argnum=(0, 1))(w, b, x, y, 0.1)
        assert np.isfinite(value) and np.isfinite(grads["w"]) and np.isfinite(grads["b"])
        assert value == pytest.approx(want_v, rel=1e-12)
        assert grads["w"] == pytest.approx(dw, rel=1e-12, abs=1e-300)
        assert grads["b"] == pytest.approx(db, rel=1e-12, abs=1e-300)


def test_peephole_lazy_value_with_many_consumers_is_written_once():
    rng = np.random.default_rng(14)
    x = rng.normal(size=25)

    def f(w, c, x):
        z = x * w           # lazy scaling, read by exp, tanh and a product
        h = -(z * c)        # lazy product with a lazy sign, fanned out to two consumers
        return dk.sum(dk.exp(z) + dk.tanh(z) + z * z) + dk.sum(dk.exp(h)) + dk.mean(h * 3.0)
    c = rng.normal(size=25)
    src = _check_against_eager(f, (0.8, c, x), (0, 1, 2))
    assert src.count("np.multiply(x, w") == 1


def test_peephole_keeps_float32_and_broadcast_shapes():
    rng = np.random.default_rng(15)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)

    def f(b, x):
        z = (x + b) * 0.5
        return dk.mean(-(z * z) / 3.0) + dk.sum(dk.exp(z) * 2.0)
    cg = dk.compile_gradient(dk.trace(f, b, x, wrt=(0, 1)))
    value, grads = cg.call({"b": b, "x": x})
    want_v, want = dk.value_and_grad(f, argnum=(0, 1))(b, x)
    _close(value, want_v, 1e-5)
    for name, w in zip("bx", want):
        assert grads[name].dtype == np.float32 and grads[name].shape == w.shape
        _close(grads[name], w, 1e-5)


def test_peephole_negated_affine_is_written_in_two_passes():
    rng = np.random.default_rng(16)
    x = rng.normal(size=30)

    def f(w, b, x):  # exp(−(w·x + b)): −z = x·(−w) − b, written by one multiply and one add
        return dk.sum(dk.exp(-(w * x + b))) + dk.sum(dk.exp(3.0 - x / w))
    src = _check_against_eager(f, (0.7, -0.4, x), (0, 1, 2))
    fwd = src.split("def gradient")[1].split("np.exp")[0]
    assert "np.negative" not in fwd and "np.multiply(x, (-w)" in fwd and "+= (-b)" in fwd
    for b in (-1000.0, 1000.0):  # σ stays finite far in both tails
        _check_against_eager(lambda w, b, x: dk.sum(dk.sigmoid(w * x + b) ** 2), (0.7, b, x), (0, 1))


def test_peephole_offset_is_not_distributed_over_a_scale():
    # (x + c)·s and ((x + c) + d) must round like the eager engine: catastrophic cancellation in
    # x + c would be amplified by x·s + c·s or x + (c + d)
    x = np.array([1.0 + 2.0 ** -40, 1.0 - 3.0 * 2.0 ** -45, 1.0])

    def f(s, x):
        return dk.sum(((x - 1.0) * s + 1e-20) * 1e10) + dk.sum(-((x - 1.0) + 1e-18) / s)
    src = _check_against_eager(f, (3.0, x), (0, 1))
    assert src.count("np.subtract(x, 1.0") + src.count("np.add(x, -1.0") + src.count("np.add(x, (-1.0)") >= 1


def test_peephole_scaled_sigmoid_adjoint_keeps_its_buffer():
    # the sigmoid VJP result, lazily scaled by g's sign, must keep its pool buffer reserved while
    # later VJPs (tanh here) allocate theirs
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=17), rng.normal(size=17)

    def f(x, y):
        return dk.sum(-dk.sigmoid(x)) + dk.sum(dk.tanh(y) * (-dk.sigmoid(x)))
    _check_against_eager(f, (x, y), (0, 1))


def test_codegen_lazily_broadcast_adjoint_summed_to_a_broadcast_operand():
    # mean(A + b): the adjoint 1/12 stands for a (3, 4) array, so d/db = 3/12 per entry (the fused
    # code once summed the scalar itself and gave 1/12: issue 9's bug, in this backend)
    rng = np.random.default_rng(20)
    A, b, c = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 1))

    def f(b, c, A):
        return dk.mean(A + b) + dk.sum((A * c) * 2.0) + dk.mean(dk.tanh(b * c))
    cg = dk.compile_gradient(dk.trace(f, b, c, A, wrt=(0, 1)))
    assert cg.backend == "fused"
    _check_against_eager(f, (b, c, A), (0, 1))
    _, (db, dc) = cg(b, c, A)
    np.testing.assert_allclose(db, 0.25 + np.sum((1 - np.tanh(b * c) ** 2) * c, axis=0) / 12, rtol=1e-12)


def test_a_long_index_is_named_not_written_out():
    # a mask over 3,000 entries was one source line of ~8,000 characters: it is now a name kept
    # with the compiled function, the source says so, and the gradient is still the reference's
    rng = np.random.default_rng(0)
    x = rng.normal(size=3000)
    m = x > 0
    f = lambda v: dk.sum(v[m] ** 2) + dk.sum(v[[1, 2]])  # noqa: E731
    cg = dk.compile_gradient(dk.trace(f, x))
    lines = cg.source.splitlines()
    assert max(len(ln) for ln in lines) < 200 and "index=_k0" in cg.source and "# _k0:" in lines[1]
    assert "index=(np.array([1, 2]" in cg.source  # short parameters stay written out
    _, (g,) = cg(x)
    want = np.where(m, 2 * x, 0.0)
    want[[1, 2]] += 1.0
    np.testing.assert_allclose(g, want, rtol=1e-15)
