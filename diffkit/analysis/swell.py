"""Expression swell on the logistic map (Baydin et al. 2018, Table 1), in five representations.

For l₁ = x, l_{k+1} = 4 l_k(1 − l_k), n = 1..N, the size of d l_n/dx (convention:
:mod:`diffkit.analysis.operation_counts`) as

* ``ops_naive``    — the tree derivative (``diff``), flat size: grows exponentially;
* ``ops_cse``      — the tree derivative after ``cse``, shared size: grows polynomially;
* ``ops_dag``      — differentiated on the DAG (:mod:`diffkit.symbolic.dag`), shared size: linear,
  6 operations per level, at most the tape (``ops_dag_flat`` is the same program as a tree);
* ``ops_tape_forward`` / ``ops_tape_backward`` — the engine's reverse-mode tape: linear;
* ``ops_forward_primal`` / ``ops_forward_tangent`` — the engine's forward mode: linear;

and ``ops_function`` (l_n itself), ``ops_expanded`` (the derivative expanded to a polynomial).
:func:`growth` fits the rates: a ratio per level for the tree, a degree for tree + cse, a slope
(operations per level) for the linear ones.

The tree derivative and its ``cse`` go through a symbolic backend: SymPy by default, or SymEngine
(``backend="symengine"``, optional), whose memoising ``diff`` makes the symbolic column at
n = 12 take milliseconds instead of seconds.  ``seconds_symbolic`` is the wall time of a row's
symbolic column (tree, tree + cse, DAG).

Examples
--------
>>> rows = swell_table(4)
>>> [(r.n, r.ops_naive, r.ops_cse, r.ops_dag, r.ops_tape_forward + r.ops_tape_backward) for r in rows]
[(1, 0, 0, 0, 0), (2, 2, 2, 2, 6), (3, 21, 12, 6, 14), (4, 82, 27, 12, 22)]
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import sympy as sp

from ..builtins import logistic_map
from ..constraints import shorten
from ..errors import BadInput
from ..symbolic import render
from ..symbolic.backends import backend as get_backend
from ..symbolic.derive import cse_prefix
from .operation_counts import jvp_ops, program_ops, tape_ops, tree_ops

MAX_N = 12


@dataclass(frozen=True)
class SwellRow:
    n: int
    ops_function: int
    ops_naive: int
    ops_expanded: int
    ops_cse: int
    ops_tape_forward: int
    ops_tape_backward: int
    ops_dag: int = 0
    ops_dag_flat: int = 0
    ops_forward_primal: int = 0
    ops_forward_tangent: int = 0
    seconds_symbolic: float = 0.0
    backend: str = "sympy"

    @property
    def tape_ratio(self) -> float:
        f = self.ops_tape_forward
        return (f + self.ops_tape_backward) / f if f else float("nan")

    @property
    def ops_tape(self) -> int:
        return self.ops_tape_forward + self.ops_tape_backward

    @property
    def ops_forward(self) -> int:
        return self.ops_forward_primal + self.ops_forward_tangent

    def to_dict(self) -> dict:
        return asdict(self)


def swell_row(n: int, *, backend: str = "sympy") -> SwellRow:
    """One row of the swell table (see the module docstring)."""
    from .. import engine
    from ..symbolic.dag import dag_gradient

    be = get_backend(backend)
    model = logistic_map(n)
    x = model.params[0]
    f = model.loss_expr
    t0 = time.perf_counter()
    d = be.diff(f, x)
    memo: dict = {}
    naive = tree_ops(d, memo)
    symbols = sp.numbered_symbols(cse_prefix(model.symbol_names), real=True)
    repl, reduced = be.cse([d], symbols)
    cse = program_ops(repl, reduced)
    dag = dag_gradient(f, model.params, avoid=model.symbol_names)
    seconds = time.perf_counter() - t0
    graph = engine.from_model(model)
    tape = tape_ops(graph)
    fwd = jvp_ops(graph, [x.name])
    return SwellRow(
        n=n, ops_function=tree_ops(f), ops_naive=naive, ops_expanded=polynomial_ops(expanded_coefficients(n)),
        ops_cse=cse, ops_tape_forward=tape["forward"], ops_tape_backward=tape["backward"],
        ops_dag=dag.ops, ops_dag_flat=dag.flat_ops,
        ops_forward_primal=fwd["primal"], ops_forward_tangent=fwd["tangent"],
        seconds_symbolic=seconds, backend=be.name,
    )


def expanded_derivative(n: int) -> sp.Expr:
    """d l_n/dx as an expanded polynomial, by exact polynomial arithmetic on the recurrence.

    Equal to ``sympy.expand(sympy.diff(l_n, x))`` (tested), without expanding a 2^n-node tree.
    """
    x = logistic_map(1).params[0]
    p = sp.Poly(x, x)
    for _ in range(n - 1):
        p = 4 * p * (1 - p)
    return p.diff(x).as_expr()


def expanded_coefficients(n: int) -> list[int]:
    """Integer coefficients c_0, c_1, ... of d l_n/dx expanded in powers of x, in O(2^n) integer steps.

    With x = sin²θ the map doubles the angle, so l_n = sin²(mθ) = (1 − T_m(1 − 2x))/2 with
    m = 2^(n−1) and T_m the Chebyshev polynomial, whose coefficients in x are known in closed
    form: T_m(1 − 2x) = Σ_k (−1)^k · m/(m + k) · C(m + k, 2k) · 4^k · x^k.  (Tested equal to
    expanding the recurrence.)  This spares squaring polynomials with 1000-digit coefficients.
    """
    m = 2 ** (n - 1)
    out = []
    binom = 1                                    # C(m + k, 2k), updated as k grows
    for k in range(1, m + 1):
        binom = binom * (m + k) * (m - k + 1) // ((2 * k) * (2 * k - 1))
        a = m * binom * 4**k // (m + k)          # |coefficient of x^k in T_m(1 − 2x)|
        sign = 1 if k % 2 else -1                # of −a_k/2 with a_k = (−1)^k·a
        out.append(k * sign * a // 2)            # d/dx of the x^k term of l_n
    return out


def polynomial_ops(coefficients: list[int]) -> int:
    """``sympy.count_ops`` of Σ c_k x^k written out, from the integer coefficients alone."""
    terms = [(k, c) for k, c in enumerate(coefficients) if c != 0]
    if not terms:
        return 0
    per = sum(int(abs(c) != 1 and k >= 1) + int(k >= 2) for k, c in terms)
    if len(terms) == 1:
        k, c = terms[0]
        return per + int(c < 0)
    return per + len(terms) - 1 + int(all(c < 0 for _, c in terms))


def swell_table(max_n: int = 8, *, backend: str = "sympy") -> list[SwellRow]:
    """Rows n = 1..max_n (``max_n`` at most ``MAX_N``: the tree derivative grows like 2.4^n)."""
    if isinstance(max_n, bool) or not isinstance(max_n, int) or not 1 <= max_n <= MAX_N:
        raise BadInput(f"--max-n must be an integer from 1 to {MAX_N}, got {shorten(max_n)}")
    get_backend(backend)  # a missing backend is refused before any work
    return [swell_row(n, backend=backend) for n in range(1, max_n + 1)]


@dataclass(frozen=True)
class Growth:
    """Fitted growth of one column over the depth n."""

    column: str
    kind: str            # "exponential", "polynomial" or "linear"
    rate: float | None   # ratio per level, degree, or operations per level
    fitted_from: int     # the smallest n used in the fit

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.rate is None:
            return f"{self.column}: too few rows to fit"
        if self.kind == "exponential":
            return f"{self.column}: ×{self.rate:.2f} per level (exponential)"
        if self.kind == "polynomial":
            return f"{self.column}: ~ n^{self.rate:.2f} (polynomial)"
        return f"{self.column}: {self.rate:.2f} operations per level (linear)"


def _fit(ns: np.ndarray, v: np.ndarray, kind: str) -> float | None:
    keep = v > 0
    ns, v = ns[keep], v[keep]
    if ns.size < 2:
        return None
    if kind == "exponential":
        return float(math.exp(np.polyfit(ns, np.log(v), 1)[0]))
    if kind == "polynomial":
        return float(np.polyfit(np.log(ns), np.log(v), 1)[0])
    return float(np.polyfit(ns, v, 1)[0])


#: The columns whose growth is fitted, and the law each one follows.
GROWTH_COLUMNS = (("ops_naive", "exponential"), ("ops_cse", "polynomial"), ("ops_dag", "linear"),
                  ("ops_tape", "linear"), ("ops_forward", "linear"))


def growth(rows: list[SwellRow]) -> list[Growth]:
    """Fitted rates of the five representations, from the upper half of the rows (n ≥ 3)."""
    lo = max(3, (rows[-1].n + 1) // 2) if rows else 3
    use = [r for r in rows if r.n >= lo] or rows
    ns = np.array([r.n for r in use], dtype=float)
    return [Growth(col, kind, _fit(ns, np.array([float(getattr(r, col)) for r in use]), kind), lo)
            for col, kind in GROWTH_COLUMNS]


def baydin_rows(max_n: int = 4) -> list[dict[str, str]]:
    """The first rows typeset as in Baydin et al.'s Table 1: l_n, d l_n/dx, and its simplified form.

    Each entry holds Unicode (``*_pretty``) and LaTeX (``*_latex``) strings.
    """
    out = []
    for n in range(1, max_n + 1):
        m = logistic_map(n)
        x = m.params[0]
        f = m.loss_expr
        d = sp.diff(f, x)
        simple = sp.factor_terms(expanded_derivative(n))
        out.append({"n": n,
                    "l_pretty": render.pretty(f), "l_latex": render.latex(f),
                    "d_pretty": render.pretty(d), "d_latex": render.latex(d),
                    "simplified_pretty": render.pretty(simple), "simplified_latex": render.latex(simple)})
    return out


__all__ = ["SwellRow", "swell_row", "swell_table", "expanded_derivative", "expanded_coefficients", "polynomial_ops",
           "growth", "Growth", "baydin_rows",
           "MAX_N"]
