"""cupy.random emulated: ``default_rng`` / ``Generator`` with only CuPy 14's methods.

The numbers come from NumPy's PCG64, not cuRAND's XORWOW: a seeded run on the emulator is
reproducible, but its draws differ from a real GPU's (and from the CPU's). As on CuPy, the
generator's whole state lives in a device array, ``bit_generator._state``, so saving and
restoring it is a copy of that array (what minialex's checkpoints do on both).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy

from minialex._cupy_emulator._core import ndarray, unwrap, wrap
from minialex._cupy_emulator._functions import VERSION, EmulatedModule, not_emulated
from minialex._cupy_emulator._names import NAMES, check_call

_STATE_BYTES = 40  # PCG64: state (16), increment (16), has_uint32 (4), uinteger (4)


def _pack(state: dict[str, Any]) -> Any:
    s = state["state"]
    raw = (int(s["state"]).to_bytes(16, "little") + int(s["inc"]).to_bytes(16, "little")
           + int(state["has_uint32"]).to_bytes(4, "little")
           + int(state["uinteger"]).to_bytes(4, "little"))
    return numpy.frombuffer(raw, dtype=numpy.int8).copy()


def _unpack(raw: Any) -> dict[str, Any]:
    b = numpy.ascontiguousarray(raw, dtype=numpy.int8).tobytes()
    return {"bit_generator": "PCG64",
            "state": {"state": int.from_bytes(b[:16], "little"),
                      "inc": int.from_bytes(b[16:32], "little")},
            "has_uint32": int.from_bytes(b[32:36], "little"),
            "uinteger": int.from_bytes(b[36:40], "little")}


class BitGenerator:
    """Base of the emulated bit generators; the state is the device array ``_state``."""

    def __init__(self, seed: Any = None, *, size: int = -1) -> None:
        if isinstance(seed, ndarray):
            seed = seed.get()
        seq = seed if isinstance(seed, numpy.random.SeedSequence) else \
            numpy.random.SeedSequence(seed)
        self._seed_seq = seq
        self._pcg = numpy.random.PCG64(seq)
        self._state = wrap(_pack(self._pcg.state))

    @contextlib.contextmanager
    def _numpy_generator(self) -> Iterator[numpy.random.Generator]:
        """NumPy's generator at the state held in ``_state``; the state is written back."""
        if self._state.shape != (_STATE_BYTES,):
            raise ValueError("cupy-emulator: the generator state array has the wrong size")
        self._pcg.state = _unpack(self._state._a)
        yield numpy.random.Generator(self._pcg)
        self._state._a[...] = _pack(self._pcg.state)

    def random_raw(self, size: Any = None, output: bool = True) -> Any:
        with self._numpy_generator() as g:
            out = g.integers(0, 2**31, size=size, dtype=numpy.int32)
        return wrap(out) if output else None


class XORWOW(BitGenerator):
    """cuRAND's default generator in CuPy; emulated by PCG64."""


class MRG32k3a(BitGenerator):
    """Emulated by PCG64."""


class Philox4x3210(BitGenerator):
    """Emulated by PCG64."""


_FLOAT_ONLY = {"random", "standard_normal", "standard_exponential", "standard_gamma"}


class Generator:
    """cupy.random.Generator: only the methods CuPy 14 has (no permutation, shuffle, choice,
    normal: NumPy's generator has them, CuPy's does not)."""

    def __init__(self, bit_generator: BitGenerator) -> None:
        if not isinstance(bit_generator, BitGenerator):
            raise TypeError("Generator(bit_generator): expected a cupy.random BitGenerator")
        self.bit_generator = bit_generator

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        params = NAMES["random.Generator"].get(name)
        if params is None:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute {name!r} "
                                 f"(CuPy {VERSION}'s Generator has no such method)")
        names = [p[0] for p in params]

        def draw(*args: Any, **kwargs: Any) -> Any:
            check_call(f"random.Generator.{name}", params, args, kwargs)
            bound = dict(zip(names, args, strict=False))
            bound.update(kwargs)
            dtype = bound.pop("dtype", None)
            out = bound.pop("out", None)
            if name in _FLOAT_ONLY and numpy.dtype(dtype or numpy.float64).char not in "fd":
                raise TypeError(f"Generator.{name}: unsupported dtype {numpy.dtype(dtype)} "
                                "(CuPy draws float32 or float64)")
            where = f"Generator.{name}"
            bound = {k: unwrap(v, where) for k, v in bound.items()}
            with self.bit_generator._numpy_generator() as g:
                method = getattr(g, name)
                if name in _FLOAT_ONLY or name == "integers":
                    value = method(**bound, **({} if dtype is None else {"dtype": dtype}))
                else:
                    value = method(**bound)
                    if dtype is not None:
                        value = numpy.asarray(value).astype(dtype)
            if out is not None:
                if not isinstance(out, ndarray):
                    raise TypeError(f"{where}: out must be a cupy.ndarray")
                out._a[...] = value
                return out
            return wrap(numpy.asarray(value))
        draw.__name__ = name
        return draw


def default_rng(seed: Any = None) -> Generator:
    return Generator(XORWOW(seed))


def make_random() -> EmulatedModule:
    legacy = numpy.random.RandomState()
    extra: dict[str, Any] = {"default_rng": default_rng, "Generator": Generator,
                             "BitGenerator": BitGenerator, "XORWOW": XORWOW,
                             "MRG32k3a": MRG32k3a, "Philox4x3210": Philox4x3210}
    for name, entry in NAMES["modules"]["cupy.random"].items():
        if name in extra or entry["kind"] != "function" or not hasattr(legacy, name):
            continue
        extra[name] = _legacy_function(name, entry, getattr(legacy, name))
    module = EmulatedModule("cupy.random", numpy.random, extra)
    return module


def _legacy_function(name: str, entry: dict[str, Any], impl: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        check_call(f"random.{name}", entry.get("params"), args, kwargs)
        dtype = kwargs.pop("dtype", None) if name not in ("randint",) else None
        value = impl(*unwrap(args, f"cupy.random.{name}"),
                     **{k: unwrap(v, f"cupy.random.{name}") for k, v in kwargs.items()})
        if value is None:
            return None
        value = numpy.asarray(value)
        return wrap(value if dtype is None else value.astype(dtype))
    call.__name__ = name
    return call


__all__ = ["make_random", "not_emulated"]
