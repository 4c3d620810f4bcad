"""Each lesson runs with --quick and saves figures; `python -m minialex lessons` lists them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


def _env() -> dict[str, str]:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env.pop("MINIALEX_BACKEND", None)  # lessons run on the default (NumPy) backend
    return env


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=[p.name for p in LESSONS])
def test_lesson_runs_quick_and_saves_figures(lesson: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(lesson), "--quick", "--out", str(tmp_path)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"{lesson.name} --quick exited {proc.returncode}\n--- stdout (tail) ---\n"
        f"{proc.stdout[-3000:]}\n--- stderr (tail) ---\n{proc.stderr[-3000:]}")
    figures = sorted(tmp_path.glob(f"{lesson.name[:2]}_*.png"))
    assert figures, f"{lesson.name} wrote no {lesson.name[:2]}_*.png into --out"
    assert all(f.stat().st_size > 1000 for f in figures), "a figure file is (nearly) empty"


def test_lessons_command_lists_every_lesson() -> None:
    assert LESSONS, "no lessons/NN_*.py found"
    proc = subprocess.run([sys.executable, "-m", "minialex", "lessons"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for lesson in LESSONS:
        assert lesson.name in proc.stdout, f"{lesson.name} missing from the lessons listing"
    # reading order: each lesson appears after the previous one
    positions = [proc.stdout.index(lesson.name) for lesson in LESSONS]
    assert positions == sorted(positions)


def test_every_lesson_has_a_one_line_summary() -> None:
    from minialex.lessons_index import one_line_summary

    for lesson in LESSONS:
        summary = one_line_summary(lesson)
        assert summary != "(no summary)" and len(summary) <= 100, (lesson.name, summary)
