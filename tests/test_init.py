"""Initialisers: sample statistics against the hand formulas, in-place semantics, fans."""

from __future__ import annotations

import math

import pytest
from helpers import BACKENDS, array_module

from minialex import Tensor, backend, nn
from minialex.backend import np
from minialex.nn import init


def _param(xp_name, shape, dtype=np.float32):
    return nn.Parameter(array_module(xp_name).zeros(shape, dtype=dtype))


def _assert_normal(values, mean, std):
    """Sample mean and std within 5 standard errors of N(mean, std**2)."""
    values = np.asarray(backend.to_host(values), dtype=np.float64).ravel()
    n = values.size
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(values.std() - std) < 5 * std / math.sqrt(2 * n)


def _assert_uniform(values, bound):
    """Inside [-bound, bound], reaching its edges, with variance bound**2 / 3."""
    values = np.asarray(backend.to_host(values), dtype=np.float64).ravel()
    n = values.size
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.999 * bound
    # Var of U(-b, b) is b^2/3; the sample variance has std b^2 * sqrt(4/45) / sqrt(n).
    assert abs(values.var() - bound**2 / 3) < 5 * bound**2 * math.sqrt(4 / 45 / n)


@pytest.mark.parametrize("xp_name", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_paper_default_statistics_dtype_and_in_place(xp_name, dtype):
    w = _param(xp_name, (256, 384), dtype)
    buffer = w.data
    assert init.normal_(w) is w
    assert w.data is buffer and w.dtype == dtype  # in place: optimiser references stay valid
    assert w.device == ("gpu" if xp_name == "cupy" else "cpu")
    _assert_normal(w.data, 0.0, 0.01)  # the paper: N(0, 0.01)
    init.normal_(w, mean=1.0, std=2.0)
    _assert_normal(w.data, 1.0, 2.0)


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_constant_zeros_ones(xp_name):
    b = _param(xp_name, (7,))
    np.testing.assert_array_equal(init.ones_(b).numpy(), np.ones(7))
    np.testing.assert_array_equal(init.zeros_(b).numpy(), np.zeros(7))
    np.testing.assert_array_equal(init.constant_(b, 0.5).numpy(), np.full(7, 0.5))
    assert b.dtype == np.float32


def test_fans_by_hand():
    # AlexNet conv1: 96 filters of 3x11x11; paper conv2 with two towers: 256 x 48 x 5 x 5.
    assert init.calculate_fan_in_and_fan_out(_param("numpy", (96, 3, 11, 11))) == (363, 11616)
    assert init.calculate_fan_in_and_fan_out(_param("numpy", (256, 48, 5, 5))) == (1200, 6400)
    assert init.calculate_fan_in_and_fan_out(_param("numpy", (4096, 9216))) == (9216, 4096)
    with pytest.raises(ValueError, match=r"calculate_fan_in_and_fan_out: needs a weight with at "
                                         r"least 2 dimensions, got shape \(5,\)"):
        init.calculate_fan_in_and_fan_out(_param("numpy", (5,)))


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_xavier_bounds_by_hand(xp_name):
    w = _param(xp_name, (200, 30, 3, 3))  # fan_in 270, fan_out 1800
    init.xavier_uniform_(w)
    _assert_uniform(w.data, math.sqrt(6 / (270 + 1800)))
    init.xavier_uniform_(w, gain=2.0)
    _assert_uniform(w.data, 2 * math.sqrt(6 / (270 + 1800)))
    init.xavier_normal_(w)
    _assert_normal(w.data, 0.0, math.sqrt(2 / (270 + 1800)))
    assert init.glorot_uniform_ is init.xavier_uniform_


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_kaiming_bounds_by_hand(xp_name):
    w = _param(xp_name, (300, 50, 2, 2))  # fan_in 200, fan_out 1200
    init.kaiming_normal_(w)  # He: std sqrt(2 / fan_in) for ReLU
    _assert_normal(w.data, 0.0, math.sqrt(2 / 200))
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    _assert_normal(w.data, 0.0, math.sqrt(2 / 1200))
    init.kaiming_uniform_(w)  # bound sqrt(3) * std = sqrt(6 / fan_in)
    _assert_uniform(w.data, math.sqrt(6 / 200))
    # PyTorch's Linear/Conv2d default: a = sqrt(5) gives gain sqrt(1/3), bound 1/sqrt(fan_in).
    init.kaiming_uniform_(w, a=math.sqrt(5))
    _assert_uniform(w.data, 1 / math.sqrt(200))
    with pytest.raises(ValueError, match="kaiming init: mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(w, mode="fan_avg")


@pytest.mark.torch
def test_calculate_gain_matches_torch(torch):
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                        ("relu", None), ("leaky_relu", None), ("leaky_relu", math.sqrt(5)),
                        ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-12)
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_seeded_and_explicit_generators_are_reproducible():
    w = _param("numpy", (10, 10))
    backend.manual_seed(3)
    first = init.normal_(w).numpy().copy()
    second = init.normal_(w).numpy().copy()
    backend.manual_seed(3)
    np.testing.assert_array_equal(init.normal_(w).numpy(), first)
    assert not np.array_equal(first, second)
    a = init.xavier_uniform_(w, rng=backend.default_rng(5)).numpy().copy()
    b = init.xavier_uniform_(w, rng=backend.default_rng(5)).numpy()
    np.testing.assert_array_equal(a, b)


def test_bad_input_messages():
    with pytest.raises(TypeError, match="init.normal_: expected a Tensor or Parameter, got "
                                        "ndarray"):
        init.normal_(np.zeros(3))
    with pytest.raises(TypeError, match="init.constant_: expected a floating-point tensor, got "
                                        "int64"):
        init.constant_(Tensor(np.zeros(3, dtype=np.int64)), 1)
