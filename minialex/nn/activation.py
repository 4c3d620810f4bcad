"""Activation modules (no parameters)."""

from __future__ import annotations

from typing import Any

from minialex.functional.activation import relu, sigmoid, softmax, tanh
from minialex.nn.module import Module
from minialex.tensor import Tensor

__all__ = ["ReLU", "Tanh", "Sigmoid", "Softmax"]


class ReLU(Module):
    """max(x, 0) elementwise: AlexNet's nonlinearity. x: any shape -> same shape."""

    def forward(self, x: Any) -> Tensor:
        return relu(x)


class Tanh(Module):
    """tanh elementwise (the saturating unit the paper compares ReLU against)."""

    def forward(self, x: Any) -> Tensor:
        return tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return sigmoid(x)


class Softmax(Module):
    """softmax along ``dim``: (N, classes) logits -> class probabilities."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
