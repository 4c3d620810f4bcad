"""``.safetensors`` files, read from the documented layout with the standard library.

Layout (https://github.com/huggingface/safetensors, "Format")::

    8 bytes: N, unsigned little-endian | N bytes: a JSON object | the data buffer

The JSON maps each tensor name to ``{"dtype": "F32", "shape": [..], "data_offsets": [b, e]}``
(offsets into the data buffer, little-endian, C order) and may hold ``"__metadata__"``, a
str -> str map. The tensors must cover the buffer exactly, without holes or overlaps.

Why not the ``safetensors`` package: the format is this simple, reading it here adds no
dependency, and every size is checked against the file's real length before anything is
allocated. The tests use the package, when it is installed, as an independent writer.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from minialex.weights.common import (
    WeightsError,
    bfloat16_to_float32,
    is_shape,
    nbytes_of,
    read_bytes_into_array,
)

MAX_HEADER_BYTES = 100_000_000  # the limit the reference implementation enforces
# safetensors dtype -> NumPy ("BF16" is read as uint16 bit patterns, returned as float32)
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
          "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
          "BOOL": "u1"}
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
             "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}


def looks_like_safetensors(head: bytes) -> bool:
    """First bytes: a plausible header length, then the JSON object's opening brace."""
    return len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] >= 2


def _header(f: BinaryIO, file_bytes: int) -> tuple[dict[str, Any], int]:
    (n,) = struct.unpack("<Q", f.read(8))
    if n > min(MAX_HEADER_BYTES, file_bytes - 8):
        raise WeightsError(f"header length {n:,} is more than the file's {file_bytes - 8:,} "
                           f"remaining bytes (or the {MAX_HEADER_BYTES:,} allowed)")
    text = f.read(n)
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WeightsError(f"the JSON header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise WeightsError("the JSON header is not an object")
    meta = header.pop("__metadata__", {})
    if not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise WeightsError("__metadata__ must map strings to strings")
    return header, 8 + n


def read_safetensors(f: BinaryIO, file_bytes: int) -> dict[str, Any]:
    """{name: array} from a .safetensors file (bfloat16 as float32)."""
    header, start = _header(f, file_bytes)
    buffer_bytes = file_bytes - start
    entries = []
    for name, entry in header.items():
        if not (isinstance(entry, dict)
                and set(entry) == {"dtype", "shape", "data_offsets"}):
            raise WeightsError(f"tensor {name!r}: expected dtype, shape and data_offsets, got "
                               f"{entry!r}"[:300])
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise WeightsError(f"tensor {name!r}: dtype {dtype!r} is not supported (supported: "
                               f"{', '.join(DTYPES)})")
        if not (is_shape(shape) and is_shape(offsets) and len(offsets) == 2):
            raise WeightsError(f"tensor {name!r}: shape {shape!r} or data_offsets {offsets!r} "
                               "are not non-negative integers")
        begin, end = offsets
        if end - begin != nbytes_of(tuple(shape), _ITEMSIZE[dtype]):
            raise WeightsError(f"tensor {name!r}: {dtype} {tuple(shape)} needs "
                               f"{nbytes_of(tuple(shape), _ITEMSIZE[dtype]):,} bytes, its "
                               f"offsets {begin}..{end} give {end - begin:,}")
        entries.append((begin, end, name, dtype, tuple(shape)))
    # The tensors must tile the buffer: each starts where the previous one ended.
    pos = 0
    for begin, end, name, *_ in sorted(entries):
        if begin != pos:
            raise WeightsError(f"tensor {name!r} starts at byte {begin:,} of the data buffer, "
                               f"expected {pos:,} (holes or overlaps)")
        pos = end
    if pos != buffer_bytes:
        raise WeightsError(f"the tensors cover {pos:,} bytes of a {buffer_bytes:,}-byte data "
                           "buffer (the file is truncated or has extra bytes)")
    out = {}
    for begin, end, name, dtype, shape in entries:  # in the header's order
        f.seek(start + begin)
        array = read_bytes_into_array(f, end - begin, f"tensor {name!r}")
        array = array.view(DTYPES[dtype]).reshape(shape)
        if dtype == "BF16":
            array = bfloat16_to_float32(array)
        elif dtype == "BOOL":
            array = array != 0
        out[name] = array.astype(array.dtype.newbyteorder("="), copy=False)
    return out
