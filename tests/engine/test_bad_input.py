"""Bad input to the engine: one clear BadInput naming the op, the shapes and what is allowed."""

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit.errors import BadInput, DiffkitError

CASES = [
    (lambda: dk.grad(lambda x: dk.sum(x * np.ones(3)))(np.ones(2)),
     r"^mul cannot be applied to arguments of shapes \(2,\), \(3,\): they do not broadcast"),
    (lambda: dk.grad(lambda x: dk.sum(x @ np.ones((3, 2))))(np.ones((2, 2))),
     r"^matmul .*shapes \(2, 2\), \(3, 2\).*must equal"),
    (lambda: dk.grad(lambda x: x)(np.ones(2)), r"^grad needs a function returning a scalar, but it returned shape \(2,\)"),
    (lambda: dk.grad(lambda x: dk.sum(x))(np.arange(3)), r"integer dtype int64; differentiate at float32 or float64"),
    (lambda: dk.grad(lambda x: dk.sum(x))(np.array(["a"], dtype=object)), r"dtype object; expected real float32"),
    (lambda: dk.grad(lambda x: dk.sum(x * np.array([object()])))(np.ones(1)), r"constant of dtype object"),
    (lambda: dk.sum(np.ones(2), axis=5), r"^sum: axis 5 is out of range .*allowed: -1 to 0"),
    (lambda: dk.grad(lambda x: dk.mean(x, axis=-3))(np.ones((2, 2))), r"^mean: axis -3 is out of range"),
    (lambda: dk.reshape(dk.param(np.ones(6)), (4, 2)), r"^reshape: cannot reshape an array of shape \(6,\) into \(4, 2\)"),
    (lambda: dk.grad(lambda x: dk.sum(np.linalg.svd(x)[1]))(np.eye(2)), r"np\.linalg\.svd cannot take a traced diffkit value"),
    (lambda: dk.grad(3)(1.0), r"^grad needs a function, got int"),
    (lambda: dk.grad(lambda x: x, argnum=3)(1.0), r"^argnum 3 is out of range"),
    (lambda: dk.softmax_cross_entropy(np.ones((2, 3)), np.array([0, 5])), r"class labels must be in 0\.\.2"),
    (lambda: dk.softmax_cross_entropy(np.ones((2, 3)), [[0, 1], [1]]), r"^softmax_cross_entropy: labels must be integer"),
    (lambda: dk.grad(lambda x: [x, x])(1.0), r"^grad needs a function returning a scalar, but it returned a list"),
    (lambda: dk.jacobian(lambda x: (x, x))(np.ones(2)), r"^jacobian needs a function returning one array, .* a tuple"),
    (lambda: dk.grad(lambda w: dk.sum(w * [[1.0], [1.0, 2.0]]))(np.ones((2, 2))),
     r"^constant \[\[1\.0\], \[1\.0, 2\.0\]\] is not an array: its nested lists differ in length"),
    (lambda: dk.broadcast_to(dk.param(np.ones(3)), (2, 4)), r"^broadcast_to: an array of shape \(3,\) cannot be broadcast"),
    (lambda: dk.jvp(lambda x: x, (1.0,), (np.ones(2),)), r"tangent of shape \(2,\) does not match its primal of shape \(\)"),
]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_bad_input_is_one_clear_line(k):
    call, pattern = CASES[k]
    with pytest.raises(BadInput, match=pattern) as info:
        call()
    assert "\n" not in str(info.value)


# -- every function of the surface, given nested lists where it expects arrays or integers ---------------
_X = np.array([[0.3, -0.7, 1.1], [0.5, 0.2, -0.4]])
_L = [[1.0, 2.0, 0.5], [0.1, 0.2, 0.3]]
_SURFACE = sorted(n for n in dk.ops.__all__ if callable(getattr(dk.ops, n, None)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN gradients outside a domain are expected
@pytest.mark.parametrize("name", _SURFACE)
def test_lists_in_any_position_give_a_gradient_or_one_bad_input_line(name):
    # f(w, L), f(L, w) and f(w) under grad, with L a nested list of floats: each either works (then the
    # gradient is finite) or is refused with one BadInput line; a call of the wrong arity is Python's
    # TypeError, as for NumPy.  Before, 39 such calls raised NumPy's or Python's errors from inside
    # (an integer parameter given a list or an array: axes, shape, reps, k, offset, decimals, sections,
    # kth, dtype; maximum/minimum/fmax/clip with list constants)
    f = getattr(dk.ops, name)
    for call in (lambda w: f(w, _L), lambda w: f(_L, w), lambda w: f(w)):
        def loss(w, call=call):
            r = call(w)
            return dk.sum(r[0] if isinstance(r, (list, tuple)) else r)
        try:
            g = dk.grad(loss)(_X)
        except BadInput as exc:
            assert "\n" not in str(exc)
            continue
        except DiffkitError:
            continue
        except TypeError as exc:
            if "positional argument" in str(exc) or "interpreted as an integer" in str(exc):
                continue  # the call itself has the wrong arity (Python's own error, as with NumPy)
            raise
        assert type(g) is np.ndarray and g.shape == _X.shape  # (NaN where the point is outside a domain)
