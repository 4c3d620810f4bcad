"""``python -m minialex claims``: the ledger of the literature's checkable claims.

Prints each claim with its source, the command or lesson that measures it, the measured value
and a verdict with the reason, then the number of claims per verdict. The data comes from
``minialex.claims.ledger()``; this module only formats it.
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
from dataclasses import asdict
from pathlib import Path

from minialex.claims import PENDING, VERDICTS, Ledger, Row, ledger

WIDTH = 96
LABEL = 11  # width of the field names in a row's block


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "claims", help="the ledger of the sources' checkable claims, re-measured",
        description="Every checkable claim of the five source documents and the 2012 paper: "
                    "the claim, its source, what measures it, the measured value and a verdict "
                    f"({', '.join(VERDICTS)}). Arithmetic is computed now; training results "
                    "are read from what the lessons recorded (run them first).")
    parser.add_argument("--results", type=Path, default=None, metavar="DIR",
                        help="folder of the lessons' results files (default: "
                             "lessons/out/results; a lesson run with --out OUT writes "
                             "OUT/results)")
    parser.add_argument("--verdict", choices=(*VERDICTS, "pending"), default=None,
                        help="show only the claims with this verdict")
    parser.add_argument("--brief", action="store_true",
                        help="one line per claim: verdict, claim, measured value")
    parser.add_argument("--json", action="store_true", help="the rows as JSON")
    parser.set_defaults(run=run)


def _selected(book: Ledger, verdict: str | None) -> list[tuple[int, Row]]:
    wanted = PENDING if verdict == "pending" else verdict
    return [(i, row) for i, row in enumerate(book, start=1)
            if wanted is None or row.verdict == wanted]


def _field(name: str, text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=f"    {name:<{LABEL}}",
                         subsequent_indent=" " * (4 + LABEL)) or [f"    {name}"]


def format_row(number: int, row: Row) -> list[str]:
    """A claim as a block: the claim on the first line, then its fields."""
    lines = textwrap.wrap(row.claim, WIDTH, initial_indent=f"{number:>3} ",
                          subsequent_indent="    ")
    for name, text in (("source", row.source), ("measured", row.measured),
                       ("verdict", row.verdict), ("why", row.why), ("measure by", row.measured_by)):
        lines += _field(name, text)
    return lines


def format_brief(number: int, row: Row) -> str:
    verdict = "pending" if row.verdict == PENDING else row.verdict
    text = f"{number:>3}  {verdict:<26}  {row.claim}  ->  {row.measured}"
    return text if len(text) <= WIDTH + 20 else text[:WIDTH + 17] + "..."


def format_counts(book: Ledger) -> list[str]:
    lines = ["Claims by verdict:"]
    for verdict, n in book.counts().items():
        lines.append(f"  {verdict:<36} {n:>3}")
    lines.append(f"  {'total':<36} {len(book):>3}")
    return lines


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def run(args: argparse.Namespace) -> int:
    book = ledger(args.results)
    rows = _selected(book, args.verdict)
    if args.json:
        print(json.dumps({"results_dir": None if book.results_dir is None
                          else str(book.results_dir), "counts": book.counts(),
                          "rows": [asdict(row) for _, row in rows]}, indent=1))
        return 0
    where = "none (no lessons/ folder)" if book.results_dir is None else _shown(book.results_dir)
    print(f"Claims ledger: {len(book)} checkable claims from the sources and the 2012 paper")
    print(f"Training results read from: {where}")
    if any(row.verdict == PENDING for row in book):
        print("Claims marked 'pending' are measured by a lesson that has not run (or recorded "
              "them) yet: run it, then this command again.")
    print()
    for number, row in rows:
        if args.brief:
            print(format_brief(number, row))
        else:
            print("\n".join(format_row(number, row)))
            print()
    print("\n".join(format_counts(book)))
    return 0
