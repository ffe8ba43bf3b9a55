"""Configuration of one optimisation run: the step-size schedule and the run settings.

Both are frozen dataclasses validated when built, so a bad value fails at once with a message
naming the value, why it is wrong and how to fix it (:class:`~diffkit.errors.BadInput`).

Objective
---------
Every optimiser here minimises the *mean* loss plus an optional L2 regulariser::

    F(W) = (1/n) Σᵢ l(yᵢ, f_W(xᵢ)) + λ R(W),     R(W) = ½‖W‖²  (all parameters)

which is the lecture's L(W) = Σᵢ l + λR divided by n.  Working with the mean keeps one step size
meaningful for GD, minibatch SGD and single-sample SGD: with batch S the update is
``W ← W − α_k ((1/|S|) Σ_{i∈S} ∇lᵢ(W) + λW)``, which for |S| = 1 and λ = 0 is exactly the
lecture's ``w ← w + α_k (yᵢ − ⟨w, xᵢ⟩) xᵢ``.  The iteration counter k starts at 1.

Examples
--------
>>> s = Schedule("c/k", C=0.5)
>>> s.steps(0, 3).tolist()
[0.5, 0.25, 0.16666666666666666]
>>> Schedule("bottou", C=1.0, lam=0.5).steps(0, 3).tolist()
[1.0, 0.6666666666666666, 0.5]
>>> RunConfig("minibatch", Schedule("constant", C=0.1), batch=8).effective_batch(100)
8
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import BadInput
from .. import constraints as _cons

#: Step-size schedules.  k = 1, 2, ... counts the updates; C is the scale.
SCHEDULES: dict[str, str] = {
    "constant": "α_k = C",
    "c/k": "α_k = C/(k + k₀) (the lecture's C/k; k₀ = 0 unless given, Bottou–Curtis–Nocedal's β/(γ + k))",
    "c/sqrt(k)": "α_k = C/√k",
    "bottou": "α_k = C/(1 + Cλ(k − 1)) (Bottou's γ₀/(1 + γ₀λt), t = updates already made)",
}
_ALIASES = {"const": "constant", "1/k": "c/k", "c/k": "c/k", "inverse": "c/k",
            "c/sqrtk": "c/sqrt(k)", "1/sqrt(k)": "c/sqrt(k)", "inverse-sqrt": "c/sqrt(k)",
            "sqrt": "c/sqrt(k)"}

#: Optimisation methods: full-batch GD, single-sample SGD, minibatch SGD.
METHODS: tuple[str, ...] = ("gd", "sgd", "minibatch")

#: How SGD/minibatch pick samples: a fresh permutation each epoch, or i.i.d. uniform draws
#: ("choose i ∈ [1, n] uniformly at random", the lecture's algorithm).
SAMPLINGS: tuple[str, ...] = ("replacement", "shuffle")


def schedule_name(name: str) -> str:
    """The canonical schedule name for ``name`` (aliases such as ``1/k`` allowed).

    >>> schedule_name("1/K")
    'c/k'
    """
    key = str(name).strip().lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in SCHEDULES:
        raise BadInput(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    return key


def _finite(what: str, v, *, positive: bool = False, nonneg: bool = False) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise BadInput(f"{what} must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise BadInput(f"{what} must be finite, got {v!r}")
    if positive and f <= 0:
        raise BadInput(f"{what} must be > 0, got {v!r}")
    if nonneg and f < 0:
        raise BadInput(f"{what} must be ≥ 0, got {v!r}")
    return f


def _int(what: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
        raise BadInput(f"{what} must be an integer in [{lo}, {hi}], got {v!r}")
    return int(v)


@dataclass(frozen=True)
class Schedule:
    """A step-size schedule α_k, k = 1, 2, ...

    Parameters
    ----------
    kind : {"constant", "c/k", "c/sqrt(k)", "bottou"}, default "c/k"
        See :data:`SCHEDULES`.
    C : float, default 1.0
        Scale (> 0); γ₀ for ``bottou``.
    lam : float, default 0.0
        λ in Bottou's schedule (≥ 0; with 0 it is constant).  :func:`diffkit.optim.study`
        passes the regularisation strength.
    k0 : float, default 0.0
        Offset of the clock for ``c/k`` and ``c/sqrt(k)``: α_k = C/(k + k₀), C/√(k + k₀) (≥ 0).
        A large C (Cμ > ½, which the O(1/k) rate needs) with k₀ ≈ C·mean‖xᵢ‖² keeps the first
        steps stable while the tail is still the lecture's C/k.
    """

    kind: str = "c/k"
    C: float = 1.0
    lam: float = 0.0
    k0: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", schedule_name(self.kind))
        object.__setattr__(self, "C", _finite("step-size scale C", self.C, positive=True))
        object.__setattr__(self, "lam", _finite("λ (lam)", self.lam, nonneg=True))
        object.__setattr__(self, "k0", _finite("schedule offset k0", self.k0, nonneg=True))

    @_cons.validate_params(start=_cons.Param("start", _cons.Interval(int, 0, None)),
                           count=_cons.Param("count", _cons.Interval(int, 0, 10**9)))
    def steps(self, start: int, count: int) -> np.ndarray:
        """α_{start+1}, ..., α_{start+count} as a float64 array."""
        k = np.arange(start + 1, start + count + 1, dtype=np.float64)
        if self.kind == "constant":
            return np.full(count, self.C)
        if self.kind == "c/k":
            return self.C / (k + self.k0) if self.k0 else self.C / k
        if self.kind == "c/sqrt(k)":
            return self.C / np.sqrt(k + self.k0)
        return self.C / (1.0 + self.C * self.lam * (k - 1.0))

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class RunConfig:
    """Settings of one optimisation run (everything but the seed, model and data).

    Parameters
    ----------
    method : {"gd", "sgd", "minibatch"}
        Full-batch gradient descent, one sample per step, or ``batch`` samples per step.
    schedule : Schedule
        Step sizes.
    epochs : int, default 10
        Budget in passes over the data (GD: one iteration per epoch; SGD: n iterations).
    batch : int, default 32
        Minibatch size b (``minibatch`` only; SGD uses 1, GD uses n).
    sampling : {"replacement", "shuffle"}, default "replacement"
        i.i.d. uniform indices (the lecture's algorithm) or a fresh permutation each epoch.
    lam : float, default 0.0
        Strength λ of the regulariser λ·½‖W‖².
    gtol : float, default 1e-10
        Stop with status "converged" once ‖∇F(W)‖ ≤ gtol·‖∇F(W₀)‖ (checked every GD step and at
        every recorded point for SGD).  0 disables.
    diverge_factor : float, default 1.0
        Stop with status "diverged" once the loss is non-finite, or exceeds this × the initial
        loss at the end of an epoch: by default, as soon as a pass leaves the run worse than where
        it started (and anywhere at 10¹⁰ × the initial loss).
    history_points : int, default 40
        Log-spaced iterations at which loss is recorded, besides every epoch end.
    timing : bool, default True
        Measure wall time; when False every ``time_s`` is None (reproducible output).
    fast : bool, default True
        Allow exact fast paths for least squares (blocked single-sample SGD; a full gradient
        with reused buffers for GD).  The iterates are the same up to rounding.
    init : {"zeros", "glorot", "he"}, default "zeros"
        Initial weights W₀ (see :data:`diffkit.optim.network.INITS`), drawn from the run's seed.
    patience : int, default 0
        Early stopping: stop (status "early_stopped", keeping the best weights) once the
        validation loss has not improved for this many epochs.  0 disables; needs validation data.
    """

    method: str
    schedule: Schedule = field(default_factory=Schedule)
    epochs: int = 10
    batch: int = 32
    sampling: str = "replacement"
    lam: float = 0.0
    gtol: float = 1e-10
    diverge_factor: float = 1.0
    history_points: int = 40
    timing: bool = True
    fast: bool = True
    init: str = "zeros"
    patience: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise BadInput(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if not isinstance(self.schedule, Schedule):
            raise BadInput(f"schedule must be a Schedule, got {type(self.schedule).__name__}")
        object.__setattr__(self, "epochs", _int("epochs", self.epochs, 1, 10**7))
        object.__setattr__(self, "batch", _int("batch size", self.batch, 1, 10**9))
        if self.sampling not in SAMPLINGS:
            raise BadInput(f"unknown sampling {self.sampling!r}; choose from {', '.join(SAMPLINGS)}")
        object.__setattr__(self, "lam", _finite("λ (lam)", self.lam, nonneg=True))
        object.__setattr__(self, "gtol", _finite("gtol", self.gtol, nonneg=True))
        f = _finite("diverge_factor", self.diverge_factor, positive=True)
        if f < 1:
            raise BadInput(f"diverge_factor must be ≥ 1, got {self.diverge_factor!r}")
        object.__setattr__(self, "diverge_factor", f)
        object.__setattr__(self, "history_points", _int("history_points", self.history_points, 2, 10**5))
        if self.init not in ("zeros", "glorot", "he"):
            raise BadInput(f"unknown initialisation {self.init!r}; choose zeros, glorot or he")
        object.__setattr__(self, "patience", _int("patience", self.patience, 0, 10**6))

    def effective_batch(self, n: int) -> int:
        """Samples per step: n for GD, 1 for SGD, min(batch, n) for minibatch."""
        return n if self.method == "gd" else 1 if self.method == "sgd" else min(self.batch, n)
