"""Shapes: a procedurally generated image-classification dataset (no download, no files).

Every image shows one geometric shape (circle, square, triangle, star, cross, ring, hexagon,
crescent) with a random colour, position, scale, aspect ratio and rotation, drawn over a
cluttered background: a colour gradient, distractor lines and soft blobs, and pixel noise.
Shapes are rendered from signed distance functions evaluated on a pixel grid: for every pixel
``d < 0`` inside the shape and ``d > 0`` outside, and ``clip(0.5 - d_pixels, 0, 1)`` gives an
anti-aliased coverage. All of it is vectorised over a whole batch of images, so 10,000 32x32
images take about a second.

The data is a deterministic function of ``(seed, split, image_size)``; the train, test and
val(idation) splits use different random streams. Some classes are close relatives on purpose
(circle / hexagon / ring, star / cross), so a small network needs a few epochs and does not
reach 100% at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from minialex import backend
from minialex.data.dataset import ArrayDataset
from minialex.memory import check_budget

np = backend.np

# Signed distance (approximate, in shape units: the shape's outer radius is about 1) of the
# point (u, v) in the shape's own rotated frame. Negative inside.


def _polygon(u: Any, v: Any, sides: int, inradius: float, phase: float) -> Any:
    """Regular polygon as the intersection of half-planes: max_k(n_k . p) - inradius."""
    d = None
    for k in range(sides):
        a = phase + 2 * math.pi * k / sides
        dk = u * math.cos(a) + v * math.sin(a)
        d = dk if d is None else np.maximum(d, dk)
    return d - inradius


def _circle(u: Any, v: Any) -> Any:
    return np.hypot(u, v) - 1.0


def _square(u: Any, v: Any) -> Any:
    return np.maximum(np.abs(u), np.abs(v)) - 0.8


def _triangle(u: Any, v: Any) -> Any:
    return _polygon(u, v, 3, 0.5, -math.pi / 2)  # circumradius 1


def _hexagon(u: Any, v: Any) -> Any:
    return _polygon(u, v, 6, 0.85, 0.0)


def _star(u: Any, v: Any) -> Any:
    # Five points: the radius goes linearly from 0.45 (between points) to 1 (at a point).
    r = np.hypot(u, v)
    sector = (np.arctan2(v, u) * (5 / (2 * math.pi))) % 1.0
    t = np.abs(sector - 0.5) * 2.0  # 1 at a point, 0 half-way between two points
    return r - (0.45 + 0.55 * t)


def _cross(u: Any, v: Any) -> Any:
    au, av = np.abs(u), np.abs(v)
    return np.minimum(np.maximum(au - 1.0, av - 0.3), np.maximum(au - 0.3, av - 1.0))


def _ring(u: Any, v: Any) -> Any:
    return np.abs(np.hypot(u, v) - 0.72) - 0.22


def _crescent(u: Any, v: Any) -> Any:
    # A disc with an offset disc cut out of it: max(inside outer, outside inner).
    return np.maximum(np.hypot(u, v) - 1.0, 0.85 - np.hypot(u - 0.45, v))


SHAPES: dict[str, Callable[[Any, Any], Any]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "star": _star,
    "cross": _cross,
    "ring": _ring,
    "hexagon": _hexagon,
    "crescent": _crescent,
}
CLASSES: tuple[str, ...] = tuple(SHAPES)
_SPLITS = {"train": 0, "test": 1, "val": 2}
_NUM_LINES = 2
_NUM_BLOBS = 3
_BLOCK = 256
_CONTRAST = 0.5  # least RGB distance between shape and background colour


def _draw_parameters(rng: Any, n: int, num_classes: int, clutter: float, rotation: float
                     ) -> dict[str, Any]:
    """All per-image random choices, drawn up front (so chunking never changes them)."""
    f32 = np.float32
    # Balanced: every run of num_classes images (from the start) holds each class once.
    groups = -(-n // num_classes)
    labels = rng.permuted(np.tile(np.arange(num_classes), (groups, 1)), axis=1).ravel()[:n]
    scale = rng.uniform(0.45, 0.85, n)  # outer radius as a fraction of half the image
    margin = 1.0 - 0.8 * scale
    bg = rng.uniform(0.0, 1.0, (n, 3))
    fg = rng.uniform(0.0, 1.0, (n, 3))
    for _ in range(8):  # redraw foreground colours too close to the background
        bad = np.linalg.norm(fg - bg, axis=1) < _CONTRAST
        if not bad.any():
            break
        fg[bad] = rng.uniform(0.0, 1.0, (int(bad.sum()), 3))
    bad = np.linalg.norm(fg - bg, axis=1) < _CONTRAST
    fg[bad] = (bg[bad] < 0.5).astype(bg.dtype)  # the opposite corner of the RGB cube
    p = {
        "labels": labels.astype(np.int64),
        "scale": scale,
        "aspect": rng.uniform(0.8, 1.25, n),
        "angle": rng.uniform(-1.0, 1.0, n) * math.radians(rotation),
        "cx": rng.uniform(-1.0, 1.0, n) * margin,
        "cy": rng.uniform(-1.0, 1.0, n) * margin,
        "fg": fg,
        "bg": bg,
        "gradient": rng.uniform(-0.2, 0.2, (n, 3)) * clutter,
        "gradient_angle": rng.uniform(0.0, 2 * math.pi, n),
        "noise": rng.uniform(0.02, 0.08, n) * clutter,
        "line_on": rng.random((n, _NUM_LINES)) < 0.6 * clutter,
        "line_angle": rng.uniform(0.0, math.pi, (n, _NUM_LINES)),
        "line_offset": rng.uniform(-0.9, 0.9, (n, _NUM_LINES)),
        "line_width": rng.uniform(0.6, 1.6, (n, _NUM_LINES)),  # in pixels
        "line_colour": rng.uniform(0.0, 1.0, (n, _NUM_LINES, 3)),
        "blob_on": rng.random((n, _NUM_BLOBS)) < 0.5 * clutter,
        "blob_x": rng.uniform(-1.0, 1.0, (n, _NUM_BLOBS)),
        "blob_y": rng.uniform(-1.0, 1.0, (n, _NUM_BLOBS)),
        "blob_radius": rng.uniform(0.05, 0.18, (n, _NUM_BLOBS)),
        "blob_colour": rng.uniform(0.0, 1.0, (n, _NUM_BLOBS, 3)),
    }
    return {k: (v.astype(f32) if v.dtype == np.float64 else v) for k, v in p.items()}


def _over(image: Any, colour: Any, alpha: Any) -> Any:
    """Paint ``colour`` (B, 3) with coverage ``alpha`` (B, H, W) over ``image`` (B, 3, H, W)."""
    a = alpha[:, None]
    return image * (1.0 - a) + colour[:, :, None, None] * a


def _render(p: dict[str, Any], lo: int, hi: int, size: int, names: Sequence[str],
            rng: Any) -> Any:
    """Images lo..hi-1 as (B, 3, size, size) float32."""
    f32 = np.float32
    q = {k: v[lo:hi] for k, v in p.items()}
    b = hi - lo
    pixel = f32(2.0 / size)  # one pixel in grid units ([-1, 1] spans the image)
    coords = ((np.arange(size, dtype=f32) + f32(0.5)) * pixel - f32(1.0))
    x = coords[None, None, :]
    y = coords[None, :, None]

    def col(a: Any) -> Any:  # per-image scalars broadcast against (B, H, W)
        return a[:, None, None]

    # Background: base colour plus a linear gradient in a random direction.
    ramp = np.cos(col(q["gradient_angle"])) * x + np.sin(col(q["gradient_angle"])) * y
    image = q["bg"][:, :, None, None] + q["gradient"][:, :, None, None] * ramp[:, None]

    for k in range(_NUM_BLOBS):  # soft blobs
        r2 = (x - col(q["blob_x"][:, k])) ** 2 + (y - col(q["blob_y"][:, k])) ** 2
        alpha = np.exp(-r2 / (2 * col(q["blob_radius"][:, k]) ** 2)) * col(q["blob_on"][:, k])
        image = _over(image, q["blob_colour"][:, k], f32(0.8) * alpha)
    for k in range(_NUM_LINES):  # thin straight lines
        a = col(q["line_angle"][:, k])
        dist = np.abs(np.cos(a) * x + np.sin(a) * y - col(q["line_offset"][:, k])) / pixel
        alpha = np.clip(f32(0.5) + col(q["line_width"][:, k]) / 2 - dist, 0.0, 1.0)
        image = _over(image, q["line_colour"][:, k], alpha * col(q["line_on"][:, k]))

    # The shape, in its own rotated and stretched frame (u, v), outer radius ~1.
    dx, dy = x - col(q["cx"]), y - col(q["cy"])
    cos, sin = np.cos(col(q["angle"])), np.sin(col(q["angle"]))
    su = col(q["scale"] * q["aspect"])
    sv = col(q["scale"] / q["aspect"])
    u = (cos * dx + sin * dy) / su
    v = (cos * dy - sin * dx) / sv
    sdf = np.empty((b, size, size), dtype=f32)
    for k, name in enumerate(names):
        idx = np.nonzero(q["labels"] == k)[0]
        if idx.size:
            sdf[idx] = SHAPES[name](u[idx], v[idx])
    coverage = np.clip(f32(0.5) - sdf * (col(q["scale"]) / pixel), 0.0, 1.0)
    image = _over(image, q["fg"], coverage)

    image = image + rng.standard_normal(image.shape, dtype=f32) * q["noise"][:, None, None, None]
    return np.clip(image, 0.0, 1.0).astype(f32, copy=False)


def generate_shapes(n: int, image_size: int = 32, seed: int = 0, split: str = "train",
                    classes: Sequence[str] = CLASSES, clutter: float = 0.5,
                    rotation: float = 30.0) -> tuple[Any, Any]:
    """n images (n, 3, S, S) float32 in [0, 1] and labels (n,) int64 (balanced classes).

    clutter: 0 gives plain backgrounds; 1 (up to 2) more lines, blobs, noise and gradient.
    rotation: shapes are turned by up to this many degrees either way (180: any angle).
    """
    if split not in _SPLITS:
        raise ValueError(f"shapes: split must be one of {tuple(_SPLITS)}, got {split!r}")
    unknown = [c for c in classes if c not in SHAPES]
    if unknown or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"shapes: classes must be at least two distinct names from {CLASSES}, "
                         f"got {tuple(classes)}")
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"shapes: image_size must be an int >= 8, got {image_size!r}")
    if n < 0:
        raise ValueError(f"shapes: n must be >= 0, got {n}")
    if not 0.0 <= clutter <= 2.0:
        raise ValueError(f"shapes: clutter must be in [0, 2], got {clutter}")
    check_budget(f"shapes: {n:,} images of 3x{image_size}x{image_size} (float32)",
                 n * 3 * image_size * image_size * 4)
    images = np.empty((n, 3, image_size, image_size), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)
    # Blocks of _BLOCK images, each from its own random stream: image i is the same whatever n
    # is. Rendering goes in chunks of about 256k pixels per field to bound memory.
    chunk = max(8, 262144 // (image_size * image_size))
    for block, start in enumerate(range(0, n, _BLOCK)):
        m = min(_BLOCK, n - start)
        rng = np.random.default_rng([int(seed), _SPLITS[split], block])
        drawn = _draw_parameters(rng, _BLOCK, len(classes), clutter, rotation)
        params = {k: v[:m] for k, v in drawn.items()}
        labels[start:start + m] = params["labels"]
        for lo in range(0, m, chunk):
            hi = min(m, lo + chunk)
            images[start + lo:start + hi] = _render(params, lo, hi, image_size, classes, rng)
    return images, labels


class Shapes(ArrayDataset):
    """``n`` procedurally generated shape images, (3, image_size, image_size) float32 in [0, 1].

    Deterministic from ``seed``: ``train=True`` and ``train=False`` draw from different random
    streams, so a test set never repeats training images; ``split="val"`` gives a third.
    ``classes`` picks a subset (in that order) of ``minialex.data.shapes.CLASSES``;
    ``clutter`` and ``rotation`` set how hard it is (see ``generate_shapes``).
    Memory: n * 3 * image_size**2 * 4 bytes.
    """

    def __init__(self, n: int = 10000, image_size: int = 32, seed: int = 0, train: bool = True,
                 classes: Sequence[str] = CLASSES, clutter: float = 0.5,
                 rotation: float = 30.0, split: str | None = None) -> None:
        split = split or ("train" if train else "test")
        images, labels = generate_shapes(n, image_size, seed, split, classes, clutter, rotation)
        super().__init__(images, labels, classes=list(classes))
        self.seed = seed
        self.split = split
