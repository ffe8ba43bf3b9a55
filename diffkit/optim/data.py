"""Data for the optimisers: seeded synthetic problems with a known optimum, and validated CSV files.

A :class:`Dataset` is a feature matrix X (n × d, float64, read-only), a target vector y and the
column names.  :func:`bind` maps the columns onto a model's data symbols (by name when the names
match, otherwise by position) so that row i of X holds the values of the model's feature symbols.

Examples
--------
>>> ds = make_data("linear-regression", n=50, d=3, noise=0.1, seed=0)
>>> ds.X.shape, ds.y.shape, ds.features
((50, 3), (50,), ('x1', 'x2', 'x3'))
>>> ds2 = make_data("linear-regression", n=50, d=3, noise=0.1, seed=0)
>>> bool((ds.X == ds2.X).all() and (ds.y == ds2.y).all())
True
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import stable
from ..errors import BadInput
from ..constraints import shorten
from ..io import read_text
from ..model import Model
from .. import constraints as _cons

#: Synthetic problem kinds :func:`make_data` can generate.
KINDS: tuple[str, ...] = ("linear-regression", "logistic-regression")


@dataclass(frozen=True)
class Dataset:
    """Features ``X`` (n × d), target ``y`` (n,), column names and where they came from.

    ``truth`` holds the generating parameters of synthetic data (not the empirical optimum,
    which :func:`diffkit.optim.solve_optimum` computes), or None.  ``labels`` marks a
    classification data set: ``y`` holds class indices 0..K−1 and ``labels`` the K original
    class values (see :func:`as_classes`).
    """

    X: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    target: str = "y"
    source: str = ""
    truth: np.ndarray | None = None
    labels: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        try:
            X = np.ascontiguousarray(self.X, dtype=np.float64)
            y = np.ascontiguousarray(self.y, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise BadInput(f"X and y must be numeric arrays: {str(exc)[:80]}") from None
        if not isinstance(self.features, (tuple, list)) or len(set(self.features)) != len(self.features):
            raise BadInput(f"feature names must be distinct, got {shorten(self.features)}")
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise BadInput(f"X must be n × d and y have n entries; got X {X.shape}, y {y.shape}")
        if X.shape[0] == 0:
            raise BadInput("the data set has no rows")
        if len(self.features) != X.shape[1]:
            raise BadInput(f"{X.shape[1]} feature columns but {len(self.features)} names")
        if not (np.isfinite(X).all() and np.isfinite(y).all()):
            raise BadInput("the data contain NaN or infinite values")
        if self.labels is not None:
            k = len(self.labels)
            if k < 2 or not np.all((y == np.round(y)) & (y >= 0) & (y < k)):
                raise BadInput(f"a classification data set needs ≥ 2 classes and targets 0..K−1; got {k} labels")
            object.__setattr__(self, "labels", tuple(float(v) for v in self.labels))
        X, y = X.view(), y.view()  # read-only views: the caller's own arrays stay writeable
        for a in (X, y):
            a.flags.writeable = False
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "features", tuple(self.features))

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def classes(self) -> int | None:
        """Number of classes K, or None for a regression data set."""
        return None if self.labels is None else len(self.labels)

    def subset(self, idx: np.ndarray, what: str) -> "Dataset":
        """The rows ``idx`` (e.g. a split), keeping names and labels."""
        return Dataset(self.X[idx], self.y[idx], self.features, self.target, f"{self.source} [{what}]",
                       labels=self.labels)


def as_classes(data: Dataset, *, binary: bool = False) -> Dataset:
    """``data`` with its target recoded as class indices 0..K−1 (sorted original values).

    The target must take integer values (class labels such as 0/1, 2/4 or 0..9); ``binary``
    requires exactly two classes.

    >>> ds = Dataset(np.zeros((4, 1)), np.array([4.0, 2.0, 2.0, 4.0]), ("x",), "label")
    >>> c = as_classes(ds, binary=True)
    >>> c.y.tolist(), c.labels
    ([1.0, 0.0, 0.0, 1.0], (2.0, 4.0))
    """
    if data.labels is not None:
        if binary and len(data.labels) != 2:
            raise BadInput(f"this model is a binary classifier but the target {data.target!r} has "
                           f"{len(data.labels)} classes; use mlp --mlp-loss cross-entropy with one output per class")
        return data
    y = data.y
    values = np.unique(y)
    if not np.all(values == np.round(values)):
        bad = next(v for v in values if v != round(v))
        raise BadInput(f"a classifier needs class labels as its target, but {data.target!r} has the value {bad:g}; "
                       "give integer labels (0/1, or 0..K−1)")
    if len(values) < 2:
        raise BadInput(f"the target {data.target!r} has a single class ({values[0]:g}); a classifier needs two or more")
    if len(values) > 1000:
        raise BadInput(f"the target {data.target!r} has {len(values)} distinct values; a classifier allows ≤ 1000 classes")
    if binary and len(values) != 2:
        raise BadInput(f"this model is a binary classifier but the target {data.target!r} has {len(values)} classes; "
                       "use mlp --mlp-loss cross-entropy with one output per class")
    idx = np.searchsorted(values, y).astype(np.float64)
    return Dataset(data.X, idx, data.features, data.target, data.source, data.truth,
                   labels=tuple(float(v) for v in values))


@_cons.validate_params(seed=_cons.DATA_SEED, noise=_cons.NOISE, condition=_cons.CONDITION)
def make_data(kind: str = "linear-regression", *, n: int = 1000, d: int = 10, noise: float = 0.1,
              seed: int | np.random.Generator = 0, condition: float = 1.0) -> Dataset:
    """A seeded synthetic data set with known generating parameters.

    Parameters
    ----------
    kind : {"linear-regression", "logistic-regression"}
        ``y = X w* + noise·ε`` with ε ~ N(0, 1); or ``y ~ Bernoulli(σ(X w* + b*))`` (noise unused).
    n, d : int
        Samples and features (n ≥ 1, 1 ≤ d ≤ 1000).
    noise : float, default 0.1
        Standard deviation of the regression noise (≥ 0).
    seed : int or numpy.random.Generator
        The one source of randomness.
    condition : float, default 1.0
        Condition number of the feature covariance: column j is scaled so the covariance
        eigenvalues run geometrically from 1 down to 1/condition (≥ 1).

    Returns
    -------
    Dataset
        Features named x1..xd, target y; ``truth`` = w* (and b* last for logistic).
    """
    if kind not in KINDS:
        raise BadInput(f"unknown synthetic data kind {kind!r}; choose from {', '.join(KINDS)}")
    for what, v, hi in (("n", n, 10**8), ("d", d, 1000)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= hi:
            raise BadInput(f"{what} must be an integer in [1, {hi}], got {v!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise BadInput(f"noise must be a finite number ≥ 0, got {noise!r}")
    if not (isinstance(condition, (int, float)) and math.isfinite(condition) and condition >= 1):
        raise BadInput(f"condition must be a finite number ≥ 1, got {condition!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    scale = np.sqrt(np.geomspace(1.0, 1.0 / condition, d)) if d > 1 else np.ones(1)
    X = rng.standard_normal((n, d)) * scale
    w = rng.standard_normal(d)
    if kind == "linear-regression":
        y = X @ w + noise * rng.standard_normal(n)
        truth = w
    else:
        b = 0.25
        p = stable.sigmoid(X @ w + b)
        y = (rng.random(n) < p).astype(np.float64)
        truth = np.append(w, b)
    return Dataset(X, y, tuple(f"x{j + 1}" for j in range(d)), "y",
                   f"synthetic {kind} (n={n}, d={d}, noise={noise}, condition={condition})", truth)


@_cons.validate_params(path=_cons.PATH, target=_cons.Param("target", _cons.Text(200, 1)))
def load_csv(path: str | Path, *, target: str, features: tuple[str, ...] | None = None) -> Dataset:
    """Read a CSV file with a header row; every other column (or ``features``) is a feature.

    Rows are named by their line number in the file (the header is line 1).  Empty files,
    a missing target or feature column, ragged rows, non-numeric cells, empty cells and
    NaN/inf values each raise :class:`~diffkit.errors.BadInput` naming the row and the column.

    Parameters
    ----------
    path : str or Path
        The file.
    target : str
        Name of the target column.
    features : tuple of str, optional
        Feature columns to use, in order; default all columns but the target.
    """
    p = Path(path)
    text = read_text(p, what="data file", encoding="utf-8-sig")  # regular files only, size-limited
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(text.splitlines()))]
    rows = [(ln, r) for ln, r in rows if any(c.strip() for c in r)]  # blank lines are skipped
    if not rows:
        raise BadInput(f"data file {str(p)!r} is empty; it needs a header row and data rows")
    _, header = rows[0]
    header = [h.strip() for h in header]
    for j, h in enumerate(header):
        if not h:
            raise BadInput(f"{p.name}: header column {j + 1} has no name")
        if header.index(h) != j:
            raise BadInput(f"{p.name}: column name {h!r} appears twice in the header")
    if target not in header:
        raise BadInput(f"{p.name}: no target column {target!r}; columns are {', '.join(header)}")
    feats = tuple(h for h in header if h != target) if features is None else tuple(features)
    for f in feats:
        if f not in header or f == target:
            raise BadInput(f"{p.name}: no feature column {f!r}; columns are {', '.join(header)}")
    if not feats:
        raise BadInput(f"{p.name}: no feature columns besides the target {target!r}")
    if len(rows) < 2:
        raise BadInput(f"{p.name}: the file has a header but no data rows")
    cols = [header.index(f) for f in feats] + [header.index(target)]
    out = np.empty((len(rows) - 1, len(cols)))
    for r, (ln, row) in enumerate(rows[1:]):
        if len(row) != len(header):
            j = min(len(row), len(header) - 1) if len(row) < len(header) else len(header)
            what = (f"column {header[j]!r} is missing" if len(row) < len(header)
                    else f"cell {len(header) + 1} has no column")
            raise BadInput(f"{p.name}: row {ln}, column {j + 1}: expected {len(header)} cells "
                           f"like the header but found {len(row)} ({what})")
        for c, j in enumerate(cols):
            cell = row[j].strip()
            try:
                v = float(cell)
            except ValueError:
                shown = "an empty cell" if not cell else repr(cell[:40])
                role = (" (the target: class labels must be numbers such as 0/1 or 0..K−1)"
                        if header[j] == target else "")
                raise BadInput(f"{p.name}: row {ln}, column {header[j]!r}: {shown} is not a number{role}") from None
            if not math.isfinite(v):
                raise BadInput(f"{p.name}: row {ln}, column {header[j]!r}: {cell!r} is not a finite number "
                               "(NaN and infinity are not allowed; drop or impute the row)")
            out[r, c] = v
    return Dataset(out[:, :-1], out[:, -1], feats, target, str(p))


def bind(model: Model, data: Dataset) -> Dataset:
    """``data`` with its columns in the order of ``model``'s feature symbols.

    The model's target symbol is its data symbol named like ``data.target``, else ``y``, else
    its last data symbol; the others are features.  Columns are matched by name when every
    feature symbol names a column, otherwise by position (then the counts must agree).

    >>> from diffkit import builtin
    >>> ds = make_data(n=4, d=2, seed=1)
    >>> swapped = Dataset(ds.X[:, ::-1], ds.y, ("x2", "x1"))
    >>> bool((bind(builtin("linear-regression", d=2), swapped).X == ds.X).all())
    True
    """
    names = [s.name for s in model.data]
    if not names:
        raise BadInput(f"model {model.name!r} has no data symbols; it cannot be fitted to data")
    tgt = data.target if data.target in names else "y" if "y" in names else names[-1]
    feats = [n for n in names if n != tgt]
    if len(feats) != data.d:
        raise BadInput(f"model {model.name!r} expects {len(feats)} feature columns ({', '.join(feats)}) "
                       f"but the data have {data.d} ({', '.join(data.features)})")
    if set(feats) <= set(data.features):
        order = [data.features.index(f) for f in feats]
        if order == list(range(data.d)):
            return data
        return Dataset(data.X[:, order], data.y, tuple(feats), data.target, data.source, None)
    return data
