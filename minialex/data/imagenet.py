"""ImageNet-1k class names and torchvision's evaluation preprocessing, in NumPy + Pillow.

``eval_crops(path)`` prepares a photo exactly as torchvision's pretrained AlexNet expects
(``AlexNet_Weights.IMAGENET1K_V1.transforms()``, which is ``ImageClassification``):

1. resize with Pillow's bilinear filter so the shorter side is 256, the longer side
   ``int(256 * long / short)`` (torchvision truncates);
2. cut the central 224x224 window, its corner at ``round((side - 224) / 2)`` (Python's
   round, ties to even, as torchvision; ``transforms.CenterCrop`` floors instead);
3. scale to [0, 1] (divide by 255 in float32) and normalise each channel with the
   ImageNet mean (0.485, 0.456, 0.406) and standard deviation (0.229, 0.224, 0.225).

``ten_crop=True`` follows the paper instead of step 2 (Krizhevsky et al. 2012, section 4.1:
shorter side 256, the central 256x256 patch, then its four corner and centre 224x224 crops
and their mirror images; ``transforms.ten_crop``).
"""

from __future__ import annotations

import functools
import os
import warnings
from importlib import resources
from typing import Any

from minialex import backend
from minialex.data.transforms import Normalize, ten_crop

np = backend.np

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
RESIZE = 256
CROP = 224
NORMALIZE = Normalize(MEAN, STD)


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names in torchvision's index order (0 "tench").

    Shipped as ``minialex/data/imagenet_classes.txt``; its header says where it comes from.
    """
    text = resources.files("minialex.data").joinpath("imagenet_classes.txt").read_text("utf-8")
    names = tuple(line for line in text.splitlines() if line and not line.startswith("#"))
    if len(names) != 1000:  # pragma: no cover - a damaged installation
        raise RuntimeError(f"imagenet_classes.txt holds {len(names)} names, expected 1000")
    return names


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow is in the [data] and [dev] extras
        raise ImportError("reading photos needs Pillow: pip install pillow") from exc
    return Image


def _read(path: str, decode: bool) -> Any:
    Image = _pil()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:  # reads the header; checks the pixel count
                if not decode:
                    return img.size
                img.load()  # decode now, so a truncated file fails here
                return img.convert("RGB")
    except (FileNotFoundError, IsADirectoryError):
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: image too large to decode safely ({exc})") from None
    except Exception as exc:  # Pillow reports bad data with several exception types
        raise ValueError(f"{path}: not a readable image: truncated, corrupt or not an image "
                         f"file ({type(exc).__name__}: {exc})") from None


def probe_image(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) from the file's header without decoding it: a cheap check that a file
    is an image of acceptable size, before long work. Errors as ``open_rgb``."""
    return _read(os.fspath(path), decode=False)


def open_rgb(path: str | os.PathLike[str]) -> Any:
    """The image file as a decoded RGB ``PIL.Image`` (as torchvision's loader converts it).

    Raises FileNotFoundError for a missing file and ValueError naming the file for anything
    that is not a readable image, including one with more pixels than Pillow's
    decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 million), which would
    otherwise be decoded into memory whatever its file size.
    """
    return _read(os.fspath(path), decode=True)


def resize_shorter_side(img: Any, size: int = RESIZE) -> Any:
    """``img`` (PIL) resized bilinearly so its shorter side is ``size``, as torchvision does."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    new = (size, new_long) if w <= h else (new_long, size)
    return img if new == (w, h) else img.resize(new, _pil().BILINEAR)


def center_crop(img: Any, size: int) -> Any:
    """The central ``size`` x ``size`` window of ``img`` (PIL), torchvision's rounding."""
    w, h = img.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def to_normalized_array(img: Any) -> Any:
    """(3, H, W) float32: pixels / 255, minus the ImageNet mean, divided by its std."""
    pixels = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    unit = pixels.astype(np.float32) / np.float32(255)
    return NORMALIZE(unit[None])[0]


def eval_crops(source: Any, ten_crop_mode: bool = False) -> Any:
    """One photo (a path or a PIL image) as network input: (1, 3, 224, 224) float32, or
    (10, 3, 224, 224) with ``ten_crop_mode`` (the paper's ten crops)."""
    img = source if hasattr(source, "convert") else open_rgb(source)
    img = resize_shorter_side(img.convert("RGB"), RESIZE)
    if not ten_crop_mode:
        return to_normalized_array(center_crop(img, CROP))[None]
    square = to_normalized_array(center_crop(img, RESIZE))
    return ten_crop(square[None], CROP)[:, 0]
