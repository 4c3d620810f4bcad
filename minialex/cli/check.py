"""``python -m minialex check NAME [--file PATH]``: property-test a learner's exercise file.

Prints each property with PASS / FAIL / TODO (not implemented yet), the failing input and its
relative error; exit code 0 only when every property holds, 1 otherwise, 2 (through
``minialex.cli.main``) for a name or a file that does not exist.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from minialex.cli import error
from minialex.cli._args import positive_int
from minialex.exercises import (
    DEFAULT_EXAMPLES,
    CheckerUnavailable,
    CheckReport,
    PropertyResult,
    check_file,
    default_file,
    find_exercise,
)

_MARK = {"pass": "PASS", "fail": "FAIL", "not implemented": "TODO"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check", help="property-test your solution of an exercise",
        description="Test the functions of an exercise file on inputs hypothesis draws, "
                    "against minialex's own layers and central differences. Exit code 0 only "
                    "when every property holds.")
    parser.add_argument("name", help="the exercise, e.g. conv_forward (python -m minialex "
                                     "exercises lists them)")
    parser.add_argument("--file", type=Path, default=None,
                        help="the file to check (default: exercises/NAME.py in the current "
                             "directory if it has an exercises/ folder, else the repository's)")
    parser.add_argument("--examples", type=positive_int, default=DEFAULT_EXAMPLES,
                        help=f"drawn inputs per property (default {DEFAULT_EXAMPLES}; more "
                             "finds rarer bugs and takes longer)")
    parser.set_defaults(run=run)


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def property_lines(result: PropertyResult) -> list[str]:
    """The lines printed for one property."""
    head = f"  {_MARK[result.outcome]}  {result.name}"
    if result.outcome == "pass":
        worst = ("" if result.rel_error is None
                 else f", worst rel_error {result.rel_error:.1e}")
        return [f"{head}  ({result.inputs_tried} inputs{worst})"]
    if result.outcome == "not implemented":
        return [head, f"          {result.message}"]
    lines = [f"{head}  ({result.inputs_tried} inputs tried)",
             f"          input: {result.case}", f"          {result.message}"]
    if result.rel_error is not None and "rel_error" not in (result.message or ""):
        lines.append(f"          rel_error {result.rel_error:.2e}")
    return lines


def report_lines(report: CheckReport) -> list[str]:
    exercise, where = report.exercise, display_path(report.path)
    lines = [f"exercise {exercise.name}: {exercise.title}",
             f"file {where} (goes with lessons/{exercise.lesson}.py)", ""]
    if report.error is not None:
        return lines + [f"  {report.error}", "", f"{exercise.name}: {report.status}."]
    for result in report.results:
        lines += property_lines(result)
    counts, total = report.counts, len(report.results)
    lines.append("")
    if report.status == "not started":
        lines.append(f"{exercise.name} is not implemented yet: open {where}, read its "
                     "docstring and replace each raise NotImplementedError with your code. "
                     f"Then run python -m minialex check {exercise.name} again.")
    elif report.status == "passing":
        lines.append(f"All {total} properties hold: {exercise.name} is passing.")
    else:
        todo = (f", {counts['not implemented']} not implemented yet"
                if counts["not implemented"] else "")
        lines.append(f"{counts['pass']} of {total} properties hold{todo}: {exercise.name} is "
                     "failing. Start with the first FAIL: its input is the smallest failing one "
                     "found.")
    return lines


def run(args: argparse.Namespace) -> int:
    exercise = find_exercise(args.name)  # ExerciseNotFound (a ValueError) says "did you mean"
    path = args.file if args.file is not None else default_file(exercise)
    if not path.is_file():
        raise FileNotFoundError(f"no file {display_path(path)} (pass --file PATH, or run from "
                                "the folder that holds exercises/)")
    try:
        report = check_file(exercise, path, args.examples)
    except CheckerUnavailable as exc:
        return error("check", str(exc))
    print("\n".join(report_lines(report)))
    return 0 if report.passed else 1
