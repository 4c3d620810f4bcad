"""Normalisation: local response normalisation (paper formula) and batch norm. (TO BE IMPLEMENTED)"""

from __future__ import annotations

from minialex.tensor import Tensor


def local_response_norm(x: Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 2.0) -> Tensor:
    raise NotImplementedError


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    raise NotImplementedError
