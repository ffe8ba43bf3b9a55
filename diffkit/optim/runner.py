"""One optimisation run: GD, single-sample SGD or minibatch SGD from W₀ (0, the lecture's start, or
seeded Glorot/He weights for networks).

The runner draws every index from one ``np.random.Generator`` seeded with ``seed`` *before* it
asks the gradient source for anything, so two sources (SymPy, engine) given the same seed and
schedule make the same updates and their iterates agree up to rounding.

Recording: the loss is evaluated (untimed, uncounted) at iteration 0, at about
``history_points`` log-spaced iterations, after every epoch (log-spaced epochs beyond 200), and
where the run stops; the validation loss and accuracy are recorded with it.  Stopping: "diverged"
when the iterate or the loss is non-finite, or the loss is above ``diverge_factor`` × the initial
loss at the end of an epoch (by default: worse than where it started), or above 10¹⁰ × the
initial loss anywhere; "converged" when ‖∇F‖ ≤ gtol·‖∇F(W₀)‖ (every GD step, at recorded points for SGD);
"early_stopped" when the validation loss has not improved for ``patience`` epochs (the best
weights are kept); "max_epochs" when the budget runs out.

W₀ comes from a second stream of the seed (``SeedSequence([seed, 1])``), so the sample indices
of a seed do not depend on the initialisation scheme.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from .config import RunConfig
from .fastpath import LeastSquaresGradient, sgd_least_squares
from .gradients import GradientSource, Objective
from .results import HistoryPoint, RunResult

#: Steps between finiteness checks of the iterate (the cheap part of divergence detection);
#: the blocked fast path gets longer segments so its batched chunks stay full.
CHECK_EVERY = 1024

#: A loss this many times the initial one, at any recorded point, is a blow-up.
BLOWUP = 1e10
CHECK_EVERY_FAST = 16384


def checkpoints(epochs: int, steps_per_epoch: int, points: int) -> np.ndarray:
    """Iterations (≥ 1) after which the loss is recorded: log-spaced ones and epoch ends.

    >>> checkpoints(3, 4, 5).tolist()
    [1, 2, 3, 4, 6, 8, 12]
    """
    total = epochs * steps_per_epoch
    logs = np.unique(np.round(np.geomspace(1, total, points)).astype(np.int64))
    ends = np.arange(1, epochs + 1, dtype=np.int64) if epochs <= 200 else \
        np.unique(np.round(np.geomspace(1, epochs, 200)).astype(np.int64))
    return np.unique(np.concatenate([logs, ends * steps_per_epoch, [total]]))


def run(source: GradientSource, objective: Objective, config: RunConfig, *, seed: int,
        optimum_loss: float, param_names: tuple[str, ...],
        progress: Callable[[int], None] | None = None) -> RunResult:
    """Run ``config`` once with ``seed``; see the module docstring for recording and stopping.

    Parameters
    ----------
    source : GradientSource
        Gives Σ_{i∈S} ∇lᵢ(W).
    objective : Objective
        F(W) and ∇F(W) on all the data, for the history and the stopping tests.
    config : RunConfig
        Method, schedule, budget, regulariser.
    seed : int
        Seeds the one generator every sample index comes from.
    optimum_loss : float
        F*, for excess losses (NaN when unknown; the study fills it in later).
    param_names : tuple of str
        Names of the parameters, in vector order.
    progress : callable, optional
        Called with the number of iterations just completed.
    """
    n = objective.n
    b = config.effective_batch(n)
    m = 1 if config.method == "gd" else -(-n // b)  # steps per epoch (last batch may be short)
    marks = checkpoints(config.epochs, m, config.history_points)
    rng = np.random.default_rng(seed)
    lam = config.lam
    least_squares = config.fast and getattr(source, "least_squares", False)
    fast = least_squares and config.method == "sgd"
    streamed = getattr(source, "streamed", False)
    # GD on least squares: Aᵀ(Aw − y) with reused buffers, nothing else of size n per step
    full_grad = LeastSquaresGradient(source.design, source.target) \
        if least_squares and config.method == "gd" and not streamed else source.grad_sum
    flops_of: dict[int, int] = {}
    fl = getattr(source, "flops", None)

    def flops(batch: int) -> int:
        if batch not in flops_of:
            flops_of[batch] = int(fl(batch)) if fl is not None else 0
        return flops_of[batch]

    from .network import initial_params

    model = getattr(source, "model", None) or objective.source.model
    w0 = initial_params(model, config.init, np.random.default_rng(np.random.SeedSequence([int(seed), 1])))
    to_src = getattr(source, "from_model_order", None)
    w = np.array(to_src(w0) if to_src is not None else w0, dtype=np.float64)
    f0 = objective.loss(w)
    # diverged: worse than the start at an epoch's end (a transient inside the first epoch of SGD is
    # allowed to recover), or a blow-up by orders of magnitude anywhere
    limit = config.diverge_factor * (abs(f0) if f0 != 0 else 1.0)
    blowup = max(limit, BLOWUP * (abs(f0) if f0 != 0 else 1.0))
    g0 = float(np.linalg.norm(objective.grad(w)))
    gstop = config.gtol * g0
    has_val = getattr(objective, "val", None) is not None
    v0, a0 = objective.metrics(w, "val") if has_val else (None, None)
    history = [HistoryPoint(0, 0.0, 0, 0, 0.0 if config.timing else None, f0, f0 - optimum_loss, v0, a0)]
    k = samples = total_flops = 0
    elapsed = 0.0
    status, message = "max_epochs", f"ran the full budget of {config.epochs} epochs"
    stop = g0 == 0.0 or not math.isfinite(f0)
    best = {"val": v0 if v0 is not None else math.inf, "w": w.copy(), "epoch": 0, "k": 0}

    def record() -> float:
        loss = objective.loss(w)
        vl, va = objective.metrics(w, "val") if has_val else (None, None)
        history.append(HistoryPoint(k, samples / n, samples, total_flops,
                                    elapsed if config.timing else None, loss, loss - optimum_loss, vl, va))
        return loss

    if stop:
        status, message = ("converged", "the gradient is zero at W₀") if math.isfinite(f0) else \
            ("diverged", f"the loss is not finite at W₀ ({f0})")
    mi = 0  # next checkpoint index
    with np.errstate(all="ignore"):
        for _epoch in range(config.epochs):
            if stop:
                break
            t0 = time.perf_counter()
            order = None if config.method == "gd" else (
                rng.permutation(n) if config.sampling == "shuffle" else rng.integers(0, n, n))
            elapsed += time.perf_counter() - t0
            j = 0  # step within the epoch
            while j < m and not stop:
                upto = min(m, j + int(marks[mi]) - k, j + (CHECK_EVERY_FAST if fast else CHECK_EVERY))
                count = upto - j
                t0 = time.perf_counter()
                alphas = config.schedule.steps(k, count)
                if config.method == "gd":
                    g = full_grad(w)
                    d = g / n + lam * w
                    if gstop > 0 and float(np.linalg.norm(d)) <= gstop:
                        elapsed += time.perf_counter() - t0
                        status, message, stop = "converged", f"‖∇F‖ ≤ {config.gtol:g}·‖∇F(W₀)‖ at iteration {k}", True
                        break
                    w -= alphas[0] * d
                    used = n
                elif fast and streamed:  # the same blocked steps, on rows read from the file
                    w = source.sgd_block(w, order[j:upto], alphas, lam)
                    used = count
                elif fast:
                    w = sgd_least_squares(w, source.design, source.target, order[j:upto], alphas, lam)
                    used = count
                elif streamed:  # read the segment's rows in one gather, then step through them
                    A_seg, y_seg = source.rows(order[j * b:upto * b])
                    used = 0
                    for s in range(j, upto):
                        lo_, hi_ = (s - j) * b, min((s - j + 1) * b, len(y_seg))
                        g = source.grad_rows(w, A_seg[lo_:hi_], y_seg[lo_:hi_])
                        w -= alphas[s - j] * (g / (hi_ - lo_) + lam * w)
                        used += hi_ - lo_
                else:
                    used = 0
                    for s in range(j, upto):
                        batch = order[s * b:(s + 1) * b]
                        g = source.grad_sum(w, batch)
                        if lam:
                            g /= len(batch)
                            g += lam * w
                            g *= alphas[s - j]
                        else:  # in place: the gradient array is ours (no temporaries per step)
                            g *= alphas[s - j] / len(batch)
                        w -= g
                        used += len(batch)
                elapsed += time.perf_counter() - t0
                if config.method == "minibatch":
                    total_flops += sum(flops(min(b, n - s * b)) for s in range(j, upto))
                else:
                    total_flops += count * flops(b if config.method == "gd" else 1)
                samples += used
                k += count
                j = upto
                if progress is not None:
                    progress(count)
                at_mark = k == marks[mi]
                if not np.isfinite(w).all():
                    loss = record()
                    status, stop = "diverged", True
                    message = f"diverged at iteration {k}: the iterate is not finite (loss {loss:.6g})"
                elif at_mark:
                    mi += 1
                    loss = record()
                    if not math.isfinite(loss) or loss > blowup or (k % m == 0 and loss > limit):
                        status, stop = "diverged", True
                        message = (f"diverged at iteration {k} (epoch {k / m:.3g}): loss {loss:.6g} against "
                                   f"{f0:.6g} at the start")
                    elif has_val and k % m == 0 and config.patience:
                        vl = history[-1].val_loss
                        if vl is not None and vl < best["val"]:
                            best.update(val=vl, w=w.copy(), epoch=k // m, k=k)
                        elif k // m - best["epoch"] >= config.patience:
                            status, stop = "early_stopped", True
                            message = (f"stopped at epoch {k // m}: the validation loss has not improved for "
                                       f"{config.patience} epochs; kept the weights of epoch {best['epoch']} "
                                       f"(validation loss {best['val']:.6g})")
                    elif config.method != "gd" and gstop > 0 and \
                            float(np.linalg.norm(objective.grad(w))) <= gstop:
                        status, stop = "converged", True
                        message = f"‖∇F‖ ≤ {config.gtol:g}·‖∇F(W₀)‖ at iteration {k}"
    if history[-1].iteration != k:
        record()
    if status == "early_stopped":
        w = best["w"]
    _, train_acc = objective.metrics(w, "train") if objective.classifier else (None, None)
    test_loss, test_acc = objective.metrics(w, "test") if getattr(objective, "test", None) is not None \
        else (None, None)
    to_model = getattr(source, "to_model_order", None)
    final = to_model(w) if to_model is not None else w
    return RunResult(
        method=config.method, schedule=config.schedule.kind, C=config.schedule.C, seed=int(seed),
        batch=b, sampling=config.sampling if config.method != "gd" else "full",
        gradient=getattr(source, "name", type(source).__name__), status=status, message=message,
        param_names=tuple(param_names), params=tuple(float(v) for v in final), history=tuple(history),
        init=config.init, train_accuracy=train_acc, test_loss=test_loss, test_accuracy=test_acc)
