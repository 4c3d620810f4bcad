"""A run configuration (the JSON-able settings stored in every checkpoint) turned into the
model, the datasets, the transforms and the optimiser: shared by ``train`` and ``evaluate``."""

from __future__ import annotations

import os
from typing import Any

# Defaults of `python -m minialex train`: chosen so that the run takes about a minute or two
# on two CPU cores and ends well above chance on the shapes data.
TRAIN_DEFAULTS: dict[str, Any] = {
    "epochs": 5, "batch_size": 32, "train_size": 4000, "test_size": 1000, "optimizer": "adam",
    "augment": "flip-crop", "schedule": "plateau", "dropout": 0.0,
}
DEFAULT_LR = {"sgd": 0.01, "adam": 3e-4}
SETTINGS = ("variant", "dataset", "data_dir", "epochs", "batch_size", "optimizer", "lr",
            "seed", "image_size", "train_size", "test_size", "augment", "schedule", "dropout")


def run_config(args: Any) -> dict[str, Any]:
    """The full settings of a new run: command-line values, else the defaults."""
    from minialex.models import VARIANTS

    if args.variant not in VARIANTS:
        raise ValueError(f"unknown variant {args.variant!r}; valid: {', '.join(VARIANTS)}")
    cfg = {k: getattr(args, k, None) for k in SETTINGS}
    for k, v in TRAIN_DEFAULTS.items():
        if cfg.get(k) is None:
            cfg[k] = v
    if cfg["lr"] is None:
        cfg["lr"] = DEFAULT_LR[cfg["optimizer"]]
    if cfg["image_size"] is None:
        cfg["image_size"] = VARIANTS[args.variant].input_shape[-1]
    cfg["dataset"] = cfg["dataset"] or "shapes"
    cfg["crop_padding"] = max(1, cfg["image_size"] // 8)
    return cfg


def datasets(cfg: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(train, validation, test) datasets described by a run configuration.

    shapes has a validation split of its own (for the learning-rate schedule and best.npz);
    CIFAR-10 and image folders use their test set for validation too.
    """
    from minialex.data import Shapes

    name, size = cfg["dataset"], cfg["image_size"]
    if name == "shapes":
        n, seed = cfg["test_size"], cfg["seed"]
        return (Shapes(cfg["train_size"], size, seed=seed, train=True),
                Shapes(n, size, seed=seed, split="val"), test_dataset(cfg))
    train = _files_dataset(cfg, "train")
    test = _files_dataset(cfg, "test", classes=train.classes)
    return train, test, test


def test_dataset(cfg: dict[str, Any]) -> Any:
    """The test split alone (``evaluate`` needs nothing else)."""
    from minialex.data import Shapes

    if cfg["dataset"] == "shapes":
        return Shapes(cfg["test_size"], cfg["image_size"], seed=cfg["seed"], split="test")
    return _files_dataset(cfg, "test", classes=cfg.get("classes"))


def _files_dataset(cfg: dict[str, Any], split: str, classes: Any = None) -> Any:
    """CIFAR-10 or image-folder ``split`` ("train" or "test"); classes: the folder's order."""
    from minialex.data import CIFAR10, ImageFolder

    name, size = cfg["dataset"], cfg["image_size"]
    if not cfg.get("data_dir"):
        raise ValueError(f"dataset {name!r} needs --data-dir")
    if name == "cifar10":
        if size != 32:
            raise ValueError(f"CIFAR-10 images are 32x32; the model wants {size}x{size} "
                             "(use --variant cifar-small)")
        return CIFAR10(cfg["data_dir"], train=split == "train")
    if name == "folder":
        return ImageFolder(os.path.join(cfg["data_dir"], split), size, classes=classes)
    raise ValueError(f"unknown dataset {name!r}: expected shapes, cifar10 or folder")


def transforms(cfg: dict[str, Any]) -> tuple[Any, Any]:
    """(train transform, test transform) of a configuration."""
    from minialex.data import transforms as T

    norm = T.Normalize(cfg["mean"], cfg["std"])
    size, padding = cfg["image_size"], cfg["crop_padding"]
    steps: list[Any] = []
    if cfg["augment"] == "paper":  # on raw RGB values, as the paper computes it
        steps.append(T.PCAColorAugmentation(cfg["eigvals"], cfg["eigvecs"], std=0.1))
    steps.append(norm)
    if cfg["augment"] in ("flip-crop", "paper"):
        # after normalising, so zero padding is the mean colour (as in 10-crop testing)
        steps += [T.RandomCrop(size, padding=padding), T.RandomHorizontalFlip()]
    return T.Compose(steps), norm


def build_model(cfg: dict[str, Any]) -> Any:
    """The AlexNet variant a configuration describes (freshly initialised)."""
    from minialex.models import alexnet

    c, h, w = cfg["input_shape"]
    return alexnet(cfg["variant"], num_classes=cfg["num_classes"], input_shape=(c, h, w),
                   dropout=cfg.get("dropout"))


def pca_stats(sample: Any) -> tuple[list[float], list[list[float]]]:
    """The RGB eigenvalues and eigenvectors of ``sample`` as JSON-able lists."""
    from minialex.data.transforms import pca_color_stats

    eigvals, eigvecs = pca_color_stats(sample)
    return [float(v) for v in eigvals], [[float(v) for v in row] for row in eigvecs]


def optimizer(model: Any, cfg: dict[str, Any]) -> tuple[Any, Any]:
    """(optimiser, scheduler or None) of a configuration."""
    from minialex.optim import SGD, Adam, PlateauDivider, StepLR

    if cfg["optimizer"] == "sgd":  # the paper's momentum and weight decay
        opt: Any = SGD(model.parameters(), lr=cfg["lr"], momentum=0.9, weight_decay=5e-4)
    else:
        opt = Adam(model.parameters(), lr=cfg["lr"])
    schedule = cfg["schedule"]
    if schedule == "plateau":
        return opt, PlateauDivider(opt, factor=0.1, patience=1)
    if schedule == "step":
        return opt, StepLR(opt, step_size=max(1, cfg["epochs"] // 3), gamma=0.1)
    return opt, None
