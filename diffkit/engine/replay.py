"""Replay a recorded graph as straight-line Python: ``compile_gradient(graph)``.

The tape is written out once as source code — forward lines in topological order, then one
line per VJP contribution in reverse order — with variable names from the node labels (``z``,
``d_z`` for its adjoint).  All-scalar graphs use the ``math`` module on Python floats (a few
microseconds per gradient); anything else uses NumPy.  A scalar function that hits a ``math``
domain error or overflow falls back to the NumPy version (which gives nan/inf like the engine).

>>> from diffkit import builtin
>>> from diffkit.engine import from_model
>>> cg = compile_gradient(from_model(builtin("ridge-sigmoid")))
>>> cg.argnames
('w', 'b', 'y', 'x', 'lam')
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

from math import exp

import numpy as np

from ..errors import BadInput
from . import codegen
from .core import REGISTRY, materialize
from .prims import _mul_vjp, _sigmoid_impl, _tie
from .prims_array import unbroadcast

_RESERVED = {"np", "math", "_sig", "exp", "log", "sqrt", "fabs", "tanh", "sin", "cos", "pow", "log1p", "max", "min",
             "float", "gradient", "copysign"}

#: Forward templates for Python floats ({0}, {1}, {2}: arguments).
MATH_FWD = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}", "neg": "-{0}",
    "pow": "pow({0}, {1})", "exp": "exp({0})", "log": "log({0})", "sqrt": "sqrt({0})", "abs": "fabs({0})",
    "sigmoid": "_sig({0})", "tanh": "tanh({0})", "relu": "({0} if {0} > 0.0 else 0.0)",
    "step": "(1.0 if {0} > 0.0 else 0.0)", "sign": "(copysign(1.0, {0}) if {0} else 0.0)",
    "softplus": "(({0}) + log1p(exp(-({0}))) if {0} > 0.0 else log1p(exp({0})))",
    "sin": "sin({0})", "cos": "cos({0})", "maximum": "max({0}, {1})", "minimum": "min({0}, {1})",
    "where": "({1} if {0} else {2})",
}
#: Forward templates for NumPy; other primitives call their registered implementation.
NP_FWD = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}", "neg": "-{0}",
    "pow": "{0} ** {1}", "exp": "np.exp({0})", "log": "np.log({0})", "sqrt": "np.sqrt({0})",
    "abs": "np.abs({0})", "sigmoid": "_sigmoid({0})", "tanh": "np.tanh({0})", "relu": "np.maximum({0}, 0)",
    "sin": "np.sin({0})", "cos": "np.cos({0})", "maximum": "np.maximum({0}, {1})",
    "minimum": "np.minimum({0}, {1})", "softplus": "np.logaddexp(0.0, {0})",
}


def _times(g: str | None, e: str) -> str:
    return e if g is None else f"{g} * ({e})"


def _vjp_expr(name: str, i: int, g: str | None, a: list[str], ans: str, scalar: bool, square: bool) -> str | None:
    """Source of one VJP contribution, mirroring the rule in ``prims``; None: no template."""
    F = (lambda f: f) if scalar else (lambda f: "np." + f)
    one = g is None
    sig = (lambda s: f"_sig({s})") if scalar else (lambda s: f"_sigmoid({s})")
    table: dict[tuple[str, int], Callable[[], str]] = {
        ("add", 0): lambda: g or "1.0", ("add", 1): lambda: g or "1.0",
        ("sub", 0): lambda: g or "1.0", ("sub", 1): lambda: "-1.0" if one else f"-{g}",
        ("mul", 0): lambda: _times(g, a[1]), ("mul", 1): lambda: _times(g, a[0]),
        ("div", 0): lambda: f"{g or '1.0'} / {a[1]}",
        ("div", 1): lambda: f"-({_times(g, ans)}) / {a[1]}",
        ("neg", 0): lambda: "-1.0" if one else f"-{g}",
        ("pow", 0): lambda: _times(g, f"2.0 * {a[0]}" if square else
                                   f"{a[1]} * {'pow' if scalar else 'np.power'}({a[0]}, {a[1]} - 1.0)"),
        ("pow", 1): lambda: _times(g, f"{ans} * {F('log')}({a[0]})"),
        ("exp", 0): lambda: _times(g, ans), ("log", 0): lambda: f"{g or '1.0'} / {a[0]}",
        ("sqrt", 0): lambda: _times(g, f"0.5 / {ans}"),
        ("abs", 0): lambda: _times(g, f"copysign(1.0, {a[0]}) if {a[0]} else 0.0" if scalar else f"np.sign({a[0]})"),
        # ans·σ(−x), not ans·(1 − ans), which cancels to 0 for x ≫ 0 (as in the engine's rule)
        ("sigmoid", 0): lambda: _times(g, f"{ans} * {sig('-' + a[0])}"),
        ("tanh", 0): lambda: _times(g, f"1.0 - {ans} * {ans}"),
        ("relu", 0): lambda: (f"({g or '1.0'} if {a[0]} > 0.0 else 0.0)" if scalar
                              else f"np.where({a[0]} > 0, {g or '1.0'}, 0.0)"),
        ("softplus", 0): lambda: _times(g, sig(a[0])),
        ("sin", 0): lambda: _times(g, f"{F('cos')}({a[0]})"),
        ("cos", 0): lambda: f"-({_times(g, F('sin') + '(' + a[0] + ')')})",
        ("maximum", 0): lambda: _times(g, _tie_src(a[0], a[1], scalar)),
        ("maximum", 1): lambda: _times(g, _tie_src(a[1], a[0], scalar)),
        ("minimum", 0): lambda: _times(g, _tie_src(a[1], a[0], scalar)),
        ("minimum", 1): lambda: _times(g, _tie_src(a[0], a[1], scalar)),
    }
    if scalar:
        table[("where", 1)] = lambda: f"({g or '1.0'} if {a[0]} else 0.0)"
        table[("where", 2)] = lambda: f"(0.0 if {a[0]} else {g or '1.0'})"
    make = table.get((name, i))
    return None if make is None else make()


def _sig(z: float) -> float:
    """σ(z) on a Python float without overflow: ``math.exp`` raises for arguments above ~709,
    so the exponent is kept non-positive (e^z/(1 + e^z) for z < 0)."""
    if z >= 0.0:
        return 1.0 / (1.0 + exp(-z))
    e = exp(z)
    return e / (1.0 + e)


def _tie_src(a: str, b: str, scalar: bool) -> str:
    return f"(1.0 if {a} > {b} else 0.5 if {a} == {b} else 0.0)" if scalar else f"_tie({a}, {b})"


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
    ids = _identifiers(graph)
    ns: dict[str, Any] = {"np": np, "_sigmoid": _sigmoid_impl, "_tie": _tie, "_unbroadcast": unbroadcast,
                          "_mul_vjp": _mul_vjp, "_materialize": materialize, "_f": {}, "_vjp": {}}
    if scalar:
        ns["_sig"] = _sig
        ns.update({k: getattr(math, k) for k in ("exp", "log", "sqrt", "fabs", "tanh", "sin", "cos",
                                                  "pow", "log1p", "copysign")})
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
        tmpl = (MATH_FWD if scalar else NP_FWD).get(n.primitive.name)
        if tmpl is not None and not n.params and not _on_arrays(n, vals, scalar):
            expr = tmpl.format(*a)
        else:
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
        for i, p in enumerate(n.parents):
            if not p.needs_grad:
                continue
            name = n.primitive.name
            if name in ("step", "sign") or (name == "where" and i == 0):
                continue
            square = name == "pow" and n.parents[1].kind == "const" and np.ndim(n.parents[1].value) == 0 \
                and n.parents[1].value == 2
            expr = None if _on_arrays(n, vals, scalar) else \
                _vjp_expr(name, i, g, [var[q] for q in n.parents], var[n], scalar, square)
            if expr is not None and not scalar and name == "mul" and np.shape(vals[p]) != np.shape(vals[n]):
                expr = f"_mul_vjp({g or '1.0'}, {var[n.parents[1 - i]]}, {np.shape(vals[p])!r})"
            elif expr is None:
                ns["_vjp"][(name, i)] = n.primitive.vjp(i)
                kw = "".join(f", {k}={v!r}" for k, v in n.params.items())
                expr = f"_vjp[{(name, i)!r}]({g or '1.0'}, {var[n]}, {', '.join(var[q] for q in n.parents)}{kw})"
            elif not scalar and np.shape(vals[p]) != np.shape(vals[n]) and name in (
                    "add", "sub", "div", "pow", "maximum", "minimum", "where"):
                expr = f"_unbroadcast({expr}, {np.shape(vals[p])!r})"
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


def compile_gradient(graph: Any) -> CompiledGradient:
    """Generate straight-line code for ``graph``'s forward and backward passes.

    Parameters
    ----------
    graph : Graph
        A graph with a scalar output, evaluated once (shapes and scalar-ness come from its values).

    Returns
    -------
    CompiledGradient
        Callable ``(value, grads)``; ``.source`` is the generated code.
    """
    vals = graph._vals
    if any(vals.get(n) is None for n in graph.nodes if n.kind != "const"):
        raise BadInput("compile_gradient needs an evaluated graph; call graph.forward(point) first")
    if np.shape(vals[graph.output]) != ():
        raise BadInput(f"compile_gradient needs a scalar output; got shape {np.shape(vals[graph.output])}")
    scalar = all(np.ndim(vals[n]) == 0 for n in graph.nodes) and all(
        n.primitive.name in MATH_FWD for n in graph.nodes if n.primitive is not None)
    if not scalar:
        fast = _specialiser(graph)
        if fast is not None:
            return fast
    src, ns, argnames, params = _generate(graph, scalar)
    exec(compile(src, f"<diffkit gradient of {graph.name}>", "exec"), ns)
    fallback = None
    if scalar:
        fsrc, fns, _, _ = _generate(graph, False)
        exec(compile(fsrc, f"<diffkit gradient of {graph.name} (numpy)>", "exec"), fns)
        fallback = fns["gradient"]
    defaults = {ident: vals[n] for ident, n in zip(argnames, graph.params + graph.inputs)}
    return CompiledGradient(ns["gradient"], src, argnames, params, fallback, defaults)


def _exec_codegen(src: str, consts: list, name: str) -> Callable:
    ns: dict[str, Any] = {}
    exec(compile(src, f"<diffkit replay of {name}>", "exec"), ns)
    return ns["make_gradient"](*consts)


def _specialiser(graph: Any) -> CompiledGradient | None:
    """Fused NumPy code (``codegen``) specialised per argument shape/dtype signature; None when a
    primitive has no template (the caller then emits the generic code)."""
    ids = _identifiers(graph)
    params = graph.params
    leaves = params + graph.inputs
    vals = graph._vals
    made = codegen.generate(graph, vals, ids, leaves, params)
    if made is None:
        return None
    src, consts = made
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
        vs: dict[Any, Any] = {}
        for n in graph.nodes:
            if n.primitive is None:
                vs[n] = new[n] if n in new else n.value
            else:
                vs[n] = n.primitive.impl(*[vs[p] for p in n.parents], **n.params)
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
