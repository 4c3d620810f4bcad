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

``use("cupy-emulator")`` (or ``MINIALEX_BACKEND=cupy-emulator``) makes the device "gpu" an
emulator (``minialex/_cupy_emulator``): NumPy computes, but CuPy 14's rules hold (device arrays
are not NumPy arrays, no implicit host conversion, only CuPy's names), so every GPU code path
runs, and fails where CuPy would, on a machine without a GPU. ``sync_count()`` counts the
device-to-host transfers (all of them on the emulator; on real CuPy the ones made through
``to_host``).

CuPy is imported only when it is first needed, and once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy
import numpy as np  # host module, re-exported for code that must work on the host

__all__ = [
    "BackendError",
    "np",
    "numpy",
    "use",
    "using",
    "current",
    "xp",
    "get_array_module",
    "cupy_available",
    "gpu_available",
    "require_cupy",
    "to_host",
    "to_device",
    "device_of",
    "sync_count",
    "synchronize",
    "as_strided",
    "default_rng",
    "manual_seed",
    "get_rng",
    "rng_state",
    "set_rng_state",
    "scatter_add",
    "chunk_length",
    "copy_blocked",
    "is_array",
]

BACKENDS = ("numpy", "cupy", "cupy-emulator")
ENV_VAR = "MINIALEX_BACKEND"
_INSTALL_HINT = 'install it with pip install -e ".[cuda12]" or ".[cuda13]" to match your CUDA'
_EMULATOR_HINT = ("to run the GPU code paths on this CPU instead, select the CuPy-rules "
                  "emulator: MINIALEX_BACKEND=cupy-emulator or backend.use('cupy-emulator')")


class BackendError(RuntimeError):
    """The requested backend cannot be used here (CuPy or a GPU missing, bad MINIALEX_BACKEND)."""


_current = "numpy"
_current_module: ModuleType = numpy
_gpu_module: ModuleType | None = None  # what device "gpu" means once chosen: CuPy or emulator
_emulator: Any = None  # the emulator package, imported when selected
_host_copies = 0  # device-to-host copies of real CuPy arrays made by to_host


# ---------------------------------------------------------------- CuPy, imported lazily
_cupy: Any = None
_cupy_import_error: Exception | None = None
_cupy_imported = False
_probe_result: list[str | None] = []  # cached answer of _gpu_problem()


def _import_cupy() -> Any:
    """The cupy module, or None (the error kept); tried once."""
    global _cupy, _cupy_import_error, _cupy_imported
    if not _cupy_imported:
        _cupy_imported = True
        try:
            import cupy
        except Exception as exc:  # pragma: no cover - depends on the machine
            _cupy_import_error = exc
        else:
            _cupy = cupy
    return _cupy


def _loaded_cupy() -> Any:
    """cupy if anyone has imported it (arrays can only exist then), else None; imports nothing."""
    if _cupy is not None:
        return _cupy
    module = sys.modules.get("cupy")
    return module if module is not None and hasattr(module, "ndarray") else None


def _gpu_problem() -> str | None:
    """Why CuPy cannot run on a GPU here, or None when it can (probed once, then cached).

    Beyond the device count, it runs a tiny elementwise kernel (compiled by NVRTC) and a tiny
    matrix product (cuBLAS): the ``cupy-cuda12x`` wheel ships neither library (its ``[ctk]``
    extra installs them), and without them the first real kernel would fail instead.
    """
    if _probe_result:
        return _probe_result[0]
    cupy = _import_cupy()
    problem: str | None = None
    if cupy is None:
        problem = f"CuPy is not installed ({_cupy_import_error}); {_INSTALL_HINT}"
    else:
        problem = _probe_device(cupy)
    _probe_result.append(problem)
    return problem


def _probe_device(cupy: Any) -> str | None:
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # pragma: no cover - depends on the machine
        return f"CuPy is installed but no CUDA GPU is usable ({exc})"
    if count < 1:  # pragma: no cover
        return "CuPy is installed but found no CUDA GPU"
    try:
        x = cupy.arange(4, dtype=cupy.float32) * 2 + 1  # [1, 3, 5, 7]: an NVRTC kernel
        m = x.reshape(2, 2)
        total = float((m @ m).sum())  # cuBLAS; [[16, 24], [40, 64]] sums to 144
    except Exception as exc:
        return (f"CuPy sees {count} GPU(s) but cannot run a kernel ({type(exc).__name__}: "
                f"{exc}); the CUDA libraries (NVRTC, cuBLAS) are probably missing: install "
                'them with pip install -e ".[cuda12]" or ".[cuda13]" (the [ctk] extra of '
                "cupy-cuda12x / cupy-cuda13x)")
    if total != 144.0:
        return f"CuPy ran a test kernel but got {total} instead of 144"
    return None


def cupy_available() -> bool:
    """True when CuPy imports, sees a GPU, and can run an elementwise kernel and a matmul."""
    return _gpu_problem() is None


def gpu_available() -> bool:
    """True when device "gpu" works here: the CuPy-rules emulator is selected, or CuPy runs."""
    return _gpu_module is not None or cupy_available()


def _real_cupy() -> ModuleType:
    problem = _gpu_problem()
    if problem is not None:
        raise BackendError(f"backend 'cupy' requested, but {problem}; {_EMULATOR_HINT}")
    return _cupy  # type: ignore[no-any-return]


def _load_emulator() -> Any:
    global _emulator
    if _emulator is None:
        from minialex import _cupy_emulator

        _emulator = _cupy_emulator
    return _emulator


def require_cupy() -> ModuleType:
    """The array module behind device "gpu": the emulator if selected, else CuPy (checked:
    BackendError saying what is missing when it cannot run)."""
    return _gpu_module if _gpu_module is not None else _real_cupy()


def use(name: str) -> None:
    """Select the default backend for newly created tensors: "numpy", "cupy" or
    "cupy-emulator" ("cupy" and "cupy-emulator" also decide what device "gpu" means).

    An unknown name is a ValueError; "cupy" without CuPy or a GPU is a BackendError.
    """
    global _current, _current_module, _gpu_module
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: expected one of {BACKENDS}")
    if name == "cupy":
        module = _gpu_module = _real_cupy()
    elif name == "cupy-emulator":
        module = _gpu_module = _load_emulator().module
    else:
        module = numpy
    _current, _current_module = name, module


@contextlib.contextmanager
def using(name: str) -> Iterator[ModuleType]:
    """``use(name)`` inside a ``with`` block; the previous selection (default backend and what
    device "gpu" means) comes back afterwards. Yields the array module::

        with backend.using("cupy-emulator") as cp:
            x = minialex.tensor(image).to("gpu")   # an emulated device array
    """
    global _current, _current_module, _gpu_module
    saved = (_current, _current_module, _gpu_module)
    use(name)
    try:
        yield _current_module
    finally:
        _current, _current_module, _gpu_module = saved


def current() -> str:
    """Name of the default backend ("numpy", "cupy" or "cupy-emulator")."""
    return _current


def xp() -> ModuleType:
    """Array module of the default backend."""
    return _current_module


def is_array(a: Any) -> bool:
    """True for a NumPy, CuPy or emulated device array."""
    if isinstance(a, numpy.ndarray):
        return True
    if _emulator is not None and isinstance(a, _emulator.ndarray):
        return True
    cupy = _loaded_cupy()
    return cupy is not None and isinstance(a, cupy.ndarray)


def get_array_module(*arrays: Any) -> ModuleType:
    """numpy, cupy or the emulator, whichever holds ``arrays`` (Tensors are looked through;
    numpy for scalars)."""
    for a in arrays:
        if isinstance(a, numpy.ndarray):
            continue
        if not is_array(a):
            a = getattr(a, "data", a)  # a Tensor holds its array in .data
        if _emulator is not None and isinstance(a, _emulator.ndarray):
            return _emulator.module  # type: ignore[no-any-return]
        cupy = _loaded_cupy()
        if cupy is not None and isinstance(a, cupy.ndarray):
            return cupy  # type: ignore[no-any-return]
    return numpy


def device_of(array: Any) -> str:
    """ "cpu" for a NumPy array, "gpu" for a CuPy (or emulated device) array."""
    return "gpu" if get_array_module(array) is not numpy else "cpu"


def to_host(array: Any) -> numpy.ndarray:
    """Copy an array to host memory as NumPy (a no-op for NumPy arrays; one counted sync for
    a device array)."""
    global _host_copies
    if isinstance(array, numpy.ndarray):
        return array
    if _emulator is not None and isinstance(array, _emulator.ndarray):
        return array.get()  # counted by the emulator
    cupy = _loaded_cupy()
    if cupy is not None and isinstance(array, cupy.ndarray):
        _host_copies += 1
        return cupy.asnumpy(array)  # type: ignore[no-any-return]
    return numpy.asarray(array)


def to_device(array: Any, device: str) -> Any:
    """Move an array to "cpu" (NumPy) or "gpu" (CuPy, or the emulator when selected)."""
    if device == "cpu":
        return to_host(array)
    if device in ("gpu", "cuda"):
        return require_cupy().asarray(array)
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'gpu'")


def sync_count() -> int:
    """Device-to-host transfers so far: every one on the emulator (``.item()``, ``float()``,
    ``bool()``, ``.get()``, printing, ``to_host``...), the ``to_host`` copies on real CuPy."""
    return _host_copies + (_emulator.sync_count() if _emulator is not None else 0)


def synchronize() -> None:
    """Wait until the GPU has finished the work queued so far (for timing); no-op elsewhere."""
    if _cupy is not None and _probe_result == [None]:  # CuPy is in use on a working GPU
        _cupy.cuda.get_current_stream().synchronize()


def as_strided(x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """Strided view of ``x`` (no copy) under either backend."""
    mod = get_array_module(x)
    if mod is numpy:
        return numpy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)
    return mod.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` in place, summing repeated indices (``xp.add.at``, which
    CuPy has since v12; ``cupyx.scatter_add`` is deprecated)."""
    get_array_module(target).add.at(target, index, values)


def chunk_length(a: Any, bytes_per_item: int, budget: int = 1 << 19,
                 device_budget: int | None = None) -> int:
    """How many items of a leading axis to process at a time so that one chunk of
    ``bytes_per_item``-sized items stays in a CPU core's cache (about ``budget`` bytes).

    Strided NumPy loops (transposes of the batch axis, col2im's scatter-add) run several times
    faster chunk by chunk once arrays outgrow the cache. On CuPy: everything at once (one
    kernel launch per operation is what matters there), or chunks of ``device_budget`` bytes
    where a caller must bound the memory a temporary takes (conv2d's im2col blocks).
    """
    if get_array_module(a) is not numpy:
        if device_budget is None:
            return 1 << 62
        budget = device_budget
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
    """The global generator of the device holding ``like`` (default backend if None)."""
    mod = get_array_module(like) if like is not None else xp()
    key = "cpu" if mod is numpy else "gpu"
    if key not in _generators:
        _generators[key] = mod.random.default_rng(_seed)
    return _generators[key]


def rng_state() -> dict[str, Any]:
    """The state of the global generators, for checkpoints: {"cpu": NumPy's state dict
    (JSON-able)} plus {"gpu": a host int8 array} once a device generator exists.

    A CuPy generator keeps its whole state (the cuRAND states of all its threads) in the
    device array ``bit_generator._state``; saving it is one copy to the host, and restoring it
    makes the next draws exactly the ones an uninterrupted run would have made.
    """
    state: dict[str, Any] = {"cpu": get_rng(like=numpy.empty(0)).bit_generator.state}
    if "gpu" in _generators:
        raw = getattr(_generators["gpu"].bit_generator, "_state", None)
        if raw is None:  # pragma: no cover - a CuPy whose generators changed their layout
            warnings.warn("this CuPy's random generator does not expose its state "
                          "(bit_generator._state): a resumed run will not repeat the GPU's "
                          "random draws exactly", RuntimeWarning, stacklevel=2)
        else:
            state["gpu"] = to_host(raw).copy()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned (a missing "gpu" entry leaves the device as is)."""
    if "cpu" in state:
        get_rng(like=numpy.empty(0)).bit_generator.state = state["cpu"]
    if "gpu" in state and state["gpu"] is not None:
        target = get_rng(like=require_cupy().empty(0)).bit_generator._state
        saved = numpy.asarray(state["gpu"])
        if saved.shape != tuple(target.shape):
            raise ValueError(f"the saved GPU random state has {saved.size} bytes, this device's "
                             f"generator {target.size} (a different GPU model?): cannot resume "
                             "its random stream exactly")
        target[...] = require_cupy().asarray(saved.astype(target.dtype, copy=False))
