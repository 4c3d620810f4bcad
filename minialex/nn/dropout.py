"""Dropout module: active in train(), the identity in eval()."""

from __future__ import annotations

from typing import Any

from minialex.functional._checks import check_probability
from minialex.functional.dropout import dropout
from minialex.nn.module import Module
from minialex.tensor import Tensor

__all__ = ["Dropout"]


class Dropout(Module):
    """Inverted dropout with probability ``p`` (AlexNet: 0.5 on fc6 and fc7).

    x: any shape -> same shape. See ``minialex.functional.dropout`` for why no test-time
    scaling is needed.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_probability("Dropout", p)

    def forward(self, x: Any) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
