"""``python -m minialex summary --variant V [--input C,H,W] [--trace]``: the summary table of an
AlexNet variant (with ``--trace`` the per-layer arithmetic above it)."""

from __future__ import annotations

import argparse

from minialex.cli._args import input_shape
from minialex.models import AlexNet, alexnet
from minialex.nn.shapes import LayerError
from minialex.summary import Trace, summary_from_trace, trace

_MODEL_OPTIONS = ("num_classes", "pool", "ceil_mode", "num_conv", "activation", "lrn",
                  "dropout")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "summary", help="summary table (and --trace) of an AlexNet variant",
        description="Keras/torchinfo-style summary of an AlexNet variant: output shape, "
                    "parameters and mult-adds per layer, totals, memory, conv-vs-FC shares.")
    p.add_argument("--variant", default="paper", help="see `python -m minialex variants`")
    p.add_argument("--input", type=input_shape, default=None, help="C,H,W e.g. 3,227,227")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--trace", action="store_true", help="also print the per-layer arithmetic")
    p.add_argument("--pool", default=None, help="max-pool window/stride, e.g. 3x3/2 or 2x2/2")
    p.add_argument("--ceil-mode", action="store_true", default=None,
                   help="round pool output sizes up")
    p.add_argument("--num-conv", type=int, choices=(3, 4, 5), default=None)
    p.add_argument("--activation", choices=("relu", "tanh"), default=None)
    p.add_argument("--lrn", action=argparse.BooleanOptionalAction, default=None,
                   help="local response normalisation in blocks 1-2 (default: the variant's)")
    p.add_argument("--dropout", type=float, default=None, help="drop probability; 0 removes")
    p.set_defaults(run=run)


def model_from_args(args: argparse.Namespace) -> AlexNet:
    """The variant with the options given on the command line (the rest its defaults)."""
    options = {k: getattr(args, k) for k in _MODEL_OPTIONS if getattr(args, k, None) is not None}
    return alexnet(args.variant, **options)


def run(args: argparse.Namespace) -> int:
    try:
        model = model_from_args(args)
    except LayerError as exc:  # the variant's own layers do not fit its input size
        if args.trace and exc.records:
            shape = exc.records[0].input_shape
            print("\n".join(Trace(args.variant, shape, exc.records).lines()))
        raise
    shape = tuple(args.input) if args.input else model.input_shape
    traced = trace(model, shape, print=bool(args.trace))
    if args.trace:
        print()
    print(summary_from_trace(model, traced))
    return 0
