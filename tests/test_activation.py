"""relu, tanh, sigmoid, softmax, log_softmax: PyTorch oracle, gradcheck, extreme inputs."""

from __future__ import annotations

import functools
import warnings

import pytest
from helpers import BACKENDS, array_module, assert_close_scaled
from hypothesis import given, settings
from hypothesis import strategies as st

import minialex
import minialex.functional as F
from minialex import Tensor, nn
from minialex.backend import np

# rel_error-style tolerance: |analytic - numeric| <= 1e-8 + 1e-6 |numeric| per element.
gradcheck = functools.partial(minialex.gradcheck, atol=1e-8, rtol=1e-6)


def _data(shape, seed, dtype=np.float64, scale=2.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4)

ELEMENTWISE = {"relu": F.relu, "tanh": F.tanh, "sigmoid": F.sigmoid}
ALONG_DIM = {"softmax": F.softmax, "log_softmax": F.log_softmax}


def _away_from_zero(x):
    """relu is not differentiable at 0: keep gradcheck's +-eps pokes on one side."""
    return np.where(np.abs(x) < 1e-3, 0.5, x)


@settings(max_examples=15)
@given(shapes, st.integers(0, 2**16))
@pytest.mark.parametrize("name", list(ELEMENTWISE))
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_elementwise_gradcheck(xp_name, name, shape, seed):
    xp = array_module(xp_name)
    x = Tensor(xp.asarray(_away_from_zero(_data(shape, seed))), requires_grad=True)
    assert gradcheck(ELEMENTWISE[name], [x])


@settings(max_examples=15)
@given(shapes, st.data(), st.integers(0, 2**16))
@pytest.mark.parametrize("name", list(ALONG_DIM))
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_softmax_gradcheck(xp_name, name, shape, data, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = Tensor(array_module(xp_name).asarray(_data(shape, seed)), requires_grad=True)
    assert gradcheck(lambda t: ALONG_DIM[name](t, dim), [x])


@pytest.mark.torch
@settings(max_examples=10)
@given(shapes, st.data(), st.sampled_from(["float64", "float32"]), st.integers(0, 2**16))
@pytest.mark.parametrize("name", list(ELEMENTWISE) + list(ALONG_DIM))
def test_matches_torch(torch, name, shape, data, dtype, seed):
    tol = 1e-10 if dtype == "float64" else 1e-4
    x = _away_from_zero(_data(shape, seed, np.dtype(dtype), scale=4.0))
    g = _data(shape, seed + 1, np.dtype(dtype))
    if name in ALONG_DIM:
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        ours_fn = lambda t: ALONG_DIM[name](t, dim)  # noqa: E731
        torch_fn = lambda t: getattr(torch, name)(t, dim)  # noqa: E731
    else:
        ours_fn, torch_fn = ELEMENTWISE[name], getattr(torch, name)
    t = Tensor(x, requires_grad=True)
    out = ours_fn(t)
    out.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch_fn(tx)
    tout.backward(torch.tensor(g))
    assert out.dtype == np.dtype(dtype) and t.grad.dtype == np.dtype(dtype)
    assert_close_scaled(out.data, tout.detach().numpy(), tol)
    assert_close_scaled(t.grad, tx.grad.numpy(), tol)


def test_relu_by_hand_and_gradient_at_zero():
    x = Tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    out = F.relu(x)
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])  # PyTorch's choice at exactly 0


def test_extreme_inputs_stay_finite_and_accurate():
    big = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings from exp
        s = F.sigmoid(Tensor(big)).numpy()
        p = F.softmax(Tensor(np.array([[1e4, 0.0, -1e4]]))).numpy()
        lp = F.log_softmax(Tensor(np.array([[1e4, 0.0, -1e4]]))).numpy()
        s32 = F.sigmoid(Tensor(big.astype(np.float32))).numpy()
    np.testing.assert_allclose(s, [0.0, np.exp(-40.0) / (1 + np.exp(-40.0)), 0.5, 1.0, 1.0],
                               rtol=1e-14, atol=0)
    assert s32.dtype == np.float32 and np.isfinite(s32).all()
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0]], atol=0)
    np.testing.assert_allclose(lp, [[0.0, -1e4, -2e4]], rtol=1e-14)


def test_softmax_rows_sum_to_one_by_hand():
    x = Tensor(np.log(np.array([[1.0, 2.0, 5.0], [4.0, 4.0, 2.0]])))
    np.testing.assert_allclose(F.softmax(x, dim=1).numpy(), [[0.125, 0.25, 0.625],
                                                              [0.4, 0.4, 0.2]])
    np.testing.assert_allclose(F.softmax(x, dim=0).numpy(), [[0.2, 1 / 3, 5 / 7],
                                                              [0.8, 2 / 3, 2 / 7]])


def test_modules():
    x = Tensor(np.array([-1.0, 0.5]))
    np.testing.assert_array_equal(nn.ReLU()(x).numpy(), [0.0, 0.5])
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh([-1.0, 0.5]))
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp([1.0, -0.5])))
    assert repr(nn.ReLU()) == "ReLU()" and list(nn.ReLU().parameters()) == []


def test_bad_input_messages():
    with pytest.raises(TypeError, match="relu: expected a floating-point input .* got int64"):
        F.relu(Tensor(np.array([1, 2], dtype=np.int64)))
    with pytest.raises(ValueError, match=r"softmax: dim 2 out of range for a 2-D input of "
                                         r"shape \(2, 3\)"):
        F.softmax(Tensor(np.zeros((2, 3))), dim=2)
    with pytest.raises(ValueError, match="log_softmax: dim -3 out of range"):
        F.log_softmax(Tensor(np.zeros((2, 3))), dim=-3)
    with pytest.raises(TypeError, match="tanh: input must be a Tensor or an array, got list"):
        F.tanh([1.0])


@pytest.mark.parametrize("layer, call", [
    ("relu", lambda x: F.relu(x)),
    ("softmax", lambda x: F.softmax(x)),
    ("local_response_norm", lambda x: F.local_response_norm(x.reshape(1, 2, 1, 2))),
    ("batch_norm", lambda x: F.batch_norm(x, None, None, None, None, True)),
    ("linear", lambda x: F.linear(x, Tensor(np.ones((3, 2))))),
    ("dropout", lambda x: F.dropout(x, 0.5)),
    ("cross_entropy", lambda x: F.cross_entropy(x, np.array([0, 1]))),
])
def test_debug_mode_rejects_nan_naming_the_layer(layer, call):
    from minialex.functional import _checks

    x = Tensor(np.array([[1.0, np.nan], [0.5, 2.0]]))
    previous = _checks.DEBUG
    try:
        _checks.set_debug(False)
        call(x)  # NaN passes silently by default (no extra pass over the data)
        _checks.set_debug(True)
        with pytest.raises(ValueError, match=rf"{layer}: input contains NaN or inf"):
            call(x)
    finally:
        _checks.set_debug(previous)
