"""The emulated device array: a NumPy array behind CuPy's rules.

``ndarray`` holds a NumPy array in ``_a`` and exposes only what ``cupy.ndarray`` exposes in
CuPy 14 (the committed name list). What it refuses, CuPy refuses too: implicit conversion to
NumPy (``numpy.asarray(a)``), a NumPy array as an operand, ``range(a)`` (no ``__index__``).
Full reductions and integer indexing give 0-d device arrays, never host scalars. Every
transfer to the host (``get``, ``item``, ``tolist``, ``float``/``int``/``bool``, printing, a
boolean-mask index whose result size CuPy must read back) adds one to ``sync_count()``.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy

from minialex._cupy_emulator._names import NAMES, check_call

_syncs = [0]


def sync_count() -> int:
    """Device-to-host transfers made through emulated arrays so far."""
    return _syncs[0]


def count_sync() -> None:
    _syncs[0] += 1


# CuPy's dtypes: bool, (u)int8-64, float16-64, complex64/128; no object, str, longdouble.
_KINDS = {"b": 1, "i": 8, "u": 8, "f": 8, "c": 16}


def check_dtype(dtype: Any, what: str = "array") -> None:
    dtype = numpy.dtype(dtype)
    if dtype.kind not in _KINDS or dtype.itemsize > _KINDS[dtype.kind]:
        raise TypeError(f"Unsupported dtype {dtype} (cupy {what}): CuPy arrays hold bool, "
                        "integer, float16/32/64 and complex64/128 values only")


def wrap(a: Any) -> Any:
    """NumPy results become device arrays (0-d for scalars); tuples/lists element-wise."""
    if isinstance(a, numpy.ndarray):
        check_dtype(a.dtype)
        out = object.__new__(ndarray)
        out._a = a
        return out
    if isinstance(a, numpy.generic):
        return wrap(numpy.asarray(a))
    if isinstance(a, tuple):
        return tuple(wrap(x) for x in a)
    if isinstance(a, list):
        return [wrap(x) for x in a]
    return a


def host_error(where: str) -> TypeError:
    return TypeError(
        f"Unsupported type <class 'numpy.ndarray'> in {where}: a NumPy (host) array met a "
        "cupy.ndarray (emulated). CuPy never converts host arrays implicitly; move it with "
        "cupy.asarray(a) (host to device) or a.get() (device to host)")


def unwrap(x: Any, where: str, host_ok: bool = False) -> Any:
    """The NumPy array behind device arrays, through lists/tuples; host arrays refused."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, numpy.ndarray) and not host_ok:
        raise host_error(where)
    if isinstance(x, (list, tuple)):
        return type(x)(unwrap(v, where, host_ok) for v in x)
    return x


_SCALARS = (bool, int, float, complex, numpy.generic)


def _operand(x: Any, op: str) -> Any:
    """The value to compute with, or NotImplemented for objects that may handle the op."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, numpy.ndarray):
        raise host_error(f"the operator {op}")
    if isinstance(x, _SCALARS):
        return x
    if isinstance(x, (list, tuple)):
        raise TypeError(f"Unsupported type {type(x)} in the operator {op}: CuPy operators take "
                        "cupy.ndarray or scalar operands only")
    return NotImplemented


def _binary(func: Any, symbol: str) -> tuple[Any, Any, Any]:
    """Forward, reflected and in-place methods for one operator."""
    def forward(self: ndarray, other: Any) -> Any:
        b = _operand(other, symbol)
        return NotImplemented if b is NotImplemented else wrap(func(self._a, b))

    def reflected(self: ndarray, other: Any) -> Any:
        b = _operand(other, symbol)
        return NotImplemented if b is NotImplemented else wrap(func(b, self._a))

    def in_place(self: ndarray, other: Any) -> Any:
        b = _operand(other, symbol + "=")
        if b is NotImplemented:
            return NotImplemented
        func(self._a, b, out=self._a)
        return self
    return forward, reflected, in_place


class _Flags:
    __slots__ = ("_f",)

    def __init__(self, flags: Any) -> None:
        self._f = flags

    c_contiguous = property(lambda self: bool(self._f.c_contiguous))
    f_contiguous = property(lambda self: bool(self._f.f_contiguous))
    owndata = property(lambda self: bool(self._f.owndata))
    fnc = property(lambda self: bool(self._f.fnc))
    forc = property(lambda self: bool(self._f.forc))

    def __repr__(self) -> str:
        return f"  C_CONTIGUOUS : {self.c_contiguous}\n  F_CONTIGUOUS : {self.f_contiguous}\n" \
               f"  OWNDATA : {self.owndata}"


class MemoryPointer:
    """Stand-in for cupy.cuda.MemoryPointer (``a.data`` on CuPy is device memory, not data)."""

    def __init__(self, a: Any) -> None:
        self.ptr = int(a.__array_interface__["data"][0])

    def __repr__(self) -> str:
        return f"<MemoryPointer 0x{self.ptr:x} (emulated device memory)>"


class Device:
    """Stand-in for cupy.cuda.Device: the one emulated GPU."""

    id = 0

    def synchronize(self) -> None:
        """Nothing to wait for: the emulator computes synchronously."""

    def __repr__(self) -> str:
        return "<CUDA Device 0 (minialex cupy-emulator)>"


# Methods that are NumPy's own under the same name; arguments checked against CuPy's list.
_FORWARDED = ("all", "any", "argmax", "argmin", "argpartition", "argsort", "choose", "clip",
              "compress", "conj", "conjugate", "cumprod", "cumsum", "diagonal", "flatten",
              "max", "mean", "min", "partition", "prod", "ravel", "repeat", "round",
              "searchsorted", "sort", "squeeze", "std", "sum", "swapaxes", "take", "trace",
              "var", "byteswap")
_SYNCING_METHODS = {"nonzero", "compress"}  # the result size is read back from the device


class ndarray:  # noqa: N801 - CuPy's name
    """A device array of the CuPy emulator (``isinstance(a, numpy.ndarray)`` is False)."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100  # CuPy's value: objects with a higher one get reflected ops
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None,
                 order: str = "C") -> None:
        if memptr is not None or strides is not None:
            raise TypeError("cupy-emulator: ndarray(memptr=, strides=) cannot be emulated "
                            "(device memory pointers)")
        check_dtype(dtype)
        self._a = numpy.empty(shape, dtype=dtype, order=order)
        poison(self._a)

    # ---------------------------------------------------------------- NumPy interop: refused
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # ``numpy_scalar * a`` reaches here through NumPy's operator; CuPy computes it.
        others = [x for x in inputs if not isinstance(x, ndarray)]
        if any(isinstance(x, numpy.ndarray) for x in others + list(kwargs.get("out", ()))):
            raise host_error(f"numpy.{ufunc.__name__}")
        if (method == "__call__" and not kwargs and len(inputs) == 2
                and all(isinstance(x, numpy.generic) for x in others)):
            return wrap(getattr(ufunc, method)(*(unwrap(x, "") for x in inputs)))
        raise TypeError(f"numpy.{ufunc.__name__}() was given a cupy.ndarray (emulated): call the "
                        f"array module of the data instead (xp = get_array_module(x); "
                        f"xp.{ufunc.__name__}(...))")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        raise TypeError(f"{func.__module__}.{func.__name__}() was given a cupy.ndarray "
                        "(emulated): NumPy functions run on the host; use the array module of "
                        f"the data (xp = get_array_module(x); xp.{func.__name__}(...))")

    # ---------------------------------------------------------------- device -> host (syncs)
    def get(self, stream: Any = None, order: str = "C", out: Any = None,
            blocking: bool = True) -> Any:
        """Copy to the host as a NumPy array (one device-to-host transfer)."""
        count_sync()
        host = numpy.array(self._a, order=order)
        if out is None:
            return host
        if not isinstance(out, numpy.ndarray) or out.shape != host.shape:
            raise ValueError("cupy-emulator: get(out=) needs a NumPy array of the same shape")
        out[...] = host
        return out

    def item(self) -> Any:
        count_sync()
        return self._a.item()

    def tolist(self) -> Any:
        count_sync()
        return self._a.tolist()

    def tobytes(self, order: str = "C") -> bytes:
        count_sync()
        return self._a.tobytes(order)

    def _host_scalar(self, kind: Any) -> Any:
        count_sync()
        return kind(self._a)

    def __float__(self) -> float:
        return self._host_scalar(float)

    def __int__(self) -> int:
        return self._host_scalar(int)

    def __complex__(self) -> complex:
        return self._host_scalar(complex)

    def __bool__(self) -> bool:
        if self._a.size > 1:
            raise ValueError("The truth value of an array with more than one element is "
                             "ambiguous. Use a.any() or a.all()")
        return self._host_scalar(bool)

    def __repr__(self) -> str:
        return self._host_scalar(repr)

    def __str__(self) -> str:
        return self._host_scalar(str)

    def __format__(self, spec: str) -> str:
        count_sync()
        return format(self._a, spec) if self._a.ndim else format(self._a.item(), spec)

    def __reduce__(self) -> Any:  # pickling goes through the host, as on CuPy
        return wrap, (self.get(),)

    # ---------------------------------------------------------------- host -> device
    def set(self, arr: Any, stream: Any = None) -> None:
        """Copy the NumPy array ``arr`` (same shape and dtype) into this array."""
        if not isinstance(arr, numpy.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError("Shape or dtype mismatch")
        self._a[...] = arr

    # ---------------------------------------------------------------- attributes
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: _Flags(self._a.flags))
    T = property(lambda self: wrap(self._a.T))
    mT = property(lambda self: wrap(self._a.mT))
    real = property(lambda self: wrap(self._a.real))
    imag = property(lambda self: wrap(self._a.imag))
    data = property(lambda self: MemoryPointer(self._a))
    device = property(lambda self: Device())

    @property
    def base(self) -> Any:
        return None if self._a.base is None else wrap(self._a.base) \
            if isinstance(self._a.base, numpy.ndarray) else None

    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self) -> Any:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __copy__(self) -> ndarray:
        return wrap(self._a.copy())

    def __deepcopy__(self, memo: Any) -> ndarray:
        return wrap(self._a.copy())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in _FORWARDED:
            method = getattr(self._a, name)

            def call(*args: Any, **kwargs: Any) -> Any:
                check_call(f"ndarray.{name}", NAMES["ndarray"][name], args, kwargs)
                return wrap(method(*unwrap(args, f"ndarray.{name}"),
                                   **{k: unwrap(v, f"ndarray.{name}") for k, v in
                                      kwargs.items()}))
            return call
        if name in NAMES["ndarray"]:
            raise AttributeError(f"cupy-emulator: cupy.ndarray.{name} exists in CuPy 14 but is "
                                 "not emulated (it needs device memory, DLPack or kernels)")
        raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r} (CuPy "
                             f"{NAMES['cupy_version']}'s ndarray has no such method or "
                             "attribute)")

    # ---------------------------------------------------------------- methods with rules
    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None,
               copy: bool = True) -> ndarray:
        check_dtype(dtype)
        return wrap(self._a.astype(dtype, order=order, casting=casting or "unsafe",
                                   copy=copy))

    def copy(self, order: str = "C") -> ndarray:
        return wrap(self._a.copy(order=order))

    def reshape(self, *shape: Any, order: str = "C", copy: Any = None) -> ndarray:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return wrap(self._a.reshape(shape, order=order, copy=copy))

    def transpose(self, *axes: Any) -> ndarray:
        return wrap(self._a.transpose(*axes))

    def view(self, dtype: Any = None, array_class: Any = None) -> ndarray:
        if array_class is not None:
            raise TypeError("cupy-emulator: view(array_class=) is not emulated")
        return wrap(self._a.view() if dtype is None else self._a.view(dtype))

    def fill(self, value: Any) -> None:
        if isinstance(value, (ndarray, numpy.ndarray)) and value.ndim:
            raise ValueError(f"non-scalar {type(value).__module__.split('.')[0]}.ndarray "
                             "cannot be used for fill")
        self._a.fill(unwrap(value, "fill", host_ok=True))

    def put(self, indices: Any, values: Any, mode: str = "wrap") -> None:
        self._a.put(unwrap(indices, "put"), unwrap(values, "put"), mode=mode)

    def dot(self, b: Any, out: Any = None) -> ndarray:
        if not isinstance(b, ndarray):
            raise TypeError(f"Argument 'b' has incorrect type (expected cupy.ndarray, got "
                            f"{type(b).__name__})")
        if out is None:
            return wrap(self._a.dot(b._a))
        self._a.dot(b._a, out=out._a)
        return out

    def nonzero(self) -> tuple[ndarray, ...]:
        count_sync()  # the number of non-zeros is read back to size the result
        return wrap(self._a.nonzero())

    def ptp(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
        return wrap(numpy.ptp(self._a, axis=axis, keepdims=keepdims))

    # ---------------------------------------------------------------- indexing
    def __getitem__(self, key: Any) -> ndarray:
        key = device_index(key)
        return wrap(self._a[key])

    def __setitem__(self, key: Any, value: Any) -> None:
        key = device_index(key)
        advanced = any(isinstance(k, numpy.ndarray) for k in
                       (key if isinstance(key, tuple) else (key,)))
        if isinstance(value, ndarray):
            value = value._a
        elif isinstance(value, (numpy.ndarray, list, tuple)) and not advanced:
            # CuPy fills basic slices from scalars only: host data is never copied implicitly.
            if numpy.ndim(value):
                raise ValueError(f"non-scalar {type(value).__name__} cannot be used for fill "
                                 "(CuPy refuses host data here: use cupy.asarray(value))")
        elif not isinstance(value, (_SCALARS, numpy.ndarray, list, tuple)):
            raise TypeError(f"Unsupported type {type(value)} assigned into a cupy.ndarray")
        self._a[key] = value

    # ---------------------------------------------------------------- unary operators
    def __neg__(self) -> ndarray:
        return wrap(-self._a)

    def __pos__(self) -> ndarray:
        return wrap(+self._a)

    def __abs__(self) -> ndarray:
        return wrap(abs(self._a))

    def __invert__(self) -> ndarray:
        return wrap(~self._a)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        b = _operand_or_none(other, "==")
        return b if b is NotImplemented else wrap(self._a == b) if b is not None else \
            wrap(numpy.zeros(self._a.shape, dtype=bool))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        b = _operand_or_none(other, "!=")
        return b if b is NotImplemented else wrap(self._a != b) if b is not None else \
            wrap(numpy.ones(self._a.shape, dtype=bool))


def _operand_or_none(x: Any, op: str) -> Any:
    """Comparison operand: None where CuPy compares with an unrelated object (all unequal)."""
    if x is None or (not isinstance(x, (ndarray, numpy.ndarray, list, tuple, *_SCALARS))
                     and getattr(x, "__array_priority__", 0) <= ndarray.__array_priority__):
        return None
    return _operand(x, op)


_OPERATORS = {"add": (operator.add, "+"), "sub": (operator.sub, "-"),
              "mul": (operator.mul, "*"), "truediv": (operator.truediv, "/"),
              "floordiv": (operator.floordiv, "//"), "mod": (operator.mod, "%"),
              "pow": (operator.pow, "**"), "matmul": (operator.matmul, "@"),
              "and": (operator.and_, "&"), "or": (operator.or_, "|"),
              "xor": (operator.xor, "^"), "lshift": (operator.lshift, "<<"),
              "rshift": (operator.rshift, ">>")}
_UFUNC_OF = {"add": numpy.add, "sub": numpy.subtract, "mul": numpy.multiply,
             "truediv": numpy.true_divide, "floordiv": numpy.floor_divide, "mod": numpy.remainder,
             "pow": numpy.power, "matmul": numpy.matmul, "and": numpy.bitwise_and,
             "or": numpy.bitwise_or, "xor": numpy.bitwise_xor, "lshift": numpy.left_shift,
             "rshift": numpy.right_shift}
for _name, (_func, _symbol) in _OPERATORS.items():
    _fwd, _ref, _inp = _binary(_UFUNC_OF[_name], _symbol)
    setattr(ndarray, f"__{_name}__", _fwd)
    setattr(ndarray, f"__r{_name}__", _ref)
    setattr(ndarray, f"__i{_name}__", _inp)
for _name, _func in {"lt": numpy.less, "le": numpy.less_equal, "gt": numpy.greater,
                     "ge": numpy.greater_equal}.items():
    setattr(ndarray, f"__{_name}__", _binary(_func, _name)[0])
ndarray.__divmod__ = _binary(numpy.divmod, "divmod")[0]  # type: ignore[attr-defined]
ndarray.__rdivmod__ = _binary(numpy.divmod, "divmod")[1]  # type: ignore[attr-defined]


def device_index(key: Any) -> Any:
    """An index with device arrays replaced by their NumPy arrays (host arrays and lists are
    allowed: CuPy copies them to the device). A boolean mask costs a sync: CuPy reads the
    number of True values back to size the result."""
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for k in parts:
        if isinstance(k, ndarray):
            k = k._a
        elif isinstance(k, list):
            k = numpy.asarray(unwrap(k, "an index", host_ok=True))
        if isinstance(k, numpy.ndarray) and k.dtype == bool:
            count_sync()
        out.append(k)
    return tuple(out) if isinstance(key, tuple) else out[0]


def poison(a: Any) -> None:
    """Fill uninitialised memory (``empty``) with NaN / a sentinel, as stale device memory
    would hold: code that reads it before writing fails loudly instead of seeing zeros."""
    if a.dtype.kind in "fc":
        a.fill(numpy.nan)
    elif a.dtype.kind in "iu":
        a.fill(numpy.iinfo(a.dtype).max // 3)
