"""Losses: numerically stable cross-entropy on integer class targets."""

from __future__ import annotations

from typing import Any

from minialex import backend
from minialex.functional import _checks
from minialex.functional._checks import as_tensor, check_finite, check_floating, check_rank
from minialex.functional.activation import _shifted
from minialex.tensor import Tensor

__all__ = ["cross_entropy", "check_target"]

_REDUCTIONS = ("mean", "sum", "none")


def check_target(target: Any, classes: int, layer: str = "cross_entropy") -> None:
    """ValueError unless every class index in ``target`` is in [0, classes).

    Reads the smallest and largest index: free for a host array, one device-to-host transfer
    (which waits for the GPU) for a device array.
    """
    if isinstance(target, Tensor):
        target = target.data
    if not target.size:
        return
    xp = backend.get_array_module(target)
    low, high = (int(v) for v in backend.to_host(xp.stack([target.min(), target.max()])))
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise ValueError(f"{layer}: target class {bad} out of range for {classes} classes "
                         f"(expected 0 <= target <= {classes - 1})")


def _target_array(target: Any, logits: Tensor) -> tuple[Any, Any]:
    """(the integer class indices on the logits' device, None or a device mask of the valid
    ones). A host target is checked at once; a device target is not read back (that would
    stall the GPU every step) unless MINIALEX_DEBUG is set: the mask makes the loss of an
    out-of-range row NaN instead."""
    layer = "cross_entropy"
    if isinstance(target, Tensor):
        target = target.data
    if not backend.is_array(target):
        target = backend.np.asarray(target)
    xp = backend.get_array_module(target)
    if not xp.issubdtype(target.dtype, xp.integer):
        raise TypeError(f"{layer}: target must hold integer class indices, got dtype "
                        f"{target.dtype}")
    n, classes = logits.shape
    if target.shape != (n,):
        raise ValueError(f"{layer}: target must have shape ({n},), one class index per row of "
                         f"logits {logits.shape}, got shape {tuple(target.shape)}")
    if xp is backend.np or _checks.DEBUG:
        check_target(target, classes, layer)
        return backend.to_device(target, logits.device), None
    target = backend.to_device(target, logits.device)
    valid = (target >= 0) & (target < classes)
    return xp.clip(target, 0, classes - 1), valid


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: -log softmax(logits)[i, target[i]], reduced over the batch.

    Uses log-sum-exp with the row maximum subtracted, so logits of 1e4 neither overflow nor
    lose the loss. The backward is fused: d loss / d logits = softmax - one_hot(target)
    (divided by N for ``reduction="mean"``).

    logits: (N, classes); target: (N,) integer class indices (NumPy/CuPy array or Tensor) ->
    () for "mean" and "sum", (N,) for "none". A host target outside [0, classes) is a
    ValueError; a target on the GPU is not read back to check it (a blocking transfer every
    step), so an out-of-range class there gives a NaN loss (``check_target`` names it;
    ``fit`` calls it when the loss is not finite; MINIALEX_DEBUG=1 checks every call).
    """
    layer = "cross_entropy"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{layer}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    logits = as_tensor(logits, layer, "logits")
    check_floating(layer, logits)
    check_rank(layer, logits, 2, "(N, classes) logits")
    check_finite(layer, logits)
    t, valid = _target_array(target, logits)
    xp = backend.get_array_module(logits.data)
    n = logits.shape[0]
    rows = xp.arange(n)

    shifted, lse = _shifted(xp, logits.data, 1)
    losses = lse[:, 0] - shifted[rows, t]
    if valid is not None:
        losses = xp.where(valid, losses, xp.nan)
    if reduction == "mean":
        out_data = xp.asarray(losses.mean() if n else xp.nan, dtype=logits.dtype)
    elif reduction == "sum":
        out_data = xp.asarray(losses.sum())
    else:
        out_data = losses

    def _backward(g: Any) -> None:
        grad = xp.exp(shifted - lse)  # softmax
        grad[rows, t] -= 1
        if reduction == "none":
            grad *= g[:, None]
        elif reduction == "mean":
            grad *= g / n
        else:
            grad *= g
        logits.accumulate_grad(grad, owned=True)
    return Tensor.from_op(out_data, (logits,), _backward, op="cross_entropy")
