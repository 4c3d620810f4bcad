"""The pickle inside a PyTorch checkpoint, read without torch and without running its code.

``torch.save(state_dict, path)`` pickles the dict; each tensor pickles as a call
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
whose ``storage`` is a *persistent id*, ``("storage", torch.FloatStorage, key, location,
numel)``, naming raw bytes stored outside the pickle (zip member ``data/<key>``, or the
block after the pickle in the legacy format). Unpickling may call any importable function,
so ``RestrictedUnpickler`` resolves only the few names a state dict uses, each to a stand-in
here that checks its arguments and records what to read; everything else is refused unrun:

* ``torch._utils._rebuild_tensor_v2`` (``_rebuild_tensor`` in files from PyTorch < 0.4,
  ``_rebuild_parameter`` when ``nn.Parameter`` objects were saved) -> ``TensorRef``;
* ``torch.<Type>Storage`` for plain numeric types (table below) -> ``StorageType``;
* ``collections.OrderedDict`` -> ``StateDict``, a dict whose only BUILD (``__setstate__``)
  is the ``_metadata`` attribute that ``Module.state_dict()`` attaches.

``load_pickle`` first walks the opcodes with ``pickletools.genops``, which checks every length
against the bytes really there: CPython's unpickler would allocate a declared length (up to
2**63 bytes) before reading it. Nothing else is allocated while unpickling: ``check_layout``
compares every tensor with the bytes
its storage really has in the file, then ``build_arrays`` makes the NumPy arrays.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from minialex.backend import numpy
from minialex.weights.common import (
    MAX_OUTPUT_PER_FILE_BYTE,
    WeightsError,
    bfloat16_to_float32,
    is_shape,
    native,
)

# torch's storage classes -> NumPy element type (without byte order). Plain numbers only.
# "bf16" has no NumPy type: read as uint16 bit patterns, returned as float32; "bool" is read
# as bytes and returned as byte != 0 (a NumPy bool must be exactly 0 or 1).
STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "bool",
}
_READ_AS = {"bf16": "u2", "bool": "u1"}


@dataclass(frozen=True)
class StorageType:
    """Stands in for ``torch.FloatStorage`` and friends: only names an element type."""

    name: str
    code: str

    @property
    def itemsize(self) -> int:
        return self.dtype("<").itemsize

    @property
    def output_itemsize(self) -> int:
        """Bytes per element of the array returned (bfloat16 becomes float32)."""
        return 4 if self.code == "bf16" else self.itemsize

    def dtype(self, byteorder: str) -> Any:
        """The NumPy dtype of the stored bytes ("<" or ">")."""
        return numpy.dtype(byteorder + _READ_AS.get(self.code, self.code))


@dataclass(frozen=True)
class StorageRef:
    """A persistent id: ``numel`` elements of ``type`` stored under ``key``."""

    key: str
    type: StorageType
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * self.type.itemsize


@dataclass(frozen=True)
class TensorRef:
    """What ``_rebuild_tensor_v2`` returns here: a strided view of a storage, not yet read."""

    storage: StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def __setstate__(self, state: Any) -> None:
        raise WeightsError("refusing a pickle that sets attributes on a tensor")

    @property
    def numel(self) -> int:
        return math.prod(self.size)


class StateDict(dict):
    """Stands in for ``collections.OrderedDict`` (a plain dict keeps insertion order too)."""

    def __init__(self, *args: Any) -> None:
        if args:
            raise WeightsError("refusing OrderedDict(...) with arguments: torch pickles an "
                               "empty OrderedDict, then its items")
        super().__init__()

    def __setstate__(self, state: Any) -> None:
        # Module.state_dict() stores per-module versions as the attribute ``_metadata``:
        # {"": {"version": 1}, "features": {...}, ...}. Checked, then dropped.
        if not (isinstance(state, dict) and set(state) <= {"_metadata"}
                and all(isinstance(v, dict) for v in state.values())):
            raise WeightsError("refusing to set attributes other than _metadata on a dict")


def _check_tensor(storage: Any, offset: Any, size: Any, stride: Any) -> TensorRef:
    if not isinstance(storage, StorageRef):
        raise WeightsError("refusing a tensor whose storage is not a storage record")
    if type(offset) is not int or offset < 0 or not is_shape(size) or not is_shape(stride) \
            or len(size) != len(stride):
        raise WeightsError(f"refusing a tensor with offset {offset!r}, size {size!r}, stride "
                           f"{stride!r}: expected non-negative ints, as many strides as sizes")
    return TensorRef(storage, offset, tuple(size), tuple(stride))


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> TensorRef:
    """Stands in for ``torch._utils._rebuild_tensor`` (files from PyTorch < 0.4)."""
    return _check_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any,
                       requires_grad: Any = False, backward_hooks: Any = None,
                       metadata: Any = None) -> TensorRef:
    """Stands in for ``torch._utils._rebuild_tensor_v2``; hooks must be empty and the
    metadata may not set the conjugate or negative bit (the values would differ)."""
    plain = metadata is None or isinstance(metadata, dict) and not any(metadata.values())
    if not isinstance(requires_grad, bool) or backward_hooks not in (None, {}) or not plain:
        raise WeightsError(f"refusing tensor flags requires_grad={requires_grad!r}, "
                           f"hooks={backward_hooks!r}, metadata={metadata!r}")
    return _check_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> TensorRef:
    """Stands in for ``torch._utils._rebuild_parameter``: the parameter's tensor itself."""
    if not isinstance(data, TensorRef) or not isinstance(requires_grad, bool) \
            or backward_hooks not in (None, {}):
        raise WeightsError("refusing a parameter that does not wrap a plain tensor")
    return data


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): StateDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}
# "torch.cuda" storage types appear in files saved from a GPU by PyTorch < 1.0
_ALLOWED.update({(module, name): StorageType(name, code) for name, code in STORAGE_DTYPES.items()
                 for module in ("torch", "torch.cuda")})


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a state dict; any global outside the allow-list raises before it runs.

    ``storage_id(pid)`` turns a persistent id into a ``StorageRef`` (the zip and the legacy
    formats differ in one field).
    """

    def __init__(self, file: BinaryIO, storage_id: Callable[[Any], StorageRef]) -> None:
        super().__init__(file, encoding="utf-8")
        self._storage_id = storage_id

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            pass
        hint = ""
        if module.startswith(("torchvision", "__main__", "torch.nn")):
            hint = (" (the file holds a pickled Python object such as a whole model; save "
                    "model.state_dict() instead)")
        raise WeightsError(f"refusing to load {module}.{name}: a state dict needs only "
                           f"tensors, storages and OrderedDict, and any other name could run "
                           f"code{hint}")

    def persistent_load(self, pid: Any) -> StorageRef:
        return self._storage_id(pid)


# protocol 5's out-of-band buffers: never in a file torch writes
_REFUSED_OPCODES = {"NEXT_BUFFER", "READONLY_BUFFER", "BYTEARRAY8"}


def load_pickle(stream: io.BytesIO, storage_id: Callable[[Any], StorageRef]) -> Any:
    """Unpickle the next pickle in ``stream`` after checking its opcodes are complete."""
    start = stream.tell()
    for opcode, _, _ in pickletools.genops(stream):  # stops after STOP
        if opcode.name in _REFUSED_OPCODES:
            raise WeightsError(f"refusing pickle opcode {opcode.name}")
    stream.seek(start)
    return RestrictedUnpickler(stream, storage_id).load()


def storage_ids(legacy: bool) -> Callable[[Any], StorageRef]:
    """A ``persistent_load`` for one file: checks each id, one StorageRef per key.

    zip: ("storage", type, key, location, numel); legacy: the same plus ``view_metadata``,
    always None since PyTorch 0.4 (storage views were removed).
    """
    seen: dict[str, StorageRef] = {}

    def storage_id(pid: Any) -> StorageRef:
        fields = 6 if legacy else 5
        if not (isinstance(pid, tuple) and len(pid) == fields and pid[0] == "storage"
                and isinstance(pid[1], StorageType) and isinstance(pid[2], str)
                and isinstance(pid[3], str) and type(pid[4]) is int and pid[4] >= 0):
            raise WeightsError(f"refusing persistent id {pid!r}: expected ('storage', "
                               f"<Type>Storage, key, location, numel)")
        if legacy and pid[5] is not None:
            raise WeightsError("storage views (PyTorch < 0.4 files) are not supported")
        ref = StorageRef(pid[2], pid[1], pid[4])
        if seen.setdefault(ref.key, ref) != ref:
            raise WeightsError(f"storage {ref.key!r} is declared twice with different types "
                               "or sizes")
        return ref

    return storage_id


def tensors_of(obj: Any) -> dict[str, TensorRef]:
    """The unpickled object as {name: TensorRef}, or an error saying what it is instead."""
    if not isinstance(obj, dict):
        raise WeightsError(f"expected a state dict (names -> tensors), the pickle holds a "
                           f"{type(obj).__name__}")
    for name, value in obj.items():
        if not isinstance(name, str):
            raise WeightsError(f"expected string keys, found {name!r}")
        if not isinstance(value, TensorRef):
            raise WeightsError(f"entry {name!r} is a {type(value).__name__}, not a tensor: "
                               "load_weights reads state dicts (save model.state_dict(), or "
                               "the dict of tensors inside a checkpoint)")
    return dict(obj)


def _contiguous(t: TensorRef) -> bool:
    expected = 1
    for n, s in zip(reversed(t.size), reversed(t.stride), strict=True):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def check_layout(tensors: dict[str, TensorRef], stored_bytes: dict[str, int],
                 file_bytes: int) -> None:
    """Every tensor inside its storage, every storage as long as the file says, and the
    arrays to build bounded by the file size: all before a single array is allocated.

    ``stored_bytes``: key -> bytes that storage really has in the file.
    """
    total = 0
    for name, t in tensors.items():
        ref = t.storage
        have = stored_bytes.get(ref.key)
        if have is None:
            raise WeightsError(f"tensor {name!r}: its storage {ref.key!r} is missing")
        if have != ref.nbytes:
            raise WeightsError(f"storage {ref.key!r} ({ref.type.name}) should hold "
                               f"{ref.numel:,} elements = {ref.nbytes:,} bytes, the file has "
                               f"{have:,}")
        last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride, strict=True))
        if t.numel and last >= ref.numel or not t.numel and t.offset > ref.numel:
            raise WeightsError(f"tensor {name!r} of size {t.size}, stride {t.stride}, offset "
                               f"{t.offset} reaches element {last:,} of a storage of "
                               f"{ref.numel:,}")
        if t.numel > ref.numel:  # stride 0 repeats elements: refused, memory stays bounded
            raise WeightsError(f"tensor {name!r} has {t.numel:,} elements but its storage "
                               f"only {ref.numel:,} (zero strides are not supported)")
        total += t.numel * ref.type.output_itemsize
    if total > MAX_OUTPUT_PER_FILE_BYTE * file_bytes + (1 << 20):
        raise WeightsError(f"the tensors would take {total:,} bytes, more than "
                           f"{MAX_OUTPUT_PER_FILE_BYTE}x the file's {file_bytes:,}")


def build_arrays(tensors: dict[str, TensorRef], raw: dict[str, Any],
                 byteorder: str) -> dict[str, Any]:
    """NumPy arrays in native byte order (bfloat16 as float32, every other type as stored)
    from the storages' bytes ``raw`` (key -> uint8 array), after ``check_layout``.

    A tensor that is the whole of a storage nobody else uses becomes a view of its bytes (no
    copy: AlexNet's 244 MB load in 244 MB); any other tensor is copied out.
    """
    users: dict[str, int] = {}
    for t in tensors.values():
        users[t.storage.key] = users.get(t.storage.key, 0) + 1
    out = {}
    for name, t in tensors.items():
        ref = t.storage
        flat = raw[ref.key].view(ref.type.dtype(byteorder))
        whole = (users[ref.key] == 1 and t.offset == 0 and t.numel == ref.numel
                 and _contiguous(t))
        if whole:
            array = flat.reshape(t.size)
        else:
            item = flat.itemsize
            array = numpy.lib.stride_tricks.as_strided(
                flat[t.offset:], shape=t.size, strides=tuple(s * item for s in t.stride),
                writeable=False).copy()
        array = native(array)
        if ref.type.code == "bf16":
            array = bfloat16_to_float32(array)
        elif ref.type.code == "bool":
            array = array != 0
        out[name] = array
    return out
