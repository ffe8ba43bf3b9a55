"""The reference optimum F* = min F(W) that excess losses are measured against.

* Least squares (linear regression): the normal equations.  With λ = 0 the minimum-norm
  solution from ``np.linalg.lstsq``; with λ > 0 the ridge system (AᵀA/n + λI) W = Aᵀy/n.
* Logistic regression: Newton's method with backtracking on F, to machine precision
  (‖∇F‖ at rounding level).  Separable data without regularisation have no minimiser: that is a
  :class:`~diffkit.errors.BadInput` asking for λ > 0.
* Any other model: no closed form; :func:`solve_optimum` returns None and the study uses the
  lowest loss any of its runs reached (``method = "best-seen"``).

F* is always evaluated with the same :class:`~diffkit.optim.gradients.Objective` as the runs'
losses, so an excess loss of 0 means "as good as the reference, to rounding".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import stable
from ..errors import BadInput, ComputationError
from .gradients import Objective


@dataclass(frozen=True)
class Optimum:
    """The reference point: ``params`` in the model's parameter order, its loss and how it was found."""

    loss: float
    params: tuple[float, ...] | None
    method: str

    def to_dict(self, names: tuple[str, ...]) -> dict:
        params = {} if self.params is None else dict(zip(names, self.params))
        return {"loss": self.loss, "params": params, "method": self.method}


def solve_optimum(objective: Objective) -> Optimum | None:
    """The exact minimiser of ``objective`` for least squares and logistic regression, else None.

    Examples
    --------
    >>> import numpy as np
    >>> from diffkit import builtin
    >>> from diffkit.optim.data import make_data
    >>> from diffkit.optim.gradients import SymbolicGradient, Objective
    >>> ds = make_data(n=100, d=3, noise=0.0, seed=0)
    >>> opt = solve_optimum(Objective(SymbolicGradient(builtin("linear-regression", d=3), ds), 0.0))
    >>> bool(np.allclose(opt.params, ds.truth)), opt.loss < 1e-25
    (True, True)
    """
    src = objective.source
    kind = src.model.spec.get("kind")
    if src.form != "matrix" or kind not in ("linear-regression", "logistic-regression"):
        return None
    if getattr(src, "streamed", False):  # rows on disk: normal equations from AᵀA/n, Aᵀy/n
        if kind != "linear-regression":
            return None
        G, b = src.gram()
        H = G + objective.lam * np.eye(len(b))
        try:
            w = np.linalg.solve(H, b)
        except np.linalg.LinAlgError:  # singular design: the minimum-norm solution
            w = np.linalg.lstsq(H, b, rcond=None)[0]
        return Optimum(objective.loss(w), tuple(float(v) for v in w), "normal equations (streamed AᵀA)")
    A, y, lam, n = src.design, src.target, objective.lam, objective.n
    if kind == "linear-regression":
        if lam == 0:
            w = np.linalg.lstsq(A, y, rcond=None)[0]
            how = "normal equations (lstsq)"
        else:
            w = np.linalg.solve(A.T @ A / n + lam * np.eye(A.shape[1]), A.T @ y / n)
            how = "ridge normal equations"
    else:
        w = _newton_logistic(objective, A, y, lam)
        how = "Newton's method"
    return Optimum(objective.loss(w), tuple(float(v) for v in w), how)


def _newton_logistic(objective: Objective, A: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    n, p = A.shape
    w = np.zeros(p)
    f = objective.loss(w)
    for _ in range(100):
        z = A @ w
        s = stable.sigmoid(z)
        g = A.T @ (s - y) / n + lam * w
        H = (A.T * stable.sigmoid_prime(z, s)) @ A / n + lam * np.eye(p)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        while True:
            w_new = w - t * step
            f_new = objective.loss(w_new)
            if f_new <= f - 1e-4 * t * float(g @ step) or t < 1e-12:
                break
            t *= 0.5
        decrement = float(g @ step)
        w, f = w_new, f_new
        if not np.isfinite(w).all():
            break
        if lam == 0 and np.all((2 * y - 1) * (A @ w) > 0):
            break
        if decrement <= 1e-28 * max(1.0, f) or np.linalg.norm(g) <= 1e-15 * (1 + np.abs(A).max()):
            return w
        if np.linalg.norm(w) > 1e6:
            break
    # A w that classifies every sample strictly correctly can be scaled up to lower the loss
    # forever: then the data are separable and F has no minimiser.
    if lam == 0 and (not np.isfinite(w).all() or np.all((2 * y - 1) * (A @ w) > 0)):
        raise BadInput("the classes are linearly separable, so unregularised logistic regression has no "
                       "minimiser; use a regulariser (lam > 0)")
    grad = objective.grad(w)
    if not np.isfinite(grad).all() or np.linalg.norm(grad) > 1e-8 * max(1.0, abs(f)):
        raise ComputationError(f"Newton's method did not converge for the logistic optimum (‖∇F‖ = {np.linalg.norm(grad):.3g})")
    return w
