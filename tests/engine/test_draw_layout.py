"""Geometry of the graph drawing: no overlapping boxes, text inside its box, edges around boxes."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit import builtin, model_from_expr
from diffkit.engine.draw import FONTSIZE, PAD_X, PAD_Y, PAGE, _figure, geometry


def _ridge():
    g = dk.from_model(builtin("ridge-sigmoid"))
    g.backward()
    return g


def _expr():
    m = model_from_expr("relu(w*x+b)**2 + lam*abs(w)", "w,b", at=dict(w=0.5, b=0.1, x=2, lam=0.1))
    return dk.from_model(m, m.point())


def _sixty():
    def f(a, b, c, d, e):
        ps = [a, b, c, d, e]
        terms = [dk.sin(ps[i] * ps[(i + 1) % 5]) + dk.exp(ps[i] - 0.5) * ps[(i + 2) % 5] for i in range(5)]
        h = [dk.tanh(t * 2.0) for t in terms]
        return (h[0] + h[1]) * (h[2] - h[3]) + h[4] ** 2 + dk.sigmoid(h[0] * h[4]) * 0.5
    return dk.trace(f, 0.1, 0.2, 0.3, 0.4, 0.5)


GRAPHS = {
    "ridge-sigmoid": _ridge,
    "mlp": lambda: dk.from_model(builtin("mlp")),
    "logistic-map": lambda: dk.from_model(builtin("logistic-map", n=5)),
    "expression": _expr,
    "sixty": _sixty,
}


def _overlap(r, s, gap=0.0):
    return r[0] < s[2] + gap and s[0] < r[2] + gap and r[1] < s[3] + gap and s[1] < r[3] + gap


def _samples(verts, codes):
    """Points along a path made of moveto, lineto and cubic Bézier segments."""
    from matplotlib.path import Path

    pts = []
    for seg, _ in Path(verts, codes).iter_bezier():
        pts += list(seg(np.linspace(0, 1, 25)))
    return np.array(pts)


def test_sixty_node_graph_is_that_big():
    assert 55 <= len(_sixty().nodes) <= 70


@pytest.mark.parametrize("show_constants", [False, True])
@pytest.mark.parametrize("direction", ["auto", "LR"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_boxes_do_not_overlap_text_fits_and_edges_go_around_boxes(name, direction, show_constants):
    g = GRAPHS[name]()
    d = geometry(g, show_constants=show_constants, direction=direction)
    boxes = list(d.boxes.values())
    # every node is drawn once, except the scalar constants folded into their consumers' labels
    assert len(boxes) + len(d.folded) == len(g.nodes)
    assert bool(d.folded) == (not show_constants and any(n.kind == "const" for n in g.nodes))
    for i, b in enumerate(boxes):
        x0, y0, x1, y1 = b.rect
        assert 0 <= x0 < x1 <= d.width and 0 <= y0 < y1 <= d.height
        assert b.text_w + 2 * PAD_X <= b.w + 1e-9 and b.text_h + 2 * PAD_Y <= b.h + 1e-9
        for c in boxes[i + 1:]:
            assert not _overlap(b.rect, c.rect, gap=5.0), (b.node.name, c.node.name)
    for p, c, _, verts, codes in d.edges:
        pts = _samples(verts, codes)
        assert np.allclose(pts[0], verts[0]) and np.allclose(pts[-1], verts[-1])
        # starts on the parent's border, ends on the child's border
        for end, box in ((pts[0], d.boxes[p]), (pts[-1], d.boxes[c])):
            x0, y0, x1, y1 = box.rect
            assert x0 - 1e-6 <= end[0] <= x1 + 1e-6 and y0 - 1e-6 <= end[1] <= y1 + 1e-6
        for b in boxes:  # no point of the edge is inside any box (tolerance 0.5 pt at the borders)
            x0, y0, x1, y1 = b.rect
            inside = (pts[:, 0] > x0 + 0.5) & (pts[:, 0] < x1 - 0.5) & (pts[:, 1] > y0 + 0.5) & (pts[:, 1] < y1 - 0.5)
            assert not inside.any(), (p.name, c.name, b.node.name)


@pytest.mark.parametrize("name", ["ridge-sigmoid", "expression", "sixty"])
def test_rendered_text_stays_inside_its_box(name):
    d = geometry(GRAPHS[name]())
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, artists = _figure(d)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    to_px = ax.transData
    for n, texts in artists.items():
        b = d.boxes[n]
        (bx0, by0), (bx1, by1) = to_px.transform([(b.x, b.y + b.h), (b.x + b.w, b.y)])
        for t in texts:
            e = t.get_window_extent(renderer)
            assert bx0 + 1 <= e.x0 and e.x1 <= bx1 - 1 and by0 + 1 <= e.y0 and e.y1 <= by1 - 1, (n.name, t.get_text())
            assert t.get_fontsize() == FONTSIZE


def test_ridge_sigmoid_reads_like_the_lecture_figure():
    g = _ridge()
    d = geometry(g)
    by = {n.name: b for n, b in d.boxes.items()}
    # constants 0.5 and 2 are folded into their operations' labels; DOT still lists them
    assert sorted(n.label for n in d.folded) == ["0.5", "2"] and "c1" not in by
    dot = dk.to_dot(g).splitlines()
    assert sum("[label=" in s and "->" not in s for s in dot) == len(g.nodes) == 16 and 'label="0.5' in dot[2]
    text = {k: " | ".join("".join(s for s, _ in line) for line in b.lines) for k, b in by.items()}
    assert text["z"] == "z = add(b, v1) | value 0.55 | ∂L/∂z −0.08488"
    assert text["v3"].startswith("v3 = pow(v2, 2)") and text["l"].startswith("l = mul(0.5, v3)")
    assert text["x"] == "x  input | value 1.7" and text["w"].startswith("w  parameter")
    assert all(b.lines[0][0] == (k, True) for k, b in by.items())  # the name is the bold run
    # leaves sit just above their first consumer, not all in the first row
    assert by["y"].y == by["u"].y and by["lam"].y == by["r"].y and by["b"].y == by["v1"].y
    assert by["x"].y == by["w"].y < by["v1"].y
    # colours: parameters blue, inputs grey, operations green, the output yellow
    assert by["w"].face == by["b"].face == "#dbeafe" and by["x"].face == by["lam"].face == "#e5e7eb"
    assert by["u"].face == "#ecfdf5" and by["L"].face == "#fde68a"
    # natural size fits a portrait text block, so the text is shown at >= 9 pt in the report
    w, h = d.figsize
    assert d.direction == "TB" and w <= PAGE[0] and h <= PAGE[1] and FONTSIZE >= 9
    # compact: boxes are text plus modest padding, layers are close
    assert all(b.w <= b.text_w + 2 * PAD_X + 1e-9 for b in d.boxes.values())
    ys = sorted({b.y for b in d.boxes.values()})
    assert max(b - a for a, b in zip(ys, ys[1:])) < 80  # points between consecutive rows
    import re

    svg = dk.draw(g)
    size = re.search(r'<svg[^>]*width="([0-9.]+)pt" height="([0-9.]+)pt"', svg)
    assert float(size[1]) == pytest.approx(d.width, abs=0.01) and float(size[2]) == pytest.approx(d.height, abs=0.01)


def test_show_constants_draws_dashed_constant_boxes_and_layout_lists_every_node():
    g = _ridge()
    d = geometry(g, show_constants=True)
    consts = [b for b in d.boxes.values() if b.node.kind == "const"]
    assert len(consts) == 2 and all(b.dashed and b.lines[0][1] == ("  constant", False) for b in consts)
    assert len(d.boxes) == len(g.nodes)
    pos = dk.layout(g)
    assert len(pos) == len(g.nodes)
    kids = g.children()
    for n, (layer, _) in pos.items():
        if n.primitive is None:  # a leaf is in the layer just before its first consumer
            assert layer == min(pos[c][0] for c, _ in kids[n]) - 1
    assert len(dk.layout(g, show_constants=False)) == len(g.nodes) - 2


def test_geometry_is_deterministic_and_directions_are_honoured():
    a, b = geometry(_ridge()), geometry(_ridge())
    assert [(bx.node.name, bx.x, bx.y, bx.w, bx.h) for bx in a.boxes.values()] == \
           [(bx.node.name, bx.x, bx.y, bx.w, bx.h) for bx in b.boxes.values()]
    assert [e[3] for e in a.edges] == [e[3] for e in b.edges]
    lr = geometry(_ridge(), direction="LR")
    assert lr.direction == "LR" and lr.width > lr.height
    with pytest.raises(dk.BadInput if hasattr(dk, "BadInput") else Exception, match="direction"):
        geometry(_ridge(), direction="RL")


def test_values_false_draws_names_only():
    d = geometry(_ridge(), values=False)
    assert all(len(b.lines) == 1 for b in d.boxes.values())
    png = dk.draw(_ridge(), "png", values=False)
    assert png[:4] == b"\x89PNG"
