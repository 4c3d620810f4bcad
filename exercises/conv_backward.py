"""Exercise conv_backward: col2im and the backward pass of convolution (lesson 03).

Build ``col2im(cols, x_shape, kh, kw, stride, padding)`` and
``conv2d_backward(dout, cols, x_shape, w, stride, padding)`` returning ``(dx, dw, db)``.

The forward pass was out = W @ cols + b with W = w.reshape(F, -1) and cols the im2col
columns of x (the layout of exercise im2col: rows (c, p, q), columns (n, i, j)). A layer keeps
those columns from its forward pass, and so does this exercise: they are an argument.
Write the upstream gradient dout = dL/dout, shape (N, F, OH, OW), as a matrix
D = dout.transpose(1, 0, 2, 3).reshape(F, -1), shape (F, N*OH*OW). Then

    dW    = D @ cols.T          (F, C*KH*KW)      reshaped to w.shape
    db    = D.sum(axis=1)       (F,)
    dcols = W.T @ D             (C*KH*KW, N*OH*OW)
    dx    = col2im(dcols, x_shape, ...)

col2im undoes the layout of im2col: each entry of a column is ADDED onto the input pixel it
was read from. With stride < kernel the windows overlap, a pixel sits in several of them,
and its gradient is the sum over all of them. The padding is cut away at the end.

Shapes
    cols: (C*KH*KW, N*OH*OW), x_shape: (N, C, H, W), w: (F, C, KH, KW),
    dout: (N, F, OH, OW); col2im returns (N, C, H, W);
    conv2d_backward returns dx (N, C, H, W), dw (F, C, KH, KW), db (F,)

Check it:  python -m minialex check conv_backward
It checks that col2im is the adjoint of minialex's im2col (sum(im2col(x) * c) equals
sum(x * col2im(c)) for random x and c: true only if overlapping entries add up), compares it
with minialex's col2im, and compares dx, dw and db with central differences of
minialex.functional.conv2d (your exercise numerical_gradient's method).

Hints (read them one at a time, only when stuck)
1. col2im is im2col's loop over the kernel offsets (p, q) with the copy turned around:
   dxpad[:, :, p : p + stride*OH : stride, q : q + stride*OW : stride] += block.
2. Reshape cols to (C, KH, KW, N, OH, OW); block is [:, p, q] transposed to (N, C, OH, OW).
3. Start from dxpad = np.zeros((N, C, H + 2*padding, W + 2*padding)), and return
   dxpad[:, :, padding:padding + H, padding:padding + W].

Next: lesson 04, then exercise output_size.
"""

import numpy as np


def col2im(cols, x_shape, kh, kw, stride, padding):
    """cols: (C*KH*KW, N*OH*OW) -> (N, C, H, W), overlapping entries added up."""
    raise NotImplementedError("exercise conv_backward: write col2im "
                              "(the docstring at the top says what it computes)")


def conv2d_backward(dout, cols, x_shape, w, stride, padding):
    """dout: (N, F, OH, OW), cols of the forward pass -> (dx, dw, db)."""
    raise NotImplementedError("exercise conv_backward: write conv2d_backward "
                              "(the docstring at the top says what it computes)")
