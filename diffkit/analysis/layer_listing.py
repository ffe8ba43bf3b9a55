"""The layer-wise FORWARD/BACKWARD listing of an MLP: one line per layer, with shapes and values.

The scalar listing (:mod:`diffkit.analysis.listing`) has a line per scalar node — 49 steps for the
lecture's 2-3-3-1 network.  This one has a line per layer, in the matrix notation of
:mod:`diffkit.symbolic.backprop_matrix`, with every value computed from those equations at the
model's point:

>>> from diffkit import builtin
>>> lst = layer_listing(builtin("mlp", sizes=(2, 3, 3, 1)))
>>> for line in lst.lines:
...     print(f"{line.pretty:<38} {line.shape}")
z⁽¹⁾ = σ(a⁽¹⁾), a⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾    3×1
z⁽²⁾ = σ(a⁽²⁾), a⁽²⁾ = W⁽²⁾z⁽¹⁾ + b⁽²⁾ 3×1
ŷ = a⁽³⁾ = W⁽³⁾z⁽²⁾ + b⁽³⁾             1×1
L = ½‖ŷ − y‖²                          1×1
δ⁽³⁾ = ŷ − y                           1×1
δ⁽²⁾ = (W⁽³⁾)ᵀδ⁽³⁾ ⊙ σ′(a⁽²⁾)          3×1
δ⁽¹⁾ = (W⁽²⁾)ᵀδ⁽²⁾ ⊙ σ′(a⁽¹⁾)          3×1
∂L/∂W⁽³⁾ = δ⁽³⁾z⁽²⁾ᵀ, ∂L/∂b⁽³⁾ = δ⁽³⁾  1×3, 1×1
∂L/∂W⁽²⁾ = δ⁽²⁾z⁽¹⁾ᵀ, ∂L/∂b⁽²⁾ = δ⁽²⁾  3×3, 3×1
∂L/∂W⁽¹⁾ = δ⁽¹⁾xᵀ, ∂L/∂b⁽¹⁾ = δ⁽¹⁾     3×2, 3×1
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from ..errors import BadInput
from ..constraints import shorten
from ..model import Model
from ..symbolic.backprop_matrix import MatrixBackprop, matrix_backprop

STYLES = ("pretty", "text", "latex")
#: Agreement of the matrix equations with the engine (float64), as ``agreement``'s reverse mode.
RTOL = 1e-12


@dataclass(frozen=True)
class LayerLine:
    """One line: ``section`` forward/backward, the equation in each style, the shape(s), the value(s)."""

    section: str
    layer: int
    equation: dict[str, str]
    shape: str
    values: tuple[np.ndarray, ...]

    @property
    def pretty(self) -> str:
        return self.equation["pretty"]

    @property
    def text(self) -> str:
        return self.equation["text"]

    @property
    def latex(self) -> str:
        return self.equation["latex"]

    def value_text(self, digits: int = 4) -> str:
        """Short vectors in full, anything larger by its norm (‖·‖, Frobenius)."""
        parts = []
        for v in self.values:
            v = np.asarray(v, dtype=float)
            if v.size == 1:
                parts.append(f"{float(v.reshape(-1)[0]):.{digits}g}")
            elif v.size <= 4 and 1 in v.shape:
                parts.append("[" + ", ".join(f"{t + 0.0:.{digits - 1}g}" for t in v.reshape(-1)) + "]")  # no -0
            else:
                parts.append(f"‖·‖ {float(np.linalg.norm(v)):.{digits}g}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "layer": self.layer, **self.equation, "shape": self.shape,
                "values": [np.asarray(v, dtype=float).tolist() for v in self.values]}


@dataclass(frozen=True)
class LayerListing:
    """FORWARD then BACKWARD, one line per layer (see the module docstring)."""

    model: Model
    point: dict[str, float]
    backprop: MatrixBackprop
    lines: tuple[LayerLine, ...]
    values: dict = field(default_factory=dict, repr=False)   # every equation's value (name → array)
    max_rel_error: float | None = None  # against the engine's gradient, when checked (``checked``)

    @property
    def ok(self) -> bool:
        return self.max_rel_error is None or self.max_rel_error <= RTOL

    def gradient(self) -> dict[str, float]:
        """∂L/∂W1_i_j, ∂L/∂b1_i, … from the matrix equations, keyed by the model's parameter names."""
        out: dict[str, float] = {}
        for l in range(1, self.backprop.layers + 1):
            for (i, j), v in np.ndenumerate(self.values[f"dW{l}"]):
                out[f"W{l}_{i + 1}_{j + 1}"] = float(v)
            for (i, _), v in np.ndenumerate(self.values[f"db{l}"]):
                out[f"b{l}_{i + 1}"] = float(v)
        return {p: out[p] for p in self.model.wrt}

    def checked(self, reference: Mapping[str, float]) -> "LayerListing":
        """This listing with ``max_rel_error`` against ``reference`` (e.g. the engine's gradient):
        |a − b| / max(|b|, 1), the convention of ``diffkit.analysis.agreement``."""
        mine = self.gradient()
        err = max((abs(mine[p] - float(reference[p])) / max(abs(float(reference[p])), 1.0) for p in mine), default=0.0)
        return replace(self, max_rel_error=float(err))

    @property
    def forward(self) -> tuple[LayerLine, ...]:
        return tuple(ln for ln in self.lines if ln.section == "forward")

    @property
    def backward(self) -> tuple[LayerLine, ...]:
        return tuple(ln for ln in self.lines if ln.section == "backward")

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.name, "point": dict(self.point), "sizes": list(self.backprop.sizes),
                "activations": list(self.backprop.activations), "loss": self.backprop.loss,
                "forward": [ln.to_dict() for ln in self.forward], "backward": [ln.to_dict() for ln in self.backward],
                "notes": list(self.backprop.notes), "max_rel_error": self.max_rel_error}


def _shape(s: tuple[int, int]) -> str:
    return f"{s[0]}×{s[1]}"


def mlp_arrays(model: Model, point: Mapping[str, float]) -> dict[str, np.ndarray]:
    """W1, b1, …, x, y as arrays from a point given by element names (W1_2_1 is row 2, column 1 of W1)."""
    sizes = model.spec["sizes"]
    out: dict[str, np.ndarray] = {}
    for l in range(1, len(sizes)):
        m, n = sizes[l], sizes[l - 1]
        out[f"W{l}"] = np.array([[point[f"W{l}_{i + 1}_{j + 1}"] for j in range(n)] for i in range(m)], dtype=float)
        out[f"b{l}"] = np.array([point[f"b{l}_{i + 1}"] for i in range(m)], dtype=float)
    out["x"] = np.array([point[f"x{i + 1}"] for i in range(sizes[0])], dtype=float)
    out["y"] = np.array([point[f"y{i + 1}"] for i in range(sizes[-1])], dtype=float)
    return out


def layer_listing(model: Model, point: Mapping[str, float] | None = None) -> LayerListing:
    """The layer-wise listing of the MLP ``model`` at ``point`` (default: the model's point)."""
    if (model.spec or {}).get("kind") != "mlp":
        raise BadInput(f"--layers lists the layers of an MLP; {shorten(model.name)} is not one "
                       "(use: diffkit backprop mlp --sizes 2,3,3,1 --layers)")
    pt = model.point(point)
    bp = matrix_backprop(model)
    vals = bp.evaluate(mlp_arrays(model, pt))
    L = bp.layers
    eqs = {e.name: e for e in bp.equations()}
    lines: list[LayerLine] = []
    for l in range(1, L + 1):
        a, z = eqs[f"a{l}"], eqs.get(f"z{l}")
        eq = {}
        for s in STYLES:
            alhs, arhs = a.rendered(s)
            if z is None:  # the logits of a cross-entropy loss
                eq[s] = f"{alhs} = {arhs}"
            elif bp.activations[l - 1] == "identity":
                eq[s] = f"{z.rendered(s)[0]} = {alhs} = {arhs}"
            else:
                eq[s] = f"{z.rendered(s)[0]} = {z.rendered(s)[1]}, {alhs} = {arhs}"
        lines.append(LayerLine("forward", l, eq, _shape(a.shape), (vals[z.name if z else a.name],)))
    lines.append(LayerLine("forward", L, {s: f"L = {bp.loss_text(s)}" for s in STYLES}, "1×1", (vals["L"],)))
    for e in bp.deltas:
        lines.append(LayerLine("backward", e.layer, {s: _eq(e, s) for s in STYLES}, _shape(e.shape), (vals[e.name],)))
    for l in range(L, 0, -1):
        dW, db = eqs[f"dW{l}"], eqs[f"db{l}"]
        lines.append(LayerLine("backward", l, {s: f"{_eq(dW, s)}, {_eq(db, s)}" for s in STYLES},
                               f"{_shape(dW.shape)}, {_shape(db.shape)}", (vals[dW.name], vals[db.name])))
    return LayerListing(model, pt, bp, tuple(lines), values=vals)


def _eq(e, style: str) -> str:
    lhs, rhs = e.rendered(style)
    return f"{lhs} = {rhs}"
