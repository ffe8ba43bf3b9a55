"""Replay a recorded graph as straight-line Python: ``compile_gradient(graph)``.

The tape is written out once as source code — forward lines in topological order, then one
line per VJP contribution in reverse order — with variable names from the node labels (``z``,
``d_z`` for its adjoint).  Three backends, each reading the primitive records:

* ``math`` — all-scalar graphs, the records' Python-float templates (a few microseconds per
  gradient); a ``math`` domain error or overflow falls back to the NumPy version (which gives
  nan/inf like the engine);
* ``fused`` — array graphs whose primitives all have a ``code["fused"]`` entry: NumPy with a
  buffer pool (``codegen``);
* ``numpy`` — anything else: the records' NumPy templates for scalar nodes, the implementations
  and VJP rules themselves for array nodes, broadcasting undone by ``sweep.settle`` as the
  reference sweep does.

>>> from diffkit import builtin
>>> from diffkit.engine import from_model
>>> cg = compile_gradient(from_model(builtin("ridge-sigmoid")))
>>> cg.argnames, cg.backend
(('w', 'b', 'y', 'x', 'lam'), 'math')
>>> value, (dw, db) = cg(0.5, -0.3, 1.0, 1.7, 0.1)
>>> round(dw, 6), round(db, 6)
(-0.044302, -0.084883)
>>> print(cg.source.splitlines()[0])
def gradient(w, b, y, x, lam):
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Any, Callable, Mapping

import numpy as np

from ... import stable
from ...errors import BadInput
from ..core import MUL, PASS, ZERO, Code
from ..sweep import evaluate, expand, materialize, settle
from . import codegen

_RESERVED = {"np", "math", "_sig", "_sigp", "_softplus", "_stable", "_tie", "exp", "log", "sqrt", "fabs", "tanh", "sin",
             "cos", "pow", "log1p", "max", "min", "float", "gradient", "copysign"}


_MATH = ("exp", "log", "sqrt", "fabs", "tanh", "sin", "cos", "pow", "log1p", "copysign")


def template_namespace(backend: str) -> dict[str, Any]:
    """The names the records' ``math`` or ``numpy`` templates may use (the one place they are bound).

    >>> sorted(template_namespace("numpy"))
    ['_stable', '_tie', 'np']
    """
    if backend == "math":
        return {"_sig": stable.sigmoid_float, "_sigp": stable.sigmoid_prime_float, "_softplus": stable.softplus_float,
                **{k: getattr(math, k) for k in _MATH}}
    from ..rules.elementwise import _tie  # the tie rule of maximum/minimum (imported late: rules import us)
    return {"np": np, "_stable": stable, "_tie": _tie}


def _template(code: Any, node: Any, i: int | None = None) -> Any:
    """The forward (``i is None``) or argument-``i`` VJP template of a record's backend entry;
    None when the backend has none there (then replay calls the implementation or the rule)."""
    if not isinstance(code, Code):
        return None
    t = code.fwd if i is None else (None if code.vjp is None else code.vjp[i])
    return t(node) if callable(t) else t


def _fwd_expr(node: Any, backend: str, a: list[str]) -> str | None:
    t = _template(node.primitive.code.get(backend), node)
    return None if t is None or node.params else t.format(*a)


def _vjp_expr(node: Any, i: int, backend: str, g: str | None, a: list[str], ans: str) -> str | None:
    """Source of one VJP contribution from the record's template; None: no template; "" for zero."""
    t = _template(node.primitive.code.get(backend), node, i)
    if t is None:
        return None
    use, text = t
    if use == ZERO:
        return ""
    if use == PASS:
        return g or "1.0"
    expr = text.format(*a, ans=ans, g=g or "1.0")
    if use == MUL:
        return expr if g is None else f"{g} * ({expr})"
    return expr


class CompiledGradient:
    """A straight-line gradient function generated from a graph.

    Call with the leaf values in ``argnames`` order: ``(value, (∂/∂p for p in params))``.
    ``call(point)`` takes and returns dicts.  ``source`` is the code, ready to copy.
    """

    def __init__(self, fn: Callable, source: str, argnames: tuple, params: tuple,
                 fallback: Callable | None = None, defaults: Mapping[str, Any] | None = None) -> None:
        self._fn, self._fallback = fn, fallback
        self.source, self.argnames, self.params = source, argnames, params
        self.defaults = dict(defaults or {})
        #: The generated function itself (no fallback): the fastest way to call it.
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        if self._fallback is None:
            return self._fn(*args)
        try:
            return self._fn(*args)
        except (OverflowError, ValueError, ZeroDivisionError):
            return self._fallback(*[np.float64(a) for a in args])

    def call(self, point: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Evaluate at ``point`` (missing leaves: the values recorded in the graph)."""
        pt = {**self.defaults, **(point or {})}
        missing = [n for n in self.argnames if n not in pt]
        if missing:
            raise BadInput(f"no value for {missing[0]!r}; compiled gradient takes {', '.join(self.argnames)}")
        value, grads = self(*[pt[n] for n in self.argnames])
        return value, dict(zip(self.params, grads))


def _identifiers(graph: Any) -> dict[Any, str]:
    names, used = {}, set()
    for n in graph.nodes:
        base = re.sub(r"\W", "_", n.name or "v")
        if base[0].isdigit() or keyword.iskeyword(base) or base in _RESERVED or base.startswith("d_"):
            base = base + "_"
        cand, k = base, 2
        while cand in used:
            cand, k = f"{base}{k}", k + 1
        used.add(cand)
        names[n] = cand
    return names


def _on_arrays(n: Any, vals: Mapping, scalar: bool) -> bool:
    """Whether node ``n`` works on arrays: then it calls the engine's own implementation and
    VJP rules, which write large results into cached buffers and fold scalar factors (see
    ``buffers``), instead of NumPy operators that allocate a fresh array per operation."""
    return not scalar and any(np.ndim(vals[q]) for q in (n, *n.parents))


def _generate(graph: Any, scalar: bool) -> tuple[str, dict[str, Any], tuple, tuple]:
    """Straight-line source: the records' ``math`` templates for all-scalar graphs, their
    ``numpy`` templates for scalar nodes of array graphs, and the implementations and VJP rules
    themselves for array nodes (broadcasting undone by ``sweep.settle``, as the reference does)."""
    ids = _identifiers(graph)
    backend = "math" if scalar else "numpy"
    ns: dict[str, Any] = {**template_namespace("numpy"), **(template_namespace("math") if scalar else {}),
                          "_settle": settle, "_expand": expand, "_materialize": materialize, "_f": {}, "_vjp": {}}
    vals = graph._vals
    params = graph.params
    leaves = params + [n for n in graph.inputs]
    var: dict[Any, str] = {}
    for n in graph.nodes:
        if n.kind == "const":
            v = n.value
            if isinstance(v, (int, float)) and not isinstance(v, bool) or (scalar and np.ndim(v) == 0):
                var[n] = repr(float(v))
            else:
                ns[f"_{ids[n]}"] = v
                var[n] = f"_{ids[n]}"
        else:
            var[n] = ids[n]
    lines = [f"def gradient({', '.join(ids[n] for n in leaves)}):"]
    lines.append("    # forward")
    for n in graph.nodes:
        if n.primitive is None:
            continue
        a = [var[p] for p in n.parents]
        expr = None if _on_arrays(n, vals, scalar) else _fwd_expr(n, backend, a)
        if expr is None:
            ns["_f"][n.primitive.name] = n.primitive.impl
            kw = "".join(f", {k}={v!r}" for k, v in n.params.items())
            expr = f"_f[{n.primitive.name!r}]({', '.join(a)}{kw})"
        lines.append(f"    {var[n]} = {expr}")
    out = graph.output
    lines.append("    # backward")
    adj: dict[Any, str] = {}
    one: dict[Any, bool] = {}
    for n in reversed(graph.nodes):
        if n.primitive is None or not n.needs_grad or (n is not out and n not in adj):
            continue
        g = None if (n is out or one.get(n)) else adj[n]
        prim, shape = n.primitive, np.shape(vals[n])
        arrays = _on_arrays(n, vals, scalar)
        if arrays and not prim.elementwise and g is not None:
            g = f"_expand({g}, np.shape({var[n]}))"  # shapes at run time: the code serves any batch size
        for i, p in enumerate(n.parents):
            if not p.needs_grad:
                continue
            expr = None if arrays else _vjp_expr(n, i, backend, g, [var[q] for q in n.parents], var[n])
            if expr == "":
                continue  # a symbolic zero
            target = np.shape(vals[p])
            if expr is None:
                key = (prim.name, i)
                ns["_vjp"][key] = prim.vjp(i)
                kw = "".join(f", {k}={v!r}" for k, v in n.params.items())
                expr = f"_vjp[{key!r}]({g or '1.0'}, {var[n]}, {', '.join(var[q] for q in n.parents)}{kw})"
                if i in prim.res_args:
                    expr = expr[:-1] + ", res=None)"
            if not scalar and (arrays or target != shape):
                logical = f"np.shape({var[n]})" if prim.elementwise else "None"
                expr = f"_settle({expr}, {logical}, np.shape({var[p]}))"
            d = f"d_{ids[p]}"
            passes = expr == (g or "1.0") and g is None
            if p not in adj:
                lines.append(f"    {d} = {expr}")
                adj[p], one[p] = d, passes
            else:
                lines.append(f"    {d} = {d} + {expr}")
                one[p] = False
    grads = []
    for p in params:
        if p is out:
            grads.append("1.0")
        elif p in adj:
            grads.append(f"float({adj[p]})" if scalar else f"_materialize({adj[p]}, {ids[p]})")
        else:
            grads.append("0.0" if scalar else f"np.zeros_like({ids[p]})")
    lines.append(f"    return {var[out]}, ({', '.join(grads)}{',' if len(grads) == 1 else ''})")
    return "\n".join(lines) + "\n", ns, tuple(ids[n] for n in leaves), tuple(p.name for p in params)


BACKENDS = ("auto", "math", "fused", "numpy")


def compile_gradient(graph: Any, *, backend: str = "auto") -> CompiledGradient:
    """Generate straight-line code for ``graph``'s forward and backward passes.

    Parameters
    ----------
    graph : Graph
        A graph with a scalar output, evaluated once (shapes and scalar-ness come from its values).
    backend : {"auto", "math", "fused", "numpy"}, default "auto"
        ``"math"``: Python floats from the records' ``math`` templates (all-scalar graphs whose
        primitives all have one; a domain error or overflow falls back to ``"numpy"``);
        ``"fused"``: NumPy with a buffer pool, written from the records' ``code["fused"]`` entries
        and specialised per argument shapes (every primitive must have one);
        ``"numpy"``: NumPy from the ``numpy`` templates, calling the implementations and VJP rules
        for array nodes — any graph, any batch size.  ``"auto"`` takes the first that applies.

    Returns
    -------
    CompiledGradient
        Callable ``(value, grads)``; ``.source`` is the generated code, ``.backend`` the backend.
    """
    if backend not in BACKENDS:
        raise BadInput(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    vals = graph._vals
    if any(vals.get(n) is None for n in graph.nodes if n.kind != "const"):
        raise BadInput("compile_gradient needs an evaluated graph; call graph.forward(point) first")
    if np.shape(vals[graph.output]) != ():
        raise BadInput(f"compile_gradient needs a scalar output; got shape {np.shape(vals[graph.output])}")
    why = _why_not(graph, backend)
    if why is not None:
        raise BadInput(f"compile_gradient(backend={backend!r}) does not apply to this graph: {why}")
    scalar = backend == "math" or (backend == "auto" and _why_not(graph, "math") is None)
    if backend == "fused" or (backend == "auto" and not scalar and _why_not(graph, "fused") is None):
        cg = _specialiser(graph)
        cg.backend = "fused"
        return cg
    src, ns, argnames, params = _generate(graph, scalar)
    exec(compile(src, f"<diffkit gradient of {graph.name}>", "exec"), ns)
    fallback = None
    if scalar:
        fsrc, fns, _, _ = _generate(graph, False)
        exec(compile(fsrc, f"<diffkit gradient of {graph.name} (numpy)>", "exec"), fns)
        fallback = fns["gradient"]
    defaults = {ident: vals[n] for ident, n in zip(argnames, graph.params + graph.inputs)}
    cg = CompiledGradient(ns["gradient"], src, argnames, params, fallback, defaults)
    cg.backend = "math" if scalar else "numpy"
    return cg


def _why_not(graph: Any, backend: str) -> str | None:
    """Why ``backend`` cannot compile ``graph`` (None: it can)."""
    vals = graph._vals
    if backend == "math":
        for n in graph.nodes:
            if np.ndim(vals[n]) != 0:
                return f"node {n.name} is an array of shape {np.shape(vals[n])} (math works on Python floats)"
            if n.primitive is not None and (n.params or _template(n.primitive.code.get("math"), n) is None):
                return f"primitive {n.primitive.name!r} has no Python-float template"
    elif backend == "fused":
        for n in graph.nodes:
            if n.primitive is not None:
                f = codegen.entry(n.primitive)
                if f is None:
                    return f"primitive {n.primitive.name!r} has no fused NumPy entry (code['fused'])"
                if not f.supports(n, vals):
                    return f"the fused entry of {n.primitive.name!r} does not cover node {n.name}"
    return None


def _exec_codegen(src: str, consts: list, name: str) -> Callable:
    ns: dict[str, Any] = {}
    exec(compile(src, f"<diffkit replay of {name}>", "exec"), ns)
    return ns["make_gradient"](*consts)


def _specialiser(graph: Any) -> CompiledGradient:
    """Fused NumPy code (``codegen``) specialised per argument shape/dtype signature (a new
    signature the fused entries do not cover gets the generic NumPy code)."""
    ids = _identifiers(graph)
    params = graph.params
    leaves = params + graph.inputs
    vals = graph._vals
    src, consts = codegen.generate(graph, vals, ids, leaves, params)
    argnames = tuple(ids[n] for n in leaves)
    defaults = {ident: vals[n] for ident, n in zip(argnames, leaves)}
    table: dict[tuple, Callable] = {}
    generic: list[Callable] = []

    def signature(args: tuple) -> tuple:
        return tuple((a.shape, a.dtype.char) if type(a) is np.ndarray else type(a) for a in args)

    def specialise(args: tuple) -> Callable:
        # a new shape signature: one forward pass with the engine's implementations gives the
        # shapes and dtypes, then code for them is generated (or the generic code if that fails)
        new = dict(zip(leaves, args))
        vs = evaluate(graph.nodes, {n: new.get(n, n.value) for n in graph.nodes if n.primitive is None})
        got = codegen.generate(graph, vs, ids, leaves, params)
        if got is None:
            if not generic:
                gsrc, gns, _, _ = _generate(graph, False)
                exec(compile(gsrc, f"<diffkit gradient of {graph.name}>", "exec"), gns)
                generic.append(gns["gradient"])
            return generic[0]
        return _exec_codegen(got[0], got[1], graph.name)

    def gradient(*args: Any) -> Any:
        key = signature(args)
        fn = table.get(key)
        if fn is None:
            fn = table[key] = specialise(args)
        return fn(*args)

    table[signature(tuple(defaults[a] for a in argnames))] = _exec_codegen(src, consts, graph.name)
    cg = CompiledGradient(gradient, src, argnames, tuple(p.name for p in params), None, defaults)
    #: array constants ``make_gradient`` takes, in order (to run ``source`` standalone)
    cg.constants = tuple(consts)
    return cg
