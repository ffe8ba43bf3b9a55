"""The one gradient checker every rule is tested with: random directions, central differences.

For a primitive ``p`` at arguments ``args`` it checks, for each differentiable argument i,

* VJP: ⟨u, (f(x + εv) − f(x − εv)) / 2ε⟩ ≈ ⟨vjp_i(u), v⟩ for a random cotangent u and direction v;
* JVP: jvp_i(v) ≈ (f(x + εv) − f(x − εv)) / 2ε elementwise.

Tolerances are explicit (defaults suit float64: ``eps=1e-6, atol=1e-7, rtol=1e-6``), and a
failure message names the rule, the argument and the point.  Lazily broadcast cotangents are
materialised before comparing.

>>> import numpy as np
>>> from diffkit.engine.core import REGISTRY
>>> check_rule(REGISTRY["mul"], (np.array([1.0, 2.0]), np.float64(3.0)))
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import DiffkitError
from .core import Primitive, zero
from .sweep import materialize, settle


class GradientCheckError(DiffkitError, AssertionError):
    """A rule disagrees with finite differences."""


def check_rule(prim: Primitive, args: Sequence[Any], *, params: dict | None = None,
               argnums: Sequence[int] | None = None, eps: float = 1e-6, atol: float = 1e-7,
               rtol: float = 1e-6, seed: int = 0) -> None:
    """Check ``prim``'s VJP and JVP rules at ``args`` against central differences.

    Parameters
    ----------
    prim : Primitive
    args : sequence of arrays/scalars
        The point (keep away from kinks: relu/abs/step at 0, ties of maximum).
    params : dict, optional
        Static parameters (``axis=...``).
    argnums : sequence of int, optional
        Arguments to check (default: every argument with a float value).
    eps, atol, rtol : float
        Step and tolerances (float64 defaults).
    seed : int
        For the random directions.

    Raises
    ------
    GradientCheckError
        Naming the rule (VJP/JVP, primitive, argument) and the point.
    """
    params = params or {}
    rng = np.random.default_rng(seed)
    args = [np.asarray(a, dtype=np.float64)[()] if np.result_type(a).kind == "f" else a for a in args]
    ans = prim.impl(*args, **params)
    if argnums is None:
        argnums = [i for i, a in enumerate(args) if np.result_type(a).kind == "f"]
    u = rng.standard_normal(np.shape(ans))[()]
    for i in argnums:
        v = rng.standard_normal(np.shape(args[i]))[()]

        def f(s: float) -> Any:
            moved = list(args)
            moved[i] = args[i] + s * v
            return np.asarray(prim.impl(*moved, **params), dtype=np.float64)
        fd = (f(eps) - f(-eps)) / (2 * eps)
        where = f"{prim.name} argument {i} at {_point(args)}"

        c = prim.vjp(i)(u if prim.elementwise else np.broadcast_to(u, np.shape(ans)), ans, *args, **params)
        if c is not zero:
            c = settle(c, np.shape(ans) if prim.elementwise else None, np.shape(args[i]))
        got = 0.0 if c is zero else float(np.sum(materialize(c, args[i]) * v))
        want = float(np.sum(u * fd))
        if not abs(got - want) <= atol + rtol * abs(want):
            raise GradientCheckError(f"VJP rule of {where}: ⟨vjp(u), v⟩ = {got!r} but central differences "
                                     f"give {want!r} (eps={eps}, atol={atol}, rtol={rtol})")
        t = prim.jvp(i)(v, ans, *args, **params)
        tv = np.zeros(np.shape(ans)) if t is zero else np.broadcast_to(np.asarray(t, dtype=np.float64), np.shape(ans))
        if not np.allclose(tv, fd, atol=atol, rtol=rtol):
            err = float(np.max(np.abs(tv - fd)))
            raise GradientCheckError(f"JVP rule of {where}: differs from central differences by {err:.3g} "
                                     f"(eps={eps}, atol={atol}, rtol={rtol})")


def _point(args: Sequence[Any]) -> str:
    parts = []
    for a in args:
        parts.append(f"{float(a):.6g}" if np.ndim(a) == 0 else np.array2string(np.asarray(a), precision=4,
                                                                                  threshold=6))
    return "(" + ", ".join(parts) + ")"
