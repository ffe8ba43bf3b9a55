"""Graphs from SymPy expressions and from :class:`~diffkit.model.Model` objects.

Equal subexpressions become one shared node (a memo keyed by the SymPy expression), and n-ary
``Add``/``Mul`` fold left into binary nodes in SymPy's argument order, positive terms first,
then subtractions (``y − u`` is one ``sub``).  Powers: ``x**-1`` → ``1/x``, ``x**½`` → ``sqrt``,
other exponents → ``pow``.  ``σ′(z)`` becomes ``σ(z)·σ(−z)`` (the stable form, see
``diffkit.stable``) sharing the node σ(z).  Which SymPy function becomes which primitive is read
from the primitive records (their ``sympy`` entry).

When the model has ``steps`` (the lecture's z, u, l, r, L), each step is a named node.

>>> from diffkit import builtin
>>> g = from_model(builtin("ridge-sigmoid"))
>>> [n.name for n in g.variables]
['b', 'w', 'z', 'u', 'l', 'r', 'L']
>>> {k: round(float(v), 6) for k, v in g.gradient().items()}
{'w': -0.044302, 'b': -0.084883}
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import sympy as sp

from ..errors import BadInput
from ..functions import sigmoid, sigmoid_prime
from .core import REGISTRY, Node, Primitive, SymPy, const, new_level
from .leaves import input_leaf, param
from .graph import Graph
from . import rules as _rules  # noqa: F401  (registers the primitives)


def lowering() -> dict[type, str]:
    """SymPy function class → primitive name, derived from the records' ``sympy`` entries."""
    table: dict[type, str] = {}
    for p in REGISTRY.values():
        if isinstance(p.sympy, SymPy) and p.nargs == 1:
            for cls in p.sympy.match:
                table[cls] = p.name
    return table


def _node(prim: str | Primitive, *parents: Node, **params: Any) -> Node:
    """A node without evaluating it (graphs from SymPy get values from ``Graph.forward``)."""
    p = REGISTRY[prim] if isinstance(prim, str) else prim
    return Node(None, p, parents, params, needs_grad=any(q.needs_grad for q in parents), trace=parents[0].trace)


class _Builder:
    def __init__(self, leaves: Mapping[sp.Symbol, Node], level: int) -> None:
        self.level = level
        self.memo: dict[sp.Basic, Node] = dict(leaves)
        self.ops: dict[tuple, Node] = {}
        self.consts: dict[float, Node] = {}

    def const(self, v: float) -> Node:
        v = float(v)
        if v not in self.consts:
            self.consts[v] = const(v, self.level)
        return self.consts[v]

    def op(self, prim: str, *args: Node) -> Node:
        key = (prim,) + args  # share equal operations reached from different SymPy forms
        if key not in self.ops:
            self.ops[key] = _node(prim, *args)
        return self.ops[key]

    def convert(self, e: sp.Basic) -> Node:
        if e in self.memo:
            return self.memo[e]
        node = self._convert(e)
        self.memo[e] = node
        return node

    def _convert(self, e: sp.Basic) -> Node:
        if e.is_Number or e in (sp.pi, sp.E):
            if not e.is_real:
                raise BadInput(f"constant {e} is not a real number")
            return self.const(float(e))
        if isinstance(e, sp.Symbol):
            raise BadInput(f"symbol {e} has no value: list it as a parameter or input")
        if isinstance(e, sp.Add):
            pos = [a for a in e.args if not _is_negative(a)]
            negs = [-a for a in e.args if _is_negative(a)]
            acc = self.convert(pos[0]) if pos else self.op("neg", self.convert(negs.pop(0)))
            for a in pos[1:]:
                acc = self.op("add", acc, self.convert(a))
            for a in negs:
                acc = self.op("sub", acc, self.convert(a))
            return acc
        if isinstance(e, sp.Mul):
            c, factors = e.as_coeff_mul()
            num = [f for f in factors if not _is_reciprocal(f)]
            den = [sp.Pow(f.base, -f.exp) for f in factors if _is_reciprocal(f)]
            sign = -1 if c < 0 else 1
            c = abs(c)
            acc = None if c == 1 and num else self.const(c)
            for f in num:
                acc = self.convert(f) if acc is None else self.op("mul", acc, self.convert(f))
            if den:
                d = self.convert(den[0])
                for f in den[1:]:
                    d = self.op("mul", d, self.convert(f))
                acc = self.op("div", acc, d)
            return self.op("neg", acc) if sign < 0 else acc
        if isinstance(e, sp.Pow):
            b, x = e.args
            if x == sp.Rational(1, 2):
                return self.op("sqrt", self.convert(b))
            if x.is_Number and x.is_negative:
                return self.op("div", self.const(1.0), self.convert(sp.Pow(b, -x)))
            return self.op("pow", self.convert(b), self.convert(x))
        if isinstance(e, sigmoid_prime):  # σ′(z) = σ(z)·σ(−z), as diffkit.stable computes it
            z = e.args[0]
            return self.op("mul", self.convert(sigmoid(z)), self.convert(sigmoid(-z)))
        if isinstance(e, (sp.Max, sp.Min)):
            prim = "maximum" if isinstance(e, sp.Max) else "minimum"
            args = [self.convert(a) for a in e.args]
            acc = args[0]
            for a in args[1:]:
                acc = self.op(prim, acc, a)
            return acc
        for cls, prim in _LOWERING.items():
            if isinstance(e, cls):
                if len(e.args) != 1 and not isinstance(e, sp.Heaviside):
                    break
                return self.op(prim, self.convert(e.args[0]))
        raise BadInput(f"the engine cannot convert SymPy {type(e).__name__} ({e}); supported: numbers, "
                       "symbols, +, −, ·, /, powers, exp, log, sqrt, Abs, sign, tanh, sin, cos, Max, Min, "
                       "Heaviside, sigmoid, sigmoid_prime, relu, step, softplus")


_LOWERING = lowering()


def _is_negative(a: sp.Expr) -> bool:
    return bool(a.as_coeff_Mul()[0].is_negative)


def _is_reciprocal(f: sp.Expr) -> bool:
    return isinstance(f, sp.Pow) and f.exp.is_Number and f.exp.is_negative


def from_sympy(expr: sp.Expr, params: Sequence[sp.Symbol | str], *, steps: Sequence[tuple] = (),
               point: Mapping[str, Any] | None = None, name: str = "expr") -> Graph:
    """The graph of ``expr``; ``params`` are differentiated, its other symbols are inputs.

    Parameters
    ----------
    expr : sympy.Expr
        The output; may use step symbols.
    params : sequence of Symbol or str
        Parameters, by symbol or name.
    steps : sequence of (Symbol, Expr)
        Named intermediate variables, in order; each becomes a node of that name.
    point : mapping, optional
        Values to evaluate at now; otherwise call ``forward(point)`` before reading values.

    >>> x, y = sp.symbols("x y", real=True)
    >>> g = from_sympy(sp.exp(x * y) + x * y, [x], point={"x": 0.0, "y": 2.0})
    >>> [(n.name, n.primitive.name if n.primitive else n.kind) for n in g.nodes]
    [('x', 'param'), ('y', 'input'), ('v1', 'mul'), ('v2', 'exp'), ('L', 'add')]
    >>> float(g.gradient()["x"])
    4.0
    """
    names = {p if isinstance(p, str) else p.name for p in params}
    step_syms = {s for s, _ in steps}
    free = set(expr.free_symbols).union(*[e.free_symbols for _, e in steps]) - step_syms
    unknown = names - {s.name for s in free}
    level = new_level()
    leaves = {s: Node(None, kind="param" if s.name in names else "input", name=s.name, needs_grad=s.name in names,
                      trace=level)
              for s in sorted(free, key=lambda s: s.name)}
    b = _Builder(leaves, level)
    for sym, e in steps:
        n = b.convert(e)
        if n.kind == "op" and not n.named:
            n.name, n.named = sym.name, True
        b.memo[sym] = n
    out = b.convert(expr)
    if out.kind == "op" and not out.named and not any(s.name == "L" for s in free):
        out.name, out.named = "L", True
    g = Graph(out, name=name)
    g.param_order = [p if isinstance(p, str) else p.name for p in params]
    for p in g.params:
        unknown.discard(p.name)
    if unknown:
        raise BadInput(f"parameter {sorted(unknown)[0]!r} does not occur in the expression")
    if point is not None:
        g.forward(point)
    return g


class ModelGraph(Graph):
    """A Graph built from a Model: knows the model; for an MLP spec, accepts per-element names.

    ``gradient(point)`` is keyed by the model's parameter names (``W1_1_1``, ...) unless
    ``flat=False``, which keys by the graph's array parameters (``W1``, ``b1``, ...).
    """

    model: Any = None
    spec_kind: str | None = None

    def _prepare_point(self, point: Mapping[str, Any]) -> dict[str, Any]:
        if self.spec_kind != "mlp":
            return dict(point)
        return _mlp_arrays(self.model, point)

    def gradient(self, point: Mapping[str, Any] | None = None, *, flat: bool = True) -> dict[str, Any]:
        grads = super().gradient(point)
        if self.spec_kind != "mlp" or not flat:
            return grads
        out: dict[str, Any] = {}
        for name, g in grads.items():
            if g.ndim == 2:
                for (i, j), v in np.ndenumerate(g):
                    out[f"{name}_{i + 1}_{j + 1}"] = v
            else:
                for (i,), v in np.ndenumerate(g):
                    out[f"{name}_{i + 1}"] = v
        return {k: out[k] for k in self.model.wrt}


def _mlp_arrays(model, point: Mapping[str, Any], *, everything: bool = False) -> dict[str, Any]:
    """Whole arrays W1, b1, ..., x, y from a point given by arrays or by element names.

    An array is (re)built from element names (missing elements: model defaults) only when some
    element of it is in ``point`` or ``everything`` is set; otherwise it is left out.
    """
    sizes = model.spec["sizes"]
    prefixes = {k.split("_")[0] if "_" in k else k.rstrip("0123456789") for k in point}
    full = {**model.defaults, **point}
    arrays: dict[str, Any] = {}
    for l in range(1, len(sizes)):
        m, n = sizes[l], sizes[l - 1]
        for key, shape in ((f"W{l}", (m, n)), (f"b{l}", (m,))):
            if key in point:
                arrays[key] = point[key]
            elif everything or key in prefixes:
                idx = np.ndindex(*shape)
                arrays[key] = np.array([full[key + "".join(f"_{i + 1}" for i in ix)] for ix in idx]).reshape(shape)
    for key, size in (("x", sizes[0]), ("y", sizes[-1])):
        if key in point:
            arrays[key] = point[key]
        elif everything or key in prefixes:
            arrays[key] = np.array([full[f"{key}{i + 1}"] for i in range(size)])
    return arrays


def _mlp_graph(model, point: Mapping[str, Any] | None) -> ModelGraph:
    from . import ops as dk
    spec = model.spec
    sizes, acts = spec["sizes"], spec["activations"]
    arrays = _mlp_arrays(model, dict(point or {}), everything=True)
    level = new_level()
    x = input_leaf(arrays["x"], "x", trace=level)
    y = input_leaf(arrays["y"], "y", trace=level)
    def act(name):  # an activation is the engine operation of that name (identity: none)
        return (lambda z: z) if name == "identity" else getattr(dk, name)
    a = x
    for l in range(1, len(sizes)):
        W, b = param(arrays[f"W{l}"], f"W{l}", trace=level), param(arrays[f"b{l}"], f"b{l}", trace=level)
        z = dk.label(a @ W.T + b, f"z{l}")
        a = dk.label(act(acts[l - 1])(z), f"a{l}") if l < len(sizes) - 1 else z
    if spec["loss"] == "squared":
        pred = act(acts[-1])(a)
        per = 0.5 * dk.sum((y - pred) ** 2.0, axis=-1)
    elif sizes[-1] == 1:
        per = dk.sum(dk.bce_with_logits(a, y), axis=-1)
    else:
        per = dk.softmax_cross_entropy(a, y)
    loss = dk.mean(per) if np.ndim(x.value) > 1 else per
    if not isinstance(loss, Node) or loss.kind != "op":
        raise BadInput("the MLP loss does not depend on any parameter")
    dk.label(loss, "L")
    g = ModelGraph(loss, name=model.name)
    g.model, g.spec_kind = model, "mlp"
    return g


def from_model(model, point: Mapping[str, Any] | None = None, *, use_spec: bool = False) -> ModelGraph:
    """The computation graph of ``model``, evaluated at ``point`` (default: the model's defaults).

    Uses ``model.steps`` for named nodes when present; an MLP without a symbolic loss (too
    wide) is built from ``model.spec`` with matrix products (parameters ``W1, b1, ...``);
    ``use_spec=True`` does that for a small MLP too.
    """
    from ..model import Model

    if not isinstance(model, Model):
        raise BadInput(f"from_model needs a diffkit Model (e.g. diffkit.builtin('ridge-sigmoid')), "
                       f"got {type(model).__name__}")
    if point is not None and not isinstance(point, Mapping):
        raise BadInput(f"from_model: point must be a mapping of names to values, got {type(point).__name__}")
    if model.loss is None or (use_spec and model.spec.get("kind") == "mlp"):
        if model.spec.get("kind") != "mlp":
            raise BadInput(f"model {model.name!r} has neither a loss expression nor an MLP spec")
        return _mlp_graph(model, point)
    pt = model.point({k: v for k, v in (point or {}).items()})
    g = from_sympy(model.loss if not model.steps else model.steps[-1][0], model.params,
                   steps=model.steps, name=model.name)
    mg = ModelGraph.__new__(ModelGraph)
    mg.__dict__.update(g.__dict__)
    mg.model = model
    used = {n.name for n in mg.nodes if n.primitive is None and n.kind != "const"}
    mg.forward({k: v for k, v in pt.items() if k in used})
    return mg
