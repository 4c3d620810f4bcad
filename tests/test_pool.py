"""Pooling: naive loop references, finite differences, tie rule, PyTorch oracle, messages."""

from __future__ import annotations

import math
from unittest import mock

import pytest
from helpers import BACKENDS, check_gradients, relative_max_error
from hypothesis import given, settings
from hypothesis import strategies as st

import minialex
import minialex.functional as F
import minialex.functional.pool as pool_module
from minialex import Tensor, backend, nn
from minialex.functional import _parallel
from minialex.testing import distinct_arrays, pool_params

np = backend.np


# ------------------------------------------------------------------ independent references
def _windows(p):
    """(oh, ow, row range, column range) of every window, PyTorch's index rules, in loops."""
    for r in range(p.out_shape[2]):
        for c in range(p.out_shape[3]):
            r0, c0 = r * p.stride[0] - p.padding[0], c * p.stride[1] - p.padding[1]
            yield r, c, (r0, r0 + p.kernel[0]), (c0, c0 + p.kernel[1])


def max_pool_naive(x, p):
    """Loops; returns the output and, per window, the flat input index of its first maximum."""
    n, ch, h, w = x.shape
    out = np.zeros(p.out_shape, dtype=x.dtype)
    grad_of_ones = np.zeros_like(x)
    for i in range(n):
        for k in range(ch):
            for r, c, (r0, r1), (c0, c1) in _windows(p):
                best, where = -math.inf, None
                for a in range(max(r0, 0), min(r1, h)):
                    for b in range(max(c0, 0), min(c1, w)):
                        if x[i, k, a, b] > best:
                            best, where = x[i, k, a, b], (a, b)
                out[i, k, r, c] = best
                grad_of_ones[i, k][where] += 1.0
    return out, grad_of_ones


def avg_pool_naive(x, p):
    """Loops; zero padding counts (count_include_pad), the divisor is clipped at H + pad."""
    n, ch, h, w = x.shape
    out = np.zeros(p.out_shape, dtype=x.dtype)
    for i in range(n):
        for k in range(ch):
            for r, c, (r0, r1), (c0, c1) in _windows(p):
                total = sum(x[i, k, a, b] for a in range(max(r0, 0), min(r1, h))
                            for b in range(max(c0, 0), min(c1, w)))
                count = (min(r1, h + p.padding[0]) - r0) * (min(c1, w + p.padding[1]) - c0)
                out[i, k, r, c] = total / count
    return out


def adaptive_avg_pool_naive(x, oh, ow):
    n, ch, h, w = x.shape
    out = np.zeros((n, ch, oh, ow), dtype=x.dtype)
    for r in range(oh):
        r0, r1 = (r * h) // oh, -((-(r + 1) * h) // oh)
        for c in range(ow):
            c0, c1 = (c * w) // ow, -((-(c + 1) * w) // ow)
            out[:, :, r, c] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return out


def _args(p):
    return dict(kernel_size=p.kernel, stride=p.stride, padding=p.padding, ceil_mode=p.ceil_mode)


# ------------------------------------------------------------------ max pool
@given(data=st.data(), p=pool_params())
def test_max_pool_matches_naive(data, p):
    x = data.draw(distinct_arrays(p.x_shape))
    out = F.max_pool2d(Tensor(x, requires_grad=True), **_args(p))
    expected, grad_of_ones = max_pool_naive(x, p)
    assert out.shape == p.out_shape
    np.testing.assert_array_equal(out.data, expected)
    xt = Tensor(x, requires_grad=True)
    F.max_pool2d(xt, **_args(p)).sum().backward()
    np.testing.assert_array_equal(xt.grad, grad_of_ones)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=20)
@given(data=st.data(), p=pool_params())
def test_max_pool_in_chunks_on_threads_matches_naive(threads, data, p):
    """The fast path with one plane per chunk and the planes split over 1 and 2 threads,
    however small the input: forward and the first-maximum gradient as in the loops."""
    x = data.draw(distinct_arrays(p.x_shape))
    expected, grad_of_ones = max_pool_naive(x, p)
    xt = Tensor(x, requires_grad=True)
    with _parallel.threads(threads, min_bytes=0), mock.patch.object(pool_module,
                                                                     "_CHUNK_BYTES", 1):
        out = F.max_pool2d(xt, **_args(p))
        out.sum().backward()
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(xt.grad, grad_of_ones)


def test_max_pool_bit_for_bit_the_same_for_every_thread_count_and_chunk():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 13, 13)).astype(np.float32)
    x[:, :, ::4, ::3] = 0.5  # ties
    g = rng.standard_normal((3, 5, 7, 7)).astype(np.float32)
    runs = []
    for threads, chunk in ((1, 1 << 19), (2, 1 << 19), (2, 700), (3, 1)):
        xt = Tensor(x, requires_grad=True)
        with _parallel.threads(threads, min_bytes=0), mock.patch.object(
                pool_module, "_CHUNK_BYTES", chunk):
            out = F.max_pool2d(xt, 3, 2, padding=1)
            out.backward(g)
        runs.append((out.data, xt.grad))
    for out, grad in runs[1:]:
        assert np.array_equal(out, runs[0][0]) and np.array_equal(grad, runs[0][1])


def test_max_pool_backward_leaves_its_inputs_alone():
    """A 1x1 output makes the planes-last view of the gradient contiguous: still copied."""
    x = np.random.default_rng(5).standard_normal((2, 3, 3, 3))
    g = np.random.default_rng(6).standard_normal((2, 3, 1, 1))
    x0, g0 = x.copy(), g.copy()
    F.max_pool2d(Tensor(x, requires_grad=True), 3).backward(g)
    assert np.array_equal(x, x0) and np.array_equal(g, g0)


@settings(max_examples=20)
@given(data=st.data(), p=pool_params(max_side=7))
def test_max_pool_gradcheck(data, p):
    x = Tensor(data.draw(distinct_arrays(p.x_shape)), requires_grad=True)
    check_gradients(lambda t: F.max_pool2d(t, **_args(p)), [x])


def test_max_pool_alexnet_hand_example():
    """3x3 windows, stride 2 (the paper's overlapping pooling) on a 5x5 ramp 0..24."""
    x = Tensor(np.arange(25.0).reshape(1, 1, 5, 5), requires_grad=True)
    out = F.max_pool2d(x, 3, 2)
    np.testing.assert_array_equal(out.data[0, 0], [[12, 14], [22, 24]])
    out.sum().backward()
    expected = np.zeros((5, 5))
    expected[2, 2] = expected[2, 4] = expected[4, 2] = expected[4, 4] = 1
    np.testing.assert_array_equal(x.grad[0, 0], expected)


def test_max_pool_ties_one_max_gets_the_gradient():
    """Equal values in a window: exactly one (the first, PyTorch's rule) takes the gradient."""
    x = Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    out = F.max_pool2d(x, 2)
    grad = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out.backward(grad)
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(x.grad[0, 0], expected)
    # overlapping 3/2 windows on a constant: each window sends its gradient to one input,
    # so the gradient is conserved and lands on at most one pixel per window
    x = Tensor(np.zeros((1, 1, 7, 7)), requires_grad=True)
    F.max_pool2d(x, 3, 2).sum().backward()
    assert x.grad.sum() == 9 and np.count_nonzero(x.grad) <= 9
    assert x.grad[0, 0, 0, 0] == 1  # the first window's first element


@pytest.mark.torch
def test_max_pool_ties_match_torch(torch):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(2, 3, 9, 9)).astype(np.float64)  # many ties
    for args in [dict(kernel_size=3, stride=2), dict(kernel_size=2),
                 dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)]:
        xt = Tensor(x, requires_grad=True)
        out = F.max_pool2d(xt, **args)
        grad = rng.standard_normal(out.shape)
        out.backward(grad)
        tx = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(tx, **args).backward(torch.tensor(grad))
        np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool_padding_is_minus_infinity():
    """All-negative input with padding: the padding must never win the maximum."""
    x = Tensor(-np.arange(1.0, 10.0).reshape(1, 1, 3, 3))
    out = F.max_pool2d(x, 3, 2, padding=1)
    np.testing.assert_array_equal(out.data[0, 0], [[-1, -2], [-4, -5]])  # by hand


# ------------------------------------------------------------------ average pool
@given(p=pool_params())
def test_avg_pool_matches_naive(p):
    x = np.random.default_rng(2).standard_normal(p.x_shape)
    out = F.avg_pool2d(Tensor(x), **_args(p))
    assert out.shape == p.out_shape
    np.testing.assert_allclose(out.data, avg_pool_naive(x, p), rtol=1e-12, atol=1e-14)


@settings(max_examples=20)
@given(p=pool_params(max_side=7))
def test_avg_pool_gradcheck(p):
    x = Tensor(np.random.default_rng(3).standard_normal(p.x_shape), requires_grad=True)
    check_gradients(lambda t: F.avg_pool2d(t, **_args(p)), [x])


def test_avg_pool_hand_example():
    """2x2 windows of 1..16: means by hand; with padding 1 the corner divides 1 by 4."""
    x = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(F.avg_pool2d(Tensor(x), 2).data[0, 0],
                                  [[3.5, 5.5], [11.5, 13.5]])
    padded = F.avg_pool2d(Tensor(x), 2, padding=1).data[0, 0]
    assert padded[0, 0] == 0.25 and padded[1, 1] == (6 + 7 + 10 + 11) / 4
    # ceil_mode: windows running past the padded input divide by the part inside it
    ones = Tensor(np.ones((1, 1, 5, 5)))
    np.testing.assert_array_equal(F.avg_pool2d(ones, 2, ceil_mode=True).data, np.ones((1, 1, 3, 3)))
    out = F.avg_pool2d(Tensor(np.ones((1, 1, 6, 6))), 3, 2, padding=1, ceil_mode=True).data[0, 0]
    # corner windows: 4 of 9 inside; right edge: cols 5..6 (one real, one padding) x 3 rows
    np.testing.assert_allclose([out[0, 0], out[0, 3], out[3, 3]], [4 / 9, 2 / 6, 1 / 4])


# ------------------------------------------------------------------ adaptive average pool
@pytest.mark.parametrize("shape, size", [
    ((2, 3, 6, 6), 6),            # torchvision AlexNet at 224: identity
    ((2, 3, 12, 8), (3, 4)),      # divisible: equal blocks
    ((2, 3, 13, 13), 6),          # AlexNet at 227 with torchvision's head: overlapping windows
    ((1, 2, 7, 10), (3, 4)),
    ((1, 2, 5, 3), (7, 2)),       # output larger than input along H
    ((1, 2, 5, 6), (None, 4)),    # None keeps the input size
])
def test_adaptive_avg_pool_matches_naive_and_gradcheck(shape, size):
    x = np.random.default_rng(4).standard_normal(shape)
    out = F.adaptive_avg_pool2d(Tensor(x), size)
    oh, ow = (size, size) if isinstance(size, int) else size
    oh, ow = oh or shape[2], ow or shape[3]
    np.testing.assert_allclose(out.data, adaptive_avg_pool_naive(x, oh, ow), rtol=1e-12,
                               atol=1e-14)
    check_gradients(lambda t: F.adaptive_avg_pool2d(t, size),
                    [Tensor(x, requires_grad=True)])


def test_adaptive_avg_pool_float32_and_identity_is_a_copy():
    x = Tensor(np.ones((1, 2, 6, 6), dtype=np.float32), requires_grad=True)
    out = F.adaptive_avg_pool2d(x, (6, 6))
    out.sum().backward()
    assert out.dtype == x.grad.dtype == np.float32
    out.data[...] = 5
    assert x.data.max() == 1  # the output does not alias the input


# ------------------------------------------------------------------ backends and dtypes
@pytest.mark.parametrize("xp_name", BACKENDS)
@pytest.mark.parametrize("op", ["max", "avg", "adaptive"])
def test_pool_on_backend(xp_name, xp, op):
    rng = np.random.default_rng(5)
    x = rng.permutation(2 * 3 * 9 * 9).reshape(2, 3, 9, 9).astype(np.float32)
    fn = {"max": lambda t: F.max_pool2d(t, 3, 2, padding=1, ceil_mode=True),
          "avg": lambda t: F.avg_pool2d(t, 3, 2, padding=1, ceil_mode=True),
          "adaptive": lambda t: F.adaptive_avg_pool2d(t, (4, 5))}[op]
    on_host = Tensor(x, requires_grad=True)
    on_xp = Tensor(xp.asarray(x), requires_grad=True)
    out_host, out_xp = fn(on_host), fn(on_xp)
    out_host.sum().backward()
    out_xp.sum().backward()
    assert backend.get_array_module(out_xp.data) is xp
    assert out_xp.dtype == on_xp.grad.dtype == np.float32
    np.testing.assert_allclose(out_xp.numpy(), out_host.data, rtol=1e-6)
    np.testing.assert_allclose(backend.to_host(on_xp.grad), on_host.grad, rtol=1e-6)


# ------------------------------------------------------------------ PyTorch oracle
def _compare_with_torch(torch, ours, theirs, x, tol):
    xt = Tensor(x, requires_grad=True)
    out = ours(xt)
    grad = np.random.default_rng(6).standard_normal(out.shape).astype(x.dtype)
    out.backward(grad)
    tx = torch.tensor(x, requires_grad=True)
    t_out = theirs(tx)
    t_out.backward(torch.tensor(grad))
    assert out.shape == tuple(t_out.shape)
    assert out.dtype == xt.grad.dtype == x.dtype
    assert relative_max_error(out.data, t_out.detach().numpy()) < tol
    assert relative_max_error(xt.grad, tx.grad.numpy()) < tol


@pytest.mark.torch
@settings(max_examples=25)
@given(data=st.data(), p=pool_params(max_side=12, max_kernel=5))
def test_max_and_avg_pool_match_torch_float64(torch, data, p):
    x = data.draw(distinct_arrays(p.x_shape))
    for ours, theirs in [(F.max_pool2d, torch.nn.functional.max_pool2d),
                         (F.avg_pool2d, torch.nn.functional.avg_pool2d)]:
        _compare_with_torch(torch, lambda t, f=ours: f(t, **_args(p)),
                            lambda t, f=theirs: f(t, **_args(p)), x, 1e-10)


@pytest.mark.torch
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("shape, args", [
    ((2, 96, 55, 55), dict(kernel_size=3, stride=2)),                   # AlexNet pool1
    ((2, 256, 13, 13), dict(kernel_size=3, stride=2)),                  # AlexNet pool5
    ((2, 8, 54, 54), dict(kernel_size=3, stride=2, ceil_mode=True)),    # 224-input variant
    ((2, 8, 11, 10), dict(kernel_size=(3, 2), stride=(2, 3), padding=1, ceil_mode=True)),
    ((2, 8, 12, 12), dict(kernel_size=2)),                              # keras-bn 2x2/2
])
def test_pools_alexnet_shapes_match_torch(torch, shape, args, dtype, tol):
    x = np.random.default_rng(7).standard_normal(shape).astype(dtype)
    for ours, theirs in [(F.max_pool2d, torch.nn.functional.max_pool2d),
                         (F.avg_pool2d, torch.nn.functional.avg_pool2d)]:
        _compare_with_torch(torch, lambda t, f=ours: f(t, **args),
                            lambda t, f=theirs: f(t, **args), x, tol)


@pytest.mark.torch
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("shape, size", [
    ((2, 16, 6, 6), (6, 6)), ((2, 16, 12, 12), (6, 6)), ((2, 16, 13, 13), (6, 6)),
    ((2, 4, 7, 10), (3, 4)), ((2, 4, 5, 9), (None, 4)),
])
def test_adaptive_avg_pool_matches_torch(torch, shape, size, dtype, tol):
    x = np.random.default_rng(8).standard_normal(shape).astype(dtype)
    _compare_with_torch(torch, lambda t: F.adaptive_avg_pool2d(t, size),
                        lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size), x, tol)


@pytest.mark.torch
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("shape, args", [
    ((2, 3, 2, 2), dict(kernel_size=3, stride=2, ceil_mode=True)),   # keras-bn pool5, 3x3/2
    ((2, 2, 2, 3), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((1, 2, 3, 3), dict(kernel_size=5, stride=3, padding=1, ceil_mode=True)),
    ((1, 2, 2, 5), dict(kernel_size=(4, 3), stride=(3, 2), padding=(1, 0), ceil_mode=True)),
    ((1, 1, 1, 1), dict(kernel_size=3, stride=1, padding=1, ceil_mode=True)),
])
def test_pools_clip_windows_larger_than_the_input_like_torch(torch, shape, args, dtype, tol):
    """ceil_mode: a window that starts inside the input but is larger than the padded input
    is clipped to it (PyTorch accepts this; only an empty output is an error)."""
    x = np.random.default_rng(9).standard_normal(shape).astype(dtype)
    for ours, theirs in [(F.max_pool2d, torch.nn.functional.max_pool2d),
                         (F.avg_pool2d, torch.nn.functional.avg_pool2d)]:
        _compare_with_torch(torch, lambda t, f=ours: f(t, **args),
                            lambda t, f=theirs: f(t, **args), x, tol)


def test_max_pool_clipped_window_by_hand():
    """3x3/2 ceil_mode on a 2x2 map: one window, the maximum of all four values, and the
    gradient goes to that one pixel; avg divides by the 4 pixels inside (nothing padded)."""
    x = Tensor(np.array([[[[1.0, 4.0], [3.0, 2.0]]]]), requires_grad=True)
    out = F.max_pool2d(x, 3, 2, ceil_mode=True)
    assert out.shape == (1, 1, 1, 1) and out.data.item() == 4.0
    out.backward(np.full((1, 1, 1, 1), 5.0))
    np.testing.assert_array_equal(x.grad[0, 0], [[0.0, 5.0], [0.0, 0.0]])
    assert F.avg_pool2d(x, 3, 2, ceil_mode=True).data.item() == 2.5


def test_keras_bn_with_3x3_ceil_pools_traces_to_the_printed_shapes():
    """Dutta's printed sizes (54, 27, 17, 8, 6, 4, 2, 1) from 3x3/2 pools with ceil_mode."""
    from minialex.models import alexnet

    model = alexnet("keras-bn", pool="3x3/2", ceil_mode=True)
    trace = minialex.trace(model, (3, 224, 224), print=False)
    sides = [r.output_shape[1] for r in trace if r.name.startswith(("conv", "pool"))]
    assert sides == [54, 27, 17, 8, 6, 4, 2, 1]


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("op", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize("shape, args, fragments", [
    ((8, 8), dict(kernel_size=2), ["4-D", "(8, 8)"]),
    ((1, 3, 2, 2), dict(kernel_size=3), ["kernel (3, 3)", "larger than the padded input (2, 2)",
                                         "(1, 3, 2, 2)"]),
    ((1, 3, 8, 8), dict(kernel_size=3, padding=2),
     ["padding must be between 0 and half the kernel size (1, 1)", "got (2, 2)"]),
    ((1, 3, 8, 8), dict(kernel_size=3, stride=0), ["stride must be >= 1", "(0, 0)"]),
    ((1, 3, 8, 8), dict(kernel_size=0), ["kernel_size must be >= 1"]),
])
def test_pool_bad_input_messages(op, shape, args, fragments):
    with pytest.raises(ValueError) as info:
        op(Tensor(np.zeros(shape)), **args)
    assert str(info.value).startswith(op.__name__)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_adaptive_pool_bad_input_messages():
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output size must be at least "
                                         r"\(1, 1\), got \(0, 6\)"):
        F.adaptive_avg_pool2d(Tensor(np.zeros((1, 2, 6, 6))), (0, 6))
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected a 4-D input"):
        F.adaptive_avg_pool2d(Tensor(np.zeros((2, 6, 6))), 3)
    with pytest.raises(TypeError, match="max_pool2d: expected a floating-point input"):
        F.max_pool2d(Tensor(np.zeros((1, 1, 4, 4), dtype=np.int32)), 2)


# ------------------------------------------------------------------ modules
def test_pool_modules_attributes_repr_and_forward():
    pool = nn.MaxPool2d(3, 2)
    assert pool.kernel_size == (3, 3) and pool.stride == (2, 2) and pool.padding == (0, 0)
    assert pool.ceil_mode is False
    assert repr(pool) == "MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=False)"
    assert nn.MaxPool2d(2).stride == (2, 2)  # stride defaults to the kernel
    avg = nn.AvgPool2d((3, 2), padding=1, ceil_mode=True)
    assert avg.stride == (3, 2)
    assert repr(avg) == "AvgPool2d(kernel_size=(3, 2), stride=(3, 2), padding=1, ceil_mode=True)"
    adaptive = nn.AdaptiveAvgPool2d((6, 6))
    assert repr(adaptive) == "AdaptiveAvgPool2d(output_size=(6, 6))"
    x = Tensor(np.random.default_rng(9).standard_normal((2, 4, 13, 13)).astype(np.float32))
    np.testing.assert_array_equal(pool(x).data, F.max_pool2d(x, 3, 2).data)
    np.testing.assert_array_equal(avg(x).data, F.avg_pool2d(x, (3, 2), None, 1, True).data)
    assert adaptive(x).shape == (2, 4, 6, 6)
    assert list(pool.parameters()) == []


@pytest.mark.torch
def test_pool_module_repr_matches_torch(torch):
    assert repr(nn.AdaptiveAvgPool2d((6, 6))) == repr(torch.nn.AdaptiveAvgPool2d((6, 6)))
    ours = repr(nn.MaxPool2d(3, 2))
    theirs = repr(torch.nn.MaxPool2d(3, 2)).replace(", dilation=1", "")  # no dilation here
    assert ours == theirs
