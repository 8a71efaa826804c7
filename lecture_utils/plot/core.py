"""The shared core of every figure: array conversion with an explicit layout, the check against
blank panels, and ONE layout of image panels (grids and tables with titles, row labels, overlays,
colour bars and frames).

Layout. Images are drawn as (H, W, 3) floats in [0, 1] (or uint8) and maps as (H, W). What comes
in may be a tensor in PyTorch's (1, C, H, W) / (C, H, W) layout; :func:`to_array` converts it
*once*, and an array that is already (H, W, C) is never permuted again (``layout="hwc"``).

Blank panels. A panel whose drawn values span less than one grey level of an 8-bit screen shows
nothing; drawing it is almost always a bug upstream (a zero gradient, a dead map, a missing
image). :func:`check_not_blank` raises ``ValueError`` for it unless the caller passes
``allow_blank=True`` (every panel of the figure) or ``allow_blank={"title", ...}`` (those panels,
named by their title, by "row label/column title", or by a row label for the whole row).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = [
    "Panel",
    "check_not_blank",
    "compact",
    "draw_panel",
    "grid_axes",
    "kernels_rgb",
    "kernel_panel",
    "normalize01",
    "panel_table",
    "signed_rgb",
    "signed_rgb_shared",
    "to_array",
    "upsample_map",
]

Blank = bool | Collection[str]
_LEVEL = 1.0 / 255.0  # one grey level of an 8-bit screen


# --------------------------------------------------------------------------- conversion


def to_array(x: Any, layout: str = "auto") -> np.ndarray:
    """Tensor/PIL/array -> numpy in the display layout: (H, W) maps, (H, W, C) images.

    ``layout`` says how ``x`` is laid out; nothing is guessed from the shape:

    - ``"chw"``: ``x`` is (C, H, W) or (1, C, H, W) (PyTorch's image layout) and is permuted once
      to (H, W, C).
    - ``"hwc"``: ``x`` is already (H, W) or (H, W, C) and is never permuted.
    - ``"auto"`` (default): a tensor follows PyTorch's layout -- (1, C, H, W), or (C, H, W) with
      C = 1 or 3 -- and an array (or PIL image) is (H, W[, C]) and never permuted. A 3-D tensor
      whose first *and* last axes are 1 or 3 (e.g. a 3x3 RGB kernel) cannot be told apart:
      ``ValueError``, pass ``layout``.

    A single channel (H, W, 1) becomes (H, W); uint8 becomes float in [0, 1].
    """
    if layout not in ("auto", "chw", "hwc"):
        raise ValueError(f"layout must be 'auto', 'chw' or 'hwc', got {layout!r}")
    is_tensor = isinstance(x, torch.Tensor)
    a = x.detach().float().cpu().numpy() if is_tensor else np.asarray(x)
    if layout == "chw" or (layout == "auto" and is_tensor):
        if a.ndim == 4:
            if a.shape[0] != 1:
                raise ValueError(f"expected one image, got a batch of shape {tuple(a.shape)}")
            a = a[0]
        if a.ndim == 3 and (layout == "chw" or a.shape[0] in (1, 3)):
            if layout == "auto" and a.shape[2] in (1, 3):
                raise ValueError(
                    f"a tensor of shape {tuple(a.shape)} may be (C, H, W) or (H, W, C): "
                    "pass layout='chw' or layout='hwc'"
                )
            a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    return a


def normalize01(x: Any, eps: float = 1e-12, layout: str = "auto") -> np.ndarray:
    """Min-max scale to [0, 1] (a constant array becomes zeros); ``layout`` as in :func:`to_array`."""
    a = to_array(x, layout).astype(np.float64)
    lo, hi = np.nanmin(a), np.nanmax(a)
    return np.zeros_like(a) if hi - lo < eps else (a - lo) / (hi - lo)


def upsample_map(heatmap: Any, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize an (h, w) map to ``size`` = (H, W)."""
    import torch.nn.functional as F

    h = torch.as_tensor(to_array(heatmap), dtype=torch.float32)
    if h.ndim != 2:
        raise ValueError(f"a heatmap must be 2-D (h, w), got shape {tuple(h.shape)}")
    return F.interpolate(h[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def kernels_rgb(weights: Any, channel_order: str = "rgb") -> np.ndarray:
    """Filters (C_out, C_in, k, k) -> a numpy array (C_out, k, k, C_in) in display layout, with the
    input channels in RGB order: ``channel_order="bgr"`` flips them (for a network trained on BGR
    input, e.g. the Caffe VGG19 of ``models.load_model("vgg19")``, whose ``normalize.bgr`` is True)."""
    if channel_order not in ("rgb", "bgr"):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    w = weights.detach().float().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights, float)
    if w.ndim != 4:
        raise ValueError(f"filters must have shape (C_out, C_in, k, k), got {tuple(w.shape)}")
    if channel_order == "bgr":
        if w.shape[1] != 3:
            raise ValueError(f"channel_order='bgr' needs 3 input channels, got {w.shape[1]}")
        w = w[:, ::-1]
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1))


def kernel_panel(f: np.ndarray, **kw: Any) -> Panel:
    """One filter (k, k, C_in) in display layout as a :class:`Panel`, min-max scaled on its own:
    RGB for C_in = 3, else the first input channel in grey. Never permuted again."""
    if f.shape[2] == 3:
        return Panel(normalize01(f, layout="hwc"), cmap=None, interpolation="nearest", **kw)
    return Panel(normalize01(f[..., 0], layout="hwc"), cmap="gray", interpolation="nearest", **kw)


def signed_rgb(grad: Any, percentile: float = 99.5) -> np.ndarray:
    """A signed (1, 3, H, W) / (3, H, W) gradient as an (H, W, 3) image: grey 0.5 is zero, the
    ``percentile`` of |values| maps to 0 / 1 (clipped beyond). For guided backprop and Guided Grad-CAM."""
    return signed_rgb_shared([grad], percentile)[0]


def signed_rgb_shared(grads: Sequence[Any], percentile: float = 99.5) -> list[np.ndarray]:
    """Like ``signed_rgb`` but with ONE scale for all gradients (the largest of their
    ``percentile``-s of |values|), so a unit that barely responds to an image stays grey
    instead of having its noise blown up. Returns a list of (H, W, 3) images in [0, 1]."""
    arrays = [to_array(g).astype(np.float64) for g in grads]
    if not arrays:
        raise ValueError("signed_rgb_shared needs at least one gradient")
    for a in arrays:
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"signed_rgb takes a (1, 3, H, W) or (H, W, 3) gradient, got shape {a.shape}")
    scale = max(float(np.percentile(np.abs(a), percentile)) for a in arrays)
    if scale <= 0:
        return [np.full_like(a, 0.5) for a in arrays]
    return [np.clip(0.5 + 0.5 * a / scale, 0.0, 1.0) for a in arrays]


# --------------------------------------------------------------------------- blank panels


def _allowed(allow_blank: Blank, names: Sequence[str | None]) -> bool:
    if isinstance(allow_blank, (bool, np.bool_)):
        return bool(allow_blank)
    if isinstance(allow_blank, str):  # one name, not its letters
        allow_blank = {allow_blank}
    return any(n is not None and n in allow_blank for n in names)


def check_not_blank(
    a: np.ndarray,
    name: str | None,
    allow_blank: Blank = False,
    vmin: float | None = None,
    vmax: float | None = None,
    aliases: Sequence[str | None] = (),
) -> None:
    """``ValueError`` if the drawn values of ``a`` span less than one 8-bit grey level.

    RGB images are drawn as they are (range [0, 1]); a 2-D map with ``vmin``/``vmax`` on that
    scale, without them min-max scaled (then only an exactly constant map is blank). NaN/inf
    are ignored. ``allow_blank``: True, or a collection of panel names (``name`` or ``aliases``).
    """
    if _allowed(allow_blank, (name, *aliases)):
        return
    a = np.asarray(a, dtype=np.float64)
    v = a[np.isfinite(a)]
    if v.size == 0:
        spread, level = 0.0, float("nan")
    else:
        level = float(v.flat[0])
        if a.ndim == 3:
            spread = float(np.ptp(np.clip(v, 0.0, 1.0))) / _LEVEL
        elif vmin is not None and vmax is not None and vmax > vmin:
            spread = float(np.ptp(np.clip((v - vmin) / (vmax - vmin), 0.0, 1.0))) / _LEVEL
        else:
            spread = float(np.ptp(v)) / max(1e-12 * max(1.0, float(np.abs(v).max())), 1e-300)
    if spread < 1.0:
        raise ValueError(
            f"panel {name!r} is constant (all {level:.3g}): nothing to see; pass allow_blank=True if this is meant"
        )


# --------------------------------------------------------------------------- panels


@dataclass
class Panel:
    """One image panel. ``image`` (H, W) or (H, W, C) in display layout (``None``: an empty cell);
    2-D values use ``cmap`` with ``vmin``/``vmax``/``norm``; ``clip`` clips to [0, 1];
    ``overlay`` an (H, W) map in [0, 1] drawn over the image in ``overlay_cmap`` with
    ``overlay_alpha``; ``colorbar`` adds one; ``frame`` = (colour, width) of the spines (width 0
    hides them); ``corner`` a label in a white box at the top-left; ``title_kw`` goes to
    ``set_title``; ``name`` identifies the panel for ``allow_blank`` (default: the title)."""

    image: Any = None
    title: str | None = None
    cmap: str | None = "gray"
    vmin: float | None = None
    vmax: float | None = None
    norm: Any = None
    interpolation: str | None = None
    clip: bool = False
    overlay: Any = None
    overlay_cmap: str = "jet"
    overlay_alpha: float = 0.5
    colorbar: bool = False
    frame: tuple[str, float] | None = None
    corner: str | None = None
    xlabel: str | None = None
    title_kw: dict[str, Any] = field(default_factory=lambda: {"fontsize": 9})
    name: str | None = None
    extent: tuple[float, float, float, float] | None = None


def draw_panel(ax: plt.Axes, p: Panel, allow_blank: Blank = False, aliases: Sequence[str | None] = ()) -> Any:
    """Draw ``p`` on ``ax`` (checked against blank panels first); returns the last image artist."""
    a = np.asarray(p.image)
    if p.clip:
        a = np.clip(a, 0, 1)
    name = p.name or p.title
    if p.overlay is None:
        check_not_blank(a, name, allow_blank, p.vmin, p.vmax, aliases)
    kw: dict[str, Any] = {"interpolation": p.interpolation} if p.interpolation else {}
    if p.extent is not None:
        kw["extent"] = p.extent
    if a.ndim == 2:
        kw.update(cmap=p.cmap, vmin=p.vmin, vmax=p.vmax, norm=p.norm)
        kw = {k: v for k, v in kw.items() if v is not None}
    im = ax.imshow(a, **kw)
    if p.overlay is not None:
        check_not_blank(np.asarray(p.overlay), name, allow_blank, 0.0, 1.0, aliases)
        im = ax.imshow(p.overlay, cmap=p.overlay_cmap, alpha=p.overlay_alpha, vmin=0, vmax=1)
    if p.title is not None:
        ax.set_title(p.title, **p.title_kw)
    if p.xlabel is not None:
        ax.set_xlabel(p.xlabel, fontsize=7, labelpad=1)
    if p.colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if p.frame is not None:
        for spine in ax.spines.values():
            spine.set_visible(p.frame[1] > 0)
            spine.set_color(p.frame[0])
            spine.set_linewidth(p.frame[1])
    if p.corner is not None:
        ax.text(
            0.04,
            0.96,
            p.corner,
            transform=ax.transAxes,
            fontsize=6,
            va="top",
            ha="left",
            bbox={"facecolor": "white", "alpha": 0.85, "pad": 1, "lw": 0},
        )
    return im


def grid_axes(
    n: int, ncols: int | None, size: float, aspect: float = 1.0, nrows: int | None = None
) -> tuple[Figure, np.ndarray]:
    """A figure with ``n`` cells in ``ncols`` columns (default: square-ish), cells ``size`` inches
    wide and ``size * aspect`` high, every axes switched off."""
    if n < 1:
        raise ValueError("nothing to plot: got 0 images")
    ncols = min(n, ncols or math.ceil(math.sqrt(n)))
    nrows = nrows or math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * aspect), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def panel_table(
    cells: Sequence[Sequence[Panel | None]],
    figsize: tuple[float, float] | None = None,
    row_labels: Sequence[str] | None = None,
    label_fontsize: float = 9,
    axes: np.ndarray | None = None,
    axis_off: bool = False,
    allow_blank: Blank = False,
) -> tuple[Figure, np.ndarray]:
    """THE layout of image panels: ``cells[r][c]`` drawn into a rows x columns table (new axes of
    ``figsize``, or the given ``axes``). Rows may be shorter than the table; missing and ``None``
    cells are switched off. Drawn cells lose their ticks (``axis_off``: the whole frame);
    ``row_labels`` go at the left of each row. Returns (figure, axes); the caller sets the
    spacing (``tight_layout`` / ``subplots_adjust``), which differs between figure types."""
    nrows, ncols = len(cells), max((len(r) for r in cells), default=0)
    if nrows == 0 or ncols == 0:
        raise ValueError("nothing to plot: got 0 panels")
    if axes is None:
        _, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    for r, row in enumerate(cells):
        label = row_labels[r] if row_labels is not None else None
        for c in range(ncols):
            ax = axes[r, c]
            p = row[c] if c < len(row) else None
            if p is None or p.image is None:
                ax.axis("off")
                continue
            ax.set_xticks([])
            ax.set_yticks([])
            if axis_off:
                ax.axis("off")
            draw_panel(ax, p, allow_blank, aliases=(label,))
        if label:
            axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=label_fontsize)
    return axes[0, 0].figure, axes


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


def _finish_figure(fig: Figure, suptitle: str | None = None, **kw: Any) -> Figure:
    """The last step of every figure function: ``fig.suptitle(suptitle, **kw)`` when ``suptitle``
    is given (``kw`` e.g. ``fontsize``), then ``fig.tight_layout()``. Returns: ``fig``."""
    if suptitle:
        fig.suptitle(suptitle, **kw)
    fig.tight_layout()
    return fig
