"""Fused, allocation-aware NumPy source for an array graph (used by ``replay.compile_gradient``).

The generated text defines ``make_gradient(<array constants>)``, which allocates a pool of work
buffers once (shapes and dtypes are fixed by the recording) and returns ``gradient(<leaves>)``.
Every array intermediate is written with ``out=`` into a pool buffer chosen by liveness: a buffer is
reused as soon as the value in it is dead (forward values a VJP reads stay alive until that VJP),
and an elementwise result goes straight into the buffer of an argument that dies at it, as NumPy
does with temporaries (fewer buffers: the data stays in cache).
Adjoints of intermediates accumulate in place when the generated code owns their buffer alone;
broadcasts are never materialised (``mean``'s VJP is the scalar ``g/n``), and are undone as the
reference sweep's ``settle`` does, on static shapes: one ``.sum(axis=...)`` where a contribution
really has the axis, a scalar factor (the axis length) where it is lazily broadcast.

This module is only the machinery: what each primitive writes comes from its record,
``code["fused"]`` (a :class:`~diffkit.engine.compile.fused.Fused`, defined next to the primitive in
its rules module); the buffer pool and the lazy scale/product/offset algebra are in ``fused``.
A graph with a primitive that has no such entry (or whose entry declines the node) gets None, and
replay takes its generic path.

Gradients returned to the caller are always fresh arrays (never pool buffers), so keeping or mutating
one call's results is safe across later calls.  The pool makes one ``gradient`` function
non-reentrant (not for concurrent use from several threads).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import REGISTRY, Primitive
from .fused import ONE, Fused, Gen, V, kinds

__all__ = ["entry", "fused_primitives", "supported", "generate"]


def entry(prim: Primitive) -> Fused | None:
    """The fused emitter of ``prim``'s record, or None."""
    f = prim.code.get("fused")
    return f if isinstance(f, Fused) else None


def fused_primitives() -> list[str]:
    """Names of the registered primitives the fused generator can write (derived from the records)."""
    return [name for name, p in REGISTRY.items() if entry(p) is not None]


def supported(graph: Any, vals: dict) -> bool:
    """Whether every primitive node of ``graph`` (with the shapes in ``vals``) can be written fused."""
    for n in graph.nodes:
        if n.primitive is None:
            continue
        f = entry(n.primitive)
        if f is None or not f.supports(n, vals):
            return False
    return True


def generate(graph: Any, vals: dict, ids: dict, leaves: list, params: list) -> tuple[str, list] | None:
    """Source of ``make_gradient`` for the shapes in ``vals``, and the constants it takes; or None."""
    if not supported(graph, vals):
        return None
    gen = Gen()
    gen.vals = vals
    nodes = graph.nodes
    N = len(nodes)
    pos = {n: i for i, n in enumerate(nodes)}
    ops = [n for n in nodes if n.primitive is not None]
    rec = {n: entry(n.primitive) for n in ops}
    # last use: forward step i = node index; backward step of node n = 2N - index(n)
    last: dict[Any, int] = {}
    for n in ops:
        for p in n.parents:
            last[p] = max(last.get(p, -1), pos[n])
    for n in ops:
        back = 2 * N - pos[n]
        if n.needs_grad:
            for p in rec[n].uses(n):
                last[p] = max(last.get(p, -1), back)
        for r in rec[n].residuals:
            last[(r, n)] = back if n.needs_grad else pos[n]
    last[graph.output] = 10 * N
    dying: dict[int, list] = {}
    for k, t in last.items():
        dying.setdefault(t, []).append(k)

    consts: list = []
    v: dict[Any, V] = {}
    for n in nodes:
        x = vals[n]
        dt = np.result_type(x) if not isinstance(x, float) else None
        if n.kind == "const":
            if np.ndim(x) == 0:
                v[n] = V(repr(float(x)), (), None if isinstance(x, (int, float)) else dt)
            else:
                consts.append(x)
                v[n] = V(f"_{ids[n]}", np.shape(x), dt)
        elif n.primitive is None:
            v[n] = V(ids[n], np.shape(x), dt)

    def release(t: int) -> None:
        for k in dying.get(t, []):
            gen.drop(gen.extra.pop(k, None) if isinstance(k, tuple) else v.get(k))

    def forced(ps: Any, keep: Any = ()) -> None:
        """Materialise lazy stored values once, in place in ``v`` (the stored value owns the refs),
        unless the consumer absorbs their kind of laziness (``keep``: scale, prod, offset)."""
        for p in dict.fromkeys(ps):
            if kinds(v[p]) - frozenset(keep):
                v[p] = gen.force(v[p], keep_scale="scale" in keep)

    # -- forward ---------------------------------------------------------------------------------
    for n in ops:
        f = rec[n]
        keep: dict[Any, frozenset] = {}
        for p, k in zip(n.parents, f.absorbs(n, [v[p] for p in n.parents])):
            keep[p] = keep.get(p, frozenset(k)) & frozenset(k)  # an argument given twice: both must absorb
        for p, k in keep.items():
            forced((p,), k)
        if f.inplace_fwd:  # arguments dying here, in a buffer of their own: the result may take it
            gen.donors = [v[p].buf for p in keep if last.get(p) == pos[n] and not v[p].lazy
                          and v[p].buf is not None and gen.refs[v[p].buf] == 1]
        v[n] = f.fwd(gen, n, [v[p] for p in n.parents], ids[n])
        gen.donors = []
        release(pos[n])

    # -- backward --------------------------------------------------------------------------------
    out_node = graph.output
    param_set = set(params)
    adj: dict[Any, V] = {}
    if out_node.needs_grad:
        adj[out_node] = ONE
    for n in reversed(ops):
        if n not in adj:
            release(2 * N - pos[n])
            continue
        f, ps = rec[n], n.parents
        g = adj.pop(n)
        absorb = f.g_absorbs(n)
        if kinds(g) - absorb:
            g = gen.force(g, keep_scale="scale" in absorb)
        forced(f.uses(n), f.uses_absorb)
        for i, p in enumerate(ps):
            if not p.needs_grad:
                continue
            fresh = p in param_set
            c = f.vjp(gen, n, i, g, [v[q] for q in ps], v[n], fresh)
            if c is None:  # a symbolic zero
                continue
            c = gen.settle(c, v[n].shape if n.primitive.elementwise else None, v[p].shape)
            if fresh and c.shape == v[p].shape and c.shape != () and not c.fresh and not c.lazy:
                if p not in adj:
                    t = gen.tmp()
                    gen.emit(f"{t} = {c.expr}.copy()")
                    gen.drop(c)
                    c = V(t, c.shape, c.dtype, fresh=True)
            if p not in adj:
                adj[p] = c
                continue
            acc = adj[p]
            if acc.lazy and acc.shape != () and acc.shape == np.broadcast_shapes(acc.shape, c.shape):
                acc = adj[p] = gen.force(acc, fresh=fresh)
            if gen.owned_alone(acc) and acc.shape == np.broadcast_shapes(acc.shape, c.shape) and acc.shape != ():
                gen.inplace("+", acc, c)
                gen.drop(c)
            else:
                adj[p] = gen.ew(_ADD(), acc, c, fresh=fresh)
                gen.drop(acc)
                gen.drop(c)
        gen.drop(g)
        release(2 * N - pos[n])
    grads = []
    for p in params:
        if p is out_node:
            grads.append("1.0")
        elif p in adj:
            c = adj[p]
            if c.shape == () and v[p].shape == ():
                grads.append(c.expr)
            else:
                grads.append(gen.expand(c, v[p].shape).expr)
        else:
            grads.append(f"np.zeros_like({v[p].expr})")
    if v[out_node].lazy:
        v[out_node] = gen.force(v[out_node])
    body = gen.lines + [f"    return {v[out_node].expr}, ({', '.join(grads)}{',' if len(grads) == 1 else ''})"]
    head = ["import numpy as np", *gen.imports, "", "",
            f"def make_gradient({', '.join(v[c].expr for c in nodes if c.kind == 'const' and np.ndim(vals[c]))}):",
            "    # work buffers, reused by every call (returned gradients are always fresh arrays)"]
    src = "\n".join(head + gen.pre + ["", f"    def gradient({', '.join(ids[n] for n in leaves)}):"]
                    + ["    " + ln for ln in body] + ["", "    return gradient"]) + "\n"
    return src, consts


def _ADD() -> Fused:
    """The record of ``add``: adjoints are accumulated with it, as the reference sweep does."""
    from ..rules.elementwise import add_p
    return add_p.code["fused"]
