"""The symbolic side against independent oracles: finite differences, the lecture, matrix forms."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from diffkit import builtin, sigmoid, sigmoid_prime
from diffkit.parse import parse
from diffkit.symbolic import to_numpy
from diffkit.symbolic.derive import cse_gradient, derive, gradient, hessian
from diffkit.symbolic.render import latex, pretty, text
from oracles import central_diff, rel_err

MODELS = [
    ("ridge-sigmoid", {}),
    ("linear-regression", {"d": 3}),
    ("logistic-regression", {"d": 2}),
    ("mlp", {"sizes": (2, 3, 1), "activations": ("sigmoid", "identity")}),
    ("mlp", {"sizes": (2, 2, 2), "activations": ("tanh", "identity"), "loss": "cross-entropy"}),
    ("mlp", {"sizes": (3, 2, 1), "activations": ("tanh", "sigmoid"), "loss": "cross-entropy"}),
    ("mlp", {"sizes": (2, 3, 1), "activations": ("relu", "identity")}),
    ("logistic-map", {"n": 1}),
    ("logistic-map", {"n": 5}),
]


def _ids(p):
    name, opts = p
    return name + "".join(f"-{k}{v}" for k, v in opts.items()).replace(" ", "")


@pytest.mark.parametrize("spec", MODELS, ids=[_ids(m) for m in MODELS])
def test_gradient_equals_central_differences(spec):
    model = builtin(spec[0], **spec[1])
    f = to_numpy(model.loss, model.symbols)
    g = to_numpy(list(gradient(model).values()), model.symbols)
    k = len(model.params)
    for pt in model.random_points(10, seed=7):
        vals = [pt[n] for n in model.symbol_names]
        theta, rest = np.array(vals[:k]), vals[k:]
        numeric = central_diff(lambda t: float(f(*t, *rest)), theta)
        symbolic = np.array(g(*vals), dtype=float)
        assert rel_err(symbolic, numeric) <= 1e-7, (pt, symbolic, numeric)


def test_ridge_sigmoid_gradient_is_the_lecture_formula():
    m = builtin("ridge-sigmoid")
    w, b, x, y, lam = m.symbols
    z = w * x + b
    lecture = {"w": (sigmoid(z) - y) * sigmoid_prime(z) * x + 2 * lam * w,
               "b": (sigmoid(z) - y) * sigmoid_prime(z)}
    g = gradient(m)
    for p in ("w", "b"):
        assert sp.expand(g[p] - lecture[p]) == 0
    # and it prints as the lecture writes it
    assert pretty(g["w"]) == "(σ(wx + b) − y)·σ′(wx + b)·x + 2λw"
    assert pretty(g["b"]) == "(σ(wx + b) − y)·σ′(wx + b)"
    assert latex(g["b"]) == r"\left(\sigma\left(w x + b\right) - y\right) \sigma'\left(w x + b\right)"


@pytest.mark.parametrize("spec", MODELS[:6], ids=[_ids(m) for m in MODELS[:6]])
def test_text_form_parses_back_to_the_same_expression(spec):
    model = builtin(spec[0], **spec[1])
    symbols = {s.name: s for s in model.symbols}
    for e in gradient(model).values():
        assert sp.simplify(parse(text(e), symbols=symbols) - e) == 0


@pytest.mark.parametrize("form", ["expanded", "simplified", "cse"])
def test_other_views_have_the_same_values(form):
    m = builtin("ridge-sigmoid")
    naive = to_numpy(list(gradient(m).values()), m.symbols)
    d = derive(m, form=form)
    exprs = list(d.gradient.values())
    if d.replacements:  # inline the CSE definitions back
        env = {}
        for s, e in d.replacements:
            env[s] = e.xreplace(env)
        exprs = [e.xreplace(env) for e in exprs]
    other = to_numpy(exprs, m.symbols)
    for pt in m.random_points(5, seed=3):
        v = [pt[n] for n in m.symbol_names]
        np.testing.assert_allclose(other(*v), naive(*v), rtol=1e-12)


def test_cse_shares_wx_plus_b():
    repl, reduced = cse_gradient(gradient(builtin("ridge-sigmoid")))
    w, b, x = sp.symbols("w b x", real=True)
    assert repl[0][1] == w * x + b
    assert sum(sp.count_ops(e) for _, e in repl) + sum(sp.count_ops(e) for e in reduced) < \
        sum(sp.count_ops(e) for e in gradient(builtin("ridge-sigmoid")).values())


@pytest.mark.parametrize("name", ["linear-regression", "logistic-regression"])
def test_matrix_gradient_equals_sum_of_per_sample_gradients(name):
    model = builtin(name, d=3)
    mf = model.matrix
    X_sym, y_sym = mf.inputs
    n, d = 7, 3
    rng = np.random.default_rng(11)
    X, y, wv = rng.normal(size=(n, d)), rng.uniform(0, 1, size=(n, 1)), rng.normal(size=(d, 1))
    shapes = {X_sym.shape[0]: n, X_sym.shape[1]: d}
    X_c, w_c, y_c = (sp.MatrixSymbol(s.name, *[shapes.get(k, k) for k in s.shape]) for s in (X_sym, mf.wrt, y_sym))
    grad_expr = mf.gradient.subs({X_sym: X_c, mf.wrt: w_c, y_sym: y_c}).subs(shapes)
    matrix_grad = np.asarray(
        grad_expr.subs({X_c: sp.Matrix(X), w_c: sp.Matrix(wv), y_c: sp.Matrix(y)}).doit().evalf(), dtype=float)
    per_sample = to_numpy(list(gradient(model).values()), model.symbols)
    total = np.zeros(d)
    for i in range(n):
        extra = [0.0] if name == "logistic-regression" else []  # the bias b is held at 0
        total += np.array(per_sample(*wv.ravel(), *extra, *X[i], y[i, 0]), dtype=float)[:d]
    np.testing.assert_allclose(matrix_grad.ravel(), total, rtol=1e-12)


def test_least_squares_matrix_gradient_reads_minus_xt_residual():
    d = derive(builtin("linear-regression"), form="matrix")
    assert pretty(d.gradient["w"]) == "−Xᵀ·(y − Xw)"


@pytest.mark.parametrize("spec", MODELS[:6] + MODELS[8:], ids=[_ids(m) for m in MODELS[:6] + MODELS[8:]])
def test_hessian_is_symmetric_and_matches_differences_of_the_gradient(spec):
    model = builtin(spec[0], **spec[1])
    H = hessian(model)
    assert H == H.T
    Hf = to_numpy(H, model.symbols)
    g = to_numpy(list(gradient(model).values()), model.symbols)
    k = len(model.params)
    for pt in model.random_points(3, seed=5):
        vals = [pt[nm] for nm in model.symbol_names]
        theta, rest = np.array(vals[:k]), vals[k:]
        numeric = np.array([central_diff(lambda t: float(g(*t, *rest)[i]), theta) for i in range(k)])
        assert rel_err(np.array(Hf(*vals), dtype=float), numeric) <= 1e-6


def test_to_numpy_lambdifies_elementwise_matrix_functions():
    # logistic regression's Xᵀ(σ(Xw) − y) holds σ applied entrywise (SymPy's ElementwiseApplyFunction)
    m = builtin("logistic-regression", d=3)
    f = to_numpy(m.matrix.gradient, [m.matrix.wrt, *m.matrix.inputs])
    rng = np.random.default_rng(4)
    X, w, y = rng.normal(size=(6, 3)), rng.normal(size=(3, 1)), rng.uniform(size=(6, 1))
    want = X.T @ (1 / (1 + np.exp(-(X @ w))) - y)
    np.testing.assert_allclose(f(w, X, y), want, rtol=1e-13)
