"""Expression swell of an RNN unrolled over T steps: the recurrent analogue of the logistic map.

The model is :func:`diffkit.layer_models.rnn_model`: an Elman RNN with 2 hidden units,
h_t = tanh(w x_t + U h_(t−1) + b), L = ½‖h_T − y‖².  Each hidden unit of step t reads both units of
step t − 1, so written out as a tree, h_T holds 2^(T−1) copies of h_1, and the naive symbolic
gradient (``sympy.diff`` of the tree, all 8 partials) grows faster than any polynomial in T.
Backpropagation through time does a constant amount of work per step.  For T = 1..max_T the
table gives, under the one counting convention (:mod:`diffkit.analysis.operation_counts`):

* ``ops_function`` — L as a tree; ``ops_naive`` — the 8 naive partials as trees (flat size);
* ``ops_cse`` — after a joint ``sympy.cse`` (shared size); ``ops_dag`` — differentiated on the DAG;
* ``ops_tape_forward`` / ``ops_tape_backward`` — the engine's tape of the scalar graph;
* ``ops_layer_forward`` / ``ops_layer_backward`` — the tape of the engine's layer
  (``dk.elman_rnn`` on arrays: one operation per primitive applied to a whole array).

:func:`growth` fits a ratio per step to the tree, and a slope (operations per step) to the
linear columns; the tree's local polynomial degree log(v_T/v_(T−1))/log(T/(T−1)) rising with T is
the evidence that no polynomial bounds it.

>>> rows = rnn_swell_table(4)
>>> [(r.T, r.ops_naive, r.ops_tape_forward + r.ops_tape_backward) for r in rows]
[(1, 154, 37), (2, 968, 77), (3, 2980, 117), (4, 8012, 157)]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import sympy as sp

from ..errors import BadInput
from ..constraints import shorten
from ..layer_models import RNN_MAX_T, layer_graph, rnn_model
from ..symbolic.derive import cse_prefix, gradient
from .operation_counts import program_ops, tape_ops, tree_ops


@dataclass(frozen=True)
class RnnSwellRow:
    T: int
    ops_function: int
    ops_naive: int
    ops_cse: int
    ops_dag: int
    ops_tape_forward: int
    ops_tape_backward: int
    ops_layer_forward: int
    ops_layer_backward: int

    @property
    def ops_tape(self) -> int:
        return self.ops_tape_forward + self.ops_tape_backward

    @property
    def ops_layer(self) -> int:
        return self.ops_layer_forward + self.ops_layer_backward

    def to_dict(self) -> dict:
        return asdict(self)


def rnn_swell_row(T: int) -> RnnSwellRow:
    from .. import engine
    from ..symbolic.dag import dag_gradient

    model = rnn_model(T)
    f = model.loss_expr
    grad = gradient(model)
    memo: dict = {}
    naive = sum(tree_ops(e, memo) for e in grad.values())
    symbols = sp.numbered_symbols(cse_prefix(model.symbol_names), real=True)
    repl, reduced = sp.cse(list(grad.values()), symbols=symbols, order="canonical")
    dag = dag_gradient(f, model.params, avoid=model.symbol_names)
    tape = tape_ops(engine.from_model(model))
    layer = layer_graph(model).op_counts()
    return RnnSwellRow(T=T, ops_function=tree_ops(f), ops_naive=naive, ops_cse=program_ops(repl, reduced),
                       ops_dag=dag.ops, ops_tape_forward=tape["forward"], ops_tape_backward=tape["backward"],
                       ops_layer_forward=int(layer["forward"]), ops_layer_backward=int(layer["backward"]))


def rnn_swell_table(max_T: int = 8) -> list[RnnSwellRow]:
    """Rows T = 1..max_T (at most ``RNN_MAX_T``)."""
    if isinstance(max_T, bool) or not isinstance(max_T, int) or not 1 <= max_T <= RNN_MAX_T:
        raise BadInput(f"--max-n (the largest T of the RNN) must be an integer from 1 to {RNN_MAX_T}, got {shorten(max_T)}")
    return [rnn_swell_row(T) for T in range(1, max_T + 1)]


@dataclass(frozen=True)
class RnnGrowth:
    column: str
    kind: str                   # "exponential" or "linear"
    rate: float | None          # ratio per step, or operations per step
    fitted_from: int
    degrees: tuple[float, ...] = ()   # the tree's local polynomial degree at each T ≥ fitted_from

    def to_dict(self) -> dict:
        return asdict(self)


GROWTH_COLUMNS = (("ops_naive", "exponential"), ("ops_cse", "linear"), ("ops_dag", "linear"),
                  ("ops_tape", "linear"), ("ops_layer", "linear"))


def growth(rows: list[RnnSwellRow]) -> list[RnnGrowth]:
    """Fitted rates from the upper half of the rows (T ≥ 3)."""
    lo = max(3, (rows[-1].T + 1) // 2) if rows else 3
    use = [r for r in rows if r.T >= lo] or rows
    Ts = np.array([r.T for r in use], dtype=float)
    out = []
    for col, kind in GROWTH_COLUMNS:
        v = np.array([float(getattr(r, col)) for r in use])
        if Ts.size < 2 or np.any(v <= 0):
            out.append(RnnGrowth(col, kind, None, lo))
            continue
        if kind == "exponential":
            rate = float(math.exp(np.polyfit(Ts, np.log(v), 1)[0]))
            byT = {r.T: float(getattr(r, col)) for r in rows}
            degrees = tuple(math.log(byT[T] / byT[T - 1]) / math.log(T / (T - 1))
                            for T in range(max(lo, 2), rows[-1].T + 1) if T - 1 in byT and byT[T - 1] > 0)
            out.append(RnnGrowth(col, kind, rate, lo, degrees))
        else:
            out.append(RnnGrowth(col, kind, float(np.polyfit(Ts, v, 1)[0]), lo))
    return out
