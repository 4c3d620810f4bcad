"""Where the lesson scripts are and what each is about (``python -m minialex lessons`` prints it).

The lessons are scripts in the repository's ``lessons/`` folder, next to the package, so
they are found in a source checkout or an editable install; a wheel installed without the
repository has none and gets a message saying where to find them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

LESSON_PATTERN = re.compile(r"^(\d\d)_\w+\.py$")


def lessons_dir() -> Path | None:
    """The ``lessons/`` folder beside the package, or None when not present."""
    candidate = Path(__file__).resolve().parent.parent / "lessons"
    return candidate if candidate.is_dir() else None


def lesson_files(folder: Path) -> list[Path]:
    """``NN_topic.py`` files in ``folder``, in reading order."""
    return sorted(p for p in folder.iterdir() if LESSON_PATTERN.match(p.name))


def one_line_summary(path: Path) -> str:
    """First line of the script's module docstring (read without running it)."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, UnicodeDecodeError, OSError):
        doc = None
    return doc.strip().splitlines()[0] if doc else "(no summary)"
