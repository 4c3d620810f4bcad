"""ImageFolder: JPEG/PNG images in one sub-folder per class, read with Pillow.

The layout of the Intel scene-classification data (Waghmare's RIT report trains on it) is::

    root/train/<class>/*.jpg    root/test/<class>/*.jpg    root/pred/*.jpg   (unlabelled)

``ImageFolder(root/"train", 227)`` reads one split; a folder holding images directly and no
class sub-folders is read as unlabelled (labels -1). Images are decoded lazily, a batch at a
time, and resized the paper's way: the shorter side scaled to ``image_size``, then the central
``image_size`` x ``image_size`` square cut out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from minialex import backend
from minialex.data.dataset import Dataset, to_unit_float
from minialex.functional._checks import check_positive_int

np = backend.np

EXTENSIONS = (".jpg", ".jpeg", ".png")
# What Pillow may decode: the content decides the format, not the extension, so a renamed file
# in one of Pillow's many other formats is refused instead of parsed (cameras' multi-picture
# JPEGs still open: Pillow reads them through its JPEG opener).
FORMATS = ("JPEG", "PNG")
# The shorter side is scaled to image_size before the centre crop, so the intermediate image
# has image_size**2 * (long side / short side) pixels: a 274-byte 1 x 200000 PNG would become
# 227 x 45 million. Images further from square than this are refused.
MAX_ASPECT_RATIO = 20
_SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow is a dependency of [data]/[dev]
        raise ImportError("ImageFolder needs Pillow: pip install pillow") from exc
    return Image


def _images_in(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(EXTENSIONS) and os.path.isfile(os.path.join(folder, f)))


def _size_problem(width: int, height: int, max_pixels: int | None) -> str | None:
    """Why an image of this size is refused before decoding, or None."""
    if min(width, height) < 1:
        return f"it has no pixels ({width} x {height})"
    if max_pixels is not None and width * height > max_pixels:
        return (f"{width} x {height} = {width * height:,} pixels is above Pillow's "
                f"decompression-bomb limit of {max_pixels:,} (PIL.Image.MAX_IMAGE_PIXELS)")
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT_RATIO:
        return (f"{width} x {height} is {ratio:,.0f} times longer than wide; at most "
                f"{MAX_ASPECT_RATIO} is accepted (the shorter side is scaled up to image_size "
                "before the centre crop)")
    return None


def _rgb(img: Any) -> Any:
    """The image in mode RGB. 16-bit greyscale is scaled by 255 / 65535 first: Pillow's own
    conversion clips it (1000 of 65535 would become 255, white)."""
    if img.mode in _SIXTEEN_BIT_GREY:
        grey = np.asarray(img, dtype=np.float64) * (255 / 65535)
        img = _pil().fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
    return img.convert("RGB")


def load_image(path: str, image_size: int) -> Any:
    """One file as (3, image_size, image_size) uint8: shorter side resized, centre cropped.

    Only JPEG and PNG content is decoded; images above Pillow's pixel limit or further from
    square than ``MAX_ASPECT_RATIO`` are refused (ValueError naming the file) before decoding.
    """
    Image = _pil()
    problem = None
    try:
        with Image.open(path, formats=FORMATS) as img:
            w, h = img.size
            problem = _size_problem(w, h, Image.MAX_IMAGE_PIXELS)
            if problem is None:
                img = _rgb(img)
                scale = image_size / min(w, h)
                new = (max(image_size, round(w * scale)), max(image_size, round(h * scale)))
                img = img.resize(new, Image.BILINEAR)
                left, top = (new[0] - image_size) // 2, (new[1] - image_size) // 2
                img = img.crop((left, top, left + image_size, top + image_size))
                array = np.asarray(img, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"ImageFolder: missing image file {path}") from None
    except Exception as exc:  # Pillow reports bad data with several exception types
        raise ValueError(f"ImageFolder: cannot read image {path}: it is truncated, corrupt or "
                         f"not a JPEG/PNG image ({type(exc).__name__}: {exc})") from None
    if problem is not None:
        raise ValueError(f"ImageFolder: refusing image {path}: {problem}")
    return array.transpose(2, 0, 1)


class ImageFolder(Dataset):
    """Images under ``root/<class>/``, labels by sorted class-folder name.

    image_size: side of the square images returned. classes: fix the class list (and order),
    e.g. ``classes=train.classes`` for the test split so that label i means the same class in
    both. Files are checked when a batch is read; errors name the file.
    """

    def __init__(self, root: str, image_size: int = 227,
                 classes: Sequence[str] | None = None) -> None:
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"ImageFolder: folder {root} does not exist")
        image_size = check_positive_int("ImageFolder", "image_size", image_size)
        found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.root, self.image_size = root, image_size
        self.files: list[str] = []
        labels: list[int] = []
        if not found and classes is None:  # unlabelled, like pred/
            self.classes = []
            self.files = _images_in(root)
            labels = [-1] * len(self.files)
        else:
            self.classes = list(classes) if classes is not None else found
            extra = [d for d in found if d not in self.classes]
            if extra:
                raise ValueError(f"ImageFolder: {root} has class folders {extra} that are not "
                                 f"in classes={self.classes}")
            for label, name in enumerate(self.classes):
                folder = os.path.join(root, name)
                if not os.path.isdir(folder):
                    raise FileNotFoundError(f"ImageFolder: missing class folder {folder}")
                files = _images_in(folder)
                self.files += files
                labels += [label] * len(files)
        if not self.files:
            raise FileNotFoundError(f"ImageFolder: no {'/'.join(EXTENSIONS)} images under {root}")
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (3, self.image_size, self.image_size)

    def get_batch(self, indices: Any) -> tuple[Any, Any]:
        indices = np.asarray(indices).reshape(-1)
        batch = np.empty((indices.size, 3, self.image_size, self.image_size), dtype=np.uint8)
        for j, i in enumerate(indices):
            batch[j] = load_image(self.files[int(i)], self.image_size)
        return to_unit_float(batch), self.labels[indices]
