"""Normalisation modules: LocalResponseNorm (paper convention) and BatchNorm1d/2d."""

from __future__ import annotations

from typing import Any

from minialex import backend
from minialex.functional._checks import (
    as_tensor,
    check_bool,
    check_positive_int,
    check_rank,
    check_real,
)
from minialex.functional.norm import batch_norm, local_response_norm
from minialex.nn.module import Module, Parameter
from minialex.tensor import Tensor

__all__ = ["LocalResponseNorm", "BatchNorm1d", "BatchNorm2d"]


class LocalResponseNorm(Module):
    """Local response normalisation across channels with the AlexNet paper's formula.

    ``b = a / (k + alpha * sum of a**2 over size neighbouring channels) ** beta``; defaults
    are the paper's (5, 1e-4, 0.75, 2). Unlike ``torch.nn.LocalResponseNorm``, alpha is NOT
    divided by size: ``LocalResponseNorm(n, alpha)`` here equals torch's
    ``LocalResponseNorm(n, alpha * n)``. x: (N, C, H, W) -> same shape.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 2.0) -> None:
        super().__init__()
        self.size = check_positive_int("LocalResponseNorm", "size", size)
        self.alpha = check_real("LocalResponseNorm", "alpha", alpha)
        self.beta = check_real("LocalResponseNorm", "beta", beta)
        self.k = check_real("LocalResponseNorm", "k", k)

    def forward(self, x: Any) -> Tensor:
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class _BatchNorm(Module):
    """Shared body of BatchNorm1d/2d: per-channel weight/bias and running statistics."""

    _ranks: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check_positive_int(name, "num_features", num_features)
        self.eps = check_real(name, "eps", eps, 0.0)
        self.momentum = check_real(name, "momentum", momentum, 0.0, 1.0)
        self.affine = check_bool(name, "affine", affine)
        self.track_running_stats = check_bool(name, "track_running_stats", track_running_stats)
        xp, f32 = backend.xp(), backend.np.float32
        self.weight = Parameter(xp.ones(num_features, dtype=f32)) if affine else None
        self.bias = Parameter(xp.zeros(num_features, dtype=f32)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=f32)))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=f32)))
        else:
            self.running_mean = None
            self.running_var = None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1

    def forward(self, x: Any) -> Tensor:
        name = type(self).__name__
        x = as_tensor(x, name)
        check_rank(name, x, self._ranks, self._layout)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels (axis 1) in input "
                             f"{self._layout}, got shape {x.shape}")
        # Without running statistics there is nothing to evaluate with: batch stats always.
        use_batch = self.training or not self.track_running_stats
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          use_batch, self.momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) features or (N, C, L) sequences; statistics per channel C."""

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) feature maps; statistics per channel over N, H and W."""

    _ranks = (4,)
    _layout = "(N, C, H, W)"
