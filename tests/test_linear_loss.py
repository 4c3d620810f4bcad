"""linear, flatten and cross_entropy: PyTorch oracle, gradcheck, stability, messages."""

from __future__ import annotations

import functools
import math
import warnings

import pytest
from helpers import BACKENDS, array_module
from hypothesis import given, settings
from hypothesis import strategies as st

import minialex
import minialex.functional as F
from minialex import Tensor, nn, rel_error
from minialex.backend import np

# rel_error-style tolerance: |analytic - numeric| <= 1e-8 + 1e-6 |numeric| per element.
gradcheck = functools.partial(minialex.gradcheck, atol=1e-8, rtol=1e-6)


def _data(shape, seed, dtype=np.float64, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


# ---------------------------------------------------------------- linear
@settings(max_examples=15)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5), st.booleans(),
       st.integers(0, 2**16))
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_linear_gradcheck(xp_name, n, fin, fout, with_bias, seed):
    xp = array_module(xp_name)
    x = Tensor(xp.asarray(_data((n, fin), seed)), requires_grad=True)
    w = Tensor(xp.asarray(_data((fout, fin), seed + 1)), requires_grad=True)
    b = Tensor(xp.asarray(_data((fout,), seed + 2)), requires_grad=True) if with_bias else None
    assert gradcheck(F.linear, [x, w, b] if with_bias else [x, w])


def test_linear_by_hand_and_batch_axes():
    x = Tensor(np.array([[1.0, 2.0]]))
    w = Tensor(np.array([[1.0, 0.0], [3.0, -1.0], [0.5, 0.5]]))
    b = Tensor(np.array([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(F.linear(x, w, b).numpy(), [[11.0, 21.0, 31.5]])
    # Leading axes are batch axes: (2, 3, in) -> (2, 3, out).
    xs = Tensor(_data((2, 3, 2), 0), requires_grad=True)
    out = F.linear(xs, w, b)
    assert out.shape == (2, 3, 3)
    np.testing.assert_allclose(out.numpy(), xs.numpy() @ w.numpy().T + b.numpy())
    assert gradcheck(lambda t: F.linear(t, w, b), [xs])


@pytest.mark.torch
@settings(max_examples=10)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5),
       st.sampled_from(["float64", "float32"]), st.integers(0, 2**16))
def test_linear_matches_torch(torch, n, fin, fout, dtype, seed):
    tol = 1e-10 if dtype == "float64" else 1e-4
    arrays = [_data(s, seed + i, np.dtype(dtype)) for i, s in
              enumerate([(n, fin), (fout, fin), (fout,), (n, fout)])]
    x, w, b = (Tensor(a, requires_grad=True) for a in arrays[:3])
    out = F.linear(x, w, b)
    out.backward(arrays[3])
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in arrays[:3])
    tout = torch.nn.functional.linear(tx, tw, tb)
    tout.backward(torch.tensor(arrays[3]))
    assert out.dtype == np.dtype(dtype)
    for ours, theirs in [(out.data, tout), (x.grad, tx.grad), (w.grad, tw.grad),
                         (b.grad, tb.grad)]:
        theirs = theirs.detach().numpy()
        err = np.abs(ours.astype(np.float64) - theirs).max()
        assert err <= tol * max(1.0, np.abs(theirs).max())  # sums of O(1) products


def test_linear_module_default_init_and_repr():
    layer = nn.Linear(400, 30)
    assert (layer.in_features, layer.out_features) == (400, 30)
    assert repr(layer) == "Linear(in_features=400, out_features=30, bias=True)"
    assert layer.weight.shape == (30, 400) and layer.bias.shape == (30,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert layer.num_parameters() == 400 * 30 + 30
    # PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias; variance bound**2/3.
    bound = 1 / math.sqrt(400)
    w = layer.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.05
    assert np.abs(layer.bias.numpy()).max() <= bound
    no_bias = nn.Linear(3, 2, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    out = no_bias(Tensor(np.ones((4, 3), dtype=np.float32)))
    assert out.shape == (4, 2) and out.dtype == np.float32


def test_linear_bad_input_messages():
    fc6 = nn.Linear(9216, 8)
    with pytest.raises(ValueError, match=r"linear: expected input with 9216 features .*"
                                         r"weight shape \(8, 9216\), got shape \(2, 6400\)"):
        fc6(Tensor(np.zeros((2, 6400), dtype=np.float32)))
    w = Tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(3,\) .* got \(4,\)"):
        F.linear(Tensor(np.zeros((2, 4))), w, Tensor(np.zeros(4)))
    with pytest.raises(ValueError, match=r"linear: expected a 2-D weight "
                                         r"\(out_features, in_features\), got shape \(3,\)"):
        F.linear(Tensor(np.zeros((2, 3))), Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="linear: mixed dtypes .*input: float32.*weight: float64"):
        F.linear(Tensor(np.zeros((2, 4), dtype=np.float32)), w)
    with pytest.raises(ValueError, match="Linear: in_features must be a positive int, got 0"):
        nn.Linear(0, 3)


# ---------------------------------------------------------------- flatten
def test_flatten_shapes_and_gradient():
    x = Tensor(_data((2, 256, 6, 6), 0), requires_grad=True)
    out = F.flatten(x)
    assert out.shape == (2, 9216)
    np.testing.assert_array_equal(out.numpy()[1, :36], x.numpy()[1, 0].ravel())
    g = _data((2, 9216), 1)
    out.backward(g)
    np.testing.assert_array_equal(x.grad, g.reshape(2, 256, 6, 6))
    assert F.flatten(x, 0).shape == (2 * 9216,)
    assert F.flatten(x, 1, 2).shape == (2, 1536, 6)
    assert F.flatten(x, -2).shape == (2, 256, 36)
    assert nn.Flatten()(x).shape == (2, 9216)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    with pytest.raises(ValueError, match=r"flatten: start_dim=4, end_dim=-1 do not select .* "
                                         r"4-D input of shape \(2, 256, 6, 6\)"):
        F.flatten(x, 4)
    with pytest.raises(ValueError, match="flatten: start_dim=2, end_dim=1"):
        F.flatten(x, 2, 1)


# ---------------------------------------------------------------- cross-entropy
def cross_entropy_naive(logits, target):
    """-log(exp(z_t) / sum exp(z)), one row at a time in float64 (moderate logits only)."""
    return np.array([-math.log(math.exp(row[t]) / sum(math.exp(v) for v in row))
                     for row, t in zip(np.asarray(logits, np.float64), target, strict=True)])


def test_cross_entropy_by_hand():
    logits = np.array([[0.0, 0.0, 0.0, 0.0], [2.0, 1.0, 0.1, -1.0]])
    target = np.array([3, 0])
    losses = F.cross_entropy(Tensor(logits), target, reduction="none").numpy()
    np.testing.assert_allclose(losses[0], math.log(4), rtol=1e-14)
    np.testing.assert_allclose(losses, cross_entropy_naive(logits, target), rtol=1e-13)
    mean = F.cross_entropy(Tensor(logits), target).item()
    np.testing.assert_allclose(mean, losses.mean(), rtol=1e-14)
    total = F.cross_entropy(Tensor(logits), Tensor(target), reduction="sum").item()
    np.testing.assert_allclose(total, losses.sum(), rtol=1e-14)


@settings(max_examples=15)
@given(st.integers(1, 5), st.integers(1, 6), st.sampled_from(["mean", "sum", "none"]),
       st.integers(0, 2**16))
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_cross_entropy_gradcheck(xp_name, n, classes, reduction, seed):
    xp = array_module(xp_name)
    logits = Tensor(xp.asarray(_data((n, classes), seed, scale=3.0)), requires_grad=True)
    target = xp.asarray(np.random.default_rng(seed).integers(0, classes, n))
    assert gradcheck(lambda z: F.cross_entropy(z, target, reduction), [logits])


@pytest.mark.torch
@settings(max_examples=15)
@given(st.integers(1, 5), st.integers(1, 6), st.sampled_from(["mean", "sum", "none"]),
       st.sampled_from(["float64", "float32"]), st.sampled_from([1.0, 30.0, 1e4]),
       st.integers(0, 2**16))
def test_cross_entropy_matches_torch_including_huge_logits(torch, n, classes, reduction, dtype,
                                                           scale, seed):
    tol = 1e-10 if dtype == "float64" else 1e-4
    logits = _data((n, classes), seed, np.dtype(dtype), scale=scale)
    target = np.random.default_rng(seed).integers(0, classes, n)
    z = Tensor(logits, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in exp
        loss = F.cross_entropy(z, target, reduction)
        loss.backward(np.ones(loss.shape, dtype=np.dtype(dtype)))
    tz = torch.tensor(logits, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tz, torch.tensor(target), reduction=reduction)
    tloss.backward(torch.ones_like(tloss))
    assert loss.dtype == np.dtype(dtype) and z.grad.dtype == np.dtype(dtype)
    assert np.isfinite(loss.numpy()).all()
    assert rel_error(loss.data, tloss.detach().numpy()) < tol
    assert np.abs(z.grad - tz.grad.numpy()).max() <= tol  # probabilities: bounded by 1


def test_cross_entropy_of_1e4_logits_by_hand():
    # Correct class 1e4 above the rest: loss ~ 0. Wrong class: loss ~ 1e4 (exactly the gap).
    logits = Tensor(np.array([[1e4, 0.0, 0.0], [1e4, 0.0, 0.0]], dtype=np.float32),
                    requires_grad=True)
    losses = F.cross_entropy(logits, np.array([0, 2]), reduction="none").numpy()
    np.testing.assert_allclose(losses, [0.0, 1e4], atol=1e-3)
    F.cross_entropy(logits, np.array([0, 2])).backward()
    np.testing.assert_allclose(logits.grad, [[0, 0, 0], [0.5, 0, -0.5]], atol=1e-6)


def test_cross_entropy_bad_input_messages():
    z = Tensor(np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"cross_entropy: target class 10 out of range for 10 "
                                         r"classes \(expected 0 <= target <= 9\)"):
        F.cross_entropy(z, np.array([1, 10, 2]))
    with pytest.raises(ValueError, match="cross_entropy: target class -1 out of range"):
        F.cross_entropy(z, np.array([1, -1, 2]))
    with pytest.raises(ValueError, match=r"cross_entropy: target must have shape \(3,\), one "
                                         r"class index per row of logits \(3, 10\), got shape "
                                         r"\(2,\)"):
        F.cross_entropy(z, np.array([1, 2]))
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer class indices, "
                                        "got dtype float64"):
        F.cross_entropy(z, np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: expected a 2-D input \(N, classes\) "
                                         r"logits, got shape \(10,\)"):
        F.cross_entropy(Tensor(np.zeros(10)), np.array([1]))
    with pytest.raises(ValueError, match="cross_entropy: reduction must be one of"):
        F.cross_entropy(z, np.array([1, 2, 3]), reduction="avg")
