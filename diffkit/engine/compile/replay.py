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
        return expr if g is None else _times(g, expr)
    return expr


_LIT = r"\d+(?:\.\d*)?(?:e[-+]?\d+)?"
_LIT_TIMES_NAME = re.compile(rf"({_LIT}) \* ([A-Za-z_]\w*)")


def _times(g: str, expr: str) -> str:
    """``g * (expr)``; a literal times ``literal * name`` is folded into one constant when one
    of the two is a power of two (then the product rounds exactly as the two steps do), e.g. the
    lecture's ½(y − u)²: ``0.5 * (2.0 * v)`` → ``v``."""
    m = _LIT_TIMES_NAME.fullmatch(expr)
    if m and re.fullmatch(_LIT, g):
        a, b = float(g), float(m.group(1))
        c = a * b
        if (math.frexp(a)[0] == 0.5 or math.frexp(b)[0] == 0.5) and 1e-300 < c < 1e300:
            return m.group(2) if c == 1.0 else f"{c!r} * {m.group(2)}"
    return f"{g} * ({expr})"


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
    long: dict[int, str] = {}  # id(parameter) → its name in the namespace

    def params_src(params: dict) -> str:
        # a parameter whose text is long (an index array of thousands of entries) goes into the
        # namespace under a short name instead of one line of thousands of characters
        out = []
        for k, v in params.items():
            text = repr(v)
            if len(text) > _LONG:
                name = long.get(id(v))
                if name is None:
                    name = long[id(v)] = f"_k{len(long)}"
                    ns[name] = v
                text = name
            out.append(f", {k}={text}")
        return "".join(out)

    lines = [f"def gradient({', '.join(ids[n] for n in leaves)}):"]
    lines.append("    # forward")
    for n in graph.nodes:
        if n.primitive is None:
            continue
        a = [var[p] for p in n.parents]
        expr = None if _on_arrays(n, vals, scalar) else _fwd_expr(n, backend, a)
        if expr is None:
            ns["_f"][n.primitive.name] = n.primitive.impl
            kw = params_src(n.params)
            expr = f"_f[{n.primitive.name!r}]({', '.join(a)}{kw})"
        lines.append(f"    {var[n]} = {expr}")
    out = graph.output
    lines.append("    # backward")
    adj: dict[Any, str] = {}  # node → the expression of its adjoint (a variable, or an alias/constant)
    for n in reversed(graph.nodes):
        if n.primitive is None or not n.needs_grad or (n is not out and n not in adj):
            continue
        g = None if (n is out or adj[n] == "1.0") else adj[n]
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
                kw = params_src(n.params)
                expr = f"_vjp[{key!r}]({g or '1.0'}, {var[n]}, {', '.join(var[q] for q in n.parents)}{kw})"
                if i in prim.res_args:
                    expr = expr[:-1] + ", res=None)"
            if not scalar and (arrays or target != shape):
                logical = f"np.shape({var[n]})" if prim.elementwise else "None"
                expr = f"_settle({expr}, {logical}, np.shape({var[p]}))"
            d = f"d_{ids[p]}"
            if p in adj:
                lines.append(f"    {d} = {adj[p]} + {expr}")
                adj[p] = d
            elif expr == "1.0" or (scalar and _SIMPLE.match(expr)):
                adj[p] = expr  # a copy or a constant (floats are immutable): no statement
            else:
                lines.append(f"    {d} = {expr}")
                adj[p] = d
    grads = []
    leafnames = {ids[n] for n in leaves}
    for p in params:
        if p is out:
            grads.append("1.0")
        elif p in adj:
            # arithmetic on float inputs gives floats; a bare leaf (an int passed in) is converted
            grads.append((f"float({adj[p]})" if adj[p] in leafnames else adj[p]) if scalar
                         else f"_materialize({adj[p]}, {ids[p]})")
        else:
            grads.append("0.0" if scalar else f"np.zeros_like({ids[p]})")
    lines.append(f"    return {var[out]}, ({', '.join(grads)}{',' if len(grads) == 1 else ''})")
    if long:
        lines.insert(1, f"    # {', '.join(long.values())}: parameters too long to write out (kept with the compiled function)")
    if scalar:
        lines = _inline(lines, {var[n] for n in graph.nodes if n.primitive is not None and not n.named}
                        | {f"d_{ids[n]}" for n in graph.nodes if n.primitive is not None and not n.named})
    return "\n".join(lines) + "\n", ns, tuple(ids[n] for n in leaves), tuple(p.name for p in params)


_ASSIGN = re.compile(r"^    ([A-Za-z_]\w*) = (.*)$")
_LONG = 120  # characters of a parameter written into the source as it is


def _merge_accumulations(lines: list[str]) -> list[str]:
    """``d = a`` … ``d = d + b`` with nothing reading ``d`` or assigning what ``a`` reads in
    between becomes ``d = (a) + b``: one statement per adjoint where it has several terms."""
    for j, ln in enumerate(lines):
        m = _ASSIGN.match(ln) if ln is not None else None
        if not m or not m.group(2).startswith(m.group(1) + " + "):
            continue
        name = m.group(1)
        word = re.compile(rf"\b{re.escape(name)}\b")
        k = j - 1
        while k >= 0 and (lines[k] is None or not word.search(lines[k])):
            k -= 1
        first = _ASSIGN.match(lines[k]) if k >= 0 else None
        if not first or first.group(1) != name or word.search(first.group(2)):
            continue
        reads = set(re.findall(r"[A-Za-z_]\w*", first.group(2)))
        if any((a := _ASSIGN.match(x)) and a.group(1) in reads for x in lines[k + 1:j] if x is not None):
            continue
        lines[j] = f"    {name} = ({first.group(2)}){m.group(2)[len(name):]}"
        lines[k] = None
    return [ln for ln in lines if ln is not None]


def _inline(lines: list[str], temporaries: set[str]) -> list[str]:
    """Substitute each of ``temporaries`` assigned once and read once into its reader (Python
    floats: every statement saved is ~25 ns of a ~1 µs gradient).  The names the graph gives its
    steps (``z``, ``u``, ``d_z``) stay, so the source still reads as the lecture's listing."""
    lines = _merge_accumulations(list(lines))
    assigned: dict[str, int] = {}
    for k, ln in enumerate(lines):
        m = _ASSIGN.match(ln)
        if m:
            assigned[m.group(1)] = -1 if m.group(1) in assigned else k  # -1: assigned twice
    for name, k in assigned.items():
        if k < 0 or name not in temporaries:
            continue
        word = re.compile(rf"\b{re.escape(name)}\b")
        readers = [j for j in range(k + 1, len(lines)) if lines[j] is not None and word.search(lines[j])]
        if len(readers) != 1 or len(word.findall(lines[readers[0]])) != 1:
            continue
        expr = _ASSIGN.match(lines[k]).group(2)
        j = readers[0]
        m = _ASSIGN.match(lines[j])
        if m and m.group(1) == name:  # a reassignment reads it: leave the accumulation alone
            continue
        reads = set(re.findall(r"[A-Za-z_]\w*", expr))
        if any((a := _ASSIGN.match(ln)) and a.group(1) in reads for ln in lines[k + 1:j] if ln is not None):
            continue  # something it reads changes before the reader: keep the statement
        lines[j] = word.sub(lambda _: f"({expr})", lines[j])
        lines[k] = None
    return [ln for ln in lines if ln is not None]


#: A variable or a non-negative float literal: safe to substitute for an adjoint in any template.
_SIMPLE = re.compile(r"^(?:[A-Za-z_]\w*|\d+(?:\.\d*)?(?:e[-+]?\d+)?)$")

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

    ndarray = np.ndarray

    def signature(args: tuple) -> tuple:  # on every call: a list comprehension, ~1 µs for six arrays
        return tuple([(a.shape, a.dtype) if type(a) is ndarray else type(a) for a in args])

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
