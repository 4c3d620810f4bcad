"""Pooling: max (AlexNet's overlapping 3x3 windows with stride 2), average, adaptive average.

A pooling window at output pixel (oh, ow) covers input rows oh*stride - padding ..
oh*stride - padding + kernel - 1. For a fixed kernel offset (i, j), the input pixels that sit
at that offset in every window form one strided slice of the padded input::

    xpad[:, :, i : i + stride*OH : stride, j : j + stride*OW : stride]     # (N, C, OH, OW)

so a pooling layer is a short Python loop over the KH*KW kernel offsets, each step a
vectorised operation on whole (N, C, OH, OW) arrays: a running maximum, or a running sum.
Backward walks the same offsets and adds each output gradient onto the slice it came from.
This is already the plain method (the one col2im uses), so pooling has no separate reference
version: the tests hold it to loops over every window and to PyTorch.

Max pooling runs that method on a chunk of (image, channel) planes at a time, laid out planes
last, (Hp, Wp, planes): the chunk stays in the CPU cache through all KH*KW passes (the whole
array would stream from memory once per pass), and every pass moves runs of ``planes``
contiguous numbers instead of a strided row of OW (6 for AlexNet's last pool). The chunks are
shared among the cores (``_parallel``). Each plane is pooled on its own, so the numbers do not
depend on the chunk size or the thread count.

Krizhevsky et al. (2012) pool with 3x3 windows and stride 2 ("overlapping pooling"), which
they report lowers top-1 error by 0.4% compared with non-overlapping 2x2/2 windows.
"""

from __future__ import annotations

import math
from typing import Any

from minialex import backend
from minialex.functional import _parallel
from minialex.functional._checks import (
    adaptive_output_size,
    as_tensor,
    check_bool,
    check_finite,
    check_floating,
    check_not_empty,
    check_rank,
    check_window,
    output_size,
)
from minialex.tensor import Tensor

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]

IntPair = int | tuple[int, int]
# Max pooling works on chunks of planes of about this many input bytes (a core's cache).
_CHUNK_BYTES = 1 << 19


class _Geometry:
    """Kernel, stride, padding and output size of one pooling call, validated."""

    def __init__(self, layer: str, x: Tensor, kernel_size: IntPair, stride: IntPair | None,
                 padding: IntPair, ceil_mode: bool) -> None:
        check_rank(layer, x, 4, "(N, C, H, W)")
        check_not_empty(layer, x, "(N, C, H, W)")
        check_floating(layer, x)
        check_finite(layer, x)
        ceil_mode = check_bool(layer, "ceil_mode", ceil_mode)
        (self.kh, self.kw), (self.sh, self.sw), (self.ph, self.pw) = check_window(
            layer, kernel_size, stride, padding, half_kernel_padding=True)
        n, c, self.h, self.w = x.shape
        self.oh = output_size(self.h, self.kh, self.sh, self.ph, ceil_mode)
        self.ow = output_size(self.w, self.kw, self.sw, self.pw, ceil_mode)
        # PyTorch's rule: only an empty output is an error. With ceil_mode a kernel larger
        # than the padded input still gives one window that starts inside it and is clipped
        # (keras-bn with 3x3/2 pools on its last 2x2 map).
        if self.oh < 1 or self.ow < 1:
            hp, wp = self.h + 2 * self.ph, self.w + 2 * self.pw
            raise ValueError(f"{layer}: kernel {(self.kh, self.kw)} is larger than the padded "
                             f"input ({hp}, {wp}) (input shape {x.shape}, padding "
                             f"{(self.ph, self.pw)}, ceil_mode={ceil_mode}): output size "
                             f"{(self.oh, self.ow)} is below 1")
        # ceil_mode lets the last window run past the padded input: pad further there.
        self.pad_bottom = max(self.ph, (self.oh - 1) * self.sh + self.kh - self.h - self.ph)
        self.pad_right = max(self.pw, (self.ow - 1) * self.sw + self.kw - self.w - self.pw)
        self.padded_shape = (n, c, self.ph + self.h + self.pad_bottom,
                             self.pw + self.w + self.pad_right)
        self.out_shape = (n, c, self.oh, self.ow)

    @property
    def needs_padding(self) -> bool:
        return self.padded_shape[2:] != (self.h, self.w)

    def pad(self, data: Any, fill: float) -> Any:
        """The input inside a (N, C, Hp, Wp) array filled with ``fill`` around it."""
        if not self.needs_padding:
            return data
        xp = backend.get_array_module(data)
        out = xp.full(self.padded_shape, fill, dtype=data.dtype)
        out[:, :, self.ph:self.ph + self.h, self.pw:self.pw + self.w] = data
        return out

    def unpad(self, data: Any) -> Any:
        if not self.needs_padding:
            return data
        return data[:, :, self.ph:self.ph + self.h, self.pw:self.pw + self.w].copy()

    def offsets(self) -> list[tuple[int, int, tuple[slice, ...]]]:
        """(i, j, index) for each kernel offset; ``padded[index]`` is a (N, C, OH, OW) view."""
        return [(i, j, (slice(None), slice(None), slice(i, i + self.sh * self.oh, self.sh),
                        slice(j, j + self.sw * self.ow, self.sw)))
                for i in range(self.kh) for j in range(self.kw)]


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, ceil_mode: bool = False) -> Tensor:
    """Maximum over each window. x: (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size``; padding counts as -inf (never the maximum);
    ``ceil_mode`` rounds the output size up as PyTorch does. When several inputs tie for the
    maximum of a window, the first one in row-major window order receives the whole gradient
    (PyTorch's rule), so the gradient of a window always sums to its output gradient.
    """
    x = as_tensor(x, "max_pool2d")
    geo = _Geometry("max_pool2d", x, kernel_size, stride, padding, ceil_mode)
    xp = backend.get_array_module(x.data)
    n, c, h, w = x.shape
    planes = x.data.reshape(n * c, h, w)  # every (image, channel) plane on its own
    out = xp.empty((n * c, geo.oh, geo.ow), dtype=x.dtype)
    # (OH, OW, planes) views of a padded (Hp, Wp, planes) chunk, one per kernel offset
    offsets = [index[2:] for _, _, index in geo.offsets()]

    def planes_last(data: Any) -> Any:
        """An input chunk (P, H, W) -> (Hp, Wp, P), padded with -inf."""
        chunk = xp.empty(geo.padded_shape[2:] + data.shape[:1], dtype=data.dtype)
        if geo.needs_padding:
            chunk.fill(-float("inf"))
        chunk[geo.ph:geo.ph + h, geo.pw:geo.pw + w] = data.transpose(1, 2, 0)
        return chunk

    def pool_planes(start: int, stop: int) -> None:
        for a, b in _chunks(planes, start, stop):
            padded = planes_last(planes[a:b])
            # A running maximum over the kernel offsets: branch-free SIMD passes.
            res = padded[offsets[0]].copy()
            for index in offsets[1:]:
                xp.maximum(res, padded[index], out=res)
            out[a:b] = res.transpose(2, 0, 1)

    _parallel.split(pool_planes, n * c, planes, 2 * planes.nbytes + 2 * out.nbytes)

    def _backward(g: Any) -> None:
        g_planes = g.reshape(n * c, geo.oh, geo.ow)
        dx = xp.empty(planes.shape, dtype=g.dtype)

        def route_planes(start: int, stop: int) -> None:
            # The maximum of a window is where the input equals the output. Walking the
            # offsets in order, each window hands its gradient to the first offset that holds
            # its maximum and keeps nothing for later ties (PyTorch's rule): ``remaining`` is
            # the gradient of the windows not served yet, exactly zero once served.
            for a, b in _chunks(planes, start, stop):
                padded = planes_last(planes[a:b])
                res = out[a:b].transpose(1, 2, 0).copy(order="C")  # (OH, OW, P)
                remaining = g_planes[a:b].transpose(1, 2, 0).copy(order="C")  # ours to change
                dpad = xp.zeros(padded.shape, dtype=g.dtype)
                hit = xp.empty(res.shape, dtype=bool)
                routed = xp.empty_like(res)
                for k, index in enumerate(offsets):
                    xp.equal(padded[index], res, out=hit)
                    xp.multiply(remaining, hit, out=routed)
                    dpad[index] += routed
                    if k + 1 < len(offsets):
                        remaining -= routed
                dx[a:b] = dpad[geo.ph:geo.ph + h, geo.pw:geo.pw + w].transpose(2, 0, 1)

        _parallel.split(route_planes, n * c, planes, 4 * planes.nbytes + 4 * g.nbytes)
        x.accumulate_grad(dx.reshape(x.shape), owned=True)

    return Tensor.from_op(out.reshape(n, c, geo.oh, geo.ow), (x,), _backward, op="max_pool2d")


def _chunks(planes: Any, start: int, stop: int) -> list[tuple[int, int]]:
    """(a, b) ranges covering planes[start:stop], each small enough for a core's cache (one
    range on CuPy, where one kernel launch per step is what matters)."""
    if stop <= start:  # an empty batch: nothing to route
        return []
    per = backend.chunk_length(planes, planes[0].nbytes, budget=_CHUNK_BYTES)
    return [(a, min(a + per, stop)) for a in range(start, stop, per)]


def _avg_divisor(geo: _Geometry, xp: Any, dtype: Any) -> Any:
    """PyTorch's count_include_pad=True divisor: window size, clipped to the padded input.

    Only windows that ceil_mode pushes past the padded input are smaller than KH*KW.
    """
    np = backend.np
    rows = np.minimum(np.arange(geo.oh) * geo.sh - geo.ph + geo.kh, geo.h + geo.ph) \
        - (np.arange(geo.oh) * geo.sh - geo.ph)
    cols = np.minimum(np.arange(geo.ow) * geo.sw - geo.pw + geo.kw, geo.w + geo.pw) \
        - (np.arange(geo.ow) * geo.sw - geo.pw)
    if rows.min() == geo.kh and cols.min() == geo.kw:
        return float(geo.kh * geo.kw)  # a Python float keeps float32 data float32
    return xp.asarray(np.outer(rows, cols), dtype=dtype)


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, ceil_mode: bool = False) -> Tensor:
    """Mean over each window. x: (N, C, H, W) -> (N, C, OH, OW).

    Zero padding counts in the mean (PyTorch's default ``count_include_pad=True``); windows
    that ``ceil_mode`` lets run past the padded input average over the part inside it.
    """
    x = as_tensor(x, "avg_pool2d")
    geo = _Geometry("avg_pool2d", x, kernel_size, stride, padding, ceil_mode)
    xp = backend.get_array_module(x.data)
    padded = geo.pad(x.data, 0.0)
    offsets = geo.offsets()
    divisor = _avg_divisor(geo, xp, x.dtype)

    out = padded[offsets[0][2]].copy()
    for _, _, index in offsets[1:]:
        out += padded[index]
    out /= divisor

    def _backward(g: Any) -> None:
        share = g / divisor
        dpad = xp.zeros(geo.padded_shape, dtype=g.dtype)
        for _, _, index in offsets:
            dpad[index] += share
        x.accumulate_grad(geo.unpad(dpad), owned=True)

    return Tensor.from_op(out, (x,), _backward, op="avg_pool2d")


def _adaptive_matrix(n_in: int, n_out: int, xp: Any, dtype: Any) -> Any:
    """(n_out, n_in) averaging matrix: row i averages inputs floor(i*n_in/n_out) ..
    ceil((i+1)*n_in/n_out) - 1 (PyTorch's rule; windows may overlap by one)."""
    np = backend.np
    mat = np.zeros((n_out, n_in))
    for i in range(n_out):  # n_out rows of a small matrix, not a loop over pixels
        start, end = (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)
        mat[i, start:end] = 1.0 / (end - start)
    return xp.asarray(mat, dtype=dtype)


def adaptive_avg_pool2d(x: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average-pool to a fixed output size, whatever the input size (torchvision's AlexNet).

    x: (N, C, H, W) -> (N, C, OH, OW). ``output_size`` is an int, a pair, or a pair with None
    (keep that input size). When H and W are multiples of OH and OW the windows are equal
    blocks (a reshape and a mean); otherwise window i spans floor(i*H/OH) .. ceil((i+1)*H/OH)
    and the pooling is the separable product ``A_h @ x @ A_w.T`` with averaging matrices.
    """
    layer = "adaptive_avg_pool2d"
    x = as_tensor(x, layer)
    check_rank(layer, x, 4, "(N, C, H, W)")
    check_not_empty(layer, x, "(N, C, H, W)", batch_axes=2)  # no pixels: no average
    check_floating(layer, x)
    check_finite(layer, x)
    n, c, h, w = x.shape
    oh, ow = adaptive_output_size(output_size, h, w, layer)
    xp = backend.get_array_module(x.data)

    if (oh, ow) == (h, w):  # torchvision AlexNet at 224x224: 6x6 -> 6x6 is the identity
        def _identity_backward(g: Any) -> None:
            x.accumulate_grad(g)
        return Tensor.from_op(x.data.copy(), (x,), _identity_backward, op=layer)

    if h % oh == 0 and w % ow == 0:  # equal blocks
        bh, bw = h // oh, w // ow
        out = x.data.reshape(n, c, oh, bh, ow, bw).mean(axis=(3, 5))

        def _block_backward(g: Any) -> None:
            share = (g / float(bh * bw))[:, :, :, None, :, None]
            x.accumulate_grad(xp.broadcast_to(share, (n, c, oh, bh, ow, bw)).reshape(x.shape))
        return Tensor.from_op(out, (x,), _block_backward, op=layer)

    a_h = _adaptive_matrix(h, oh, xp, x.dtype)  # (OH, H)
    a_w = _adaptive_matrix(w, ow, xp, x.dtype)  # (OW, W)
    out = xp.matmul(xp.matmul(a_h, x.data), a_w.T)

    def _backward(g: Any) -> None:
        x.accumulate_grad(xp.matmul(xp.matmul(a_h.T, g), a_w), owned=True)
    return Tensor.from_op(out, (x,), _backward, op=layer)
