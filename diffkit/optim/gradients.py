"""Gradient sources: where the optimisers get Σ_{i∈S} ∇lᵢ(W) from.

A source is anything with the small :class:`GradientSource` protocol; the runner never looks
inside.  :class:`SymbolicGradient` lambdifies the SymPy closed form through
:func:`diffkit.symbolic.to_numpy` (with CSE): the model's matrix form when it has one, so a step
costs a few matrix products, otherwise the per-sample gradient vectorised over the batch.
:class:`EngineGradient` (in :mod:`diffkit.optim.engine_source`) uses the reverse-mode engine.

Parameters are a flat float64 vector in the order of ``model.params``.  For a matrix form whose
parameter vector has one entry more than there are feature columns (logistic regression's bias
b), the design matrix gets a trailing column of ones.  The layout is checked numerically against
central differences of the per-sample loss when the source is built, so a mismatch between the
matrix and the scalar form cannot go unnoticed.

Examples
--------
>>> import numpy as np
>>> from diffkit import builtin
>>> from diffkit.optim.data import make_data
>>> ds = make_data(n=20, d=3, seed=0)
>>> src = SymbolicGradient(builtin("linear-regression", d=3), ds)
>>> src.form
'matrix'
>>> w = np.ones(3)
>>> bool(np.allclose(src.grad_sum(w), ds.X.T @ (ds.X @ w - ds.y)))
True
>>> src.flops(20)  # 2nd + 2n + d
163
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import sympy as sp

from ..errors import BadInput, ComputationError
from ..constraints import shorten
from ..model import Model
from ..symbolic import to_numpy
from ..symbolic.numeric import printable
from .cost import matrix_flops, scalar_flops
from .data import Dataset, bind


@runtime_checkable
class GradientSource(Protocol):
    """What the runner needs: the summed gradient over a batch (None = all samples)."""

    name: str

    def grad_sum(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """Σ_{i∈idx} ∇_W lᵢ(W) as a float64 vector shaped like ``w``."""
        ...


class SymbolicGradient:
    """The SymPy closed-form gradient of ``model`` on ``data``, lambdified with CSE.

    Parameters
    ----------
    model : Model
        Needs a symbolic loss (``model.loss``).
    data : Dataset
        Bound to the model with :func:`~diffkit.optim.data.bind`.
    form : {"auto", "matrix", "sample"}, default "auto"
        ``auto`` uses the matrix form when the model has one that lambdifies and matches the
        per-sample loss, else the per-sample gradient vectorised over the batch.
    """

    name = "symbolic"

    def __init__(self, model: Model, data: Dataset, *, form: str = "auto") -> None:
        if form not in ("auto", "matrix", "sample"):
            raise BadInput(f"unknown gradient form {shorten(form)}; choose auto, matrix or sample")
        self.model = model
        self.data = bind(model, data)
        loss = model.loss_expr.xreplace({s: model.defaults[s.name] for s in model.hyper})
        self._loss_expr = loss
        self.p = len(model.params)
        names = [s.name for s in model.data]
        tgt = self.data.target if self.data.target in names else "y" if "y" in names else names[-1]
        self._feat_syms = [s for s in model.data if s.name != tgt]
        self._tgt_sym = next(s for s in model.data if s.name == tgt)
        self._sample_loss = to_numpy(loss, list(model.params) + self._feat_syms + [self._tgt_sym], cse=True)
        self.form = "sample"
        self.least_squares = False
        if form != "sample" and model.matrix is not None:
            reason = self._try_matrix()
            if reason and form == "matrix":
                raise BadInput(f"the matrix form of {shorten(model.name)} cannot be used: {reason}")
        if self.form == "sample":
            self._build_sample()

    # -- matrix form ----------------------------------------------------------------------
    def _try_matrix(self) -> str:
        mf = self.model.matrix
        X, Y = mf.inputs
        d_sym = mf.wrt.shape[0]
        n_sym = X.shape[0]
        if self.p == self.data.d:
            A = self.data.X
        elif self.p == self.data.d + 1:
            A = np.hstack([self.data.X, np.ones((self.data.n, 1))])
        else:
            return f"{self.p} parameters do not fit {self.data.d} feature columns"
        try:
            grad = printable(mf.gradient)
            shaped = {s for m in (mf.wrt, X, Y) for s in m.free_symbols}
            sized = any(a.free_symbols for a in grad.atoms(sp.OneMatrix, sp.ZeroMatrix, sp.Identity))
            if sized or grad.free_symbols - shaped:
                return "its gradient depends on the sample count or on other symbols"
            fg = to_numpy(grad, [mf.wrt, X, Y], cse=True)
            loss = printable(mf.loss).xreplace({n_sym: self.data.n, d_sym: self.p})
            fl = to_numpy(loss, [mf.wrt, X, Y], cse=True)
        except (BadInput, SyntaxError, TypeError, NameError) as exc:
            return f"it does not lambdify ({exc})"
        self._A = np.ascontiguousarray(A)
        self._A.flags.writeable = False
        self._ycol = self.data.y.reshape(-1, 1)
        self._fg, self._fl = fg, fl
        if not self._layout_ok():
            return "it does not match the per-sample loss (parameter/column order)"
        self.form = "matrix"
        self._flops = lambda b: matrix_flops(grad, {n_sym: b, d_sym: self.p})
        self.least_squares = self.model.spec.get("kind") == "linear-regression"
        self.source_code = fg.source
        return ""

    def _layout_ok(self) -> bool:
        rng = np.random.default_rng(12345)
        w = rng.uniform(-0.5, 0.5, self.p)
        idx = np.arange(min(3, self.data.n))
        with np.errstate(all="ignore"):
            g = self._matrix_grad(w, idx)
            fd = np.zeros(self.p)
            for j in range(self.p):
                h = 1e-6 * max(1.0, abs(w[j]))
                e = np.zeros(self.p)
                e[j] = h
                fd[j] = (self._sample_loss_sum(w + e, idx) - self._sample_loss_sum(w - e, idx)) / (2 * h)
        return bool(np.allclose(g, fd, rtol=1e-5, atol=1e-6 * (1.0 + np.abs(fd).max())))

    def _matrix_grad(self, w: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        if idx is None:
            return np.asarray(self._fg(w.reshape(-1, 1), self._A, self._ycol), dtype=np.float64).reshape(-1)
        return np.asarray(self._fg(w.reshape(-1, 1), self._A[idx], self._ycol[idx]), dtype=np.float64).reshape(-1)

    # -- per-sample form ------------------------------------------------------------------
    def _build_sample(self) -> None:
        grads = [sp.diff(self._loss_expr, s) for s in self.model.params]
        args = list(self.model.params) + self._feat_syms + [self._tgt_sym]
        self._fs = to_numpy(grads, args, cse=True)
        per_sample = scalar_flops(grads)
        self._flops = lambda b: b * per_sample
        self.source_code = self._fs.source

    def _columns(self, idx: np.ndarray | None) -> list[np.ndarray]:
        X = self.data.X if idx is None else self.data.X[idx]
        y = self.data.y if idx is None else self.data.y[idx]
        return [X[:, j] for j in range(X.shape[1])] + [y]

    def _sample_loss_sum(self, w: np.ndarray, idx: np.ndarray | None) -> float:
        cols = self._columns(idx)
        v = self._sample_loss(*w, *cols)
        return float(np.sum(np.broadcast_to(v, cols[0].shape)))

    # -- the protocol ---------------------------------------------------------------------
    def grad_sum(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """Σ_{i∈idx} ∇lᵢ(w); ``idx=None`` means every sample."""
        if self.form == "matrix":
            return self._matrix_grad(w, idx)
        cols = self._columns(idx)
        m = cols[0].shape[0]
        return np.array([np.sum(np.broadcast_to(g, (m,))) for g in self._fs(*w, *cols)], dtype=np.float64)

    def loss_of(self, w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        """Σᵢ lᵢ(w) over other rows (X, y) with the same columns (e.g. a validation set)."""
        X = np.asarray(X, dtype=np.float64)
        # the per-sample loss, vectorised over the rows (the matrix form is sized for the training rows)
        cols = [X[:, j] for j in range(X.shape[1])] + [np.asarray(y, dtype=np.float64)]
        v = self._sample_loss(*w, *cols)
        return float(np.sum(np.broadcast_to(v, cols[0].shape)))

    def to_model_order(self, w: np.ndarray) -> np.ndarray:
        return np.asarray(w, dtype=np.float64)

    def from_model_order(self, w: np.ndarray) -> np.ndarray:
        return np.asarray(w, dtype=np.float64)

    def loss_sum(self, w: np.ndarray) -> float:
        """Σᵢ lᵢ(w) over every sample."""
        if self.form == "matrix":
            return float(np.asarray(self._fl(w.reshape(-1, 1), self._A, self._ycol)).reshape(-1)[0])
        return self._sample_loss_sum(w, None)

    def flops(self, batch: int) -> int:
        """Flops of one gradient over ``batch`` samples (:mod:`diffkit.optim.cost` convention)."""
        return int(self._flops(batch))

    @property
    def design(self) -> np.ndarray:
        """The design matrix the matrix form uses (features, plus ones for a bias)."""
        if self.form != "matrix":
            raise ComputationError("only the matrix form has a design matrix")
        return self._A

    @property
    def target(self) -> np.ndarray:
        return self.data.y


class Objective:
    """F(W) = (1/n) Σᵢ lᵢ(W) + λ·½‖W‖² and its gradient on all the (training) data.

    Used for the history (loss at recorded iterations), the convergence test and the optimum,
    so every run of a study is measured by the same code whatever its gradient source.
    ``val``/``test`` are held-out data sets measured by :meth:`metrics` (mean loss, accuracy).
    """

    def __init__(self, source, lam: float, *, val: Dataset | None = None, test: Dataset | None = None) -> None:
        self.source, self.lam, self.n = source, float(lam), source.data.n
        self.val, self.test = val, test
        self.classifier = source.data.labels is not None

    def metrics(self, w: np.ndarray, which: str) -> tuple[float | None, float | None]:
        """(mean per-sample loss, accuracy or None) of the weights ``w`` (source layout) on a split."""
        data = {"train": self.source.data, "val": self.val, "test": self.test}[which]
        if data is None:
            return None, None
        with np.errstate(all="ignore"):
            loss = self.source.loss_of(w, data.X, data.y) / data.n
            acc = None
            if self.classifier:
                from .network import predict_classes
                pred = predict_classes(self.source, w, data.X)
                acc = None if pred is None else float(np.mean(pred == data.y))
        return float(loss), acc

    def loss(self, w: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return self.source.loss_sum(w) / self.n + 0.5 * self.lam * float(w @ w)

    def grad(self, w: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.source.grad_sum(w) / self.n + self.lam * w
