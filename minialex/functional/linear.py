"""Fully connected layer and flatten: AlexNet's classifier head (fc6, fc7, fc8)."""

from __future__ import annotations

from typing import Any

from minialex import backend
from minialex.functional._checks import (
    as_tensor,
    check_finite,
    check_floating,
    check_rank,
    check_same_device,
    check_same_dtype,
)
from minialex.tensor import Tensor

__all__ = ["linear", "flatten"]


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """y = x @ w.T + b, one GEMM.

    x: (N, in) (or (..., in): leading axes are batch axes), w: (out, in) as in PyTorch,
    b: (out,) or None -> (N, out).
    """
    layer = "linear"
    x = as_tensor(x, layer)
    w = as_tensor(w, layer, "weight")
    b = None if b is None else as_tensor(b, layer, "bias")
    check_floating(layer, x)
    check_rank(layer, w, 2, "(out_features, in_features)", "weight")
    out_features, in_features = w.shape
    if x.ndim < 1 or x.shape[-1] != in_features:
        raise ValueError(f"{layer}: expected input with {in_features} features in its last "
                         f"axis (N, {in_features}) to match weight shape {w.shape}, got shape "
                         f"{x.shape}")
    if b is not None and b.shape != (out_features,):
        raise ValueError(f"{layer}: bias must have shape ({out_features},) to match weight "
                         f"shape {w.shape}, got {b.shape}")
    check_same_dtype(layer, input=x, weight=w, bias=b)
    check_same_device(layer, input=x, weight=w, bias=b)
    check_finite(layer, x)

    xp = backend.get_array_module(x.data)
    a = x.data.reshape(-1, in_features)  # batch axes folded into one: a single GEMM
    # (w @ a.T).T is x @ w.T with the large weight as BLAS's left operand, which OpenBLAS
    # runs faster for AlexNet's fc layers at small batches (benchmarks/README.md); the
    # transpose back to (N, out) is one small copy, fused with the bias add.
    prod_t = xp.matmul(w.data, a.T)  # (out, N)
    out_data = xp.empty((a.shape[0], out_features), dtype=prod_t.dtype)
    if b is None:
        out_data[...] = prod_t.T
    else:
        xp.add(prod_t.T, b.data, out=out_data)
    del prod_t
    out_data = out_data.reshape(x.shape[:-1] + (out_features,))

    def _backward(g: Any) -> None:
        g2 = g.reshape(-1, out_features)
        if x.requires_grad:
            x.accumulate_grad((g2 @ w.data).reshape(x.shape), owned=True)
        if w.requires_grad:
            w.accumulate_grad(g2.T @ a, owned=True)
        if b is not None and b.requires_grad:
            b.accumulate_grad(g2.sum(axis=0), owned=True)

    parents = (x, w) if b is None else (x, w, b)
    return Tensor.from_op(out_data, parents, _backward, op="linear")


def flatten(x: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` into one: (N, 256, 6, 6) -> (N, 9216) by default."""
    x = as_tensor(x, "flatten")
    nd = max(x.ndim, 1)  # a 0-D input flattens to shape (1,), as in PyTorch
    s, e = _axis(start_dim, nd), _axis(end_dim, nd)
    if s is None or e is None or s > e:
        raise ValueError(f"flatten: start_dim={start_dim}, end_dim={end_dim} do not select a "
                         f"range of axes of a {x.ndim}-D input of shape {x.shape}")
    if x.ndim == 0:
        return x.reshape(1)
    merged = 1
    for n in x.shape[s:e + 1]:
        merged *= n
    return x.reshape(x.shape[:s] + (merged,) + x.shape[e + 1:])


def _axis(d: int, ndim: int) -> int | None:
    """Non-negative axis index, or None when ``d`` is out of range."""
    return d % ndim if -ndim <= d < ndim else None
