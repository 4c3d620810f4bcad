"""Small pieces the property modules share: checking what the learner returned, comparing it
with an oracle, central differences of an oracle, and the seeded arrays every case draws."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minialex.backend import np
from minialex.exercises.runner import Mismatch
from minialex.gradcheck import numerical_gradient, rel_error

__all__ = ["returned_array", "returned_tuple", "compare", "worst", "central_differences",
           "random_arrays"]


def returned_array(value: Any, function: str, shape: tuple[int, ...]) -> Any:
    """The learner's return value as a float64 array of ``shape``, else Mismatch."""
    if not isinstance(value, np.ndarray):
        raise Mismatch(f"{function} returned {type(value).__name__}, expected a NumPy array of "
                       f"shape {shape}")
    if value.shape != tuple(shape):
        raise Mismatch(f"{function} returned shape {value.shape}, expected {tuple(shape)}")
    if not np.issubdtype(value.dtype, np.number) and value.dtype != np.bool_:
        raise Mismatch(f"{function} returned an array of {value.dtype}, expected numbers")
    if np.issubdtype(value.dtype, np.floating) and value.dtype.itemsize < 8:
        raise Mismatch(f"{function} returned {value.dtype}: compute in float64, the inputs' "
                       "dtype (float32 rounding, ~1e-7, is above most tolerances here)")
    return value.astype(np.float64)


def returned_tuple(value: Any, function: str, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The learner's tuple return value, e.g. (dx, dw, db), else Mismatch."""
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        got = (f"a {len(value)}-tuple" if isinstance(value, (tuple, list))
               else type(value).__name__)
        raise Mismatch(f"{function} should return ({', '.join(names)}), got {got}")
    return tuple(value)


def compare(ours: Any, expected: Any) -> float:
    """rel_error (CS231n: max |a - b| / max(1e-8, |a| + |b|), element by element)."""
    return rel_error(np.asarray(ours, dtype=np.float64), np.asarray(expected, dtype=np.float64))


def worst(tolerance: float, **errors: float) -> float:
    """The largest of several named relative errors; Mismatch naming the first one above
    ``tolerance`` (e.g. dw when dx and db are right)."""
    for name, err in errors.items():
        if not err <= tolerance:
            raise Mismatch(f"{name}: rel_error {err:.2e} is above the tolerance "
                           f"{tolerance:.0e}", err)
    return max(errors.values())


def central_differences(loss: Callable[[], float], *arrays: Any, eps: float) -> list[Any]:
    """d loss / d array for each array (perturbed in place and restored), float64."""
    return [numerical_gradient(loss, a, eps) for a in arrays]


def random_arrays(seed: int, *shapes: tuple[int, ...]) -> list[Any]:
    """Standard normal float64 arrays of ``shapes`` from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]
