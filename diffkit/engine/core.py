"""Core of the engine: nodes, primitive records, trace levels and :func:`bind`.

A :class:`Node` holds a value, the :class:`Primitive` that made it and its parents as a tuple in
argument order.  A **primitive is one record** (:func:`defprim`): its NumPy implementation, one VJP
and one JVP rule per argument, its cost under the counting convention (``opcount``), the
lecture's local derivative as text (``listing``), its SymPy counterpart (``from_sympy``,
``lowering``) and its code templates for replay (``compile``).  Every table another module
needs is derived from these records; ``tests/engine/test_records.py`` fails when a record lacks
an interpretation that is required of it.

Rules have one shape everywhere, and are written with the engine's own operations so that they
can themselves be differentiated::

    vjp(g, ans, *args, **params) -> cotangent contribution for one argument
    jvp(t, ans, *args, **params) -> tangent contribution from one argument

Broadcasting is *not* the rules' business: the backward sweep (``sweep.py``) sums every
contribution down to the shape of the node it flows into.  A rule of an ``elementwise`` primitive
returns something that broadcasts to the primitive's output; any other rule returns something
that broadcasts to its argument.  Either may be smaller than that (a *lazily broadcast* value,
such as the scalar ``g/n`` from ``mean``); the sweep knows the shape it stands for.

**Trace levels** (as in autograd and JAX) keep nested transformations apart.  Each
transformation (``grad``, ``jvp``, ``trace``) records at a fresh level, higher than every level
before it.  :func:`bind` records a node at the highest level among its arguments; a node of a
lower level is an ordinary constant there, and the value of a node may itself be a node of a
lower level.  So ``x * grad(lambda y: x * y)(2.0)`` differentiated in ``x`` gives ``2x``: the inner
backward pass computes with the outer ``x`` and is recorded at the outer level.

Examples
--------
>>> import numpy as np
>>> from diffkit.engine import ops as dk
>>> from diffkit.engine.sweep import backward_pass
>>> from diffkit.engine.leaves import param
>>> x = param(np.float64(3.0), "x")
>>> y = dk.exp(x) * x
>>> float(backward_pass(y, 1.0, wrt=(x,))[x])  # (1 + x) e^x
80.3421476927...
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import BadInput, ComputationError, DiffkitError, brief

__all__ = [
    "Node", "Primitive", "REGISTRY", "defprim", "Absent", "SymPy", "Code", "Summed", "bind", "zero", "new_level",
    "const", "raw", "PASS", "MUL", "NONE", "ZERO",
]


class _Zero:
    """The symbolic zero: a cotangent or tangent known to be 0, never materialised as an array."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "zero"

    def __bool__(self) -> bool:
        return False


zero = _Zero()

_ids, _levels = itertools.count(), itertools.count(1)


def new_level() -> int:
    """A trace level higher than every level handed out before (one per transformation call)."""
    return next(_levels)


class Node:
    """One value in a computation graph: its ``value`` (an array; a Node of a lower trace level
    when recorded inside a nested transformation; None in a graph from SymPy not yet evaluated),
    the ``primitive`` that made it (None for leaves), its ``parents`` in argument order, static
    ``params`` (axis, shape, …), its ``kind`` ("param", "input", "const", "op"), a display ``name``,
    ``needs_grad`` (a parameter is upstream) and its ``trace`` level.  Inside ``grad`` a value
    no rule will read may be *elided* (``elide.py``): reading ``value`` recomputes it, and keeps it."""

    __slots__ = ("_v", "gone", "pinned", "primitive", "parents", "params", "kind", "name", "needs_grad", "id",
                 "named", "res", "trace", "__weakref__")
    __hash__ = object.__hash__  # identity: == is NumPy's elementwise comparison (ops.py)

    def __init__(self, value: Any, primitive: "Primitive | None" = None, parents: tuple = (),
                 params: dict | None = None, *, kind: str = "op", name: str | None = None,
                 needs_grad: bool = False, trace: int = 0) -> None:
        self._v, self.gone, self.pinned, self.primitive, self.parents = value, False, False, primitive, parents
        self.params = params or {}
        self.kind, self.name = kind, name
        self.named = name is not None and kind == "op"
        self.needs_grad, self.trace, self.id = needs_grad, trace, next(_ids)
        self.res = None  # residuals from the primitive's forward (Primitive.fwd)

    @property
    def value(self) -> Any:
        if self.gone:
            _elide.remat(self)
        self.pinned = True  # seen from outside the engine's sweeps: never elided
        return self._v

    @value.setter
    def value(self, v: Any) -> None:
        self._v, self.gone = v, False

    @property
    def shape(self) -> tuple:
        return np.shape(self._v)

    @property
    def ndim(self) -> int:
        return len(np.shape(self._v))

    @property
    def size(self) -> int:
        return int(np.prod(np.shape(self._v), dtype=np.int64))

    @property
    def dtype(self):
        v = self._v
        return v.dtype if isinstance(v, Node) else np.result_type(v)

    @property
    def label(self) -> str:
        """Display label: the name, or the value for a scalar constant."""
        if self.kind == "const" and np.ndim(self.value) == 0 and not isinstance(self.value, Node):
            return f"{float(self.value):.6g}"
        return self.name or f"v{self.id}"

    def __repr__(self) -> str:
        what = self.primitive.name if self.primitive else self.kind
        return f"Node({self.label}, {what}, shape={self.shape})"


# -- the record --------------------------------------------------------------------------------
#: How a VJP contribution uses the incoming adjoint g (for the counting convention and the code
#: templates): MUL = (local derivative)·g, PASS = g itself, NONE = an expression of g, ZERO = 0.
PASS, MUL, NONE, ZERO = "pass", "mul", "none", "zero"


class Absent:
    """An interpretation a primitive deliberately does not have, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Absent({self.reason!r})"


class SymPy:
    """A primitive's SymPy counterpart: ``build(*sympy_args, **params)`` makes it, and the SymPy
    classes in ``match`` are lowered to the primitive when a graph is built from SymPy."""

    __slots__ = ("build", "match")

    def __init__(self, build: Callable, *match: type) -> None:
        self.build, self.match = build, match


class Code:
    """Code templates of one backend: ``fwd`` with ``{0}, {1}, …`` for the arguments, and per
    argument a VJP template ``(use, text)``: ``MUL`` — the contribution is g·(text); ``PASS`` — g;
    ``NONE`` — text, which uses ``{g}``; ``ZERO`` — none.  ``{ans}`` is the result.  ``None``
    (for the whole VJP or one argument) means the backend calls the rule itself."""

    __slots__ = ("fwd", "vjp")

    def __init__(self, fwd: str | None, vjp: Sequence[tuple[str, str | None] | None] | None = None) -> None:
        self.fwd, self.vjp = fwd, None if vjp is None else tuple(vjp)


class Summed:
    """A VJP contribution its rule has already summed down to the argument's shape (e.g. the dot
    product g·x for a scalar w, which spares a temporary array): the sweep takes it as it is."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


@dataclass(eq=False, slots=True)
class Primitive:
    """Everything diffkit knows about one operation, in one place (made by :func:`defprim`)."""

    name: str
    impl: Callable
    nargs: int
    vjps: tuple = ()
    jvps: tuple = ()
    elementwise: bool = False
    nondiff: frozenset = frozenset()
    cost: Any = None
    local: Any = None
    sympy: Any = None
    code: dict = field(default_factory=dict)
    fwd: Callable | None = None
    res_args: frozenset = frozenset()
    fresh: frozenset = frozenset()
    inplace: frozenset = frozenset()
    doc: str = ""
    domain: tuple = ()
    cases: Callable | None = None
    lazy: frozenset = frozenset()
    reads: Any = None

    def vjp(self, i: int) -> Callable:
        if self.vjps[i] is None:
            raise DiffkitError(f"{self.name} is not differentiable with respect to argument {i}"
                               + (" (a mask/label argument)" if i in self.nondiff else "; pass it as a constant"))
        return self.vjps[i]

    def jvp(self, i: int) -> Callable:
        if self.jvps[i] is None:
            raise DiffkitError(f"{self.name} has no forward-mode rule for argument {i}; keep it constant")
        return self.jvps[i]

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


#: Every primitive, by name, in registration order.
REGISTRY: dict[str, Primitive] = {}


def defprim(name: str, impl: Callable, *, vjp: Sequence[Callable | None], jvp: Sequence[Callable | None],
            cost: Any, local: Any, sympy: Any, code: Mapping[str, Any] | None = None,
            elementwise: bool = False, nondiff: Sequence[int] = (), fwd: Callable | None = None,
            res_args: Sequence[int] = (), fresh: Sequence[int] = (), inplace: Sequence[int] = (),
            lazy: Sequence[int] = (), reads: Any = None, domain: Sequence[str] | None = None, cases: Callable | None = None, doc: str = "") -> Primitive:
    """Create and register one primitive with all its interpretations.

    ``impl(*args, **params)`` computes on plain values.  ``vjp``/``jvp``: one rule per argument
    (None only for arguments in ``nondiff``, e.g. a mask).  ``cost``: ``(forward ops, per argument
    (ops, use))`` or ``cost(node, i) -> (ops, use)``, under the convention of ``opcount``.
    ``local``: per argument the lecture's ∂(result)/∂(argument) as text ({0}, {1}: arguments,
    {ans}: result), or ``local(node, i)``.  ``sympy``: :class:`SymPy` or :class:`Absent`.
    ``code``: :class:`Code` templates by backend ("math", "numpy") or Absent (replay then calls
    ``impl`` and the rules).  ``elementwise``: the arguments broadcast to a common result shape.
    ``fwd(*args, **params) -> (value, residuals)`` records residuals that the VJPs of
    ``res_args`` get as ``res=`` (None when there are none).  ``fresh``/``inplace``: argnums whose
    VJP returns a new array / takes ``out=`` (for the fast sweep); ``lazy``: whose VJP takes
    ``lazy=True`` from the fast sweep and may return a ``fast.Scaled`` or ``fast.Scatter``.
    ``reads``: per argument, what its VJP reads ("ans", argnums), or ``reads(*args, **params)``
    giving that; declaring it also promises a new result array, never a view (``elide``).
    ``domain`` (elementwise) or
    ``cases(rng) -> [(args, params), ...]`` (required otherwise): where the checker samples,
    away from kinks: "real" (|x| in [0.1, 2]), "positive", "unit" ((−0.9, 0.9)), "bool", "label".
    """
    if name in REGISTRY:
        raise DiffkitError(f"primitive {name!r} is already registered")
    nargs = len(vjp)
    if len(jvp) != nargs or (domain is not None and len(domain) != nargs):
        raise DiffkitError(f"primitive {name!r}: {nargs} VJP rules, {len(jvp)} JVP rules, domain {domain}")
    p = Primitive(name, impl, nargs, tuple(vjp), tuple(jvp), elementwise, frozenset(nondiff), cost, local,
                  sympy, dict(code or {}), fwd, frozenset(res_args), frozenset(fresh), frozenset(inplace), doc,
                  tuple(domain) if domain is not None else ("real",) * nargs, cases, frozenset(lazy), reads)
    REGISTRY[name] = p
    return p


# -- constants (the other leaves, param and input_leaf, are in leaves.py) ----------------------
def raw(x: Any) -> Any:
    """The value of a Node one level down, or ``x`` itself."""
    return x.value if isinstance(x, Node) else x


def const(value: Any, trace: int = 0) -> Node:
    """A constant leaf.  Python scalars stay Python scalars so float32 graphs stay float32."""
    if type(value) is not float and not isinstance(value, (int, float, bool, Node)):
        try:
            arr = value if type(value) is np.ndarray else np.asarray(value)
        except ValueError:  # nested lists of different lengths
            raise BadInput(f"constant {brief(value)} is not an array: its nested lists differ in length") from None
        if arr.dtype.kind not in "fiub":
            raise BadInput(f"constant of dtype {arr.dtype} is not supported; expected real numbers")
        if isinstance(value, (list, tuple)):
            value = arr  # (nested) lists are arrays: every rule sees the array NumPy would make
    return leaf_node(value, "const", None, False, trace)


def leaf_node(value: Any, kind: str, name: str | None, needs_grad: bool, trace: int) -> Node:
    """A leaf, filled in directly (``Node()`` costs twice that; bind makes one per plain argument)."""
    n = _new_node(Node)
    n._v, n.gone, n.pinned, n.primitive, n.parents, n.params, n.res = value, False, False, None, (), _NO_PARAMS, None
    n.kind, n.name, n.named, n.needs_grad, n.trace, n.id = kind, name, False, needs_grad, trace, next(_ids)
    return n


_new_node, _NO_PARAMS = object.__new__, {}  # (the params of every leaf: never written to)


# -- applying primitives -----------------------------------------------------------------------
def _bad_args(prim: Primitive, args: Sequence, exc: Exception) -> BadInput:
    shapes = ", ".join(str(np.shape(a)) for a in args)
    msg = str(exc).splitlines()[0].strip() if str(exc) else type(exc).__name__
    if "could not be broadcast" in msg:
        msg = "they do not broadcast (NumPy's rule: aligned from the right, each axis equal or 1)"
    return BadInput(f"{prim.name} cannot be applied to arguments of shapes {shapes}: {msg}")


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Apply ``prim``: on plain values just compute; otherwise record a Node at the highest
    trace level among the arguments (arguments of lower levels are constants there)."""
    top = -1
    for a in args:
        if type(a) is Node and a.trace > top:  # (Node has no subclasses)
            top = a.trace
    if top < 0:
        try:
            return prim.impl(*args, **params)
        except (BadInput, ComputationError):
            raise
        except (ValueError, TypeError, IndexError) as exc:
            raise _bad_args(prim, args, exc) from None
    ps, vals, needs_grad = [], [], False
    for a in args:
        a = a if type(a) is Node and a.trace == top else const(a, top)
        ps.append(a)
        vals.append(a.value if a.gone else a._v)
        needs_grad = needs_grad or a.needs_grad
    parents, nested = tuple(ps), Node in map(type, vals)
    res, dying = None, (_elide.dying(prim, parents, needs_grad, params) if top in ONE_SWEEP and not nested else ())
    if nested:
        value = bind(prim, *vals, **params)  # one level down: recorded there
    elif _ANOMALY[0]:
        with np.errstate(all="ignore"):  # reported below as an error, not a warning
            value = bind(prim, *vals, **params)
    else:
        try:
            if needs_grad and prim.fwd is not None:
                value, res = prim.fwd(*vals, **params)
            else:
                value = prim.impl(*vals, **params)
        except (BadInput, ComputationError):
            raise
        except (ValueError, TypeError, IndexError) as exc:
            raise _bad_args(prim, vals, exc) from None
        finally:
            if dying:
                _elide.done(dying)
    node = _new_node(Node)  # filled in directly: recording is on the path of every traced operation
    node._v, node.gone, node.pinned, node.primitive, node.parents, node.params = value, False, False, prim, parents, params
    node.kind, node.name, node.named, node.needs_grad, node.id, node.res, node.trace = \
        "op", None, False, needs_grad, next(_ids), res, top
    if _ANOMALY[0]:
        check_finite(value, node, "forward")
    return node


#: Trace levels of ``grad``/``value_and_grad``, swept once: the forward may elide values there.
ONE_SWEEP: set = set()


# -- anomaly mode (anomaly.py): NaN/inf become errors naming the node --------------------------
_ANOMALY = [False]


def check_finite(*args: Any, **kw: Any) -> None:
    from .anomaly import check_finite as check
    check(*args, **kw)


from . import elide as _elide  # noqa: E402 - it builds on the names above
