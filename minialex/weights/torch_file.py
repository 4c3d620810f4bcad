"""PyTorch's two ``torch.save`` containers around the pickle of ``torch_pickle``.

zip (the default since PyTorch 1.6): one folder (``archive/`` or the file's stem) holding
``data.pkl`` (the pickle), ``data/<key>`` (each storage's raw bytes, stored uncompressed),
``byteorder`` ("little" or "big"; absent in files older than PyTorch 1.12: little),
``version`` (the archive format, "3" today) and, in newer files, ``.format_version``,
``.storage_alignment`` and ``.data/serialization_id``, which a reader may ignore.

legacy (``torch.save(..., _use_new_zipfile_serialization=False)``, and files from
PyTorch < 1.6): five pickles in a row, then the raw storages::

    magic number 0x1950a86a20f9469cfc6c | protocol 1001 | sys info {"little_endian": ...}
    | the state dict (storages as persistent ids) | the list of storage keys
    | for each key, in that order: numel (int64, little-endian) and numel elements

The storages of a legacy file are little-endian whatever machine wrote them (torch converts
on write). PyTorch < 0.2 also wrote a tar format; it is refused with a message.
"""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any, BinaryIO

from minialex.weights.common import MAX_PICKLE_BYTES, WeightsError, read_bytes_into_array
from minialex.weights.torch_pickle import (
    build_arrays,
    check_layout,
    load_pickle,
    storage_ids,
    tensors_of,
)

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_ZIP_FORMAT = 3  # the "version" record: PyTorch 2.x writes 3


def _zip_folder(names: list[str]) -> str:
    """The folder that holds ``data.pkl`` ("archive/", or the stem of the saved file)."""
    found = [n[:-len("data.pkl")] for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(found) != 1:
        if any(n.endswith("constants.pkl") for n in names):
            raise WeightsError("this is a TorchScript archive (torch.jit.save), not a state "
                               "dict; save model.state_dict() with torch.save instead")
        raise WeightsError(f"a zip file, but not a PyTorch checkpoint: expected one "
                           f"<folder>/data.pkl, found {len(found)}")
    return found[0]


def _small_record(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = 64) -> bytes:
    if info.file_size > limit:
        raise WeightsError(f"record {info.filename} has {info.file_size:,} bytes, expected a "
                           "few")
    return zf.read(info)


def read_torch_zip(f: BinaryIO, file_bytes: int) -> dict[str, Any]:
    """The state dict of a zip checkpoint as {name: array}."""
    with zipfile.ZipFile(f) as zf:
        infos = {info.filename: info for info in zf.infolist()}
        if len(infos) != len(zf.infolist()):
            raise WeightsError("the zip file has two records with the same name")
        folder = _zip_folder(list(infos))
        for name in (f"{folder}version", f"{folder}.data/version"):
            if name in infos:
                text = _small_record(zf, infos[name]).decode("ascii").strip()
                if not text.isdigit() or not 1 <= int(text) <= MAX_ZIP_FORMAT:
                    raise WeightsError(f"archive format version {text!r}; this reader knows "
                                       f"versions 1 to {MAX_ZIP_FORMAT}")
        byteorder = "<"
        if f"{folder}byteorder" in infos:
            text = _small_record(zf, infos[f"{folder}byteorder"]).decode("ascii")
            if text not in ("little", "big"):
                raise WeightsError(f"byteorder record says {text!r}, expected little or big")
            byteorder = "<" if text == "little" else ">"
        pkl = infos[f"{folder}data.pkl"]
        if pkl.file_size > MAX_PICKLE_BYTES:
            raise WeightsError(f"data.pkl has {pkl.file_size:,} bytes, more than the "
                               f"{MAX_PICKLE_BYTES:,} a state dict's description needs")
        pickled = zf.read(pkl)
        tensors = tensors_of(load_pickle(io.BytesIO(pickled), storage_ids(False)))

        records: dict[str, zipfile.ZipInfo] = {}
        for t in tensors.values():
            info = infos.get(f"{folder}data/{t.storage.key}")
            if info is None:
                continue  # check_layout reports the missing storage
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > file_bytes:
                raise WeightsError(f"record {info.filename} is compressed or larger than the "
                                   "file; torch stores storages uncompressed")
            records[t.storage.key] = info
        check_layout(tensors, {k: info.file_size for k, info in records.items()}, file_bytes)
        raw = {}
        for key, info in records.items():
            with zf.open(info) as member:  # checks the CRC-32 when the last byte is read
                raw[key] = read_bytes_into_array(member, info.file_size, f"record {key}")
    return build_arrays(tensors, raw, byteorder)


def read_torch_legacy(f: BinaryIO, file_bytes: int) -> dict[str, Any]:
    """The state dict of a legacy (non-zip) checkpoint as {name: array}."""
    head = io.BytesIO(f.read(min(file_bytes, MAX_PICKLE_BYTES)))

    def next_pickle() -> Any:
        return load_pickle(head, storage_ids(True))

    if next_pickle() != LEGACY_MAGIC:
        raise WeightsError("a pickle, but not a PyTorch checkpoint (no torch.save magic "
                           "number)")
    protocol = next_pickle()
    if protocol != LEGACY_PROTOCOL:
        raise WeightsError(f"legacy protocol {protocol!r}, expected {LEGACY_PROTOCOL}")
    info = next_pickle()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise WeightsError(f"system info {info!r}: only files written on little-endian "
                           "machines are supported")
    tensors = tensors_of(next_pickle())
    keys = next_pickle()
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)
            and len(set(keys)) == len(keys)):
        raise WeightsError("the list of storage keys after the state dict is malformed")

    # Walk the storage headers (8 bytes each) before reading any data.
    declared = {t.storage.key: t.storage for t in tensors.values()}
    offsets, stored, pos = {}, {}, head.tell()
    for key in keys:
        if key not in declared:
            raise WeightsError(f"storage key {key!r} is listed but used by no tensor")
        f.seek(pos)
        header = f.read(8)
        if len(header) != 8:
            raise WeightsError(f"storage {key!r}: its header is missing (the file is "
                               "truncated)")
        (numel,) = struct.unpack("<q", header)
        nbytes = numel * declared[key].type.itemsize
        if numel < 0 or pos + 8 + nbytes > file_bytes:
            raise WeightsError(f"storage {key!r} claims {numel:,} elements, more than the "
                               f"{file_bytes - pos - 8:,} bytes left in the file (truncated?)")
        offsets[key], stored[key], pos = pos + 8, nbytes, pos + 8 + nbytes
    check_layout(tensors, stored, file_bytes)
    raw = {}
    for key, offset in offsets.items():
        f.seek(offset)
        raw[key] = read_bytes_into_array(f, stored[key], f"storage {key}")
    return build_arrays(tensors, raw, "<")
