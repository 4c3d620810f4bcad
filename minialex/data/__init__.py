"""Datasets, the DataLoader and batch transforms (augmentation).

* ``Shapes``: procedurally generated shape images, the default dataset (no download);
* ``CIFAR10``: the python-pickle (read through a restricted unpickler) or binary batches;
* ``ImageFolder``: JPEG/PNG files in one sub-folder per class, read with Pillow;
* ``DataLoader``: reproducible shuffling, transforms, host-to-device transfer;
* ``transforms``: the paper's random crops, flips and PCA colour augmentation, 10-crop.
"""

from minialex.data import transforms
from minialex.data.cifar import CIFAR10
from minialex.data.dataset import ArrayDataset, Dataset, Subset, split_off
from minialex.data.folder import ImageFolder
from minialex.data.loader import DataLoader
from minialex.data.shapes import Shapes, generate_shapes
from minialex.data.transforms import (
    CenterCrop,
    Compose,
    Normalize,
    PCAColorAugmentation,
    RandomCrop,
    RandomHorizontalFlip,
    pca_color_stats,
    sample_images,
    ten_crop,
)

__all__ = [
    "Dataset",
    "ArrayDataset",
    "Subset",
    "split_off",
    "Shapes",
    "generate_shapes",
    "CIFAR10",
    "ImageFolder",
    "DataLoader",
    "transforms",
    "Compose",
    "RandomCrop",
    "CenterCrop",
    "RandomHorizontalFlip",
    "PCAColorAugmentation",
    "pca_color_stats",
    "sample_images",
    "Normalize",
    "ten_crop",
]
