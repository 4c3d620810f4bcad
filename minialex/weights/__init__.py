"""Named arrays from weight files, in pure NumPy: ``load_weights(path) -> {name: array}``.

Formats, recognised by their first bytes (never by the file name):

* PyTorch zip checkpoints (what ``torch.save`` writes since 1.6, e.g. torchvision's
  ``alexnet-owt-7be5be79.pth``) and the legacy format (``_use_new_zipfile_serialization=False``
  and files from PyTorch < 1.6): ``torch_file``. The pickle inside goes through a restricted
  unpickler (``torch_pickle``) that knows only tensors, storages and ``OrderedDict``:
  anything else is refused before it can run. PyTorch is never imported.
* ``.safetensors``: ``safetensors_file``, read from the documented layout.
* ``.npz``: ``npz_file``, through NumPy with ``allow_pickle=False``.

Every reader checks sizes against the bytes present before allocating, so a truncated,
corrupt or hostile file raises ``WeightsError`` (a ``ValueError``) naming the file, and
never costs much more memory than the file's size. Arrays come back in the machine's byte
order with the stored dtype, except bfloat16 (no NumPy type), which becomes float32.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

from minialex.weights.common import WeightsError
from minialex.weights.npz_file import looks_like_npz, read_npz
from minialex.weights.safetensors_file import looks_like_safetensors, read_safetensors
from minialex.weights.torch_file import read_torch_legacy, read_torch_zip

__all__ = ["load_weights", "detect_format", "WeightsError", "FORMATS"]

FORMATS = {
    "torch-zip": ("PyTorch zip checkpoint", read_torch_zip),
    "torch-legacy": ("PyTorch legacy checkpoint", read_torch_legacy),
    "safetensors": ("safetensors file", read_safetensors),
    "npz": ("NumPy .npz archive", read_npz),
}


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a weights file from its first bytes: a key of ``FORMATS``.

    Raises WeightsError naming the file when it is none of them.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(512)
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            try:
                with zipfile.ZipFile(f) as zf:
                    names = zf.namelist()
            except Exception as exc:  # zipfile reports damage with several error types
                raise WeightsError(f"{path}: a damaged zip file ({type(exc).__name__}: "
                                   f"{exc})") from None
            return "npz" if looks_like_npz(names) else "torch-zip"
    if head[:1] == b"\x80":  # pickle's PROTO opcode: the legacy format starts with a pickle
        return "torch-legacy"
    if looks_like_safetensors(head):
        return "safetensors"
    if len(head) > 262 and head[257:262] == b"ustar":
        raise WeightsError(f"{path}: a tar archive: PyTorch's pre-2017 tar format is not "
                           "supported; load it with PyTorch and save it again")
    raise WeightsError(f"{path}: not a weights file this reader knows (PyTorch .pth zip or "
                       f"legacy, .safetensors, .npz); it starts with {head[:16]!r}")


def load_weights(path: str | os.PathLike[str]) -> dict[str, Any]:
    """{name: numpy array} from a PyTorch checkpoint, .safetensors or .npz file.

    Names are kept as stored (torchvision's ``features.0.weight`` ...); for loading them
    into a model see ``minialex.models.alexnet(..., weights=path)``. Raises
    FileNotFoundError for a missing file and WeightsError for anything wrong inside it.
    """
    path = os.fspath(path)
    fmt = detect_format(path)
    what, reader = FORMATS[fmt]
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            return reader(f, size)
        except WeightsError as exc:
            raise WeightsError(f"{path}: {what}: {exc}") from None
        except MemoryError:
            raise
        except Exception as exc:  # a damaged file surfaces as many error types
            raise WeightsError(f"{path}: {what} is truncated or corrupt "
                               f"({type(exc).__name__}: {exc})") from None
