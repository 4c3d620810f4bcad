"""Training and evaluation: the fit loop, top-k metrics, 10-crop testing, checkpoints, the CLI.

``fit`` runs epochs of mini-batch gradient descent with a progress bar and one log line per
epoch, and returns a ``History`` (the loss of every iteration, the metrics of every epoch).
``evaluate`` reports loss, top-1 and top-5 accuracy, optionally averaging the softmax over the
paper's ten crops. Checkpoints are ``.npz`` files (plain arrays and one JSON string, loaded
with ``allow_pickle=False``, so a checkpoint can never run code), written atomically and
checked on load (``save(model, optimizer, path)`` / ``load(model, optimizer, path)`` are the
short forms of ``save_checkpoint`` / ``load_checkpoint``); they hold the random state too, so
a resumed run continues with exactly the losses an uninterrupted one would have had (on the
CPU).

The paper's metrics: top-1 error is the fraction of images whose most probable class is
wrong; top-5 error counts an image as correct when its label is among the five most probable
classes. With five classes or fewer top-5 accuracy is 100% by construction, so it is reported
as n/a (None).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from minialex import backend
from minialex.functional._checks import check_positive_int
from minialex.tensor import Tensor, no_grad

np = backend.np

CHECKPOINT_FORMAT = "minialex-checkpoint"
CHECKPOINT_VERSION = 1


# ============================================================================ metrics
def _host_labels(labels: Any) -> Any:
    data = labels.data if isinstance(labels, Tensor) else labels
    return np.asarray(backend.to_host(data)).astype(np.int64, copy=False).reshape(-1)


def _true_class_ranks(scores: Any, labels: Any) -> tuple[Any, int]:
    """(rank of each row's true class among its scores, number of classes), on the host.

    scores: (N, classes), labels: (N,). Rank 0 is the highest score; ties are broken towards
    the lower class index. Scores and labels are copied to the host once, here.
    """
    s = backend.to_host(scores.data if isinstance(scores, Tensor) else scores)
    y = _host_labels(labels)
    if s.ndim != 2 or s.shape[0] != y.shape[0]:
        raise ValueError(f"topk: expected scores (N, classes) and labels (N,), got "
                         f"{s.shape} and {y.shape}")
    # rank of the true class = number of classes scoring strictly higher (plus ties before it)
    true = s[np.arange(len(y)), y][:, None]
    higher = (s > true).sum(axis=1) + ((s == true) & (np.arange(s.shape[1]) < y[:, None])).sum(1)
    return higher, s.shape[1]


def _count_within(ranks: Any, classes: int, k: int) -> int | None:
    """How many ``ranks`` are below k; None when k >= classes (every label is in the top k)."""
    return None if k >= classes else int((ranks < k).sum())


def topk_correct(scores: Any, labels: Any, k: int) -> int | None:
    """How many rows of ``scores`` (N, classes) have their label among the k largest scores.

    None when k >= classes (then every label is in the top k and the count says nothing).
    Ties are broken towards the lower class index.
    """
    return _count_within(*_true_class_ranks(scores, labels), k)


def topk_accuracy(scores: Any, labels: Any, k: int = 1) -> float | None:
    """Fraction of rows whose label is among the k highest scores; None when k >= classes."""
    ranks, classes = _true_class_ranks(scores, labels)
    correct = _count_within(ranks, classes, k)
    return None if correct is None else correct / max(len(ranks), 1)


class _Meter:
    """Running sums of loss and top-1/top-5 hits over batches."""

    def __init__(self) -> None:
        self.n = 0
        self.loss_sum = 0.0
        self.top1 = 0
        self.top5: int | None = 0

    def add(self, loss: float, scores: Any, labels: Any) -> None:
        ranks, classes = _true_class_ranks(scores, labels)  # one device->host copy per batch
        b = len(ranks)
        self.n += b
        self.loss_sum += loss * b
        self.top1 += _count_within(ranks, classes, 1) or 0
        c5 = _count_within(ranks, classes, 5)
        self.top5 = None if c5 is None or self.top5 is None else self.top5 + c5

    def result(self) -> dict[str, Any]:
        n = max(self.n, 1)
        return {"loss": self.loss_sum / n, "top1": self.top1 / n,
                "top5": None if self.top5 is None else self.top5 / n, "n": self.n}


def percent_text(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


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


# ============================================================================ evaluation
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
    meter = _Meter()
    try:
        with no_grad():
            for images, labels in loader:
                if ten_crop:
                    size = crop_size or images.shape[-1]
                    probs = predict_ten_crop(model, images, size, padding)
                    xp = backend.get_array_module(probs)
                    y = backend.to_device(_host_labels(labels), backend.device_of(probs))
                    picked = probs[xp.arange(len(y)), y]
                    loss = float(-xp.log(xp.maximum(picked, 1e-12)).mean())
                    meter.add(loss, probs, labels)
                else:
                    logits = model(images)
                    meter.add(float(loss_fn(logits, labels).item()), logits, labels)
    finally:
        model.train(was_training)
    if meter.n == 0:  # no images: a loss and accuracy of 0 would be made up
        raise ValueError(_no_batches("evaluate: the loader", loader))
    return meter.result()


# ============================================================================ history
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
        _atomic_write_text(path, json.dumps(self.to_dict(), indent=1))

    def save_csv(self, path: str) -> None:
        """One row per epoch."""
        if not self.epochs:
            return
        with _atomic_file(path, "w") as f:
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


# ============================================================================ checkpoints
@contextlib.contextmanager
def _atomic_file(path: str, mode: str) -> Iterator[Any]:
    """A temporary file in ``path``'s folder, renamed over ``path`` only if the block succeeds.

    A crash or error mid-write leaves ``path`` as it was (os.replace is atomic on POSIX and
    Windows when source and target are on the same file system, hence the same folder).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_file_mode())  # mkstemp makes it 0600, open() would not
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _default_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0o666 less the process umask."""
    umask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write_text(path: str, text: str) -> None:
    with _atomic_file(path, "w") as f:
        f.write(text)


def _write_npz(f: Any, arrays: dict[str, Any]) -> None:
    np.savez(f, **arrays)


def _digest(arrays: dict[str, Any]) -> str:
    """sha256 over names, dtypes, shapes and bytes: detects corruption anywhere in the file."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _rng_state() -> dict[str, Any]:
    """State of the host global generator (dropout masks, initialisers on the CPU)."""
    return backend.get_rng(like=np.empty(0)).bit_generator.state


def _set_rng_state(state: dict[str, Any]) -> None:
    backend.get_rng(like=np.empty(0)).bit_generator.state = state


def save_checkpoint(path: str, model: Any, optimizer: Any = None, scheduler: Any = None,
                    epoch: int = 0, extra: dict[str, Any] | None = None,
                    config: dict[str, Any] | None = None,
                    history: History | None = None) -> None:
    """Write model weights and buffers, optimiser and scheduler state, the random state and
    metadata to ``path`` (.npz), atomically: the previous file survives any failure.

    config: how to rebuild the model and data (variant, num_classes, ...), JSON-able.
    extra: any other JSON-able data.
    """
    arrays: dict[str, Any] = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "epoch": int(epoch),
        "config": config or {}, "extra": extra or {}, "rng": _rng_state(),
        "history": history.to_dict() if history is not None else None,
    }
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for i, buffers in state["state"].items():
            for name, value in buffers.items():
                if backend.is_array(value):
                    arrays[f"optimizer/{i}/{name}"] = backend.to_host(value)
                else:
                    scalars.setdefault(str(i), {})[name] = value
        meta["optimizer"] = {"type": type(optimizer).__name__,
                             "param_groups": state["param_groups"], "scalars": scalars}
    if scheduler is not None:
        meta["scheduler"] = {"type": type(scheduler).__name__, "state": scheduler.state_dict()}
    meta["sha256"] = _digest(arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    with _atomic_file(path, "wb") as f:
        _write_npz(f, arrays)


class _Snapshot:
    """References to what ``load_checkpoint`` may replace, to undo a load that failed."""

    def __init__(self, model: Any, optimizer: Any, scheduler: Any, rng: bool) -> None:
        tensors = ([t for _, t in model.named_parameters()] +
                   [t for _, t in model.named_buffers()]) if model is not None else []
        self.arrays = [(t, t.data) for t in tensors]
        self.optimizer = optimizer
        if optimizer is not None:
            self.groups = [dict(g) for g in optimizer.param_groups]
            self.state = optimizer.state
        self.scheduler = scheduler
        self.scheduler_vars = dict(vars(scheduler)) if scheduler is not None else {}
        self.rng = _rng_state() if rng else None

    def restore(self) -> None:
        for t, data in self.arrays:
            t.data = data
        if self.optimizer is not None:
            for group, saved in zip(self.optimizer.param_groups, self.groups, strict=True):
                group.update(saved)
            self.optimizer.state = self.state
        if self.scheduler is not None:
            vars(self.scheduler).update(self.scheduler_vars)
        if self.rng is not None:
            _set_rng_state(self.rng)


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` read: epoch, config, extra, history, and the raw meta."""

    path: str
    epoch: int
    config: dict[str, Any]
    extra: dict[str, Any]
    history: History | None
    meta: dict[str, Any]


def read_checkpoint(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(arrays, meta) of a checkpoint file, verified; ValueError naming the file otherwise."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"checkpoint {path} is a directory; give the .npz file in it "
                         f"(such as {os.path.join(path, 'last.npz')})")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not zipfile.is_zipfile(path):
        # checked first: np.load would try the file as a pickle and suggest allow_pickle=True
        raise ValueError(f"checkpoint {path} is not an .npz archive (truncated, corrupt or "
                         "another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # an object array: pickled Python objects
            raise ValueError(f"checkpoint {path} holds pickled Python objects, which a "
                             "minialex checkpoint never does; refusing to load it") from None
        raise ValueError(f"checkpoint {path} is truncated or corrupt ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"checkpoint {path} is truncated or corrupt "
                         f"({type(exc).__name__}: {exc})") from None
    if "meta" not in arrays:
        raise ValueError(f"checkpoint {path} is not a minialex checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except ValueError as exc:
        raise ValueError(f"checkpoint {path} has corrupt metadata: {exc}") from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} is not a minialex checkpoint")
    if meta.get("version", 0) > CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {path} has format version {meta['version']}; this "
                         f"minialex reads up to {CHECKPOINT_VERSION}")
    if meta.get("sha256") != _digest(arrays):
        raise ValueError(f"checkpoint {path} is corrupt: its arrays do not match the checksum "
                         "stored when it was written")
    return arrays, meta


def load_checkpoint(path: str, model: Any = None, optimizer: Any = None, scheduler: Any = None,
                    restore_rng: bool = False) -> Checkpoint:
    """Read ``path`` and restore what is given: model weights, optimiser, scheduler, and with
    ``restore_rng`` the global random state.

    Everything is checked before anything is changed: parameter names and shapes must match
    the model exactly, the optimiser must be of the saved type with the same parameters.
    """
    path = os.fspath(path)
    arrays, meta = read_checkpoint(path)
    return restore_checkpoint(path, arrays, meta, model, optimizer, scheduler, restore_rng)


def restore_checkpoint(path: str, arrays: dict[str, Any], meta: dict[str, Any],
                        model: Any = None, optimizer: Any = None, scheduler: Any = None,
                        restore_rng: bool = False) -> Checkpoint:
    """``load_checkpoint`` for the (arrays, meta) that ``read_checkpoint(path)`` returned, so a
    caller that has read the file already need not read and hash it again."""
    if model is not None:
        saved = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
        # shapes only: state_dict() would make a host copy of every weight just to compare
        own = {name: tuple(t.shape) for name, t in model.named_parameters()}
        own.update((name, tuple(t.shape)) for name, t in model.named_buffers())
        missing = [k for k in own if k not in saved]
        unexpected = [k for k in saved if k not in own]
        wrong = [f"{k}: model {own[k]}, checkpoint {tuple(saved[k].shape)}"
                 for k in own if k in saved and own[k] != tuple(saved[k].shape)]
        if missing or unexpected or wrong:
            raise ValueError(f"checkpoint {path} does not fit {type(model).__name__}: "
                             f"missing {missing}, unexpected {unexpected}, shape mismatches "
                             f"{wrong}")
    opt_state = None
    if optimizer is not None:
        info = meta.get("optimizer")
        if info is None:
            raise ValueError(f"checkpoint {path} holds no optimiser state")
        if info["type"] != type(optimizer).__name__:
            raise ValueError(f"checkpoint {path} holds {info['type']} state, not "
                             f"{type(optimizer).__name__}")
        state: dict[int, dict[str, Any]] = {}
        for key, value in arrays.items():
            if key.startswith("optimizer/"):
                _, i, name = key.split("/", 2)
                state.setdefault(int(i), {})[name] = value
        for i, scalars in info.get("scalars", {}).items():
            state.setdefault(int(i), {}).update(scalars)
        opt_state = {"param_groups": info["param_groups"], "state": state}
        try:
            optimizer.check_state_dict(opt_state)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"checkpoint {path}: optimiser state does not fit: {exc}") from None
    if scheduler is not None:
        info = meta.get("scheduler")
        if info is None:
            raise ValueError(f"checkpoint {path} holds no scheduler state")
        if info.get("type") != type(scheduler).__name__:
            raise ValueError(f"checkpoint {path} holds {info.get('type')} state, not "
                             f"{type(scheduler).__name__}")
        try:
            scheduler.check_state_dict(info["state"])
        except (ValueError, KeyError) as exc:
            raise ValueError(f"checkpoint {path}: scheduler state does not fit: {exc}") from None
    # All checks passed: now change things. Should anything still fail, put back what was
    # there (loading replaces arrays rather than writing into them, so references suffice).
    undo = _Snapshot(model, optimizer, scheduler, restore_rng)
    try:
        if model is not None:
            model.load_state_dict(saved)
        if optimizer is not None:
            optimizer.load_state_dict(opt_state)
        if scheduler is not None:
            scheduler.load_state_dict(meta["scheduler"]["state"])
        if restore_rng:
            _set_rng_state(meta["rng"])
    except BaseException:
        undo.restore()
        raise
    history = History.from_dict(meta["history"]) if meta.get("history") else None
    return Checkpoint(path, int(meta["epoch"]), meta.get("config", {}), meta.get("extra", {}),
                      history, meta)


def save(model: Any, optimizer: Any, path: str, **kwargs: Any) -> None:
    """``save_checkpoint(path, model, optimizer, **kwargs)``, in the argument order of the
    training-stack contract: ``save(model, optimizer, path)``. optimizer may be None."""
    save_checkpoint(path, model, optimizer, **kwargs)


def load(model: Any, optimizer: Any, path: str, **kwargs: Any) -> Checkpoint:
    """``load_checkpoint(path, model, optimizer, **kwargs)``, the mirror of ``save``: restores
    ``model`` (and ``optimizer`` unless None) from ``path``, checking everything first."""
    return load_checkpoint(path, model, optimizer, **kwargs)


# ============================================================================ fit
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
    config: JSON-able description stored in the checkpoints (``cli_evaluate`` rebuilds the
    model from it). log: where log lines go (None: silent). progress: show a progress bar
    (tqdm if installed, else a plain line every ``log_every`` iterations).
    """
    from minialex.functional import cross_entropy

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
        meter = _Meter()
        bar = _progress(train_loader, num_batches, f"epoch {epoch + 1}/{epochs}", log_every,
                        progress)
        try:
            for images, labels in bar:
                logits = model(images)
                loss = loss_fn(logits, labels)
                value = float(loss.item())
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"fit: the loss became {value} at epoch {epoch + 1}, iteration "
                        f"{len(history.iteration_loss) + 1}; lower the learning rate")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                history.iteration_loss.append(value)
                meter.add(value, logits.data, labels)
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
                with _atomic_file(os.path.join(checkpoint_dir, "best.npz"), "wb") as f, \
                        open(last_path, "rb") as src:
                    shutil.copyfileobj(src, f)
    return history
