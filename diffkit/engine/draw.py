"""Pictures of a graph: DOT text, and an SVG/PNG drawing made without system Graphviz.

The drawing uses a small layered (Sugiyama-style) layout — longest-path layers from the leaves,
then a few barycentre sweeps to order nodes within a layer — drawn left to right with matplotlib.
Each box shows the node's name, primitive, forward value and adjoint.  Box sizes come from the
longest label, so boxes never overlap; ``svg.hashsalt`` and an empty date make the SVG
byte-for-byte reproducible.

>>> from diffkit import builtin
>>> from diffkit.engine import from_model
>>> g = from_model(builtin("ridge-sigmoid"))
>>> print(to_dot(g).splitlines()[1])
  rankdir=LR; node [shape=box, fontname="monospace", fontsize=10];
>>> svg = draw(g)
>>> svg.lstrip().startswith("<?xml") and "</svg>" in svg
True
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput

#: Graphs larger than this are not drawn (the picture would be unreadable); DOT still works.
MAX_DRAW_NODES = 250


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if np.ndim(v) == 0:
        return f"{float(v):.4g}"
    return f"array{np.shape(v)}"


def _lines(graph: Any, n: Any, values: bool, adjoints: dict) -> list[str]:
    what = n.primitive.name if n.primitive else n.kind
    lines = [n.label if n.kind == "const" else f"{n.name}", what]
    if values and n.kind != "const":
        lines.append(f"value {_fmt(graph._vals.get(n))}")
        if n in adjoints:
            lines.append(f"adj   {_fmt(adjoints[n])}")
    return lines


def to_dot(graph: Any, *, values: bool = True) -> str:
    """Graphviz DOT text: one box per node (name, primitive, value, adjoint), edges labelled by argument."""
    ids = {n: f"n{i}" for i, n in enumerate(graph.nodes)}
    adj = {n: graph._adj[n] for n in graph._adj}
    out = ["digraph diffkit {", '  rankdir=LR; node [shape=box, fontname="monospace", fontsize=10];']
    for n in graph.nodes:
        text = "\\n".join(s.replace('"', '\\"') for s in _lines(graph, n, values, adj))
        style = {"param": ', style=filled, fillcolor="#dbeafe"', "input": ', style=filled, fillcolor="#f3f4f6"',
                 "const": ', style=dashed'}.get(n.kind, "")
        if n is graph.output:
            style = ', style="filled,bold", fillcolor="#fde68a"'
        out.append(f'  {ids[n]} [label="{text}"{style}];')
    for e in graph.edges:
        out.append(f'  {ids[e.parent]} -> {ids[e.child]} [label="{e.argnum}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def layout(graph: Any, *, sweeps: int = 4) -> dict[Any, tuple[int, int]]:
    """(layer, position-in-layer) per node: longest-path layering, barycentre ordering.

    >>> from diffkit import builtin
    >>> from diffkit.engine import from_model
    >>> pos = layout(from_model(builtin("ridge-sigmoid")))
    >>> sorted((l, n.name) for n, (l, i) in pos.items() if l >= 5)
    [(5, 'v3'), (6, 'l'), (7, 'L')]
    """
    layer: dict[Any, int] = {}
    for n in graph.nodes:  # topological order: parents already placed
        layer[n] = 1 + max((layer[p] for p in n.parents), default=-1)
    layers: list[list[Any]] = [[] for _ in range(max(layer.values()) + 1)]
    for n in graph.nodes:
        layers[layer[n]].append(n)
    children = graph.children()
    pos = {n: i for L in layers for i, n in enumerate(L)}
    for s in range(sweeps):
        down = s % 2 == 0
        seq = layers[1:] if down else layers[-2::-1]
        for L in seq:
            def bary(n: Any) -> float:
                nb = list(n.parents) if down else [c for c, _ in children[n]]
                return sum(pos[m] for m in nb) / len(nb) if nb else pos[n]
            L.sort(key=lambda n: (bary(n), pos[n]))
            for i, n in enumerate(L):
                pos[n] = i
    return {n: (layer[n], pos[n]) for n in graph.nodes}


def draw(graph: Any, fmt: str = "svg", path: str | Path | None = None, *, values: bool = True) -> str | bytes:
    """Draw ``graph`` with values and adjoints; SVG text or PNG bytes (also written to ``path``).

    Parameters
    ----------
    fmt : {"svg", "png"}
    path : path, optional
        Where to write the file as well.
    values : bool, default True
        Show forward values and adjoints (adjoints are computed if missing and the output is scalar).
    """
    if fmt not in ("svg", "png"):
        raise BadInput(f"unknown drawing format {fmt!r}; use 'svg' or 'png'")
    if len(graph.nodes) > MAX_DRAW_NODES:
        raise BadInput(f"graph has {len(graph.nodes)} nodes; drawing is limited to {MAX_DRAW_NODES} "
                       "(use to_dot for large graphs)")
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if values and not graph._adj and graph.output.needs_grad and np.shape(graph._vals.get(graph.output)) == ():
        graph.backward()
    adj = dict(graph._adj)
    pos = layout(graph)
    texts = {n: _lines(graph, n, values, adj) for n in graph.nodes}
    char_w, line_h = 0.075, 0.16  # inches per character / line at 8 pt monospace
    box_w = max(max(len(s) for s in t) for t in texts.values()) * char_w + 0.2
    box_h = max(len(t) for t in texts.values()) * line_h + 0.15
    gap_x, gap_y = 0.6, 0.3
    n_layers = 1 + max(l for l, _ in pos.values())
    per_layer = [sum(1 for l, _ in pos.values() if l == k) for k in range(n_layers)]
    width = n_layers * (box_w + gap_x) + gap_x
    height = max(per_layer) * (box_h + gap_y) + gap_y
    with matplotlib.rc_context({"svg.hashsalt": "diffkit", "svg.fonttype": "none", "font.family": "monospace"}):
        fig = plt.figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(0, height)
        ax.axis("off")
        centre: dict[Any, tuple[float, float]] = {}
        for n, (l, i) in pos.items():
            offset = (height - per_layer[l] * (box_h + gap_y) + gap_y) / 2
            centre[n] = (gap_x + l * (box_w + gap_x) + box_w / 2,
                         height - offset - i * (box_h + gap_y) - box_h / 2)
        colours = {"param": "#dbeafe", "input": "#f3f4f6", "const": "#ffffff", "op": "#ecfdf5"}
        for n, (cx, cy) in centre.items():
            face = "#fde68a" if n is graph.output else colours[n.kind]
            ax.add_patch(FancyBboxPatch((cx - box_w / 2, cy - box_h / 2), box_w, box_h,
                                        boxstyle="round,pad=0.02", fc=face, ec="#374151", lw=0.8,
                                        ls="--" if n.kind == "const" else "-"))
            ax.text(cx, cy, "\n".join(texts[n]), ha="center", va="center", fontsize=8, family="monospace")
        for e in graph.edges:
            (x0, y0), (x1, y1) = centre[e.parent], centre[e.child]
            ax.add_patch(FancyArrowPatch((x0 + box_w / 2, y0), (x1 - box_w / 2, y1), arrowstyle="-|>",
                                         mutation_scale=8, lw=0.7, color="#6b7280"))
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, metadata=meta, dpi=100)
        plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data.decode("utf-8") if fmt == "svg" else data
