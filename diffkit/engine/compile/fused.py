"""What the fused NumPy code generator is made of: values, the buffer pool, the lazy algebra, and
the emitter record (:class:`Fused`) a primitive carries as ``code["fused"]``.

A primitive says how it is written — its forward statement, its VJP statements, which forward
values its VJP reads — in its own rules module, next to its implementation and VJP rule; the
generator (``codegen.generate``) only walks the graph, tracks liveness and calls the records.

A :class:`V` is a value of the generated code: source text, static shape and dtype, and the pool
buffer holding it.  :class:`Gen` hands out pool buffers by liveness and folds cheap operations
into *lazy* values (``V.lazy``) whose array pass is deferred until a consumer needs the array:

* a scaled array ``base * scale`` (``scale`` a scalar expression): chains of array·scalar,
  array/scalar, −array and scalar·array fold into one scalar expression, so they cost one pass when
  materialised (``np.multiply(base, scale, out=...)``) — or none when the consumer is a full
  reduction (the scalar moves outside: ``s * a.sum()``), a product (``(a·s)(b·r) = (ab)·(sr)``) or
  a VJP that lets the scale ride on its result;
* a product of two same-shape, same-dtype 1-D arrays: a full reduction of it is ``np.dot(a, b)``
  (one read of each, no write), in the forward pass (``mean(0.5*(y-u)**2)``) and in unbroadcasting
  adjoints (``sum(g*x)``);
* one scalar shift of a (scaled) array, ``base·scale + offset``: materialising it is the same
  ``multiply`` + ``add`` as the recorded operations, but a negation of it is free
  (−(a·s + c) = a·(−s) + (−c) exactly).  Only negation passes through an offset: scaling
  ``(a + c)·s`` into ``a·s + c·s``, or merging two shifts, is not exact under cancellation, so
  those materialise first.

Which rewrite applies is decided by the records' :attr:`Ufunc.algebra` (``"times"``, ``"over"``,
``"negated"``, ``"plus"``, ``"minus"``), never by a primitive's name.  Reassociating scalar
factors (``(a·s)·r = a·(s·r)``) changes rounding by an ulp or two, never more (no cancellation in
products).

A lazy value's ``expr`` is the invalid text ``<lazy>``, so an emitter that forgot to materialise
one fails loudly (SyntaxError) instead of silently dropping the scale.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from ..broadcasting import settle_plan

__all__ = ["V", "Gen", "Fused", "Ufunc", "ONE", "lit", "ALL", "kinds"]

#: The lazy kinds of a value (see the module docstring).
ALL = frozenset({"scale", "prod", "offset"})


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


def kinds(v: V) -> frozenset:
    """The lazy kinds present in ``v`` (empty for a materialised value)."""
    return frozenset(k for k, x in (("scale", v.scale), ("prod", v.prod), ("offset", v.offset)) if x is not None)


def lit(text: str) -> V:
    """A Python-float literal (or scalar expression) of the generated code."""
    return V(text, (), None)


ONE = lit("1.0")
_LAZY = "<lazy>"


def _combine(sc: str | None, op: str, s: str | None) -> str:
    """Scale expression of (base·sc) op s; op in times, over, negated."""
    if op == "negated":
        return "-1.0" if sc is None else f"(-{sc})"
    if op == "over":
        s = f"(1.0 / {s})"
    return s if sc is None else f"({sc} * {s})"


def result_type(*vs: V) -> np.dtype:
    """NumPy's result dtype of an elementwise operation on ``vs`` (Python floats are weak)."""
    return np.result_type(*[float(0) if v.dtype is None else (np.zeros((), v.dtype)[()] if v.shape == ()
                                                             else np.empty(1, v.dtype)) for v in vs])


# -- emitter records -------------------------------------------------------------------------------
def _no_uses(node: Any) -> list:
    return []


def _always(node: Any, vals: Any) -> bool:
    return True


class Fused:
    """How the fused generator writes one primitive: the ``code["fused"]`` entry of its record.

    The generator calls, for a node ``n`` whose arguments are the values ``a`` (list of :class:`V`):

    Parameters
    ----------
    fwd : callable ``fwd(gen, n, a, out) -> V``
        Emit the forward statement(s); the result is named ``out``.  ``a`` are materialised except
        for the lazy kinds ``absorbs`` lets through.
    vjp : callable ``vjp(gen, n, i, g, a, ans, fresh) -> V``
        Emit argument ``i``'s contribution for the adjoint ``g`` (lazy only in ``g_absorbs``'s
        kinds).  It may be lazy, lazily broadcast or unreduced: the generator sums it down to the
        argument's shape.  ``fresh``: the argument is a returned gradient (prefer a fresh array
        to a pool buffer, saving a copy).  A value the emitter made and does not return is dropped
        (``gen.drop``); a value it returns it holds (``gen.hold`` when it returns an input as is).
    uses : callable ``uses(n) -> list of nodes``
        The forward values (``n`` itself or its parents) the VJP reads: kept alive until then.
    supports : callable ``supports(n, vals) -> bool``
        Whether this node (its parameters, shapes in ``vals``) can be written; else the whole graph
        takes replay's generic path.
    absorbs : callable ``absorbs(n, a) -> per-argument tuple of lazy kinds``
        Kinds the forward emission takes as they are (the others are materialised once, in place).
    g_absorbs : frozenset or callable ``g_absorbs(n) -> frozenset``
        Lazy kinds of the adjoint the VJP takes (default: a scale).
    uses_absorb : tuple
        Lazy kinds the values in ``uses`` may keep for the VJP (default: none).
    residuals : tuple of str
        Names of extra values ``fwd`` keeps with ``gen.save(n, name, v)`` for the VJP
        (``gen.saved(n, name)``); the generator frees them after the node's VJP.
    inplace_fwd : bool
        ``fwd`` writes its result with :meth:`Gen.write` or :meth:`Gen.out_buffer` only after it has
        read its arguments elementwise, so the result may go into the buffer of an argument that
        dies at this node (as NumPy does with temporaries).  Default False; every :class:`Ufunc`.
    cases : callable ``cases(rng) -> [(args, params, constant argnums), ...]``, optional
        Points this entry covers, when the record's own points do not reach it (e.g. ``pow``
        only with the constant exponent 2): ``tests/engine/test_backends.py`` replays them.
    """

    def __init__(self, fwd: Callable, vjp: Callable, *, uses: Callable = _no_uses, supports: Callable = _always,
                 absorbs: Callable | None = None, g_absorbs: frozenset | Callable = frozenset({"scale"}),
                 uses_absorb: tuple = (), residuals: Sequence[str] = (), cases: Callable | None = None,
                 inplace_fwd: bool = False) -> None:
        self.fwd, self.vjp, self.uses, self.supports, self.cases = fwd, vjp, uses, supports, cases
        self.inplace_fwd = inplace_fwd
        if absorbs is not None:
            self.absorbs = absorbs
        self._g_absorbs = g_absorbs
        self.uses_absorb, self.residuals = tuple(uses_absorb), tuple(residuals)

    def absorbs(self, n: Any, a: list) -> list:
        return [()] * len(a)

    def g_absorbs(self, n: Any) -> frozenset:
        g = self._g_absorbs
        return g(n) if callable(g) else g


class Ufunc(Fused):
    """The fused entry of an elementwise primitive that is one NumPy ufunc (``np.add``, ``np.exp``).

    Parameters
    ----------
    ufunc : str
        The ufunc in the generated code (it takes ``out=``).
    vjp, uses, uses_absorb : see :class:`Fused`
    infix : str, optional
        The Python operator for scalar operands of a binary ufunc (``"+"``).
    algebra : {"times", "over", "negated", "plus", "minus"}, optional
        Which operation of the lazy algebra the ufunc is: its scalar operands then fold into lazy
        scales and shifts (see the module docstring).
    """

    def __init__(self, ufunc: str, vjp: Callable, *, infix: str | None = None, algebra: str | None = None,
                 uses: Callable = _no_uses, uses_absorb: tuple = (), g_absorbs: frozenset | Callable | None = None,
                 supports: Callable = _always) -> None:
        if algebra not in (None, "times", "over", "negated", "plus", "minus"):
            raise ValueError(f"unknown algebra {algebra!r}")
        if g_absorbs is None:
            g_absorbs = ALL if algebra in ("negated", "plus", "minus") else frozenset({"scale"})
        super().__init__(self._fwd, vjp, uses=uses, supports=supports, g_absorbs=g_absorbs, uses_absorb=uses_absorb,
                         cases=None, inplace_fwd=True)
        self.ufunc, self.infix, self.algebra = ufunc, infix, algebra

    def _fwd(self, gen: "Gen", n: Any, a: list, out: str) -> V:
        return gen.ew(self, *a, out=out)

    def absorbs(self, n: Any, a: list) -> list:
        alg, arrays = self.algebra, [x.shape != () for x in a]
        if alg == "negated":
            return [ALL]
        if alg in ("times", "over") and len(a) == 2:
            if all(arrays):  # scales fold into the product; a nested product is written
                return [("scale",), () if alg == "over" else ("scale",)]
            if alg == "over" and arrays[1]:  # s / a: the divisor is written
                return [(), ()]
            return [("scale", "prod")] * 2
        if alg in ("plus", "minus") and sum(arrays) == 1:
            return [("scale", "offset")] * 2
        return [()] * len(a)


# -- the generator's state -------------------------------------------------------------------------
class Gen:
    """The generated statements, the buffer pool (by liveness) and the lazy algebra."""

    def __init__(self) -> None:
        self.pre: list[str] = []
        self.lines: list[str] = []
        self.imports: dict[str, None] = {}
        self.free: dict[tuple, list[str]] = {}
        self.refs: dict[str, int] = {}
        self.key: dict[str, tuple] = {}
        self.extra: dict[tuple, V] = {}
        self.donors: list[str] = []  # buffers of arguments dying at the node being written (see write)
        self.ntmp = 0

    # -- names, buffers, statements --------------------------------------------------------------
    def tmp(self, base: str = "t") -> str:
        self.ntmp += 1
        return f"{base}{self.ntmp}"

    def require(self, line: str) -> None:
        """An import the generated module needs (e.g. ``from diffkit import stable as _stable``)."""
        self.imports[line] = None

    def alloc(self, shape: tuple, dtype: Any) -> str:
        """A pool buffer for a new value (reference count 1)."""
        key = (shape, np.dtype(dtype).str)
        lst = self.free.get(key)
        name = lst.pop() if lst else None
        if name is None:
            name = f"_b{len(self.key)}"
            self.key[name] = key
            self.pre.append(f"    {name} = np.empty({shape!r}, np.{np.dtype(dtype).name})")
        self.refs[name] = 1
        return name

    def out_buffer(self, shape: tuple, dtype: Any) -> str:
        """The buffer for a node's result: a donor of that shape and dtype (an argument's buffer that
        nobody reads after this node, set by the generator for ``inplace_fwd`` entries), else a
        new pool buffer.  A donated buffer gets one more reference: the dying argument lets go of
        its own when the generator releases it after the node."""
        key = (shape, np.dtype(dtype).str)
        for name in self.donors:
            if self.key[name] == key:
                self.donors.remove(name)
                self.refs[name] += 1
                return name
        return self.alloc(shape, dtype)

    def steal(self, v: V) -> str | None:
        """``v``'s buffer for a new value, when ``v`` is materialised and its buffer is referred to by
        ``v`` alone; the caller guarantees that ``v`` is not read after the new value is written
        (e.g. a residual that dies with the VJP reading it).  None when it cannot be had."""
        if v.lazy or v.buf is None or self.refs[v.buf] != 1:
            return None
        self.refs[v.buf] += 1
        return v.buf

    def hold(self, v: V) -> V:
        """One more reference to ``v``'s buffer(s)."""
        if v.prod is not None:
            for x in v.prod:
                self.hold(x)
        elif v.buf is not None:
            self.refs[v.buf] += 1
        return v

    def drop(self, v: V | None) -> None:
        """One reference fewer; a buffer nobody refers to goes back to the pool."""
        if v is not None and v.prod is not None:
            for x in v.prod:
                self.drop(x)
        elif v is not None and v.buf is not None:
            self.refs[v.buf] -= 1
            if self.refs[v.buf] == 0:
                self.free.setdefault(self.key[v.buf], []).append(v.buf)

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def write(self, fn: str, args: Sequence[str], shape: tuple, dtype: Any, *, out: str | None = None,
              fresh: bool = False, buf: str | None = None) -> V:
        """``t = fn(*args, out=<pool buffer>)`` (scalars and ``fresh``: without ``out=``): ``buf``
        (one the caller holds a reference for, e.g. from :meth:`steal`), else :meth:`out_buffer`."""
        t = out or self.tmp()
        if shape == () or fresh:
            self.emit(f"{t} = {fn}({', '.join(args)})")
            return V(t, shape, dtype, fresh=shape != ())
        buf = buf or self.out_buffer(shape, dtype)
        self.emit(f"{t} = {fn}({', '.join(args)}, out={buf})")
        return V(t, shape, dtype, buf)

    def save(self, node: Any, name: str, v: V) -> None:
        """Keep ``v`` (a residual named in the record) for ``node``'s VJP."""
        self.extra[(name, node)] = v

    def saved(self, node: Any, name: str) -> V:
        return self.extra[(name, node)]

    # -- the lazy algebra --------------------------------------------------------------------------
    def scaled(self, x: V, op: str, s: str | None) -> V:
        """Lazy (x op s) for an array x (held, not written): the scale folds into one expression."""
        if x.offset is not None and op != "negated":  # (a + c)·s ≠ a·s + c·s under cancellation
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
        y = self.scaled(x, "negated", None) if swap and op == "minus" else \
            self.hold(x)._replace(expr=_LAZY, base=x.base if x.lazy else x.expr, fresh=False)
        return y._replace(offset=s if op == "plus" or swap else f"(-{s})")

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

    def _lazy(self, alg: str | None, a: V, b: V | None, shape: tuple, dtype: Any) -> V | None:
        """The lazy form of a scalar scaling, shift or a 1-D product, when one applies (no dtype change)."""
        if alg == "negated":
            return self.scaled(a, "negated", None) if dtype == a.dtype else None
        if b is None:
            return None
        if alg in ("plus", "minus"):
            if b.shape == () and dtype == a.dtype:
                return self.shifted(a, alg, b.expr, False)
            if a.shape == () and dtype == b.dtype:
                return self.shifted(b, alg, a.expr, True)
            return None
        if alg not in ("times", "over"):
            return None
        if b.shape == () and dtype == a.dtype:  # a·s, a/s
            return self.scaled(a, alg, b.expr)
        if alg == "times" and a.shape == () and dtype == b.dtype:  # s·b
            return self.scaled(b, "times", a.expr)
        if (alg == "times" and a.shape == b.shape and len(shape) == 1 and a.dtype == b.dtype == dtype
                and a.prod is None and b.prod is None and a.offset is None and b.offset is None):
            ops = []
            for x in (a, b):
                ops.append(self.hold(x if x.scale is None else V(x.base, x.shape, x.dtype, x.buf)))
            sc = a.scale if b.scale is None else b.scale if a.scale is None else f"({a.scale} * {b.scale})"
            return V(_LAZY, shape, dtype, None, False, sc, tuple(ops))
        return None

    def ew(self, f: Ufunc, a: V, b: V | None = None, *, fresh: bool = False, out: str | None = None,
           lazy: bool = True) -> V:
        """One ufunc (a :class:`Ufunc` record); scalars use operators, arrays write into a pool
        buffer (or a fresh array).

        Scalings, shifts and 1-D products come back lazy (unless ``lazy=False``: then materialised in
        one pass); any other lazy operand is materialised into a temporary for this one ufunc."""
        args = (a,) if b is None else (a, b)
        if f.algebra == "times" and b is not None and lazy:
            if a.expr == "1.0":
                return self.hold(b)
            if b.expr == "1.0":
                return self.hold(a)
        shape = np.broadcast_shapes(*[x.shape for x in args])
        dtype = result_type(*args)
        if shape != () and not fresh:
            r = self._lazy(f.algebra, a, b, shape, dtype)
            if r is not None:
                return r if lazy else self.force(r, out=out)
        tmps = [self.force(self.hold(x)) for x in args]
        try:
            if shape == () and f.infix is not None and len(tmps) == 2:
                t = out or self.tmp()
                self.emit(f"{t} = {tmps[0].expr} {f.infix} {tmps[1].expr}")
                return V(t, (), dtype)
            return self.write(f.ufunc, [x.expr for x in tmps], shape, dtype, out=out, fresh=fresh)
        finally:
            for x in tmps:
                self.drop(x)

    def inplace(self, op: str, acc: V, x: V) -> None:
        """``acc op= x`` (acc materialised and owned by the caller)."""
        if acc.lazy:
            raise AssertionError("in-place update of a lazy value")
        x = self.force(self.hold(x))
        self.emit(f"{acc.expr} {op}= {x.expr}")
        self.drop(x)

    def owned_alone(self, v: V) -> bool:
        return not v.lazy and (v.fresh or (v.buf is not None and self.refs[v.buf] == 1))

    def settle(self, v: V, logical: tuple | None, target: tuple) -> V:
        """``sweep.settle`` on static shapes: sum ``v``, which stands for ``broadcast_to(v, logical)``,
        down to ``target``.

        ``logical`` is the output shape for contributions of elementwise primitives, None for the
        others (they stand for themselves broadcast against the argument).  A lazily broadcast axis
        that is summed is a multiplication by its length (a lazy scale: no array is expanded); the
        result broadcasts to ``target`` and may stay smaller where ``v`` was lazily broadcast."""
        cs = v.shape
        if logical is None:
            logical = np.broadcast_shapes(cs, target)
        if cs == target and logical == target:
            return v
        nl, nc = len(logical), len(cs)
        if nc > nl:
            raise AssertionError(f"a contribution of shape {cs} for a value of shape {logical}")
        plan = settle_plan(cs, logical, target)  # the reference sweep's rule, on static shapes
        if plan is None:
            raise AssertionError(f"a contribution of shape {cs} for a value of shape {logical}")
        axes, factor = plan
        drop = max(nc - len(target), 0)  # leading axes the target does not have: size 1 once summed
        red = tuple(1 if i in axes else c for i, c in enumerate(cs))[drop:]
        r = v
        if axes:
            r = self._sum(v, tuple(axes), red)
        elif drop:
            r = self.force(self.hold(v))
            t = self.tmp()
            self.emit(f"{t} = {r.expr}.reshape({red!r})")
            r = r._replace(expr=t, shape=red)
        else:
            self.hold(r)  # the caller drops v: r is its own reference
        if factor != 1:
            if r.shape == ():
                t = self.tmp()
                self.emit(f"{t} = {r.expr} * {float(factor)!r}")
                r = V(t, (), r.dtype)
            elif r.fresh:
                self.emit(f"{r.expr} *= {float(factor)!r}")
            else:
                q = self.scaled(r, "times", repr(float(factor)))
                self.drop(r)
                r = q
        self.drop(v)
        return r

    def _sum(self, v: V, axes: tuple, red: tuple) -> V:
        """``v`` summed over ``axes`` into shape ``red`` (a fresh array or a scalar)."""
        t = self.tmp()
        if v.prod is not None and red == () and len(v.shape) == 1:
            # sum(a·b) of 1-D arrays is a dot product: no product array is written at all
            expr = f"np.dot({v.prod[0].expr}, {v.prod[1].expr})"
            self.emit(f"{t} = {expr}" if v.scale is None else f"{t} = {v.scale} * {expr}")
            return V(t, red, v.dtype)
        v = self.force(self.hold(v), keep_scale=True)  # a scale is applied to the (smaller) result
        lead = len(v.shape) - len(red)
        keep = axes != tuple(range(lead))
        expr = f"{v.expr if v.scale is None else v.base}.sum(axis={axes!r}{', keepdims=True' if keep else ''})"
        if keep and lead:
            expr += f".reshape({red!r})"
        self.emit(f"{t} = {expr}")
        if v.scale is not None:
            self.emit(f"{t} = {v.scale} * {t}" if red == () else f"{t} *= {v.scale}")
        self.drop(v)
        return V(t, red, v.dtype, fresh=red != ())

    def expand(self, v: V, shape: tuple) -> V:
        """A fresh array of exactly ``shape`` (``v`` broadcasts to it): a returned gradient."""
        if v.shape == shape and v.shape != ():
            if v.lazy:
                return self.force(v, fresh=True)
            return v if v.fresh else V(f"{v.expr}.copy()", v.shape, v.dtype)
        v = self.force(v)
        t = self.tmp()
        self.emit(f"{t} = np.broadcast_to({v.expr}, {shape!r}).copy()" if shape != () else f"{t} = {v.expr}")
        self.drop(v)
        return V(t, shape, v.dtype, fresh=shape != ())
