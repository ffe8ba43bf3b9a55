"""Higher derivatives, four ways: where *nested AD* swells and symbolic differentiation does not.

For a scalar function f of one variable (σ, tanh, the lecture's neuron as a function of w), the
k-th derivative for k = 1..K by

* ``symbolic``      — ``sympy.diff`` k times of f written as the lecture writes its activations,
  σ(z) = 1/(1 + e^(−z)) and tanh(z) = (1 − e^(−2z))/(1 + e^(−2z)): the flat (tree) size (as a
  function of its own, σ′ = σ(1 − σ) would make every order a longer polynomial in σ);
* ``symbolic_cse``  — the same after ``sympy.cse``: the shared size;
* ``nested_reverse``— ``grad(grad(...grad(f)))``, reverse-over-reverse: the size of the graph that
  nested reverse mode records (``diffkit.engine.trace`` of the nested function: its operations);
* ``forward_over_reverse`` — one JVP over ``grad`` nested k − 1 times: the operations of the
  recorded k − 1 times nested gradient plus the tangent sweep over it
  (:func:`diffkit.analysis.operation_counts.jvp_ops`).

Sizes follow the one convention (:mod:`diffkit.analysis.operation_counts`).  Each way's value is
checked against the k-th derivative evaluated by SymPy/mpmath at 30 digits (relative error,
scale max(1, |exact|)); times are wall-clock seconds (derive or trace, then evaluate).  Growth is
fitted per way (:func:`fit`): a ratio per order for the nested AD sizes, a slope for the symbolic.

CasADi's nested reverse mode needs 19,194 nodes for σ⁽⁸⁾ (11,827 after CSE), SymPy 70 operations
(47 after cse).

Examples
--------
>>> t = higher_orders("sigmoid", max_k=4)
>>> [(r.k, r.sizes["symbolic_cse"], r.sizes["nested_reverse"]) for r in t.rows]
[(1, 5, 5), (2, 11, 15), (3, 17, 45), (4, 23, 129)]
>>> max(r.max_rel_error for r in t.rows) < 1e-12
True
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp

from ..errors import BadInput
from ..functions import sigmoid
from .operation_counts import jvp_ops, program_ops, tree_ops

MAX_K = 10
WAYS = ("symbolic", "symbolic_cse", "nested_reverse", "forward_over_reverse")
FUNCTIONS = ("sigmoid", "tanh", "neuron")


@dataclass(frozen=True)
class HigherRow:
    k: int
    sizes: dict[str, int]
    seconds: dict[str, float]
    values: dict[str, float]
    exact: float
    max_rel_error: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HigherOrders:
    function: str            # "sigmoid", "tanh", "neuron" or "expr"
    expression: str          # f as text
    variable: str
    point: float
    rows: tuple[HigherRow, ...]
    growth: dict[str, dict[str, Any]]

    @property
    def ok(self) -> bool:
        return all(r.max_rel_error <= RTOL for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON of ``diffkit higher --json``: every key always present.

        ``function``, ``expression``, ``variable``, ``point``, ``ok``, ``rtol``, ``ways``;
        ``rows``: [{k, sizes: way → int, seconds: way → float, values: way → float, exact,
        max_rel_error}]; ``growth``: way → {kind, rate, from_k}.
        """
        return {"function": self.function, "expression": self.expression, "variable": self.variable,
                "point": self.point, "ok": self.ok, "rtol": RTOL, "ways": list(WAYS),
                "rows": [r.to_dict() for r in self.rows], "growth": self.growth}


#: Values must agree with the 30-digit reference to this relative error (scale max(1, |exact|)).
RTOL = 1e-9


def scalar_function(function: str = "sigmoid", *, expr: str | None = None, wrt: str | None = None,
                    at: dict[str, float] | None = None) -> tuple[str, sp.Expr, sp.Symbol, float]:
    """(name, f, its variable, the point): a built-in scalar function or a user expression.

    ``neuron`` is the lecture's loss ½(y − σ(wx + b))² + λw² as a function of w, the other symbols
    at the ridge-sigmoid model's point.
    """
    at = dict(at or {})
    if expr is not None:
        from ..usermodel import model_from_expr

        if not wrt or "," in wrt:
            raise BadInput("higher differentiates with respect to one variable: give --wrt NAME (e.g. --wrt x)")
        m = model_from_expr(expr, wrt, at=at)
        pt = m.point()
        v = m.params[0]
        fixed = {m.symbol(n): sp.Float(x, 30) for n, x in pt.items() if n != v.name}
        return "expr", m.loss_expr.xreplace(fixed), v, pt[v.name]
    if function not in FUNCTIONS:
        raise BadInput(f"unknown function {function!r}; allowed: {', '.join(FUNCTIONS)} (or --expr with --wrt)")
    if function == "neuron":
        from ..builtins import ridge_sigmoid

        m = ridge_sigmoid()
        unknown = set(at) - set(m.symbol_names)
        if unknown:
            raise BadInput(f"unknown symbol {sorted(unknown)[0]!r} in --at; the neuron has {', '.join(m.symbol_names)}")
        pt = m.point(at)
        w = m.symbol("w")
        fixed = {s: sp.Float(pt[s.name], 30) for s in m.symbols if s is not w}
        return "neuron", m.loss_expr.xreplace(fixed), w, pt["w"]
    x = sp.Symbol("x", real=True)
    unknown = set(at) - {"x"}
    if unknown:
        raise BadInput(f"unknown symbol {sorted(unknown)[0]!r} in --at; {function} has only x")
    f = sigmoid(x) if function == "sigmoid" else sp.tanh(x)
    return function, f, x, float(at.get("x", 0.3))


def exponential_form(f: sp.Expr) -> sp.Expr:
    """f with σ, σ′, softplus and tanh written with exponentials, as the lecture writes them."""
    from ..functions import expand_sigmoid

    f = expand_sigmoid(f)
    return f.replace(lambda e: isinstance(e, sp.tanh),
                     lambda e: (1 - sp.exp(-2 * e.args[0])) / (1 + sp.exp(-2 * e.args[0])))


def _check_k(max_k) -> int:
    if isinstance(max_k, bool) or not isinstance(max_k, int) or not 1 <= max_k <= MAX_K:
        raise BadInput(f"--max-k must be an integer from 1 to {MAX_K}, got {max_k!r}")
    return max_k


def higher_orders(function: str = "sigmoid", *, max_k: int = 8, expr: str | None = None, wrt: str | None = None,
                  at: dict[str, float] | None = None) -> HigherOrders:
    """The k-th derivatives, k = 1..max_k, four ways (see the module docstring)."""
    from .. import engine as dk
    from ..domain import check_point
    from ..symbolic.derive import cse_prefix
    from ..symbolic.numeric import to_engine, to_numpy
    from .numeric_warnings import capture

    max_k = _check_k(max_k)
    name, f, v, x0 = scalar_function(function, expr=expr, wrt=wrt, at=at)
    check_point(f, {v.name: x0})  # DomainError (log(x) at x = 0), not a complex number later
    fe = to_engine(f, [v])
    rows = []
    d_sym = exponential_form(f)
    nested: Callable = fe
    prefix = cse_prefix({v.name})
    with capture():
        for k in range(1, max_k + 1):
            seconds: dict[str, float] = {}
            t = time.perf_counter()
            d_sym = sp.diff(d_sym, v)
            check_point(d_sym, {v.name: x0}, what=f"d^{k}f/d{v.name}^{k}: ")
            sym_val = float(to_numpy(d_sym, [v])(np.float64(x0)))
            seconds["symbolic"] = time.perf_counter() - t
            t = time.perf_counter()
            repl, reduced = sp.cse([d_sym], symbols=sp.numbered_symbols(prefix, real=True), order="canonical")
            cse_fn = to_numpy(reduced[0].xreplace({}), [v]) if not repl else _cse_function(repl, reduced[0], v)
            cse_val = float(cse_fn(np.float64(x0)))
            seconds["symbolic_cse"] = time.perf_counter() - t
            exact = float(sp.N(d_sym.xreplace({v: sp.Float(x0, 30)}), 30))

            below = nested                      # grad nested k − 1 times
            nested = dk.grad(below)
            t = time.perf_counter()
            g_nested = dk.trace(nested, np.float64(x0))
            rev_val = float(np.asarray(nested(np.float64(x0))))
            seconds["nested_reverse"] = time.perf_counter() - t
            t = time.perf_counter()
            _, tan = dk.jvp(below, (np.float64(x0),), (np.float64(1.0),))
            fwd_val = float(np.asarray(tan))
            seconds["forward_over_reverse"] = time.perf_counter() - t
            g_below = dk.trace(below, np.float64(x0))
            fo = jvp_ops(g_below)
            sizes = {"symbolic": tree_ops(d_sym), "symbolic_cse": program_ops(repl, reduced),
                     "nested_reverse": sum(1 for n in g_nested.nodes if n.primitive is not None),
                     "forward_over_reverse": fo["primal"] + fo["tangent"]}
            values = {"symbolic": sym_val, "symbolic_cse": cse_val, "nested_reverse": rev_val,
                      "forward_over_reverse": fwd_val}
            scale = max(1.0, abs(exact))
            err = max(abs(val - exact) / scale if math.isfinite(val) else math.inf for val in values.values())
            rows.append(HigherRow(k, sizes, seconds, values, exact, err))
    from ..symbolic.render import text

    return HigherOrders(name, text(f), v.name, float(x0), tuple(rows), fit(rows))


def _cse_function(repl, reduced, v):
    """The cse program as one NumPy function (definitions evaluated in order)."""
    from ..symbolic.numeric import to_numpy

    syms = [s for s, _ in repl]
    fns = [to_numpy(e, [v, *syms[:i]]) for i, (_, e) in enumerate(repl)]
    out = to_numpy(reduced, [v, *syms])

    def f(x):
        vals = []
        for fn in fns:
            vals.append(fn(x, *vals))
        return out(x, *vals)
    return f


def fit(rows) -> dict[str, dict[str, Any]]:
    """Growth per way over the orders k ≥ 3: a ratio per order (geometric) and a slope (linear)."""
    use = [r for r in rows if r.k >= 3] or list(rows)
    ks = np.array([r.k for r in use], dtype=float)
    out: dict[str, dict[str, Any]] = {}
    for way in WAYS:
        vals = np.array([r.sizes[way] for r in use], dtype=float)
        if ks.size < 2 or np.any(vals <= 0):
            out[way] = {"ratio": None, "slope": None, "from_k": int(ks[0]) if ks.size else None}
            continue
        ratio = float(math.exp(np.polyfit(ks, np.log(vals), 1)[0]))
        slope = float(np.polyfit(ks, vals, 1)[0])
        out[way] = {"ratio": ratio, "slope": slope, "from_k": int(ks[0])}
    return out
