"""The command line, ``python -m minialex [command] ...``: one module per command.

Each module named in ``COMMANDS`` defines ``register(subparsers)``, which adds its sub-parser
and sets ``run(args) -> exit code``. ``main`` builds the parser from them, runs the chosen
command (the demo when none is given) and turns the errors a user can fix into one line on
stderr and exit code 2. Printing for the terminal happens in this package and nowhere else.
Adding a command is one new module here plus its name in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from minialex.backend import BackendError

__all__ = ["COMMANDS", "DEFAULT_COMMAND", "build_parser", "main"]

# In the order `python -m minialex --help` lists them.
COMMANDS = ("demo", "variants", "summary", "train", "evaluate", "classify", "lessons",
            "exercises", "check", "claims")
DEFAULT_COMMAND = "demo"  # what runs without a command; its options also go before one


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minialex",
        description="AlexNet from first principles in NumPy. Without a command: assemble the "
                    "paper's AlexNet layer by layer, printing the shape arithmetic and summary.")
    default = importlib.import_module(f"minialex.cli.{DEFAULT_COMMAND}")
    default.add_arguments(parser)
    parser.set_defaults(run=default.run)
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    for name in COMMANDS:
        importlib.import_module(f"minialex.cli.{name}").register(subparsers)
    return parser


def error(command: str, message: str) -> int:
    """Print ``minialex COMMAND: error: MESSAGE`` on one line of stderr; returns exit code 2."""
    print(f"minialex {command}: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or DEFAULT_COMMAND
    try:
        return int(args.run(args) or 0)
    except (ValueError, OSError, BackendError) as exc:  # user errors: one line, exit 2
        return error(command, str(exc))
    except MemoryError as exc:  # NumPy's message says how much it tried to allocate
        return error(command, f"out of memory ({exc or 'allocation failed'}); try a smaller "
                              "--input or --batch-size")
