"""The dataset protocol every loader in minialex.data follows, and an in-memory dataset.

A dataset has a length, a list of class names, and hands out batches as host NumPy arrays:
``get_batch(indices) -> (images (B, C, H, W) float32 in [0, 1], labels (B,) int64)``.
``DataLoader`` asks for whole batches at once so that datasets can vectorise (decode, convert
and index many images in one NumPy call) instead of stacking images one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minialex import backend

np = backend.np


def to_unit_float(images: Any) -> Any:
    """uint8 images (any shape) in [0, 255] as float32 in [0, 1], in one pass.

    Bit for bit ``images.astype(float32) * float32(1 / 255)``, without that intermediate
    float32 copy.
    """
    return np.multiply(images, np.float32(1 / 255), dtype=np.float32)


class Dataset:
    """Base class: subclasses implement ``__len__`` and ``get_batch``; labels are int64
    class indices into ``classes`` (or -1 for unlabelled images)."""

    classes: list[str]

    def __len__(self) -> int:
        raise NotImplementedError

    def get_batch(self, indices: Any) -> tuple[Any, Any]:
        """images (B, C, H, W) float32 in [0, 1] and labels (B,) int64, as host NumPy arrays."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """One example: (image (C, H, W) float32, label int)."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} out of range for {n} images")
        images, labels = self.get_batch(np.array([index % n]))
        return images[0], int(labels[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self[0][0].shape)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} images, {self.num_classes} classes, "
                f"image shape {self.image_shape})")


class ArrayDataset(Dataset):
    """Images and labels held in memory.

    images: (N, C, H, W), float32 in [0, 1] or uint8 in [0, 255] (converted per batch, so a
    uint8 dataset takes a quarter of the memory); labels: (N,) integers.
    """

    def __init__(self, images: Any, labels: Any, classes: Sequence[str] | None = None) -> None:
        images = np.asarray(images)
        labels = np.asarray(labels, dtype=np.int64)
        if images.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected images (N, C, H, W), "
                             f"got shape {images.shape}")
        if images.dtype not in (np.uint8, np.float32):
            raise TypeError(f"{type(self).__name__}: images must be uint8 or float32, "
                            f"got {images.dtype}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"{type(self).__name__}: expected {images.shape[0]} labels, "
                             f"got shape {labels.shape}")
        self.images = images
        self.labels = labels
        if classes is None:
            count = int(labels.max()) + 1 if labels.size else 0
            classes = [str(i) for i in range(count)]
        self.classes = list(classes)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def get_batch(self, indices: Any) -> tuple[Any, Any]:
        images = self.images[indices]
        if images.dtype == np.uint8:
            images = to_unit_float(images)
        return images, self.labels[indices]


class Subset(Dataset):
    """The images of ``dataset`` at ``indices`` (in that order), with its classes; nothing is
    copied: batches are read from the underlying dataset."""

    def __init__(self, dataset: Dataset, indices: Any) -> None:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if indices.size and not (0 <= int(indices.min()) and int(indices.max()) < n):
            raise IndexError(f"Subset: indices must be in 0..{n - 1} for {n} images")
        self.dataset, self.indices = dataset, indices
        self.classes = list(dataset.classes)

    def __len__(self) -> int:
        return int(self.indices.size)

    @property
    def labels(self) -> Any:
        return np.asarray(self.dataset.labels)[self.indices]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.dataset.image_shape

    def get_batch(self, indices: Any) -> tuple[Any, Any]:
        return self.dataset.get_batch(self.indices[np.asarray(indices, dtype=np.int64)])


def split_off(dataset: Dataset, fraction: float, seed: int = 0) -> tuple[Subset, Subset]:
    """(rest, held out): ``fraction`` of each class's images, drawn with ``seed``, held out
    (a validation split from the training data); at least one image per class when the class
    has two or more. The split depends only on the labels, the fraction and the seed."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split_off: fraction must be in (0, 1), got {fraction!r}")
    labels = np.asarray(dataset.labels)
    rng = np.random.default_rng([int(seed), 7])  # a stream of its own: not the loader's
    held: list[Any] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(len(members) - 1, max(1, round(fraction * len(members))))
        held.append(members[:count])
    out = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    keep = np.setdiff1d(np.arange(len(dataset)), out)
    return Subset(dataset, keep), Subset(dataset, out)
