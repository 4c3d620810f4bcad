"""minialex: AlexNet from first principles in NumPy, the same code on GPU through CuPy."""

from __future__ import annotations

from typing import Any

from minialex import backend
from minialex.gradcheck import GradcheckError, gradcheck, numerical_gradient, rel_error

# Imported eagerly: ``minialex.summary`` is a submodule AND a function, and a lazily loaded
# submodule would replace the function on the package the moment it is imported.
from minialex.summary import summary, trace
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


def __getattr__(name: str) -> Any:
    # Heavier subpackages load on first use, so `import minialex` stays quick.
    if name in ("functional", "nn", "models", "optim", "data", "train", "viz", "testing"):
        import importlib

        return importlib.import_module(f"minialex.{name}")
    raise AttributeError(f"module 'minialex' has no attribute {name!r}")
