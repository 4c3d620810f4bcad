"""One rule per layer type: what the trace, the summary and the PyTorch mirror know about it.

``LAYER_RULES`` maps each layer class to a ``LayerRule``: its one-line description, its shape
arithmetic (the output shape of one sample, the formula with the numbers written out, and
notes on non-integer divisions), its mult-adds, its kind ("conv", "fc" or "other") and its
``torch.nn`` twin. Adding a layer type is one entry (or ``register_layer`` for your own class);
a layer with no rule is still traced, taking whatever shape it returns.

Every spatial size follows from one formula, for a window of size f, stride s and padding p
over an input of length n::

    out = floor((n + 2p - f) / s) + 1

When ``(n + 2p - f) / s`` is not an integer the last window does not reach the end of the
input and the floor silently drops the rightmost rows and columns; every such division is
flagged in the notes. Mult-adds count the multiply-accumulates of the weighted layers only
(pooling, activations, LRN, BatchNorm and dropout count 0); the second number also counts one
add per bias, the convention of some published tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minialex.functional._checks import adaptive_output_size, output_size
from minialex.nn.activation import ReLU, Sigmoid, Softmax, Tanh
from minialex.nn.conv import Conv2d
from minialex.nn.dropout import Dropout
from minialex.nn.linear import Flatten, Linear
from minialex.nn.module import Module
from minialex.nn.norm import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from minialex.nn.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = ["Shape", "LayerRule", "LAYER_RULES", "register_layer", "rule_for", "describe",
           "layer_arithmetic", "mult_adds", "layer_kind", "fmt_shape"]

Shape = tuple[int, ...]  # the shape of ONE sample: no batch axis
Arithmetic = tuple[Shape, str, list[str]]  # output shape, the formula as text, notes


@dataclass(frozen=True)
class LayerRule:
    """What minialex knows about one layer type.

    shape(module, in_shape) -> (out_shape, arithmetic text, notes); raises ValueError when the
        layer cannot take ``in_shape`` (the message need not name the layer).
    describe(module) -> a one-line description such as ``Conv2d(3->96, k=11, s=4, p=0)``
        (default: the class name).
    mult_adds(module, out_shape) -> (mult-adds, mult-adds plus one add per bias), one sample.
    kind: "conv", "fc" or "other" (the summary's conv-vs-FC shares).
    torch(module, torch.nn) -> the equivalent ``torch.nn`` layer, weights not yet copied
        (None: no PyTorch twin). torch is passed in, so this module never imports it.
    """

    shape: Callable[[Any, Shape], Arithmetic]
    describe: Callable[[Any], str] | None = None
    mult_adds: Callable[[Any, Shape], tuple[int, int]] | None = None
    kind: str = "other"
    torch: Callable[[Any, Any], Any] | None = None


# ---------------------------------------------------------------------------- formatting
def fmt_shape(shape: Shape) -> str:
    """(96, 55, 55) -> "(N, 96, 55, 55)": N is the batch axis."""
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


def _num(value: float) -> str:
    """53.25 -> "53.25", 10.3333 -> "10.333", 55.0 -> "55"."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _sci(value: float) -> str:
    """1e-4 -> "1e-4", 0.75 -> "0.75"."""
    return f"{value:.0e}".replace("e-0", "e-") if 0 < abs(value) < 1e-3 else f"{value:g}"


def _pair_text(value: tuple[int, int]) -> str:
    a, b = value
    return str(a) if a == b else f"{a}x{b}"


# ---------------------------------------------------------------------------- the formula
def _dim(n: int, k: int, s: int, p: int, ceil: bool, axis: str) -> tuple[int, str, tuple | None]:
    """Output length along one axis, the formula with numbers, and what a non-integer
    division does (None when s divides n + 2p - f). Raises ValueError when no window fits.
    """
    fn = "ceil" if ceil else "floor"
    span = n + 2 * p - k
    exact = span % s == 0
    rounded = (math.ceil(span / s) if ceil else span // s) + 1
    out = output_size(n, k, s, p, ceil)
    text = (f"{fn}(({n} + 2*{p} - {k}) / {s}) + 1 = "
            + ("" if exact else f"{fn}({_num(span / s)}) + 1 = ") + str(rounded))
    if out != rounded:  # PyTorch's ceil_mode rule
        text += f" -> {out} (a window starting in the padding is dropped)"
    if out < 1:
        padded = f" + 2*{p} padding" if p else ""
        raise ValueError(f"the {k}-wide window does not fit in {_plural(n, axis)}{padded}: {text}")
    if exact:
        return out, text, None
    r = span % s
    if ceil:
        return out, text, ("ceil" if out == rounded else "dropped", _num(span / s), s - r)
    return out, text, ("floor", _num(span / s), max(0, r - p))


def _note(info: tuple, axis: str, both: bool) -> str:
    """The flag printed under a layer whose division is not exact."""
    kind, q, count = info
    if kind == "dropped":
        return (f"not an integer: {q}, rounded up (ceil_mode), but the extra window would "
                "start in the padding and is dropped")
    if kind == "ceil":
        return (f"not an integer: {q}, rounded up (ceil_mode): the last window runs "
                f"{_plural(count, 'pixel')} past the edge and pools fewer values")
    if count == 0:
        return f"not an integer: {q}, floored: only padding is skipped, every pixel is still seen"
    if both:
        what = "row and column" if count == 1 else f"{count} rows and columns"
    else:
        what = axis if count == 1 else f"{count} {axis}s"
    verb = "is" if count == 1 and not both else "are"
    return f"not an integer: {q}, floored: the last {what} of the input {verb} never seen"


def _window(shape: Shape, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
            ceil: bool) -> tuple[tuple[int, int], str, list[str]]:
    """(OH, OW) of a window sliding over a (C, H, W) sample, the formula text (one formula
    when both axes agree) and notes."""
    _expect(shape, 3, "(C, H, W)")
    oh, th, nh = _dim(shape[1], k[0], s[0], p[0], ceil, "row")
    ow, tw, nw = _dim(shape[2], k[1], s[1], p[1], ceil, "column")
    if th == tw:
        return (oh, ow), th, [_note(nh, "row", True)] if nh else []
    notes = [f"{axis}: {_note(info, word, False)}"
             for axis, word, info in (("H", "row", nh), ("W", "column", nw)) if info]
    return (oh, ow), f"H: {th}, W: {tw}", notes


def _expect(shape: Shape, rank: int, layout: str) -> None:
    if len(shape) != rank:
        raise ValueError(f"expects {rank}-D samples {layout}, got {fmt_shape(shape)}")


def _expect_channels(shape: Shape, expected: int, what: str) -> None:
    if shape[0] != expected:
        raise ValueError(f"expects {expected} {what}, got {shape[0]} in {fmt_shape(shape)}")


def _elementwise(text: str) -> Callable[[Any, Shape], Arithmetic]:
    """The shape rule of a layer that keeps its input's shape."""
    return lambda module, shape: (shape, text, [])


# ---------------------------------------------------------------------------- conv, linear
def _conv_shape(m: Conv2d, shape: Shape) -> Arithmetic:
    _expect(shape, 3, "(C, H, W)")
    _expect_channels(shape, m.in_channels, "input channels")
    (oh, ow), text, notes = _window(shape, m.kernel_size, m.stride, m.padding, False)
    return (m.out_channels, oh, ow), text, notes


def _conv_describe(m: Conv2d) -> str:
    groups = f", groups={m.groups}" if m.groups != 1 else ""
    return (f"{type(m).__name__}({m.in_channels}->{m.out_channels}, k={_pair_text(m.kernel_size)}, "
            f"s={_pair_text(m.stride)}, p={_pair_text(m.padding)}{groups})")


def _conv_mult_adds(m: Conv2d, out_shape: Shape) -> tuple[int, int]:
    kh, kw = m.kernel_size
    positions = math.prod(out_shape[1:])
    macs = positions * m.out_channels * (m.in_channels // m.groups) * kh * kw
    return macs, macs + (positions * m.out_channels if m.bias is not None else 0)


def _linear_shape(m: Linear, shape: Shape) -> Arithmetic:
    _expect(shape, 1, "(features,)")
    if shape[0] != m.in_features:
        raise ValueError(f"expects {m.in_features} input features, got {shape[0]}")
    bias = " + b" if m.bias is not None else ""
    text = f"(N, {m.in_features}) @ ({m.in_features}, {m.out_features}){bias}"
    return (m.out_features,), text, []


def _linear_mult_adds(m: Linear, out_shape: Shape) -> tuple[int, int]:
    macs = m.in_features * m.out_features
    return macs, macs + (m.out_features if m.bias is not None else 0)


def _flatten_shape(m: Flatten, shape: Shape) -> Arithmetic:
    full = (None, *shape)  # start_dim/end_dim count the batch axis, as in PyTorch
    start, end = m.start_dim % len(full), m.end_dim % len(full)
    if start == 0:
        raise ValueError("flattening the batch axis is not supported by the trace")
    merged = shape[start - 1:end]
    out = shape[:start - 1] + (math.prod(merged),) + shape[end:]
    return out, "*".join(map(str, merged)) + f" = {math.prod(merged)}", []


# ---------------------------------------------------------------------------- pooling
def _pool_shape(m: MaxPool2d | AvgPool2d, shape: Shape) -> Arithmetic:
    (oh, ow), text, notes = _window(shape, m.kernel_size, m.stride, m.padding, m.ceil_mode)
    return (shape[0], oh, ow), text, notes


def _pool_describe(m: MaxPool2d | AvgPool2d) -> str:
    # nn/pool.py stores kernel_size, stride (default resolved) and padding as pairs
    padding = f", p={_pair_text(m.padding)}" if m.padding != (0, 0) else ""
    ceil = ", ceil_mode" if m.ceil_mode else ""
    return (f"{type(m).__name__}(k={_pair_text(m.kernel_size)}, s={_pair_text(m.stride)}"
            f"{padding}{ceil})")


def _adaptive_shape(m: AdaptiveAvgPool2d, shape: Shape) -> Arithmetic:
    _expect(shape, 3, "(C, H, W)")
    h, w = shape[1:]
    oh, ow = adaptive_output_size(m.output_size, h, w)
    if (h, w) == (oh, ow):
        text = f"{h}x{w} already: identity"
    elif h % oh == 0 and w % ow == 0:
        text = f"{h}x{w} in {oh}x{ow} bins of {h // oh}x{w // ow}"
    else:
        text = f"{h}x{w} in {oh}x{ow} uneven bins (floor/ceil of i*{h}/{oh})"
    return (shape[0], oh, ow), text, []


def _adaptive_describe(m: AdaptiveAvgPool2d) -> str:
    try:  # None (keep the input size) shows as 1; never fail while describing
        oh, ow = adaptive_output_size(m.output_size, 1, 1)
    except (TypeError, ValueError):
        return f"{type(m).__name__}(output_size={m.output_size!r})"
    return f"{type(m).__name__}({oh}x{ow})"


# ---------------------------------------------------------------------------- normalisation
def _batch_norm1d_shape(m: BatchNorm1d, shape: Shape) -> Arithmetic:
    _expect_channels(shape, m.num_features, "features")
    return shape, "normalise per feature", []


def _batch_norm2d_shape(m: BatchNorm2d, shape: Shape) -> Arithmetic:
    _expect(shape, 3, "(C, H, W)")
    _expect_channels(shape, m.num_features, "channels")
    return shape, "normalise per channel", []


def _lrn_shape(m: LocalResponseNorm, shape: Shape) -> Arithmetic:
    _expect(shape, 3, "(C, H, W)")
    return shape, f"normalise over {m.size} channels", []


# ---------------------------------------------------------------------------- the table
def _named(m: Module, text: str) -> str:
    return f"{type(m).__name__}({text})"


def _pool_rule(torch_name: str) -> LayerRule:
    def torch(m: MaxPool2d | AvgPool2d, tnn: Any) -> Any:
        return getattr(tnn, torch_name)(m.kernel_size, m.stride, m.padding,
                                        ceil_mode=m.ceil_mode)
    return LayerRule(_pool_shape, _pool_describe, torch=torch)


LAYER_RULES: dict[type[Module], LayerRule] = {
    Conv2d: LayerRule(
        _conv_shape, _conv_describe, _conv_mult_adds, kind="conv",
        torch=lambda m, tnn: tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                                        m.padding, groups=m.groups, bias=m.bias is not None)),
    Linear: LayerRule(
        _linear_shape, lambda m: _named(m, f"{m.in_features}->{m.out_features}"),
        _linear_mult_adds, kind="fc",
        torch=lambda m, tnn: tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)),
    MaxPool2d: _pool_rule("MaxPool2d"),
    AvgPool2d: _pool_rule("AvgPool2d"),
    AdaptiveAvgPool2d: LayerRule(
        _adaptive_shape, _adaptive_describe,
        torch=lambda m, tnn: tnn.AdaptiveAvgPool2d(m.output_size)),
    # PyTorch divides alpha by the window size: the paper's alpha is torch's alpha / size
    LocalResponseNorm: LayerRule(
        _lrn_shape,
        lambda m: f"LRN(size={m.size}, alpha={_sci(m.alpha)}, beta={m.beta:g}, k={m.k:g})",
        torch=lambda m, tnn: tnn.LocalResponseNorm(m.size, alpha=m.alpha * m.size,
                                                   beta=m.beta, k=m.k)),
    BatchNorm1d: LayerRule(
        _batch_norm1d_shape, lambda m: _named(m, str(m.num_features)),
        torch=lambda m, tnn: tnn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum)),
    BatchNorm2d: LayerRule(
        _batch_norm2d_shape, lambda m: _named(m, str(m.num_features)),
        torch=lambda m, tnn: tnn.BatchNorm2d(m.num_features, eps=m.eps, momentum=m.momentum)),
    Flatten: LayerRule(_flatten_shape,
                       torch=lambda m, tnn: tnn.Flatten(m.start_dim, m.end_dim)),
    Dropout: LayerRule(_elementwise("identity in eval"), lambda m: _named(m, f"p={m.p:g}"),
                       torch=lambda m, tnn: tnn.Dropout(m.p)),
    ReLU: LayerRule(_elementwise("max(0, x)"), torch=lambda m, tnn: tnn.ReLU()),
    Tanh: LayerRule(_elementwise("tanh(x)"), torch=lambda m, tnn: tnn.Tanh()),
    Sigmoid: LayerRule(_elementwise("1 / (1 + exp(-x))"), torch=lambda m, tnn: tnn.Sigmoid()),
    Softmax: LayerRule(_elementwise("exp(x) / sum(exp(x))"),
                       lambda m: _named(m, f"dim={m.dim}"),
                       torch=lambda m, tnn: tnn.Softmax(m.dim)),
}


def register_layer(cls: type[Module], rule: LayerRule) -> None:
    """Teach the trace, the summary and ``to_torch`` a layer type (subclasses inherit it)."""
    LAYER_RULES[cls] = rule


def rule_for(module: Module) -> LayerRule | None:
    """The rule of ``module``'s class, or of the nearest base class that has one."""
    for cls in type(module).__mro__:
        rule = LAYER_RULES.get(cls)
        if rule is not None:
            return rule
    return None


def describe(module: Module) -> str:
    """A compact one-line description, e.g. ``Conv2d(3->96, k=11, s=4, p=0)``."""
    rule = rule_for(module)
    return rule.describe(module) if rule and rule.describe else type(module).__name__


def layer_arithmetic(module: Module, in_shape: Shape) -> Arithmetic:
    """Output shape of ``module`` for one sample of ``in_shape``, the arithmetic as text, and
    notes (non-integer divisions). Raises ValueError (without the layer's name) when the
    layer cannot take this shape; LookupError for a layer type it does not know.
    """
    rule = rule_for(module)
    if rule is None:
        raise LookupError(f"no shape rule for {type(module).__name__}")
    return rule.shape(module, tuple(int(v) for v in in_shape))


def mult_adds(module: Module, out_shape: Shape) -> tuple[int, int]:
    """(mult-adds, mult-adds counting one add per bias) for one sample; 0 for cheap layers."""
    rule = rule_for(module)
    return rule.mult_adds(module, out_shape) if rule and rule.mult_adds else (0, 0)


def layer_kind(module: Module) -> str:
    """"conv", "fc" or "other"."""
    rule = rule_for(module)
    return rule.kind if rule else "other"
