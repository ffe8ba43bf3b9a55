"""Held-out data and feature scaling: a seeded train/validation/test split, standardisation fitted on
the training rows only, and the intercept column.

Examples
--------
>>> from diffkit.optim.data import make_data
>>> p = prepare(make_data(n=100, d=3, seed=0), val=0.2, test=0.1, seed=0, standardize=True, intercept=True)
>>> p.train.n, p.val.n, p.test.n, p.train.features[-1]
(70, 20, 10, 'intercept')
>>> import numpy as np
>>> bool(np.allclose(p.train.X[:, :3].mean(axis=0), 0.0) and np.allclose(p.train.X[:, :3].std(axis=0), 1.0))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import constraints as C_
from ..constraints import shorten
from ..constraints import validate_params
from ..errors import BadInput
from .data import Dataset


@dataclass(frozen=True)
class Preparation:
    """The three parts of a data set and how they were made (``val``/``test`` None when not split off).

    ``means``/``scales`` are per original feature column: x ↦ (x − mean)/scale, fitted on ``train``
    (a constant column keeps mean 0, scale 1: it is an intercept already).
    """

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    standardized: bool
    intercept: bool
    means: tuple[float, ...]
    scales: tuple[float, ...]
    seed: int
    fractions: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"train": self.train.n, "val": self.val.n if self.val is not None else 0,
                "test": self.test.n if self.test is not None else 0, "seed": self.seed,
                "val_fraction": self.fractions[0], "test_fraction": self.fractions[1],
                "standardized": self.standardized, "intercept_added": self.intercept}


def _fraction(what: str, v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise BadInput(f"{what} must be a fraction in [0, 1), got {shorten(v)}") from None
    if not (math.isfinite(f) and 0.0 <= f < 1.0):
        raise BadInput(f"{what} must be a fraction in [0, 1), got {shorten(v)}")
    return f


def split_sizes(n: int, val: float, test: float) -> tuple[int, int, int]:
    """(train, val, test) row counts for fractions ``val`` and ``test`` of ``n`` rows.

    A fraction > 0 that rounds to no rows, or a split that leaves no training rows, is BadInput.

    >>> split_sizes(442, 0.2, 0.2)
    (266, 88, 88)
    """
    val, test = _fraction("the validation fraction (--val)", val), _fraction("the test fraction (--test)", test)
    n_val, n_test = int(round(val * n)), int(round(test * n))
    for what, frac, k in (("validation", val, n_val), ("test", test, n_test)):
        if frac > 0 and k == 0:
            raise BadInput(f"a {what} fraction of {frac:g} of {n} rows leaves the {what} set empty; "
                           f"use a fraction ≥ {1 / n:.2g} or 0 for no {what} set")
    n_train = n - n_val - n_test
    if n_train < 1:
        raise BadInput(f"--val {val:g} and --test {test:g} leave no training rows out of {n}; "
                       "their sum must be below 1")
    return n_train, n_val, n_test


_FRACTION = C_.Interval(float, 0, 1, closed="left")


@validate_params(val=C_.Param("val", _FRACTION, "Validation fraction."),
                 test=C_.Param("test", _FRACTION, "Test fraction."), seed=C_.Param("seed", C_.SEED_INT, "Split seed."),
                 standardize=C_.Param("standardize", C_.Boolean(), "Standardise features."),
                 intercept=C_.Param("intercept", C_.Boolean(), "Add an intercept column."))
def prepare(data: Dataset, *, val: float = 0.0, test: float = 0.0, seed: int = 0, standardize: bool = False,
            intercept: bool = False) -> Preparation:
    """Split ``data`` (seeded permutation), standardise on the training rows, add an intercept column.

    Parameters
    ----------
    data : Dataset
    val, test : float in [0, 1), default 0
        Fractions of the rows held out for validation (early stopping, model choice) and for the
        final test; rounded to whole rows.  A fraction > 0 must leave at least one row.
    seed : int, default 0
        Seed of the split permutation (independent of the runs' seeds).
    standardize : bool, default False
        Scale each feature to mean 0 and standard deviation 1 *on the training rows*, and apply
        the same map to validation and test rows.  Constant columns are left as they are.
    intercept : bool, default False
        Append a column of ones named ``intercept`` (for models without a bias, e.g.
        linear-regression), unless a constant non-zero column is already there.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadInput(f"the split seed must be a non-negative integer, got {shorten(seed)}")
    n_train, n_val, n_test = split_sizes(data.n, val, test)
    if n_val or n_test:
        order = np.random.default_rng(np.random.SeedSequence([int(seed), 2024])).permutation(data.n)
    else:
        order = np.arange(data.n)
    parts = {"train": np.sort(order[:n_train]), "val": np.sort(order[n_train:n_train + n_val]),
             "test": np.sort(order[n_train + n_val:])}
    X = data.X
    tr = X[parts["train"]]
    means, scales = np.zeros(data.d), np.ones(data.d)
    if standardize:
        mu, sd = tr.mean(axis=0), tr.std(axis=0)
        live = sd > 1e-12 * np.maximum(1.0, np.abs(mu))
        means[live], scales[live] = mu[live], sd[live]
    const = np.ptp(tr, axis=0) == 0 if n_train > 1 else np.zeros(data.d, dtype=bool)
    add = bool(intercept) and not np.any(const & (tr[0] != 0) if n_train else False)

    def make(idx: np.ndarray, what: str) -> Dataset | None:
        if what != "train" and len(idx) == 0:
            return None
        Z = (X[idx] - means) / scales if standardize else X[idx]
        feats = data.features
        if add:
            Z = np.hstack([Z, np.ones((len(idx), 1))])
            feats = feats + ("intercept",)
        label = what if (n_val or n_test) else "all rows"
        return Dataset(Z, data.y[idx], feats, data.target, f"{data.source} [{label}]", labels=data.labels)

    return Preparation(make(parts["train"], "train"), make(parts["val"], "val"), make(parts["test"], "test"),
                       bool(standardize), add, tuple(float(v) for v in means), tuple(float(v) for v in scales),
                       int(seed), (float(val), float(test)))
