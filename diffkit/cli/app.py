"""The typer application and what every command shares: option declarations, the seed grammar,
the model options.

A command parses options, calls one library function and formats the result; no maths here.
Library errors become one ``Error: ...`` line on stderr (exit 2 for bad input, 1 otherwise).

Options are built from the declarations in :mod:`diffkit.constraints` with :func:`option`, so
the range ``--help`` prints is the range the option and the library enforce.  The model options
(the model name, ``--expr``, ``--wrt``, ``--at``, ``--depth``, ``--dim``, ``--sizes``,
``--activations``, ``--mlp-loss`` and ``--force``) are declared once, below, and a command takes
them all as one :class:`ModelOptions` by being registered with :func:`model_command`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Optional

import typer

from .. import budget as _budget, constraints as C
from ..constraints import Param, shorten
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


def stderr(msg: str) -> None:
    sys.stderr.write(msg.rstrip("\n") + "\n")


# -- options from declarations ----------------------------------------------------------------

def option(param: Param, *decls: str, help: str | None = None, convert: Callable | None = None,
           **kwargs) -> Any:
    """A typer option for the declared ``param``: its help ends with the allowed range, and a
    value outside the declaration is refused at parse time, naming the flag.

    ``convert`` turns the raw option value into what the declaration describes (e.g. the text
    ``2,3,1`` into ``(2, 3, 1)``) before the check; the command then receives the checked value.
    """
    decls = decls or ((param.flag,) if param.flag else ())
    label = decls[0] if decls else param.name
    text = (help if help is not None else param.help).rstrip()
    allowed = param.range_text()
    if allowed and allowed not in text:
        text = f"{text} Allowed: {allowed}."

    cli_constraint = param.constraint
    if isinstance(cli_constraint, tuple):  # "None" is how the API says "not given"; not a CLI value
        cli_constraint = tuple(c for c in cli_constraint if c is not None)

    def validate(value):
        if value is None:
            return None
        if convert is not None:
            value = convert(value, label)
        try:
            return C.check(label, value, cli_constraint)
        except BadInput as exc:
            if not param.note:
                raise
            raise BadInput(f"{exc} ({param.note})") from None

    return _typer_option(decls, kwargs, help=text, callback=validate)


def _typer_option(decls, kwargs, **more):
    """``typer.Option`` for either style: ``x: Annotated[T, option(...)] = v`` or ``x: T = option(..., default=v)``."""
    if "default" in kwargs:
        kwargs = dict(kwargs)
        return typer.Option(kwargs.pop("default"), *decls, **kwargs, **more)
    return typer.Option(*decls, **kwargs, **more)


def finite_float(text: str, label: str) -> float:
    """``float(text)``; BadInput "<label> is not a number" / "<label> is not finite" otherwise."""
    try:
        v = float(text)
    except ValueError:
        raise BadInput(f"{label} is not a number") from None
    if not math.isfinite(v):
        raise BadInput(f"{label} is not finite")
    return v


def _too_long(text: str, option: str) -> None:
    if len(text) > C.MAX_OPTION_CHARS:
        raise BadInput(f"{option} is {len(text)} characters long; at most {C.MAX_OPTION_CHARS} are read")


def parse_assignments(text: str | None, *, option: str = "--at") -> dict[str, float]:
    """Parse ``name=value,name=value`` into a dict; BadInput naming the bad piece otherwise.

    >>> parse_assignments("w=0.5, b=-0.3")
    {'w': 0.5, 'b': -0.3}
    """
    out: dict[str, float] = {}
    if text is None:
        return out
    _too_long(text, option)
    for piece in text.split(","):
        piece = piece.strip()
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name.isidentifier() or not value:
            raise BadInput(f"{option} expects name=value pairs separated by commas, got {shorten(piece)}")
        v = finite_float(value, f"{option}: value {shorten(value)} for {shorten(name)}")
        if name in out:
            raise BadInput(f"{option}: {shorten(name)} is given twice")
        out[name] = v
    return out


def parse_names(text: str | None, *, option: str = "--wrt") -> tuple[str, ...]:
    """Parse ``w,b`` into ``('w', 'b')``."""
    if text is None:
        return ()
    _too_long(text, option)
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    for n in names:
        if not n.isidentifier():
            raise BadInput(f"{option}: {shorten(n)} is not a symbol name")
    if len(set(names)) != len(names):
        raise BadInput(f"{option}: a name is given twice in {shorten(text)}")
    return names


def given(name: str) -> bool:
    """Whether the option ``name`` (the parameter's Python name) was set on the command line."""
    try:
        from typer._click.globals import get_current_context  # recent typer vendors click
    except ImportError:  # pragma: no cover - older typer on top of click
        from click import get_current_context
    ctx = get_current_context(silent=True)
    if ctx is None:
        return False
    src = ctx.get_parameter_source(name)
    return src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")


# -- the one seed grammar ---------------------------------------------------------------------

SEED_GRAMMAR = ("seeds are non-negative integers up to 2**32 - 1, written as a list and/or "
                "inclusive ranges: 3 or 0,1,2 or 0..4 or 0..4,10")
_SEED_ITEM = re.compile(r"^\s*(\d{1,20})\s*(?:\.\.\s*(\d{1,20})\s*)?$")


def parse_seeds(text: str | int, *, option: str = "--seeds", single: bool = False,
                max_count: int | None = None) -> tuple[int, ...]:
    """The one seed grammar of the CLI, used by every ``--seed``, ``--seeds`` and ``--data-seed``.

    ::

        seeds := item ("," item)*
        item  := INT | INT ".." INT          (an inclusive range, low ≤ high)
        INT   := decimal digits, 0 ≤ INT ≤ 2**32 − 1

    A single-seed option (``single=True``) takes exactly one seed.  Ranges are counted before
    they are expanded, so ``0..4294967295`` is refused at once, not built.

    >>> parse_seeds("0..3,7")
    (0, 1, 2, 3, 7)
    >>> parse_seeds("5", option="--seed", single=True)
    (5,)
    >>> parse_seeds("-1", option="--seed", single=True)
    Traceback (most recent call last):
    ...
    diffkit.errors.BadInput: --seed: '-1' is not a seed; seeds are non-negative integers up to 2**32 - 1, written as a list and/or inclusive ranges: 3 or 0,1,2 or 0..4 or 0..4,10
    """
    text = str(text)
    _too_long(text, option)
    limit = 1 if single else (max_count if max_count is not None else C.SEEDS.constraint.max_len)
    pieces: list[tuple[int, int]] = []
    total = 0
    for piece in text.split(","):
        if not piece.strip():
            if single or text.strip():
                raise BadInput(f"{option}: an empty item in {shorten(text)}; {SEED_GRAMMAR}")
            continue
        m = _SEED_ITEM.match(piece)
        if m is None:
            raise BadInput(f"{option}: {shorten(piece.strip())} is not a seed; {SEED_GRAMMAR}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        for v in (lo, hi):
            if v > C.SEED_MAX:
                raise BadInput(f"{option}: {v} is too large; {SEED_GRAMMAR}")
        if lo > hi:
            raise BadInput(f"{option}: the range {shorten(piece.strip())} is empty (low > high); {SEED_GRAMMAR}")
        pieces.append((lo, hi))
        total += hi - lo + 1
        if total > limit:
            if single:
                raise BadInput(f"{option} takes one seed, got {shorten(text)}")
            raise BadInput(f"{option}: more than {limit} seeds in {shorten(text)}; give at most {limit}")
    if not pieces:
        raise BadInput(f"{option} needs at least one seed; {SEED_GRAMMAR}")
    out = tuple(s for lo, hi in pieces for s in range(lo, hi + 1))
    if len(set(out)) != len(out):
        dup = next(s for i, s in enumerate(out) if s in out[:i])
        raise BadInput(f"{option}: seed {dup} is given twice")
    return out


def _seed_convert(single: bool, max_count: int | None = None):
    def conv(value, label):
        seeds = parse_seeds(value, option=label, single=single, max_count=max_count)
        return seeds[0] if single else seeds
    return conv


def seed_option(param: Param = C.SEED, *decls: str, help: str | None = None, single: bool = True,
                **kwargs) -> Any:
    """A ``--seed``-like option read with :func:`parse_seeds` (the command receives int or tuple)."""
    decls = decls or (param.flag,)
    text = (help if help is not None else param.help).rstrip()
    most = getattr(param.constraint, "max_len", C.SEEDS.constraint.max_len)
    text += (" Allowed: one seed, 0..4294967295." if single else
             f" Allowed: a list and/or inclusive ranges, e.g. 0,1,2 or 0..4; at most {most} seeds.")
    conv = _seed_convert(single, None if single else most)

    def validate(value):
        return None if value is None else conv(value, decls[0])

    return _typer_option(decls, kwargs, help=text, callback=validate)


# -- the model options, declared once ---------------------------------------------------------

def _sizes(text, label):
    if isinstance(text, tuple):
        return text
    _too_long(text, label)
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise BadInput(f"{label} expects comma-separated integers such as 2,3,1, got {shorten(text)}") from None


def _names(text, label):
    if isinstance(text, tuple):
        return text
    _too_long(text, label)
    return tuple(a.strip() for a in text.split(","))


ModelArg = Annotated[Optional[str], typer.Argument(
    help="Built-in model: ridge-sigmoid (default), linear-regression, logistic-regression, mlp, logistic-map; "
         "the layer zoo: conv1d, maxpool, avgpool, batchnorm, rnn, attention, residual.",
    show_default=False)]
ExprOpt = Annotated[Optional[str], option(
    C.EXPR, help="A loss expression instead of a built-in model, e.g. '0.5*(y - sigmoid(w*x + b))**2 + lam*w**2' "
                 "(at most 10000 characters).")]
WrtOpt = Annotated[Optional[str], typer.Option("--wrt", help="Parameters to differentiate, with --expr: e.g. w,b.")]
AtOpt = Annotated[Optional[str], typer.Option("--at", help="Point: name=value pairs, e.g. w=0.5,b=-0.3.")]
DepthOpt = Annotated[Optional[int], option(C.DEPTH, "--depth", "-n", show_default=False)]
DimOpt = Annotated[Optional[int], option(C.DIM, "--dim", "-d", show_default=False)]
SizesOpt = Annotated[Optional[str], option(
    C.SIZES, help=f"mlp: widths, input first, e.g. 2,3,1; at most {C.MLP_MAX_PARAMS} parameters in all "
                  "(64 where the symbolic loss is needed: derive, check, hessian, a symbolic compare).",
    convert=_sizes)]
ActsOpt = Annotated[Optional[str], option(
    C.ACTIVATIONS, help="mlp: one per layer (sigmoid, tanh, relu, step, sign, identity), e.g. sigmoid,identity.",
    convert=_names)]
MlpLossOpt = Annotated[Optional[str], option(C.MLP_LOSS)]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help=f"Run even when the work is estimated to exceed the budget ({_budget.TIME_BUDGET_S:g} s, "
                    f"{_budget.MEMORY_BUDGET_BYTES // 2**30} GiB); without it such work is refused before it starts, "
                    "naming the estimate.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON with stable keys instead of a table.")]


@dataclass(frozen=True)
class ModelOptions:
    """The model options of one command line, parsed and checked against their declarations.

    ``build()`` turns them into a :class:`~diffkit.model.Model` and the ``--at`` point; every
    model-taking command uses this one object instead of passing the options one by one.
    """

    model: str | None = None
    expr: str | None = None
    wrt: str | None = None
    at: str | None = None
    depth: int | None = None
    dim: int | None = None
    sizes: tuple[int, ...] | None = None
    activations: tuple[str, ...] | None = None
    mlp_loss: str | None = None
    force: bool = False

    def point(self) -> dict[str, float]:
        """The ``--at`` assignments."""
        return parse_assignments(self.at)

    def builtin_options(self) -> dict[str, Any]:
        """The options given for a built-in model, under the library's names."""
        out = {"n": self.depth, "d": self.dim, "sizes": self.sizes, "activations": self.activations,
               "loss": self.mlp_loss}
        return {k: v for k, v in out.items() if v is not None}

    def build(self):
        """``(model, point)``: the model these options name and the ``--at`` point (checked)."""
        from ..usermodel import load_model

        point = self.point()
        model = load_model(self.model, expr=self.expr, wrt=self.wrt, at=point if self.expr is not None else None,
                           **self.builtin_options())
        return model, point


#: (name, annotation, default) of every shared option, in the order ``--help`` lists them.
_HEAD = (("model", ModelArg, None), ("expr", ExprOpt, None), ("wrt", WrtOpt, None))
_AT = (("at", AtOpt, None),)
_TAIL = (("depth", DepthOpt, None), ("dim", DimOpt, None), ("sizes", SizesOpt, None),
         ("activations", ActsOpt, None), ("mlp_loss", MlpLossOpt, None), ("force", ForceOpt, False))


def model_command(name: str, *, at: bool = True, **command_kwargs) -> Callable:
    """Register a command that takes the shared model options as one ``opts: ModelOptions``.

    The decorated function declares only its own options plus ``opts``; the model argument and
    options are added to its command line here, once for every command.  ``at=False`` leaves
    out ``--at`` (for commands without a point, such as ``derive``).
    """
    shared = _HEAD + (_AT if at else ()) + _TAIL

    def deco(func: Callable) -> Callable:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != "opts"]
        clash = {p.name for p in own} & {n for n, _, _ in shared}
        if clash or "opts" not in sig.parameters:
            raise TypeError(f"{func.__name__}: takes 'opts' and must not redeclare {sorted(clash)}")
        kind = inspect.Parameter.KEYWORD_ONLY
        head = [inspect.Parameter(n, kind, default=d, annotation=a) for n, a, d in shared[:3 + at]]
        tail = [inspect.Parameter(n, kind, default=d, annotation=a) for n, a, d in shared[3 + at:]]
        own = [p.replace(kind=kind) for p in own]
        names = [n for n, _, _ in shared]

        @functools.wraps(func)
        def command(**kwargs):
            opts = ModelOptions(**{n: kwargs.pop(n) for n in names if n in kwargs})
            return func(opts=opts, **kwargs)

        command.__signature__ = sig.replace(parameters=head + own + tail)
        command.__annotations__ = {p.name: p.annotation for p in head + own + tail}
        del command.__wrapped__  # typer must read the signature above, not the function's
        return app.command(name, **command_kwargs)(command)

    return deco


def resolve_model(model=None, expr=None, wrt=None, depth=None, dim=None, sizes=None, activations=None,
                  mlp_loss=None):
    """The model named by CLI option values (kept for callers written before :class:`ModelOptions`)."""
    return ModelOptions(model=model, expr=expr, wrt=wrt, depth=depth, dim=dim,
                        sizes=_sizes(sizes, "--sizes") if sizes is not None else None,
                        activations=_names(activations, "--activations") if activations is not None else None,
                        mlp_loss=mlp_loss).build()[0]


def replace_defaults(model, point: dict[str, float]):
    """``model`` with ``point`` merged into its default values (checked by the model)."""
    if not point:
        return model
    return dataclasses.replace(model, defaults={**model.defaults, **point})
