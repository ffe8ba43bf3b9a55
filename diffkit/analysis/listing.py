"""The step-by-step backprop listing: BACKWARD over the model's named steps, as the lecture writes it.

For every variable node v, in reverse topological order, the listing gives

    ∂_v L = Σ_{c ∈ Children(v)} ∂_c L · ∂v_c/∂v

with each local derivative ∂v_c/∂v derived by SymPy from the step that defines c, an adjoint
``∂_c L`` that is identically 1 folded away (so ∂_u L = ∂_l L·∂_u l reads u − y), and the value at
the point.  Inputs (data, hyperparameters) are not variables and get no line.

Examples
--------
>>> from diffkit import builtin
>>> lst = backprop_listing(builtin("ridge-sigmoid"))
>>> for line in lst.lines:
...     print(line.pretty, "   =", round(line.value, 6))
∂_L L = 1    = 1.0
∂_r L = λ    = 0.1
∂_l L = 1    = 1.0
∂_u L = u − y    = -0.365864
∂_z L = ∂_u L·σ′(z)    = -0.084883
∂_w L = ∂_z L·x + ∂_r L·2w    = -0.044302
∂_b L = ∂_z L    = -0.084883
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from ..model import Model
from ..symbolic import render
from ..domain import check_model, check_value
from .. import constraints as _cons


def decompose(expr: sp.Expr, *, output: str = "L", avoid=()) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
    """Named steps v1, v2, ... for an expression: one per distinct non-atomic subexpression.

    Shared subexpressions become one step; the last step, named ``output``, is ``expr`` itself.

    >>> import sympy as sp
    >>> w, x, b = sp.symbols("w x b", real=True)
    >>> decompose(sp.exp(w * x + b) + (w * x + b) ** 2)
    ((v1, w*x), (v2, b + v1), (v3, v2**2), (v4, exp(v2)), (L, v3 + v4))
    """
    names: dict[sp.Expr, sp.Symbol] = {}
    steps: list[tuple[sp.Symbol, sp.Expr]] = []
    counter = iter(range(1, 10**9))

    def fresh() -> sp.Symbol:
        while True:
            name = f"v{next(counter)}"
            if name not in avoid:
                return sp.Symbol(name, real=True)

    # iterative post-order, so deep expressions cannot hit the recursion limit
    stack: list[tuple[sp.Expr, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e.is_Atom or e in names:
            continue
        if not ready:
            stack.append((e, True))
            stack.extend((a, False) for a in reversed(e.args))
            continue
        body = e.func(*[names.get(a, a) for a in e.args])
        sym = sp.Symbol(output, real=True) if e == expr else fresh()
        names[e] = sym
        steps.append((sym, body))
    if not steps:  # the loss is a bare symbol or number
        steps.append((sp.Symbol(output, real=True), expr))
    return tuple(steps)


def model_steps(model: Model) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
    """The model's named steps, or a decomposition of its loss when it has none."""
    if model.steps:
        return model.steps
    return decompose(model.loss_expr, avoid=set(model.symbol_names))


_LATEX_DOT = r" \cdot "


@dataclass(frozen=True)
class Term:
    """One summand ∂_c L · ∂v_c/∂v of an adjoint rule (``adjoint`` is None when ∂_c L ≡ 1)."""

    child: str
    adjoint: sp.Symbol | None
    local: sp.Expr


@dataclass(frozen=True)
class ListingLine:
    """∂_node L = Σ terms, its value, and the forward value of the node."""

    node: str
    kind: str  # "output", "intermediate" or "param"
    terms: tuple[Term, ...]
    value: float
    forward: float

    @property
    def rule(self) -> sp.Expr:
        """The right-hand side as one SymPy expression (adjoints as symbols d_<node>)."""
        if not self.terms:
            return sp.Integer(1)
        return sp.Add(*[(t.adjoint if t.adjoint is not None else 1) * t.local for t in self.terms])

    def _render(self, fn, dot: str, plus: str) -> str:
        if not self.terms:
            return fn(sp.Integer(1))
        parts = []
        for t in self.terms:
            if t.adjoint is None:
                parts.append(fn(t.local))
            elif t.local == 1:
                parts.append(fn(t.adjoint))
            else:
                loc = fn(t.local)
                if t.local.is_Add:
                    loc = f"({loc})" if dot != _LATEX_DOT else r"\left(%s\right)" % loc
                parts.append(f"{fn(t.adjoint)}{dot}{loc}")
        return plus.join(parts)

    @property
    def lhs_pretty(self) -> str:
        return render.pretty(sp.Symbol("d_" + self.node))

    @property
    def pretty(self) -> str:
        return f"{self.lhs_pretty} = {self._render(render.pretty, '·', ' + ')}"

    @property
    def text(self) -> str:
        return f"d_{self.node} = {self._render(render.text, '*', ' + ')}"

    @property
    def latex(self) -> str:
        rhs = self._render(render.latex, _LATEX_DOT, " + ")
        return f"{render.latex(sp.Symbol('d_' + self.node))} = {rhs}"

    def to_dict(self) -> dict:
        return {"node": self.node, "kind": self.kind, "text": self.text, "pretty": self.pretty,
                "latex": self.latex, "value": self.value, "forward_value": self.forward,
                "children": [t.child for t in self.terms]}


@dataclass(frozen=True)
class BackpropListing:
    """FORWARD steps with their values, then the BACKWARD lines in reverse topological order."""

    model: Model
    point: dict[str, float]
    steps: tuple[tuple[sp.Symbol, sp.Expr], ...]
    forward_values: dict[str, float]
    lines: tuple[ListingLine, ...]

    @property
    def adjoints(self) -> dict[str, float]:
        return {ln.node: ln.value for ln in self.lines}

    def forward_lines(self, style: str = "pretty") -> list[str]:
        fn = {"pretty": render.pretty, "text": render.text, "latex": render.latex}[style]
        return [f"{fn(s)} = {fn(e)}" for s, e in self.steps]

    def to_dict(self) -> dict:
        return {"model": self.model.name, "point": self.point,
                "forward": [{"node": str(s), "text": render.text(e), "pretty": render.pretty(e),
                             "latex": render.latex(e), "value": self.forward_values[str(s)]}
                            for s, e in self.steps],
                "backward": [ln.to_dict() for ln in self.lines]}

    def _repr_html_(self):  # notebooks: the rendering lives in diffkit.display
        from ..display import listing_html

        return listing_html(self)

    def _repr_latex_(self):  # notebooks: the rendering lives in diffkit.display
        from ..display import listing_latex

        return listing_latex(self)



def _evaluate_forward(steps, point: Mapping[str, float], model: Model) -> dict[str, float]:
    env = {s: sp.Float(v, 30) for s, v in model.subs_point(point).items()}
    values = {}
    for sym, e in steps:
        v = e.xreplace(env).evalf(30)
        env[sym] = v
        values[sym.name] = float(v)
    return values, env


@_cons.validate_params(model=_cons.MODEL, point=_cons.POINT)
def backprop_listing(model: Model, point: Mapping[str, float] | None = None) -> BackpropListing:
    """The lecture's BACKWARD listing for ``model`` at ``point`` (default: the model's point)."""
    pt = check_model(model, point)  # DomainError naming the function, e.g. log(w) at w = 0
    steps = model_steps(model)
    forward_values, env = _evaluate_forward(steps, pt, model)
    step_syms = [s for s, _ in steps]
    defs = dict(steps)
    output = step_syms[-1]
    variables = step_syms[::-1] + [p for p in model.params]
    lines: list[ListingLine] = []
    unit: set[sp.Symbol] = set()  # nodes whose adjoint is identically 1
    adj_env: dict[sp.Symbol, sp.Expr] = {}
    for v in variables:
        if v == output:
            terms: tuple[Term, ...] = ()
            unit.add(v)
            value = sp.Integer(1)
        else:
            tl = []
            for c in step_syms:  # children in forward order, as the lecture lists them
                if c == v or not defs[c].has(v):
                    continue
                local = sp.diff(defs[c], v)
                if local == 0:
                    continue
                adj = None if c in unit else sp.Symbol(f"d_{c.name}", real=True)
                tl.append(Term(c.name, adj, local))
            terms = tuple(tl)
            rule = sp.Add(*[(t.adjoint if t.adjoint is not None else 1) * t.local for t in terms])
            if rule == 1:
                unit.add(v)
            value = rule.xreplace(adj_env).xreplace(env).evalf(30)
        adj_env[sp.Symbol(f"d_{v.name}", real=True)] = value
        kind = "output" if v == output else ("param" if v in model.params else "intermediate")
        fwd = forward_values.get(v.name, pt.get(v.name))
        value = check_value(value, value if v == output else rule, {**env, **adj_env}, what=f"∂_{v.name} L",
                            point=pt)  # a DomainError naming the culprit, not a complex number
        lines.append(ListingLine(v.name, kind, terms, float(value), float(fwd)))
    return BackpropListing(model, pt, steps, forward_values, tuple(lines))
