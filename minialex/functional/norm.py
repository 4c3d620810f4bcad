"""Normalisation: local response normalisation (the paper's formula) and batch norm.

Local response normalisation (Krizhevsky, Sutskever and Hinton, "ImageNet Classification with
Deep Convolutional Neural Networks", section 3.3) divides each activation by a power of the
summed squares of its neighbours across channels: "brightness normalisation" inspired by
lateral inhibition in real neurons. Batch normalisation (Ioffe and Szegedy, 2015) later replaced
it in most networks; the keras-bn AlexNet variant uses it.
"""

from __future__ import annotations

import math
from typing import Any

from minialex import backend
from minialex.functional import _parallel
from minialex.functional._checks import (
    as_tensor,
    check_bool,
    check_finite,
    check_floating,
    check_positive_int,
    check_rank,
    check_real,
    check_same_device,
    check_same_dtype,
)
from minialex.tensor import Tensor

__all__ = ["local_response_norm", "batch_norm"]


# ---------------------------------------------------------------- local response norm
def _channel_window_sum(a: Any, before: int, after: int) -> Any:
    """out[:, c] = sum of a[:, j] for j in [c - before, c + after] clipped to [0, C).

    One shifted slice-add per window offset (``size - 1`` adds in all): exact, unlike a
    cumulative-sum difference, which loses precision in float32 when values vary widely.
    """
    out = a.copy()
    channels = a.shape[1]
    for d in range(1, min(before, channels - 1) + 1):
        out[:, d:] += a[:, :-d]
    for d in range(1, min(after, channels - 1) + 1):
        out[:, :-d] += a[:, d:]
    return out


def local_response_norm(x: Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 2.0) -> Tensor:
    """Local response normalisation across channels, with the paper's formula and defaults.

    ``b[c] = a[c] / (k + alpha * sum_j a[j]**2) ** beta``, the sum running over the ``size``
    channels around ``c`` (``size // 2`` before, ``(size - 1) // 2`` after, as PyTorch places
    even windows), clipped at the first and last channel. The paper uses size 5,
    alpha 1e-4, beta 0.75, k 2.

    PyTorch's ``local_response_norm`` divides alpha by ``size`` (it averages the squares
    instead of summing them), so ``local_response_norm(x, n, alpha, beta, k)`` here equals
    ``torch.nn.functional.local_response_norm(x, n, alpha * n, beta, k)``.

    x: (N, C, ...) with at least one spatial axis, usually (N, C, H, W) -> same shape.
    """
    layer = "local_response_norm"
    x = as_tensor(x, layer)
    check_floating(layer, x)
    if x.ndim < 3:
        raise ValueError(f"{layer}: expected a 3-D or higher input (N, C, H, W), "
                         f"got shape {x.shape}")
    size = check_positive_int(layer, "size", size)
    alpha, beta, k = (check_real(layer, name, v) for name, v in
                      (("alpha", alpha), ("beta", beta), ("k", k)))
    check_finite(layer, x)
    a = x.data
    before, after = size // 2, (size - 1) // 2

    den = _channel_window_sum(a * a, before, after)
    den *= alpha
    den += k
    scale = den ** -beta  # Python-float exponent: stays in x's dtype
    out_data = a * scale

    def _backward(g: Any) -> None:
        # d out[i] / d a[j] = scale[i] * [i == j] - 2 alpha beta a[j] out[i] / den[i] for j in
        # window(i). Sending gradients back sums over the i whose window holds j: the mirrored
        # window, ``after`` channels before j and ``before`` channels after it.
        t = g * out_data
        t /= den
        back = _channel_window_sum(t, after, before)
        back *= a
        back *= -2.0 * alpha * beta
        back += g * scale
        x.accumulate_grad(back, owned=True)

    return Tensor.from_op(out_data, (x,), _backward, op="local_response_norm")


# ---------------------------------------------------------------- batch norm
# Below this many values per map (H*W) a per-channel reduction or broadcast runs NumPy's
# inner loop on rows too short to be fast (36 values for AlexNet's last maps).
_SHORT_MAP = 1024


def _channel_sum(a: Any) -> Any:
    """Sum over every axis but the channel axis 1: (N, C, ...) -> (C,).

    Reductions along contiguous axes: no transposed copy (einsum makes one on CuPy). Long
    maps are summed along each map first (NumPy sums contiguous runs pairwise, accurate in
    float32), short maps over N first, whose rows are whole images (C*H*W contiguous values).
    """
    if a.ndim == 2:
        return a.sum(axis=0)
    n, c = a.shape[:2]
    if math.prod(a.shape[2:]) < _SHORT_MAP:  # short rows: summing over N first is faster
        return a.sum(axis=0).reshape(c, -1).sum(axis=1)
    return a.reshape(n, c, -1).sum(axis=2).sum(axis=0)


def _channel_dot(a: Any, b: Any) -> Any:
    """Sum over every axis but 1 of ``a * b``: (N, C, ...) twice -> (C,).

    For (N, C, H, W) one batched matrix product of N*C row-by-column dot products (each image
    and channel: a (1, H*W) row times a (H*W, 1) column), so no full-size temporary and no
    transposed copy; for (N, C) the product is as small as the data.
    """
    if a.ndim == 2:
        return (a * b).sum(axis=0)
    xp = backend.get_array_module(a)
    n, c = a.shape[:2]
    return xp.matmul(a.reshape(n, c, 1, -1), b.reshape(n, c, -1, 1)).reshape(n, c).sum(axis=0)


def _check_vector(layer: str, name: str, v: Tensor | None, channels: int) -> None:
    if v is not None and v.shape != (channels,):
        raise ValueError(f"{layer}: {name} must have shape ({channels},) to match the input's "
                         f"{channels} channels (axis 1), got shape {v.shape}")


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every axis but the channel axis 1.

    Training: normalise with the batch mean and (biased) variance, and update the running
    buffers in place as PyTorch does: ``running = (1 - momentum) * running + momentum * stat``,
    with the unbiased variance (``n / (n - 1)``) going into ``running_var``. Evaluation:
    normalise with the running statistics. Then ``y = weight * x_hat + bias``.

    x: (N, C), (N, C, L) or (N, C, H, W); running_mean, running_var, weight, bias: (C,) or
    None -> same shape as x. Gradients flow to x, weight and bias (not to the buffers).
    """
    layer = "batch_norm"
    x = as_tensor(x, layer)
    check_floating(layer, x)
    check_rank(layer, x, (2, 3, 4), "(N, C), (N, C, L) or (N, C, H, W)")
    training = check_bool(layer, "training", training)
    momentum = check_real(layer, "momentum", momentum, 0.0, 1.0)
    eps = check_real(layer, "eps", eps, 0.0)
    channels = x.shape[1]
    named = {"running_mean": running_mean, "running_var": running_var, "weight": weight,
             "bias": bias}
    for name, v in named.items():
        if v is not None:
            named[name] = as_tensor(v, layer, name)
            _check_vector(layer, name, named[name], channels)
    running_mean, running_var = named["running_mean"], named["running_var"]
    weight, bias = named["weight"], named["bias"]
    check_same_dtype(layer, input=x, **named)
    check_same_device(layer, input=x, **named)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{layer}: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError(f"{layer}: evaluation mode (training=False) needs running_mean and "
                         "running_var")
    check_finite(layer, x)

    xp = backend.get_array_module(x.data)
    a = x.data
    map_size = math.prod(a.shape[2:])  # values per channel and image (1 for (N, C))
    count = a.shape[0] * map_size  # values per channel (also when C = 0)
    eps = float(eps)
    if training and count < 2:
        raise ValueError(f"{layer}: training needs more than one value per channel to "
                         f"estimate a variance, got input shape {x.shape}")

    def per_channel(v: Any) -> Any:
        """(C',) -> (1, C', ...): each channel's value repeated over its map, so that a
        per-channel add or multiply runs along whole images (C'*H*W contiguous values), not
        along single maps (36 values at 6x6; benchmarks/README.md's before/after table)."""
        return xp.repeat(v, map_size).reshape((1, v.shape[0]) + a.shape[2:])

    # Every channel is normalised on its own, so the channels are shared among the cores
    # (``_parallel``): each thread runs the whole method on its slice ``[:, ch]``.
    if training:
        mean, var = xp.empty(channels, dtype=a.dtype), xp.empty(channels, dtype=a.dtype)
    else:
        # Copies: a later training step updates the buffers in place before this backward.
        mean, var = running_mean.data.copy(), running_var.data
    invstd = xp.empty(channels, dtype=a.dtype)
    scale = xp.empty(channels, dtype=a.dtype)  # y = centred * scale + bias
    out_data = xp.empty_like(a)

    def normalise(ch: slice) -> None:
        a_c, out = a[:, ch], out_data[:, ch]
        if not training:  # constant statistics: y = x * scale + shift, two passes
            invstd[ch] = 1.0 / xp.sqrt(var[ch] + eps)
            scale[ch] = invstd[ch] if weight is None else invstd[ch] * weight.data[ch]
            shift = -mean[ch] * scale[ch] + (0 if bias is None else bias.data[ch])
            xp.multiply(a_c, per_channel(scale[ch]), out=out)
            out += per_channel(shift)
            return
        mean[ch] = _channel_sum(a_c) / count
        xp.subtract(a_c, per_channel(mean[ch]), out=out)  # centred, in the output's buffer
        var[ch] = _channel_dot(out, out) / count  # two-pass: no cancellation
        invstd[ch] = 1.0 / xp.sqrt(var[ch] + eps)
        scale[ch] = invstd[ch] if weight is None else invstd[ch] * weight.data[ch]
        out *= per_channel(scale[ch])  # x_hat is recomputed in backward, not stored
        if bias is not None:
            out += per_channel(bias.data[ch])

    _parallel.split(lambda c0, c1: normalise(slice(c0, c1)), channels, a, 3 * a.nbytes)
    if training and running_mean is not None:
        m = float(momentum)
        running_mean.data *= 1.0 - m
        running_mean.data += m * mean
        running_var.data *= 1.0 - m
        running_var.data += (m * count / (count - 1)) * var

    def _backward(g: Any) -> None:
        need_w = weight is not None and weight.requires_grad
        need_b = bias is not None and bias.requires_grad
        batch_stats = training and x.requires_grad  # then dx also involves sum(g), sum(g x_hat)
        g_sum = xp.empty(channels, dtype=g.dtype) if (need_b or batch_stats) else None
        gx_sum = xp.empty(channels, dtype=g.dtype) if (need_w or batch_stats) else None
        dx = xp.empty_like(g) if x.requires_grad else None

        def gradients(ch: slice) -> None:
            g_c = g[:, ch]
            if g_sum is not None:
                g_sum[ch] = _channel_sum(g_c)
            if gx_sum is not None:  # x_hat = centred * invstd, never stored
                centred = a[:, ch] - per_channel(mean[ch]) if dx is None else dx[:, ch]
                if dx is not None:  # built in dx's buffer to save a full-size temporary
                    xp.subtract(a[:, ch], per_channel(mean[ch]), out=centred)
                gx_sum[ch] = _channel_dot(g_c, centred) * invstd[ch]  # sum(g * x_hat)
            if dx is None:
                return
            out = dx[:, ch]
            if not training:  # running statistics are constants
                xp.multiply(g_c, per_channel(scale[ch]), out=out)
                return
            # Compact form: dx = scale / n * (n g - sum(g) - x_hat * sum(g x_hat)), per
            # channel, with out holding the centred input.
            out *= per_channel(-scale[ch] * invstd[ch] * gx_sum[ch] / count)
            out -= per_channel(scale[ch] * g_sum[ch] / count)
            out += g_c * per_channel(scale[ch])

        _parallel.split(lambda c0, c1: gradients(slice(c0, c1)), channels, g, 3 * g.nbytes)
        if need_b:
            bias.accumulate_grad(g_sum, owned=True)
        if need_w:
            weight.accumulate_grad(gx_sum, owned=True)
        if dx is not None:
            x.accumulate_grad(dx, owned=True)

    parents = tuple(t for t in (x, weight, bias) if t is not None)
    return Tensor.from_op(out_data, parents, _backward, op="batch_norm")
