"""Parameter constraints, declared once and read by both the Python API and the CLI.

This is scikit-learn's ``_parameter_constraints`` idea: each parameter states its type and its
allowed range once, as a :class:`Param`.  A public function lists its parameters with
:func:`validate_params`; a CLI option is built from the same :class:`Param` (``diffkit.cli.app``),
so ``--points -1`` and ``compare(m, points=-1)`` are refused by the same declaration, and the
range printed by ``--help`` is the range enforced.  A refusal is a
:class:`~diffkit.errors.BadInput` that names the argument, the value (shortened: a 100 KB value
is never echoed) and what is allowed.

A parameter's constraint is one :class:`Constraint` or a tuple of them (the value must satisfy
at least one); ``None`` in the tuple allows ``None``.

Examples
--------
>>> check("points", 5, Interval(int, 0, 100))
5
>>> check("points", -1, Interval(int, 0, 100))
Traceback (most recent call last):
...
diffkit.errors.BadInput: points must be an integer in [0, 100]; got -1
>>> check("lam", float("nan"), Interval(float, 0, None))
Traceback (most recent call last):
...
diffkit.errors.BadInput: lam must be a finite number ≥ 0; got nan
>>> @validate_params(depth=Param("depth", Interval(int, 1, 8)))
... def f(depth=2):
...     return depth
>>> f(depth=3)
3
>>> f("x")
Traceback (most recent call last):
...
diffkit.errors.BadInput: depth must be an integer in [1, 8]; got 'x'
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from .errors import BadInput

#: Longest rendering of a bad value inside an error message.
SHOWN_CHARS = 40


def shorten(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters, saying how long the whole was.

    >>> shorten("w=" + "1" * 100_000)
    "'w=111111111111111111111111111111111111…' (100002 characters)"
    >>> shorten(3.5)
    '3.5'
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return repr(value[:limit - 2])[:-1] + "…'" + f" ({len(value)} characters)"
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not turn a refusal into a crash
        text = f"<{type(value).__name__}>"
    if len(text) > limit:
        return text[:limit] + f"… (a {type(value).__name__})"
    return text


def _is_int(v: Any) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_))


class Constraint:
    """A set of allowed values: :meth:`ok` tests membership, ``str()`` describes it in words."""

    def ok(self, value: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def bad_examples(self) -> list[Any]:
        """Values outside the constraint, for the common test that walks every declaration."""
        return [object()]


def _num(v: float) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    return f"{v:g}" if isinstance(v, float) else f"{v}"


@dataclass(frozen=True)
class Interval(Constraint):
    """Integers (``kind=int``) or finite reals (``kind=float``) between ``low`` and ``high``.

    ``None`` for a bound means unbounded on that side; ``closed`` is "both", "left", "right" or
    "neither".  Reals must be finite (NaN and ±inf are refused) unless ``allow_inf``; integers
    accept Python and NumPy integers but not ``bool``.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    allow_inf: bool = False

    def ok(self, value: Any) -> bool:
        if self.kind is int:
            if not _is_int(value):
                return False
        else:
            if not _is_real(value):
                return False
            f = float(value)
            if math.isnan(f) or (math.isinf(f) and not self.allow_inf):
                return False
        lo_closed = self.closed in ("both", "left")
        hi_closed = self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not lo_closed)):
            return False
        if self.high is not None and (value > self.high or (value == self.high and not hi_closed)):
            return False
        return True

    def __str__(self) -> str:
        what = "an integer" if self.kind is int else ("a number" if self.allow_inf else "a finite number")
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{what} in {left}{_num(lo)}, {_num(hi)}{right}"
        if lo is not None:
            return f"{what} {'≥' if self.closed in ('both', 'left') else '>'} {_num(lo)}"
        if hi is not None:
            return f"{what} {'≤' if self.closed in ('both', 'right') else '<'} {_num(hi)}"
        return what

    def bad_examples(self) -> list[Any]:
        out: list[Any] = ["1", None, True]
        if self.kind is int:
            out.append(1.5)
        else:
            out += [float("nan"), float("inf")] if not self.allow_inf else [float("nan")]
        step = 1 if self.kind is int else 1e-9
        if self.low is not None:
            out.append(self.low - step if self.closed in ("both", "left") else self.low)
        if self.high is not None:
            out.append(self.high + step * max(1, abs(self.high)) if self.closed in ("both", "right") else self.high)
        return out

    @property
    def range_text(self) -> str:
        """Compact range for help texts: ``0..10000``, ``≥ 1``, ``> 0``."""
        lo, hi = self.low, self.high
        if lo is not None and hi is not None and self.closed == "both":
            return f"{_num(lo)}..{_num(hi)}"
        return str(self).split(" ", 2)[-1] if (lo is not None or hi is not None) else "any"


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values (names are compared exactly)."""

    values: tuple

    def ok(self, value: Any) -> bool:
        try:
            return any(type(value) is type(v) and value == v for v in self.values)
        except Exception:
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def bad_examples(self) -> list[Any]:
        return ["bogus", None, 3]


@dataclass(frozen=True)
class InstanceOf(Constraint):
    """An instance of ``types``; ``name`` says it in words ("a Model").

    A type may be given as ``"module:Name"`` (imported when first needed, which keeps this
    module free of import cycles).
    """

    types: type | str | tuple
    name: str

    def _resolved(self) -> tuple:
        out = []
        for t in self.types if isinstance(self.types, tuple) else (self.types,):
            if isinstance(t, str):
                import importlib

                mod, _, attr = t.partition(":")
                t = getattr(importlib.import_module(mod), attr)
            out.append(t)
        return tuple(out)

    def ok(self, value: Any) -> bool:
        return isinstance(value, self._resolved())

    def __str__(self) -> str:
        return self.name

    def bad_examples(self) -> list[Any]:
        return [None, 3, "text"]


@dataclass(frozen=True)
class Text(Constraint):
    """A string of at most ``max_len`` characters (``min_len`` at least)."""

    max_len: int = 10_000
    min_len: int = 0

    def ok(self, value: Any) -> bool:
        return isinstance(value, str) and self.min_len <= len(value) <= self.max_len

    def __str__(self) -> str:
        if self.min_len:
            return f"a string of {self.min_len} to {self.max_len} characters"
        return f"a string of at most {self.max_len} characters"

    def bad_examples(self) -> list[Any]:
        return [None, 3, "x" * (self.max_len + 1)]


@dataclass(frozen=True)
class Boolean(Constraint):
    def ok(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def __str__(self) -> str:
        return "True or False"

    def bad_examples(self) -> list[Any]:
        return ["yes", 2, None]


@dataclass(frozen=True)
class Seq(Constraint):
    """A list or tuple of ``min_len`` to ``max_len`` items, each satisfying ``item``; ``unique`` refuses repeats."""

    item: Constraint
    min_len: int = 0
    max_len: int = 10**6
    unique: bool = False
    what: str = "items"

    def ok(self, value: Any) -> bool:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, range, np.ndarray)):
            return False
        if not self.min_len <= len(value) <= self.max_len:
            return False
        if not all(self.item.ok(v) for v in value):
            return False
        if self.unique:
            try:
                return len(set(value)) == len(value)
            except TypeError:
                return False
        return True

    def __str__(self) -> str:
        count = f"{self.min_len} to {self.max_len}" if self.min_len else f"at most {self.max_len}"
        return f"a list of {count} {'distinct ' if self.unique else ''}{self.what}, each {self.item}"

    def bad_examples(self) -> list[Any]:
        out: list[Any] = ["1,2", None, [object()]]
        if self.min_len:
            out.append([])
        return out


@dataclass(frozen=True)
class MappingOf(Constraint):
    """A dict whose keys satisfy ``key`` and values satisfy ``value``."""

    key: Constraint
    value: Constraint
    what: str = "a mapping"

    def ok(self, value: Any) -> bool:
        if not isinstance(value, dict) and not hasattr(value, "items"):
            return False
        try:
            return all(self.key.ok(k) and self.value.ok(v) for k, v in value.items())
        except Exception:
            return False

    def __str__(self) -> str:
        return f"{self.what} of {self.key} to {self.value}"

    def bad_examples(self) -> list[Any]:
        return [3, "a=1", {object(): object()}]


#: Seeds: what ``numpy.random.default_rng`` accepts as one integer, kept to 32 bits so the same
#: seed means the same stream on every platform and in every entry point.
SEED_MAX = 2**32 - 1
SEED_INT = Interval(int, 0, SEED_MAX)
GENERATOR = InstanceOf(np.random.Generator, "a numpy.random.Generator")


def describe(constraints) -> str:
    """``constraints`` (one or a tuple) in words, "or"-joined."""
    cs = constraints if isinstance(constraints, tuple) else (constraints,)
    parts = ["None" if c is None else str(c) for c in cs]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def satisfied(value: Any, constraints) -> bool:
    cs = constraints if isinstance(constraints, tuple) else (constraints,)
    return any((value is None) if c is None else c.ok(value) for c in cs)


def check(name: str, value: Any, constraints, *, hint: str = "") -> Any:
    """``value`` when it satisfies ``constraints``; BadInput "<name> must be <allowed>; got <value>" otherwise."""
    if satisfied(value, constraints):
        return value
    cs = constraints if isinstance(constraints, tuple) else (constraints,)
    seqs = [c for c in cs if isinstance(c, Seq)]
    if len(seqs) == 1 and isinstance(value, (list, tuple, range)):
        sq = seqs[0]
        for i, v in enumerate(value):
            if not sq.item.ok(v):
                raise BadInput(f"{name}: item {i + 1} must be {sq.item}; got {shorten(v)}")
        if not sq.min_len <= len(value) <= sq.max_len:
            raise BadInput(f"{name} must have {sq.min_len} to {sq.max_len} {sq.what}; got {len(value)}")
    raise BadInput(f"{name} must be {describe(constraints)}; got {shorten(value)}" + (f" ({hint})" if hint else ""))


@dataclass(frozen=True)
class Param:
    """One parameter, declared once: its API name, constraint, CLI flag and help text.

    The constraint is the hard range, enforced always.  What a size costs is judged separately,
    before the work starts, by :mod:`diffkit.budget` (which ``--force`` can override).
    """

    name: str
    constraint: Any
    help: str = ""
    flag: str | None = None
    note: str = ""  # said after a refusal at the command line (e.g. narrower ranges of some models)

    @property
    def label(self) -> str:
        return self.flag or self.name

    def check(self, value: Any, *, label: str | None = None) -> Any:
        return check(label or self.name, value, self.constraint)

    def describe(self) -> str:
        return describe(self.constraint)

    def range_text(self) -> str:
        """The allowed range as printed in ``--help``."""
        cs = self.constraint if isinstance(self.constraint, tuple) else (self.constraint,)
        for c in cs:
            if isinstance(c, Interval):
                return c.range_text
            if isinstance(c, Options):
                return ", ".join(str(v) for v in c.values)
            if isinstance(c, Seq) and isinstance(c.item, Interval):
                return f"{c.min_len} to {c.max_len} {c.what}, each {c.item.range_text}"
        return describe(self.constraint)


def validate_params(**declared: Param | Any) -> Callable:
    """Decorator: check the named arguments of every call against their declarations.

    Each keyword names a parameter of the decorated function and gives a :class:`Param` (or a
    bare constraint).  The declarations are kept on the function as ``__diffkit_params__`` so
    a common test can walk every public function with out-of-range values.
    """
    params = {k: v if isinstance(v, Param) else Param(k, v) for k, v in declared.items()}

    def wrap(func: Callable) -> Callable:
        sig = inspect.signature(func)
        unknown = sorted(set(params) - set(sig.parameters))
        if unknown:
            raise TypeError(f"{func.__qualname__} has no parameter {unknown[0]!r} to validate")

        @functools.wraps(func)
        def checked(*args, **kwargs):
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise BadInput(f"{func.__name__}(): {exc}") from None
            for name, p in params.items():
                if name in bound.arguments:
                    check(name, bound.arguments[name], p.constraint)
            return func(*args, **kwargs)

        checked.__diffkit_params__ = params
        return checked

    return wrap


def declared_functions(modules: Iterable[Any]) -> dict[str, Callable]:
    """Every function with declared parameters found in ``modules`` (qualified name → function)."""
    out = {}
    for mod in modules:
        for name in dir(mod):
            obj = getattr(mod, name)
            if callable(obj) and hasattr(obj, "__diffkit_params__"):
                out[f"{getattr(obj, '__module__', mod.__name__)}.{getattr(obj, '__qualname__', name)}"] = obj
    return out


# -- the declarations -------------------------------------------------------------------------
# Each parameter that users set is stated here once.  The CLI builds its options from these
# (diffkit.cli.app.option) and the library functions validate with them (@validate_params).

MODEL_T = InstanceOf("diffkit.model:Model", "a Model (from diffkit.builtin or diffkit.model_from_expr)")
DATASET_T = InstanceOf("diffkit.optim.data:Dataset", "a Dataset (from diffkit.optim.make_data or load_csv)")

#: Built-in model names (kept in step with diffkit.builtins.BUILTINS by a test).
MODEL_NAMES = ("ridge-sigmoid", "linear-regression", "logistic-regression", "mlp", "logistic-map",
               # the layer zoo's small models (diffkit.layer_models)
               "conv1d", "maxpool", "avgpool", "batchnorm", "rnn", "attention", "residual")
ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "step", "sign", "identity")
MLP_LOSSES = ("squared", "cross-entropy")

#: Longest option text (an --at list, a --seeds list, an expression) read from the command line.
MAX_OPTION_CHARS = 10_000

MODEL = Param("model", MODEL_T, "The model.")
MODEL_NAME = Param("name", (Options(MODEL_NAMES), None), "Built-in model.", flag="MODEL")
EXPR = Param("expr", (Text(MAX_OPTION_CHARS, 1), None), "A loss expression instead of a built-in model.",
             flag="--expr")
DEPTH = Param("n", Interval(int, 1, 64), "logistic-map: depth n; rnn: steps T (1..8); attention: tokens (1..3).",
              flag="--depth", note="per model: logistic-map 1..64, rnn 1..8, attention 1..3")
DIM = Param("d", Interval(int, 1, 1000), "linear/logistic-regression: number of features d.", flag="--dim")
LAYER_WIDTH = Interval(int, 1, 100_000)
#: Most parameters (weights and biases) of a built-in MLP (diffkit.builtins.mlp).
MLP_MAX_PARAMS = 100_000
SIZES = Param("sizes", Seq(LAYER_WIDTH, 2, 21, what="widths"), "mlp: widths, input first, e.g. (2, 3, 1).",
              flag="--sizes")
ACTIVATIONS = Param("activations", (Options(ACTIVATION_NAMES), Seq(Options(ACTIVATION_NAMES), 1, 20, what="activations")),
                    "mlp: one per layer, e.g. sigmoid,identity.", flag="--activations")
MLP_LOSS = Param("loss", Options(MLP_LOSSES), "mlp: squared or cross-entropy.", flag="--mlp-loss")
POINT = Param("point", (MappingOf(Text(200, 1), Interval(float), what="a mapping"), None),
              "Values overriding the model's point.", flag="--at")
POINTS = Param("points", Interval(int, 0, 100_000), "Random points for the agreement check.", flag="--points")
SEED = Param("seed", (SEED_INT, GENERATOR), "Seed of the random points.", flag="--seed")
SEEDS = Param("seeds", Seq(SEED_INT, 1, 1000, unique=True, what="seeds"), "Run seeds.", flag="--seeds")
VARY = Param("vary", Options(("all", "params")), "Which symbols random points vary.")
RTOL = Param("rtol", Interval(float, 0, 1, closed="right"), "Relative tolerance of a claim.")
SWELL_MAX_N = Param("max_n", Interval(int, 1, 12), "Largest depth n of the logistic map.", flag="--max-n")

# GD/SGD studies (diffkit optimize, diffkit report, diffkit.optim)
N_SAMPLES = Param("n", Interval(int, 1, 10**8), "Synthetic data: samples.", flag="--n")
N_FEATURES = Param("d", Interval(int, 1, 1000), "Synthetic data: features.", flag="--d")
NOISE = Param("noise", Interval(float, 0, None), "Synthetic regression noise (std).", flag="--noise")
CONDITION = Param("condition", Interval(float, 1, 1e12), "Synthetic feature covariance condition number.",
                  flag="--condition")
DATA_SEED = Param("seed", (SEED_INT, GENERATOR), "Seed of the synthetic data.", flag="--data-seed")
EPOCHS = Param("epochs", Interval(int, 1, 10**7), "Passes over the data per run.", flag="--epochs")
BATCH = Param("batch", Interval(int, 1, 10**9), "Minibatch size b.", flag="--batch")
LAM = Param("lam", Interval(float, 0, None), "L2 regulariser λ.", flag="--lam")
EPS = Param("eps", (Interval(float, 0, None, closed="neither"), None), "Target excess loss.", flag="--eps")
STEP_SCALE = Param("C", Interval(float, 0, None, closed="neither"), "Step-size scale C.", flag="--C")
K0 = Param("k0", Interval(float, 0, None), "Clock offset k0 of the c/k schedules.", flag="--k0")
EPS_REL = Param("eps_rel", (Interval(float, 0, 1, closed="neither"), None),
                "Relative target (F − F*)/(F(W₀) − F*).", flag="--eps-rel")
PATIENCE = Param("patience", Interval(int, 0, 10**6), "Early stopping patience in epochs (0: off).",
                 flag="--patience")
SWEEP_POINTS = Param("points", Interval(int, 2, 64), "Step sizes in a sweep.", flag="--sweep")  # optim.sweep's
WORKERS = Param("workers", (Interval(int, 1, 256), None), "Local processes.", flag="--workers")
FRACTION = Interval(float, 0, 1, closed="left")
VAL = Param("val", (FRACTION, None), "Fraction held out for validation.", flag="--val")
TEST = Param("test", (FRACTION, None), "Fraction held out for the final test.", flag="--test")

# diffkit jacobian (diffkit.analysis.modes.jacobian_costs)
JAC_INPUTS = Param("d", Interval(int, 1, 2000), "Inputs of the many-to-one workload.", flag="--inputs")
JAC_OUTPUTS = Param("m", Interval(int, 1, 2000), "Outputs of the few-to-many workload.", flag="--outputs")
JAC_REPEATS = Param("repeats", Interval(int, 1, 100), "Timing repeats.", flag="--repeats")

# the report's GD/SGD study (diffkit report, diffkit.report.StudySettings): smaller than train's
REPORT_N = Param("n", Interval(int, 2, 10**6), "GD/SGD study: synthetic samples.", flag="--n")
REPORT_D = Param("d", Interval(int, 1, 200), "GD/SGD study: features (when the model is not linear/logistic "
                 "regression itself).", flag="--d")
REPORT_EPOCHS = Param("epochs", (Interval(int, 1, 10**4), None), "GD/SGD study: passes over the data.",
                      flag="--epochs")
REPORT_SEEDS = Param("seeds", Seq(SEED_INT, 1, 50, unique=True, what="seeds"), "GD/SGD study: seeds.",
                     flag="--seeds")
REPORT_EPS = Param("eps", Interval(float, 0, 1e6, closed="neither"), "GD/SGD study: target excess loss for "
                   "'cost to reach ε'.", flag="--eps")

# objects handed between the layers of the API
import os as _os  # noqa: E402

DATASET = Param("data", InstanceOf(("diffkit.optim.data:Dataset", "diffkit.optim.stream:FileData"),
                                   "a Dataset (from diffkit.optim.make_data or load_csv) or streamed FileData"),
                "The data set.")
COMPARISON = Param("comparison", InstanceOf("diffkit.analysis.compare:Comparison",
                                            "a Comparison (from diffkit.compare)"), "The comparison.")
PATH = Param("path", InstanceOf((str, _os.PathLike), "a path (str or os.PathLike)"), "A file path.")
_SYMPY = InstanceOf(("sympy:Basic", "sympy:MatrixBase"), "a SymPy expression or matrix")
SYMPY_EXPRS = Param("exprs", (_SYMPY, Seq(_SYMPY, 0, 10**6, what="SymPy expressions")), "What to compute.")
SYMPY_ARGS = Param("args", Seq(InstanceOf(("sympy:Symbol", "sympy:MatrixSymbol"), "a SymPy symbol"), 0, 10**6,
                               what="symbols"), "The arguments, in order.")
