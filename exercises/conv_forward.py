"""Exercise conv_forward: convolution with four loops (goes with lesson 03).

Build ``conv2d_forward(x, w, b, stride, padding)``, the forward pass of a convolution layer
written the plain way, one output number at a time.

Shapes
    x: (N, C, H, W)       N images of C channels, H x W pixels
    w: (F, C, KH, KW)     F filters of C x KH x KW weights
    b: (F,)               one bias per filter
    stride, padding: ints, the same for the height and the width
    returns: (N, F, OH, OW) with
        OH = (H + 2*padding - KH) // stride + 1
        OW = (W + 2*padding - KW) // stride + 1

Formula (cross-correlation, as in PyTorch and minialex):

    out[n, f, i, j] = b[f] + sum over c, p, q of
                      xpad[n, c, i*stride + p, j*stride + q] * w[f, c, p, q]

where xpad is x with ``padding`` rows and columns of zeros added on all four sides.

Check it:  python -m minialex check conv_forward
It compares your output with minialex.functional.conv2d on small random shapes, strides and
paddings, and on AlexNet's conv1 geometry (11x11 filters, stride 4) on a 35x35 crop.

Hints (read them one at a time, only when stuck)
1. Compute OH and OW first and start from out = np.zeros((N, F, OH, OW)).
2. np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))) pads only H and W.
3. Loop over n, f, i, j. The window under out[n, f, i, j] is
   xpad[n, :, i*stride : i*stride + KH, j*stride : j*stride + KW], and
   np.sum(window * w[f]) + b[f] is the output number.

Next: exercise im2col (the same numbers, hundreds of times faster).
"""

import numpy as np


def conv2d_forward(x, w, b, stride, padding):
    """x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) -> (N, F, OH, OW)."""
    raise NotImplementedError("exercise conv_forward: write conv2d_forward "
                              "(the docstring at the top says what it computes)")
