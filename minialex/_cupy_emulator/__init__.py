"""A CuPy-rules emulator: NumPy computes, CuPy 14's rules hold (``backend.use("cupy-emulator")``).

``module`` stands where ``cupy`` would: ``xp = get_array_module(a)`` returns it for emulated
device arrays, so every GPU code path of minialex (and of a learner's own layer) runs on a
CPU-only machine and fails where it would fail on CuPy:

- device arrays are their own type (``isinstance(a, numpy.ndarray)`` is False);
- implicit host conversion raises TypeError (``numpy.asarray(a)``, a NumPy function given a
  device array, a host array and a device array in one operation);
- only names, ndarray methods, keyword arguments and ``random.Generator`` methods that CuPy
  14 has resolve (``cupy14_names.json``, written by ``tools/cupy_names.py`` from CuPy itself);
- reductions and integer indexing give 0-d device arrays, never host scalars;
- every device-to-host transfer is counted (``sync_count()``).

What it cannot show: CUDA kernels (compilation, launch limits), streams and asynchrony, speed,
device memory limits, and floating-point details (cuBLAS/cuDNN summation order, fused
multiply-adds, cuRAND's random streams). See docs/emulator.md.

Only ``minialex.backend`` imports this package.
"""

from __future__ import annotations

from minialex._cupy_emulator._core import ndarray, sync_count
from minialex._cupy_emulator._functions import (
    VERSION,
    EmulatedModule,
    as_strided,
    make_cuda,
    ufunc,
)
from minialex._cupy_emulator._random import make_random

__all__ = ["module", "ndarray", "sync_count", "VERSION"]


def _build() -> EmulatedModule:
    import numpy

    lib = EmulatedModule("cupy.lib", numpy.lib)
    stride_tricks = EmulatedModule("cupy.lib.stride_tricks", numpy.lib.stride_tricks,
                                   {"as_strided": as_strided})
    lib.stride_tricks = stride_tricks  # type: ignore[attr-defined]
    linalg = EmulatedModule("cupy.linalg", numpy.linalg)
    cupy = EmulatedModule("cupy", numpy, {
        "ndarray": ndarray, "ufunc": ufunc, "random": make_random(), "linalg": linalg,
        "lib": lib, "cuda": make_cuda(), "__version__": VERSION})
    cupy.get_array_module = lambda *args: (  # type: ignore[attr-defined]
        cupy if any(isinstance(a, ndarray) for a in args) else numpy)
    return cupy


module = _build()
