"""Figures of the lecture's first part -- what the first layer learns and which pixels explain a
decision: filters (00, 01, 05), deconvnet and guided-backprop projections (02, 04), class
activation maps (03, 06), occlusion (10), semantic dictionaries (13).

Every image panel is drawn through :mod:`lecture_utils.plot.core` (one layout, one blank-panel
check); the functions take ``allow_blank`` where they draw images."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .core import Blank, Panel, _finish_figure, draw_panel, grid_axes, kernel_panel, kernels_rgb, panel_table, to_array
from .images import _rows_of, overlay

__all__ = [
    "dictionary_entries",
    "filter_evolution",
    "filter_grid",
    "icon_canvas",
    "occlusion_figure",
    "occlusion_maps",
    "patches_and_projections",
    "semantic_grid",
    "signed_maps",
]


def filter_grid(
    weights: Any,
    ncols: int = 8,
    size: float = 0.9,
    title: str | None = None,
    max_filters: int = 64,
    channel_order: str = "rgb",
    allow_blank: Blank = False,
) -> Figure:
    """Convolution filters as images, each normalized on its own to [0, 1].

    Inputs: ``weights`` (C_out, C_in, k, k). With C_in = 3 each filter is an RGB image; with
    C_in = 1 a grey image; otherwise each filter's first input channel is shown in grey (this
    is the "naive" view of a deep filter: one slice of a C_in-deep block). ``channel_order``:
    ``"bgr"`` for a network that takes BGR input, so that the filters are drawn in RGB; for a zoo
    model ``channel_order="bgr" if zoo.normalize.bgr else "rgb"`` (VGG19 is BGR).
    """
    w = kernels_rgb(weights, channel_order)[:max_filters]
    fig, axes = grid_axes(len(w), ncols, size)
    panels = [kernel_panel(f, name=f"filter {i}") for i, f in enumerate(w)]
    panel_table(_rows_of(panels, axes.shape[1]), axes=axes, axis_off=True, allow_blank=allow_blank)
    return _finish_figure(fig, title)


def filter_evolution(
    snapshots: dict[int, Any],
    accuracies: dict[int, float] | None = None,
    n_filters: int = 16,
    size: float = 0.8,
    title: str | None = None,
    channel_order: str = "rgb",
    allow_blank: Blank = False,
) -> Figure:
    """First-layer filters at several moments of training: one row per snapshot.

    Inputs: ``snapshots`` {epoch: weights (C_out, 1, k, k) or (C_out, 3, k, k)}; ``accuracies``
    {epoch: test accuracy in [0, 1]} shown at the left of each row. Each filter is normalized on
    its own (min-max), as in :func:`filter_grid` (``channel_order`` as there).
    """
    if not snapshots:
        raise ValueError("no snapshots to plot")
    epochs = sorted(snapshots)
    banks = {e: kernels_rgb(snapshots[e], channel_order) for e in epochs}
    n = min(n_filters, min(len(w) for w in banks.values()))
    labels = []
    for e in epochs:
        label = f"epoch {e}" if e else "init"
        if accuracies is not None and e in accuracies:
            label += f"\nacc {accuracies[e]:.0%}"
        labels.append(label)
    cells = [
        [kernel_panel(f, name=f"{lab}/filter {i}") for i, f in enumerate(banks[e][:n])]
        for e, lab in zip(epochs, labels)
    ]
    figsize = (size * n + 1.4, size * len(epochs) + 0.4)
    fig, _ = panel_table(cells, figsize, labels, allow_blank=allow_blank)
    return _finish_figure(fig, title)


def signed_maps(
    maps: dict[str, Any],
    size: float = 2.6,
    ncols: int | None = None,
    cmap: str = "RdBu_r",
    suptitle: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """Raw (signed) maps at their own resolution, one panel each, with a colour scale symmetric
    about 0 (red positive, blue negative) and a colour bar: for looking at the values of a CAM
    before any ReLU or min-max scaling. Values of ``maps`` are (h, w) arrays/tensors."""
    fig, axes = grid_axes(len(maps), ncols or len(maps), size)
    panels = []
    for title, value in maps.items():
        a = to_array(value)
        if a.ndim != 2:
            raise ValueError(f"signed_maps takes (h, w) maps, got shape {a.shape} for {title!r}")
        v = float(np.abs(a).max()) or 1.0
        panels.append(Panel(a, title, cmap, vmin=-v, vmax=v, interpolation="nearest", colorbar=True))
    panel_table(_rows_of(panels, axes.shape[1]), axes=axes, axis_off=True, allow_blank=allow_blank)
    return _finish_figure(fig, suptitle)


def _unit_block(
    fig: Figure, gs: Any, r0: int, c0: int, unit: tuple[str, Sequence[Any], Sequence[Any]], blank: Blank
) -> None:
    """One unit of :func:`patches_and_projections`: its title over 3x3 projections and 3x3 patches."""
    title, projs, patches = unit
    tax = fig.add_subplot(gs[r0, c0 : c0 + 7])
    tax.axis("off")
    tax.text(0.5, 0.1, title, ha="center", va="bottom", fontsize=9, transform=tax.transAxes)
    for block, items in ((0, projs), (4, patches)):
        for i in range(9):
            ax = fig.add_subplot(gs[r0 + 1 + i // 3, c0 + block + i % 3])
            ax.axis("off")
            if i < len(items):
                name = f"{title}/{'projection' if block == 0 else 'patch'} {i}"
                draw_panel(ax, Panel(to_array(items[i]), interpolation="nearest", name=name), blank)


def patches_and_projections(
    units: Sequence[tuple[str, Sequence[Any], Sequence[Any]]],
    ncols_units: int = 2,
    size: float = 0.8,
    suptitle: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """Zeiler & Fergus's Fig. 2 layout: per unit, a 3x3 grid of deconvnet projections (left)
    next to a 3x3 grid of the image patches that produced them (right).

    Inputs: ``units`` a list of ``(title, projections, patches)``; each projection/patch an
    (h, w, 3) image in [0, 1] (up to 9 per unit; sizes may differ between units).
    """
    if not units:
        raise ValueError("nothing to plot: got 0 units")
    ncols_units = min(ncols_units, len(units))
    nrows_units = math.ceil(len(units) / ncols_units)
    cols = ncols_units * 8 - 1  # per unit: 3 projection cols, a thin gap, 3 patch cols (+ a gap between units)
    rows = nrows_units * 4  # per unit: a title row and 3 image rows
    height = size * rows * 1.02
    fig = plt.figure(figsize=(size * cols, height))
    ratios_w = ([1, 1, 1, 0.12, 1, 1, 1, 0.5] * ncols_units)[:cols]
    ratios_h = [0.28, 1, 1, 1] * nrows_units
    gs = fig.add_gridspec(rows, cols, width_ratios=ratios_w, height_ratios=ratios_h, wspace=0.04, hspace=0.04)
    for u, unit in enumerate(units):
        _unit_block(fig, gs, (u // ncols_units) * 4, (u % ncols_units) * 8, unit, allow_blank)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - (0.45 if suptitle else 0.05) / height)
    if suptitle:
        fig.suptitle(suptitle, y=1 - 0.12 / height, va="top")
    return fig


def _grid_extent(
    rows: Sequence[int], cols: Sequence[int], window: int, stride: int
) -> tuple[float, float, float, float]:
    """imshow extent that puts occluder grid cell (i, j) at the pixel of the square's centre."""
    half = window / 2 - 0.5
    return (
        cols[0] + half - stride / 2,
        cols[-1] + half + stride / 2,
        rows[-1] + half + stride / 2,
        rows[0] + half - stride / 2,
    )


def _occlusion_label_panel(ax: plt.Axes, r: dict[str, Any], extent: tuple[float, ...]) -> None:
    """(e): the most probable class per occluder position, as a label map with a legend."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    labels = np.asarray(to_array(r["labels"])).astype(int)
    ids, counts = np.unique(labels, return_counts=True)
    ids = ids[np.argsort(-counts)]
    index = {c: i for i, c in enumerate(ids)}
    palette = plt.get_cmap("tab10" if len(ids) <= 10 else "tab20")
    colours = [palette(i % palette.N) for i in range(len(ids))]
    ax.imshow(
        np.vectorize(index.get)(labels),
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=len(ids) - 0.5,
        extent=extent,
        interpolation="nearest",
    )
    ax.set_title("(e) most probable class", fontsize=8)
    names = r.get("names", {})
    handles = [Patch(color=colours[i], label=names.get(int(c), str(int(c)))) for i, c in enumerate(ids[:8])]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)


def _occlusion_map_panel(ax: plt.Axes, a: Any, title: str, cmap: str, extent: tuple[float, ...], blank: Blank) -> None:
    """A map over occluder positions with its colour bar, placed at the occluder centres."""
    p = Panel(
        to_array(a), title, cmap, interpolation="nearest", extent=extent, colorbar=False, title_kw={"fontsize": 8}
    )
    im = draw_panel(ax, p, blank)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03)


def _occlusion_row(axrow: np.ndarray, r: dict[str, Any], has_feature: bool, cmap: str, blank: Blank) -> None:
    from matplotlib.patches import Rectangle

    img = to_array(r["image"])
    h, w = img.shape[:2]
    extent = _grid_extent(r["rows"], r["cols"], r["window"], r["stride"])
    k = len(r["rows"]) // 2, len(r["cols"]) // 3
    ax = axrow[0]
    draw_panel(ax, Panel(img, name="input"), blank)
    top, left = r["rows"][k[0]], r["cols"][k[1]]
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), r["window"], r["window"], color=(0.5, 0.5, 0.5)))
    ax.set_title(f"(a) input, occluder {r['window']}px\nstep {r['stride']}px", fontsize=8)
    col = 1
    if has_feature:
        _occlusion_map_panel(
            axrow[1],
            r["feature"],
            r.get("feature_title", "(b) total activation of the feature map"),
            cmap,
            extent,
            blank,
        )
        overlay(
            img, np.maximum(to_array(r["feature_map"]), 0), ax=axrow[2], alpha=0.55, cmap="inferno", allow_blank=blank
        )
        axrow[2].set_title("(c) that feature map,\nunoccluded input", fontsize=8)
        col = 3
    _occlusion_map_panel(axrow[col], r["prob"], f"(d) p({r.get('true_name', 'true class')})", cmap, extent, blank)
    _occlusion_label_panel(axrow[col + 1], r, extent)
    for ax in axrow:
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])


def occlusion_figure(
    rows: Sequence[dict[str, Any]],
    size: float = 2.5,
    cmap: str = "jet",
    suptitle: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """Zeiler & Fergus's Fig. 7, one row per image: (a) the input with one grey occluder,
    (b) the total activation of one deep feature map per occluder position, (c) that feature map
    on the unoccluded input, (d) the probability of the true class per position, (e) the most
    probable class per position (a label map with a legend).

    Each row is a dict with ``image`` (H, W, 3); ``rows``, ``cols`` (occluder top-left corners),
    ``window``, ``stride``; ``feature`` (h', w') totals and ``feature_map`` (h, w) (both optional,
    then (b, c) are left out); ``feature_title``; ``prob`` (h', w'); ``true_name``; ``labels``
    (h', w') class ids and ``names`` {class id: name}. Maps sit at the occluder centres.
    """
    if not rows:
        raise ValueError("occlusion_figure needs at least one row")
    has_feature = all(r.get("feature") is not None for r in rows)
    ncol = 5 if has_feature else 3
    fig, axes = plt.subplots(len(rows), ncol, figsize=(size * ncol + 2.4, size * 1.12 * len(rows)), squeeze=False)
    for axrow, r in zip(axes, rows):
        _occlusion_row(axrow, r, has_feature, cmap, allow_blank)
    return _finish_figure(fig, suptitle)


def occlusion_maps(
    image: Any,
    maps: dict[str, dict[str, Any]],
    size: float = 2.6,
    cmap: str = "jet",
    vmin: float | None = None,
    vmax: float | None = None,
    suptitle: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """The image and several occlusion maps on ONE colour scale (with a colour bar), each map
    drawn at the centres of its occluder positions.

    Inputs: ``image`` (H, W, 3); ``maps`` {title: {"map": (h', w'), "rows": [...], "cols": [...],
    "window": int, "stride": int}}; ``vmin``/``vmax`` the shared scale (default: over all maps).
    """
    if not maps:
        raise ValueError("occlusion_maps needs at least one map")
    img = to_array(image)
    h, w = img.shape[:2]
    arrays = {t: to_array(m["map"]).astype(np.float64) for t, m in maps.items()}
    lo = min(float(a.min()) for a in arrays.values()) if vmin is None else vmin
    hi = max(float(a.max()) for a in arrays.values()) if vmax is None else vmax
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(size * (len(maps) + 1) + 0.8, size + 0.4), squeeze=False)
    axes = axes[0]
    draw_panel(axes[0], Panel(img, name="image"), allow_blank)
    im = None
    for ax, (title, m) in zip(axes[1:], maps.items()):
        extent = _grid_extent(m["rows"], m["cols"], m["window"], m["stride"])
        p = Panel(arrays[title], title, cmap, vmin=lo, vmax=hi, interpolation="nearest", extent=extent)
        im = draw_panel(ax, p, allow_blank)
    for ax in axes:
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), fraction=0.02, pad=0.01, shrink=0.8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


STRENGTH_BAR_COLOUR = (0.85, 0.33, 0.0)  # dark orange: the filled part of an icon's strength bar
STRENGTH_BAR_TRACK = (0.82, 0.82, 0.82)  # light grey: the empty part


def icon_canvas(
    channels: Any, icons: dict[int, Any], strength: Any | None = None, gap: int = 2, bar: int | None = None
) -> np.ndarray:
    """An (h, w) grid of channel icons as one RGB array: cell (i, j) shows ``icons[channels[i, j]]``
    at full opacity. With ``strength`` ((h, w) in [0, 1]) each icon gets a **strength bar** below it,
    ``bar`` pixels high (default ``max(3, s // 8)``): the left ``strength[i, j]`` of its width filled in
    dark orange, the rest light grey. Without ``strength`` there is no bar. A channel without an icon
    leaves its cell (and its bar) white. All icons must have the same (s, s, 3) shape."""
    ch = np.asarray(to_array(channels)).astype(int)
    if ch.ndim != 2:
        raise ValueError(f"channels must be an (h, w) grid, got shape {ch.shape}")
    if not icons:
        raise ValueError("icon_canvas needs at least one icon")
    arrays = {int(k): to_array(v).astype(np.float64) for k, v in icons.items()}
    s = next(iter(arrays.values())).shape[0]
    level = None
    if strength is not None:
        level = np.clip(np.asarray(to_array(strength), dtype=float), 0, 1)
        if level.shape != ch.shape:
            raise ValueError(f"strength has shape {level.shape}, channels {ch.shape}")
    if bar is not None and (isinstance(bar, bool) or not isinstance(bar, (int, np.integer)) or bar < 1):
        raise ValueError(f"bar must be a positive int (pixels), got {bar!r}")
    bh = 0 if level is None else int(bar) if bar is not None else max(3, s // 8)
    cell_h = s + (bh + 1 if bh else 0)  # the icon, a 1-px white line, the bar
    h, w = ch.shape
    out = np.ones((h * (cell_h + gap) + gap, w * (s + gap) + gap, 3))
    for (i, j), c in np.ndenumerate(ch):
        if c in arrays:
            top, left = gap + i * (cell_h + gap), gap + j * (s + gap)
            out[top : top + s, left : left + s] = arrays[c]
            if bh:
                filled = int(round(level[i, j] * s))
                out[top + s + 1 : top + cell_h, left : left + s] = STRENGTH_BAR_TRACK
                out[top + s + 1 : top + cell_h, left : left + filled] = STRENGTH_BAR_COLOUR
    return out


def semantic_grid(
    image: Any,
    channels: Any,
    icons: dict[int, Any],
    strength: Any | None = None,
    title: str | None = None,
    size: float = 5.6,
    label: bool = True,
    allow_blank: Blank = False,
) -> Figure:
    """The Building Blocks figure (Olah et al. 2018): the image with the layer's grid of positions,
    next to the grid of icons -- at each position the feature visualization of the channel that
    fires most there, at full opacity, with a bar below each icon for the strength of its position
    (see :func:`icon_canvas`). ``label`` writes the channel numbers."""
    img = to_array(image)
    ch = np.asarray(to_array(channels)).astype(int)
    h, w = ch.shape
    canvas = icon_canvas(ch, icons, strength)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(2 * size + 0.2, size + 0.4))
    draw_panel(a1, Panel(img, name="image"), allow_blank)
    for k in range(1, h):
        a1.axhline(k * img.shape[0] / h - 0.5, color="white", linewidth=0.6, alpha=0.7)
    for k in range(1, w):
        a1.axvline(k * img.shape[1] / w - 0.5, color="white", linewidth=0.6, alpha=0.7)
    a1.set_title(f"image, {h}x{w} positions", fontsize=11)
    draw_panel(a2, Panel(canvas, name="icons"), allow_blank)
    if label and h * w <= 100:
        cell_h, cell_w = canvas.shape[0] / h, canvas.shape[1] / w
        for (i, j), c in np.ndenumerate(ch):
            a2.text(
                j * cell_w + 3,
                i * cell_h + 3,
                str(c),
                fontsize=8,
                va="top",
                ha="left",
                color="black",
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
            )
    a2.set_title("most active channel per position" + ("" if strength is None else " (bar = strength)"), fontsize=11)
    for ax in (a1, a2):
        ax.set_xticks([])
        ax.set_yticks([])
    return _finish_figure(fig, title)


def dictionary_entries(
    image: Any,
    grid: tuple[int, int],
    entries: Sequence[dict[str, Any]],
    size: float = 2.2,
    title: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """Semantic-dictionary entries, one row per position: the image with that cell outlined, then
    the icons of the top channels there, each with a bar of its activation (bars share one scale).

    ``entries``: dicts with ``"position"`` (row, col), ``"top"`` [(channel, activation), ...]
    strongest first, ``"icons"`` the matching (s, s, 3) arrays.
    """
    from matplotlib.patches import Rectangle

    if not entries:
        raise ValueError("dictionary_entries needs at least one entry")
    img = to_array(image)
    k = max(len(e["top"]) for e in entries)
    vmax = max(v for e in entries for _, v in e["top"])
    vmax = vmax if vmax > 0 else 1.0
    fig = plt.figure(figsize=(size * (k + 1) + 0.4, (size + 0.45) * len(entries) + 0.3))
    outer = fig.add_gridspec(len(entries), k + 1, hspace=0.35, wspace=0.08)
    for r, e in enumerate(entries):
        (row, col), top, icons = e["position"], e["top"], e["icons"]
        if len(icons) != len(top):
            raise ValueError(f"entry {r}: {len(top)} channels but {len(icons)} icons")
        ax = fig.add_subplot(outer[r, 0])
        draw_panel(ax, Panel(img, name=f"position ({row}, {col})"), allow_blank)
        ch_, cw_ = img.shape[0] / grid[0], img.shape[1] / grid[1]
        ax.add_patch(Rectangle((col * cw_ - 0.5, row * ch_ - 0.5), cw_, ch_, fill=False, ec="red", lw=2))
        ax.set_title(f"position ({row}, {col})", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        for j, ((c, v), icon) in enumerate(zip(top, icons)):
            cell = outer[r, j + 1].subgridspec(2, 1, height_ratios=[1, 0.16], hspace=0.05)
            ai = fig.add_subplot(cell[0])
            draw_panel(ai, Panel(to_array(icon), name=f"channel {c}"), allow_blank)
            ai.set_xticks([])
            ai.set_yticks([])
            ai.set_title(f"channel {c}: {v:.1f}", fontsize=10)
            ab = fig.add_subplot(cell[1])
            ab.barh([0], [vmax], color="0.9", height=0.8)
            ab.barh([0], [max(v, 0)], color="tab:orange" if j == 0 else "tab:blue", height=0.8)
            ab.set_xlim(0, vmax)
            ab.set_ylim(-0.5, 0.5)
            ab.axis("off")
    if title:
        fig.suptitle(title, fontsize=12)
    return fig
