"""Pretrained weights for the AlexNet variants: a file's names mapped onto minialex's layers.

torchvision's AlexNet keeps its layers in two ``nn.Sequential`` blocks, so its state dict
names them by position (``features.0.weight`` ... ``classifier.6.bias``); minialex names
every layer (``conv1`` ... ``fc8``). ``TORCHVISION_NAMES`` is the correspondence, read off
``torchvision.models.AlexNet``::

    features:   0 conv1, 1 ReLU, 2 pool1, 3 conv2, 4 ReLU, 5 pool2, 6 conv3, 7 ReLU,
                8 conv4, 9 ReLU, 10 conv5, 11 ReLU, 12 pool5
    classifier: 0 Dropout, 1 fc6, 2 ReLU, 3 Dropout, 4 fc7, 5 ReLU, 6 fc8

Files saved from minialex itself already use minialex's names and load unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from minialex import backend
from minialex.nn.module import Module
from minialex.weights import WeightsError, load_weights

__all__ = ["TORCHVISION_NAMES", "minialex_name", "load_pretrained"]

TORCHVISION_NAMES = {
    "features.0": "conv1", "features.3": "conv2", "features.6": "conv3", "features.8": "conv4",
    "features.10": "conv5", "classifier.1": "fc6", "classifier.4": "fc7", "classifier.6": "fc8",
}
_TORCHVISION_OF = {ours: theirs for theirs, ours in TORCHVISION_NAMES.items()}
_SHOWN = 6  # problems listed in one error message


def minialex_name(name: str) -> str:
    """``features.0.weight`` -> ``conv1.weight``; any other name is returned unchanged."""
    layer, dot, param = name.rpartition(".")
    return f"{TORCHVISION_NAMES[layer]}.{param}" if dot and layer in TORCHVISION_NAMES else name


def _shape(a: Any) -> tuple[int, ...]:
    return tuple(getattr(a, "shape", ()))


def load_pretrained(model: Module, weights: str | os.PathLike[str] | Mapping[str, Any],
                    what: str | None = None) -> None:
    """Copy named arrays (a weights file, or a mapping) into ``model``, checking them all first.

    Names may be torchvision's or minialex's. Every parameter and buffer of the model must be
    present with its exact shape and a float value for a float parameter, and nothing else
    may be in the file; otherwise WeightsError lists the offending names with the expected
    and received shapes, and the model is left untouched. Float16/float64 values are cast to
    the model's dtype.
    """
    source = os.fspath(weights) if isinstance(weights, (str, os.PathLike)) else "weights"
    state = load_weights(weights) if isinstance(weights, (str, os.PathLike)) else weights
    what = what or type(model).__name__
    expected = dict(model.state_dict())
    renamed: dict[str, tuple[str, Any]] = {}
    problems = []
    for stored, value in state.items():
        name = minialex_name(stored)
        label = stored if name == stored else f"{stored} ({name})"
        if name in renamed:
            problems.append(f"{label}: given twice (as {renamed[name][0]} too)")
        elif name not in expected:
            problems.append(f"{label}: unexpected, {what} has no such parameter "
                            f"(shape {_shape(value)})")
        elif _shape(value) != _shape(expected[name]):
            problems.append(f"{label}: expected shape {_shape(expected[name])}, got "
                            f"{_shape(value)}")
        elif (backend.np.asarray(value).dtype.kind == "f") != (expected[name].dtype.kind == "f"):
            problems.append(f"{label}: expected a {expected[name].dtype} array, got "
                            f"{backend.np.asarray(value).dtype}")
        renamed.setdefault(name, (stored, value))
    for name, target in expected.items():
        if name not in renamed:
            theirs = _TORCHVISION_OF.get(name.rpartition(".")[0])
            alias = f" ({theirs}.{name.rpartition('.')[2]} in torchvision's names)" if theirs \
                else ""
            problems.append(f"{name}{alias}: missing, expected shape {_shape(target)}")
    if problems:
        more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        raise WeightsError(f"{source} does not fit {what}: {'; '.join(problems[:_SHOWN])}{more}")
    model.load_state_dict({name: value for name, (_, value) in renamed.items()})
