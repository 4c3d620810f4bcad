"""Write your own layer as a Tensor op, then let minialex check its backward pass.

    python examples/gradcheck_your_own_layer.py

1. The op: forward on arrays, and a ``_backward(g)`` beside it that turns the upstream gradient
   ``g`` into the input's gradient and hands it to ``x.accumulate_grad``; ``Tensor.from_op``
   records the output in the graph (the public op-writing API, the one minialex's own ops use).
2. ``minialex.gradcheck`` compares that backward with central differences (float64).
3. A hypothesis property runs the same check on many random shapes and values
   (``minialex.testing`` holds the strategies; hypothesis comes with ``pip install -e ".[dev]"``).
"""

from __future__ import annotations

from hypothesis import given, settings

from minialex import GradcheckError, Tensor, backend, gradcheck
from minialex.testing import arrays, shapes


def leaky_relu(x: Tensor, slope: float = 0.1) -> Tensor:
    """y = x where x > 0, slope * x elsewhere. x: any shape; y: same shape."""
    xp = backend.get_array_module(x.data)
    positive = x.data > 0
    out = xp.where(positive, x.data, slope * x.data)

    def _backward(g):
        x.accumulate_grad(xp.where(positive, g, slope * g))  # dy/dx is 1 or slope

    return Tensor.from_op(out, (x,), _backward, op="leaky_relu")


def leaky_relu_buggy(x: Tensor, slope: float = 0.1) -> Tensor:
    """The same forward with a classic mistake: the backward forgets the slope."""
    xp = backend.get_array_module(x.data)
    out = xp.where(x.data > 0, x.data, slope * x.data)

    def _backward(g):
        x.accumulate_grad(g)

    return Tensor.from_op(out, (x,), _backward, op="leaky_relu_buggy")


def away_from_kink(a):
    """Central differences across x = 0 average the two slopes; keep every |x| >= 0.01."""
    return backend.np.where(abs(a) < 0.01, 0.5, a)


@settings(max_examples=50, deadline=None)
@given(a=arrays(shapes(max_dims=4, max_side=5)))
def property_leaky_relu_gradient(a):
    x = Tensor(away_from_kink(a), requires_grad=True)  # float64, as gradcheck needs
    gradcheck(leaky_relu, [x])


def main() -> None:
    x = Tensor(backend.np.array([[-2.0, -0.5, 0.3], [1.0, 2.5, -1.5]]), requires_grad=True)
    print("leaky_relu:", leaky_relu(x).numpy().tolist())
    print("gradcheck(leaky_relu):", gradcheck(leaky_relu, [x]))
    try:
        gradcheck(leaky_relu_buggy, [x])
    except GradcheckError as err:
        print("gradcheck(leaky_relu_buggy) caught the bug:\n ", err)
    property_leaky_relu_gradient()  # a @given function runs all its examples when called
    print("property held on 50 random shapes and values drawn by hypothesis")


if __name__ == "__main__":
    main()
