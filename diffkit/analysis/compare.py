"""``compare``: the symbolic and the reverse-mode side of one model, next to each other.

One call gathers everything the CLI, the JSON and the report show — nothing downstream
re-derives or re-runs anything.

Examples
--------
>>> from diffkit import builtin
>>> c = compare(builtin("ridge-sigmoid"), points=5)
>>> [(r["subexpression"], r["count"]) for r in c.to_dict()["redundancy"]][:2]
[('w*x + b', 4), ('w*x', 4)]
>>> c.ops["forward"], c.ops["backward"], c.agreement.ok
(9, 10, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from ..model import Model
from ..symbolic import render
from ..symbolic.derive import Derivation, derive
from .agreement import Agreement, agreement
from .counting import Repeated, redundancy, symbolic_counts
from .lint import Finding, lint
from .listing import BackpropListing, backprop_listing, model_steps


@dataclass(frozen=True)
class Comparison:
    """Everything ``diffkit compare`` shows, as data."""

    model: Model
    point: dict[str, float]
    value: float
    derivations: dict[str, Derivation]       # "lecture", "expanded", "cse"
    agreement: Agreement
    redundancy: tuple[Repeated, ...]          # σ and σ′ as primitives
    redundancy_expanded: tuple[Repeated, ...]  # σ written with exponentials
    ops: dict[str, Any]
    listing: BackpropListing
    lint: tuple[Finding, ...]
    graph: Any                                # the engine's ModelGraph, evaluated at the point

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON of ``diffkit compare --json`` (more keys may be added)."""
        a = self.agreement
        return {
            "model": self.model.name,
            "description": self.model.description,
            "loss": render.text(self.model.loss_expr),
            "loss_latex": render.latex(self.model.loss_expr),
            "wrt": list(self.model.wrt),
            "point": dict(self.point),
            "value": self.value,
            "gradients": {src: dict(v) for src, v in a.gradients.items()},
            "agreement": {
                "max_abs_error": a.max_abs_error, "max_rel_error": a.max_rel_error, "ok": a.ok,
                "verdicts": dict(a.verdicts), "kinks": {k: dict(v) for k, v in a.kinks.items()},
                "kink_sites": list(a.kink_sites),
                "errors": {src: {p: {"abs": e[0], "rel": e[1]} for p, e in v.items()} for src, v in a.errors.items()},
                "random": a.random,
            },
            "redundancy": [r.to_dict() for r in self.redundancy],
            "redundancy_expanded": [r.to_dict() for r in self.redundancy_expanded],
            "ops": dict(self.ops),
            "derivative": {form: d.to_dict() for form, d in self.derivations.items()},
            "backprop": self.listing.to_dict(),
            "lint": [f.to_dict() for f in self.lint],
        }


def compare(model: Model, point: Mapping[str, float] | None = None, *, points: int = 10,
            seed: int = 0) -> Comparison:
    """Compare symbolic and reverse-mode differentiation of ``model`` at ``point``.

    Parameters
    ----------
    model : Model
    point : mapping, optional
        Values overriding the model's point (every symbol needs a value).
    points : int, default 10
        Random points for the agreement check, drawn with ``seed``.
    """
    pt = model.point(point)
    if not model.steps:  # name the graph's nodes once, so listing, engine and drawing agree
        model = dataclasses.replace(model, steps=model_steps(model))
    derivations = {form: derive(model, form=form) for form in ("lecture", "expanded", "cse")}
    grad = derivations["lecture"].gradient
    agree = agreement(model, pt, points=points, seed=seed)
    counts = symbolic_counts(grad)
    from ..engine import from_model

    graph = from_model(model, pt)
    graph.backward()
    tape = graph.op_counts()
    fwd, bwd = int(tape["forward"]), int(tape["backward"])
    ops = {"symbolic_naive": counts["naive"], "symbolic_cse": counts["cse"], "forward": fwd, "backward": bwd,
           "ratio": (fwd + bwd) / fwd if fwd else None,
           "symbolic_expanded": symbolic_counts(derivations["expanded"].gradient)["naive"]}
    findings = lint([model.loss_expr, *grad.values()])
    findings += [f for f in lint([derivations["expanded"].loss, *derivations["expanded"].gradient.values()])
                 if f not in findings]
    return Comparison(
        model=model, point=pt, value=agree.value, derivations=derivations, agreement=agree,
        redundancy=tuple(redundancy(grad)), redundancy_expanded=tuple(redundancy(grad, expanded=True)),
        ops=ops, listing=backprop_listing(model, pt), lint=tuple(findings), graph=graph,
    )
