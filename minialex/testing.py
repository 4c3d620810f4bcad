"""Hypothesis strategies for property-testing layers: the ones minialex's own tests use.

A layer you wrote can be checked against central differences on many random shapes in a
few lines (see ``examples/gradcheck_your_own_layer.py``)::

    from hypothesis import given
    from minialex import Tensor, gradcheck
    from minialex.testing import arrays, shapes

    @given(arrays(shapes(max_dims=3)))
    def test_my_layer(x):
        gradcheck(my_layer, [Tensor(x, requires_grad=True)])

hypothesis is a development dependency (``pip install -e ".[dev]"``) and is imported at the
top of this module, so only tests and examples import ``minialex.testing``; the library
itself never does. Draws are kept small (sides <= 9, channels <= 6) so that element-by-element
gradchecks of everything drawn stay fast.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minialex import backend
from minialex.functional._checks import output_size

__all__ = [
    "MAX_SIDE",
    "MAX_CHANNELS",
    "shapes",
    "broadcastable_shapes",
    "arrays",
    "distinct_arrays",
    "ConvParams",
    "conv_params",
    "PoolParams",
    "pool_params",
]

MAX_SIDE = 9
MAX_CHANNELS = 6

Shape = tuple[int, ...]


def shapes(min_dims: int = 1, max_dims: int = 4, min_side: int = 1,
           max_side: int = MAX_SIDE) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of length ``min_side..max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, max_dims: int = 3,
                         max_side: int = 4) -> st.SearchStrategy[tuple[Shape, ...]]:
    """``num_shapes`` shapes that broadcast together, e.g. ((3, 1, 4), (5, 4))."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, max_dims=max_dims, min_side=1, max_side=max_side,
    ).map(lambda result: result.input_shapes)


def arrays(shape: Shape | st.SearchStrategy[Shape], dtype: Any = backend.np.float64,
           low: float = -2.0, high: float = 2.0) -> st.SearchStrategy[Any]:
    """NumPy arrays of ``shape`` (a tuple or a strategy) with finite elements in [low, high].

    Keep ``low > 0`` for ops defined only on positives (log, fractional powers).
    """
    dtype = backend.np.dtype(dtype)
    width = 8 * dtype.itemsize
    # Bounds rounded to the dtype so hypothesis accepts them for float32 as well.
    lo, hi = float(dtype.type(low)), float(dtype.type(high))
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width)
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def distinct_arrays(draw: Any, shape: Shape | st.SearchStrategy[Shape],
                    dtype: Any = backend.np.float64) -> Any:
    """Arrays whose elements are all different (at least 0.05 apart): no ties for max-pooling.

    A shuffled ``arange`` scaled by a drawn step, so a finite-difference step (1e-6) can never
    change which element is the maximum.
    """
    np = backend.np
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    size = int(np.prod(shape, dtype=np.int64))
    order = draw(st.permutations(range(size)))
    step = draw(st.floats(0.05, 0.5))
    values = (np.asarray(order, dtype=np.float64) - size / 2) * step
    return values.reshape(shape).astype(dtype)


class ConvParams(NamedTuple):
    """One valid conv2d configuration; ``x_shape``, ``w_shape``, ``out_shape`` follow from it."""

    n: int
    c_in: int
    h: int
    w: int
    c_out: int
    kh: int
    kw: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    groups: int

    @property
    def x_shape(self) -> Shape:
        return (self.n, self.c_in, self.h, self.w)

    @property
    def w_shape(self) -> Shape:
        return (self.c_out, self.c_in // self.groups, self.kh, self.kw)

    @property
    def out_shape(self) -> Shape:
        return (self.n, self.c_out,
                output_size(self.h, self.kh, self.stride[0], self.padding[0]),
                output_size(self.w, self.kw, self.stride[1], self.padding[1]))


@st.composite
def conv_params(draw: Any, max_side: int = MAX_SIDE, max_channels: int = MAX_CHANNELS,
                max_kernel: int = 5, max_stride: int = 3, max_padding: int = 2,
                max_groups: int = 3) -> ConvParams:
    """conv2d hyper-parameters with an output of at least 1x1 and groups dividing C_in, C_out."""
    groups = draw(st.integers(1, min(max_groups, max_channels)))
    per_group = max_channels // groups
    c_in = groups * draw(st.integers(1, per_group))
    c_out = groups * draw(st.integers(1, per_group))
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    padding = (draw(st.integers(0, max_padding)), draw(st.integers(0, max_padding)))
    stride = (draw(st.integers(1, max_stride)), draw(st.integers(1, max_stride)))
    # The padded input must hold one kernel: n + 2p >= k, so the output is at least 1.
    h = draw(st.integers(max(1, kh - 2 * padding[0]), max(max_side, kh)))
    w = draw(st.integers(max(1, kw - 2 * padding[1]), max(max_side, kw)))
    n = draw(st.integers(1, 2))
    return ConvParams(n, c_in, h, w, c_out, kh, kw, stride, padding, groups)


class PoolParams(NamedTuple):
    """One valid pooling configuration; ``x_shape`` and ``out_shape`` follow from it."""

    n: int
    c: int
    h: int
    w: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    ceil_mode: bool

    @property
    def x_shape(self) -> Shape:
        return (self.n, self.c, self.h, self.w)

    @property
    def out_shape(self) -> Shape:
        return (self.n, self.c,
                output_size(self.h, self.kernel[0], self.stride[0], self.padding[0],
                            self.ceil_mode),
                output_size(self.w, self.kernel[1], self.stride[1], self.padding[1],
                            self.ceil_mode))


@st.composite
def pool_params(draw: Any, max_side: int = MAX_SIDE, max_channels: int = 3,
                max_kernel: int = 4, max_stride: int = 3) -> PoolParams:
    """Pooling hyper-parameters with padding <= kernel // 2 (PyTorch's rule) and output >= 1.

    Includes AlexNet's overlapping pooling (kernel 3, stride 2) among the draws.
    """
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, max_stride)), draw(st.integers(1, max_stride)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), max(max_side, kernel[0])))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), max(max_side, kernel[1])))
    return PoolParams(draw(st.integers(1, 2)), draw(st.integers(1, max_channels)), h, w,
                      kernel, stride, padding, draw(st.booleans()))
