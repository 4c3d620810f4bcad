"""Convolution as matrix multiplication: im2col, one GEMM per group, col2im in backward.

Read ``conv2d_reference`` first: the textbook method, forward and backward on one screen.
``conv2d`` further down computes the same numbers faster and is tested equal to it.

A convolution slides a (C_in, KH, KW) kernel over the input. ``im2col`` lays every input
patch out as one column of a matrix, so that all C_out kernels applied at all positions become
a single matrix product (GEMM), the operation BLAS libraries run close to the hardware peak::

    cols = im2col(x, ...)                    # (C_in*KH*KW, OH*OW*N)
    out  = w.reshape(C_out, -1) @ cols       # (C_out,      OH*OW*N)

Backward of ``out = W @ cols`` is two more GEMMs: ``dW = dout @ cols.T`` and
``dcols = W.T @ dout``; ``col2im`` then adds every column entry back to the pixel it came
from (a pixel appears in up to KH*KW patches, so its gradient is a sum).

Groups (AlexNet's two GPU towers, Krizhevsky et al. 2012) split the channels into ``groups``
independent convolutions: group g sees input channels g*C_in/groups .. and produces output
channels g*C_out/groups ..; the columns of one group are a contiguous block of rows of ``cols``.

What ``conv2d`` changes, each for speed or memory (lesson 03 measures what each one buys):

- batch-last: the padded input is copied once to (C, H, W, N). A patch copy then moves runs
  of OW*N contiguous numbers instead of runs of OW (13 for AlexNet's conv3-5).
- phase split: with stride s, input column w moves to [w % s, w // s], so the columns
  j, j + s, j + 2s of a window become neighbours and the runs stay OW*N long (conv1, s = 4).
  The padding, the batch-last layout and the phases are made in one copy per phase.
- blocks: the columns are built a block of output rows at a time (a few MB; on a GPU up to
  128 MB) into one reused buffer, used by the GEMMs while still in cache, and rebuilt from
  the input in backward (into a new buffer: the graph holds none between the passes). The
  full matrix (224 MB for AlexNet's conv2 at batch 32) is never held.
- ``matmul(out=)``: every GEMM writes straight into its slice of the output or gradient.
- every core: the copies (im2col blocks, col2im's adds, the layout transposes, the bias) are
  split across as many threads as BLAS uses (``_parallel``), by channels or kernel rows, so
  the numbers do not depend on the thread count.
"""

from __future__ import annotations

from typing import Any

from minialex import backend
from minialex.functional import _parallel
from minialex.functional._checks import (
    as_tensor,
    check_finite,
    check_floating,
    check_not_empty,
    check_positive_int,
    check_rank,
    check_same_device,
    check_same_dtype,
    check_window,
    empty_result,
    output_size,
    pair,
)
from minialex.tensor import Tensor

__all__ = ["conv2d_reference", "conv2d", "im2col", "col2im"]

IntPair = int | tuple[int, int]


# ================================================================== the textbook method
def im2col(x: Any, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0) -> Any:
    """Input patches as columns: one strided copy per kernel offset (i, j).

    x: (N, C, H, W) array -> (C*KH*KW, OH*OW*N) array. Row ``(c*KH + i)*KW + j`` holds input
    channel c at kernel offset (i, j), so ``w.reshape(C_out, -1) @ cols`` is the convolution;
    column ``(oh*OW + ow)*N + n`` is the patch of image n under output pixel (oh, ow).
    """
    xp = backend.get_array_module(x)
    kh, kw, sh, sw, ph, pw, oh, ow = _geometry(x.shape, kernel_size, stride, padding)
    n, c = x.shape[:2]
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = xp.empty((c, kh, kw, oh, ow, n), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # the pixel at offset (i, j) of every window: (N, C, OH, OW) -> (C, OH, OW, N)
            cols[:, i, j] = xpad[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw].transpose(1, 2, 3, 0)
    return cols.reshape(c * kh * kw, oh * ow * n)


def col2im(cols: Any, x_shape: tuple[int, int, int, int], kernel_size: IntPair,
           stride: IntPair = 1, padding: IntPair = 0) -> Any:
    """Adjoint of ``im2col``: add every column entry back onto the pixel it was read from.

    cols: (C*KH*KW, OH*OW*N) -> (N, C, H, W). One strided add per kernel offset; a pixel in
    several patches receives the sum, and the padding is cut away at the end.
    """
    xp = backend.get_array_module(cols)
    n, c, h, w = x_shape
    kh, kw, sh, sw, ph, pw, oh, ow = _geometry(x_shape, kernel_size, stride, padding)
    dc = cols.reshape(c, kh, kw, oh, ow, n)
    dxpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxpad[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += dc[:, i, j].transpose(3, 0, 1, 2)
    return dxpad[:, :, ph:ph + h, pw:pw + w]


def conv2d_reference(x: Tensor, w: Tensor, b: Tensor | None = None, stride: IntPair = 1,
                     padding: IntPair = 0, groups: int = 1) -> Tensor:
    """2-D convolution, the textbook way: im2col, one GEMM per group, col2im in backward.

    x: (N, C_in, H, W), w: (C_out, C_in/groups, KH, KW), b: (C_out,) or None
    -> (N, C_out, OH, OW). Same arguments, checks and numbers as ``conv2d``, which is tested
    equal to it; this one keeps the whole column matrix from forward until backward.
    """
    x, w, b, stride, padding = _conv_arguments("conv2d_reference", x, w, b, stride, padding,
                                               groups)
    if x.shape[0] == 0:
        return _empty_batch("conv2d_reference", x, w, b, stride, padding)
    xp = backend.get_array_module(x.data)
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    oh, ow = output_size(h, kh, stride[0], padding[0]), output_size(wd, kw, stride[1], padding[1])
    cols = im2col(x.data, (kh, kw), stride, padding)  # (C_in*KH*KW, OH*OW*N)
    wmat = w.data.reshape(c_out, -1)  # (C_out, C_in/groups*KH*KW): one kernel per row
    # Group gi: rows `outs` of W (its output channels), rows `ins` of cols (its input channels).
    k_g, cout_g = wmat.shape[1], c_out // groups
    group_rows = [(slice(gi * cout_g, (gi + 1) * cout_g), slice(gi * k_g, (gi + 1) * k_g))
                  for gi in range(groups)]
    out = xp.concatenate([wmat[outs] @ cols[ins] for outs, ins in group_rows])  # (C_out, OH*OW*N)
    out = out.reshape(c_out, oh, ow, n).transpose(3, 0, 1, 2)  # -> (N, C_out, OH, OW)
    if b is not None:
        out = out + b.data.reshape(c_out, 1, 1)

    def _backward(g: Any) -> None:
        dout = g.transpose(1, 2, 3, 0).reshape(c_out, -1)  # (C_out, OH*OW*N), as out was
        # dW = dout @ cols.T and dcols = W.T @ dout, one GEMM per group each
        dw = xp.concatenate([dout[outs] @ cols[ins].T for outs, ins in group_rows])
        dcols = xp.concatenate([wmat[outs].T @ dout[outs] for outs, _ in group_rows])
        w.accumulate_grad(dw.reshape(w.shape))
        x.accumulate_grad(col2im(dcols, x.shape, (kh, kw), stride, padding))
        if b is not None:
            b.accumulate_grad(dout.sum(axis=1))

    parents = (x, w) if b is None else (x, w, b)
    return Tensor.from_op(out, parents, _backward, op="conv2d_reference")


# ================================================================== shared by both
def _geometry(x_shape: tuple[int, ...], kernel: IntPair, stride: IntPair,
              padding: IntPair) -> tuple[int, int, int, int, int, int, int, int]:
    """(KH, KW, SH, SW, PH, PW, OH, OW) of a window on an (N, C, H, W) input."""
    kh, kw = pair(kernel, "kernel_size")
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    _, _, h, w = x_shape
    return kh, kw, sh, sw, ph, pw, output_size(h, kh, sh, ph), output_size(w, kw, sw, pw)


def _conv_arguments(layer: str, x: Any, w: Any, b: Any, stride: IntPair, padding: IntPair,
                    groups: int) -> tuple[Tensor, Tensor, Tensor | None, tuple[int, int],
                                          tuple[int, int]]:
    """The checks both convolutions make, with messages naming ``layer``: x, w, b as
    Tensors and stride, padding as validated (height, width) pairs."""
    x = as_tensor(x, layer)
    w = as_tensor(w, layer, "weight")
    b = None if b is None else as_tensor(b, layer, "bias")
    check_rank(layer, x, 4, "(N, C_in, H, W)")
    check_rank(layer, w, 4, "(C_out, C_in/groups, KH, KW)", "weight")
    check_not_empty(layer, x, "(N, C_in, H, W)")
    check_not_empty(layer, w, "(C_out, C_in/groups, KH, KW)", "weight", batch_axes=0)
    check_floating(layer, x)
    check_same_dtype(layer, input=x, weight=w, bias=b)
    check_same_device(layer, input=x, weight=w, bias=b)
    check_finite(layer, x)
    groups = check_positive_int(layer, "groups", groups)
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
    _, st, pd = check_window(layer, (kh, kw), stride, padding)
    hp, wp = h + 2 * pd[0], wd + 2 * pd[1]
    if kh > hp or kw > wp:
        raise ValueError(f"{layer}: kernel ({kh}, {kw}) is larger than the padded input "
                         f"({hp}, {wp}) (input shape {x.shape}, padding {pd})")
    # A stride beyond the padded input picks the same single window; capping it keeps the
    # fast path's phase split (its size grows with the stride) as small as the input.
    return x, w, b, (min(st[0], hp + 1), min(st[1], wp + 1)), pd


def _empty_batch(layer: str, x: Tensor, w: Tensor, b: Tensor | None, stride: tuple[int, int],
                 padding: tuple[int, int]) -> Tensor:
    """PyTorch's result for N = 0: an empty (0, C_out, OH, OW) output, zero gradients."""
    oh, ow = (output_size(n, k, s, p) for n, k, s, p in
              zip(x.shape[2:], w.shape[2:], stride, padding, strict=True))
    return empty_result(layer, (0, w.shape[0], oh, ow), (x, w) if b is None else (x, w, b), x)


# ================================================================== the fast path
# conv2d builds im2col columns a block of output rows at a time: about this many bytes (stays
# in the CPU cache), but at least this many columns (narrower GEMMs run below BLAS's best).
# On a GPU blocks are far larger (kernel launches are what cost there) but still bounded: at
# batch 128 the full matrices would take 0.56 GB (conv1) and 0.9 GB (conv2).
_BLOCK_BYTES = 1 << 22
_DEVICE_BLOCK_BYTES = 1 << 27
_MIN_BLOCK_COLUMNS = 2048


def _batch_last_phases(x: Any, ph: int, pw: int, sw: int) -> Any:
    """(N, C, H, W) -> zero-padded, batch-last, phase-split copy (C, Hp, sw, ceil(Wp / sw), N).

    Batch-last: a patch copy then moves runs of OW*N contiguous numbers instead of OW.
    Phase split: padded column w moves to [w % sw, w // sw]. A window with stride sw reads
    columns j, j + sw, j + 2*sw, ... of its kernel row: after the split these are neighbours,
    so the copy into im2col's columns moves runs of OW*N numbers instead of runs of N (lesson 03
    times the difference). For sw == 1 there is one phase. One copy per phase straight from
    the input, so the padded layout is never built separately (80 MB for conv1 at batch 128).
    """
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    hp, wp = h + 2 * ph, w + 2 * pw
    xs = (xp.zeros if (ph or pw or sw > 1) else xp.empty)((c, hp, sw, -(-wp // sw), n),
                                                          dtype=x.dtype)
    x_t = x.transpose(1, 2, 3, 0)  # (C, H, W, N), a view
    for r in range(sw):
        # phase r holds padded columns r + k*sw, that is input columns r + k*sw - pw
        first = max(0, -(-(pw - r) // sw))  # first k that lands inside the input
        stop = min(len(range(r, wp, sw)), -(-(w + pw - r) // sw))
        if stop > first:
            col = r + first * sw - pw
            _parallel.copy(xs[:, ph:ph + h, r, first:stop, :],
                           x_t[:, :, col:col + (stop - first - 1) * sw + 1:sw, :])
    return xs


def _patch_views(xs: Any, kh: int, kw: int, sh: int, oh: int, ow: int) -> list[Any]:
    """Strided views of the patches in the phase-split batch-last input ``xs`` (see
    ``_batch_last_phases``), no copy: view r is (C, KH, len(range(r, KW, sw)), OH, OW, N) and holds
    the kernel columns j = r, r + sw, ..., which read phase r at positions ow + j // sw."""
    c, _, sw, _, n = xs.shape
    s_c, s_h, _, s_q, s_n = xs.strides
    return [backend.as_strided(xs[:, :, r], (c, kh, len(range(r, kw, sw)), oh, ow, n),
                               (s_c, s_h, s_q, s_h * sh, s_q, s_n))
            for r in range(min(sw, kw))]


def _copy_patches(dst: Any, views: list[Any], rows: range) -> None:
    """dst (C, KH, KW, len(rows), OW, N) = the patches under output rows ``rows``: one copy
    per column phase (a single one for stride 1)."""
    step = len(views)  # min(sw, KW): view r holds kernel columns r, r + step, ...

    def piece(index: tuple[slice, ...]) -> None:  # some channels or kernel rows
        part = dst[index]
        for r, view in enumerate(views):
            part[:, :, r::step] = view[index][:, :, :, rows.start:rows.stop]

    _parallel.slices(piece, dst.shape, dst, 2 * dst.nbytes, category="im2col")


def _col2im_add(dxc: Any, dc: Any, sh: int, sw: int, first_row: int) -> None:
    """Add column gradients dc (C, KH, KW, R, OW, N) of output rows first_row.. onto the
    batch-last padded input gradient dxc (C, Hp, Wp, N): one strided add per kernel offset."""
    _, kh, kw, r, ow, _ = dc.shape
    top = first_row * sh

    def piece(index: tuple[slice, ...]) -> None:  # some channels: every pixel's adds in order
        part, grad = dxc[index], dc[index]
        for i in range(kh):
            for j in range(kw):
                part[:, top + i:top + i + sh * r:sh, j:j + sw * ow:sw, :] += grad[:, i, j]

    _parallel.slices(piece, dc.shape, dxc, 3 * dc.nbytes, axis=0, category="col2im")


def _unpad_batch_first(dxc: Any, x_shape: tuple[int, int, int, int], ph: int, pw: int) -> Any:
    """(C, Hp, Wp, N) padded batch-last gradient -> (N, C, H, W)."""
    xp = backend.get_array_module(dxc)
    n, c, h, w = x_shape
    dx = xp.empty(x_shape, dtype=dxc.dtype)
    _parallel.copy(dx.transpose(1, 2, 3, 0), dxc[:, ph:ph + h, pw:pw + w, :])
    return dx


def _batch_first(prod: Any, bias: Any) -> Any:
    """(C_out, OH, OW, N) GEMM output -> (N, C_out, OH, OW), plus the bias (C_out,) or None."""
    xp = backend.get_array_module(prod)
    c_out, oh, ow, n = prod.shape
    out = xp.empty((n, c_out, oh, ow), dtype=prod.dtype)
    out_t = out.transpose(1, 2, 3, 0)

    def piece(index: tuple[slice, ...]) -> None:  # some output channels
        backend.copy_blocked(out_t[index], prod[index])
        if bias is not None:
            out[(slice(None),) + index] += bias[index].reshape(-1, 1, 1)

    _parallel.slices(piece, prod.shape, out, 3 * out.nbytes, axis=0, category="layout")
    return out


def _batch_last(g: Any, with_sum: bool) -> tuple[Any, Any]:
    """(N, C_out, OH, OW) output gradient -> (C_out, OH*OW*N) matrix in im2col's column
    order, and its row sums (the bias gradient) if ``with_sum`` (else None)."""
    xp = backend.get_array_module(g)
    n, c_out, oh, ow = g.shape
    gmat = xp.empty((c_out, oh, ow, n), dtype=g.dtype)
    g_t = g.transpose(1, 2, 3, 0)
    sums = xp.empty(c_out, dtype=g.dtype) if with_sum else None

    def piece(index: tuple[slice, ...]) -> None:  # some output channels
        backend.copy_blocked(gmat[index], g_t[index])
        if sums is not None:
            rows = gmat[index]
            sums[index] = rows.reshape(rows.shape[0], -1).sum(axis=1)

    _parallel.slices(piece, gmat.shape, g, 3 * g.nbytes, axis=0, category="layout")
    return gmat.reshape(c_out, oh * ow * n), sums


def _row_blocks(xs: Any, row_bytes: int, row_cols: int, oh: int) -> list[range]:
    """The output rows of each im2col block: about _BLOCK_BYTES of columns (_DEVICE_BLOCK_BYTES
    on a GPU), and at least _MIN_BLOCK_COLUMNS columns."""
    per_block = max(backend.chunk_length(xs, row_bytes, budget=_BLOCK_BYTES,
                                         device_budget=_DEVICE_BLOCK_BYTES),
                    -(-_MIN_BLOCK_COLUMNS // row_cols))
    return [range(r, min(r + per_block, oh)) for r in range(0, oh, per_block)]


def conv2d(x: Tensor, w: Tensor, b: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair = 0, groups: int = 1) -> Tensor:
    """2-D cross-correlation (PyTorch's conv2d) with stride, zero padding and groups.

    The numbers of ``conv2d_reference``, computed faster (the module docstring lists what
    changes). x: (N, C_in, H, W), w: (C_out, C_in/groups, KH, KW), b: (C_out,) or None
    -> (N, C_out, OH, OW) with OH = floor((H + 2*padding - KH) / stride) + 1 (same for OW).
    ``stride`` and ``padding`` are ints or (height, width) pairs.
    """
    x, w, b, stride, padding = _conv_arguments("conv2d", x, w, b, stride, padding, groups)
    if x.shape[0] == 0:
        return _empty_batch("conv2d", x, w, b, stride, padding)
    xp = backend.get_array_module(x.data)

    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    oh, ow = output_size(h, kh, sh, ph), output_size(wd, kw, sw, pw)
    cout_g, k_g = c_out // groups, (c_in // groups) * kh * kw
    wmat = w.data.reshape(c_out, k_g)  # (C_out, K_g), a view
    xs = _batch_last_phases(x.data, ph, pw, sw)  # (C_in, Hp, sw, Wp/sw, N)
    views = _patch_views(xs, kh, kw, sh, oh, ow)

    # im2col a block of output rows at a time into one reused buffer: each block of columns
    # is used by the GEMMs while it is still in cache, and the full matrix (224 MB for conv2
    # at batch 32) is never allocated, so neither is the memory nor its first-touch cost.
    # Backward rebuilds the blocks from the saved input instead of keeping the columns.
    # (On CuPy the blocks are up to 128 MB: a few per layer.)
    row_cols = ow * n  # GEMM columns per output row: column (oh*OW + ow)*N + n
    blocks = _row_blocks(xs, c_in * kh * kw * row_cols * xs.itemsize, row_cols, oh)

    def new_buffer() -> Any:  # room for the largest block of columns
        return xp.empty(c_in * kh * kw * len(blocks[0]) * row_cols, dtype=x.dtype)
    buffer = new_buffer()

    def block_matrix(rows: range) -> Any:
        """(C_in*KH*KW, len(rows)*OW*N) view of the front of the buffer."""
        return buffer[:c_in * kh * kw * len(rows) * row_cols].reshape(c_in * kh * kw, -1)

    def columns(rows: range) -> Any:
        """im2col of output rows ``rows`` (the one copy), in the buffer."""
        block = block_matrix(rows)
        _copy_patches(block.reshape(c_in, kh, kw, len(rows), ow, n), views, rows)
        return block

    def group_slices(gi: int) -> tuple[slice, slice]:
        """(rows of W and of the output, rows of the columns) of group gi."""
        return slice(gi * cout_g, (gi + 1) * cout_g), slice(gi * k_g, (gi + 1) * k_g)

    prod = xp.empty((c_out, oh * row_cols), dtype=x.dtype)
    for rows in blocks:
        block, span = columns(rows), slice(rows.start * row_cols, rows.stop * row_cols)
        with _parallel.timed("gemm"):
            for gi in range(groups):  # one GEMM per group
                ro, ri = group_slices(gi)
                xp.matmul(wmat[ro], block[ri], out=prod[ro, span])
    # (C_out, OH, OW, N) -> (N, C_out, OH, OW), the bias added on the way
    out = _batch_first(prod.reshape(c_out, oh, ow, n), None if b is None else b.data)
    # The buffer (up to tens of MB) is not held between forward and backward: backward
    # takes a new one, so a graph keeps only the saved input per conv layer.
    del prod
    buffer = None

    def _backward(g: Any) -> None:
        nonlocal buffer
        # dout as a (C_out, OH*OW*N) matrix, matching the column order of im2col.
        need_b = b is not None and b.requires_grad
        gmat, db = _batch_last(g, with_sum=need_b)
        if need_b:
            b.accumulate_grad(db, owned=True)
        need_w, need_x = w.requires_grad, x.requires_grad  # images need no dx
        buffer = new_buffer() if need_w or need_x else None
        dw = xp.empty((c_out, k_g), dtype=g.dtype) if need_w else None
        dxc = xp.zeros((c_in, h + 2 * ph, wd + 2 * pw, n), dtype=g.dtype) if need_x else None
        for rows in blocks if need_w or need_x else ():
            span = slice(rows.start * row_cols, rows.stop * row_cols)
            if need_w:  # dW = dout @ cols.T, summed over the blocks
                block = columns(rows)
                with _parallel.timed("gemm"):
                    for gi in range(groups):
                        ro, ri = group_slices(gi)
                        if rows.start == 0:
                            xp.matmul(gmat[ro, span], block[ri].T, out=dw[ro])
                        else:
                            dw[ro] += gmat[ro, span] @ block[ri].T
            if need_x:  # dcols = W.T @ dout into the same buffer, then col2im's adds
                dblock = block_matrix(rows)
                with _parallel.timed("gemm"):
                    for gi in range(groups):
                        ro, ri = group_slices(gi)
                        xp.matmul(wmat[ro].T, gmat[ro, span], out=dblock[ri])
                _col2im_add(dxc, dblock.reshape(c_in, kh, kw, len(rows), ow, n), sh, sw,
                            rows.start)
        buffer = None
        if need_w:
            w.accumulate_grad(dw.reshape(w.shape), owned=True)
        if need_x:
            x.accumulate_grad(_unpad_batch_first(dxc, x.shape, ph, pw), owned=True)

    parents = (x, w) if b is None else (x, w, b)
    return Tensor.from_op(out, parents, _backward, op="conv2d")
