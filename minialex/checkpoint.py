"""Checkpoints: ``.npz`` files of plain arrays and one JSON string, so loading one (with
``allow_pickle=False``) can never run code.

``save_checkpoint`` writes model weights and buffers, optimiser and scheduler state, the random
state and the run's configuration and history, atomically; ``read_checkpoint`` verifies a file
(format, version, checksum) and returns its arrays and metadata; ``restore_checkpoint`` puts
them into a model, optimiser and scheduler after checking every name and shape first;
``load_checkpoint`` is the two in one. With the random state restored (the host generator's,
and the GPU generator's where one was used), a resumed run continues with exactly the losses
an uninterrupted one would have had, dropout masks included, on the CPU and on the device.
``save(model, optimizer, path)`` / ``load(model, optimizer, path)`` are the short forms.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from minialex import backend
from minialex.atomic import atomic_file
from minialex.metrics import History

__all__ = ["Checkpoint", "save_checkpoint", "read_checkpoint", "restore_checkpoint",
           "load_checkpoint", "save", "load", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION"]

np = backend.np

CHECKPOINT_FORMAT = "minialex-checkpoint"
CHECKPOINT_VERSION = 1


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


_GPU_RNG = "rng/gpu"  # the array entry holding the device generator's state


def _rng_state() -> tuple[dict[str, Any], dict[str, Any]]:
    """(the host generator's state, JSON-able; {"rng/gpu": the device generator's state as a
    host array} if a device generator exists): dropout masks and initialisers on both."""
    state = backend.rng_state()
    return state["cpu"], ({_GPU_RNG: state["gpu"]} if "gpu" in state else {})


def _set_rng_state(host: dict[str, Any], arrays: dict[str, Any]) -> None:
    """Restore the host state, and the device state where one was saved and a GPU (or the
    emulator) is here: a run resumed on the CPU draws nothing on a device."""
    state: dict[str, Any] = {"cpu": host}
    if _GPU_RNG in arrays and backend.gpu_available():
        state["gpu"] = arrays[_GPU_RNG]
    backend.set_rng_state(state)


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
    host_rng, device_rng = _rng_state()
    arrays.update(device_rng)
    meta: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "epoch": int(epoch),
        "config": config or {}, "extra": extra or {}, "rng": host_rng,
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
    with atomic_file(path, "wb") as f:
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
        self.rng = backend.rng_state() if rng else None

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
            backend.set_rng_state(self.rng)


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
    caller that has read the file already need not read and hash it again.

    Every given part is checked first; only when all fit is anything changed, and a failure
    while changing puts back what was there.
    """
    weights = _model_weights(path, arrays, model) if model is not None else None
    opt_state = (_optimizer_state(path, arrays, meta, optimizer)
                 if optimizer is not None else None)
    sched_state = _scheduler_state(path, meta, scheduler) if scheduler is not None else None
    undo = _Snapshot(model, optimizer, scheduler, restore_rng)
    try:
        if model is not None:
            model.load_state_dict(weights)
        if optimizer is not None:
            optimizer.load_state_dict(opt_state)
        if scheduler is not None:
            scheduler.load_state_dict(sched_state)
        if restore_rng:
            _set_rng_state(meta["rng"], arrays)
    except BaseException:
        undo.restore()
        raise
    history = History.from_dict(meta["history"]) if meta.get("history") else None
    return Checkpoint(path, int(meta["epoch"]), meta.get("config", {}), meta.get("extra", {}),
                      history, meta)


def _model_weights(path: str, arrays: dict[str, Any], model: Any) -> dict[str, Any]:
    """The saved weights and buffers, after checking their names and shapes fit ``model``."""
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
    return saved


def _optimizer_state(path: str, arrays: dict[str, Any], meta: dict[str, Any],
                     optimizer: Any) -> dict[str, Any]:
    """The saved optimiser state (arrays and scalars put back together), checked to fit."""
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
    return opt_state


def _scheduler_state(path: str, meta: dict[str, Any], scheduler: Any) -> dict[str, Any]:
    """The saved scheduler state, checked to be of ``scheduler``'s type and to fit it."""
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
    return info["state"]


def save(model: Any, optimizer: Any, path: str, **kwargs: Any) -> None:
    """``save_checkpoint(path, model, optimizer, **kwargs)``, in the argument order of the
    training-stack contract: ``save(model, optimizer, path)``. optimizer may be None."""
    save_checkpoint(path, model, optimizer, **kwargs)


def load(model: Any, optimizer: Any, path: str, **kwargs: Any) -> Checkpoint:
    """``load_checkpoint(path, model, optimizer, **kwargs)``, the mirror of ``save``: restores
    ``model`` (and ``optimizer`` unless None) from ``path``, checking everything first."""
    return load_checkpoint(path, model, optimizer, **kwargs)
