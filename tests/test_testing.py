"""The public hypothesis strategies draw what they promise: bounded arrays, no ties, and conv and
pool settings that always have a valid output (checked by counting windows and against torch)."""

from __future__ import annotations

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from minialex import backend
from minialex.testing import (
    MAX_CHANNELS,
    MAX_SIDE,
    arrays,
    broadcastable_shapes,
    conv_params,
    distinct_arrays,
    pool_params,
    shapes,
)

np = backend.np


def windows(n: int, kernel: int, stride: int, padding: int) -> int:
    """Count the window positions that fit in the padded input, one by one."""
    count, start = 0, 0
    while start + kernel <= n + 2 * padding:
        count, start = count + 1, start + stride
    return count


@given(shape=shapes(min_dims=2, max_dims=3, min_side=2, max_side=5))
def test_shapes_respect_bounds(shape):
    assert 2 <= len(shape) <= 3 and all(2 <= s <= 5 for s in shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data(), shape=shapes(max_dims=3))
def test_arrays_shape_dtype_and_bounds(dtype, data, shape):
    x = data.draw(arrays(shape, dtype=dtype, low=0.5, high=2.0))
    assert x.shape == shape and x.dtype == dtype
    assert np.all((x >= 0.5) & (x <= 2.0))


@given(x=arrays(shapes(min_dims=2, max_dims=2), dtype=np.float32, low=-0.1, high=0.1))
def test_arrays_take_a_shape_strategy_and_inexact_bounds(x):
    assert x.dtype == np.float32 and x.ndim == 2 and np.all(np.abs(x) <= np.float32(0.1))


@given(shapes_=broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(shapes_):
    assert len(shapes_) == 3
    np.broadcast_shapes(*shapes_)


@given(x=distinct_arrays(shapes(max_dims=4, max_side=5)))
def test_distinct_arrays_have_no_ties(x):
    flat = np.sort(x.reshape(-1))
    assert x.dtype == np.float64
    assert flat.size < 2 or np.diff(flat).min() >= 0.05 - 1e-12


@given(p=conv_params())
def test_conv_params_are_valid(p):
    assert p.c_in % p.groups == 0 and p.c_out % p.groups == 0
    assert max(p.c_in, p.c_out) <= MAX_CHANNELS and max(p.h, p.w) <= MAX_SIDE
    n, c, oh, ow = p.out_shape
    assert (n, c) == (p.n, p.c_out) and oh >= 1 and ow >= 1
    assert oh == windows(p.h, p.kh, p.stride[0], p.padding[0])
    assert ow == windows(p.w, p.kw, p.stride[1], p.padding[1])
    assert p.w_shape == (p.c_out, p.c_in // p.groups, p.kh, p.kw)


@given(p=pool_params())
def test_pool_params_are_valid(p):
    assert all(pad <= k // 2 for pad, k in zip(p.padding, p.kernel, strict=True))
    _, _, oh, ow = p.out_shape
    assert oh >= 1 and ow >= 1
    if not p.ceil_mode:
        assert oh == windows(p.h, p.kernel[0], p.stride[0], p.padding[0])
        assert ow == windows(p.w, p.kernel[1], p.stride[1], p.padding[1])


@pytest.mark.torch
@given(p=conv_params())
def test_conv_params_output_shape_matches_torch(torch, p):
    out = torch.nn.functional.conv2d(torch.zeros(p.x_shape), torch.zeros(p.w_shape),
                                     stride=p.stride, padding=p.padding, groups=p.groups)
    assert tuple(out.shape) == p.out_shape


@pytest.mark.torch
@given(p=pool_params())
def test_pool_params_output_shape_matches_torch(torch, p):
    out = torch.nn.functional.max_pool2d(torch.zeros(p.x_shape), p.kernel, p.stride, p.padding,
                                         ceil_mode=p.ceil_mode)
    assert tuple(out.shape) == p.out_shape


def test_interesting_cases_are_reachable():
    # Grouped convolutions, strided padded kernels, AlexNet's overlapping 3/2 pooling in ceil
    # mode: the strategies can produce each (a strategy that never did would test nothing).
    search = settings(phases=[Phase.generate], max_examples=2000, database=None)
    assert find(conv_params(), lambda p: p.groups == 3 and p.c_out == 6, settings=search)
    assert find(conv_params(), lambda p: min(p.stride) > 1 and min(p.padding) > 0,
                settings=search)
    assert find(pool_params(), lambda p: p.kernel[0] == 3 and p.stride[0] == 2 and p.ceil_mode,
                settings=search)
