"""Shape inference from the arithmetic alone: what each leaf layer of a model makes of one
sample, recorded as ``LayerRecord``s, and the ``LayerError`` naming the layer that cannot take
its input together with the sizes so far. ``minialex.models`` sizes fc6 with ``infer_shape``;
``minialex.trace`` and ``minialex.summary`` build on the same records.

Counting conventions: non-trainable parameters are the frozen parameters plus the BatchNorm
running mean and variance (buffers named ``running_*``), as Keras counts them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from minialex.nn.module import Module
from minialex.nn.rules import Shape, describe, fmt_shape, layer_arithmetic, layer_kind, mult_adds
from minialex.tensor import Tensor

__all__ = ["LayerError", "LayerRecord", "infer_shape", "layer_record", "leaves",
           "count_params", "stat_buffers", "size_history", "layer_error", "fmt_shape"]


@dataclass
class LayerRecord:
    """One leaf layer as it ran. Shapes are per sample (no batch axis)."""

    name: str
    type: str
    description: str
    input_shape: Shape
    output_shape: Shape
    arithmetic: str
    notes: list[str]
    params: int
    trainable: int
    non_trainable: int
    mult_adds: int
    mult_adds_bias: int
    kind: str  # "conv", "fc" or "other"


class LayerError(ValueError):
    """A layer cannot take the shape it receives; ``layer`` is its name in the model."""

    def __init__(self, message: str, layer: str = "",
                 records: Sequence[LayerRecord] = ()) -> None:
        super().__init__(message)
        self.layer = layer
        self.records = list(records)  # the layers that did fit, before this one


def count_params(module: Module) -> tuple[int, int]:
    """(trainable, non_trainable) of one module and its children.

    Non-trainable: frozen parameters plus the buffers named ``running_*`` (BatchNorm's running
    mean and variance), as Keras counts them; other buffers (counters, masks) are not counted.
    """
    trainable = frozen = 0
    for p in module.parameters():
        if p.requires_grad:
            trainable += p.size
        else:
            frozen += p.size
    frozen += sum(b.size for b in stat_buffers(module))
    return trainable, frozen


def stat_buffers(module: Module) -> Iterator[Tensor]:
    """The buffers counted as non-trainable parameters: those named ``running_*``."""
    for name, b in module.named_buffers():
        if name.rsplit(".", 1)[-1].startswith("running_"):
            yield b


def layer_record(name: str, module: Module, in_shape: Shape) -> LayerRecord:
    """The arithmetic and counts of one layer for one sample of ``in_shape``.

    Raises ValueError (not naming the layer) when it cannot take the shape, LookupError when
    its type has no rule in ``minialex.nn.rules``.
    """
    out, text, notes = layer_arithmetic(module, in_shape)
    trainable, frozen = count_params(module)
    macs, macs_bias = mult_adds(module, out)
    return LayerRecord(name, type(module).__name__, describe(module), tuple(in_shape), out,
                       text, notes, trainable + frozen, trainable, frozen, macs, macs_bias,
                       layer_kind(module))


def leaves(model: Module) -> list[tuple[str, Module]]:
    """(name, layer) of every module without children, in order; a bare layer names itself."""
    found = [(n, m) for n, m in model.named_modules() if not m._modules]
    return [(n or type(m).__name__.lower(), m) for n, m in found]


def size_history(input_shape: Shape, records: Sequence[LayerRecord]) -> str:
    """Where the size went: "227 -> 55 (conv1) -> 27 (pool1) -> ..." (spatial changes only)."""
    def size(shape: Shape) -> str:
        if len(shape) != 3:
            return fmt_shape(shape)[4:-1] if len(shape) > 1 else str(shape[0])
        return str(shape[1]) if shape[1] == shape[2] else f"{shape[1]}x{shape[2]}"

    parts = [size(input_shape)]
    for r in records:
        if size(r.output_shape) != size(r.input_shape):
            parts.append(f"{size(r.output_shape)} ({r.name})")
    return " -> ".join(parts)


def layer_error(name: str, module: Module, in_shape: Shape, reason: Any,
                input_shape: Shape, records: Sequence[LayerRecord]) -> LayerError:
    """The LayerError for layer ``name`` refusing ``in_shape``, with the sizes so far."""
    return LayerError(f"{name} ({describe(module)}) cannot take input {fmt_shape(in_shape)}: "
                      f"{reason}. Sizes so far: {size_history(input_shape, records)}",
                      name, records)


def infer_shape(model: Module, input_shape: Shape) -> Shape:
    """Output shape of a chain of layers (a Sequential) from the arithmetic alone, no data.

    Used to size fc6 from whatever the convolutions produce. Raises LayerError naming the
    first layer that cannot take its input.
    """
    shape = tuple(int(v) for v in input_shape)
    records: list[LayerRecord] = []
    for name, module in leaves(model):
        try:
            records.append(layer_record(name, module, shape))
        except ValueError as exc:
            raise layer_error(name, module, shape, exc, tuple(input_shape), records) from None
        shape = records[-1].output_shape
    return shape
