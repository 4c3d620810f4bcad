"""minialex: AlexNet from first principles in NumPy, the same code on GPU through CuPy.

``import minialex`` loads only the backend, the autograd ``Tensor`` and ``gradcheck``; the
subpackages (``nn``, ``models``, ``functional``, ``train``, ...) and the functions ``trace`` and
``summary`` load on first use.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from minialex import backend
from minialex.gradcheck import GradcheckError, gradcheck, numerical_gradient, rel_error
from minialex.tensor import Tensor, is_grad_enabled, no_grad, tensor

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "is_grad_enabled",
    "gradcheck",
    "numerical_gradient",
    "rel_error",
    "GradcheckError",
    "backend",
    "trace",
    "summary",
]

_SUBMODULES = ("functional", "nn", "models", "optim", "data", "train", "checkpoint", "metrics",
               "viz", "testing", "interop", "cli")
_FUNCTIONS = {"trace": "minialex.summary", "summary": "minialex.summary"}


def __getattr__(name: str) -> Any:
    # Loaded on first use, so `import minialex` stays quick.
    if name in _FUNCTIONS:
        function = getattr(importlib.import_module(_FUNCTIONS[name]), name)
        globals()[name] = function
        return function
    if name in _SUBMODULES:
        return importlib.import_module(f"minialex.{name}")
    raise AttributeError(f"module 'minialex' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FUNCTIONS) | set(_SUBMODULES))


class _Package(types.ModuleType):
    """``minialex.summary`` is the function; the module of that name is
    ``minialex.summary`` in ``sys.modules`` (``from minialex.summary import Trace`` works).

    Importing a submodule makes Python set it as an attribute of its package, which would
    replace the function ``summary`` by the module ``minialex/summary.py`` the first time any
    code imports that module; this keeps the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
