"""Hessians both ways: closed matrix forms against AD, with flops, memory, sparsity and HVP cost.

Two exhibits:

* :func:`hessian_at_point` — any model with a symbolic form: the symbolic Hessian
  (``sympy.hessian``, lambdified) against the engine's AD Hessian (reverse-over-reverse,
  ``diffkit.engine.hessian``) at the model's point; nnz and symmetry.
* :func:`matrix_hessian` — logistic regression (or least squares) on n samples of d features:
  the closed matrix form against the AD Hessian, by forward-over-reverse (d JVPs of the
  gradient) and by reverse-over-reverse (``diffkit.engine.hessian``), plus Hessian-vector
  products at the cost of a few gradients.

Loss normalisation and λ convention (those of the model's matrix form plus the lecture's ridge
term λR(w) with R(w) = ‖w‖², as in the neuron's λw²): the loss is summed over samples, not
averaged, so

* logistic regression: L(w) = 1ᵀ softplus(Xw) − yᵀXw + λ‖w‖²,
  H = Xᵀ diag(σ(Xw) ⊙ (1 − σ(Xw))) X + 2λI  (with the λ/2‖w‖² convention it would be + λI);
* least squares: L(w) = ½‖y − Xw‖² + λ‖w‖², H = XᵀX + 2λI.

Flops (one multiply or add = 1): the closed form costs 2nd (Xw) + 4n (σ(1 − σ)) + nd (scaling
rows) + 2nd² (XᵀDX) + d.  The AD side is counted over the engine's recorded gradient graph: a
matrix product (m×k)(k×p) costs 2mkp, any other operation one flop per output element, the
tangent sweep of one HVP the same again for every operation with a nonzero tangent (matrix
products: once per such argument), and a full forward-over-reverse Hessian d HVPs.  Times are
medians of repeats in one run; they are reported, never asserted.

Examples
--------
>>> h = matrix_hessian("logistic-regression", n=200, d=5, seed=0)
>>> h.max_rel_error < 1e-12, h.hvp_ops_ratio <= 4
(True, True)
>>> hp = hessian_at_point(__import__("diffkit").builtin("ridge-sigmoid"))
>>> hp.max_rel_error < 1e-12, hp.shape, hp.nnz
(True, (2, 2), 4)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from .. import stable
from ..constraints import shorten
from ..errors import BadInput
from ..model import Model

MATRIX_MODELS = ("logistic-regression", "linear-regression")
MAX_N, MAX_D = 100_000, 500
MAX_POINT_PARAMS = 64


def _median_time(fn: Callable, *, repeats: int = 5, budget: float = 2.0) -> float:
    # one BLAS thread: every method is timed alike, and a multi-threaded BLAS on a busy machine
    # can be a hundred times slower than one thread (measured here: 0.11 s against 0.3 ms)
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1, user_api="blas"):
        return _median_time_1(fn, repeats=repeats, budget=budget)


def _median_time_1(fn: Callable, *, repeats: int, budget: float) -> float:
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget:
            break
    return float(np.median(times))


@dataclass(frozen=True)
class PointHessian:
    """Symbolic against AD Hessian of a model at its point."""

    model: str
    params: tuple[str, ...]
    symbolic: np.ndarray
    ad: np.ndarray
    max_rel_error: float
    nnz: int
    symmetric: bool

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.symbolic.shape)

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= 1e-10 and self.symmetric

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON of ``diffkit hessian MODEL --json`` at a point: kind ("point"), model,
        params, symbolic and ad (row lists), max_rel_error, nnz, size, symmetric, ok."""
        return {"kind": "point", "model": self.model, "params": list(self.params),
                "symbolic": self.symbolic.tolist(), "ad": self.ad.tolist(), "max_rel_error": self.max_rel_error,
                "nnz": self.nnz, "size": int(self.symbolic.size), "symmetric": self.symmetric, "ok": self.ok}


def hessian_at_point(model: Model, point: dict | None = None) -> PointHessian:
    """The symbolic Hessian and the engine's (reverse-over-reverse) at the model's point."""
    from .. import engine as dk
    from ..symbolic.derive import hessian as symbolic_hessian
    from ..symbolic.numeric import to_engine, to_numpy

    if model.loss is None:
        raise BadInput(f"the Hessian needs a symbolic form, and model {shorten(model.name)} with {len(model.params)} "
                       f"parameters is kept only as a graph; allowed: models with at most {MAX_POINT_PARAMS} "
                       "parameters (use smaller --sizes)")
    k = len(model.params)
    if k > MAX_POINT_PARAMS:
        raise BadInput(f"the symbolic Hessian of {k} parameters is too large; allowed: at most {MAX_POINT_PARAMS}")
    pt = model.point(point)
    vals = [np.float64(pt[n]) for n in model.symbol_names]
    H_sym = np.array(to_numpy(symbolic_hessian(model), model.symbols)(*vals), dtype=float)
    f = to_engine(model.loss_expr, model.symbols)
    basis = np.eye(k)
    rest = vals[k:]

    def loss(theta):
        # each parameter as Σ θ ⊙ e_i: only the engine's NumPy-like operations are needed
        return f(*[dk.sum(theta * basis[i]) for i in range(k)], *rest)

    H_ad = np.asarray(dk.hessian(loss)(np.array(vals[:k])), dtype=float)
    scale = max(1.0, float(np.max(np.abs(H_sym))))
    err = float(np.max(np.abs(H_ad - H_sym)) / scale) if H_sym.size else 0.0
    return PointHessian(model.name, model.wrt, H_sym, H_ad, err, int(np.count_nonzero(np.abs(H_sym) > 0)),
                        bool(np.allclose(H_ad, H_ad.T, rtol=0, atol=1e-12 * scale)))


@dataclass(frozen=True)
class MatrixHessian:
    """Closed matrix form against AD for a Hessian over data (see the module docstring)."""

    model: str
    n: int
    d: int
    lam: float
    seed: int
    formula: str
    max_rel_error: float              # AD (forward-over-reverse) vs closed form, max |Δ| / max |H|
    max_rel_error_reverse: float      # AD (reverse-over-reverse) vs closed form
    nnz: int
    methods: dict[str, dict[str, Any]]   # name -> {flops, memory_floats, seconds}
    gradient_ops: int
    hvp_ops: int
    hvp_seconds_ratio: float

    @property
    def hvp_ops_ratio(self) -> float:
        return self.hvp_ops / self.gradient_ops

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= 1e-10 and self.max_rel_error_reverse <= 1e-10

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON of ``diffkit hessian --json`` for a matrix model; every key always present."""
        d = asdict(self)
        d.update({"kind": "matrix", "hvp_ops_ratio": self.hvp_ops_ratio, "ok": self.ok, "size": self.d * self.d})
        return d


def _data(model: str, n: int, d: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) / math.sqrt(d)
    w_true = rng.normal(size=d)
    if model == "logistic-regression":
        y = (rng.uniform(size=n) < stable.sigmoid(X @ w_true)).astype(float)
    else:
        y = X @ w_true + 0.1 * rng.normal(size=n)
    w = 0.5 * rng.normal(size=d)
    return X, y, w


def graph_flops(graph, *, tangent: bool = False) -> int:
    """Flops of one pass over a recorded graph (the convention of the module docstring).

    ``tangent=True`` adds one JVP sweep: each operation again for every argument with a
    nonzero tangent (every argument that depends on a parameter).
    """
    total = 0
    for node in graph.nodes:
        if node.primitive is None:
            continue
        shapes = [np.shape(p.value) for p in node.parents]
        if node.primitive.name == "matmul" and len(shapes) == 2:
            a, b = shapes
            m = a[0] if len(a) == 2 else 1
            k = a[-1]
            p = b[-1] if len(b) == 2 else 1
            cost = 2 * m * k * p
        else:
            cost = max(int(np.size(node.value)), max((int(np.prod(s)) for s in shapes), default=1))
        total += cost
        if tangent:
            live = sum(1 for p in node.parents if p.needs_grad)
            total += cost * live
    return int(total)


def matrix_hessian(model: str = "logistic-regression", *, n: int = 1000, d: int = 50, lam: float = 0.1,
                   seed: int = 0) -> MatrixHessian:
    """The closed matrix form and the AD Hessians of a model over ``n`` samples of ``d`` features."""
    from .. import engine as dk
    from .operation_counts import jvp_ops, tape_ops

    if model not in MATRIX_MODELS:
        raise BadInput(f"no closed matrix Hessian for model {shorten(model)}; models with one: {', '.join(MATRIX_MODELS)}")
    for what, v, hi in (("--n", n, MAX_N), ("--dim", d, MAX_D)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise BadInput(f"{what} must be an integer from 1 to {hi}, got {shorten(v)}")
    if n * d * d > 5e9:
        raise BadInput(f"n·d² = {n * d * d:.2g} is above the limit 5e9; use a smaller --n or --dim")
    if not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
        raise BadInput(f"--lam must be a finite number ≥ 0, got {shorten(lam)}")
    X, y, w0 = _data(model, n, d, seed)

    if model == "logistic-regression":
        formula = "H = Xᵀ diag(σ(Xw)(1 − σ(Xw))) X + 2λI   (L = 1ᵀ softplus(Xw) − yᵀXw + λ‖w‖²)"

        def f(w):
            z = dk.matmul(X, w)
            return dk.sum(dk.softplus(z)) - dk.sum(y * z) + lam * dk.sum(w * w)

        def closed(w):
            z = X @ w
            return X.T @ (stable.sigmoid_prime(z)[:, None] * X) + 2.0 * lam * np.eye(d)
        closed_flops = 2 * n * d + 4 * n + n * d + 2 * n * d * d + d
        closed_memory = n * d + d * d + n
    else:
        formula = "H = XᵀX + 2λI   (L = ½‖y − Xw‖² + λ‖w‖²)"

        def f(w):
            r = y - dk.matmul(X, w)
            return 0.5 * dk.sum(r * r) + lam * dk.sum(w * w)

        def closed(w):
            return X.T @ X + 2.0 * lam * np.eye(d)
        closed_flops = 2 * n * d * d + d
        closed_memory = d * d

    grad = dk.grad(f)

    def fwd_over_rev(w):
        eye = np.eye(d)
        return np.stack([np.asarray(dk.jvp(grad, (w,), (eye[i],))[1]) for i in range(d)], axis=1)

    def hvp(w, v):
        return dk.jvp(grad, (w,), (v,))[1]

    H_cf = closed(w0)
    H_fr = fwd_over_rev(w0)
    H_rr = np.asarray(dk.hessian(f)(w0))
    scale = float(np.max(np.abs(H_cf)))
    err_fr = float(np.max(np.abs(H_fr - H_cf)) / scale)
    err_rr = float(np.max(np.abs(H_rr - H_cf)) / scale)

    g_graph = dk.trace(grad, w0)                      # the recorded gradient: forward + backward
    f_graph = dk.trace(f, w0)
    tape = tape_ops(f_graph)
    gradient_ops = tape["forward"] + tape["backward"]
    fo = jvp_ops(g_graph)
    hvp_ops = fo["primal"] + fo["tangent"]
    grad_flops = graph_flops(g_graph)
    hvp_flops = graph_flops(g_graph, tangent=True)
    mem_graph = int(sum(np.size(nd.value) for nd in g_graph.nodes))

    v = np.random.default_rng(seed + 1).normal(size=d)
    t_grad = _median_time(lambda: grad(w0))
    t_hvp = _median_time(lambda: hvp(w0, v))
    methods = {
        "closed_form": {"flops": int(closed_flops), "memory_floats": int(closed_memory),
                        "seconds": _median_time(lambda: closed(w0))},
        "forward_over_reverse": {"flops": int(d * hvp_flops), "memory_floats": int(mem_graph * 2 + d * d),
                                 "seconds": _median_time(lambda: fwd_over_rev(w0), repeats=3)},
        "reverse_over_reverse": {"flops": int(d * (grad_flops + hvp_flops - grad_flops) + grad_flops),
                                 "memory_floats": int(mem_graph * 2 + d * d),
                                 "seconds": _median_time(lambda: dk.hessian(f)(w0), repeats=3)},
        "gradient": {"flops": int(grad_flops),
                     "memory_floats": int(sum(np.size(nd.value) for nd in f_graph.nodes)), "seconds": t_grad},
        "hvp": {"flops": int(hvp_flops), "memory_floats": int(mem_graph * 2), "seconds": t_hvp},
    }
    return MatrixHessian(model, n, d, float(lam), seed, formula, err_fr, err_rr,
                         int(np.count_nonzero(np.abs(H_cf) > 0)), methods, int(gradient_ops), int(hvp_ops),
                         float(t_hvp / t_grad) if t_grad > 0 else float("nan"))
