"""Pooling modules around ``minialex.functional.pool``."""

from __future__ import annotations

from minialex.functional._checks import check_bool, check_window
from minialex.functional.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from minialex.nn.module import Module
from minialex.tensor import Tensor

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


def _show(value: tuple[int, int]) -> int | tuple[int, int]:
    """PyTorch prints the pooling arguments as given: 3 rather than (3, 3)."""
    return value[0] if value[0] == value[1] else value


class _Pool2d(Module):
    """Shared arguments: ``kernel_size``, ``stride`` (default: the kernel), ``padding``,
    ``ceil_mode``. Sizes are stored as (height, width) pairs for the trace and the summary."""

    _name = "Pool2d"

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = check_window(
            self._name, kernel_size, stride, padding, half_kernel_padding=True)
        self.ceil_mode = check_bool(self._name, "ceil_mode", ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)}, "
                f"padding={_show(self.padding)}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_Pool2d):
    """Max pooling; AlexNet uses ``MaxPool2d(3, 2)`` (overlapping windows).
    x: (N, C, H, W) -> (N, C, OH, OW)."""

    _name = "MaxPool2d"

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class AvgPool2d(_Pool2d):
    """Average pooling, padding counted in the mean (PyTorch's default).
    x: (N, C, H, W) -> (N, C, OH, OW)."""

    _name = "AvgPool2d"

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (int, pair, or pair with None = keep);
    torchvision's AlexNet uses ``AdaptiveAvgPool2d((6, 6))``. x: (N, C, H, W) -> (N, C, OH, OW).
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
