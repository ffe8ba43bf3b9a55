"""Five representations of one gradient, sized under the one convention.

Laue (2019): symbolic and automatic differentiation perform the same operations; expression
swell comes from the *representation*.  For one model's gradient diffkit sizes

1. ``tree``      — the tree derivative, ``sympy.diff``: flat size only (a tree shares nothing);
2. ``tree_cse``  — the same derivative after ``sympy.cse``: its shared size;
3. ``dag``       — differentiated on the expression DAG (:mod:`diffkit.symbolic.dag`): shared
   size, and the flat size of the same program written out as a tree;
4. ``tape``      — the engine's reverse mode: forward + backward tape (``diffkit.engine.op_counts``);
5. ``forward``   — the engine's forward mode: the primal plus one tangent sweep per parameter
   (:func:`diffkit.analysis.operation_counts.jvp_ops`).

Flat (tree) and shared (DAG) sizes are reported separately: ``None`` where a representation has
no such size (a tape is a DAG by construction).

Examples
--------
>>> from diffkit import builtin
>>> from diffkit.analysis.prepare import prepare
>>> reps = representations(prepare(builtin("ridge-sigmoid")))
>>> [(r.name, r.flat, r.shared) for r in reps]
[('tree', 21, None), ('tree_cse', 21, 11), ('dag', 21, 11), ('tape', None, 19), ('forward', None, 25)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import sympy as sp

from .operation_counts import jvp_ops, program_ops, tape_ops, tree_ops

NAMES = ("tree", "tree_cse", "dag", "tape", "forward")
LABELS = {
    "tree": "tree derivative (sympy.diff)",
    "tree_cse": "tree derivative + sympy.cse",
    "dag": "symbolic on the DAG (each shared subexpression once)",
    "tape": "engine, reverse mode (forward + backward tape)",
    "forward": "engine, forward mode (primal + one tangent sweep per parameter)",
}


@dataclass(frozen=True)
class Representation:
    """One representation's size: ``flat`` (tree) and ``shared`` (DAG), either ``None`` if not applicable."""

    name: str
    flat: int | None
    shared: int | None
    parts: dict[str, int] = field(default_factory=dict)   # e.g. {"forward": 9, "backward": 10}

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


def engine_sizes(graph: Any, params: Mapping | None = None) -> tuple[Representation, Representation]:
    """The tape and forward-mode representations of ``graph``'s gradient."""
    tape = tape_ops(graph)
    names = [n.name for n in graph.params] if params is None else list(params)
    sweeps = [jvp_ops(graph, [p]) for p in names]
    primal = sweeps[0]["primal"] if sweeps else sum(1 for n in graph.nodes if n.primitive is not None)
    tangent = sum(s["tangent"] for s in sweeps)
    return (Representation("tape", None, tape["forward"] + tape["backward"], dict(tape)),
            Representation("forward", None, primal + tangent,
                           {"primal": primal, "tangent": tangent, "sweeps": len(sweeps)}))


def representations(prep) -> tuple[Representation, ...]:
    """The five representations of the gradient of a prepared model (nothing is re-derived)."""
    from ..symbolic.dag import dag_gradient

    model = prep.model
    memo: dict = {}
    flat = sum(tree_ops(e, memo) for e in prep.gradient.values())
    repl, reduced = prep.cse
    dag = prep.extra.get("dag")
    if dag is None:
        dag = dag_gradient(model.loss_expr, model.params, avoid=model.symbol_names)
        prep.extra["dag"] = dag
    tape, fwd = engine_sizes(prep.graph, model.wrt)
    return (
        Representation("tree", flat, None),
        Representation("tree_cse", flat, program_ops(repl, reduced)),
        Representation("dag", dag.flat_ops, dag.ops, {"definitions": len(dag.definitions)}),
        tape,
        fwd,
    )


def tree_sizes(derivative: sp.Expr, cse: tuple | None = None) -> tuple[int, int]:
    """(flat size, shared size after ``sympy.cse``) of one tree derivative."""
    from ..symbolic.derive import cse_gradient

    repl, reduced = cse if cse is not None else cse_gradient({"d": derivative})
    return tree_ops(derivative), program_ops(repl, reduced)
