import numpy as np
import pytest

from diffkit.errors import BadInput
from diffkit.optim import RunConfig, Schedule


def test_schedules_follow_their_formulas():
    k = np.arange(1, 6, dtype=float)
    assert np.array_equal(Schedule("constant", C=0.3).steps(0, 5), np.full(5, 0.3))
    assert np.allclose(Schedule("c/k", C=2.0).steps(0, 5), 2.0 / k)
    assert np.allclose(Schedule("c/sqrt(k)", C=2.0).steps(0, 5), 2.0 / np.sqrt(k))
    assert np.allclose(Schedule("bottou", C=2.0, lam=0.1).steps(0, 5), 2.0 / (1 + 2.0 * 0.1 * (k - 1)))
    # steps continue from the iteration counter
    assert np.allclose(Schedule("c/k", C=1.0).steps(10, 2), [1 / 11, 1 / 12])


@pytest.mark.parametrize("kwargs", [dict(kind="1/x"), dict(C=0.0), dict(C=float("nan")), dict(lam=-1.0),
                                    dict(C="abc")])
def test_bad_schedule_is_badinput(kwargs):
    with pytest.raises(BadInput):
        Schedule(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(method="adam"), dict(method="sgd", epochs=0),
                                    dict(method="sgd", batch=0), dict(method="sgd", sampling="cyclic"),
                                    dict(method="sgd", lam=-0.1), dict(method="sgd", diverge_factor=0.5),
                                    dict(method="sgd", epochs=2.5)])
def test_bad_run_config_is_badinput(kwargs):
    with pytest.raises(BadInput):
        RunConfig(**kwargs)


def test_effective_batch():
    assert RunConfig("gd").effective_batch(50) == 50
    assert RunConfig("sgd", batch=8).effective_batch(50) == 1
    assert RunConfig("minibatch", batch=80).effective_batch(50) == 50
