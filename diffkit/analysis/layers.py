"""``compare`` on a layer model: the engine's layer beside the symbolic gradient, and what the
layer's structure makes the naive symbolic gradient recompute.

For the small layer models (:mod:`diffkit.layer_models`) the usual comparison runs on the scalar
loss; this adds

* the gradient computed by the engine's layer itself (``dk.conv1d``, ``dk.batch_norm``, …, on
  arrays), against the symbolic gradient at the point and at random points;
* the layer's tape: its array operations (one node per primitive, with shapes) and their count;
* the redundancy the structure causes, counted in the naive partials (every occurrence in the
  expression trees, the convention of :mod:`diffkit.analysis.operation_counts`): the inputs shared
  by sliding windows, the batch mean inside every normalised output, the softmax denominator in
  every attention weight, the first hidden state inside every later one, the inner layer of a
  residual block inside both of its outputs.

>>> from diffkit import builtin
>>> from diffkit.analysis.prepare import prepare
>>> lc = layer_comparison(prepare(builtin("conv1d")), points=3)
>>> lc.ok, lc.call
(True, 'dk.conv1d(x, w, b)')
>>> [(h.what, h.count) for h in lc.highlights][:2]
[('sliding window', 3), ('window residual', 6)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import sympy as sp

from ..layer_models import is_layer_model, layer_graph, layer_value_and_gradient
from ..symbolic import render
from .operation_counts import count_ops

#: Agreement of the layer's gradient with the symbolic one: |a − b| / max(|b|, 1) (as ``agreement``).
RTOL = 1e-12


@dataclass(frozen=True)
class Highlight:
    """A subexpression the layer's structure shares, and how often the naive partials compute it."""

    what: str
    expr: sp.Expr | None
    count: int
    ops: int
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "subexpression": None if self.expr is None else render.text(self.expr),
                "pretty": None if self.expr is None else render.pretty(self.expr), "count": self.count,
                "ops": self.ops, "note": self.note}


@dataclass(frozen=True)
class LayerComparison:
    """The engine's layer on one layer model (see the module docstring)."""

    model: str
    call: str
    value: float
    gradient: dict[str, float]
    symbolic: dict[str, float]
    errors: dict[str, float]
    random: dict[str, Any]
    tape: dict[str, Any]
    highlights: tuple[Highlight, ...]

    @property
    def max_rel_error(self) -> float:
        return max(list(self.errors.values()) + [self.random.get("max_rel_error", 0.0)])

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= RTOL and all(np.isfinite(v) for v in self.gradient.values())

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "call": self.call, "value": self.value, "gradient": dict(self.gradient),
                "symbolic": dict(self.symbolic), "errors": dict(self.errors), "max_rel_error": self.max_rel_error,
                "ok": self.ok, "rtol": RTOL, "random": dict(self.random), "tape": dict(self.tape),
                "highlights": [h.to_dict() for h in self.highlights]}


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1.0)


def _inlined(model) -> dict[str, sp.Expr]:
    env: dict = {}
    out = {}
    for sym, e in model.steps:
        env[sym] = e.xreplace(env)
        out[sym.name] = env[sym]
    return out


def count_in(exprs, target: sp.Expr) -> int:
    """How often ``target`` occurs in the trees of ``exprs`` (memoised on the DAG: exponential trees
    are counted in time linear in their distinct subexpressions)."""
    memo: dict = {}

    def occ(e):
        if e in memo:
            return memo[e]
        if e == target:
            n = 1
        elif e.is_Atom:
            n = 0
        else:
            n = sum(occ(a) for a in e.args)
        memo[e] = n
        return n
    # iterative warm-up of the memo in post-order, so deep trees cannot hit the recursion limit
    for e in exprs:
        stack = [(e, False)]
        while stack:
            x, ready = stack.pop()
            if x in memo:
                continue
            if ready or x.is_Atom:
                occ(x)
            else:
                stack.append((x, True))
                stack.extend((a, False) for a in x.args if a not in memo)
    return sum(occ(e) for e in exprs)


def _highlights(model, grad: Mapping[str, sp.Expr]) -> list[Highlight]:
    layer = model.spec["layer"]
    inl = _inlined(model)
    parts = list(grad.values())
    out: list[Highlight] = []

    def h(what, expr, note):
        out.append(Highlight(what, expr, count_in(parts, expr), count_ops(expr), note))

    if layer == "conv1d":
        xs = [f"x{j}" for j in range(1, 6)]
        reads = {x: [f"y{i}" for i in range(1, 4) if sp.Symbol(x, real=True) in inl[f"y{i}"].free_symbols] for x in xs}
        most = max(xs, key=lambda x: len(reads[x]))
        out.append(Highlight("sliding window", None, len(reads[most]), 0,
                             f"{most} is read by {len(reads[most])} windows ({', '.join(reads[most])}); "
                             + ", ".join(f"{x} by {len(r)}" for x, r in reads.items() if x != most)
                             + f": ∂L/∂{most} sums one term per window (the tape's fold)"))
        t1 = sp.Symbol("t1", real=True)
        h("window residual", inl["y1"] - t1, "y1 − t1: in every partial that reads window 1; the tape computes it once")
    elif layer == "maxpool":
        h("window maximum", inl["p1_1"], "p1_1, the max of window (1, 1): in the partials of its 4 pixels; only "
          "the maximum gets a gradient (the tape routes g to it)")
    elif layer == "avgpool":
        # SymPy distributes the ¼ into each partial: what repeats is the whole partial, once per pixel
        first = grad["x1_1"]
        out.append(Highlight("window residual", first, sum(1 for e in parts if e == first), count_ops(first),
                             "(p1_1 − t1_1)/4: the 4 pixels of window (1, 1) have this same partial, "
                             "each a quarter of the window's residual; the tape computes it once"))
    elif layer == "batchnorm":
        # SymPy merges the batch mean μ into each centred input x_i − μ = 2x_i/3 − …: that is what repeats
        h("batch mean", sp.Symbol("x1", real=True) - inl["mu"], "x1 − μ: the batch mean is inside every "
          "normalised output x̂_i and in the variance")
        h("batch variance", inl["s"].args[0], "v + eps, under the square root of every x̂_i; the tape computes "
          "μ and v once (batch_normalize)")
    elif layer == "rnn":
        h("first hidden state", inl["h1_1"], "h1_1 is inside every later state: with 2 hidden units the tree "
          "doubles per step, the tape grows by a constant")
    elif layer == "attention":
        h("softmax denominator", inl["Z1"], "Z1 = Σ_j exp(s1_j) is in every attention weight a1_j of token 1")
        h("attention score", inl["s1_1"], "s1_1 = q1·k1/√2, inside Z1, a1_1 and a1_2")
    elif layer == "residual":
        h("inner layer", inl["h1"], "h1 = tanh(W⁽¹⁾x + b⁽¹⁾)₁, the inner layer's output: inside both outputs and "
          "every partial; the tape computes it once")
        x1 = sp.Symbol("x1", real=True)
        reads = sum(1 for e in parts if x1 in e.free_symbols)
        out.append(Highlight("skip connection", None, reads, 0,
                             "x1 reaches y1 twice, through the skip and through the inner layer: ∂L/∂x1 sums "
                             "both paths (the tape adds two cotangents)"))
    return out


def _tape(model, point) -> dict[str, Any]:
    g = layer_graph(model, point)
    counts = g.op_counts()
    ops = [{"primitive": n.primitive.name, "shape": list(np.shape(g.value(n)))} for n in g.ops]
    return {"forward": int(counts["forward"]), "backward": int(counts["backward"]), "ops": ops,
            "convention": "diffkit.engine.opcount (one operation per primitive applied to whole arrays)"}


def layer_comparison(prep, *, points: int = 10, seed: int = 0) -> LayerComparison | None:
    """The layer section of ``compare`` for a prepared layer model (None for any other model)."""
    model = prep.model
    if not is_layer_model(model):
        return None
    pt = prep.point
    names = model.wrt
    sym = {n: float(v) for n, v in zip(names, prep.grad_fn(*prep.values(pt)))}
    value, grad = layer_value_and_gradient(model, pt)
    errors = {n: _rel(grad[n], sym[n]) for n in names}
    worst, mismatches = 0.0, 0
    for p in model.random_points(points, seed=seed, vary="params", base=pt):
        s = prep.grad_fn(*prep.values(p))
        _, gp = layer_value_and_gradient(model, p)
        e = max(_rel(gp[n], float(v)) for n, v in zip(names, s))
        worst = max(worst, e)
        mismatches += e > RTOL
    return LayerComparison(
        model=model.name, call=model.spec["call"], value=value, gradient=grad,
        symbolic=sym, errors=errors, random={"points": points, "seed": seed, "max_rel_error": worst,
                                            "mismatches": mismatches},
        tape=_tape(model, pt), highlights=tuple(_highlights(model, prep.gradient)))


def mlp_layers(prep, reverse: Mapping[str, float]):
    """For an MLP: the layer-wise listing in matrix form, checked against the engine's gradient."""
    if (prep.model.spec or {}).get("kind") != "mlp":
        return None
    from .layer_listing import layer_listing

    return layer_listing(prep.model, prep.point).checked(reverse)
