"""Name what is in a photo: ``classify(model, images, top=5)`` -> one ``Prediction`` each.

The model is an ImageNet classifier such as ``alexnet("torchvision", weights=PATH)``; every
photo is prepared with torchvision's evaluation preprocessing (``minialex.data.imagenet``),
run through the network in eval mode, and its class probabilities are the softmax of the
logits (with ``ten_crop=True`` the mean of the ten crops' softmax outputs, as the paper
averages them). The command line front end is ``python -m minialex classify``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import minialex
import minialex.functional as F
from minialex import backend
from minialex.data.imagenet import eval_crops, imagenet_classes
from minialex.nn.module import Module

__all__ = ["Prediction", "classify", "probabilities"]

np = backend.np


@dataclass(frozen=True)
class Prediction:
    """The ``top`` most probable classes of one image, most probable first.

    ``str()`` is a small table: rank, probability, class index and name.
    """

    image: str
    indices: tuple[int, ...]
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]
    crops: int = 1

    def rows(self) -> list[tuple[int, float, int, str]]:
        """(rank, probability, class index, class name) per predicted class."""
        return [(rank, p, i, name) for rank, (p, i, name) in
                enumerate(zip(self.probabilities, self.indices, self.labels, strict=True),
                          start=1)]

    def __str__(self) -> str:
        how = "ten crops averaged" if self.crops == 10 else "centre crop"
        lines = [f"{self.image}  ({how})", f"  {'#':>2}  {'probability':>11}  {'index':>5}  class"]
        lines += [f"  {rank:>2}  {p:>11.2%}  {i:>5}  {name}" for rank, p, i, name in self.rows()]
        return "\n".join(lines)


def probabilities(model: Module, batch: Any) -> Any:
    """Softmax class probabilities (N, num_classes) float64 of ``batch`` (N, 3, H, W),
    in eval mode without gradients; the model's train/eval mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with minialex.no_grad():
            logits = model(minialex.tensor(np.ascontiguousarray(batch, dtype=np.float32)))
            probs = F.softmax(logits, dim=1).numpy()
    finally:
        model.train(was_training)
    return probs.astype(np.float64)


def classify(model: Module, images: Sequence[Any], top: int = 5, ten_crop: bool = False,
             classes: Sequence[str] | None = None) -> list[Prediction]:
    """The ``top`` classes of each image (a path or a PIL image), one image at a time.

    classes: the class names; default the ImageNet-1k names for a 1000-way model, else
    "class N". Raises ValueError for ``top`` outside 1..num_classes, and FileNotFoundError /
    ValueError naming the file for an image that cannot be read.
    """
    num_classes = getattr(model, "num_classes", None)
    names = list(classes) if classes is not None else (
        list(imagenet_classes()) if num_classes in (None, 1000) else
        [f"class {i}" for i in range(num_classes)])
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= len(names):
        raise ValueError(f"classify: top must be an integer from 1 to {len(names)} (the number "
                         f"of classes), got {top!r}")
    out = []
    for image in images:
        crops = eval_crops(image, ten_crop)
        probs = probabilities(model, crops).mean(axis=0)
        if probs.shape != (len(names),):
            raise ValueError(f"classify: the model gives {probs.shape[0]} class scores but "
                             f"{len(names)} class names were given")
        best = np.argsort(-probs, kind="stable")[:top]
        label = os.fspath(image) if isinstance(image, (str, os.PathLike)) else "image"
        out.append(Prediction(label, tuple(int(i) for i in best),
                              tuple(names[i] for i in best),
                              tuple(float(probs[i]) for i in best), len(crops)))
    return out
