"""``diffkit hessian``: Hessians both ways (closed matrix form / symbolic against AD) and ``diffkit breakeven``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich import box
from .tables import Table  # fitted to the terminal (diffkit.cli.tables)

from .. import constraints as C
from ..budget import enforce, estimate_hessian, estimate_matrix
from .app import ActsOpt, ForceOpt, JsonOpt, SizesOpt, app, emit_json, option, seed_option


@app.command("hessian")
def hessian_cmd(
    model: Annotated[Optional[str], typer.Argument(
        help="logistic-regression (default) or linear-regression: the matrix exhibit over data; any other "
             "built-in model: symbolic against AD at its point.", show_default=False)] = None,
    n: Annotated[int, typer.Option("--n", help="Samples of the data matrix X (1..100000).")] = 1000,
    dim: Annotated[int, typer.Option("--dim", "-d", help="Features d (1..500).")] = 50,
    lam: Annotated[float, typer.Option("--lam", help="Ridge weight λ of λ‖w‖² (≥ 0).")] = 0.1,
    seed: Annotated[str, seed_option(C.SEED, help="Seed of the data and the point.")] = "0",
    depth: Annotated[Optional[int], option(C.DEPTH, "--depth", show_default=False)] = None,
    sizes: SizesOpt = None,
    activations: ActsOpt = None,
    json_out: JsonOpt = False,
    force: ForceOpt = False,
) -> None:
    """The Hessian both ways: closed form or symbolic, against automatic differentiation.

    For logistic regression (L = 1ᵀ softplus(Xw) − yᵀXw + λ‖w‖², summed over the samples) the
    closed form Xᵀ diag(σ(1 − σ)) X + 2λI against the AD Hessian by forward-over-reverse
    (d JVPs of the gradient) and reverse-over-reverse, with flops, memory, measured times,
    nnz, and the cost of a Hessian-vector product in gradients.  For least squares XᵀX + 2λI.
    Other models: the symbolic Hessian against the engine's at the model's point.

    [bold]Examples[/bold]

      diffkit hessian                                   (logistic regression, n = 1000, d = 50)

      diffkit hessian linear-regression --n 500 --dim 20 --json

      diffkit hessian ridge-sigmoid
    """
    from ..analysis.hessian import MATRIX_MODELS, hessian_at_point, matrix_hessian
    from .tables import _console
    from .app import resolve_model

    name = model or "logistic-regression"
    con = _console()
    if name in MATRIX_MODELS:
        enforce(estimate_matrix(n, dim, what=f"the {name} Hessian exhibit"), force=force)
        h = matrix_hessian(name, n=n, d=dim, lam=lam, seed=seed)
        if json_out:
            emit_json(h.to_dict(), "hessian")
        else:
            con.print(f"[bold]{name}[/bold], n = {h.n}, d = {h.d}, λ = {h.lam:g} (seed {h.seed})")
            con.print(h.formula)
            t = Table(box=box.SIMPLE_HEAD)
            for col in ("method", "flops", "memory (floats)", "time s"):
                t.add_column(col, justify="left" if col == "method" else "right")
            names = {"closed_form": "closed matrix form", "forward_over_reverse": "AD, forward-over-reverse",
                     "reverse_over_reverse": "AD, reverse-over-reverse", "gradient": "one gradient",
                     "hvp": "one Hessian-vector product"}
            for key, label in names.items():
                r = h.methods[key]
                t.add_row(label, f"{r['flops']:.3g}", f"{r['memory_floats']:.3g}", f"{r['seconds']:.2g}")
            con.print(t)
            con.print(f"AD vs closed form: max rel. error {h.max_rel_error:.1e} (forward-over-reverse), "
                      f"{h.max_rel_error_reverse:.1e} (reverse-over-reverse); nnz {h.nnz} of {h.d * h.d}")
            con.print(f"HVP cost: {h.hvp_ops_ratio:.2f} gradients in operations, "
                      f"{h.methods['hvp']['flops'] / h.methods['gradient']['flops']:.2f} in flops, "
                      f"{h.hvp_seconds_ratio:.2f} in measured time")
            con.print(f"Agreement: {'OK' if h.ok else 'FAILED'} (tolerance 1e-10)")
        ok = h.ok
    else:
        m = resolve_model(name, None, None, depth, None, sizes, activations, None)
        enforce(estimate_hessian(m), force=force)
        h = hessian_at_point(m)
        if json_out:
            emit_json(h.to_dict(), "hessian")
        else:
            con.print(f"[bold]{m.name}[/bold]: symbolic Hessian (sympy) against AD (reverse-over-reverse) "
                      f"at the model's point, {h.shape[0]}×{h.shape[1]}")
            t = Table(box=box.SIMPLE_HEAD)
            t.add_column("")
            for p in h.params:
                t.add_column(p, justify="right")
            for i, p in enumerate(h.params):
                t.add_row(p, *[f"{v:.10g}" for v in h.symbolic[i]])
            con.print(t)
            con.print(f"max rel. error AD vs symbolic {h.max_rel_error:.1e}; nnz {h.nnz} of {h.symbolic.size}; "
                      f"symmetric: {'yes' if h.symmetric else 'no'}.  Agreement: {'OK' if h.ok else 'FAILED'}")
        ok = h.ok
    if not ok:
        raise typer.Exit(1)


@app.command("breakeven")
def breakeven_cmd(
    models: Annotated[Optional[str], typer.Option(
        "--models", help="Comma-separated: ridge-sigmoid, logistic-regression, mlp (default: all three).")] = None,
    repeats: Annotated[int, typer.Option("--repeats", help="Timing repeats per measurement (1..100).")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Derive, build and evaluate times of a gradient four ways, and when each preparation pays off.

    SymPy lambdify with and without cse, the engine eager (trace every call) and its replayed tape
    (build the graph once, generate straight-line code).  Times are measured on this machine in
    this run; the break-even column is the number of gradient evaluations after which the
    preparation has paid for itself against the eager engine.

    [bold]Examples[/bold]

      diffkit breakeven

      diffkit breakeven --models mlp --json
    """
    from ..analysis.breakeven import MODELS, break_even_table
    from .tables import _console
    names = tuple(x.strip() for x in models.split(",") if x.strip()) if models is not None else MODELS
    tables = break_even_table(names, repeats=repeats)
    if json_out:
        emit_json({"models": [t.to_dict() for t in tables]}, "breakeven")
        return
    con = _console()
    for tb in tables:
        con.print(f"[bold]{tb.model}[/bold] ({tb.params} parameters): gradient at one point")
        t = Table(box=box.SIMPLE_HEAD)
        for col in ("way", "derive s", "build s", "call µs", "pays off after"):
            t.add_column(col, justify="left" if col == "way" else "right")
        for w in tb.ways:
            pays = "—" if w.name == "engine_eager" else ("never" if w.break_even is None else f"{w.break_even} calls")
            t.add_row(w.label, f"{w.derive:.2g}", f"{w.build:.2g}", f"{w.evaluate * 1e6:.3g}", pays)
        con.print(t)
