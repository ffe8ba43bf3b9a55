"""Graph shapes and nested differentiation (the patterns of HIPS/autograd's tests/test_graphs.py,
test_list.py, test_tuple.py and test_dict.py, in diffkit's words): fan-out, constants, identity,
Hessian-vector products, closures over traced values, accumulation into a shared adjoint, third
derivatives in mixed arguments, singleton outputs, and functions of lists, tuples and dicts.
"""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk
from npcheck import check_grads, check_one, plain

rng = np.random.default_rng(1)
R = lambda *shape: rng.normal(size=shape)  # noqa: E731


def test_grad_fanout():
    fun = lambda x: np.sin(np.sin(x) + np.sin(x))  # noqa: E731
    check_grads(fun, float(R()), order=3)
    check_grads(dk.grad(fun), 0.3, order=2)


def test_grad_const_and_identity():
    assert float(dk.grad(lambda x: 1.0)(2.0)) == 0.0
    df = dk.grad(lambda x: x)
    assert float(df(2.0)) == 1.0 and float(dk.grad(df)(2.0)) == 0.0
    assert np.array_equal(dk.grad(lambda x: dk.sum(x * 0.0 + 3.0))(np.ones(3)), np.zeros(3))


def test_hess_vector_product():
    randv = R(6)
    fun = lambda x: np.sin(np.dot(x, randv))  # noqa: E731
    df = dk.grad(fun)
    vector_product = lambda x, v: np.sin(np.dot(v, df(x)))  # noqa: E731
    check_grads(fun, R(6))
    check_grads(vector_product, R(6), R(6))
    x, v = R(6), R(6)
    H = dk.hessian(fun)(x)
    assert np.allclose(dk.hvp(fun)(x, v), H @ v, rtol=1e-12, atol=1e-14)
    assert np.allclose(H, -np.sin(x @ randv) * np.outer(randv, randv), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("order", ["xy", "yx"])
def test_enclosing_scope_reference(order):
    # d/dx [x · d/dy (x·y)] = 2x: the inner gradient must not confuse the two perturbations
    def fun(x):
        inner = (lambda y: x * y) if order == "xy" else (lambda y: y * x)
        return x * dk.grad(inner)(2.0)
    check_grads(fun, 1.0, order=2)
    assert float(dk.grad(fun)(1.5)) == 3.0


def test_closure_over_indexed_and_reduced_values():
    def fun(x):
        inner = lambda y: dk.sum(x[1:] * y) + dk.max(x) * y[0]  # noqa: E731
        return dk.sum(dk.grad(inner)(np.ones(2)) ** 2)
    check_grads(fun, np.array([0.3, -1.2, 2.0]), order=2)


def test_mutating_outgrad():
    def fun(a):
        b = a + 1.0
        c = b + 1.5
        d = a + b
        return dk.sum(d + c)
    check_grads(fun, R(5))


def test_mutating_outgrad_from_indexing():
    def fun(a):
        b = a + 1.0
        c = b[0] + 1.5
        d = a + b
        return dk.sum(d + c)
    check_grads(fun, R(5))
    check_grads(lambda x: dk.sum(dk.grad(fun)(x) * x), R(5))


def test_diamond_and_long_chain():
    def diamond(x):
        a = dk.exp(x)
        b, c = a * 2.0, dk.sin(a)
        return dk.sum(b * c + a[::-1])
    check_grads(diamond, R(4), order=3)

    def chain(x):  # deep enough for a recursive walk to fail; the sweeps are iterative
        for _ in range(3000):
            x = x * 0.999 + 0.001
        return x
    assert float(dk.grad(chain)(0.5)) == pytest.approx(0.999 ** 3000, rel=1e-9)


@pytest.mark.parametrize("first,second,third", [(0, 0, 0), (0, 1, 0), (1, 0, 1)])
def test_third_derivative_other_args(first, second, third):
    fun = lambda x, y: np.sin(np.sin(x) + np.sin(y))  # noqa: E731
    df = dk.grad(fun, first)
    ddf = dk.grad(df, second)
    dddf = dk.grad(ddf, third)
    x, y = 0.4, -0.7
    for f in (fun, df, ddf, dddf):
        check_grads(f, x, y, order=1)
    # against the closed form: f = sin(s), s = sin x + sin y
    s = np.sin(x) + np.sin(y)
    d = {0: (np.cos(x), -np.sin(x), -np.cos(x)), 1: (np.cos(y), -np.sin(y), -np.cos(y))}
    if (first, second, third) == (0, 0, 0):
        want = (-np.cos(s) * d[0][0] ** 3 - 3 * np.sin(s) * d[0][0] * d[0][1] + np.cos(s) * d[0][2])
    elif (first, second, third) == (0, 1, 0):
        want = -np.cos(s) * d[0][0] ** 2 * d[1][0] - np.sin(s) * d[0][1] * d[1][0]
    else:
        want = -np.cos(s) * d[1][0] ** 2 * d[0][0] - np.sin(s) * d[1][1] * d[0][0]
    assert float(dddf(x, y)) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("shape,kw", [((3, 3), {"keepdims": True}), ((3, 1), {"axis": 0, "keepdims": True}),
                                      ((1, 3), {"axis": 1, "keepdims": True}), ((3, 1), {"axis": 0}),
                                      ((1, 3), {"axis": 1})])
def test_singleton_array_output(shape, kw):
    fun = lambda x: np.sum(np.sin(x), **kw)  # noqa: E731
    check_grads(fun, R(*shape))
    check_grads(lambda x: np.sum(dk.grad(lambda x: dk.sum(fun(x)))(x)), R(*shape))


def test_two_reductions_in_a_row_and_log_softmax_reduced():
    check_grads(lambda x: dk.mean(dk.sum(x, axis=0)), R(3, 4))
    check_grads(lambda x: dk.sum(dk.mean(x, axis=1, keepdims=True), axis=0), R(3, 4))
    check_grads(lambda x: dk.sum(dk.log_softmax(x, axis=1)[:, 0]), R(3, 4))


# -- functions of lists, tuples and dicts ---------------------------------------------------------------
def test_grad_of_a_list_tuple_and_dict():
    def f_list(xs):
        return dk.sum(xs[0] * xs[1]) + dk.sum(dk.stack(xs) ** 2)
    xs = [R(3), R(3)]
    g = dk.grad(f_list)(xs)
    assert isinstance(g, list) and np.allclose(g[0], xs[1] + 2 * xs[0]) and np.allclose(g[1], xs[0] + 2 * xs[1])
    g = dk.grad(lambda t: t[0] * dk.sum(t[1]))((2.0, R(4)))
    assert isinstance(g, tuple) and np.allclose(g[1], 2.0)
    d = {"w": R(3, 2), "b": R(2)}
    x = R(4, 3)
    loss = lambda p: dk.sum(dk.tanh(x @ p["w"] + p["b"]) ** 2)  # noqa: E731
    g = dk.grad(loss)(d)
    assert set(g) == {"w", "b"} and g["w"].shape == (3, 2)
    check_grads(lambda w: loss({"w": w, "b": d["b"]}), d["w"])
    check_grads(lambda b: loss({"w": d["w"], "b": b}), d["b"])


def test_grad_of_namedtuples_and_nested_structures():
    # a namedtuple comes back as the same namedtuple (as in JAX's pytrees), nested ones too
    from collections import namedtuple
    Layer = namedtuple("Layer", "W b")
    x = R(5, 3)
    params = [Layer(R(3, 4), R(4)), Layer(R(4, 1), R(1))]

    def loss(ps):
        a = x
        for p in ps:
            a = dk.tanh(a @ p.W + p.b)
        return dk.sum(a ** 2)
    g = dk.grad(loss)(params)
    assert isinstance(g, list) and all(type(q) is Layer for q in g)
    for k in range(2):
        for field in ("W", "b"):
            def part(v, k=k, field=field):
                ps = [Layer(*p) for p in params]
                ps[k] = ps[k]._replace(**{field: v})
                return loss(ps)
            check_grads(part, getattr(params[k], field))
            assert np.array_equal(getattr(g[k], field), dk.grad(part)(getattr(params[k], field)))
    u = R(3)
    v, g2 = dk.value_and_grad(lambda t: t[0] * dk.sum(t[1]["a"][0]))((2.0, {"a": [u]}))
    assert isinstance(g2, tuple) and isinstance(g2[1], dict) and isinstance(g2[1]["a"], list)
    assert np.isclose(v, 2.0 * u.sum()) and np.isclose(g2[0], u.sum()) and np.allclose(g2[1]["a"][0], 2.0)


def test_nested_lists_of_traced_values():
    def f(x):
        rows = [[x[0], x[1] * 2.0], [x[2] ** 2, x[0] * x[1]]]
        M = dk.array(rows)
        return dk.sum(M @ M)
    check_grads(f, R(3), order=3)


def test_jacobian_and_hessian_through_the_surface():
    f = lambda x: dk.concatenate([dk.cumsum(x), x[::-1] * x, dk.max(x, keepdims=True)])  # noqa: E731
    x = np.array([0.3, -1.1, 2.0])
    J = dk.jacobian(f)(x)
    assert J.shape == (7, 3)
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1.0
        assert np.allclose(J[:, i], (plain(f(x + 1e-6 * e)) - plain(f(x - 1e-6 * e))) / 2e-6, atol=1e-8)
    # Σᵢⱼ (xᵢxⱼ)² = s² with s = Σ xᵢ²: the Hessian is 4s·I + 8xxᵀ
    H = dk.hessian(lambda x: dk.sum(dk.einsum("i,j->ij", x, x) ** 2))(x)
    assert np.allclose(H, 4 * np.sum(x * x) * np.eye(3) + 8 * np.outer(x, x), rtol=1e-13, atol=0)
    check_one(lambda x: dk.grad(lambda y: dk.prod(y) * dk.var(y))(x), x, order=2)


def test_forward_over_forward_and_mixed_tangents():
    # jvp inside jvp: the second directional derivative, and mixed partials with a closure
    f = lambda x: dk.sin(x) * x  # noqa: E731
    inner = lambda x: dk.jvp(f, (x,), (1.0,))[1]  # noqa: E731
    _, d2 = dk.jvp(inner, (0.7,), (1.0,))
    assert abs(float(d2) - (2 * np.cos(0.7) - 0.7 * np.sin(0.7))) < 1e-14
    # d/dy of the x-directional derivative of x**2 * y**3 closed over y: 6 x y**2
    mixed = lambda y: dk.jvp(lambda x: x**2 * y**3, (1.5,), (1.0,))[1]  # noqa: E731
    _, dxy = dk.jvp(mixed, (0.4,), (1.0,))
    assert abs(float(dxy) - 6 * 1.5 * 0.4**2) < 1e-13
    # and reverse over forward agrees
    assert abs(float(dk.grad(mixed)(0.4)) - 6 * 1.5 * 0.4**2) < 1e-13
