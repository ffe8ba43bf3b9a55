"""Engine gradients of the built-in models against independent oracles (SymPy, hand backprop, torch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import diffkit.engine as dk
from diffkit import builtin

# Independent numeric meaning for diffkit's SymPy functions (lambdify prints them by name).
_FUNCS = {
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
    "sigmoid_prime": lambda z: math.exp(-z) / (1.0 + math.exp(-z)) ** 2,
    "softplus": lambda z: math.log1p(math.exp(z)),
    "relu": lambda z: max(z, 0.0),
    "step": lambda z: 1.0 if z > 0 else 0.0,
}

MODELS = [
    ("ridge-sigmoid", {}),
    ("linear-regression", {"d": 2}),
    ("linear-regression", {"d": 4}),
    ("logistic-regression", {"d": 2}),
    ("logistic-regression", {"d": 3}),
    ("mlp", {"sizes": (2, 2, 1), "activations": ("sigmoid", "identity"), "loss": "squared"}),
    ("mlp", {"sizes": (2, 3, 2), "activations": ("tanh", "sigmoid"), "loss": "squared"}),
    ("mlp", {"sizes": (2, 2, 1), "activations": ("tanh", "identity"), "loss": "cross-entropy"}),
    ("mlp", {"sizes": (2, 3, 3), "activations": ("sigmoid", "identity"), "loss": "cross-entropy"}),
] + [("logistic-map", {"n": n}) for n in range(1, 7)]


def sympy_gradient(model):
    grads = [sp.diff(model.loss, p) for p in model.params]
    return sp.lambdify(model.symbols, grads, modules=[_FUNCS, "math"])


def _rel_err(got: dict, want: list, names) -> float:
    g = np.array([float(got[n]) for n in names])
    w = np.array(want, dtype=float)
    return float(np.max(np.abs(g - w)) / max(np.max(np.abs(w)), 1e-12))


@pytest.mark.parametrize("name,opts", MODELS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MODELS)])
def test_engine_gradient_equals_sympy_at_random_points(name, opts):
    model = builtin(name, **opts)
    oracle = sympy_gradient(model)
    graph = dk.from_model(model)
    spec_graph = dk.from_model(model, use_spec=True) if name == "mlp" else None
    for pt in model.random_points(20, seed=7):
        want = oracle(*[pt[s] for s in model.symbol_names])
        assert _rel_err(graph.gradient(pt), want, model.wrt) <= 1e-10, pt
        if spec_graph is not None:
            assert _rel_err(spec_graph.gradient(pt), want, model.wrt) <= 1e-10, pt


def test_lecture_graph_has_seven_named_variables_and_lecture_adjoints():
    model = builtin("ridge-sigmoid")
    g = dk.from_model(model)
    assert sorted(n.name for n in g.variables) == sorted(["z", "u", "l", "r", "L", "w", "b"])
    assert {n.name for n in g.inputs} == {"x", "y", "lam"}
    adj = g.backward()
    p = model.point()
    w, b, x, y, lam = p["w"], p["b"], p["x"], p["y"], p["lam"]
    z = w * x + b
    u = 1 / (1 + math.exp(-z))
    dL, dr, dl = 1.0, lam, 1.0
    du = u - y
    dz = du * u * (1 - u)
    expected = {"L": dL, "r": dr, "l": dl, "u": du, "z": dz, "w": dz * x + lam * 2 * w, "b": dz}
    for k, v in expected.items():
        assert float(adj[k]) == pytest.approx(v, rel=1e-13, abs=1e-15), k
    assert float(g.values["z"]) == pytest.approx(z, rel=1e-15)
    assert float(g.values["u"]) == pytest.approx(u, rel=1e-15)


def _hand_mlp(X, Y, params):
    """Hand-derived backprop for relu hidden layers and softmax cross-entropy, mean over the batch."""
    acts, zs = [X], []
    for i, (W, b) in enumerate(params):
        z = acts[-1] @ W + b
        zs.append(z)
        acts.append(np.maximum(z, 0) if i < len(params) - 1 else z)
    z = zs[-1]
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    n = X.shape[0]
    loss = -(Y * logp).sum() / n
    dz = (np.exp(logp) - Y) / n
    grads = []
    for i in range(len(params) - 1, -1, -1):
        W, _ = params[i]
        grads.append((acts[i].T @ dz, dz.sum(axis=0)))
        if i:
            dz = (dz @ W.T) * (zs[i - 1] > 0)
    return loss, grads[::-1]


def _mlp_params(rng, sizes, dtype=np.float64):
    return [((rng.normal(size=(m, n)) / np.sqrt(m)).astype(dtype), (rng.normal(size=n) * 0.1).astype(dtype))
            for m, n in zip(sizes, sizes[1:])]


def _dk_mlp_loss(X, Y):
    def loss(params):
        a = X
        for i, (W, b) in enumerate(params):
            z = a @ W + b
            a = dk.relu(z) if i < len(params) - 1 else z
        return dk.softmax_cross_entropy(a, Y).mean()
    return loss


def test_mlp_gradient_matches_hand_backprop():
    rng = np.random.default_rng(3)
    sizes = [6, 5, 4, 3]
    params = _mlp_params(rng, sizes)
    X = rng.normal(size=(8, 6))
    Y = np.eye(3)[rng.integers(0, 3, 8)]
    value, grads = dk.value_and_grad(_dk_mlp_loss(X, Y))(params)
    hand_value, hand = _hand_mlp(X, Y, params)
    assert value == pytest.approx(hand_value, rel=1e-12)
    for (gW, gb), (hW, hb) in zip(grads, hand):
        assert np.allclose(gW, hW, rtol=1e-10, atol=1e-13)
        assert np.allclose(gb, hb, rtol=1e-10, atol=1e-13)


def test_float32_mlp_stays_float32():
    rng = np.random.default_rng(4)
    params = _mlp_params(rng, [6, 5, 3], np.float32)
    X = rng.normal(size=(4, 6)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 4)]
    value, grads = dk.value_and_grad(_dk_mlp_loss(X, Y))(params)
    assert np.result_type(value) == np.float32
    assert all(g.dtype == np.float32 for pair in grads for g in pair)
    g = dk.trace(lambda W: dk.mean(dk.sigmoid(X @ W) * 0.5 + 2.0), params[0][0])
    assert all(np.result_type(v) == np.float32 for n, v in g._vals.items() if n.kind != "const")


def test_wide_mlp_spec_graph_matches_hand_backprop():
    model = builtin("mlp", sizes=(5, 7, 3), activations=("relu", "identity"), loss="cross-entropy")
    assert model.loss is None  # too wide to keep symbolically: built from the spec
    g = dk.from_model(model)
    rng = np.random.default_rng(5)
    W1, b1, W2, b2 = rng.normal(size=(7, 5)), rng.normal(size=7), rng.normal(size=(3, 7)), rng.normal(size=3)
    x, y = rng.normal(size=5), np.array([0.0, 1.0, 0.0])
    grads = g.gradient({"W1": W1, "b1": b1, "W2": W2, "b2": b2, "x": x, "y": y}, flat=False)
    _, hand = _hand_mlp(x[None, :], y[None, :], [(W1.T, b1), (W2.T, b2)])
    assert np.allclose(grads["W1"], hand[0][0].T, rtol=1e-10)
    assert np.allclose(grads["b2"], hand[1][1], rtol=1e-10)
    flat = g.gradient({"W1": W1, "b1": b1, "W2": W2, "b2": b2, "x": x, "y": y})
    assert list(flat) == list(model.wrt)
    assert flat["W1_2_3"] == pytest.approx(grads["W1"][1, 2], rel=1e-15)


def test_mlp_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    params = _mlp_params(rng, [6, 5, 3])
    X = rng.normal(size=(4, 6))
    Y = np.eye(3)[rng.integers(0, 3, 4)]
    grads = dk.grad(_dk_mlp_loss(X, Y))(params)
    tp = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    a = torch.tensor(X)
    for i, (W, b) in enumerate(tp):
        a = a @ W + b
        a = torch.relu(a) if i < len(tp) - 1 else a
    loss = -(torch.tensor(Y) * torch.log_softmax(a, dim=1)).sum(dim=1).mean()
    loss.backward()
    for (gW, gb), (W, b) in zip(grads, tp):
        assert np.allclose(gW, W.grad.numpy(), rtol=1e-10, atol=1e-14)
        assert np.allclose(gb, b.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name,opts", MODELS[:9], ids=[f"{n}-{i}" for i, (n, _) in enumerate(MODELS[:9])])
def test_cheap_gradient_principle(name, opts):
    c = dk.from_model(builtin(name, **opts)).op_counts()
    assert c["forward"] > 0 and c["backward"] > 0
    assert (c["forward"] + c["backward"]) / c["forward"] < 6


def test_logistic_map_counts_grow_linearly_while_sympy_swells():
    counts = [dk.from_model(builtin("logistic-map", n=n)).op_counts() for n in range(2, 11)]
    fwd = np.diff([c["forward"] for c in counts])
    bwd = np.diff([c["backward"] for c in counts])
    assert len(set(fwd)) == 1 and len(set(bwd[1:])) == 1  # constant increments: linear in n
    sym = [sp.count_ops(sp.diff(builtin("logistic-map", n=n).loss, sp.Symbol("x", real=True)))
           for n in (4, 6, 8)]
    assert np.diff(sym)[1] > np.diff(sym)[0]  # the symbolic derivative grows faster than linearly
    eng8 = counts[6]
    assert eng8["forward"] + eng8["backward"] < sym[2]
