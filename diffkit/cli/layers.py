"""What the layer zoo adds to the commands: ``backprop --layers``, ``swell --model rnn`` and the layer
section of ``compare`` for the small layer models.  Formatting only; the numbers come from
:mod:`diffkit.analysis.layer_listing`, :mod:`diffkit.analysis.layers` and :mod:`diffkit.analysis.rnn_swell`.
"""

from __future__ import annotations

import typer

from ..errors import BadInput


def print_layer_listing(model, point, *, latex: bool = False, json_out: bool = False) -> None:
    """``diffkit backprop mlp --layers``: FORWARD and BACKWARD, one line per layer, shapes and values."""
    from ..analysis.layer_listing import layer_listing
    from .app import emit_json

    lst = layer_listing(model, point)
    if json_out:
        emit_json(lst.to_dict(), "backprop-layers")
        return
    style = "latex" if latex else "pretty"
    width = max(len(ln.equation[style]) for ln in lst.lines)
    swidth = max(len(ln.shape) for ln in lst.lines)
    for title, lines in (("FORWARD (one sample, vectors as columns)", lst.forward),
                         ("BACKWARD (δ⁽ˡ⁾ = ∂L/∂a⁽ˡ⁾)" if not latex else r"BACKWARD (\delta^{(l)} = \partial L/\partial a^{(l)})",
                          lst.backward)):
        typer.echo(title)
        for ln in lines:
            typer.echo(f"  {ln.equation[style]:<{width}}  {ln.shape:<{swidth}}  {ln.value_text()}".rstrip())


def refuse_scalar_listing_of_a_wide_mlp(model) -> None:
    """The scalar listing needs the symbolic loss, kept for small nets only: point to ``--layers``."""
    spec = model.spec or {}
    if spec.get("kind") == "mlp" and model.loss is None:
        sizes = "-".join(map(str, spec["sizes"]))
        raise BadInput(f"mlp {sizes} has {len(model.params)} parameters; the scalar listing is kept for nets of at "
                       "most 64; use --layers for the layer-wise listing")


def print_layer_section(lc, *, wide: bool = False) -> None:
    """``compare`` on a layer model: the engine's layer on arrays beside the symbolic gradient, its
    tape, and what the layer's structure makes the naive symbolic gradient recompute."""
    from .tables import Column, echo_fit, echo_table, number

    digits = 17 if wide else 10
    echo_fit(f"The engine's layer ({lc.call}, on arrays) against the symbolic gradient")
    rows = [(p, number(v, digits, wide=wide), number(lc.symbolic[p], digits, wide=wide), f"{lc.errors[p]:.1e}")
            for p, v in lc.gradient.items()]
    echo_table([Column("param"), Column("layer", "r"), Column("symbolic", "r"), Column("rel. error", "r")], rows,
               wide=wide)
    r = lc.random
    typer.echo()
    echo_fit(f"At {r['points']} random points (seed {r['seed']}): max rel. error {r['max_rel_error']:.1e}, "
             f"mismatches {r['mismatches']}.  Agreement: {'OK' if lc.ok else 'FAILED'}")
    echo_fit(f"Tape: {lc.tape['forward']} array operations forward, {lc.tape['backward']} backward: "
             + ", ".join(o["primitive"] for o in lc.tape["ops"]))
    typer.echo()
    if lc.highlights:
        typer.echo("What the layer's structure makes the naive symbolic gradient recompute")
        for h in lc.highlights:
            times = f" ×{h.count} in the partials, {h.ops} ops each" if h.expr is not None else ""
            echo_fit(f"  {h.what}:{times} — {h.note}", hang="    ")
        typer.echo()


def print_rnn_swell(max_T: int, *, json_out: bool = False, wide: bool = False) -> None:
    """``diffkit swell --model rnn``: the RNN over T = 1..max_T, naive symbolic against the tapes."""
    from ..analysis.operation_counts import CONVENTION
    from ..analysis.rnn_swell import growth, rnn_swell_table
    from .app import emit_json
    from .tables import Column, echo_fit, echo_table

    rows = rnn_swell_table(max_T)
    fits = growth(rows)
    if json_out:
        emit_json({"model": "rnn", "rows": [r.to_dict() for r in rows], "growth": [g.to_dict() for g in fits],
                   "convention": CONVENTION}, "swell-rnn")
        return
    echo_fit("Size of the gradient of an Elman RNN (2 hidden units) unrolled over T steps")
    echo_fit(f"(convention: {CONVENTION})")
    cols = [Column(c, "r") for c in ("T", "L", "tree", "tree+cse", "DAG", "tape fwd+bwd", "layer tape fwd+bwd")]
    echo_table(cols, [(str(r.T), str(r.ops_function), str(r.ops_naive), str(r.ops_cse), str(r.ops_dag),
                       f"{r.ops_tape_forward}+{r.ops_tape_backward}", f"{r.ops_layer_forward}+{r.ops_layer_backward}")
                      for r in rows], wide=wide)
    echo_fit("tree: the 8 naive partials (sympy.diff) as trees; tree+cse, DAG: shared size")
    echo_fit("tape: the engine on the scalar graph; layer tape: dk.elman_rnn on arrays (one op per primitive)")
    by = {g.column: g for g in fits}
    tree = by["ops_naive"]
    if tree.rate is not None:
        deg = tree.degrees
        echo_fit(f"Fitted growth (T ≥ {tree.fitted_from}): tree ×{tree.rate:.2f}/step, and its local degree "
                 "log(v_T/v_(T−1))/log(T/(T−1))")
        rising = len(deg) >= 3 and all(b > a for a, b in zip(deg, deg[1:]))
        echo_fit(f"  goes {' → '.join(f'{d:.1f}' for d in deg)}"
                 + (": it keeps rising, faster than any polynomial" if rising else ""))
        echo_fit("  " + "; ".join(f"{name} +{by[col].rate:.1f}/step" for col, name in
                                  (("ops_cse", "tree+cse"), ("ops_dag", "DAG"), ("ops_tape", "tape"),
                                   ("ops_layer", "layer tape")) if by[col].rate is not None) + " (linear)")
