"""User-facing transformations: ``grad``, ``value_and_grad``, ``jacobian``, ``hessian``, ``jvp``, ``hvp``.

Each call records ``f`` at a fresh trace level (see ``core``) and runs one sweep of ``sweep``.
Arguments may be arrays, scalars, or lists/tuples/namedtuples/dicts of them (the gradient has the same
structure).  Transformations nest to any depth: called inside another one, the sweep computes
with the outer level's nodes and so is itself recorded there — ``hessian`` is
``jacobian(grad(f))`` (reverse-over-reverse), ``hvp`` is ``jvp(grad(f))`` (forward-over-reverse).

Examples
--------
>>> import numpy as np
>>> import diffkit.engine as dk
>>> f = lambda x: dk.sum(dk.sin(x) * x ** 2)
>>> x = np.array([0.5, 1.0])
>>> np.allclose(dk.grad(f)(x), np.cos(x) * x**2 + 2 * x * np.sin(x))
True
>>> np.allclose(dk.hessian(f)(x), np.diag(-np.sin(x) * x**2 + 4 * x * np.cos(x) + 2 * np.sin(x)))
True
>>> dk.jvp(lambda x: x * x, (3.0,), (1.0,))
(np.float64(9.0), np.float64(6.0))
>>> float(dk.grad(lambda x: x * dk.grad(lambda y: x * y)(2.0))(3.0))  # d/dx x·x, no confusion
6.0
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import BadInput
from .anomaly import detect_anomaly
from .core import ONE_SWEEP, Node, new_level, zero
from .leaves import params
from .fast import backward as _backward
from .sweep import grad_order, jvp_pass, materialize
from .walk import toposort


# -- argument structures (lists, tuples, dicts of arrays) --------------------------------------
# On every grad call the arguments are flattened and the leaves and the gradients rebuilt, so
# this is kept lean: leaves are recognised without a call each, the common containers by type.
_ndarray = np.ndarray
_SCALARS = (np.float64, np.float32, float)
_SIMPLE_LEAVES = (np.ndarray, float, np.float64, np.float32, int)


def _flatten(x: Any) -> tuple[list, Callable[[list], Any]]:
    """Leaves of a structure of lists/tuples/dicts (namedtuples too), and a function rebuilding
    it from new leaves.

    >>> leaves, un = _flatten([(1.0, 2.0), {"b": 3.0}])
    >>> leaves, un(["w", "b", "c"])
    ([1.0, 2.0, 3.0], [('w', 'b'), {'b': 'c'}])
    """
    if type(x) in _SIMPLE_LEAVES:
        return [x], _first
    leaves: list = []
    spec = _spec(x, leaves)
    return leaves, lambda ls: _build(spec, iter(ls))


def _first(ls: list) -> Any:
    return ls[0]


def _spec(x: Any, leaves: list) -> Any:
    # None marks a leaf; a structure is (type, keys or None, child specs).
    t = type(x)
    if t is list or t is tuple or t is dict or isinstance(x, (list, tuple, dict)):
        kids = []
        for v in (x.values() if isinstance(x, dict) else x):
            if type(v) in _SIMPLE_LEAVES:
                leaves.append(v)
                kids.append(None)
            else:
                kids.append(_spec(v, leaves))
        return t if t is list or t is tuple else dict if isinstance(x, dict) else t, \
            list(x) if isinstance(x, dict) else None, kids
    leaves.append(x)
    return None


def _build(spec: Any, it: Any) -> Any:
    if spec is None:
        return next(it)
    typ, keys, children = spec
    items = [next(it) if c is None else _build(c, it) for c in children]
    if keys is not None:
        return dict(zip(keys, items))
    if typ is list:
        return items
    if typ is tuple:
        return tuple(items)
    return typ(*items) if hasattr(typ, "_fields") else typ(items)  # a namedtuple takes its fields


def _argnums(argnum: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(argnum, (int, np.integer)) and not isinstance(argnum, bool):
        return (int(argnum),)
    try:
        nums = tuple(argnum)
    except TypeError:
        raise BadInput(f"argnum must be an integer or a tuple of integers, got {argnum!r}") from None
    if not nums or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in nums):
        raise BadInput(f"argnum must be an integer or a non-empty tuple of integers, got {argnum!r}")
    if len(set(nums)) != len(nums):
        raise BadInput(f"argnum {argnum!r} repeats an argument")
    return tuple(int(i) for i in nums)


def _check_callable(f: Any, what: str) -> None:
    if not callable(f):
        raise BadInput(f"{what} needs a function, got {type(f).__name__}")


def _trace(f: Callable, args: tuple, argnum, level: int) -> tuple[Any, list[list[Node]], list]:
    """Call ``f`` with parameter leaves of trace ``level`` in the ``argnum`` positions (an int or
    a list of ints, or a tuple :func:`_argnums` made or of ints checked alike)."""
    nums = argnum if type(argnum) is tuple else _argnums(argnum)  # (a tuple: one _argnums made)
    for i in nums:
        if not -len(args) <= i < len(args):
            raise BadInput(f"argnum {i} is out of range for a call with {len(args)} argument"
                           f"{'' if len(args) == 1 else 's'}")
    args = list(args)
    leaves, unflat = [], []
    for i in nums:
        flat, un = _flatten(args[i])
        nodes = params(flat, f"arg{i}", level)
        leaves.append(nodes)
        unflat.append(un)
        args[i] = un(nodes)
    return f(*args), leaves, unflat


def _here(out: Any, level: int) -> bool:
    """Whether ``out`` was recorded at ``level`` (else it does not depend on this level's leaves)."""
    return isinstance(out, Node) and out.trace == level


def _scalar_output(out: Any, what: str) -> None:
    if isinstance(out, (list, tuple, dict)):
        raise BadInput(f"{what} needs a function returning a scalar, but it returned a {type(out).__name__}; "
                       "return one number (e.g. the sum of the terms), or use jacobian for vector outputs")
    shape = out.shape if isinstance(out, Node) else np.shape(out)  # np.shape(node) dispatches: ~10 µs
    if shape != ():
        raise BadInput(f"{what} needs a function returning a scalar, but it returned shape {shape}; "
                       "reduce it (e.g. .sum() or .mean()) or use jacobian for vector outputs")
    v = out
    while isinstance(v, Node):
        v = v._v  # its type is all that is read here (an elided value's ghost has it)
    if not isinstance(v, (int, float, np.number, np.ndarray, np.bool_)) or np.result_type(v).kind not in "fiub":
        raise BadInput(f"{what} needs a function returning a real number, got {type(v).__name__}")


def value_and_grad(f: Callable, argnum: int | Sequence[int] = 0, *,
                   detect_anomaly: bool = False, _name: str = "value_and_grad") -> Callable[..., tuple[Any, Any]]:
    """``f``'s value and its gradient with respect to argument(s) ``argnum``.

    Parameters
    ----------
    f : callable
        Written with diffkit's operations; must return a scalar.
    argnum : int or tuple of int, default 0
    detect_anomaly : bool, default False
        Raise :class:`~diffkit.errors.ComputationError` at the first NaN/inf, naming the node.

    >>> import diffkit.engine as dk
    >>> dk.value_and_grad(lambda w, x: (w * x - 1.0) ** 2)(2.0, 3.0)
    (np.float64(25.0), np.float64(30.0))
    """
    _check_callable(f, _name)
    nums = _argnums(argnum)
    single = len(nums) == 1 and isinstance(argnum, (int, np.integer))

    def value_and_grad_f(*args: Any) -> tuple[Any, Any]:
        level = new_level()
        ONE_SWEEP.add(level)  # swept once: the forward may elide values no rule reads (elide.py)
        try:
            out, leaves, unflat = _trace(f, args, nums, level)
        finally:
            ONE_SWEEP.discard(level)
        here = type(out) is Node and out.trace == level
        if not (here and type(out._v) in _SCALARS):  # the common case, a float scalar, is checked at once
            _scalar_output(out, "grad")
        flat = leaves[0] if len(leaves) == 1 else [n for group in leaves for n in group]
        adj = _backward(out, 1.0, wrt=flat, consume=True) if here and out.needs_grad else {}  # the only sweep
        get = adj.get
        grads = [un([materialize(get(n, zero), n._v) for n in group]) for group, un in zip(leaves, unflat)]
        return out.value if here else out, grads[0] if single else tuple(grads)

    if not detect_anomaly:
        return value_and_grad_f

    def value_and_grad_f_checked(*args: Any) -> tuple[Any, Any]:
        with _anomaly_ctx(True):
            return value_and_grad_f(*args)
    return value_and_grad_f_checked


def grad(f: Callable, argnum: int | Sequence[int] = 0, *, detect_anomaly: bool = False) -> Callable[..., Any]:
    """The gradient of scalar-valued ``f`` with respect to argument(s) ``argnum``.

    >>> import diffkit.engine as dk
    >>> float(dk.grad(lambda x: dk.exp(2.0 * x))(0.0))
    2.0
    >>> import numpy as np
    >>> dk.grad(lambda x: x * 2.0)(np.array([1.0, 2.0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    diffkit.errors.BadInput: grad needs a function returning a scalar, but it returned shape (2,); ...
    """
    vg = value_and_grad(f, argnum, detect_anomaly=detect_anomaly, _name="grad")
    return lambda *args: vg(*args)[1]


def _anomaly_ctx(enabled: bool):
    return detect_anomaly() if enabled else nullcontext()


def _stack(rows: list, shape: tuple) -> Any:
    if any(isinstance(r, Node) for r in rows):
        from .rules.array import reshape
        from . import ops
        stacked = ops.stack(rows) if rows else np.zeros((0,))
        return reshape(stacked, shape)
    return np.reshape(np.stack(rows) if rows else np.zeros((0,)), shape)


def jacobian(f: Callable, argnum: int = 0) -> Callable[..., Any]:
    """The Jacobian, shape ``f(x).shape + x.shape``: one reverse sweep per output entry.

    The function is traced once and swept once per output; sweeps share nothing.

    >>> import numpy as np, diffkit.engine as dk
    >>> dk.jacobian(lambda x: x ** 2)(np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    _check_callable(f, "jacobian")
    if not isinstance(argnum, (int, np.integer)) or isinstance(argnum, bool):
        raise BadInput("jacobian takes a single argnum (an integer)")

    def jac(*args: Any) -> Any:
        level = new_level()
        out, leaves, _ = _trace(f, args, argnum, level)
        if len(leaves[0]) != 1:
            raise BadInput("jacobian needs a single array argument, not a list/dict of arrays")
        x = leaves[0][0]
        if isinstance(out, (list, tuple, dict)):
            raise BadInput(f"jacobian needs a function returning one array, but it returned a {type(out).__name__}; "
                           "stack the outputs into one array (dk.stack or dk.concatenate)")
        oshape = np.shape(out)
        if not _here(out, level) or not out.needs_grad:
            return np.zeros(oshape + x.shape)
        order = grad_order(out, (x,))
        rows = []
        for idx in np.ndindex(*oshape):
            seed = np.zeros(oshape, np.result_type(out.dtype, np.float32))
            seed[idx] = 1
            adj = _backward(out, seed[()], wrt=(x,), order=order)
            rows.append(materialize(adj.get(x, zero), x.value))
        return _stack(rows, oshape + x.shape)
    return jac


def hessian(f: Callable, argnum: int = 0) -> Callable[..., Any]:
    """The Hessian of scalar-valued ``f``: ``jacobian(grad(f))``, reverse-over-reverse.

    >>> import numpy as np, diffkit.engine as dk
    >>> dk.hessian(lambda x: dk.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    _check_callable(f, "hessian")
    return jacobian(grad(f, argnum), argnum)


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J·tangents)`` from one sweep of JVP rules.

    ``f`` may return an array or a list/tuple/dict of them; the tangent has the same structure.

    >>> import numpy as np, diffkit.engine as dk
    >>> out, t = dk.jvp(lambda x, y: dk.sin(x) * y, (0.0, 2.0), (1.0, 0.0))
    >>> float(out), float(t)
    (0.0, 2.0)
    """
    _check_callable(f, "jvp")
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise BadInput("jvp takes primals and tangents as tuples, one entry per argument of f")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise BadInput(f"jvp got {len(primals)} primals but {len(tangents)} tangents; give one tangent per primal")
    level = new_level()
    out, leaves, _ = _trace(f, primals, tuple(range(len(primals))) or 0, level) if primals else (f(), [], [])
    flat = [n for group in leaves for n in group]
    tflat = [t for tan in tangents for t in _flatten(tan)[0]]
    if len(tflat) != len(flat):
        raise BadInput("jvp: the tangents do not have the structure of the primals")
    seeds = {}
    for n, t in zip(flat, tflat):
        tv = t if isinstance(t, Node) else np.asarray(t, dtype=np.result_type(n.dtype, np.float32))
        if np.shape(tv) != n.shape:
            raise BadInput(f"tangent of shape {np.shape(tv)} does not match its primal of shape {n.shape}")
        seeds[n] = tv if isinstance(tv, Node) else tv[()]
    outs, unflat = _flatten(out)
    here = [o for o in outs if _here(o, level)]
    order = toposort_many(here)
    tan = jvp_pass(order, seeds) if here else {}
    values, tans = [], []
    for o in outs:
        if _here(o, level):
            values.append(o.value)
            tans.append(materialize(tan.get(o, zero), o.value))
        else:
            values.append(o)
            tans.append(materialize(zero, o))
    return unflat(values), unflat(tans)


def toposort_many(outs: Sequence[Node]) -> list[Node]:
    """A topological order of everything reachable from any of ``outs``."""
    seen: set[Node] = set()
    order: list[Node] = []
    for o in outs:
        for n in toposort(o):
            if n not in seen:
                seen.add(n)
                order.append(n)
    return order


def hvp(f: Callable, argnum: int = 0) -> Callable[..., Any]:
    """Hessian-vector product ``H(x)·v`` of scalar ``f`` by forward-over-reverse (one JVP of the
    gradient: a few gradients' cost, no Hessian formed).  Call as ``hvp(f)(x, v)``.

    >>> import numpy as np, diffkit.engine as dk
    >>> dk.hvp(lambda x: dk.sum(x ** 3))(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    _check_callable(f, "hvp")
    if not isinstance(argnum, (int, np.integer)) or isinstance(argnum, bool):
        raise BadInput("hvp takes a single argnum (an integer)")

    def hvp_f(*args: Any) -> Any:
        if len(args) < 2:
            raise BadInput("hvp(f) is called as hvp(f)(*args, v): the arguments of f, then the vector")
        *fargs, v = args
        g = grad(f, argnum)
        x = fargs[argnum]
        return jvp(lambda xx: g(*fargs[:argnum], xx, *fargs[argnum + 1:]), (x,), (v,))[1]
    return hvp_f
