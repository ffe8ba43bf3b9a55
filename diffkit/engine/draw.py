"""Pictures of a graph: DOT text, and an SVG/PNG drawing made without system Graphviz.

The drawing is a small layered (Sugiyama-style) layout, drawn with matplotlib:

* **Layers.**  An operation sits one layer after its deepest operation argument; a leaf
  (parameter, input, constant) sits in the layer just before its first consumer, so ``x`` or ``λ``
  appear next to the operation that uses them instead of all leaves piling up in layer 0.
* **Order.**  An edge spanning several layers gets a zero-width *waypoint* in every layer it
  crosses; barycentre sweeps (down and up, the ordering with the fewest crossings is kept) order
  boxes and waypoints within each layer.
* **Coordinates.**  Each box is pulled towards the mean of its neighbours (pool-adjacent-violators
  keeps the order and the minimum gaps), so chains come out straight.
* **Edges.**  An edge leaves its box on the side facing the next layer, runs through its
  waypoints (which are gaps reserved in the layers it crosses) and enters the target's facing side;
  between layers it is an S-shaped cubic Bézier confined to the gap between the two layers, so
  edges never pass through a box.

Each box shows the node's name (bold) with its primitive applied to its arguments, the forward
value and the adjoint ∂L/∂v (4 significant digits).  Boxes are sized from the measured text (9 pt
DejaVu Sans plus a small padding) and the figure size follows from the layout, so the text is
9 pt when the picture is shown at its natural size (:attr:`Drawing.figsize`, inches at 100 dpi).
The direction is top-to-bottom or left-to-right, whichever fits a portrait text block (7 × 9 in)
with less shrinking.  Colours: parameters blue, data and hyperparameter inputs grey, operations
light green, the output yellow; constants (when drawn) white with a dashed border.

Scalar constants are folded into the label of the operation that uses them (``v3 = pow(v2, 2)``)
unless ``show_constants=True``; :func:`to_dot` always lists every node and edge.  Glyphs are
written as paths (exact geometry in any viewer or PDF; the text survives as an SVG comment), and
``svg.hashsalt`` plus an empty date make the SVG byte-for-byte reproducible.

>>> from diffkit import builtin
>>> from diffkit.engine import from_model
>>> g = from_model(builtin("ridge-sigmoid"))
>>> print(to_dot(g).splitlines()[1])
  rankdir=LR; node [shape=box, fontname="monospace", fontsize=10];
>>> svg = draw(g)
>>> svg.lstrip().startswith("<?xml") and "</svg>" in svg
True
>>> d = geometry(g)
>>> d.direction, len(d.boxes), d.figsize
('TB', 14, (4.73, 6.56))
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput

#: Graphs larger than this are not drawn (the picture would be unreadable); DOT still works.
MAX_DRAW_NODES = 250

#: Text size (points) and font of the drawing; line height as a multiple of the size.
FONTSIZE = 9.0
FONT = "DejaVu Sans"
LINE = 1.25
#: Padding inside a box, gap between neighbouring boxes, between a box and a passing edge,
#: between two passing edges, between layers (top-to-bottom / left-to-right), margin (points).
PAD_X, PAD_Y = 6.0, 3.5
GAP_BOX, GAP_EDGE, GAP_WAY = 10.0, 7.0, 5.0
GAP_LAYER = {"TB": 20.0, "LR": 28.0}
MARGIN = 3.0
#: The area the automatic direction tries to fit at natural size (inches): a portrait text block.
PAGE = (7.0, 9.0)

COLOURS = {"param": "#dbeafe", "input": "#e5e7eb", "const": "#ffffff", "op": "#ecfdf5", "output": "#fde68a"}
EDGE_COLOUR, BORDER_COLOUR, TEXT_COLOUR = "#6b7280", "#374151", "#111827"


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
    """Graphviz DOT text: one box per node (name, primitive, value, adjoint), edges labelled by argument.

    Every node is listed, constants included (the drawing may fold scalar constants into labels).
    """
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


# -- layout -----------------------------------------------------------------------------------------

def _folded(graph: Any, show_constants: bool) -> set:
    """Constants drawn inside their consumers' labels: scalar constants, unless shown."""
    if show_constants:
        return set()
    return {n for n in graph.nodes if n.kind == "const" and np.ndim(n.value) == 0 and n is not graph.output}


class _Way:
    """A waypoint: where a long edge crosses a layer (a zero-width slot in that layer's order)."""

    __slots__ = ("edge", "layer")

    def __init__(self, edge: int, layer: int) -> None:
        self.edge, self.layer = edge, layer


@dataclass
class _Order:
    nodes: list            # drawn nodes, graph order
    edges: list            # (parent, child, argnum) between drawn nodes
    layer: dict            # node -> layer
    layers: list           # per layer: items (nodes and _Way) in order
    up: dict               # item -> items in the layer before (with the edge index)
    down: dict             # item -> items in the layer after
    chains: list           # per edge: [parent, way..., child]


def _order(graph: Any, folded: set, sweeps: int) -> _Order:
    nodes = [n for n in graph.nodes if n not in folded]
    edges = [(e.parent, e.child, e.argnum) for e in graph.edges if e.parent not in folded]
    kids: dict = {n: [] for n in nodes}
    for p, c, _ in edges:
        kids[p].append(c)
    layer: dict = {}
    for n in nodes:  # operations: one after the deepest operation argument
        if n.primitive is not None:
            layer[n] = 1 + max((layer[p] for p in n.parents if p not in folded and p.primitive is not None),
                               default=0)
    sole = {n for n in nodes if n.primitive is None and len(set(kids[n])) == 1}
    for n in reversed(nodes):  # pull an operation towards its consumers when that shortens edges
        if n.primitive is not None and kids[n]:
            to = min(layer[c] for c in kids[n]) - 1
            longer = sum(1 for p in n.parents if p not in folded and p not in sole)
            if to > layer[n] and len(kids[n]) > longer:
                layer[n] = to
    for n in nodes:  # leaves: just before their first consumer
        if n.primitive is None:
            layer[n] = min((layer[c] for c in kids[n]), default=1) - 1
    dense = {k: i for i, k in enumerate(sorted(set(layer.values())))}
    layer = {n: dense[k] for n, k in layer.items()}
    layers: list[list] = [[] for _ in range(max(layer.values()) + 1)]
    for n in nodes:
        layers[layer[n]].append(n)
    up: dict = {n: [] for n in nodes}
    down: dict = {n: [] for n in nodes}
    chains = []
    for i, (p, c, _) in enumerate(edges):
        chain = [p]
        for k in range(layer[p] + 1, layer[c]):
            w = _Way(i, k)
            layers[k].append(w)
            up[w], down[w] = [], []
            chain.append(w)
        chain.append(c)
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
        chains.append(chain)

    pos = {it: i for L in layers for i, it in enumerate(L)}

    def crossings() -> int:
        total = 0
        for k in range(len(layers) - 1):
            segs = sorted((pos[a], pos[b]) for a in layers[k] for b in down[a])
            for i, (a1, b1) in enumerate(segs):
                total += sum(1 for a2, b2 in segs[i + 1:] if a2 > a1 and b2 < b1)
        return total

    best, best_x = [list(L) for L in layers], crossings()
    for s in range(2 * sweeps):
        downward = s % 2 == 0
        seq = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for k in seq:
            L = layers[k]

            def bary(it: Any) -> float:
                nb = up[it] if downward else down[it]
                return sum(pos[m] for m in nb) / len(nb) if nb else pos[it]
            L.sort(key=lambda it: (bary(it), pos[it]))
            for i, it in enumerate(L):
                pos[it] = i
        x = crossings()
        if x < best_x:
            best, best_x = [list(L) for L in layers], x
    return _Order(nodes, edges, layer, best, up, down, chains)


def layout(graph: Any, *, sweeps: int = 4, show_constants: bool = True) -> dict[Any, tuple[int, int]]:
    """(layer, position-in-layer) per node: operation layers by longest path, each leaf in the layer
    before its first consumer, barycentre ordering (waypoints of long edges are not counted).

    Every node is placed unless ``show_constants=False`` (then scalar constants are left out, as
    the drawing folds them into their consumers' labels).

    >>> from diffkit import builtin
    >>> from diffkit.engine import from_model
    >>> pos = layout(from_model(builtin("ridge-sigmoid")))
    >>> sorted((l, n.name) for n, (l, i) in pos.items() if l >= 5)
    [(5, 'c1'), (5, 'v3'), (6, 'l'), (7, 'L')]
    >>> sorted(n.name for n, (l, i) in pos.items() if l == 0)
    ['c2', 'w', 'x']
    """
    o = _order(graph, _folded(graph, show_constants), sweeps)
    out = {}
    for L in o.layers:
        for i, n in enumerate(it for it in L if not isinstance(it, _Way)):
            out[n] = (o.layer[n], i)
    return {n: out[n] for n in o.nodes}


# -- geometry ----------------------------------------------------------------------------------------

@dataclass
class Box:
    """One node's box: top-left corner ``(x, y)`` and size in points (y grows downwards).

    ``lines`` holds runs ``(text, bold)`` per line; ``text_w``/``text_h`` is the measured block.
    """

    node: Any
    x: float
    y: float
    w: float
    h: float
    lines: list
    text_w: float
    text_h: float
    face: str
    dashed: bool = False

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)


@dataclass
class Drawing:
    """Everything :func:`draw` paints, in points with the origin at the top left.

    ``edges`` holds ``(parent, child, argnum, verts, codes)``: a matplotlib path (moveto, lineto
    and cubic Bézier segments).  ``figsize`` is the natural size in inches (text at
    :data:`FONTSIZE` points); PNGs are written at 100 dpi.
    """

    boxes: dict
    edges: list
    width: float
    height: float
    direction: str
    folded: list = field(default_factory=list)
    fontsize: float = FONTSIZE

    @property
    def figsize(self) -> tuple[float, float]:
        return (round(self.width / 72, 2), round(self.height / 72, 2))


def _num(v: Any) -> str:
    """4 significant digits with a typographic minus; arrays by shape."""
    if v is None:
        return "—"
    try:
        if np.ndim(v) == 0:
            return f"{float(v) + 0.0:.4g}".replace("-", "−")  # + 0.0: no "−0"
        return "array " + "×".join(str(d) for d in np.shape(v))
    except (TypeError, ValueError):
        return str(v)


def _call(n: Any, shown: bool = True) -> str:
    """``prim(arg, ...)``: arguments by name, constants by value, short static parameters."""
    args = [p.label if p.kind == "const" else (p.name if shown else "·") for p in n.parents]
    args += [f"{k}={v}" for k, v in (n.params or {}).items() if len(f"{k}={v}") <= 12]
    return f"{n.primitive.name}({', '.join(args)})"


def _text(graph: Any, n: Any, values: bool, adj: dict) -> list[list[tuple[str, bool]]]:
    if n.kind == "const":
        head = [(n.label, True), ("  constant", False)]
    elif n.primitive is None:
        head = [(n.name, True), ("  parameter" if n.kind == "param" else "  input", False)]
    else:
        call = _call(n)
        if len(call) > 26:
            call = _call(n, shown=False)
        if len(call) > 26:
            call = n.primitive.name
        head = [(n.name, True), (" = " + call, False)]
    lines = [head]
    if values and n.kind != "const":
        lines.append([(f"value {_num(graph._vals.get(n))}", False)])
        if n in adj:
            out = graph.output.name
            lines.append([(f"∂{out}/∂{n.name} {_num(adj[n])}", False)])
    return lines


_MEASURE: dict = {}


def _width(s: str, bold: bool) -> float:
    """Advance width of ``s`` in points at :data:`FONTSIZE` (matplotlib's own font metrics)."""
    key = (s, bold)
    if key not in _MEASURE:
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextToPath

        prop = FontProperties(family=FONT, size=FONTSIZE, weight="bold" if bold else "normal")
        _MEASURE[key] = TextToPath().get_text_width_height_descent(s, prop, ismath=False)[0]
    return _MEASURE[key]


def _pack(desired: list[float], gaps: list[float]) -> list[float]:
    """Positions closest (least squares) to ``desired`` keeping order and ``gaps`` between neighbours."""
    offs = [0.0]
    for g in gaps:
        offs.append(offs[-1] + g)
    blocks: list[list[float]] = []  # pool adjacent violators on desired - offset
    for d, o in zip(desired, offs):
        blocks.append([d - o, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    out: list[float] = []
    for s, c in blocks:
        out += [s / c] * int(c)
    return [y + o for y, o in zip(out, offs)]


def _geometry(graph: Any, o: _Order, texts: dict, direction: str) -> Drawing:
    tb = direction == "TB"
    lh = LINE * FONTSIZE
    size = {}  # node -> (extent along the order axis, extent along the layer axis)
    tsize = {}
    for n in o.nodes:
        tw = max(sum(_width(s, b) for s, b in line) for line in texts[n])
        th = len(texts[n]) * lh
        tsize[n] = (tw, th)
        w, h = tw + 2 * PAD_X, th + 2 * PAD_Y
        size[n] = (w, h) if tb else (h, w)
    band = [max((size[it][1] for it in L if not isinstance(it, _Way)), default=0.0) for L in o.layers]
    start = [MARGIN]
    for b in band[:-1]:
        start.append(start[-1] + b + GAP_LAYER[direction])

    def ext(it: Any) -> float:
        return 0.0 if isinstance(it, _Way) else size[it][0]

    def gap(a: Any, b: Any) -> float:
        ways = isinstance(a, _Way) + isinstance(b, _Way)
        return (ext(a) + ext(b)) / 2 + (GAP_BOX, GAP_EDGE, GAP_WAY)[ways]

    c: dict = {}
    for L in o.layers:
        x = 0.0
        for i, it in enumerate(L):
            x = x + gap(L[i - 1], it) if i else ext(it) / 2
            c[it] = x

    def place(L: list, nbrs: Any) -> None:
        if not L:
            return
        want = []
        for it in L:
            nb = nbrs(it)
            want.append(sum(c[m] for m in nb) / len(nb) if nb else c[it])
        for it, x in zip(L, _pack(want, [gap(a, b) for a, b in zip(L, L[1:])])):
            c[it] = x

    K = len(o.layers)
    for _ in range(8):
        for k in range(1, K):
            place(o.layers[k], lambda it: o.up[it])
        for k in range(K - 2, -1, -1):
            place(o.layers[k], lambda it: o.down[it])
    ways: dict = {}
    for ch in o.chains:
        for w in ch[1:-1]:
            ways[w] = ch[1:-1]
    for _ in range(4):  # straighten long edges: their waypoints towards a common line
        for k in range(K):
            place(o.layers[k], lambda it: ways[it] if isinstance(it, _Way) else o.up[it] + o.down[it])
    low = min(c[it] - ext(it) / 2 for it in c)
    for it in c:
        c[it] += MARGIN - low
    along = max(c[it] + ext(it) / 2 for it in c) + MARGIN
    across = start[-1] + band[-1] + MARGIN

    def xy(a: float, r: float) -> tuple[float, float]:
        return (a, r) if tb else (r, a)

    boxes = {}
    for n in o.nodes:
        k = o.layer[n]
        a0, r0 = c[n] - size[n][0] / 2, start[k]
        x, y = xy(a0, r0)
        w, h = (size[n][0], band[k]) if tb else (band[k], size[n][0])
        face = COLOURS["output"] if n is graph.output else COLOURS[n.kind]
        boxes[n] = Box(n, x, y, w, h, texts[n], tsize[n][0], tsize[n][1], face, n.kind == "const")

    def ports(n: Any, others: list) -> dict:
        """Where the edges to/from ``others`` (items, in edge order) meet ``n``'s facing side."""
        m = len(others)
        step = min(12.0, 0.7 * size[n][0] / max(m - 1, 1))
        order = sorted(range(m), key=lambda i: (c[others[i]], i))
        return {i: c[n] + (rank - (m - 1) / 2) * step for rank, i in enumerate(order)}

    outgoing: dict = {n: [] for n in o.nodes}
    incoming: dict = {n: [] for n in o.nodes}
    for i, ch in enumerate(o.chains):
        outgoing[ch[0]].append(i)
        incoming[ch[-1]].append(i)
    out_port, in_port = {}, {}
    for n in o.nodes:
        for i, a in ports(n, [o.chains[j][1] for j in outgoing[n]]).items():
            out_port[outgoing[n][i]] = a
        for i, a in ports(n, [o.chains[j][-2] for j in incoming[n]]).items():
            in_port[incoming[n][i]] = a

    from matplotlib.path import Path as MPath

    edges = []
    for i, ((p, ch, argnum), chain) in enumerate(zip(o.edges, o.chains)):
        pts = [(out_port[i], start[o.layer[p]] + band[o.layer[p]])]
        for w in chain[1:-1]:
            pts += [(c[w], start[w.layer]), (c[w], start[w.layer] + band[w.layer])]
        pts.append((in_port[i], start[o.layer[ch]]))
        verts, codes = [xy(*pts[0])], [MPath.MOVETO]
        for j in range(1, len(pts)):
            (a0, r0), (a1, r1) = pts[j - 1], pts[j]
            if j % 2:  # across a gap between layers: an S-curve inside the gap
                rm = (r0 + r1) / 2
                verts += [xy(a0, rm), xy(a1, rm), xy(a1, r1)]
                codes += [MPath.CURVE4] * 3
            else:      # through a layer, at a waypoint: straight
                verts.append(xy(a1, r1))
                codes.append(MPath.LINETO)
        edges.append((p, ch, argnum, verts, codes))
    w, h = xy(along, across)
    return Drawing(boxes, edges, w, h, direction)


def geometry(graph: Any, *, values: bool = True, show_constants: bool = False, direction: str = "auto",
             sweeps: int = 4) -> Drawing:
    """The boxes, edge paths and figure size :func:`draw` uses (points, origin top left).

    ``direction`` is ``"TB"`` (top to bottom), ``"LR"`` (left to right) or ``"auto"``: the one
    that fits :data:`PAGE` with less shrinking (on a tie, the lower one).
    """
    if direction not in ("auto", "TB", "LR"):
        raise BadInput(f"unknown direction {direction!r}; use 'auto', 'TB' or 'LR'")
    folded = _folded(graph, show_constants)
    o = _order(graph, folded, sweeps)
    adj = dict(graph._adj)
    texts = {n: _text(graph, n, values, adj) for n in o.nodes}
    if direction != "auto":
        d = _geometry(graph, o, texts, direction)
    else:
        def key(d: Drawing) -> tuple[float, float]:
            fit = min(1.0, PAGE[0] * 72 / d.width, PAGE[1] * 72 / d.height)
            return (-round(fit, 6), d.height)
        d = min((_geometry(graph, o, texts, s) for s in ("TB", "LR")), key=key)
    d.folded = [n for n in graph.nodes if n in folded]
    return d


def _figure(d: Drawing) -> tuple[Any, dict]:
    """A matplotlib Figure painting ``d`` at its natural size, and the text artists of each node."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MPath

    fig = Figure(figsize=(d.width / 72, d.height / 72), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, d.width)
    ax.set_ylim(d.height, 0)
    ax.axis("off")
    for _, _, _, verts, codes in d.edges:
        ax.add_patch(FancyArrowPatch(path=MPath(verts, codes), arrowstyle="-|>,head_length=0.5,head_width=0.22",
                                     mutation_scale=10, lw=0.8, color=EDGE_COLOUR, shrinkA=0, shrinkB=0,
                                     zorder=1))
    artists: dict = {}
    lh = LINE * FONTSIZE
    for n, b in d.boxes.items():
        ax.add_patch(FancyBboxPatch((b.x, b.y), b.w, b.h, boxstyle="round,pad=0,rounding_size=3", fc=b.face,
                                    ec=BORDER_COLOUR, lw=0.8, ls=(0, (3, 2)) if b.dashed else "-", zorder=2))
        top = b.y + (b.h - b.text_h) / 2
        artists[n] = []
        for i, line in enumerate(b.lines):
            x = b.x + b.w / 2 - sum(_width(s, bold) for s, bold in line) / 2
            base = top + (i + 0.5) * lh + 0.36 * FONTSIZE
            for s, bold in line:
                artists[n].append(ax.text(x, base, s, ha="left", va="baseline", fontsize=FONTSIZE, family=FONT,
                                          fontweight="bold" if bold else "normal", color=TEXT_COLOUR, zorder=3))
                x += _width(s, bold)
    return fig, artists


def draw(graph: Any, fmt: str = "svg", path: str | Path | None = None, *, values: bool = True,
         show_constants: bool = False, direction: str = "auto") -> str | bytes:
    """Draw ``graph`` with values and adjoints; SVG text or PNG bytes (also written to ``path``).

    Parameters
    ----------
    fmt : {"svg", "png"}
    path : path, optional
        Where to write the file as well.
    values : bool, default True
        Show forward values and adjoints (adjoints are computed if missing and the output is scalar).
    show_constants : bool, default False
        Draw scalar constants as boxes of their own; by default they appear inside the label of
        the operation using them (``pow(v2, 2)``).  :func:`to_dot` always lists them.
    direction : {"auto", "TB", "LR"}
        Top to bottom, left to right, or whichever fits a portrait page better.
    """
    if fmt not in ("svg", "png"):
        raise BadInput(f"unknown drawing format {fmt!r}; use 'svg' or 'png'")
    if len(graph.nodes) > MAX_DRAW_NODES:
        raise BadInput(f"graph has {len(graph.nodes)} nodes; drawing is limited to {MAX_DRAW_NODES} "
                       "(use to_dot for large graphs)")
    import matplotlib

    if values and not graph._adj and graph.output.needs_grad and np.shape(graph._vals.get(graph.output)) == ():
        graph.backward()
    d = geometry(graph, values=values, show_constants=show_constants, direction=direction)
    with matplotlib.rc_context({"svg.hashsalt": "diffkit", "svg.fonttype": "path", "path.simplify": False}):
        fig, _ = _figure(d)
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, metadata=meta, dpi=100)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data.decode("utf-8") if fmt == "svg" else data
