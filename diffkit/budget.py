"""Budgets instead of hangs: what a command will cost, estimated before the work starts.

Every size that drives cost (the logistic map's depth, the number of features, an MLP's widths,
the random points, the samples × features of a data set, epochs × samples, the seeds, the size of
an expression, the simplify step) enters one of the estimates below.  A command calls
:func:`enforce` with its estimate before it does anything; above the budget it is refused with
one line that names what drives the cost, the estimate and the budget, and how to go on:

    Error: compare of logistic-map is estimated to take about 2.6e+08 s (budget 30 s): the gradient
    has about 6.3e+11 nodes as a tree; lower --depth, or add --force to run it anyway

The estimates are deliberately simple formulas in sizes that are cheap to compute on the DAG
(:mod:`diffkit.sizes`), with coefficients measured on a 2-core machine by
``benchmarks/bench_budgets.py``, which also prints estimate against measured time for every
command.  They err on the side of overestimating.

Examples
--------
>>> from diffkit import builtin
>>> e = estimate_compare(builtin("ridge-sigmoid"), points=10)
>>> e.seconds < 5
True
>>> enforce(estimate_compare(builtin("logistic-map", n=30), points=10), force=False)
Traceback (most recent call last):
...
diffkit.errors.BudgetExceeded: compare of logistic-map is estimated to take about 2.6e+08 s (budget 30 s): the gradient has about 6.3e+11 nodes as a tree; lower --depth, or add --force to run it anyway
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from dataclasses import dataclass, field

from .errors import BudgetExceeded

#: Work estimated above this many seconds is refused unless forced.
TIME_BUDGET_S = 30.0
#: Memory estimated above this many bytes is refused unless forced.
MEMORY_BUDGET_BYTES = 2 * 2**30

# -- coefficients (seconds per unit), measured by benchmarks/bench_budgets.py ----------------
#: symbolic preparation of compare: per node of loss + gradient trees, and per (distinct node)²
C_SYMBOLIC = 4e-4
C_DAG2 = 4e-5
#: one random point of the agreement check: per tree node evaluated (loss 4k+2 times, gradient once)
C_POINT = 2e-6
C_POINT_SYMBOL = 2e-5
#: derive: per node of the rendered gradient, per form
C_DERIVE = 6e-5
#: check: per random point and claim, per step of the listing
C_CHECK_POINT = 3e-3
#: the optimisers: per sample gradient and feature (vectorised), and per SGD step (Python loop)
C_FLOP = 5e-10
C_STEP = 4e-6
#: what a report adds to its compare: the study, the swell table, HTML and PDF
REPORT_FIXED_S = 12.0
#: the report's study of a model whose gradient is not a closed-form matrix product (ridge-sigmoid,
#: logistic regression, mlp): per sample, pass and method, measured 1.7e-5 s on 2 cores
REPORT_SAMPLE_S = 2.5e-5
#: sympy.simplify (``--form simplified``) gets this long; its time does not follow any size
SIMPLIFY_LIMIT_S = 20.0


@dataclass(frozen=True)
class Estimate:
    """What a piece of work will cost: seconds, bytes, and what drives it (in words).

    ``parts`` keeps the pieces an estimate was summed from, so a refusal names only the ones
    that matter (those with at least a tenth of the time).
    """

    what: str
    seconds: float
    bytes: int = 0
    drivers: str = ""
    knobs: tuple[str, ...] = field(default_factory=tuple)
    parts: tuple = ()

    def _parts(self) -> tuple:
        return self.parts or ((self.seconds, self.drivers, self.knobs),)

    def __add__(self, other: "Estimate") -> "Estimate":
        return Estimate(self.what, self.seconds + other.seconds, max(self.bytes, other.bytes),
                        "; ".join(d for d in (self.drivers, other.drivers) if d),
                        tuple(dict.fromkeys(self.knobs + other.knobs)), self._parts() + other._parts())

    def named(self, what: str) -> "Estimate":
        return Estimate(what, self.seconds, self.bytes, self.drivers, self.knobs, self._parts())

    def main_parts(self) -> tuple[str, tuple[str, ...]]:
        """Drivers and knobs of the parts with at least a tenth of the time."""
        big = [p for p in self._parts() if p[0] >= 0.1 * self.seconds] or list(self._parts())
        drivers = "; ".join(d for _, d, _ in big if d)
        knobs = tuple(dict.fromkeys(k for _, _, ks in big for k in ks))
        return drivers, knobs


def _g(v: float) -> str:
    return f"{v:.2g}"


def _bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def enforce(est: Estimate, *, force: bool = False, budget_s: float = TIME_BUDGET_S,
            budget_bytes: int = MEMORY_BUDGET_BYTES) -> Estimate:
    """``est`` when it fits the budgets (or ``force``); BudgetExceeded naming the estimate otherwise."""
    if force:
        return est
    if est.bytes > budget_bytes:
        knobs = " or ".join(est.knobs) if est.knobs else "the sizes"
        why = f": {est.drivers}" if est.drivers else ""
        raise BudgetExceeded(f"{est.what} would need about {_bytes(est.bytes)} of memory (budget {_bytes(budget_bytes)})"
                             f"{why}; lower {knobs}, or add --force to run it anyway")
    drivers, knobs_ = est.main_parts()
    knobs = " or ".join(knobs_) if knobs_ else "the sizes"
    why = f": {drivers}" if drivers else ""
    if est.seconds > budget_s:
        raise BudgetExceeded(f"{est.what} is estimated to take about {_g(est.seconds)} s (budget {budget_s:g} s)"
                             f"{why}; lower {knobs}, or add --force to run it anyway")
    return est


# -- symbolic work ----------------------------------------------------------------------------

_SIZE_CACHE: dict = {}


def symbolic_sizes(model) -> dict:
    """Tree size, DAG size and estimated gradient tree size of ``model``'s loss (cached per model)."""
    from .sizes import dag_size, derivative_tree_size, tree_size

    # keyed by identity: comparing two equal copies of a deep expression (l₆₄) walks its whole tree
    key = (id(model.loss), len(model.params))
    hit = _SIZE_CACHE.get(key)
    if hit is not None and hit[0] is model.loss and hit[1] == model.params:
        return hit[2]
    if model.loss is None:
        out = {"tree": 0, "dag": 0, "gradient": 0, "params": len(model.params), "symbols": len(model.symbols)}
    else:
        out = {"tree": tree_size(model.loss), "dag": dag_size(model.loss),
               "gradient": derivative_tree_size(model.loss, model.params),
               "params": len(model.params), "symbols": len(model.symbols)}
    if len(_SIZE_CACHE) > 256:
        _SIZE_CACHE.clear()
    _SIZE_CACHE[key] = (model.loss, model.params, out)
    return out


def _model_knobs(model) -> tuple[str, ...]:
    kind = model.spec.get("kind") if model.spec else None
    return {"logistic-map": ("--depth",), "linear-regression": ("--dim",), "logistic-regression": ("--dim",),
            "mlp": ("--sizes",)}.get(kind, ("the expression",) if model.name == "expr" else ())


def _gradient_words(z: dict) -> str:
    return f"the gradient has about {_g(z['gradient'])} nodes as a tree"


def estimate_symbolic(model, *, what: str = "the symbolic gradient") -> Estimate:
    z = symbolic_sizes(model)
    t = C_SYMBOLIC * (z["tree"] + z["gradient"]) + C_DAG2 * z["dag"] ** 2
    return Estimate(what, t, 0, _gradient_words(z), _model_knobs(model))


def estimate_points(model, points: int, *, per_point: float = C_POINT) -> Estimate:
    z = symbolic_sizes(model)
    k = max(z["params"], 1)
    t = points * (per_point * (z["tree"] * (4 * k + 2) + z["gradient"]) + C_POINT_SYMBOL * z["symbols"])
    drivers = f"{points} random points" if points else ""
    return Estimate("the agreement check", t, 0, drivers, ("--points",) if points else ())


def estimate_compare(model, points: int = 10) -> Estimate:
    """``diffkit compare``: the symbolic side, then the agreement check at ``points`` random points."""
    return (estimate_symbolic(model) + estimate_points(model, points)).named(f"compare of {model.name}")


def estimate_report(model, points: int = 10, *, study: "Estimate | None" = None) -> Estimate:
    e = estimate_compare(model, points) + Estimate("rendering", REPORT_FIXED_S)
    if study is not None:
        e = e + study
    return e.named(f"the report of {model.name}")


def estimate_derive(model, form: str = "lecture") -> Estimate:
    z = symbolic_sizes(model)
    factor = {"lecture": 1.0, "expanded": 3.0, "cse": 2.0, "simplified": 5.0, "matrix": 0.0}.get(form, 1.0)
    t = C_DERIVE * factor * (z["tree"] + z["gradient"]) + C_DAG2 / 4 * z["dag"] ** 2 * (form != "matrix")
    # printing writes the tree out: about 4 bytes per node in the terminal
    return Estimate(f"derive of {model.name}" + (f" (--form {form})" if form != "lecture" else ""), t,
                    int(8 * z["gradient"] * max(factor, 1.0)), _gradient_words(z), _model_knobs(model))


def estimate_check(model, points: int, claims: int) -> Estimate:
    z = symbolic_sizes(model)
    steps = max(z["dag"], 1)
    t = C_CHECK_POINT * (points + 1) * max(claims, 1) * (1 + steps / 50)
    return Estimate(f"check of {model.name}", t, 0, f"{points} random points × {claims} claims",
                    ("--points",) + _model_knobs(model))


def estimate_hessian(model) -> Estimate:
    z = symbolic_sizes(model)
    k = max(z["params"], 1)
    t = C_SYMBOLIC * (z["tree"] + z["gradient"]) * (k + 1) + C_DAG2 * z["dag"] ** 2
    return Estimate(f"the Hessian of {model.name}", t, 0,
                    f"{k} × {k} second derivatives of a gradient with about {_g(z['gradient'])} nodes",
                    _model_knobs(model))


def estimate_matrix(n: int, d: int, *, what: str, knobs=("--n", "--dim")) -> Estimate:
    """A dense n × d data matrix and a d × d Hessian, several times over."""
    b = 8 * (4 * n * d + 4 * d * d)
    t = C_FLOP * 10 * (n * d * d + d ** 3)
    return Estimate(what, t, b, f"n × d = {n} × {d}", knobs)


def estimate_training(*, n: int, d: int, params: int, epochs_total: float, sgd_steps: float, runs: int,
                      what: str = "training", knobs=("--epochs", "--seeds", "--n")) -> Estimate:
    """The optimisers: ``epochs_total`` passes over ``n`` samples (summed over methods), ``sgd_steps``
    Python-level updates, each repeated for ``runs`` seeds; the data take 8·n·d bytes (×3: the
    split copies)."""
    t = runs * (C_FLOP * 4 * epochs_total * n * max(params, d, 1) + C_STEP * sgd_steps)
    return Estimate(what, t, int(24 * n * max(d, 1)),
                    f"{runs} run(s) × {_g(epochs_total)} passes over n = {n} samples of d = {d} features", knobs)


# -- a time limit for steps whose cost no formula predicts (sympy.simplify) ------------------

@contextlib.contextmanager
def deadline(seconds: float, what: str, knobs: str = ""):
    """Stop the block with BudgetExceeded after ``seconds`` (main thread, Unix; elsewhere a no-op).

    Used for ``sympy.simplify``, whose running time does not follow the size of its input (a
    76-character power of tanh ran for minutes).
    """
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and math.isfinite(seconds) and seconds > 0)
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise BudgetExceeded(f"{what} did not finish within {seconds:g} s (its time limit)"
                             + (f"; {knobs}" if knobs else "") + ", or add --force to run it without a limit")

    old = signal.signal(signal.SIGALRM, on_alarm)
    old_timer = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if old_timer[0] > 0:  # an outer timer was running: give it back what is left
            signal.setitimer(signal.ITIMER_REAL, max(old_timer[0] - seconds, 1e-3))


# -- the estimates of whole commands, from their options --------------------------------------

def estimate_study(*, n: int, d: int, params: int | None = None, methods=("gd", "sgd", "minibatch"),
                   epochs=None, batch: int = 32, seeds: int = 1, network: bool = False,
                   what: str = "the GD/SGD study", knobs=("--epochs", "--seeds", "--n"),
                   sample_s: float = 0.0) -> Estimate:
    """GD/SGD/minibatch runs: ``epochs`` an int, a method → int mapping, or None (the optimiser's defaults);
    ``sample_s``: seconds per sample, pass and method on top of the flop count (see REPORT_SAMPLE_S)."""
    from .optim.study import DEFAULT_EPOCHS, NETWORK_EPOCHS

    table = NETWORK_EPOCHS if network else DEFAULT_EPOCHS
    total = steps = 0.0
    for m in methods:
        e = epochs.get(m, table.get(m, 50)) if isinstance(epochs, dict) else (epochs if epochs is not None
                                                                               else table.get(m, 50))
        total += e
        steps += e * (1 if m == "gd" else n if m == "sgd" else max(n // max(batch, 1), 1))
    p = params if params is not None else d
    est = estimate_training(n=n, d=d, params=p, epochs_total=total, sgd_steps=steps, runs=seeds, what=what,
                            knobs=knobs)
    if sample_s:
        est = Estimate(est.what, est.seconds + seeds * total * n * sample_s, est.bytes, est.drivers, est.knobs)
    return est


#: CPU seconds of one seed of ``diffkit profile`` per problem (all three methods), measured.
PROFILE_SECONDS = {"diabetes": 0.3, "breast-cancer": 1.6, "moons": 2.5, "digits": 9.0}
#: ``diffkit profile``'s default run (3 seeds, 4 problems) is about 40 s; it gets a larger budget.
PROFILE_BUDGET_S = 60.0


def estimate_profile(problems, seeds: int, methods: int = 3) -> Estimate:
    names = list(problems) if problems else list(PROFILE_SECONDS)
    t = seeds * methods / 3 * sum(PROFILE_SECONDS.get(str(p).split(" ")[0], max(PROFILE_SECONDS.values()))
                                   for p in names)
    return Estimate("the performance profile", t, 0, f"{seeds} seed(s) × {len(names)} problem(s)",
                    ("--seeds", "--problems"))


#: backprop: per (distinct node of the loss × parameter): each parameter's line sums over the DAG
C_BACKPROP = 1e-5
#: jacobian, per repeat: d JVPs over an n × d data matrix (n = 500) cost ~d² (2.6 s at d = 1000 on 2
#: idle cores), and the few-to-many workload ~m (0.35 s at m = 2000)
C_JACOBIAN_D2 = 4e-6
C_JACOBIAN_M = 2.5e-4


def estimate_backprop(model) -> Estimate:
    z = symbolic_sizes(model)
    t = C_BACKPROP * z["dag"] * max(z["params"], 1)
    return Estimate(f"the backprop listing of {model.name}", t, 0,
                    f"{z['params']} parameters × {z['dag']} distinct subexpressions", _model_knobs(model))


def estimate_jacobian(inputs: int, outputs: int, repeats: int) -> Estimate:
    t = 1.0 + repeats * (C_JACOBIAN_D2 * inputs ** 2 + C_JACOBIAN_M * outputs)
    return Estimate("the Jacobian timing", t, 0, f"{repeats} repeat(s) of {inputs} inputs × {outputs} outputs",
                    ("--repeats", "--inputs", "--outputs"))
