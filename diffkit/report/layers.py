"""The report's layer section: the graph collapsed to one box per layer, with shapes.

A pure function of the comparison's ``layer`` result (:mod:`diffkit.analysis.layers` for the layer
zoo's models, :mod:`diffkit.analysis.layer_listing` for an MLP): nothing is derived here.  For an
MLP the section also holds the backprop equations in matrix form with their values; for a layer
model, the engine's layer against the symbolic gradient and what the layer's structure makes the
naive symbolic gradient recompute.  The scalar nodes of a tiny net are section 1's graph.
"""

from __future__ import annotations

from typing import Sequence

from .document import Equations, Figure, Para, Section, Table


def _shape(s) -> str:
    return "×".join(str(int(d)) for d in s) if len(s) else "scalar"


def boxes_svg(boxes: Sequence[tuple[str, str, str]], name: str = "layers") -> str:
    """A left-to-right chain of boxes (title, body, shape), drawn by matplotlib (text as paths)."""
    import matplotlib
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.patches import FancyBboxPatch

    from .figures import _RC, _svg

    n = len(boxes)
    w, gap, h = 2.1, 0.55, 1.15
    with matplotlib.rc_context(_RC):
        fig = MplFigure(figsize=(min(0.95 * (n * (w + gap)), 9.5), 1.45))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(-0.1, n * (w + gap) - gap + 0.1)
        ax.set_ylim(-0.1, h + 0.1)
        ax.axis("off")
        for k, (title, body, shape) in enumerate(boxes):
            x0 = k * (w + gap)
            first_or_last = k in (0, n - 1)
            ax.add_patch(FancyBboxPatch((x0, 0), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                        facecolor="#eef3fb" if not first_or_last else "#f4f4f4",
                                        edgecolor="#4a6fa5", linewidth=1.0))
            ax.text(x0 + w / 2, h * 0.78, title, ha="center", va="center", fontsize=9, fontweight="bold")
            ax.text(x0 + w / 2, h * 0.48, body, ha="center", va="center", fontsize=8)
            ax.text(x0 + w / 2, h * 0.18, shape, ha="center", va="center", fontsize=8, color="#555555")
            if k < n - 1:
                ax.annotate("", xy=(x0 + w + gap, h / 2), xytext=(x0 + w, h / 2),
                            arrowprops=dict(arrowstyle="->", color="#4a6fa5", lw=1.0))
        return _svg(fig, name)


def _mlp_boxes(lst) -> list[tuple[str, str, str]]:
    bp = lst.backprop
    L = bp.layers
    boxes = [("input", "x", f"{bp.sizes[0]}×1")]
    for l in range(1, L + 1):
        act = bp.activations[l - 1]
        last = l == L
        f = "" if act == "identity" or (last and bp.loss != "squared") else \
            {"sigmoid": "σ", "tanh": "tanh", "relu": "relu", "step": "step", "sign": "sign"}[act]
        body = f"{f}(W⁽{l}⁾z + b⁽{l}⁾)" if f else f"W⁽{l}⁾z + b⁽{l}⁾"
        boxes.append((f"layer {l}: dense", body, f"W {bp.sizes[l]}×{bp.sizes[l - 1]} → {bp.sizes[l]}×1"))
    boxes.append(("loss", "L = " + bp.loss_text("pretty"), "1×1"))
    return boxes


def _layer_boxes(lc, model) -> list[tuple[str, str, str]]:
    arrays = model.spec["arrays"]
    wrt = set(model.wrt)
    params = [k for k, (_, syms) in arrays.items() if all(s.name in wrt for s in syms)]
    data = [k for k in arrays if k not in params]
    ins = ", ".join(f"{k} {_shape(arrays[k][0])}" for k in params)
    out_shape = next((o["shape"] for o in reversed(lc.tape["ops"]) if o["primitive"] not in ("sub", "pow", "sum", "mul")),
                     [])
    return [("inputs and parameters", ins if len(ins) < 34 else ", ".join(params), "differentiated"),
            (lc.call.split("(")[0].replace("dk.", "") + " (the zoo's layer)", lc.call, f"→ {_shape(out_shape)}"),
            ("loss", "L = ½‖output − target‖²", f"targets {', '.join(data)}")]


def layer_section(c) -> Section | None:
    """The section for a comparison with a ``layer`` result; None otherwise."""
    from .content import M, e, g

    lay = getattr(c, "layer", None)
    if lay is None:
        return None
    blocks: list = []
    if hasattr(lay, "backprop"):  # an MLP: the layer-wise listing in matrix form
        blocks.append(Para("The network with one box per layer: each dense layer is a⁽ˡ⁾ = W⁽ˡ⁾z⁽ˡ⁻¹⁾ + b⁽ˡ⁾ "
                           "followed by its activation, z⁽⁰⁾ = x."))
        blocks.append(Figure(boxes_svg(_mlp_boxes(lay)), "The graph collapsed to one box per layer, with the shapes "
                             "of one sample (vectors are columns). Expanded to scalar nodes, this is the graph of "
                             "section 1.", kind="graph"))
        rows = tuple((M(ln.latex, ln.pretty), ln.shape, ln.value_text()) for ln in lay.lines)
        blocks.append(Table(("FORWARD, then BACKWARD (δ⁽ˡ⁾ = ∂L/∂a⁽ˡ⁾)", "shape", "value"), rows, align="lll",
                            widths=(4, 1.2, 2.4), caption="The backprop equations in matrix form, derived "
                            "symbolically (SymPy's matrix calculus for each local step, diffkit's rules for the "
                            "chain), with their values at the point."))
        blocks.append(Para(f"The matrix equations give the engine's gradient to a max. relative error of "
                           f"{e(lay.max_rel_error)} (|a − b| / max(|b|, 1)); " + "; ".join(lay.backprop.notes) + ".",
                           kind="shows"))
    else:  # a layer model: the engine's layer against the symbolic gradient
        model = c.model
        blocks.append(Figure(boxes_svg(_layer_boxes(lay, model)), "The graph collapsed to one box per layer. "
                             "Expanded to scalar nodes, this is the graph of section 1; the engine's own tape of "
                             "the layer is " + ", ".join(o["primitive"] for o in lay.tape["ops"]) + ".",
                             kind="graph"))
        rows = tuple((p, g(lay.gradient[p], 12), g(lay.symbolic[p], 12), e(lay.errors[p])) for p in model.wrt)
        blocks.append(Table(("parameter", f"engine layer ({lay.call})", "symbolic", "rel. error"), rows,
                            align="lrrr", widths=(1.2, 2.6, 2, 1.2),
                            caption=f"The gradient by the engine's layer on arrays against the symbolic gradient; at "
                                    f"{lay.random['points']} random points the max. relative error is "
                                    f"{e(lay.random['max_rel_error'])}."))
        if lay.highlights:
            hrows = tuple((h.what, "" if h.expr is None else M(_latex(h.expr), h.to_dict()["pretty"] or ""),
                           "" if h.expr is None else f"×{h.count}", h.note) for h in lay.highlights)
            blocks.append(Table(("structure", "subexpression", "in the naive partials", "why"), hrows, align="llrl",
                                widths=(1.3, 3, 1.1, 3.2),
                                caption="What the layer's structure makes the naive symbolic gradient recompute "
                                        "(every occurrence in the expression trees counts)."))
        blocks.append(Para(f"The engine's layer records {lay.tape['forward']} array operations forward and "
                           f"{lay.tape['backward']} backward; the scalar tape of section 4 counts the same work "
                           "element by element.", kind="shows"))
    return Section("layers", "The network, layer by layer", tuple(blocks))


def _latex(expr) -> str:
    from ..symbolic import render
    return render.latex(expr)
