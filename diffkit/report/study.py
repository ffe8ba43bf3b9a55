"""The GD-vs-SGD study a report shows: which model and data, and how big (a library function, so the
template only reads its :class:`~diffkit.optim.results.StudyResult`).

The lecture's least-squares setting is used unless the report's own model is linear or logistic
regression, in which case that model is fitted to synthetic data of its kind.  The data have a known
optimum (:func:`diffkit.optim.solve_optimum`), so excess loss F(w_k) − F* is exact.

Step sizes: GD uses the classical constant 1/L.  SGD and minibatch use the lecture's α_k = C/k
with the optimiser's default C = 1/μ (μ the smallest eigenvalue of AᵀA/n + λ; see
:func:`diffkit.optim.default_C`): Bottou, Curtis & Nocedal (2018, Thm 4.7) need C·μ > 1/2 for the
O(1/k) rate.

The default size (n = 1000, d = 5, 20 epochs, seeds 0..4) keeps a whole report under ~2 s of
optimisation on a laptop-class core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import BadInput
from ..model import Model

_OWN = ("linear-regression", "logistic-regression")


@dataclass(frozen=True)
class StudySettings:
    """Size of the report's optimisation study (validated when built).

    Parameters
    ----------
    n, d : int, default 1000, 5
        Synthetic samples and features.
    epochs : int, default 20
        Budget in passes over the data for every method.
    seeds : sequence of int, default 0..4
        One run per method and seed; the plots show the median and the min–max band.
    eps : float, default 1e-4
        Target excess loss for the "cost to reach ε" column.
    batch : int, default 32
        Minibatch size.
    noise : float, default 0.1
        Standard deviation of the regression noise.
    timing : bool, default True
        Measure wall time (False: no wall-time plot or column; the report is then byte-identical
        for the same inputs).
    """

    n: int = 1000
    d: int = 5
    epochs: int = 20
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    eps: float = 1e-4
    batch: int = 32
    noise: float = 0.1
    timing: bool = True

    def __post_init__(self) -> None:
        for what, v, lo, hi in (("--n", self.n, 2, 10**6), ("--d", self.d, 1, 200), ("--epochs", self.epochs, 1, 10**4),
                                ("batch", self.batch, 1, 10**6)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise BadInput(f"{what} must be an integer in [{lo}, {hi}], got {v!r}")
        seeds = tuple(self.seeds)
        if not seeds or len(seeds) > 50 or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise BadInput(f"--seeds must be 1 to 50 non-negative integers, got {self.seeds!r}")
        object.__setattr__(self, "seeds", seeds)
        if not (isinstance(self.eps, (int, float)) and 0 < self.eps < 1e6):
            raise BadInput(f"eps must be a number > 0, got {self.eps!r}")


def study_kind(model: Model | None) -> str:
    """The built-in model the study fits: the report's own when it is linear/logistic regression."""
    kind = model.spec.get("kind") if model is not None else None
    return kind if kind in _OWN else "linear-regression"


def report_study(model: Model | None = None, settings: StudySettings | None = None, *,
                 methods: Sequence[str] = ("gd", "sgd", "minibatch")):
    """Run the report's GD / SGD (C/k) / minibatch study and return the StudyResult.

    Examples
    --------
    >>> res = report_study(settings=StudySettings(n=200, d=2, epochs=3, seeds=(0, 1), timing=False))
    >>> res.model, sorted(res.by_method())
    ('linear-regression', ['gd', 'minibatch(b=32)', 'sgd'])
    """
    from .. import builtin
    from ..optim import make_data, study

    s = settings or StudySettings()
    kind = study_kind(model)
    d = int(model.spec.get("d", s.d)) if model is not None and kind == model.spec.get("kind") else s.d
    m = builtin(kind, d=d)
    data = make_data(kind, n=s.n, d=d, noise=s.noise, seed=0)
    # step sizes: the optimiser's defaults (1/L for GD; C = 1/μ for C/k, see optim.default_C)
    return study(m, data, methods=tuple(methods), epochs=s.epochs, batch=s.batch,
                 seeds=s.seeds, eps=s.eps, timing=s.timing)
