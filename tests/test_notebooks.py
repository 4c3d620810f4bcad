"""The lessons are notebooks: jupytext converts them, nbclient runs them in a Jupyter kernel.

CI executes two quick lessons as notebooks; MINIALEX_ALL_NOTEBOOKS=1 executes all of them
(each lesson also runs as a script with --quick in test_lessons.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))
IN_CI = ("01", "08")  # two of the quickest lessons: autograd, and one that trains
ALL = os.environ.get("MINIALEX_ALL_NOTEBOOKS", "") not in ("", "0")

jupytext = pytest.importorskip("jupytext")


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.name for p in LESSONS])
def test_lesson_is_a_percent_notebook_whose_cells_compile(lesson: Path) -> None:
    from minialex.lessons_index import one_line_summary as lesson_summary
    from minialex.notebooks import lesson_notebook

    nb = lesson_notebook(lesson)
    # the docstring is the title (a markdown cell, whether or not the script marks it so)
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source.splitlines()[0] == lesson_summary(lesson)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 4, f"{lesson.name}: {len(code)} code cells; expected '# %%' sections"
    for i, cell in enumerate(code):  # a notebook compiles every cell on its own
        compile(cell.source, f"{lesson.name} code cell {i}", "exec")
    text = lesson.read_text(encoding="utf-8")
    # ends with experiments, then what comes next (the last lesson closes the course)
    assert 'section("Try this")' in text and "Next" in text.split('section("Try this")')[-1]


def test_write_notebooks_chooses_lessons_and_adds_the_path_cell(tmp_path: Path) -> None:
    import nbformat

    from minialex.notebooks import SETUP_TAG, write_notebooks

    paths = write_notebooks(tmp_path / "nb", ["1", "04_shape_arithmetic.py"])
    assert [p.name for p in paths] == [LESSONS[0].stem + ".ipynb", "04_shape_arithmetic.ipynb"]
    assert sorted(os.listdir(tmp_path / "nb")) == sorted(p.name for p in paths)  # no temp files
    nb = nbformat.read(paths[0], as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    setup = [c for c in nb.cells if SETUP_TAG in c.metadata.get("tags", [])]
    assert len(setup) == 1 and nb.cells[1] is setup[0]  # right after the title
    assert repr(str(ROOT / "lessons")) in setup[0].source


def test_write_notebooks_next_to_the_scripts_needs_no_path_cell(tmp_path: Path) -> None:
    from minialex.notebooks import SETUP_TAG, write_notebooks

    (tmp_path / "01_copy.py").write_text(LESSONS[0].read_text(encoding="utf-8"),
                                         encoding="utf-8")
    [path] = write_notebooks(tmp_path, [tmp_path / "01_copy.py"])
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert not any(SETUP_TAG in c["metadata"].get("tags", []) for c in cells)


def test_write_notebooks_refuses_unknown_lessons_before_writing(tmp_path: Path) -> None:
    from minialex.notebooks import write_notebooks

    with pytest.raises(ValueError, match=r"no lesson '99', 'nope'.*lessons: 01"):
        write_notebooks(tmp_path / "nb", ["01", "99", "nope"])
    assert not (tmp_path / "nb").exists()


def test_write_notebooks_without_jupytext_says_what_to_install(monkeypatch, tmp_path) -> None:
    from minialex.notebooks import write_notebooks

    monkeypatch.setitem(sys.modules, "jupytext", None)  # import jupytext now fails
    with pytest.raises(ModuleNotFoundError, match="pip install jupytext"):
        write_notebooks(tmp_path, ["01"])


def test_lessons_command_writes_notebooks(tmp_path, capsys) -> None:
    from minialex.cli import main

    assert main(["lessons", "--notebooks", str(tmp_path), "09"]) == 0
    assert (tmp_path / "09_dropout.ipynb").is_file()
    assert "09_dropout.ipynb" in capsys.readouterr().out
    assert main(["lessons", "--notebooks", str(tmp_path / "x"), "99"]) == 2
    assert "minialex lessons: error: no lesson '99'" in capsys.readouterr().err
    assert main(["lessons", "09"]) == 2  # a lesson name without --notebooks
    assert "needs --notebooks" in capsys.readouterr().err


def test_lessons_command_without_jupytext(monkeypatch, tmp_path, capsys) -> None:
    from minialex.cli import main

    monkeypatch.setitem(sys.modules, "jupytext", None)
    assert main(["lessons", "--notebooks", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minialex lessons: error:") and "pip install jupytext" in err
    assert not list(tmp_path.iterdir())


@pytest.fixture
def common(monkeypatch):
    """lessons/common.py, imported as the lessons import it."""
    import importlib

    monkeypatch.syspath_prepend(str(ROOT / "lessons"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for name in ("MINIALEX_QUICK", "MINIALEX_LESSON_ARGS", "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    module = importlib.import_module("common")
    monkeypatch.setattr(module, "_LESSON_NUMBER", None)
    return module


def test_lesson_args_epochs_and_lr_defaults_quick_and_explicit(common, tmp_path) -> None:
    def parse(*argv: str):
        return common.lesson_args(None, epochs=20, quick_epochs=2, lr=1e-3,
                                  argv=["--out", str(tmp_path), *argv])

    assert (parse().epochs, parse().lr, parse().quick) == (20, 1e-3, False)
    assert parse("--quick").epochs == 2
    assert parse("--quick", "--epochs", "5", "--lr", "0.1").epochs == 5
    assert parse("--lr", "0.1").lr == 0.1
    with pytest.raises(SystemExit):
        parse("--epochs", "0")
    no_training = common.lesson_args(None, argv=["--out", str(tmp_path)])
    assert not hasattr(no_training, "epochs") and not hasattr(no_training, "lr")


def test_lesson_args_quick_from_the_environment(common, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MINIALEX_QUICK", "1")
    assert common.lesson_args(None, epochs=20, quick_epochs=2,
                              argv=["--out", str(tmp_path)]).epochs == 2
    monkeypatch.setenv("MINIALEX_QUICK", "0")
    assert not common.lesson_args(None, argv=["--out", str(tmp_path)]).quick


def test_lesson_args_in_a_kernel_ignores_the_kernels_arguments(common, monkeypatch,
                                                               tmp_path) -> None:
    monkeypatch.setattr(common, "in_jupyter", lambda: True)
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "/x/kernel-1.json"])
    monkeypatch.setenv("MINIALEX_LESSON_ARGS", f"--seed 3 --out '{tmp_path / 'a b'}'")
    monkeypatch.setenv("JPY_SESSION_NAME", "somewhere/07_local_response_norm.ipynb")
    namespace: dict = {"__doc__": None}  # a notebook's globals: no __file__
    exec("args = lesson_args(__doc__)", {"lesson_args": common.lesson_args}, namespace)
    args = namespace["args"]
    assert (args.seed, args.out, args.quick) == (3, tmp_path / "a b", False)
    assert (tmp_path / "a b").is_dir()
    assert common._lesson_number() == "07"  # figures are named after the notebook


def _run_notebook(lesson: Path, tmp_path: Path, monkeypatch):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient

    # A kernel of this very Python (with this minialex), whatever other "python3" kernels the
    # machine has registered: a kernelspec in a folder that JUPYTER_PATH puts first.
    spec = tmp_path / "jupyter" / "kernels" / "minialex-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "minialex test", "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    from minialex.notebooks import lesson_notebook

    # Written outside lessons/ (with the sys.path cell), run from yet another folder; the
    # kernel's environment is what Jupyter gives it: the notebook's path in JPY_SESSION_NAME.
    nb = lesson_notebook(lesson, setup_folder=lesson.parent)
    figures, cwd = tmp_path / "figures", tmp_path / "cwd"
    cwd.mkdir()
    env = dict(os.environ, MPLBACKEND="Agg", MINIALEX_QUICK="1",
               MINIALEX_LESSON_ARGS=f"--out '{figures}'",
               JPY_SESSION_NAME=str(cwd / f"{lesson.stem}.ipynb"))
    env.pop("MINIALEX_BACKEND", None)
    client = NotebookClient(nb, kernel_name="minialex-test", timeout=300,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)  # raises CellExecutionError with the cell's traceback
    return nb, figures


def _check_run(lesson: Path, tmp_path: Path, monkeypatch) -> None:
    nb, figures = _run_notebook(lesson, tmp_path, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Try this" in text and "Next" in text.split("Try this")[-1], text[-500:]
    saved = sorted(figures.glob(f"{lesson.name[:2]}_*.png"))
    assert saved, f"no {lesson.name[:2]}_*.png in --out: {os.listdir(figures)}"
    shown = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(shown) == len(saved), "each saved figure is also shown in the notebook"
    stray = [o["data"].get("text/plain") for o in outputs if o.output_type == "execute_result"]
    assert not stray, f"cells end in an expression whose value is displayed: {stray}"


@pytest.mark.slow
@pytest.mark.parametrize("lesson", [p for p in LESSONS if p.name[:2] in IN_CI],
                         ids=lambda p: p.name)
def test_lesson_runs_as_a_notebook(lesson: Path, tmp_path: Path, monkeypatch) -> None:
    _check_run(lesson, tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.skipif(not ALL, reason="set MINIALEX_ALL_NOTEBOOKS=1 to run every lesson as a "
                                    "notebook (CI runs two, and every lesson as a script)")
@pytest.mark.parametrize("lesson", [p for p in LESSONS if p.name[:2] not in IN_CI],
                         ids=lambda p: p.name)
def test_every_other_lesson_runs_as_a_notebook(lesson: Path, tmp_path: Path,
                                               monkeypatch) -> None:
    _check_run(lesson, tmp_path, monkeypatch)
