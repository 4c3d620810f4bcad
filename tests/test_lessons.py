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


def test_summarise_custom_model_example() -> None:
    """The example derives fc4's input from the trace (3x64x64 -> 128*3*3) and reports a
    wrongly sized layer by name."""
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "summarise_custom_model.py")],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Linear(1152->256)" in proc.stdout  # 128 channels * 3 * 3, by hand
    # conv1 2,432 + conv2 9,280 + conv3 73,856 + fc4 295,168 + fc5 2,570 (hand arithmetic)
    assert f"Total params: {2432 + 9280 + 73856 + 295168 + 2570:,}" in proc.stdout
    assert "layer 'fc4'" in proc.stdout


def test_lessons_command_without_the_repository_says_where_they_are(monkeypatch, capsys,
                                                                   tmp_path: Path) -> None:
    from minialex import lessons_index
    from minialex.cli import lessons

    monkeypatch.setattr(lessons_index, "lessons_dir", lambda: None)
    assert lessons.run(None) == 1
    assert "lessons/ folder of the minialex repository" in capsys.readouterr().out
    monkeypatch.setattr(lessons_index, "lessons_dir", lambda: tmp_path)  # empty folder
    assert lessons.run(None) == 1
