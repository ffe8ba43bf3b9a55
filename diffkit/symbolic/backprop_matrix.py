"""The backprop equations of an L-layer MLP in matrix form, derived symbolically.

The network is the lecture's, written with matrices (one sample, column vectors):

    z⁽⁰⁾ = x,   a⁽ˡ⁾ = W⁽ˡ⁾z⁽ˡ⁻¹⁾ + b⁽ˡ⁾,   z⁽ˡ⁾ = σ⁽ˡ⁾(a⁽ˡ⁾),   ŷ = z⁽ᴸ⁾,

with W⁽ˡ⁾ an n_l × n_{l−1} MatrixSymbol.  BACKWARD in matrix form is

    δ⁽ᴸ⁾ = ∇_ŷ L ⊙ σ⁽ᴸ⁾′(a⁽ᴸ⁾),   δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ σ⁽ˡ⁾′(a⁽ˡ⁾),
    ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾z⁽ˡ⁻¹⁾ᵀ,   ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾,

where δ⁽ˡ⁾ = ∂L/∂a⁽ˡ⁾.  SymPy's matrix calculus derives every local step: ∇_ŷ ½‖ŷ − y‖² = ŷ − y;
∂(δᵀ(Wz + b))/∂W = δzᵀ, /∂b = δ, /∂z = Wᵀδ (with symbolic sizes n_l); and ∂(gᵀσ(a))/∂a, which
SymPy returns as an array diagonal with σ′ derived inside it.  SymPy stops at the composition
(``diff`` of the whole network raises), so the chaining — δ⁽ˡ⁾ standing for ∂L/∂a⁽ˡ⁾ — and the
reading of that diagonal as a Hadamard product g ⊙ σ′(a) are diffkit's own rules.  With a
cross-entropy loss on the last layer's logits, δ⁽ᴸ⁾ = σ(a⁽ᴸ⁾) − y (one output, SymPy's derivative of
softplus(a) − ya) or softmax(a⁽ᴸ⁾) − y (several).

The equations are data (:class:`MatrixBackprop`): they render as text, Unicode and LaTeX, and
:meth:`MatrixBackprop.evaluate` computes them with NumPy at a point, which is how they are checked
against the engine and against finite differences.

Examples
--------
>>> from diffkit import builtin
>>> bp = matrix_backprop(builtin("mlp", sizes=(2, 3, 3, 1)))
>>> for eq in bp.deltas + bp.gradients[:2]:
...     print(eq.pretty)
δ⁽³⁾ = ŷ − y
δ⁽²⁾ = (W⁽³⁾)ᵀδ⁽³⁾ ⊙ σ′(a⁽²⁾)
δ⁽¹⁾ = (W⁽²⁾)ᵀδ⁽²⁾ ⊙ σ′(a⁽¹⁾)
∂L/∂W⁽³⁾ = δ⁽³⁾z⁽²⁾ᵀ
∂L/∂b⁽³⁾ = δ⁽³⁾
>>> bp.deltas[1].text
'delta2 = (W3.T @ delta3) * sigmoid_prime(a2)'
>>> bp.gradients[-2].latex
'\\\\frac{\\\\partial L}{\\\\partial W^{(1)}} = \\\\delta^{(1)} x^{\\\\top}'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, MatrixExpr, Transpose
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..errors import BadInput
from ..constraints import shorten
from ..functions import relu, sigmoid, sigmoid_prime, softplus, step
from . import render

__all__ = ["Equation", "MatrixBackprop", "matrix_backprop", "Softmax", "evaluate"]

#: The activations an MLP layer may use, as SymPy callables (the names of ``diffkit.builtins``).
_ACTS: dict[str, Callable] = {"sigmoid": sigmoid, "tanh": sp.tanh, "relu": relu, "step": step, "sign": sp.sign,
                              "identity": lambda z: z}

_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class Softmax(MatrixExpr):
    """softmax(a) of a column vector: exp(a_j)/Σ_k exp(a_k) (not elementwise, so not an applyfunc)."""

    def __new__(cls, arg: MatrixExpr):
        return sp.Basic.__new__(cls, arg)

    @property
    def shape(self):
        return self.args[0].shape


# -- the equations as data ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Equation:
    """``lhs = rhs`` with the concrete ``shape`` of its value; ``kind`` forward/loss/delta/gradient."""

    name: str            # W1, b1, a1, z1, delta1, dW1, db1, L
    lhs: Any             # a MatrixSymbol, or the left-hand side by style ({"pretty": "∂L/∂W⁽¹⁾", ...})
    rhs: Any             # a SymPy matrix expression
    kind: str
    layer: int
    shape: tuple[int, int]
    names: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def rendered(self, style: str) -> tuple[str, str]:
        """(left-hand side, right-hand side) in ``style`` (pretty, text or latex)."""
        lhs = self.lhs[style] if isinstance(self.lhs, dict) else _render(self.lhs, style, self.names)
        return lhs, _render(self.rhs, style, self.names)

    @property
    def pretty(self) -> str:
        return " = ".join(self.rendered("pretty"))

    @property
    def text(self) -> str:
        return " = ".join(self.rendered("text"))

    @property
    def latex(self) -> str:
        return " = ".join(self.rendered("latex"))


@dataclass(frozen=True)
class MatrixBackprop:
    """FORWARD and BACKWARD of an MLP as matrix equations (see the module docstring).

    Attributes
    ----------
    sizes, activations, loss : the network (as ``diffkit.builtins.mlp`` takes them)
    forward : a⁽ˡ⁾ and z⁽ˡ⁾, layer by layer
    deltas : δ⁽ᴸ⁾, …, δ⁽¹⁾ (BACKWARD order)
    gradients : ∂L/∂W⁽ᴸ⁾, ∂L/∂b⁽ᴸ⁾, …, ∂L/∂W⁽¹⁾, ∂L/∂b⁽¹⁾
    notes : where each local step came from (SymPy, or diffkit's rule)
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    forward: tuple[Equation, ...]
    deltas: tuple[Equation, ...]
    gradients: tuple[Equation, ...]
    symbols: Mapping[str, sp.MatrixSymbol]
    names: Mapping[str, dict]
    notes: tuple[str, ...] = ()

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1

    def loss_text(self, style: str = "pretty") -> str:
        """The loss as the lecture writes it: ½‖ŷ − y‖², softplus(a⁽ᴸ⁾) − y·a⁽ᴸ⁾, or log Σ e^a − yᵀa."""
        L = self.layers
        a = _name(f"a{L}", style, self.names)
        if self.loss == "squared":
            yhat = _name(f"z{L}", style, self.names)
            return {"pretty": f"½‖{yhat} − y‖²", "text": f"0.5*sum(({yhat} - y)**2)",
                    "latex": r"\frac{1}{2}\left\lVert %s - y \right\rVert^{2}" % yhat}[style]
        if self.sizes[-1] == 1:
            return {"pretty": f"softplus({a}) − y·{a}", "text": f"softplus({a}) - y*{a}",
                    "latex": r"\operatorname{softplus}\left(%s\right) - y %s" % (a, a)}[style]
        return {"pretty": f"log Σₖ exp({a})ₖ − yᵀ{a}", "text": f"log(sum(exp({a}))) - y.T @ {a}",
                "latex": r"\log \sum_k e^{%s_k} - y^{\top} %s" % (a, a)}[style]

    def equations(self) -> tuple[Equation, ...]:
        return self.forward + self.deltas + self.gradients

    # -- numbers -------------------------------------------------------------------------------------
    def evaluate(self, arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Every equation's value at ``arrays`` (``x``, ``y``, ``W1``, ``b1``, …; vectors as columns).

        Returns a mapping name → value: ``a1``, ``z1``, …, ``L``, ``delta1``, …, ``dW1``, ``db1``, ….
        """
        env: dict[str, np.ndarray] = {}
        for k, v in arrays.items():
            v = np.asarray(v, dtype=np.float64)
            env[k] = v.reshape(-1, 1) if v.ndim == 1 else v
        for eq in self.forward:
            env[eq.name] = evaluate(eq.rhs, env)
        L = self.layers
        a = env[f"a{L}"]
        y = env["y"]
        if self.loss == "squared":
            env["L"] = np.array(0.5 * float(np.sum((env[f"z{L}"] - y) ** 2)))
        elif self.sizes[-1] == 1:
            env["L"] = np.array(float(np.logaddexp(0.0, a[0, 0]) - y[0, 0] * a[0, 0]))
        else:
            m = a.max()
            env["L"] = np.array(float(m + np.log(np.sum(np.exp(a - m))) - float(y[:, 0] @ a[:, 0])))
        for eq in self.deltas + self.gradients:
            env[eq.name] = evaluate(eq.rhs, env)
        return env


# -- rendering -----------------------------------------------------------------------------------------
def _names_for(L: int, loss: str) -> dict[str, dict]:
    """How each matrix symbol is written in each style (W⁽¹⁾, W^{(1)}, W1; ŷ for the prediction)."""
    out: dict[str, dict] = {"x": {"pretty": "x", "latex": "x", "text": "x"},
                            "y": {"pretty": "y", "latex": "y", "text": "y"}}
    for l in range(1, L + 1):
        sup = f"⁽{str(l).translate(_SUP)}⁾"
        for base, greek in (("W", "W"), ("b", "b"), ("a", "a"), ("z", "z"), ("delta", "δ")):
            tex = r"\delta" if base == "delta" else base
            out[f"{base}{l}"] = {"pretty": f"{greek}{sup}", "latex": f"{tex}^{{({l})}}", "text": f"{base}{l}"}
    if loss == "squared":
        out[f"z{L}"] = {"pretty": "ŷ", "latex": r"\hat{y}", "text": "yhat"}
    return out


def _name(key: str, style: str, names: Mapping[str, dict]) -> str:
    entry = names.get(key)
    return entry[style] if entry else key


_FN = {"pretty": {"sigmoid": "σ", "sigmoid_prime": "σ′", "tanh": "tanh", "relu": "relu", "step": "step",
                  "softplus": "softplus", "sign": "sign"},
       "latex": {"sigmoid": r"\sigma", "sigmoid_prime": r"\sigma'", "tanh": r"\tanh", "relu": r"\operatorname{relu}",
                 "step": r"\operatorname{step}", "softplus": r"\operatorname{softplus}", "sign": r"\operatorname{sign}"},
       "text": {}}


def _render(e: Any, style: str, names: Mapping[str, dict]) -> str:
    """``e`` as the lecture writes matrices: juxtaposition for products, ⊙ for Hadamard, ᵀ."""
    if isinstance(e, sp.MatrixSymbol):
        return _name(e.name, style, names)
    if isinstance(e, Transpose):
        inner = _render(e.arg, style, names)
        wrap = isinstance(e.arg, sp.MatrixSymbol) and e.arg.name.startswith("W") or not isinstance(e.arg, sp.MatrixSymbol)
        if style == "text":
            return f"({inner}).T" if not isinstance(e.arg, sp.MatrixSymbol) else f"{inner}.T"
        if wrap:
            inner = f"({inner})" if style == "pretty" else r"\left(%s\right)" % inner
        elif style == "latex" and "^" in inner:
            inner = "{%s}" % inner  # z^{(1)} transposed: {z^{(1)}}^{\top}, not a double superscript
        return inner + ("ᵀ" if style == "pretty" else r"^{\top}")
    if isinstance(e, MatMul):
        coeff, factors = e.as_coeff_matrices()
        parts = [_render(f, style, names) if not isinstance(f, (MatAdd, HadamardProduct)) else
                 _paren(_render(f, style, names), style) for f in factors]
        sep = {"pretty": "", "latex": " ", "text": " @ "}[style]
        body = sep.join(parts)
        if coeff == 1:
            return body
        if coeff == -1:
            return ("−" if style == "pretty" else "-") + body
        return f"{_scalar(coeff, style)}{'*' if style == 'text' else '·' if style == 'pretty' else ' '}{body}"
    if isinstance(e, MatAdd):
        out = ""
        terms = sorted(e.args, key=_negative)
        for i, t in enumerate(terms):
            neg = _negative(t)
            txt = _render(-t if neg else t, style, names)
            minus = "−" if style == "pretty" else "-"
            out += (f" {minus} " if neg else " + ") + txt if i else (minus + txt if neg else txt)
        return out
    if isinstance(e, HadamardProduct):
        sep = {"pretty": " ⊙ ", "latex": r" \odot ", "text": " * "}[style]
        parts = []
        for f in e.args:
            s = _render(f, style, names)
            if isinstance(f, MatAdd) or (style == "text" and isinstance(f, MatMul)):
                s = _paren(s, style)
            parts.append(s)
        return sep.join(parts)
    if isinstance(e, ElementwiseApplyFunction):
        return _apply(e.function, e.expr, style, names)
    if isinstance(e, Softmax):
        arg = _render(e.args[0], style, names)
        return {"pretty": f"softmax({arg})", "text": f"softmax({arg})",
                "latex": r"\operatorname{softmax}\left(%s\right)" % arg}[style]
    if isinstance(e, sp.ZeroMatrix):
        return "0"
    return str(e)


def _negative(t: Any) -> bool:
    return isinstance(t, MatMul) and bool(t.as_coeff_matrices()[0] < 0)


def _paren(s: str, style: str) -> str:
    return f"({s})" if style != "latex" else r"\left(%s\right)" % s


def _scalar(c: Any, style: str) -> str:
    if style == "pretty":
        return render.pretty(c)
    return render.latex(c) if style == "latex" else str(c)


def _apply(fn: sp.Lambda, arg: Any, style: str, names: Mapping[str, dict]) -> str:
    """f(a) for an elementwise function given as a Lambda: σ′(a⁽¹⁾), 1 − tanh(a⁽²⁾)², step(a⁽¹⁾)."""
    (d,), body = fn.variables, fn.expr
    a = _render(arg, style, names)
    if isinstance(body, sp.Function) and body.args == (d,):
        name = type(body).__name__
        f = _FN[style].get(name, name)
        return f"{f}({a})" if style != "latex" else r"%s\left(%s\right)" % (f, a)
    placeholder = sp.Symbol("ARGUMENT")
    text = {"pretty": render.pretty, "latex": render.latex, "text": render.text}[style](body.xreplace({d: placeholder}))
    return _paren(text.replace("ARGUMENT", a), style)


# -- evaluation ----------------------------------------------------------------------------------------
def evaluate(e: Any, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """The value of a matrix expression, with matrix symbols looked up in ``env`` by name.

    Elementwise functions are made NumPy functions by :func:`diffkit.symbolic.to_numpy`.
    """
    if isinstance(e, sp.MatrixSymbol):
        if e.name not in env:
            raise BadInput(f"no value for {e.name}")
        return env[e.name]
    if isinstance(e, Transpose):
        return evaluate(e.arg, env).T
    if isinstance(e, MatMul):
        coeff, factors = e.as_coeff_matrices()
        out = evaluate(factors[0], env)
        for f in factors[1:]:
            out = out @ evaluate(f, env)
        return float(coeff) * out if coeff != 1 else out
    if isinstance(e, MatAdd):
        vals = [evaluate(t, env) for t in e.args]
        out = vals[0]
        for v in vals[1:]:
            out = out + v
        return out
    if isinstance(e, HadamardProduct):
        vals = [evaluate(t, env) for t in e.args]
        out = vals[0]
        for v in vals[1:]:
            out = out * v
        return out
    if isinstance(e, ElementwiseApplyFunction):
        from .numeric import to_numpy
        (d,), body = e.function.variables, e.function.expr
        v = evaluate(e.expr, env)
        return np.broadcast_to(np.asarray(to_numpy(body, [d])(v), dtype=np.float64), v.shape)
    if isinstance(e, Softmax):
        v = evaluate(e.args[0], env)
        p = np.exp(v - v.max())
        return p / p.sum()
    if isinstance(e, sp.ZeroMatrix):
        return np.zeros(tuple(int(s) for s in e.shape))
    raise BadInput(f"cannot evaluate the matrix expression {e}")


# -- the derivation --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _derivative_lambda(act: str) -> tuple[sp.Lambda | None, str]:
    """σ′ of activation ``act`` as a Lambda, from SymPy's ∂(gᵀσ(a))/∂a, which it returns as
    diag(g·σ′(aᵀ)).  Returns (Lambda, or None for a zero derivative; where it came from).
    """
    fn = _ACTS[act]
    n = sp.Symbol("n", integer=True, positive=True)
    a, g = sp.MatrixSymbol("a", n, 1), sp.MatrixSymbol("g", n, 1)
    d = sp.Dummy("d", real=True)
    try:
        res = (g.T * a.applyfunc(fn)).diff(a)
        lams = [x.function for x in sp.preorder_traversal(res) if isinstance(x, ElementwiseApplyFunction)]
        lam = lams[0] if len(lams) == 1 else None
        how = "SymPy (∂(gᵀσ(a))/∂a, read as g ⊙ σ′(a))"
    except Exception:  # noqa: BLE001 - SymPy's matrix calculus stops here: diffkit's rule takes over
        lam = None
    if lam is None:
        lam = sp.Lambda(d, sp.diff(fn(d), d))
        how = "diffkit's rule (σ′ by sp.diff)"
    body = lam.expr
    if body.has(sp.Derivative) or body.has(sp.DiracDelta):  # sign′, step′: 0 away from the jump
        body = sp.Integer(0)
    if body == 0:
        return None, how
    return sp.Lambda(lam.variables, body), how


def _hadamard(g: MatrixExpr, lam: sp.Lambda | None, a: sp.MatrixSymbol) -> MatrixExpr:
    if lam is None:
        return sp.ZeroMatrix(*a.shape)
    if lam.expr == 1:
        return g
    return HadamardProduct(g, ElementwiseApplyFunction(lam, a))


def _local(expr_fn: Callable, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """∂(expr)/∂(wrt) of a 1×1 ``expr`` by SymPy's matrix calculus, as a matrix expression.

    (The trace of the 1×1 matrix makes it a scalar: SymPy then returns δzᵀ, not an array form.)
    """
    out = sp.Trace(expr_fn()).diff(wrt)
    if not isinstance(out, MatrixExpr):
        raise BadInput(f"SymPy's matrix calculus returned {out} for ∂/∂{wrt}")
    return out


def matrix_backprop(model: Any = None, *, sizes: Sequence[int] | None = None,
                    activations: Sequence[str] | None = None, loss: str | None = None) -> MatrixBackprop:
    """The backprop equations of an MLP (a built-in ``mlp`` model, or ``sizes``/``activations``/``loss``).

    Raises
    ------
    BadInput
        For a model that is not an MLP.
    """
    if model is not None:
        spec = getattr(model, "spec", {}) or {}
        if spec.get("kind") != "mlp":
            raise BadInput(f"model {shorten(getattr(model, 'name', model))} is not an MLP; the matrix backprop equations "
                           "are for mlp (--sizes, --activations, --mlp-loss)")
        sizes, activations, loss = spec["sizes"], spec["activations"], spec["loss"]
    sizes = tuple(int(s) for s in sizes)
    L = len(sizes) - 1
    acts = tuple(activations) if activations is not None else ("sigmoid",) * (L - 1) + ("identity",)
    loss = loss or "squared"
    if L < 1 or len(acts) != L or any(a not in _ACTS for a in acts):
        raise BadInput(f"an MLP needs one activation per layer from {', '.join(_ACTS)}; got {acts} for sizes {sizes}")
    n = sp.symbols(f"n0:{L + 1}", integer=True, positive=True)
    x, y = sp.MatrixSymbol("x", n[0], 1), sp.MatrixSymbol("y", n[L], 1)
    W = [None] + [sp.MatrixSymbol(f"W{l}", n[l], n[l - 1]) for l in range(1, L + 1)]
    b = [None] + [sp.MatrixSymbol(f"b{l}", n[l], 1) for l in range(1, L + 1)]
    a = [None] + [sp.MatrixSymbol(f"a{l}", n[l], 1) for l in range(1, L + 1)]
    z = [x] + [sp.MatrixSymbol(f"z{l}", n[l], 1) for l in range(1, L + 1)]
    delta = [None] + [sp.MatrixSymbol(f"delta{l}", n[l], 1) for l in range(1, L + 1)]
    names = _names_for(L, loss)
    shape = lambda l: (sizes[l], 1)  # noqa: E731
    symbols = {s.name: s for s in [x, y] + W[1:] + b[1:] + a[1:] + z[1:] + delta[1:]}
    notes: list[str] = []

    forward = []
    for l in range(1, L + 1):
        forward.append(Equation(f"a{l}", a[l], W[l] * z[l - 1] + b[l], "forward", l, shape(l), names))
        if l < L or loss == "squared":
            act = acts[l - 1]
            rhs = a[l] if act == "identity" else a[l].applyfunc(_ACTS[act])
            forward.append(Equation(f"z{l}", z[l], rhs, "forward", l, shape(l), names))

    # δ⁽ᴸ⁾
    if loss == "squared":
        grad_yhat = _local(lambda: (z[L] - y).T * (z[L] - y) / 2, z[L])  # ŷ − y, by SymPy
        notes.append("∇_ŷ L = ŷ − y: SymPy's derivative of ½(ŷ − y)ᵀ(ŷ − y) with respect to the MatrixSymbol ŷ")
        lam, how = (None, "") if acts[-1] == "identity" else _derivative_lambda(acts[-1])
        top = grad_yhat if acts[-1] == "identity" else _hadamard(grad_yhat, lam, a[L])
    elif sizes[-1] == 1:
        s, t = sp.symbols("s t", real=True)
        ds = sp.diff(softplus(s) - t * s, s)  # σ(s) − t, by SymPy
        lam = sp.Lambda(s, ds.xreplace({t: 0}))
        top = MatAdd(ElementwiseApplyFunction(lam, a[L]), -y)
        notes.append(f"δ⁽ᴸ⁾ = σ(a⁽ᴸ⁾) − y: SymPy's derivative of softplus(a) − y·a is {ds}")
    else:
        top = MatAdd(Softmax(a[L]), -y)
        notes.append("δ⁽ᴸ⁾ = softmax(a⁽ᴸ⁾) − y: ∂/∂a_j of log Σ_k e^(a_k) − yᵀa is e^(a_j)/Σ_k e^(a_k) − y_j "
                     "(diffkit's rule, checked componentwise by SymPy in the tests)")
    deltas = [Equation(f"delta{L}", delta[L], top, "delta", L, shape(L), names)]
    for l in range(L - 1, 0, -1):
        g = _local(lambda l=l: delta[l + 1].T * (W[l + 1] * z[l] + b[l + 1]), z[l])  # (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾, by SymPy
        act = acts[l - 1]
        if act == "identity":
            rhs = g
        else:
            lam, how = _derivative_lambda(act)
            rhs = _hadamard(g, lam, a[l])
        deltas.append(Equation(f"delta{l}", delta[l], rhs, "delta", l, shape(l), names))
    notes.append("(W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾, δ⁽ˡ⁾z⁽ˡ⁻¹⁾ᵀ and δ⁽ˡ⁾: SymPy's derivatives of δᵀ(Wz + b) with respect to z, W "
                 "and b (MatrixSymbols of symbolic sizes); the chain through δ⁽ˡ⁾ = ∂L/∂a⁽ˡ⁾ and the Hadamard "
                 "form g ⊙ σ′(a) of SymPy's diagonal are diffkit's rules")

    gradients = []
    for l in range(L, 0, -1):
        lin = lambda l=l: delta[l].T * (W[l] * z[l - 1] + b[l])  # noqa: E731
        for key, wrt, shp in (("W", W[l], (sizes[l], sizes[l - 1])), ("b", b[l], shape(l))):
            lhs = {"pretty": f"∂L/∂{names[f'{key}{l}']['pretty']}",
                   "latex": r"\frac{\partial L}{\partial %s}" % names[f"{key}{l}"]["latex"],
                   "text": f"d{key}{l}"}
            gradients.append(Equation(f"d{key}{l}", lhs, _local(lin, wrt), "gradient", l, shp, names))
    return MatrixBackprop(sizes, acts, loss, tuple(forward), tuple(deltas), tuple(gradients), symbols, names,
                          tuple(notes))


# -- as a Derivation (``diffkit derive mlp --form matrix``) ------------------------------------------
def matrix_derivation(model: Any):
    """The MLP's gradient in matrix form as a :class:`~diffkit.symbolic.derive.Derivation`.

    Its ``replacements`` are the FORWARD equations and the δ⁽ˡ⁾ of BACKWARD; its ``gradient`` maps
    W1, b1, … to δ⁽ˡ⁾z⁽ˡ⁻¹⁾ᵀ and δ⁽ˡ⁾; :meth:`MatrixDerivation.lhs` names each left-hand side.

    >>> from diffkit import builtin
    >>> d = matrix_derivation(builtin("mlp", sizes=(2, 3, 1)))
    >>> d.rendered()["gradient"]["W1"], d.lhs("W1")
    ('δ⁽¹⁾xᵀ', '∂L/∂W⁽¹⁾')
    """
    from .derive import Derivation

    bp = matrix_backprop(model)

    @dataclass(frozen=True)
    class MatrixDerivation(Derivation):
        backprop: MatrixBackprop | None = None

        def lhs(self, p: str, style: str = "pretty") -> str:
            eq = next(e for e in self.backprop.gradients if e.name == "d" + p)
            return eq.lhs[style]

        def rendered(self, style: str = "pretty") -> dict[str, Any]:
            b = self.backprop
            return {"loss": b.loss_text(style),
                    "gradient": {e.name[1:]: _render(e.rhs, style, b.names) for e in _param_order(b)},
                    "replacements": [[_render(e.lhs, style, b.names), _render(e.rhs, style, b.names)]
                                     for e in b.forward + b.deltas]}

        def to_dict(self) -> dict[str, Any]:
            b = self.backprop
            r = {s: self.rendered(s) for s in ("text", "pretty", "latex")}
            return {"model": self.model.name, "form": self.form, "wrt": list(self.gradient),
                    "params": list(self.model.wrt),
                    "loss": {s: r[s]["loss"] for s in r},
                    "gradient": {k: {s: r[s]["gradient"][k] for s in r} for k in self.gradient},
                    "replacements": [{"symbol": r["text"]["replacements"][i][0],
                                      **{s: r[s]["replacements"][i][1] for s in r}}
                                     for i in range(len(b.forward) + len(b.deltas))],
                    "notes": list(self.notes)}

    grads = {e.name[1:]: e.rhs for e in _param_order(bp)}
    reps = tuple((e.lhs, e.rhs) for e in bp.forward + bp.deltas)
    desc = ("z⁽⁰⁾ = x, a⁽ˡ⁾ = W⁽ˡ⁾z⁽ˡ⁻¹⁾ + b⁽ˡ⁾, z⁽ˡ⁾ = σ⁽ˡ⁾(a⁽ˡ⁾); δ⁽ˡ⁾ = ∂L/∂a⁽ˡ⁾; W⁽ˡ⁾ is "
            + ", ".join(f"{m}×{n}" for n, m in zip(bp.sizes, bp.sizes[1:])) + " (l = 1.."
            + f"{bp.layers}); one sample, column vectors")
    return MatrixDerivation(model, "matrix", grads, replacements=reps, loss=None, notes=(desc,), backprop=bp)


def _param_order(bp: MatrixBackprop) -> list[Equation]:
    """∂L/∂W⁽¹⁾, ∂L/∂b⁽¹⁾, ∂L/∂W⁽²⁾, … (the model's parameter order)."""
    return sorted(bp.gradients, key=lambda e: (e.layer, e.name[1]))
