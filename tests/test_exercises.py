"""The exercises and their checker: stubs report "not started", reference solutions pass,
typical mistakes fail on the property they break, and the check / exercises commands.

The reference solutions are written independently in tests/exercise_solutions/ (plain NumPy
loops, not minialex's kernels); each mistake is a one-line edit of a solution.
"""

from __future__ import annotations

import ast
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minialex.cli import COMMANDS, main
from minialex.exercises import (
    EXERCISES,
    CheckerUnavailable,
    ExerciseNotFound,
    check,
    check_file,
    default_file,
    exercises_dir,
    find_exercise,
)

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "exercises"
SOLUTIONS = Path(__file__).resolve().parent / "exercise_solutions"
FEW = 8  # drawn inputs per property where a test only needs the check to run


def solution(name: str) -> Path:
    return SOLUTIONS / f"{name}.py"


def mutated(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    """A copy of the reference solution with each (old, new) edit applied once."""
    source = solution(name).read_text()
    for old, new in edits:
        assert source.count(old) == 1, f"edit target not found once in {name}: {old!r}"
        source = source.replace(old, new)
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


# ---------------------------------------------------------------- the registry and the stubs
def test_at_least_eight_exercises_in_course_order_covering_the_brief():
    assert len(EXERCISES) >= 8
    lessons = [e.lesson_number for e in EXERCISES]
    assert lessons == sorted(lessons)
    for exercise in EXERCISES:
        assert (ROOT / "lessons" / f"{exercise.lesson}.py").is_file(), exercise.lesson
        assert (STUBS / exercise.filename).is_file(), exercise.filename
    names = {e.name for e in EXERCISES}
    assert {"conv_forward", "im2col", "conv_backward", "max_pool", "lrn", "dropout",
            "sgd_momentum", "output_size"} <= names
    assert len(names) == len(EXERCISES)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_shipped_stub_is_documented_and_not_started(exercise):
    path = STUBS / exercise.filename
    report = check_file(exercise, path, max_examples=FEW)
    if report.status != "not started" and not os.environ.get("CI"):
        # A learner solving the exercise in place: the suite must not fail for that.
        pytest.skip(f"exercises/{exercise.filename} has been worked on: `python -m minialex "
                    f"check {exercise.name}` checks it (CI still requires the shipped stub)")
    tree = ast.parse(path.read_text())
    doc = ast.get_docstring(tree)
    for words in ("Shapes", "Hints", f"python -m minialex check {exercise.name}", "Next:"):
        assert words in doc, f"{exercise.filename}: no {words!r} in the docstring"
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert defined == list(exercise.functions)
    imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
               for a in n.names}
    assert imports <= {"numpy"}, "exercises use NumPy only"
    assert report.status == "not started"
    assert all(r.outcome == "not implemented" for r in report.results)
    assert not report.passed


def test_a_stub_solved_in_place_skips_locally_and_fails_in_ci(tmp_path, monkeypatch):
    """A learner's solved file does not break the suite; CI still catches a shipped solution."""
    exercise = find_exercise("output_size")
    shutil.copy(solution("output_size"), tmp_path / exercise.filename)
    monkeypatch.setattr(sys.modules[__name__], "STUBS", tmp_path)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="has been worked on"):
        test_shipped_stub_is_documented_and_not_started(exercise)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(AssertionError):
        test_shipped_stub_is_documented_and_not_started(exercise)


def test_conv_forward_has_the_contracted_signature():
    source = (STUBS / "conv_forward.py").read_text()
    namespace: dict = {}
    exec(compile(source, "conv_forward.py", "exec"), namespace)
    params = list(inspect.signature(namespace["conv2d_forward"]).parameters)
    assert params == ["x", "w", "b", "stride", "padding"]


# ---------------------------------------------------------------- correct and wrong solutions
@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_reference_solution_passes(exercise):
    report = check_file(exercise, solution(exercise.name))
    assert report.status == "passing", [(r.name, r.case, r.message) for r in report.results]
    assert len(report.results) >= 2
    for result in report.results:
        assert result.inputs_tried >= 1
        assert result.rel_error is None or result.rel_error <= result.tolerance
    # hypothesis drew inputs beyond the explicit examples for most properties
    assert sum(r.inputs_tried > 5 for r in report.results) >= len(report.results) - 1


MISTAKES = [
    # (exercise, edits, words in the name of a property that must fail)
    ("conv_forward", [("(padding, padding), (padding, padding)",
                       "(padding + 1, padding + 1), (padding + 1, padding + 1)")],
     "matches minialex.functional.conv2d"),  # off-by-one padding: windows shifted
    ("conv_forward", [("oh = (h + 2 * padding - kh) // stride + 1",
                       "oh = (h + padding - kh) // stride + 1")],
     "returns (N, F, OH, OW)"),  # padding counted once
    ("im2col", [("cols = np.empty((c, kh, kw, n, oh, ow))",
                 "cols = np.empty((kh, kw, c, n, oh, ow))"), ("cols[:, i, j] = ", "cols[i, j] = ")],
     "im2col matches minialex's im2col"),  # rows (p, q, c) instead of (c, p, q)
    ("conv_backward", [(" += blocks", " = blocks")],
     "col2im is the adjoint of im2col"),  # overwrites instead of adding
    ("conv_backward", [("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))[0]")],
     "conv2d_backward's dx, dw, db"),  # bias gradient of the first image only
    ("max_pool", [("first[np.unravel_index(np.argmax(window), window.shape)] = 1",
                   "first[window == window.max()] = 1")],
     "sends its gradient to one input"),  # gradient to every tie
    ("max_pool", [("dx[i, j, rows, cols] += first", "dx[i, j, rows, cols] = first")],
     "matches central differences"),  # overlapping windows overwrite each other
    ("lrn", [("a[:, max(0, c - half):", "a[:, c - half:")],
     "clips the window"),  # negative slice start: no clipping at channel 0
    ("lrn", [("den = k + alpha * _window_sum(x * x, size)\n    return",
              "den = k + alpha / size * _window_sum(x * x, size)\n    return")],
     "lrn_forward matches"),  # PyTorch's alpha / size convention
    ("lrn", [("dout * den**-beta - 2 * alpha * beta * x * _window_sum(dout * out / den, size)",
              "dout * den**-beta")],
     "lrn_backward matches central differences"),  # the denominator's dependence forgotten
    ("dropout", [("return x * mask / (1 - p), mask", "return x * mask, mask")],
     "keeps their mean at 1"),  # forgotten 1 / (1 - p)
    ("dropout", [("mask = rng.random(x.shape) >= p",
                  "import numpy as np\n    mask = np.random.random(x.shape) >= p")],
     "the same seed gives the same mask"),  # the global generator, not the one given
    ("dropout", [("return dout * mask / (1 - p)", "return dout * mask")],
     "dropout_backward matches"),
    ("lrn", [("return x / den**beta", "return (x / den**beta).astype(np.float32)")],
     "lrn_forward matches"),  # float32 rounding: reported as such
    ("sgd_momentum", [(" - weight_decay * lr * w", "")],
     "worked out by hand"),  # weight decay missing
    ("sgd_momentum", [("v = momentum * v", "v = -momentum * v")],
     "matches minialex.optim.SGD"),  # momentum sign wrong
    ("output_size", [("// stride", "/ stride")],
     "conv_output_size is the size"),  # no floor
    ("output_size", [("return (n + 2 * padding - kernel) // stride + 1",
                      "return round((n + 2 * padding - kernel) / stride) + 1")],
     "AlexNet's 227 -> 55"),  # rounds instead of flooring: 224 gives 54 -> 27
    ("output_size", [("        if kernel > sizes[-1] + 2 * padding:\n", "        if False:\n")],
     "raises ValueError"),
    ("numerical_gradient", [("        x[index] = old - h\n        minus = f(x)",
                             "        x[index] = old\n        minus = f(x)"),
                            ("(2 * h)", "h")],
     "hand-derived gradient"),  # one-sided difference: error ~h instead of ~h^2
    ("numerical_gradient", [("        x[index] = old\n        grad", "        grad")],
     "leaves x as it found it"),
]


@pytest.mark.parametrize("name, edits, broken", MISTAKES,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_fails_the_property_it_breaks(tmp_path, name, edits, broken):
    report = check_file(find_exercise(name), mutated(tmp_path, name, *edits), max_examples=FEW,
                        shrink=False)
    assert report.status == "failing"
    failed = [r for r in report.results if r.outcome == "fail"]
    assert any(broken in r.name for r in failed), [(r.name, r.outcome) for r in report.results]
    for r in failed:
        assert r.case and r.message  # which input, and what went wrong


def test_failure_names_the_shrunk_input_and_the_relative_error(tmp_path):
    path = mutated(tmp_path, "conv_backward", (" += blocks", " = blocks"))
    report = check_file(find_exercise("conv_backward"), path)
    adjoint = next(r for r in report.results if r.name.startswith("col2im is the adjoint"))
    assert adjoint.outcome == "fail"
    assert adjoint.rel_error > adjoint.tolerance
    assert f"{adjoint.rel_error:.2e}" in adjoint.message
    # hypothesis shrinks towards the smallest input whose patches overlap: one image, one
    # channel, a window of 2 moved by 1 (not the large explicit examples)
    assert adjoint.case.startswith("x (1, 1, ")
    assert "stride=1" in adjoint.case
    again = check_file(find_exercise("conv_backward"), path)
    assert again.results == report.results  # derandomised: the same report every time


def test_a_partly_done_exercise_is_failing_with_the_rest_not_implemented(tmp_path):
    path = mutated(tmp_path, "max_pool", ("def max_pool_backward(dout, x, kernel, stride):\n",
                                          "def max_pool_backward(dout, x, kernel, stride):\n"
                                          "    raise NotImplementedError\n"))
    report = check_file(find_exercise("max_pool"), path, max_examples=FEW)
    assert report.status == "failing"
    assert report.counts == {"pass": 1, "fail": 0, "not implemented": 3}


def test_learner_exception_names_the_function_and_the_line(tmp_path):
    path = mutated(tmp_path, "conv_forward", ("    out = np.zeros((n, f, oh, ow))\n",
                                              "    out = np.zeros((n, f, oh, ow))\n"
                                              "    out[n] = 0\n"))
    report = check_file(find_exercise("conv_forward"), path, max_examples=FEW)
    message = report.results[0].message
    assert "conv2d_forward raised IndexError" in message
    line = path.read_text().splitlines().index("    out[n] = 0") + 1
    assert f"line {line} of conv_forward.py" in message


def test_files_that_do_not_load_or_lack_a_function(tmp_path):
    exercise = find_exercise("dropout")
    broken = tmp_path / "broken.py"
    broken.write_text("def dropout_forward(x, p, training, rng)\n    pass\n")
    report = check_file(exercise, broken)
    assert report.status == "does not load" and "SyntaxError" in report.error
    partial = tmp_path / "partial.py"
    partial.write_text("def dropout_forward(x, p, training, rng):\n    return x, None\n")
    report = check_file(exercise, partial)
    assert report.status == "does not load"
    assert "no function dropout_backward" in report.error and "defines dropout_forward" in (
        report.error)
    assert check_file(exercise, tmp_path / "missing.py").status == "not found"


def test_checking_writes_nothing_beside_the_learners_file(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    shutil.copy(solution("lrn"), folder / "lrn.py")
    shutil.copy(STUBS / "conv_forward.py", folder / "conv_forward.py")
    check_file(find_exercise("lrn"), folder / "lrn.py", max_examples=FEW)
    check_file(find_exercise("conv_forward"), folder / "conv_forward.py", max_examples=FEW)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["conv_forward.py", "exercises",
                                                           "lrn.py"]


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ExerciseNotFound, match="did you mean conv_forward"):
        find_exercise("conv_foward")
    with pytest.raises(ValueError, match="the exercises are: numerical_gradient"):
        check("alexnet")


def test_default_folder_is_the_current_directorys_then_the_repositorys(tmp_path):
    assert exercises_dir(cwd=tmp_path) == STUBS  # no ./exercises here: the repository's
    (tmp_path / "exercises").mkdir()
    assert exercises_dir(cwd=tmp_path) == tmp_path / "exercises"
    assert default_file(find_exercise("lrn"), cwd=tmp_path) == tmp_path / "exercises" / "lrn.py"


def test_without_hypothesis_the_checker_says_what_to_install(monkeypatch):
    import minialex.exercises.registry as registry

    def no_hypothesis(name):
        raise ModuleNotFoundError("No module named 'hypothesis'", name="hypothesis")
    monkeypatch.setattr(registry.importlib, "import_module", no_hypothesis)
    with pytest.raises(CheckerUnavailable, match=r"pip install -e \"\.\[dev\]\""):
        EXERCISES[0].properties()


# ---------------------------------------------------------------- the commands
def run_command(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_both_commands_are_registered():
    assert {"exercises", "check"} <= set(COMMANDS)


def test_check_command_on_a_correct_a_wrong_and_a_stub_file(capsys, tmp_path):
    code, out, _ = run_command(capsys, "check", "conv_forward", "--file",
                               str(solution("conv_forward")))
    assert code == 0
    assert out.count("  PASS  ") == 2 and "conv_forward is passing" in out

    wrong = mutated(tmp_path, "conv_forward", ("+ b[k]", "- b[k]"))
    code, out, _ = run_command(capsys, "check", "conv_forward", "--file", str(wrong))
    assert code == 1
    assert "  FAIL  matches minialex.functional.conv2d" in out
    assert "input: x (" in out and "rel_error" in out and "is failing" in out

    code, out, _ = run_command(capsys, "check", "conv_forward", "--file",
                               str(STUBS / "conv_forward.py"), "--examples", "3")
    assert code == 1
    assert "  TODO  " in out and "not implemented yet" in out


def test_check_command_errors(capsys, tmp_path):
    code, out, err = run_command(capsys, "check", "max_pol")
    assert code == 2 and out == ""
    assert err.startswith("minialex check: error: ") and "did you mean max_pool" in err
    code, _, err = run_command(capsys, "check", "lrn", "--file", str(tmp_path / "nope.py"))
    assert code == 2 and "no file" in err


def test_exercises_command_lists_every_exercise_with_its_status(capsys, tmp_path):
    shutil.copy(solution("conv_forward"), tmp_path / "conv_forward.py")
    mutated(tmp_path, "dropout", ("return x * mask / (1 - p), mask", "return x * mask, mask"))
    shutil.copy(STUBS / "lrn.py", tmp_path / "lrn.py")
    code, out, _ = run_command(capsys, "exercises", "--dir", str(tmp_path))
    assert code == 0
    rows = {line.split()[1]: line for line in out.splitlines() if line[:4].strip().isdigit()}
    assert list(rows) == [e.name for e in EXERCISES]  # course order
    assert rows["conv_forward"].endswith("passing")
    assert "failing (" in rows["dropout"] and "properties hold)" in rows["dropout"]
    assert rows["lrn"].endswith("not started")
    assert rows["numerical_gradient"].endswith("not found")
    assert "python -m minialex check NAME" in out
    assert "Next:       python -m minialex check numerical_gradient" in out


def test_python_m_minialex_check_in_a_subprocess(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wrong = mutated(tmp_path, "max_pool", ("dx[i, j, rows, cols] += first",
                                           "dx[i, j, rows, cols] = first"))
    for path, expected in ((solution("max_pool"), 0), (wrong, 1)):
        done = subprocess.run([sys.executable, "-m", "minialex", "check", "max_pool", "--file",
                               str(path)], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)
        assert done.returncode == expected, done.stdout + done.stderr
        assert ("FAIL" in done.stdout) == (expected == 1)


# ---------------------------------------------------------------- the documentation
def block(text: str, name: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    inner = text[text.index(begin) + len(begin):text.index(end)].strip()
    assert inner.startswith("```text\n") and inner.endswith("\n```")
    return inner[len("```text\n"):-len("\n```")]


def test_exercises_readme_shows_what_check_prints(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "exercises"
    folder.mkdir()
    mutated(folder, "conv_backward", (" += blocks", " = blocks"))
    monkeypatch.chdir(tmp_path)  # so the report shows exercises/conv_backward.py
    code, out, _ = run_command(capsys, "check", "conv_backward")
    assert code == 1
    assert out.rstrip("\n") == block((STUBS / "README.md").read_text(), "check-output")


def test_the_docs_list_every_exercise_in_course_order():
    from minialex.exercises.runner import DEFAULT_EXAMPLES, SHRINKING_BUDGET

    readme = (STUBS / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| ") and "`" in line]
    assert [line.split("`")[1] for line in table] == [e.name for e in EXERCISES]
    assert f"at most {DEFAULT_EXAMPLES} inputs" in readme
    assert f"stops after {SHRINKING_BUDGET} tries" in readme

    lessons = (ROOT / "lessons" / "README.md").read_text()
    section = lessons[lessons.index("<!-- exercises:"):lessons.index("<!-- end exercises -->")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "exercises/" in line]
    assert [row.split("`exercises/")[1].split(".py")[0] for row in rows] == [
        e.name for e in EXERCISES]
    assert [row[2:4] for row in rows] == [e.lesson_number for e in EXERCISES]
    for row, exercise in zip(rows, EXERCISES, strict=True):
        assert f"`python -m minialex check {exercise.name}`" in row

    main_readme = (ROOT / "README.md").read_text()
    assert "python -m minialex exercises" in main_readme
    assert "python -m minialex check conv_forward" in main_readme
