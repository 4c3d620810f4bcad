"""Pooling: max (overlapping 3/2 as in AlexNet), average, adaptive average. (TO BE IMPLEMENTED)"""

from __future__ import annotations

from minialex.tensor import Tensor


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False) -> Tensor:
    raise NotImplementedError


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False) -> Tensor:
    raise NotImplementedError


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    raise NotImplementedError
