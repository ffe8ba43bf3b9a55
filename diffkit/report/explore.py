"""``diffkit explore``: one self-contained, offline HTML page to step through backprop by hand.

The page shows the model's computation graph; FORWARD and BACKWARD advance one node at a time and
fill in values and adjoints; clicking a node shows its local derivatives and the lecture's sum
over children, ∂L/∂v = Σ_c ∂L/∂c · ∂c/∂v, with the numbers, and (for parameters and named steps)
the symbolic partial beside the engine's value.  Given a study grid, sliders over the precomputed
step sizes and batch sizes redraw the convergence curves.

It is a pure function of result objects (a :class:`~diffkit.analysis.compare.Comparison` and,
optionally, :class:`StudyGrid` computed by the optimisation layer): no server, no network (a
Content-Security-Policy forbids every load), all data inline as JSON.

>>> from diffkit import builtin
>>> from diffkit.analysis.compare import compare
>>> page = explore_page(compare(builtin("ridge-sigmoid"), points=1))
>>> page.startswith("<!DOCTYPE html>") and "FORWARD" in page and len(page) < 1_000_000
True
"""

from __future__ import annotations

import html as _html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..constraints import shorten
from ..errors import BadInput

#: Graphs with more nodes are refused: a page to click through node by node stops being readable.
MAX_NODES = 80

#: Box sizes and gaps of the drawing (px).
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 150, 44, 16, 46, 12


@dataclass(frozen=True)
class StudyGrid:
    """Convergence curves precomputed on a grid of step-size scales × batch sizes.

    ``curves[(C, batch)]`` is ``(x, median)``: sample gradients and the median excess loss over
    seeds (from :func:`diffkit.optim.median_curve`), one per grid point; ``gd`` the full-batch GD
    curve for reference (or None).
    """

    model: str
    data: str
    Cs: tuple[float, ...]
    batches: tuple[int, ...]
    curves: dict = field(default_factory=dict)
    gd: tuple | None = None
    seeds: tuple[int, ...] = ()


# -- the graph as data -----------------------------------------------------------------------------

_BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
           "div": lambda a, b: a / b}


def _local_derivative(node, values, argnum: int) -> float | None:
    """∂node/∂(argument ``argnum``) at the point, by the engine (None where it is not a scalar)."""
    import numpy as np

    import diffkit.engine as dk

    name = node.primitive.name
    fn = _BINARY.get(name) or {"pow": dk.power, "neg": lambda a: -a}.get(name) or getattr(dk, name, None)
    args = [values[p.name] for p in node.parents]
    if fn is None or any(np.ndim(a) for a in args):
        return None
    try:
        v = float(dk.grad(lambda *xs: fn(*xs), argnum)(*[float(a) for a in args]))
    except Exception:  # noqa: BLE001 — a primitive without a scalar rule: shown as "—"
        return None
    return v if math.isfinite(v) else None


def _num(v) -> float | None:
    import numpy as np

    if v is None or np.ndim(v):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _call(n) -> str:
    if n.kind != "op":
        return {"param": "parameter", "input": "input", "const": "constant"}.get(n.kind, n.kind)
    return f"{n.primitive.name}({', '.join(p.label for p in n.parents)})"


def _layers(nodes) -> dict:
    """Layer of each node: an operation one after its deepest parent; a leaf just before its first
    consumer (so x or λ sit next to the operation that uses them)."""
    layer: dict = {}
    for n in nodes:
        if n.kind == "op":
            layer[n] = 1 + max((layer[p] for p in n.parents if p in layer), default=0)
    children: dict = {}
    for n in nodes:
        for p in n.parents:
            children.setdefault(p, []).append(n)
    for n in nodes:
        if n.kind != "op":
            kids = [layer[c] for c in children.get(n, []) if c in layer]
            layer[n] = max(0, min(kids) - 1) if kids else 0
    return layer


def graph_data(c) -> dict:
    """Nodes, edges, the FORWARD and BACKWARD orders and every number the page shows."""
    import diffkit.engine as dk
    from ..symbolic import render

    gr = c.graph
    if len(gr.nodes) > MAX_NODES:
        raise BadInput(f"the graph of {c.model.name} has {len(gr.nodes)} nodes; explore draws at most {MAX_NODES} "
                       "(choose a smaller model, e.g. mlp --sizes 2,2,1)")
    values = gr.values
    adj = gr.adjoints
    layer = _layers(gr.nodes)
    by_layer: dict = {}
    for n in gr.nodes:
        by_layer.setdefault(layer[n], []).append(n)
    width = max(len(v) for v in by_layer.values())
    pos = {}
    for k, row in by_layer.items():
        off = (width - len(row)) * (BOX_W + GAP_X) / 2
        for i, n in enumerate(row):
            pos[n] = (MARGIN + off + i * (BOX_W + GAP_X), MARGIN + k * (BOX_H + GAP_Y))
    lst = {ln.node: ln for ln in c.listing.lines}
    sym_grad = c.agreement.gradients.get("symbolic", {})
    lec = c.derivations["lecture"].rendered("pretty")["gradient"]
    steps = {s.node: s for s in dk.backprop_steps(gr)}
    nodes = []
    for n in gr.nodes:
        terms = []
        for t in steps[n.label].terms if n.label in steps else ():
            child = gr.by_name[t.child]
            terms.append({"child": t.child, "local": t.local, "adjoint": _num(adj.get(t.child)),
                          "local_value": _local_derivative(child, values, t.argnum)})
        symbolic = None
        if n.kind == "param" and n.name in sym_grad:
            symbolic = {"rule": f"∂L/∂{render.pretty(c.model.symbol(n.name))} = {lec.get(n.name, '')}",
                        "value": _num(sym_grad[n.name]), "source": "SymPy (lecture form)"}
        elif n.label in lst and n.kind == "op":
            symbolic = {"rule": lst[n.label].pretty, "value": _num(lst[n.label].value),
                        "source": "the lecture's listing (SymPy)"}
        x, y = pos[n]
        nodes.append({"id": n.label, "kind": n.kind if n is not gr.output else "output", "call": _call(n),
                      "value": _num(values.get(n.name)), "adjoint": _num(adj.get(n.name)),
                      "needs_grad": bool(n.needs_grad), "x": round(x, 1), "y": round(y, 1),
                      "parents": [p.label for p in n.parents], "terms": terms, "symbolic": symbolic})
    forward = [d["id"] for d in nodes]
    backward = [d["id"] for d in reversed(nodes) if d["needs_grad"]]
    edges = [{"from": e.parent.label, "to": e.child.label} for e in gr.edges]
    n_layers = max(layer.values()) + 1
    return {"model": c.model.name, "description": c.model.description or "",
            "loss": c.derivations["lecture"].rendered("pretty")["loss"], "point": {k: float(v) for k, v in c.point.items()},
            "nodes": nodes, "edges": edges, "forward": forward, "backward": backward,
            "width": round(2 * MARGIN + width * (BOX_W + GAP_X) - GAP_X, 1),
            "height": round(2 * MARGIN + n_layers * (BOX_H + GAP_Y) - GAP_Y, 1),
            "box": [BOX_W, BOX_H]}


def study_data(grid: StudyGrid | None) -> dict | None:
    if grid is None:
        return None

    def clean(xs, ys):
        pts = [(float(a), float(b)) for a, b in zip(xs, ys)
               if a is not None and b is not None and math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0]
        step = max(1, len(pts) // 120)  # at most ~120 points per curve: the page stays small
        return [[round(a, 6), float(f"{b:.4g}")] for a, b in pts[::step]]
    return {"model": grid.model, "data": grid.data, "Cs": list(grid.Cs), "batches": list(grid.batches),
            "seeds": list(grid.seeds),
            "curves": {f"{i},{j}": clean(*grid.curves[(C, b)]) for i, C in enumerate(grid.Cs)
                       for j, b in enumerate(grid.batches) if (C, b) in grid.curves},
            "gd": clean(*grid.gd) if grid.gd is not None else None}


def explore_page(comparison, *, study: StudyGrid | None = None) -> str:
    """The page's HTML text (deterministic: the same results give the same bytes)."""
    from .. import __version__

    data = {"graph": graph_data(comparison), "study": study_data(study), "version": __version__}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    blob = blob.replace("</", "<\\/")  # never closes the script element
    template = (Path(__file__).parent / "templates" / "explore.html").read_text(encoding="utf-8")
    title = f"diffkit explore: {comparison.model.name}"
    return (template.replace("{{TITLE}}", _html.escape(title)).replace("{{DATA}}", blob)
            .replace("{{VERSION}}", _html.escape(__version__)))


def write_explore(comparison, path, *, study: StudyGrid | None = None) -> Path:
    """Write the page to ``path`` (``.html``) atomically; BadInput for a bad path or a graph too large."""
    from ..io import check_output, write_atomically

    p = Path(path)
    if p.suffix.lower() not in (".html", ".htm"):
        raise BadInput(f"page path {shorten(str(p), 80)} must end in .html")
    if p.is_dir():
        raise BadInput(f"page path {shorten(str(p), 80)} is a directory; give a file name ending in .html")
    check_output((p,), what="page path")
    page = explore_page(comparison, study=study)
    write_atomically({p: page.encode("utf-8")}, what="page")
    return p


__all__ = ["MAX_NODES", "StudyGrid", "explore_page", "graph_data", "write_explore"]


