"""Fused, allocation-aware NumPy source for an array graph (used by ``replay.compile_gradient``).

The generated text defines ``make_gradient(<array constants>)``, which allocates a pool of work
buffers once (shapes and dtypes are fixed by the recording) and returns ``gradient(<leaves>)``.
Every array intermediate is written with ``out=`` into a pool buffer chosen by liveness: a buffer is
reused as soon as the value in it is dead (forward values needed by the backward pass stay alive
until their last VJP use).  Adjoints of intermediates accumulate in place when the generated code
owns their buffer alone; broadcasts are never materialised (``mean``'s VJP is the scalar ``g/n``),
and are undone by one ``.sum(axis=...)`` only where the recorded shapes differ.

Gradients returned to the caller are always fresh arrays (never pool buffers), so keeping or mutating
one call's results is safe across later calls.  The pool makes one ``gradient`` function
non-reentrant (not for concurrent use from several threads).  ``generate`` returns None for a
primitive without a template; the caller then uses the generic path.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

_EW = {"add": ("np.add", "+"), "sub": ("np.subtract", "-"), "mul": ("np.multiply", "*"),
       "div": ("np.divide", "/")}
_UN = {"neg": "np.negative", "exp": "np.exp", "log": "np.log", "tanh": "np.tanh", "sqrt": "np.sqrt"}
SUPPORTED = set(_EW) | set(_UN) | {"pow", "sigmoid", "relu", "sum", "mean", "matmul", "softmax_cross_entropy"}


class V(NamedTuple):
    """A value in the generated code: its source text, static shape, dtype and owning buffer."""

    expr: str
    shape: tuple
    dtype: Any
    buf: str | None = None  # pool buffer holding it (None: a leaf, constant, literal or fresh array)
    fresh: bool = False  # a fresh array only this code refers to


def _rt(*vs: V) -> np.dtype:
    return np.result_type(*[float(0) if v.dtype is None else (np.zeros((), v.dtype)[()] if v.shape == ()
                                                             else np.empty(1, v.dtype)) for v in vs])


class _Gen:
    def __init__(self) -> None:
        self.pre: list[str] = []
        self.lines: list[str] = []
        self.free: dict[tuple, list[str]] = {}
        self.refs: dict[str, int] = {}
        self.key: dict[str, tuple] = {}
        self.ntmp = 0

    def tmp(self, base: str = "t") -> str:
        self.ntmp += 1
        return f"{base}{self.ntmp}"

    def alloc(self, shape: tuple, dtype: Any) -> str:
        key = (shape, np.dtype(dtype).str)
        lst = self.free.get(key)
        name = lst.pop() if lst else None
        if name is None:
            name = f"_b{len(self.key)}"
            self.key[name] = key
            self.pre.append(f"    {name} = np.empty({shape!r}, np.{np.dtype(dtype).name})")
        self.refs[name] = 1
        return name

    def hold(self, v: V) -> V:
        if v.buf is not None:
            self.refs[v.buf] += 1
        return v

    def drop(self, v: V | None) -> None:
        if v is not None and v.buf is not None:
            self.refs[v.buf] -= 1
            if self.refs[v.buf] == 0:
                self.free.setdefault(self.key[v.buf], []).append(v.buf)

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    # -- elementwise -----------------------------------------------------------------------------
    def ew(self, name: str, a: V, b: V | None = None, *, fresh: bool = False, out: str | None = None) -> V:
        """One ufunc; scalars use operators, arrays write into a pool buffer (or a fresh array)."""
        args = (a,) if b is None else (a, b)
        if name == "mul" and b is not None:
            if a.expr == "1.0":
                return self.hold(b)
            if b.expr == "1.0":
                return self.hold(a)
        shape = np.broadcast_shapes(*[x.shape for x in args])
        dtype = _rt(*args)
        t = out or self.tmp()
        if shape == ():
            if b is None:
                self.emit(f"{t} = {_UN.get(name, name)}({a.expr})")
            else:
                self.emit(f"{t} = {a.expr} {_EW[name][1]} {b.expr}")
            return V(t, (), dtype)
        fn = _UN[name] if b is None else _EW[name][0]
        call = f"{fn}({', '.join(x.expr for x in args)}"
        if fresh:
            self.emit(f"{t} = {call})")
            return V(t, shape, dtype, fresh=True)
        buf = self.alloc(shape, dtype)
        self.emit(f"{t} = {call}, out={buf})")
        return V(t, shape, dtype, buf)

    def inplace(self, op: str, acc: V, x: V) -> None:
        self.emit(f"{acc.expr} {op}= {x.expr}")

    def owned_alone(self, v: V) -> bool:
        return v.fresh or (v.buf is not None and self.refs[v.buf] == 1)

    def unbroadcast(self, v: V, shape: tuple, *, fresh: bool) -> V:
        """Sum ``v`` down to ``shape``; a smaller broadcastable ``v`` stays lazy (unless ``fresh``)."""
        if v.shape == shape:
            return v
        lead = len(v.shape) - len(shape)
        if lead < 0 or np.prod(v.shape, dtype=int) < np.prod(shape, dtype=int):
            if fresh:
                t = self.tmp()
                self.emit(f"{t} = np.broadcast_to({v.expr}, {shape!r}).copy()")
                self.drop(v)
                return V(t, shape, v.dtype, fresh=True)
            return v
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and v.shape[lead + i] != 1)
        t = self.tmp()
        keep = len(axes) != lead
        expr = f"{v.expr}.sum(axis={axes!r}{', keepdims=True' if keep else ''})"
        if keep and lead:
            expr += f".reshape({shape!r})"
        self.emit(f"{t} = {expr}")
        self.drop(v)
        return V(t, shape, v.dtype, fresh=shape != ())


def _supported(graph: Any, vals: dict) -> bool:
    for n in graph.nodes:
        if n.primitive is None:
            continue
        name, ps = n.primitive.name, n.parents
        if name not in SUPPORTED:
            return False
        if name == "pow" and not (ps[1].kind == "const" and np.ndim(ps[1].value) == 0 and ps[1].value == 2):
            return False
        if name in ("sum", "mean") and n.params.get("keepdims"):
            return False
        if name == "matmul" and not (np.ndim(vals[ps[0]]) == 2 == np.ndim(vals[ps[1]])):
            return False
        if name == "softmax_cross_entropy":
            z, y = vals[ps[0]], vals[ps[1]]
            if ps[1].needs_grad or np.shape(y) != np.shape(z) or n.params.get("axis", -1) not in (-1, np.ndim(z) - 1):
                return False
    return True


def _bwd_uses(n: Any) -> list:
    """Forward values (nodes) the VJP of ``n`` reads, besides the adjoint."""
    name, ps = n.primitive.name, n.parents
    if name in ("mul", "matmul"):
        return [ps[0], ps[1]]
    if name == "div":
        return [ps[1], n]
    if name in ("log", "pow", "relu"):
        return [ps[0]]
    if name == "softmax_cross_entropy":
        return [ps[1]]
    return [n] if name in ("exp", "tanh", "sqrt", "sigmoid") else []


def generate(graph: Any, vals: dict, ids: dict, leaves: list, params: list) -> tuple[str, list] | None:
    """Source of ``make_gradient`` for the shapes in ``vals``, and the constants it takes; or None."""
    if not _supported(graph, vals):
        return None
    gen = _Gen()
    nodes = graph.nodes
    N = len(nodes)
    pos = {n: i for i, n in enumerate(nodes)}
    ops = [n for n in nodes if n.primitive is not None]
    # last use: forward step i = node index; backward step of node n = 2N - index(n)
    last: dict[Any, int] = {}
    for n in ops:
        for p in n.parents:
            last[p] = max(last.get(p, -1), pos[n])
    live = [n for n in ops if n.needs_grad]
    for n in live:
        for p in _bwd_uses(n):
            last[p] = max(last.get(p, -1), 2 * N - pos[n])
        if n.primitive.name == "sigmoid":
            last[("e", n)] = 2 * N - pos[n]
        if n.primitive.name == "softmax_cross_entropy":
            last[("s", n)] = 2 * N - pos[n]
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
    extra: dict[Any, V] = {}

    def release(t: int) -> None:
        for k in dying.get(t, []):
            gen.drop(extra.pop(k) if isinstance(k, tuple) else v.get(k))

    # -- forward ---------------------------------------------------------------------------------
    for n in ops:
        name, a, out = n.primitive.name, [v[p] for p in n.parents], ids[n]
        if name in _EW:
            r = gen.ew(name, a[0], a[1], out=out)
        elif name in _UN:
            r = gen.ew(name, a[0], out=out)
        elif name == "pow":
            r = gen.ew("mul", a[0], a[0], out=out)
        elif name == "relu":
            r = _unary_np(gen, "np.maximum({}, 0)", a[0], out)
        elif name == "sigmoid":
            # e = exp(−z) is kept: σ′ = e·σ² (= σ(z)σ(−z), no 1 − σ cancellation).  −z is capped at
            # 709 so e stays finite: otherwise z < −709 gives e = inf and σ′ = inf·0 = nan (σ is then
            # 1e-308 instead of 0, an absolute difference below the smallest normal float).
            e = gen.ew("neg", a[0], out=f"e_{out}")
            gen.emit(f"np.minimum({e.expr}, 709.0, out={e.expr})" if e.shape else f"{e.expr} = min({e.expr}, 709.0)")
            gen.emit(f"np.exp({e.expr}, out={e.expr})" if e.shape else f"{e.expr} = np.exp({e.expr})")
            r = gen.ew("add", e, V("1.0", (), None), out=out)
            gen.emit(f"np.reciprocal({out}, out={out})" if r.shape else f"{out} = 1.0 / {out}")
            extra[("e", n)] = e
        elif name in ("sum", "mean"):
            ax = n.params.get("axis")
            expr = f"{a[0].expr}.sum({'' if ax is None else f'axis={ax!r}'})"
            if name == "mean":
                cnt = int(np.size(vals[n.parents[0]]) // max(np.size(vals[n]), 1))
                expr += f" / {cnt}"
            gen.emit(f"{out} = {expr}")
            r = V(out, np.shape(vals[n]), np.result_type(vals[n]), fresh=True)
        elif name == "matmul":
            shape = (a[0].shape[0], a[1].shape[1])
            buf = gen.alloc(shape, np.result_type(vals[n]))
            gen.emit(f"{out} = np.matmul({a[0].expr}, {a[1].expr}, out={buf})")
            r = V(out, shape, np.result_type(vals[n]), buf)
        else:  # softmax cross-entropy on the last axis, as losses._sce_impl
            z, y = a
            s = gen.alloc(z.shape, z.dtype)
            gen.emit(f"s_{out} = np.subtract({z.expr}, {z.expr}.max(axis=-1, keepdims=True), out={s})")
            gen.emit(f"s_{out} -= np.log(np.exp(s_{out}).sum(axis=-1, keepdims=True))")
            extra[("s", n)] = V(f"s_{out}", z.shape, z.dtype, s)
            t = gen.alloc(z.shape, z.dtype)
            gen.emit(f"{out} = -np.multiply(s_{out}, {y.expr}, out={t}).sum(axis=-1)")
            gen.refs[t] = 1
            gen.drop(V(t, z.shape, z.dtype, t))
            r = V(out, np.shape(vals[n]), np.result_type(vals[n]), fresh=True)
        v[n] = r
        release(pos[n])

    # -- backward --------------------------------------------------------------------------------
    out_node = graph.output
    param_set = set(params)
    adj: dict[Any, V] = {}
    if out_node.needs_grad:
        adj[out_node] = V("1.0", (), None)
    for n in reversed(ops):
        if n not in adj:
            release(2 * N - pos[n])
            continue
        g = adj.pop(n)
        name, ps = n.primitive.name, n.parents
        for i, p in enumerate(ps):
            if not p.needs_grad:
                continue
            fresh = p in param_set
            c = _vjp(gen, name, i, g, [v[q] for q in ps], v[n], extra, n, vals, fresh)
            c = gen.unbroadcast(c, v[p].shape, fresh=False)
            if fresh and c.shape == v[p].shape and c.shape != () and not c.fresh:
                if p not in adj:
                    t = gen.tmp()
                    gen.emit(f"{t} = {c.expr}.copy()")
                    gen.drop(c)
                    c = V(t, c.shape, c.dtype, fresh=True)
            if p not in adj:
                adj[p] = c
                continue
            acc = adj[p]
            if gen.owned_alone(acc) and acc.shape == np.broadcast_shapes(acc.shape, c.shape) and acc.shape != ():
                gen.inplace("+", acc, c)
                gen.drop(c)
            else:
                adj[p] = gen.ew("add", acc, c, fresh=fresh)
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
            if c.shape != v[p].shape:
                c = gen.unbroadcast(c, v[p].shape, fresh=True)
            elif c.buf is not None or (c.shape and not c.fresh):
                c = V(f"{c.expr}.copy()", c.shape, c.dtype)
            grads.append(c.expr)
        else:
            grads.append(f"np.zeros_like({v[p].expr})")
    sig = any(n.primitive.name == "sigmoid" for n in ops)
    body = gen.lines + [f"    return {v[out_node].expr}, ({', '.join(grads)}{',' if len(grads) == 1 else ''})"]
    if sig:  # exp(−z) = inf for z ≪ 0 gives the right limit σ = 0
        body = ["    with np.errstate(over='ignore'):"] + ["    " + ln for ln in body]
    head = ["import numpy as np", "", "",
            f"def make_gradient({', '.join(v[c].expr for c in nodes if c.kind == 'const' and np.ndim(vals[c]))}):",
            "    # work buffers, reused by every call (returned gradients are always fresh arrays)"]
    src = "\n".join(head + gen.pre + ["", f"    def gradient({', '.join(ids[n] for n in leaves)}):"]
                    + ["    " + ln for ln in body] + ["", "    return gradient"]) + "\n"
    return src, consts


def _unary_np(gen: _Gen, tmpl: str, a: V, out: str) -> V:
    if a.shape == ():
        gen.emit(f"{out} = {tmpl.format(a.expr)}")
        return V(out, (), a.dtype)
    buf = gen.alloc(a.shape, a.dtype)
    gen.emit(f"{out} = {tmpl.format(a.expr)[:-1]}, out={buf})")
    return V(out, a.shape, a.dtype, buf)


def _vjp(gen: _Gen, name: str, i: int, g: V, a: list[V], ans: V, extra: dict, n: Any, vals: dict,
         fresh: bool) -> V:
    """One VJP contribution as NumPy statements; returns the (possibly lazy, unreduced) value."""
    one = V("1.0", (), None)
    if name == "add" or (name == "sub" and i == 0):
        return gen.hold(g)
    if name == "neg" or (name == "sub" and i == 1):
        return gen.ew("neg", g)
    if name == "mul":
        return gen.ew("mul", g, a[1 - i])
    if name == "div":
        if i == 0:
            return gen.ew("div", g, a[1])
        t = gen.ew("mul", g, ans)
        r = gen.ew("div", t, a[1])
        gen.drop(t)
        return gen.ew("neg", r, out=r.expr) if r.buf is None else _neg_inplace(gen, r)
    if name == "exp":
        return gen.ew("mul", g, ans)
    if name == "log":
        return gen.ew("div", g, a[0])
    if name == "sqrt":
        t = gen.ew("div", V("0.5", (), None), ans)
        r = gen.ew("mul", g, t)
        gen.drop(t)
        return r
    if name == "tanh":
        t = gen.ew("mul", ans, ans)
        u = gen.ew("sub", one, t)
        gen.drop(t)
        r = gen.ew("mul", g, u)
        gen.drop(u)
        return r
    if name == "pow":
        t = gen.ew("mul", a[0], V("2.0", (), None))
        if g.expr == "1.0":
            return t
        if t.buf is not None and np.broadcast_shapes(t.shape, g.shape) == t.shape:
            gen.inplace("*", t, g)
            return t
        r = gen.ew("mul", g, t)
        gen.drop(t)
        return r
    if name == "sigmoid":
        e = extra[("e", n)]
        t = gen.ew("mul", e, ans)
        if t.buf is not None:
            gen.inplace("*", t, ans)
            if g.expr != "1.0":
                gen.inplace("*", t, g)
            return t
        r = gen.ew("mul", gen.ew("mul", t, ans), g)
        return r
    if name == "relu":
        t = gen.tmp()
        gen.emit(f"{t} = {a[0].expr} > 0")
        return gen.ew("mul", g, V(t, a[0].shape, np.dtype(bool)))
    if name in ("sum", "mean"):
        r = g
        if name == "mean":
            cnt = int(np.size(vals[n.parents[0]]) // max(np.size(vals[n]), 1))
            r = gen.ew("div", g, V(f"{cnt}.0", (), None))
        else:
            gen.hold(r)
        ax = n.params.get("axis")
        if ax is not None and r.shape != ():
            kept = tuple(1 if k in ax else s for k, s in enumerate(a[0].shape))
            return V(f"{r.expr}.reshape({kept!r})", kept, r.dtype, r.buf, r.fresh)
        return r
    if name == "matmul":
        G = g if g.shape == ans.shape else V(f"np.broadcast_to({g.expr}, {ans.shape!r})", ans.shape, ans.dtype)
        dt = np.result_type(vals[n])
        if i == 0:
            shape, expr = a[0].shape, f"np.matmul({G.expr}, {a[1].expr}.T"
        else:
            shape, expr = a[1].shape, f"np.matmul({a[0].expr}.T, {G.expr}"
        t = gen.tmp()
        if fresh:
            gen.emit(f"{t} = {expr})")
            return V(t, shape, dt, fresh=True)
        buf = gen.alloc(shape, dt)
        gen.emit(f"{t} = {expr}, out={buf})")
        return V(t, shape, dt, buf)
    # softmax cross-entropy wrt the logits: (softmax(z) − y)·g, in one buffer
    s, y = extra[("s", n)], a[1]
    buf = gen.alloc(s.shape, s.dtype)
    t = gen.tmp()
    gen.emit(f"{t} = np.exp({s.expr}, out={buf})")
    gen.emit(f"{t} -= {y.expr}")
    if g.expr != "1.0":
        gen.emit(f"{t} *= {g.expr if g.shape == () else f'np.expand_dims({g.expr}, -1)'}")
    return V(t, s.shape, s.dtype, buf)


def _neg_inplace(gen: _Gen, r: V) -> V:
    gen.emit(f"np.negative({r.expr}, out={r.expr})")
    return r
