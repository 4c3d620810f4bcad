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
    check_bool,
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
    training = check_bool(layer, "training", training)
    check_floating(layer, x)
    check_finite(layer, x)
    bad_rng = (f"rng must be a generator such as backend.default_rng(seed, like=x), got "
               f"{type(rng).__name__}")
    if rng is not None and not callable(getattr(rng, "random", None)):
        raise TypeError(f"{layer}: {bad_rng}")
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
    try:  # uniform numbers in x's dtype: a float32 input never allocates a float64 array
        keep = rng.random(x.shape, dtype=x.dtype) >= p
    except TypeError as exc:
        raise TypeError(f"{layer}: {bad_rng} ({exc})") from None
    if backend.get_array_module(keep) is not xp or getattr(keep, "shape", None) != x.shape:
        raise TypeError(f"{layer}: rng gave {type(keep).__name__} of shape "
                        f"{getattr(keep, 'shape', None)}, expected a {x.device} array of shape "
                        f"{x.shape}: use backend.default_rng(seed, like=x)")
    scale = 1.0 / (1.0 - p)
    out_data = x.data * keep
    out_data *= scale

    def _backward(g: Any) -> None:
        grad = g * keep
        grad *= scale
        x.accumulate_grad(grad, owned=True)
    return Tensor.from_op(out_data, (x,), _backward, op="dropout")
