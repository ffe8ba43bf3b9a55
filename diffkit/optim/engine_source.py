"""The reverse-mode engine as a gradient source: the model's graph, summed over the batch.

The engine builds the model's per-sample computation graph (:func:`diffkit.engine.from_model`);
fed data columns as arrays, every node holds one value per sample.  A final ``sum`` node makes
the output the batch loss Σ_{i∈S} lᵢ, so one reverse sweep gives Σ_{i∈S} ∇lᵢ — the same
quantity the symbolic source returns, computed by a different route (the tests check that the
iterates agree to rounding).

Examples
--------
>>> import numpy as np
>>> from diffkit import builtin
>>> from diffkit.optim.data import make_data
>>> ds = make_data(n=30, d=2, seed=0)
>>> src = EngineGradient(builtin("linear-regression", d=2), ds)
>>> w = np.array([0.5, -1.0])
>>> bool(np.allclose(src.grad_sum(w), ds.X.T @ (ds.X @ w - ds.y)))
True
"""

from __future__ import annotations

import numpy as np

from ..errors import BadInput
from ..model import Model
from .data import Dataset, bind


class EngineGradient:
    """Σ_{i∈S} ∇lᵢ(W) from diffkit's reverse-mode engine (``gradient="engine"``)."""

    name = "engine"
    least_squares = False  # no fast path: the engine is exercised step by step

    def __init__(self, model: Model, data: Dataset) -> None:
        try:
            import diffkit.engine as dk
        except ImportError as exc:  # pragma: no cover - the engine ships with diffkit
            raise BadInput(f"the reverse-mode engine is not available ({exc}); use the symbolic gradient") from None
        self.model = model
        self.data = bind(model, data)
        names = [s.name for s in model.data]
        tgt = self.data.target if self.data.target in names else "y" if "y" in names else names[-1]
        self._feat = [s.name for s in model.data if s.name != tgt]
        self._tgt = tgt
        graph = dk.from_model(model)
        counts = graph.op_counts()  # one sample's forward and backward tape (diffkit.engine.opcount)
        self._per_sample_ops = int(counts["forward"]) + int(counts["backward"])
        self._graph = dk.Graph(dk.sum(graph.output), name=f"{model.name} (batch sum)")
        leaves = {n.name for n in self._graph.nodes if n.kind in ("param", "input")}
        self._hyper = {s.name: model.defaults[s.name] for s in model.hyper if s.name in leaves}
        self._present = [p for p in model.wrt if p in leaves]
        self._data_present = [c for c in self._feat + [tgt] if c in leaves]

    def grad_sum(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """Σ_{i∈idx} ∇lᵢ(w) by one forward and one reverse sweep over the batch graph."""
        X = self.data.X if idx is None else self.data.X[idx]
        y = self.data.y if idx is None else self.data.y[idx]
        cols = {c: X[:, j] for j, c in enumerate(self._feat)}
        cols[self._tgt] = y
        point = {name: float(v) for name, v in zip(self.model.wrt, w) if name in self._present}
        point.update({c: cols[c] for c in self._data_present})
        point.update(self._hyper)
        grads = self._graph.gradient(point)
        return np.array([float(np.sum(grads[p])) if p in grads else 0.0 for p in self.model.wrt])

    def flops(self, batch: int) -> int:
        """Operations of one forward and one reverse sweep for ``batch`` samples: the per-sample tape's
        count (:mod:`diffkit.engine.opcount`) times the batch, so the flops axis of an engine run is
        measured on the engine's own tape."""
        return self._per_sample_ops * int(batch)
