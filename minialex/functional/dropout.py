"""Inverted dropout.

The AlexNet paper (section 4.2) sets each hidden unit of fc6 and fc7 to zero with
probability 0.5 during training and multiplies all outputs by 0.5 at test time. Inverted
dropout moves the scaling to training time instead: kept units are multiplied by
1 / (1 - p), so every unit's expected training output equals its input and the test-time
network is the plain, unscaled one. The two schemes give the same expected activations;
only where the factor is applied differs.
"""

from __future__ import annotations

from typing import Any

from minialex import backend
from minialex.functional._checks import (
    as_tensor,
    check_finite,
    check_floating,
    check_probability,
)
from minialex.tensor import Tensor

__all__ = ["dropout"]


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: Any = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the survivors by 1 / (1 - p).

    Identity when ``training`` is False or ``p == 0``; all zeros when ``p == 1``. The mask is
    drawn from ``rng`` or else the backend's global generator (``backend.manual_seed`` makes
    it reproducible), from uniform numbers in x's dtype (no float64 temporaries for float32),
    and backward multiplies by the same mask. The paper's scheme (no scaling in training,
    outputs x0.5 at test time) gives the same expected activations; only the place of the
    factor differs.

    x: any shape -> same shape and dtype.
    """
    layer = "dropout"
    x = as_tensor(x, layer)
    p = check_probability(layer, p)
    check_floating(layer, x)
    check_finite(layer, x)
    if not training or p == 0:
        return x
    xp = backend.get_array_module(x.data)
    if p == 1:
        out_data = xp.zeros_like(x.data)

        def _backward_zero(g: Any) -> None:
            x.accumulate_grad(xp.zeros_like(g), owned=True)
        return Tensor.from_op(out_data, (x,), _backward_zero, op="dropout")

    if rng is None:
        rng = backend.get_rng(like=x.data)
    # Uniform numbers in x's dtype: a float32 input never allocates a float64 array.
    keep = rng.random(x.shape, dtype=x.dtype) >= p
    scale = 1.0 / (1.0 - p)
    out_data = x.data * keep
    out_data *= scale

    def _backward(g: Any) -> None:
        grad = g * keep
        grad *= scale
        x.accumulate_grad(grad, owned=True)
    return Tensor.from_op(out_data, (x,), _backward, op="dropout")
