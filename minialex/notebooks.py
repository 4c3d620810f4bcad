"""The lessons as Jupyter notebooks: each ``lessons/NN_topic.py`` becomes ``NN_topic.ipynb``.

The lesson scripts are the source. They are written in jupytext's "percent" format:
``# %%`` starts a code cell and ``# %% [markdown]`` a markdown cell (its text either in
comment lines or, for the module docstring, in a triple-quoted string), so a script is also
a notebook and runs unchanged both ways. jupytext does the conversion; it is imported only
when notebooks are asked for (``pip install jupytext``, part of the ``[dev]`` extra).

A notebook written outside ``lessons/`` gets one extra first code cell that puts the
lessons folder on ``sys.path``, because every lesson imports its helpers from
``lessons/common.py``.
"""

from __future__ import annotations

import ast
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from minialex.lessons_index import LESSON_PATTERN, lesson_files, lessons_dir

SETUP_TAG = "minialex-setup"
_SETUP_CELL = """\
# Added by minialex's notebook export: this notebook is not in the lessons/ folder, and the
# lesson imports its helpers (common.py) from there.
import sys

sys.path.insert(0, {folder!r})"""


def _jupytext() -> Any:
    try:
        import jupytext
    except ImportError as exc:
        raise ModuleNotFoundError(
            "writing the lessons as notebooks needs jupytext, which is not installed: "
            "pip install jupytext (it is part of minialex's [dev] extra)") from exc
    return jupytext


def select_lessons(lessons: Iterable[str | os.PathLike[str]] | None = None,
                   folder: Path | None = None) -> list[Path]:
    """Lesson scripts by number (``"4"``, ``"04"``), file name or path; all when None.

    Raises FileNotFoundError when there is no lessons folder (an installed wheel without the
    repository) and ValueError naming any lesson that does not exist, before any work.
    """
    folder = folder if folder is not None else lessons_dir()
    available = lesson_files(folder) if folder is not None else []
    if lessons is None:
        if not available:
            raise FileNotFoundError(
                "no lessons found: they are the scripts in the lessons/ folder of the minialex "
                "repository, not part of an installed package")
        return available
    chosen, unknown = [], []
    for item in lessons:
        path = Path(item)
        if path.suffix == ".py" and path.is_file():
            chosen.append(path)
            continue
        text = str(item).removesuffix(".py")
        matches = [p for p in available
                   if p.stem == text or (text.isdigit() and p.name[:2] == f"{int(text):02d}")]
        if len(matches) == 1:
            chosen.append(matches[0])
        else:
            unknown.append(str(item))
    if unknown:
        names = ", ".join(p.name[:2] for p in available) or "none found"
        raise ValueError(f"no lesson {', '.join(map(repr, unknown))}: expected a lesson number, "
                         f"name or .py path (lessons: {names})")
    return chosen


def lesson_notebook(path: Path, setup_folder: Path | None = None) -> Any:
    """The notebook (an ``nbformat.NotebookNode``) of one lesson script.

    ``setup_folder``: put this folder on ``sys.path`` in an extra first code cell (tagged
    ``minialex-setup``), for a notebook that will not live next to ``common.py``. A module
    docstring at the top of the first code cell becomes a markdown cell of its own.
    """
    jupytext = _jupytext()
    from nbformat.v4 import new_code_cell, new_markdown_cell

    notebook = jupytext.read(path, fmt="py:percent")
    if notebook.cells and notebook.cells[0].cell_type == "code":
        title, rest = _split_docstring(notebook.cells[0].source)
        if title is not None:  # in a code cell the docstring would show as a quoted value
            notebook.cells[0:1] = [new_markdown_cell(title)] + (
                [new_code_cell(rest)] if rest else [])
    if setup_folder is not None:
        cell = new_code_cell(_SETUP_CELL.format(folder=str(setup_folder)),
                             metadata={"tags": [SETUP_TAG]})
        first = 1 if notebook.cells and notebook.cells[0].cell_type == "markdown" else 0
        notebook.cells.insert(first, cell)  # after the title, before the lesson's imports
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def _split_docstring(source: str) -> tuple[str | None, str]:
    """(docstring, the code after it) of a cell that starts with a string literal."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None, source
    first = body[0] if body else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return None, source
    rest = "\n".join(source.splitlines()[first.end_lineno:]).strip("\n")
    return first.value.value.strip(), rest


def write_notebooks(out_dir: str | os.PathLike[str],
                    lessons: Iterable[str | os.PathLike[str]] | None = None) -> list[Path]:
    """Convert lesson scripts to ``OUT_DIR/NN_topic.ipynb``; returns the files written.

    ``lessons``: numbers, names or paths (see ``select_lessons``); default every lesson.
    All notebooks are converted before the first is written, and each file is written to a
    temporary name and renamed, so a failure leaves no half-written notebook.
    """
    jupytext = _jupytext()
    paths = select_lessons(lessons)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"notebooks: {out} exists and is not a folder")
    texts = {}
    for path in paths:
        if not LESSON_PATTERN.match(path.name):
            raise ValueError(f"notebooks: {path.name} is not named like a lesson (NN_topic.py)")
        here = path.resolve().parent
        setup = None if out.exists() and out.resolve() == here else here
        texts[out / f"{path.stem}.ipynb"] = jupytext.writes(lesson_notebook(path, setup),
                                                            fmt="ipynb")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for target, text in texts.items():
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
