"""``python -m minialex variants``: the AlexNet variants, one line each, then their sources."""

from __future__ import annotations

import argparse

from minialex.models import VARIANTS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "variants", help="list the AlexNet variants, one line each",
        description="The AlexNet variants minialex builds: input size, FC widths, what "
                    "distinguishes each, and the source it comes from.")
    p.set_defaults(run=run)


def variants_table() -> str:
    """One line per variant (name, input, FC widths, what distinguishes it), then sources.

    The FC column is read from the spec: hidden widths, then the number of classes.
    """
    wn = max(len(v) for v in VARIANTS)
    fc = {v.name: "FC " + "-".join(map(str, (*v.hidden, v.num_classes)))
          for v in VARIANTS.values()}
    wf = max(len(text) for text in fc.values())
    lines = [f"{v.name:<{wn}}  {'x'.join(map(str, v.input_shape)):<9}  {fc[v.name]:<{wf}}  "
             f"{v.description}" for v in VARIANTS.values()]
    lines += ["", "Sources:"] + [f"  {v.name:<{wn}}  {v.source}" for v in VARIANTS.values()]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    print(variants_table())
    print("\nShow one: python -m minialex summary --variant NAME [--input C,H,W] [--trace]")
    return 0
