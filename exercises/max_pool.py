"""Exercise max_pool: max-pooling forward and backward, overlapping windows (lesson 08).

Build ``max_pool_forward(x, kernel, stride)`` and ``max_pool_backward(dout, x, kernel,
stride)``. AlexNet pools with kernel 3 and stride 2: neighbouring windows overlap by one row
and one column ("overlapping pooling", Krizhevsky et al. 2012, section 3.4).

Forward: the maximum of each kernel x kernel window, no padding,

    out[n, c, i, j] = max of x[n, c, i*stride : i*stride + kernel, j*stride : j*stride + kernel]
    OH = (H - kernel) // stride + 1,   OW = (W - kernel) // stride + 1

Backward: only the input that was a window's maximum affects that window's output, so it
receives the window's whole gradient dout[n, c, i, j]; every other input of the window gets
nothing from it. When several inputs tie for the maximum, the FIRST of them in row-major order
within the window (the one np.argmax picks on the flattened window, PyTorch's rule) gets it:
each window passes its gradient on exactly once. With overlapping windows an input can be the
maximum of two windows and then receives both gradients: add, do not assign.

Shapes
    x: (N, C, H, W); kernel, stride: ints
    max_pool_forward returns (N, C, OH, OW); max_pool_backward(dout (N, C, OH, OW), x, ...)
    returns dx (N, C, H, W)

Check it:  python -m minialex check max_pool
It compares the forward pass with minialex.functional.max_pool2d, the backward pass with
central differences on inputs without ties, and, on inputs full of ties, checks that
sum(dx) equals sum(dout) and that the first maximum gets the gradient (minialex's rule).

Hints (read them one at a time, only when stuck)
1. Forward: loop over i and j only; window.max(axis=(2, 3)) pools all images and channels.
2. Backward: np.unravel_index(np.argmax(window), window.shape) gives the (row, column) of
   the first maximum of a 2-D window; add dout there, offset by (i*stride, j*stride).
3. (window == window.max()) marks EVERY tied maximum: that sends the gradient several times.

Next: lesson 09, then exercise dropout.
"""

import numpy as np


def max_pool_forward(x, kernel, stride):
    """x: (N, C, H, W) -> (N, C, OH, OW), the maximum of each window."""
    raise NotImplementedError("exercise max_pool: write max_pool_forward "
                              "(the docstring at the top says what it computes)")


def max_pool_backward(dout, x, kernel, stride):
    """dout: (N, C, OH, OW), x: (N, C, H, W) -> dx: (N, C, H, W)."""
    raise NotImplementedError("exercise max_pool: write max_pool_backward "
                              "(the docstring at the top says what it computes)")
