"""A training problem from names: a data set (bundled, CSV, .npy or synthetic) and a built-in model whose
widths come from the data, split and scaled as :func:`~diffkit.optim.prepare.prepare` does.

The CLI (``diffkit train``) and the report (``diffkit report --data``) both use it, so both train the
same problem from the same options.

>>> m, prep = problem("linear-regression", "diabetes")
>>> m.spec["d"], prep.train.n, prep.standardized, prep.intercept
(11, 266, True, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import BadInput
from ..constraints import shorten

SYNTHETIC = ("linear-regression", "logistic-regression")
_CLASSIFIERS = ("logistic-regression", "ridge-sigmoid")


def load_data(data: Optional[str], target: Optional[str], *, model: str, n: int, d: int, noise: float,
              condition: float, data_seed: int):
    """The Dataset named by ``--data`` (bundled name, CSV, .npy) or synthetic data; and whether it is real."""
    from ..datasets import canonical, load
    from . import load_csv, make_data

    if data is not None:
        if canonical(data) is not None and not Path(data).exists():
            if target is not None:
                raise BadInput(f"--target does not apply to the bundled data set {shorten(data)} (it knows its target)")
            return load(data, seed=data_seed), True
        if target is None:
            raise BadInput("--data needs --target, the name of the target column "
                           "(or name a bundled data set: diabetes, breast-cancer, digits, moons)")
        if str(data).endswith(".npy"):
            from .stream import load_npy
            return load_npy(data, target=target), True
        return load_csv(data, target=target), True
    if target is not None:
        raise BadInput("--target only applies with --data")
    if model not in SYNTHETIC:
        raise BadInput(f"synthetic data exist for {', '.join(SYNTHETIC)}; give --data for model {shorten(model)} "
                       "(e.g. --data moons)")
    return make_data(model, n=n, d=d, noise=noise, seed=data_seed, condition=condition), False


def build_model(model: str, ds, *, sizes, activations, mlp_loss, intercept: bool):
    """The built-in model with its widths taken from the data (the data recoded as classes if it classifies)."""
    from .. import builtin
    from .data import as_classes
    from ..cli.app import resolve_model

    if model == "mlp":
        m = resolve_model("mlp", None, None, sizes=sizes, activations=activations, mlp_loss=mlp_loss) \
            if sizes is not None else None
        if m is None:  # widths from the data: d inputs, 16 hidden, one output per class (or 1)
            k = ds.classes or (len(set(ds.y.tolist())) if (mlp_loss == "cross-entropy") else None)
            out = 1 if (k is None or k == 2) else k
            acts = activations or "tanh,identity"
            m = resolve_model("mlp", None, None, sizes=f"{ds.d},16,{out}", activations=acts, mlp_loss=mlp_loss)
        if m.spec["loss"] == "cross-entropy" or ds.labels is not None:
            ds = as_classes(ds, binary=m.spec["sizes"][-1] == 1 and m.spec["loss"] == "cross-entropy")
        return m, ds
    if sizes is not None or activations is not None or mlp_loss is not None:
        raise BadInput(f"--sizes/--activations/--mlp-loss apply to the mlp model, not {shorten(model)}")
    if model == "ridge-sigmoid" and ds.labels is None and not np.all(ds.y == np.round(ds.y)):
        pass  # the lecture's neuron is a squared-error fit: real targets stay a regression (no accuracy)
    elif model in _CLASSIFIERS:
        ds = as_classes(ds, binary=True)
    if model == "ridge-sigmoid":
        if ds.d != 1:
            raise BadInput(f"ridge-sigmoid has one input x, but the data have {ds.d} feature columns")
        return builtin("ridge-sigmoid"), ds
    if model in SYNTHETIC:
        return builtin(model, d=ds.d), ds
    return builtin(model), ds


def problem(model: str, data: Optional[str] = None, target: Optional[str] = None, *, sizes: Optional[str] = None,
            activations: Optional[str] = None, mlp_loss: Optional[str] = None, n: int = 1000, d: int = 10,
            noise: float = 0.1, condition: float = 1.0, data_seed: int = 0, val: Optional[float] = None,
            test: Optional[float] = None, split_seed: int = 0, standardize: Optional[bool] = None,
            intercept: Optional[bool] = None):
    """(model, :class:`~diffkit.optim.prepare.Preparation`) for the named model and data.

    Real data (``data`` given) default to a 60/20/20 split, standardised features and, for
    linear-regression, an intercept column; synthetic data to no split and no scaling.
    """
    from .. import builtin
    from .prepare import prepare

    ds, real = load_data(data, target, model=model, n=n, d=d, noise=noise, condition=condition, data_seed=data_seed)
    m, ds = build_model(model, ds, sizes=sizes, activations=activations, mlp_loss=mlp_loss, intercept=False)
    std = real if standardize is None else standardize
    icpt = (real and model == "linear-regression") if intercept is None else intercept
    if icpt and model != "linear-regression":
        raise BadInput(f"--intercept is for linear-regression; {shorten(model)} has its own bias")
    prep = prepare(ds, val=(0.2 if real else 0.0) if val is None else val,
                   test=(0.2 if real else 0.0) if test is None else test, seed=split_seed,
                   standardize=std, intercept=icpt)
    if model == "linear-regression" and prep.train.d != m.spec.get("d"):
        m = builtin("linear-regression", d=prep.train.d)
    return m, prep
