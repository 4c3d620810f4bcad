"""PyTorch interoperability: mirror a minialex model as ``torch.nn`` modules with the same weights.

Used as an oracle by the tests (same weights, same input -> same logits) and as the
reference in the benchmarks. PyTorch is optional and imported only when called.
``load_weights`` (from ``minialex.weights``) reads PyTorch, safetensors and npz files
without PyTorch.
LRN is the one layer whose arguments differ: PyTorch divides alpha by the window size, so
the paper's alpha becomes ``alpha * size`` on the torch side.
"""

from __future__ import annotations

from typing import Any

from minialex import nn as mnn
from minialex.weights import WeightsError, load_weights

__all__ = ["to_torch", "load_weights", "WeightsError"]


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError("to_torch needs PyTorch: pip install -e \".[torch]\" "
                           "(or pip install torch==2.13.0 for the CPU wheel)") from exc
    return torch


def _layer(torch: Any, m: mnn.Module) -> Any:
    """The torch.nn equivalent of one minialex leaf layer (weights copied)."""
    tnn = torch.nn
    if isinstance(m, mnn.Conv2d):
        layer = tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                           groups=m.groups, bias=m.bias is not None)
    elif isinstance(m, mnn.Linear):
        layer = tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    elif isinstance(m, mnn.MaxPool2d):
        return tnn.MaxPool2d(m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode)
    elif isinstance(m, mnn.AvgPool2d):
        return tnn.AvgPool2d(m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode)
    elif isinstance(m, mnn.AdaptiveAvgPool2d):
        return tnn.AdaptiveAvgPool2d(m.output_size)
    elif isinstance(m, mnn.LocalResponseNorm):
        return tnn.LocalResponseNorm(m.size, alpha=m.alpha * m.size, beta=m.beta, k=m.k)
    elif isinstance(m, (mnn.BatchNorm1d, mnn.BatchNorm2d)):
        cls = tnn.BatchNorm1d if isinstance(m, mnn.BatchNorm1d) else tnn.BatchNorm2d
        layer = cls(m.num_features, eps=m.eps, momentum=m.momentum)
    elif isinstance(m, mnn.Dropout):
        return tnn.Dropout(m.p)
    elif isinstance(m, mnn.ReLU):
        return tnn.ReLU()
    elif isinstance(m, mnn.Tanh):
        return tnn.Tanh()
    elif isinstance(m, mnn.Sigmoid):
        return tnn.Sigmoid()
    elif isinstance(m, mnn.Flatten):
        return tnn.Flatten(m.start_dim, m.end_dim)
    else:
        raise TypeError(f"to_torch: no PyTorch equivalent known for {type(m).__name__}")
    state = {name: torch.from_numpy(v) for name, v in m.state_dict().items()}  # host copies
    layer.load_state_dict(state, strict=False)
    return layer


def to_torch(model: mnn.Module) -> Any:
    """A ``torch.nn.Sequential`` with the same layers (names kept) and weights as ``model``.

    ``model`` is a minialex leaf layer or a chain of them (Sequential / AlexNet). The mirror is
    float32 on the CPU and in the same train/eval mode.
    """
    torch = _torch()
    children = list(model.named_children()) or [("0", model)]
    mirror = torch.nn.Sequential()
    for name, child in children:
        if list(child.named_children()):
            mirror.add_module(name, to_torch(child))
        else:
            mirror.add_module(name, _layer(torch, child))
    mirror.train(model.training)
    return mirror
