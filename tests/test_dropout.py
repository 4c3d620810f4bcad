"""Inverted dropout: statistics of the mask, train/eval behaviour, backward, reproducibility."""

from __future__ import annotations

import functools
import math

import pytest
from helpers import BACKENDS, array_module
from hypothesis import given, settings
from hypothesis import strategies as st

import minialex
import minialex.functional as F
from minialex import Tensor, backend, nn
from minialex.backend import np

# rel_error-style tolerance: |analytic - numeric| <= 1e-8 + 1e-6 |numeric| per element.
gradcheck = functools.partial(minialex.gradcheck, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("xp_name", BACKENDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_zero_fraction_and_mean_within_binomial_bounds(xp_name, p):
    n = 200_000
    x = Tensor(array_module(xp_name).ones(n, dtype=np.float32))
    out = F.dropout(x, p).numpy()
    assert out.dtype == np.float32
    # Each element is dropped independently: the zero count is Binomial(n, p).
    zero_fraction = float((out == 0).mean())
    assert abs(zero_fraction - p) < 5 * math.sqrt(p * (1 - p) / n)
    # Survivors are scaled by exactly 1 / (1 - p), so the expected output equals the input:
    # each element has mean 1 and variance p / (1 - p).
    np.testing.assert_allclose(out[out != 0], np.float32(1 / (1 - p)), rtol=1e-6)
    assert abs(float(out.mean(dtype=np.float64)) - 1) < 5 * math.sqrt(p / (1 - p) / n)


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_identity_in_eval_and_for_p_zero_zeros_for_p_one(xp_name):
    xp = array_module(xp_name)
    x = Tensor(xp.asarray(np.arange(1.0, 7.0).reshape(2, 3)), requires_grad=True)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.0).numpy(), x.numpy())
    out = F.dropout(x, 1.0)
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 3)))
    out.sum().backward()
    np.testing.assert_array_equal(backend.to_host(x.grad), np.zeros((2, 3)))


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_backward_uses_the_forward_mask(xp_name):
    xp = array_module(xp_name)
    data = np.random.default_rng(0).uniform(1, 2, (50, 40)).astype(np.float32)
    x = Tensor(xp.asarray(data), requires_grad=True)
    out = F.dropout(x, 0.3)
    g = np.random.default_rng(1).standard_normal((50, 40)).astype(np.float32)
    out.backward(xp.asarray(g))
    kept = out.numpy() != 0  # inputs are >= 1, so a zero output means a dropped unit
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(backend.to_host(x.grad), np.where(kept, g / 0.7, 0), rtol=1e-6)
    assert x.grad.dtype == np.float32


@settings(max_examples=10)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.sampled_from([0.2, 0.5, 0.9]),
       st.integers(0, 2**16))
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_dropout_gradcheck(xp_name, shape, p, seed):
    xp = array_module(xp_name)
    x = Tensor(xp.asarray(np.random.default_rng(seed).standard_normal(shape)),
               requires_grad=True)

    def fn(t):  # the same mask on every evaluation: a fresh generator with a fixed seed
        return F.dropout(t, p, rng=backend.default_rng(seed, like=t.data))
    assert gradcheck(fn, [x])


def test_seeded_masks_are_reproducible():
    x = Tensor(np.ones((20, 30), dtype=np.float32))
    backend.manual_seed(7)
    a = F.dropout(x).numpy()
    b = F.dropout(x).numpy()
    backend.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x).numpy(), a)
    assert not np.array_equal(a, b)  # the global generator moves on between calls


def test_module_honours_train_and_eval():
    layer = nn.Dropout(0.5)
    assert layer.p == 0.5 and repr(layer) == "Dropout(p=0.5)"
    x = Tensor(np.ones((100, 100), dtype=np.float32))
    assert (layer(x).numpy() == 0).any()
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    layer.train()
    assert (layer(x).numpy() == 0).any()
    model = nn.Sequential(nn.Dropout(0.9)).eval()
    np.testing.assert_array_equal(model(x).numpy(), x.numpy())


def test_paper_test_time_halving_matches_inverted_dropout_in_expectation():
    # Paper: train with the raw mask, multiply by 0.5 at test time. Inverted dropout: divide
    # by 0.5 in training, do nothing at test time. Train-time mean / test-time value agree.
    x = Tensor(np.full(400_000, 3.0, dtype=np.float32))
    out = F.dropout(x, 0.5).numpy()
    mask = out != 0
    paper_train_mean = float((x.numpy() * mask).mean(dtype=np.float64))
    inverted_train_mean = float(out.mean(dtype=np.float64))
    assert abs(paper_train_mean / (0.5 * 3.0) - 1) < 0.01  # the paper's halved test output
    assert abs(inverted_train_mean / 3.0 - 1) < 0.01  # inverted dropout's plain test output


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5", True])
def test_bad_probability_messages(p):
    x = Tensor(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"dropout: probability p must be in \[0, 1\], got"):
        F.dropout(x, p)
    with pytest.raises(ValueError, match=r"Dropout: probability p must be in \[0, 1\], got"):
        nn.Dropout(p)


def test_integer_input_rejected():
    with pytest.raises(TypeError, match="dropout: expected a floating-point input"):
        F.dropout(Tensor(np.ones(3, dtype=np.int32)), 0.5)
