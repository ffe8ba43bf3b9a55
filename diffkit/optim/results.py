"""Result objects of the optimisers: plain frozen data, read by the CLI and the report generator.

Nothing here re-runs anything.  ``to_dict()`` gives the JSON layout of ``diffkit optimize --json``
(stable keys; floats that are not finite become ``"inf"``/``"-inf"``/``null`` in the CLI's
encoder).  ``time_s`` is None when timing was switched off (reproducible output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Run statuses.
STATUSES: tuple[str, ...] = ("converged", "max_epochs", "diverged")


@dataclass(frozen=True)
class HistoryPoint:
    """The state after ``iteration`` updates; costs are cumulative; time excludes loss evaluations."""

    iteration: int
    epoch: float
    sample_gradients: int
    flops: int
    time_s: float | None
    loss: float
    excess_loss: float

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "epoch": self.epoch, "sample_gradients": self.sample_gradients,
                "flops": self.flops, "time_s": self.time_s, "loss": self.loss, "excess_loss": self.excess_loss}


@dataclass(frozen=True)
class RunResult:
    """One run: method, schedule, seed, outcome and the recorded history (first point: iteration 0).

    ``message`` explains the status in one sentence (e.g. where a run diverged).
    """

    method: str
    schedule: str
    C: float
    seed: int
    batch: int
    sampling: str
    gradient: str
    status: str
    message: str
    param_names: tuple[str, ...]
    params: tuple[float, ...]
    history: tuple[HistoryPoint, ...]

    @property
    def final(self) -> HistoryPoint:
        return self.history[-1]

    @property
    def label(self) -> str:
        return self.method if self.method != "minibatch" else f"minibatch(b={self.batch})"

    def cost_to_reach(self, eps: float, *, measure: str = "sample_gradients") -> float | None:
        """``measure`` (a HistoryPoint field) at the first recorded point with excess loss ≤ eps, or None."""
        for h in self.history:
            if h.excess_loss == h.excess_loss and h.excess_loss <= eps:
                return getattr(h, measure)
        return None

    def to_dict(self) -> dict[str, Any]:
        f = self.final
        return {
            "method": self.method, "schedule": self.schedule, "C": self.C, "seed": self.seed,
            "batch": self.batch, "sampling": self.sampling, "gradient": self.gradient,
            "status": self.status, "message": self.message,
            "final": {"loss": f.loss, "excess_loss": f.excess_loss, "iteration": f.iteration,
                      "epoch": f.epoch, "sample_gradients": f.sample_gradients, "flops": f.flops,
                      "time_s": f.time_s, "params": dict(zip(self.param_names, self.params))},
            "history": [h.to_dict() for h in self.history],
        }


@dataclass(frozen=True)
class StudyResult:
    """Every run of a study plus what they are measured against.

    ``optimum`` is ``{"loss", "params", "method"}``; ``config`` records the study's settings.
    """

    model: str
    n: int
    d: int
    data: str
    param_names: tuple[str, ...]
    optimum_loss: float
    optimum_params: tuple[float, ...] | None
    optimum_method: str
    runs: tuple[RunResult, ...]
    eps: float | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def by_method(self) -> dict[str, list[RunResult]]:
        """Runs grouped by method label (``gd``, ``sgd``, ``minibatch(b=32)``), seeds in order."""
        out: dict[str, list[RunResult]] = {}
        for r in self.runs:
            out.setdefault(r.label, []).append(r)
        return out

    def to_dict(self) -> dict[str, Any]:
        params = {} if self.optimum_params is None else dict(zip(self.param_names, self.optimum_params))
        return {
            "model": self.model, "n": self.n, "d": self.d, "data": self.data,
            "optimum": {"loss": self.optimum_loss, "params": params, "method": self.optimum_method},
            "eps": self.eps, "config": dict(self.config),
            "runs": [r.to_dict() for r in self.runs],
        }
