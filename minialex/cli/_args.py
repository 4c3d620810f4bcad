"""argparse helpers shared by the commands: input shapes, bounded integers, --device."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def input_shape(text: str) -> tuple[int, ...]:
    """argparse type: "3,227,227" (or "3x227x227") -> (3, 227, 227), three positive sizes."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected C,H,W such as 3,227,227, got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive sizes C,H,W, got {text!r}")
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


def add_device(parser: argparse.ArgumentParser) -> None:
    """``--device cpu|gpu`` (default cpu)."""
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
