"""Numerical gradient checking: the tool every minialex layer is tested with.

Central differences, f'(x) ~ (f(x + eps) - f(x - eps)) / (2 eps), have error O(eps^2), but
each evaluation also loses ~1e-16 / eps of relative precision to rounding. In float64 with
eps = 1e-6 both are ~1e-10; in float32 rounding alone is ~1e-1, which is why checks run
in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from minialex import backend
from minialex.tensor import Tensor, no_grad

__all__ = ["gradcheck", "numerical_gradient", "rel_error", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised when analytic and numerical gradients disagree."""


def rel_error(a: Any, b: Any) -> float:
    """CS231n relative error: max over elements of |a - b| / max(1e-8, |a| + |b|)."""
    a = backend.to_host(a.data if isinstance(a, Tensor) else a)
    b = backend.to_host(b.data if isinstance(b, Tensor) else b)
    np = backend.np
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f: Callable[[], float], x: Any, eps: float = 1e-6) -> Any:
    """Central-difference gradient of the scalar ``f()`` with respect to array ``x``.

    ``x`` is perturbed in place, one element at a time, and restored.
    """
    xp = backend.get_array_module(x)
    if not x.flags.c_contiguous:  # reshape would copy and the pokes would be lost
        raise ValueError("numerical_gradient needs a C-contiguous array")
    grad = xp.zeros(x.shape, dtype=backend.np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(x.size):
        old = flat[i].copy()
        flat[i] = old + eps
        plus = float(f())
        flat[i] = old - eps
        minus = float(f())
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def _projected_loss(fn: Callable[..., Tensor], args: list[Any], weights: Any) -> Tensor:
    return (fn(*args) * Tensor(weights)).sum()


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    directional: bool = False,
    seed: int = 0,
) -> bool:
    """Check the gradients of ``fn(*inputs)`` against central differences.

    Every Tensor in ``inputs`` with ``requires_grad=True`` is checked (float64 required);
    non-contiguous and non-leaf inputs are checked through a contiguous leaf copy.
    The output is reduced to a scalar with fixed random weights, so every output element
    contributes. Each gradient element must satisfy ``|analytic - numeric| <= atol +
    rtol * |numeric|``. ``directional=True`` instead compares one directional derivative
    along a random unit vector over all inputs: two evaluations of ``fn`` instead of two per
    element, which keeps checks of full-size AlexNet layers fast.

    Returns True, or raises GradcheckError naming the worst element.
    """
    args = list(inputs)
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, nothing to check")
    for i in checked:
        if args[i].dtype != backend.np.float64:
            raise TypeError(f"gradcheck: input {i} is {args[i].dtype}; central differences "
                            "need float64 (float32 rounding swamps eps). Use .double()")
        data = args[i].data
        if not args[i].is_leaf or not data.flags.c_contiguous:
            # A non-leaf (e.g. x.double()) is checked as a leaf of its own; a strided view
            # (e.g. Tensor(a.T)) as a contiguous copy, since numerical_gradient pokes the
            # elements through a flat view. Both give the same function of the same values.
            xp = backend.get_array_module(data)
            args[i] = Tensor(xp.ascontiguousarray(data), requires_grad=True)
        args[i].grad = None

    with no_grad():
        out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    xp = backend.get_array_module(out.data)
    rng = backend.np.random.default_rng(seed)
    weights = xp.asarray(rng.standard_normal(out.shape), dtype=out.dtype)

    _projected_loss(fn, args, weights).backward()
    analytic = {i: (args[i].grad if args[i].grad is not None else xp.zeros_like(args[i].data))
                for i in checked}

    def value() -> float:
        with no_grad():
            return float(_projected_loss(fn, args, weights).item())

    if directional:
        return _check_directional(args, checked, analytic, value, rng, eps, atol, rtol)

    for i in checked:
        numeric = numerical_gradient(value, args[i].data, eps)
        diff = xp.abs(analytic[i] - numeric)
        bad = diff > atol + rtol * xp.abs(numeric)
        if bool(bad.any()):
            worst = tuple(int(j) for j in xp.unravel_index(int(xp.argmax(diff)), diff.shape))
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {args[i].shape}): "
                f"{int(bad.sum())} of {bad.size} elements out of tolerance; worst at index "
                f"{worst}: analytic {float(analytic[i][worst]):.6g}, numerical "
                f"{float(numeric[worst]):.6g} (atol={atol}, rtol={rtol}, "
                f"rel_error={rel_error(analytic[i], numeric):.3g})")
    return True


def _check_directional(args: list[Any], checked: list[int], analytic: dict[int, Any],
                       value: Callable[[], float], rng: Any, eps: float, atol: float,
                       rtol: float) -> bool:
    xp = backend.get_array_module(args[checked[0]].data)
    directions = {i: xp.asarray(rng.standard_normal(args[i].shape)) for i in checked}
    norm = sum(float((d**2).sum()) for d in directions.values()) ** 0.5
    directions = {i: d / norm for i, d in directions.items()}
    predicted = sum(float((analytic[i] * directions[i]).sum()) for i in checked)
    originals = {i: args[i].data.copy() for i in checked}

    def shifted(step: float) -> float:
        for i in checked:
            args[i].data[...] = originals[i] + step * directions[i]
        return value()

    try:
        numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
    finally:
        for i in checked:
            args[i].data[...] = originals[i]
    if abs(predicted - numeric) > atol + rtol * abs(numeric):
        raise GradcheckError(
            f"directional gradcheck failed: backprop gives {predicted:.10g}, central "
            f"difference along a random unit direction gives {numeric:.10g} "
            f"(atol={atol}, rtol={rtol})")
    return True
