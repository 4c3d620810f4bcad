"""``python -m minialex exercises``: the exercises in course order, with the status of each.

The status comes from running the same check as ``python -m minialex check NAME``:
not started (every function still raises NotImplementedError), failing, passing, or
not found / does not load.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from minialex.cli import error
from minialex.cli.check import display_path
from minialex.exercises import EXERCISES, CheckerUnavailable, check_file, exercises_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "exercises", help="list the exercises in course order, with their status",
        description="The exercises (plain NumPy files to fill in), in course order, each "
                    "with the lesson it goes with and its status: not started, failing or "
                    "passing. Check one with: python -m minialex check NAME.")
    parser.add_argument("--dir", type=Path, default=None,
                        help="the folder with the NAME.py files (default: ./exercises if it "
                             "exists, else the repository's exercises/ folder)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    folder = args.dir if args.dir is not None else exercises_dir()
    if folder is None or not folder.is_dir():
        where = "" if folder is None else f" ({display_path(folder)} is not a folder)"
        print(f"No exercises folder found{where}. The exercises are files in the exercises/ "
              "folder of the minialex repository: clone it, pip install -e \".[dev]\" there, "
              "and run this from the repository (or pass --dir).")
        return 1
    print(f"Exercises, in course order (files in {display_path(folder)}/):\n")
    width = max(len(e.name) for e in EXERCISES)
    print(f"  #   {'exercise'.ljust(width)}  lesson  status")
    first_open = None
    for number, exercise in enumerate(EXERCISES, 1):
        # The status only: the first failing input is enough (check NAME shrinks it).
        try:
            report = check_file(exercise, folder / exercise.filename, shrink=False)
        except CheckerUnavailable as exc:
            return error("exercises", str(exc))
        status = report.status
        if report.results and status == "failing":
            status += f" ({report.counts['pass']} of {len(report.results)} properties hold)"
        if first_open is None and not report.passed:
            first_open = exercise.name
        print(f"  {number:<2}  {exercise.name.ljust(width)}  {exercise.lesson_number:<6}  "
              f"{status}", flush=True)
        print(f"      {' ' * width}  {exercise.title}")
    print("\nCheck one:  python -m minialex check NAME   (--file PATH for a file elsewhere)")
    if first_open is None:
        print("Every exercise passes: you have written each piece of AlexNet yourself.")
    else:
        print(f"Next:       python -m minialex check {first_open}   "
              f"(open {display_path(folder / (first_open + '.py'))} first)")
    return 0
