"""Figures of the lecture's second part -- what units and layers encode: activations and their
top patches (09), feature spaces and neighbours (08), feature visualization (12).

Image panels go through :mod:`lecture_utils.plot.core`; the functions that draw images take
``allow_blank``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .core import Blank, Panel, check_not_blank, draw_panel, panel_table, to_array
from .images import overlay

__all__ = [
    "activation_layers",
    "activation_mosaic",
    "activation_mosaic_array",
    "embedding_scatter",
    "feature_vis_rows",
    "neighbour_rows",
    "patch_rows",
    "thumbnail_map",
    "unit_view",
]


def activation_mosaic_array(maps: Any, ncols: int | None = None, max_tile: int | None = None) -> np.ndarray:
    """All channels (C, h, w) of a layer tiled into one 2-D array; tiles are separated by lines of
    NaN and unused tiles are ``-inf`` (:func:`activation_mosaic` colours them). ``ncols`` default:
    a square-ish grid; ``max_tile`` shrinks larger maps (area average) to at most that side."""
    t = maps.detach().float().cpu() if isinstance(maps, torch.Tensor) else torch.as_tensor(np.asarray(maps)).float()
    if t.ndim != 3:
        raise ValueError(f"activation_mosaic takes feature maps (C, h, w), got shape {tuple(t.shape)}")
    if max_tile is not None and max(t.shape[1:]) > max_tile:
        import torch.nn.functional as F

        f = max(t.shape[1:]) / max_tile
        t = F.interpolate(t[None], size=(round(t.shape[1] / f), round(t.shape[2] / f)), mode="area")[0]
    a = t.numpy()
    c, h, w = a.shape
    ncols = ncols or math.ceil(math.sqrt(c))
    nrows = math.ceil(c / ncols)
    out = np.full((nrows * (h + 1) + 1, ncols * (w + 1) + 1), np.nan, np.float32)
    for i in range(nrows * ncols):
        r, q = divmod(i, ncols)
        out[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = a[i] if i < c else -np.inf
    return out


def activation_mosaic(
    maps: Any,
    ncols: int | None = None,
    vmax: float | None = None,
    percentile: float = 99.5,
    ax: plt.Axes | None = None,
    title: str | None = None,
    size: float = 5.0,
    max_tile: int | None = 112,
    allow_blank: Blank = False,
) -> Figure:
    """Every channel of a layer as a grey image, black = exactly zero, one shared scale for all
    channels (so a silent channel stays black): white = ``vmax`` (default: the ``percentile`` of the
    layer's positive activations). Tiles are separated by thin blue lines.

    Inputs: ``maps`` (C, h, w) tensor/array (post-ReLU: values >= 0; negatives are drawn black).
    """
    mosaic = activation_mosaic_array(maps, ncols, max_tile)
    if vmax is None:
        pos = mosaic[np.isfinite(mosaic) & (mosaic > 0)]
        vmax = float(np.percentile(pos, percentile)) if pos.size else 1.0
    grey = np.clip(np.nan_to_num(mosaic / (vmax or 1.0), nan=0.0, neginf=0.0), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    rgb[np.isnan(mosaic)] = (0.23, 0.35, 0.6)  # separators
    rgb[np.isneginf(mosaic)] = (1.0, 1.0, 1.0)  # unused tiles
    if ax is None:
        _fig, ax = plt.subplots(figsize=(size, size * mosaic.shape[0] / mosaic.shape[1]))
    check_not_blank(grey[np.isfinite(mosaic)], title or "activations", allow_blank, 0.0, 1.0)
    ax.imshow(rgb, interpolation="antialiased")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure


def activation_layers(
    image: Any,
    maps: dict[str, Any],
    titles: dict[str, str] | None = None,
    size: float = 4.6,
    allow_blank: Blank = False,
) -> Figure:
    """The input and, for each layer, all its channels as a mosaic (:func:`activation_mosaic`), in a
    2-column grid. ``maps`` {layer: (C, h, w)}; ``titles`` optional panel titles per layer."""
    if not maps:
        raise ValueError("nothing to plot: got 0 layers")
    n = len(maps) + 1
    ncols = 2
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.04), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    draw_panel(axes.flat[0], Panel(to_array(image), name="input"), allow_blank)
    axes.flat[0].set_title("input", fontsize=10)
    for ax, (layer, m) in zip(list(axes.flat)[1:], maps.items()):
        c, h, w = tuple(m.shape)
        activation_mosaic(
            m, ax=ax, title=(titles or {}).get(layer, f"{layer}: {c} channels of {h}x{w}"), allow_blank=allow_blank
        )
        ax.title.set_fontsize(10)
    fig.tight_layout()
    return fig


def patch_rows(
    rows: dict[str, tuple[Sequence[Any], Sequence[float]]],
    size: float = 0.95,
    suptitle: str | None = None,
    fmt: str = "{:.0f}",
    allow_blank: Blank = False,
) -> Figure:
    """Girshick et al.'s Fig. 4 layout: one row per unit with its top patches, strongest first,
    each labelled with its activation (white box). ``rows`` {row label: (patches, values)}."""
    if not rows:
        raise ValueError("nothing to plot: got 0 rows")
    cells = []
    for label, (patches, values) in rows.items():
        if len(patches) != len(values):
            raise ValueError(f"row {label!r}: {len(patches)} patches but {len(values)} values")
        cells.append(
            [
                Panel(
                    to_array(pt),
                    interpolation="antialiased",
                    frame=("none", 0),
                    corner=fmt.format(v),
                    name=f"{label}/{c}",
                )
                for c, (pt, v) in enumerate(zip(patches, values))
            ]
        )
    k = max(len(p) for p, _ in rows.values())
    figsize = (size * k + 1.5, size * len(rows) + 0.5)
    fig, axes = panel_table(cells, figsize, list(rows), label_fontsize=8, allow_blank=allow_blank)
    for ax in axes.flat:  # cells past a short row keep no frame either
        for spine in ax.spines.values():
            spine.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout(pad=0.3, w_pad=0.1, h_pad=0.2, rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight() if suptitle else 1))
    return fig


def unit_view(
    image: Any,
    fmap: Any,
    patches: Sequence[Any],
    values: Sequence[float],
    title: str | None = None,
    size: float = 1.25,
    allow_blank: Blank = False,
) -> Figure:
    """One channel: its feature map for ``image`` (black = 0, own scale), the map over the image,
    and the channel's top patches from a pool with their activations (3 per row)."""
    img = to_array(image)
    m = to_array(fmap).astype(np.float64)
    if m.ndim != 2:
        raise ValueError(f"fmap must be a 2-D map (h, w), got shape {m.shape}")
    k = len(patches)
    if k != len(values):
        raise ValueError(f"got {k} patches but {len(values)} values")
    prow = max(1, math.ceil(k / 3))
    fig = plt.figure(figsize=(size * 3 * 2 + size * 3 + 0.4, size * max(3, prow) + 0.6))
    gs = fig.add_gridspec(max(3, prow), 9, wspace=0.06, hspace=0.25)
    ax = fig.add_subplot(gs[:3, 0:3])
    title_map = f"feature map {m.shape[0]}x{m.shape[1]} (max {m.max():.0f})"
    vmax = max(float(m.max()), 1e-12)
    draw_panel(ax, Panel(m, title_map, "gray", vmin=0, vmax=vmax, interpolation="nearest"), allow_blank)
    ax.axis("off")
    ax = fig.add_subplot(gs[:3, 3:6])
    overlay(img, np.maximum(m, 0), ax=ax, alpha=0.55, cmap="inferno", title="over the input", allow_blank=allow_blank)
    for i in range(k):
        ax = fig.add_subplot(gs[i // 3, 6 + i % 3])
        p = Panel(
            to_array(patches[i]),
            f"{values[i]:.0f}",
            interpolation="antialiased",
            name=f"patch {i}",
            title_kw={"fontsize": 8, "pad": 2},
        )
        draw_panel(ax, p, allow_blank)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.86 if title else 0.93)
    return fig


def _cell(ax: plt.Axes, p: Panel, allow_blank: Blank) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    draw_panel(ax, p, allow_blank)


def _neighbour_columns(ks: list[int]) -> tuple[list[float], list[int]]:
    """Column widths (query, gap, then each group's k neighbours and a gap) and each group's first column."""
    widths = [1.0, 0.25]
    for g, k in enumerate(ks):
        widths += [1.0] * k + ([0.25] if g < len(ks) - 1 else [])
    col0 = [2]
    for k in ks[:-1]:
        col0.append(col0[-1] + k + 1)
    return widths, col0


def neighbour_rows(
    queries: Sequence[Any],
    groups: dict[str, Sequence[Sequence[Any]]],
    captions: dict[str, Sequence[Sequence[str]]] | None = None,
    query_captions: Sequence[str] | None = None,
    size: float = 1.1,
    cmap: str = "gray",
    suptitle: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """Krizhevsky et al.'s Fig. 4 layout: one row per query -- the query, then for each group
    (e.g. "by embedding", "by pixels") its neighbours, nearest first.

    Inputs: ``queries`` Q images; ``groups`` {group title: Q lists of k images}; ``captions``
    optional {group title: Q lists of k short strings} written under the neighbours.
    """
    if not groups:
        raise ValueError("nothing to plot: got 0 neighbour groups")
    nq = len(queries)
    for title, rows in groups.items():
        if len(rows) != nq:
            raise ValueError(f"group {title!r} has {len(rows)} rows for {nq} queries")
    widths, col0 = _neighbour_columns([max(len(r) for r in rows) for rows in groups.values()])
    fig = plt.figure(figsize=(size * sum(widths) + 0.2, (size + 0.25) * nq + 0.45))
    gs = fig.add_gridspec(nq, len(widths), width_ratios=widths, wspace=0.05, hspace=0.3)
    for r in range(nq):
        caption = None if query_captions is None else query_captions[r]
        _cell(
            fig.add_subplot(gs[r, 0]),
            Panel(
                to_array(queries[r]),
                "query" if r == 0 else None,
                cmap,
                xlabel=caption,
                frame=("tab:red", 2),
                name=f"query {r}",
            ),
            allow_blank,
        )
        for (title, rows), c0 in zip(groups.items(), col0):
            for j, img in enumerate(rows[r]):
                caption = captions[title][r][j] if captions is not None and title in captions else None
                p = Panel(
                    to_array(img),
                    title if r == 0 and j == 0 else None,
                    cmap,
                    xlabel=caption,
                    title_kw={"fontsize": 9, "loc": "left"},
                    name=f"{title}/{r}/{j}",
                )
                _cell(fig.add_subplot(gs[r, c0 + j]), p, allow_blank)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.04, top=1 - (0.5 if suptitle else 0.3) / fig.get_figheight())
    return fig


def embedding_scatter(
    panels: dict[str, Any],
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str] | None = None,
    size: float = 4.6,
    point_size: float = 5.0,
    suptitle: str | None = None,
) -> Figure:
    """2-D maps side by side, points coloured by class, one shared legend.

    Inputs: ``panels`` {title: (N, 2) points}; ``labels`` (N,) class ids 0..K-1;
    ``class_names`` K names for the legend.
    """
    if not panels:
        raise ValueError("nothing to plot: got 0 panels")
    y = np.asarray(labels)
    classes = np.unique(y)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels) + 1.8, size), squeeze=False)
    for ax, (title, pts) in zip(axes[0], panels.items()):
        p = to_array(pts)
        if p.ndim != 2 or p.shape[1] != 2 or len(p) != len(y):
            raise ValueError(f"panel {title!r}: points must have shape ({len(y)}, 2), got {p.shape}")
        for i, c in enumerate(classes):
            sel = y == c
            name = class_names[int(c)] if class_names is not None else str(c)
            ax.scatter(p[sel, 0], p[sel, 1], s=point_size, color=cmap(i % cmap.N), label=name, alpha=0.8, lw=0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=10)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="center right", fontsize=8, markerscale=2.5, frameon=False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 1.7 / fig.get_figwidth(), 1))
    return fig


def thumbnail_map(
    points: Any,
    images: Sequence[Any] | np.ndarray,
    grid: int = 40,
    size: float = 9.0,
    labels: Sequence[int] | None = None,
    title: str | None = None,
    invert: bool = False,
    allow_blank: Blank = False,
) -> Figure:
    """Karpathy's "CNN codes" map: images drawn at their 2-D positions. The plane is cut into
    ``grid`` x ``grid`` cells and each cell shows the first image that falls into it (so images do
    not overlap); empty cells stay white.

    Inputs: ``points`` (N, 2); ``images`` N images (h, w) grey or (h, w, 3), all of one size;
    ``labels`` optional (N,) class ids: each thumbnail gets a thin frame of its class colour
    (tab10); ``invert`` draws grey images dark-on-white (Fashion-MNIST).
    """
    p = to_array(points).astype(np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {p.shape}")
    if len(images) != len(p):
        raise ValueError(f"got {len(images)} images for {len(p)} points")
    if grid < 2:
        raise ValueError(f"grid must be >= 2, got {grid}")
    thumbs = [to_array(im).astype(np.float32) for im in images]
    h, w = thumbs[0].shape[:2]
    border = max(1, h // 20) if labels is not None else 0
    cell_h, cell_w = h + 2 * border, w + 2 * border
    canvas = np.ones((grid * cell_h, grid * cell_w, 3), np.float32)
    lo, hi = p.min(0), p.max(0)
    cells = np.floor((p - lo) / np.maximum(hi - lo, 1e-12) * (grid - 1e-6)).astype(int)
    taken = np.zeros((grid, grid), bool)
    colours = plt.get_cmap("tab10")
    for i, (cx, cy) in enumerate(cells):
        row = grid - 1 - cy  # y up
        if taken[row, cx]:
            continue
        taken[row, cx] = True
        t = thumbs[i]
        if t.shape[:2] != (h, w):
            raise ValueError(f"all images must have one size; image {i} is {t.shape[:2]}, not {(h, w)}")
        if t.ndim == 2:
            t = np.repeat((1.0 - t if invert else t)[..., None], 3, axis=2)
        r0, c0 = row * cell_h, cx * cell_w
        if labels is not None:
            canvas[r0 : r0 + cell_h, c0 : c0 + cell_w] = colours(int(labels[i]) % 10)[:3]
        canvas[r0 + border : r0 + border + h, c0 + border : c0 + border + w] = t
    fig, ax = plt.subplots(figsize=(size, size * canvas.shape[0] / canvas.shape[1]))
    draw_panel(ax, Panel(np.clip(canvas, 0, 1), interpolation="antialiased", name=title or "map"), allow_blank)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def feature_vis_rows(
    rows: dict[str, dict[str, Any]], size: float = 1.25, suptitle: str | None = None, allow_blank: Blank = False
) -> Figure:
    """Olah et al. 2017's dataset-examples-vs-optimization layout, one row per unit:
    ``rows`` {label: {"min": crops, "negative": image, "positive": image, "max": crops}}; any key
    may be missing. Columns: minimum-activation crops, negative optimization, positive
    optimization, maximum-activation crops (strongest nearest the optimized images)."""
    if not rows:
        raise ValueError("nothing to plot: got 0 rows")
    cells = []
    for i, (label, r) in enumerate(rows.items()):
        cols = [(c, "min examples") for c in list(r.get("min", []))[::-1]]
        cols += [(r[k], f"{k} opt.") for k in ("negative", "positive") if k in r]
        cols += [(c, "max examples") for c in r.get("max", [])]
        row = []
        for j, (img, kind) in enumerate(cols):
            title = kind if i == 0 and (j == 0 or cols[j - 1][1] != kind) else None
            frame = None if "opt." not in kind else ("crimson" if kind.startswith("positive") else "royalblue", 2.5)
            row.append(
                Panel(
                    to_array(img),
                    title,
                    frame=frame,
                    title_kw={"fontsize": 8, "loc": "left"},
                    name=f"{label}/{kind} {j}",
                )
            )
        cells.append(row)
    k = max(len(c) for c in cells)
    figsize = (size * k + 1.2, size * len(rows) + 0.6)
    fig, _ = panel_table(cells, figsize, list(rows), label_fontsize=8, allow_blank=allow_blank)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout(pad=0.3, w_pad=0.1, h_pad=0.2)
    return fig
