"""Exercise lrn: local response normalisation, forward and backward (lesson 07).

Build ``lrn_forward(x, size, alpha, beta, k)`` and ``lrn_backward(dout, x, size, alpha,
beta, k)``, AlexNet's normalisation across channels (Krizhevsky, Sutskever and Hinton 2012,
section 3.3), with the paper's formula:

    den[n, c, h, w] = k + alpha * sum over j from max(0, c - size//2)
                                          to min(C - 1, c + size//2) of x[n, j, h, w]**2
    out = x / den**beta

The sum runs over the ``size`` channels centred on c, clipped at the first and the last
channel (channel 0 has only size//2 + 1 neighbours in its sum). The paper uses size 5,
alpha 1e-4, beta 0.75, k 2. ``size`` is odd here.

PyTorch's LocalResponseNorm divides alpha by size (it averages the squares instead of
summing them): write the paper's formula, which is minialex.functional.local_response_norm's.

Shapes
    x, dout: (N, C, H, W); size: an odd int; alpha, beta, k: floats
    lrn_forward returns out (N, C, H, W); lrn_backward returns dx = dL/dx (N, C, H, W)

Check it:  python -m minialex check lrn
It compares lrn_forward with minialex.functional.local_response_norm (also with fewer channels
than the window, and at the paper's constants on activations of scale 100, where the sum
matters), and lrn_backward with central differences of it. The constants are drawn from a
wide range: at alpha = 1e-4 on small inputs a wrong formula changes only the fifth digit.

Hints (read them one at a time, only when stuck)
1. A helper window_sum(a, size) with out[:, c] = a[:, lo:hi].sum(axis=1), where
   lo = max(0, c - size//2) and hi = min(C, c + size//2 + 1), serves forward and backward.
   (A negative slice start does not clip: a[:, -2:3] is not channels 0..2.)
2. Each out[i] depends on x[i] directly and on every x[j] of its window through den[i]:
   d out[i] / d x[j] = [i == j] * den[i]**-beta - 2 * alpha * beta * x[j] * out[i] / den[i].
3. So dx[j] = dout[j] * den[j]**-beta - 2 * alpha * beta * x[j] * (the sum of
   dout[i] * out[i] / den[i] over the channels i whose window holds j). With an odd size,
   j is in i's window exactly when i is in j's: that sum is window_sum again.

Next: lesson 08, then exercise max_pool.
"""

import numpy as np


def lrn_forward(x, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """x: (N, C, H, W) -> (N, C, H, W), the paper's local response normalisation."""
    raise NotImplementedError("exercise lrn: write lrn_forward "
                              "(the docstring at the top says what it computes)")


def lrn_backward(dout, x, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """dout, x: (N, C, H, W) -> dx: (N, C, H, W)."""
    raise NotImplementedError("exercise lrn: write lrn_backward "
                              "(the docstring at the top says what it computes)")
