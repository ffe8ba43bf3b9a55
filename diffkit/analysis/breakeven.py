"""Break-even: after how many gradient evaluations does a preparation pay for itself?

FastDifferentiation.jl (and D*, Guenter 2007) split the cost of a derivative into *derive*
(the symbolic work), *build* (turning it into something callable) and *evaluate* (one call).
For one model's gradient at one point, diffkit measures each for four ways:

* ``lambdify``      — ``sympy.diff`` (derive), ``lambdify`` without cse (build), a call;
* ``lambdify_cse``  — ``sympy.diff`` then ``lambdify(..., cse=True)``;
* ``engine_eager``  — no preparation but writing the loss with the engine's operations; every
  call traces the function and sweeps back (``diffkit.engine.value_and_grad``);
* ``engine_replay`` — the graph built once (``from_model``, build) and replayed as straight-line
  code (``compile_gradient``, build); a call runs the generated code.

The break-even count of a way against the eager engine is the number of evaluations N after
which preparation + N calls cost less than N eager calls:
N* = ⌈(prepare − prepare_eager) / (call_eager − call)⌉, ``None`` ("never") when a call is not
cheaper.  Times are medians of repeats in one run on this machine: they are reported, never
asserted.

Examples
--------
>>> t = break_even("ridge-sigmoid", repeats=3)
>>> [w.name for w in t.ways]
['lambdify', 'lambdify_cse', 'engine_eager', 'engine_replay']
>>> all(w.agrees for w in t.ways)
True
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from ..constraints import shorten
from ..errors import BadInput

MODELS = ("ridge-sigmoid", "logistic-regression", "mlp")
WAYS = ("lambdify", "lambdify_cse", "engine_eager", "engine_replay")
LABELS = {"lambdify": "SymPy lambdify", "lambdify_cse": "SymPy lambdify(cse=True)",
          "engine_eager": "engine, eager", "engine_replay": "engine, replayed tape"}


@dataclass(frozen=True)
class Way:
    name: str
    derive: float          # seconds
    build: float
    evaluate: float        # seconds per call
    break_even: int | None  # calls after which it beats the eager engine (None: never; 0: at once)
    agrees: bool           # its gradient equals the symbolic one to 1e-12 relative

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def prepare(self) -> float:
        return self.derive + self.build

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label, "prepare": self.prepare}


@dataclass(frozen=True)
class BreakEven:
    model: str
    description: str
    params: int
    ways: tuple[Way, ...]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON of ``diffkit breakeven --json`` (one entry per model); every key always present."""
        return {"model": self.model, "description": self.description, "params": self.params,
                "ways": [w.to_dict() for w in self.ways]}


def _per_call(fn: Callable, repeats: int, budget: float = 0.5) -> float:
    """Median seconds per call, from batches sized so each batch takes about a millisecond."""
    t = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t, 1e-7)
    batch = max(1, min(10_000, int(1e-3 / one)))
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(batch):
            fn()
        times.append((time.perf_counter() - t) / batch)
        if time.perf_counter() - start > budget:
            break
    return float(np.median(times))


def _timed(fn: Callable) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def break_even(model: str = "ridge-sigmoid", *, repeats: int = 7, **options) -> BreakEven:
    """Derive / build / evaluate times of the four ways for one built-in model (see the module doc)."""
    import sympy as sp

    from .. import engine as dk
    from ..builtins import builtin
    from ..symbolic.numeric import to_engine, to_numpy

    if model not in MODELS:
        raise BadInput(f"unknown model {shorten(model)} for break-even; allowed: {', '.join(MODELS)}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 100:
        raise BadInput(f"--repeats must be an integer from 1 to 100, got {shorten(repeats)}")
    m = builtin(model, **options)
    loss = m.loss_expr
    q = sp.Symbol("q")
    to_numpy(q + 1, [q])                      # first-call imports of lambdify stay out of the timings
    to_numpy(q + 1, [q], cse=True)
    pt = m.point()
    vals = [pt[n] for n in m.symbol_names]
    k = len(m.params)

    grad, t_derive = _timed(lambda: [sp.diff(loss, p) for p in m.params])
    plain, t_plain = _timed(lambda: to_numpy(grad, m.symbols))
    cse, t_cse = _timed(lambda: to_numpy(grad, m.symbols, cse=True))
    f_eng, t_eng = _timed(lambda: to_engine(loss, m.symbols))
    rest = vals[k:]
    vg = dk.value_and_grad(f_eng, tuple(range(k)))
    graph, t_graph = _timed(lambda: dk.from_model(m, pt))
    compiled, t_compile = _timed(lambda: dk.compile_gradient(graph))
    order = [pt[a] for a in compiled.argnames]

    reference = np.array(plain(*vals), dtype=float)

    def agree(g) -> bool:
        g = np.array([float(np.asarray(v)) for v in g])
        return bool(np.all(np.abs(g - reference) <= 1e-12 * np.maximum(1.0, np.abs(reference))))

    eager_grad = vg(*vals[:k], *rest)[1]
    _, replay_grads = compiled(*order)
    replay = list(replay_grads)          # in the model's parameter order
    calls = {
        "lambdify": _per_call(lambda: plain(*vals), repeats),
        "lambdify_cse": _per_call(lambda: cse(*vals), repeats),
        "engine_eager": _per_call(lambda: vg(*vals[:k], *rest), repeats),
        "engine_replay": _per_call(lambda: compiled(*order), repeats),
    }
    prep = {"lambdify": (t_derive, t_plain), "lambdify_cse": (t_derive, t_cse),
            "engine_eager": (0.0, t_eng), "engine_replay": (0.0, t_graph + t_compile)}
    agrees = {"lambdify": True, "lambdify_cse": agree(cse(*vals)), "engine_eager": agree(eager_grad),
              "engine_replay": agree(replay)}
    base_prep, base_call = sum(prep["engine_eager"]), calls["engine_eager"]
    ways = []
    for name in WAYS:
        d, b = prep[name]
        c = calls[name]
        if name == "engine_eager":
            n_star = 0
        elif c < base_call:
            n_star = max(0, math.ceil((d + b - base_prep) / (base_call - c)))
        else:
            n_star = None
        ways.append(Way(name, d, b, c, n_star, agrees[name]))
    return BreakEven(m.name, m.description, k, tuple(ways))


def break_even_table(models=MODELS, *, repeats: int = 7) -> list[BreakEven]:
    """:func:`break_even` for each model (default: ridge-sigmoid, logistic-regression, the MLP)."""
    unknown = [x for x in models if x not in MODELS]
    if unknown:
        raise BadInput(f"unknown model {shorten(unknown[0])} for break-even; allowed: {', '.join(MODELS)}")
    return [break_even(x, repeats=repeats) for x in models]
