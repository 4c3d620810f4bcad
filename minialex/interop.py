"""PyTorch interoperability: mirror a minialex model as ``torch.nn`` modules with the same weights.

Used as an oracle by the tests (same weights, same input -> same logits) and as the
reference in the benchmarks. PyTorch is optional and imported only when called.
Each layer type's twin is its entry in ``minialex.nn.rules.LAYER_RULES`` (LRN's alpha is
multiplied by the window size there, since PyTorch divides it by the size).
``load_weights`` (from ``minialex.weights``) reads PyTorch, safetensors and npz files
without PyTorch.
"""

from __future__ import annotations

from typing import Any

from minialex import nn as mnn
from minialex.nn.rules import rule_for
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
    """The torch.nn equivalent of one minialex leaf layer (weights copied); the layer's rule in
    ``minialex.nn.rules`` says which it is."""
    rule = rule_for(m)
    if rule is None or rule.torch is None:
        raise TypeError(f"to_torch: no PyTorch equivalent known for {type(m).__name__}")
    layer = rule.torch(m, torch.nn)
    state = {name: torch.from_numpy(v) for name, v in m.state_dict().items()}  # host copies
    if state:
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
