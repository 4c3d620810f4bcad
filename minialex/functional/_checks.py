"""Shared input validation and shape arithmetic for the functional ops.

Every error names the layer, what it expected and what it received, so a learner who feeds
a 3x32x32 image into a 227x227 AlexNet is told which layer broke and why.
"""

from __future__ import annotations

import math
from typing import Any

from minialex import backend
from minialex.tensor import Tensor

# Sizes, strides and paddings must fit the array libraries' 64-bit index type.
_MAX_INDEX = 2**63 - 1


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, backend.np.integer))


def pair(value: int | tuple[int, int], name: str = "value") -> tuple[int, int]:
    """7 -> (7, 7); (3, 5) stays. Only ints: a float such as 1.9 or a string such as '2' is
    a TypeError (never truncated or parsed), a value beyond 64 bits a ValueError."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {value!r}")
        items = tuple(value)
    else:
        items = (value, value)
    if not all(_is_int(v) for v in items):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if any(abs(int(v)) > _MAX_INDEX for v in items):
        raise ValueError(f"{name} must fit in 64 bits, got {value!r}")
    return int(items[0]), int(items[1])


def output_size(n: int, kernel: int, stride: int, padding: int, ceil_mode: bool = False) -> int:
    """floor((n + 2p - f) / s) + 1 (or ceil with ``ceil_mode``): the conv/pool output length."""
    span = n + 2 * padding - kernel
    steps = math.ceil(span / stride) if ceil_mode else span // stride
    out = steps + 1
    # PyTorch's rule: with ceil_mode the last window must start inside the (left-padded) input.
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return out


def adaptive_output_size(output_size: int | tuple[int | None, int | None], h: int, w: int,
                         layer: str = "adaptive_avg_pool2d") -> tuple[int, int]:
    """Adaptive pooling's (OH, OW) for an H x W input: an int, a pair, or a pair with None
    (keep that input size); ValueError unless both are >= 1.
    """
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        oh, ow = pair((h if output_size[0] is None else output_size[0],
                       w if output_size[1] is None else output_size[1]), f"{layer} output_size")
    else:
        oh, ow = pair(output_size, f"{layer} output_size")
    if oh < 1 or ow < 1:
        raise ValueError(f"{layer}: output size must be at least (1, 1), got {(oh, ow)} "
                         f"(input size {(h, w)})")
    return oh, ow


def as_tensor(x: Any, layer: str, name: str = "input") -> Tensor:
    if isinstance(x, Tensor):
        return x
    if backend.is_array(x):
        return Tensor(x)
    raise TypeError(f"{layer}: {name} must be a Tensor or an array, got {type(x).__name__}")


def check_rank(layer: str, x: Tensor, ndims: int | tuple[int, ...], layout: str,
               name: str = "input") -> None:
    """Raise ValueError unless ``x.ndim`` is one of ``ndims``; ``layout`` e.g. "(N, C, H, W)".

    ``name`` says which argument ``x`` is ("input", "weight") in the message.
    """
    allowed = (ndims,) if isinstance(ndims, int) else ndims
    if x.ndim not in allowed:
        raise ValueError(f"{layer}: expected a {'- or '.join(map(str, allowed))}-D {name} "
                         f"{layout}, got shape {x.shape}")


def check_window(layer: str, kernel: int | tuple[int, int], stride: int | tuple[int, int] | None,
                 padding: int | tuple[int, int], *, half_kernel_padding: bool = False
                 ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Kernel, stride and padding of a conv/pool window as validated (height, width) pairs.

    kernel >= 1, stride >= 1 (None means the kernel size, PyTorch's pooling default),
    padding >= 0, and with ``half_kernel_padding`` (pooling) padding <= kernel // 2.
    """
    k = pair(kernel, f"{layer} kernel_size")
    s = k if stride is None else pair(stride, f"{layer} stride")
    p = pair(padding, f"{layer} padding")
    if min(k) < 1:
        raise ValueError(f"{layer}: kernel_size must be >= 1, got {k}")
    if min(s) < 1:
        raise ValueError(f"{layer}: stride must be >= 1, got {s}")
    if half_kernel_padding:
        half = (k[0] // 2, k[1] // 2)
        if min(p) < 0 or p[0] > half[0] or p[1] > half[1]:
            raise ValueError(f"{layer}: padding must be between 0 and half the kernel size "
                             f"{half} (kernel {k}), got {p}")
    elif min(p) < 0:
        raise ValueError(f"{layer}: padding must be >= 0, got {p}")
    return k, s, p


def check_floating(layer: str, x: Tensor) -> None:
    """float32 or float64 only: float16 (and longdouble) is refused here rather than failing
    inside NumPy's random generator or BLAS later."""
    if x.dtype not in (backend.np.float32, backend.np.float64):
        raise TypeError(f"{layer}: expected a floating-point input (float32 or float64), "
                        f"got {x.dtype}")


def check_not_empty(layer: str, x: Tensor, layout: str, name: str = "input",
                    batch_axes: int = 1) -> None:
    """Every axis after the first ``batch_axes`` has a non-zero size (PyTorch's rule for conv
    and pooling: an empty batch is fine, an image with no channels or no pixels is not)."""
    if 0 in x.shape[batch_axes:]:
        raise ValueError(f"{layer}: expected {name} {layout} with non-zero sizes"
                         f"{' after the batch axis' if batch_axes else ''}, got shape {x.shape}")


def check_int(layer: str, name: str, value: Any) -> int:
    """``value`` as a Python int (an axis, a count); a bool, float or str is a TypeError."""
    if not _is_int(value):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r}")
    return int(value)


def check_bool(layer: str, name: str, value: Any) -> bool:
    """``value`` as a bool: a flag given as "no" or 0.5 is a TypeError, not silently True."""
    if not isinstance(value, (bool, backend.np.bool_)):
        raise TypeError(f"{layer}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_real(layer: str, name: str, value: Any, low: float = -math.inf,
               high: float = math.inf) -> float:
    """``value`` as a finite float in [low, high]; a str or None is a TypeError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, backend.np.integer,
                                                         backend.np.floating)):
        raise TypeError(f"{layer}: {name} must be a real number, got {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        bounds = f" in [{low:g}, {high:g}]" if math.isfinite(low) or math.isfinite(high) else ""
        raise ValueError(f"{layer}: {name} must be a finite number{bounds}, got {value!r}")
    return float(value)


def empty_result(layer: str, shape: tuple[int, ...], parents: tuple[Tensor, ...],
                 like: Tensor) -> Tensor:
    """The empty output PyTorch gives for an empty input (shape has a 0): each parent that
    needs a gradient gets zeros."""
    xp = backend.get_array_module(like.data)

    def _backward(g: Any) -> None:
        for p in parents:
            p.accumulate_grad(xp.zeros_like(p.data), owned=True)
    return Tensor.from_op(xp.zeros(shape, dtype=like.dtype), parents, _backward, op=layer)


def check_same_dtype(layer: str, **tensors: Tensor | None) -> None:
    """All given tensors share one dtype: minialex never promotes silently."""
    named = {k: v for k, v in tensors.items() if v is not None}
    dtypes = {str(v.dtype) for v in named.values()}
    if len(dtypes) > 1:
        listing = ", ".join(f"{k}: {v.dtype}" for k, v in named.items())
        raise TypeError(f"{layer}: mixed dtypes ({listing}); cast explicitly with "
                        ".float() or .double()")


def check_same_device(layer: str, **tensors: Tensor | None) -> None:
    named = {k: v for k, v in tensors.items() if v is not None}
    devices = {v.device for v in named.values()}
    if len(devices) > 1:
        listing = ", ".join(f"{k}: {v.device}" for k, v in named.items())
        raise ValueError(f"{layer}: tensors on different devices ({listing}); move them "
                         "with .to('cpu') or .to('gpu')")


def check_finite(layer: str, x: Tensor) -> None:
    """In debug mode (MINIALEX_DEBUG=1) reject NaN/inf inputs early, naming the layer."""
    if not DEBUG:
        return
    xp = backend.get_array_module(x.data)
    if not bool(xp.isfinite(x.data).all()):
        raise ValueError(f"{layer}: input contains NaN or inf (shape {x.shape})")


def _debug_from_env() -> bool:
    import os

    return os.environ.get("MINIALEX_DEBUG", "") not in ("", "0", "false", "False")


DEBUG = _debug_from_env()


def set_debug(flag: bool) -> None:
    """Turn NaN/inf checks on every layer input on or off (also env MINIALEX_DEBUG=1)."""
    global DEBUG
    DEBUG = bool(flag)


def check_positive_int(layer: str, name: str, value: Any) -> int:
    """``value`` as an int >= 1, else ValueError naming the layer and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, backend.np.integer)) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return int(value)


def check_probability(layer: str, p: Any) -> float:
    """``p`` as a float in [0, 1], else ValueError (dropout's drop probability)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, backend.np.integer,
                                                 backend.np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"{layer}: probability p must be in [0, 1], got {p!r}")
    return float(p)
