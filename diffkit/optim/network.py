"""Networks as a gradient source: an MLP's batch loss written with the engine's ops, traced once and
replayed (``dk.compile_gradient``), plus seeded Glorot/He initial weights.

The MLP is the built-in ``mlp`` model (:func:`diffkit.builtins.mlp`): layer l computes
z^(l) = W^(l) a^(l−1) + b^(l), a^(l) = σ^(l)(z^(l)), with W^(l) of shape (out, in).  The flat parameter
vector lists, layer by layer, W^(l) row by row and then b^(l) — the order of ``model.params``
(``W1_1_1, W1_1_2, ..., b1_1, ...``), so the symbolic per-sample gradient of a small net and this
source update the same vector.

Losses, summed over the batch (the optimiser divides by the batch size):

* ``squared``: ½‖y − σ^(L)(z^(L))‖² per sample; classification targets become one-hot rows;
* ``cross-entropy`` with K > 1 outputs: softmax cross-entropy on the logits z^(L)
  (``dk.softmax_cross_entropy``); with one output: binary cross-entropy on the logit
  (``dk.bce_with_logits``).  The last layer's activation is not applied (as in the symbolic model).

Examples
--------
>>> import numpy as np
>>> from diffkit import builtin
>>> from diffkit.datasets import load
>>> ds = load("moons", n=40, seed=0)
>>> src = NetworkGradient(builtin("mlp", sizes=(2, 3, 1), activations=("tanh", "identity"),
...                               loss="cross-entropy"), ds)
>>> w = src.from_model_order(initial_params(src.model, "glorot", np.random.default_rng(0)))
>>> g = src.grad_sum(w)
>>> e = np.zeros_like(w); e[0] = 1e-6
>>> fd = (src.loss_sum(w + e) - src.loss_sum(w - e)) / 2e-6
>>> bool(abs(fd - g[0]) < 1e-6)
True
"""

from __future__ import annotations

import inspect
from typing import Sequence

import numpy as np

from .. import stable
from ..errors import BadInput
from ..model import Model
from .data import Dataset

#: Initial-weight schemes: W₀ = 0 (the lecture's start, for convex models), Glorot/Xavier uniform
#: U(±√(6/(in + out))) (tanh, sigmoid), He normal N(0, 2/in) (ReLU).  Biases start at 0.
INITS: tuple[str, ...] = ("zeros", "glorot", "he")


def layer_shapes(model: Model) -> list[tuple[tuple[int, int], tuple[int]]]:
    """[((out, in), (out,)), ...] for each layer of an ``mlp`` model."""
    sizes = tuple(model.spec["sizes"])
    return [((sizes[i + 1], sizes[i]), (sizes[i + 1],)) for i in range(len(sizes) - 1)]


def default_init(model: Model) -> str:
    """He for ReLU networks, Glorot for other networks, zeros for everything else."""
    if model.spec.get("kind") != "mlp":
        return "zeros"
    return "he" if "relu" in tuple(model.spec["activations"])[:-1] else "glorot"


def initial_params(model: Model, scheme: str, rng: np.random.Generator) -> np.ndarray:
    """W₀ for ``model`` under ``scheme`` (see :data:`INITS`), drawn from ``rng``, in ``model.params`` order."""
    if scheme not in INITS:
        raise BadInput(f"unknown initialisation {scheme!r}; choose one of {', '.join(INITS)}")
    p = len(model.params)
    if scheme == "zeros":
        return np.zeros(p)
    if model.spec.get("kind") != "mlp":
        # one layer from all inputs to one output: fan-in is the parameter count
        fan_in, fan_out = max(p - 1, 1), 1
        lim = np.sqrt(6.0 / (fan_in + fan_out)) if scheme == "glorot" else None
        return rng.uniform(-lim, lim, p) if lim is not None else rng.normal(0.0, np.sqrt(2.0 / fan_in), p)
    out = []
    for (o, i), (ob,) in layer_shapes(model):
        if scheme == "glorot":
            lim = np.sqrt(6.0 / (i + o))
            out.append(rng.uniform(-lim, lim, o * i))
        else:
            out.append(rng.normal(0.0, np.sqrt(2.0 / i), o * i))
        out.append(np.zeros(ob))
    return np.concatenate(out)


def _act_np(name: str, z: np.ndarray) -> np.ndarray:
    if name == "identity":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return stable.sigmoid(z)
    if name == "step":
        return (z > 0).astype(z.dtype)
    return np.sign(z)


def _act_dk(dk, name: str, z):
    if name == "identity":
        return z
    return {"relu": dk.relu, "tanh": dk.tanh, "sigmoid": dk.sigmoid, "step": dk.step, "sign": dk.sign}[name](z)


class NetworkGradient:
    """Σ_{i∈S} ∇lᵢ(W) of an ``mlp`` model from the engine (one traced graph, replayed per batch).

    Parameters
    ----------
    model : Model
        A built-in ``mlp``; its input width must equal the data's feature count, and its output
        width the number of classes (cross-entropy, or 1 for two classes) or of targets.
    data : Dataset
    """

    name = "engine"
    least_squares = False
    form = "network"

    def __init__(self, model: Model, data: Dataset) -> None:
        import diffkit.engine as dk

        if model.spec.get("kind") != "mlp":
            raise BadInput(f"NetworkGradient trains mlp models, not {model.name!r}")
        self.model, self.data = model, data
        sizes = tuple(model.spec["sizes"])
        self.acts = tuple(model.spec["activations"])
        self.loss_kind = model.spec["loss"]
        self.shapes = layer_shapes(model)
        self.p = len(model.params)
        check_network_data(model, data)
        k_out = sizes[-1]
        self.classifier = data.labels is not None
        if self.loss_kind == "cross-entropy" and k_out > 1:
            self._Y = np.eye(k_out)[data.y.astype(np.intp)]
            self._mode = "softmax"
        elif self.loss_kind == "cross-entropy":
            self._Y = data.y.reshape(-1, 1).copy()
            self._mode = "binary"
        else:
            self._Y = np.eye(k_out)[data.y.astype(np.intp)] if self.classifier and k_out > 1 \
                else data.y.reshape(-1, 1).copy()
            self._mode = "squared"
        self._X = np.ascontiguousarray(data.X)
        L = len(self.shapes)
        names = [f"{kind}{l + 1}" for l in range(L) for kind in ("W", "b")] + ["X", "Y"]
        acts, mode = self.acts, self._mode

        def batch_loss(*args):
            a = args[-2]
            for l in range(L):
                W, b = args[2 * l], args[2 * l + 1]  # W as (in, out): z = a W + b, row per sample
                z = dk.matmul(a, W) + b
                a = _act_dk(dk, acts[l], z) if l < L - 1 else z
            if mode == "softmax":
                return dk.sum(dk.softmax_cross_entropy(a, args[-1]))
            if mode == "binary":
                return dk.sum(dk.bce_with_logits(a, args[-1]))
            r = _act_dk(dk, acts[-1], a) - args[-1]
            return 0.5 * dk.sum(r * r)

        batch_loss.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
        w0 = self.from_model_order(initial_params(model, "glorot", np.random.default_rng(0)))
        m = min(data.n, 4)
        graph = dk.trace(batch_loss, *self._engine_views(w0), self._X[:m], self._Y[:m], wrt=names[:-2],
                         name=f"mlp {'-'.join(map(str, sizes))} batch loss")
        self._compiled = dk.compile_gradient(graph)
        self._fn = self._compiled.fn
        self._views_of, self._views_cache = None, None

    # The optimiser's vector is in the source's own layout: each W^(l) stored (in, out), row-major,
    # so that a @ W needs no transpose node (compile_gradient then emits its fused, buffer-reusing
    # NumPy code) and the gradients come back contiguous.  ``to_model_order`` maps it to the
    # order of ``model.params`` (W as (out, in)), the order results are reported in.
    def _engine_views(self, w: np.ndarray) -> list[np.ndarray]:
        out, at = [], 0
        for (o, i), (ob,) in self.shapes:
            out.append(w[at:at + o * i].reshape(i, o))
            at += o * i
            out.append(w[at:at + ob])
            at += ob
        return out

    def _views(self, w: np.ndarray) -> list[np.ndarray]:
        return [a.T if k % 2 == 0 else a for k, a in enumerate(self._engine_views(w))]

    def to_model_order(self, w: np.ndarray) -> np.ndarray:
        """The source-layout vector ``w`` in ``model.params`` order."""
        return np.concatenate([np.ravel(a) for a in self._views(np.asarray(w, dtype=np.float64))])

    def from_model_order(self, w: np.ndarray) -> np.ndarray:
        """A vector in ``model.params`` order, in the source's layout."""
        w = np.asarray(w, dtype=np.float64)
        out, at = [], 0
        for (o, i), (ob,) in self.shapes:
            out.append(w[at:at + o * i].reshape(o, i).T.ravel())
            at += o * i
            out.append(w[at:at + ob])
            at += ob
        return np.concatenate(out)

    # -- the protocol ---------------------------------------------------------------------
    def grad_sum(self, w: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """Σ_{i∈idx} ∇lᵢ(w) by one replayed forward and backward sweep over the batch (source layout)."""
        if idx is None:
            X, Y = self._X, self._Y
        else:  # ndarray.take: a small fresh batch costs less than np.take(..., out=buffer)'s dispatch
            X = self._X.take(idx, axis=0)
            Y = self._Y.take(idx, axis=0)
        if self._views_of is not w:  # the runner updates w in place: its views stay valid
            self._views_of, self._views_cache = w, self._engine_views(w)
        _, grads = self._fn(*self._views_cache, X, Y)
        return np.concatenate([g.ravel() for g in grads])  # ndarray.ravel: np.reshape's dispatch cost 1.5 µs each

    def outputs(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The last layer's pre-activations z^(L) (logits) for the rows of ``X`` (forward only, NumPy)."""
        a = np.asarray(X, dtype=np.float64)
        views = self._views(w)
        L = len(self.shapes)
        for l in range(L):
            z = a @ views[2 * l].T + views[2 * l + 1]
            a = _act_np(self.acts[l], z) if l < L - 1 else z
        return a

    def loss_of(self, w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        """Σᵢ lᵢ(w) over the rows (X, y) (y as class indices for classifiers)."""
        z = self.outputs(w, X)
        k = z.shape[1]
        with np.errstate(all="ignore"):
            if self._mode == "softmax":
                m = z.max(axis=1, keepdims=True)
                lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
                return float(np.sum(lse - z[np.arange(len(z)), y.astype(np.intp)]))
            if self._mode == "binary":
                return float(np.sum(np.logaddexp(0.0, z[:, 0]) - y * z[:, 0]))
            Y = np.eye(k)[y.astype(np.intp)] if self.classifier and k > 1 else y.reshape(-1, 1)
            r = _act_np(self.acts[-1], z) - Y
            return float(0.5 * np.sum(r * r))

    def loss_sum(self, w: np.ndarray) -> float:
        return self.loss_of(w, self._X, self.data.y)

    def predict(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Predicted class indices (classifiers) or outputs (regression)."""
        z = self.outputs(w, X)
        if not self.classifier:
            return _act_np(self.acts[-1], z)[:, 0] if z.shape[1] == 1 else _act_np(self.acts[-1], z)
        if z.shape[1] > 1:
            return np.argmax(z, axis=1).astype(np.float64)
        if self._mode == "binary":
            return (z[:, 0] > 0).astype(np.float64)
        return (_act_np(self.acts[-1], z)[:, 0] > 0.5).astype(np.float64)

    def flops(self, batch: int) -> int:
        """Forward + backward multiply-adds of the dense layers for ``batch`` samples (2× forward for the
        backward's two products per layer, under the :mod:`diffkit.optim.cost` convention)."""
        per = sum(o * i for (o, i), _ in self.shapes)
        return int(3 * per * batch)


def check_network_data(model: Model, data: Dataset) -> None:
    """BadInput unless ``model``'s input and output widths fit ``data``."""
    sizes: Sequence[int] = tuple(model.spec["sizes"])
    if sizes[0] != data.d:
        raise BadInput(f"the mlp's input width is {sizes[0]} but the data have {data.d} feature columns; "
                       f"start --sizes with {data.d} (e.g. {data.d},16,{sizes[-1]})")
    k = data.classes
    loss = model.spec["loss"]
    if loss == "cross-entropy":
        if k is None:
            raise BadInput("cross-entropy needs class labels as the target; this data set is a regression problem "
                           "(use --mlp-loss squared)")
        if sizes[-1] not in (k, 1) or (sizes[-1] == 1 and k != 2):
            raise BadInput(f"the target has {k} classes, so the mlp's last width must be {k}"
                           + (" (or 1, one logit)" if k == 2 else "") + f", not {sizes[-1]}")
    elif k is not None and sizes[-1] not in (1, k):
        raise BadInput(f"the target has {k} classes: give the mlp {k} outputs (one-hot targets) or 1, not {sizes[-1]}")
    elif k is None and sizes[-1] != 1:
        raise BadInput(f"a regression target needs one output, but the mlp's last width is {sizes[-1]}")


def mlp_outputs(model: Model, w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """z^(L) of an ``mlp`` model with parameters ``w`` in ``model.params`` order (forward only)."""
    a, at = np.asarray(X, dtype=np.float64), 0
    acts = tuple(model.spec["activations"])
    shapes = layer_shapes(model)
    for l, ((o, i), (ob,)) in enumerate(shapes):
        W = w[at:at + o * i].reshape(o, i)
        at += o * i
        b = w[at:at + ob]
        at += ob
        z = a @ W.T + b
        a = _act_np(acts[l], z) if l < len(shapes) - 1 else z
    return a


def predict_classes(source, w: np.ndarray, X: np.ndarray) -> np.ndarray | None:
    """Predicted class indices for the rows of ``X`` (weights ``w`` in the source's layout), or None
    when the model has no classification rule (linear regression, a user expression)."""
    if hasattr(source, "predict"):
        return source.predict(w, X)
    model = source.model
    kind = model.spec.get("kind") or model.source
    wm = source.to_model_order(w) if hasattr(source, "to_model_order") else np.asarray(w)
    X = np.asarray(X, dtype=np.float64)
    if kind == "logistic-regression":
        return ((X @ wm[:-1] + wm[-1]) > 0).astype(np.float64)
    if kind == "ridge-sigmoid":
        return ((X[:, 0] * wm[0] + wm[1]) > 0).astype(np.float64)
    if kind == "mlp":
        z = mlp_outputs(model, wm, X)
        if z.shape[1] > 1:
            return np.argmax(z, axis=1).astype(np.float64)
        if model.spec["loss"] == "cross-entropy":
            return (z[:, 0] > 0).astype(np.float64)
        return (_act_np(tuple(model.spec["activations"])[-1], z)[:, 0] > 0.5).astype(np.float64)
    return None
