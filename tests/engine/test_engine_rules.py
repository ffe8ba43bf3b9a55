"""Every primitive's VJP and JVP rule against central differences (one shared checker), and SymPy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import diffkit.engine as dk
from diffkit.engine.core import REGISTRY, defprim
from diffkit.errors import DiffkitError
from diffkit.functions import relu, sigmoid, softplus

rng = np.random.default_rng(42)


Z = sp.Symbol("z", real=True)
#: unary primitives whose record has a SymPy counterpart: its derivative must equal the VJP/JVP
SYMPY_UNARY = sorted(n for n, p in REGISTRY.items() if p.nargs == 1 and isinstance(p.sympy, dk.core.SymPy)
                     and p.elementwise)


def test_the_sympy_table_is_derived_from_the_records():
    assert {"exp", "log", "sigmoid", "tanh", "relu", "softplus", "sin", "cos", "log_sigmoid", "neg"} <= set(SYMPY_UNARY)


@pytest.mark.parametrize("name", SYMPY_UNARY)
@pytest.mark.parametrize("z0", [0.3, 1.7])
def test_unary_rule_matches_the_derivative_of_its_sympy_counterpart(name, z0):
    p = REGISTRY[name]
    # inside the record's domain (arcsin, arctanh: |z| < 1; arccosh: z > 1)
    z0 = {"unit": z0 / 2.0, "above_one": z0 + 1.0}.get(p.domain[0], z0)
    expr = p.sympy.build(Z)
    want = float(sp.diff(expr, Z).subs(Z, z0).evalf(30))
    x = np.float64(z0)
    num = lambda v: 0.0 if v is dk.zero else float(v)  # noqa: E731 - the symbolic zero of step/sign
    assert abs(num(p.vjp(0)(1.0, p.impl(x), x)) - want) <= 1e-13 * max(1, abs(want))
    assert abs(num(p.jvp(0)(1.0, p.impl(x), x)) - want) <= 1e-13 * max(1, abs(want))
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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_labels_written_as_lists_are_arrays(dtype):
    # integer classes and probability rows as Python lists (they raised a raw TypeError inside the VJP)
    z = rng.normal(size=(4, 3)).astype(dtype)
    classes = [2, 0, 1, 1]
    rows = np.eye(3)[classes].tolist()
    want = (np.exp(z) / np.exp(z).sum(1, keepdims=True) - np.eye(3)[classes]) / 4  # (softmax − onehot)/n
    for labels in (classes, tuple(classes), rows, np.array(classes)):
        v, g = dk.value_and_grad(lambda z: dk.softmax_cross_entropy(z, labels).mean())(z)
        assert g.dtype == dtype and np.allclose(g, want, atol=1e-6 if dtype == np.float32 else 1e-12)
        assert np.isclose(v, dk.softmax_cross_entropy(z.astype(np.float64), np.array(classes)).mean(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigma_prime_from_the_kept_exponential_is_the_stable_formula(dtype):
    # σ′ = (t·σ)·σ with t = e^(−z) (one exp shared with σ) against σ(z)/(1 + e^z) and the exact value,
    # over both tails, where t overflows (z < −709) and where σ′ underflows
    import mpmath

    from diffkit import stable

    z = np.concatenate([np.linspace(-800, 800, 4001), [-745.2, -709.8, -88.8, 0.0, 36.7, 88.7, 745.2]]).astype(dtype)
    s, t = stable.sigmoid_and_exp(z)
    np.testing.assert_array_equal(s, stable.sigmoid(z))  # σ itself unchanged, bit for bit
    d = stable.sigmoid_prime_from_exp(t, s)
    ref = stable.sigmoid_prime(z, s)
    assert np.all(np.isfinite(d)) and d.dtype == dtype
    tiny = np.finfo(dtype).tiny
    ok = np.abs(ref) > 1e3 * tiny  # away from the subnormal range
    np.testing.assert_allclose(d[ok], ref[ok], rtol=8 * np.finfo(dtype).eps)
    exact = np.array([float(mpmath.exp(-mpmath.mpf(float(v))) / (1 + mpmath.exp(-mpmath.mpf(float(v)))) ** 2)
                      for v in z[ok][::97]])
    np.testing.assert_allclose(d[ok][::97].astype(np.float64), exact, rtol=8 * np.finfo(dtype).eps)
    assert np.all(d[~ok] <= 1e3 * tiny)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("where", ["none", "first", "middle", "last", "all"])
@pytest.mark.parametrize("into_t", [False, True])
def test_sigma_prime_from_the_exponential_at_overflow_and_infinities(dtype, where, into_t):
    # the product t·σ is set to 0 only where it met inf·0: wherever the overflowing z (or z = −inf)
    # sits in the array, σ′ there is 0 and every other entry equals the stable formula, also when σ′
    # is written over t itself (the replay's buffer reuse); z = +inf gives 0, NaN stays NaN, and no
    # floating-point error or warning escapes
    import warnings

    from diffkit import stable

    z = np.linspace(-30, 30, 1001).astype(dtype)
    pos = {"none": [], "first": [0], "middle": [500], "last": [1000], "all": list(range(1001))}[where]
    z[pos] = -1000.0
    z[3], z[997] = (-np.inf, np.inf) if where != "none" else (z[3], z[997])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            s, t = stable.sigmoid_and_exp(z)
            d = stable.sigmoid_prime_from_exp(t, s, out=t if into_t else np.empty_like(z))
            assert (d is t) == into_t
    ref = stable.sigmoid_prime(z.astype(np.float64))
    np.testing.assert_allclose(d, ref, rtol=8 * np.finfo(dtype).eps, atol=0)
    assert np.all(d[pos] == 0) and d.dtype == dtype
    zn = np.array([np.nan, 1.0], dtype)
    s, t = stable.sigmoid_and_exp(zn)
    assert np.isnan(stable.sigmoid_prime_from_exp(t, s)[0])


def test_sigmoid_gradient_through_every_executor_in_both_tails():
    # eager (fast backward with the kept exponential), the reference sweep and the fused replay agree
    import diffkit.engine as dk
    from diffkit.engine.sweep import backward_pass

    x = np.linspace(-800.0, 800.0, 801)
    f = lambda v: dk.sum(dk.sigmoid(v * 1.5) * np.cos(x))  # noqa: E731
    g_eager = dk.grad(f)(x)
    cg = dk.compile_gradient(dk.trace(f, x))
    _, (g_replay,) = cg(x)
    exact = 1.5 * np.cos(x) * np.exp(-np.abs(1.5 * x)) / (1 + np.exp(-np.abs(1.5 * x))) ** 2
    for g in (g_eager, g_replay):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, exact, rtol=1e-13, atol=1e-300)
    graph = dk.trace(f, x)
    adj = backward_pass(graph.output, 1.0, wrt=graph.params)
    np.testing.assert_allclose(np.asarray(adj[graph.params[0]]), exact, rtol=1e-13, atol=1e-300)
