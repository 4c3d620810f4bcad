"""The emulated ``cupy`` namespace: functions, ufuncs and submodules, computed by NumPy.

A name resolves only if CuPy 14 has it (``cupy14_names.json``). Functions check their keyword
arguments against CuPy's signatures and their first argument against how CuPy treats Python
scalars, lists and host arrays there (probed from a real CuPy install); host arrays anywhere
else are refused, as CuPy never copies host data implicitly (except in ``asarray``-like
functions and indices).
"""

from __future__ import annotations

import types
from typing import Any

import numpy

from minialex._cupy_emulator._core import (
    Device,
    check_dtype,
    count_sync,
    device_index,
    host_error,
    ndarray,
    poison,
    unwrap,
    wrap,
)
from minialex._cupy_emulator._names import NAMES, check_call

VERSION = NAMES["cupy_version"]
# First parameters that are sizes, not arrays: a Python int there is what CuPy expects.
_SIZE_FIRST = {"shape", "start", "N", "M", "n", "num", "shape_or_dtype", "dims"}
# Functions whose result size (or a check) CuPy reads back from the device: one sync each.
_SYNCING = {"nonzero", "argwhere", "flatnonzero", "unique", "unique_all", "unique_counts",
            "unique_inverse", "unique_values", "compress", "extract", "unravel_index"}


def not_emulated(name: str, why: str = "") -> AttributeError:
    return AttributeError(f"cupy-emulator: cupy.{name} exists in CuPy {VERSION} but is not "
                          f"emulated{': ' + why if why else ''}")


def _with_out(result: Any, kwargs: dict[str, Any]) -> Any:
    """Return the caller's ``out`` array object itself when NumPy wrote into it."""
    out = kwargs.get("out")
    if isinstance(out, ndarray) and result is out._a:
        return out
    return wrap(result)


def _check_first(name: str, entry: dict[str, Any], x: Any) -> None:
    """Refuse a first argument the way CuPy 14 does (see tools/cupy_names.py's probes)."""
    params = entry.get("params") or []
    first = params[0][0] if params else "a"
    if (isinstance(x, (ndarray, str, bytes, type, numpy.dtype)) or first in _SIZE_FIRST
            or (params and params[0][1] == "var_pos")):
        return  # not an array argument, or one whose probe says nothing (``*operands``)
    if isinstance(x, numpy.ndarray):
        how = entry.get("host_first")
        if how == "host":
            raise TypeError(f"cupy.{name}() was given a NumPy (host) array: CuPy would hand it "
                            "to NumPy and return a host result, not a device array; move it "
                            "with cupy.asarray first")
        if how != "accepted":
            raise host_error(f"cupy.{name}()")
    elif isinstance(x, (list, tuple)):
        if not any(isinstance(v, ndarray) for v in x) and entry.get("list_first") == "rejected":
            raise TypeError(f"cupy.{name}(): argument {first!r} must be a cupy.ndarray, got a "
                            f"{type(x).__name__}: CuPy {VERSION}'s {name} does not take lists")
    elif entry.get("scalar_first") == "rejected":
        raise TypeError(f"cupy.{name}(): argument {first!r} must be a cupy.ndarray, got "
                        f"{type(x).__name__} {x!r}: CuPy {VERSION}'s {name} does not take "
                        "Python or NumPy scalars there")


def function(name: str, entry: dict[str, Any], impl: Any, module: str = "cupy") -> Any:
    """CuPy's ``name`` computed by the NumPy function ``impl``, with CuPy's argument rules."""
    params = entry.get("params")
    host_ok = entry.get("host_first") == "accepted"
    qualified = name if module == "cupy" else f"{module[5:]}.{name}"

    def call(*args: Any, **kwargs: Any) -> Any:
        check_call(qualified, params, args, kwargs)
        if args:
            _check_first(qualified, entry, args[0])
        where = f"cupy.{qualified}()"
        result = impl(*unwrap(args, where, host_ok),
                      **{k: unwrap(v, where) for k, v in kwargs.items()})
        if name in _SYNCING:
            count_sync()
        return _with_out(result, kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"cupy.{qualified} (emulated by numpy.{name})"
    return call


class ufunc:  # noqa: N801 - CuPy's name
    """An emulated cupy ufunc: device arrays and scalars in, device arrays out."""

    def __init__(self, name: str, entry: dict[str, Any], impl: Any) -> None:
        self.__name__ = self.name = name
        self.nin, self.nout = entry.get("nin", impl.nin), entry.get("nout", impl.nout)
        self.nargs = self.nin + self.nout
        self._impl = impl
        self._methods = set(entry.get("methods", ()))

    def __repr__(self) -> str:
        return f"<ufunc 'cupy_{self.name}' (emulated)>"

    @staticmethod
    def _input(x: Any, where: str) -> Any:
        if isinstance(x, ndarray):
            return x._a
        if isinstance(x, numpy.ndarray):
            raise host_error(where)
        if isinstance(x, (bool, int, float, complex, numpy.generic)):
            return x
        raise TypeError(f"Unsupported type {type(x)} in {where}: ufunc arguments are "
                        "cupy.ndarray or scalars")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        where = f"cupy.{self.name}()"
        allowed = {"out", "casting", "dtype"}
        if set(kwargs) - allowed:
            raise TypeError(f"{where} got unexpected keyword argument(s) "
                            f"{sorted(set(kwargs) - allowed)}: CuPy ufuncs take {sorted(allowed)}")
        if len(args) > self.nargs:
            raise TypeError(f"{where} takes at most {self.nargs} arguments, {len(args)} given")
        ins = [self._input(x, where) for x in args[:self.nin]]
        outs = list(args[self.nin:])
        if "out" in kwargs:
            out = kwargs.pop("out")
            outs = list(out) if isinstance(out, tuple) else [out]
        for o in outs:
            if o is not None and not isinstance(o, ndarray):
                raise TypeError(f"{where}: out must be a cupy.ndarray, got {type(o).__name__}")
        if outs:
            kwargs["out"] = tuple(None if o is None else o._a for o in outs)
        result = self._impl(*ins, **kwargs)
        if outs and all(o is not None for o in outs):
            return outs[0] if len(outs) == 1 else tuple(outs)
        return wrap(result)

    def _method(self, method: str) -> Any:
        if method not in self._methods:
            raise NotImplementedError(f"`cupy_{self.name}.{method}` is not supported yet "
                                      f"(CuPy {VERSION})")
        return getattr(self._impl, method)

    def at(self, a: Any, indices: Any, b: Any = None) -> None:
        """In place ``a[indices] op= b``; repeated indices all apply (np.add.at semantics)."""
        impl = self._method("at")
        if not isinstance(a, ndarray):
            raise TypeError(f"cupy.{self.name}.at: a must be a cupy.ndarray, got "
                            f"{type(a).__name__}")
        values = () if b is None else (self._input(b, f"{self.name}.at"),)
        impl(a._a, device_index(indices), *values)

    def _reduction(self, method: str, array: Any, *args: Any, **kwargs: Any) -> Any:
        impl = self._method(method)
        check_call(f"{self.name}.{method}", NAMES["ufunc"]["methods"][method], (array,) + args,
                   kwargs)
        if not isinstance(array, ndarray):
            raise TypeError(f"cupy.{self.name}.{method}: array must be a cupy.ndarray")
        where = f"cupy.{self.name}.{method}"
        return _with_out(impl(array._a, *unwrap(args, where),
                              **{k: unwrap(v, where) for k, v in kwargs.items()}), kwargs)

    def reduce(self, array: Any, *args: Any, **kwargs: Any) -> Any:
        return self._reduction("reduce", array, *args, **kwargs)

    def accumulate(self, array: Any, *args: Any, **kwargs: Any) -> Any:
        return self._reduction("accumulate", array, *args, **kwargs)

    def reduceat(self, array: Any, *args: Any, **kwargs: Any) -> Any:
        return self._reduction("reduceat", array, *args, **kwargs)

    def outer(self, a: Any, b: Any, **kwargs: Any) -> Any:
        impl = self._method("outer")
        where = f"cupy.{self.name}.outer"
        return wrap(impl(self._input(a, where), self._input(b, where), **kwargs))


# ------------------------------------------------------------------ CuPy's own functions
def asarray(a: Any, dtype: Any = None, order: Any = None, *, copy: Any = None,
            blocking: bool = False) -> ndarray:
    """To the device: host data is always copied (device memory is separate)."""
    if isinstance(a, ndarray):
        if dtype is not None:
            check_dtype(dtype)
        return wrap(numpy.asarray(a._a, dtype=dtype, order=order, copy=copy))
    if copy is False:
        raise ValueError("cupy.asarray(copy=False): host data must be copied to the device")
    return wrap(numpy.array(unwrap(a, "cupy.asarray", host_ok=True), dtype=dtype,
                            order=order or "K"))


def array(obj: Any, dtype: Any = None, copy: Any = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:
    if isinstance(obj, ndarray):
        return wrap(numpy.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return wrap(numpy.array(unwrap(obj, "cupy.array", host_ok=True), dtype=dtype, order=order,
                            ndmin=ndmin))


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, *,
            blocking: bool = True) -> Any:
    """To the host: a device array is copied (one sync); anything else goes to numpy."""
    if isinstance(a, ndarray):
        return a.get(stream=stream, order=order, out=out)
    return numpy.asarray(a, order=order)


def empty(shape: Any, dtype: Any = float, order: str = "C") -> ndarray:
    out = numpy.empty(shape, dtype=dtype, order=order)
    poison(out)
    return wrap(out)


def empty_like(prototype: Any, dtype: Any = None, order: str = "K", subok: Any = None,
               shape: Any = None) -> ndarray:
    out = numpy.empty_like(unwrap(prototype, "cupy.empty_like", host_ok=True), dtype=dtype,
                           order=order, shape=shape)
    poison(out)
    return wrap(out)


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """CuPy's own code: an array gives its dtype, anything else goes to numpy.can_cast (which
    refuses Python ints under NumPy 2, as on CuPy)."""
    from_ = from_.dtype if isinstance(from_, ndarray) else from_
    return numpy.can_cast(from_, to, casting=casting)


def as_strided(x: Any, shape: Any = None, strides: Any = None) -> ndarray:
    if not isinstance(x, ndarray):
        raise TypeError(f"cupy.lib.stride_tricks.as_strided: x must be a cupy.ndarray, got "
                        f"{type(x).__name__}")
    return wrap(numpy.lib.stride_tricks.as_strided(x._a, shape=shape, strides=strides))


_SPECIAL = {"asarray": asarray, "array": array, "asnumpy": asnumpy, "empty": empty,
            "empty_like": empty_like, "can_cast": can_cast}


# ------------------------------------------------------------------ modules
class EmulatedModule(types.ModuleType):
    """A CuPy module whose attributes resolve lazily, only for names CuPy 14 has."""

    def __init__(self, name: str, numpy_twin: Any, extra: dict[str, Any] | None = None) -> None:
        super().__init__(name, f"{name} emulated by minialex (NumPy computes, CuPy's rules)")
        self._numpy_twin = numpy_twin
        self._entries = NAMES["modules"].get(name, {})
        self.__dict__.update(extra or {})

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        entry = self._entries.get(attr)
        if entry is None:
            hint = " (NumPy has it)" if hasattr(self._numpy_twin, attr) else ""
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}: CuPy "
                                 f"{VERSION} has no such name{hint}")
        value = self._resolve(attr, entry)
        setattr(self, attr, value)  # cache
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(self._entries) | set(self.__dict__))

    def _resolve(self, attr: str, entry: dict[str, Any]) -> Any:
        twin = getattr(self._numpy_twin, attr, None)
        kind = entry["kind"]
        if kind == "numpy" and twin is not None:
            return twin
        if kind == "value" and "value" in entry:
            return entry["value"]
        if kind == "ufunc" and isinstance(twin, numpy.ufunc):
            return ufunc(attr, entry, twin)
        if kind == "gufunc" and twin is not None:
            return ufunc(attr, {}, twin)
        if kind == "function" and self.__name__ == "cupy" and attr in _SPECIAL:
            return _SPECIAL[attr]
        if kind == "function" and callable(twin):
            return function(attr, entry, twin, self.__name__)
        if kind == "type" and attr in ("ElementwiseKernel", "RawKernel", "RawModule",
                                       "ReductionKernel"):
            raise not_emulated(attr, "user-written CUDA kernels need a GPU")
        if kind == "type" and isinstance(twin, type) and issubclass(twin, Exception):
            return twin
        raise not_emulated(f"{self.__name__[5:] + '.' if '.' in self.__name__ else ''}{attr}")


def make_cuda() -> types.SimpleNamespace:
    """The little of cupy.cuda the emulator can stand for: one device, nothing to wait for."""
    return types.SimpleNamespace(
        Device=lambda device=None: Device(), get_device_id=lambda: 0,
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
        __doc__="cupy.cuda emulated: one device; streams, memory pools and kernels are not")
