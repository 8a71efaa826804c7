"""Grids and tables of images: the layouts every part of the course uses, each a thin wrapper over
:func:`core.panel_table` that only decides the cells, the figure size and the spacing.

Every function here takes ``allow_blank`` (see :mod:`lecture_utils.plot.core`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .core import Blank, Panel, _finish_figure, draw_panel, grid_axes, normalize01, panel_table, to_array, upsample_map

__all__ = [
    "attribution_rows",
    "captioned_rows",
    "compare",
    "compare_wide",
    "image_rows",
    "image_table",
    "map_rows",
    "marked_image_rows",
    "overlay",
    "panel_rows",
    "show_images",
]


def _rows_of(panels: list[Panel], ncols: int) -> list[list[Panel]]:
    return [panels[i : i + ncols] for i in range(0, len(panels), ncols)]


def _suptitle(fig: Figure, suptitle: str | None, **kw: Any) -> None:
    if suptitle:
        fig.suptitle(suptitle, **kw)


def show_images(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 2.2,
    cmap: str = "gray",
    suptitle: str | None = None,
    normalize: bool = False,
    allow_blank: Blank = False,
) -> Figure:
    """A grid of images or maps with optional titles. ``normalize`` min-max scales each one."""
    images = list(images)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    fig, axes = grid_axes(len(images), ncols, size)
    panels = [
        Panel(
            normalize01(im) if normalize else to_array(im),
            None if titles is None else titles[i],
            cmap,
            interpolation="nearest",
            name=f"image {i}" if titles is None else titles[i],
        )
        for i, im in enumerate(images)
    ]
    panel_table(_rows_of(panels, axes.shape[1]), axes=axes, axis_off=True, allow_blank=allow_blank)
    return _finish_figure(fig, suptitle)


def _overlay_panel(img: np.ndarray, heatmap: Any, title: str | None, cmap: str, alpha: float) -> Panel:
    if img.ndim != 3:
        raise ValueError(f"overlay needs an (H, W, 3) image, got shape {img.shape}")
    hm = normalize01(upsample_map(heatmap, img.shape[:2]))
    return Panel(img, title, overlay=hm, overlay_cmap=cmap, overlay_alpha=alpha)


def overlay(
    image: Any,
    heatmap: Any,
    alpha: float = 0.5,
    cmap: str = "jet",
    ax: plt.Axes | None = None,
    title: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """A heatmap (h, w), min-max scaled and upsampled, over an image (H, W, 3)."""
    p = _overlay_panel(to_array(image), heatmap, title, cmap, alpha)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 3.2))
    draw_panel(ax, p, allow_blank)
    ax.axis("off")
    return ax.figure


def compare(
    panels: dict[str, Any],
    image: Any | None = None,
    size: float = 3.0,
    ncols: int | None = None,
    aspect: float = 1.0,
    allow_blank: Blank = False,
) -> Figure:
    """Side-by-side panels with titles. Values are images (H, W, 3) or maps (h, w); given
    ``image``, 2-D maps are drawn as overlays on it. ``aspect``: panel height / width."""
    fig, axes = grid_axes(len(panels), ncols or len(panels), size, aspect=aspect)
    img = None if image is None else to_array(image)
    cells = []
    for title, value in panels.items():
        a = to_array(value)
        if a.ndim == 2 and img is not None:
            cells.append(_overlay_panel(img, a, title, "jet", 0.5))
        else:
            cells.append(Panel(a if a.ndim == 3 else normalize01(a), title))
    panel_table(_rows_of(cells, axes.shape[1]), axes=axes, axis_off=True, allow_blank=allow_blank)
    fig.tight_layout()
    return fig


def compare_wide(
    panels: dict[str, Any],
    image: Any | None = None,
    width: float = 3.6,
    ncols: int | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """:func:`compare` for images that are not square: each panel's height follows the aspect
    ratio of ``image`` (or of the first panel), so rows of wide images sit close together."""
    ref = to_array(image if image is not None else next(iter(panels.values())))
    aspect = ref.shape[0] / ref.shape[1] + 0.12  # + room for the title
    return compare(panels, image=image, size=width, ncols=ncols, aspect=aspect, allow_blank=allow_blank)


def _map_panel(a: np.ndarray, title: str | None, cmap: str, percentile: float) -> Panel:
    """An image as it is, or a 2-D map from its minimum to its ``percentile`` (clipped above)."""
    if a.ndim == 3:
        return Panel(a, title, clip=True, title_kw={"fontsize": 8})
    hi, lo = float(np.percentile(a, percentile)), float(a.min())
    return Panel(
        a, title, cmap, vmin=lo, vmax=hi if hi > lo else lo + 1e-12, interpolation="nearest", title_kw={"fontsize": 8}
    )


def panel_rows(
    rows: dict[str, dict[str, Any]],
    size: float = 1.8,
    cmap: str = "gray",
    percentile: float = 99.0,
    suptitle: str | None = None,
    allow_blank: Blank = False,
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
    cells = []
    for r, (label, row) in enumerate(rows.items()):
        row_cells = [
            _map_panel(to_array(v).astype(np.float64), t if r == 0 else None, cmap, percentile) for t, v in row.items()
        ]
        cells.append(row_cells)
        for p, t in zip(cells[-1], row):
            p.name = f"{label}/{t}"
    fig, _ = panel_table(cells, (size * len(cols) + 1.2, size * len(rows) + 0.5), list(rows), allow_blank=allow_blank)
    return _finish_figure(fig, suptitle)


def attribution_rows(
    rows: dict[str, dict[str, Any]],
    size: float = 1.9,
    cmap: str = "inferno",
    percentile: float = 99.0,
    suptitle: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """Like :func:`panel_rows` (one row per image, one column per method), for attribution maps
    at any resolution: 2-D maps are upsampled bilinearly to the size of the row's first
    (H, W, 3) image, then shown from their minimum to their ``percentile``."""
    out: dict[str, dict[str, Any]] = {}
    for label, row in rows.items():
        arrays = {name: to_array(v) for name, v in row.items()}
        ref = next((a for a in arrays.values() if a.ndim == 3), None)
        out[label] = {
            name: upsample_map(a, ref.shape[:2]) if a.ndim == 2 and ref is not None and a.shape != ref.shape[:2] else a
            for name, a in arrays.items()
        }
    return panel_rows(out, size=size, cmap=cmap, percentile=percentile, suptitle=suptitle, allow_blank=allow_blank)


def _rgb(a: Any) -> np.ndarray:
    """An image as it is, a 2-D image min-max scaled and made grey RGB."""
    a = to_array(a)
    return np.repeat(normalize01(a)[..., None], 3, axis=2) if a.ndim == 2 else a


def _check_map_rows(
    image: Any, rows: dict[str, Sequence[Any]], col_titles: Sequence[str] | None, scale: str | dict[str, str]
) -> tuple[dict[str, str], int, bool]:
    """:func:`map_rows`'s arguments checked: (scale per row, maps per row, one image per column?)."""
    scales = {label: scale.get(label, "each") if isinstance(scale, dict) else scale for label in rows}
    bad = {k: v for k, v in scales.items() if v not in ("each", "row")}
    if bad or (isinstance(scale, dict) and set(scale) - set(rows)):
        raise ValueError(f"scale must be 'each' or 'row' (per row: a dict with row labels), got {scale!r}")
    lengths = {len(v) for v in rows.values()}
    if len(lengths) != 1:
        raise ValueError(f"all rows need the same number of maps, got {sorted(lengths)}")
    nmaps = lengths.pop()
    per_column = isinstance(image, (list, tuple))
    if per_column and len(image) != nmaps:
        raise ValueError(f"got {len(image)} images for {nmaps} map columns")
    if col_titles is not None and len(col_titles) != nmaps:
        raise ValueError(f"got {len(col_titles)} column titles for {nmaps} map columns")
    return scales, nmaps, per_column


def map_rows(
    image: Any | Sequence[Any],
    rows: dict[str, Sequence[Any]],
    col_titles: Sequence[str] | None = None,
    size: float = 1.5,
    cmap: str = "viridis",
    overlay_alpha: float = 0.6,
    suptitle: str | None = None,
    scale: str | dict[str, str] = "each",
    allow_blank: Blank = False,
) -> Figure:
    """Rows of feature maps drawn over images, each map upsampled and min-max scaled.

    Inputs: ``image`` one image (H, W) or (H, W, 3) for all maps -- then it is also shown in a first
    column -- or a list with one image per map column; ``rows`` {row label: [map (h, w), ...]},
    all rows of the same length; ``col_titles`` one title per map column; ``scale`` ``"each"``
    (every map min-max scaled on its own: shapes) or ``"row"`` (one scale per row: strengths
    compare along the row), or a dict {row label: "each" | "row"} (rows not named: "each").
    """
    scales, nmaps, per_column = _check_map_rows(image, rows, col_titles, scale)
    backgrounds = [_rgb(im) for im in image] if per_column else [_rgb(image)] * nmaps
    cells = []
    for r, (label, maps) in enumerate(rows.items()):
        ups = [upsample_map(m, bg.shape[:2]) for m, bg in zip(maps, backgrounds)]
        lo, hi = min(float(u.min()) for u in ups), max(float(u.max()) for u in ups)
        row = [] if per_column else [Panel(backgrounds[0], name=f"{label}/image")]
        for c, (u, bg) in enumerate(zip(ups, backgrounds)):
            hm = normalize01(u) if scales[label] == "each" else (u - lo) / max(hi - lo, 1e-12)
            title = col_titles[c] if r == 0 and col_titles is not None else None
            name = f"{label}/{col_titles[c] if col_titles is not None else c}"
            kw = {"overlay_cmap": cmap, "overlay_alpha": overlay_alpha, "title_kw": {"fontsize": 8}}
            row.append(Panel(bg, title, overlay=hm, name=name, **kw))
        cells.append(row)
    ncol = nmaps + (0 if per_column else 1)
    figsize = (size * ncol + 1.6, size * len(rows) + 0.5)
    fig, _ = panel_table(cells, figsize, list(rows), allow_blank=allow_blank)
    return _finish_figure(fig, suptitle)


def _captioned(cells: Sequence[tuple[Any, str]], label: str, fontsize: float, pad: float | None) -> list[Panel]:
    out = []
    for j, (img, caption) in enumerate(cells):
        a = to_array(img)
        kw = {"fontsize": fontsize} if pad is None else {"fontsize": fontsize, "pad": pad}
        title = caption if (pad is None or caption) else None
        out.append(Panel(a, title, clip=a.ndim == 3, title_kw=kw, name=f"{label}/{caption or j}"))
    return out


def _captioned_table(
    rows: dict[str, Sequence[tuple[Any, str]]], fontsize: float, pad: float | None, caller: str
) -> tuple[list[list[Panel]], int]:
    """The panels of :func:`captioned_rows` and :func:`image_rows` (one list per row, ``rows`` checked) and the
    length of the longest row; the two differ only in how they lay the table out."""
    if not rows or not any(len(r) for r in rows.values()):
        raise ValueError(f"{caller} needs at least one image")
    return [_captioned(r, label, fontsize, pad) for label, r in rows.items()], max(len(r) for r in rows.values())


def captioned_rows(
    rows: dict[str, Sequence[tuple[Any, str]]],
    size: float = 2.0,
    suptitle: str | None = None,
    fontsize: float = 8,
    allow_blank: Blank = False,
) -> Figure:
    """A table of images, each with its own caption: ``rows`` {row label: [(image, caption), ...]};
    the row label is written at the left. Rows may have different lengths (empty cells stay blank).
    Images (H, W, 3) of different sizes are all drawn in cells of the same size."""
    cells, k = _captioned_table(rows, fontsize, None, "captioned_rows")
    label_w = 1.0 if any(rows) else 0.0
    figsize = (size * k + label_w, (size + 0.4) * len(rows) + 0.4)
    fig, _ = panel_table(cells, figsize, list(rows), fontsize + 1, allow_blank=allow_blank)
    _suptitle(fig, suptitle, fontsize=10)
    top = 1 - 0.3 / fig.get_figheight() if suptitle else 1  # keep the suptitle clear of the first titles
    fig.tight_layout(pad=0.3, w_pad=0.2, h_pad=0.8, rect=(0, 0, 1, top))
    return fig


def image_rows(
    rows: dict[str, Sequence[tuple[Any, str]]],
    size: float = 1.8,
    suptitle: str | None = None,
    fontsize: float = 8,
    label_width: float = 1.0,
    allow_blank: Blank = False,
) -> Figure:
    """Like :func:`captioned_rows` (``rows`` {row label: [(image, caption), ...]}), but the space above
    every row grows with the number of lines of the longest caption, so two- or three-line captions
    never run into the row above or the title. Images (H, W, 3) or (h, w) are drawn in square cells."""
    cells, k = _captioned_table(rows, fontsize, 3, "image_rows")
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
    panel_table(cells, row_labels=list(rows), label_fontsize=fontsize + 1, axes=axes, allow_blank=allow_blank)
    _suptitle(fig, suptitle, fontsize=10, y=1 - 0.08 / height, va="top")
    return fig


def marked_image_rows(
    rows: dict[str, Sequence[Any]],
    col_titles: Sequence[str] | None = None,
    highlight: Sequence[bool] | dict[str, Sequence[bool]] | None = None,
    note: str | None = None,
    size: float = 0.9,
    suptitle: str | None = None,
    cmap: str = "gray",
    allow_blank: Blank = False,
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
    cells = []
    for r, (label, row) in enumerate(rows.items()):
        marks = highlight.get(label) if isinstance(highlight, dict) else highlight
        cells.append(
            [
                None
                if img is None
                else Panel(
                    to_array(img).astype(np.float64),
                    col_titles[c] if r == 0 and col_titles is not None else None,
                    cmap,
                    vmin=0,
                    vmax=1,
                    interpolation="nearest",
                    clip=True,
                    title_kw={"fontsize": 8},
                    name=f"{label}/{c}",
                    frame=("tab:orange", 2.5) if marks is not None and bool(marks[c]) else ("0.8", 0.5),
                )
                for c, img in enumerate(row)
            ]
        )
    label_w = 0.12 * max(len(k) for k in rows) * 0.6 + 0.3
    figsize = (size * ncols + label_w, size * len(rows) + 0.35 + 0.3 * bool(suptitle))
    fig, _ = panel_table(cells, figsize, list(rows), allow_blank=allow_blank)
    _suptitle(fig, suptitle, fontsize=11)
    fig.tight_layout()
    if note:
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, 0.3 / fig.get_figheight()))
        fig.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=8, color="0.3")
    return fig


def _axis_names(fig: Figure, xlabel: str | None, ylabel: str | None, x: float, y: float) -> None:
    """What changes along the columns (above the table, at (x, y)) and along the rows (at the left)."""
    if xlabel:
        fig.text(x, y, xlabel, ha="center", va="center", fontsize=9, style="italic")
    if ylabel:
        fig.text(
            0.12 / fig.get_figwidth(), 0.5, ylabel, rotation=90, ha="center", va="center", fontsize=9, style="italic"
        )


def _empty_cells(axes: np.ndarray, images: Sequence[Sequence[Any]], col_labels: Sequence[str]) -> None:
    """``None`` cells of :func:`image_table` stay empty but keep their column title and row label."""
    for (r, c), ax in np.ndenumerate(axes):
        if images[r][c] is None:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
            if r == 0:
                ax.set_title(col_labels[c], fontsize=9)


def image_table(
    images: Sequence[Sequence[Any]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    width: float = 1.9,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    allow_blank: Blank = False,
) -> Figure:
    """A table of images of one size (Gatys et al.'s Fig. 3 layout): ``images[r][c]`` (H, W, 3)
    in [0, 1] (``None``: an empty cell); ``row_labels`` written at the left, ``col_labels`` above the
    first row; ``xlabel`` / ``ylabel`` name what changes along the columns / rows. Cells keep the
    images' aspect ratio."""
    nrows = len(images)
    if nrows == 0 or any(len(r) != len(images[0]) for r in images) or len(images[0]) == 0:
        raise ValueError("image_table needs a non-empty rectangular table of images")
    ncols = len(images[0])
    if len(row_labels) != nrows or len(col_labels) != ncols:
        raise ValueError(f"got {len(row_labels)} row and {len(col_labels)} column labels for a {nrows}x{ncols} table")
    first = to_array(next(im for row in images for im in row if im is not None))
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
    axes = np.array([[fig.add_subplot(gs[r, c]) for c in range(ncols)] for r in range(nrows)])
    cells = [
        [
            None
            if images[r][c] is None
            else Panel(
                to_array(images[r][c]),
                col_labels[c] if r == 0 else None,
                clip=True,
                name=f"{row_labels[r]}/{col_labels[c]}",
            )
            for c in range(ncols)
        ]
        for r in range(nrows)
    ]
    panel_table(cells, row_labels=row_labels, axes=axes, allow_blank=allow_blank)
    _empty_cells(axes, images, col_labels)
    _axis_names(fig, xlabel, ylabel, (left + width * ncols / 2) / fig_w, 1 - (0.2 + (0.3 if title else 0)) / fig_h)
    if title:
        fig.suptitle(title, y=1 - 0.05 / fig_h, va="top", fontsize=11)
    return fig
