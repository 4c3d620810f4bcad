"""Batch transforms (augmentation), applied to whole (N, C, H, W) batches at once.

The paper's two data augmentations (Krizhevsky, Sutskever, Hinton 2012, section 4.1):

1. random 224x224 crops of the 256x256 images and their horizontal reflections, which
   enlarges the training set by a factor of 2048 (32 * 32 positions * 2 flips); at test time
   the prediction is averaged over ten crops: the four corners and the centre, and their
   reflections (``ten_crop``);
2. "PCA colour augmentation": add to every pixel of an image the same RGB offset
   ``[p1 p2 p3] [a1*l1, a2*l2, a3*l3]^T`` where p_i, l_i are the eigenvectors and eigenvalues
   of the 3x3 covariance of RGB values over the training set and a_i ~ N(0, 0.1) is drawn once
   per image (per presentation). It changes intensity and colour of the illumination, to which
   object identity is invariant; the paper reports it cut top-1 error by over 1%.

Every random transform takes ``rng``: a NumPy Generator. The DataLoader passes a generator
derived from (seed, epoch), so an epoch's augmentation is reproducible. Transforms work on
the array module of the batch (host NumPy in the DataLoader) and keep its dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minialex import backend

np = backend.np


def _rng(rng: Any) -> Any:
    return rng if rng is not None else backend.get_rng(like=np.empty(0))


def _check_batch(name: str, images: Any) -> None:
    if images.ndim != 4:
        raise ValueError(f"{name}: expected a batch (N, C, H, W), got shape {images.shape}")


class Transform:
    """A callable ``(images (N, C, H, W), rng=None) -> images``."""

    def __call__(self, images: Any, rng: Any = None) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply transforms in order, sharing one generator."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, images: Any, rng: Any = None) -> Any:
        rng = _rng(rng)
        for t in self.transforms:
            images = t(images, rng)
        return images


def pad(images: Any, padding: int) -> Any:
    """Zero-pad H and W by ``padding`` pixels on every side: (N, C, H+2p, W+2p)."""
    if padding == 0:
        return images
    xp = backend.get_array_module(images)
    return xp.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def crop(images: Any, top: Any, left: Any, size: int) -> Any:
    """Per-image crops: image n cut at rows top[n]:top[n]+size, cols left[n]:left[n]+size.

    One fancy-indexing gather for the whole batch: (N, C, size, size).
    """
    xp = backend.get_array_module(images)
    n, c = images.shape[:2]
    offs = xp.arange(size)
    rows = xp.asarray(top).reshape(n, 1) + offs  # (N, size)
    cols = xp.asarray(left).reshape(n, 1) + offs
    return images[xp.arange(n)[:, None, None, None], xp.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


class RandomCrop(Transform):
    """A random ``size`` x ``size`` window of each image (zero-padded by ``padding`` first).

    The paper cuts 224x224 windows out of 256x256 images (``RandomCrop(224)``); for 32x32
    CIFAR-style images the usual form is ``RandomCrop(32, padding=4)``.
    """

    def __init__(self, size: int, padding: int = 0) -> None:
        if size < 1 or padding < 0:
            raise ValueError(f"RandomCrop: need size >= 1 and padding >= 0, got size={size}, "
                             f"padding={padding}")
        self.size, self.padding = size, padding

    def __call__(self, images: Any, rng: Any = None) -> Any:
        _check_batch("RandomCrop", images)
        rng = _rng(rng)
        images = pad(images, self.padding)
        n, _, h, w = images.shape
        if h < self.size or w < self.size:
            raise ValueError(f"RandomCrop: crop {self.size} larger than the (padded) image "
                             f"{h}x{w}")
        top = rng.integers(0, h - self.size + 1, n)
        left = rng.integers(0, w - self.size + 1, n)
        return crop(images, top, left, self.size)


class CenterCrop(Transform):
    """The central ``size`` x ``size`` window (what a test image gets without 10-crop)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, images: Any, rng: Any = None) -> Any:
        _check_batch("CenterCrop", images)
        h, w = images.shape[2:]
        if h < self.size or w < self.size:
            raise ValueError(f"CenterCrop: crop {self.size} larger than the image {h}x{w}")
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return images[:, :, top:top + self.size, left:left + self.size]


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, images: Any, rng: Any = None) -> Any:
        _check_batch("RandomHorizontalFlip", images)
        xp = backend.get_array_module(images)
        flip = xp.asarray(_rng(rng).random(images.shape[0]) < self.p)
        return xp.where(flip[:, None, None, None], images[..., ::-1], images)


def sample_images(dataset: Any, count: int = 1000, seed: int = 0) -> Any:
    """Up to ``count`` images of ``dataset``, a seeded random choice read in index order.

    Returns (min(count, len(dataset)), C, H, W), for statistics of the training images (mean,
    standard deviation, colour covariance) without reading the whole set.
    """
    pick = np.random.default_rng(seed).permutation(len(dataset))[:count]
    return dataset.get_batch(np.sort(pick))[0]


def pca_color_stats(images: Any, max_pixels: int = 1_000_000, seed: int = 0,
                    max_images: int = 1000) -> tuple[Any, Any]:
    """Eigenvalues (3,) and eigenvectors (3, 3) (columns) of the RGB covariance of ``images``.

    images: (N, 3, H, W) array, or a dataset (up to ``max_images`` random images of it are
    read). Uses at most ``max_pixels`` randomly chosen pixels (the covariance of a 3-vector
    converges long before that). Returned in float64, largest eigenvalue first.
    """
    if hasattr(images, "get_batch"):  # a dataset
        images = sample_images(images, max_images, seed)
    images = backend.to_host(images)
    _check_batch("pca_color_stats", images)
    if images.shape[1] != 3:
        raise ValueError(f"pca_color_stats: expected 3 colour channels, got {images.shape[1]}")
    pixels = images.transpose(1, 0, 2, 3).reshape(3, -1)
    if pixels.shape[1] < 2:
        raise ValueError(f"pca_color_stats: a covariance needs at least 2 pixels, got "
                         f"{images.shape[0]} images of shape {tuple(images.shape[1:])}")
    if pixels.shape[1] > max_pixels:
        pick = np.random.default_rng(seed).choice(pixels.shape[1], max_pixels, replace=False)
        pixels = pixels[:, pick]
    eigvals, eigvecs = np.linalg.eigh(np.cov(pixels.astype(np.float64)))
    order = np.argsort(eigvals)[::-1]
    return np.clip(eigvals[order], 0.0, None), eigvecs[:, order]


class PCAColorAugmentation(Transform):
    """The paper's colour augmentation: image += eigvecs @ (alpha * eigvals), alpha ~ N(0, std).

    eigvals: (3,), eigvecs: (3, 3) with eigenvectors as columns (``pca_color_stats``); the
    paper uses ``std=0.1``. One alpha per image, the same offset for all its pixels.
    """

    def __init__(self, eigvals: Any, eigvecs: Any, std: float = 0.1) -> None:
        self.eigvals = np.asarray(backend.to_host(eigvals), dtype=np.float64).reshape(3)
        self.eigvecs = np.asarray(backend.to_host(eigvecs), dtype=np.float64).reshape(3, 3)
        self.std = std

    def offsets(self, n: int, rng: Any = None) -> Any:
        """The per-image RGB offsets (n, 3) float64 that a call would add."""
        alpha = _rng(rng).normal(0.0, self.std, (n, 3))
        return (alpha * self.eigvals) @ self.eigvecs.T  # row n: sum_i alpha_ni l_i p_i

    def __call__(self, images: Any, rng: Any = None) -> Any:
        _check_batch("PCAColorAugmentation", images)
        if images.shape[1] != 3:
            raise ValueError(f"PCAColorAugmentation: expected 3 colour channels, got "
                             f"{images.shape[1]}")
        xp = backend.get_array_module(images)
        shift = xp.asarray(self.offsets(images.shape[0], rng).astype(images.dtype))
        return images + shift[:, :, None, None]


class Normalize(Transform):
    """(image - mean) / std per channel; mean, std: (C,) sequences."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Normalize: std must be positive, got {self.std}")

    def __call__(self, images: Any, rng: Any = None) -> Any:
        _check_batch("Normalize", images)
        if images.shape[1] != len(self.mean):
            raise ValueError(f"Normalize: {len(self.mean)} channel means for a batch with "
                             f"{images.shape[1]} channels")
        xp = backend.get_array_module(images)
        mean = xp.asarray(self.mean, dtype=images.dtype)[:, None, None]
        std = xp.asarray(self.std, dtype=images.dtype)[:, None, None]
        return (images - mean) / std


def ten_crop(images: Any, size: int) -> Any:
    """The paper's ten test crops: (10, N, C, size, size).

    Order: top-left, top-right, bottom-left, bottom-right, centre, then the left-right mirror
    image of each of those five, in the same order.
    """
    _check_batch("ten_crop", images)
    xp = backend.get_array_module(images)
    h, w = images.shape[2:]
    if h < size or w < size:
        raise ValueError(f"ten_crop: crop {size} larger than the image {h}x{w}")
    if h == size and w == size:
        raise ValueError(f"ten_crop: crop {size} is the whole {h}x{w} image, so the ten crops "
                         "would be five copies of it and five mirrors; use a smaller crop or "
                         "pad the images first")
    corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size),
               ((h - size) // 2, (w - size) // 2)]
    five = [images[:, :, t:t + size, l:l + size] for t, l in corners]
    return xp.stack(five + [c[..., ::-1] for c in five])
