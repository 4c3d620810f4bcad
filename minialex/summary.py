"""``trace`` and ``summary``: a model's shape arithmetic and its Keras/torchinfo-style table.

``trace(model, (C, H, W))`` runs one image through the model and records every leaf layer:
the output-size formula with the actual numbers (``floor((227 + 2*0 - 11) / 4) + 1 = 55``),
flagging every division that is not an integer (where the paper's 224 goes wrong).
``summary(model, (C, H, W))`` tabulates parameters, mult-adds, memory and the conv-vs-FC
shares; its ``rows`` and ``totals`` hold the numbers as data. The per-layer rules live in
``minialex.nn.rules``, the records and shape inference in ``minialex.nn.shapes``.

Conventions (per image, i.e. batch size 1): mult-adds count the weighted layers only, with a
second column also counting one add per bias; non-trainable parameters are the BatchNorm
running statistics plus frozen parameters, as Keras counts them; MB are 10**6 bytes, parameter
memory counts parameters and running statistics, activation memory the output of every layer.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from minialex import backend
from minialex.nn.module import Module
from minialex.nn.rules import Shape, describe, fmt_shape, layer_arithmetic, mult_adds
from minialex.nn.shapes import (
    LayerError,
    LayerRecord,
    count_params,
    infer_shape,
    layer_error,
    layer_record,
    leaves,
    size_history,
    stat_buffers,
)
from minialex.tensor import Tensor, no_grad

__all__ = [
    "Trace",
    "Totals",
    "Summary",
    "trace",
    "summary",
    "summary_from_trace",
    "format_count",
    # defined in minialex.nn.shapes / minialex.nn.rules, importable from here as before
    "LayerError",
    "LayerRecord",
    "infer_shape",
    "layer_arithmetic",
    "describe",
    "count_params",
    "mult_adds",
    "fmt_shape",
    "size_history",
]


def _int(n: float) -> str:
    return f"{n:,}"


def format_count(n: float) -> str:
    """105415200 -> "105.4M"."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return str(int(n))


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
    layers = leaves(model)
    if not layers:
        raise ValueError(f"trace: {type(model).__name__} has no layers")

    def wrap(name: str, module: Module, forward: Callable[..., Any]) -> Callable[..., Any]:
        def traced(x: Any, *args: Any, **kwargs: Any) -> Any:
            in_shape = tuple(x.shape[1:])
            try:
                record = layer_record(name, module, in_shape)
            except LookupError:  # a layer type with no rule: trust what it returns
                record = None
            except ValueError as exc:
                raise layer_error(name, module, in_shape, exc, shape, records) from None
            try:
                y = forward(x, *args, **kwargs)
            except LayerError:
                raise
            except (ValueError, TypeError) as exc:
                raise layer_error(name, module, in_shape, exc, shape, records) from exc
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
    for name, module in layers:
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
        for _, module in layers:
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
    counted = list(model.parameters()) + list(stat_buffers(model))
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
