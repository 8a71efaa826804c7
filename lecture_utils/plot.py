"""Figures for the course. Every function takes arrays/tensors and returns a matplotlib Figure;
nothing here computes a method.

Images are (H, W, 3) floats in [0, 1] (or uint8), or (H, W) maps; tensors are accepted and
moved to the CPU.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = [
    "to_array",
    "normalize01",
    "show_images",
    "filter_grid",
    "overlay",
    "compare",
    "topk_bar",
    "upsample_map",
]


def to_array(x: Any) -> np.ndarray:
    """Tensor/PIL/array -> numpy. (1,3,H,W) or (3,H,W) tensors become (H,W,3)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu()
        if x.ndim == 4:
            if x.shape[0] != 1:
                raise ValueError(f"expected one image, got a batch of shape {tuple(x.shape)}")
            x = x[0]
        if x.ndim == 3 and x.shape[0] in (1, 3):
            x = x.permute(1, 2, 0)
        x = x.numpy()
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    return x


def normalize01(x: Any, eps: float = 1e-12) -> np.ndarray:
    """Min-max scale an array to [0, 1] (a constant array becomes zeros)."""
    a = to_array(x).astype(np.float64)
    lo, hi = np.nanmin(a), np.nanmax(a)
    return np.zeros_like(a) if hi - lo < eps else (a - lo) / (hi - lo)


def upsample_map(heatmap: Any, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize an (h, w) map to ``size`` = (H, W)."""
    import torch.nn.functional as F

    h = torch.as_tensor(to_array(heatmap), dtype=torch.float32)
    if h.ndim != 2:
        raise ValueError(f"a heatmap must be 2-D (h, w), got shape {tuple(h.shape)}")
    return F.interpolate(h[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def _grid(n: int, ncols: int | None, size: float, aspect: float = 1.0) -> tuple[Figure, np.ndarray]:
    if n < 1:
        raise ValueError("nothing to plot: got 0 images")
    ncols = min(n, ncols or math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * aspect), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def show_images(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 2.2,
    cmap: str = "gray",
    suptitle: str | None = None,
    normalize: bool = False,
) -> Figure:
    """A grid of images or maps with optional titles. ``normalize`` min-max scales each one."""
    images = list(images)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    fig, axes = _grid(len(images), ncols, size)
    for i, (ax, img) in enumerate(zip(axes.flat, images)):
        a = normalize01(img) if normalize else to_array(img)
        ax.imshow(a if a.ndim == 3 else a, cmap=None if a.ndim == 3 else cmap, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def filter_grid(
    weights: Any,
    ncols: int = 8,
    size: float = 0.9,
    title: str | None = None,
    max_filters: int = 64,
) -> Figure:
    """Convolution filters as images, each normalized on its own to [0, 1].

    Inputs: ``weights`` (C_out, C_in, k, k). With C_in = 3 each filter is an RGB image; with
    C_in = 1 a grey image; otherwise each filter's first input channel is shown in grey (this
    is the "naive" view of a deep filter: one slice of a C_in-deep block).
    """
    w = torch.as_tensor(to_array(weights) if not isinstance(weights, torch.Tensor) else weights.detach().cpu())
    if w.ndim != 4:
        raise ValueError(f"filters must have shape (C_out, C_in, k, k), got {tuple(w.shape)}")
    w = w[:max_filters].float()
    fig, axes = _grid(w.shape[0], ncols, size)
    for ax, f in zip(axes.flat, w):
        img = f.permute(1, 2, 0) if f.shape[0] == 3 else f[0]
        ax.imshow(normalize01(img), cmap=None if f.shape[0] == 3 else "gray", interpolation="nearest")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def overlay(
    image: Any,
    heatmap: Any,
    alpha: float = 0.5,
    cmap: str = "jet",
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> Figure:
    """A heatmap (h, w), min-max scaled and upsampled, over an image (H, W, 3)."""
    img = to_array(image)
    if img.ndim != 3:
        raise ValueError(f"overlay needs an (H, W, 3) image, got shape {img.shape}")
    hm = normalize01(upsample_map(heatmap, img.shape[:2]))
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.2, 3.2))
    ax.imshow(img)
    ax.imshow(hm, cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure


def compare(panels: dict[str, Any], image: Any | None = None, size: float = 3.0, ncols: int | None = None) -> Figure:
    """Side-by-side panels with titles. Values are images (H, W, 3) or maps (h, w); given
    ``image``, 2-D maps are drawn as overlays on it."""
    fig, axes = _grid(len(panels), ncols or len(panels), size)
    for ax, (title, value) in zip(axes.flat, panels.items()):
        a = to_array(value)
        if a.ndim == 2 and image is not None:
            overlay(image, a, ax=ax, title=title)
        else:
            ax.imshow(a if a.ndim == 3 else normalize01(a), cmap=None if a.ndim == 3 else "gray")
            ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def topk_bar(predictions: Sequence[tuple[int, str, float]], title: str | None = None) -> Figure:
    """Horizontal bars of ``[(class_id, name, probability), ...]`` as returned by ``ZooModel.predict``."""
    fig, ax = plt.subplots(figsize=(4.5, 0.35 * len(predictions) + 0.8))
    names = [n for _, n, _ in predictions][::-1]
    probs = [p for _, _, p in predictions][::-1]
    ax.barh(names, probs, color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
