"""Every registered primitive through the shared checker, under Hypothesis; and the checker is
shown to catch rules that are wrong in the ways rules go wrong.

Elementwise primitives get argument shapes drawn by Hypothesis: mutually broadcastable shapes
with size-1 and empty axes, so broadcasting happens on every axis and in every direction.  The
others are checked at every point their record's ``cases(rng)`` gives, with a Hypothesis seed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import diffkit.engine as dk
from diffkit.engine.check import GradientCheckError, check_rule, sample
from diffkit.engine.core import MUL, NONE, REGISTRY, defprim

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ELEMENTWISE = sorted(n for n, p in REGISTRY.items() if p.elementwise and p.cases is None)
WITH_CASES = sorted(n for n, p in REGISTRY.items() if p.cases is not None)


def test_every_primitive_is_covered():
    # a primitive that is neither elementwise nor has cases cannot be checked: its record is incomplete
    assert set(ELEMENTWISE) | set(WITH_CASES) == set(REGISTRY), set(REGISTRY) - set(ELEMENTWISE) - set(WITH_CASES)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_primitive(name):
    prim = REGISTRY[name]

    @SETTINGS
    @given(shapes=mutually_broadcastable_shapes(num_shapes=prim.nargs, min_dims=0, max_dims=3, min_side=0,
                                                max_side=3),
           seed=st.integers(0, 2**16))
    def run(shapes, seed):
        args = sample(prim, shapes.input_shapes, np.random.default_rng(seed))
        check_rule(prim, args, seed=seed)
    run()


@pytest.mark.parametrize("name", WITH_CASES)
def test_primitive_at_its_cases(name):
    prim = REGISTRY[name]

    @settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.integers(0, 2**16))
    def run(seed):
        for args, params in prim.cases(np.random.default_rng(seed)):
            check_rule(prim, args, params=params, seed=seed)
    run()


# -- the checker catches wrong rules ------------------------------------------------------------
def _temporary(name, **kw):
    kw.setdefault("cost", (1, ((1, MUL),)))
    kw.setdefault("local", ("?",))
    kw.setdefault("sympy", dk.Absent("test"))
    return defprim(name, **kw)


@pytest.fixture
def registry():
    before = set(REGISTRY)
    yield
    for k in set(REGISTRY) - before:
        del REGISTRY[k]


def test_catches_a_wrong_derivative(registry):
    p = _temporary("t_wrong_square", impl=np.square, elementwise=True,
                   vjp=(lambda g, ans, x: g * x,), jvp=(lambda t, ans, x: 2.0 * t * x,))  # VJP misses the 2
    with pytest.raises(GradientCheckError, match=r"VJP \(cotangent from 'full'\) of t_wrong_square .*argument 0"):
        check_rule(p, (np.array([1.0, 2.0]),))


def test_catches_a_wrong_forward_rule(registry):
    p = _temporary("t_wrong_jvp", impl=np.square, elementwise=True,
                   vjp=(lambda g, ans, x: 2.0 * g * x,), jvp=(lambda t, ans, x: t * x,))
    with pytest.raises(GradientCheckError, match="JVP of t_wrong_jvp"):
        check_rule(p, (np.array([1.0, 2.0]),))


def test_catches_a_reduction_that_broadcasts_its_cotangent_the_wrong_way(registry):
    # the bug class of issue 9: a row sum whose rule lays g (one value per row) along the columns;
    # on square inputs NumPy's broadcasting makes that silent, so the checker must see it
    p = _temporary("t_row_sum", impl=lambda x: np.sum(x, axis=1),
                   vjp=(lambda g, ans, x: dk.broadcast_to(g, np.shape(x)),),
                   jvp=(lambda t, ans, x: dk.sum(t, axis=1),))
    x = np.random.default_rng(0).normal(size=(3, 3))
    with pytest.raises(GradientCheckError, match="VJP .* of t_row_sum"):
        check_rule(p, (x,))
    p.vjps = (lambda g, ans, x: dk.reshape(g, (-1, 1)),)  # the right rule passes
    check_rule(p, (x,))


def test_catches_a_rule_that_is_not_differentiable(registry):
    # a local derivative computed with NumPy on the plain value: first order right, but a
    # constant to the outer level, so second order is lost
    def vjp_plain(g, ans, x):
        v = x
        while isinstance(v, dk.Node):
            v = v.value
        return dk.mul(g, np.cos(v))
    p = _temporary("t_numpy_rule", impl=np.sin, elementwise=True, vjp=(vjp_plain,),
                   jvp=(lambda t, ans, x: dk.mul(t, dk.cos(x)),))
    with pytest.raises(GradientCheckError, match="Hessian-vector product"):
        check_rule(p, (np.array([0.3, 1.1]),))


def test_catches_perturbation_confusion():
    # the engine itself gets this right; the checker's nested test is what proves it
    x = 3.0
    assert float(dk.grad(lambda x: x * dk.grad(lambda y: x * y)(2.0))(x)) == 6.0
    assert float(dk.grad(lambda x: dk.grad(lambda a, b: a * b * b, 1)(x, 3.0))(2.0)) == 6.0


def test_the_reported_cases_of_issue_9():
    assert float(dk.grad(lambda c: dk.sum(c + np.ones(4)))(0.0)) == 4.0
    assert float(dk.grad(lambda c: dk.mean(c - np.ones(4)))(0.0)) == 1.0
    assert float(dk.grad(lambda c: dk.sum(dk.broadcast_to(c, (2, 3))))(1.0)) == 6.0
    # two reductions in a row
    g = dk.grad(lambda x: dk.sum(dk.sum(x * np.ones((3, 4)), axis=1)))(np.ones(4))
    assert np.allclose(g, 3.0)
    g = dk.grad(lambda x: dk.mean(dk.mean(x, axis=0)))(np.ones((3, 4)))
    assert np.allclose(g, 1 / 12)
    # (3,1) * (4,) under a sum
    g = dk.grad(lambda a: dk.sum(a * np.arange(4.0)))(np.ones((3, 1)))
    assert np.allclose(g, 6.0) and g.shape == (3, 1)
    # log_softmax under a reduction: d/dz mean(log_softmax(z)) = 1/n − softmax(z)
    z = np.array([1.0, 2.0, 3.0])
    s = np.exp(z) / np.exp(z).sum()
    assert np.allclose(dk.grad(lambda z: dk.mean(dk.log_softmax(z)))(z), 1 / 3 - s)
    # x ** p at x = 0
    assert float(dk.grad(lambda x: x ** 3.0)(0.0)) == 0.0
    assert float(dk.grad(lambda p: 0.0 ** p)(2.0)) == 0.0
    assert float(dk.grad(lambda x: x ** 2.0)(0.0)) == 0.0
    # == and != are elementwise
    x = dk.param(np.array([1.0, 2.0]))
    assert np.array_equal(x == np.array([1.0, 3.0]), [True, False])
    assert np.array_equal(x != 2.0, [True, False])
    # jvp with a list output
    out, t = dk.jvp(lambda x: [x * 2.0, x * x], (3.0,), (1.0,))
    assert [float(v) for v in t] == [2.0, 6.0]
    # NumPy functions on nodes
    assert float(dk.grad(lambda x: np.sum(np.exp(x)))(np.zeros(3)).sum()) == 3.0


def test_broadcast_on_every_axis_matches_numpy_sum_rule():
    rng = np.random.default_rng(1)
    for shape_a, shape_b in [((3, 1, 2), (4, 1)), ((1,), (2, 3)), ((2, 1), (1, 3)), ((), (0, 3)), ((0,), (1,))]:
        a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
        U = rng.normal(size=np.broadcast_shapes(shape_a, shape_b))
        ga, gb = dk.grad(lambda a, b: dk.sum(a * b * U), (0, 1))(a, b)
        full = np.broadcast_to(b, U.shape) * U
        want_a = full.sum(axis=tuple(range(U.ndim - len(shape_a)))).reshape(-1, *shape_a[1:]) if shape_a else full.sum()
        want_a = np.sum(np.broadcast_to(b, U.shape) * U, axis=tuple(
            k for k in range(U.ndim) if k < U.ndim - len(shape_a) or shape_a[k - U.ndim + len(shape_a)] == 1),
            keepdims=True).reshape(shape_a)
        want_b = np.sum(np.broadcast_to(a, U.shape) * U, axis=tuple(
            k for k in range(U.ndim) if k < U.ndim - len(shape_b) or shape_b[k - U.ndim + len(shape_b)] == 1),
            keepdims=True).reshape(shape_b)
        assert np.allclose(ga, want_a) and ga.shape == np.shape(a)
        assert np.allclose(gb, want_b) and gb.shape == np.shape(b)
