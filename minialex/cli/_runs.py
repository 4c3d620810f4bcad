"""A run configuration (the JSON-able settings stored in every checkpoint) turned into the
model, the datasets, the transforms and the optimiser: shared by ``train`` and ``evaluate``."""

from __future__ import annotations

import difflib
import math
import os
from typing import Any

# Defaults of `python -m minialex train`: chosen so that the run takes about a minute or two
# on two CPU cores and ends well above chance on the shapes data.
TRAIN_DEFAULTS: dict[str, Any] = {
    "epochs": 5, "batch_size": 32, "train_size": 4000, "test_size": 1000, "optimizer": "adam",
    "augment": "flip-crop", "schedule": "plateau", "dropout": 0.0, "val_fraction": 0.1,
}
DEFAULT_LR = {"sgd": 0.01, "adam": 3e-4}
SETTINGS = ("variant", "dataset", "data_dir", "epochs", "batch_size", "optimizer", "lr",
            "seed", "image_size", "train_size", "test_size", "augment", "schedule", "dropout",
            "val_fraction")
DATASETS = ("shapes", "cifar10", "folder")


def _count(v: Any, low: int = 1) -> bool:
    return type(v) is int and v >= low


def _reals(v: Any, n: int, positive: bool = False) -> bool:
    return isinstance(v, list) and len(v) == n and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        and (x > 0 or not positive) for x in v)


# What a recorded configuration must hold, key -> check; evaluating needs the first group,
# resuming all of them (a checkpoint written by fit(checkpoint_dir=) holds none of this).
_MODEL_KEYS = {
    "variant": lambda v: isinstance(v, str) and v in _variants(),
    "dataset": lambda v: v in DATASETS,
    "image_size": _count, "crop_padding": lambda v: _count(v, 0), "num_classes": _count,
    "input_shape": lambda v: isinstance(v, list) and len(v) == 3 and all(map(_count, v)),
    "mean": lambda v: _reals(v, 3), "std": lambda v: _reals(v, 3, positive=True),
    "augment": lambda v: v in ("none", "flip-crop", "paper"), "seed": lambda v: _count(v, 0),
    "test_size": _count,
}
_TRAINING_KEYS = {
    "epochs": _count, "batch_size": _count, "train_size": _count,
    "optimizer": lambda v: v in DEFAULT_LR, "schedule": lambda v: v in ("none", "plateau", "step"),
    "lr": lambda v: _reals([v], 1, positive=True),
}


def _variants() -> list[str]:
    from minialex.models import VARIANTS

    return list(VARIANTS)


def check_config(cfg: Any, path: str, resume: bool = False) -> dict[str, Any]:
    """The run configuration recorded in checkpoint ``path``, checked to hold every setting
    ``evaluate`` (and with ``resume``, ``train --resume``) needs, of the right type."""
    if not isinstance(cfg, dict):
        raise ValueError(f"checkpoint {path} records no run configuration")
    keys = {**_MODEL_KEYS, **(_TRAINING_KEYS if resume else {})}
    missing = [k for k in keys if k not in cfg]
    if missing:
        use = "fit(..., resume=True)" if resume else "load_checkpoint and evaluate"
        raise ValueError(f"checkpoint {path} records no complete run configuration (missing "
                         f"{', '.join(missing)}): it was not written by `python -m minialex "
                         f"train`; {'resume' if resume else 'evaluate'} it from Python with "
                         f"{use}")
    bad = [f"{k}={cfg[k]!r}" for k, ok in keys.items() if not ok(cfg[k])]
    if cfg.get("augment") == "paper" and not (_reals(cfg.get("eigvals"), 3) and isinstance(
            cfg.get("eigvecs"), list) and len(cfg["eigvecs"]) == 3
            and all(_reals(row, 3) for row in cfg["eigvecs"])):
        bad.append("eigvals/eigvecs")
    if not (cfg.get("dropout") is None or _reals([cfg["dropout"]], 1)
            and 0 <= cfg["dropout"] < 1):
        bad.append(f"dropout={cfg['dropout']!r}")
    if bad:
        raise ValueError(f"checkpoint {path} records invalid settings: {', '.join(bad)}")
    return dict(cfg)


def run_config(args: Any) -> dict[str, Any]:
    """The full settings of a new run: command-line values, else the defaults."""
    from minialex.models import VARIANTS

    if args.variant not in VARIANTS:
        close = difflib.get_close_matches(str(args.variant), list(VARIANTS), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown variant {args.variant!r}; {hint}valid: {', '.join(VARIANTS)}")
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
    check_data_dir(cfg["dataset"], cfg.get("data_dir"))
    return cfg


def check_data_dir(dataset: str, data_dir: Any) -> None:
    """--data-dir is read by cifar10 and folder; given with shapes it would be ignored."""
    if data_dir and dataset == "shapes":
        raise ValueError(f"--data-dir {data_dir} is read only with --dataset cifar10 or "
                         "--dataset folder; the shapes data is generated, not read")


def datasets(cfg: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(train, validation, test) datasets described by a run configuration.

    The validation split drives the learning-rate schedule and picks best.npz; it is never
    the test set. shapes generates one of its own; for CIFAR-10 and image folders
    ``val_fraction`` of each class's training images are held out (a seeded draw). A
    configuration recorded before that setting existed has no ``val_fraction`` and keeps
    validating on the test set, so that resuming it continues the same run.
    """
    from minialex.data import Shapes, split_off

    name, size = cfg["dataset"], cfg["image_size"]
    if name == "shapes":
        n, seed = cfg["test_size"], cfg["seed"]
        return (Shapes(cfg["train_size"], size, seed=seed, train=True),
                Shapes(n, size, seed=seed, split="val"), test_dataset(cfg))
    train = _files_dataset(cfg, "train")
    test = _files_dataset(cfg, "test", classes=train.classes)
    fraction = cfg.get("val_fraction") or 0.0
    if not fraction:
        return train, test, test
    train, val = split_off(train, fraction, seed=cfg["seed"])
    return train, val, test


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
