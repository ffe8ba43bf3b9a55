"""Textbook forms, checked on the rendered text, and never longer than the lecture form."""

from __future__ import annotations

import numpy as np
import pytest

from diffkit import builtin, model_from_expr, to_numpy
from diffkit.analysis.operation_counts import tree_ops
from diffkit.cli import main
from diffkit.symbolic.derive import derive, gradient
from diffkit.symbolic.render import pretty
from diffkit.symbolic.textbook import textbook

CE = "-y*log(sigmoid(w*x + b)) - (1 - y)*log(1 - sigmoid(w*x + b)) + lam*w**2"
CE_SOFTPLUS = "softplus(w*x + b) - y*(w*x + b) + lam*w**2"
TANH = "0.5*(y - tanh(w*x + b))**2 + lam*w**2"


def _derive_text(capsys, *argv):
    assert main(["derive", *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("expr", [CE, CE_SOFTPLUS])
def test_cross_entropy_gradient_reads_as_the_textbook(expr, capsys):
    out = _derive_text(capsys, "--expr", expr, "--wrt", "w,b", "--form", "simplified")
    assert "∂L/∂w = (σ(wx + b) − y)·x + 2λw\n" in out
    assert "∂L/∂b = σ(wx + b) − y\n" in out


def test_builtin_logistic_regression_simplified(capsys):
    out = _derive_text(capsys, "logistic-regression", "--dim", "1", "--form", "simplified")
    assert "∂L/∂w1 = (σ(w1·x1 + b) − y)·x1\n" in out and "∂L/∂b = σ(w1·x1 + b) − y\n" in out


@pytest.mark.parametrize("form", ["lecture", "simplified"])
def test_tanh_neuron_reads_without_the_doubled_two(form, capsys):
    out = _derive_text(capsys, "--expr", TANH, "--wrt", "w,b", "--form", form)
    assert "∂L/∂b = (tanh(wx + b) − y)·(1 − tanh(wx + b)²)\n" in out
    assert "∂L/∂w = (tanh(wx + b) − y)·(1 − tanh(wx + b)²)·x + 2λw\n" in out
    assert "2·tanh" not in out


def test_the_lecture_neuron_is_left_as_the_lecture_writes_it():
    g = derive(builtin("ridge-sigmoid"), form="simplified").gradient
    assert pretty(g["w"]) == "(σ(wx + b) − y)·σ′(wx + b)·x + 2λw"
    assert pretty(g["b"]) == "(σ(wx + b) − y)·σ′(wx + b)"


MODELS = [("ridge-sigmoid", {}), ("logistic-regression", {"d": 2}), ("linear-regression", {"d": 2}),
          ("mlp", {"sizes": (2, 2, 1), "activations": ("tanh", "sigmoid")}),
          ("mlp", {"sizes": (2, 2, 2), "activations": ("sigmoid", "identity"), "loss": "cross-entropy"}),
          ("logistic-map", {"n": 4})]
EXPRS = [CE, CE_SOFTPLUS, TANH, "log(sigmoid(w*x)) + w**2", "sigmoid(w)*(1 - sigmoid(w))*b",
         "softplus(-w*x) - softplus(w*x)", "tanh(w)**2 - 1 + b", "(2*tanh(w*b)**2 - 2)/2"]


def _models():
    for name, opts in MODELS:
        yield builtin(name, **opts)
    for e in EXPRS:
        yield model_from_expr(e, "w,b" if "b" in e else "w")


@pytest.mark.parametrize("model", list(_models()), ids=lambda m: m.source[:30])
def test_simplified_is_never_longer_and_has_the_same_values(model):
    lecture = gradient(model)
    simple = derive(model, form="simplified", grad=lecture).gradient
    for p in lecture:
        assert tree_ops(simple[p]) <= tree_ops(lecture[p]), (p, simple[p], lecture[p])
    f = to_numpy(list(lecture.values()), model.symbols)
    g = to_numpy(list(simple.values()), model.symbols)
    for pt in model.random_points(5, seed=4):
        v = list(pt.values())
        np.testing.assert_allclose(np.array(g(*v), float), np.array(f(*v), float), rtol=1e-10, atol=1e-12)


def test_identities_the_pass_knows():
    import sympy as sp

    from diffkit.functions import sigmoid, sigmoid_prime, softplus

    z = sp.Symbol("z", real=True)
    assert textbook(sigmoid(z) * (1 - sigmoid(z))) == sigmoid_prime(z)      # σ′ = σ(1 − σ)
    y = sp.Symbol("y", real=True)
    ce = -y * sp.log(sigmoid(z)) - (1 - y) * sp.log(1 - sigmoid(z))           # log σ(z) = −softplus(−z)
    assert textbook(ce) == y * softplus(-z) + (1 - y) * softplus(z)
    assert textbook(sp.diff(softplus(z), z)) == sigmoid(z)                    # softplus′ = σ
    assert pretty(textbook(1 - sp.tanh(z) ** 2 + 0 * z)) == "1 − tanh(z)²"     # tanh′ = 1 − tanh²
    assert textbook(sigmoid(-z) + sigmoid(z)) == 1                            # σ(−z) = 1 − σ(z)


def test_a_large_expression_is_left_alone_quickly():
    import time

    import sympy as sp

    w = sp.Symbol("w", real=True)
    big = sum(sp.tanh(w + k) ** 3 for k in range(200))
    t = time.perf_counter()
    out = textbook(big)
    assert time.perf_counter() - t < 20          # a bound against a hang, not a timing
    assert tree_ops(out) <= tree_ops(big)


def test_a_power_of_a_sum_is_not_expanded(capsys):
    import time

    from diffkit.symbolic.textbook import expansion_terms

    expr = "(tanh(w*x + b) + tanh(w) + tanh(b) + sigmoid(x*w) + 1)**30"
    t = time.perf_counter()
    out = _derive_text(capsys, "--expr", expr, "--wrt", "w", "--form", "simplified")
    assert time.perf_counter() - t < 30           # a bound against a hang, not a timing
    assert out.count("∂L/∂w = ") == 1
    import sympy as sp

    a, b = sp.symbols("a b")
    assert expansion_terms((a + b + 1) ** 30) == 496 > 200
