"""Conv2d module: a weight and a bias around ``minialex.functional.conv2d``."""

from __future__ import annotations

import math

from minialex import backend
from minialex.functional._checks import check_positive_int, check_window
from minialex.functional.conv import conv2d
from minialex.nn import init
from minialex.nn.module import Module, Parameter
from minialex.tensor import Tensor

__all__ = ["Conv2d"]


class Conv2d(Module):
    """2-D convolution with PyTorch's arguments.

    weight: (out_channels, in_channels/groups, KH, KW), bias: (out_channels,), float32,
    initialised as PyTorch does by default: ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-b, b) with
    b = 1/sqrt(fan_in), fan_in = in_channels/groups * KH * KW, and the bias from the same range.
    (AlexNet's own N(0, 0.01) initialisation is applied by the model with ``minialex.nn.init``.)
    x: (N, in_channels, H, W) -> (N, out_channels, OH, OW).

    ``kernel_size``, ``stride`` and ``padding`` are stored as (height, width) pairs, and
    ``groups`` as given, for the shape trace and the summary to read.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = check_positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = check_positive_int("Conv2d", "out_channels", out_channels)
        self.groups = check_positive_int("Conv2d", "groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide both in_channels="
                             f"{in_channels} and out_channels={out_channels}")
        self.kernel_size, self.stride, self.padding = check_window(
            "Conv2d", kernel_size, stride, padding)
        xp = backend.xp()
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(xp.empty(shape, dtype=backend.np.float32))
        self.bias = (Parameter(xp.empty((out_channels,), dtype=backend.np.float32))
                     if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation (see the class docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
