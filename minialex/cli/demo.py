"""``python -m minialex`` (or ``python -m minialex demo``): the paper's AlexNet assembled stage
by stage, the shape arithmetic printed at every layer, then its summary table and what the
numbers in it say. Every number is computed by the trace; the prose around them is data here.
"""

from __future__ import annotations

import argparse
import textwrap

from minialex.cli._args import input_shape
from minialex.models import AlexNet, alexnet
from minialex.nn import Linear
from minialex.nn.rules import fmt_shape
from minialex.nn.shapes import LayerError, size_history
from minialex.summary import Summary, format_count, summary_from_trace, trace

FORMULA = "out = floor((n + 2p - f) / s) + 1     n: input size, f: window, s: stride, p: padding"

INTRO = [
    "AlexNet, assembled layer by layer",
    "=================================",
    "Krizhevsky, Sutskever and Hinton, \"ImageNet Classification with Deep Convolutional",
    "Neural Networks\" (2012), trained on two GPUs. Here it is one model: conv2, conv4 and",
    "conv5 use groups=2, so each half of their filters sees only its own GPU's half of the",
    "channels. No size below is typed in; each follows from the one before:",
    "",
    f"    {FORMULA}",
    "",
]

NEXT = [
    "Next: python -m minialex variants",
    "      python -m minialex summary --variant keras-bn --trace",
    "      python -m minialex summary --variant keras-bn --pool 3x3/2 --trace",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=input_shape, default=None,
                        help="input shape C,H,W for the demo (default: the variant's own)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="the paper's AlexNet layer by layer (what runs without a command)",
        description="Assemble the paper's AlexNet stage by stage, printing the shape "
                    "arithmetic of every layer, then its summary table.")
    add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    shape = tuple(args.input) if getattr(args, "input", None) else None
    model = alexnet("paper", input_shape=shape)
    shape = model.input_shape
    traced = trace(model, shape, print=False)
    out = INTRO + [f"Input: a batch of N {_image_kind(shape[0])} {fmt_shape(shape)}"]
    by_name = {r.name: r for r in traced.records}
    for title, names in model.stages:
        records = [by_name[n] for n in names if n in by_name]
        out += ["", title[0].upper() + title[1:]]
        out += ["  " + line for line in traced.lines(records, header=False)]
    out += ["", f"Output: {fmt_shape(traced.output_shape)}, one score per class "
                "(softmax turns them into probabilities)"]
    if shape == (3, 227, 227):
        out += ["", *_why_227(model)]
    result = summary_from_trace(model, traced)
    out += ["", "Summary", "", str(result), "", *_closing(result)]
    print("\n".join(out))
    return 0


def _image_kind(channels: int) -> str:
    """3 -> "RGB images", 1 -> "images with 1 channel": only 3 channels are called RGB."""
    if channels == 3:
        return "RGB images"
    return f"images with {channels} channel{'s' if channels != 1 else ''}"


def _why_227(model: AlexNet) -> list[str]:
    """What happens to the same network at the paper's stated 224x224."""
    try:
        trace(model, (3, 224, 224), print=False)
    except LayerError as exc:
        conv1 = exc.records[0]
        flat = [r for r in exc.records if r.type == "Flatten"]
        lines = ["Why 227 and not the paper's 224? At 224:",
                 f"  {conv1.name}  {conv1.arithmetic}"]
        lines += [f"         ! {note}" for note in conv1.notes]
        text = f"Every later size shrinks too: {size_history((3, 224, 224), exc.records)}"
        fc = dict(model.named_modules()).get(exc.layer)
        if flat and isinstance(fc, Linear):
            text += (f", so {exc.layer} (built for {fc.in_features:,} inputs) would receive "
                     f"{flat[-1].output_shape[0]:,}: the network cannot run at 224.")
        return lines + _wrap(text)
    return ["At 224x224 the same network also runs (its sizes happen to divide evenly)."]


def _wrap(text: str, width: int = 92) -> list[str]:
    return textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="  ")


def _closing(s: Summary) -> list[str]:
    """The paragraph under the table: where the parameters sit and where the time goes."""
    t = s.totals
    fc = [r for r in s.rows if r.kind == "fc"]
    biggest = max(fc, key=lambda r: r.params) if fc else None
    paragraph = (
        f"The {sum(r.kind == 'conv' for r in s.rows)} convolutional layers hold "
        f"{t.conv_params:,} of the {t.total_params:,} parameters "
        f"({t.conv_param_share:.1%}) but do {format_count(t.conv_mult_adds)} of the "
        f"{format_count(t.mult_adds)} mult-adds per image ({t.conv_mult_add_share:.1%}). "
        f"The {len(fc)} fully connected layers are the reverse: {t.fc_param_share:.1%} of the "
        f"parameters, {t.fc_mult_add_share:.1%} of the compute"
        + (f"; {biggest.name} alone holds {biggest.params:,} "
           f"({biggest.params / max(1, t.total_params):.1%}). " if biggest else ". ")
        + "The parameters, and with them the risk of overfitting, sit in the fully connected "
        "layers, which is where the paper puts dropout; the time goes into the convolutions. "
        f"One image needs {t.activation_mb:.1f} MB of activations, the weights "
        f"{t.param_mb:.1f} MB.")
    return ["What the numbers say", *_wrap(paragraph), "", *NEXT]
