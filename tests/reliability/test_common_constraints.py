"""The common test (scikit-learn's check_param_validation): every public function that declares its
parameters refuses each out-of-range value with the library's own error, naming the argument."""

from __future__ import annotations

import importlib
import inspect

import pytest

from diffkit.constraints import Param, declared_functions
from diffkit.errors import BadInput

MODULES = ("diffkit", "diffkit.analysis.compare", "diffkit.analysis.agreement", "diffkit.analysis.listing",
           "diffkit.analysis.checker", "diffkit.symbolic.derive", "diffkit.symbolic.numeric", "diffkit.optim",
           "diffkit.optim.data", "diffkit.optim.study", "diffkit.report", "diffkit.report.write")

#: Public functions that must declare their parameters.
REQUIRED = ("compare", "derive", "gradient", "hessian", "to_numpy", "backprop_listing", "check_claims",
            "agreement", "study", "make_data", "load_csv", "write_report")


def _declared():
    return declared_functions(importlib.import_module(m) for m in MODULES)


def test_the_public_functions_declare_their_parameters():
    names = {k.rsplit(".", 1)[-1] for k in _declared()}
    assert set(REQUIRED) <= names, set(REQUIRED) - names


def _valid_call(fn):
    """Valid arguments for the declared function, so that only the one under test is bad."""
    import diffkit as dk
    from diffkit.optim import make_data

    m = dk.builtin("linear-regression", d=1)
    base = {"model": m, "data": make_data(n=20, d=1, seed=0), "point": None, "points": 0, "seed": 0,
            "text": "d_w1 = 1", "exprs": m.loss, "args": list(m.symbols), "path": "r.html", "target": "y",
            "form": "lecture"}
    sig = inspect.signature(fn)
    if "comparison" in sig.parameters:
        base["comparison"] = _comparison()
    return {k: v for k, v in base.items() if k in sig.parameters}


_CACHE: dict = {}


def _comparison():
    if "c" not in _CACHE:
        import diffkit as dk

        _CACHE["c"] = dk.compare(dk.builtin("ridge-sigmoid"), points=0)
    return _CACHE["c"]


CASES = [(qual, name, bad) for qual, fn in sorted(_declared().items())
         for name, p in fn.__diffkit_params__.items()
         for c in (p.constraint if isinstance(p.constraint, tuple) else (p.constraint,)) if c is not None
         for bad in c.bad_examples()]


@pytest.mark.parametrize("qual,name,bad", CASES, ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_every_declared_parameter_refuses_out_of_range_values(qual, name, bad):
    fn = _declared()[qual]
    p: Param = fn.__diffkit_params__[name]
    from diffkit.constraints import satisfied

    if satisfied(bad, p.constraint):
        pytest.skip("allowed by another member of the declaration")
    kwargs = _valid_call(fn)
    kwargs[name] = bad
    params = inspect.signature(fn).parameters
    positional = [k for k, q in params.items() if q.kind is q.POSITIONAL_OR_KEYWORD and k in kwargs]
    args = [kwargs.pop(k) for k in positional]
    with pytest.raises(BadInput) as e:
        fn(*args, **kwargs)
    assert name in str(e.value)
