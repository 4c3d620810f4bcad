"""conv2d, conv2d_reference, im2col/col2im and nn.Conv2d: naive loops, finite differences and
PyTorch as oracles; the fast conv2d held equal to the textbook conv2d_reference."""

from __future__ import annotations

import contextlib
import math
from unittest import mock

import pytest
from helpers import BACKENDS, check_gradients, relative_max_error
from hypothesis import given, settings
from hypothesis import strategies as st

import minialex
import minialex.functional as F
import minialex.functional.conv as conv_module
from minialex import Tensor, backend, nn
from minialex.functional import _parallel, col2im, im2col
from minialex.testing import conv_params

np = backend.np


# ------------------------------------------------------------------ independent references
def conv_forward_naive(x, w, b, stride, padding, groups):
    """CS231n-style loops: every output number is one explicit dot product."""
    n, c_in, h, wd = x.shape
    c_out, c_per_group, kh, kw = w.shape
    sh, sw = stride
    ph, pw = padding
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, c_out, oh, ow), dtype=x.dtype)
    per_group_out = c_out // groups
    for i in range(n):
        for f in range(c_out):
            g = f // per_group_out
            channels = slice(g * c_per_group, (g + 1) * c_per_group)
            for r in range(oh):
                for c in range(ow):
                    patch = xpad[i, channels, r * sh:r * sh + kh, c * sw:c * sw + kw]
                    out[i, f, r, c] = np.sum(patch * w[f]) + (0.0 if b is None else b[f])
    return out


def im2col_naive(x, kh, kw, stride, padding):
    """Columns in minialex's documented order: row (c, i, j), column (oh, ow, n)."""
    n, c, h, w = x.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    cols = np.zeros((c * kh * kw, oh * ow * n))
    for r in range(oh):
        for q in range(ow):
            for i in range(n):
                patch = xpad[i, :, r * stride:r * stride + kh, q * stride:q * stride + kw]
                cols[:, (r * ow + q) * n + i] = patch.reshape(-1)
    return cols


def random_conv(p, rng, dtype=np.float64, bias=True):
    x = rng.standard_normal(p.x_shape).astype(dtype)
    w = rng.standard_normal(p.w_shape).astype(dtype)
    b = rng.standard_normal(p.c_out).astype(dtype) if bias else None
    return x, w, b


CONVS = [F.conv2d, F.conv2d_reference]


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
@settings(max_examples=30)
@given(p=conv_params(), bias=st.booleans())
def test_conv_matches_naive_loops(conv, p, bias):
    rng = np.random.default_rng(1)
    x, w, b = random_conv(p, rng, bias=bias)
    out = conv(Tensor(x), Tensor(w), None if b is None else Tensor(b),
               p.stride, p.padding, p.groups)
    expected = conv_forward_naive(x, w, b, p.stride, p.padding, p.groups)
    assert out.shape == p.out_shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("xp_name", BACKENDS)
def test_conv_on_backend_matches_naive(xp_name, xp, conv):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 5))
    b = rng.standard_normal(6)
    tensors = [Tensor(xp.asarray(a), requires_grad=True) for a in (x, w, b)]
    out = conv(*tensors, stride=(2, 1), padding=(1, 2), groups=2)
    assert backend.get_array_module(out.data) is xp
    expected = conv_forward_naive(x, w, b, (2, 1), (1, 2), 2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    assert all(backend.get_array_module(t.grad) is xp for t in tensors)


def test_conv_hand_computed_example():
    """A 3x3 input of 1..9, 2x2 kernel of ones: each output is the sum of a 2x2 block."""
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    out = F.conv2d(Tensor(x), Tensor(np.ones((1, 1, 2, 2))), Tensor(np.array([0.5])))
    np.testing.assert_array_equal(out.data[0, 0], [[12.5, 16.5], [24.5, 28.5]])
    # stride 2 with padding 1: the corners of the zero-padded 5x5 input
    out = F.conv2d(Tensor(x), Tensor(np.ones((1, 1, 2, 2))), stride=2, padding=1)
    np.testing.assert_array_equal(out.data[0, 0], [[1, 5], [11, 28]])


def test_groups_keep_towers_apart():
    """groups=2: output channels of tower 0 must not see input channels of tower 1."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4, 5, 5))
    w = rng.standard_normal((6, 2, 3, 3))
    base = F.conv2d(Tensor(x), Tensor(w), groups=2).data
    x2 = x.copy()
    x2[:, 2:] += 10.0  # change only tower 1's input
    moved = F.conv2d(Tensor(x2), Tensor(w), groups=2).data
    np.testing.assert_array_equal(moved[:, :3], base[:, :3])
    assert np.all(np.abs(moved[:, 3:] - base[:, 3:]) > 0)


def test_im2col_layout_and_adjoint():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 6))
    cols = im2col(x, (3, 2), 2, 1)
    np.testing.assert_array_equal(cols, im2col_naive(x, 3, 2, 2, 1))
    np.testing.assert_array_equal(im2col(x, 3, 1, 0), im2col_naive(x, 3, 3, 1, 0))
    # col2im is the adjoint (transpose) of im2col: <im2col(x), C> = <x, col2im(C)>
    c = rng.standard_normal(cols.shape)
    lhs = float(np.sum(cols * c))
    rhs = float(np.sum(x * col2im(c, x.shape, (3, 2), 2, 1)))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))


def test_col2im_counts_patch_membership():
    """col2im of all-ones counts how many patches hold each pixel (hand count: 3x3, s=1)."""
    counts = col2im(np.ones((9, 9)), (1, 1, 5, 5), 3, 1, 0)[0, 0]
    np.testing.assert_array_equal(counts[0], [1, 2, 3, 2, 1])
    np.testing.assert_array_equal(counts[2], [3, 6, 9, 6, 3])


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
@settings(max_examples=20)
@given(p=conv_params(max_side=7, max_channels=4, max_kernel=4))
def test_conv_gradcheck(conv, p):
    rng = np.random.default_rng(5)
    x, w, b = random_conv(p, rng)
    tensors = [Tensor(x, requires_grad=True), Tensor(w, requires_grad=True),
               Tensor(b, requires_grad=True)]
    check_gradients(lambda a, k, c: conv(a, k, c, p.stride, p.padding, p.groups), tensors)


def _dyadic(rng, shape):
    """Multiples of 1/8 in [-2, 2]: every product and sum of a small conv is exact in float64,
    so a different summation order cannot show up as rounding at a near-zero output (where
    the element-wise rel_error is ill-conditioned), and any indexing slip changes a value by
    at least 1/64."""
    return rng.integers(-16, 17, size=shape) / 8.0


def _forward_backward(conv, x, w, b, grad, p):
    tensors = [Tensor(a.copy(), requires_grad=True) for a in (x, w, b) if a is not None]
    out = conv(*tensors[:2], tensors[2] if b is not None else None, p.stride, p.padding,
               p.groups)
    out.backward(grad)
    return [out.data] + [t.grad for t in tensors]


@settings(max_examples=40, deadline=None)
@given(p=conv_params(max_side=11, max_kernel=5, max_stride=4), bias=st.booleans(),
       one_row_blocks=st.booleans(), seed=st.integers(0, 2**16))
def test_fast_conv_equals_reference(p, bias, one_row_blocks, seed):
    """conv2d == conv2d_reference: output and the three gradients, float64, rel_error <= 1e-10.
    ``one_row_blocks`` makes the fast path build its columns one output row per block, so
    every block boundary of forward and backward is crossed."""
    _assert_fast_equals_reference(p, bias, one_row_blocks, seed, contextlib.nullcontext())


def _assert_fast_equals_reference(p, bias, one_row_blocks, seed, threads) -> None:
    rng = np.random.default_rng(seed)
    x, w = _dyadic(rng, p.x_shape), _dyadic(rng, p.w_shape)
    b = _dyadic(rng, p.c_out) if bias else None
    grad = _dyadic(rng, p.out_shape)
    reference = _forward_backward(F.conv2d_reference, x, w, b, grad, p)
    blocks = dict(_BLOCK_BYTES=1, _MIN_BLOCK_COLUMNS=1) if one_row_blocks else {}
    with threads, \
            mock.patch.multiple(conv_module, **blocks) if blocks else contextlib.nullcontext():
        fast = _forward_backward(F.conv2d, x, w, b, grad, p)
    for name, ours, expected in zip(("out", "dx", "dw", "db"), fast, reference, strict=False):
        assert ours.shape == expected.shape and ours.dtype == expected.dtype, name
        assert minialex.rel_error(ours, expected) <= 1e-10, name


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=20, deadline=None)
@given(p=conv_params(max_side=11, max_kernel=5, max_stride=4), bias=st.booleans(),
       one_row_blocks=st.booleans(), seed=st.integers(0, 2**16))
def test_fast_conv_equals_reference_with_copy_threads(threads, p, bias, one_row_blocks, seed):
    """The same property with the copies forced onto 1 and onto 2 threads, every array split
    however small (the pieces of im2col, col2im and the transposes meet at every boundary)."""
    _assert_fast_equals_reference(p, bias, one_row_blocks, seed,
                                  _parallel.threads(threads, min_bytes=0))


@pytest.mark.parametrize("case", [
    ((4, 3, 35, 35), (8, 3, 11, 11), 4, 0, 1),   # conv1-like: 3 channels, split by kernel rows
    ((3, 8, 13, 13), (12, 4, 3, 3), 1, 1, 2),    # two towers
    ((2, 6, 9, 10), (4, 6, 5, 3), (2, 1), (2, 1), 1),
])
def test_conv_bit_for_bit_the_same_for_every_copy_thread_count(case):
    """float32 on standard-normal data, where any change of summation order would show: the
    output and all gradients are identical with 1, 2 and 3 copy threads and between runs."""
    x_shape, w_shape, stride, padding, groups = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    p = type("P", (), dict(stride=stride, padding=padding, groups=groups))
    grad = None
    runs = []
    for threads in (1, 2, 3, 2):
        with _parallel.threads(threads, min_bytes=0):
            if grad is None:
                shape = F.conv2d(Tensor(x), Tensor(w), stride=stride, padding=padding,
                                 groups=groups).shape
                grad = rng.standard_normal(shape).astype(np.float32)
            runs.append(_forward_backward(F.conv2d, x, w, b, grad, p))
    for run in runs[1:]:
        for name, a, c in zip(("out", "dx", "dw", "db"), runs[0], run, strict=True):
            assert np.array_equal(a, c), name


def test_fast_conv_equals_reference_on_alexnet_conv2_towers():
    """The paper's conv2 shape (groups=2, 5x5, padding 2) on standard-normal values."""
    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 96, 27, 27))
    w = rng.standard_normal((256, 48, 5, 5)) * 0.05
    b = rng.standard_normal(256)
    grad = rng.standard_normal((2, 256, 27, 27))
    results = []
    for conv in CONVS:
        ts = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        out = conv(*ts, stride=1, padding=2, groups=2)
        out.backward(grad)
        results.append([out.data] + [t.grad for t in ts])
    for name, ours, expected in zip(("out", "dx", "dw", "db"), *results, strict=True):
        assert minialex.rel_error(ours, expected) <= 1e-10, name


def test_public_gradcheck_on_conv():
    rng = np.random.default_rng(6)
    x = Tensor(rng.standard_normal((2, 4, 6, 5)), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 2, 3, 2)), requires_grad=True)
    assert minialex.gradcheck(lambda a, k: F.conv2d(a, k, stride=(1, 2), padding=1, groups=2),
                              [x, w])


def test_first_layer_skips_input_gradient(monkeypatch):
    """Images need no gradient: backward must not run col2im (the costly dx) for them."""
    def forbidden(*args, **kwargs):
        raise AssertionError("col2im called although the input needs no gradient")

    monkeypatch.setattr(conv_module, "_col2im_add", forbidden)
    rng = np.random.default_rng(7)
    x = Tensor(rng.standard_normal((1, 3, 8, 8)).astype(np.float32))
    w = Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    F.conv2d(x, w, stride=2).sum().backward()
    assert x.grad is None and w.grad is not None


def test_float32_stays_float32():
    rng = np.random.default_rng(8)
    x = Tensor(rng.standard_normal((2, 4, 7, 7)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((6, 2, 3, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal(6).astype(np.float32), requires_grad=True)
    out = F.conv2d(x, w, b, stride=2, padding=1, groups=2)
    out.sum().backward()
    assert out.dtype == np.float32
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_weight_used_twice_accumulates():
    rng = np.random.default_rng(9)
    x = Tensor(rng.standard_normal((1, 2, 5, 5)))
    w = Tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    (F.conv2d(x, w).sum() + F.conv2d(x, w).sum()).backward()
    twice = w.grad.copy()
    w.grad = None
    F.conv2d(x, w).sum().backward()
    np.testing.assert_allclose(twice, 2 * w.grad, rtol=1e-14)


# ------------------------------------------------------------------ PyTorch oracle
def _torch_conv(torch, x, w, b, stride, padding, groups, grad):
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    out = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, 1, groups)
    out.backward(torch.tensor(grad))
    return out.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), \
        None if tb is None else tb.grad.numpy()


def _compare_with_torch(torch, x, w, b, stride, padding, groups, tol):
    rng = np.random.default_rng(10)
    tx, tw = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    tb = None if b is None else Tensor(b, requires_grad=True)
    out = F.conv2d(tx, tw, tb, stride, padding, groups)
    grad = rng.standard_normal(out.shape).astype(x.dtype)
    out.backward(grad)
    expected = _torch_conv(torch, x, w, b, stride, padding, groups, grad)
    ours = (out.data, tx.grad, tw.grad, None if tb is None else tb.grad)
    for name, a, e in zip(("out", "dx", "dw", "db"), ours, expected, strict=True):
        if e is None:
            continue
        assert a.dtype == x.dtype, name
        assert relative_max_error(a, e) < tol, f"{name}: {relative_max_error(a, e):.2e}"


@pytest.mark.torch
@settings(max_examples=25)
@given(p=conv_params(max_side=11, max_channels=6, max_kernel=5, max_stride=4))
def test_conv_matches_torch_float64(torch, p):
    x, w, b = random_conv(p, np.random.default_rng(11))
    _compare_with_torch(torch, x, w, b, p.stride, p.padding, p.groups, 1e-10)


@pytest.mark.torch
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("case", [
    # name: (N, C_in, H, W, C_out, kernel, stride, padding, groups)
    ("alexnet_conv1", (2, 3, 227, 227, 96, 11, 4, 0, 1)),
    ("alexnet_conv2_towers", (2, 96, 27, 27, 256, 5, 1, 2, 2)),
    ("alexnet_conv4_towers", (2, 384, 13, 13, 384, 3, 1, 1, 2)),
    ("torchvision_conv1", (2, 3, 64, 64, 64, 11, 4, 2, 1)),
    ("rect_stride4_groups2", (3, 4, 17, 14, 6, (5, 3), (4, 2), (2, 1), 2)),
], ids=lambda v: v[0] if isinstance(v, tuple) and isinstance(v[0], str) else None)
def test_conv_alexnet_shapes_match_torch(torch, case, dtype, tol):
    _, (n, c_in, h, w, c_out, k, s, pad, groups) = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(12)
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    wt = (rng.standard_normal((c_out, c_in // groups, kh, kw)) * 0.05).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    _compare_with_torch(torch, x, wt, b, s, pad, groups, tol)


@pytest.mark.torch
@settings(max_examples=15)
@given(p=conv_params(max_side=11, max_channels=6, max_kernel=5, max_stride=4))
def test_conv_in_one_row_blocks_matches_torch(torch, p):
    """conv2d builds im2col columns a block of output rows at a time (and rebuilds them in
    backward); with one row per block every block boundary is exercised."""
    with pytest.MonkeyPatch.context() as patch:  # per example, not a function-scoped fixture
        patch.setattr(conv_module, "_BLOCK_BYTES", 1)
        patch.setattr(conv_module, "_MIN_BLOCK_COLUMNS", 1)
        x, w, b = random_conv(p, np.random.default_rng(13))
        _compare_with_torch(torch, x, w, b, p.stride, p.padding, p.groups, 1e-10)


@pytest.mark.torch
def test_conv_blocks_weight_gradient_only(torch, monkeypatch):
    """Several row blocks with an input that needs no gradient (the first layer)."""
    monkeypatch.setattr(conv_module, "_BLOCK_BYTES", 1)
    monkeypatch.setattr(conv_module, "_MIN_BLOCK_COLUMNS", 5)
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 23, 19))
    w = rng.standard_normal((4, 3, 5, 3))
    grad = rng.standard_normal((2, 4, 7, 10))
    tw = Tensor(w, requires_grad=True)
    F.conv2d(Tensor(x), tw, stride=(3, 2), padding=(1, 1)).backward(grad)
    expected = _torch_conv(torch, x, w, None, (3, 2), (1, 1), 1, grad)[2]
    assert relative_max_error(tw.grad, expected) < 1e-10


# ------------------------------------------------------------------ bad input
def _conv_call(x_shape, w_shape, b_shape=None, dtype=np.float64, conv=F.conv2d, **kwargs):
    x = Tensor(np.zeros(x_shape, dtype=dtype))
    w = Tensor(np.zeros(w_shape))
    b = None if b_shape is None else Tensor(np.zeros(b_shape))
    return conv(x, w, b, **kwargs)


@pytest.mark.parametrize("x_shape, w_shape, kwargs, error, fragments", [
    ((3, 32, 32), (8, 3, 3, 3), {}, ValueError, ["conv2d", "4-D", "(3, 32, 32)"]),
    ((1, 3, 8, 8), (8, 3, 3), {}, ValueError, ["conv2d", "weight", "(8, 3, 3)"]),
    ((1, 1, 32, 32), (96, 3, 11, 11), {}, ValueError,
     ["conv2d: expected input with C_in=3 channels", "(96, 3, 11, 11)", "(1, 1, 32, 32)"]),
    ((1, 96, 27, 27), (256, 48, 5, 5), {"padding": 2}, ValueError,
     ["C_in=48", "groups=1", "(1, 96, 27, 27)"]),
    ((1, 6, 8, 8), (4, 2, 3, 3), {"groups": 4}, ValueError,
     ["conv2d", "groups=4", "C_in=6", "C_out=4"]),
    ((1, 6, 8, 8), (5, 3, 3, 3), {"groups": 2}, ValueError, ["groups=2", "C_out=5"]),
    ((1, 3, 5, 5), (4, 3, 11, 11), {}, ValueError,
     ["conv2d", "kernel (11, 11)", "larger than the padded input (5, 5)", "(1, 3, 5, 5)"]),
    ((1, 3, 5, 5), (4, 3, 11, 11), {"padding": 2}, ValueError,
     ["padded input (9, 9)", "padding (2, 2)"]),
    ((1, 3, 8, 8), (4, 3, 3, 3), {"stride": 0}, ValueError, ["conv2d", "stride", "(0, 0)"]),
    ((1, 3, 8, 8), (4, 3, 3, 3), {"padding": -1}, ValueError, ["conv2d", "padding"]),
    ((1, 3, 8, 8), (4, 3, 3, 3), {"groups": 0}, ValueError, ["conv2d", "groups", "0"]),
])
@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_conv_bad_input_messages(conv, x_shape, w_shape, kwargs, error, fragments):
    with pytest.raises(error) as info:
        _conv_call(x_shape, w_shape, conv=conv, **kwargs)
    assert str(info.value).startswith(f"{conv.__name__}: ")
    for fragment in fragments:
        assert fragment.replace("conv2d", conv.__name__) in str(info.value)


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_conv_bias_shape_message(conv):
    with pytest.raises(ValueError, match=rf"^{conv.__name__}: expected bias of shape \(4,\).*got"):
        _conv_call((1, 3, 8, 8), (4, 3, 3, 3), b_shape=(3,), conv=conv)


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_conv_mixed_dtypes_message(conv):
    with pytest.raises(TypeError) as info:
        _conv_call((1, 3, 8, 8), (4, 3, 3, 3), dtype=np.float32, conv=conv)
    assert str(info.value).startswith(conv.__name__) and "float32" in str(info.value) \
        and "float64" in str(info.value)


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_conv_integer_input_message(conv):
    with pytest.raises(TypeError, match=f"{conv.__name__}: expected a floating-point input"):
        conv(Tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), Tensor(np.zeros((1, 1, 2, 2))))


# ------------------------------------------------------------------ nn.Conv2d
def test_conv2d_module_attributes_and_repr():
    layer = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    assert (layer.in_channels, layer.out_channels, layer.groups) == (96, 256, 2)
    assert layer.kernel_size == (5, 5) and layer.stride == (1, 1) and layer.padding == (2, 2)
    assert layer.weight.shape == (256, 48, 5, 5) and layer.bias.shape == (256,)
    assert layer.weight.dtype == layer.bias.dtype == np.float32
    assert repr(layer) == ("Conv2d(96, 256, kernel_size=(5, 5), stride=(1, 1), "
                           "padding=(2, 2), groups=2)")
    assert repr(nn.Conv2d(3, 96, 11, stride=4, bias=False)) == \
        "Conv2d(3, 96, kernel_size=(11, 11), stride=(4, 4), bias=False)"
    assert nn.Conv2d(3, 8, (3, 5), bias=False).bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


@pytest.mark.torch
def test_conv2d_module_repr_matches_torch(torch):
    for args, kwargs in [((96, 256, 5), {"padding": 2, "groups": 2}),
                         ((3, 64, 11), {"stride": 4, "padding": 2}),
                         ((3, 8, (3, 5)), {"stride": (2, 1), "bias": False})]:
        assert repr(nn.Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))


def test_conv2d_module_default_init_range_and_seed():
    """PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias."""
    backend.manual_seed(123)
    layer = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    bound = 1 / math.sqrt(48 * 5 * 5)
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound
    # a uniform distribution on (-b, b) has std b / sqrt(3)
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(layer.weight.data).max() > 0.99 * bound
    backend.manual_seed(123)
    again = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    np.testing.assert_array_equal(again.weight.data, layer.weight.data)


def test_conv2d_module_forward_backward():
    layer = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    x = Tensor(np.random.default_rng(13).standard_normal((2, 4, 9, 9)).astype(np.float32))
    out = layer(x)
    assert out.shape == (2, 6, 5, 5)
    expected = conv_forward_naive(x.data, layer.weight.data, layer.bias.data, (2, 2), (1, 1), 2)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert layer.weight.grad.shape == layer.weight.shape
    np.testing.assert_allclose(layer.bias.grad, np.full(6, 50.0))  # 2 images x 5x5 outputs


@pytest.mark.parametrize("args, message", [
    ((3, 8, 3), None),
    ((6, 8, 3, 1, 0, 4), "groups=4 must divide"),
    ((0, 8, 3), "in_channels must be a positive int"),
    ((3, 8, 0), r"Conv2d: kernel_size must be >= 1, got \(0, 0\)"),
    ((3, 8, 3, 0), r"Conv2d: stride must be >= 1, got \(0, 0\)"),
    ((3, 8, 3, 1, -1), r"Conv2d: padding must be >= 0, got \(-1, -1\)"),
])
def test_conv2d_module_bad_arguments(args, message):
    if message is None:
        nn.Conv2d(*args)
        return
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(*args)
