"""``python -m minialex lessons``: the lesson scripts in reading order, one line each."""

from __future__ import annotations

import argparse

from minialex import lessons_index


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lessons", help="list the lessons in reading order",
        description="The course: the lesson scripts in lessons/, in reading order, with the "
                    "first line of each one's docstring.")
    p.set_defaults(run=run)


def run(args: argparse.Namespace | None) -> int:
    folder = lessons_index.lessons_dir()
    if folder is None or not lessons_index.lesson_files(folder):
        print("No lessons found: they are scripts in the lessons/ folder of the minialex "
              "repository, not part of an installed package. Clone the repository and run "
              "pip install -e . there, then python -m minialex lessons.")
        return 1
    print("Lessons, in reading order. Run one with: python lessons/NN_topic.py [--quick]")
    print("(lessons/README.md is the course's table of contents)\n")
    for path in lessons_index.lesson_files(folder):
        print(f"  {path.name}\n      {lessons_index.one_line_summary(path)}")
    return 0
