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
>>> x = param(np.float64(3.0), "x")
>>> y = dk.exp(x) * x
>>> float(backward_pass(y, 1.0, wrt=(x,))[x])  # (1 + x) e^x
80.3421476927...
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import BadInput, ComputationError, DiffkitError

__all__ = [
    "Node", "Primitive", "REGISTRY", "defprim", "Absent", "SymPy", "Code", "Summed", "bind", "zero", "new_level",
    "param", "input_leaf", "const", "as_value", "raw", "PASS", "MUL", "NONE", "ZERO",
    "detect_anomaly", "anomaly_enabled", "check_finite",
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
_levels = itertools.count(1)


def new_level() -> int:
    """A trace level higher than every level handed out before (one per transformation call)."""
    return next(_levels)


class Node:
    """One value in a computation graph.

    Attributes
    ----------
    value : array, scalar, Node or None
        The forward value; a Node of a lower trace level when recorded inside a nested
        transformation; None in a graph built from SymPy before it is evaluated.
    primitive : Primitive or None
        What made the node; ``None`` for leaves.
    parents : tuple of Node
        Arguments in order (plain arguments become ``const`` leaves).
    params : dict
        Static parameters of the primitive (``axis``, ``shape``, ...).
    kind : {"param", "input", "const", "op"}
    name : str or None
        Display name; graphs name unnamed nodes ``v1, v2, ...`` and constants ``c1, ...``.
    needs_grad : bool
        True when a parameter is upstream, i.e. the backward pass must visit it.
    trace : int
        The trace level the node belongs to.
    """

    __slots__ = ("value", "primitive", "parents", "params", "kind", "name", "needs_grad", "id",
                 "named", "res", "trace", "__weakref__")
    __hash__ = object.__hash__  # identity: == is NumPy's elementwise comparison (ops.py)

    def __init__(self, value: Any, primitive: "Primitive | None" = None, parents: tuple = (),
                 params: dict | None = None, *, kind: str = "op", name: str | None = None,
                 needs_grad: bool = False, trace: int = 0) -> None:
        self.value, self.primitive, self.parents = value, primitive, parents
        self.params = params or {}
        self.kind, self.name = kind, name
        self.named = name is not None and kind == "op"
        self.needs_grad, self.trace = needs_grad, trace
        self.id = next(_ids)
        self.res = None  # residuals from the primitive's forward (Primitive.fwd)

    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return len(np.shape(self.value))

    @property
    def size(self) -> int:
        return int(np.prod(np.shape(self.value), dtype=np.int64))

    @property
    def dtype(self):
        v = self.value
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
    """An interpretation a primitive deliberately does not have, with the reason.

    >>> Absent("no SymPy counterpart for an axis-wise softmax")
    Absent('no SymPy counterpart for an axis-wise softmax')
    """

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


class Primitive:
    """Everything diffkit knows about one operation, in one place (see :func:`defprim`)."""

    __slots__ = ("name", "impl", "nargs", "vjps", "jvps", "elementwise", "nondiff", "cost", "local",
                 "sympy", "code", "fwd", "res_args", "fresh", "inplace", "doc", "domain", "cases")

    def __init__(self, name: str, impl: Callable, nargs: int) -> None:
        self.name, self.impl, self.nargs = name, impl, nargs
        self.vjps: tuple = (None,) * nargs
        self.jvps: tuple = (None,) * nargs
        self.elementwise = False
        self.nondiff: frozenset[int] = frozenset()
        self.cost: Any = None
        self.local: Any = None
        self.sympy: Any = None
        self.code: dict[str, Any] = {}
        self.fwd: Callable | None = None
        self.res_args: frozenset[int] = frozenset()
        self.fresh: frozenset[int] = frozenset()
        self.inplace: frozenset[int] = frozenset()
        self.doc = ""
        self.domain: tuple[str, ...] = ("real",) * nargs
        self.cases: Callable | None = None

    def vjp(self, i: int) -> Callable:
        rule = self.vjps[i]
        if rule is None:
            raise DiffkitError(f"{self.name} is not differentiable with respect to argument {i}"
                               + (" (it is a mask/label argument)" if i in self.nondiff else
                                  "; pass that argument as a constant"))
        return rule

    def jvp(self, i: int) -> Callable:
        rule = self.jvps[i]
        if rule is None:
            raise DiffkitError(f"{self.name} has no forward-mode rule for argument {i}; keep it constant")
        return rule

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


#: Every primitive, by name, in registration order.
REGISTRY: dict[str, Primitive] = {}


def defprim(name: str, impl: Callable, *, vjp: Sequence[Callable | None], jvp: Sequence[Callable | None],
            cost: Any, local: Any, sympy: Any, code: Mapping[str, Any] | None = None,
            elementwise: bool = False, nondiff: Sequence[int] = (), fwd: Callable | None = None,
            res_args: Sequence[int] = (), fresh: Sequence[int] = (), inplace: Sequence[int] = (),
            domain: Sequence[str] | None = None, cases: Callable | None = None, doc: str = "") -> Primitive:
    """Create and register one primitive with all its interpretations.

    Parameters
    ----------
    name : str
        Unique name (also the name shown in graphs and listings).
    impl : callable
        ``impl(*args, **params)`` on plain NumPy values.
    vjp, jvp : sequence, one entry per argument
        The rules (see the module docstring); ``None`` only for arguments in ``nondiff``.
    cost : (forward_ops, per-argument (ops, use)) or a callable ``cost(node, i) -> (ops, use)``
        for the backward part; the convention is documented in ``opcount``.
    local : sequence of str or callable ``local(node, i) -> str``
        ∂(result)/∂(argument i) as the lecture writes it; ``{0}``, ``{1}`` are the arguments,
        ``{ans}`` the result.
    sympy : callable or Absent
        ``sympy(*sympy_args, **params)`` builds the SymPy counterpart.
    code : mapping, optional
        Code templates by backend name (``"math"``: Python floats, ``"numpy"``); a backend may
        be ``Absent``: replay then calls ``impl`` and the VJP rules themselves.
    elementwise : bool
        The primitive broadcasts its arguments to a common result shape (NumPy's rules).
    fwd : callable, optional
        ``fwd(*args, **params) -> (value, residuals)``, used when recording for a gradient; the
        VJPs of ``res_args`` then get ``res=`` (or ``res=None`` when no residuals are at hand).
    fresh, inplace : sequences of argnums
        On plain arrays, the VJP returns a new array (``fresh``), or takes ``out=`` (``inplace``):
        used by the fast sweep (``fast.py``) to reuse buffers.
    domain : sequence of str, one per argument (elementwise primitives)
        Where the gradient checker (``check.py``) samples each argument, away from kinks and
        domain edges: ``"real"`` (|x| in [0.1, 2], either sign), ``"positive"`` ([0.2, 2]),
        ``"unit"`` ((−0.9, 0.9)), ``"bool"`` (a mask, not differentiated), ``"label"``.
    cases : callable, optional (required for primitives that are not elementwise)
        ``cases(rng) -> [(args, params), ...]``: valid points for the checker, covering the
        argument patterns (shapes, axes, keepdims) the primitive accepts.
    """
    if name in REGISTRY:
        raise DiffkitError(f"primitive {name!r} is already registered")
    nargs = len(vjp)
    if len(jvp) != nargs:
        raise DiffkitError(f"primitive {name!r}: {nargs} VJP rules but {len(jvp)} JVP rules")
    p = Primitive(name, impl, nargs)
    p.vjps, p.jvps = tuple(vjp), tuple(jvp)
    p.elementwise, p.nondiff = elementwise, frozenset(nondiff)
    p.cost, p.local, p.sympy, p.code = cost, local, sympy, dict(code or {})
    p.fwd, p.res_args = fwd, frozenset(res_args)
    p.fresh, p.inplace, p.doc = frozenset(fresh), frozenset(inplace), doc
    if domain is not None:
        if len(domain) != nargs:
            raise DiffkitError(f"primitive {name!r}: {len(domain)} domains for {nargs} arguments")
        p.domain = tuple(domain)
    p.cases = cases
    REGISTRY[name] = p
    return p


# -- values ------------------------------------------------------------------------------------
def as_value(x: Any, what: str = "value") -> Any:
    """Validate a leaf value: float32/float64 kept, Python numbers to float64, else BadInput.

    >>> as_value([1, 2]).dtype
    dtype('float64')
    >>> as_value(np.ones(2, np.float32)).dtype
    dtype('float32')
    >>> as_value(np.arange(3))
    Traceback (most recent call last):
    ...
    diffkit.errors.BadInput: value has integer dtype int64; differentiate at float32 or float64 values (e.g. x.astype(float))
    """
    if type(x) is np.ndarray and x.ndim and (x.dtype == np.float64 or x.dtype == np.float32):
        return x  # the common case, checked cheaply (leaves are made on every grad call)
    if isinstance(x, Node):
        return x  # a node of an outer trace level: its value is traced there
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in "iub":
        raise BadInput(f"{what} has integer dtype {x.dtype}; differentiate at float32 or float64 "
                       "values (e.g. x.astype(float))")
    try:
        arr = np.asarray(x)
    except Exception:
        raise BadInput(f"{what} {_brief_repr(x)} is not a number or array") from None
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
    elif kind in "iub":
        arr = arr.astype(np.float64)  # Python numbers and lists of them
    else:
        raise BadInput(f"{what} has dtype {arr.dtype}; expected real float32 or float64 numbers "
                       "(complex, object and string values are not accepted)")
    return arr[()] if arr.ndim == 0 else arr


def _brief_repr(x: Any) -> str:
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."


def raw(x: Any) -> Any:
    """The value of a Node one level down, or ``x`` itself."""
    return x.value if isinstance(x, Node) else x


def param(value: Any, name: str | None = None, *, trace: int = 0) -> Node:
    """A leaf to differentiate with respect to.  Leaves made by hand share the base level 0
    (below every transformation); ``grad`` and friends make theirs at a fresh level."""
    return Node(as_value(value, "parameter" if name is None else f"parameter {name}"), kind="param",
                name=name, needs_grad=True, trace=trace)


def input_leaf(value: Any, name: str | None = None, *, trace: int = 0) -> Node:
    """A leaf that is data (not differentiated), e.g. x, y or a hyperparameter."""
    return Node(None if value is None else as_value(value, f"input {name or ''}".strip()), kind="input",
                name=name, trace=trace)


def const(value: Any, trace: int = 0) -> Node:
    """A constant leaf.  Python scalars stay Python scalars so float32 graphs stay float32."""
    if not isinstance(value, (int, float, bool, Node)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiub":
            raise BadInput(f"constant of dtype {arr.dtype} is not supported; expected real numbers")
    n = Node(value, kind="const", trace=trace)
    return n


# -- applying primitives -----------------------------------------------------------------------
def _bad_args(prim: Primitive, args: Sequence, exc: Exception) -> BadInput:
    shapes = ", ".join(str(np.shape(a)) for a in args)
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return BadInput(f"{prim.name} cannot be applied to arguments of shapes {shapes}: {msg}")


def bind(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Apply ``prim``: on plain values just compute; otherwise record a Node at the highest
    trace level among the arguments (arguments of lower levels are constants there)."""
    top = -1
    for a in args:
        if isinstance(a, Node) and a.trace > top:
            top = a.trace
    if top < 0:
        try:
            return prim.impl(*args, **params)
        except (BadInput, ComputationError):
            raise
        except (ValueError, TypeError, IndexError) as exc:
            raise _bad_args(prim, args, exc) from None
    parents = tuple([a if isinstance(a, Node) and a.trace == top else const(a, top) for a in args])
    vals = [p.value for p in parents]
    needs_grad = False
    for p in parents:
        if p.needs_grad:
            needs_grad = True
            break
    res = None
    if any(isinstance(v, Node) for v in vals):
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
    # Recording is on the path of every traced operation: the node is filled in directly.
    node = _new_node(Node)
    node.value, node.primitive, node.parents, node.params = value, prim, parents, params
    node.kind, node.name, node.named, node.needs_grad = "op", None, False, needs_grad
    node.id, node.res, node.trace = next(_ids), res, top
    if _ANOMALY[0]:
        check_finite(value, node, "forward")
    return node


_new_node = object.__new__


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
    """Raise ComputationError when ``value`` (of ``node``, in ``phase``) has a NaN or inf."""
    v = value
    while isinstance(v, Node):
        v = v.value
    if v is zero or v is None or np.all(np.isfinite(v)):
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
    while isinstance(v, Node):
        v = v.value
    if v is None:
        return "?"
    return f"{float(v):.6g}" if np.ndim(v) == 0 else f"array{np.shape(v)}"
