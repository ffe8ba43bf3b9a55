"""The matrix-form backprop equations of an MLP, derived symbolically, against the engine and
against finite differences: depth 1–4, any mix of sigmoid/tanh/ReLU/identity, both losses
(float64, ≤ 1e-10 relative)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import sympy as sp

import diffkit.engine as dk
from diffkit import builtin
from diffkit.errors import BadInput
from diffkit.symbolic.backprop_matrix import matrix_backprop
from oracles import central_diff

ACTS = ("sigmoid", "tanh", "relu", "identity")
NP_ACT = {"sigmoid": lambda a: 1 / (1 + np.exp(-a)), "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0),
          "identity": lambda a: a}
DK_ACT = {"sigmoid": dk.sigmoid, "tanh": dk.tanh, "relu": dk.relu, "identity": lambda a: a}


def _networks(count=24, seed=10):
    rng = np.random.default_rng(seed)
    nets = []
    for i in range(count):
        depth = 1 + i % 4
        sizes = tuple(int(s) for s in rng.integers(1, 5, size=depth + 1))
        acts = tuple(str(a) for a in rng.choice(ACTS, size=depth))
        loss = "squared" if i % 3 else "cross-entropy"
        if loss == "cross-entropy" and i % 2:
            sizes = sizes[:-1] + (max(2, sizes[-1]),)
        nets.append((sizes, acts, loss))
    return nets


def _numpy_loss(params, x, y, acts, loss):
    a = x
    for l, (W, b) in enumerate(params):
        pre = W @ a + b
        last = l == len(params) - 1
        a = NP_ACT[acts[l]](pre) if not last or loss == "squared" else pre
    if loss == "squared":
        return 0.5 * float(np.sum((a - y) ** 2))
    if a.size == 1:
        return float(np.logaddexp(0.0, a[0]) - y[0] * a[0])
    return float(np.log(np.sum(np.exp(a))) - y @ a)


def _point(sizes, acts, rng):
    while True:  # away from ReLU kinks, so differences of step 1e-3 do not straddle one
        params = [(rng.normal(size=(m, n)), rng.normal(size=m)) for n, m in zip(sizes, sizes[1:])]
        x = rng.normal(size=sizes[0])
        a, ok = x, True
        for l, (W, b) in enumerate(params):
            pre = W @ a + b
            ok &= not (acts[l] == "relu" and np.min(np.abs(pre)) < 0.05)
            a = NP_ACT[acts[l]](pre)
        if ok:
            return params, x


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("sizes,acts,loss", _networks(), ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else v)
def test_matrix_equations_agree_with_engine_and_differences(sizes, acts, loss):
    rng = np.random.default_rng(zlib.crc32(repr((sizes, acts, loss)).encode()))  # stable across runs
    params, x = _point(sizes, acts, rng)
    y = rng.dirichlet(np.ones(sizes[-1])) if loss == "cross-entropy" else rng.normal(size=sizes[-1])
    if loss == "cross-entropy" and sizes[-1] == 1:
        y = rng.uniform(size=1)
    bp = matrix_backprop(sizes=sizes, activations=acts, loss=loss)
    arrays = {"x": x, "y": y, **{f"W{l + 1}": W for l, (W, _) in enumerate(params)},
              **{f"b{l + 1}": b for l, (_, b) in enumerate(params)}}
    vals = bp.evaluate(arrays)
    assert abs(float(vals["L"]) - _numpy_loss(params, x, y, acts, loss)) <= 1e-12 * max(1.0, abs(float(vals["L"])))

    def engine_loss(ps):
        a = x
        for l, (W, b) in enumerate(ps):
            pre = W @ a + b
            a = DK_ACT[acts[l]](pre) if l < len(ps) - 1 or loss == "squared" else pre
        if loss == "squared":
            return 0.5 * dk.sum((a - y) ** 2.0)
        if sizes[-1] == 1:
            return dk.sum(dk.bce_with_logits(a, y))
        return dk.softmax_cross_entropy(a, y, axis=0)
    eng = dk.grad(engine_loss)(params)
    for l, (W, b) in enumerate(params):
        dW, db = vals[f"dW{l + 1}"], vals[f"db{l + 1}"][:, 0]
        assert dW.shape == W.shape and db.shape == b.shape
        assert _rel(dW, eng[l][0]) <= 1e-10 and _rel(db, eng[l][1]) <= 1e-10, (l, "engine")
        for k, (arr, got) in enumerate(((W, dW), (b, db))):
            def f(flat, l=l, k=k):
                ps = [list(p) for p in params]
                ps[l][k] = flat.reshape(arr.shape)
                return _numpy_loss(ps, x, y, acts, loss)
            num = central_diff(f, arr.reshape(-1), 3e-4).reshape(arr.shape)  # worst of 144 nets: 1.5e-11
            assert _rel(got, num) <= 1e-10, (l, k, "differences")


def test_the_lectures_three_layer_network_reads_as_the_textbook():
    bp = matrix_backprop(builtin("mlp", sizes=(2, 3, 3, 1)))
    assert [e.pretty for e in bp.forward] == [
        "a⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾", "z⁽¹⁾ = σ(a⁽¹⁾)", "a⁽²⁾ = W⁽²⁾z⁽¹⁾ + b⁽²⁾", "z⁽²⁾ = σ(a⁽²⁾)",
        "a⁽³⁾ = W⁽³⁾z⁽²⁾ + b⁽³⁾", "ŷ = a⁽³⁾"]
    assert [e.pretty for e in bp.deltas] == ["δ⁽³⁾ = ŷ − y", "δ⁽²⁾ = (W⁽³⁾)ᵀδ⁽³⁾ ⊙ σ′(a⁽²⁾)",
                                             "δ⁽¹⁾ = (W⁽²⁾)ᵀδ⁽²⁾ ⊙ σ′(a⁽¹⁾)"]
    assert [e.pretty for e in bp.gradients] == [
        "∂L/∂W⁽³⁾ = δ⁽³⁾z⁽²⁾ᵀ", "∂L/∂b⁽³⁾ = δ⁽³⁾", "∂L/∂W⁽²⁾ = δ⁽²⁾z⁽¹⁾ᵀ", "∂L/∂b⁽²⁾ = δ⁽²⁾",
        "∂L/∂W⁽¹⁾ = δ⁽¹⁾xᵀ", "∂L/∂b⁽¹⁾ = δ⁽¹⁾"]
    assert [e.shape for e in bp.gradients] == [(1, 3), (1, 1), (3, 3), (3, 1), (3, 2), (3, 1)]
    assert bp.loss_text() == "½‖ŷ − y‖²"


def test_sigma_prime_comes_from_sympy_and_tanh_reads_one_minus_tanh_squared():
    bp = matrix_backprop(sizes=(2, 2, 1), activations=("tanh", "tanh"))
    assert bp.deltas[0].pretty == "δ⁽²⁾ = (ŷ − y) ⊙ (1 − tanh(a⁽²⁾)²)"
    assert bp.deltas[1].latex == r"\delta^{(1)} = \left(W^{(2)}\right)^{\top} \delta^{(2)} \odot \left(1 - \tanh^{2}{\left(a^{(1)} \right)}\right)"


def test_softmax_delta_matches_sympys_componentwise_derivative():
    a = sp.symbols("a1:4", real=True)
    y = sp.symbols("y1:4", real=True)
    L = sp.log(sum(sp.exp(t) for t in a)) - sum(p * q for p, q in zip(y, a))
    for j in range(3):
        want = sp.exp(a[j]) / sum(sp.exp(t) for t in a) - y[j]
        assert sp.simplify(sp.diff(L, a[j]) - want) == 0
    assert matrix_backprop(sizes=(2, 3), activations=("identity",), loss="cross-entropy").deltas[0].pretty == \
        "δ⁽¹⁾ = softmax(a⁽¹⁾) − y"


def test_not_an_mlp_is_refused():
    with pytest.raises(BadInput, match="is not an MLP"):
        matrix_backprop(builtin("ridge-sigmoid"))
