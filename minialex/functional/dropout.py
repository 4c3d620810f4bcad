"""Inverted dropout. (TO BE IMPLEMENTED)"""

from __future__ import annotations

from minialex.tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    raise NotImplementedError
