"""Exercise numerical_gradient: central differences (goes with lesson 02, checking gradients).

Build ``numerical_gradient(f, x, h)``: the gradient of a scalar function ``f`` at the array
``x``, estimated one element at a time. Every backward pass you write in the later exercises
is checked against exactly this.

Formula (central difference), for each element i of x:

    grad[i] = (f(x + h * e_i) - f(x - h * e_i)) / (2 * h)

where e_i is 1 at element i and 0 elsewhere. Its error shrinks like h**2; the one-sided
(f(x + h e_i) - f(x)) / h is off by about h * f''(x) / 2, far more.

Shapes
    f: a function taking an array shaped like x and returning a float
    x: any shape, float64
    h: the step, a float (the checker passes 1e-4)
    returns: grad, the same shape as x

x may be changed while you compute (perturb an element, call f, put it back), but it must
hold its original values again when you return.

Check it:  python -m minialex check numerical_gradient
It compares your gradients with ones derived by hand (an element-wise function, and
log(sum(exp(x))) whose gradient is softmax(x)) on arrays of 1 to 3 axes, and checks that x
is left as it was found.

Hints (read them one at a time, only when stuck)
1. np.ndindex(x.shape) yields every index tuple of an array of any number of axes.
2. Save old = x[index], set x[index] = old + h, call f(x); then old - h; then restore old.
3. Start from grad = np.zeros_like(x, dtype=np.float64).

Next: lesson 03, then exercise conv_forward.
"""

import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """d f / d x by central differences. x: any shape -> grad: the same shape."""
    raise NotImplementedError("exercise numerical_gradient: write numerical_gradient "
                              "(the docstring at the top says what it computes)")
