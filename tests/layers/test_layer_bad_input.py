"""Bad input to the layers: one BadInput naming the value and what is allowed, never a NumPy error."""

from __future__ import annotations

import numpy as np
import pytest

import diffkit.engine as dk
from diffkit.errors import BadInput

rng = np.random.default_rng(0)
X = rng.normal(size=(1, 2, 4, 4))
W = rng.normal(size=(3, 2, 3, 3))


@pytest.mark.parametrize("call,match", [
    (lambda: dk.conv2d(X, rng.normal(size=(3, 2, 5, 5))), r"kernel 5×5 is larger than the input 4×4; allowed: a kernel of at most 4×4"),
    (lambda: dk.conv2d(X, rng.normal(size=(3, 2, 7, 7)), padding=1), r"kernel 7×7 is larger than the input 4×4 \(padded to 6×6\)"),
    (lambda: dk.conv1d(np.ones((1, 1, 5)), np.ones((1, 1, 6))), r"kernel of 6 taps is longer than the input of 5; allowed: at most 5 taps"),
    (lambda: dk.max_pool2d(X, 5), r"max_pool2d: kernel 5×5 is larger than the input 4×4"),
    (lambda: dk.conv2d(X, W, stride=1.5), r"conv2d: stride 1\.5 is not an integer; allowed: an integer ≥ 1 or a pair of them"),
    (lambda: dk.conv2d(X, W, stride=(1, 0)), r"conv2d: stride \(1, 0\) is below 1"),
    (lambda: dk.conv1d(np.ones((1, 1, 5)), np.ones((1, 1, 3)), stride=2.0), r"conv1d: stride 2\.0 is not an integer"),
    (lambda: dk.avg_pool2d(X, 2, stride="2"), r"avg_pool2d: stride '2' is not an integer; allowed: an integer ≥ 1 or a pair of them"),
    (lambda: dk.conv2d(X, rng.normal(size=(3, 3, 3, 3))), r"the input has 2 channels but the kernel has 3 \(weight shape \(3, 3, 3, 3\)\); allowed: a weight of shape \(out, 2, kh, kw\)"),
    (lambda: dk.conv1d(np.ones((1, 2, 5)), np.ones((1, 1, 3))), r"conv1d: the input has 2 channels but the kernel has 1"),
    (lambda: dk.conv2d(X, W, np.ones(2)), r"the bias has shape \(2,\); allowed: \(3,\)"),
    (lambda: dk.conv2d(X[0], W), r"conv2d needs an input of shape \(batch, channels, height, width\), got shape \(2, 4, 4\)"),
    (lambda: dk.attention(np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones((3, 2), bool)),
     r"a mask of shape \(3, 2\) does not fit the scores of shape \(2, 3, 3\) \(…, queries, keys\); allowed: a boolean array broadcasting to \(2, 3, 3\)"),
    (lambda: dk.attention(np.ones((3, 4)), np.ones((3, 4)), np.ones((3, 4)), np.ones((3, 3))), r"the mask has dtype float64; allowed: a boolean array"),
    (lambda: dk.attention(np.ones((3, 4)), np.ones((3, 4)), np.ones((3, 4)), np.zeros((3, 3), bool)), r"leaves a query with no key"),
    (lambda: dk.attention(np.ones((3, 4)), np.ones((3, 2)), np.ones((3, 4))), r"queries of width 4 and keys of width 2"),
    (lambda: dk.elman_rnn(np.ones((1, 0, 2)), np.zeros(3), np.ones((3, 2)), np.ones((3, 3)), np.ones(3)),
     r"elman_rnn: the sequence has T = 0 steps; allowed: T ≥ 1"),
    (lambda: dk.elman_rnn(np.ones((1, 2, 2)), np.zeros(3), np.ones((3, 2)), np.ones((3, 2)), np.ones(3)), r"W_hh has shape \(3, 2\); allowed: \(3, 3\)"),
    (lambda: dk.batch_norm(np.ones((1, 2)), np.ones(2), np.ones(2)), r"a batch of one has no variance"),
    (lambda: dk.batch_norm(np.ones((3, 2)), np.ones(3), np.ones(2)), r"gamma has shape \(3,\); allowed: \(2,\)"),
    (lambda: dk.batch_norm(np.ones((3, 2)), np.ones(2), np.ones(2), training=False), r"needs running_mean and running_var"),
    (lambda: dk.max_pool2d(X, 2, padding=2), r"padding 2 is more than half the kernel 2×2"),
    (lambda: dk.dense(np.ones((2, 3)), np.ones((4, 2))), r"the input has 3 features \(shape \(2, 3\)\) but the weight \(4, 2\) expects 2"),
    (lambda: dk.residual_block(np.ones((2, 3)), np.ones((4, 3)), np.ones(4), np.ones((2, 4)), np.ones(2)), r"W2 has shape \(2, 4\) but the skip connection needs 3 outputs"),
])
def test_bad_layer_input_is_one_clear_error(call, match):
    with pytest.raises(BadInput, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_bad_input_through_grad_is_the_same_error():
    with pytest.raises(BadInput, match="stride 0.5 is not an integer"):
        dk.grad(lambda w: dk.sum(dk.conv2d(X, w, stride=0.5)))(W)
