"""Reference solution of exercises/conv_backward.py (used by tests/test_exercises.py)."""

import numpy as np


def col2im(cols, x_shape, kh, kw, stride, padding):
    n, c, h, w = x_shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    blocks = cols.reshape(c, kh, kw, n, oh, ow)
    dxp = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + stride * oh:stride,
                j:j + stride * ow:stride] += blocks[:, i, j].transpose(1, 0, 2, 3)
    return dxp[:, :, padding:padding + h, padding:padding + w]


def conv2d_backward(dout, cols, x_shape, w, stride, padding):
    f, _, kh, kw = w.shape
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(f, -1)  # (F, N*OH*OW)
    dw = (dout_mat @ cols.T).reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    dx = col2im(w.reshape(f, -1).T @ dout_mat, x_shape, kh, kw, stride, padding)
    return dx, dw, db
