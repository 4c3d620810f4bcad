"""Weight initialisers, in place, with PyTorch's names and semantics.

Each function overwrites ``tensor.data`` in place (keeping its dtype and device, so optimiser
references stay valid) with numbers from ``rng`` or the backend's global generator
(``backend.manual_seed`` makes them reproducible), and returns the tensor.

- AlexNet paper (section 5): weights from N(0, 0.01); biases 1 in conv2, conv4, conv5 and the
  hidden fully connected layers (so ReLUs start with positive inputs), 0 elsewhere.
- Glorot and Bengio (2010), "Understanding the difficulty of training deep feedforward neural
  networks": variance 2 / (fan_in + fan_out) keeps activations and gradients at a steady scale.
- He et al. (2015), "Delving Deep into Rectifiers": variance 2 / fan_in for ReLU networks,
  which halve the variance at every layer.
"""

from __future__ import annotations

import math
from typing import Any

from minialex import backend
from minialex.tensor import Tensor

__all__ = [
    "calculate_gain",
    "calculate_fan_in_and_fan_out",
    "normal_",
    "uniform_",
    "constant_",
    "zeros_",
    "ones_",
    "xavier_uniform_",
    "xavier_normal_",
    "glorot_uniform_",
    "glorot_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "he_uniform_",
    "he_normal_",
]


def _array(tensor: Tensor, fn: str) -> Any:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{fn}: expected a Tensor or Parameter, got {type(tensor).__name__}")
    xp = backend.get_array_module(tensor.data)
    if not xp.issubdtype(tensor.dtype, xp.floating):
        raise TypeError(f"init.{fn}: expected a floating-point tensor, got {tensor.dtype}")
    return tensor.data


def _random_dtype(dtype: Any) -> Any:
    """Generators draw float32 or float64 directly; other float types go through float32."""
    np = backend.np
    return dtype if dtype in (np.float32, np.float64) else np.float32


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended std multiplier for a nonlinearity (as torch.nn.init.calculate_gain)."""
    linear = ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: Linear (out, in) -> (in, out); Conv2d (out, in/groups,
    kh, kw) -> (in/groups * kh * kw, out * kh * kw)."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"calculate_fan_in_and_fan_out: needs a weight with at least 2 "
                         f"dimensions, got shape {shape}")
    receptive = 1
    for n in shape[2:]:
        receptive *= n
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor: Tensor, values: Any) -> Tensor:
    tensor.data[...] = values
    return tensor


def _rng(tensor: Tensor, rng: Any) -> Any:
    return rng if rng is not None else backend.get_rng(like=tensor.data)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 0.01, rng: Any = None) -> Tensor:
    """Fill with N(mean, std**2); the default std 0.01 is the AlexNet paper's."""
    a = _array(tensor, "normal_")
    draw = _rng(tensor, rng).standard_normal(a.shape, dtype=_random_dtype(a.dtype))
    draw *= float(std)
    draw += float(mean)
    return _fill(tensor, draw)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: Any = None) -> Tensor:
    """Fill with U(a, b)."""
    arr = _array(tensor, "uniform_")
    draw = _rng(tensor, rng).random(arr.shape, dtype=_random_dtype(arr.dtype))
    draw *= float(b) - float(a)
    draw += float(a)
    return _fill(tensor, draw)


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value`` (the paper's bias of 1 is ``constant_(bias, 1)``)."""
    _array(tensor, "constant_")
    return _fill(tensor, float(value))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng=rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng=rng)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", rng: Any = None) -> Tensor:
    """He uniform: U(-b, b) with b = sqrt(3) * gain / sqrt(fan).

    As in PyTorch, the default nonlinearity "leaky_relu" with negative slope ``a = 0`` has the
    ReLU gain sqrt(2). PyTorch's default Linear/Conv2d init is ``kaiming_uniform_(w,
    a=sqrt(5))``: gain sqrt(1/3), so b = 1 / sqrt(fan_in).
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, rng=rng)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", rng: Any = None) -> Tensor:
    """He normal: N(0, std**2) with std = gain / sqrt(fan) (sqrt(2 / fan_in) for ReLU)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), rng=rng)


# The other common names for the same initialisers.
glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_
