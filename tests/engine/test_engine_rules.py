"""Every primitive's VJP and JVP rule against central differences (one shared checker), and SymPy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import diffkit.engine as dk
from diffkit.engine.check import GradientCheckError, check_rule
from diffkit.engine.core import REGISTRY, defprim
from diffkit.errors import DiffkitError
from diffkit.functions import relu, sigmoid, softplus

rng = np.random.default_rng(42)
A = rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1, 1], (3, 4))  # away from 0: no kinks
B = rng.uniform(0.5, 1.5, (3, 4))
POS = rng.uniform(0.5, 2.0, (3, 4))
V4 = rng.normal(size=4)
M = rng.normal(size=(4, 2))
ROW = rng.normal(size=(4,))
PROBS = np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)

#: primitive name -> list of (args, params); every registered primitive must appear.
CASES: dict[str, list[tuple[tuple, dict]]] = {
    "add": [((A, B), {}), ((A, ROW), {}), ((A, 2.5), {})],
    "sub": [((A, B), {}), ((1.5, A), {})],
    "mul": [((A, B), {}), ((A, ROW), {}), ((np.float64(0.7), A), {})],
    "div": [((A, POS), {}), ((A, np.float64(1.3)), {})],
    "neg": [((A,), {})],
    "pow": [((POS, B), {}), ((A, 2.0), {"_argnums": (0,)}), ((POS, np.float64(0.3)), {})],
    "exp": [((A,), {})],
    "log": [((POS,), {})],
    "sqrt": [((POS,), {})],
    "abs": [((A,), {})],
    "sigmoid": [((A,), {}), ((np.array([-40.0, 40.0]),), {})],
    "tanh": [((A,), {})],
    "relu": [((A,), {})],
    "step": [((A,), {})],
    "sign": [((A,), {})],
    "softplus": [((A,), {}), ((np.array([-30.0, 30.0]),), {})],
    "sin": [((A,), {})],
    "cos": [((A,), {})],
    "maximum": [((A, B), {}), ((A, 0.1), {})],
    "minimum": [((A, B), {})],
    "where": [((A > 0, A, B), {})],
    "matmul": [((A, M), {}), ((V4, M), {}), ((A, V4), {}), ((V4, ROW), {}),
               ((rng.normal(size=(2, 3, 4)), M), {})],
    "sum": [((A,), {"axis": None, "keepdims": False}), ((A,), {"axis": (1,), "keepdims": False}),
            ((A,), {"axis": (0,), "keepdims": True})],
    "mean": [((A,), {"axis": None, "keepdims": False}), ((A,), {"axis": (0,), "keepdims": False})],
    "reshape": [((A,), {"shape": (2, 6)})],
    "transpose": [((A,), {"axes": None}), ((rng.normal(size=(2, 3, 4)),), {"axes": (1, 2, 0)})],
    "broadcast_to": [((ROW,), {"shape": (3, 4)})],
    "log_sigmoid": [((A,), {})],
    "bce_with_logits": [((A, B / 2), {})],
    "log_softmax": [((A,), {"axis": -1}), ((A,), {"axis": 0})],
    "softmax": [((A,), {"axis": -1})],
    "softmax_cross_entropy": [((A, PROBS), {"axis": -1})],
}


def test_every_primitive_has_a_case():
    # the NumPy-surface primitives are checked from their records' domain/cases (test_systematic.py)
    from diffkit.engine.rules import SURFACE
    assert set(CASES) | set(SURFACE) == set(REGISTRY), set(REGISTRY) ^ (set(CASES) | set(SURFACE))


@pytest.mark.parametrize("name,k", [(n, k) for n, cases in CASES.items() for k in range(len(cases))])
def test_rule_matches_central_differences(name, k):
    args, params = CASES[name][k]
    params = dict(params)
    argnums = params.pop("_argnums", None)  # e.g. a negative base: the exponent is not differentiable
    check_rule(REGISTRY[name], args, params=params, argnums=argnums, eps=1e-6, atol=1e-7, rtol=1e-6, seed=k)


def test_checker_catches_a_wrong_rule():
    p = defprim("test_wrong_square", np.square, vjp=(lambda g, ans, x: g * x,),  # wrong: should be 2x
                jvp=(lambda t, ans, x: 2.0 * t * x,), cost=(1, ((1, "mul"),)), local=("2*{0}",),
                sympy=dk.Absent("test"), elementwise=True)
    try:
        with pytest.raises(GradientCheckError, match="VJP rule of test_wrong_square argument 0 at"):
            check_rule(p, (np.array([1.0, 2.0]),))
    finally:
        del REGISTRY["test_wrong_square"]


def test_missing_rule_names_primitive_and_argument():
    p = defprim("test_no_vjp", lambda a, b: a * b, vjp=(lambda g, ans, a, b: g * b, None), jvp=(None, None),
                cost=(1, ((1, "mul"), (1, "mul"))), local=("{1}", "{0}"), sympy=dk.Absent("test"),
                elementwise=True)
    try:
        f = lambda a, b: dk.bind(p, a, b)  # noqa: E731
        assert float(dk.grad(f)(2.0, 3.0)) == 3.0  # argument 0 has a rule
        with pytest.raises(DiffkitError, match=r"test_no_vjp is not differentiable with respect to argument 1"):
            dk.grad(f, argnum=1)(2.0, 3.0)
    finally:
        del REGISTRY["test_no_vjp"]


Z = sp.Symbol("z", real=True)
SYMPY_UNARY = {
    "exp": sp.exp(Z), "log": sp.log(Z), "sqrt": sp.sqrt(Z), "abs": sp.Abs(Z), "sigmoid": sigmoid(Z),
    "tanh": sp.tanh(Z), "relu": relu(Z), "softplus": softplus(Z), "sin": sp.sin(Z), "cos": sp.cos(Z),
    "log_sigmoid": -softplus(-Z), "neg": -Z,
}


@pytest.mark.parametrize("name", sorted(SYMPY_UNARY))
@pytest.mark.parametrize("z0", [0.3, 1.7])
def test_unary_rule_matches_sympy_derivative(name, z0):
    expr = SYMPY_UNARY[name]
    want = float(sp.diff(expr, Z).subs(Z, z0).evalf(30))
    p = REGISTRY[name]
    x = np.float64(z0)
    got = p.vjp(0)(1.0, p.impl(x), x)
    assert abs(float(got) - want) <= 1e-13 * max(1, abs(want))
    assert abs(float(p.jvp(0)(1.0, p.impl(x), x)) - want) <= 1e-13 * max(1, abs(want))
    assert abs(float(p.impl(x)) - float(expr.subs(Z, z0).evalf(30))) <= 1e-14 * max(1, abs(want))


@pytest.mark.parametrize("x0", [40.0, -40.0, 700.0, -700.0])
def test_sigmoid_derivative_keeps_relative_accuracy_in_both_tails(x0):
    # ans·(1 − ans) would give exactly 0 at x = 40 (σ(40) rounds to 1)
    want = float(sp.diff(1 / (1 + sp.exp(-Z)), Z).subs(Z, x0).evalf(50))  # exact, then rounded
    x = np.array([x0, x0])
    assert want > 0
    for got in (dk.grad(lambda x: dk.sum(dk.sigmoid(x)))(x),             # plain arrays
                dk.grad(lambda x: dk.sigmoid(x))(np.float64(x0)),         # 0-d
                dk.jvp(lambda x: dk.sigmoid(x), (x,), (np.ones(2),))[1]):  # JVP
        assert np.all(np.abs(np.asarray(got) - want) <= 1e-12 * want), (x0, got, want)
    with np.errstate(over="raise", invalid="raise"):  # the limit 0 beyond the float range, no inf/nan
        assert float(dk.grad(lambda x: dk.sum(dk.sigmoid(x)))(np.array([800.0, -800.0])).max()) == 0.0


def test_sigmoid_second_derivative_through_the_accurate_rule():
    x = np.array([-3.0, 0.2, 5.0])
    want = [float(sp.diff(sigmoid(Z), Z, 2).subs(Z, v).evalf(30)) for v in x]
    assert np.allclose(np.diag(dk.hessian(lambda x: dk.sum(dk.sigmoid(x)))(x)), want, rtol=1e-12, atol=0)


def test_stable_losses_at_extreme_logits():
    z = np.array([-800.0, 0.0, 800.0])
    assert np.allclose(dk.log_sigmoid(z), [-800.0, -np.log(2), 0.0])
    assert np.allclose(dk.bce_with_logits(z, np.array([0.0, 1.0, 1.0])), [0.0, np.log(2), 0.0])
    g = dk.grad(lambda z: dk.sum(dk.log_sigmoid(z)))(z)
    assert np.allclose(g, [1.0, 0.5, 0.0])
    logits = np.array([[1000.0, 0.0, -1000.0]])
    g = dk.grad(lambda z: dk.softmax_cross_entropy(z, np.array([1])).sum())(logits)
    assert np.allclose(g, [[1.0, -1.0, 0.0]])  # softmax − onehot


def test_integer_labels_equal_one_hot():
    z = rng.normal(size=(5, 3))
    lab = np.array([0, 2, 1, 1, 0])
    onehot = np.eye(3)[lab]
    assert np.allclose(dk.softmax_cross_entropy(z, lab), dk.softmax_cross_entropy(z, onehot))
    want = -(onehot * (z - np.log(np.exp(z).sum(1, keepdims=True)))).sum(1)
    assert np.allclose(dk.softmax_cross_entropy(z, lab), want)
