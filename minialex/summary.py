"""Shape arithmetic made visible: ``trace`` prints every layer's output-size formula with the
actual numbers, ``summary`` tabulates parameters, mult-adds and memory (Keras/torchinfo style).

Every spatial size in a CNN follows from one formula (for a convolution or pooling window of
size f, stride s and padding p over an input of length n)::

    out = floor((n + 2p - f) / s) + 1

When ``(n + 2p - f) / s`` is not an integer the last window does not reach the end of the
input: the floor silently drops the rightmost rows and columns. That is why the AlexNet paper's
"224x224" input must really be 227x227 for conv1 to give 55x55; ``trace`` flags every such
division.

Conventions used in the numbers (per image, i.e. batch size 1):

- **Mult-adds** count the multiply-accumulates of the weighted layers only. Convolution:
  ``OH * OW * C_out * (C_in / groups) * KH * KW``; fully connected: ``in * out``. Pooling,
  activations, LRN, BatchNorm and dropout are cheap element-wise work and count 0. Some
  published tables also count the bias add (one per output value): that convention is kept
  alongside as ``mult_adds_bias``.
- **Non-trainable parameters** are the BatchNorm running mean and variance (buffers) plus any
  frozen parameter, counted as Keras counts them, so Keras-printed totals are reproduced.
- **MB** are 10**6 bytes. Parameter memory counts parameters and running statistics;
  activation memory counts the output of every layer for one image, in the trace's dtype.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from minialex import backend
from minialex.functional._checks import adaptive_output_size, output_size
from minialex.nn.activation import ReLU, Sigmoid, Tanh
from minialex.nn.conv import Conv2d
from minialex.nn.dropout import Dropout
from minialex.nn.linear import Flatten, Linear
from minialex.nn.module import Module
from minialex.nn.norm import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from minialex.nn.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minialex.tensor import Tensor, no_grad

__all__ = [
    "LayerError",
    "LayerRecord",
    "Trace",
    "Totals",
    "Summary",
    "trace",
    "summary",
    "infer_shape",
    "layer_arithmetic",
    "describe",
    "count_params",
    "mult_adds",
]

Shape = tuple[int, ...]  # the shape of ONE sample: no batch axis


class LayerError(ValueError):
    """A layer cannot take the shape it receives; ``layer`` is its name in the model."""

    def __init__(self, message: str, layer: str = "",
                 records: Sequence[LayerRecord] = ()) -> None:
        super().__init__(message)
        self.layer = layer
        self.records = list(records)  # the layers that did fit, before this one


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


def _int(n: float) -> str:
    return f"{n:,}"


def format_count(n: float) -> str:
    """105415200 -> "105.4M"."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return str(int(n))


def describe(module: Module) -> str:
    """A compact one-line description, e.g. ``Conv2d(3->96, k=11, s=4, p=0)``."""
    name = type(module).__name__
    if isinstance(module, Conv2d):
        text = (f"{name}({module.in_channels}->{module.out_channels}, "
                f"k={_pair_text(module.kernel_size)}, s={_pair_text(module.stride)}, "
                f"p={_pair_text(module.padding)}")
        if module.groups != 1:
            text += f", groups={module.groups}"
        return text + ")"
    if isinstance(module, (MaxPool2d, AvgPool2d)):
        # nn/pool.py stores kernel_size, stride (default resolved) and padding as pairs
        text = f"{name}(k={_pair_text(module.kernel_size)}, s={_pair_text(module.stride)}"
        if module.padding != (0, 0):
            text += f", p={_pair_text(module.padding)}"
        return text + (", ceil_mode)" if module.ceil_mode else ")")
    if isinstance(module, AdaptiveAvgPool2d):
        try:  # None (keep the input size) shows as 1, as before; never fail while describing
            oh, ow = adaptive_output_size(module.output_size, 1, 1)
        except (TypeError, ValueError):
            return f"{name}(output_size={module.output_size!r})"
        return f"{name}({oh}x{ow})"
    if isinstance(module, Linear):
        return f"{name}({module.in_features}->{module.out_features})"
    if isinstance(module, (BatchNorm1d, BatchNorm2d)):
        return f"{name}({module.num_features})"
    if isinstance(module, LocalResponseNorm):
        return (f"LRN(size={module.size}, alpha={_sci(module.alpha)}, "
                f"beta={module.beta:g}, k={module.k:g})")
    if isinstance(module, Dropout):
        return f"{name}(p={module.p:g})"
    return name


def _pair_text(value: tuple[int, int]) -> str:
    a, b = value
    return str(a) if a == b else f"{a}x{b}"


# ---------------------------------------------------------------------------- arithmetic
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


def _spatial(n_hw: tuple[int, int], k: tuple[int, int], s: tuple[int, int],
             p: tuple[int, int], ceil: bool) -> tuple[tuple[int, int], str, list[str]]:
    """(OH, OW), the formula text (one formula when both axes agree) and notes."""
    oh, th, nh = _dim(n_hw[0], k[0], s[0], p[0], ceil, "row")
    ow, tw, nw = _dim(n_hw[1], k[1], s[1], p[1], ceil, "column")
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


def layer_arithmetic(module: Module, in_shape: Shape) -> tuple[Shape, str, list[str]]:
    """Output shape of ``module`` for one sample of ``in_shape``, the arithmetic as text, and
    notes (non-integer divisions). Raises ValueError (without the layer's name) when the
    layer cannot take this shape; LookupError for a layer type it does not know.
    """
    shape = tuple(int(v) for v in in_shape)
    if isinstance(module, Conv2d):
        _expect(shape, 3, "(C, H, W)")
        _expect_channels(shape, module.in_channels, "input channels")
        (oh, ow), text, notes = _spatial(shape[1:], module.kernel_size, module.stride,
                                         module.padding, False)
        return (module.out_channels, oh, ow), text, notes
    if isinstance(module, (MaxPool2d, AvgPool2d)):
        _expect(shape, 3, "(C, H, W)")
        (oh, ow), text, notes = _spatial(shape[1:], module.kernel_size, module.stride,
                                         module.padding, module.ceil_mode)
        return (shape[0], oh, ow), text, notes
    if isinstance(module, AdaptiveAvgPool2d):
        _expect(shape, 3, "(C, H, W)")
        h, w = shape[1:]
        oh, ow = adaptive_output_size(module.output_size, h, w)
        if h % oh == 0 and w % ow == 0:
            text = f"{h}x{w} in {oh}x{ow} bins of {h // oh}x{w // ow}"
            if (h, w) == (oh, ow):
                text = f"{h}x{w} already: identity"
        else:
            text = f"{h}x{w} in {oh}x{ow} uneven bins (floor/ceil of i*{h}/{oh})"
        return (shape[0], oh, ow), text, []
    if isinstance(module, Linear):
        _expect(shape, 1, "(features,)")
        if shape[0] != module.in_features:
            raise ValueError(f"expects {module.in_features} input features, got {shape[0]}")
        return ((module.out_features,),
                f"(N, {module.in_features}) @ ({module.in_features}, {module.out_features})"
                + (" + b" if module.bias is not None else ""), [])
    if isinstance(module, Flatten):
        full = (None, *shape)  # start_dim/end_dim count the batch axis, as in PyTorch
        start = module.start_dim % len(full)
        end = module.end_dim % len(full)
        if start == 0:
            raise ValueError("flattening the batch axis is not supported by the trace")
        merged = shape[start - 1:end]
        out = shape[:start - 1] + (math.prod(merged),) + shape[end:]
        return out, "*".join(map(str, merged)) + f" = {math.prod(merged)}", []
    if isinstance(module, BatchNorm2d):
        _expect(shape, 3, "(C, H, W)")
        _expect_channels(shape, module.num_features, "channels")
        return shape, "normalise per channel", []
    if isinstance(module, BatchNorm1d):
        _expect_channels(shape, module.num_features, "features")
        return shape, "normalise per feature", []
    if isinstance(module, LocalResponseNorm):
        _expect(shape, 3, "(C, H, W)")
        return shape, f"normalise over {module.size} channels", []
    if isinstance(module, ReLU):
        return shape, "max(0, x)", []
    if isinstance(module, Tanh):
        return shape, "tanh(x)", []
    if isinstance(module, Sigmoid):
        return shape, "1 / (1 + exp(-x))", []
    if isinstance(module, Dropout):
        return shape, "identity in eval", []
    raise LookupError(f"no shape rule for {type(module).__name__}")


# ---------------------------------------------------------------------------- counting
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
    frozen += sum(b.size for b in _stat_buffers(module))
    return trainable, frozen


def _stat_buffers(module: Module) -> Iterator[Tensor]:
    """The buffers counted as non-trainable parameters: those named ``running_*``."""
    for name, b in module.named_buffers():
        if name.rsplit(".", 1)[-1].startswith("running_"):
            yield b


def mult_adds(module: Module, out_shape: Shape) -> tuple[int, int]:
    """(mult-adds, mult-adds counting one add per bias) for one sample; 0 for cheap layers."""
    if isinstance(module, Conv2d):
        kh, kw = module.kernel_size
        positions = math.prod(out_shape[1:])
        macs = positions * module.out_channels * (module.in_channels // module.groups) * kh * kw
        bias = positions * module.out_channels if module.bias is not None else 0
        return macs, macs + bias
    if isinstance(module, Linear):
        macs = module.in_features * module.out_features
        return macs, macs + (module.out_features if module.bias is not None else 0)
    return 0, 0


def _kind(module: Module) -> str:
    if isinstance(module, Conv2d):
        return "conv"
    if isinstance(module, Linear):
        return "fc"
    return "other"


# ---------------------------------------------------------------------------- records
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


def _record(name: str, module: Module, in_shape: Shape) -> LayerRecord:
    """The arithmetic for one layer, or a LayerError naming it."""
    out, text, notes = layer_arithmetic(module, in_shape)
    trainable, frozen = count_params(module)
    macs, macs_bias = mult_adds(module, out)
    return LayerRecord(name, type(module).__name__, describe(module), tuple(in_shape), out,
                       text, notes, trainable + frozen, trainable, frozen, macs, macs_bias,
                       _kind(module))


def _leaves(model: Module) -> list[tuple[str, Module]]:
    leaves = [(n, m) for n, m in model.named_modules() if not m._modules]
    return [(n or type(m).__name__.lower(), m) for n, m in leaves]


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


def _layer_error(name: str, module: Module, in_shape: Shape, reason: Any,
                 input_shape: Shape, records: Sequence[LayerRecord]) -> LayerError:
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
    for name, module in _leaves(model):
        try:
            records.append(_record(name, module, shape))
        except ValueError as exc:
            raise _layer_error(name, module, shape, exc, tuple(input_shape), records) from None
        shape = records[-1].output_shape
    return shape


# ---------------------------------------------------------------------------- trace
@dataclass
class Trace:
    """What ``trace`` saw: one LayerRecord per leaf layer call, and the printed lines."""

    model_name: str
    input_shape: Shape
    records: list[LayerRecord] = field(default_factory=list)
    error: str | None = None

    @property
    def output_shape(self) -> Shape:
        return self.records[-1].output_shape if self.records else self.input_shape

    def __iter__(self) -> Iterator[LayerRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, name: str) -> LayerRecord:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def notes(self) -> list[tuple[str, str]]:
        """(layer, note) for every flagged non-integer division."""
        return [(r.name, n) for r in self.records for n in r.notes]

    def lines(self, records: Sequence[LayerRecord] | None = None, header: bool = True) -> list[str]:
        """Aligned text lines, one per layer (plus "!" lines under flagged layers)."""
        records = self.records if records is None else records
        all_records = self.records or records
        wn = max([len(r.name) for r in all_records] + [5])
        wd = max([len(r.description) for r in all_records] + [1])
        wa = max([len(r.arithmetic) for r in all_records] + [1])
        ws = max([len(fmt_shape(r.output_shape)) for r in all_records] + [1])
        out = [f"{'input':<{wn}}  {fmt_shape(self.input_shape)}"] if header else []
        for r in records:
            line = (f"{r.name:<{wn}}  {r.description:<{wd}}  {r.arithmetic:<{wa}}  -> "
                    f"{fmt_shape(r.output_shape):<{ws}}")
            if r.params or r.mult_adds:
                line += f"  {_int(r.params):>10} params" if r.params else f"  {'':>17}"
            if r.mult_adds:
                line += f"  {format_count(r.mult_adds):>6} MACs"
            out.append(line.rstrip())
            out.extend(f"{'':<{wn}}  ! {note}" for note in r.notes)
        return out

    def __str__(self) -> str:
        text = self.lines()
        if self.error:
            text.append(f"error: {self.error}")
        return "\n".join(text)


def _probe_input(model: Module, input_shape: Shape) -> Tensor:
    """A batch of one random image on the model's device and in its dtype."""
    params = list(model.parameters())
    like = params[0].data if params else None
    dtype = params[0].dtype if params else backend.np.float32
    rng = backend.default_rng(0, like=like)
    return Tensor(rng.standard_normal((1, *input_shape), dtype=dtype))


def _model_name(model: Module) -> str:
    variant = getattr(model, "variant", None)
    return f"{type(model).__name__} ({variant})" if variant else type(model).__name__


def trace(model: Module, input_shape: Sequence[int], print: bool = True,
          file: Any = None) -> Trace:
    """Run one image of ``input_shape`` (C, H, W) through ``model`` and record every layer.

    Each leaf layer's call is intercepted: its output size is first computed from the
    formula (so a layer that cannot fit raises a LayerError naming it and the sizes so far),
    then the layer runs (eval mode, no_grad) and the real output shape is checked against the
    formula. With ``print=True`` the lines are printed (also when an error stops the trace).
    Returns a Trace (records as data, ``lines()`` as text).
    """
    shape = tuple(int(v) for v in input_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"trace: input_shape must be positive sizes such as (3, 227, 227), "
                         f"got {tuple(input_shape)}")
    result = Trace(_model_name(model), shape)
    records = result.records
    leaves = _leaves(model)
    if not leaves:
        raise ValueError(f"trace: {type(model).__name__} has no layers")

    def wrap(name: str, module: Module, forward: Callable[..., Any]) -> Callable[..., Any]:
        def traced(x: Any, *args: Any, **kwargs: Any) -> Any:
            in_shape = tuple(x.shape[1:])
            try:
                record = _record(name, module, in_shape)
            except LookupError:  # a layer type with no rule: trust what it returns
                record = None
            except ValueError as exc:
                raise _layer_error(name, module, in_shape, exc, shape, records) from None
            try:
                y = forward(x, *args, **kwargs)
            except LayerError:
                raise
            except (ValueError, TypeError) as exc:
                raise _layer_error(name, module, in_shape, exc, shape, records) from exc
            got = tuple(y.shape[1:])
            if record is None:
                trainable, frozen = count_params(module)
                record = LayerRecord(name, type(module).__name__, describe(module), in_shape,
                                     got, "", [], trainable + frozen, trainable, frozen, 0, 0,
                                     "other")
            elif got != record.output_shape:
                raise RuntimeError(f"{name} ({describe(module)}): the formula gives "
                                   f"{fmt_shape(record.output_shape)} but the layer returned "
                                   f"{fmt_shape(got)}")
            records.append(record)
            return y
        return traced

    modes = [(m, m.training) for m in model.modules()]
    for name, module in leaves:
        object.__setattr__(module, "forward", wrap(name, module, module.forward))
    try:
        model.eval()
        with no_grad():
            model(_probe_input(model, shape))
    except LayerError as exc:
        result.error = str(exc)
        if print:
            _emit(str(result), file)
        raise
    finally:
        for _, module in leaves:
            module.__dict__.pop("forward", None)
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    if print:
        _emit(str(result), file)
    return result


def _emit(text: str, file: Any = None) -> None:
    stream = sys.stdout if file is None else file
    stream.write(text + "\n")


# ---------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class Totals:
    """Whole-model numbers for one image; shares are fractions of the total (0..1)."""

    total_params: int
    trainable_params: int
    non_trainable_params: int
    mult_adds: int
    mult_adds_bias: int
    input_mb: float
    activation_mb: float
    param_mb: float
    conv_params: int
    fc_params: int
    conv_mult_adds: int
    fc_mult_adds: int

    @property
    def conv_param_share(self) -> float:
        return self.conv_params / max(1, self.total_params)

    @property
    def fc_param_share(self) -> float:
        return self.fc_params / max(1, self.total_params)

    @property
    def conv_mult_add_share(self) -> float:
        return self.conv_mult_adds / max(1, self.mult_adds)

    @property
    def fc_mult_add_share(self) -> float:
        return self.fc_mult_adds / max(1, self.mult_adds)


@dataclass
class Summary:
    """``rows`` (one LayerRecord per layer), ``totals`` (Totals); ``str()`` is the table."""

    model_name: str
    input_shape: Shape
    rows: list[LayerRecord]
    totals: Totals

    def __getitem__(self, name: str) -> LayerRecord:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def table(self) -> str:
        t = self.totals
        wl = max([len(f"{r.name} ({r.type})") for r in self.rows] + [len("Layer (type)")])
        ws = max([len(fmt_shape(r.output_shape)) for r in self.rows] + [len("Output Shape")])
        wp = max(len(_int(t.total_params)), len("Param #"))
        wm = max(len(_int(t.mult_adds_bias)), len("Mult-Adds"))
        wb = max(wm, len("+bias adds"))
        width = wl + ws + wp + wm + wb + 8
        rule, thick = "-" * width, "=" * width

        def row(a: str, b: str, c: str, d: str, e: str) -> str:
            return f"{a:<{wl}}  {b:<{ws}}  {c:>{wp}}  {d:>{wm}}  {e:>{wb}}"

        lines = [f"Model: {self.model_name}, input {fmt_shape(self.input_shape)}", thick,
                 row("Layer (type)", "Output Shape", "Param #", "Mult-Adds", "+bias adds"), thick]
        for r in self.rows:
            lines.append(row(f"{r.name} ({r.type})", fmt_shape(r.output_shape), _int(r.params),
                             _int(r.mult_adds) if r.mult_adds else "--",
                             _int(r.mult_adds_bias) if r.mult_adds_bias else "--"))
        lines += [thick,
                  f"Total params: {_int(t.total_params)}",
                  f"Trainable params: {_int(t.trainable_params)}",
                  f"Non-trainable params: {_int(t.non_trainable_params)}"
                  + (" (BatchNorm running mean and variance, counted as Keras does)"
                     if t.non_trainable_params else ""),
                  f"Total mult-adds: {_int(t.mult_adds)} ({format_count(t.mult_adds)}) "
                  "per image; "
                  f"{_int(t.mult_adds_bias)} counting bias adds",
                  rule,
                  f"Input size (MB): {t.input_mb:.2f}",
                  f"Forward activations, one image (MB): {t.activation_mb:.2f}",
                  f"Params size (MB): {t.param_mb:.2f}",
                  rule,
                  f"Conv layers: {_int(t.conv_params)} params ({t.conv_param_share:.1%}), "
                  f"{_int(t.conv_mult_adds)} mult-adds ({t.conv_mult_add_share:.1%})",
                  f"FC layers:   {_int(t.fc_params)} params ({t.fc_param_share:.1%}), "
                  f"{_int(t.fc_mult_adds)} mult-adds ({t.fc_mult_add_share:.1%})",
                  thick]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def summary_from_trace(model: Module, traced: Trace) -> Summary:
    """Tabulate a Trace already run on ``model`` (saves a second forward pass)."""
    rows = traced.records
    trainable, frozen = count_params(model)
    itemsize = _itemsize(model)
    counted = list(model.parameters()) + list(_stat_buffers(model))
    totals = Totals(
        total_params=trainable + frozen,
        trainable_params=trainable,
        non_trainable_params=frozen,
        mult_adds=sum(r.mult_adds for r in rows),
        mult_adds_bias=sum(r.mult_adds_bias for r in rows),
        input_mb=math.prod(traced.input_shape) * itemsize / 1e6,
        activation_mb=sum(math.prod(r.output_shape) for r in rows) * itemsize / 1e6,
        param_mb=sum(t.size * t.data.dtype.itemsize for t in counted) / 1e6,
        conv_params=sum(r.params for r in rows if r.kind == "conv"),
        fc_params=sum(r.params for r in rows if r.kind == "fc"),
        conv_mult_adds=sum(r.mult_adds for r in rows if r.kind == "conv"),
        fc_mult_adds=sum(r.mult_adds for r in rows if r.kind == "fc"),
    )
    return Summary(traced.model_name, traced.input_shape, rows, totals)


def _itemsize(model: Module) -> int:
    params = list(model.parameters())
    return params[0].data.dtype.itemsize if params else 4


def summary(model: Module, input_shape: Sequence[int]) -> Summary:
    """Keras/torchinfo-style summary of ``model`` for one image of ``input_shape`` (C, H, W).

    Runs ``trace`` (silently) for the shapes; ``rows`` and ``totals`` hold the numbers.
    """
    return summary_from_trace(model, trace(model, input_shape, print=False))
