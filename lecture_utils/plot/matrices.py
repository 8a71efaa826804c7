"""Matrices as heat maps: ONE annotated matrix (:func:`annotated_matrix`) and the figures built on
it -- rule tables, distance and loss matrices, Gram matrices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .core import _finish_figure, to_array

__all__ = ["annotated_matrix", "distance_matrix", "gram_heatmaps", "labelled_matrix", "rule_tables"]


def annotated_matrix(
    ax: plt.Axes,
    a: np.ndarray,
    fmt: str | None = "{:.2f}",
    text_colour: str | Callable[[float], str] = "black",
    fontsize: float = 8,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    col_rotation: float = 30,
    colorbar: bool = False,
    title: str | None = None,
    title_fontsize: float = 10,
    **imshow: Any,
) -> Any:
    """THE annotated matrix: ``a`` (n, m) as a heat map on ``ax`` (``imshow`` keywords: cmap,
    vmin/vmax or norm), every value written in its cell with ``fmt`` (None: no numbers) in
    ``text_colour`` (a colour, or a function of the value, e.g. white on dark cells); named rows /
    columns (no ticks when not named); a colour bar. Returns the image artist."""
    im = ax.imshow(a, **imshow)
    if fmt is not None:
        for (i, j), v in np.ndenumerate(a):
            colour = text_colour(v) if callable(text_colour) else text_colour
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize, color=colour)
    if col_labels is None:
        ax.set_xticks([])
    else:
        ax.set_xticks(range(a.shape[1]), col_labels, rotation=col_rotation, ha="right", fontsize=8)
    if row_labels is None:
        ax.set_yticks([])
    else:
        ax.set_yticks(range(a.shape[0]), row_labels, fontsize=8)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title, fontsize=title_fontsize)
    return im


def rule_tables(tables: dict[str, Any], suptitle: str | None = None, size: float = 2.1, fmt: str = "{:g}") -> Figure:
    """Small matrices side by side with every value written in its cell (Springenberg et al.'s
    Fig. 1 b-c). Colours: red positive, blue negative, white zero (shared scale)."""
    if not tables:
        raise ValueError("nothing to plot: got 0 tables")
    arrays = {k: np.atleast_2d(to_array(v)).astype(float) + 0.0 for k, v in tables.items()}  # + 0.0: no "-0"
    vmax = max(float(np.abs(a).max()) for a in arrays.values()) or 1.0
    fig, axes = plt.subplots(1, len(arrays), figsize=(size * len(arrays), size * 1.05), squeeze=False)
    for ax, (title, a) in zip(axes[0], arrays.items()):
        annotated_matrix(ax, a, fmt, fontsize=10, title=title, title_fontsize=9, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    return _finish_figure(fig, suptitle, fontsize=10)


def distance_matrix(
    matrix: Any,
    labels: Sequence[str],
    title: str | None = None,
    fmt: str = "{:.2f}",
    cmap: str = "magma_r",
    vmin: float = 0.0,
    vmax: float | None = None,
) -> Figure:
    """A square matrix of distances (or similarities) with every value written in its cell.

    Colours span ``vmin`` .. ``vmax`` (default: the largest value); e.g. correlations with
    ``cmap="RdBu_r", vmin=-1, vmax=1``."""
    m = np.asarray(to_array(matrix), dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(labels):
        raise ValueError(f"need an (n, n) matrix for {len(labels)} labels, got shape {m.shape}")
    n = len(labels)
    hi = float(np.nanmax(m)) if vmax is None else vmax
    if vmax is None and vmin < 0:
        hi = max(hi, -vmin)
    hi = hi if hi > vmin else vmin + 1.0
    mid = (vmin + hi) / 2 if vmin < 0 else vmin
    fig, ax = plt.subplots(figsize=(0.75 * n + 1.8, 0.75 * n + 1.2))
    annotated_matrix(
        ax,
        m,
        fmt,
        lambda v: "white" if abs(v - mid) > 0.6 * (hi - mid) else "black",
        row_labels=labels,
        col_labels=labels,
        col_rotation=35,
        colorbar=True,
        title=title,
        cmap=cmap,
        vmin=vmin,
        vmax=hi,
    )
    fig.tight_layout()
    return fig


def labelled_matrix(
    values: Any,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    fmt: str = "{:.3f}",
    log: bool = True,
    cmap: str = "viridis_r",
    size: float = 0.9,
) -> Figure:
    """A matrix of numbers (e.g. losses between images) as a heat map with every value written in
    its cell and named rows/columns; ``log`` colours by log10 (values must then be > 0)."""
    from matplotlib.colors import LogNorm

    a = np.asarray(to_array(values), dtype=np.float64)
    if a.ndim != 2 or a.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"values of shape {a.shape} do not fit {len(row_labels)} rows x {len(col_labels)} columns")
    if log and not (a > 0).all():
        raise ValueError("log colours need values > 0; pass log=False")
    fig, ax = plt.subplots(figsize=(size * a.shape[1] + 2.2, size * a.shape[0] + 1.0))
    norm = LogNorm(vmin=a.min(), vmax=a.max()) if log and a.max() > a.min() else None
    mid = np.sqrt(a.min() * a.max()) if log else (a.min() + a.max()) / 2

    def colour(v: float) -> str:  # a light cell gets black text
        return "black" if ((v < mid) if cmap.endswith("_r") else (v > mid)) else "white"

    annotated_matrix(
        ax, a, fmt, colour, row_labels=row_labels, col_labels=col_labels, title=title, cmap=cmap, norm=norm
    )
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    fig.tight_layout()
    return fig


def gram_heatmaps(
    mats: dict[str, Any], size: float = 3.0, gamma: float = 0.5, cmap: str = "magma", suptitle: str | None = None
) -> Figure:
    """Gram matrices (C, C) (or (1, C, C)) side by side, each with its own colour bar.

    Entries are shown on a power scale (``gamma`` < 1 lifts the many small entries so the structure
    is visible next to the few large ones); channel numbers on the axes."""
    from matplotlib.colors import PowerNorm

    if not mats:
        raise ValueError("nothing to plot: got 0 matrices")
    fig, axes = plt.subplots(1, len(mats), figsize=(size * len(mats) + 0.6 * len(mats), size), squeeze=False)
    for ax, (title, m) in zip(axes[0], mats.items()):
        a = to_array(m, layout="hwc").astype(np.float64)
        if a.ndim == 3 and a.shape[0] == 1:
            a = a[0]
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"a Gram matrix must be square (C, C), got shape {a.shape} for {title!r}")
        lo = min(float(a.min()), 0.0)
        norm = PowerNorm(gamma, vmin=0, vmax=float(a.max() - lo) or 1.0)
        im = ax.imshow(a - lo, cmap=cmap, norm=norm)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("channel d", fontsize=8)
        ax.set_ylabel("channel c", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    return _finish_figure(fig, suptitle, fontsize=10)
