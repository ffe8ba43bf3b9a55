"""Replay by generated code, op counts, DOT export and drawings."""

from __future__ import annotations

import math

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit import builtin


def test_replay_equals_fresh_trace_on_new_inputs():
    model = builtin("ridge-sigmoid")
    cg = dk.compile_gradient(dk.from_model(model))
    assert "import" not in cg.source and "_sig(z)" in cg.source and "d_z" in cg.source
    for pt in model.random_points(10, seed=1):
        fresh = dk.from_model(model, pt)
        value, grads = cg.call(pt)
        assert value == pytest.approx(float(fresh.forward()), rel=1e-15)
        want = fresh.gradient()
        assert grads["w"] == pytest.approx(float(want["w"]), rel=1e-14)
        assert grads["b"] == pytest.approx(float(want["b"]), rel=1e-14)
        assert isinstance(grads["w"], float)


def test_replay_scalar_falls_back_to_numpy_on_overflow():
    g = dk.trace(lambda w: dk.exp(w) * 2.0, 1.0)
    cg = dk.compile_gradient(g)
    with np.errstate(over="ignore"):
        value, (dw,) = cg(1000.0)
    assert math.isinf(value) and math.isinf(dw)
    assert cg(0.5)[1][0] == pytest.approx(2 * math.exp(0.5), rel=1e-15)


@pytest.mark.parametrize("b", [-1000.0, 1000.0, -40.0, 40.0])
def test_replay_scalar_sigmoid_does_not_overflow(b):
    # the generated function itself (no NumPy fallback) must cope with exp of a large argument
    cg = dk.compile_gradient(dk.from_model(builtin("ridge-sigmoid")))
    pt = {"w": 0.5, "b": b, "x": 1.7, "y": 1.0, "lam": 0.1}
    value, grads = cg.fn(*[pt[n] for n in cg.argnames])
    want = dk.from_model(builtin("ridge-sigmoid"), pt)
    assert value == pytest.approx(float(want.forward()), rel=1e-14)
    for (name, got), exp in zip(zip(cg.params, grads), (want.gradient()["w"], want.gradient()["b"])):
        assert isinstance(got, float) and got == pytest.approx(float(exp), rel=1e-12, abs=1e-300), name
    assert cg.call(pt)[1] == dict(zip(cg.params, grads))


def test_replay_scalar_sigmoid_derivative_is_accurate_for_large_argument():
    # σ′(40) ≈ 4.25e-18: ans·(1 − ans) would give 0
    g = dk.trace(lambda x: dk.sigmoid(x), 40.0)
    _, (dx,) = dk.compile_gradient(g).fn(40.0)
    import mpmath
    with mpmath.workdps(50):
        want = float(mpmath.exp(-40) / (1 + mpmath.exp(-40)) ** 2)
    assert dx == pytest.approx(want, rel=1e-12)


def test_replay_vectorised_graph_uses_numpy_and_matches():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.uniform(size=50)

    def loss(w, b, x, y, lam):
        u = dk.sigmoid(w * x + b)
        return dk.mean(0.5 * (y - u) ** 2) + lam * w ** 2
    g = dk.trace(loss, 0.5, -0.3, x, y, 0.1, wrt=("w", "b"))
    cg = dk.compile_gradient(g)
    # array nodes get fused NumPy code with out= buffers (no calls into the rule machinery)
    assert "out=" in cg.source and "_vjp[" not in cg.source and "_f[" not in cg.source
    x2, y2 = rng.normal(size=80), rng.uniform(size=80)
    value, grads = cg.call({"w": 0.2, "b": 0.1, "x": x2, "y": y2, "lam": 0.3})
    want = dk.value_and_grad(loss, argnum=(0, 1))(0.2, 0.1, x2, y2, 0.3)
    assert value == pytest.approx(float(want[0]), rel=1e-14)
    assert grads["w"] == pytest.approx(float(want[1][0]), rel=1e-13)
    assert grads["b"] == pytest.approx(float(want[1][1]), rel=1e-13)


def test_replay_mlp_with_matmul():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 4)), np.eye(3)[rng.integers(0, 3, 6)]

    def f(W1, b1, W2, b2):
        return dk.softmax_cross_entropy(dk.relu(X @ W1 + b1) @ W2 + b2, Y).mean()
    args = [rng.normal(size=(4, 5)), np.zeros(5), rng.normal(size=(5, 3)), np.zeros(3)]
    cg = dk.compile_gradient(dk.trace(f, *args))
    new = [a + 0.1 for a in args]
    value, grads = cg(*new)
    want = dk.grad(f, argnum=(0, 1, 2, 3))(*new)
    assert all(np.allclose(g, w, rtol=1e-13) for g, w in zip(grads, want))


def test_op_counts_documented_example_and_seed_convention():
    # f = 3·x: forward 1 (mul); backward: g·3 with g the seed 1 is not counted → 0
    assert dk.trace(lambda x: 3.0 * x, 2.0).op_counts() == {"forward": 1, "backward": 0}
    # f = x·x: forward 1; backward 2 products (seed not counted) → 0 + 0 + 1 accumulation add
    assert dk.trace(lambda x: x * x, 2.0).op_counts() == {"forward": 1, "backward": 1}
    # f = sin(x)·x: sin (1) + mul (1); backward: mul→sin 0, mul→x 0, sin: cos·g = 2, add 1
    assert dk.trace(lambda x: dk.sin(x) * x, 2.0).op_counts() == {"forward": 2, "backward": 3}


def test_dot_export_lists_nodes_edges_values_and_adjoints():
    g = dk.from_model(builtin("ridge-sigmoid"))
    g.backward()
    dot = g.to_dot()
    assert dot.startswith("digraph diffkit {") and dot.rstrip().endswith("}")
    assert dot.count("->") == len(g.edges) == 17
    assert "sigmoid" in dot and "value 0.6341" in dot and "adj   -0.08488" in dot


def test_svg_and_png_drawings_are_valid_and_deterministic(tmp_path):
    g = dk.from_model(builtin("ridge-sigmoid"))
    svg1 = dk.draw(g, "svg")
    svg2 = dk.draw(dk.from_model(builtin("ridge-sigmoid")), "svg")
    assert svg1 == svg2
    import xml.dom.minidom
    doc = xml.dom.minidom.parseString(svg1)
    assert doc.documentElement.tagName == "svg"
    assert "sigmoid" in svg1 and "∂L/∂z" in svg1  # glyphs are paths; the text is kept as comments
    png = dk.draw(g, "png", tmp_path / "g.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "g.png").read_bytes() == png
    pos = dk.layout(g)
    seen = set(pos.values())
    assert len(seen) == len(g.nodes)  # no two nodes share a slot, so boxes cannot overlap
    assert all(pos[e.parent][0] < pos[e.child][0] for e in g.edges)
    with pytest.raises(dk.BadInput if hasattr(dk, "BadInput") else Exception, match="limited to"):
        dk.draw(dk.trace(lambda x: sum_chain(x), 1.0))


def sum_chain(x):
    for _ in range(300):
        x = x + 1.0
    return x
