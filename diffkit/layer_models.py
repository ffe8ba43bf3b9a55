"""The layer zoo as small built-in models, both ways: a SymPy loss small enough to read, and the same
loss computed by the engine's layer (``diffkit.engine.layers``).

=============  ===================================================================  ==================
model          the symbolic side (scalars)                                          the engine's layer
=============  ===================================================================  ==================
conv1d         3 taps w over 5 inputs x: y_i = w1 x_i + w2 x_(i+1) + w3 x_(i+2) + b   ``dk.conv1d``
maxpool        2×2 max pooling of a 4×4 image x: p_ij = max of window (i, j)        ``dk.max_pool2d``
avgpool        2×2 average pooling of a 4×4 image                                   ``dk.avg_pool2d``
batchnorm      a batch of 3: x̂_i = (x_i − μ)/√(v + eps), y_i = γ x̂_i + β            ``dk.batch_norm``
rnn            Elman, 2 hidden units, T steps (``--depth T``, 1..8): h_t = tanh(w x_t  ``dk.elman_rnn``
               + U h_(t−1) + b), h_0 given
attention      self-attention over T tokens of width 2 (``--depth T``, 1..3):       ``dk.attention``
               q_i = W_q x_i, …, a_ij = exp(s_ij)/Z_i, o_i = Σ_j a_ij v_j
residual       a residual block of width 2: h = tanh(W1 x + b1),                    ``dk.residual_block``
               y = tanh(x + W2 h + b2) (the skip connection from layer l to l + 2)
=============  ===================================================================  ==================

Each loss is ½‖output − target‖² with the targets as data.  The inputs of conv1d, pooling and batch
norm are parameters too, so the gradient shows where a sliding window, a pooling window or the
batch mean send it.  Parameters are named one way everywhere: entry (i, j) of a matrix ``Wq`` is
``Wq_i_j``, entry i of a vector ``w`` is ``w1``… (as the MLP's ``W1_2_1``, row 2 and column 1 of W⁽¹⁾).

>>> m = conv1d_model()
>>> m.wrt
('w1', 'w2', 'w3', 'b', 'x1', 'x2', 'x3', 'x4', 'x5')
>>> [str(s) for s, _ in m.steps]
['y1', 'y2', 'y3', 'L']
>>> g = layer_gradient(m)
>>> from diffkit.symbolic.derive import gradient
>>> sym = gradient(m)
>>> all(abs(g[p] - float(sym[p].subs(m.subs_point(m.point())))) < 1e-12 for p in m.wrt)
True
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp

from .errors import BadInput
from .constraints import shorten
from .model import Model

R = dict(real=True)

#: Largest T of the RNN model (the symbolic tree grows as 2^T) and of the attention model.
RNN_MAX_T = 8
ATTENTION_MAX_T = 3


def _inline(steps) -> sp.Expr:
    env: dict = {}
    for sym, e in steps:
        env[sym] = e.xreplace(env)
    return env[steps[-1][0]]


def _defaults(symbols, seed: int, lo: float = -1.0, hi: float = 1.0) -> dict[str, float]:
    """Readable default values (two decimals), the same for every run."""
    rng = np.random.default_rng(seed)
    return {s.name: round(float(rng.uniform(lo, hi)), 2) for s in symbols}


def _vector(name: str, n: int) -> list[sp.Symbol]:
    return [sp.Symbol(f"{name}{i + 1}", **R) for i in range(n)]


def _matrix(name: str, m: int, n: int) -> list[list[sp.Symbol]]:
    return [[sp.Symbol(f"{name}{i + 1}_{j + 1}", **R) for j in range(n)] for i in range(m)]


def _flat(rows) -> list[sp.Symbol]:
    return [s for row in rows for s in row]


def _half_sq(outs, targets) -> sp.Expr:
    return sp.Rational(1, 2) * sp.Add(*[(o - t) ** 2 for o, t in zip(outs, targets)])


def _model(name, steps, params, data, hyper=(), *, defaults, description, layer, arrays, domains=None, **extra):
    spec = {"kind": "layer", "layer": name, "call": layer, "arrays": arrays, **extra}
    return Model(name=name, loss=_inline(tuple(steps)), params=tuple(params), data=tuple(data), hyper=tuple(hyper),
                 defaults=defaults, steps=tuple(steps), domains=domains or {}, description=description,
                 source=name, spec=spec)


# -- the models ---------------------------------------------------------------------------------------
def conv1d_model() -> Model:
    """A conv1d of 3 taps over 5 inputs: y_i = w1 x_i + w2 x_(i+1) + w3 x_(i+2) + b, L = ½Σ(y_i − t_i)²."""
    w, x, t = _vector("w", 3), _vector("x", 5), _vector("t", 3)
    b = sp.Symbol("b", **R)
    ys = _vector("y", 3)
    steps = [(ys[i], w[0] * x[i] + w[1] * x[i + 1] + w[2] * x[i + 2] + b) for i in range(3)]
    steps.append((sp.Symbol("L", **R), _half_sq(ys, t)))
    params = w + [b] + x
    return _model("conv1d", steps, params, t, defaults=_defaults(params + t, 1),
                  description="conv1d: 3 taps over 5 inputs, y_i = w1 x_i + w2 x_(i+1) + w3 x_(i+2) + b, "
                              "L = ½Σ(y_i − t_i)²",
                  layer="dk.conv1d(x, w, b)",
                  arrays={"w": ((1, 1, 3), w), "b": ((1,), [b]), "x": ((1, 1, 5), x), "t": ((1, 1, 3), t)})


def _pool_model(kind: str) -> Model:
    x = _matrix("x", 4, 4)
    t = _matrix("t", 2, 2)
    ps = _matrix("p", 2, 2)
    steps = []
    for i in range(2):
        for j in range(2):
            win = [x[2 * i + a][2 * j + c] for a in range(2) for c in range(2)]
            steps.append((ps[i][j], sp.Max(*win) if kind == "max" else sp.Add(*win) / 4))
    steps.append((sp.Symbol("L", **R), _half_sq(_flat(ps), _flat(t))))
    params, data = _flat(x), _flat(t)
    defaults = _defaults(params, 2, -2.0, 2.0)
    defaults.update(_defaults(data, 3))
    what = "maximum" if kind == "max" else "mean"
    return _model(f"{kind}pool", steps, params, data, defaults=defaults,
                  description=f"2×2 {kind} pooling of a 4×4 image x: p_ij = {what} of window (i, j), "
                              "L = ½Σ(p_ij − t_ij)²",
                  layer=f"dk.{kind}_pool2d(x, 2)",
                  arrays={"x": ((1, 1, 4, 4), params), "t": ((1, 1, 2, 2), data)})


def maxpool_model() -> Model:
    """2×2 max pooling of a 4×4 image (the pixels are the parameters)."""
    return _pool_model("max")


def avgpool_model() -> Model:
    """2×2 average pooling of a 4×4 image (the pixels are the parameters)."""
    return _pool_model("avg")


def batchnorm_model() -> Model:
    """Batch norm (training mode) over a batch of 3: μ, v, x̂_i = (x_i − μ)/√(v + eps), y_i = γ x̂_i + β."""
    x, t = _vector("x", 3), _vector("t", 3)
    gamma, beta, eps = sp.symbols("gamma beta eps", **R)
    mu, v, s = sp.symbols("mu v s", **R)
    xh, ys = _vector("xhat", 3), _vector("y", 3)
    steps = [(mu, sp.Add(*x) / 3), (v, sp.Add(*[(xi - mu) ** 2 for xi in x]) / 3), (s, sp.sqrt(v + eps))]
    steps += [(xh[i], (x[i] - mu) / s) for i in range(3)]
    steps += [(ys[i], gamma * xh[i] + beta) for i in range(3)]
    steps.append((sp.Symbol("L", **R), _half_sq(ys, t)))
    params = x + [gamma, beta]
    defaults = {"x1": 0.5, "x2": -1.2, "x3": 2.0, "gamma": 1.5, "beta": 0.2, "t1": 1.0, "t2": -0.5, "t3": 0.3,
                "eps": 1e-5}
    return _model("batchnorm", steps, params, t, (eps,), defaults=defaults, domains={"eps": (1e-5, 1e-3)},
                  description="batch norm over a batch of 3 (training mode): μ = mean, v = variance, "
                              "x̂_i = (x_i − μ)/√(v + eps), y_i = γ x̂_i + β, L = ½Σ(y_i − t_i)²",
                  layer="dk.batch_norm(x, gamma, beta, eps=eps)",
                  arrays={"x": ((3, 1), x), "gamma": ((1,), [gamma]), "beta": ((1,), [beta]), "t": ((3, 1), t)})


def rnn_model(n: int = 3) -> Model:
    """An Elman RNN with 2 hidden units over T = ``n`` steps of a scalar input, from a given state h_0:
    h_t = tanh(w x_t + U h_(t−1) + b), L = ½‖h_T − y‖²."""
    T = _steps(n, "rnn", RNN_MAX_T)
    w, b, U = _vector("w", 2), _vector("b", 2), _matrix("u", 2, 2)
    x, y = _vector("x", T), _vector("y", 2)
    h0 = [sp.Symbol(f"h0_{i + 1}", **R) for i in range(2)]
    hs = [h0] + [[sp.Symbol(f"h{t + 1}_{i + 1}", **R) for i in range(2)] for t in range(T)]
    steps = []
    for t in range(1, T + 1):
        for i in range(2):
            rec = sp.Add(*[U[i][j] * hs[t - 1][j] for j in range(2)])
            steps.append((hs[t][i], sp.tanh(w[i] * x[t - 1] + rec + b[i])))
    steps.append((sp.Symbol("L", **R), _half_sq(hs[-1], y)))
    params = w + _flat(U) + b
    defaults = _defaults(params, 4, -0.9, 0.9)
    defaults.update(_defaults(x, 5))
    defaults.update({"h0_1": 0.1, "h0_2": -0.2, "y1": 0.5, "y2": -0.25})
    return _model("rnn", steps, params, x + h0 + y, defaults=defaults,
                  description=f"Elman RNN, 2 hidden units, T = {T}: h_t = tanh(w x_t + U h_(t−1) + b), "
                              "L = ½‖h_T − y‖²",
                  layer="dk.elman_rnn(x, h0, w, U, b)",
                  arrays={"w": ((2, 1), w), "u": ((2, 2), _flat(U)), "b": ((2,), b), "x": ((1, T, 1), x),
                          "h0": ((1, 2), h0), "y": ((1, 2), y)}, T=T)


def attention_model(n: int = 2) -> Model:
    """Self-attention over T = ``n`` tokens of width 2: q_i = W_q x_i, k_i = W_k x_i, v_i = W_v x_i,
    s_ij = q_i·k_j/√2, Z_i = Σ_j exp(s_ij), a_ij = exp(s_ij)/Z_i, o_i = Σ_j a_ij v_j, L = ½Σ‖o_i − y_i‖²."""
    T = _steps(n, "attention", ATTENTION_MAX_T, what="tokens")
    Wq, Wk, Wv = _matrix("Wq", 2, 2), _matrix("Wk", 2, 2), _matrix("Wv", 2, 2)
    X, Y = _matrix("x", T, 2), _matrix("y", T, 2)
    steps = []
    proj = {}
    for name, Wm in (("q", Wq), ("k", Wk), ("v", Wv)):
        syms = _matrix(name, T, 2)
        for i in range(T):
            for c in range(2):
                steps.append((syms[i][c], Wm[c][0] * X[i][0] + Wm[c][1] * X[i][1]))
        proj[name] = syms
    q, k, v = proj["q"], proj["k"], proj["v"]
    S, A, O = _matrix("s", T, T), _matrix("a", T, T), _matrix("o", T, 2)
    Z = _vector("Z", T)
    for i in range(T):
        for j in range(T):
            steps.append((S[i][j], (q[i][0] * k[j][0] + q[i][1] * k[j][1]) / sp.sqrt(2)))
    for i in range(T):
        steps.append((Z[i], sp.Add(*[sp.exp(S[i][j]) for j in range(T)])))
        for j in range(T):
            steps.append((A[i][j], sp.exp(S[i][j]) / Z[i]))
    for i in range(T):
        for c in range(2):
            steps.append((O[i][c], sp.Add(*[A[i][j] * v[j][c] for j in range(T)])))
    steps.append((sp.Symbol("L", **R), _half_sq(_flat(O), _flat(Y))))
    params = _flat(Wq) + _flat(Wk) + _flat(Wv)
    defaults = _defaults(params, 6)
    defaults.update(_defaults(_flat(X), 7, -1.5, 1.5))
    defaults.update(_defaults(_flat(Y), 8))
    return _model("attention", steps, params, _flat(X) + _flat(Y), defaults=defaults,
                  description=f"self-attention over {T} tokens of width 2: softmax(QKᵀ/√2)V with Q = XW_qᵀ, "
                              "K = XW_kᵀ, V = XW_vᵀ, L = ½‖O − Y‖²",
                  layer="dk.attention(x @ Wqᵀ, x @ Wkᵀ, x @ Wvᵀ)",
                  arrays={"Wq": ((2, 2), _flat(Wq)), "Wk": ((2, 2), _flat(Wk)), "Wv": ((2, 2), _flat(Wv)),
                          "x": ((1, T, 2), _flat(X)), "y": ((1, T, 2), _flat(Y))}, T=T)


def residual_model() -> Model:
    """A residual block of width 2: h = tanh(W1 x + b1), y = tanh(x + W2 h + b2), L = ½‖y − t‖²
    (the input x reaches the output twice: through the skip connection and through the inner layer)."""
    x, t = _vector("x", 2), _vector("t", 2)
    W1, W2 = _matrix("W1_", 2, 2), _matrix("W2_", 2, 2)  # W1_i_j as the MLP's W⁽¹⁾
    b1, b2 = ([[sp.Symbol(f"{name}_{i + 1}", **R)] for i in range(2)] for name in ("b1", "b2"))  # b1_1, b1_2
    h, y = _vector("h", 2), _vector("y", 2)
    steps = [(h[i], sp.tanh(W1[i][0] * x[0] + W1[i][1] * x[1] + b1[i][0])) for i in range(2)]
    steps += [(y[i], sp.tanh(x[i] + W2[i][0] * h[0] + W2[i][1] * h[1] + b2[i][0])) for i in range(2)]
    steps.append((sp.Symbol("L", **R), _half_sq(y, t)))
    params = _flat(W1) + _flat(b1) + _flat(W2) + _flat(b2) + x
    defaults = _defaults(params, 9)
    defaults.update(_defaults(t, 10))
    return _model("residual", steps, params, t, defaults=defaults,
                  description="residual block of width 2: h = tanh(W1 x + b1), y = tanh(x + W2 h + b2), "
                              "L = ½‖y − t‖²",
                  layer="dk.residual_block(x, W1, b1, W2, b2, activation=dk.tanh)",
                  arrays={"W1": ((2, 2), _flat(W1)), "b1": ((2,), _flat(b1)), "W2": ((2, 2), _flat(W2)),
                          "b2": ((2,), _flat(b2)), "x": ((1, 2), x), "t": ((1, 2), t)})


def _steps(n: Any, model: str, most: int, what: str = "steps") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise BadInput(f"{model}: T = {shorten(n)} is not an integer; allowed: T in 1..{most} (--depth T)")
    if not 1 <= n <= most:
        raise BadInput(f"{model}: T = {n} {what}; allowed: T in 1..{most} (--depth T)")
    return int(n)


#: The layer models by name (registered into ``diffkit.builtins.BUILTINS``).
LAYER_MODELS: dict[str, Callable[..., Model]] = {
    "conv1d": conv1d_model, "maxpool": maxpool_model, "avgpool": avgpool_model, "batchnorm": batchnorm_model,
    "rnn": rnn_model, "attention": attention_model, "residual": residual_model,
}
#: Options each takes (``--depth`` is T for the RNN and the number of tokens for attention).
LAYER_MODEL_OPTIONS = {"conv1d": (), "maxpool": (), "avgpool": (), "batchnorm": (), "rnn": ("n",),
                       "attention": ("n",), "residual": ()}


def is_layer_model(model: Any) -> bool:
    return (getattr(model, "spec", None) or {}).get("kind") == "layer"


# -- the engine side: the same loss through the zoo's layer --------------------------------------------
def layer_arrays(model: Model, point: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
    """The model's scalars gathered into the arrays the layer takes (names → arrays, C order)."""
    pt = model.point(point)
    return {k: np.array([pt[s.name] for s in syms], dtype=np.float64).reshape(shape)
            for k, (shape, syms) in model.spec["arrays"].items()}


def _loss_fn(model: Model) -> Callable[..., Any]:
    """The loss as a function of the arrays, written with the engine's layers."""
    import diffkit.engine as dk

    layer = model.spec["layer"]
    half_sq = lambda out, target: 0.5 * dk.sum((out - target) ** 2.0)  # noqa: E731
    if layer == "conv1d":
        return lambda w, b, x, t: half_sq(dk.conv1d(x, w, b), t)
    if layer in ("maxpool", "avgpool"):
        pool = dk.max_pool2d if layer == "maxpool" else dk.avg_pool2d
        return lambda x, t: half_sq(pool(x, 2), t)
    if layer == "batchnorm":
        eps = float(model.point()["eps"])

        def bn(x, gamma, beta, t, eps=eps):
            return half_sq(dk.batch_norm(x, gamma, beta, eps=eps), t)
        return bn
    if layer == "rnn":
        def rnn(w, u, b, x, h0, y):
            hs = dk.elman_rnn(x, h0, w, u, b)
            return half_sq(hs[-1], y)
        return rnn
    if layer == "attention":
        def att(Wq, Wk, Wv, x, y):
            return half_sq(dk.attention(x @ Wq.T, x @ Wk.T, x @ Wv.T), y)
        return att
    if layer == "residual":
        return lambda W1, b1, W2, b2, x, t: half_sq(dk.residual_block(x, W1, b1, W2, b2, activation=dk.tanh), t)
    raise BadInput(f"no engine layer for model {shorten(model.name)}")


def _call(model: Model, point: Mapping[str, float] | None):
    arrays = layer_arrays(model, point)
    if model.name == "batchnorm" and point is not None and "eps" in point:
        fn = _loss_fn_with_eps(model, point["eps"])
    else:
        fn = _loss_fn(model)
    names = list(model.spec["arrays"])
    return fn, names, arrays


def _loss_fn_with_eps(model: Model, eps: float):
    import diffkit.engine as dk
    return lambda x, gamma, beta, t: 0.5 * dk.sum((dk.batch_norm(x, gamma, beta, eps=float(eps)) - t) ** 2.0)


def _param_arrays(model: Model) -> list[str]:
    wrt = set(model.wrt)
    return [k for k, (_, syms) in model.spec["arrays"].items() if all(s.name in wrt for s in syms)]


def layer_value_and_gradient(model: Model, point: Mapping[str, float] | None = None) -> tuple[float, dict[str, float]]:
    """The loss and its gradient by the engine's layer, keyed by the model's parameter names."""
    import diffkit.engine as dk

    fn, names, arrays = _call(model, point)
    wrt = _param_arrays(model)
    nums = tuple(names.index(k) for k in wrt)
    value, grads = dk.value_and_grad(fn, nums)(*[arrays[k] for k in names])
    out: dict[str, float] = {}
    for k, g in zip(wrt, grads):
        for s, v in zip(model.spec["arrays"][k][1], np.asarray(g).reshape(-1)):
            out[s.name] = float(v)
    return float(value), {p: out[p] for p in model.wrt}


def layer_gradient(model: Model, point: Mapping[str, float] | None = None) -> dict[str, float]:
    """The gradient by the engine's layer, keyed by the model's parameter names."""
    return layer_value_and_gradient(model, point)[1]


def layer_graph(model: Model, point: Mapping[str, float] | None = None):
    """The engine's recorded graph of the layer's loss (array nodes: one box per layer op)."""
    import diffkit.engine as dk

    fn, names, arrays = _call(model, point)
    wrt = _param_arrays(model)
    return dk.trace(fn, *[arrays[k] for k in names], wrt=wrt, name=model.name)
