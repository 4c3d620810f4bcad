"""Fully connected layer and flatten. (TO BE IMPLEMENTED)"""

from __future__ import annotations

from minialex.tensor import Tensor


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """x: (N, in), w: (out, in) as in PyTorch, b: (out,) -> (N, out)."""
    raise NotImplementedError


def flatten(x: Tensor, start_dim: int = 1) -> Tensor:
    raise NotImplementedError
