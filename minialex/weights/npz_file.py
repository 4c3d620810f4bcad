"""``.npz`` files: a zip of ``.npy`` arrays, read by NumPy with ``allow_pickle=False``.

Every member's ``.npy`` header is checked first: a plain numeric dtype (never an object
array, whose elements would be pickles), and exactly as many bytes as the shape needs. A
compressed member may not claim more than deflate can expand to (about 1032:1), so a small
file cannot make NumPy allocate an array far larger than its data.
"""

from __future__ import annotations

import zipfile
from typing import Any, BinaryIO

from minialex.backend import numpy
from minialex.weights.common import WeightsError, native, nbytes_of

MAX_DEFLATE_RATIO = 1100  # deflate's own limit is 1032:1


def _check_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, file_bytes: int) -> None:
    fmt = numpy.lib.format
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size > file_bytes:
            raise WeightsError(f"member {info.filename} claims {info.file_size:,} bytes, more "
                               "than the whole file")
    elif info.compress_type != zipfile.ZIP_DEFLATED \
            or info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 4096:
        raise WeightsError(f"member {info.filename}: unsupported compression, or it claims "
                           f"{info.file_size:,} bytes from {info.compress_size:,} compressed")
    with zf.open(info) as member:
        version = fmt.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(member)
        else:
            raise WeightsError(f"member {info.filename}: .npy format version {version} is not "
                               "supported")
        header_bytes = member.tell()
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufc":
        raise WeightsError(f"member {info.filename}: dtype {dtype} is not a plain number type "
                           "(object arrays would need pickle)")
    need = header_bytes + nbytes_of(shape, dtype.itemsize)
    if need != info.file_size:
        raise WeightsError(f"member {info.filename}: {dtype} {shape} needs {need:,} bytes, the "
                           f"member has {info.file_size:,}")


def looks_like_npz(names: list[str]) -> bool:
    return bool(names) and all(n.endswith(".npy") for n in names)


def read_npz(f: BinaryIO, file_bytes: int) -> dict[str, Any]:
    """{name: array} from an .npz file (the member names without ".npy")."""
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise WeightsError("the zip file has two members with the same name")
        if not looks_like_npz(names):
            raise WeightsError("a zip file, but neither a PyTorch checkpoint nor an .npz (it "
                               "has members that are not .npy arrays)")
        for info in infos:
            _check_member(zf, info, file_bytes)
        out = {}
        for info in infos:
            with zf.open(info) as member:
                array = numpy.lib.format.read_array(member, allow_pickle=False)
            out[info.filename[:-4]] = native(array)
    return out
