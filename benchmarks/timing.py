"""Interleaved timing, shared by the benchmarks: every ratio is against a baseline timed in the same run.

Each repeat times the ``"hand"`` implementation and then every other one back to back, so a slow
stretch of a shared machine slows both sides of a ratio alike; the reported ratio is the median
over repeats of impl_time / hand_time of the same repeat.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Mapping

__all__ = ["time_calls", "warm", "interleaved"]


def time_calls(fn: Callable[[], object], inner: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per call of ``fn``, over ``inner`` calls."""
    t0 = clock()
    for _ in range(inner):
        fn()
    return (clock() - t0) / inner


def warm(fn: Callable[[], object], budget: float, clock: Callable[[], float] = time.perf_counter) -> int:
    """Call ``fn`` (at least 3 times) until ``budget`` seconds have passed; that many calls fill one timing."""
    n = 0
    t0 = clock()
    while n < 3 or clock() - t0 < budget:
        fn()
        n += 1
    return max(1, round(n * budget / (clock() - t0)))


def interleaved(impls: Mapping[str, Callable[[], object]], *, repeats: int, inner: int | Mapping[str, int],
                clock: Callable[[], float] = time.perf_counter) -> dict:
    """Median seconds per call of each implementation, and its median ratio to ``impls["hand"]``.

    ``inner``: calls per timing, one number for all or one per implementation.
    """
    calls = {k: inner if isinstance(inner, int) else inner[k] for k in impls}
    times: dict[str, list[float]] = {k: [] for k in impls}
    ratios: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(repeats):
        hand = time_calls(impls["hand"], calls["hand"], clock)
        times["hand"].append(hand)
        for k, fn in impls.items():
            if k != "hand":
                t = time_calls(fn, calls[k], clock)
                times[k].append(t)
                ratios[k].append(t / hand)
    out = {"hand": {"median_s": statistics.median(times["hand"])}}
    for k in impls:
        if k != "hand":
            out[k] = {"median_s": statistics.median(times[k]), "ratio": statistics.median(ratios[k])}
    return out
