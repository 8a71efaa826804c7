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


def compare(
    panels: dict[str, Any],
    image: Any | None = None,
    size: float = 3.0,
    ncols: int | None = None,
    aspect: float = 1.0,
) -> Figure:
    """Side-by-side panels with titles. Values are images (H, W, 3) or maps (h, w); given
    ``image``, 2-D maps are drawn as overlays on it. ``aspect``: panel height / width."""
    fig, axes = _grid(len(panels), ncols or len(panels), size, aspect=aspect)
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


# --------------------------------------------------------------------------- class activation maps (03, 06)


def signed_maps(
    maps: dict[str, Any], size: float = 2.6, ncols: int | None = None, cmap: str = "RdBu_r", suptitle: str | None = None
) -> Figure:
    """Raw (signed) maps at their own resolution, one panel each, with a colour scale symmetric
    about 0 (red positive, blue negative) and a colour bar: for looking at the values of a CAM
    before any ReLU or min-max scaling. Values of ``maps`` are (h, w) arrays/tensors."""
    fig, axes = _grid(len(maps), ncols or len(maps), size)
    for ax, (title, value) in zip(axes.flat, maps.items()):
        a = to_array(value)
        if a.ndim != 2:
            raise ValueError(f"signed_maps takes (h, w) maps, got shape {a.shape} for {title!r}")
        v = float(np.abs(a).max()) or 1.0
        im = ax.imshow(a, cmap=cmap, vmin=-v, vmax=v, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def signed_rgb(grad: Any, percentile: float = 99.5) -> np.ndarray:
    """A signed (1, 3, H, W) / (3, H, W) gradient as an (H, W, 3) image: grey 0.5 is zero, the
    ``percentile`` of |values| maps to 0 / 1 (clipped beyond). For guided backprop and Guided Grad-CAM."""
    a = to_array(grad).astype(np.float64)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"signed_rgb takes a (1, 3, H, W) or (H, W, 3) gradient, got shape {a.shape}")
    scale = float(np.percentile(np.abs(a), percentile))
    if scale <= 0:
        return np.full_like(a, 0.5)
    return np.clip(0.5 + 0.5 * a / scale, 0.0, 1.0)


# --------------------------------------------------------------------------- deconvnet, guided backprop (02, 04)


def patches_and_projections(
    units: Sequence[tuple[str, Sequence[Any], Sequence[Any]]],
    ncols_units: int = 2,
    size: float = 0.8,
    suptitle: str | None = None,
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
    fig = plt.figure(figsize=(size * cols, size * rows * 1.02))
    ratios_w = ([1, 1, 1, 0.12, 1, 1, 1, 0.5] * ncols_units)[:cols]
    ratios_h = [0.28, 1, 1, 1] * nrows_units
    gs = fig.add_gridspec(rows, cols, width_ratios=ratios_w, height_ratios=ratios_h, wspace=0.04, hspace=0.04)
    for u, (title, projs, patches) in enumerate(units):
        r0, c0 = (u // ncols_units) * 4, (u % ncols_units) * 8
        tax = fig.add_subplot(gs[r0, c0 : c0 + 7])
        tax.axis("off")
        tax.text(0.5, 0.1, title, ha="center", va="bottom", fontsize=9, transform=tax.transAxes)
        for block, items in ((0, projs), (4, patches)):
            for i in range(9):
                ax = fig.add_subplot(gs[r0 + 1 + i // 3, c0 + block + i % 3])
                ax.axis("off")
                if i < len(items):
                    ax.imshow(to_array(items[i]), interpolation="nearest")
    height = size * rows * 1.02
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - (0.45 if suptitle else 0.05) / height)
    if suptitle:
        fig.suptitle(suptitle, y=1 - 0.12 / height, va="top")
    return fig


def rule_tables(tables: dict[str, Any], suptitle: str | None = None, size: float = 2.1, fmt: str = "{:g}") -> Figure:
    """Small matrices side by side with every value written in its cell (Springenberg et al.'s
    Fig. 1 b-c). Colours: red positive, blue negative, white zero (shared scale)."""
    if not tables:
        raise ValueError("nothing to plot: got 0 tables")
    arrays = {k: np.atleast_2d(to_array(v)).astype(float) + 0.0 for k, v in tables.items()}  # + 0.0: no "-0"
    vmax = max(float(np.abs(a).max()) for a in arrays.values()) or 1.0
    fig, axes = plt.subplots(1, len(arrays), figsize=(size * len(arrays), size * 1.05), squeeze=False)
    for ax, (title, a) in zip(axes[0], arrays.items()):
        ax.imshow(a, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        for (i, j), val in np.ndenumerate(a):
            ax.text(j, i, fmt.format(val), ha="center", va="center", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def compare_wide(
    panels: dict[str, Any], image: Any | None = None, width: float = 3.6, ncols: int | None = None
) -> Figure:
    """:func:`compare` for images that are not square: each panel's height follows the aspect
    ratio of ``image`` (or of the first panel), so rows of wide images sit close together."""
    ref = to_array(image if image is not None else next(iter(panels.values())))
    aspect = ref.shape[0] / ref.shape[1] + 0.12  # + room for the title
    return compare(panels, image=image, size=width, ncols=ncols, aspect=aspect)


# --------------------------------------------------------------------------- notebooks 01 and 05


def filter_evolution(
    snapshots: dict[int, Any],
    accuracies: dict[int, float] | None = None,
    n_filters: int = 16,
    size: float = 0.8,
    title: str | None = None,
) -> Figure:
    """First-layer filters at several moments of training: one row per snapshot.

    Inputs: ``snapshots`` {epoch: weights (C_out, 1, k, k) or (C_out, 3, k, k)}; ``accuracies``
    {epoch: test accuracy in [0, 1]} shown at the left of each row. Each filter is normalized on
    its own (min-max), as in :func:`filter_grid`.
    """
    if not snapshots:
        raise ValueError("no snapshots to plot")
    epochs = sorted(snapshots)
    n = min(n_filters, min(int(torch.as_tensor(snapshots[e]).shape[0]) for e in epochs))
    fig, axes = plt.subplots(len(epochs), n, figsize=(size * n + 1.4, size * len(epochs) + 0.4), squeeze=False)
    for row, e in zip(axes, epochs):
        w = torch.as_tensor(snapshots[e]).detach().float().cpu()
        if w.ndim != 4:
            raise ValueError(f"snapshot {e}: filters must have shape (C_out, C_in, k, k), got {tuple(w.shape)}")
        for ax, f in zip(row, w[:n]):
            img = f.permute(1, 2, 0) if f.shape[0] == 3 else f[0]
            ax.imshow(normalize01(img), cmap=None if f.shape[0] == 3 else "gray", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        label = f"epoch {e}" if e else "init"
        if accuracies is not None and e in accuracies:
            label += f"\nacc {accuracies[e]:.0%}"
        row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def map_rows(
    image: Any | Sequence[Any],
    rows: dict[str, Sequence[Any]],
    col_titles: Sequence[str] | None = None,
    size: float = 1.5,
    cmap: str = "viridis",
    overlay_alpha: float = 0.6,
    suptitle: str | None = None,
    scale: str | dict[str, str] = "each",
) -> Figure:
    """Rows of feature maps drawn over images, each map upsampled and min-max scaled.

    Inputs: ``image`` one image (H, W) or (H, W, 3) for all maps -- then it is also shown in a first
    column -- or a list with one image per map column; ``rows`` {row label: [map (h, w), ...]},
    all rows of the same length; ``col_titles`` one title per map column; ``scale`` ``"each"``
    (every map min-max scaled on its own: shapes) or ``"row"`` (one scale per row: strengths
    compare along the row), or a dict {row label: "each" | "row"} (rows not named: "each").
    """
    scales = {label: scale.get(label, "each") if isinstance(scale, dict) else scale for label in rows}
    bad = {k: v for k, v in scales.items() if v not in ("each", "row")}
    if bad or (isinstance(scale, dict) and set(scale) - set(rows)):
        raise ValueError(f"scale must be 'each' or 'row' (per row: a dict with row labels), got {scale!r}")

    def rgb(a: Any) -> np.ndarray:
        a = to_array(a)
        return np.repeat(normalize01(a)[..., None], 3, axis=2) if a.ndim == 2 else a

    lengths = {len(v) for v in rows.values()}
    if len(lengths) != 1:
        raise ValueError(f"all rows need the same number of maps, got {sorted(lengths)}")
    nmaps = lengths.pop()
    per_column = isinstance(image, (list, tuple))
    if per_column and len(image) != nmaps:
        raise ValueError(f"got {len(image)} images for {nmaps} map columns")
    backgrounds = [rgb(im) for im in image] if per_column else [rgb(image)] * nmaps
    first = 0 if per_column else 1
    ncol = nmaps + first
    if col_titles is not None and len(col_titles) != nmaps:
        raise ValueError(f"got {len(col_titles)} column titles for {nmaps} map columns")
    fig, axes = plt.subplots(len(rows), ncol, figsize=(size * ncol + 1.6, size * len(rows) + 0.5), squeeze=False)
    for r, (label, maps) in enumerate(rows.items()):
        if not per_column:
            axes[r, 0].imshow(backgrounds[0])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        ups = [upsample_map(m, bg.shape[:2]) for m, bg in zip(maps, backgrounds)]
        lo, hi = min(float(u.min()) for u in ups), max(float(u.max()) for u in ups)
        for c, (u, bg) in enumerate(zip(ups, backgrounds)):
            ax = axes[r, c + first]
            hm = normalize01(u) if scales[label] == "each" else (u - lo) / max(hi - lo, 1e-12)
            ax.imshow(bg)
            ax.imshow(hm, cmap=cmap, alpha=overlay_alpha, vmin=0, vmax=1)
            if r == 0 and col_titles is not None:
                ax.set_title(col_titles[c], fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def signed_rgb_shared(grads: Sequence[Any], percentile: float = 99.5) -> list[np.ndarray]:
    """Like ``signed_rgb`` but with ONE scale for all gradients (the largest of their
    ``percentile``-s of |values|), so a unit that barely responds to an image stays grey
    instead of having its noise blown up. Returns a list of (H, W, 3) images in [0, 1]."""
    arrays = [to_array(g).astype(np.float64) for g in grads]
    if not arrays:
        raise ValueError("signed_rgb_shared needs at least one gradient")
    scale = max(float(np.percentile(np.abs(a), percentile)) for a in arrays)
    if scale <= 0:
        return [np.full_like(a, 0.5) for a in arrays]
    return [np.clip(0.5 + 0.5 * a / scale, 0.0, 1.0) for a in arrays]


# --------------------------------------------------------------------------- activation analysis (09)


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
        fig, ax = plt.subplots(figsize=(size, size * mosaic.shape[0] / mosaic.shape[1]))
    ax.imshow(rgb, interpolation="antialiased")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure


def activation_layers(
    image: Any, maps: dict[str, Any], titles: dict[str, str] | None = None, size: float = 4.6
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
    axes.flat[0].imshow(to_array(image))
    axes.flat[0].set_title("input", fontsize=10)
    for ax, (layer, m) in zip(list(axes.flat)[1:], maps.items()):
        c, h, w = tuple(m.shape)
        activation_mosaic(m, ax=ax, title=(titles or {}).get(layer, f"{layer}: {c} channels of {h}x{w}"))
        ax.title.set_fontsize(10)
    fig.tight_layout()
    return fig


def sparsity_plot(series: dict[str, dict[str, float]], title: str | None = None) -> Figure:
    """Fraction of zero activations per layer: one line per series {label: {layer: fraction}}."""
    if not series:
        raise ValueError("nothing to plot: got 0 series")
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for (label, fr), marker in zip(series.items(), "osd^v<>"):
        names = list(fr)
        ax.plot(range(len(names)), [fr[n] for n in names], marker=marker, label=label)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of zeros")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def patch_rows(
    rows: dict[str, tuple[Sequence[Any], Sequence[float]]],
    size: float = 0.95,
    suptitle: str | None = None,
    fmt: str = "{:.0f}",
) -> Figure:
    """Girshick et al.'s Fig. 4 layout: one row per unit with its top patches, strongest first,
    each labelled with its activation (white box). ``rows`` {row label: (patches, values)}."""
    if not rows:
        raise ValueError("nothing to plot: got 0 rows")
    k = max(len(p) for p, _ in rows.values())
    fig, axes = plt.subplots(len(rows), k, figsize=(size * k + 1.5, size * len(rows) + 0.5), squeeze=False)
    for r, (label, (patches, values)) in enumerate(rows.items()):
        if len(patches) != len(values):
            raise ValueError(f"row {label!r}: {len(patches)} patches but {len(values)} values")
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(patches):
                ax.imshow(to_array(patches[c]), interpolation="antialiased")
                ax.text(0.04, 0.96, fmt.format(values[c]), transform=ax.transAxes, fontsize=6, va="top",
                        ha="left", bbox={"facecolor": "white", "alpha": 0.85, "pad": 1, "lw": 0})  # fmt: skip
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
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
    ax.imshow(m, cmap="gray", vmin=0, vmax=max(float(m.max()), 1e-12), interpolation="nearest")
    ax.set_title(f"feature map {m.shape[0]}x{m.shape[1]} (max {m.max():.0f})", fontsize=9)
    ax.axis("off")
    ax = fig.add_subplot(gs[:3, 3:6])
    overlay(img, np.maximum(m, 0), ax=ax, alpha=0.55, cmap="inferno", title="over the input")
    for i in range(k):
        ax = fig.add_subplot(gs[i // 3, 6 + i % 3])
        ax.imshow(to_array(patches[i]), interpolation="antialiased")
        ax.set_title(f"{values[i]:.0f}", fontsize=8, pad=2)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.86 if title else 0.93)
    return fig


# --------------------------------------------------------------------------- feature spaces (08)


def neighbour_rows(
    queries: Sequence[Any],
    groups: dict[str, Sequence[Sequence[Any]]],
    captions: dict[str, Sequence[Sequence[str]]] | None = None,
    query_captions: Sequence[str] | None = None,
    size: float = 1.1,
    cmap: str = "gray",
    suptitle: str | None = None,
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
    ks = [max(len(r) for r in rows) for rows in groups.values()]
    widths = [1.0, 0.25]
    for g, k in enumerate(ks):
        widths += [1.0] * k + ([0.25] if g < len(ks) - 1 else [])
    fig = plt.figure(figsize=(size * sum(widths) + 0.2, (size + 0.25) * nq + 0.45))
    gs = fig.add_gridspec(nq, len(widths), width_ratios=widths, wspace=0.05, hspace=0.3)
    col0 = [2]
    for k in ks[:-1]:
        col0.append(col0[-1] + k + 1)
    for r in range(nq):
        ax = fig.add_subplot(gs[r, 0])
        a = to_array(queries[r])
        ax.imshow(a, cmap=None if a.ndim == 3 else cmap)
        ax.set_xticks([])
        ax.set_yticks([])
        for s in ax.spines.values():
            s.set_edgecolor("tab:red")
            s.set_linewidth(2)
        if query_captions is not None:
            ax.set_xlabel(query_captions[r], fontsize=7, labelpad=1)
        if r == 0:
            ax.set_title("query", fontsize=9)
        for (title, rows), c0 in zip(groups.items(), col0):
            for j, img in enumerate(rows[r]):
                ax = fig.add_subplot(gs[r, c0 + j])
                a = to_array(img)
                ax.imshow(a, cmap=None if a.ndim == 3 else cmap)
                ax.set_xticks([])
                ax.set_yticks([])
                if captions is not None and title in captions:
                    ax.set_xlabel(captions[title][r][j], fontsize=7, labelpad=1)
                if r == 0 and j == 0:
                    ax.set_title(title, fontsize=9, loc="left")
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
    ax.imshow(np.clip(canvas, 0, 1), interpolation="antialiased")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- occlusion, saliency sanity checks (10, 11)


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


def occlusion_figure(
    rows: Sequence[dict[str, Any]],
    size: float = 2.5,
    cmap: str = "jet",
    suptitle: str | None = None,
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
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch, Rectangle

    if not rows:
        raise ValueError("occlusion_figure needs at least one row")
    has_feature = all(r.get("feature") is not None for r in rows)
    ncol = 5 if has_feature else 3
    fig, axes = plt.subplots(len(rows), ncol, figsize=(size * ncol + 2.4, size * 1.12 * len(rows)), squeeze=False)
    for axrow, r in zip(axes, rows):
        img = to_array(r["image"])
        h, w = img.shape[:2]
        extent = _grid_extent(r["rows"], r["cols"], r["window"], r["stride"])
        k = len(r["rows"]) // 2, len(r["cols"]) // 3
        ax = axrow[0]
        ax.imshow(img)
        top, left = r["rows"][k[0]], r["cols"][k[1]]
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), r["window"], r["window"], color=(0.5, 0.5, 0.5)))
        ax.set_title(f"(a) input, occluder {r['window']}px\nstep {r['stride']}px", fontsize=8)
        col = 1
        if has_feature:
            ax = axrow[1]
            im = ax.imshow(to_array(r["feature"]), cmap=cmap, extent=extent, interpolation="nearest")
            ax.set_title(r.get("feature_title", "(b) total activation of the feature map"), fontsize=8)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
            ax = axrow[2]
            overlay(img, np.maximum(to_array(r["feature_map"]), 0), ax=ax, alpha=0.55, cmap="inferno")
            ax.set_title("(c) that feature map,\nunoccluded input", fontsize=8)
            col = 3
        ax = axrow[col]
        im = ax.imshow(to_array(r["prob"]), cmap=cmap, extent=extent, interpolation="nearest")
        ax.set_title(f"(d) p({r.get('true_name', 'true class')})", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        ax = axrow[col + 1]
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
        for ax in axrow:
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def occlusion_maps(
    image: Any,
    maps: dict[str, dict[str, Any]],
    size: float = 2.6,
    cmap: str = "jet",
    vmin: float | None = None,
    vmax: float | None = None,
    suptitle: str | None = None,
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
    axes[0].imshow(img)
    im = None
    for ax, (title, m) in zip(axes[1:], maps.items()):
        extent = _grid_extent(m["rows"], m["cols"], m["window"], m["stride"])
        im = ax.imshow(arrays[title], cmap=cmap, vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    for ax in axes:
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), fraction=0.02, pad=0.01, shrink=0.8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


# --------------------------------------------------------------------------- notebook 12


def feature_vis_rows(rows: dict[str, dict[str, Any]], size: float = 1.25, suptitle: str | None = None) -> Figure:
    """Olah et al. 2017's dataset-examples-vs-optimization layout, one row per unit:
    ``rows`` {label: {"min": crops, "negative": image, "positive": image, "max": crops}}; any key
    may be missing. Columns: minimum-activation crops, negative optimization, positive
    optimization, maximum-activation crops (strongest nearest the optimized images)."""
    if not rows:
        raise ValueError("nothing to plot: got 0 rows")
    layout = []
    for r in rows.values():
        mins = list(r.get("min", []))[::-1]
        cols = [(c, "min examples") for c in mins]
        cols += [(r[k], f"{k} opt.") for k in ("negative", "positive") if k in r]
        cols += [(c, "max examples") for c in r.get("max", [])]
        layout.append(cols)
    k = max(len(c) for c in layout)
    fig, axes = plt.subplots(len(rows), k, figsize=(size * k + 1.2, size * len(rows) + 0.6), squeeze=False)
    for i, (label, cols) in enumerate(zip(rows, layout)):
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(cols):
                img, kind = cols[j]
                ax.imshow(to_array(img))
                if "opt." in kind:
                    for spine in ax.spines.values():
                        spine.set_color("crimson" if kind.startswith("positive") else "royalblue")
                        spine.set_linewidth(2.5)
                if i == 0 and (j == 0 or cols[j - 1][1] != kind):
                    ax.set_title(kind, fontsize=8, loc="left")
            else:
                ax.axis("off")
        axes[i, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout(pad=0.3, w_pad=0.1, h_pad=0.2)
    return fig


def objective_curves(curves: dict[str, Sequence[float]], title: str | None = None, ylabel: str = "objective") -> Figure:
    """Objective value per optimization step, one line per run."""
    fig, ax = plt.subplots(figsize=(5, 2.8))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- inverting representations (07)


def inversion_errors(
    labels: Sequence[str],
    feature_errors: Sequence[float],
    pixel_errors: Sequence[float],
    start_errors: Sequence[float] | None = None,
    title: str | None = None,
) -> Figure:
    """Two panels over the layers of an inversion (Mahendran & Vedaldi's error analysis):
    left, the relative feature error ``||Phi(x*) - Phi0|| / ||Phi0||`` of each reconstruction (and of
    the random start, if given); right, the pixel RMSE between reconstruction and original."""
    n = len(labels)
    if len(feature_errors) != n or len(pixel_errors) != n or (start_errors is not None and len(start_errors) != n):
        raise ValueError("labels, feature_errors, pixel_errors (and start_errors) need the same length")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.2))
    pos = np.arange(n)
    if start_errors is not None:
        a1.plot(pos, start_errors, "o--", color="tab:gray", label="random start")
    a1.plot(pos, feature_errors, "o-", color="tab:blue", label="reconstruction")
    a1.set_ylabel(r"$\|\Phi(x) - \Phi_0\| \,/\, \|\Phi_0\|$")
    a1.set_ylim(0, None)
    a1.legend(fontsize=8)
    a1.set_title("feature error (what the optimizer sees)", fontsize=10)
    a2.bar(pos, pixel_errors, color="tab:orange")
    a2.set_ylabel("pixel RMSE to the original")
    a2.set_title("pixel error (what we see)", fontsize=10)
    for ax in (a1, a2):
        ax.set_xticks(pos, labels, rotation=30, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    fig, ax = plt.subplots(figsize=(0.75 * n + 1.8, 0.75 * n + 1.2))
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=hi)
    mid = (vmin + hi) / 2 if vmin < 0 else vmin
    for (i, j), v in np.ndenumerate(m):
        strong = abs(v - mid) > 0.6 * (hi - mid)
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8, color="white" if strong else "black")
    ax.set_xticks(range(n), labels, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def panel_rows(
    rows: dict[str, dict[str, Any]],
    size: float = 1.8,
    cmap: str = "gray",
    percentile: float = 99.0,
    suptitle: str | None = None,
) -> Figure:
    """A table of panels: one row per key of ``rows`` (label at the left), one column per key of
    the inner dicts (titles on the first row). (H, W, 3) values are shown as images; 2-D maps in
    ``cmap``, each on its own scale from 0 to its ``percentile`` (clipped above), as saliency maps
    are shown in Adebayo et al.'s figures. All rows must have the same columns.
    """
    if not rows:
        raise ValueError("panel_rows needs at least one row")
    cols = list(next(iter(rows.values())))
    for label, row in rows.items():
        if list(row) != cols:
            raise ValueError(f"row {label!r} has columns {list(row)}, expected {cols}")
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(size * len(cols) + 1.2, size * len(rows) + 0.5), squeeze=False
    )
    for r, (label, row) in enumerate(rows.items()):
        for c, (title, value) in enumerate(row.items()):
            ax = axes[r, c]
            a = to_array(value).astype(np.float64)
            if a.ndim == 3:
                ax.imshow(np.clip(a, 0, 1))
            else:
                hi = float(np.percentile(a, percentile))
                lo = float(a.min())
                ax.imshow(a, cmap=cmap, vmin=lo, vmax=hi if hi > lo else lo + 1e-12, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=8)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def curves(
    x: Sequence[Any],
    ys: dict[str, Sequence[float]],
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    hline: float | None = None,
    rotate: bool = False,
    size: tuple[float, float] = (6.0, 3.4),
) -> Figure:
    """Line plot of several named curves over the same x values (numbers or labels), with markers;
    ``hline`` draws a dashed reference line; ``rotate`` turns long x labels."""
    if not ys:
        raise ValueError("curves needs at least one curve")
    fig, ax = plt.subplots(figsize=size)
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in x)
    pos = np.asarray(x, dtype=float) if numeric else np.arange(len(x))
    for name, y in ys.items():
        y = np.asarray(to_array(y) if isinstance(y, torch.Tensor) else y, dtype=float)
        if y.shape != (len(x),):
            raise ValueError(f"curve {name!r} has {y.shape} values for {len(x)} x positions")
        ax.plot(pos, y, marker="o", markersize=3, label=name)
    if hline is not None:
        ax.axhline(hline, color="grey", linestyle="--", linewidth=1)
    if not numeric:
        ax.set_xticks(pos)
        ax.set_xticklabels([str(v) for v in x], rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- semantic dictionaries, FullGrad (13)


def icon_canvas(channels: Any, icons: dict[int, Any], strength: Any | None = None, gap: int = 2) -> np.ndarray:
    """An (h, w) grid of channel icons as one RGB array: cell (i, j) shows ``icons[channels[i, j]]``
    blended over white with opacity ``strength[i, j]`` in [0, 1] (1 when not given). A channel
    without an icon leaves its cell white. All icons must have the same (s, s, 3) shape."""
    ch = np.asarray(to_array(channels)).astype(int)
    if ch.ndim != 2:
        raise ValueError(f"channels must be an (h, w) grid, got shape {ch.shape}")
    if not icons:
        raise ValueError("icon_canvas needs at least one icon")
    arrays = {int(k): to_array(v).astype(np.float64) for k, v in icons.items()}
    s = next(iter(arrays.values())).shape[0]
    alpha = np.ones(ch.shape) if strength is None else np.clip(np.asarray(to_array(strength), dtype=float), 0, 1)
    if alpha.shape != ch.shape:
        raise ValueError(f"strength has shape {alpha.shape}, channels {ch.shape}")
    h, w = ch.shape
    out = np.ones((h * (s + gap) + gap, w * (s + gap) + gap, 3))
    for (i, j), c in np.ndenumerate(ch):
        if c in arrays:
            top, left = gap + i * (s + gap), gap + j * (s + gap)
            out[top : top + s, left : left + s] = alpha[i, j] * arrays[c] + (1 - alpha[i, j])
    return out


def semantic_grid(
    image: Any,
    channels: Any,
    icons: dict[int, Any],
    strength: Any | None = None,
    title: str | None = None,
    size: float = 4.2,
    label: bool = True,
) -> Figure:
    """The Building Blocks figure (Olah et al. 2018): the image with the layer's grid of positions,
    next to the grid of icons -- at each position the feature visualization of the channel that
    fires most there, opacity = activation strength. ``label`` writes the channel numbers."""
    img = to_array(image)
    ch = np.asarray(to_array(channels)).astype(int)
    h, w = ch.shape
    canvas = icon_canvas(ch, icons, strength)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(2 * size + 0.2, size + 0.4))
    a1.imshow(img)
    for k in range(1, h):
        a1.axhline(k * img.shape[0] / h - 0.5, color="white", linewidth=0.6, alpha=0.7)
    for k in range(1, w):
        a1.axvline(k * img.shape[1] / w - 0.5, color="white", linewidth=0.6, alpha=0.7)
    a1.set_title(f"image, {h}x{w} positions", fontsize=10)
    a2.imshow(canvas)
    if label and h * w <= 100:
        cell_h, cell_w = canvas.shape[0] / h, canvas.shape[1] / w
        for (i, j), c in np.ndenumerate(ch):
            a2.text(
                j * cell_w + 3,
                i * cell_h + 3,
                str(c),
                fontsize=6,
                va="top",
                ha="left",
                color="black",
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.7),
            )
    a2.set_title("most active channel per position (opacity = strength)", fontsize=10)
    for ax in (a1, a2):
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def dictionary_entries(
    image: Any,
    grid: tuple[int, int],
    entries: Sequence[dict[str, Any]],
    size: float = 1.5,
    title: str | None = None,
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
        ax.imshow(img)
        ch_, cw_ = img.shape[0] / grid[0], img.shape[1] / grid[1]
        ax.add_patch(Rectangle((col * cw_ - 0.5, row * ch_ - 0.5), cw_, ch_, fill=False, ec="red", lw=2))
        ax.set_title(f"position ({row}, {col})", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        for j, ((c, v), icon) in enumerate(zip(top, icons)):
            cell = outer[r, j + 1].subgridspec(2, 1, height_ratios=[1, 0.16], hspace=0.05)
            ai = fig.add_subplot(cell[0])
            ai.imshow(to_array(icon))
            ai.set_xticks([])
            ai.set_yticks([])
            ai.set_title(f"channel {c}: {v:.1f}", fontsize=8)
            ab = fig.add_subplot(cell[1])
            ab.barh([0], [vmax], color="0.9", height=0.8)
            ab.barh([0], [max(v, 0)], color="tab:orange" if j == 0 else "tab:blue", height=0.8)
            ab.set_xlim(0, vmax)
            ab.set_ylim(-0.5, 0.5)
            ab.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def attribution_rows(
    rows: dict[str, dict[str, Any]],
    size: float = 1.9,
    cmap: str = "inferno",
    percentile: float = 99.0,
    suptitle: str | None = None,
) -> Figure:
    """Like :func:`panel_rows` (one row per image, one column per method), for attribution maps
    at any resolution: 2-D maps are upsampled bilinearly to the size of the row's first
    (H, W, 3) image, then shown from their minimum to their ``percentile``."""
    out: dict[str, dict[str, Any]] = {}
    for label, row in rows.items():
        ref = next((to_array(v) for v in row.values() if to_array(v).ndim == 3), None)
        new = {}
        for name, v in row.items():
            a = to_array(v)
            if a.ndim == 2 and ref is not None and a.shape != ref.shape[:2]:
                a = upsample_map(a, ref.shape[:2])
            new[name] = a
        out[label] = new
    return panel_rows(out, size=size, cmap=cmap, percentile=percentile, suptitle=suptitle)


# --------------------------------------------------------------------------- DeepDream and generation (14)


def captioned_rows(
    rows: dict[str, Sequence[tuple[Any, str]]],
    size: float = 2.0,
    suptitle: str | None = None,
    fontsize: float = 8,
) -> Figure:
    """A table of images, each with its own caption: ``rows`` {row label: [(image, caption), ...]};
    the row label is written at the left. Rows may have different lengths (empty cells stay blank).
    Images (H, W, 3) of different sizes are all drawn in cells of the same size."""
    if not rows or not any(len(r) for r in rows.values()):
        raise ValueError("captioned_rows needs at least one image")
    k = max(len(r) for r in rows.values())
    label_w = 1.0 if any(rows) else 0.0
    fig, axes = plt.subplots(len(rows), k, figsize=(size * k + label_w, (size + 0.4) * len(rows) + 0.4), squeeze=False)
    for i, (label, cells) in enumerate(rows.items()):
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(cells):
                img, caption = cells[j]
                a = to_array(img)
                ax.imshow(np.clip(a, 0, 1) if a.ndim == 3 else a, cmap=None if a.ndim == 3 else "gray")
                ax.set_title(caption, fontsize=fontsize)
            else:
                ax.axis("off")
        if label:
            axes[i, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=fontsize + 1)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    top = 1 - 0.3 / fig.get_figheight() if suptitle else 1  # keep the suptitle clear of the first titles
    fig.tight_layout(pad=0.3, w_pad=0.2, h_pad=0.8, rect=(0, 0, 1, top))
    return fig


def ig_path(
    alphas: Any,
    scores: Any,
    integrand: Any,
    fine: tuple[Any, Any] | None = None,
    title: str | None = None,
) -> Figure:
    """Integrated Gradients along its path (notebook 13). Left: the score ``f(x0 + a (x - x0))`` at
    the quadrature nodes (dots), and on a finer grid if ``fine`` = (alphas, scores) is given (line).
    Right: the integrand ``<grad f, x - x0>`` at the nodes, whose average over [0, 1] should equal
    ``f(x) - f(x0)``."""
    a = np.asarray(to_array(alphas), dtype=float)
    f = np.asarray(to_array(scores), dtype=float)
    g = np.asarray(to_array(integrand), dtype=float)
    if not (a.shape == f.shape == g.shape) or a.ndim != 1:
        raise ValueError(f"alphas, scores, integrand must be 1-D of one length, got {a.shape}, {f.shape}, {g.shape}")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.2))
    if fine is not None:
        fa, fs = (np.asarray(to_array(v), dtype=float) for v in fine)
        a1.plot(fa, fs, "-", color="tab:gray", linewidth=1, label="score, fine grid")
    a1.plot(a, f, "o", color="tab:blue", markersize=3, label="score at the IG nodes")
    a1.set_xlabel(r"$\alpha$  (0 = baseline, 1 = image)")
    a1.set_ylabel(r"$f(x_0 + \alpha (x - x_0))$")
    a1.legend(fontsize=8)
    a1.set_title("the class score along the path", fontsize=10)
    a2.axhline(0, color="grey", linewidth=0.8)
    a2.vlines(a, 0, g, color="tab:orange", linewidth=1)
    a2.plot(a, g, "o", color="tab:orange", markersize=3)
    a2.set_xlabel(r"$\alpha$")
    a2.set_ylabel(r"$\langle \nabla f, x - x_0 \rangle$")
    a2.set_title("the integrand at the nodes", fontsize=10)
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- super-resolution (20)


def sr_zoom_comparison(
    panels: dict[str, Any],
    box: tuple[int, int, int],
    size: float = 2.4,
    suptitle: str | None = None,
    captions: dict[str, str] | None = None,
) -> Figure:
    """Johnson et al.'s Fig. 1/8 layout: one column per image of ``panels`` {title: (H, W, 3)},
    the whole image on top with a red square ``box`` = (top, left, side) in the coordinates of the
    *largest* image, the zoomed square below. Smaller images (the low-resolution input) get the box
    scaled to their size and are drawn with visible pixels (nearest-neighbour). ``captions`` adds
    a line under a column's zoom (e.g. its PSNR)."""
    from matplotlib.patches import Rectangle

    if not panels:
        raise ValueError("sr_zoom_comparison needs at least one image")
    arrays = {k: np.clip(to_array(v), 0, 1) for k, v in panels.items()}
    big = max(a.shape[0] for a in arrays.values())
    top, left, side = (int(v) for v in box)
    if side < 2 or top < 0 or left < 0:
        raise ValueError(f"box must be (top, left, side) with side >= 2 inside the image, got {box}")
    fig, axes = plt.subplots(2, len(arrays), figsize=(size * len(arrays), size * 2 + 0.5), squeeze=False)
    for j, (title, a) in enumerate(arrays.items()):
        f = a.shape[0] / big
        t, lf, s = round(top * f), round(left * f), max(1, round(side * f))
        if t + s > a.shape[0] or lf + s > a.shape[1]:
            raise ValueError(f"box {box} lies outside the image {title!r} of shape {a.shape[:2]}")
        ax = axes[0, j]
        ax.imshow(a, interpolation="nearest" if f < 1 else "antialiased")
        ax.add_patch(Rectangle((lf - 0.5, t - 0.5), s, s, fill=False, edgecolor="red", linewidth=1.5))
        ax.set_title(title, fontsize=9)
        zoom = axes[1, j]
        zoom.imshow(a[t : t + s, lf : lf + s], interpolation="nearest")
        if captions and title in captions:
            zoom.set_xlabel(captions[title], fontsize=8)
        for a_ in (ax, zoom):
            a_.set_xticks([])
            a_.set_yticks([])
        for spine in zoom.spines.values():
            spine.set_edgecolor("red")
    axes[0, 0].set_ylabel("whole image", fontsize=9)
    axes[1, 0].set_ylabel("zoom", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def sr_spectra(freqs: Any, spectra: dict[str, Any], title: str | None = None, cutoff: float | None = None) -> Figure:
    """Radially averaged power spectra {name: (bins,)} over ``freqs`` (cycles/pixel), log scale;
    ``cutoff`` marks the highest frequency the low-resolution input can carry."""
    if not spectra:
        raise ValueError("sr_spectra needs at least one spectrum")
    f = np.asarray(to_array(freqs), dtype=float)
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for name, p in spectra.items():
        p = np.asarray(to_array(p), dtype=float)
        if p.shape != f.shape:
            raise ValueError(f"spectrum {name!r} has shape {p.shape}, frequencies {f.shape}")
        style = {"color": "black", "linewidth": 2.2} if name.lower().startswith("ground") else {"linewidth": 1.4}
        ax.semilogy(f, np.maximum(p, 1e-12), label=name, **style)
    if cutoff is not None:
        ax.axvline(cutoff, color="grey", linestyle="--", linewidth=1)
        ax.text(cutoff, ax.get_ylim()[1], " LR Nyquist", va="top", fontsize=8, color="grey")
    ax.set_xlabel("spatial frequency (cycles / pixel)")
    ax.set_ylabel("power (log)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sr_training_curves(
    histories: dict[str, dict[str, Sequence[float]]],
    loss_labels: dict[str, str] | None = None,
    baseline_psnr: float | None = None,
    title: str | None = None,
) -> Figure:
    """Training of super-resolution nets: one panel per history with its training loss over the
    steps (log scale; ``loss_labels`` names each loss), and, if the histories have ``val_psnr``
    (at ``val_step``), a last panel with the held-out PSNR of all of them (``baseline_psnr`` dashed)."""
    if not histories:
        raise ValueError("sr_training_curves needs at least one history")
    with_val = [k for k, h in histories.items() if h.get("val_psnr")]
    n = len(histories) + (1 if with_val else 0)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.1), squeeze=False)
    for ax, (name, h) in zip(axes[0], histories.items()):
        steps, loss = np.asarray(h["step"], float), np.asarray(h["loss"], float)
        if steps.shape != loss.shape or steps.size == 0:
            raise ValueError(f"history {name!r} needs 'step' and 'loss' of one length")
        ax.plot(steps, loss, marker="o" if steps.size < 30 else None, markersize=3)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel((loss_labels or {}).get(name, "training loss"))
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    if with_val:
        ax = axes[0, -1]
        for name in with_val:
            h = histories[name]
            ax.plot(
                np.asarray(h["val_step"], float), np.asarray(h["val_psnr"], float), marker="o", markersize=3, label=name
            )
        if baseline_psnr is not None:
            ax.axhline(baseline_psnr, color="grey", linestyle="--", linewidth=1, label="bicubic")
        ax.set_xlabel("step")
        ax.set_ylabel("PSNR on held-out crops (dB)")
        ax.set_title("held-out PSNR", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- neural doodles (17)


def grouped_bars(
    series: dict[str, dict[str, float]],
    ylabel: str = "",
    title: str | None = None,
    log: bool = False,
    fmt: str = "{:.3f}",
    size: tuple[float, float] = (7.0, 3.4),
) -> Figure:
    """Grouped bar chart: ``series`` {series label: {group: value}}, one group of bars per key of
    the first series (e.g. one group per segment, one bar per run), each bar labelled with its value
    (``fmt``); ``log`` for a logarithmic y axis (values must then be > 0)."""
    if not series:
        raise ValueError("grouped_bars needs at least one series")
    groups = list(next(iter(series.values())))
    for name, vals in series.items():
        if set(vals) != set(groups):
            raise ValueError(f"series {name!r} has groups {sorted(vals)} but the first has {sorted(groups)}")
    fig, ax = plt.subplots(figsize=size)
    n = len(series)
    width = 0.8 / n
    x = np.arange(len(groups))
    for i, (name, vals) in enumerate(series.items()):
        v = np.array([float(vals[g]) for g in groups])
        if log and (v <= 0).any():
            raise ValueError(f"series {name!r} has values <= 0: cannot use a log axis")
        bars = ax.bar(x + (i - (n - 1) / 2) * width, v, width, label=name)
        for b, val in zip(bars, v):
            ax.text(b.get_x() + b.get_width() / 2, val, fmt.format(val), ha="center", va="bottom", fontsize=7)
    if log:
        ax.set_yscale("log")
    ax.margins(y=0.15)
    ax.set_xticks(x, [str(g) for g in groups])
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- texture synthesis (16)


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
        a = to_array(m).astype(np.float64)
        if a.ndim == 3 and a.shape[0] == 1:
            a = a[0]
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"a Gram matrix must be square (C, C), got shape {a.shape} for {title!r}")
        lo = min(float(a.min()), 0.0)
        im = ax.imshow(a - lo, cmap=cmap, norm=PowerNorm(gamma, vmin=0, vmax=float(a.max() - lo) or 1.0))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("channel d", fontsize=8)
        ax.set_ylabel("channel c", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
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
    ax.imshow(a, cmap=cmap, norm=norm)
    mid = np.sqrt(a.min() * a.max()) if log else (a.min() + a.max()) / 2
    for (i, j), v in np.ndenumerate(a):
        light = (v < mid) if cmap.endswith("_r") else (v > mid)  # a light cell gets black text
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8, color="black" if light else "white")
    ax.set_xticks(range(a.shape[1]))
    ax.set_xticklabels(col_labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(a.shape[0]))
    ax.set_yticklabels(row_labels, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- style transfer (18)


def image_table(
    images: Sequence[Sequence[Any]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    width: float = 1.9,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Figure:
    """A table of images of one size (Gatys et al.'s Fig. 3 layout): ``images[r][c]`` (H, W, 3)
    in [0, 1]; ``row_labels`` written at the left, ``col_labels`` above the first row; ``xlabel``
    / ``ylabel`` name what changes along the columns / rows. Cells keep the images' aspect ratio."""
    nrows = len(images)
    if nrows == 0 or any(len(r) != len(images[0]) for r in images) or len(images[0]) == 0:
        raise ValueError("image_table needs a non-empty rectangular table of images")
    ncols = len(images[0])
    if len(row_labels) != nrows or len(col_labels) != ncols:
        raise ValueError(f"got {len(row_labels)} row and {len(col_labels)} column labels for a {nrows}x{ncols} table")
    first = to_array(images[0][0])
    aspect = first.shape[0] / first.shape[1]
    left, top = 1.3, 0.45 + (0.3 if title else 0) + (0.25 if xlabel else 0)
    fig_w, fig_h = left + width * ncols + 0.1, top + width * aspect * nrows + 0.1
    fig = plt.figure(figsize=(fig_w, fig_h))
    gs = fig.add_gridspec(
        nrows,
        ncols,
        left=left / fig_w,
        right=1 - 0.1 / fig_w,
        bottom=0.1 / fig_h,
        top=1 - top / fig_h,
        wspace=0.04,
        hspace=0.04,
    )
    for r in range(nrows):
        for c in range(ncols):
            ax = fig.add_subplot(gs[r, c])
            ax.imshow(np.clip(to_array(images[r][c]), 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_labels[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=9)
    if xlabel:
        fig.text(
            (left + width * ncols / 2) / fig_w,
            1 - (0.2 + (0.3 if title else 0)) / fig_h,
            xlabel,
            ha="center",
            va="center",
            fontsize=9,
            style="italic",
        )
    if ylabel:
        fig.text(0.12 / fig_w, 0.5, ylabel, rotation=90, ha="center", va="center", fontsize=9, style="italic")
    if title:
        fig.suptitle(title, y=1 - 0.05 / fig_h, va="top", fontsize=11)
    return fig


def loss_terms(
    runs: dict[str, dict[str, Sequence[float]]],
    title: str | None = None,
    logy: bool = True,
    size: tuple[float, float] = (4.4, 3.1),
) -> Figure:
    """Loss terms per optimization step, one panel per run: ``runs`` {panel title: {curve label:
    values}}. A curve whose label starts with "total" is drawn black and dashed, on top; the panels
    share the y axis (log scale with ``logy``), so the runs compare directly."""
    if not runs:
        raise ValueError("loss_terms needs at least one run")
    fig, axes = plt.subplots(1, len(runs), figsize=(size[0] * len(runs), size[1]), squeeze=False, sharey=True)
    for ax, (name, curves_) in zip(axes[0], runs.items()):
        for label, values in curves_.items():
            v = np.asarray(to_array(values) if isinstance(values, torch.Tensor) else values, dtype=float)
            steps = np.arange(1, len(v) + 1)
            if label.startswith("total"):
                ax.plot(steps, v, "k--", linewidth=2, label=label, zorder=3)
            else:
                ax.plot(steps, v, linewidth=1.6, label=label)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if logy:  # a curve that starts at 0 (the content loss from the photo) would stretch a log axis to 1e-14
        values = np.concatenate([np.asarray(v, dtype=float).ravel() for c in runs.values() for v in c.values()])
        top = float(np.nanmax(values))
        positive = values[values > 0]
        low = max(float(positive.min()) if positive.size else top * 1e-3, top * 1e-3)
        axes[0, 0].set_ylim(low / 1.5, top * 1.5)
    axes[0, 0].set_ylabel("loss")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def stylized_gallery(
    photo: Any,
    outputs: dict[str, tuple[Any, Any]],
    width: float = 2.7,
    inset: float = 0.3,
    ncols: int | None = None,
    title: str | None = None,
) -> Figure:
    """Gatys et al.'s Fig. 2 layout: the photo, then each stylized version with its painting as an
    inset in the lower-left corner. ``outputs`` {caption: (stylized image, painting)}, images
    (H, W, 3); ``inset`` the inset's height as a share of the panel's height."""
    if not outputs:
        raise ValueError("stylized_gallery needs at least one output")
    base = to_array(photo)
    aspect = base.shape[0] / base.shape[1]
    n = len(outputs) + 1
    ncols = min(n, ncols or n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, (width * aspect + 0.35) * nrows + (0.3 if title else 0)), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(np.clip(base, 0, 1))
    axes.flat[0].set_title("photo", fontsize=9)
    for ax, (caption, (img, painting)) in zip(list(axes.flat)[1:], outputs.items()):
        ax.imshow(np.clip(to_array(img), 0, 1))
        ax.set_title(caption, fontsize=9)
        p = to_array(painting)
        h = inset
        w = inset * (p.shape[1] / p.shape[0]) * aspect
        sub = ax.inset_axes([0.02, 0.02, w, h])
        sub.imshow(np.clip(p, 0, 1))
        sub.set_xticks([])
        sub.set_yticks([])
        for spine in sub.spines.values():
            spine.set_edgecolor("white")
            spine.set_linewidth(1.5)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(pad=0.3, w_pad=0.3, h_pad=0.5)
    return fig


# --------------------------------------------------------------------------- fast stylization (19, 21)


def _block_row(ax: plt.Axes, blocks: Sequence[dict[str, Any]], x0: float, y: float, gap: float = 0.18) -> float:
    """Draw boxes centred on height ``y`` from ``x0``: each block {"label", "sub", "h", "w", "color"};
    returns the x after the last box."""
    from matplotlib.patches import FancyBboxPatch

    x = x0
    for b in blocks:
        ax.add_patch(
            FancyBboxPatch(
                (x, y - b["h"] / 2),
                b["w"],
                b["h"],
                boxstyle="round,pad=0.01,rounding_size=0.04",
                fc=b.get("color", "#cfe2f3"),
                ec="black",
                lw=0.8,
            )
        )
        ax.text(x + b["w"] / 2, y - b["h"] / 2 - 0.08, b["label"], ha="center", va="top", fontsize=7, rotation=90)
        if b.get("sub"):
            ax.text(
                x + b["w"] / 2, y + b["h"] / 2 + 0.06, b["sub"], ha="center", va="bottom", fontsize=6.5, rotation=90
            )
        x += b["w"] + gap
    return x


def perceptual_loss_diagram(
    transform_rows: Sequence[dict[str, Any]],
    loss_rows: Sequence[dict[str, Any]],
    photo: Any,
    output: Any,
    style_image: Any,
    content_layer: str,
    style_layers: Sequence[str],
    title: str | None = None,
) -> Figure:
    """Johnson et al.'s Fig. 2 drawn from the models: the image transformation network (top row,
    one box per layer: height ~ spatial size, width ~ log channels, ``C x H x W`` written above)
    maps the photo x to y_hat; the fixed loss network (bottom row, VGG19 layers) compares y_hat with
    the style target y_s (Gram matrices at ``style_layers``, red) and the content target y_c = x
    (features at ``content_layer``, blue).

    ``transform_rows`` / ``loss_rows``: dicts with ``"layer"`` and ``"output"`` (C, H, W), e.g. from
    ``fastnet.layer_table``; images (H, W, 3) in [0, 1].
    """
    if not transform_rows or not loss_rows:
        raise ValueError("perceptual_loss_diagram needs the rows of both networks")
    rows_t = [r for r in transform_rows if r["layer"] != "input"]
    h0 = max(r["output"][1] for r in list(transform_rows) + list(loss_rows))
    cmax = max(r["output"][0] for r in list(transform_rows) + list(loss_rows))

    def size(r: dict[str, Any]) -> tuple[float, float]:
        c, h, _ = r["output"]
        return 0.35 + 1.5 * (h / h0), 0.12 + 0.28 * math.log2(max(c, 2)) / math.log2(max(cmax, 2))

    def block(r: dict[str, Any], color: str) -> dict[str, Any]:
        hh, ww = size(r)
        c, h, w = r["output"]
        return {"label": r["layer"], "sub": f"{c}x{h}x{w}", "h": hh, "w": ww, "color": color}

    fig, ax = plt.subplots(figsize=(12.5, 6.2))
    ax.set_xlim(-0.2, 12.6)
    ax.set_ylim(-0.6, 6.8)
    ax.axis("off")
    arrow = dict(arrowstyle="-|>", color="black", lw=1.0)
    # top: x -> f_W -> y_hat
    yt = 4.55
    ax.imshow(np.clip(to_array(photo), 0, 1), extent=(0.0, 1.3, yt - 0.65, yt + 0.65))
    ax.text(0.65, yt + 0.75, "photo x", ha="center", fontsize=9)
    ax.annotate("", (1.65, yt), (1.35, yt), arrowprops=arrow)
    blocks = []
    for r in rows_t:
        color = "#f9cb9c" if r["layer"].startswith("res") else ("#d9ead3" if r["layer"].startswith("up") else "#cfe2f3")
        blocks.append(block(r, color if r["layer"] != "out" else "#fff2cc"))
    x_end = _block_row(ax, blocks, 1.7, yt, gap=0.16)
    ax.text((1.7 + x_end) / 2, yt + 2.0, "image transformation network $f_W$ (trained)", ha="center", fontsize=10)
    ax.annotate("", (x_end + 0.3, yt), (x_end, yt), arrowprops=arrow)
    xo = x_end + 0.35
    ax.imshow(np.clip(to_array(output), 0, 1), extent=(xo, xo + 1.3, yt - 0.65, yt + 0.65))
    ax.text(xo + 0.65, yt + 0.75, r"output $\hat y$", ha="center", fontsize=9)
    # bottom: the loss network
    yb = 1.25
    lblocks = []
    for r in loss_rows:
        name = r["layer"]
        color = "#ea9999" if name in style_layers else ("#9fc5e8" if name == content_layer else "#eeeeee")
        if name in style_layers and name == content_layer:
            color = "#b4a7d6"
        lblocks.append(block(r, color))
    xl0 = 3.0
    xl_end = _block_row(ax, lblocks, xl0, yb, gap=0.2)
    ax.text((xl0 + xl_end) / 2, yb - 1.65, r"loss network $\phi$ = VGG19 (fixed)", ha="center", fontsize=10)
    ax.annotate(
        "", (xl0 - 0.05, yb + 0.9), (xo + 0.65, yt - 0.7), arrowprops=dict(arrowstyle="-|>", color="grey", lw=1.0)
    )
    ax.imshow(np.clip(to_array(style_image), 0, 1), extent=(0.0, 1.3, yb - 0.75, yb + 0.75))
    ax.text(0.65, yb + 0.85, "style target $y_s$", ha="center", fontsize=9)
    ax.annotate(
        "", (xl0 - 0.05, yb - 0.2), (1.35, yb - 0.2), arrowprops=dict(arrowstyle="-|>", color="#cc0000", lw=1.0)
    )
    ax.annotate(
        "", (xl0 - 0.05, yb + 0.2), (0.65, yt - 0.7), arrowprops=dict(arrowstyle="-|>", color="#3d85c6", lw=1.0)
    )
    ax.text(1.4, 2.9, "content target $y_c = x$", fontsize=8, color="#3d85c6", rotation=0)
    ax.text(
        xl_end + 0.1,
        yb + 0.35,
        f"style loss: Gram matrices at\n{', '.join(style_layers)}",
        fontsize=8.5,
        color="#cc0000",
        va="bottom",
    )
    ax.text(
        xl_end + 0.1, yb - 0.35, f"content loss: features at\n{content_layer}", fontsize=8.5, color="#3d85c6", va="top"
    )
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def training_curves(
    histories: dict[str, dict[str, Sequence[float]]],
    keys: Sequence[str] = ("content", "style"),
    title: str | None = None,
    logy: bool = True,
    size: tuple[float, float] = (4.6, 3.1),
    smooth: int = 1,
) -> Figure:
    """Training losses against the step, one panel per key (``content``, ``style``, ...), one line
    per run: ``histories`` {run label: {"step": [...], key: [...]}} (runs may have different step
    grids). Log scale with ``logy``. ``smooth`` > 1: a running mean over that many points is drawn
    over the faint raw curve (per-batch losses are noisy)."""
    if not histories:
        raise ValueError("training_curves needs at least one run")
    fig, axes = plt.subplots(1, len(keys), figsize=(size[0] * len(keys), size[1]), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, h in histories.items():
            if key not in h:
                raise ValueError(f"run {label!r} has no {key!r} values (has {sorted(h)})")
            y = np.asarray(h[key], dtype=float)
            x = np.asarray(h.get("step", np.arange(1, len(y) + 1)), dtype=float)
            if smooth > 1 and len(y) > smooth:
                (line,) = ax.plot(x, y, linewidth=0.6, alpha=0.25)
                k = np.ones(smooth) / smooth
                ax.plot(
                    np.convolve(x, k, "valid"), np.convolve(y, k, "valid"), color=line.get_color(), lw=1.6, label=label
                )
            else:
                ax.plot(x, y, linewidth=1.4, label=label)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(f"{key} loss", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def marked_image_rows(
    rows: dict[str, Sequence[Any]],
    col_titles: Sequence[str] | None = None,
    highlight: Sequence[bool] | dict[str, Sequence[bool]] | None = None,
    note: str | None = None,
    size: float = 0.9,
    suptitle: str | None = None,
    cmap: str = "gray",
) -> Figure:
    """Images in a table: one row per key of ``rows`` (its label at the left), the same number of
    images in every row (``None`` leaves a cell empty), optional column titles on the first row.
    ``highlight`` draws an orange frame around cells: one boolean per column (same for all rows) or
    a dict row label -> booleans; ``note`` is a line of text under the table (e.g. what the frame means).
    Values are shown on a fixed 0..1 scale: RGB images as they are, 2-D maps in ``cmap``.
    """
    if not rows:
        raise ValueError("marked_image_rows needs at least one row")
    ncols = len(next(iter(rows.values())))
    for label, row in rows.items():
        if len(row) != ncols:
            raise ValueError(f"row {label!r} has {len(row)} images, expected {ncols}")
    if col_titles is not None and len(col_titles) != ncols:
        raise ValueError(f"got {len(col_titles)} column titles for {ncols} columns")
    label_w = 0.12 * max(len(k) for k in rows) * 0.6 + 0.3
    fig, axes = plt.subplots(
        len(rows),
        ncols,
        figsize=(size * ncols + label_w, size * len(rows) + 0.35 + 0.3 * bool(suptitle)),
        squeeze=False,
    )
    for r, (label, row) in enumerate(rows.items()):
        marks = highlight.get(label) if isinstance(highlight, dict) else highlight
        for c, img in enumerate(row):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if img is None:
                ax.axis("off")
                continue
            a = to_array(img).astype(np.float64)
            ax.imshow(np.clip(a, 0, 1), cmap=None if a.ndim == 3 else cmap, vmin=0, vmax=1, interpolation="nearest")
            framed = marks is not None and bool(marks[c])
            for spine in ax.spines.values():
                spine.set_color("tab:orange" if framed else "0.8")
                spine.set_linewidth(2.5 if framed else 0.5)
            if r == 0 and col_titles is not None:
                ax.set_title(col_titles[c], fontsize=8)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    if note:
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, 0.3 / fig.get_figheight()))
        fig.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=8, color="0.3")
    return fig


def step_curves(
    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str | None = None,
    xlabel: str = "training step",
    ylabel: str = "loss",
    logy: bool = True,
    size: tuple[float, float] = (6.0, 3.2),
) -> Figure:
    """Loss curves that may have different x values: ``curves[name] = (steps, values)``; log y axis
    by default (losses fall over orders of magnitude)."""
    if not curves:
        raise ValueError("step_curves needs at least one curve")
    fig, ax = plt.subplots(figsize=size)
    for name, (x, y) in curves.items():
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"curve {name!r}: {x.shape} steps for {y.shape} values")
        ax.plot(x, y, label=name, linewidth=1.2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def image_rows(
    rows: dict[str, Sequence[tuple[Any, str]]],
    size: float = 1.8,
    suptitle: str | None = None,
    fontsize: float = 8,
    label_width: float = 1.0,
) -> Figure:
    """Like :func:`captioned_rows` (``rows`` {row label: [(image, caption), ...]}), but the space above
    every row grows with the number of lines of the longest caption, so two- or three-line captions
    never run into the row above or the title. Images (H, W, 3) or (h, w) are drawn in square cells."""
    if not rows or not any(len(r) for r in rows.values()):
        raise ValueError("image_rows needs at least one image")
    k = max(len(r) for r in rows.values())
    lines = max((c.count("\n") + 1 for r in rows.values() for _, c in r if c), default=0)
    cap = lines * fontsize * 1.3 / 72 + 0.08  # inches of caption above each row
    top = 0.4 if suptitle else 0.05
    width, height = label_width + size * k + 0.1, top + len(rows) * (size + cap) + 0.05
    fig, axes = plt.subplots(len(rows), k, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=label_width / width,
        right=1 - 0.1 / width,
        top=1 - (top + cap) / height,
        bottom=0.05 / height,
        wspace=0.04,
        hspace=cap / size,
    )
    for i, (label, cells) in enumerate(rows.items()):
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(cells):
                ax.axis("off")
                continue
            img, caption = cells[j]
            a = to_array(img)
            ax.imshow(np.clip(a, 0, 1) if a.ndim == 3 else a, cmap=None if a.ndim == 3 else "gray")
            if caption:
                ax.set_title(caption, fontsize=fontsize, pad=3)
        if label:
            axes[i, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=fontsize + 1)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10, y=1 - 0.08 / height, va="top")
    return fig


def compact(fig: Figure, dpi: int = 80, quality: int = 80) -> Any:
    """A figure as a small JPEG (an ``IPython.display.Image``), and the figure closed.

    For widget outputs: a large PNG sent through an ``ipywidgets.Output`` can stall an unattended
    execution (nbclient's mock output widget echoes every output back to the kernel; jupyter/nbclient
    issue #312). A JPEG at screen resolution is a few times smaller."""
    import io

    from IPython.display import Image

    if not isinstance(fig, Figure):
        raise TypeError(f"compact takes a matplotlib Figure, got {type(fig).__name__}")
    buf = io.BytesIO()
    fig.savefig(buf, format="jpg", dpi=dpi, pil_kwargs={"quality": int(quality)})
    plt.close(fig)
    return Image(data=buf.getvalue(), format="jpeg")
