"""``python -m minialex lessons``: the lesson scripts in reading order, one line each;
``--notebooks DIR`` writes them as Jupyter notebooks."""

from __future__ import annotations

import argparse

from minialex import lessons_index


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lessons", help="list the lessons in reading order (or write them as notebooks)",
        description="The course: the lesson scripts in lessons/, in reading order, with the "
                    "first line of each one's docstring. With --notebooks DIR, write them "
                    "as Jupyter notebooks (.ipynb, converted with jupytext) into DIR.")
    p.add_argument("--notebooks", metavar="DIR", default=None,
                   help="write the lessons as notebooks into DIR (created if needed)")
    p.add_argument("lesson", nargs="*",
                   help="with --notebooks: only these lessons (numbers such as 04, or names)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace | None) -> int:
    if args is not None and getattr(args, "notebooks", None) is not None:
        return _write_notebooks(args.notebooks, args.lesson or None)
    if args is not None and getattr(args, "lesson", None):
        from minialex.cli import error

        return error("lessons", "naming lessons needs --notebooks DIR (the list shows all)")
    folder = lessons_index.lessons_dir()
    if folder is None or not lessons_index.lesson_files(folder):
        print("No lessons found: they are scripts in the lessons/ folder of the minialex "
              "repository, not part of an installed package. Clone the repository and run "
              "pip install -e . there, then python -m minialex lessons.")
        return 1
    print("Lessons, in reading order. Run one with: python lessons/NN_topic.py [--quick]")
    print("(lessons/README.md is the course's table of contents; "
          "--notebooks DIR writes them as notebooks)\n")
    for path in lessons_index.lesson_files(folder):
        print(f"  {path.name}\n      {lessons_index.one_line_summary(path)}")
    return 0


def _write_notebooks(out_dir: str, lessons: list[str] | None) -> int:
    from minialex.cli import error
    from minialex.notebooks import write_notebooks

    try:
        written = write_notebooks(out_dir, lessons)
    except ModuleNotFoundError as exc:  # jupytext missing: say what to install
        return error("lessons", str(exc))
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} notebook{'s' * (len(written) != 1)}: open them in Jupyter, e.g. "
          f"jupyter lab {out_dir}")
    print("In a notebook the lesson's options (--quick, --epochs ...) come from the "
          "environment variable MINIALEX_LESSON_ARGS, e.g. MINIALEX_LESSON_ARGS='--quick'.")
    return 0
