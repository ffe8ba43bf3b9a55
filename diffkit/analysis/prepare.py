"""The artifacts of one model, built once and handed on (derivations, gradient, NumPy functions, graph).

``compare`` used to derive the symbolic gradient four times, build the engine graph twice and
run ``sympy.cse`` three times, because every stage started again from the model.  Here each
artifact is made once, by :func:`prepare`, and every stage (agreement, counts, lint, listing,
representations) takes the :class:`Prepared` object — the shape of SymPy's ``cse``, whose
stages each take the previous stage's output.

Examples
--------
>>> from diffkit import builtin
>>> p = prepare(builtin("ridge-sigmoid"))
>>> sorted(p.derivations)
['cse', 'expanded', 'lecture']
>>> [str(s) for s, _ in p.cse[0]]
['t0', 't1']
>>> round(float(p.grad_fn(*p.values(p.point))[0]), 6)
-0.044302
>>> sorted(n.name for n in p.graph.variables)
['L', 'b', 'l', 'r', 'u', 'w', 'z']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp

from ..domain import check_model, check_point
from ..functions import relu, step
from ..model import Model
from ..symbolic import derive as _derive
from ..symbolic import to_numpy
from .listing import model_steps

#: Functions with a kink or a jump: no complex step through them, and kinks are looked for.
KINKED = (relu, step, sp.sign, sp.Abs, sp.Max, sp.Min, sp.Heaviside)

#: The derivations ``compare`` shows.
FORMS = ("lecture", "expanded", "cse")


@dataclass(frozen=True)
class Prepared:
    """Everything the analysis stages need from one model, each made once.

    Attributes
    ----------
    model : Model
        With named steps (a decomposition of the loss when it had none), so the listing, the
        engine graph and the drawing name the same nodes.
    point : dict
        The evaluation point.
    gradient : dict of str to sympy.Expr
        The naive partials, as ``sympy.diff`` returns them (derived once).
    cse : (replacements, reduced)
        ``sympy.cse`` jointly over the partials (run once).
    derivations : dict of str to Derivation
        The views in ``FORMS``, made from ``gradient`` and ``cse``.
    loss_fn, grad_fn : callable
        The loss and the partials as NumPy functions of ``model.symbols`` (lambdified once).
    graph : diffkit.engine.ModelGraph
        The engine's graph of the model (built once).
    kinked : tuple of sympy.Expr
        The kinked subexpressions of the loss; ``kink_fns`` their arguments as NumPy functions.
    """

    model: Model
    point: dict[str, float]
    gradient: dict[str, sp.Expr]
    cse: tuple
    derivations: dict[str, Any]
    loss_fn: Callable
    grad_fn: Callable
    graph: Any
    kinked: tuple[sp.Expr, ...] = ()
    kink_fns: tuple[Callable, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def analytic(self) -> bool:
        """True when no kinked function occurs, so the complex step applies."""
        return not self.kinked

    def values(self, point: Mapping[str, float]) -> list:
        """``point``'s values in the order of ``model.symbols``, as NumPy floats.

        (NumPy scalars, not Python floats: ``0.0 ** -1`` is then inf with a warning the analysis
        records, not a ZeroDivisionError.)
        """
        return [np.float64(point[n]) for n in self.model.symbol_names]


def kink_argument(e: sp.Expr) -> sp.Expr:
    """What is 0 exactly at the kink of ``e``: the argument, or the product of differences of a max/min."""
    if isinstance(e, (sp.Max, sp.Min)):
        a = sorted(e.args, key=sp.default_sort_key)
        return sp.Mul(*[a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a))])
    return e.args[0]


def prepare(model: Model, point: Mapping[str, float] | None = None, *, forms=FORMS) -> Prepared:
    """Build every artifact of ``model`` once (see :class:`Prepared`).

    Parameters
    ----------
    model : Model
    point : mapping, optional
        Values overriding the model's point (every symbol needs a value).
    forms : sequence of str
        Which derivations to make (from :data:`diffkit.symbolic.derive.FORMS`).
    """
    from .. import engine

    pt = check_model(model, point)  # a point outside the loss's domain is refused before any work
    if not model.steps:  # name the graph's nodes once, so listing, engine and drawing agree
        model = dataclasses.replace(model, steps=model_steps(model))
    loss = model.loss_expr
    grad = _derive.gradient(model)
    for p, g in grad.items():
        check_point(g, pt, what=f"∂L/∂{p}: ")
    cse = _derive.cse_gradient(grad, avoid=model.symbol_names)
    derivations = {f: _derive.derive(model, form=f, grad=grad, cse=cse) for f in forms}
    kinked = tuple(dict.fromkeys(e for e in sp.preorder_traversal(loss) if isinstance(e, KINKED)))
    return Prepared(
        model=model, point=pt, gradient=grad, cse=cse, derivations=derivations,
        loss_fn=to_numpy(loss, model.symbols), grad_fn=to_numpy(list(grad.values()), model.symbols),
        graph=engine.from_model(model, pt),
        kinked=kinked, kink_fns=tuple(to_numpy(kink_argument(e), model.symbols) for e in kinked),
    )
