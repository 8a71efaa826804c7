"""Figures of the lecture's third part -- making images: style transfer (18), fast stylization and
its perceptual loss (19, 21), super-resolution (20). (DeepDream, chairs, textures and doodles use
the shared tables of :mod:`lecture_utils.plot.images`.)

Image panels go through :mod:`lecture_utils.plot.core`; the functions that draw images take
``allow_blank``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .core import Blank, Panel, _finish_figure, check_not_blank, draw_panel, grid_axes, to_array

__all__ = ["perceptual_loss_diagram", "sr_zoom_comparison", "stylized_gallery"]


def sr_zoom_comparison(
    panels: dict[str, Any],
    box: tuple[int, int, int],
    size: float = 2.4,
    suptitle: str | None = None,
    captions: dict[str, str] | None = None,
    allow_blank: Blank = False,
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
        draw_panel(ax, Panel(a, interpolation="nearest" if f < 1 else "antialiased", name=title), allow_blank)
        ax.add_patch(Rectangle((lf - 0.5, t - 0.5), s, s, fill=False, edgecolor="red", linewidth=1.5))
        ax.set_title(title, fontsize=9)
        zoom = axes[1, j]
        draw_panel(zoom, Panel(a[t : t + s, lf : lf + s], interpolation="nearest", name=f"{title}/zoom"), allow_blank)
        if captions and title in captions:
            zoom.set_xlabel(captions[title], fontsize=8)
        for a_ in (ax, zoom):
            a_.set_xticks([])
            a_.set_yticks([])
        for spine in zoom.spines.values():
            spine.set_edgecolor("red")
    axes[0, 0].set_ylabel("whole image", fontsize=9)
    axes[1, 0].set_ylabel("zoom", fontsize=9)
    return _finish_figure(fig, suptitle, fontsize=10)


def stylized_gallery(
    photo: Any,
    outputs: dict[str, tuple[Any, Any]],
    width: float = 2.7,
    inset: float = 0.3,
    ncols: int | None = None,
    title: str | None = None,
    allow_blank: Blank = False,
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
    fig, axes = grid_axes(n, ncols, width, aspect=(width * aspect + 0.35) / width, nrows=nrows)
    if title:
        fig.set_figheight(fig.get_figheight() + 0.3)
    draw_panel(axes.flat[0], Panel(base, "photo", clip=True), allow_blank)
    for ax, (caption, (img, painting)) in zip(list(axes.flat)[1:], outputs.items()):
        draw_panel(ax, Panel(to_array(img), caption, clip=True), allow_blank)
        p = to_array(painting)
        h = inset
        w = inset * (p.shape[1] / p.shape[0]) * aspect
        sub = ax.inset_axes([0.02, 0.02, w, h])
        draw_panel(sub, Panel(p, clip=True, name=f"{caption}/painting"), allow_blank)
        sub.set_xticks([])
        sub.set_yticks([])
        for spine in sub.spines.values():
            spine.set_edgecolor("white")
            spine.set_linewidth(1.5)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(pad=0.3, w_pad=0.3, h_pad=0.5)
    return fig


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


def _layer_blocks(rows: Sequence[dict[str, Any]], every: Sequence[dict[str, Any]], colour: Any) -> list[dict[str, Any]]:
    """Boxes for :func:`_block_row`: height ~ spatial size, width ~ log channels (both relative to
    the largest of ``every``); ``colour(layer name)`` fills each box."""
    h0 = max(r["output"][1] for r in every)
    cmax = max(r["output"][0] for r in every)
    blocks = []
    for r in rows:
        c, h, w = r["output"]
        hh, ww = (0.35 + 1.5 * (h / h0), 0.12 + 0.28 * math.log2(max(c, 2)) / math.log2(max(cmax, 2)))
        blocks.append({"label": r["layer"], "sub": f"{c}x{h}x{w}", "h": hh, "w": ww, "color": colour(r["layer"])})
    return blocks


def _picture(ax: plt.Axes, image: Any, extent: tuple[float, float, float, float], name: str, blank: Blank) -> None:
    a = np.clip(to_array(image), 0, 1)
    check_not_blank(a, name, blank)
    ax.imshow(a, extent=extent)


def _transform_colour(name: str) -> str:
    if name == "out":
        return "#fff2cc"
    return "#f9cb9c" if name.startswith("res") else ("#d9ead3" if name.startswith("up") else "#cfe2f3")


def _loss_texts(
    ax: plt.Axes, xl0: float, xl_end: float, xo: float, yt: float, yb: float, content: str, style_layers: Sequence[str]
) -> None:
    """The arrows into the loss network and the two loss labels."""
    ax.text((xl0 + xl_end) / 2, yb - 1.65, r"loss network $\phi$ = VGG19 (fixed)", ha="center", fontsize=10)
    for tip, tail, colour in (
        ((xl0 - 0.05, yb + 0.9), (xo + 0.65, yt - 0.7), "grey"),
        ((xl0 - 0.05, yb - 0.2), (1.35, yb - 0.2), "#cc0000"),
        ((xl0 - 0.05, yb + 0.2), (0.65, yt - 0.7), "#3d85c6"),
    ):
        ax.annotate("", tip, tail, arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.0})
    ax.text(0.65, yb + 0.85, "style target $y_s$", ha="center", fontsize=9)
    ax.text(1.4, 2.9, "content target $y_c = x$", fontsize=8, color="#3d85c6", rotation=0)
    ax.text(
        xl_end + 0.1,
        yb + 0.35,
        f"style loss: Gram matrices at\n{', '.join(style_layers)}",
        fontsize=8.5,
        color="#cc0000",
        va="bottom",
    )
    ax.text(xl_end + 0.1, yb - 0.35, f"content loss: features at\n{content}", fontsize=8.5, color="#3d85c6", va="top")


def perceptual_loss_diagram(
    transform_rows: Sequence[dict[str, Any]],
    loss_rows: Sequence[dict[str, Any]],
    photo: Any,
    output: Any,
    style_image: Any,
    content_layer: str,
    style_layers: Sequence[str],
    title: str | None = None,
    allow_blank: Blank = False,
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
    every = list(transform_rows) + list(loss_rows)
    fig, ax = plt.subplots(figsize=(12.5, 6.2))
    ax.set_xlim(-0.2, 12.6)
    ax.set_ylim(-0.6, 6.8)
    ax.axis("off")
    arrow = {"arrowstyle": "-|>", "color": "black", "lw": 1.0}
    yt, yb, xl0 = 4.55, 1.25, 3.0  # top: x -> f_W -> y_hat; bottom: the loss network
    _picture(ax, photo, (0.0, 1.3, yt - 0.65, yt + 0.65), "photo", allow_blank)
    ax.text(0.65, yt + 0.75, "photo x", ha="center", fontsize=9)
    ax.annotate("", (1.65, yt), (1.35, yt), arrowprops=arrow)
    rows_t = [r for r in transform_rows if r["layer"] != "input"]
    x_end = _block_row(ax, _layer_blocks(rows_t, every, _transform_colour), 1.7, yt, gap=0.16)
    ax.text((1.7 + x_end) / 2, yt + 2.0, "image transformation network $f_W$ (trained)", ha="center", fontsize=10)
    ax.annotate("", (x_end + 0.3, yt), (x_end, yt), arrowprops=arrow)
    xo = x_end + 0.35
    _picture(ax, output, (xo, xo + 1.3, yt - 0.65, yt + 0.65), "output", allow_blank)
    ax.text(xo + 0.65, yt + 0.75, r"output $\hat y$", ha="center", fontsize=9)

    def loss_colour(name: str) -> str:
        if name in style_layers and name == content_layer:
            return "#b4a7d6"
        return "#ea9999" if name in style_layers else ("#9fc5e8" if name == content_layer else "#eeeeee")

    xl_end = _block_row(ax, _layer_blocks(loss_rows, every, loss_colour), xl0, yb, gap=0.2)
    _picture(ax, style_image, (0.0, 1.3, yb - 0.75, yb + 0.75), "style target", allow_blank)
    _loss_texts(ax, xl0, xl_end, xo, yt, yb, content_layer, style_layers)
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig
