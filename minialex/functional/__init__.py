"""Stateless ops with forward and backward, one module per layer family (NCHW).

Use as ``import minialex.functional as F``. The convolution comes twice: ``F.conv2d_reference``
is the textbook method (with the plain ``F.im2col`` and ``F.col2im``) and ``F.conv2d`` computes
the same numbers faster; a test holds them equal.

Writing your own op: compute the output from the inputs' arrays and define, right beside it, a
backward closure that turns g = dL/d(output) into each input's gradient and hands it over with
``accumulate_grad``; ``Tensor.from_op`` records the output in the graph. Softplus,
log(1 + e^x), has the derivative sigmoid(x) = 1 / (1 + e^-x)::

    >>> from minialex import Tensor, backend, gradcheck
    >>> def softplus(x: Tensor) -> Tensor:
    ...     xp = backend.get_array_module(x.data)  # numpy or cupy, wherever x lives
    ...     out = xp.logaddexp(0.0, x.data)        # log(1 + e^x) without overflow
    ...     def _backward(g):                      # g = dL/d(out), shaped like out
    ...         x.accumulate_grad(g / (1 + xp.exp(-x.data)))  # dL/dx = g * sigmoid(x)
    ...     return Tensor.from_op(out, (x,), _backward, op="softplus")
    >>> x = Tensor(backend.np.array([-3.0, 0.0, 2.5]), requires_grad=True)
    >>> gradcheck(softplus, [x])  # backward vs central differences (float64 inputs)
    True

Then property-test it on many shapes and values drawn by a ``minialex.testing`` strategy::

    >>> from hypothesis import given, settings
    >>> from minialex.testing import arrays, shapes
    >>> @settings(max_examples=20, deadline=None)
    ... @given(arrays(shapes(max_dims=3)))
    ... def check_softplus(a):
    ...     assert gradcheck(softplus, [Tensor(a, requires_grad=True)])
    >>> check_softplus()  # runs the 20 examples; raises on the first failing one

``tests/test_tensor.py`` runs these lines, so the template stays true.
"""

from minialex.functional.activation import log_softmax, relu, sigmoid, softmax, tanh
from minialex.functional.conv import col2im, conv2d, conv2d_reference, im2col
from minialex.functional.dropout import dropout
from minialex.functional.linear import flatten, linear
from minialex.functional.loss import cross_entropy
from minialex.functional.norm import batch_norm, local_response_norm
from minialex.functional.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d

__all__ = [
    "conv2d",
    "conv2d_reference",
    "im2col",
    "col2im",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "local_response_norm",
    "batch_norm",
    "dropout",
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "log_softmax",
    "linear",
    "flatten",
    "cross_entropy",
]
