"""Array backend: the only module in minialex that imports numpy or cupy.

Everything else asks for the array module of the data it holds (the Chainer/DeZero
``xp`` idiom)::

    xp = backend.get_array_module(x)
    y = xp.maximum(x, 0)

so the same layer code runs on NumPy (CPU) and CuPy (GPU).

The default backend is NumPy; ``use("cupy")`` or the environment variable
``MINIALEX_BACKEND=cupy`` (read once, when minialex is imported) selects CuPy. Asking for CuPy
where it cannot run raises ``BackendError`` saying what is missing; a bad value of
``MINIALEX_BACKEND`` makes ``import minialex`` raise ``BackendError`` naming the variable and
the valid values. There is deliberately no silent fallback to NumPy: a run meant for the GPU
would otherwise carry on on the CPU, orders of magnitude slower.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy
import numpy as np  # host module, re-exported for code that must work on the host

try:  # CuPy is optional; import errors are reported only when it is asked for.
    import cupy as _cupy
except Exception as _exc:  # pragma: no cover - depends on the machine
    _cupy = None
    _CUPY_IMPORT_ERROR: Exception | None = _exc
else:  # pragma: no cover - depends on the machine
    _CUPY_IMPORT_ERROR = None

__all__ = [
    "BackendError",
    "np",
    "numpy",
    "use",
    "current",
    "xp",
    "get_array_module",
    "cupy_available",
    "require_cupy",
    "to_host",
    "to_device",
    "device_of",
    "as_strided",
    "default_rng",
    "manual_seed",
    "get_rng",
    "scatter_add",
    "chunk_length",
    "copy_blocked",
    "is_array",
]

BACKENDS = ("numpy", "cupy")
ENV_VAR = "MINIALEX_BACKEND"


class BackendError(RuntimeError):
    """The requested backend cannot be used here (CuPy or a GPU missing, bad MINIALEX_BACKEND)."""

_current = "numpy"


def cupy_available() -> bool:
    """True when CuPy imports *and* sees at least one GPU."""
    return _gpu_problem() is None



def _gpu_problem() -> str | None:
    """Why CuPy cannot be used here, or None when it can."""
    if _cupy is None:
        return (
            f"CuPy is not installed ({_CUPY_IMPORT_ERROR}); "
            'install it with pip install -e ".[cuda12]" or ".[cuda13]" to match your CUDA'
        )
    try:
        count = _cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"CuPy is installed but no CUDA GPU is usable ({exc})"
    if count < 1:  # pragma: no cover
        return "CuPy is installed but found no CUDA GPU"
    return None


def require_cupy() -> ModuleType:
    """Return the cupy module, or raise BackendError saying what is missing."""
    problem = _gpu_problem()
    if problem is not None:
        raise BackendError(f"backend 'cupy' requested, but {problem}")
    return _cupy  # type: ignore[return-value]


def use(name: str) -> None:
    """Select the default backend for newly created tensors: "numpy" or "cupy".

    An unknown name is a ValueError; "cupy" without CuPy or a GPU is a BackendError.
    """
    global _current
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: expected one of {BACKENDS}")
    if name == "cupy":
        require_cupy()
    _current = name


def current() -> str:
    """Name of the default backend ("numpy" or "cupy")."""
    return _current


def xp() -> ModuleType:
    """Array module of the default backend."""
    return require_cupy() if _current == "cupy" else numpy


def get_array_module(*arrays: Any) -> ModuleType:
    """numpy or cupy, whichever holds ``arrays`` (Tensors are looked through; numpy for scalars)."""
    if _cupy is not None:
        for a in arrays:
            if not is_array(a):
                a = getattr(a, "data", a)  # a Tensor holds its array in .data
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return numpy


def is_array(a: Any) -> bool:
    if isinstance(a, numpy.ndarray):
        return True
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def device_of(array: Any) -> str:
    """ "cpu" for a NumPy array, "gpu" for a CuPy array."""
    return "gpu" if get_array_module(array) is not numpy else "cpu"


def to_host(array: Any) -> numpy.ndarray:
    """Copy an array to host memory as NumPy (a no-op for NumPy arrays)."""
    if isinstance(array, numpy.ndarray):
        return array
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy.asnumpy(array)
    return numpy.asarray(array)


def to_device(array: Any, device: str) -> Any:
    """Move an array to "cpu" (NumPy) or "gpu" (CuPy)."""
    if device == "cpu":
        return to_host(array)
    if device in ("gpu", "cuda"):
        return require_cupy().asarray(array)
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'gpu'")



def as_strided(x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """Strided view of ``x`` (no copy) under either backend."""
    if get_array_module(x) is numpy:
        return numpy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)
    return _cupy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)  # pragma: no cover


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` in place, summing repeated indices (numpy.add.at)."""
    if get_array_module(target) is numpy:
        numpy.add.at(target, index, values)
    else:  # pragma: no cover - GPU only
        import cupyx

        cupyx.scatter_add(target, index, values)


def chunk_length(a: Any, bytes_per_item: int, budget: int = 1 << 19) -> int:
    """How many items of a leading axis to process at a time so that one chunk of
    ``bytes_per_item``-sized items stays in a CPU core's cache (about ``budget`` bytes).

    Strided NumPy loops (transposes of the batch axis, col2im's scatter-add) run several times
    faster chunk by chunk once arrays outgrow the cache. On CuPy: everything at once (one
    kernel launch per operation is what matters there).
    """
    if get_array_module(a) is not numpy:  # pragma: no cover - GPU only
        return 1 << 62
    return max(1, budget // max(1, int(bytes_per_item)))


def copy_blocked(dst: Any, src: Any) -> None:
    """``dst[...] = src`` in cache-sized chunks of the leading axis (see ``chunk_length``).

    A copy that moves the batch axis (NCHW <-> CHWN, as conv2d's im2col layout needs) reads or
    writes one side with a large stride; in one go NumPy streams through the whole array once
    per image (see benchmarks/README.md for what that costs).
    """
    step = chunk_length(dst, src[0].size * src.itemsize)
    for start in range(0, src.shape[0], step):
        dst[start:start + step] = src[start:start + step]


def default_rng(seed: Any = None, like: Any = None) -> Any:
    """A random generator on the backend of ``like`` (or the default backend)."""
    mod = get_array_module(like) if like is not None else xp()
    return mod.random.default_rng(seed)


def _init_from_env() -> None:
    value = os.environ.get(ENV_VAR)
    if not value:
        return
    name = value.strip().lower()
    if name not in BACKENDS:
        raise BackendError(f"environment variable {ENV_VAR}={value!r} names an unknown backend: "
                           f"expected one of {BACKENDS} (or leave it unset for numpy)")
    try:
        use(name)
    except BackendError as exc:
        raise BackendError(f"environment variable {ENV_VAR}={value!r}: {exc} "
                           f"(unset {ENV_VAR} to run on the CPU with numpy)") from None


_init_from_env()


# ---------------------------------------------------------------- global random state
_seed: int | None = None
_generators: dict[str, Any] = {}


def manual_seed(seed: int) -> None:
    """Seed the generators used by dropout, initialisers and data shuffling (all backends)."""
    global _seed
    _seed = int(seed)
    _generators.clear()


def get_rng(like: Any = None) -> Any:
    """The global generator of the backend holding ``like`` (default backend if None)."""
    mod = get_array_module(like) if like is not None else xp()
    key = mod.__name__
    if key not in _generators:
        _generators[key] = mod.random.default_rng(_seed)
    return _generators[key]
