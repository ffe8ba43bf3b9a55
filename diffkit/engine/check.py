"""The one gradient checker every primitive is tested with.

A rule is checked the way it is used: through the real sweeps, composed with what really arrives
in practice.  For a primitive ``p`` at a point, and each differentiable argument ``i``, the
checker differentiates ``x ↦ reduce(p(…, x, …))`` for several *reductions*, each of which hands
``p``'s rule a different kind of cotangent:

* ``full`` — ⟨p(x), U⟩ with a random U: a full cotangent;
* ``sum`` / ``mean`` — a scalar cotangent, lazily broadcast (1 or 1/n);
* ``axis k`` / ``axis k, kept`` — ⟨Σ_k p(x), U⟩ with and without kept dimensions: cotangents
  broadcast along one axis;

and compares the gradient with central differences, element by element.  It also checks

* **forward mode**: ``jvp`` of p along a random direction, and along a *lazily broadcast*
  tangent (x = broadcast of a scalar), against central differences;
* **second order**: the Hessian-vector product of the ``full`` reduction by forward-over-reverse
  and by reverse-over-reverse, against central differences of the gradient (rules must be
  written with diffkit operations to pass this);
* **nested transformations with closures**: ``d/dy grad_x(y·f(x))`` = ``grad f(x)``, where the
  inner ``grad`` closes over the outer ``y`` — perturbation confusion would break it.

Tolerances are explicit (float64 defaults ``eps=1e-6, rtol=1e-6, atol=1e-7``; errors are
relative to max(|want|, 1)); a failure names the primitive, the argument, the check, the
reduction and the point.  ``tests/engine/test_checker.py`` runs every registered primitive
through it under Hypothesis (shapes with size-1 and empty axes, broadcasting on every axis), and
shows it catches rules that are wrong.

>>> import numpy as np
>>> from diffkit.engine.core import REGISTRY
>>> check_rule(REGISTRY["mul"], (np.array([1.0, 2.0]), np.float64(3.0)))
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import DiffkitError
from .core import Primitive, bind

__all__ = ["check_rule", "GradientCheckError", "sample", "SAMPLERS"]


class GradientCheckError(DiffkitError, AssertionError):
    """A rule disagrees with central differences."""


def _real(rng, shape):
    x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return x[()] if x.ndim == 0 else x


#: Where arguments are sampled, by the names used in the records' ``domain`` (away from kinks
#: and domain edges, so central differences are meaningful).
SAMPLERS: dict[str, Callable] = {
    "real": _real,
    "positive": lambda rng, shape: rng.uniform(0.2, 2.0, shape)[()],
    "unit": lambda rng, shape: rng.uniform(-0.9, 0.9, shape)[()],
    "above_one": lambda rng, shape: rng.uniform(1.1, 3.0, shape)[()],  # arccosh (engine-numpy)
    "bool": lambda rng, shape: (rng.uniform(size=shape) > 0.5)[()],
    "label": lambda rng, shape: rng.uniform(0.0, 1.0, shape)[()],
}


def sample(prim: Primitive, shapes: Sequence[tuple], rng: np.random.Generator) -> tuple:
    """Arguments for ``prim`` of the given ``shapes``, from its record's ``domain``."""
    out = []
    for name, shape in zip(prim.domain, shapes):
        if name not in SAMPLERS:
            raise DiffkitError(f"{prim.name}: unknown domain {name!r}; known: {', '.join(SAMPLERS)}")
        out.append(SAMPLERS[name](rng, shape))
    return tuple(out)


def _differentiable(prim: Primitive, args: Sequence) -> list[int]:
    return [i for i, a in enumerate(args) if i not in prim.nondiff and prim.vjps[i] is not None
            and np.result_type(a).kind == "f"]


def _reductions(shape: tuple, rng: np.random.Generator) -> list[tuple[str, Callable]]:
    """(name, reduce) pairs; ``reduce`` maps p's output (Node or array) to a scalar."""
    from . import ops as dk
    U = rng.standard_normal(shape)
    out = [("full", lambda y: dk.sum(y * U)), ("sum", lambda y: dk.sum(y))]
    if int(np.prod(shape)) > 0:
        out.append(("mean", lambda y: dk.mean(y)))
    for k in range(len(shape)):
        V = rng.standard_normal(shape[:k] + shape[k + 1:])
        W = rng.standard_normal(shape[:k] + (1,) + shape[k + 1:])
        out.append((f"axis {k}", lambda y, k=k, V=V: dk.sum(dk.sum(y, axis=k) * V)))
        out.append((f"axis {k}, kept", lambda y, k=k, W=W: dk.sum(dk.sum(y, axis=k, keepdims=True) * W)))
    return out


def _point(args: Sequence[Any]) -> str:
    parts = []
    for a in args:
        if np.ndim(a) == 0:
            parts.append(f"{float(a):.6g}" if np.result_type(a).kind in "fiu" else repr(a))
        else:
            parts.append(f"array{np.shape(a)}")
    return "(" + ", ".join(parts) + ")"


def _close(got: Any, want: Any, rtol: float, atol: float) -> tuple[bool, float]:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False, float("inf")
    if not got.size:
        return True, 0.0
    err = np.abs(got - want)
    tol = atol + rtol * np.maximum(np.abs(want), 1.0)
    bad = float(np.max(err - tol))
    return bool(np.all(np.isfinite(got)) and bad <= 0), float(np.max(err))


def _fd_grad(f: Callable, x: np.ndarray, eps: float) -> np.ndarray:
    """Central differences of scalar ``f`` at ``x``, element by element."""
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for j in range(flat.size):
        xp, xm = flat.copy(), flat.copy()
        xp[j] += eps
        xm[j] -= eps
        gflat[j] = (float(f(xp.reshape(x.shape)[()])) - float(f(xm.reshape(x.shape)[()]))) / (2 * eps)
    return g[()] if g.ndim == 0 else g


def check_rule(prim: Primitive, args: Sequence[Any], *, params: dict | None = None,
               argnums: Sequence[int] | None = None, eps: float = 1e-6, atol: float = 1e-7,
               rtol: float = 1e-6, seed: int = 0, second_order: bool = True, nested: bool = True) -> None:
    """Check ``prim``'s rules at ``args`` through the sweeps, against central differences.

    Parameters
    ----------
    prim : Primitive
    args : sequence of arrays/scalars
        The point (keep away from kinks: relu/abs/step at 0, ties of maximum); float64.
    params : dict, optional
        Static parameters (``axis=...``).
    argnums : sequence of int, optional
        Arguments to check (default: every differentiable float argument).
    eps, atol, rtol : float
        Step and tolerances (float64 defaults); errors are compared with atol + rtol·max(|want|, 1).
    seed : int
        For the random cotangents and directions.
    second_order, nested : bool
        Also check Hessian-vector products and nested grad with a closure.

    Raises
    ------
    GradientCheckError
        Naming the primitive, the argument, the check, the reduction and the point.
    """
    from . import api
    params = dict(params or {})
    rng = np.random.default_rng(seed)
    args = [np.asarray(a, dtype=np.float64)[()] if np.result_type(a).kind == "f" else a for a in args]
    ans = prim.impl(*args, **params)
    if argnums is None:
        argnums = _differentiable(prim, args)
    where = f"{prim.name} at {_point(args)}" + (f" with {params}" if params else "")

    def fail(what: str, i: int, got: Any, want: Any, err: float) -> None:
        raise GradientCheckError(f"{what} of {where}, argument {i}: differs from central differences by "
                                 f"{err:.3g} (eps={eps}, atol={atol}, rtol={rtol}); got {np.round(got, 8)!r}, "
                                 f"want {np.round(want, 8)!r}")

    for i in argnums:
        def p_of(x, i=i):
            moved = list(args)
            moved[i] = x
            return bind(prim, *moved, **params)

        x0 = args[i]
        # -- reverse mode, every kind of cotangent -----------------------------------------
        for name, reduce in _reductions(np.shape(ans), rng):
            f = lambda x, reduce=reduce: reduce(p_of(x))  # noqa: E731
            got = api.grad(f)(x0)
            want = _fd_grad(f, x0, eps)
            ok, err = _close(got, want, rtol, atol)
            if not ok:
                fail(f"VJP (cotangent from '{name}')", i, got, want, err)
        # -- forward mode: a full tangent, and a lazily broadcast one -----------------------
        v = rng.standard_normal(np.shape(x0))[()]
        _, got = api.jvp(p_of, (x0,), (v,))
        want = (np.asarray(prim.impl(*_moved(args, i, x0 + eps * v), **params), dtype=np.float64)
                - np.asarray(prim.impl(*_moved(args, i, x0 - eps * v), **params), dtype=np.float64)) / (2 * eps)
        ok, err = _close(got, want, rtol, atol)
        if not ok:
            fail("JVP", i, got, want, err)
        if np.ndim(x0):
            from .rules.array import broadcast_to
            shape = np.shape(x0)
            s0 = float(rng.uniform(0.2, 1.0))
            base = x0 - s0  # x = base + broadcast(s): the tangent of s arrives lazily broadcast
            _, got = api.jvp(lambda s: p_of(base + broadcast_to(s, shape)), (s0,), (1.0,))
            want = (np.asarray(prim.impl(*_moved(args, i, x0 + eps), **params), dtype=np.float64)
                    - np.asarray(prim.impl(*_moved(args, i, x0 - eps), **params), dtype=np.float64)) / (2 * eps)
            ok, err = _close(got, want, rtol, atol)
            if not ok:
                fail("JVP (lazily broadcast tangent)", i, got, want, err)
        # -- second order ---------------------------------------------------------------------
        if second_order and np.size(x0):
            name, reduce = _reductions(np.shape(ans), rng)[0]
            f = lambda x, reduce=reduce: reduce(p_of(x))  # noqa: E731
            g = api.grad(f)
            w = rng.standard_normal(np.shape(x0))[()]
            want = (np.asarray(g(x0 + eps * w)) - np.asarray(g(x0 - eps * w))) / (2 * eps)
            got = api.hvp(f)(x0, w)
            ok, err = _close(got, want, 100 * rtol, 100 * atol)  # differences of differences
            if not ok:
                fail("Hessian-vector product (forward-over-reverse)", i, got, want, err)
            got = api.grad(lambda x: _ops().sum(g(x) * w))(x0)
            ok, err = _close(got, want, 100 * rtol, 100 * atol)
            if not ok:
                fail("Hessian-vector product (reverse-over-reverse)", i, got, want, err)
        # -- nested grad with a closure over the outer variable ------------------------------
        if nested and np.size(x0):
            name, reduce = _reductions(np.shape(ans), rng)[0]
            f = lambda x, reduce=reduce: reduce(p_of(x))  # noqa: E731
            want = np.asarray(api.grad(f)(x0))
            w = rng.standard_normal(np.shape(x0))[()]
            # h(y) = <grad_x (y · f(x)), w> = y <grad f, w>, so dh/dy = <grad f, w>
            h = lambda y: _ops().sum(api.grad(lambda x: y * f(x))(x0) * w)  # noqa: E731
            got = float(api.grad(h)(1.5))
            ok, err = _close(got, float(np.sum(want * w)), rtol, atol)
            if not ok:
                fail("nested grad over a closed-over variable", i, got, float(np.sum(want * w)), err)


def _moved(args: Sequence, i: int, x: Any) -> list:
    moved = list(args)
    moved[i] = x
    return moved


def _ops():
    from . import ops
    return ops
