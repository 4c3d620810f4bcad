"""Load a learner's file and check each property on hypothesis-drawn inputs; results as data.

A property is a function of the learner's functions and one drawn case (a NamedTuple of small
integers and a seed, from which the arrays are made), that returns the relative error it
measured or raises ``Mismatch``. The runner tries the property's first explicit example (so a
stub is reported at once), then up to ``max_examples`` drawn cases, then the other explicit
examples. Hypothesis shrinks a failure to the smallest case it finds (within a budget of
tried cases), and that case is the one reported. Runs are derandomised and keep no example
database: the same file gives the same report, and nothing is written next to the learner's
code.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minialex.backend import np
from minialex.exercises.registry import Exercise, find_exercise

__all__ = ["Property", "Mismatch", "NotImplementedYet", "LearnerError", "ExerciseLoadError",
           "PropertyResult", "CheckReport", "load_functions", "check", "check_file",
           "DEFAULT_EXAMPLES"]

DEFAULT_EXAMPLES = 20  # drawn cases per property (each property may ask for fewer)


class Mismatch(AssertionError):
    """A property does not hold: what differs, and the relative error when there is one."""

    def __init__(self, message: str, rel_error: float | None = None) -> None:
        super().__init__(message)
        self.rel_error = rel_error


class NotImplementedYet(Exception):
    """The learner's function still raises NotImplementedError."""

    def __init__(self, function: str) -> None:
        super().__init__(f"{function} is not implemented yet (it raises NotImplementedError)")
        self.function = function


class LearnerError(Exception):
    """The learner's function raised; the message names the function and the line."""


class ExerciseLoadError(Exception):
    """The learner's file does not import, or lacks a function the exercise asks for."""


@dataclass(frozen=True)
class Property:
    """One checkable statement about the learner's functions.

    check(functions, case) returns the relative error measured (or None when the property
    has no number, e.g. a shape) or raises Mismatch. A returned error above ``tolerance``
    is a failure. ``examples``: at least one explicit case (the first is tried first);
    ``cases``: a hypothesis strategy drawing more, at most ``max_examples`` of them.
    """

    name: str
    check: Callable[[Any, Any], float | None]
    examples: tuple[Any, ...]
    cases: Any = None  # None: the explicit examples only
    tolerance: float = 1e-8
    max_examples: int = DEFAULT_EXAMPLES


@dataclass(frozen=True)
class PropertyResult:
    """``outcome`` is "pass", "fail" or "not implemented"."""

    name: str
    outcome: str
    inputs_tried: int
    rel_error: float | None  # the worst seen when passing, the failing one otherwise
    tolerance: float
    case: str | None = None  # the failing (shrunk) input, described
    message: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


@dataclass(frozen=True)
class CheckReport:
    """The result of checking one file: a status and one PropertyResult per property."""

    exercise: Exercise
    path: Path
    results: tuple[PropertyResult, ...] = ()
    error: str | None = None  # set when the file is missing or does not load

    @property
    def status(self) -> str:
        """passing / failing / not started / not found / does not load."""
        if self.error is not None:
            return "not found" if not self.path.is_file() else "does not load"
        if all(r.outcome == "not implemented" for r in self.results):
            return "not started"
        return "passing" if all(r.passed for r in self.results) else "failing"

    @property
    def passed(self) -> bool:
        return self.status == "passing"

    @property
    def counts(self) -> dict[str, int]:
        return {outcome: sum(r.outcome == outcome for r in self.results)
                for outcome in ("pass", "fail", "not implemented")}


# ---------------------------------------------------------------- loading the learner's file
def _where(exc: BaseException, path: Path) -> str:
    """', line N of FILE' for the deepest traceback frame inside the learner's file."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__)
             if Path(f.filename).resolve() == path.resolve()]
    return f" (line {lines[-1]} of {path.name})" if lines else ""


class Functions:
    """The learner's functions, guarded: array arguments are copied (the oracles keep theirs),
    NotImplementedError becomes NotImplementedYet, anything else a LearnerError naming the
    function and the line. ``raw(name)`` is the function itself (no copies)."""

    def __init__(self, module: Any, names: tuple[str, ...], path: Path) -> None:
        self._module, self._path = module, path
        for name in names:
            setattr(self, name, self._guard(name, getattr(module, name), copy=True))

    def raw(self, name: str) -> Callable[..., Any]:
        return self._guard(name, getattr(self._module, name), copy=False)

    def _guard(self, name: str, fn: Callable[..., Any], copy: bool) -> Callable[..., Any]:
        path = self._path

        def call(*args: Any, **kwargs: Any) -> Any:
            if copy:
                args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
            try:
                return fn(*args, **kwargs)
            except NotImplementedError as exc:
                raise NotImplementedYet(name) from exc
            except Exception as exc:  # the learner's bug, reported as data
                raise LearnerError(f"{name} raised {type(exc).__name__}: {exc}"
                                   f"{_where(exc, path)}") from exc
        return call


def load_functions(exercise: Exercise, path: Path) -> Functions:
    """Import ``path`` as a module (no bytecode written beside it) and pick the functions.

    Raises FileNotFoundError when there is no file, ExerciseLoadError when it does not
    import or lacks one of ``exercise.functions``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file {path} for exercise {exercise.name!r}")
    module_name = f"minialex_exercise_{exercise.name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ExerciseLoadError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no __pycache__ in the learner's folder
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # SyntaxError, ImportError, a bug at module level...
        raise ExerciseLoadError(f"{path.name} does not import: {type(exc).__name__}: "
                                f"{exc}{_where(exc, path)}") from exc
    finally:
        sys.dont_write_bytecode = dont_write
    missing = [name for name in exercise.functions if not callable(getattr(module, name, None))]
    if missing:
        found = sorted(n for n, v in vars(module).items()
                       if inspect.isfunction(v) and not n.startswith("_"))
        raise ExerciseLoadError(f"{path.name} has no function {', '.join(missing)} (the exercise "
                                f"asks for {', '.join(exercise.functions)}; the file defines "
                                f"{', '.join(found) or 'no functions'})")
    return Functions(module, exercise.functions, path)


# ---------------------------------------------------------------- running properties
class _Falsified(Exception):
    pass


class _ShrinkingBudgetSpent(BaseException):
    """Ends hypothesis' shrinking early. A BaseException: hypothesis lets it through at once
    instead of taking it for a failure of the property."""


# Cases tried while shrinking a failure, at most: a count, not a time, so the reported case
# does not depend on the machine's speed. Shrinking usually ends well before.
SHRINKING_BUDGET = 150


def _attempt(prop: Property, functions: Functions, case: Any,
             stub_raises: bool = False) -> tuple[float | None, str | None]:
    """(relative error, failure message or None) of one case. With ``stub_raises`` a
    NotImplementedError propagates as NotImplementedYet (a stub, not a failure)."""
    try:
        err = prop.check(functions, case)
    except Mismatch as exc:
        return exc.rel_error, str(exc)
    except LearnerError as exc:
        return None, str(exc)
    except NotImplementedYet as exc:
        if stub_raises:
            raise
        return None, f"{exc.function} raised NotImplementedError on this input"
    if err is not None and not math.isfinite(err):
        return err, "the result is not finite (NaN or inf)"
    if err is not None and err > prop.tolerance:
        return err, f"rel_error {err:.2e} is above the tolerance {prop.tolerance:.0e}"
    return err, None


def _search(prop: Property, functions: Functions, max_examples: int, shrink: bool,
            seen: list[float], calls: list[int]) -> tuple[Any, float | None, str] | None:
    """Drawn cases; the smallest failing (case, rel_error, message) (the first one found
    without ``shrink``), or None if all hold. ``calls`` counts the cases tried."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis.errors import HypothesisException

    failures: list[tuple[Any, float | None, str]] = []  # the last one is the smallest
    first_failure = [0]

    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])

    @settings(max_examples=max_examples, phases=phases, deadline=None, derandomize=True,
              database=None, verbosity=Verbosity.quiet, print_blob=False,
              report_multiple_bugs=False, suppress_health_check=list(HealthCheck))
    @given(prop.cases)
    def search(case: Any) -> None:
        if failures and calls[0] - first_failure[0] >= SHRINKING_BUDGET:
            raise _ShrinkingBudgetSpent
        calls[0] += 1
        err, message = _attempt(prop, functions, case)
        if message is not None:
            if not failures:
                first_failure[0] = calls[0]
            failures.append((case, err, message))
            raise _Falsified
        if err is not None:
            seen.append(err)

    try:
        search()
    except _ShrinkingBudgetSpent:
        return failures[-1]
    except (_Falsified, HypothesisException):
        # The last failure is the shrunk one hypothesis replayed; a flaky learner function
        # (different answers for the same input) still has its last failure reported.
        if failures:
            return failures[-1]
        raise
    return None


def _run_property(prop: Property, functions: Functions, max_examples: int,
                  shrink: bool) -> PropertyResult:
    """First explicit example (a stub stops here), drawn cases, the other examples.

    A failure is reported on the smallest input hypothesis finds; an explicit example that
    fails is reported as it is only when no drawn case fails.
    """
    seen: list[float] = []
    tried = [0]

    def result(outcome: str, case: Any = None, err: float | None = None,
               message: str | None = None) -> PropertyResult:
        worst = err if outcome != "pass" else (max(seen) if seen else None)
        return PropertyResult(prop.name, outcome, tried[0], worst, prop.tolerance,
                              None if case is None else str(case), message)

    def attempt(case: Any, stub_raises: bool = False) -> tuple[Any, float | None, str] | None:
        tried[0] += 1
        err, message = _attempt(prop, functions, case, stub_raises)
        if message is not None:
            return case, err, message
        if err is not None:
            seen.append(err)
        return None

    first, *others = prop.examples
    try:
        explicit_failure = attempt(first, stub_raises=True)
    except NotImplementedYet as exc:
        return result("not implemented", message=str(exc))
    if prop.cases is not None and max_examples > 0:
        drawn_failure = _search(prop, functions, min(prop.max_examples, max_examples),
                                shrink, seen, tried)
        if drawn_failure is not None:
            return result("fail", *drawn_failure)
    for case in others:
        if explicit_failure is not None:
            break
        explicit_failure = attempt(case)
    return result("fail", *explicit_failure) if explicit_failure else result("pass")


def check_file(exercise: Exercise, path: Path, max_examples: int = DEFAULT_EXAMPLES,
               shrink: bool = True) -> CheckReport:
    """Check the learner's ``path`` against every property of ``exercise``.

    ``max_examples``: drawn inputs per property (at most; some properties ask for fewer).
    ``shrink=False`` reports the first failing input found instead of the smallest: the
    status is the same, found faster (the exercise list uses it).

    A missing file or one that does not load gives a report with ``error`` set (status
    "not found" / "does not load"); nothing is raised for the learner's mistakes.
    """
    path = Path(path)
    properties = exercise.properties()  # before loading: a missing hypothesis is our error
    try:
        functions = load_functions(exercise, path)
    except (FileNotFoundError, ExerciseLoadError) as exc:
        return CheckReport(exercise, path, error=str(exc))
    results = tuple(_run_property(p, functions, max_examples, shrink) for p in properties)
    return CheckReport(exercise, path, results)


def check(name: str, path: Path | str | None = None, max_examples: int = DEFAULT_EXAMPLES,
          shrink: bool = True) -> CheckReport:
    """Check exercise ``name`` in ``path`` (default: ``registry.default_file``); see
    ``check_file``."""
    from minialex.exercises.registry import default_file

    exercise = find_exercise(name)
    return check_file(exercise, Path(path) if path is not None else default_file(exercise),
                      max_examples, shrink)
