"""DataLoader: batches from a dataset, shuffled reproducibly, transformed, moved to a device."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from minialex import backend
from minialex.data.dataset import Dataset
from minialex.functional._checks import check_positive_int
from minialex.tensor import Tensor

np = backend.np


class DataLoader:
    """Iterate over ``dataset`` in batches of (images Tensor (B, C, H, W), labels Tensor (B,)).

    Both are on ``device`` ("cpu" or "gpu"); images float32, labels int64.

    Reproducibility: epoch ``e`` uses the generator ``default_rng([seed, e])`` for both the
    shuffle order and the random transforms, so an epoch's batches depend only on
    ``(seed, e)``, not on what ran before. ``epoch`` counts the passes made so far (each
    ``iter()`` uses it and then increments it); ``fit`` sets it explicitly, which is what makes
    a resumed run see exactly the batches an uninterrupted run would.

    transform: called on the host batch as ``transform(images, rng)`` (see
    ``minialex.data.transforms``). drop_last: skip a final incomplete batch.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 128, shuffle: bool = False,
                 seed: int = 0, drop_last: bool = False,
                 transform: Callable[[Any, Any], Any] | None = None,
                 device: str = "cpu") -> None:
        batch_size = check_positive_int("DataLoader", "batch_size", batch_size)
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        if device not in ("cpu", "gpu"):
            raise ValueError(f"DataLoader: device must be 'cpu' or 'gpu', got {device!r}")
        if device == "gpu":
            backend.require_cupy()
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.transform = transform
        self.device = device
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use epoch ``epoch``'s order and augmentation."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        n = len(self.dataset)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            images, labels = self.dataset.get_batch(idx)
            if self.transform is not None:
                images = self.transform(images, rng)
            images = np.ascontiguousarray(images, dtype=np.float32)
            yield (Tensor(backend.to_device(images, self.device)),
                   Tensor(backend.to_device(np.asarray(labels, dtype=np.int64), self.device)))

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, "
                f"transform={self.transform!r}, device={self.device!r})")
