"""Matplotlib figures for the lessons: filters, image grids, feature maps, curves, histograms.

matplotlib is optional (the ``[plot]`` extra) and imported only when a figure is made.
Every function takes Tensors or arrays (host or GPU) and returns a ``matplotlib.figure.Figure``;
saving and closing it is the caller's job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from minialex import backend

__all__ = ["filter_grid", "image_grid", "feature_maps", "plot_curves", "histogram", "pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("minialex.viz needs matplotlib: pip install -e \".[plot]\" "
                          "(or pip install matplotlib)") from exc
    return plt


def _host(a: Any) -> Any:
    """Host float64 NumPy copy of a Tensor or array."""
    data = getattr(a, "data", a)
    return backend.np.asarray(backend.to_host(data), dtype=backend.np.float64)


def _normalise(a: Any) -> Any:
    """Rescale to [0, 1] (a constant array becomes 0.5)."""
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-12:
        return backend.np.full_like(a, 0.5)
    return (a - lo) / (hi - lo)


def _grid(n: int, ncols: int | None) -> tuple[int, int]:
    cols = ncols or math.ceil(math.sqrt(n))
    cols = max(1, min(cols, n))
    return math.ceil(n / cols), cols


def _axes_grid(n: int, ncols: int | None, cell: float = 1.0, title: str | None = None
               ) -> tuple[Any, list[Any]]:
    plt = pyplot()
    rows, cols = _grid(n, ncols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell, rows * cell + (0.4 if title else 0)),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax in flat:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig, flat[:n]


def filter_grid(weights: Any, ncols: int | None = None, title: str | None = None) -> Any:
    """Conv filters as small images. weights: (C_out, C_in, KH, KW).

    With three input channels each filter is shown in colour (RGB), otherwise its first
    channel in grey. Each filter is normalised to [0, 1] on its own, as in the paper's
    figure of conv1's 96 kernels.
    """
    w = _host(weights)
    if w.ndim != 4:
        raise ValueError(f"filter_grid: expected weights (C_out, C_in, KH, KW), "
                         f"got shape {w.shape}")
    fig, axes = _axes_grid(w.shape[0], ncols, cell=0.8, title=title)
    for ax, f in zip(axes, w, strict=True):
        if f.shape[0] == 3:
            ax.imshow(_normalise(f.transpose(1, 2, 0)), interpolation="nearest")
        else:
            ax.imshow(_normalise(f[0]), cmap="gray", interpolation="nearest")
    return fig


def image_grid(images: Any, labels: Sequence[Any] | None = None, ncols: int | None = None,
               title: str | None = None, normalize: bool = True) -> Any:
    """A grid of images. images: (N, C, H, W) with C = 1 or 3.

    ``normalize=True`` (default) rescales each image to its own [min, max], so any range
    shows; ``normalize=False`` shows values as they are on a fixed [0, 1] scale (clipped),
    which keeps differences between images, such as a brightness shift, visible.
    """
    x = _host(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"image_grid: expected images (N, 1 or 3, H, W), got shape {x.shape}")
    fig, axes = _axes_grid(x.shape[0], ncols, cell=1.4, title=title)
    for i, (ax, img) in enumerate(zip(axes, x, strict=True)):
        if img.shape[0] == 3:
            rgb = img.transpose(1, 2, 0)
            rgb = _normalise(rgb) if normalize else backend.np.clip(rgb, 0.0, 1.0)
            ax.imshow(rgb, interpolation="nearest")
        elif normalize:
            ax.imshow(img[0], cmap="gray", interpolation="nearest")
        else:
            ax.imshow(img[0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=8)
    return fig


def feature_maps(activations: Any, max_maps: int = 64, ncols: int | None = None,
                 title: str | None = None) -> Any:
    """The channels of one activation as grey images. activations: (C, H, W) or (1, C, H, W)."""
    a = _host(activations)
    if a.ndim == 4:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"feature_maps: expected (C, H, W) or (1, C, H, W), got shape {a.shape}")
    a = a[:max_maps]
    fig, axes = _axes_grid(a.shape[0], ncols, cell=1.0, title=title)
    for ax, m in zip(axes, a, strict=True):
        ax.imshow(m, cmap="viridis", interpolation="nearest")
    return fig


def plot_curves(curves: Mapping[str, tuple[Any, Any]], xlabel: str = "", ylabel: str = "",
                title: str = "", hline: float | None = None, log: bool = False) -> Any:
    """Line plot of named (x, y) curves; ``hline`` draws a dashed target line, ``log`` a log y."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, (x, y) in curves.items():
        ax.plot(_host(x), _host(y), label=name)
    if hline is not None:
        ax.axhline(hline, color="grey", linestyle="--", linewidth=1)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def histogram(values: Mapping[str, Any], bins: int = 50, title: str = "") -> Any:
    """Overlaid histograms of named arrays (flattened), e.g. FC activations per variant."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, v in values.items():
        ax.hist(_host(v).ravel(), bins=bins, alpha=0.5, label=name)
    ax.set_title(title)
    ax.set_ylabel("count")
    if len(values) > 1:
        ax.legend()
    fig.tight_layout()
    return fig
