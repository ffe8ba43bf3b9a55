"""The typer application and the helpers every command shares.

A command parses options, calls one library function and formats the result; no maths here.
Library errors become one ``Error: ...`` line on stderr (exit 2 for bad input, 1 otherwise).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import typer

from ..errors import BadInput

app = typer.Typer(
    name="diffkit",
    help="Symbolic (SymPy) and reverse-mode automatic differentiation, side by side.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root() -> None:
    """Symbolic (SymPy) and reverse-mode automatic differentiation, side by side.

    Start with [bold]diffkit compare[/bold]: the lecture's sigmoid neuron, both ways.
    """


def emit_json(data: Any, schema: str | None = None) -> None:
    """Print ``data`` as JSON (sorted keys: the same input gives byte-identical output).

    With ``schema`` (a name in :mod:`diffkit.schemas`): completed and encoded by that schema, with
    its ``schema_version`` — every documented key present, non-finite numbers as "Infinity",
    "-Infinity", "NaN"."""
    if schema is not None:
        from ..schemas import dumps

        typer.echo(dumps(schema, data))
        return
    typer.echo(json.dumps(_jsonable(data), indent=2, sort_keys=True, allow_nan=False))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist"):  # numpy scalars and arrays
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def finite_float(text: str, label: str) -> float:
    """``float(text)``; BadInput "<label> is not a number" / "<label> is not finite" otherwise."""
    try:
        v = float(text)
    except ValueError:
        raise BadInput(f"{label} is not a number") from None
    if not math.isfinite(v):
        raise BadInput(f"{label} is not finite")
    return v


def parse_assignments(text: str | None, *, option: str = "--at") -> dict[str, float]:
    """Parse ``name=value,name=value`` into a dict; BadInput naming the bad piece otherwise.

    >>> parse_assignments("w=0.5, b=-0.3")
    {'w': 0.5, 'b': -0.3}
    """
    out: dict[str, float] = {}
    if text is None:
        return out
    for piece in text.split(","):
        piece = piece.strip()
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name.isidentifier() or not value:
            raise BadInput(f"{option} expects name=value pairs separated by commas, got {piece!r}")
        v = finite_float(value, f"{option}: value {value!r} for {name!r}")
        if name in out:
            raise BadInput(f"{option}: {name!r} is given twice")
        out[name] = v
    return out


def parse_names(text: str | None, *, option: str = "--wrt") -> tuple[str, ...]:
    """Parse ``w,b`` into ``('w', 'b')``."""
    if text is None:
        return ()
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    for n in names:
        if not n.isidentifier():
            raise BadInput(f"{option}: {n!r} is not a symbol name")
    if len(set(names)) != len(names):
        raise BadInput(f"{option}: a name is given twice in {text!r}")
    return names


def stderr(msg: str) -> None:
    sys.stderr.write(msg.rstrip("\n") + "\n")


# -- options every model-taking command shares (declared once) ------------------------------------
from typing import Annotated, Optional  # noqa: E402

ModelArg = Annotated[Optional[str], typer.Argument(
    help="Built-in model: ridge-sigmoid (default), linear-regression, logistic-regression, mlp, logistic-map.",
    show_default=False)]
ExprOpt = Annotated[Optional[str], typer.Option(
    "--expr", help="A loss expression instead of a built-in model, e.g. '0.5*(y - sigmoid(w*x + b))**2 + lam*w**2'.")]
WrtOpt = Annotated[Optional[str], typer.Option("--wrt", help="Parameters to differentiate, with --expr: e.g. w,b.")]
DepthOpt = Annotated[Optional[int], typer.Option("--depth", "-n", help="logistic-map: depth n.", show_default=False)]
DimOpt = Annotated[Optional[int], typer.Option("--dim", "-d", help="linear/logistic-regression: number of features d.",
                                               show_default=False)]
SizesOpt = Annotated[Optional[str], typer.Option("--sizes", help="mlp: widths, input first, e.g. 2,3,1.")]
ActsOpt = Annotated[Optional[str], typer.Option(
    "--activations", help="mlp: one per layer (sigmoid, tanh, relu, step, sign, identity), e.g. sigmoid,identity.")]
MlpLossOpt = Annotated[Optional[str], typer.Option("--mlp-loss", help="mlp: squared or cross-entropy.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON with stable keys instead of a table.")]


def resolve_model(model, expr, wrt, depth=None, dim=None, sizes=None, activations=None, mlp_loss=None):
    """Turn the shared CLI options into a Model (all checks live in the library)."""
    from ..usermodel import load_model

    size_tuple = None
    if sizes is not None:
        try:
            size_tuple = tuple(int(s) for s in sizes.split(","))
        except ValueError:
            raise BadInput(f"--sizes expects comma-separated integers such as 2,3,1, got {sizes!r}") from None
    acts = tuple(a.strip() for a in activations.split(",")) if activations is not None else None
    return load_model(model, expr=expr, wrt=wrt, n=depth, d=dim, sizes=size_tuple,
                      activations=acts, loss=mlp_loss)
