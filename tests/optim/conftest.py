import pytest

from diffkit import builtin
from diffkit.optim import make_data


@pytest.fixture(scope="module")
def lr_small():
    ds = make_data("linear-regression", n=300, d=4, noise=0.5, seed=7, condition=5.0)
    return builtin("linear-regression", d=4), ds


@pytest.fixture(scope="module")
def logit_small():
    ds = make_data("logistic-regression", n=300, d=3, seed=2)
    return builtin("logistic-regression", d=3), ds
