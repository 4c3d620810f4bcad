"""Convolution as matrix multiplication: im2col + one GEMM per group, col2im in backward.

A convolution slides a (C_in, KH, KW) kernel over the input. ``im2col`` lays every input
patch out as one column of a matrix, so that all C_out kernels applied at all positions become
a single matrix product (GEMM), the operation BLAS libraries run close to the hardware peak::

    cols = im2col(x, ...)                    # (C_in*KH*KW, OH*OW*N)
    out  = w.reshape(C_out, -1) @ cols       # (C_out,      OH*OW*N)

Layout choice: the columns are ordered (oh, ow, n), batch last. The patch view then reads and
``col2im`` writes runs of OW*N contiguous numbers (stride 1), instead of runs of only OW (13 for
AlexNet's conv3-5), which is what makes the copy and the scatter-add fast in NumPy. The price
is one transpose of the (small) output back to NCHW.

Backward of ``out = W @ cols`` is two more GEMMs: ``dW = dout @ cols.T`` and
``dcols = W.T @ dout``; ``col2im`` then adds every column entry back to the pixel it came
from (a pixel appears in up to KH*KW patches, so its gradient is a sum).

Groups (AlexNet's two GPU towers, Krizhevsky et al. 2012) split the channels into ``groups``
independent convolutions: group g sees input channels g*C_in/groups .. and produces output
channels g*C_out/groups ..; the columns of one group are a contiguous block of rows of ``cols``.
"""

from __future__ import annotations

from typing import Any

from minialex import backend
from minialex.functional._checks import (
    as_tensor,
    check_finite,
    check_floating,
    check_rank,
    check_same_device,
    check_same_dtype,
    output_size,
    pair,
)
from minialex.tensor import Tensor

__all__ = ["conv2d", "im2col", "col2im"]

IntPair = int | tuple[int, int]


def _geometry(x_shape: tuple[int, ...], kernel: IntPair, stride: IntPair,
              padding: IntPair) -> tuple[int, int, int, int, int, int, int, int]:
    kh, kw = pair(kernel, "kernel_size")
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    _, _, h, w = x_shape
    return kh, kw, sh, sw, ph, pw, output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)


def im2col(x: Any, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0) -> Any:
    """Input patches as columns.

    x: (N, C, H, W) array -> (C*KH*KW, OH*OW*N) array. Row ``(c*KH + i)*KW + j`` holds input
    channel c at kernel offset (i, j), so ``w.reshape(C_out, -1) @ cols`` is the convolution;
    column ``(oh*OW + ow)*N + n`` is the patch of image n under output pixel (oh, ow).

    The patches are a strided view of the (padded, batch-last) input: no Python loop and no
    data is gathered until the single copy that makes the matrix contiguous for BLAS.
    """
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    kh, kw, sh, sw, ph, pw, oh, ow = _geometry(x.shape, kernel_size, stride, padding)
    # Batch-last copy of the input, zero-padded: (C, H + 2ph, W + 2pw, N).
    hp, wp = h + 2 * ph, w + 2 * pw
    xc = (xp.zeros if (ph or pw) else xp.empty)((c, hp, wp, n), dtype=x.dtype)
    backend.copy_blocked(xc[:, ph:ph + h, pw:pw + w, :], x.transpose(1, 2, 3, 0))
    s_c, s_h, s_w, s_n = xc.strides
    patches = backend.as_strided(xc, (c, kh, kw, oh, ow, n),
                                 (s_c, s_h, s_w, s_h * sh, s_w * sw, s_n))
    return patches.reshape(c * kh * kw, oh * ow * n)  # the one copy


def col2im(cols: Any, x_shape: tuple[int, int, int, int], kernel_size: IntPair,
           stride: IntPair = 1, padding: IntPair = 0) -> Any:
    """Adjoint of ``im2col``: add every column entry back onto the pixel it was read from.

    cols: (C*KH*KW, OH*OW*N) -> (N, C, H, W). One vectorised strided add per kernel offset
    (KH*KW of them); overlapping patches sum up, padding is cut away at the end.
    """
    xp = backend.get_array_module(cols)
    n, c, h, w = x_shape
    kh, kw, sh, sw, ph, pw, oh, ow = _geometry(x_shape, kernel_size, stride, padding)
    dc = cols.reshape(c, kh, kw, oh, ow, n)
    dxc = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=cols.dtype)
    # A few channels at a time, so the block of dxc being added to stays in cache.
    step = backend.chunk_length(dxc, dxc[0].size * dxc.itemsize)
    for c0 in range(0, c, step):
        block, src = dxc[c0:c0 + step], dc[c0:c0 + step]
        for i in range(kh):
            for j in range(kw):
                block[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += src[:, i, j]
    dx = xp.empty((n, c, h, w), dtype=cols.dtype)
    backend.copy_blocked(dx.transpose(1, 2, 3, 0), dxc[:, ph:ph + h, pw:pw + w, :])
    return dx


def _check_conv_args(x: Tensor, w: Tensor, b: Tensor | None, stride: IntPair,
                     padding: IntPair, groups: int) -> tuple[tuple[int, int], tuple[int, int]]:
    layer = "conv2d"
    check_rank(layer, x, 4, "(N, C_in, H, W)")
    if w.ndim != 4:
        raise ValueError(f"{layer}: expected a 4-D weight (C_out, C_in/groups, KH, KW), "
                         f"got shape {w.shape}")
    check_floating(layer, x)
    check_same_dtype(layer, input=x, weight=w, bias=b)
    check_same_device(layer, input=x, weight=w, bias=b)
    check_finite(layer, x)
    if isinstance(groups, bool) or not isinstance(groups, (int, backend.np.integer)) \
            or groups < 1:
        raise ValueError(f"{layer}: groups must be a positive int, got {groups!r}")
    n, c_in, h, wd = x.shape
    c_out, c_per_group, kh, kw = w.shape
    if c_in % groups or c_out % groups:
        raise ValueError(f"{layer}: groups={groups} must divide both C_in={c_in} and "
                         f"C_out={c_out} (input shape {x.shape}, weight shape {w.shape})")
    if c_per_group * groups != c_in:
        raise ValueError(f"{layer}: expected input with C_in={c_per_group * groups} channels "
                         f"(weight shape {w.shape}, groups={groups}), got shape {x.shape}")
    if b is not None and b.shape != (c_out,):
        raise ValueError(f"{layer}: expected bias of shape ({c_out},) for weight shape "
                         f"{w.shape}, got shape {b.shape}")
    st = pair(stride, "conv2d stride")
    pd = pair(padding, "conv2d padding")
    if min(st) < 1:
        raise ValueError(f"{layer}: stride must be >= 1, got {st}")
    if min(pd) < 0:
        raise ValueError(f"{layer}: padding must be >= 0, got {pd}")
    hp, wp = h + 2 * pd[0], wd + 2 * pd[1]
    if kh > hp or kw > wp:
        raise ValueError(f"{layer}: kernel ({kh}, {kw}) is larger than the padded input "
                         f"({hp}, {wp}) (input shape {x.shape}, padding {pd})")
    return st, pd


def conv2d(x: Tensor, w: Tensor, b: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair = 0, groups: int = 1) -> Tensor:
    """2-D cross-correlation (PyTorch's conv2d) with stride, zero padding and groups.

    x: (N, C_in, H, W), w: (C_out, C_in/groups, KH, KW), b: (C_out,) or None
    -> (N, C_out, OH, OW) with OH = floor((H + 2*padding - KH) / stride) + 1 (same for OW).
    ``stride`` and ``padding`` are ints or (height, width) pairs.
    """
    x = as_tensor(x, "conv2d")
    w = as_tensor(w, "conv2d", "weight")
    b = None if b is None else as_tensor(b, "conv2d", "bias")
    stride, padding = _check_conv_args(x, w, b, stride, padding, groups)
    xp = backend.get_array_module(x.data)

    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    kernel = (kh, kw)
    oh, ow = output_size(h, kh, stride[0], padding[0]), output_size(wd, kw, stride[1], padding[1])
    cout_g, k_g = c_out // groups, (c_in // groups) * kh * kw

    cols = im2col(x.data, kernel, stride, padding)          # (C_in*KH*KW, OH*OW*N)
    wmat = w.data.reshape(c_out, c_in // groups * kh * kw)   # (C_out, K_g), a view
    prod = xp.empty((c_out, oh * ow * n), dtype=x.dtype)
    for g in range(groups):  # one GEMM per group
        rows_out, rows_in = slice(g * cout_g, (g + 1) * cout_g), slice(g * k_g, (g + 1) * k_g)
        xp.matmul(wmat[rows_out], cols[rows_in], out=prod[rows_out])
    # (C_out, OH, OW, N) -> (N, C_out, OH, OW)
    out = xp.empty((n, c_out, oh, ow), dtype=x.dtype)
    backend.copy_blocked(out.transpose(1, 2, 3, 0), prod.reshape(c_out, oh, ow, n))
    del prod
    if b is not None:
        out += b.data.reshape(c_out, 1, 1)
    saved_cols = cols if w.requires_grad else None  # only dW needs the columns
    del cols

    def _backward(g: Any) -> None:
        # dout as a (C_out, OH*OW*N) matrix, matching the column order of im2col.
        gmat = xp.empty((c_out, oh, ow, n), dtype=g.dtype)
        backend.copy_blocked(gmat, g.transpose(1, 2, 3, 0))
        gmat = gmat.reshape(c_out, oh * ow * n)
        if b is not None and b.requires_grad:
            b._accumulate(gmat.sum(axis=1), owned=True)
        if w.requires_grad:
            dw = xp.empty((c_out, k_g), dtype=g.dtype)
            for gi in range(groups):
                ro, ri = slice(gi * cout_g, (gi + 1) * cout_g), slice(gi * k_g, (gi + 1) * k_g)
                xp.matmul(gmat[ro], saved_cols[ri].T, out=dw[ro])
            w._accumulate(dw.reshape(w.shape), owned=True)
        if x.requires_grad:  # skipped for the first layer: images need no gradient
            dcols = xp.empty((c_in * kh * kw, oh * ow * n), dtype=g.dtype)
            for gi in range(groups):
                ro, ri = slice(gi * cout_g, (gi + 1) * cout_g), slice(gi * k_g, (gi + 1) * k_g)
                xp.matmul(wmat[ro].T, gmat[ro], out=dcols[ri])
            x._accumulate(col2im(dcols, x.shape, kernel, stride, padding), owned=True)

    parents = (x, w) if b is None else (x, w, b)
    return Tensor._result(out, parents, "conv2d", _backward)
