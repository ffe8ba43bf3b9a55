"""User-facing transformations: ``grad``, ``value_and_grad``, ``jacobian``, ``hessian``, ``jvp``.

Each traces the function on fresh leaves, then runs one sweep from ``core``.  Arguments may be
arrays, scalars, or lists/tuples/dicts of them (the gradient has the same structure).  Called on
Nodes — i.e. inside another transformation — ``grad`` records its own backward pass
(``create_graph``), which is how ``hessian = jacobian(grad(f))`` works (reverse-over-reverse).

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
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import BadInput, DiffkitError
from .core import Node, backward_pass, detect_anomaly, jvp_pass, materialize, param, toposort, zero


# -- argument structures (lists, tuples, dicts of arrays) --------------------------------------
def _flatten(x: Any) -> tuple[list, Callable[[list], Any]]:
    """Leaves of a structure of lists/tuples/dicts, and a function rebuilding it from new leaves."""
    leaves: list = []
    spec = _spec(x, leaves)
    return leaves, lambda ls: _build(spec, iter(ls))


def _spec(x: Any, leaves: list) -> Any:
    # None marks a leaf; a structure is (type, keys or None, child specs).  No closure per level:
    # grad flattens its arguments on every call.
    if isinstance(x, (list, tuple)):
        return type(x), None, [_spec(v, leaves) for v in x]
    if isinstance(x, dict):
        return dict, list(x), [_spec(v, leaves) for v in x.values()]
    leaves.append(x)
    return None


def _build(spec: Any, it: Any) -> Any:
    if spec is None:
        return next(it)
    typ, keys, children = spec
    items = [_build(c, it) for c in children]
    if keys is not None:
        return dict(zip(keys, items))
    return typ(items)


def _argnums(argnum: int | Sequence[int]) -> tuple[int, ...]:
    return (argnum,) if isinstance(argnum, int) else tuple(argnum)


def _trace(f: Callable, args: tuple, argnum) -> tuple[Any, list[Node], list, bool]:
    """Call ``f`` with leaves in the ``argnum`` positions: (output, leaves, unflatteners, nested)."""
    nums = _argnums(argnum)
    for i in nums:
        if not -len(args) <= i < len(args):
            raise BadInput(f"argnum {i} is out of range for a call with {len(args)} arguments")
    args = list(args)
    leaves, unflat, nested = [], [], False
    for i in nums:
        flat, un = _flatten(args[i])
        nodes = []
        for v in flat:
            if isinstance(v, Node):
                nested = True
                nodes.append(v)
            else:
                nodes.append(param(v, f"arg{i}"))
        leaves.append(nodes)
        unflat.append(un)
        args[i] = un(nodes)
    return f(*args), leaves, unflat, nested


def _scalar_output(out: Any, what: str) -> None:
    shape = np.shape(out.value if isinstance(out, Node) else out)
    if shape != ():
        raise BadInput(f"{what} needs a function returning a scalar, but it returned shape {shape}; "
                       "reduce it (e.g. .sum() or .mean()) or use jacobian for vector outputs")


def _gradients(out: Any, leaves: list[list[Node]], unflat: list, nested: bool, argnum) -> Any:
    flat = [n for group in leaves for n in group]
    if isinstance(out, Node) and out.needs_grad:
        adj = backward_pass(out, 1.0, wrt=flat, create_graph=nested)
    else:
        adj = {}
    grads = [un([materialize(adj.get(n, zero), n.value) for n in group]) for group, un in zip(leaves, unflat)]
    return grads[0] if isinstance(argnum, int) else tuple(grads)


def value_and_grad(f: Callable, argnum: int | Sequence[int] = 0, *,
                   detect_anomaly: bool = False) -> Callable[..., tuple[Any, Any]]:
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
    def value_and_grad_f(*args: Any) -> tuple[Any, Any]:
        with _anomaly_ctx(detect_anomaly):
            out, leaves, unflat, nested = _trace(f, args, argnum)
            _scalar_output(out, "grad")
            grads = _gradients(out, leaves, unflat, nested, argnum)
        value = out if nested or not isinstance(out, Node) else out.value
        return value, grads
    return value_and_grad_f


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
    vg = value_and_grad(f, argnum, detect_anomaly=detect_anomaly)
    return lambda *args: vg(*args)[1]


def _anomaly_ctx(enabled: bool):
    return detect_anomaly() if enabled else nullcontext()


def jacobian(f: Callable, argnum: int = 0) -> Callable[..., Any]:
    """The Jacobian, shape ``f(x).shape + x.shape``: one reverse sweep per output entry.

    The graph is traced once and swept once per output; sweeps share nothing, so the answer
    does not depend on how many were run before.

    >>> import numpy as np, diffkit.engine as dk
    >>> dk.jacobian(lambda x: x ** 2)(np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    if not isinstance(argnum, int):
        raise BadInput("jacobian takes a single argnum")

    def jac(*args: Any) -> Any:
        out, leaves, _, nested = _trace(f, args, argnum)
        if len(leaves[0]) != 1:
            raise BadInput("jacobian needs a single array argument, not a list/dict of arrays")
        x = leaves[0][0]
        if nested:
            raise DiffkitError("jacobian inside another transformation (third derivatives) is not supported")
        if not isinstance(out, Node) or not out.needs_grad:
            return np.zeros(np.shape(out.value if isinstance(out, Node) else out) + x.shape)
        oshape, odtype = out.shape, out.dtype
        order = toposort(out, stop=(x,), only_grad=True)
        rows = []
        for idx in np.ndindex(*oshape):
            seed = np.zeros(oshape, odtype)
            seed[idx] = 1
            adj = backward_pass(out, seed[()], wrt=(x,), order=order)
            rows.append(materialize(adj.get(x, zero), x.value))
        return np.reshape(np.stack(rows) if rows else np.zeros((0,) + x.shape), oshape + x.shape)
    return jac


def hessian(f: Callable, argnum: int = 0) -> Callable[..., Any]:
    """The Hessian of scalar-valued ``f``: ``jacobian(grad(f))``, reverse-over-reverse.

    >>> import numpy as np, diffkit.engine as dk
    >>> dk.hessian(lambda x: x[0] if False else dk.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacobian(grad(f, argnum), argnum)


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J·tangents)`` from one forward sweep of JVP rules.

    >>> import numpy as np, diffkit.engine as dk
    >>> out, t = dk.jvp(lambda x, y: dk.sin(x) * y, (0.0, 2.0), (1.0, 0.0))
    >>> float(out), float(t)
    (0.0, 2.0)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise BadInput(f"jvp got {len(primals)} primals but {len(tangents)} tangents; give one tangent per primal")
    out, leaves, _, _ = _trace(f, primals, tuple(range(len(primals))))
    flat = [n for group in leaves for n in group]
    tflat = [t for tan in tangents for t in _flatten(tan)[0]]
    seeds = {}
    for n, t in zip(flat, tflat):
        tv = np.asarray(t, dtype=n.dtype)
        if tv.shape != n.shape:
            raise BadInput(f"tangent of shape {tv.shape} does not match its primal of shape {n.shape}")
        seeds[n] = tv[()]
    if not isinstance(out, Node):
        return out, np.zeros_like(out)
    tan = jvp_pass(toposort(out), seeds)
    return out.value, materialize(tan.get(out, zero), out.value)
