"""Reference solution of exercises/im2col.py (used by tests/test_exercises.py)."""

import numpy as np


def im2col(x, kh, kw, stride, padding):
    n, c, h, w = x.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((c, kh, kw, n, oh, ow))
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[:, :, i:i + stride * oh:stride,
                               j:j + stride * ow:stride].transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def conv2d_im2col(x, w, b, stride, padding):
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = w.reshape(f, -1) @ im2col(x, kh, kw, stride, padding) + b.reshape(f, 1)
    return out.reshape(f, n, oh, ow).transpose(1, 0, 2, 3)
