"""Reading ``.npz`` archives with bounded memory and no surprises: every header first, then data.

``numpy.load`` decompresses an array before anything can look at its size, parses each ``.npy``
header with Python's tokenizer (a one-byte change raises tokenize or syntax errors), and
allocates whatever shape a header claims. Here an archive is read in two steps:

1. ``list_arrays(path)`` reads only the zip directory and each member's ``.npy`` header, with a
   strict parser for the exact form NumPy writes (``{'descr': '<f4', 'fortran_order': False,
   'shape': (3, 4), }``). It checks that the size the zip directory declares for the member is
   exactly the header plus shape x itemsize, and returns those facts without decompressing data.
2. the caller compares the shapes and total size with what it expects (a model's parameters, a
   memory budget) and only then calls ``read_array``, which reads exactly the declared bytes
   (the zip reader stops there and checks the CRC).

Only plain numeric dtypes (bool, integers, floats) and unicode strings are accepted; an object
array (pickled Python objects) is refused unread. Every problem is an ``NpzError`` naming the
file and the member.
"""

from __future__ import annotations

import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from minialex import backend

__all__ = ["NpzError", "ArrayInfo", "list_arrays", "read_array"]

np = backend.np

_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 1 << 16  # NumPy writes headers of a few hundred bytes
# The one header layout NumPy writes (keys sorted, repr of each value, padding, newline).
_HEADER = re.compile(r"\{'descr': '([<>|=]?[a-zA-Z]\d*)', 'fortran_order': (True|False), "
                     r"'shape': \(((?:\d+, )*(?:\d+,?)?)\), \} *\n")
_KINDS = "biufU"  # bool, signed and unsigned ints, floats, unicode text


class NpzError(ValueError):
    """An .npz archive (or one member of it) that is corrupt, hostile or not plain arrays."""


@dataclass(frozen=True)
class ArrayInfo:
    """One member of an archive, from its header: nothing of the data has been read."""

    name: str  # the array's name (the member name without ".npy")
    member: zipfile.ZipInfo
    dtype: Any
    shape: tuple[int, ...]
    fortran_order: bool
    offset: int  # bytes of .npy header before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _parse_header(path: str, name: str, f: Any) -> tuple[Any, tuple[int, ...], bool, int]:
    """(dtype, shape, fortran_order, header length) from the start of a member's stream."""
    start = f.read(len(_MAGIC) + 2)
    if start[:len(_MAGIC)] != _MAGIC:
        raise NpzError(f"{path}: member {name!r} is not a .npy array (bad magic bytes)")
    major = start[len(_MAGIC)]
    if major not in (1, 2, 3):
        raise NpzError(f"{path}: member {name!r} has unknown .npy format version {major}")
    size_bytes = 2 if major == 1 else 4
    length = int.from_bytes(f.read(size_bytes), "little")
    if length > _MAX_HEADER:
        raise NpzError(f"{path}: member {name!r} claims a {length:,}-byte header")
    raw = f.read(length)
    try:
        text = raw.decode("latin1" if major < 3 else "utf-8")
    except UnicodeDecodeError:
        text = ""
    match = _HEADER.fullmatch(text)
    if len(raw) != length or match is None:
        raise NpzError(f"{path}: member {name!r} has a corrupt .npy header {raw[:80]!r}")
    descr, fortran, dims = match.groups()
    try:
        dtype = np.dtype(descr)
    except TypeError:
        raise NpzError(f"{path}: member {name!r} has unknown dtype {descr!r}") from None
    if dtype.hasobject:
        raise NpzError(f"{path} holds pickled Python objects (member {name!r}), which are "
                       "never read: loading them could run code")
    if dtype.kind not in _KINDS or dtype.itemsize == 0:
        raise NpzError(f"{path}: member {name!r} has dtype {descr!r}: only plain bool, "
                       "integer, float and text arrays are read (never pickled objects)")
    shape = tuple(int(d) for d in dims.replace(",", " ").split())
    return dtype, shape, fortran == "True", len(_MAGIC) + 2 + size_bytes + length


def list_arrays(path: str) -> dict[str, ArrayInfo]:
    """Name -> ArrayInfo for every member of the archive at ``path``, from the headers alone.

    Raises NpzError for anything but a zip of well-formed ``.npy`` members whose declared
    sizes agree with their headers.
    """
    if not zipfile.is_zipfile(path):
        raise NpzError(f"{path} is not an .npz archive (truncated, corrupt or another kind "
                       "of file)")
    out: dict[str, ArrayInfo] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.infolist():
                if not member.filename.endswith(".npy"):
                    raise NpzError(f"{path}: member {member.filename!r} is not a .npy array")
                name = member.filename[:-len(".npy")]
                if name in out:
                    raise NpzError(f"{path}: member {member.filename!r} appears twice")
                with zf.open(member) as f:
                    dtype, shape, fortran, offset = _parse_header(path, member.filename, f)
                info = ArrayInfo(name, member, dtype, shape, fortran, offset)
                if member.file_size != offset + info.nbytes:
                    raise NpzError(f"{path}: member {member.filename!r} declares "
                                   f"{member.file_size:,} bytes, but its header says "
                                   f"{shape} of {dtype} ({offset + info.nbytes:,} bytes)")
                out[name] = info
    except NpzError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError) as exc:  # unsupported compression, encryption
        raise NpzError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc})") from None
    return out


def read_array(path: str, info: ArrayInfo) -> Any:
    """The data of one member (listed by ``list_arrays``) as a fresh, writable array."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open(info.member) as f:
            f.read(info.offset)
            buffer = bytearray(info.nbytes)
            got = f.readinto(memoryview(buffer)) if info.nbytes else 0
            while got < info.nbytes:  # readinto may return short reads of a stream
                more = f.readinto(memoryview(buffer)[got:])
                if not more:
                    break
                got += more
            if got != info.nbytes or f.read(1):
                raise NpzError(f"{path}: member {info.member.filename!r} holds {got:,} bytes "
                               f"of data, its header says {info.nbytes:,}")
    except NpzError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        raise NpzError(f"{path}: member {info.member.filename!r} is truncated or corrupt "
                       f"({type(exc).__name__}: {exc})") from None
    flat = np.frombuffer(buffer, dtype=info.dtype)
    return flat.reshape(info.shape, order="F" if info.fortran_order else "C")
