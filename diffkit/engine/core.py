"""Core of the engine: nodes, primitives and their rule tables, tracing, and the backward pass.

A :class:`Node` holds a NumPy value, the :class:`Primitive` that made it and its parents as a
tuple in argument order.  A primitive is a name plus an implementation; its VJP and JVP rules live
in per-argument tables filled by :func:`defvjp` / :func:`defjvp`, registered right after the
primitive (see ``prims.py``).  :func:`bind` applies a primitive: on plain values it just computes,
and when any argument is a Node it records a new Node.

Rules have one shape everywhere::

    vjp(g, ans, *args, **params) -> cotangent contribution for one argument
    jvp(t, ans, *args, **params) -> tangent contribution from one argument

A primitive may also register a *forward with residuals* (:func:`defforward`): when a node is
recorded, it returns ``(value, residuals)`` — intermediates its VJP would otherwise recompute
(e.g. the log-softmax inside softmax cross-entropy).  VJP rules registered with
``residuals=True`` then get them as the keyword ``res``; it is ``None`` whenever they are not
available (plain calls, replayed values, rules run on Nodes), so such a rule must also work
without them.

Rules are written with the engine's own operations, so when the backward pass runs with
``create_graph=True`` (arguments are Nodes) the rules themselves are recorded: that is how
``hessian`` differentiates a gradient.  A contribution may be *lazily broadcast*: any shape that
broadcasts to the argument's shape (e.g. the scalar ``g/n`` from ``mean``), which spares full-array
passes; :func:`materialize` gives the final shape.  :data:`zero` is the symbolic zero.

Examples
--------
>>> import numpy as np
>>> x = param(np.float64(3.0), "x")
>>> from diffkit.engine import ops as dk
>>> y = dk.exp(x) * x
>>> adj = backward_pass(y, 1.0, wrt=(x,))
>>> float(adj[x])  # (1 + x) e^x
80.3421476927...
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import BadInput, ComputationError, DiffkitError

__all__ = [
    "Node", "Primitive", "REGISTRY", "primitive", "defvjp", "defjvp", "bind", "zero",
    "defforward", "param", "input_leaf", "const", "as_value", "toposort", "backward_pass", "jvp_pass",
    "detect_anomaly", "anomaly_enabled", "materialize", "raw",
]


class _Zero:
    """The symbolic zero: a cotangent or tangent known to be 0, never materialised as an array."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "zero"

    def __bool__(self) -> bool:
        return False


zero = _Zero()
_ids = itertools.count()


class Node:
    """One value in a computation graph.

    Attributes
    ----------
    value : numpy scalar/array or Python float
        The forward value from when the node was made (a :class:`Graph` keeps replayed values).
    primitive : Primitive or None
        What made the node; ``None`` for leaves.
    parents : tuple of Node
        Arguments in order.
    params : dict
        Static parameters of the primitive (``axis``, ``shape``, ...).
    kind : {"param", "input", "const", "op"}
    name : str or None
        Display name; graphs name unnamed nodes ``v1, v2, ...`` and constants ``c1, ...``.
    needs_grad : bool
        True when a parameter is upstream, i.e. the backward pass must visit it.
    """

    __slots__ = ("value", "primitive", "parents", "params", "kind", "name", "needs_grad", "id", "named", "res")
    __array_ufunc__ = None  # make ``ndarray + node`` defer to Node.__radd__

    def __init__(self, value: Any, primitive: "Primitive | None" = None, parents: tuple = (),
                 params: dict | None = None, *, kind: str = "op", name: str | None = None,
                 needs_grad: bool = False) -> None:
        self.value = value
        self.primitive = primitive
        self.parents = parents
        self.params = params or {}
        self.kind = kind
        self.name = name
        self.named = name is not None and kind == "op"
        self.needs_grad = needs_grad
        self.id = next(_ids)
        self.res = None  # residuals from the primitive's forward (see defforward)

    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def dtype(self):
        return np.result_type(self.value)

    @property
    def label(self) -> str:
        """Display label: the name, or the value for a scalar constant."""
        if self.kind == "const" and np.ndim(self.value) == 0:
            return f"{float(self.value):.6g}"
        return self.name or f"v{self.id}"

    def __repr__(self) -> str:
        what = self.primitive.name if self.primitive else self.kind
        return f"Node({self.label}, {what}, shape={self.shape})"


class Primitive:
    """A named operation with an implementation and per-argument VJP/JVP rule tables."""

    __slots__ = ("name", "impl", "nargs", "vjps", "jvps", "fresh", "inplace", "fwd", "wants_res")

    def __init__(self, name: str, impl: Callable, nargs: int) -> None:
        self.name, self.impl, self.nargs = name, impl, nargs
        self.vjps: list[Callable | None] = [None] * nargs
        self.jvps: list[Callable | None] = [None] * nargs
        #: argnums whose VJP, on plain arrays, returns a new array nothing else refers to
        self.fresh: set[int] = set()
        #: argnums whose VJP takes ``out=``: a buffer of g's shape it may overwrite (see backward_pass)
        self.inplace: set[int] = set()
        #: ``fwd(*args, **params) -> (value, residuals)``, used when recording a node (defforward)
        self.fwd: Callable | None = None
        #: argnums whose VJP takes the keyword ``res`` (the recorded residuals, or None)
        self.wants_res: set[int] = set()

    def vjp(self, i: int) -> Callable:
        rule = self.vjps[i]
        if rule is None:
            raise DiffkitError(f"primitive {self.name!r} has no VJP rule for argument {i}; "
                               "it cannot be differentiated with respect to that argument "
                               "(pass it as a constant, or register one with defvjp)")
        return rule

    def jvp(self, i: int) -> Callable:
        rule = self.jvps[i]
        if rule is None:
            raise DiffkitError(f"primitive {self.name!r} has no JVP rule for argument {i}; "
                               "register one with defjvp or keep that argument constant")
        return rule

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


#: Every primitive, by name, in registration order.
REGISTRY: dict[str, Primitive] = {}


def primitive(name: str, impl: Callable, nargs: int) -> Primitive:
    """Create and register a primitive."""
    if name in REGISTRY:
        raise DiffkitError(f"primitive {name!r} is already registered")
    p = REGISTRY[name] = Primitive(name, impl, nargs)
    return p


def defvjp(prim: Primitive, argnum: int, *, fresh: bool = False, inplace: bool = False,
           residuals: bool = False) -> Callable[[Callable], Callable]:
    """Decorator registering ``rule(g, ans, *args, **params)`` as the VJP of argument ``argnum``.

    ``fresh``: on plain arrays the rule returns a new array that nothing else refers to.
    ``inplace``: the rule takes a keyword ``out``, a buffer shaped like ``g`` that it may write
    its result into; the backward pass passes one only when ``g`` is a fresh array it owns.
    ``residuals``: the rule takes a keyword ``res``, what ``prim``'s :func:`defforward` returned
    for this node, or None (then it recomputes what it needs).
    """
    def register(rule: Callable) -> Callable:
        prim.vjps[argnum] = rule
        (prim.wants_res.add if residuals else prim.wants_res.discard)(argnum)
        (prim.fresh.add if fresh else prim.fresh.discard)(argnum)
        (prim.inplace.add if inplace else prim.inplace.discard)(argnum)
        return rule
    return register


def defforward(prim: Primitive) -> Callable[[Callable], Callable]:
    """Decorator registering ``fwd(*args, **params) -> (value, residuals)`` for ``prim``.

    ``value`` must equal ``prim.impl(*args, **params)``; ``residuals`` (any object) are kept on
    the recorded node for the VJP rules registered with ``residuals=True``.
    """
    def register(fwd: Callable) -> Callable:
        prim.fwd = fwd
        return fwd
    return register


def defjvp(prim: Primitive, argnum: int) -> Callable[[Callable], Callable]:
    """Decorator registering ``rule(t, ans, *args, **params)`` as the JVP of argument ``argnum``."""
    def register(rule: Callable) -> Callable:
        prim.jvps[argnum] = rule
        return rule
    return register


# -- values ------------------------------------------------------------------------------------
def as_value(x: Any, what: str = "value") -> Any:
    """Validate a leaf value: float32/float64 kept, ints/bools upcast to float64, else BadInput.

    >>> as_value([1, 2]).dtype
    dtype('float64')
    >>> as_value(np.ones(2, np.float32)).dtype
    dtype('float32')
    """
    if type(x) is np.ndarray and x.ndim and (x.dtype == np.float64 or x.dtype == np.float32):
        return x  # the common case, checked cheaply (leaves are made on every grad call)
    if isinstance(x, Node):
        return x.value
    try:
        arr = np.asarray(x)
    except Exception:
        raise BadInput(f"{what} {x!r} is not a number or array") from None
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
    elif kind in "iub":
        arr = arr.astype(np.float64)
    else:
        raise BadInput(f"{what} has dtype {arr.dtype}; expected float32 or float64 numbers "
                       "(ints and bools are converted to float64; complex, object and strings are not accepted)")
    return arr[()] if arr.ndim == 0 else arr


def raw(x: Any) -> Any:
    """The plain value of a Node, or ``x`` itself."""
    return x.value if isinstance(x, Node) else x


def param(value: Any, name: str | None = None) -> Node:
    """A leaf to differentiate with respect to."""
    return Node(as_value(value, "parameter" if name is None else f"parameter {name}"),
                kind="param", name=name, needs_grad=True)


def input_leaf(value: Any, name: str | None = None) -> Node:
    """A leaf that is data (not differentiated), e.g. x, y or a hyperparameter."""
    return Node(None if value is None else as_value(value, f"input {name or ''}".strip()),
                kind="input", name=name)


def const(value: Any) -> Node:
    """A constant leaf.  Python scalars stay Python scalars so float32 graphs stay float32."""
    if not isinstance(value, (int, float, bool)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiub":
            raise BadInput(f"constant of dtype {arr.dtype} is not supported; expected real numbers")
    return Node(value, kind="const")


# -- anomaly mode ------------------------------------------------------------------------------
_ANOMALY = [False]


def anomaly_enabled() -> bool:
    return _ANOMALY[0]


@contextmanager
def detect_anomaly(enabled: bool = True) -> Iterator[None]:
    """Within this block, a NaN/inf raises ComputationError naming the node and primitive.

    >>> from diffkit.engine import ops as dk
    >>> with detect_anomaly():  # doctest: +ELLIPSIS
    ...     dk.log(param(-1.0, "x"))
    Traceback (most recent call last):
    ...
    diffkit.errors.ComputationError: anomaly: forward of node v... (primitive 'log') produced nan; inputs: x=-1; made at ...
    """
    old = _ANOMALY[0]
    _ANOMALY[0] = enabled
    try:
        yield
    finally:
        _ANOMALY[0] = old


def check_finite(value: Any, node: Node, phase: str, argnum: int | None = None,
                 values: Mapping[Node, Any] | None = None) -> None:
    v = raw(value)
    if v is zero or np.all(np.isfinite(v)):
        return
    bad = "nan" if np.any(np.isnan(v)) else "inf"
    where = "" if argnum is None else f" for argument {argnum} ({node.parents[argnum].label})"
    ins = ", ".join(f"{p.label}={_brief(values[p] if values is not None else raw(p.value))}" for p in node.parents)
    prim = node.primitive.name if node.primitive else node.kind
    raise ComputationError(f"anomaly: {phase} of node {node.label} (primitive {prim!r}) produced {bad}{where}; "
                           f"inputs: {ins or 'none'}{_user_frame()}")


def _user_frame() -> str:
    """Where user code called into the engine (the line that made the bad node)."""
    import os
    import sys
    here = os.path.dirname(__file__)
    f = sys._getframe(1)
    while f is not None and (f.f_code.co_filename.startswith(here) or "contextlib" in f.f_code.co_filename):
        f = f.f_back
    return "" if f is None else f"; made at {os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"


def _brief(v: Any) -> str:
    if v is None:
        return "?"
    return f"{float(v):.6g}" if np.ndim(v) == 0 else f"array{np.shape(v)}"


# -- applying primitives -----------------------------------------------------------------------
def _call(prim: Primitive, args: Sequence, params: dict) -> Any:
    try:
        return prim.impl(*args, **params)
    except BadInput:
        raise
    except (ValueError, TypeError, IndexError) as exc:
        raise _bad_args(prim, args, exc) from None


def _bad_args(prim: Primitive, args: Sequence, exc: Exception) -> BadInput:
    shapes = ", ".join(str(np.shape(a)) for a in args)
    return BadInput(f"{prim.name} cannot be applied to arguments of shapes {shapes}: {exc}")


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Apply ``prim``; record a Node when any argument is a Node, else return the plain value."""
    needs_grad = traced = False
    for a in args:
        if isinstance(a, Node):
            traced = True
            if a.needs_grad:
                needs_grad = True
                break
    if not traced:
        return _call(prim, args, params)
    parents = tuple([a if isinstance(a, Node) else const(a) for a in args])
    vals = [p.value for p in parents]
    if _ANOMALY[0]:
        with np.errstate(all="ignore"):  # reported below as an error, not a warning
            value = _call(prim, vals, params)
        node = Node(value, prim, parents, params, needs_grad=needs_grad)
        check_finite(value, node, "forward")
        return node
    # Recording is on the path of every traced operation, so it is kept to straight-line code
    # (the node is filled in here rather than through Node.__init__'s keyword handling).
    res = None
    try:
        if needs_grad and prim.fwd is not None:
            value, res = prim.fwd(*vals, **params)
        else:
            value = prim.impl(*vals, **params)
    except BadInput:
        raise
    except (ValueError, TypeError, IndexError) as exc:
        raise _bad_args(prim, vals, exc) from None
    node = _new_node(Node)
    node.value, node.primitive, node.parents, node.params = value, prim, parents, params
    node.kind, node.name, node.named, node.needs_grad = "op", None, False, needs_grad
    node.id, node.res = next(_ids), res
    return node


_new_node = object.__new__


def materialize(g: Any, like: Any) -> Any:
    """A cotangent with exactly the shape and dtype of ``like`` (zeros for the symbolic zero)."""
    if type(g) is np.ndarray and type(like) is np.ndarray and g.shape == like.shape and g.dtype == like.dtype:
        return g
    shape, dtype = np.shape(raw(like)), np.result_type(raw(like))
    if isinstance(g, Node):
        from .prims_array import broadcast_to
        return g if g.shape == shape else broadcast_to(g, shape)
    if g is zero:
        return np.zeros(shape, dtype)[()]
    if np.shape(g) != shape:
        g = np.broadcast_to(g, shape)
        return np.array(g, dtype=dtype)[()]
    if not isinstance(g, (np.ndarray, np.generic)) or g.dtype != dtype:
        return np.asarray(g, dtype=dtype)[()]
    return g


# -- graph walks -------------------------------------------------------------------------------
def toposort(out: Node, *, stop: Sequence[Node] = (), only_grad: bool = False) -> list[Node]:
    """Nodes reachable from ``out``, parents before children; iterative, deterministic.

    Parents are visited in argument order; ``stop`` nodes are included but not descended into;
    ``only_grad`` skips nodes that do not need gradients.
    """
    stopset = set(stop)
    order: list[Node] = []
    visited: set[Node] = set()
    stack: list[tuple[Node, bool]] = [(out, False)]
    while stack:
        n, done = stack.pop()
        if done:
            order.append(n)
            continue
        if n in visited:
            continue
        visited.add(n)
        stack.append((n, True))
        if n in stopset:
            continue
        for p in reversed(n.parents):
            if p not in visited and (p.needs_grad or not only_grad):
                stack.append((p, False))
    return order


def _grad_order(out: Node, stop: Sequence[Node]) -> list[Node]:
    """The nodes that need gradients reachable from ``out`` (``stop`` nodes not descended into),
    parents before children.

    Node ids grow in creation order and a node is made after its parents, so sorting the
    reachable nodes by id is a topological order; it is cheaper than :func:`toposort`'s
    post-order walk, which matters for the backward pass of small graphs (called per step).
    """
    stopset = set(stop)
    seen = {out}
    stack = [out]
    pop, push, add = stack.pop, stack.append, seen.add
    while stack:
        n = pop()
        if n in stopset:
            continue
        for p in n.parents:
            if p.needs_grad and p not in seen:
                add(p)
                push(p)
    return sorted(seen, key=_node_id)


def _node_id(n: Node) -> int:
    return n.id


def backward_pass(out: Node, seed: Any, *, wrt: Sequence[Node] = (), retain: bool = False,
                  create_graph: bool = False, values: Mapping[Node, Any] | None = None,
                  order: Sequence[Node] | None = None) -> dict[Node, Any]:
    """Reverse sweep from ``out``: a fresh mapping node → adjoint, owned by this call.

    Parameters
    ----------
    out : Node
        The node whose adjoint is ``seed``.
    wrt : sequence of Node
        Nodes to stop at (their adjoints are kept, their parents not visited).
    retain : bool, default False
        Keep every adjoint (for inspection); otherwise each is freed once used.
    create_graph : bool, default False
        Run the rules on Nodes so the result is itself differentiable.
    values : mapping, optional
        Forward values by node (a replayed :class:`Graph`); default ``node.value``.
    """
    if order is None:
        order = _grad_order(out, wrt)
    stopset = set(wrt)
    adj: dict[Node, Any] = {out: seed}
    kept: dict[Node, Any] = {}
    anomaly = _ANOMALY[0]
    # Cotangents this pass made with a ``fresh`` rule and holds in ``adj`` alone, by id: one may
    # be overwritten by the single rule that consumes it (e.g. relu's mask applied in place to
    # the product from matmul's rule, as hand-written backprop does), sparing a full-size array.
    owned: dict[int, Any] = {}
    reuse = not (retain or create_graph)
    take = adj.get if retain else adj.pop
    ndarray = np.ndarray
    for n in reversed(order):
        g = take(n, None)
        if g is None:
            continue
        prim = n.primitive
        if prim is None or n in stopset:
            kept[n] = g
            continue
        own = reuse and owned and owned.pop(id(g), None) is g
        parents = n.parents
        if create_graph:
            ans, args = n, parents
        elif values is None:
            ans, args = n.value, [p.value for p in parents]
        else:
            ans, args = values[n], [values[p] for p in parents]
        rules = prim.vjps
        params = n.params
        if own and len(parents) > 1 and sum(p.needs_grad for p in parents) > 1:
            own = False  # g goes to two rules: neither may overwrite it
        i = -1
        for p in parents:
            i += 1
            if not p.needs_grad:
                continue
            rule = rules[i] or prim.vjp(i)  # prim.vjp raises the "no VJP rule" error
            kw = {**params, "out": g} if own and i in prim.inplace else params
            if i in prim.wants_res:  # residuals belong to the recorded value, not a replayed one
                kw = {**kw, "res": n.res if values is None and not create_graph else None}
            if anomaly:
                with np.errstate(all="ignore"):  # reported as an error instead
                    c = rule(g, ans, *args, **kw)
                if c is not zero:
                    check_finite(c, n, "backward", i, values)
            else:
                c = rule(g, ans, *args, **kw)
            if c is zero:
                continue
            prev = adj.get(p)
            if prev is None:
                adj[p] = c
                if reuse and type(c) is ndarray and i in prim.fresh and c.flags.writeable:
                    owned[id(c)] = c
            else:
                if owned:
                    owned.pop(id(prev), None)
                adj[p] = prev + c
    if retain:
        return adj
    for n in stopset:
        if n in adj:
            kept[n] = adj[n]
    return kept


def jvp_pass(order: Sequence[Node], tangents: dict[Node, Any]) -> dict[Node, Any]:
    """Forward sweep: tangent of every node from the tangents of the leaves (symbolic zeros skipped)."""
    tan = dict(tangents)
    for n in order:
        if n.primitive is None:
            continue
        t = zero
        args = [p.value for p in n.parents]
        for i, p in enumerate(n.parents):
            tp = tan.get(p, zero)
            if tp is zero:
                continue
            c = n.primitive.jvp(i)(tp, n.value, *args, **n.params)
            if c is not zero:
                t = c if t is zero else t + c
        if t is not zero:
            tan[n] = t
    return tan
