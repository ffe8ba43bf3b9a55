"""``compare``: the symbolic and the automatic side of one model, next to each other.

One call gathers everything the CLI, the JSON and the report show.  The artifacts are built once
by :func:`diffkit.analysis.prepare.prepare` — the symbolic gradient derived once, ``sympy.cse``
run once, the NumPy functions lambdified once, the engine graph built once — and every stage
(agreement, counts, the five representations, forward mode, lint, listing) takes them; nothing
downstream re-derives or re-runs anything.  NumPy's floating-point warnings become findings in
:attr:`Comparison.numeric_warnings`, never printed.

Examples
--------
>>> from diffkit import builtin
>>> c = compare(builtin("ridge-sigmoid"), points=5)
>>> [(r["subexpression"], r["count"]) for r in c.to_dict()["redundancy"]][:2]
[('w*x + b', 4), ('w*x', 4)]
>>> c.ops["forward"], c.ops["backward"], c.agreement.ok
(9, 10, True)
>>> [(r.name, r.shared) for r in c.representations]
[('tree', None), ('tree_cse', 11), ('dag', 11), ('tape', 19), ('forward', 25)]
>>> round(c.forward_mode["jvp"], 9) == round(c.forward_mode["reverse"], 9)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import BadInput
from ..model import Model
from ..symbolic import render
from ..symbolic.numeric import to_engine
from ..symbolic.derive import Derivation
from .agreement import SOURCES, Agreement, agreement
from .lint import Finding, lint
from .listing import BackpropListing, backprop_listing
from .numeric_warnings import NumericWarning, capture
from .operation_counts import CONVENTION, symbolic_counts, tree_ops
from .prepare import Prepared, prepare
from .redundancy import Repeated, redundancy
from .representations import Representation, representations
from .. import constraints as _cons

#: Seed of the random direction of the forward-mode check (fixed: the output is reproducible).
DIRECTION_SEED = 0


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
    representations: tuple[Representation, ...] = ()
    forward_mode: dict[str, Any] = field(default_factory=dict)
    numeric_warnings: tuple[NumericWarning, ...] = ()
    prepared: Prepared | None = None
    layer: Any = None                         # a layer model's engine layer, an MLP's layer-wise listing

    @property
    def ok(self) -> bool:
        """The agreement verdict: ``False`` means a gradient source disagrees (``compare`` exits 1)."""
        return self.agreement.ok and (self.layer is None or self.layer.ok)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON of ``diffkit compare --json``.

        Every key is always present (``null`` where it does not apply):

        * ``model``, ``description``, ``loss``, ``loss_latex``, ``wrt``, ``point``, ``value``;
        * ``gradients``: source → parameter → value, for every source in ``symbolic``,
          ``reverse``, ``numeric``, ``complex_step`` (``null`` for a source that does not apply:
          the complex step through relu/abs/step/sign/max/min);
        * ``agreement``: ``max_abs_error``, ``max_rel_error``, ``ok``, ``verdicts``, ``kinks``,
          ``kink_sites``, ``errors`` (source → parameter → {abs, rel}, ``null`` likewise),
          ``random`` (points, seed, max errors, mismatches, kinks, skipped, worst);
        * ``redundancy``, ``redundancy_expanded``: lists of {subexpression, pretty, latex, count,
          ops, inside};
        * ``ops``: ``symbolic_naive``, ``symbolic_expanded``, ``symbolic_cse``, ``forward``,
          ``backward``, ``ratio``, ``convention``;
        * ``representations``: the five representations, each {name, label, flat, shared, parts};
        * ``forward_mode``: {direction, jvp, reverse, abs_error, rel_error, ok,
          full_gradient: {jvps, vjps, ops_by_jvps, ops_by_vjp}};
        * ``derivative``: form → the ``derive --json`` object; ``backprop``: the listing;
          ``lint``: findings; ``numeric_warnings``: [{source, message, category, count}];
        * ``layer``: for a layer model (conv1d, maxpool, …) the engine's layer beside the symbolic
          gradient (:class:`diffkit.analysis.layers.LayerComparison`); for an MLP the matrix backprop
          equations, layer by layer, checked against the engine
          (:class:`diffkit.analysis.layer_listing.LayerListing`); else ``null``.
        """
        a = self.agreement
        grads = {src: (dict(a.gradients[src]) if src in a.gradients else None) for src in SOURCES}
        errors = {src: ({p: {"abs": e[0], "rel": e[1]} for p, e in a.errors[src].items()}
                        if src in a.errors else None) for src in SOURCES if src != "symbolic"}
        return {
            "model": self.model.name,
            "description": self.model.description,
            "loss": render.text(self.model.loss_expr),
            "loss_latex": render.latex(self.model.loss_expr),
            "wrt": list(self.model.wrt),
            "point": dict(self.point),
            "value": self.value,
            "gradients": grads,
            "agreement": {
                "max_abs_error": a.max_abs_error, "max_rel_error": a.max_rel_error, "ok": a.ok,
                "verdicts": dict(a.verdicts), "kinks": {k: dict(v) for k, v in a.kinks.items()},
                "kink_sites": list(a.kink_sites), "errors": errors, "random": a.random,
            },
            "redundancy": [r.to_dict() for r in self.redundancy],
            "redundancy_expanded": [r.to_dict() for r in self.redundancy_expanded],
            "ops": dict(self.ops),
            "representations": [r.to_dict() for r in self.representations],
            "forward_mode": dict(self.forward_mode),
            "derivative": {form: d.to_dict() for form, d in self.derivations.items()},
            "backprop": self.listing.to_dict(),
            "lint": [f.to_dict() for f in self.lint],
            "numeric_warnings": [w.to_dict() for w in self.numeric_warnings],
            "layer": None if self.layer is None else self.layer.to_dict(),
        }

    def _repr_html_(self):  # notebooks: the rendering lives in diffkit.display
        from ..display import comparison_html

        return comparison_html(self)

    def _repr_latex_(self):  # notebooks: the rendering lives in diffkit.display
        from ..display import comparison_latex

        return comparison_latex(self)



def _forward_mode(prep: Prepared, rev: Mapping[str, float], reps) -> dict[str, Any]:
    """The directional derivative along a seeded random unit direction v: J·v by one JVP against ∇L·v."""
    from .. import engine as dk

    model = prep.model
    rng = np.random.default_rng(DIRECTION_SEED)
    v = rng.normal(size=len(model.params))
    v /= np.linalg.norm(v)
    pt = prep.point
    k = len(model.params)
    rest = [np.float64(pt[n]) for n in model.symbol_names[k:]]
    f = prep.extra.get("engine_loss")
    if f is None:
        f = prep.extra["engine_loss"] = to_engine(model.loss_expr, model.symbols)

    def loss(*theta):
        return f(*theta, *rest)

    _, jv = dk.jvp(loss, tuple(np.float64(pt[n]) for n in model.wrt), tuple(np.float64(t) for t in v))
    jv = float(np.asarray(jv))
    rv = float(sum(vi * rev[n] for vi, n in zip(v, model.wrt)))
    err = abs(jv - rv)
    rel = err / max(abs(rv), 1.0)
    tape = next(r for r in reps if r.name == "tape")
    fwd = next(r for r in reps if r.name == "forward")
    return {"direction": {n: float(t) for n, t in zip(model.wrt, v)}, "jvp": jv, "reverse": rv,
            "abs_error": err, "rel_error": rel, "ok": bool(np.isfinite(jv) and rel <= 1e-12),
            "full_gradient": {"jvps": k, "vjps": 1, "ops_by_jvps": fwd.shared, "ops_by_vjp": tape.shared}}


@_cons.validate_params(model=_cons.MODEL, point=_cons.POINT, points=_cons.POINTS, seed=_cons.SEED)
def compare(model: Model, point: Mapping[str, float] | None = None, *, points: int = 10,
            seed: int = 0) -> Comparison:
    """Compare symbolic and automatic differentiation of ``model`` at ``point``.

    Parameters
    ----------
    model : Model
    point : mapping, optional
        Values overriding the model's point (every symbol needs a value).
    points : int, default 10
        Random points for the agreement check, drawn with ``seed``.

    Raises
    ------
    BadInput
        When the loss or its gradient is not finite at ``point`` (outside a log's domain, say):
        the message names the value and NumPy's warning.
    """
    if not isinstance(model, Model):
        raise BadInput(f"compare needs a diffkit Model (e.g. diffkit.builtin('ridge-sigmoid')), got {model!r:.80}")
    with capture() as rec:
        with rec.source("prepare"):
            prep = prepare(model, point)
        model, pt = prep.model, prep.point
        agree = agreement(model, pt, points=points, seed=seed, prepared=prep, recorder=rec)
        _check_finite(prep, agree, rec)
        graph = prep.graph
        with rec.source("reverse"):
            graph.forward(pt)              # the agreement sweep moved it; leave it at the point
            graph.backward()
        tape = graph.op_counts()
        fwd, bwd = int(tape["forward"]), int(tape["backward"])
        counts = symbolic_counts(prep.gradient, cse=prep.cse)
        expanded = prep.derivations["expanded"]
        ops = {"symbolic_naive": counts["naive"], "symbolic_cse": counts["cse"], "forward": fwd, "backward": bwd,
               "ratio": (fwd + bwd) / fwd if fwd else None,
               "symbolic_expanded": sum(tree_ops(e) for e in expanded.gradient.values()),
               "convention": CONVENTION}
        reps = representations(prep)
        with rec.source("forward_mode"):
            fm = _forward_mode(prep, agree.gradients["reverse"], reps)
        grad = prep.gradient
        with rec.source("lint"):
            findings = lint([model.loss_expr, *grad.values()])
            findings += [f for f in lint([expanded.loss, *expanded.gradient.values()]) if f not in findings]
        listing = backprop_listing(model, pt)
        with rec.source("layer"):
            from .layers import layer_comparison, mlp_layers
            layer = layer_comparison(prep, points=points, seed=seed) or mlp_layers(prep, agree.gradients["reverse"])
    return Comparison(
        model=model, point=pt, value=agree.value, derivations=prep.derivations, agreement=agree,
        redundancy=tuple(redundancy(grad)), redundancy_expanded=tuple(redundancy(grad, expanded=True)),
        ops=ops, listing=listing, lint=tuple(findings), graph=graph, representations=reps,
        forward_mode=fm, numeric_warnings=tuple(rec.findings()), prepared=prep, layer=layer,
    )


def _check_finite(prep: Prepared, agree: Agreement, rec) -> None:
    bad = [("L", agree.value)] + [(f"∂L/∂{p}", v) for p, v in agree.gradients["symbolic"].items()]
    bad = [(what, v) for what, v in bad if not np.isfinite(v)]
    if not bad:
        return
    what, v = bad[0]
    at = ", ".join(f"{k} = {prep.point[k]:.6g}" for k in prep.model.symbol_names)
    warned = "; ".join(sorted({w.message for w in rec.findings()}))
    raise BadInput(f"{what} is not finite at {at} ({what} = {v}"
                   + (f"; numpy: {warned}" if warned else "") + "): choose another point with --at")
