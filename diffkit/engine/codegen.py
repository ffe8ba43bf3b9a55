"""Fused, allocation-aware NumPy source for an array graph (used by ``replay.compile_gradient``).

The generated text defines ``make_gradient(<array constants>)``, which allocates a pool of work
buffers once (shapes and dtypes are fixed by the recording) and returns ``gradient(<leaves>)``.
Every array intermediate is written with ``out=`` into a pool buffer chosen by liveness: a buffer is
reused as soon as the value in it is dead (forward values needed by the backward pass stay alive
until their last VJP use).  Adjoints of intermediates accumulate in place when the generated code
owns their buffer alone; broadcasts are never materialised (``mean``'s VJP is the scalar ``g/n``),
and are undone by one ``.sum(axis=...)`` only where the recorded shapes differ.

Peepholes (general, not tied to one graph) rest on two kinds of *lazy* values (``V.lazy``) whose
array pass is deferred until a consumer needs the array itself (``_Gen.force``):

* a scaled array ``base * scale`` (``scale`` a scalar expression): chains of array·scalar,
  array/scalar, −array and scalar·array fold into one scalar expression, so they cost one pass when
  materialised (``np.multiply(base, scale, out=...)``) — or none when the consumer is a full
  reduction (the scalar moves outside: ``s * a.sum()``), a product (``(a·s)(b·r) = (ab)·(sr)``) or a
  sigmoid VJP (the scale rides on the result);
* a product of two same-shape, same-dtype 1-D arrays: a full reduction of it is ``np.dot(a, b)``
  (one read of each, no write), in the forward pass (``mean(0.5*(y-u)**2)``) and in unbroadcasting
  adjoints (``sum(g*x)``);
* one scalar shift of a (scaled) array, ``base·scale + offset``: materialising it is the same
  ``multiply`` + ``add`` as before, but a negation of it is free (−(a·s + c) = a·(−s) + (−c)
  exactly), so σ's ``exp(−(w·x + b))`` writes two passes fewer.  Only negation passes through an
  offset: scaling ``(a + c)·s`` into ``a·s + c·s``, or merging two shifts, is not exact under
  cancellation, so those materialise first.

Reassociating scalar factors (``(a·s)·r = a·(s·r)``) changes rounding by an ulp or two, never more
(no cancellation in products); results stay within 1e-12 relative of the eager engine.

A lazy value's ``expr`` is the invalid text ``<lazy>``, so a consumer that forgot to ``force`` it fails
loudly (SyntaxError) instead of silently dropping the scale.  Forcing replaces the stored value (the
forward dict, the adjoint) so it happens once however many consumers follow.

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
    scale: str | None = None  # lazy: the value is base·scale (scale a scalar expression)
    prod: tuple | None = None  # lazy: the value is prod[0]·prod[1] (two non-lazy 1-D arrays)
    base: str | None = None  # the unscaled array's expression (scale-lazy, not product-lazy)
    offset: str | None = None  # lazy: the value is base·scale + offset (never with ``prod``)

    @property
    def lazy(self) -> bool:
        return self.scale is not None or self.prod is not None or self.offset is not None


_LAZY = "<lazy>"


def _combine(sc: str | None, op: str, s: str | None) -> str:
    """Scale expression of (base·sc) op s; op in mul, div, neg."""
    if op == "neg":
        return "-1.0" if sc is None else f"(-{sc})"
    if op == "div":
        s = f"(1.0 / {s})"
    return s if sc is None else f"({sc} * {s})"


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
        if v.prod is not None:
            for x in v.prod:
                self.hold(x)
        elif v.buf is not None:
            self.refs[v.buf] += 1
        return v

    def drop(self, v: V | None) -> None:
        if v is not None and v.prod is not None:
            for x in v.prod:
                self.drop(x)
        elif v is not None and v.buf is not None:
            self.refs[v.buf] -= 1
            if self.refs[v.buf] == 0:
                self.free.setdefault(self.key[v.buf], []).append(v.buf)

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    # -- elementwise -----------------------------------------------------------------------------
    def scaled(self, x: V, op: str, s: str | None) -> V:
        """Lazy (x op s) for an array x (held, not written): the scale folds into one expression."""
        if x.offset is not None and op != "neg":  # (a + c)·s ≠ a·s + c·s under cancellation
            y = self.force(self.hold(x))
            r = self.scaled(y, op, s)
            self.drop(y)
            return r
        self.hold(x)
        base = x.base if x.lazy and x.prod is None else (None if x.prod is not None else x.expr)
        off = None if x.offset is None else f"(-{x.offset})"
        return V(_LAZY, x.shape, x.dtype, x.buf, False, _combine(x.scale, op, s), x.prod, base, off)

    def shifted(self, x: V, op: str, s: str, swap: bool) -> V:
        """Lazy x + s, x − s, or (``swap``) s + x, s − x, for a scaled or plain array x."""
        if x.offset is not None or x.prod is not None:  # one shift only, and none of a product
            y = self.force(self.hold(x))
            r = self.shifted(y, op, s, swap)
            self.drop(y)
            return r
        y = self.scaled(x, "neg", None) if swap and op == "sub" else \
            self.hold(x)._replace(expr=_LAZY, base=x.base if x.lazy else x.expr, fresh=False)
        return y._replace(offset=s if op == "add" or swap else f"(-{s})")

    def force(self, v: V, *, fresh: bool = False, keep_scale: bool = False, out: str | None = None) -> V:
        """Materialise a lazy value (taking over its references); ``keep_scale`` leaves a scale lazy."""
        if v.prod is not None:
            (a, b), t = v.prod, out or self.tmp()
            if fresh:
                self.emit(f"{t} = np.multiply({a.expr}, {b.expr})")
                r = V(t, v.shape, v.dtype, fresh=True)
            else:
                buf = self.alloc(v.shape, v.dtype)
                self.emit(f"{t} = np.multiply({a.expr}, {b.expr}, out={buf})")
                r = V(t, v.shape, v.dtype, buf)
            self.drop(a)
            self.drop(b)
            if v.scale is None:
                return r
            if keep_scale:  # the new buffer's reference passes to the scaled view
                return r._replace(expr=_LAZY, scale=v.scale, base=t, fresh=False)
            self.emit(f"{t} *= {v.scale}")  # (a·b)·s: a product and a scale are two passes anyway
            return r
        if not v.lazy or (keep_scale and v.offset is None):
            return v
        t = out or self.tmp()
        sc, off, post = v.scale, v.offset, None
        if off is None:
            call = f"np.negative({v.base}" if sc == "-1.0" else f"np.multiply({v.base}, {sc}"
        elif sc is None:
            call = f"np.add({v.base}, {off}"
        elif sc == "-1.0":
            call = f"np.subtract({off}, {v.base}"
        else:  # a·s + c: the same two passes as the recorded multiply and add
            call, post = f"np.multiply({v.base}, {sc}", f"{t} += {off}"
        if fresh:
            self.emit(f"{t} = {call})")
            self.drop(v)
            r = V(t, v.shape, v.dtype, fresh=True)
        elif v.buf is not None and self.refs[v.buf] == 1:  # nobody else reads the base: in place
            self.emit(f"{t} = {call}, out={v.buf})")
            r = V(t, v.shape, v.dtype, v.buf)
        else:
            buf = self.alloc(v.shape, v.dtype)
            self.emit(f"{t} = {call}, out={buf})")
            self.drop(v)
            r = V(t, v.shape, v.dtype, buf)
        if post:
            self.emit(post)
        return r

    def _lazy(self, name: str, a: V, b: V | None, shape: tuple, dtype: Any) -> V | None:
        """The lazy form of a scalar scaling or a 1-D product, when one applies (no dtype change)."""
        if name == "neg":
            return self.scaled(a, "neg", None) if dtype == a.dtype else None
        if b is not None and name in ("add", "sub"):
            if b.shape == () and dtype == a.dtype:
                return self.shifted(a, name, b.expr, False)
            if a.shape == () and dtype == b.dtype:
                return self.shifted(b, name, a.expr, True)
            return None
        if b is None or name not in ("mul", "div"):
            return None
        if b.shape == () and dtype == a.dtype:  # a·s, a/s
            return self.scaled(a, name, b.expr)
        if name == "mul" and a.shape == () and dtype == b.dtype:  # s·b
            return self.scaled(b, "mul", a.expr)
        if (name == "mul" and a.shape == b.shape and len(shape) == 1 and a.dtype == b.dtype == dtype
                and a.prod is None and b.prod is None and a.offset is None and b.offset is None):
            ops = []
            for x in (a, b):
                ops.append(self.hold(x if x.scale is None else V(x.base, x.shape, x.dtype, x.buf)))
            sc = a.scale if b.scale is None else b.scale if a.scale is None else f"({a.scale} * {b.scale})"
            return V(_LAZY, shape, dtype, None, False, sc, tuple(ops))
        return None

    def ew(self, name: str, a: V, b: V | None = None, *, fresh: bool = False, out: str | None = None,
           lazy: bool = True) -> V:
        """One ufunc; scalars use operators, arrays write into a pool buffer (or a fresh array).

        Scalings and 1-D products come back lazy (unless ``lazy=False``: then materialised in one
        pass); any other lazy operand is materialised into a temporary for this one ufunc."""
        args = (a,) if b is None else (a, b)
        if name == "mul" and b is not None and lazy:
            if a.expr == "1.0":
                return self.hold(b)
            if b.expr == "1.0":
                return self.hold(a)
        shape = np.broadcast_shapes(*[x.shape for x in args])
        dtype = _rt(*args)
        if shape != () and not fresh:
            r = self._lazy(name, a, b, shape, dtype)
            if r is not None:
                return r if lazy else self.force(r, out=out)
        tmps = [self.force(self.hold(x)) for x in args]
        try:
            return self._ew(name, tmps, shape, dtype, fresh, out)
        finally:
            for x in tmps:
                self.drop(x)

    def _ew(self, name: str, args: list, shape: tuple, dtype: Any, fresh: bool, out: str | None) -> V:
        a, b = args[0], (args[1] if len(args) > 1 else None)
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
        assert not acc.lazy
        x = self.force(self.hold(x))
        self.emit(f"{acc.expr} {op}= {x.expr}")
        self.drop(x)

    def owned_alone(self, v: V) -> bool:
        return not v.lazy and (v.fresh or (v.buf is not None and self.refs[v.buf] == 1))

    def unbroadcast(self, v: V, shape: tuple, *, fresh: bool) -> V:
        """Sum ``v`` down to ``shape``; a smaller broadcastable ``v`` stays lazy (unless ``fresh``)."""
        if v.shape == shape:
            return v
        lead = len(v.shape) - len(shape)
        if lead < 0 or np.prod(v.shape, dtype=int) < np.prod(shape, dtype=int):
            if fresh:
                v = self.force(v)
                t = self.tmp()
                self.emit(f"{t} = np.broadcast_to({v.expr}, {shape!r}).copy()")
                self.drop(v)
                return V(t, shape, v.dtype, fresh=True)
            return v
        t = self.tmp()
        if v.prod is not None and shape == () and len(v.shape) == 1:
            # sum(a·b) of 1-D arrays is a dot product: no product array is written at all
            expr = f"np.dot({v.prod[0].expr}, {v.prod[1].expr})"
            self.emit(f"{t} = {expr}" if v.scale is None else f"{t} = {v.scale} * {expr}")
            self.drop(v)
            return V(t, shape, v.dtype)
        v = self.force(v, keep_scale=True)  # a scale is applied to the (smaller) reduced result
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and v.shape[lead + i] != 1)
        keep = len(axes) != lead
        expr = f"{v.expr if v.scale is None else v.base}.sum(axis={axes!r}{', keepdims=True' if keep else ''})"
        if keep and lead:
            expr += f".reshape({shape!r})"
        self.emit(f"{t} = {expr}")
        if v.scale is not None:
            self.emit(f"{t} = {v.scale} * {t}" if shape == () else f"{t} *= {v.scale}")
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
    if name in ("mul", "matmul"):  # operand j is read only for the other operand's adjoint
        return [ps[1 - i] for i in (0, 1) if ps[i].needs_grad]
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

    def forced(ps: Any, keep: tuple = ()) -> None:
        """Materialise lazy stored values once, in place in ``v`` (the stored value owns the refs),
        unless the consumer absorbs their kind of laziness (``keep``: scale, prod, offset)."""
        for p in dict.fromkeys(ps):
            x = v[p]
            if ((x.prod is not None and "prod" not in keep) or (x.offset is not None and "offset" not in keep)
                    or (x.scale is not None and "scale" not in keep)):
                v[p] = gen.force(x, keep_scale="scale" in keep)

    # -- forward ---------------------------------------------------------------------------------
    for n in ops:
        name = n.primitive.name
        arrays = [p for p in n.parents if v[p].shape != ()]
        if name == "pow" or name in ("mul", "div") and len(arrays) == 2:
            forced(arrays, ("scale",))  # scales fold into the product; a nested product is written
            if name == "div":
                forced(n.parents[1:])
        elif name == "div" and v[n.parents[1]].shape != ():
            forced(n.parents)  # s / a: the divisor is written
        elif name in ("mul", "div"):
            forced(arrays, ("scale", "prod"))
        elif name in ("add", "sub") and len(arrays) == 1:
            forced(arrays, ("scale", "offset"))
        elif name in ("sum", "mean") and n.params.get("axis") is None:
            forced(n.parents, ("scale", "prod") if len(v[n.parents[0]].shape) == 1 else ("scale",))
        elif name == "sigmoid" and last.get(n.parents[0]) == pos[n]:
            pass  # its only reader: −z is written in one go (a lazy affine z costs no extra pass)
        elif name != "neg":
            forced(n.parents)
        a, out = [v[p] for p in n.parents], ids[n]
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
            e = gen.ew("neg", a[0], out=f"e_{out}", lazy=False)
            gen.emit(f"np.minimum({e.expr}, 709.0, out={e.expr})" if e.shape else f"{e.expr} = min({e.expr}, 709.0)")
            gen.emit(f"np.exp({e.expr}, out={e.expr})" if e.shape else f"{e.expr} = np.exp({e.expr})")
            r = gen.ew("add", e, V("1.0", (), None), out=out, lazy=False)
            gen.emit(f"np.reciprocal({out}, out={out})" if r.shape else f"{out} = 1.0 / {out}")
            extra[("e", n)] = e
        elif name in ("sum", "mean"):
            ax, x = n.params.get("axis"), a[0]
            assert x.offset is None
            if x.prod is not None:  # a full sum of a 1-D product is a dot product (no product array)
                expr = f"np.dot({x.prod[0].expr}, {x.prod[1].expr})"
            else:
                expr = f"{x.expr if x.scale is None else x.base}.sum({'' if ax is None else f'axis={ax!r}'})"
            if x.scale is not None:  # the scale leaves the sum: one scalar product, no array pass
                expr = f"{x.scale} * {expr}"
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
        if g.lazy and (name in ("matmul", "softmax_cross_entropy") or
                       (name in ("sum", "mean") and n.params.get("axis") is not None)):
            g = gen.force(g)
        elif g.offset is not None and name not in ("add", "sub", "neg"):
            g = gen.force(g)
        elif g.prod is not None and name not in ("add", "sub", "neg", "sum", "mean"):
            g = gen.force(g, keep_scale=True)  # several VJP terms may read it: write the product once
        if name in ("mul", "pow"):
            forced([q for q in _bwd_uses(n) if v[q].shape != ()], ("scale",))
        else:
            forced(_bwd_uses(n))
        for i, p in enumerate(ps):
            if not p.needs_grad:
                continue
            fresh = p in param_set
            c = _vjp(gen, name, i, g, [v[q] for q in ps], v[n], extra, n, vals, fresh)
            c = gen.unbroadcast(c, v[p].shape, fresh=False)
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
            elif c.lazy:
                c = gen.force(c, fresh=True)
            elif c.buf is not None or (c.shape and not c.fresh):
                c = V(f"{c.expr}.copy()", c.shape, c.dtype)
            grads.append(c.expr)
        else:
            grads.append(f"np.zeros_like({v[p].expr})")
    if v[out_node].lazy:
        v[out_node] = gen.force(v[out_node])
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
        if r.shape == () or r.lazy or r.buf is None:
            q = gen.ew("neg", r)  # lazy for arrays: the sign joins the scale
            gen.drop(r)
            return q
        return _neg_inplace(gen, r)
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
        t = gen.ew("mul", a[0], V("2.0", (), None))  # lazy: 2·x·g is one pass or a dot product
        if g.expr == "1.0":
            return t
        if t.lazy and g.shape != () and t.shape != g.shape:  # broadcast product: write it once
            t = gen.force(t, keep_scale=True)
        if not t.lazy and t.buf is not None and np.broadcast_shapes(t.shape, g.shape) == t.shape:
            gen.inplace("*", t, g)
            return t
        r = gen.ew("mul", t, g)
        gen.drop(t)
        return r
    if name == "sigmoid":
        e = extra[("e", n)]
        if ans.shape == ():
            t = gen.ew("mul", e, ans)
            return gen.ew("mul", gen.ew("mul", t, ans), g)
        # e·σ·σ·g in one buffer; a scalar or lazy scale of g stays a lazy scale of the result
        buf = gen.alloc(ans.shape, ans.dtype)
        t = gen.tmp()
        gen.emit(f"{t} = np.multiply({e.expr}, {ans.expr}, out={buf})")
        gen.emit(f"{t} *= {ans.expr}")
        r = V(t, ans.shape, ans.dtype, buf)
        if g.expr == "1.0":
            return r
        if g.shape == ():
            q = gen.scaled(r, "mul", g.expr)  # hold the buffer before letting go of r
            gen.drop(r)
            return q
        if g.shape != ans.shape or g.prod is not None or g.offset is not None:
            g = gen.force(gen.hold(g))
            gen.inplace("*", r, g)
            gen.drop(g)
            return r
        gen.emit(f"{t} *= {g.expr if g.scale is None else g.base}")
        if g.scale is None:
            return r
        q = gen.scaled(r, "mul", g.scale)
        gen.drop(r)
        return q
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
            r = gen.force(r)
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
