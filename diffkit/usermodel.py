"""Models from expression strings, and the one entry that resolves a model from user options.

>>> m = model_from_expr("0.5*(y - sigmoid(w*x + b))**2 + lam*w**2", wrt="w,b")
>>> m.wrt, [s.name for s in m.data], [s.name for s in m.hyper]
(('w', 'b'), ['x', 'y'], ['lam'])
>>> load_model("logistic-map", n=2).loss
4*x*(1 - x)
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import sympy as sp

from .builtins import BUILTINS, builtin
from . import constraints as C
from .constraints import Seq, Text, check, shorten
from .errors import BadInput
from .model import Model
from .parse import parse

#: Names read as hyperparameters (not data) in user expressions.
HYPER_NAMES = frozenset({"lam", "lmbda", "lambda_", "alpha", "beta", "gamma", "mu", "eta", "C", "rho", "tau"})


def model_from_expr(text: str, wrt: str | Iterable[str], *, at: Mapping[str, float] | None = None,
                    name: str = "expr") -> Model:
    """A model whose loss is the expression ``text``, differentiated with respect to ``wrt``.

    Symbols not in ``wrt`` are hyperparameters when their name is in ``HYPER_NAMES``
    (lam, alpha, ...) and data otherwise.  ``at`` gives default values.
    """
    check("wrt", wrt, (Text(C.MAX_OPTION_CHARS), Seq(Text(200, 1), 0, 10_000, what="names")))
    check("at", at, C.POINT.constraint)
    check("name", name, Text(200, 1))
    names = [n.strip() for n in wrt.split(",")] if isinstance(wrt, str) else list(wrt)
    names = [n for n in names if n]
    if not names:
        raise BadInput("--wrt is required with --expr: name the parameters to differentiate, e.g. --wrt w,b")
    symbols: dict[str, sp.Symbol] = {}
    loss = parse(text, symbols=symbols)
    free = {s.name: s for s in loss.free_symbols}
    for n in names:
        if n not in free:
            raise BadInput(f"--wrt names {shorten(n)}, which does not appear in the expression "
                           f"(its symbols: {_listing(free)})")
    if len(set(names)) != len(names):
        raise BadInput("--wrt names a parameter twice")
    params = tuple(free[n] for n in names)
    rest = sorted((s for n, s in free.items() if n not in names), key=lambda s: s.name)
    hyper = tuple(s for s in rest if s.name in HYPER_NAMES)
    data = tuple(s for s in rest if s.name not in HYPER_NAMES)
    defaults = {}
    for k, v in (at or {}).items():
        if k not in free:
            raise BadInput(f"--at gives {shorten(k)}, which does not appear in the expression "
                           f"(its symbols: {_listing(free)})")
        defaults[k] = v
    return Model(name=name, loss=loss, params=params, data=data, hyper=hyper, defaults=defaults,
                 description="user expression", source=text)


def _listing(names, limit: int = 12) -> str:
    """``a, b, c`` for a few names; the first ``limit`` and a count for many."""
    names = sorted(names)
    if not names:
        return "none"
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … ({len(names)} in all)"


#: The CLI flag of each built-in model option (messages name both spellings).
OPTION_FLAGS = {"n": "--depth", "d": "--dim", "sizes": "--sizes", "activations": "--activations",
                "loss": "--mlp-loss"}
#: Which options each built-in model takes.
MODEL_OPTIONS = {"logistic-map": ("n",), "linear-regression": ("d",), "logistic-regression": ("d",),
                 "mlp": ("sizes", "activations", "loss"), "ridge-sigmoid": ()}
MODEL_OPTIONS.update(__import__("diffkit.layer_models", fromlist=["LAYER_MODEL_OPTIONS"]).LAYER_MODEL_OPTIONS)


def _opt(k: str) -> str:
    flag = OPTION_FLAGS.get(k)
    return f"{k} ({flag})" if flag and flag.lstrip("-") != k else (flag or k)


def load_model(name: str | None = None, *, expr: str | None = None, wrt: str | Iterable[str] | None = None,
               at: Mapping[str, float] | None = None, **options: Any) -> Model:
    """Resolve a model: a built-in ``name`` with ``options``, or an expression with ``wrt``.

    Options whose value is ``None`` are ignored, so CLI defaults pass straight through.  ``at``
    (default values) applies to expressions; a built-in model takes its point from the caller.
    """
    options = {k: v for k, v in options.items() if v is not None}
    if name is not None and not isinstance(name, str):
        raise BadInput(f"a model name must be a string, got {type(name).__name__}")
    if expr is not None:
        if name is not None:
            raise BadInput(f"give either a built-in model ({shorten(name)}) or --expr, not both")
        if options:
            raise BadInput(f"option {_opt(next(iter(options)))} applies to built-in models, not to --expr")
        return model_from_expr(expr, wrt if wrt is not None else "", at=at)
    if wrt is not None:
        raise BadInput("--wrt goes with --expr; built-in models know their parameters")
    name = name or "ridge-sigmoid"
    if name not in BUILTINS:
        raise BadInput(f"unknown model {shorten(name)}; built-in models: {', '.join(BUILTINS)} (or use --expr)")
    allowed = MODEL_OPTIONS[name]
    for k in options:
        if k not in allowed:
            raise BadInput(f"option {_opt(k)} does not apply to model {shorten(name)}"
                           + (f"; it takes {', '.join(_opt(a) for a in allowed)}" if allowed else
                              "; it takes no options"))
    return builtin(name, **options)
