"""Convolution: im2col + one GEMM per group forward, col2im backward. (TO BE IMPLEMENTED)"""

from __future__ import annotations

from minialex.tensor import Tensor


def conv2d(x: Tensor, w: Tensor, b: Tensor | None = None, stride=1, padding=0,
           groups: int = 1) -> Tensor:
    """x: (N, C_in, H, W), w: (C_out, C_in/groups, KH, KW), b: (C_out,) -> (N, C_out, OH, OW)."""
    raise NotImplementedError
