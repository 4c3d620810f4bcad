"""argparse helpers shared by the commands: input shapes, bounded numbers, output folders,
--device, what a MemoryError was allocating, and the help format that shows every default."""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Callable, Iterator


class HelpFormatter(argparse.HelpFormatter):
    """--help lists each option's default ("default: 5") unless it has none or says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" not in text and action.option_strings and default is not None
                and default is not False and default is not argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def input_shape(text: str) -> tuple[int, ...]:
    """argparse type: "3,227,227" (or "3x227x227") -> (3, 227, 227), three positive sizes,
    channels first (227,227,3 is refused with the order to use)."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected C,H,W such as 3,227,227, got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive sizes C,H,W, got {text!r}")
    if shape[2] in (1, 3, 4) and shape[0] > 4:
        raise argparse.ArgumentTypeError(
            f"channels come first (C,H,W, as in PyTorch): did you mean "
            f"{shape[2]},{shape[0]},{shape[1]}? got {text!r}")
    return shape


def int_at_least(low: int) -> Callable[[str], int]:
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


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def real_in(low: float, high: float, *, low_open: bool = False,
            high_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in the interval (inf, nan and text are refused)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and (low < value if low_open else low <= value)
                and (value < high if high_open else value <= high)):
            raise argparse.ArgumentTypeError(
                f"expected a finite number in {left}{low:g}, {high:g}{right}, got {text!r}")
        return value
    return parse


positive_real = real_in(0.0, math.inf, low_open=True, high_open=True)
probability = real_in(0.0, 1.0, high_open=True)


def folder_name(text: str) -> str:
    """argparse type: a non-empty path (``--out ''`` would write nowhere)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder name, got an empty one")
    return text


def add_device(parser: argparse.ArgumentParser) -> None:
    """``--device cpu|gpu`` (default cpu)."""
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="gpu needs CuPy and a CUDA GPU")


@contextlib.contextmanager
def allocating(what: str) -> Iterator[None]:
    """Say what was being allocated when memory runs out: ``with allocating("the model"):``
    turns a MemoryError inside into one naming ``what`` (main prints it on one line)."""
    try:
        yield
    except MemoryError as exc:
        raise MemoryError(f"while allocating {what}: {exc or 'allocation failed'}") from None
