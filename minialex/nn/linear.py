"""Fully connected layer and flatten modules."""

from __future__ import annotations

import math
from typing import Any

from minialex import backend
from minialex.functional._checks import check_positive_int
from minialex.functional.linear import flatten, linear
from minialex.nn import init
from minialex.nn.module import Module, Parameter
from minialex.tensor import Tensor

__all__ = ["Linear", "Flatten"]


class Linear(Module):
    """y = x @ weight.T + bias.

    weight: (out_features, in_features), bias: (out_features,), float32, initialised as in
    PyTorch: weight by ``kaiming_uniform_(a=sqrt(5))`` and bias from U(-b, b), both with
    b = 1 / sqrt(in_features). x: (N, in_features) -> (N, out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = check_positive_int("Linear", "in_features", in_features)
        self.out_features = check_positive_int("Linear", "out_features", out_features)
        xp = backend.xp()
        self.weight = Parameter(xp.empty((out_features, in_features), dtype=backend.np.float32))
        self.bias = (Parameter(xp.empty((out_features,), dtype=backend.np.float32))
                     if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge axes start_dim..end_dim: (N, 256, 6, 6) -> (N, 9216) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Any) -> Tensor:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
