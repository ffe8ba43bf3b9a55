"""Forward against reverse mode for a full Jacobian: n JVPs or m VJPs.

A Jacobian of f: Rⁿ → Rᵐ costs n forward sweeps (one JVP per input direction) or m reverse
sweeps (one VJP per output).  Two workloads show both sides:

* ``many_to_one`` — the logistic-regression loss L(w) = 1ᵀ softplus(Xw) − yᵀXw, n = d inputs,
  m = 1 output: one VJP (the gradient) against d JVPs;
* ``few_to_many`` — the outputs σ(At) of a layer with 2 inputs and m outputs: 2 JVPs against
  m VJPs (``diffkit.engine.jacobian``, one reverse sweep per output).

Both Jacobians are checked equal (1e-12 relative); times are medians in one run, reported only.

Examples
--------
>>> r = jacobian_costs(d=20, m=30, repeats=2)
>>> [(w.name, w.inputs, w.outputs, w.agree) for w in r]
[('many_to_one', 20, 1, True), ('few_to_many', 2, 30, True)]
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import BadInput
from ..constraints import shorten


@dataclass(frozen=True)
class JacobianCost:
    name: str
    description: str
    inputs: int
    outputs: int
    jvps_seconds: float      # the full Jacobian by n JVPs
    vjps_seconds: float      # the full Jacobian by m VJPs
    agree: bool

    @property
    def faster(self) -> str:
        return "forward (JVPs)" if self.jvps_seconds < self.vjps_seconds else "reverse (VJPs)"

    def to_dict(self) -> dict:
        return {**asdict(self), "faster": self.faster}


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def jacobian_costs(*, d: int = 200, m: int = 200, n_samples: int = 500, seed: int = 0,
                   repeats: int = 5) -> list[JacobianCost]:
    """Both workloads (see the module docstring), measured in one run, with one BLAS thread (a
    multi-threaded BLAS on a busy 2-core machine made d = 1000 take 40 s instead of 3 s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return _jacobian_costs(d=d, m=m, n_samples=n_samples, seed=seed, repeats=repeats)


def _jacobian_costs(*, d: int, m: int, n_samples: int, seed: int, repeats: int) -> list[JacobianCost]:
    from .. import engine as dk

    for what, v, hi in (("d", d, 2000), ("m", m, 2000), ("repeats", repeats, 100)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise BadInput(f"{what} must be an integer from 1 to {hi}, got {shorten(v)}")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, d)) / np.sqrt(d)
    y = (rng.uniform(size=n_samples) < 0.5).astype(float)
    w = rng.normal(size=d)

    def loss(v):
        z = dk.matmul(X, v)
        return dk.sum(dk.softplus(z)) - dk.sum(y * z)

    eye = np.eye(d)

    def by_jvps():
        return np.array([float(np.asarray(dk.jvp(loss, (w,), (eye[i],))[1])) for i in range(d)])

    def by_vjp():
        return np.asarray(dk.grad(loss)(w))

    a, b = by_jvps(), by_vjp()
    out = [JacobianCost("many_to_one", f"L(w) = 1ᵀ softplus(Xw) − yᵀXw, X {n_samples}×{d}", d, 1,
                        _median(by_jvps, repeats), _median(by_vjp, repeats),
                        bool(np.allclose(a, b, rtol=1e-12, atol=1e-12)))]

    A = rng.normal(size=(m, 2))
    t0 = rng.normal(size=2)

    def layer(t):
        return dk.sigmoid(dk.matmul(A, t))

    e2 = np.eye(2)

    def few_jvps():
        return np.stack([np.asarray(dk.jvp(layer, (t0,), (e2[i],))[1]) for i in range(2)], axis=1)

    def many_vjps():
        return np.asarray(dk.jacobian(layer)(t0))

    a, b = few_jvps(), many_vjps()
    out.append(JacobianCost("few_to_many", f"σ(At), A {m}×2", 2, m, _median(few_jvps, repeats),
                            _median(many_vjps, repeats), bool(np.allclose(a, b, rtol=1e-12, atol=1e-12))))
    return out
