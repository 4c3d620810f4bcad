"""Reference solution of exercises/max_pool.py (used by tests/test_exercises.py)."""

import numpy as np


def _window(r, s, kernel, stride):
    return (slice(r * stride, r * stride + kernel), slice(s * stride, s * stride + kernel))


def max_pool_forward(x, kernel, stride):
    n, c, h, w = x.shape
    oh, ow = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    out = np.empty((n, c, oh, ow))
    for r in range(oh):
        for s in range(ow):
            rows, cols = _window(r, s, kernel, stride)
            out[:, :, r, s] = x[:, :, rows, cols].max(axis=(2, 3))
    return out


def max_pool_backward(dout, x, kernel, stride):
    n, c, oh, ow = dout.shape
    dx = np.zeros_like(x)
    for i in range(n):
        for j in range(c):
            for r in range(oh):
                for s in range(ow):
                    rows, cols = _window(r, s, kernel, stride)
                    window = x[i, j, rows, cols]
                    first = np.zeros(window.shape)
                    first[np.unravel_index(np.argmax(window), window.shape)] = 1
                    dx[i, j, rows, cols] += first * dout[i, j, r, s]
    return dx
