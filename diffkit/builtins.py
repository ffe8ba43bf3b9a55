"""Built-in models, by name: ridge-sigmoid, linear-regression, logistic-regression, mlp, logistic-map,
and the layer zoo's small models (conv1d, maxpool, avgpool, batchnorm, rnn, attention, residual: diffkit.layer_models).

Every symbol is real (``real=True``), so |x|' = sign(x) and conjugates never appear.

>>> sorted(BUILTINS)[:6]
['attention', 'avgpool', 'batchnorm', 'conv1d', 'linear-regression', 'logistic-map']
>>> builtin("logistic-map", n=3).loss
16*x*(1 - x)*(-4*x*(1 - x) + 1)
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy as sp

from . import constraints as C
from .errors import BadInput
from .functions import relu, sigmoid, softplus, step
from .model import MatrixForm, Model

R = dict(real=True)

#: Activations an MLP layer may use, as SymPy callables.
ACTIVATIONS: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "sigmoid": sigmoid,
    "tanh": sp.tanh,
    "relu": relu,
    "step": step,
    "sign": sp.sign,
    "identity": lambda z: z,
}

#: Largest number of MLP parameters kept as a symbolic expression; wider nets are graph-only.
MLP_SYMBOLIC_MAX_PARAMS = 64
#: Largest number of MLP parameters at all: each weight is also a SymPy symbol (≈1 s and ~100 MB per 10⁵).
MLP_MAX_PARAMS = 100_000


def ridge_sigmoid() -> Model:
    """The lecture's neuron: z = wx + b, u = σ(z), l = ½(y − u)², r = w², L = l + λr."""
    w, b, x, y, lam = sp.symbols("w b x y lam", **R)
    z, u, l, r, L = sp.symbols("z u l r L", **R)
    steps = (
        (z, w * x + b),
        (u, sigmoid(z)),
        (l, sp.Rational(1, 2) * (y - u) ** 2),
        (r, w**2),
        (L, l + lam * r),
    )
    return Model(
        name="ridge-sigmoid",
        loss=_inline(steps),
        params=(w, b), data=(x, y), hyper=(lam,),
        defaults={"w": 0.5, "b": -0.3, "x": 1.7, "y": 1.0, "lam": 0.1},
        steps=steps,
        domains={"y": (0.0, 1.0), "lam": (0.0, 1.0)},
        description="single sigmoid neuron, squared error, ridge penalty (the lecture's example)",
        source="ridge-sigmoid",
    )


def linear_regression(d: int = 2) -> Model:
    """Least squares: per sample l = ½(y − ⟨w, x⟩)²; matrix form L = ½‖y − Xw‖², ∇L = −Xᵀ(y − Xw)."""
    d = C.DIM.check(d)
    ws = sp.symbols(f"w1:{d + 1}", **R)
    xs = sp.symbols(f"x1:{d + 1}", **R)
    y = sp.Symbol("y", **R)
    pred = sum((wi * xi for wi, xi in zip(ws, xs)), sp.Integer(0))
    n, dd = sp.symbols("n d", integer=True, positive=True)
    X, W, Y = sp.MatrixSymbol("X", n, dd), sp.MatrixSymbol("w", dd, 1), sp.MatrixSymbol("y", n, 1)
    mloss = (Y - X * W).T * (Y - X * W) / 2
    matrix = MatrixForm(loss=mloss, gradient=mloss.diff(W), wrt=W, inputs=(X, Y),
                        description="L(w) = ½‖y − Xw‖², summed over the n samples")
    defaults = {**{s.name: 0.5 * (-1) ** i for i, s in enumerate(ws)},
                **{s.name: 1.0 + 0.5 * i for i, s in enumerate(xs)}, "y": 1.0}
    return Model(
        name="linear-regression", loss=sp.Rational(1, 2) * (y - pred) ** 2,
        params=tuple(ws), data=tuple(xs) + (y,), defaults=defaults, matrix=matrix,
        description="linear regression, squared error per sample; matrix form ½‖y − Xw‖²",
        source="linear-regression", spec={"kind": "linear-regression", "d": d},
    )


def logistic_regression(d: int = 2) -> Model:
    """Cross-entropy −y log σ(z) − (1 − y) log(1 − σ(z)), z = ⟨w, x⟩ + b, written stably as softplus(z) − yz.

    Matrix form L = 1ᵀ softplus(Xw) − yᵀXw with gradient Xᵀ(σ(Xw) − y).
    """
    d = C.DIM.check(d)
    ws = sp.symbols(f"w1:{d + 1}", **R)
    xs = sp.symbols(f"x1:{d + 1}", **R)
    b, y = sp.symbols("b y", **R)
    z = sp.Symbol("z", **R)
    steps = ((z, sum((wi * xi for wi, xi in zip(ws, xs)), sp.Integer(0)) + b),
             (sp.Symbol("L", **R), softplus(z) - y * z))
    n, dd = sp.symbols("n d", integer=True, positive=True)
    X, W, Y = sp.MatrixSymbol("X", n, dd), sp.MatrixSymbol("w", dd, 1), sp.MatrixSymbol("y", n, 1)
    ones = sp.OneMatrix(n, 1)
    Z = X * W
    mloss = ones.T * Z.applyfunc(softplus) - Y.T * Z
    mgrad = X.T * (Z.applyfunc(sigmoid) - Y)
    matrix = MatrixForm(loss=mloss, gradient=mgrad, wrt=W, inputs=(X, Y),
                        description="L(w) = 1ᵀ softplus(Xw) − yᵀXw (no bias; append a column of ones)")
    defaults = {**{s.name: 0.5 * (-1) ** i for i, s in enumerate(ws)},
                **{s.name: 1.0 - 0.5 * i for i, s in enumerate(xs)}, "b": 0.1, "y": 1.0}
    return Model(
        name="logistic-regression", loss=_inline(steps),
        params=tuple(ws) + (b,), data=tuple(xs) + (y,), defaults=defaults, steps=steps,
        domains={"y": (0.0, 1.0)}, matrix=matrix,
        description="logistic regression, cross-entropy −y log σ(z) − (1−y) log(1−σ(z)) = softplus(z) − yz",
        source="logistic-regression", spec={"kind": "logistic-regression", "d": d},
    )


def logistic_map(n: int = 4) -> Model:
    """Baydin et al.'s expression-swell example: l₁ = x, l_{k+1} = 4 l_k (1 − l_k); f = l_n."""
    n = C.DEPTH.check(n)
    x = sp.Symbol("x", **R)
    ls = sp.symbols(f"l1:{n + 1}", **R)
    steps = [(ls[0], x)]
    for k in range(1, n):
        steps.append((ls[k], 4 * ls[k - 1] * (1 - ls[k - 1])))
    return Model(
        name="logistic-map", loss=_inline(tuple(steps)), params=(x,), defaults={"x": 0.3},
        steps=tuple(steps) if n > 1 else (), domains={"x": (0.0, 1.0)},
        description=f"logistic map l_(k+1) = 4 l_k (1 − l_k), l_1 = x, depth n = {n}",
        source="logistic-map", spec={"kind": "logistic-map", "n": n},
    )


def mlp(sizes: Sequence[int] = (2, 2, 1), activations: Sequence[str] | str | None = None,
        loss: str = "squared") -> Model:
    """An L-layer perceptron a_l = act_l(W_l a_{l-1} + b_l), with squared-error or cross-entropy loss.

    ``sizes`` = (input width, width of layer 1, ..., output width); one activation per layer
    (default: sigmoid for the hidden layers, identity for the last).
    Up to ``MLP_SYMBOLIC_MAX_PARAMS`` parameters the loss is kept symbolically; beyond, only
    ``spec`` is kept and the engine builds the graph.
    """
    if isinstance(sizes, list):
        sizes = tuple(sizes)
    sizes = C.SIZES.check(sizes)
    layers = len(sizes) - 1
    if activations is None:
        activations = ("sigmoid",) * (layers - 1) + ("identity",)
    if isinstance(activations, list):
        activations = tuple(activations)
    C.ACTIVATIONS.check(activations)
    acts = (activations,) * layers if isinstance(activations, str) else tuple(activations)
    if len(acts) != layers:
        raise BadInput(f"mlp has {layers} layer{'s' if layers != 1 else ''} (sizes {','.join(map(str, sizes))}) "
                       f"but {len(acts)} activation{'s were' if len(acts) != 1 else ' was'} given; give one per layer")
    C.MLP_LOSS.check(loss)
    spec = {"kind": "mlp", "sizes": sizes, "activations": acts, "loss": loss}
    n_params = sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(layers))
    if n_params > MLP_MAX_PARAMS:
        raise BadInput(f"mlp {'-'.join(map(str, sizes))} has {n_params} parameters; at most {MLP_MAX_PARAMS} "
                       "are allowed (use smaller --sizes)")
    # Symbols are made in plain loops (sp.Matrix with a filling lambda takes minutes for 10⁵
    # entries); matrices are formed only for the symbolic loss of a small net.
    Wsyms = [[[sp.Symbol(f"W{i + 1}_{r + 1}_{c + 1}", **R) for c in range(sizes[i])] for r in range(sizes[i + 1])]
             for i in range(layers)]
    bsyms = [[sp.Symbol(f"b{i + 1}_{r + 1}", **R) for r in range(sizes[i + 1])] for i in range(layers)]
    xsyms = [sp.Symbol(f"x{r + 1}", **R) for r in range(sizes[0])]
    ysyms = [sp.Symbol(f"y{r + 1}", **R) for r in range(sizes[-1])]
    params = tuple(s for W, bv in zip(Wsyms, bsyms) for s in [e for row in W for e in row] + bv)
    data = tuple(xsyms) + tuple(ysyms)
    defaults = {s.name: round(0.3 * ((i * 7) % 11 - 5) / 5, 6) for i, s in enumerate(params)}
    defaults.update({s.name: 0.5 + 0.25 * i for i, s in enumerate(xsyms)})
    defaults.update({s.name: 1.0 if i == 0 else 0.0 for i, s in enumerate(ysyms)})
    ys = ysyms
    domains = {s.name: (0.0, 1.0) for s in ys}
    expr = None
    if n_params <= MLP_SYMBOLIC_MAX_PARAMS:
        Ws, bs = [sp.Matrix(W) for W in Wsyms], [sp.Matrix(bv) for bv in bsyms]
        a = sp.Matrix(xsyms)
        for i in range(layers):
            zl = Ws[i] * a + bs[i]
            a = zl.applyfunc(ACTIVATIONS[acts[i]]) if i < layers - 1 else zl
        out = a  # pre-activation of the last layer
        if loss == "squared":
            pred = out.applyfunc(ACTIVATIONS[acts[-1]])
            expr = sp.Rational(1, 2) * sum((yk - pk) ** 2 for yk, pk in zip(ys, pred))
        elif sizes[-1] == 1:  # binary cross-entropy on the logit, stable form
            expr = softplus(out[0]) - ys[0] * out[0]
        else:  # softmax cross-entropy on the logits
            expr = sp.log(sum(sp.exp(o) for o in out)) - sum(yk * o for yk, o in zip(ys, out))
    return Model(
        name="mlp", loss=expr, params=params, data=data, defaults=defaults, domains=domains,
        description=_mlp_description(sizes, acts, loss), source="mlp", spec=spec,
    )


def _mlp_description(sizes, acts, loss) -> str:
    return (f"MLP {'-'.join(map(str, sizes))}, activations {', '.join(acts)}, {loss} loss"
            + ("" if loss == "squared" else " (on the last layer's logits)"))


BUILTINS: dict[str, Callable[..., Model]] = {
    "ridge-sigmoid": ridge_sigmoid,
    "linear-regression": linear_regression,
    "logistic-regression": logistic_regression,
    "mlp": mlp,
    "logistic-map": logistic_map,
}

# The layer zoo's small models: conv1d, maxpool, avgpool, batchnorm, rnn, attention, residual (diffkit.layer_models).
from .layer_models import LAYER_MODELS  # noqa: E402

BUILTINS.update(LAYER_MODELS)


def builtin(name: str, **options) -> Model:
    """The built-in model ``name``, configured with ``options`` (e.g. ``n=5`` for logistic-map)."""
    if not isinstance(name, str):
        raise BadInput(f"a built-in model name must be a string, one of {', '.join(BUILTINS)}; got {C.shorten(name)}")
    try:
        factory = BUILTINS[name]
    except KeyError:
        raise BadInput(f"unknown model {C.shorten(name)}; built-in models: {', '.join(BUILTINS)}") from None
    try:
        return factory(**options)
    except TypeError as exc:
        raise BadInput(f"bad option for model {name!r}: {exc}") from None


def _inline(steps: tuple[tuple[sp.Symbol, sp.Expr], ...]) -> sp.Expr:
    """Substitute the named steps into each other; the last step's expression, inlined."""
    env: dict[sp.Symbol, sp.Expr] = {}
    for sym, e in steps:
        env[sym] = e.xreplace(env)
    return env[steps[-1][0]]


def _check_int(what: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise BadInput(f"{what} must be an integer in [{lo}, {hi}], got {v!r}")
    return v
