"""What training measures: top-k accuracy, a running meter over batches, and ``History``.

The paper's metrics: top-1 error is the fraction of images whose most probable class is
wrong; top-5 error counts an image as correct when its label is among the five most probable
classes. With five classes or fewer top-5 accuracy is 100% by construction, so it is reported
as n/a (None). ``History`` holds the loss of every iteration and the metrics of every epoch
of a run, as data (JSON, CSV, a figure).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import Any

from minialex import backend
from minialex.atomic import atomic_file, atomic_write_text
from minialex.tensor import Tensor

__all__ = ["topk_correct", "topk_accuracy", "true_class_ranks", "count_within", "host_labels",
           "Meter", "History", "percent_text"]

np = backend.np


def host_labels(labels: Any) -> Any:
    """Integer labels (a Tensor or an array, on any device) as a flat int64 host array."""
    data = labels.data if isinstance(labels, Tensor) else labels
    return np.asarray(backend.to_host(data)).astype(np.int64, copy=False).reshape(-1)


def _ranks(xp: Any, s: Any, y: Any) -> Any:
    """Rank of each row's true class y among its scores s (0 = highest; ties broken towards
    the lower class index), computed with ``xp`` where the scores are."""
    true = s[xp.arange(len(y)), y][:, None]
    # rank of the true class = number of classes scoring strictly higher (plus ties before it)
    return (s > true).sum(axis=1) + ((s == true) & (xp.arange(s.shape[1]) < y[:, None])).sum(1)


def _check_shapes(s: Any, y: Any) -> None:
    if s.ndim != 2 or s.shape[0] != y.shape[0]:
        raise ValueError(f"topk: expected scores (N, classes) and labels (N,), got "
                         f"{tuple(s.shape)} and {tuple(y.shape)}")


def true_class_ranks(scores: Any, labels: Any) -> tuple[Any, int]:
    """(rank of each row's true class among its scores, number of classes), on the host.

    scores: (N, classes), labels: (N,). Rank 0 is the highest score; ties are broken towards
    the lower class index. Scores and labels are copied to the host once, here.
    """
    s = backend.to_host(scores.data if isinstance(scores, Tensor) else scores)
    y = host_labels(labels)
    _check_shapes(s, y)
    return _ranks(np, s, y), s.shape[1]


def count_within(ranks: Any, classes: int, k: int) -> int | None:
    """How many ``ranks`` are below k; None when k >= classes (every label is in the top k)."""
    return None if k >= classes else int((ranks < k).sum())


def topk_correct(scores: Any, labels: Any, k: int) -> int | None:
    """How many rows of ``scores`` (N, classes) have their label among the k largest scores.

    None when k >= classes (then every label is in the top k and the count says nothing).
    Ties are broken towards the lower class index.
    """
    return count_within(*true_class_ranks(scores, labels), k)


def topk_accuracy(scores: Any, labels: Any, k: int = 1) -> float | None:
    """Fraction of rows whose label is among the k highest scores; None when k >= classes."""
    ranks, classes = true_class_ranks(scores, labels)
    correct = count_within(ranks, classes, k)
    return None if correct is None else correct / max(len(ranks), 1)


class Meter:
    """Running sums of loss and top-1/top-5 hits over batches."""

    def __init__(self) -> None:
        self.n = 0
        self.loss_sum = 0.0
        self.top1 = 0
        self.top5: int | None = 0

    def add(self, loss: Any, scores: Any, labels: Any) -> float:
        """Add one batch and return its loss as a Python float.

        loss: a float or a 0-d array (on any device); scores: (N, classes); labels: (N,).
        The batch's top-1 and top-5 hits are counted where the scores are, and copied to the
        host together with the loss: one device-to-host transfer per batch (the one a
        training step needs anyway to log its loss).
        """
        s = scores.data if isinstance(scores, Tensor) else scores
        xp = backend.get_array_module(s)
        y = labels.data if isinstance(labels, Tensor) else labels
        y = backend.to_device(y, backend.device_of(s)).reshape(-1)
        _check_shapes(s, y)
        classes = s.shape[1]
        # Out-of-range labels make the loss NaN (cross_entropy on a GPU): keep indexing valid.
        ranks = _ranks(xp, s, xp.clip(y, 0, classes - 1).astype(np.int64, copy=False))
        f64 = np.float64
        packed = xp.stack([xp.asarray(loss, dtype=f64).reshape(()),
                           (ranks < 1).sum().astype(f64), (ranks < 5).sum().astype(f64)])
        value, top1, top5 = (float(v) for v in backend.to_host(packed))
        b = len(y)
        self.n += b
        self.loss_sum += value * b
        self.top1 += int(top1)
        self.top5 = None if classes <= 5 or self.top5 is None else self.top5 + int(top5)
        return value

    def result(self) -> dict[str, Any]:
        n = max(self.n, 1)
        return {"loss": self.loss_sum / n, "top1": self.top1 / n,
                "top5": None if self.top5 is None else self.top5 / n, "n": self.n}


def percent_text(value: float | None) -> str:
    """0.125 -> "12.5%"; None (top-5 with five classes or fewer) -> "n/a"."""
    return "n/a" if value is None else f"{100 * value:.1f}%"


@dataclass
class History:
    """What a training run produced, as data.

    iteration_loss: the training loss of every iteration, in order.
    epochs: one dict per epoch: epoch (1-based), lr, train_loss, train_top1, train_top5,
    val_loss, val_top1, val_top5 (None without validation), seconds.
    """

    iteration_loss: list[float] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"iteration_loss": list(self.iteration_loss), "epochs": list(self.epochs)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(list(d.get("iteration_loss", [])), list(d.get("epochs", [])))

    def save_json(self, path: str) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))

    def save_csv(self, path: str) -> None:
        """One row per epoch."""
        if not self.epochs:
            return
        with atomic_file(path, "w") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.epochs[0]))
            writer.writeheader()
            writer.writerows(self.epochs)

    def plot(self) -> Any:
        """matplotlib Figure of the iteration loss and the per-epoch losses."""
        from minialex.viz import plot_curves

        it = np.arange(1, len(self.iteration_loss) + 1)
        curves = {"train loss (iteration)": (it, np.asarray(self.iteration_loss))}
        if self.epochs:
            per_epoch = len(self.iteration_loss) / len(self.epochs)
            ends = np.asarray([e["epoch"] for e in self.epochs]) * per_epoch
            curves["train loss (epoch mean)"] = (ends, [e["train_loss"] for e in self.epochs])
            if self.epochs[0].get("val_loss") is not None:
                curves["validation loss"] = (ends, [e["val_loss"] for e in self.epochs])
        return plot_curves(curves, xlabel="iteration", ylabel="cross-entropy loss",
                           title="training curve")
