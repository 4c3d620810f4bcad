"""The exercises in course order: name, file, the lesson each follows, the functions it asks for.

Only names and paths live here (no hypothesis import), so listing the exercises works on any
install; the properties that check them are in the ``properties_*`` modules, loaded on demand.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Exercise", "EXERCISES", "ExerciseNotFound", "find_exercise", "exercises_dir",
           "default_file", "CheckerUnavailable"]


class ExerciseNotFound(ValueError):
    """An exercise name that is not in the registry (the message suggests the closest)."""


class CheckerUnavailable(ImportError):
    """The checker needs hypothesis, a development dependency."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``exercises/<name>.py`` with ``functions`` for the learner to write."""

    name: str
    title: str
    lesson: str  # the lesson script it follows, e.g. "03_convolution_im2col"
    functions: tuple[str, ...]
    properties_module: str  # minialex.exercises.<module> holding PROPERTIES[name]

    @property
    def filename(self) -> str:
        return f"{self.name}.py"

    @property
    def lesson_number(self) -> str:
        return self.lesson[:2]

    def properties(self) -> tuple[Any, ...]:
        """The Property objects that check this exercise (imports hypothesis)."""
        try:
            module = importlib.import_module(f"minialex.exercises.{self.properties_module}")
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith("hypothesis"):
                raise
            raise CheckerUnavailable(
                "checking exercises needs hypothesis, a development dependency: "
                'pip install -e ".[dev]" (or pip install hypothesis)') from exc
        return module.PROPERTIES[self.name]


EXERCISES: tuple[Exercise, ...] = (
    Exercise("numerical_gradient", "central differences, the gradient you can always trust",
             "02_checking_gradients", ("numerical_gradient",), "properties_training"),
    Exercise("conv_forward", "convolution with four loops (stride, zero padding, bias)",
             "03_convolution_im2col", ("conv2d_forward",), "properties_conv"),
    Exercise("im2col", "patches as columns, then convolution as one matrix product",
             "03_convolution_im2col", ("im2col", "conv2d_im2col"), "properties_conv"),
    Exercise("conv_backward", "col2im and the backward pass of convolution",
             "03_convolution_im2col", ("col2im", "conv2d_backward"), "properties_conv"),
    Exercise("output_size", "floor((n + 2p - k) / s) + 1 through a whole network",
             "04_shape_arithmetic", ("conv_output_size", "network_output_sizes"),
             "properties_training"),
    Exercise("lrn", "local response normalisation, forward and backward (the paper's formula)",
             "07_local_response_norm", ("lrn_forward", "lrn_backward"), "properties_layers"),
    Exercise("max_pool", "max-pooling forward and backward, overlapping 3x3 windows, stride 2",
             "08_overlapping_pooling", ("max_pool_forward", "max_pool_backward"),
             "properties_layers"),
    Exercise("dropout", "inverted dropout, forward and backward",
             "09_dropout", ("dropout_forward", "dropout_backward"), "properties_layers"),
    Exercise("sgd_momentum", "the paper's SGD step with momentum and weight decay",
             "12_training_alexnet", ("sgd_momentum_step",), "properties_training"),
)


def find_exercise(name: str) -> Exercise:
    """The exercise called ``name``; ExerciseNotFound (a ValueError) says which are close."""
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    names = [e.name for e in EXERCISES]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ExerciseNotFound(f"no exercise called {name!r}; {hint}"
                           f"the exercises are: {', '.join(names)}")


def exercises_dir(cwd: Path | None = None) -> Path | None:
    """Where the learner's files are: ``./exercises`` if it exists, else the repository's.

    The repository's ``exercises/`` folder sits next to the package in a source checkout
    (an editable install); a wheel has none, and then the answer is None.
    """
    local = (Path.cwd() if cwd is None else cwd) / "exercises"
    if local.is_dir() and local.resolve() != Path(__file__).resolve().parent:  # not this package
        return local
    repository = Path(__file__).resolve().parent.parent.parent / "exercises"
    return repository if repository.is_dir() else None


def default_file(exercise: Exercise, cwd: Path | None = None) -> Path:
    """``exercises/<name>.py`` in the folder ``exercises_dir`` finds (which may not exist)."""
    folder = exercises_dir(cwd)
    return (folder if folder is not None else Path("exercises")) / exercise.filename
