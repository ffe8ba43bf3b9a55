"""Gradient checks for the NumPy-surface tests: every case against central differences, and
against torch when it is installed.

``check_grads(f, *args)`` checks, for each float argument x of ``f`` (which may return an array
of any shape), with a random cotangent u and a random direction v:

* reverse mode: ⟨grad(⟨f, u⟩)(x), v⟩ against the directional derivative of ⟨f, u⟩ along v;
* forward mode: jvp(f)(x; v) against the directional derivative of f along v, entry by entry;
* ``order`` ≥ 2: the same two checks for x ↦ grad(⟨f, u⟩)(x) itself (reverse-over-reverse and
  forward-over-reverse), and so on for higher orders.

Directional derivatives are the 4-point central difference (Richardson), step ``EPS``: error
O(EPS⁴) from truncation plus O(1e-16/EPS) from rounding, far below the tolerances ``RTOL``/``ATOL``
(float64 throughout).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

import diffkit.engine as dk

EPS = 1e-4
RTOL = 1e-6
ATOL = 1e-8

try:  # an optional oracle: tests skip their torch part without it
    import torch
    torch.set_default_dtype(torch.float64)
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


def is_float(a: Any) -> bool:
    """Whether ``a`` is a float scalar or array (the arguments that are differentiated)."""
    if a is None or isinstance(a, (list, tuple, str, bool, np.bool_)):
        return False
    return np.result_type(a).kind == "f"


def plain(y: Any) -> np.ndarray:
    """A function's result as a float64 array (lists of arrays are stacked, as NumPy would)."""
    if isinstance(y, (list, tuple)):
        return np.array([plain(v) for v in y])
    while isinstance(y, dk.Node):
        y = y.value
    return np.asarray(y, dtype=np.float64)


def directional(f: Callable, x: Any, v: Any, eps: float = EPS) -> np.ndarray:
    """The derivative of ``f`` at ``x`` along ``v``, by the 4-point central difference."""
    fx = lambda s: plain(f(x + s * v))  # noqa: E731
    return (8.0 * (fx(eps) - fx(-eps)) - (fx(2 * eps) - fx(-2 * eps))) / (12.0 * eps)


def _as_node_output(y: Any) -> Any:
    return dk.stack([_as_node_output(v) for v in y]) if isinstance(y, (list, tuple)) else y


def _close(got: Any, want: Any, rtol: float, atol: float) -> bool:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    return got.shape == want.shape and bool(np.all(np.abs(got - want) <= atol * scale + rtol * np.abs(want)))


def check_one(f: Callable, x: Any, *, order: int = 2, modes: Sequence[str] = ("rev", "fwd"), rtol: float = RTOL,
              atol: float = ATOL, seed: int = 0, what: str = "f") -> None:
    """Check ``f``'s derivatives in its single argument ``x`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float64)[()]
    y = plain(f(x))
    u = rng.standard_normal(y.shape)[()]
    v = rng.standard_normal(np.shape(x))[()]

    def scalar(xx):
        return dk.sum(_as_node_output(f(xx)) * u)
    if "rev" in modes:
        g = plain(dk.grad(scalar)(x))
        assert g.shape == np.shape(x), f"{what}: gradient of shape {g.shape} for an argument of shape {np.shape(x)}"
        got, want = float(np.sum(g * v)), float(directional(scalar, x, v))
        assert _close(got, want, rtol, atol), f"{what}: reverse mode ⟨grad, v⟩ = {got!r}, central differences {want!r}"
    if "fwd" in modes:
        _, t = dk.jvp(lambda xx: _as_node_output(f(xx)), (x,), (v,))
        want = directional(f, x, v)
        assert _close(plain(t), want, rtol, atol), \
            f"{what}: forward mode differs from central differences by {np.max(np.abs(plain(t) - want)):.3g}"
    if order > 1:
        check_one(lambda xx: dk.grad(scalar)(xx), x, order=order - 1, modes=modes, rtol=rtol, atol=atol,
                  seed=seed + 1, what=f"grad of {what}")


def check_grads(f: Callable, *args: Any, argnums: Sequence[int] | None = None, order: int = 2,
                modes: Sequence[str] = ("rev", "fwd"), rtol: float = RTOL, atol: float = ATOL, seed: int = 0,
                what: str = "f") -> None:
    """:func:`check_one` for each float argument of ``f`` (or those in ``argnums``)."""
    if argnums is None:
        argnums = [i for i, a in enumerate(args) if is_float(a)]
    for i in argnums:
        def fi(xi, i=i):
            full = list(args)
            full[i] = xi
            return f(*full)
        check_one(fi, args[i], order=order, modes=modes, rtol=rtol, atol=atol, seed=seed + 7 * i,
                  what=f"{what} (argument {i})")


def torch_grads(tf: Callable, args: Sequence[Any], u: Any, argnums: Sequence[int]) -> list[np.ndarray]:
    """The gradients of ⟨tf(*args), u⟩ by torch, for the arguments in ``argnums``."""
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=i in argnums) if is_float(a)
          else (torch.tensor(a) if isinstance(a, np.ndarray) else a) for i, a in enumerate(args)]
    y = tf(*ts)
    (y * torch.tensor(np.asarray(u, dtype=np.float64))).sum().backward()
    return [ts[i].grad.numpy() if ts[i].grad is not None else np.zeros(np.shape(args[i])) for i in argnums]


def check_torch(f: Callable, tf: Callable, *args: Any, argnums: Sequence[int] | None = None,
                rtol: float = 1e-10, atol: float = 1e-12, seed: int = 0, what: str = "f") -> None:
    """The value and the gradients of ⟨f, u⟩ agree with torch's (a no-op without torch)."""
    if torch is None:
        return
    if argnums is None:
        argnums = [i for i, a in enumerate(args) if is_float(a)]
    rng = np.random.default_rng(seed)
    y = plain(f(*args))
    u = rng.standard_normal(y.shape)[()]
    ty = tf(*[torch.tensor(np.asarray(a, dtype=np.float64)) if is_float(a)
              else (torch.tensor(a) if isinstance(a, np.ndarray) else a) for a in args])
    assert _close(y, ty.detach().numpy(), rtol, atol), f"{what}: value differs from torch's"
    ours = dk.grad(lambda *xs: dk.sum(_as_node_output(f(*xs)) * u), tuple(argnums))(*args)
    theirs = torch_grads(tf, args, u, argnums)
    for i, a, b in zip(argnums, ours, theirs):
        assert _close(plain(a), b, rtol, atol), f"{what}: gradient in argument {i} differs from torch's"
