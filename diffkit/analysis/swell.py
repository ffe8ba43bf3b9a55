"""Expression swell on the logistic map (Baydin et al. 2018, Table 1).

For l₁ = x, l_{k+1} = 4 l_k(1 − l_k), n = 1..N, count (see :mod:`diffkit.analysis.counting`):

* ``ops_function`` — l_n as an expression tree;
* ``ops_naive``    — d l_n/dx as ``sympy.diff`` returns it;
* ``ops_expanded`` — the derivative expanded to a polynomial (``sympy.expand``);
* ``ops_cse``      — the derivative after ``sympy.cse``;
* ``ops_tape_forward`` / ``ops_tape_backward`` — the engine's tape for l_n.

The tree counts grow exponentially in n (l_{k} appears twice in l_{k+1}), the CSE count
polynomially, and the tape linearly, with (forward + backward)/forward a small constant.

Examples
--------
>>> rows = swell_table(4)
>>> [(r.n, r.ops_naive, r.ops_tape_forward) for r in rows]
[(1, 0, 0), (2, 2, 3), (3, 21, 6), (4, 82, 9)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sympy as sp

from ..builtins import logistic_map
from ..errors import BadInput
from ..symbolic import render
from ..symbolic.derive import cse_gradient
from .counting import count_ops

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

    @property
    def tape_ratio(self) -> float:
        f = self.ops_tape_forward
        return (f + self.ops_tape_backward) / f if f else float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


def swell_row(n: int) -> SwellRow:
    from ..engine import from_model

    model = logistic_map(n)
    x = model.params[0]
    f = model.loss_expr
    d = sp.diff(f, x)
    repl, reduced = cse_gradient({"x": d}, avoid=model.symbol_names)
    tape = from_model(model).op_counts()
    return SwellRow(
        n=n, ops_function=count_ops(f), ops_naive=count_ops(d), ops_expanded=count_ops(expanded_derivative(n)),
        ops_cse=sum(count_ops(e) for _, e in repl) + sum(count_ops(e) for e in reduced),
        ops_tape_forward=int(tape["forward"]), ops_tape_backward=int(tape["backward"]),
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


def swell_table(max_n: int = 8) -> list[SwellRow]:
    """Rows n = 1..max_n (``max_n`` at most ``MAX_N``: the expanded form grows like 2^n terms)."""
    if isinstance(max_n, bool) or not isinstance(max_n, int) or not 1 <= max_n <= MAX_N:
        raise BadInput(f"--max-n must be an integer from 1 to {MAX_N}, got {max_n!r}")
    return [swell_row(n) for n in range(1, max_n + 1)]


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
