"""Training and evaluation: the ``fit`` loop and ``evaluate`` (optionally over ten crops).

``fit`` runs epochs of mini-batch gradient descent with a progress bar and one log line per
epoch, writes checkpoints (``minialex.checkpoint``) and can resume from them, and returns a
``History`` (``minialex.metrics``: the loss of every iteration, the metrics of every epoch).
``evaluate`` reports loss, top-1 and top-5 accuracy, optionally averaging the softmax over the
paper's ten crops. The checkpoint and metric functions are importable from here as well.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from minialex import backend
from minialex.atomic import atomic_file
from minialex.checkpoint import (
    Checkpoint,
    load,
    load_checkpoint,
    read_checkpoint,
    restore_checkpoint,
    save,
    save_checkpoint,
)
from minialex.functional._checks import check_positive_int
from minialex.metrics import (
    History,
    Meter,
    percent_text,
    topk_accuracy,
    topk_correct,
)
from minialex.tensor import Tensor, no_grad

__all__ = ["fit", "evaluate", "predict_ten_crop", "History",
           # from minialex.checkpoint and minialex.metrics
           "Checkpoint", "save_checkpoint", "load_checkpoint", "read_checkpoint",
           "restore_checkpoint", "save", "load", "topk_accuracy", "topk_correct", "percent_text"]


def _no_batches(what: str, loader: Any) -> str:
    """Why ``loader`` yields nothing, for an error message."""
    text = f"{what} yields no batches"
    dataset, size = getattr(loader, "dataset", None), getattr(loader, "batch_size", None)
    if dataset is not None and size is not None:
        text += f" ({len(dataset)} images, batch size {size}"
        if getattr(loader, "drop_last", False):
            text += ", incomplete batches dropped"
        text += "): use more images or a smaller batch size"
    return text


def predict_ten_crop(model: Any, images: Tensor, size: int, padding: int = 0) -> Any:
    """Class probabilities (N, classes) averaged over the paper's ten crops of each image.

    images: (N, C, H, W); each is zero-padded by ``padding`` and cut into its four corner
    ``size`` x ``size`` crops, the centre crop, and their mirror images.
    """
    from minialex.data.transforms import pad, ten_crop
    from minialex.functional import softmax

    x = images.data if isinstance(images, Tensor) else images
    crops = ten_crop(pad(x, padding), size)  # (10, N, C, size, size)
    n = x.shape[0]
    with no_grad():
        logits = model(Tensor(crops.reshape((10 * n,) + crops.shape[2:])))
        probs = softmax(logits, dim=1).data
    return probs.reshape(10, n, -1).mean(axis=0)


def evaluate(model: Any, loader: Iterable[tuple[Tensor, Any]], ten_crop: bool = False,
             crop_size: int | None = None, padding: int = 0,
             loss_fn: Callable[..., Tensor] | None = None) -> dict[str, Any]:
    """Loss, top-1 and top-5 accuracy of ``model`` over ``loader`` (in eval mode, no graph).

    ten_crop: average the softmax over ten crops of ``crop_size`` (default: the image size)
    taken from the images zero-padded by ``padding``; the loss is then the negative log of the
    averaged probability of the true class. Returns {"loss", "top1", "top5", "n"}; "top5" is
    None when there are 5 classes or fewer.
    """
    from minialex.functional import cross_entropy

    loss_fn = loss_fn or cross_entropy
    if ten_crop and crop_size is None and padding == 0:
        raise ValueError("evaluate: ten_crop needs crop_size smaller than the images or "
                         "padding > 0; with neither, the ten crops are five copies of each "
                         "image and five mirrors")
    was_training = getattr(model, "training", False)
    model.eval()
    meter = Meter()
    try:
        with no_grad():
            for images, labels in loader:
                # One device-to-host transfer per batch: the loss and the top-k hits together.
                if ten_crop:
                    size = crop_size or images.shape[-1]
                    probs = predict_ten_crop(model, images, size, padding)
                    xp = backend.get_array_module(probs)
                    y = labels.data if isinstance(labels, Tensor) else labels
                    y = backend.to_device(y, backend.device_of(probs)).reshape(-1)
                    picked = probs[xp.arange(len(y)), y]
                    meter.add(-xp.log(xp.maximum(picked, 1e-12)).mean(), probs, labels)
                else:
                    logits = model(images)
                    meter.add(loss_fn(logits, labels).data, logits, labels)
    finally:
        model.train(was_training)
    if meter.n == 0:  # no images: a loss and accuracy of 0 would be made up
        raise ValueError(_no_batches("evaluate: the loader", loader))
    return meter.result()


class _PlainProgress:
    """Stand-in for tqdm when it is missing or disabled: a line every ``every`` steps."""

    def __init__(self, iterable: Iterable[Any], total: int, desc: str, every: int,
                 enabled: bool) -> None:
        self.iterable, self.total, self.desc = iterable, total, desc
        self.every, self.enabled, self.postfix = every, enabled, ""

    def __iter__(self) -> Iterator[Any]:
        for i, item in enumerate(self.iterable, 1):
            yield item
            if self.enabled and self.every and (i % self.every == 0 or i == self.total):
                print(f"{self.desc} {i}/{self.total} {self.postfix}", flush=True)

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        pass


def _progress(iterable: Iterable[Any], total: int, desc: str, every: int,
              enabled: bool) -> Any:
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True,
                        file=sys.stderr)
    return _PlainProgress(iterable, total, desc, every, enabled)


def fit(model: Any, train_loader: Any, optimizer: Any, epochs: int,
        loss_fn: Callable[..., Tensor] | None = None, val_loader: Any = None,
        scheduler: Any = None, log_every: int = 50, progress: bool = True,
        checkpoint_dir: str | None = None, resume: bool = False,
        config: dict[str, Any] | None = None,
        log: Callable[[str], None] | None = print,
        last_read: tuple[dict[str, Any], dict[str, Any]] | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs; returns the ``History``.

    Each iteration: forward, ``loss_fn(logits, labels)`` (default cross-entropy), backward,
    ``optimizer.step()``. After each epoch: validation on ``val_loader`` (if given),
    ``scheduler.step()`` (a ``PlateauDivider`` gets the validation top-1 error), a log line,
    and with ``checkpoint_dir`` the files ``last.npz`` (every epoch) and ``best.npz`` (best
    validation top-1, or training top-1 without validation), written atomically.

    resume: continue from ``checkpoint_dir/last.npz`` if it exists: weights, optimiser,
    scheduler, history and random state are restored and the data loader is set to the next
    epoch, so the losses continue exactly as if the run had never stopped. last_read: the
    (arrays, meta) that ``read_checkpoint`` returned for that file, if the caller has read it
    already (it is then not read again).
    config: JSON-able description stored in the checkpoints (``python -m minialex evaluate``
    rebuilds the model from it). log: where log lines go (None: silent). progress: show a
    progress bar (tqdm if installed, else a plain line every ``log_every`` iterations).
    """
    from minialex.functional import cross_entropy
    from minialex.functional.loss import check_target

    loss_fn = loss_fn or cross_entropy
    say = log or (lambda _: None)
    epochs = check_positive_int("fit", "epochs", epochs)
    if len(train_loader) == 0:
        raise ValueError(_no_batches("fit: the training loader", train_loader))
    if getattr(scheduler, "needs_metric", False) and val_loader is None:
        raise ValueError(f"fit: {type(scheduler).__name__} divides the learning rate on the "
                         "validation error, so it needs val_loader")
    history = History()
    start = 0
    best = -1.0
    last_path = os.path.join(checkpoint_dir, "last.npz") if checkpoint_dir else None
    if resume and last_path and (last_read is not None or os.path.exists(last_path)):
        arrays, meta = last_read if last_read is not None else read_checkpoint(last_path)
        ckpt = restore_checkpoint(last_path, arrays, meta, model, optimizer, scheduler,
                                   restore_rng=True)
        start = ckpt.epoch
        history = ckpt.history or History()
        best = ckpt.extra.get("best_top1", -1.0)
        say(f"resumed from {last_path} after epoch {start}")
    elif resume:
        say(f"nothing to resume in {checkpoint_dir}: starting from scratch")
    num_batches = len(train_loader)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        lr = optimizer.lr
        model.train()
        if hasattr(train_loader, "set_epoch"):  # the epoch fixes shuffling and augmentation
            train_loader.set_epoch(epoch)
        meter = Meter()
        bar = _progress(train_loader, num_batches, f"epoch {epoch + 1}/{epochs}", log_every,
                        progress)
        try:
            for images, labels in bar:
                logits = model(images)
                loss = loss_fn(logits, labels)
                # The step's one device-to-host transfer: the loss, with the top-k hits.
                value = meter.add(loss.data, logits.data, labels)
                if not math.isfinite(value):
                    if loss_fn is cross_entropy:  # on a GPU a bad target shows up as NaN
                        check_target(labels, logits.shape[1])
                    raise FloatingPointError(
                        f"fit: the loss became {value} at epoch {epoch + 1}, iteration "
                        f"{len(history.iteration_loss) + 1}; lower the learning rate")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                history.iteration_loss.append(value)
                running = meter.result()
                bar.set_postfix_str(f"loss {running['loss']:.3f} "
                                    f"top-1 {percent_text(running['top1'])}")
        finally:
            bar.close()
        if meter.n == 0:  # a loader whose len() promised batches it did not yield
            raise ValueError(_no_batches("fit: the training loader", train_loader))
        train = meter.result()
        record: dict[str, Any] = {
            "epoch": epoch + 1, "lr": lr, "train_loss": train["loss"], "train_top1": train["top1"],
            "train_top5": train["top5"], "val_loss": None, "val_top1": None, "val_top5": None}
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn=loss_fn)
            record.update(val_loss=val["loss"], val_top1=val["top1"], val_top5=val["top5"])
        if scheduler is not None:
            if scheduler.needs_metric:
                scheduler.step(1.0 - record["val_top1"])
            else:
                scheduler.step()
        record["seconds"] = time.perf_counter() - t0
        history.epochs.append(record)
        line = (f"epoch {epoch + 1}/{epochs}  loss {train['loss']:.4f}  "
                f"top-1 {percent_text(train['top1'])}  top-5 {percent_text(train['top5'])}")
        if val_loader is not None:
            line += (f"  | val loss {record['val_loss']:.4f}  "
                     f"top-1 {percent_text(record['val_top1'])}  "
                     f"top-5 {percent_text(record['val_top5'])}")
        say(line + f"  | lr {lr:.3g}  {record['seconds']:.1f} s")
        if checkpoint_dir:
            score = record["val_top1"] if val_loader is not None else train["top1"]
            improved = score > best
            best = max(best, score)
            extra = {"best_top1": best}
            save_checkpoint(last_path, model, optimizer, scheduler, epoch + 1, extra, config,
                            history)
            if improved:  # the same bytes as last.npz: copy it rather than serialise again
                with atomic_file(os.path.join(checkpoint_dir, "best.npz"), "wb") as f, \
                        open(last_path, "rb") as src:
                    shutil.copyfileobj(src, f)
    return history
