"""The GD-vs-SGD study a report shows: which model and data, and how big (a library function, so the
template only reads its :class:`~diffkit.optim.results.StudyResult`).

The report's own model is trained when built-in data suit it (see :func:`study_kind`); otherwise the
lecture's least-squares setting is used.  With ``StudySettings(data=...)`` the own model is trained
on the user's data instead.  Linear and logistic regression have an exact optimum
(:func:`diffkit.optim.solve_optimum`); for the neuron and networks F* is the lowest loss any run reached.

Step sizes: GD uses the classical constant 1/L.  SGD and minibatch use the lecture's α_k = C/k
on a shifted clock, C/(k + k₀), with the optimiser's defaults (:func:`diffkit.optim.study.default_schedule`).

The default size (n = 1000, d = 5, 20 epochs, seeds 0..4) keeps a whole report under ~2 s of
optimisation on a laptop-class core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import constraints as _C
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
    data, target : str, optional
        Study the report's own model on this data set instead (a bundled name, or a CSV/.npy
        file with its target column), split, scaled and trained as ``diffkit train`` does;
        ``epochs`` None then means ``diffkit train``'s per-method defaults.
    lam : float, default 0
        Regulariser λ of the study (e.g. for separable classes).
    """

    n: int = 1000
    d: int = 5
    epochs: int = 20
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    eps: float = 1e-4
    batch: int = 32
    noise: float = 0.1
    timing: bool = True
    data: str | None = None
    target: str | None = None
    lam: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs is None and self.data is None:
            object.__setattr__(self, "epochs", 20)
        # the ranges are declared once (diffkit.constraints.REPORT_*), as `diffkit report --help` shows them
        _C.check("--n", self.n, _C.REPORT_N.constraint)
        _C.check("--d", self.d, _C.REPORT_D.constraint)
        _C.check("--epochs", self.epochs, _C.REPORT_EPOCHS.constraint)
        _C.check("batch", self.batch, _C.Interval(int, 1, 10**6))
        seeds = self.seeds
        _C.check("--seeds", seeds, _C.REPORT_SEEDS.constraint)
        object.__setattr__(self, "seeds", tuple(int(s) for s in seeds))
        _C.check("--eps", self.eps, _C.REPORT_EPS.constraint)
        _C.check("--lam", self.lam, _C.LAM.constraint)


def study_kind(model: Model | None) -> str:
    """The built-in model the study fits: the report's own when it can be trained on built-in data
    (linear/logistic regression on synthetic data of their kind, the ridge-sigmoid neuron on 1-D
    logistic data, a 2-input single-output MLP on two moons), else linear regression."""
    if model is None:
        return "linear-regression"
    kind = model.spec.get("kind") or model.source
    if kind in _OWN or kind == "ridge-sigmoid":
        return kind
    if kind == "mlp" and model.spec["sizes"][0] == 2 and model.spec["sizes"][-1] == 1:
        return "mlp"
    return "linear-regression"


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
    if s.data is not None:
        return data_study(model, s, methods=methods)
    kind = study_kind(model)
    if kind == "ridge-sigmoid":  # the lecture's neuron: x in 1-D, y ~ Bernoulli(σ(w*x + b*))
        m, data = model, make_data("logistic-regression", n=s.n, d=1, seed=0)
        data = type(data)(data.X, data.y, ("x",), "y", data.source.replace("d=1", "one input x"))
    elif kind == "mlp":
        from ..datasets import moons
        m, data = model, moons(n=s.n, seed=0)
    else:
        d = int(model.spec.get("d", s.d)) if model is not None and kind == model.spec.get("kind") else s.d
        m = builtin(kind, d=d)
        data = make_data(kind, n=s.n, d=d, noise=s.noise, seed=0)
    # step sizes: the optimiser's defaults (1/L for GD; C = 1/μ for C/k, see optim.default_C)
    return study(m, data, methods=tuple(methods), epochs=s.epochs, batch=s.batch, lam=s.lam,
                 seeds=s.seeds, eps=s.eps, timing=s.timing)


def data_study(model: Model | None, s: StudySettings, *, methods: Sequence[str] = ("gd", "sgd", "minibatch")):
    """The report's own model trained on ``s.data`` (held-out split, standardised) — the study the
    report then shows; the same problem ``diffkit train MODEL --data ...`` trains."""
    from ..optim import study
    from ..optim.problem import problem

    if model is None or (model.source or model.name) not in ("linear-regression", "logistic-regression",
                                                             "ridge-sigmoid", "mlp"):
        name = "an expression" if model is None or model.name == "expr" else repr(model.name)
        raise BadInput(f"a report with --data trains a built-in model (linear-regression, logistic-regression, "
                       f"ridge-sigmoid, mlp), not {name}")
    kind = model.source or model.name
    opts = {}
    if kind == "mlp":
        spec = model.spec
        opts = {"sizes": ",".join(map(str, spec["sizes"])), "activations": ",".join(spec["activations"]),
                "mlp_loss": spec["loss"]}
    m, prep = problem(kind, s.data, s.target, **opts)
    epochs = None if s.epochs is None else s.epochs
    return study(m, prep.train, val=prep.val, test=prep.test, heldout=prep.to_dict(), methods=tuple(methods),
                 epochs=epochs, batch=min(s.batch, prep.train.n), seeds=s.seeds, eps=s.eps, timing=s.timing,
                 lam=s.lam)


# -- figures a study's CLI writes (--plot): they only read result objects ----------------------
_XLABEL = {"iteration": "iterations k (parameter updates)", "epoch": "passes over the data (epochs)",
           "sample_gradients": "sample gradients evaluated", "flops": "flops (diffkit.optim.cost convention)",
           "time_s": "wall time (s)"}


def convergence_figure(study, *, x: str = "epoch"):
    """Excess loss F − F* against ``x`` (any :data:`diffkit.optim.results.X_AXES` field): median over
    seeds as a line, min–max band; with a validation set, a second panel of validation loss."""
    import matplotlib
    from matplotlib.figure import Figure

    from ..optim import median_curve
    from ..optim.results import x_axis
    from .figures import _RC, COLORS, FLOOR, _floor, _time_curve

    x = x_axis(x)
    has_val = any(h.val_loss is not None for r in study.runs for h in r.history)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.4, 3.6 if not has_val else 6.4), dpi=100)
        axes = fig.subplots(2 if has_val else 1, 1, squeeze=False)[:, 0]
        for label, runs in study.by_method().items():
            color = COLORS.get(label.split("(")[0], "#9467bd")
            panels = [(axes[0], "excess_loss")] + ([(axes[1], "val_loss")] if has_val else [])
            for ax, y in panels:
                if x == "time_s" and y == "excess_loss":
                    cur = _time_curve(runs)
                else:
                    cur = median_curve(runs, x=x, y=y, spread=(0.0, 100.0))
                xs = np.asarray(cur["x"], dtype=float)
                keep = xs > 0
                if not keep.any():
                    continue
                lo, hi, med = (np.asarray(cur[k], dtype=float) for k in ("lo", "hi", "median"))
                if y == "excess_loss":
                    lo, hi, med = _floor(lo), _floor(hi), _floor(med)
                ax.fill_between(xs[keep], lo[keep], hi[keep], color=color, alpha=0.2, lw=0)
                ax.plot(xs[keep], med[keep], color=color, lw=1.7, label=f"{label} (median of {len(runs)} seeds)")
        axes[0].set_ylabel("excess training loss F − F*")
        axes[0].set_ylim(bottom=FLOOR / 3)
        axes[0].set_title(f"{study.model} on {study.data.split(' (')[0]}: convergence; band min–max over seeds")
        if has_val:
            axes[1].set_ylabel("validation loss (mean)")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(_XLABEL[x])
        axes[-1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
        fig.set_layout_engine("constrained")
    return fig


def sensitivity_figure(sweep):
    """Final (solid) and best (dashed) training loss against the step-size scale C, per method:
    median over seeds, min–max band; diverged grid points are marked × at the top."""
    import matplotlib
    from matplotlib.figure import Figure

    from .figures import _RC, COLORS

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.4, 3.8), dpi=100)
        ax = fig.add_subplot()
        top = []
        for m, pts in sweep.by_method().items():
            color = COLORS.get(m, "#9467bd")
            Cs = np.array([q.C / sweep.default_C[m] for q in pts])
            fin = [q.stats("final") for q in pts]
            med = np.array([s["median"] for s in fin])
            ok = np.array([q.diverged == 0 for q in pts])
            lab = sweep.labels.get(m, m)
            if ok.any():
                ax.fill_between(Cs[ok], [s["min"] for s, o in zip(fin, ok) if o], [s["max"] for s, o in zip(fin, ok) if o],
                                color=color, alpha=0.18, lw=0)
                ax.plot(Cs[ok], med[ok], "o-", color=color, lw=1.6, ms=3.5,
                        label=f"{lab}: final loss (median of {len(pts[0].seeds)} seeds)")
                best = np.array([q.stats("best")["median"] for q in pts])
                ax.plot(Cs[ok], best[ok], "--", color=color, lw=1.0, label=f"{lab}: best loss")
                top.append(np.nanmax(med[ok]))
            bad = Cs[~ok]
            if len(bad):
                ax.plot(bad, np.full(len(bad), np.nan), "x", color=color)
                top.append(None)
        finite = [t for t in top if t is not None and np.isfinite(t)]
        ymax = max(finite) * 1.5 if finite else 1.0
        for m, pts in sweep.by_method().items():
            bad = [q.C / sweep.default_C[m] for q in pts if q.diverged]
            if bad:
                ax.plot(bad, np.full(len(bad), ymax), "x", color=COLORS.get(m, "#9467bd"), ms=7, mew=1.6,
                        label=f"{sweep.labels.get(m, m)}: diverged (some seeds)")
        ax.axhline(sweep.optimum_loss, color="#555555", lw=0.9, ls=":", label=f"F* = {sweep.optimum_loss:.6g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step-size scale C / default C of the method")
        ax.set_ylabel("training loss F")
        ax.set_title(f"Step-size sensitivity: {sweep.model} on {sweep.data.split(' (')[0]}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False, fontsize=7.5)
        fig.set_layout_engine("constrained")
    return fig


def save_figure(fig, path) -> None:
    """Write ``fig`` as SVG or PNG (by suffix) atomically: a temporary file beside ``path``, then a rename,
    so a failure never leaves a partial file or destroys an earlier one."""
    import os
    import tempfile
    from pathlib import Path

    import matplotlib

    from ..errors import BadInput, ComputationError
    from .figures import _RC

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise BadInput(f"a figure is written as .svg or .png, not {path.name!r}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent) or ".")
    try:
        with os.fdopen(fd, "wb") as f, matplotlib.rc_context(_RC):
            fig.savefig(f, format=fmt, metadata={"Date": None} if fmt == "svg" else None, dpi=150)
        os.replace(tmp, path)
    except OSError as exc:
        raise ComputationError(f"cannot write the figure {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def profile_figure(profile):
    """Performance profile ρ_m(τ): the fraction of problems on which method m reaches the relative
    target within τ × the best method's cost (Dolan & Moré 2002), a step curve per method."""
    import matplotlib
    from matplotlib.figure import Figure

    from .figures import _RC, COLORS

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.4, 3.6), dpi=100)
        ax = fig.add_subplot()
        for m in profile.methods:
            ax.step(profile.taus, profile.rho[m], where="post", color=COLORS.get(m, "#9467bd"), lw=1.8, label=m)
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(f"τ: cost ({profile.measure.replace('_', ' ')}) / best method's cost")
        ax.set_ylabel("fraction of problems solved within τ")
        ax.set_title(f"Performance profile over {len(profile.problems)} built-in problems, "
                     f"target relative excess loss {profile.eps_rel:g}")
        ax.legend(loc="lower right", frameon=False)
        fig.set_layout_engine("constrained")
    return fig
