"""Agreement: symbolic vs reverse mode vs finite differences vs complex step, kink-aware.

Sources, all in float64:

* ``symbolic`` — the SymPy partials, lambdified (:func:`diffkit.symbolic.to_numpy`);
* ``reverse``  — diffkit's reverse-mode engine on the model's graph;
* ``numeric``  — central differences, 4-point (Richardson) stencil, step ``h·max(1, |θ_i|)``;
* ``complex_step`` — Im f(θ + i·h e_i)/h with h = 1e-30, only where the loss is analytic
  (no relu, step, sign, abs, max, min).

Errors are measured against the symbolic gradient b.  The relative error is |a − b| / max(|b|, 1)
(mixed scale, as in ``numpy.allclose`` with atol = rtol: a gradient entry near 0 is judged by its
absolute error), and a comparison passes when it is within ``RTOL``:
``RTOL["numeric"] = 1e-7``, ``RTOL["reverse"] = RTOL["complex_step"] = 1e-12``.

Kinks: where a kinked function sits exactly at its kink (relu, abs, step or sign of 0; max or min
at a tie), the derivative may not exist and tools follow different conventions (0, ½ or 1).  For
each parameter diffkit then reports the left and right one-sided derivatives; if they differ the
verdict is ``kink`` — a convention difference, not a failure.  If they agree (relu(z)² at z = 0,
say) the derivative exists; the central stencil straddles the kink there, so the numeric estimate
is the mean of the one-sided differences, judged with ``KINK_TOL``.

Examples
--------
>>> from diffkit import model_from_expr
>>> m = model_from_expr("relu(w*x) + b**2", wrt="w,b", at={"w": 0.0, "b": 0.5, "x": 2.0})
>>> a = agreement(m)
>>> a.verdicts, a.kinks["w"]
({'w': 'kink', 'b': 'ok'}, {'left': 0.0, 'right': 2.0})
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..errors import BadInput
from ..model import Model
from .numeric_warnings import Recorder, capture
from .prepare import KINKED, Prepared, prepare  # noqa: F401  (KINKED re-exported)
from .. import constraints as _cons

RTOL = {"reverse": 1e-12, "numeric": 1e-7, "complex_step": 1e-12}
SOURCES = ("symbolic", "reverse", "numeric", "complex_step")
FD_STEP = 2e-4
ONE_SIDED_STEP = 1e-6
KINK_TOL = 1e-5


@dataclass(frozen=True)
class PointAgreement:
    """All gradient sources at one point, with errors against the symbolic gradient.

    ``gradients`` holds the sources of :data:`SOURCES` that apply (no complex step through a
    kinked function); ``errors`` the same without ``symbolic``.  The JSON of ``compare`` lists
    every source, with ``null`` for one that does not apply.
    """

    point: dict[str, float]
    value: float
    gradients: dict[str, dict[str, float]]          # source -> param -> value
    errors: dict[str, dict[str, tuple[float, float]]]  # source -> param -> (abs, rel)
    verdicts: dict[str, str]                        # param -> "ok" | "kink" | "mismatch"
    kinks: dict[str, dict[str, float]]              # param -> {"left", "right"} where at a kink
    kink_sites: tuple[str, ...] = ()                # the kinked subexpressions sitting at their kink

    @property
    def ok(self) -> bool:
        return all(v != "mismatch" for v in self.verdicts.values())


@dataclass(frozen=True)
class Agreement(PointAgreement):
    """Agreement at the user's point, plus a summary over random points."""

    random: dict = field(default_factory=dict)

    @property
    def max_abs_error(self) -> float:
        return max([e[0] for src in self.errors.values() for e in src.values()]
                   + [self.random.get("max_abs_error", 0.0)])

    @property
    def max_rel_error(self) -> float:
        return max([e[1] for src in self.errors.values() for e in src.values()]
                   + [self.random.get("max_rel_error", 0.0)])

    @property
    def ok(self) -> bool:
        return super().ok and self.random.get("mismatches", 0) == 0


class _Evaluator:
    """Every gradient source at a point, from the prepared artifacts (nothing built here)."""

    def __init__(self, prep: Prepared, rec: Recorder | None = None):
        self.prep = prep
        self.model = prep.model
        self.k = len(prep.model.params)
        self.f, self.g, self.graph = prep.loss_fn, prep.grad_fn, prep.graph
        self.analytic = prep.analytic
        self.rec = rec

    def _src(self, name: str):
        return self.rec.source(name) if self.rec is not None else nullcontext()

    def loss_at(self, theta: np.ndarray, rest: list) -> float:
        return float(self.f(*theta, *rest))

    def at(self, pt: Mapping[str, float]) -> PointAgreement:
        vals = self.prep.values(pt)
        theta, rest = np.array(vals[: self.k], dtype=float), vals[self.k:]
        names = self.model.wrt
        with self._src("symbolic"):
            sym = {n: float(v) for n, v in zip(names, self.g(*vals))}
        with self._src("reverse"):
            rev = {n: float(np.asarray(v)) for n, v in self.graph.gradient(dict(pt)).items()}
        with self._src("numeric"):
            num = {n: float(v) for n, v in zip(names, _central(lambda t: self.loss_at(t, rest), theta))}
        grads = {"symbolic": sym, "reverse": rev, "numeric": num}
        if self.analytic:
            with self._src("complex_step"):
                cs = _complex_step(lambda t: self.f(*t, *rest), theta)
            grads["complex_step"] = {n: float(v) for n, v in zip(names, cs)}
        with self._src("loss"):
            value = float(self.f(*vals))
        sites = tuple(str(e) for e, a in zip(self.prep.kinked, self.prep.kink_fns) if _at_kink(e, a(*vals)))
        kinks: dict[str, dict[str, float]] = {}
        smooth_here: set[str] = set()
        if sites:
            with self._src("numeric"):
                for i, n in enumerate(names):
                    left, right = _one_sided(lambda t: self.loss_at(t, rest), theta, i)
                    if _close(left, right, KINK_TOL):
                        grads["numeric"][n] = 0.5 * (left + right)
                        smooth_here.add(n)
                    else:
                        kinks[n] = {"left": left, "right": right}
        errors: dict[str, dict[str, tuple[float, float]]] = {}
        verdicts = {n: "ok" for n in names}
        for src in [s for s in grads if s != "symbolic"]:
            errors[src] = {}
            for n in names:
                a, b = grads[src][n], sym[n]
                with np.errstate(all="ignore"):
                    ae = abs(a - b)
                    re = ae / max(abs(b), 1.0)
                tol = KINK_TOL if (src == "numeric" and n in smooth_here) else RTOL[src]
                errors[src][n] = (ae, re)
                if n in kinks:
                    verdicts[n] = "kink"
                elif not re <= tol or not np.isfinite(a) or not np.isfinite(b):
                    verdicts[n] = "mismatch"
        # at a kink the errors are convention differences: keep them out of the maxima
        for src in errors:
            for n in kinks:
                errors[src][n] = (0.0, 0.0)
        return PointAgreement(dict(pt), value, grads, errors, verdicts, kinks, sites)


@_cons.validate_params(model=_cons.MODEL, point=_cons.POINT, points=_cons.POINTS, seed=_cons.SEED)
def agreement(model: Model, point: Mapping[str, float] | None = None, *, points: int = 10,
              seed: int = 0, prepared: Prepared | None = None, recorder: Recorder | None = None) -> Agreement:
    """Gradient agreement at ``point`` (the model's point by default) and at ``points`` random points.

    Random points vary every symbol over its domain (``model.domains``); points where the loss or
    gradient is not finite (outside a log's domain, say) are skipped and counted.

    Parameters
    ----------
    prepared : Prepared, optional
        The model's artifacts from :func:`diffkit.analysis.prepare.prepare`; made here if not given.
    recorder : Recorder, optional
        Where NumPy's floating-point warnings go (:mod:`diffkit.analysis.numeric_warnings`);
        without one they are recorded and dropped, never printed.
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 0 or points > 100_000:
        raise BadInput(f"--points must be between 0 and 100000, got {points}")
    if recorder is None:
        with capture() as rec:
            return agreement(model, point, points=points, seed=seed, prepared=prepared, recorder=rec)
    prep = prepared if prepared is not None else prepare(model, point, forms=())
    pt = prep.point if point is None and prepared is not None else model.point(point)
    ev = _Evaluator(prep, recorder)
    here = ev.at(pt)
    mx_abs = mx_rel = 0.0
    mismatches = kinks = skipped = 0
    worst: dict | None = None
    for rp in prep.model.random_points(points, seed=seed, base=pt):
        r = ev.at(rp)
        if not np.isfinite(r.value) or not all(np.isfinite(v) for v in r.gradients["symbolic"].values()):
            skipped += 1
            continue
        kinks += bool(r.kinks)
        mismatches += not r.ok
        for src in r.errors.values():
            for ae, re in src.values():
                if re > mx_rel:
                    worst = {"point": rp, "relative_error": re}
                mx_abs, mx_rel = max(mx_abs, ae), max(mx_rel, re)
    random = {"points": points, "seed": seed, "max_abs_error": mx_abs, "max_rel_error": mx_rel,
              "mismatches": mismatches, "kinks": kinks, "skipped": skipped, "worst": worst}
    return Agreement(here.point, here.value, here.gradients, here.errors, here.verdicts, here.kinks,
                     here.kink_sites, random)


def _at_kink(e, v) -> bool:
    return bool(np.all(np.abs(np.asarray(v, dtype=float)) <= 1e-12))


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _central(f, theta: np.ndarray) -> np.ndarray:
    g = np.empty_like(theta)
    for i in range(theta.size):
        h = FD_STEP * max(1.0, abs(theta[i]))
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (8 * (f(theta + e) - f(theta - e)) - (f(theta + 2 * e) - f(theta - 2 * e))) / (12 * h)
    return g


def _one_sided(f, theta: np.ndarray, i: int) -> tuple[float, float]:
    """Second-order one-sided differences (left, right) in coordinate ``i``."""
    h = ONE_SIDED_STEP * max(1.0, abs(theta[i]))
    e = np.zeros_like(theta)
    e[i] = h
    f0 = f(theta)
    right = (-3 * f0 + 4 * f(theta + e) - f(theta + 2 * e)) / (2 * h)
    left = (3 * f0 - 4 * f(theta - e) + f(theta - 2 * e)) / (2 * h)
    return round(float(left), 6), round(float(right), 6)


def _complex_step(f, theta: np.ndarray, h: float = 1e-30) -> np.ndarray:
    x = theta.astype(complex)
    g = np.empty(theta.size)
    for i in range(theta.size):
        e = np.zeros_like(x)
        e[i] = 1j * h
        g[i] = np.imag(f(x + e)) / h
    return g
