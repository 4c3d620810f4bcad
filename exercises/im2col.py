"""Exercise im2col: patches as columns, then convolution as one matrix product (lesson 03).

Build ``im2col(x, kh, kw, stride, padding)`` and ``conv2d_im2col(x, w, b, stride, padding)``.

im2col copies every KH x KW patch of the zero-padded input into one column of a matrix:

    cols: (C*KH*KW, N*OH*OW)
    cols[(c*KH + p)*KW + q, (n*OH + i)*OW + j] = xpad[n, c, i*stride + p, j*stride + q]

so the rows run over (c, p, q), the order of w[f].reshape(-1), and the columns over (n, i, j):
one column per output pixel of each image. OH and OW are as in exercise conv_forward.
Convolution is then a single matrix product (GEMM), which BLAS runs near the CPU's peak:

    out = w.reshape(F, -1) @ cols + b.reshape(F, 1)      # (F, N*OH*OW)

reshaped to (F, N, OH, OW) and transposed to (N, F, OH, OW).

Shapes
    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,), kh, kw, stride, padding: ints
    im2col returns (C*KH*KW, N*OH*OW); conv2d_im2col returns (N, F, OH, OW)

Check it:  python -m minialex check im2col
It compares your columns with minialex's im2col (minialex orders its columns (i, j, n), batch
last, for speed: the checker reorders them) and your convolution with
minialex.functional.conv2d.

Hints (read them one at a time, only when stuck)
1. Loop over the KH*KW kernel offsets (p, q), not over pixels. For a fixed (p, q), the pixel
   at that offset in every window is one strided slice of the padded input:
   xpad[:, :, p : p + stride*OH : stride, q : q + stride*OW : stride], shape (N, C, OH, OW).
2. Fill an array of shape (C, KH, KW, N, OH, OW), then reshape it to (C*KH*KW, N*OH*OW).
   The slice of hint 1 is (N, C, OH, OW): transpose it to (C, N, OH, OW) first.
3. conv2d_im2col is three lines: im2col, the product plus bias, reshape and transpose.

Next: exercise conv_backward.
"""

import numpy as np


def im2col(x, kh, kw, stride, padding):
    """x: (N, C, H, W) -> cols: (C*KH*KW, N*OH*OW)."""
    raise NotImplementedError("exercise im2col: write im2col "
                              "(the docstring at the top says what it computes)")


def conv2d_im2col(x, w, b, stride, padding):
    """x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) -> (N, F, OH, OW), through im2col."""
    raise NotImplementedError("exercise im2col: write conv2d_im2col "
                              "(the docstring at the top says what it computes)")
