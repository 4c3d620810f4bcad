"""Properties of the convolution exercises: conv_forward, im2col, conv_backward.

Oracles: ``minialex.functional.conv2d`` and ``im2col``/``col2im`` from
``minialex.functional.conv`` (reordered to the exercises' column order, (n, oh, ow)), and
central differences of ``conv2d`` for the backward pass. Convolution is linear in x, w and b,
so a central difference has no truncation error and a large step (1e-3) keeps rounding small.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from hypothesis import strategies as st

import minialex.functional as F
from minialex.exercises.helpers import (
    central_differences,
    compare,
    random_arrays,
    returned_array,
    returned_tuple,
    worst,
)
from minialex.exercises.runner import Property
from minialex.functional.conv import col2im, im2col
from minialex.tensor import Tensor, no_grad
from minialex.testing import conv_params

__all__ = ["ConvCase", "PROPERTIES"]


class ConvCase(NamedTuple):
    """One convolution: x (N, C, H, W), w (F, C, KH, KW), int stride and padding, and the seed
    the arrays are drawn from."""

    n: int
    c: int
    h: int
    w: int
    f: int
    kh: int
    kw: int
    stride: int
    padding: int
    seed: int = 0

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h, self.w)

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.f, self.c, self.kh, self.kw)

    @property
    def oh(self) -> int:
        return (self.h + 2 * self.padding - self.kh) // self.stride + 1

    @property
    def ow(self) -> int:
        return (self.w + 2 * self.padding - self.kw) // self.stride + 1

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.f, self.oh, self.ow)

    @property
    def cols_shape(self) -> tuple[int, int]:
        return (self.c * self.kh * self.kw, self.n * self.oh * self.ow)

    def arrays(self) -> tuple[Any, Any, Any]:
        """x, w, b drawn from the case's seed."""
        x, w, b = random_arrays(self.seed, self.x_shape, self.w_shape, (self.f,))
        return x, w, b

    def __str__(self) -> str:
        return (f"x {self.x_shape}, w {self.w_shape}, stride={self.stride}, "
                f"padding={self.padding} (output {self.oh}x{self.ow}), seed={self.seed}")


def conv_cases(max_side: int = 8, max_channels: int = 4, max_kernel: int = 5) -> Any:
    """minialex.testing's conv hyper-parameters with one stride and one padding for both axes
    (the exercises take ints), no groups, and a seed."""
    def to_case(drawn: tuple[Any, int]) -> ConvCase:
        p, seed = drawn
        stride, padding = p.stride[0], p.padding[0]
        width = max(p.w, p.kw - 2 * padding)  # the padded width must hold one kernel
        return ConvCase(p.n, p.c_in, p.h, width, p.c_out, p.kh, p.kw, stride, padding, seed)
    params = conv_params(max_side=max_side, max_channels=max_channels, max_kernel=max_kernel,
                         max_groups=1)
    return st.tuples(params, st.integers(0, 999)).map(to_case)


# Explicit cases, tried before and after the drawn ones: AlexNet's conv1 geometry (11x11,
# stride 4) on a small crop, "same" padding, and a stride that does not divide evenly.
EXAMPLES = (
    ConvCase(1, 3, 35, 35, 2, 11, 11, 4, 0, seed=1),
    ConvCase(2, 3, 7, 7, 4, 3, 3, 1, 1, seed=2),
    ConvCase(1, 2, 6, 6, 3, 3, 3, 2, 1, seed=3),
    ConvCase(2, 2, 5, 7, 2, 3, 2, 3, 2, seed=4),
)


def _reference(case: ConvCase, x: Any, w: Any, b: Any) -> Any:
    with no_grad():
        return F.conv2d(Tensor(x), Tensor(w), Tensor(b), case.stride, case.padding).data


def _library_cols(case: ConvCase, x: Any) -> Any:
    """minialex's im2col, columns reordered from (oh, ow, n) to the exercises' (n, oh, ow)."""
    cols = im2col(x, (case.kh, case.kw), case.stride, case.padding)
    k = case.c * case.kh * case.kw
    return cols.reshape(k, case.oh, case.ow, case.n).transpose(0, 3, 1, 2).reshape(k, -1)


def _to_library_order(case: ConvCase, cols: Any) -> Any:
    k = case.c * case.kh * case.kw
    return cols.reshape(k, case.n, case.oh, case.ow).transpose(0, 2, 3, 1).reshape(k, -1)


# ---------------------------------------------------------------- conv_forward
def forward_shape(fns: Any, case: ConvCase) -> None:
    x, w, b = case.arrays()
    returned_array(fns.conv2d_forward(x, w, b, case.stride, case.padding), "conv2d_forward",
                   case.out_shape)
    return None


def forward_matches(fns: Any, case: ConvCase) -> float:
    x, w, b = case.arrays()
    out = returned_array(fns.conv2d_forward(x, w, b, case.stride, case.padding),
                         "conv2d_forward", case.out_shape)
    return compare(out, _reference(case, x, w, b))


# ---------------------------------------------------------------- im2col
def im2col_shape(fns: Any, case: ConvCase) -> None:
    x, _, _ = case.arrays()
    returned_array(fns.im2col(x, case.kh, case.kw, case.stride, case.padding), "im2col",
                   case.cols_shape)
    return None


def im2col_matches(fns: Any, case: ConvCase) -> float:
    x, _, _ = case.arrays()
    cols = returned_array(fns.im2col(x, case.kh, case.kw, case.stride, case.padding), "im2col",
                          case.cols_shape)
    return compare(cols, _library_cols(case, x))


def im2col_conv_matches(fns: Any, case: ConvCase) -> float:
    x, w, b = case.arrays()
    out = returned_array(fns.conv2d_im2col(x, w, b, case.stride, case.padding),
                         "conv2d_im2col", case.out_shape)
    return compare(out, _reference(case, x, w, b))


# ---------------------------------------------------------------- conv_backward
def _learner_col2im(fns: Any, case: ConvCase, cols: Any) -> Any:
    return returned_array(fns.col2im(cols, case.x_shape, case.kh, case.kw, case.stride,
                                     case.padding), "col2im", case.x_shape)


def col2im_adjoint(fns: Any, case: ConvCase) -> float:
    # <im2col(x), c> = <x, col2im(c)> for every x and c: col2im must ADD each column entry
    # onto its pixel (a pixel sits in several overlapping patches).
    x, _, _ = case.arrays()
    (c,) = random_arrays(case.seed + 1, case.cols_shape)
    lhs = float((_library_cols(case, x) * c).sum())
    rhs = float((x * _learner_col2im(fns, case, c)).sum())
    return compare(rhs, lhs)


def col2im_matches(fns: Any, case: ConvCase) -> float:
    (c,) = random_arrays(case.seed + 1, case.cols_shape)
    expected = col2im(_to_library_order(case, c), case.x_shape, (case.kh, case.kw),
                      case.stride, case.padding)
    return compare(_learner_col2im(fns, case, c), expected)


def backward_matches_differences(fns: Any, case: ConvCase) -> float:
    x, w, b = case.arrays()
    (dout,) = random_arrays(case.seed + 1, case.out_shape)
    cols = _library_cols(case, x)
    grads = returned_tuple(fns.conv2d_backward(dout, cols, case.x_shape, w, case.stride,
                                               case.padding), "conv2d_backward",
                           ("dx", "dw", "db"))
    dx = returned_array(grads[0], "conv2d_backward's dx", case.x_shape)
    dw = returned_array(grads[1], "conv2d_backward's dw", case.w_shape)
    db = returned_array(grads[2], "conv2d_backward's db", (case.f,))

    def loss() -> float:  # L = sum(conv2d(x, w, b) * dout), so dL/d(out) = dout
        return float((_reference(case, x, w, b) * dout).sum())
    nx, nw, nb = central_differences(loss, x, w, b, eps=1e-3)
    return worst(GRADIENT_TOLERANCE, dx=compare(dx, nx), dw=compare(dw, nw),
                 db=compare(db, nb))


GRADIENT_TOLERANCE = 1e-6
SMALL = conv_cases(max_side=6, max_channels=3, max_kernel=4)  # element-by-element differences

PROPERTIES: dict[str, tuple[Property, ...]] = {
    "conv_forward": (
        Property("returns (N, F, OH, OW) with OH = (H + 2*padding - KH) // stride + 1",
                 forward_shape, EXAMPLES, conv_cases()),
        Property("matches minialex.functional.conv2d", forward_matches, EXAMPLES,
                 conv_cases()),
    ),
    "im2col": (
        Property("im2col returns (C*KH*KW, N*OH*OW)", im2col_shape, EXAMPLES, conv_cases()),
        Property("im2col matches minialex's im2col (rows c, p, q; columns n, i, j)",
                 im2col_matches, EXAMPLES, conv_cases(), tolerance=1e-12),
        Property("conv2d_im2col matches minialex.functional.conv2d", im2col_conv_matches,
                 EXAMPLES, conv_cases()),
    ),
    "conv_backward": (
        Property("col2im is the adjoint of im2col: sum(im2col(x) * c) = sum(x * col2im(c))",
                 col2im_adjoint, EXAMPLES, conv_cases(), tolerance=1e-10),
        Property("col2im matches minialex's col2im (overlapping patches add up)",
                 col2im_matches, EXAMPLES, conv_cases(), tolerance=1e-10),
        Property("conv2d_backward's dx, dw, db match central differences of conv2d",
                 backward_matches_differences, EXAMPLES[1:],
                 SMALL, tolerance=GRADIENT_TOLERANCE, max_examples=10),
    ),
}
