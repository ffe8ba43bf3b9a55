"""Small classic data sets shipped with diffkit (never downloaded at run time), and a seeded 2-D toy set.

=============  =====  ========  ===============  ==================================================
name           n      features  task             source
=============  =====  ========  ===============  ==================================================
diabetes       442    10        regression       Efron, Hastie, Johnstone & Tibshirani (2004),
                                                 "Least Angle Regression" (raw, unscaled values)
breast-cancer  569    30        2 classes        UCI Breast Cancer Wisconsin (Diagnostic); Wolberg,
                                                 Street & Mangasarian (1995); 0 malignant, 1 benign
digits         1797   64        10 classes       UCI Optical Recognition of Handwritten Digits
                                                 (test set), Alpaydin & Kaynak (1998); 8×8, 0..16
moons          any    2         2 classes        generated (two interleaving half circles, seeded)
=============  =====  ========  ===============  ==================================================

The three files in ``data/`` are gzip-compressed CSV copies of the data scikit-learn ships
(``sklearn/datasets/data``; scikit-learn is BSD-3-Clause), with a header row; ``data/PROVENANCE.md``
gives licences and citations.  scikit-learn is *not* needed to load them; where it is installed,
:func:`load` with ``via_sklearn=True`` reads its bundled loaders instead (the tests check both
agree).

Examples
--------
>>> ds = load("diabetes")
>>> ds.n, ds.d, ds.target, ds.features[:3]
(442, 10, 'target', ('age', 'sex', 'bmi'))
>>> load("digits").labels
(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
>>> m = load("moons", n=100, seed=1)
>>> m.n, m.d, m.labels
(100, 2, (0.0, 1.0))
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from ..errors import BadInput
from ..constraints import shorten
from ..optim.data import Dataset

#: Bundled data sets: file, task ("regression" or "classification") and a one-line description.
DATASETS: dict[str, tuple[str | None, str, str]] = {
    "diabetes": ("diabetes.csv.gz", "regression",
                 "diabetes progression after one year, 442 patients, 10 baseline variables (Efron et al. 2004)"),
    "breast-cancer": ("breast_cancer.csv.gz", "classification",
                      "Wisconsin diagnostic breast cancer, 569 tumours, 30 features, 0 = malignant, 1 = benign"),
    "digits": ("digits.csv.gz", "classification",
               "handwritten digits 0-9, 1797 images of 8×8 pixels with values 0..16 (UCI)"),
    "moons": (None, "classification", "two interleaving half circles in 2-D (generated, seeded)"),
}

_ALIASES = {"breast_cancer": "breast-cancer", "cancer": "breast-cancer", "two-moons": "moons",
            "two_moons": "moons"}


def names() -> tuple[str, ...]:
    """The names :func:`load` accepts."""
    return tuple(DATASETS)


def canonical(name: str) -> str | None:
    """The bundled data set called ``name`` (aliases allowed), or None."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in DATASETS else None


def load(name: str, *, n: int = 400, noise: float = 0.15, seed: int = 0, via_sklearn: bool = False) -> Dataset:
    """The bundled data set ``name`` as a :class:`~diffkit.optim.data.Dataset`.

    Classification targets are the class indices 0..K−1 (``labels`` lists the K classes).

    Parameters
    ----------
    name : {"diabetes", "breast-cancer", "digits", "moons"}
    n, noise, seed
        Only for ``moons``: samples (2..10⁶), Gaussian noise (≥ 0) and the seed.
    via_sklearn : bool, default False
        Read scikit-learn's bundled copy instead of diffkit's (BadInput when it is not installed).
    """
    key = canonical(name)
    if key is None:
        raise BadInput(f"unknown data set {shorten(name)}; bundled data sets: {', '.join(DATASETS)} (or a CSV/.npy path)")
    if key == "moons":
        return moons(n=n, noise=noise, seed=seed)
    if via_sklearn:
        return _from_sklearn(key)
    fname, task, desc = DATASETS[key]
    with resources.files(__name__).joinpath("data", fname).open("rb") as raw, gzip.open(raw, "rt") as f:
        header = f.readline().strip().split(",")
        table = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    X, y = table[:, :-1], table[:, -1]
    labels = tuple(float(v) for v in np.unique(y)) if task == "classification" else None
    return Dataset(X, y, tuple(header[:-1]), header[-1], f"{key} (bundled: {desc})", labels=labels)


def moons(*, n: int = 400, noise: float = 0.15, seed: int = 0) -> Dataset:
    """Two interleaving half circles (class 0 above, class 1 below), with Gaussian noise; seeded.

    The same construction as scikit-learn's ``make_moons`` (outer circle for class 0, inner circle
    shifted by (1, 0.5) for class 1), shuffled with the generator of ``seed``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= 10**6:
        raise BadInput(f"moons: n must be an integer in [2, 1000000], got {shorten(n)}")
    if not (isinstance(noise, (int, float)) and np.isfinite(noise) and noise >= 0):
        raise BadInput(f"moons: noise must be a finite number ≥ 0, got {shorten(noise)}")
    rng = np.random.default_rng(seed)
    n0 = n // 2
    n1 = n - n0
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.vstack([np.column_stack([np.cos(t0), np.sin(t0)]),
                   np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])])
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(n)
    return Dataset(X[order], y[order], ("x1", "x2"), "y",
                   f"moons (generated: n={n}, noise={noise}, seed={seed})", labels=(0.0, 1.0))


def _from_sklearn(key: str) -> Dataset:
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise BadInput("via_sklearn=True needs scikit-learn (pip install scikit-learn); "
                       "the bundled copy needs nothing") from None
    if key == "diabetes":
        b = skd.load_diabetes(scaled=False)
        names_ = tuple(b.feature_names)
    elif key == "breast-cancer":
        b = skd.load_breast_cancer()
        names_ = tuple(f.replace(" ", "_") for f in b.feature_names)
    else:
        b = skd.load_digits()
        names_ = tuple(f"p{i}" for i in range(64))
    task = DATASETS[key][1]
    y = np.asarray(b.target, dtype=np.float64)
    labels = tuple(float(v) for v in np.unique(y)) if task == "classification" else None
    return Dataset(np.asarray(b.data, dtype=np.float64), y, names_, "target", f"{key} (scikit-learn)", labels=labels)
