"""What ``minialex.checkpoint`` checks before it trusts a file, kept apart from reading and
writing: the error types, the declared array names and shapes against a model and optimiser,
and the types and ranges of every metadata entry a restore will use."""

from __future__ import annotations

import math
from typing import Any

from minialex import backend

__all__ = ["CheckpointError", "MissingCheckpointError", "check_declared", "check_meta",
           "same_kind", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION"]

np = backend.np

CHECKPOINT_FORMAT = "minialex-checkpoint"
CHECKPOINT_VERSION = 2  # 2: the sha256 covers the metadata too (1: the arrays only)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, hostile, or not fitting what it is
    loaded into. The message names the file."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist (also a FileNotFoundError)."""


def check_declared(path: str, infos: dict[str, Any], model: Any, optimizer: Any) -> None:
    """Names and shapes from the headers against the model's and the optimiser's."""
    if model is not None:
        own = {n: tuple(t.shape) for n, t in model.named_parameters()}
        own.update((n, tuple(t.shape)) for n, t in model.named_buffers())
        saved = {k[len("model/"):]: i.shape for k, i in infos.items() if k.startswith("model/")}
        missing = [k for k in own if k not in saved]
        unexpected = [k for k in saved if k not in own]
        wrong = [f"{k}: model {own[k]}, checkpoint {saved[k]}"
                 for k in own if k in saved and own[k] != saved[k]]
        if missing or unexpected or wrong:
            raise CheckpointError(f"checkpoint {path} does not fit {type(model).__name__}: "
                                  f"missing {missing}, unexpected {unexpected}, shape "
                                  f"mismatches {wrong}")
    params = list(getattr(optimizer, "_params", ()))
    for name, info in infos.items():
        if not name.startswith(("model/", "optimizer/")) and name != "rng/gpu":
            raise CheckpointError(f"checkpoint {path}: unexpected array {name!r}")
        if name.startswith("optimizer/") and params:
            parts = name.split("/")
            index = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else -1
            if not 0 <= index < len(params) or info.shape not in ((), params[index].shape):
                raise CheckpointError(f"checkpoint {path}: optimiser array {name!r} "
                                      f"{info.shape} fits none of the optimiser's "
                                      f"{len(params)} parameters")


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_meta(path: str, meta: Any) -> None:
    """Types and ranges of everything ``restore_checkpoint`` will use; CheckpointError."""
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {path} has invalid metadata: {what}")

    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a minialex checkpoint")
    version = meta.get("version")
    if type(version) is not int or version < 1:
        raise bad(f"version {version!r}")
    if version > CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {version}; this "
                              f"minialex reads up to {CHECKPOINT_VERSION}")
    sha = meta.get("sha256")
    if not (isinstance(sha, str) and len(sha) == 64):
        raise bad("no sha256 checksum")
    epoch = meta.get("epoch")
    if type(epoch) is not int or epoch < 0:
        raise bad(f"epoch {epoch!r} (expected an int >= 0)")
    for key in ("config", "extra"):
        if not isinstance(meta.get(key, {}), dict):
            raise bad(f"{key} is {type(meta[key]).__name__}, not a dict")
    best = meta.get("extra", {}).get("best_top1", -1.0)
    if not (_real(best) and -1.0 <= best <= 1.0):
        raise bad(f"best_top1 {best!r} (expected -1 or an accuracy in [0, 1])")
    history = meta.get("history")
    if history is not None:
        loss = history.get("iteration_loss") if isinstance(history, dict) else None
        epochs = history.get("epochs") if isinstance(history, dict) else None
        if not (isinstance(loss, list) and all(_real(v) for v in loss)
                and isinstance(epochs, list) and all(isinstance(e, dict) for e in epochs)):
            raise bad("history must hold a list of losses and a list of epoch records")
    if "rng" in meta:
        try:  # on a scratch generator: the global one is set only by restore
            np.random.PCG64().state = meta["rng"]
        except (TypeError, ValueError, KeyError) as exc:
            raise bad(f"random state ({type(exc).__name__}: {exc})") from None
    info = meta.get("optimizer")
    if info is not None:
        groups = info.get("param_groups") if isinstance(info, dict) else None
        if not (isinstance(info, dict) and isinstance(info.get("type"), str)
                and isinstance(groups, list) and all(isinstance(g, dict) for g in groups)
                and isinstance(info.get("scalars", {}), dict)):
            raise bad("optimizer must hold a type, a list of parameter groups and scalars")
        for group in groups:
            for key, value in group.items():
                values = value if isinstance(value, list) else [value]
                if not all(_real(v) and math.isfinite(v) and v >= 0 for v in values):
                    raise bad(f"optimiser {key} {value!r} (expected finite numbers >= 0)")
        for i, scalars in info.get("scalars", {}).items():
            if not (str(i).isdigit() and isinstance(scalars, dict)
                    and all(_real(v) for v in scalars.values())):
                raise bad(f"optimiser scalars of parameter {i!r}")
    sched = meta.get("scheduler")
    if sched is not None and not (isinstance(sched, dict) and isinstance(sched.get("type"), str)
                                  and isinstance(sched.get("state"), dict)):
        raise bad("scheduler must hold a type and a state")


def same_kind(saved: Any, current: Any) -> bool:
    """A JSON value that can stand where ``current`` stands: an int where an int counts, a
    finite number (or None, "not yet") where a number or None is kept, lists of those."""
    if current is None or (_real(current) and not isinstance(current, int)):
        return saved is None or (_real(saved) and math.isfinite(saved))
    if isinstance(current, int) and not isinstance(current, bool):
        return type(saved) is int
    if isinstance(current, (list, tuple)):
        return isinstance(saved, list) and len(saved) == len(current) and all(
            same_kind(a, b) for a, b in zip(saved, current, strict=True))
    return isinstance(saved, type(current))
