"""Reference solution of exercises/conv_forward.py (used by tests/test_exercises.py)."""

import numpy as np


def conv2d_forward(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n, f, oh, ow))
    for i in range(n):
        for k in range(f):
            for r in range(oh):
                for s in range(ow):
                    patch = xp[i, :, r * stride:r * stride + kh, s * stride:s * stride + kw]
                    out[i, k, r, s] = np.sum(patch * w[k]) + b[k]
    return out
