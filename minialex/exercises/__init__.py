"""The checker behind the exercises: ``python -m minialex exercises`` and ``check NAME``.

The exercises are plain NumPy files in the repository's top-level ``exercises/`` folder, the
learner's workspace (minialex never imports them). This package knows them by name
(``EXERCISES``, in course order, each with the lesson it follows), loads a learner's file by
path, and tests properties of it on inputs hypothesis draws: against minialex's own layers
(conv2d, max_pool2d, local_response_norm, optim.SGD...), against central differences for the
backward passes, and against numbers worked out by hand. Results are data (``CheckReport``,
``PropertyResult``); the command line prints them.

Which file: ``check(name, path)``, or by default ``exercises/NAME.py`` in the current
directory's ``exercises/`` folder when there is one, else in the repository's (beside the
package, in a source checkout or editable install). See ``registry.exercises_dir``.

Checking needs hypothesis (``pip install -e ".[dev]"``); the registry does not.

    >>> from minialex.exercises import check
    >>> report = check("conv_forward")            # doctest: +SKIP
    >>> report.status, [r.outcome for r in report.results]   # doctest: +SKIP
    ('not started', ['not implemented', 'not implemented'])
"""

from minialex.exercises.registry import (
    EXERCISES,
    CheckerUnavailable,
    Exercise,
    ExerciseNotFound,
    default_file,
    exercises_dir,
    find_exercise,
)
from minialex.exercises.runner import (
    DEFAULT_EXAMPLES,
    CheckReport,
    PropertyResult,
    check,
    check_file,
)

__all__ = [
    "EXERCISES",
    "Exercise",
    "ExerciseNotFound",
    "CheckerUnavailable",
    "find_exercise",
    "exercises_dir",
    "default_file",
    "check",
    "check_file",
    "CheckReport",
    "PropertyResult",
    "DEFAULT_EXAMPLES",
]
