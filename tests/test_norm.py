"""Local response normalisation and batch norm: naive references, PyTorch oracle, gradcheck."""

from __future__ import annotations

import functools
import math

import pytest
from helpers import BACKENDS, array_module, assert_close_scaled
from hypothesis import given, settings
from hypothesis import strategies as st

import minialex
import minialex.functional as F
from minialex import Tensor, backend, nn, rel_error
from minialex.backend import np
from minialex.functional import _parallel

# rel_error-style tolerance: |analytic - numeric| <= 1e-8 + 1e-6 |numeric| per element.
gradcheck = functools.partial(minialex.gradcheck, atol=1e-8, rtol=1e-6)


def _randn(xp, shape, seed, dtype=np.float64, scale=1.0):
    data = np.random.default_rng(seed).standard_normal(shape) * scale
    return xp.asarray(data.astype(dtype))


def lrn_naive(a, size, alpha, beta, k):
    """The paper's formula, one output channel at a time (host NumPy, float64)."""
    a = np.asarray(a, dtype=np.float64)
    channels = a.shape[1]
    out = np.empty_like(a)
    for c in range(channels):
        lo = max(0, c - size // 2)
        hi = min(channels - 1, c + (size - 1) // 2)
        total = (a[:, lo:hi + 1] ** 2).sum(axis=1)
        out[:, c] = a[:, c] / (k + alpha * total) ** beta
    return out


lrn_cases = st.tuples(
    st.integers(1, 2),  # N
    st.integers(1, 9),  # C, also below size
    st.integers(1, 3),  # H
    st.integers(1, 3),  # W
    st.integers(1, 7),  # size, even and odd
    st.sampled_from([0.1, 1.0]),  # alpha large enough that the window matters
    st.sampled_from([0.5, 0.75, 1.0]),
    st.sampled_from([1.0, 2.0]),
    st.integers(0, 2**16),
)


def test_lrn_paper_defaults_by_hand():
    # One pixel, three channels valued 1, 2, 3; size 5 covers all three (clipped at the edges).
    x = Tensor(np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1))
    out = F.local_response_norm(x).numpy().ravel()
    den = (2.0 + 1e-4 * (1 + 4 + 9)) ** 0.75
    np.testing.assert_allclose(out, np.array([1.0, 2.0, 3.0]) / den, rtol=1e-14)
    # size 3: channel 0 sees channels 0-1, channel 1 sees 0-2, channel 2 sees 1-2.
    out = F.local_response_norm(x, size=3, alpha=1.0, beta=1.0, k=1.0).numpy().ravel()
    np.testing.assert_allclose(out, [1 / (1 + 5), 2 / (1 + 14), 3 / (1 + 13)], rtol=1e-14)
    # size 2 (even): one channel before, none after, as PyTorch places it.
    out = F.local_response_norm(x, size=2, alpha=1.0, beta=1.0, k=1.0).numpy().ravel()
    np.testing.assert_allclose(out, [1 / (1 + 1), 2 / (1 + 5), 3 / (1 + 13)], rtol=1e-14)


@settings(max_examples=30)
@given(lrn_cases)
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_lrn_matches_naive_loop(xp_name, case):
    n, c, h, w, size, alpha, beta, k, seed = case
    xp = array_module(xp_name)
    x = _randn(xp, (n, c, h, w), seed)
    out = F.local_response_norm(Tensor(x), size, alpha, beta, k).numpy()
    assert rel_error(out, lrn_naive(backend.to_host(x), size, alpha, beta, k)) < 1e-12


@settings(max_examples=15)
@given(lrn_cases)
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_lrn_gradcheck(xp_name, case):
    n, c, h, w, size, alpha, beta, k, seed = case
    x = Tensor(_randn(array_module(xp_name), (n, c, h, w), seed), requires_grad=True)
    assert gradcheck(lambda t: F.local_response_norm(t, size, alpha, beta, k), [x])


@pytest.mark.torch
@settings(max_examples=20)
@given(lrn_cases, st.sampled_from(["float64", "float32"]))
def test_lrn_matches_torch_with_alpha_times_size(torch, case, dtype):
    n, c, h, w, size, alpha, beta, k, seed = case
    tol = 1e-10 if dtype == "float64" else 1e-4
    x = _randn(np, (n, c, h, w), seed, dtype=np.dtype(dtype))
    g = _randn(np, (n, c, h, w), seed + 1, dtype=np.dtype(dtype))
    t = Tensor(x, requires_grad=True)
    out = F.local_response_norm(t, size, alpha, beta, k)
    out.backward(g)
    assert out.dtype == np.dtype(dtype) and t.grad.dtype == np.dtype(dtype)

    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.local_response_norm(tx, size, alpha * size, beta, k)
    tout.backward(torch.tensor(g))
    assert rel_error(out.data, tout.detach().numpy()) < tol
    assert rel_error(t.grad, tx.grad.numpy()) < tol


@pytest.mark.torch
def test_lrn_torch_comparison_detects_a_wrong_alpha_convention(torch):
    # The oracle test above can fail: with torch's own alpha the outputs differ clearly.
    x = _randn(np, (2, 7, 3, 3), 5)
    ours = F.local_response_norm(Tensor(x), 5, 0.1, 0.75, 2.0).numpy()
    theirs = torch.nn.functional.local_response_norm(torch.tensor(x), 5, 0.1, 0.75, 2.0)
    assert rel_error(ours, theirs.numpy()) > 1e-3


def test_lrn_is_vectorised_for_many_channels():
    # Runs on an AlexNet-sized channel count; checks a few channels against the naive formula.
    x = _randn(np, (1, 256, 2, 2), 1, dtype=np.float32)
    out = F.local_response_norm(Tensor(x), 5, 0.1, 0.75, 2.0).numpy()
    ref = lrn_naive(x, 5, 0.1, 0.75, 2.0)
    assert out.dtype == np.float32
    assert rel_error(out, ref) < 1e-5


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_lrn_module(xp_name):
    layer = nn.LocalResponseNorm()
    assert (layer.size, layer.alpha, layer.beta, layer.k) == (5, 1e-4, 0.75, 2.0)
    assert repr(layer) == "LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=2.0)"
    assert list(layer.parameters()) == []
    x = _randn(array_module(xp_name), (2, 6, 3, 3), 0, scale=30.0)
    out = nn.LocalResponseNorm(3, 1e-3, 0.75, 2.0)(Tensor(x)).numpy()
    assert rel_error(out, lrn_naive(backend.to_host(x), 3, 1e-3, 0.75, 2.0)) < 1e-12


def test_lrn_bad_input_messages():
    with pytest.raises(ValueError, match=r"local_response_norm: expected a 3-D or higher input "
                                         r"\(N, C, H, W\), got shape \(4, 5\)"):
        F.local_response_norm(Tensor(np.zeros((4, 5))))
    with pytest.raises(ValueError, match="local_response_norm: size must be a positive int, "
                                         "got 0"):
        F.local_response_norm(Tensor(np.zeros((1, 3, 2, 2))), size=0)
    with pytest.raises(TypeError, match="local_response_norm: expected a floating-point"):
        F.local_response_norm(Tensor(np.zeros((1, 3, 2, 2), dtype=np.int64)))
    with pytest.raises(ValueError, match="LocalResponseNorm: size must be a positive int"):
        nn.LocalResponseNorm(-1)


# ---------------------------------------------------------------- batch norm
bn_shapes = st.one_of(
    st.tuples(st.integers(2, 5), st.integers(1, 4)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
).filter(lambda s: math.prod(s) // s[1] >= 2)


def _bn_tensors(xp, shape, seed, dtype=np.float64):
    c = shape[1]
    x = Tensor(_randn(xp, shape, seed, dtype, scale=2.0) + 0.5, requires_grad=True)
    w = Tensor(_randn(xp, (c,), seed + 1, dtype), requires_grad=True)
    b = Tensor(_randn(xp, (c,), seed + 2, dtype), requires_grad=True)
    mean = Tensor(_randn(xp, (c,), seed + 3, dtype))
    var = Tensor(xp.asarray(np.random.default_rng(seed).uniform(0.5, 2.0, c).astype(dtype)))
    return x, w, b, mean, var


@settings(max_examples=15)
@given(bn_shapes, st.booleans(), st.integers(0, 2**16))
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_batch_norm_gradcheck(xp_name, shape, training, seed):
    x, w, b, mean, var = _bn_tensors(array_module(xp_name), shape, seed)

    def fn(x, w, b):
        # Fresh copies of the buffers: training mode updates them in place.
        return F.batch_norm(x, Tensor(mean.data.copy()), Tensor(var.data.copy()), w, b,
                            training)
    assert gradcheck(fn, [x, w, b])


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=10)
@given(bn_shapes, st.booleans(), st.integers(0, 2**16))
def test_batch_norm_gradcheck_with_channels_on_threads(threads, shape, training, seed):
    """The channels split over 1 and 2 threads, however small the input."""
    x, w, b, mean, var = _bn_tensors(np, shape, seed)

    def fn(x, w, b):
        with _parallel.threads(threads, min_bytes=0):
            return F.batch_norm(x, Tensor(mean.data.copy()), Tensor(var.data.copy()), w, b,
                                training)
    with _parallel.threads(threads, min_bytes=0):
        assert gradcheck(fn, [x, w, b])


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_bit_for_bit_the_same_for_every_thread_count(training):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((4, 6, 5, 7)) * 3 + 1).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    runs = []
    for threads in (1, 2, 3, 2):
        ts = [Tensor(x, requires_grad=True), Tensor(np.full(6, 0.5, np.float32)),
              Tensor(np.full(6, 2.0, np.float32)),
              Tensor(np.linspace(0.5, 2, 6, dtype=np.float32), requires_grad=True),
              Tensor(np.linspace(-1, 1, 6, dtype=np.float32), requires_grad=True)]
        with _parallel.threads(threads, min_bytes=0):
            out = F.batch_norm(*ts, training=training)
            out.backward(g)
        runs.append([out.data, ts[0].grad, ts[3].grad, ts[4].grad, ts[1].data, ts[2].data])
    for run in runs[1:]:
        for a, c in zip(runs[0], run, strict=True):
            assert np.array_equal(a, c)


@settings(max_examples=10)
@given(bn_shapes, st.integers(0, 2**16))
def test_batch_norm_gradcheck_without_affine_or_buffers(shape, seed):
    x, _, _, _, _ = _bn_tensors(np, shape, seed)
    assert gradcheck(lambda t: F.batch_norm(t, None, None, None, None, True), [x])


@pytest.mark.torch
@settings(max_examples=20)
@given(bn_shapes, st.sampled_from(["float64", "float32"]), st.integers(0, 2**16))
def test_batch_norm_matches_torch_two_steps_then_eval(torch, shape, dtype, seed):
    dtype = np.dtype(dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    _, w, b, mean, var = _bn_tensors(np, shape, seed, dtype)
    tw = torch.tensor(w.data, requires_grad=True)
    tb = torch.tensor(b.data, requires_grad=True)
    tmean, tvar = torch.tensor(mean.data.copy()), torch.tensor(var.data.copy())
    for step, training in enumerate([True, True, False]):
        x = Tensor(_randn(np, shape, seed + 10 * step, dtype, scale=3.0) + 1.0,
                   requires_grad=True)
        g = _randn(np, shape, seed + 10 * step + 5, dtype)
        w.grad = b.grad = tw.grad = tb.grad = None
        out = F.batch_norm(x, mean, var, w, b, training, momentum=0.3, eps=1e-3)
        out.backward(g)
        tx = torch.tensor(x.data, requires_grad=True)
        tout = torch.nn.functional.batch_norm(tx, tmean, tvar, tw, tb, training, 0.3, 1e-3)
        tout.backward(torch.tensor(g))
        assert out.dtype == dtype and x.grad.dtype == dtype and mean.dtype == dtype
        assert_close_scaled(out.data, tout.detach().numpy(), tol)
        assert_close_scaled(x.grad, tx.grad.numpy(), tol)
        assert_close_scaled(w.grad, tw.grad.numpy(), tol)
        assert_close_scaled(b.grad, tb.grad.numpy(), tol)
        assert_close_scaled(mean.data, tmean.numpy(), tol)
        assert_close_scaled(var.data, tvar.numpy(), tol)


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(3, 4, 31, 33), (2, 3, 32, 32), (2, 3, 33, 33)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch_on_both_sides_of_the_short_map_rule(torch, shape, training):
    """Maps of 1023, 1024 and 1089 values: the channel sums take both of their orders."""
    from minialex.functional import norm
    assert math.prod(shape[2:]) - norm._SHORT_MAP in (-1, 0, 65)
    _, w, b, mean, var = _bn_tensors(np, shape, 3, np.float32)
    x = Tensor(_randn(np, shape, 4, np.float32, scale=3.0) + 1.0, requires_grad=True)
    g = _randn(np, shape, 5, np.float32)
    tx, tw, tb = (torch.tensor(t.data, requires_grad=True) for t in (x, w, b))
    tmean, tvar = torch.tensor(mean.data.copy()), torch.tensor(var.data.copy())
    out = F.batch_norm(x, mean, var, w, b, training, momentum=0.3)
    out.backward(g)
    tout = torch.nn.functional.batch_norm(tx, tmean, tvar, tw, tb, training, 0.3)
    tout.backward(torch.tensor(g))
    for mine, theirs in [(out.data, tout), (x.grad, tx.grad), (w.grad, tw.grad),
                         (b.grad, tb.grad), (mean.data, tmean), (var.data, tvar)]:
        assert_close_scaled(mine, theirs.detach().numpy(), 1e-4)


def test_batch_norm_running_stats_by_hand():
    # Channel values 1, 2, 3, 6: mean 3, biased variance 3.5, unbiased 14/3.
    x = Tensor(np.array([1.0, 2.0, 3.0, 6.0]).reshape(4, 1))
    mean, var = Tensor(np.zeros(1)), Tensor(np.ones(1))
    out = F.batch_norm(x, mean, var, None, None, training=True, momentum=0.1, eps=0.0)
    np.testing.assert_allclose(out.numpy().ravel(), (np.array([1, 2, 3, 6]) - 3) / 3.5**0.5)
    np.testing.assert_allclose(mean.numpy(), [0.1 * 3])
    np.testing.assert_allclose(var.numpy(), [0.9 + 0.1 * 14 / 3])
    # Evaluation uses (and keeps) the running statistics.
    out = F.batch_norm(x, mean, var, None, None, training=False, eps=0.0)
    np.testing.assert_allclose(out.numpy().ravel(), (np.array([1, 2, 3, 6]) - 0.3) /
                               (0.9 + 0.1 * 14 / 3) ** 0.5)
    np.testing.assert_allclose(mean.numpy(), [0.3])


@pytest.mark.parametrize("xp_name", BACKENDS)
def test_batchnorm_modules(xp_name):
    bn = nn.BatchNorm2d(3, momentum=0.5)
    assert bn.num_features == 3
    assert repr(bn) == ("BatchNorm2d(3, eps=1e-05, momentum=0.5, affine=True, "
                        "track_running_stats=True)")
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert bn.weight.dtype == np.float32 and bn.running_var.dtype == np.float32
    if xp_name == "cupy":
        bn.to("gpu")
    x = Tensor(_randn(array_module(xp_name), (4, 3, 2, 2), 0, np.float32) * 2 + 5)
    y = bn(x).numpy()
    # Train mode: each channel of the output has mean 0 and (biased) variance ~1.
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-3)
    host = backend.to_host(x.data).astype(np.float64)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * host.mean(axis=(0, 2, 3)),
                               rtol=1e-5)
    before = bn.running_mean.numpy().copy()
    bn.eval()
    bn(x)
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)

    bn1 = nn.BatchNorm1d(4, affine=False, track_running_stats=False)
    assert list(bn1.parameters()) == [] and list(bn1.buffers()) == []
    bn1.eval()  # no running statistics: batch statistics even in eval
    y = bn1(Tensor(_randn(np, (6, 4), 1) * 3 + 2)).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    assert nn.BatchNorm1d(4)(Tensor(_randn(np, (2, 4, 5), 2, np.float32))).shape == (2, 4, 5)


def test_batchnorm_module_double_and_state_dict_roundtrip():
    bn = nn.BatchNorm1d(2).double()
    assert bn.running_mean.dtype == np.float64
    bn(Tensor(_randn(np, (5, 2), 0)))
    other = nn.BatchNorm1d(2).double()
    other.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(other.running_var.numpy(), bn.running_var.numpy())


def test_batch_norm_bad_input_messages():
    x = Tensor(np.zeros((4, 3, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 8 channels \(axis 1\) in input "
                                         r"\(N, C, H, W\), got shape \(4, 3, 2, 2\)"):
        nn.BatchNorm2d(8)(x)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-D input \(N, C, H, W\), "
                                         r"got shape \(4, 3\)"):
        nn.BatchNorm2d(3)(Tensor(np.zeros((4, 3), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected a 2- or 3-D input"):
        nn.BatchNorm1d(3)(x)
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\) to match "
                                         r"the input's 3 channels \(axis 1\), got shape \(8,\)"):
        F.batch_norm(x, None, None, Tensor(np.ones(8, np.float32)), None, True)
    with pytest.raises(TypeError, match="batch_norm: mixed dtypes .*input: float32.*"
                                        "running_mean: float64"):
        F.batch_norm(x, Tensor(np.zeros(3)), Tensor(np.ones(3)), None, None, False)
    with pytest.raises(ValueError, match="batch_norm: evaluation mode .* needs running_mean"):
        F.batch_norm(x, None, None, None, None, False)
    with pytest.raises(ValueError, match=r"batch_norm: training needs more than one value per "
                                         r"channel .* got input shape \(1, 3\)"):
        F.batch_norm(Tensor(np.zeros((1, 3))), None, None, None, None, True)
    with pytest.raises(ValueError, match=r"batch_norm: expected a 2- or 3- or 4-D input"):
        F.batch_norm(Tensor(np.zeros(3)), None, None, None, None, True)
    with pytest.raises(ValueError, match="BatchNorm2d: num_features must be a positive int"):
        nn.BatchNorm2d(0)


def test_no_float64_promotion_in_float32_layers():
    x = Tensor(_randn(np, (2, 4, 3, 3), 0, np.float32), requires_grad=True)
    bn = nn.BatchNorm2d(4)
    out = F.local_response_norm(bn(x))
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert bn.weight.grad.dtype == np.float32 and bn.running_var.dtype == np.float32
    assert minialex.tensor(1.0).dtype == np.float32
