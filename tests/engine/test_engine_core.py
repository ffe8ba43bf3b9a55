"""Backward pass, transformations, error handling and anomaly mode."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit import builtin
from diffkit.errors import BadInput, ComputationError


def test_hundred_thousand_node_chain():
    n = 100_000

    def f(x):
        for _ in range(n):
            x = x * 1.00001 + 0.0
        return x
    g = dk.trace(f, 0.5)
    assert len(g.ops) == 2 * n
    grad = g.gradient()["x"]
    assert float(grad) == pytest.approx(1.00001 ** n, rel=1e-9)


def test_backward_twice_gives_same_answer():
    g = dk.from_model(builtin("ridge-sigmoid"))
    first = g.backward()
    second = g.backward()
    assert first.keys() == second.keys()
    assert all(float(first[k]) == float(second[k]) for k in first)
    x = dk.param(np.array([1.0, 2.0]), "x")
    y = dk.sum(x * x * x)
    a1 = dk.backward_pass(y, 1.0, wrt=(x,))[x]
    a2 = dk.backward_pass(y, 1.0, wrt=(x,))[x]
    assert np.array_equal(a1, a2) and np.allclose(a1, 3 * np.array([1.0, 4.0]))


def test_forward_residuals_reach_the_vjp_and_survive_repeated_sweeps():
    rng = np.random.default_rng(3)
    z, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    x = dk.param(z, "z")
    out = dk.sum(dk.softmax_cross_entropy(x, labels) * np.arange(1.0, 6.0))
    node = out.parents[0].parents[0]
    assert node.res is not None  # the log-softmax kept from the forward
    first = dk.backward_pass(out, 1.0, wrt=(x,))[x]
    second = dk.backward_pass(out, 1.0, wrt=(x,))[x]  # the residual must not have been overwritten
    without = dk.grad(lambda z: dk.sum(dk.softmax_cross_entropy(z, labels) * np.arange(1.0, 6.0)),
                      detect_anomaly=True)(z)  # anomaly mode records no residuals
    assert np.array_equal(first, second) and np.allclose(first, without, rtol=1e-14, atol=1e-16)
    # a toy primitive: the VJP sees exactly what the forward kept, or None when replayed
    seen = []
    p = dk.Primitive("toy_square", lambda a: a * a, 1)
    p.fwd, p.res_args = (lambda a: (a * a, ("kept", a))), frozenset({0})
    p.vjps, p.jvps = (lambda g, ans, a, res=None: seen.append(res) or g * 2 * a,), (None,)
    w = dk.param(3.0, "w")
    y = dk.core.bind(p, w)
    from diffkit.engine.fast import backward
    assert float(backward(y, 1.0, wrt=(w,))[w]) == 6.0 and seen[-1][0] == "kept"
    dk.backward_pass(y, 1.0, wrt=(w,), values={y: 16.0, w: 4.0})
    assert seen[-1] is None


def test_shared_node_accumulates_every_use():
    # f = x·x + sin(x): x is used three times
    assert float(dk.grad(lambda x: x * x + dk.sin(x))(0.7)) == pytest.approx(1.4 + math.cos(0.7), rel=1e-15)


def test_parents_in_argument_order_and_deterministic_nodes():
    def f(a, b):
        return (a - b) / (b * a)
    g1, g2 = dk.trace(f, 2.0, 3.0), dk.trace(f, 2.0, 3.0)
    assert [n.name for n in g1.nodes] == [n.name for n in g2.nodes]
    sub = next(n for n in g1.nodes if n.primitive and n.primitive.name == "sub")
    assert [p.name for p in sub.parents] == ["a", "b"]
    assert [(e.parent.name, e.child.name, e.argnum) for e in g1.edges][:2] == [("a", sub.name, 0), ("b", sub.name, 1)]


def test_jacobian_hessian_jvp_against_closed_forms():
    x = np.array([0.3, -1.2, 2.0])
    J = dk.jacobian(lambda x: dk.sin(x) * x[None].sum() if False else dk.exp(x) * dk.sum(x))(x)
    want = np.diag(np.exp(x) * x.sum()) + np.exp(x)[:, None]
    assert np.allclose(J, want, rtol=1e-13)
    f = lambda x: dk.sum(x ** 3) + dk.sum(x) ** 2  # noqa: E731
    H = dk.hessian(f)(x)
    assert np.allclose(H, np.diag(6 * x) + 2.0, rtol=1e-13)
    H2 = dk.hessian(lambda x: dk.sum(dk.sigmoid(x) * dk.log(1.0 + x * x)))(x)
    h = 1e-5
    fd = np.stack([(dk.grad(lambda x: dk.sum(dk.sigmoid(x) * dk.log(1.0 + x * x)))(x + h * e)
                    - dk.grad(lambda x: dk.sum(dk.sigmoid(x) * dk.log(1.0 + x * x)))(x - h * e)) / (2 * h)
                   for e in np.eye(3)])
    assert np.allclose(H2, fd, rtol=1e-7, atol=1e-9)
    out, t = dk.jvp(lambda x: dk.tanh(x) * 2.0, (x,), (np.ones(3),))
    assert np.allclose(t, 2 * (1 - np.tanh(x) ** 2))
    assert np.allclose(dk.jvp(f, (x,), (np.array([1.0, 0, 0]),))[1], dk.grad(f)(x)[0])


def test_no_perturbation_confusion():
    # d/dx [x · d/dy (x + y)] = 1 (Siskind & Pearlmutter's classic example)
    f = lambda x: x * dk.grad(lambda y: x + y)(1.0)  # noqa: E731
    assert float(dk.grad(f)(1.0)) == 1.0


def test_value_and_grad_structures_and_argnums():
    v, (ga, gb) = dk.value_and_grad(lambda a, b: a * b["k"][0], argnum=(0, 1))(3.0, {"k": [2.0]})
    assert float(v) == 6.0 and float(ga) == 2.0 and float(gb["k"][0]) == 3.0
    assert float(dk.grad(lambda x: 5.0)(1.0)) == 0.0  # constant function: a zero gradient, not an error


def test_bad_inputs_are_clear():
    with pytest.raises(BadInput, match=r"matmul .*shapes \(2, 3\), \(2, 3\).*last axis of the first \(3\)"):
        dk.param(np.ones((2, 3))) @ np.ones((2, 3))
    with pytest.raises(BadInput, match="returning a scalar.*shape \\(2,\\)"):
        dk.grad(lambda x: x * 2.0)(np.ones(2))
    with pytest.raises(BadInput, match="complex"):
        dk.grad(lambda x: x * x)(1j)
    with pytest.raises(BadInput, match="dtype <U1"):
        dk.grad(lambda x: x)(np.array(["a"]))
    assert dk.grad(lambda x: x * x)(3).dtype == np.float64  # Python numbers upcast
    with pytest.raises(BadInput, match="integer dtype int64; differentiate at float32 or float64"):
        dk.grad(lambda x: dk.sum(x * x))(np.array([1, 2]))  # NumPy integer arrays refused, as JAX does
    g = dk.from_model(builtin("ridge-sigmoid"))
    with pytest.raises(BadInput, match="unknown input 'q'"):
        g.forward({"q": 1.0})
    with pytest.raises(BadInput, match="scalar output"):
        dk.trace(lambda x: x * 2.0, np.ones(3)).backward()


def test_anomaly_mode_names_node_and_primitive():
    f = lambda x: dk.label(dk.sqrt(x - 2.0), "s") * 3.0  # noqa: E731
    with pytest.raises(ComputationError, match=r"\(primitive 'sqrt'\) produced nan.*made at test_engine_core.py:"):
        dk.grad(f, detect_anomaly=True)(1.0)
    with dk.detect_anomaly(), pytest.raises(ComputationError, match=r"backward of node .*'sqrt'.* produced inf"):
        dk.grad(lambda x: dk.sqrt(x))(0.0)
    with np.errstate(invalid="ignore"):
        assert math.isnan(float(dk.grad(f)(1.0)))  # off by default: NaN propagates silently
    g = dk.from_model(builtin("ridge-sigmoid"))
    with dk.detect_anomaly(), pytest.raises(ComputationError, match="primitive 'mul'"):
        g.forward({"x": np.inf, "w": 0.0})


def test_from_sympy_shares_subexpressions_and_folds_nary():
    import sympy as sp
    x, y, z = sp.symbols("x y z", real=True)
    e = sp.exp(x * y) + sp.sin(x * y) + x * y * z - 1 / x + sp.sqrt(y) + sp.Max(x, y, z)
    g = dk.from_sympy(e, [x, y, z], point={"x": 0.7, "y": 1.3, "z": -0.4})
    muls = [n for n in g.ops if n.primitive.name == "mul" and {p.name for p in n.parents} == {"x", "y"}]
    assert len(muls) == 1  # x*y appears three times, one node
    prims = sorted(n.primitive.name for n in g.ops)
    assert prims.count("maximum") == 2 and "sqrt" in prims and "div" in prims and "pow" not in prims
    pt = {x: 0.7, y: 1.3, z: -0.4}
    want = [float(sp.diff(e, s).subs(pt)) for s in (x, y, z)]
    got = g.gradient()
    assert np.allclose([got["x"], got["y"], got["z"]], want, rtol=1e-13)
    sig = dk.from_sympy(__import__("diffkit").sigmoid_prime(x), [x], point={"x": 0.3})
    assert float(sig.forward()) == pytest.approx(math.exp(-0.3) / (1 + math.exp(-0.3)) ** 2, rel=1e-14)
    with pytest.raises(BadInput, match="cannot convert SymPy Piecewise"):
        dk.from_sympy(sp.Piecewise((x, x > 0), (0, True)), [x])


def test_backprop_steps_give_local_derivatives():
    steps = {s.node: s for s in dk.backprop_steps(dk.from_model(builtin("ridge-sigmoid")))}
    assert [(t.child, t.local) for t in steps["w"].terms] == [("v1", "x"), ("r", "2*w")]
    assert [(t.child, t.local) for t in steps["z"].terms] == [("u", "u*sigmoid(-z)")]
    assert steps["L"].terms == ()
