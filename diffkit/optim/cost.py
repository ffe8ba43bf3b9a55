"""The one flop convention of diffkit's optimisers (used by the runner, the CLI and the report).

Flops are derived from the *symbolic* gradient the optimiser evaluates, after common-subexpression
elimination (each shared subexpression counted once), whichever gradient source (SymPy or the
engine) computes the numbers — so two sources report the same cost for the same run.

Convention
----------
* Matrix forms (costed from shapes, with n replaced by the batch size b):
  a product of (m × k) and (k × p) costs m·k·p flops — one multiply-add is one flop, so the
  least-squares gradient −Xᵀ(y − Xw) costs 2bd + 2b + d ≈ 2bd;
  an elementwise sum, scalar multiple or elementwise function (σ, softplus) costs one flop per
  entry of its result; transposes, symbols and the all-ones matrix cost nothing.
* Models without a matrix form: SymPy ``count_ops`` of the CSE'd per-sample gradient (every +, ×,
  power and function call one op; an n-ary sum n − 1), times b.
* Only gradient evaluations are counted: the update W ← W − α(g + λW), sampling, the loss
  evaluations made for the history, and fast-path reformulations (whose arithmetic differs but
  whose iterates are the same) are not.

Examples
--------
>>> import sympy as sp
>>> n, d = sp.symbols("n d", integer=True, positive=True)
>>> X, w, y = sp.MatrixSymbol("X", n, d), sp.MatrixSymbol("w", d, 1), sp.MatrixSymbol("y", n, 1)
>>> matrix_flops(-X.T * (y - X * w), {n: 1000, d: 10})
22010
"""

from __future__ import annotations

from typing import Mapping, Sequence

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr


def _size(shape, sizes: Mapping) -> tuple[int, int]:
    return tuple(int(sp.sympify(s).xreplace(dict(sizes))) for s in shape)  # type: ignore[return-value]


def _entries(e: MatrixExpr, sizes: Mapping) -> int:
    r, c = _size(e.shape, sizes)
    return r * c


def _node_flops(e: sp.Basic, sizes: Mapping) -> int:
    """Flops of ``e`` itself, given its arguments already computed."""
    if isinstance(e, (sp.MatrixSymbol, sp.Symbol, sp.Number, sp.Transpose, sp.OneMatrix,
                      sp.ZeroMatrix, sp.Identity)) or not isinstance(e, MatrixExpr):
        return 0
    if isinstance(e, sp.MatMul):
        scalars = [a for a in e.args if not isinstance(a, MatrixExpr)]
        mats = [a for a in e.args if isinstance(a, MatrixExpr)]
        total = 0
        if mats:
            rows, inner = _size(mats[0].shape, sizes)
            for m in mats[1:]:
                _, cols = _size(m.shape, sizes)
                total += rows * inner * cols
                inner = cols
        if scalars and not (len(scalars) == 1 and scalars[0] == 1):
            total += _entries(e, sizes)
        return total
    if isinstance(e, sp.MatAdd):
        return (len(e.args) - 1) * _entries(e, sizes)
    return _entries(e, sizes)  # elementwise function or anything else: one per entry


def matrix_flops(expr: sp.Basic, sizes: Mapping[sp.Symbol, int]) -> int:
    """Flops of evaluating the matrix expression ``expr`` once (see the module convention)."""
    replacements, reduced = sp.cse([expr])
    total = 0
    for e in [r for _, r in replacements] + list(reduced):
        for node in sp.preorder_traversal(e):
            total += _node_flops(node, sizes)
    return total


def scalar_flops(exprs: Sequence[sp.Expr]) -> int:
    """``count_ops`` of the CSE'd scalar expressions ``exprs`` (all evaluated together).

    >>> x, y = sp.symbols("x y")
    >>> scalar_flops([(x + y) ** 2, (x + y) * x])
    3
    """
    replacements, reduced = sp.cse(list(exprs))
    return int(sum(sp.count_ops(e) for e in [r for _, r in replacements] + list(reduced)))
