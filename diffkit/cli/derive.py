"""``diffkit derive``: the symbolic gradient of a model (SymPy)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..budget import SIMPLIFY_LIMIT_S, deadline, enforce, estimate_derive
from ..symbolic.derive import FORMS, derive as derive_gradient, hessian
from ..symbolic import render
from .app import JsonOpt, ModelOptions, emit_json, model_command
from .tables import WideOpt, echo_fit


@model_command("derive", at=False)
def derive_cmd(
    opts: ModelOptions,
    form: Annotated[str, typer.Option("--form", "-f", help=f"View: {', '.join(FORMS)}.")] = "lecture",
    latex: Annotated[bool, typer.Option("--latex", help="Print LaTeX instead of Unicode text.")] = False,
    show_hessian: Annotated[bool, typer.Option("--hessian", help="Also print the Hessian.")] = False,
    json_out: JsonOpt = False, wide: WideOpt = False,
) -> None:
    """Derive the closed-form gradient with SymPy.

    [bold]Examples[/bold]

      diffkit derive                                   (the lecture's ridge-sigmoid neuron)

      diffkit derive --expr '0.5*(y - sigmoid(w*x + b))**2 + lam*w**2' --wrt w,b

      diffkit derive linear-regression --form matrix --latex

      diffkit derive logistic-map -n 3 --form cse --json
    """
    m, _ = opts.build()
    enforce(estimate_derive(m, form), force=opts.force)
    with deadline(SIMPLIFY_LIMIT_S if form == "simplified" and not opts.force else 0, "--form simplified",
                  "try --form lecture or --form cse"):
        d = derive_gradient(m, form=form)
    hess = hessian(m) if show_hessian else None
    if json_out:
        out = {**d.to_dict(), "hessian": None}
        if hess is not None:
            names = list(m.wrt)
            out["hessian"] = {a: {b: {"text": render.text(hess[i, j]), "latex": render.latex(hess[i, j])}
                                  for j, b in enumerate(names)} for i, a in enumerate(names)}
        emit_json(out, "derive")
        return
    style = "latex" if latex else "pretty"
    r = d.rendered(style)
    from ..symbolic.readable import readable  # long closed forms: size and op count, not hairlines
    hint = "see --json" + (", or --form matrix" if m.spec.get("kind") == "mlp" else ", or --form cse")
    if form != "matrix" and not wide:
        if r["loss"] is not None:
            r["loss"] = readable(r["loss"], d.loss, hint=hint)
        r["gradient"] = {p: readable(e, d.gradient[p], hint=hint) for p, e in r["gradient"].items()}

    def out(line: str) -> None:  # a long expression wraps at the terminal's width (not with --wide)
        echo_fit(line, width=10**9 if wide else None)
    lhs = form == "matrix"
    named = getattr(d, "lhs", None)  # the MLP's matrix form names its own left-hand sides (∂L/∂W⁽¹⁾)
    out(f"# {m.name}: {m.description or m.source}" + (f"  [{form} form]" if form != "lecture" else ""))
    for note in d.notes:
        out(f"# {note}")
    if r["loss"] is not None:
        out(f"L = {r['loss']}")
    typer.echo("")
    for sym, e in r["replacements"]:
        out(f"{sym} = {e}")
    if r["replacements"]:
        typer.echo("")
    for p, e in r["gradient"].items():
        if callable(named):
            head = named(p, style)
        elif latex:
            head = r"\nabla_{%s} L" % p if lhs else r"\frac{\partial L}{\partial %s}" % render.latex(m.symbol(p))
        else:
            head = f"∇_{p} L" if lhs else f"∂L/∂{render.pretty(m.symbol(p))}"
        out(f"{head} = {e}")
    if hess is not None:
        typer.echo("")
        names = list(m.wrt)
        fn = render.latex if latex else render.pretty
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if j >= i:
                    out(f"∂²L/∂{a}∂{b} = {fn(hess[i, j])}" if not latex else
                               r"\frac{\partial^2 L}{\partial %s \partial %s} = %s" % (a, b, fn(hess[i, j])))
