"""Activations: relu, tanh, sigmoid, softmax, log_softmax. (TO BE IMPLEMENTED)"""

from __future__ import annotations

from minialex.tensor import Tensor


def relu(x: Tensor) -> Tensor:
    raise NotImplementedError


def tanh(x: Tensor) -> Tensor:
    raise NotImplementedError


def sigmoid(x: Tensor) -> Tensor:
    raise NotImplementedError


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    raise NotImplementedError


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    raise NotImplementedError
