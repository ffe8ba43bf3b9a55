"""The model object: one differentiable problem that flows through all of diffkit.

A :class:`Model` carries the loss as a SymPy expression, says which symbols are parameters
(differentiated), data and hyperparameters, and gives default values (a sample point).  Optional
``steps`` give the named intermediate variables of the lecture's decomposition
(z = wx + b, u = σ(z), ...), which the engine turns into named graph nodes and the analyzer into
the backprop listing.  ``matrix`` holds the MatrixSymbol form where one exists.  ``spec`` records
how a built-in model was configured (e.g. MLP layer sizes) so the engine can build a graph of any
width even when no symbolic expression is kept.

Examples
--------
>>> from diffkit import builtin
>>> m = builtin("ridge-sigmoid")
>>> m.wrt
('w', 'b')
>>> m.loss
lam*w**2 + (y - sigmoid(b + w*x))**2/2
>>> [str(s) for s, _ in m.steps]
['z', 'u', 'l', 'r', 'L']
>>> m.point()
{'w': 0.5, 'b': -0.3, 'x': 1.7, 'y': 1.0, 'lam': 0.1}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import sympy as sp

from . import constraints as C
from .constraints import Interval as _Range, check, shorten
from .errors import BadInput
from .sizes import free_symbols

Interval = tuple[float, float]

#: Default interval random points are drawn from, for symbols without a domain of their own.
DEFAULT_DOMAIN: Interval = (-2.0, 2.0)


@dataclass(frozen=True)
class MatrixForm:
    """A loss and its gradient written with SymPy MatrixSymbols (e.g. ``-Xᵀ(y − Xw)``).

    ``loss`` is the *sum* over samples of the per-sample loss of the owning model, so the matrix
    gradient equals the sum of the per-sample gradients.  ``shapes`` names the dimension symbols.
    """

    loss: sp.Expr
    gradient: sp.Expr
    wrt: sp.MatrixSymbol
    inputs: tuple[sp.MatrixSymbol, ...]
    hyper: tuple[sp.Symbol, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Model:
    """A differentiable problem.

    Parameters
    ----------
    name : str
        Built-in name (``"ridge-sigmoid"``) or ``"expr"`` for user expressions.
    loss : sympy.Expr or None
        The per-sample loss.  ``None`` only for models too large to keep symbolically
        (a wide MLP); those still have a graph via ``spec``.
    params, data, hyper : tuple of sympy.Symbol
        Parameters (differentiated), data symbols and hyperparameters; disjoint, and together
        every free symbol of ``loss``.
    defaults : mapping of str to float
        A value for every symbol: the sample point.
    steps : tuple of (Symbol, Expr)
        Optional named intermediate variables; the last one defines the loss.
    domains : mapping of str to (low, high)
        Where random points for each symbol are drawn (default ``DEFAULT_DOMAIN``).
    """

    name: str
    loss: sp.Expr | None
    params: tuple[sp.Symbol, ...]
    data: tuple[sp.Symbol, ...] = ()
    hyper: tuple[sp.Symbol, ...] = ()
    defaults: Mapping[str, float] = field(default_factory=dict)
    steps: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    domains: Mapping[str, Interval] = field(default_factory=dict)
    matrix: MatrixForm | None = None
    description: str = ""
    source: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise BadInput(f"a model's name must be a string, got {shorten(self.name)}")
        if self.loss is not None and not isinstance(self.loss, sp.Expr):
            raise BadInput(f"a model's loss must be a SymPy expression or None, got {shorten(self.loss)}")
        for role in ("params", "data", "hyper"):
            v = getattr(self, role)
            if not isinstance(v, (tuple, list)) or not all(isinstance(s, sp.Symbol) for s in v):
                raise BadInput(f"a model's {role} must be a tuple of SymPy symbols, got {shorten(v)}")
            object.__setattr__(self, role, tuple(v))
        if not hasattr(self.defaults, "items"):
            raise BadInput(f"a model's defaults must map symbol names to numbers, got {shorten(self.defaults)}")
        defaults = {}
        for k, v in self.defaults.items():
            defaults[k] = _finite_value(k, v)
        object.__setattr__(self, "defaults", MappingProxyType(defaults))
        if not hasattr(self.domains, "items"):
            raise BadInput(f"a model's domains must map symbol names to (low, high), got {shorten(self.domains)}")
        for k, dom in self.domains.items():
            try:
                lo, hi = (float(t) for t in dom)
            except (TypeError, ValueError):
                raise BadInput(f"the domain of {shorten(k)} must be (low, high), got {shorten(dom)}") from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise BadInput(f"the domain of {shorten(k)} must be finite with low < high, got {shorten(dom)}")
        object.__setattr__(self, "domains", MappingProxyType(dict(self.domains)))
        object.__setattr__(self, "spec", MappingProxyType(dict(self.spec)))
        names = [s.name for s in self.params + self.data + self.hyper]
        seen: set[str] = set()
        dup = sorted({n for n in names if n in seen or seen.add(n)})  # linear: nets have 10⁵ symbols
        if dup:
            raise BadInput(f"symbol {dup[0]!r} is listed in more than one role (params/data/hyper)")
        if not self.params:
            raise BadInput("a model needs at least one parameter to differentiate")
        if self.loss is not None:
            free = {s.name for s in free_symbols(self.loss)}  # on the DAG: l₃₀ has 10⁹ tree nodes
            unknown = sorted(free - set(names))
            if unknown:
                raise BadInput(f"loss uses symbol {unknown[0]!r}, which is neither parameter, data nor hyperparameter")
        extra = sorted(set(self.defaults) - set(names))
        if extra:
            raise BadInput(f"default value given for {extra[0]!r}, which is not a symbol of the model")

    # -- names and points -------------------------------------------------------------------
    @property
    def wrt(self) -> tuple[str, ...]:
        """Parameter names, in order."""
        return tuple(s.name for s in self.params)

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """All symbols: parameters, then data, then hyperparameters."""
        return self.params + self.data + self.hyper

    @property
    def symbol_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.symbols)

    def symbol(self, name: str) -> sp.Symbol:
        """The symbol called ``name``; BadInput naming the allowed ones otherwise."""
        for s in self.symbols:
            if s.name == name:
                return s
        raise BadInput(f"unknown symbol {shorten(name)}; this model has {_names(self.symbol_names)}")

    @property
    def loss_expr(self) -> sp.Expr:
        """The loss, or BadInput when this model is kept only as a graph."""
        if self.loss is None:
            raise BadInput(
                f"model {self.name!r} has {len(self.params)} parameters and is kept only as a graph "
                "(symbolic up to 64): this needs the symbolic side, so use smaller --sizes"
            )
        return self.loss

    def point(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """The default point, with ``overrides`` (validated: known names, finite values)."""
        pt = dict(self.defaults)
        if overrides is not None and not hasattr(overrides, "items"):
            raise BadInput(f"a point must map symbol names to numbers, got {shorten(overrides)}")
        for k, v in (overrides or {}).items():
            if k not in self.symbol_names:
                raise BadInput(f"unknown symbol {shorten(k)} in point; this model has {_names(self.symbol_names)}")
            pt[k] = _finite_value(k, v)
        missing = [n for n in self.symbol_names if n not in pt]
        if missing:
            raise BadInput(f"no value for symbol {missing[0]!r}; give it with --at {missing[0]}=VALUE")
        return {n: pt[n] for n in self.symbol_names}

    def random_points(self, n: int, *, seed: int | np.random.Generator = 0, vary: str = "all",
                      base: Mapping[str, float] | None = None) -> list[dict[str, float]]:
        """``n`` random points; each symbol drawn uniformly from its domain.

        ``vary="params"`` keeps data and hyperparameters at ``base`` (default: the defaults).
        """
        check("n", n, _Range(int, 0, 10**6))
        check("seed", seed, C.SEED.constraint)
        check("vary", vary, C.VARY.constraint)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        varying = self.wrt if vary == "params" else self.symbol_names
        out = []
        for _ in range(n):
            pt = dict(base) if base is not None else dict(self.defaults)
            for name in varying:
                lo, hi = self.domains.get(name, DEFAULT_DOMAIN)
                pt[name] = float(rng.uniform(lo, hi))
            out.append(self.point(pt))
        return out

    def subs_point(self, point: Mapping[str, float]) -> dict[sp.Symbol, float]:
        """A SymPy substitution dict for ``point`` (names → this model's symbols)."""
        return {self.symbol(k): v for k, v in point.items()}

    def describe(self) -> str:
        roles = [f"parameters: {', '.join(self.wrt)}"]
        if self.data:
            roles.append(f"data: {', '.join(s.name for s in self.data)}")
        if self.hyper:
            roles.append(f"hyperparameters: {', '.join(s.name for s in self.hyper)}")
        return "; ".join(roles)

    def _repr_html_(self):  # notebooks: the rendering lives in diffkit.display
        from .display import model_html

        return model_html(self)

    def _repr_latex_(self):  # notebooks: the rendering lives in diffkit.display
        from .display import model_latex

        return model_latex(self)


def _finite_value(name, v) -> float:
    """``float(v)`` for the value of symbol ``name``; BadInput unless it is a finite real number."""
    if isinstance(v, (bool, np.bool_)) or isinstance(v, (str, bytes)):
        raise BadInput(f"value {shorten(v)} for {shorten(name)} is not a number")
    try:
        fv = float(v)
    except (TypeError, ValueError, OverflowError):
        raise BadInput(f"value {shorten(v)} for {shorten(name)} is not a number") from None
    if not math.isfinite(fv):
        raise BadInput(f"value {shorten(v)} for {shorten(name)} is not finite")
    return fv


def _names(names, limit: int = 12) -> str:
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … ({len(names)} symbols)"
