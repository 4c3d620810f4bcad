"""Summarise your own AlexNet-like model: the per-layer shape arithmetic, then the summary table.

    python examples/summarise_custom_model.py [--input 3,64,64]

Build any ``minialex.nn.Sequential`` (name the layers with an OrderedDict so the table is
readable), then:

- ``minialex.trace(model, (C, H, W))`` prints one line per layer with the output-size formula
  filled in, flagging divisions that do not come out even;
- ``minialex.summary(model, (C, H, W))`` returns a table (print it) whose numbers are also
  data: ``.rows`` (one record per layer) and ``.totals``.

If a layer cannot take the size it receives (say, a Linear sized for the wrong flatten), the
trace stops at that layer and says why; the example shows that too.
"""

from __future__ import annotations

import argparse
from collections import OrderedDict

import minialex
from minialex import nn


def feature_layers() -> list[tuple[str, nn.Module]]:
    """AlexNet's pattern at a smaller scale: 3 conv blocks with overlapping 3x3/2 pooling.

    x: (N, 3, H, W) -> (N, 128 * h * w) after the flatten.
    """
    return [
        ("conv1", nn.Conv2d(3, 32, 5, stride=2, padding=2)),
        ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(3, 2)),                          # overlapping, as in the paper
        ("conv2", nn.Conv2d(32, 64, 3, padding=1, groups=2)),  # two "towers"
        ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(3, 2)),
        ("conv3", nn.Conv2d(64, 128, 3, padding=1)),
        ("relu3", nn.ReLU()),
        ("pool3", nn.MaxPool2d(3, 2)),
        ("flatten", nn.Flatten()),
    ]


def small_alexnet(flatten_size: int, num_classes: int = 10) -> nn.Sequential:
    """Features plus a 2-layer classifier. x: (N, 3, H, W) -> (N, num_classes)."""
    return nn.Sequential(OrderedDict(feature_layers() + [
        ("fc4", nn.Linear(flatten_size, 256)),
        ("relu4", nn.ReLU()),
        ("drop4", nn.Dropout(0.5)),
        ("fc5", nn.Linear(256, num_classes)),
    ]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="3,64,64", help="C,H,W (default 3,64,64)")
    shape = tuple(int(v) for v in parser.parse_args().input.split(","))

    # The flatten size follows from the input size (for 3x64x64: 64 -> 32 -> 15 -> 15 -> 7 ->
    # 7 -> 3, so 128*3*3 = 1152). Let the shape arithmetic compute it instead of typing it.
    features = nn.Sequential(OrderedDict(feature_layers()))
    flatten_size = minialex.trace(features, shape, print=False).output_shape[0]
    model = small_alexnet(flatten_size)

    print(f"Trace of a small AlexNet-like model for input {shape}:\n")
    minialex.trace(model, shape)
    print()
    result = minialex.summary(model, shape)
    print(result)
    t = result.totals
    print(f"\nAs data: {t.total_params:,} parameters, {t.mult_adds:,} mult-adds per image, "
          f"conv share {100 * t.conv_param_share:.1f}% of parameters and "
          f"{100 * t.conv_mult_add_share:.1f}% of mult-adds.")

    print("\nThe same model with fc4 sized for the wrong input (6400 instead of "
          f"{flatten_size}):\n")
    try:
        minialex.trace(small_alexnet(6400), shape)
    except ValueError as exc:  # a LayerError; the trace above already printed its message
        print(f"\n(raised {type(exc).__name__}, a ValueError, for layer {exc.layer!r})")


if __name__ == "__main__":
    main()
