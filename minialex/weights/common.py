"""What the readers in ``minialex.weights`` share: the error type, size limits, exact reads.

Every reader checks sizes against the bytes really present in the file before it allocates
anything, so a hostile or damaged file costs at most about its own size in memory.
"""

from __future__ import annotations

import math
from typing import Any, BinaryIO

from minialex.backend import numpy

# The pickle inside a checkpoint only describes the tensors (AlexNet's is about 2 KB); a
# larger one is refused before it is read, since unpickling can multiply its size in memory.
MAX_PICKLE_BYTES = 64 << 20
# The arrays one file may produce, in bytes per byte of the file: bfloat16 and float16 grow
# to float32 (2x) and a storage may be shared by two tensors (2x more). Tensors that are
# views of one storage are copied apart, so without a limit a few bytes of pickle could ask
# for terabytes.
MAX_OUTPUT_PER_FILE_BYTE = 4
_CHUNK = 1 << 20


class WeightsError(ValueError):
    """A weights file that cannot be read as named arrays: not a known format, truncated,
    corrupt, refused (a pickle that would run code), or not fitting the model it is loaded
    into. The message names the file."""


def nbytes_of(shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes of a C-contiguous array of ``shape``."""
    return math.prod(shape) * itemsize


def is_shape(value: Any) -> bool:
    """A tuple or list of non-negative Python ints (bools are not sizes)."""
    return isinstance(value, (tuple, list)) and all(type(n) is int and n >= 0 for n in value)


def read_bytes_into_array(f: BinaryIO, nbytes: int, what: str) -> Any:
    """Exactly ``nbytes`` from ``f`` as a fresh uint8 array, read in 1 MiB chunks.

    The caller has checked that the file holds that many bytes; a short read still raises
    (a file that changed, a zip member whose data ends early) instead of returning garbage.
    """
    out = numpy.empty(nbytes, dtype=numpy.uint8)
    view = memoryview(out)
    pos = 0
    while pos < nbytes:
        got = f.readinto(view[pos:pos + _CHUNK])
        if not got:
            raise WeightsError(f"{what} ends after {pos:,} of its {nbytes:,} bytes "
                               "(the file is truncated)")
        pos += got
    return out


def bfloat16_to_float32(bits: Any) -> Any:
    """bfloat16 values given as their uint16 bit patterns -> float32, exactly.

    bfloat16 is the top half of a float32 (same sign and exponent, 7 mantissa bits), and
    NumPy has no bfloat16 type: shifting the bits up by 16 gives the same number as float32.
    """
    return (bits.astype(numpy.uint32) << numpy.uint32(16)).view(numpy.float32)


def native(array: Any) -> Any:
    """``array`` in the machine's byte order (a copy only when it was not)."""
    if array.dtype.byteorder in ("=", "|") or array.dtype.isnative:
        return array
    return array.astype(array.dtype.newbyteorder("="))
