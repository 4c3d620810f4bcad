"""AlexNet and the variants the literature actually ran, built from named layers.

``alexnet(variant, ...)`` returns a flat chain of readable layers (``conv1, relu1, lrn1, pool1,
conv2, ..., flatten, fc6, relu6, drop6, fc7, ..., fc8``) so ``minialex.trace`` prints the shape
arithmetic layer by layer; fc6's input size is never typed in but inferred from the input size.
``VARIANTS`` holds each variant's hyper-parameters and source. What each variant is, where it
comes from and how it is initialised: docs/alexnet_variants.md.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from minialex import nn
from minialex.functional._checks import check_positive_int
from minialex.models.pretrained import load_pretrained
from minialex.nn import init
from minialex.nn.module import Module, Sequential
from minialex.nn.rules import describe
from minialex.nn.shapes import LayerError, infer_shape
from minialex.tensor import Tensor

__all__ = ["AlexNet", "VariantSpec", "VARIANTS", "alexnet"]


@dataclass(frozen=True)
class VariantSpec:
    """What defines a variant: metadata for listings and the architecture's hyper-parameters.

    ``convs`` lists (out_channels, kernel, stride, padding, groups) for conv1..conv5; pools
    follow blocks 1, 2 and the last one; ``hidden`` are the hidden FC widths.
    """

    name: str
    source: str
    input_shape: tuple[int, int, int]
    description: str
    convs: tuple[tuple[int, int, int, int, int], ...]
    hidden: tuple[int, ...]
    num_classes: int = 1000
    pool: str = "3x3/2"
    pool_padding: int = 0
    lrn: bool = False
    batch_norm: bool = False
    adaptive_pool: int | None = None
    dropout: float = 0.5
    dropout_placement: str = "after"  # "after" relu6/relu7 (paper) or "before" fc6/fc7
    init: str = "paper"  # "paper", "torch", "keras", "kaiming"


_PAPER = ("Krizhevsky, Sutskever, Hinton, \"ImageNet Classification with Deep Convolutional "
          "Neural Networks\" (2012)")
_TWEAK = "Sahu, Dash, Gamboa, Rey, Sutjaritvorakul, \"Tweaking the AlexNet\" (2016)"
_PAPER_CONVS = ((96, 11, 4, 0, 1), (256, 5, 1, 2, 2), (384, 3, 1, 1, 1), (384, 3, 1, 1, 2),
                (256, 3, 1, 1, 2))

VARIANTS: dict[str, VariantSpec] = {v.name: v for v in (
    VariantSpec("paper", _PAPER, (3, 227, 227),
                "the two-GPU original as one model: groups=2 in conv2/4/5, ReLU -> LRN -> "
                "overlapping max-pool",
                _PAPER_CONVS, (4096, 4096), lrn=True),
    VariantSpec("single", "\"AlexNet\" Keras notebook (no author given): its layer table",
                (3, 227, 227), "the paper's network on one GPU (groups=1 everywhere)",
                tuple(c[:4] + (1,) for c in _PAPER_CONVS), (4096, 4096), lrn=True),
    VariantSpec("torchvision", "torchvision.models.alexnet (PyTorch)", (3, 224, 224),
                "64/192/384/256/256 filters, conv1 padding 2, no LRN, adaptive 6x6 avg pool",
                ((64, 11, 4, 2, 1), (192, 5, 1, 2, 1), (384, 3, 1, 1, 1), (256, 3, 1, 1, 1),
                 (256, 3, 1, 1, 1)), (4096, 4096), adaptive_pool=6,
                dropout_placement="before", init="torch"),
    VariantSpec("keras-bn", "Dutta, \"AlexNet in a Nutshell\" (2020); \"AlexNet\" Keras notebook",
                (3, 224, 224), "Keras AlexNet, 17 flower classes: conv2 11x11 valid, 2x2/2 "
                "pools, BatchNorm, dropout 0.4",
                ((96, 11, 4, 0, 1), (256, 11, 1, 0, 1), (384, 3, 1, 0, 1), (384, 3, 1, 0, 1),
                 (256, 3, 1, 0, 1)), (4096, 4096, 1000), num_classes=17, pool="2x2/2",
                batch_norm=True, dropout=0.4, init="keras"),
    VariantSpec("cifar-small", f"{_TWEAK}: small-AlexNet", (3, 32, 32),
                "64/192/384/256/256 filters, sized for 32x32 images, He init",
                ((64, 11, 2, 5, 1), (192, 5, 1, 2, 1), (384, 3, 1, 1, 1), (256, 3, 1, 1, 1),
                 (256, 3, 1, 1, 1)), (384, 192), num_classes=10, pool_padding=1,
                init="kaiming"),
    VariantSpec("original-100", f"{_TWEAK}: original-AlexNet", (3, 227, 227),
                "one tower with 100 filters in conv1 and conv2, then 384, 384, 256",
                ((100, 11, 4, 0, 1), (100, 5, 1, 2, 1), (384, 3, 1, 1, 1), (384, 3, 1, 1, 1),
                 (256, 3, 1, 1, 1)), (4096, 4096), lrn=True),
)}

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
_OPTIONS = ("num_classes", "activation", "num_conv", "dropout", "lrn", "pool", "ceil_mode",
            "fc_bias", "input_shape", "width", "batch_norm", "init", "weights")
_POOL_SPEC = re.compile(r"^(\d+)x(\d+)/(\d+)$")


class AlexNet(Sequential):
    """An AlexNet variant: named layers applied in order, plus what it was built for.

    ``variant``, ``input_shape`` (C, H, W), ``width`` (the multiplier it was built with) and
    ``stages`` (title, layer names) describe it; ``num_classes`` is the output layer's width.
    x: (N, C, H, W) -> logits (N, num_classes). A layer that fails names itself in the error.
    """

    def __init__(self, layers: OrderedDict[str, Module], variant: str,
                 input_shape: tuple[int, int, int], stages: list[tuple[str, list[str]]],
                 width: float = 1.0) -> None:
        super().__init__(layers)
        self.variant = variant
        self.input_shape = input_shape
        self.stages = stages
        self.width = width

    @property
    def num_classes(self) -> int:
        """Number of class scores: out_features of the last fully connected layer."""
        last = [m for m in self._modules.values() if isinstance(m, nn.Linear)][-1]
        return last.out_features

    def forward(self, x: Tensor) -> Tensor:
        for name, layer in self._modules.items():
            try:
                x = layer(x)
            except LayerError:
                raise
            except ValueError as exc:
                raise LayerError(f"{name} ({describe(layer)}): {exc}", layer=name) from exc
        return x

    def extra_repr(self) -> str:
        scaled = f", width={self.width:g}" if self.width != 1.0 else ""
        return f"variant={self.variant!r}, input_shape={self.input_shape}{scaled}"


def _choice(option: str, value: Any, valid: tuple[Any, ...]) -> Any:
    if value not in valid:
        raise ValueError(f"alexnet: {option} must be one of {', '.join(map(repr, valid))}; "
                         f"got {value!r}")
    return value


def _parse_pool(spec: str) -> tuple[int, int]:
    match = _POOL_SPEC.match(str(spec).replace(" ", ""))
    if not match or match.group(1) != match.group(2) or int(match.group(3)) < 1:
        raise ValueError(f"alexnet: pool must look like '3x3/2' or '2x2/2' (square window / "
                         f"stride); got {spec!r}")
    return int(match.group(1)), int(match.group(3))


def _scaled_convs(convs: tuple[tuple[int, int, int, int, int], ...], width: float
                  ) -> list[tuple[int, int, int, int, int]]:
    """``convs`` with out_channels times ``width``, rounded to the nearest multiple of every
    groups count that has to divide them: this conv's (its outputs) and the next one's (its
    inputs), at least one such multiple."""
    scaled = []
    for i, (out, k, s, p, groups) in enumerate(convs):
        following = convs[i + 1][4] if i + 1 < len(convs) else 1
        step = math.lcm(groups, following)
        scaled.append((max(step, math.floor(out * width / step + 0.5) * step), k, s, p, groups))
    return scaled


def alexnet(variant: str = "paper", num_classes: int | None = None, activation: str = "relu",
            num_conv: int = 5, dropout: float | None = None, lrn: bool | None = None,
            pool: str | None = None, ceil_mode: bool = False, fc_bias: bool = True,
            input_shape: tuple[int, int, int] | None = None, width: float = 1.0,
            batch_norm: bool | None = None, init: str | None = None,
            weights: str | os.PathLike[str] | None = None, **unknown: Any) -> AlexNet:
    """Build an AlexNet ``variant`` (see ``VARIANTS``); ``None`` options take its defaults.

    Options (on every variant):
        num_classes: outputs of the last layer.
        activation: "relu" or "tanh" (the tanh-AlexNet of "Tweaking the AlexNet").
        num_conv: 5, 4 or 3: drop conv5 (and conv4); the last block keeps its max-pool
            (the ablation of Waghmare, "AlexNet for Deep Convolutional Neural Networks").
        dropout: drop probability of the dropout layers; 0 removes them.
        lrn: local response normalisation after the activation in blocks 1 and 2.
        pool: max-pool window/stride such as "3x3/2" (overlapping) or "2x2/2".
        ceil_mode: round pool output sizes up instead of down.
        fc_bias: False leaves out the fully connected biases (as one published count does).
        input_shape: (C, H, W) to size fc6 for; default the variant's own.
        width: multiplier in (0, 1] for the conv filter counts and hidden FC widths (not the
            output layer); filter counts round to the nearest multiple of the groups that
            split them, FC widths to the nearest integer, each at least 1 group / unit.
            ``alexnet("cifar-small", width=1/8, num_classes=8, input_shape=(3, 16, 16))``
            is a lesson-sized AlexNet; 1.0 (default) is the variant as published.
        batch_norm: BatchNorm after every conv block and hidden FC layer (as ``keras-bn``).
        init: "paper", "torch", "keras" or "kaiming" (docs/alexnet_variants.md); default the
            variant's own, e.g. ``original-100`` with ``init="kaiming"`` starts like
            ``cifar-small``.
        weights: a weights file to load after building (``minialex.weights.load_weights``
            formats), e.g. torchvision's ``alexnet-owt-7be5be79.pth`` for ``"torchvision"``;
            torchvision's names are mapped (``models.pretrained``), every shape is checked.
    Returns an AlexNet whose layers are named conv1, relu1, lrn1, pool1, ..., fc8.
    Raises ValueError for an unknown variant or option (listing the valid ones) and a
    LayerError (a ValueError) naming the layer when the input size cannot pass through.
    """
    if unknown:
        raise ValueError(f"alexnet: unknown option(s) {', '.join(sorted(unknown))}; valid "
                         f"options are {', '.join(_OPTIONS)}")
    if variant not in VARIANTS:
        raise ValueError(f"alexnet: unknown variant {variant!r}; valid variants are "
                         f"{', '.join(VARIANTS)}")
    spec = VARIANTS[variant]
    _choice("activation", activation, tuple(_ACTIVATIONS))
    _choice("num_conv", num_conv, (3, 4, 5))
    num_classes = spec.num_classes if num_classes is None else num_classes
    num_classes = check_positive_int("alexnet", "num_classes", num_classes)
    p_drop = spec.dropout if dropout is None else float(dropout)
    if not 0.0 <= p_drop < 1.0:
        raise ValueError(f"alexnet: dropout must be in [0, 1), got {dropout!r}")
    if lrn is not None and not isinstance(lrn, bool):
        raise ValueError(f"alexnet: lrn must be True, False or None (the variant's default); "
                         f"got {lrn!r}")
    use_lrn = spec.lrn if lrn is None else lrn
    if batch_norm is not None and not isinstance(batch_norm, bool):
        raise ValueError(f"alexnet: batch_norm must be True, False or None (the variant's "
                         f"default); got {batch_norm!r}")
    use_bn = spec.batch_norm if batch_norm is None else batch_norm
    init_name = spec.init if init is None else _choice("init", init, tuple(_INITIALISERS))
    kernel, stride = _parse_pool(spec.pool if pool is None else pool)
    shape = spec.input_shape if input_shape is None else tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"alexnet: input_shape must be (C, H, W), got {input_shape!r}")
    if (isinstance(width, bool) or not isinstance(width, numbers.Real)
            or not 0.0 < float(width) <= 1.0):
        raise ValueError(f"alexnet: width must be a number in (0, 1] (a fraction of the "
                         f"variant's filter counts and FC widths); got {width!r}")
    width = float(width)
    convs = _scaled_convs(spec.convs, width)
    hiddens = [max(1, math.floor(h * width + 0.5)) for h in spec.hidden]

    act = _ACTIVATIONS[activation]
    layers: OrderedDict[str, Module] = OrderedDict()
    stages: list[tuple[str, list[str]]] = []

    def stage(title: str, *named: tuple[str, Module]) -> None:
        layers.update(named)
        stages.append((title, [n for n, _ in named]))

    channels = shape[0]
    for i, (out, k, s, p, groups) in enumerate(convs[:num_conv], start=1):
        block: list[tuple[str, Module]] = [
            (f"conv{i}", nn.Conv2d(channels, out, k, stride=s, padding=p, groups=groups)),
            (f"{activation}{i}", act())]
        if use_lrn and i <= 2:
            block.append((f"lrn{i}", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)))
        if i <= 2 or i == num_conv:
            block.append((f"pool{i}", nn.MaxPool2d(kernel, stride, padding=spec.pool_padding,
                                                   ceil_mode=ceil_mode)))
        if use_bn:
            block.append((f"bn{i}", nn.BatchNorm2d(out)))
        stage(_block_title(i, block, groups), *block)
        channels = out

    head: list[tuple[str, Module]] = []
    if spec.adaptive_pool:
        head.append(("avgpool", nn.AdaptiveAvgPool2d((spec.adaptive_pool, spec.adaptive_pool))))
    head.append(("flatten", nn.Flatten()))
    layers.update(head)
    features = infer_shape(Sequential(layers), shape)  # raises LayerError naming the layer
    stages.append((f"feature maps to one vector of {features[0]:,} values", [n for n, _ in head]))

    n_in = features[0]
    for j, hidden in enumerate(hiddens, start=6):
        drop = [(f"drop{j}", nn.Dropout(p_drop))] if p_drop > 0 else []
        fc = [(f"fc{j}", nn.Linear(n_in, hidden, bias=fc_bias)), (f"{activation}{j}", act())]
        block = drop + fc if spec.dropout_placement == "before" else fc + drop
        if use_bn:
            block.append((f"bn{j}", nn.BatchNorm1d(hidden)))
        stage(f"fully connected fc{j}: {n_in:,} -> {hidden:,}", *block)
        n_in = hidden
    last = f"fc{6 + len(hiddens)}"
    stage(f"output {last}: {n_in:,} -> {num_classes:,} class scores",
          (last, nn.Linear(n_in, num_classes, bias=fc_bias)))

    model = AlexNet(layers, variant, shape, stages, width)
    _INITIALISERS[init_name](model, activation)
    if weights is not None:
        load_pretrained(model, weights, what=f"alexnet({variant!r})")
    return model


def _block_title(i: int, block: list[tuple[str, Module]], groups: int) -> str:
    names = {"Conv2d": "conv", "ReLU": "ReLU", "Tanh": "tanh", "LocalResponseNorm": "LRN",
             "MaxPool2d": "max-pool", "BatchNorm2d": "BatchNorm"}
    steps = " -> ".join(names.get(type(m).__name__, type(m).__name__) for _, m in block)
    return f"block {i}: {steps}" + (f" (conv split in {groups} groups)" if groups > 1 else "")


# ---------------------------------------------------------------------------- initialisation
def _weighted(model: AlexNet) -> list[tuple[str, Module]]:
    return [(n, m) for n, m in model.named_children() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _init_paper(model: AlexNet, activation: str) -> None:
    """Weights N(0, 0.01); biases 1 in conv2, conv4, conv5 and hidden FC layers, else 0."""
    layers = _weighted(model)
    output = layers[-1][0]
    ones = {"conv2", "conv4", "conv5"} | {n for n, _ in layers if n.startswith("fc")} - {output}
    for name, layer in layers:
        init.normal_(layer.weight, 0.0, 0.01)
        if layer.bias is not None:
            init.constant_(layer.bias, 1.0 if name in ones else 0.0)


def _init_torch(model: AlexNet, activation: str) -> None:
    """PyTorch's defaults, which the layers already apply when they are created."""


def _init_keras(model: AlexNet, activation: str) -> None:
    """Keras' defaults: Glorot-uniform weights, zero biases (BatchNorm starts at 1 and 0)."""
    for _, layer in _weighted(model):
        init.xavier_uniform_(layer.weight)
        if layer.bias is not None:
            init.zeros_(layer.bias)


def _init_kaiming(model: AlexNet, activation: str) -> None:
    """He normal (ReLU) or Glorot normal with the tanh gain; small output layer, zero biases."""
    layers = _weighted(model)
    for name, layer in layers:
        if name == layers[-1][0]:
            init.normal_(layer.weight, 0.0, 0.01)
        elif activation == "relu":
            init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        else:
            init.xavier_normal_(layer.weight, gain=init.calculate_gain("tanh"))
        if layer.bias is not None:
            init.zeros_(layer.bias)


_INITIALISERS = {"paper": _init_paper, "torch": _init_torch, "keras": _init_keras,
                 "kaiming": _init_kaiming}
