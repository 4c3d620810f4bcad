"""minialex: AlexNet from first principles in NumPy, the same code on GPU through CuPy."""

from __future__ import annotations

import sys
from typing import Any

try:
    from minialex import backend
except Exception as _exc:  # BackendError: MINIALEX_BACKEND names a backend that cannot run
    # `python -m minialex` imports this package before the CLI can catch anything; while it
    # does, sys.argv[0] is "-m". There the error is one line, as every CLI error is.
    if type(_exc).__name__ != "BackendError" or sys.argv[:1] != ["-m"]:
        raise
    print(f"minialex: error: {_exc}", file=sys.stderr)
    raise SystemExit(2) from None
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
