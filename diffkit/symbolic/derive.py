"""Symbolic derivation with SymPy: gradient, Hessian and the views of a gradient.

Views (``FORMS``):

* ``lecture``  — as SymPy's ``diff`` returns it with σ and σ′ as functions, printed in the
  lecture's order: ∂L/∂w = (σ(wx + b) − y)·σ′(wx + b)·x + 2λw;
* ``expanded`` — σ, σ′ and softplus written with exponentials;
* ``simplified`` — textbook forms (:mod:`diffkit.symbolic.textbook`: σ′ = σ(1 − σ),
  tanh′ = 1 − tanh², the common factor collected); never longer than the lecture form;
* ``cse``      — ``sympy.cse`` jointly over all partials (shared subexpressions named x0, x1, ...);
* ``dag``      — differentiated on the expression DAG (:mod:`diffkit.symbolic.dag`): a
  straight-line program t0, t1, ... then the adjoints ∂_t L, each shared subexpression
  differentiated once;
* ``matrix``   — the MatrixSymbol form (−Xᵀ(y − Xw) for least squares), where the model has one.

Examples
--------
>>> from diffkit import builtin
>>> m = builtin("ridge-sigmoid")
>>> g = gradient(m)
>>> g["b"]
-(y - sigmoid(b + w*x))*sigmoid_prime(b + w*x)
>>> d = derive(m, form="cse")
>>> [(str(s), str(e)) for s, e in d.replacements]
[('t0', 'b + w*x'), ('t1', '(y - sigmoid(t0))*sigmoid_prime(t0)')]
>>> d.gradient["b"]
-t1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..errors import BadInput
from ..functions import expand_sigmoid
from ..model import Model
from . import render
from .. import constraints as _cons

FORMS = ("lecture", "expanded", "simplified", "cse", "dag", "matrix")


def almost_everywhere(expr: sp.Expr) -> sp.Expr:
    """Drop Dirac deltas: sign′ and Heaviside′ are 0 away from their jump (diffkit's convention,
    like step′ = 0); the kink itself is reported by the agreement check, not differentiated."""
    if not expr.has(sp.DiracDelta):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.Integer(0))


@_cons.validate_params(model=_cons.MODEL)
def gradient(model: Model) -> dict[str, sp.Expr]:
    """The naive symbolic gradient: each partial ∂L/∂p as ``sympy.diff`` returns it.

    (Dirac deltas from differentiating sign or Heaviside are dropped: :func:`almost_everywhere`.)
    """
    loss = model.loss_expr
    return {p.name: almost_everywhere(sp.diff(loss, p)) for p in model.params}


@_cons.validate_params(model=_cons.MODEL)
def hessian(model: Model) -> sp.Matrix:
    """The Hessian of the loss with respect to the parameters (symmetric by construction)."""
    return sp.hessian(model.loss_expr, model.params).applyfunc(almost_everywhere)


@dataclass(frozen=True)
class Derivation:
    """The gradient of a model in one view, ready to render.

    ``gradient`` maps each parameter name to its expression in this view; with ``form="cse"``
    the expressions use the symbols defined in ``replacements`` (in order).  With
    ``form="matrix"`` there is a single entry named after the matrix parameter.
    """

    model: Model
    form: str
    gradient: dict[str, sp.Expr]
    replacements: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    loss: sp.Expr | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def rendered(self, style: str = "pretty") -> dict[str, Any]:
        """Strings for the loss, each partial and each CSE replacement in ``style``."""
        fn = {"pretty": render.pretty, "text": render.text, "latex": render.latex}[style]
        return {
            "loss": fn(self.loss) if self.loss is not None else None,
            "gradient": {k: fn(v) for k, v in self.gradient.items()},
            "replacements": [[str(s) if style == "text" else fn(s), fn(e)] for s, e in self.replacements],
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the model, the form, and text / Unicode / LaTeX of every expression."""
        return {
            "model": self.model.name,
            "form": self.form,
            "wrt": list(self.gradient),
            "params": list(self.model.wrt),
            "loss": {s: self.rendered(s)["loss"] for s in ("text", "pretty", "latex")},
            "gradient": {k: {"text": render.text(v), "pretty": render.pretty(v), "latex": render.latex(v)}
                         for k, v in self.gradient.items()},
            "replacements": [{"symbol": str(s), "text": render.text(e), "pretty": render.pretty(e),
                              "latex": render.latex(e)} for s, e in self.replacements],
            "notes": list(self.notes),
        }

    def _repr_html_(self):  # notebooks: the rendering lives in diffkit.display
        from ..display import derivation_html

        return derivation_html(self)

    def _repr_latex_(self):  # notebooks: the rendering lives in diffkit.display
        from ..display import derivation_latex

        return derivation_latex(self)



@_cons.validate_params(model=_cons.MODEL)  # the form is checked below, naming the forms
def derive(model: Model, *, form: str = "lecture", grad: dict[str, sp.Expr] | None = None,
           cse: tuple | None = None) -> Derivation:
    """The gradient of ``model`` in the view ``form`` (one of ``FORMS``).

    ``grad`` (the naive gradient, :func:`gradient`) and ``cse`` (its :func:`cse_gradient`) may
    be passed in when already computed, so that nothing is derived twice.
    """
    if form not in FORMS:
        raise BadInput(f"unknown form {form!r}; allowed: {', '.join(FORMS)}")
    if form == "matrix":
        mf = model.matrix
        if mf is None and (getattr(model, "spec", None) or {}).get("kind") == "mlp":
            from .backprop_matrix import matrix_derivation  # the backprop equations, layer by layer
            return matrix_derivation(model)
        if mf is None:
            raise BadInput(f"model {model.name!r} has no matrix form; models with one: "
                           "linear-regression, logistic-regression, mlp")
        return Derivation(model, form, {mf.wrt.name: mf.gradient}, loss=mf.loss,
                          notes=(mf.description,) if mf.description else ())
    loss = model.loss_expr
    if form == "dag":
        from .dag import dag_gradient

        d = dag_gradient(loss, model.params, avoid=model.symbol_names)
        return Derivation(model, form, dict(d.gradient), replacements=d.definitions, loss=loss,
                          notes=(f"{len(d.definitions)} definitions, {d.ops} operations "
                                 "(each shared subexpression differentiated once)",))
    g = gradient(model) if grad is None else grad
    if form == "lecture":
        return Derivation(model, form, g, loss=loss)
    if form == "expanded":
        return Derivation(model, form, {k: expand_sigmoid(v) for k, v in g.items()}, loss=expand_sigmoid(loss))
    if form == "simplified":
        from .textbook import textbook

        return Derivation(model, form, {k: textbook(v) for k, v in g.items()}, loss=loss)
    repl, reduced = cse if cse is not None else cse_gradient(g, avoid=model.symbol_names)
    return Derivation(model, form, dict(zip(g, reduced)), replacements=tuple(repl), loss=loss)


def cse_gradient(g: dict[str, sp.Expr], *, avoid=()) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """``sympy.cse`` jointly over all partials, with deterministic symbol names x0, x1, ...

    The prefix of the names is the first of x, t, c, s, v, q that no name in ``avoid`` uses
    (so a model with data x1, x2 gets t0, t1, ...).
    """
    symbols = sp.numbered_symbols(cse_prefix(avoid), real=True)
    repl, reduced = sp.cse(list(g.values()), symbols=symbols, order="canonical")
    return list(repl), list(reduced)


def cse_prefix(avoid) -> str:
    """The first prefix of x, t, c, s, v, q for which no name in ``avoid`` is prefix+digits."""
    import re

    for prefix in ("x", "t", "c", "s", "v", "q"):
        if not any(n == prefix or re.fullmatch(prefix + r"\d+", n) for n in avoid):
            return prefix
    return "cse_"
