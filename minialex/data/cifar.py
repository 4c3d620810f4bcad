"""CIFAR-10 from its two standard on-disk formats, without ever running code from a file.

* python format (``cifar-10-batches-py``): ``data_batch_1`` .. ``data_batch_5`` and
  ``test_batch``, each a pickled dict ``{"batch_label", "labels", "data", "filenames"}`` with
  ``data`` a (10000, 3072) uint8 NumPy array. Unpickling can call any importable function
  (that is how pickle rebuilds objects), so a crafted file could run arbitrary code.
  ``_RestrictedUnpickler`` therefore refuses every global except the names NumPy's array
  pickles use, and even those resolve to checking stand-ins, never to NumPy itself: a plain
  numeric dtype, an exact byte count for the shape, a fresh C-contiguous copy of the bytes.
  The result is then checked to be exactly the expected dict.
* binary format (``cifar-10-batches-bin``): ``data_batch_N.bin`` / ``test_batch.bin``, a
  sequence of 3073-byte records: one label byte, then 1024 red, 1024 green, 1024 blue bytes.
  No pickle at all; prefer it for files of unknown origin.
"""

from __future__ import annotations

import io
import math
import os
import pickle
from typing import Any

from minialex import backend
from minialex.data.dataset import ArrayDataset

np = backend.np

CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
RECORD_BYTES = 1 + 3 * 32 * 32
_DOWNLOAD = "https://www.cs.toronto.edu/~kriz/cifar.html"


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a function or class outside the allow-list, or misused one on it."""


# Plain numeric dtypes only: bool, signed and unsigned ints, floats. An object dtype would
# make an array whose elements are pointers read from the file.
_NUMERIC_KINDS = "biuf"


def _checked_dtype(spec: Any, align: Any = False, copy: Any = True) -> _DtypeSpec:
    """Stands in for ``numpy.dtype(spec, align, copy)``: a plain numeric type name only."""
    if not isinstance(spec, str) or not isinstance(align, (bool, int)) \
            or not isinstance(copy, (bool, int)):
        raise RefusedGlobal(f"refusing numpy.dtype{(spec, align, copy)!r}: only a type name "
                            "such as 'u1' is accepted")
    try:
        dtype = np.dtype(spec)
    except TypeError as exc:
        raise RefusedGlobal(f"refusing numpy.dtype({spec!r}): {exc}") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None \
            or dtype.subdtype is not None:
        raise RefusedGlobal(f"refusing numpy.dtype({spec!r}): only plain bool, integer and "
                            "float types are accepted")
    return _DtypeSpec(dtype)


class _DtypeSpec:
    """A checked dtype; its ``__setstate__`` (pickle's BUILD) may only set the byte order,
    once."""

    __slots__ = ("dtype", "built")

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype
        self.built = False

    def __setstate__(self, state: Any) -> None:
        if self.built:
            raise RefusedGlobal("refusing a second state for one dtype")
        self.built = True
        # NumPy writes (3, byteorder, None, None, None, -1, -1, 0) for a plain type
        if not (isinstance(state, tuple) and len(state) == 8 and state[1] in ("<", ">", "|", "=")
                and state[2:5] == (None, None, None)):
            raise RefusedGlobal(f"refusing dtype state {state!r}: not a plain numeric type")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


class _NdarrayType:
    """Stands in for ``numpy.ndarray``: allowed only as ``_reconstruct``'s first argument.

    Calling ``ndarray(shape, dtype, buffer, offset, strides)`` directly would let the file
    choose strides (a zero stride makes a huge array out of a few bytes) and memory layout.
    """

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise RefusedGlobal("refusing a direct call of numpy.ndarray: an array is accepted only "
                            "in the form NumPy pickles it (_reconstruct, then its state)")

    def __setstate__(self, state: Any) -> None:
        raise RefusedGlobal("refusing to set the state of numpy.ndarray itself")


_NDARRAY = _NdarrayType()


class _ArraySpec:
    """What ``_reconstruct`` returns here: ``__setstate__`` checks the state and copies the
    bytes into a fresh C-contiguous array (``.array``); nothing else can be done with it."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: Any = None

    def __setstate__(self, state: Any) -> None:
        if self.array is not None:
            raise RefusedGlobal("refusing a second state for one array")
        if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1):
            raise RefusedGlobal("refusing array state: expected (1, shape, dtype, is_fortran, "
                                "bytes)")
        _, shape, spec, fortran, raw = state
        order = ("F" if fortran else "C") if isinstance(fortran, int) else None
        self.array = _array_from_bytes(shape, spec, order, raw)


def _array_from_bytes(shape: Any, spec: Any, order: Any, raw: Any) -> Any:
    """A fresh C-contiguous array of ``shape`` read from ``raw``, after checking every part."""
    if isinstance(raw, str):  # Python 2 str, decoded with latin1 by the unpickler
        raw = raw.encode("latin1")
    if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)
            and isinstance(spec, _DtypeSpec) and order in ("C", "F")
            and isinstance(raw, (bytes, bytearray))):
        raise RefusedGlobal("refusing array state: expected a shape of ints, a checked dtype, "
                            "a memory order and bytes")
    # the byte count must match exactly, so the array's size is bounded by the file's
    need = math.prod(shape) * spec.dtype.itemsize
    if need != len(raw):
        raise RefusedGlobal(f"refusing array state: shape {shape} of {spec.dtype} needs {need} "
                            f"bytes, the file holds {len(raw)}")
    flat = np.frombuffer(raw, dtype=spec.dtype)
    return np.array(flat.reshape(shape, order=order), order="C")


def _checked_reconstruct(subtype: Any, shape: Any, dtype_char: Any) -> _ArraySpec:
    """Stands in for NumPy's ``_reconstruct(ndarray, (0,), b"b")``, the first half of a
    pickled array; the second half is the state given to ``_ArraySpec.__setstate__``."""
    if subtype is not _NDARRAY:
        raise RefusedGlobal(f"refusing _reconstruct of {subtype!r}: only numpy.ndarray")
    return _ArraySpec()


def _checked_frombuffer(buffer: Any, spec: Any, shape: Any, order: Any) -> Any:
    """Stands in for NumPy's ``_frombuffer``, which pickle protocol 5 names."""
    return _array_from_bytes(shape, spec, order, buffer)


def _latin1_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """Stands in for ``_codecs.encode``, which Python 3 uses to pickle bytes at protocol 2."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedGlobal(f"refusing _codecs.encode of {type(text).__name__} with "
                            f"{encoding!r}: only (str, 'latin1')")
    return text.encode("latin1")


class _StandIn:
    """One allowed global: calls go to the checking function; pickle's BUILD opcode, which
    would otherwise set attributes on the function (shared by every later load), is refused.
    No ``__dict__``, so there is nothing to set."""

    __slots__ = ("function", "name")

    def __init__(self, function: Any, name: str) -> None:
        self.function, self.name = function, name

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    def __setstate__(self, state: Any) -> None:
        raise RefusedGlobal(f"refusing to set the state of {self.name}")

    def __repr__(self) -> str:
        return self.name


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only stand-ins for the globals a pickled NumPy array names; anything else is
    refused unrun.

    ``ndarray.__reduce__`` names ``numpy.core.multiarray._reconstruct`` (NumPy 1.x, and in
    files written by it, such as the CIFAR batches) or ``numpy._core.multiarray._reconstruct``
    (NumPy 2); the dtype is rebuilt by ``numpy.dtype``. None of NumPy's own functions is
    reachable: each name maps to a checking stand-in above.
    """

    allowed: dict[tuple[str, str], Any] = {
        ("numpy.core.multiarray", "_reconstruct"): _StandIn(_checked_reconstruct,
                                                            "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): _StandIn(_checked_reconstruct,
                                                             "_reconstruct"),
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _StandIn(_checked_dtype, "numpy.dtype"),
        ("numpy.core.numeric", "_frombuffer"): _StandIn(_checked_frombuffer, "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"): _StandIn(_checked_frombuffer, "_frombuffer"),
        ("_codecs", "encode"): _StandIn(_latin1_encode, "_codecs.encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise RefusedGlobal(
                f"refusing to load global {module}.{name}: a CIFAR batch contains only a dict "
                "of bytes, strings, lists and a NumPy array") from None


def _built_arrays(batch: Any) -> Any:
    """The batch dict with each rebuilt array in place of its ``_ArraySpec``."""
    if not isinstance(batch, dict):
        return batch
    out = {}
    for key, value in batch.items():
        if isinstance(value, _ArraySpec):
            if value.array is None:
                raise RefusedGlobal("refusing an array without its state")
            value = value.array
        elif isinstance(value, _DtypeSpec):
            raise RefusedGlobal("refusing a dtype where an array or list belongs")
        out[key.decode("latin1") if isinstance(key, bytes) else key] = value
    return out


def _load_python_batch(path: str) -> tuple[Any, Any]:
    """(data (N, 3, 32, 32) uint8, labels (N,) int64) from one pickled batch file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CIFAR-10: missing batch file {path} "
                                f"(download cifar-10-python.tar.gz from {_DOWNLOAD})")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        # latin1: the batches were pickled by Python 2, and NumPy's array state needs latin1
        # to survive the str -> bytes round trip (NumPy's own advice for Python 2 pickles).
        batch = _built_arrays(_RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load())
    except RefusedGlobal as exc:
        raise ValueError(f"CIFAR-10: {path} is not a valid batch file: {exc}") from None
    except Exception as exc:  # truncated or garbled data surfaces as many error types
        raise ValueError(f"CIFAR-10: {path} is truncated or corrupt "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"CIFAR-10: {path} should hold a dict, got {type(batch).__name__}")
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        got = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
               else type(data).__name__)
        raise ValueError(f"CIFAR-10: {path}: 'data' should be a uint8 array (N, 3072), got {got}")
    # rebuilt by _ArraySpec, so it owns its bytes and cannot be larger than the file
    if not (data.flags.c_contiguous and data.flags.owndata) or data.nbytes > len(raw):
        raise ValueError(f"CIFAR-10: {path}: 'data' is not a plain array of the file's bytes")
    if not isinstance(labels, list) or len(labels) != data.shape[0] \
            or not all(isinstance(v, int) and 0 <= v < 10 for v in labels):
        raise ValueError(f"CIFAR-10: {path}: 'labels' should be a list of {data.shape[0]} "
                         "ints in 0..9")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def _load_binary_batch(path: str) -> tuple[Any, Any]:
    """(data (N, 3, 32, 32) uint8, labels (N,) int64) from one 3073-byte-record file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CIFAR-10: missing batch file {path} "
                                f"(download cifar-10-binary.tar.gz from {_DOWNLOAD})")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise ValueError(f"CIFAR-10: {path} is truncated or corrupt: {raw.size} bytes is not a "
                         f"positive multiple of the {RECORD_BYTES}-byte record")
    records = raw.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"CIFAR-10: {path} is corrupt: label byte {int(labels.max())} "
                         "outside 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _find_batches(root: str, fmt: str, first: str = TRAIN_FILES[0]) -> tuple[str, str]:
    """(folder, format) holding the batch file ``first``, looking in root and the usual
    sub-folders (the test split alone needs no training files)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"CIFAR-10: data folder {root} does not exist "
                                f"(download from {_DOWNLOAD} and extract it there)")
    candidates = {"python": ["cifar-10-batches-py", "."], "binary": ["cifar-10-batches-bin", "."]}
    formats = ["python", "binary"] if fmt == "auto" else [fmt]
    for f in formats:
        probe = first + (".bin" if f == "binary" else "")
        for sub in candidates[f]:
            folder = os.path.normpath(os.path.join(root, sub))
            if os.path.isfile(os.path.join(folder, probe)):
                return folder, f
    if fmt == "auto":
        fmt = "python"  # report the usual layout
    folder = os.path.join(root, candidates[fmt][0])
    probe = first + (".bin" if fmt == "binary" else "")
    raise FileNotFoundError(f"CIFAR-10: missing batch file {os.path.join(folder, probe)} "
                            f"(looked in {root} and {folder}; download from {_DOWNLOAD})")


class CIFAR10(ArrayDataset):
    """CIFAR-10 train (50,000) or test (10,000) images, (3, 32, 32), stored as uint8.

    root: the folder holding ``cifar-10-batches-py`` or ``cifar-10-batches-bin`` (or the batch
    files themselves). fmt: "auto" (python if present, else binary), "python" or "binary".
    Missing, truncated or corrupt files raise FileNotFoundError / ValueError naming the file.
    """

    def __init__(self, root: str, train: bool = True, fmt: str = "auto") -> None:
        if fmt not in ("auto", "python", "binary"):
            raise ValueError(f"CIFAR-10: fmt must be 'auto', 'python' or 'binary', got {fmt!r}")
        names = TRAIN_FILES if train else TEST_FILES
        folder, fmt = _find_batches(os.fspath(root), fmt, names[0])
        load = _load_python_batch if fmt == "python" else _load_binary_batch
        suffix = ".bin" if fmt == "binary" else ""
        parts = [load(os.path.join(folder, name + suffix)) for name in names]
        super().__init__(np.concatenate([p[0] for p in parts]),
                         np.concatenate([p[1] for p in parts]), classes=CLASSES)
        self.root, self.train, self.format = folder, train, fmt
