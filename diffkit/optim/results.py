"""Result objects of the optimisers: plain frozen data, read by the CLI and the report generator.

Nothing here re-runs anything.  ``to_dict()`` gives the JSON layout of ``diffkit optimize --json``
(stable keys; floats that are not finite become ``"inf"``/``"-inf"``/``null`` in the CLI's
encoder).  ``time_s`` is None when timing was switched off (reproducible output).
"""

from __future__ import annotations
from ..constraints import shorten

from dataclasses import dataclass, field
from typing import Any

#: Run statuses.
STATUSES: tuple[str, ...] = ("converged", "max_epochs", "diverged", "early_stopped")

#: What a convergence plot's x-axis may count (HistoryPoint fields; "passes" = epochs).
X_AXES: dict[str, str] = {"iteration": "iterations", "epoch": "passes over the data",
                          "sample_gradients": "sample gradients", "flops": "flops", "time_s": "seconds"}
_X_ALIASES = {"iterations": "iteration", "passes": "epoch", "epochs": "epoch", "samples": "sample_gradients",
              "sample-gradients": "sample_gradients", "seconds": "time_s", "time": "time_s"}


def x_axis(name: str) -> str:
    """The HistoryPoint field for an x-axis name (iterations, passes, sample-gradients, flops, seconds).

    >>> x_axis("passes")
    'epoch'
    """
    key = _X_ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if key not in X_AXES:
        from ..errors import BadInput
        raise BadInput(f"unknown x-axis {shorten(name)}; choose iterations, passes, sample-gradients, flops or seconds")
    return key


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
    val_loss: float | None = None
    val_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "epoch": self.epoch, "sample_gradients": self.sample_gradients,
                "flops": self.flops, "time_s": self.time_s, "loss": self.loss, "excess_loss": self.excess_loss,
                "val_loss": self.val_loss, "val_accuracy": self.val_accuracy}


@dataclass(frozen=True)
class RunResult:
    """One run: method, schedule, seed, outcome and the recorded history (first point: iteration 0).

    ``message`` explains the status in one sentence (e.g. where a run diverged) and ``hint`` says,
    for a diverged run, what to change.  ``train_accuracy``/``test_accuracy``/``test_loss`` are
    measured on the final weights (None where there is no such set or the task is regression);
    ``params`` are in ``model.params`` order.  Losses on held-out data are mean per-sample losses
    (no regulariser); ``loss`` in the history is the training objective F.
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
    hint: str = ""
    init: str = "zeros"
    train_accuracy: float | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None

    @property
    def final(self) -> HistoryPoint:
        return self.history[-1]

    def relative_excess(self, h: HistoryPoint | None = None) -> float:
        """(F − F*)/(F(W₀) − F*) at ``h`` (default: the end): 1 means no progress, 0 the optimum."""
        h = self.final if h is None else h
        gap = self.history[0].excess_loss
        return h.excess_loss / gap if gap and gap == gap and gap > 0 else float("nan")

    def best_loss(self) -> float:
        """The lowest training loss recorded."""
        vals = [h.loss for h in self.history if h.loss == h.loss]
        return min(vals) if vals else float("nan")

    @property
    def label(self) -> str:
        return self.method if self.method != "minibatch" else f"minibatch(b={self.batch})"

    def cost_to_reach(self, eps: float, *, measure: str = "sample_gradients", relative: bool = False) -> float | None:
        """``measure`` (a HistoryPoint field) at the first recorded point with excess loss ≤ eps, or None.

        With ``relative`` the target is a relative excess loss (see :meth:`relative_excess`).
        """
        scale = self.history[0].excess_loss if relative else 1.0
        if not (scale == scale and scale > 0):
            return None
        for h in self.history:
            if h.excess_loss == h.excess_loss and h.excess_loss <= eps * scale:
                return getattr(h, measure)
        return None

    def to_dict(self) -> dict[str, Any]:
        f = self.final
        return {
            "method": self.method, "schedule": self.schedule, "C": self.C, "seed": self.seed,
            "batch": self.batch, "sampling": self.sampling, "gradient": self.gradient,
            "status": self.status, "message": self.message, "hint": self.hint, "init": self.init,
            "final": {"loss": f.loss, "excess_loss": f.excess_loss, "relative_excess_loss": self.relative_excess(),
                      "iteration": f.iteration, "epoch": f.epoch, "sample_gradients": f.sample_gradients,
                      "flops": f.flops, "time_s": f.time_s, "val_loss": f.val_loss, "val_accuracy": f.val_accuracy,
                      "params": dict(zip(self.param_names, self.params))},
            "initial_loss": self.history[0].loss, "best_loss": self.best_loss(),
            "train_accuracy": self.train_accuracy, "test_loss": self.test_loss, "test_accuracy": self.test_accuracy,
            "history": [h.to_dict() for h in self.history],
        }


@dataclass(frozen=True)
class StudyResult:
    """Every run of a study plus what they are measured against.

    ``optimum`` is ``{"loss", "params", "method"}``; ``config`` records the study's settings;
    ``condition_number`` is κ(AᵀA/n) of the training design (None without a matrix form);
    ``heldout`` describes the split (see :class:`~diffkit.optim.prepare.Preparation`);
    ``wall_s`` is the study's wall time (None with timing off) and ``executor`` where it ran.
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
    eps_rel: float | None = None
    condition_number: float | None = None
    heldout: dict[str, Any] = field(default_factory=dict)
    task: str = "regression"
    wall_s: float | None = None
    executor: str = "serial"

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
            "eps": self.eps, "eps_rel": self.eps_rel, "config": dict(self.config),
            "condition_number": self.condition_number, "heldout": dict(self.heldout), "task": self.task,
            "wall_s": self.wall_s,
            "runs": [r.to_dict() for r in self.runs],
        }

    def _repr_html_(self):  # notebooks: the rendering lives in diffkit.display
        from ..display import study_html

        return study_html(self)

    def _repr_latex_(self):  # notebooks: the rendering lives in diffkit.display
        from ..display import study_latex

        return study_latex(self)

    def plot(self, *, x: str = "sample_gradients"):
        """The convergence curves (diffkit.display.study_plot): a matplotlib Figure."""
        from ..display import study_plot

        return study_plot(self, x=x)
