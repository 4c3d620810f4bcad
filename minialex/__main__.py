"""Command line: ``python -m minialex [command] ...``.

With no command it runs the main demo: the paper's AlexNet assembled stage by stage with
the shape arithmetic printed at every layer, then its summary table.
Each command's work lives in the module it belongs to; this file only parses arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from minialex.backend import BackendError


def _input_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected C,H,W such as 3,227,227, got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive sizes C,H,W, got {text!r}")
    return shape


def _int_at_least(low: int) -> Callable[[str], int]:
    """argparse type: an int >= low (argparse names the option in its error message)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            kind = "a positive integer" if low == 1 else f"an integer >= {low}"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {value}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minialex",
        description="AlexNet from first principles in NumPy. Without a command: assemble the "
                    "paper's AlexNet layer by layer, printing the shape arithmetic and summary.")
    parser.add_argument("--input", type=_input_shape, default=None,
                        help="input shape C,H,W for the demo (default: the variant's own)")
    sub = parser.add_subparsers(dest="command", metavar="command")

    p = sub.add_parser("summary", help="summary table (and --trace) of an AlexNet variant")
    p.add_argument("--variant", default="paper", help="see `python -m minialex variants`")
    p.add_argument("--input", type=_input_shape, default=None, help="C,H,W e.g. 3,227,227")
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
    p.set_defaults(handler=("minialex.summary", "cli_summary"))

    p = sub.add_parser("variants", help="list the AlexNet variants, one line each")
    p.set_defaults(handler=("minialex.models.alexnet", "cli_variants"))

    p = sub.add_parser("train", help="train a variant (default: cifar-small on shapes)")
    p.add_argument("--variant", default="cifar-small")
    p.add_argument("--dataset", choices=("shapes", "cifar10", "folder"), default="shapes",
                   help="folder: DATA_DIR/train and DATA_DIR/test with one sub-folder per class")
    p.add_argument("--data-dir", default=None, help="root of CIFAR-10 batches or image folder")
    positive, non_negative = _int_at_least(1), _int_at_least(0)
    p.add_argument("--epochs", type=positive, default=None)
    p.add_argument("--batch-size", type=positive, default=None)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=non_negative, default=0)
    p.add_argument("--out", default="runs/latest", help="folder for checkpoints and logs")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    p.add_argument("--image-size", type=positive, default=None)
    p.add_argument("--train-size", type=positive, default=None,
                   help="images in the shapes train set")
    p.add_argument("--test-size", type=positive, default=None,
                   help="images in the shapes test set")
    p.add_argument("--augment", choices=("none", "flip-crop", "paper"), default=None,
                   help="paper = random crops, flips and PCA colour augmentation")
    p.add_argument("--schedule", choices=("none", "plateau", "step"), default=None,
                   help="plateau = divide lr by 10 when test error stops improving")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dropout", type=float, default=None,
                   help="dropout of fc6/fc7 (default 0: a short run learns faster without)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.set_defaults(handler=("minialex.train", "cli_train"))

    p = sub.add_parser("evaluate", help="evaluate a checkpoint (top-1/top-5, optional 10-crop)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", choices=("shapes", "cifar10", "folder"), default=None,
                   help="default: the dataset the checkpoint was trained on")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--ten-crop", action="store_true")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.set_defaults(handler=("minialex.train", "cli_evaluate"))

    p = sub.add_parser("lessons", help="list the lessons in reading order")
    p.set_defaults(handler=("minialex.lessons_index", "cli_lessons"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        module_name, func = "minialex.summary", "cli_demo"
    else:
        module_name, func = args.handler
    handler = getattr(importlib.import_module(module_name), func)
    try:
        return int(handler(args) or 0)
    except (ValueError, FileNotFoundError, BackendError) as exc:  # user errors: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # NumPy's message says how much it tried to allocate
        print(f"error: out of memory ({exc or 'allocation failed'}); try a smaller --input "
              "or --batch-size", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
