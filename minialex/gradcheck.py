"""Numerical gradient checking: the tool every minialex layer is tested with.

Central differences, f'(x) ~ (f(x + eps) - f(x - eps)) / (2 eps), have error O(eps^2), but
each evaluation also loses ~1e-16 / eps of relative precision to rounding. In float64 with
eps = 1e-6 both are ~1e-10; in float32 rounding alone is ~1e-1, which is why checks run
in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from minialex import backend
from minialex.tensor import Tensor, no_grad

__all__ = ["gradcheck", "numerical_gradient", "rel_error", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised when analytic and numerical gradients disagree."""


def rel_error(a: Any, b: Any) -> float:
    """CS231n relative error: max over elements of |a - b| / max(1e-8, |a| + |b|).

    A NaN anywhere (or inf against inf) counts as an infinite error, so ``rel_error(...) > tol``
    cannot pass by accident.
    """
    a = backend.to_host(a.data if isinstance(a, Tensor) else a)
    b = backend.to_host(b.data if isinstance(b, Tensor) else b)
    np = backend.np
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ratio = np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))
    if ratio.size == 0:
        return 0.0
    return float(np.max(np.where(np.isnan(ratio), np.inf, ratio)))


def _check_tolerances(who: str, eps: Any, atol: Any = 0.0,
                      rtol: Any = 0.0) -> tuple[float, float, float]:
    """(eps, atol, rtol) as floats: eps finite and > 0, tolerances finite and >= 0.

    A NaN tolerance would make every comparison False, i.e. let every gradient pass.
    """
    values = {}
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, (int, float, backend.np.integer,
                                                             backend.np.floating)):
            raise TypeError(f"{who}: {name} must be a real number, got {value!r}")
        values[name] = float(value)
    if not (math.isfinite(values["eps"]) and values["eps"] > 0):
        raise ValueError(f"{who}: eps must be a finite number > 0, got {eps!r}")
    for name in ("atol", "rtol"):
        if not (math.isfinite(values[name]) and values[name] >= 0):
            raise ValueError(f"{who}: {name} must be a finite number >= 0, got "
                             f"{values[name]!r}")
    return values["eps"], values["atol"], values["rtol"]


def numerical_gradient(f: Callable[[], float], x: Any, eps: float = 1e-6) -> Any:
    """Central-difference gradient of the scalar ``f()`` with respect to array ``x``.

    ``x`` is perturbed in place, one element at a time, and restored. ``eps`` > 0.
    """
    eps = _check_tolerances("numerical_gradient", eps)[0]
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

    Returns True, or raises GradcheckError naming the worst element. A NaN or inf in either
    gradient fails. The ``.grad`` of every tensor the check backpropagates into (the inputs,
    parameters ``fn`` uses) is left as it was before the call.
    """
    eps, atol, rtol = _check_tolerances("gradcheck", eps, atol, rtol)
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

    with no_grad():
        out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    xp = backend.get_array_module(out.data)
    rng = backend.np.random.default_rng(seed)
    weights = xp.asarray(rng.standard_normal(out.shape), dtype=out.dtype)

    analytic = _analytic_gradients(_projected_loss(fn, args, weights), args, checked)

    def value() -> float:
        with no_grad():
            return float(_projected_loss(fn, args, weights).item())

    for i in checked:
        finite = xp.isfinite(analytic[i])
        if not bool(finite.all()):
            where = _host_index(xp.argmin(finite), finite.shape)
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {args[i].shape}): backward gave "
                f"{float(analytic[i][where])} at index {where}")
    if directional:
        return _check_directional(args, checked, analytic, value, rng, eps, atol, rtol)

    for i in checked:
        numeric = numerical_gradient(value, args[i].data, eps)
        diff = xp.abs(analytic[i] - numeric)
        bad = ~(diff <= atol + rtol * xp.abs(numeric))  # a NaN is out of tolerance
        if bool(bad.any()):
            worst = _host_index(xp.argmax(xp.where(xp.isnan(diff), xp.inf, diff)), diff.shape)
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {args[i].shape}): "
                f"{int(bad.sum())} of {bad.size} elements out of tolerance; worst at index "
                f"{worst}: analytic {float(analytic[i][worst]):.6g}, numerical "
                f"{float(numeric[worst]):.6g} (atol={atol}, rtol={rtol}, "
                f"rel_error={rel_error(analytic[i], numeric):.3g})")
    return True


def _host_index(flat_index: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A flat index (a 0-d device array is fine) as a tuple of Python ints, computed on the
    host: CuPy's unravel_index wants an array, NumPy's an int."""
    return tuple(int(j) for j in backend.np.unravel_index(int(flat_index), shape))


def _analytic_gradients(loss: Tensor, args: list[Any], checked: list[int]) -> dict[int, Any]:
    """Backprop ``loss`` and return the gradients of ``args[i]`` for i in ``checked``; every
    leaf's ``.grad`` is put back as it was (also when backward raises)."""
    leaves = [t for t in loss._topological_order() if t.is_leaf] if loss.requires_grad else []
    saved = [(t, t.grad) for t in leaves]
    for t in leaves:
        t.grad = None
    try:
        if loss.requires_grad:
            loss.backward()
        xp = backend.get_array_module(loss.data)
        return {i: (args[i].grad if args[i].grad is not None else xp.zeros_like(args[i].data))
                for i in checked}
    finally:
        for t, grad in saved:
            t.grad = grad


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
    if not abs(predicted - numeric) <= atol + rtol * abs(numeric):  # NaN fails too
        raise GradcheckError(
            f"directional gradcheck failed: backprop gives {predicted:.10g}, central "
            f"difference along a random unit direction gives {numeric:.10g} "
            f"(atol={atol}, rtol={rtol})")
    return True
