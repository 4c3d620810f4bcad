"""CIFAR-10 from its two standard on-disk formats, without ever running code from a file.

* python format (``cifar-10-batches-py``): ``data_batch_1`` .. ``data_batch_5`` and
  ``test_batch``, each a pickled dict ``{"batch_label", "labels", "data", "filenames"}`` with
  ``data`` a (10000, 3072) uint8 NumPy array. Unpickling can call any importable function
  (that is how pickle rebuilds objects), so a crafted file could run arbitrary code.
  ``_RestrictedUnpickler`` therefore refuses every global except the three NumPy needs to
  rebuild an array, and the result is then checked to be exactly the expected dict.
* binary format (``cifar-10-batches-bin``): ``data_batch_N.bin`` / ``test_batch.bin``, a
  sequence of 3073-byte records: one label byte, then 1024 red, 1024 green, 1024 blue bytes.
  No pickle at all; prefer it for files of unknown origin.
"""

from __future__ import annotations

import io
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


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The globals a pickled ndarray refers to, taken from the running NumPy itself.

    ``ndarray.__reduce__`` names ``numpy.core.multiarray._reconstruct`` (NumPy 1.x, and in
    files written by it, such as the CIFAR batches) or ``numpy._core.multiarray._reconstruct``
    (NumPy 2); the dtype is rebuilt by ``numpy.dtype``.
    """
    reconstruct = np.empty(0).__reduce__()[0]
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a function or class outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only NumPy's array-rebuilding globals; anything else is refused unrun."""

    allowed = _numpy_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise RefusedGlobal(
                f"refusing to load global {module}.{name}: a CIFAR batch contains only a dict "
                "of bytes, strings, lists and a NumPy array") from None


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
        batch = _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except RefusedGlobal as exc:
        raise ValueError(f"CIFAR-10: {path} is not a valid batch file: {exc}") from None
    except Exception as exc:  # truncated or garbled data surfaces as many error types
        raise ValueError(f"CIFAR-10: {path} is truncated or corrupt "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"CIFAR-10: {path} should hold a dict, got {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        got = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
               else type(data).__name__)
        raise ValueError(f"CIFAR-10: {path}: 'data' should be a uint8 array (N, 3072), got {got}")
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


def _find_batches(root: str, fmt: str) -> tuple[str, str]:
    """(folder, format) holding the batch files, looking in root and the usual sub-folders."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"CIFAR-10: data folder {root} does not exist "
                                f"(download from {_DOWNLOAD} and extract it there)")
    candidates = {"python": ["cifar-10-batches-py", "."], "binary": ["cifar-10-batches-bin", "."]}
    formats = ["python", "binary"] if fmt == "auto" else [fmt]
    for f in formats:
        probe = "data_batch_1" + (".bin" if f == "binary" else "")
        for sub in candidates[f]:
            folder = os.path.normpath(os.path.join(root, sub))
            if os.path.isfile(os.path.join(folder, probe)):
                return folder, f
    if fmt == "auto":
        fmt = "python"  # report the usual layout
    folder = os.path.join(root, candidates[fmt][0])
    probe = "data_batch_1" + (".bin" if fmt == "binary" else "")
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
        folder, fmt = _find_batches(os.fspath(root), fmt)
        names = TRAIN_FILES if train else TEST_FILES
        load = _load_python_batch if fmt == "python" else _load_binary_batch
        suffix = ".bin" if fmt == "binary" else ""
        parts = [load(os.path.join(folder, name + suffix)) for name in names]
        super().__init__(np.concatenate([p[0] for p in parts]),
                         np.concatenate([p[1] for p in parts]), classes=CLASSES)
        self.root, self.train, self.format = folder, train, fmt
