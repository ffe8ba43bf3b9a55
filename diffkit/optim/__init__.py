"""Optimisation: full-batch GD vs single-sample and minibatch SGD, on any diffkit model.

The one entry point is :func:`study`; it returns a :class:`StudyResult` that the CLI
(``diffkit optimize``) and the report read without re-running anything.  Data come from
:func:`make_data` (seeded synthetic problems with a known optimum) or :func:`load_csv`.

Examples
--------
>>> from diffkit import builtin
>>> from diffkit.optim import make_data, study
>>> ds = make_data("linear-regression", n=100, d=2, seed=0)
>>> res = study(builtin("linear-regression", d=2), ds, methods=["gd"], schedule="constant",
...             epochs=200, timing=False)
>>> res.runs[0].status, res.optimum_method
('converged', 'normal equations (lstsq)')
"""

from .analysis import cost_to_reach, fit_slope, linear_rate, median_curve, quadratic_constants, scaling
from .config import METHODS, SAMPLINGS, SCHEDULES, RunConfig, Schedule
from .data import Dataset, bind, load_csv, make_data
from .gradients import GradientSource, Objective, SymbolicGradient
from .optimum import Optimum, solve_optimum
from .results import HistoryPoint, RunResult, StudyResult
from .runner import run
from .study import GRADIENTS, default_C, make_source, study

__all__ = [
    "study", "run", "make_data", "load_csv", "bind", "Dataset",
    "Schedule", "RunConfig", "METHODS", "SCHEDULES", "SAMPLINGS", "GRADIENTS",
    "GradientSource", "SymbolicGradient", "Objective", "make_source", "default_C",
    "Optimum", "solve_optimum", "HistoryPoint", "RunResult", "StudyResult",
    "cost_to_reach", "median_curve", "fit_slope", "linear_rate", "quadratic_constants", "scaling",
]
