"""Where a study's runs execute: in this process, across local processes, or on a Dask cluster.

The runs of a study (methods × step sizes × seeds) are independent, so they are tasks.  Each task
is (setup, config, seed): the *setup* holds what every run shares — how to rebuild the model
(a recipe, since SymPy-backed models and compiled gradients do not pickle), the data, the
gradient source's name, λ and F* — and a worker rebuilds the gradient sources once per setup
(cached by the setup's token) and then runs its tasks.

Identical results everywhere: a run depends only on its config and seed (all randomness comes
from ``np.random.default_rng(seed)``), and every run — serial included — executes with BLAS
limited to one thread (threadpoolctl), so a reduction is summed in the same order whichever
executor or machine runs it.  Results come back in task order.

Executors: ``"serial"``; ``"processes"`` (``concurrent.futures.ProcessPoolExecutor``, ``workers``
processes, default the core count); a Dask ``distributed`` scheduler address
(``tcp://host:8786``), for which dask[distributed] must be installed.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..errors import BadInput, ComputationError
from ..constraints import shorten
from .config import RunConfig
from .data import Dataset
from .results import RunResult

#: Work shorter than this (seconds) shows no progress bar.
PROGRESS_AFTER_S = 2.0

#: Seconds to wait for a Dask scheduler before giving up (an unreachable address fails fast).
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Setup:
    """What every run of a study shares (picklable: plain data and a model recipe)."""

    recipe: tuple[str, tuple[tuple[str, Any], ...]] | None
    train: Dataset
    val: Dataset | None
    test: Dataset | None
    gradient: str
    lam: float
    optimum_loss: float
    param_names: tuple[str, ...]
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


_CACHE: dict[str, tuple[Any, Any]] = {}


def model_recipe(model) -> tuple[str, tuple[tuple[str, Any], ...]] | None:
    """How to rebuild ``model`` in another process: (built-in name, options), or None (user expression)."""
    from ..builtins import BUILTINS

    name = model.source or model.name
    if name not in BUILTINS:
        return None
    spec = dict(model.spec)
    opts = {"linear-regression": ("d",), "logistic-regression": ("d",), "logistic-map": ("n",),
            "mlp": ("sizes", "activations", "loss"), "ridge-sigmoid": ()}[name]
    return name, tuple((k, tuple(spec[k]) if isinstance(spec[k], (list, tuple)) else spec[k]) for k in opts)


def register(setup: Setup, source, objective) -> None:
    """Make already-built sources available to tasks of ``setup`` run in this process."""
    _CACHE[setup.token] = (source, objective)


def _sources(setup: Setup):
    if setup.token not in _CACHE:
        if setup.recipe is None:
            raise ComputationError("a study of a user expression cannot be rebuilt in another process")
        from .. import builtin
        from .study import build_sources
        model = builtin(setup.recipe[0], **dict(setup.recipe[1]))
        source, reference = build_sources(model, setup.train, setup.gradient)
        from .gradients import Objective
        _CACHE.clear()  # one study at a time per worker keeps memory bounded
        _CACHE[setup.token] = (source, Objective(reference, setup.lam, val=setup.val, test=setup.test))
    return _CACHE[setup.token]


def execute(setup: Setup, config: RunConfig, seed: int, progress: Callable[[int], None] | None = None) -> RunResult:
    """Run one task (in whatever process this is), with BLAS on one thread."""
    from .runner import run

    source, objective = _sources(setup)
    with _one_blas_thread():
        return run(source, objective, config, seed=seed, optimum_loss=setup.optimum_loss,
                   param_names=setup.param_names, progress=progress)


class _one_blas_thread:
    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            self._limit = None
        else:
            self._limit = threadpool_limits(1, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._limit is not None:
            self._limit.restore_original_limits()
        return False


class LazyProgress:
    """A rich progress bar on stderr that appears only once the work has taken > 2 s."""

    def __init__(self, total: int, enabled: bool, what: str = "optimising") -> None:
        self.total, self.enabled, self.done, self.what = total, enabled, 0, what
        self.start, self.bar, self.task = time.perf_counter(), None, None

    def __call__(self, steps: int) -> None:
        self.done += steps
        if not self.enabled:
            return
        if self.bar is None and time.perf_counter() - self.start > PROGRESS_AFTER_S:
            from rich.console import Console
            from rich.progress import Progress
            self.bar = Progress(console=Console(file=sys.stderr), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def check_executor(executor: str | None, workers: int | None) -> str:
    """The canonical executor name: serial, processes, or a validated Dask scheduler address."""
    ex = "serial" if executor is None else str(executor).strip()
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256):
        raise BadInput(f"workers must be an integer in [1, 256], got {shorten(workers)}")
    if ex in ("serial", "processes"):
        return ex
    if not re.fullmatch(r"(tcp|tls|inproc|ws|wss)://[^\s/]+(:\d+)?/?|[A-Za-z0-9_.\-\[\]:]+:\d+", ex):
        raise BadInput(f"executor {shorten(executor)} is not serial, processes or a scheduler address such as "
                       "tcp://127.0.0.1:8786")
    return ex


def run_tasks(setup: Setup, tasks: Sequence[tuple[RunConfig, int]], *, executor: str = "serial",
              workers: int | None = None, progress: bool = False,
              steps_of: Callable[[RunConfig], int] | None = None) -> list[RunResult]:
    """Run every (config, seed) task of ``setup``; results in task order."""
    executor = check_executor(executor, workers)
    if executor == "serial":
        total = sum(steps_of(c) for c, _ in tasks) if steps_of else len(tasks)
        bar = LazyProgress(total, progress)
        try:
            out = []
            for cfg, seed in tasks:
                out.append(execute(setup, cfg, seed, progress=bar if steps_of else None))
                if not steps_of:
                    bar(1)
            return out
        finally:
            bar.close()
    if setup.recipe is None:
        raise BadInput("a model given as an expression runs serially; drop --workers/--scheduler")
    bar = LazyProgress(len(tasks), progress, "runs")
    try:
        if executor == "processes":
            return _processes(setup, tasks, workers, bar)
        return _dask(setup, tasks, executor, bar)
    finally:
        bar.close()


def _processes(setup: Setup, tasks, workers, bar) -> list[RunResult]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = workers or os.cpu_count() or 1
    # fork shares the sources already built in this process (copy-on-write); elsewhere spawn rebuilds
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
    results: list[RunResult | None] = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=min(n, len(tasks)), mp_context=ctx) as pool:
        futs = {pool.submit(execute, setup, cfg, seed): i for i, (cfg, seed) in enumerate(tasks)}
        for f in as_completed(futs):
            results[futs[f]] = f.result()
            bar(1)
    return results  # type: ignore[return-value]


def _dask(setup: Setup, tasks, address: str, bar) -> list[RunResult]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BadInput("--scheduler needs Dask: pip install 'dask[distributed]'") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BadInput(f"cannot reach the Dask scheduler at {shorten(address)} within {CONNECT_TIMEOUT_S:g} s "
                       f"({type(exc).__name__}); start one with `dask scheduler` or check the address") from None
    try:
        shared = client.scatter(setup, broadcast=True)
        futs = [client.submit(execute, shared, cfg, seed, pure=False) for cfg, seed in tasks]
        index = {f.key: i for i, f in enumerate(futs)}
        results: list[RunResult | None] = [None] * len(tasks)
        for f in as_completed(futs):
            results[index[f.key]] = f.result()
            bar(1)
        return results  # type: ignore[return-value]
    finally:
        client.close()
