"""Neural doodles: semantic style transfer with masked Gram matrices (lecture 17).

Lecture 17 («Генерация пейзажей»): A. J. Champandard 2016, "Semantic Style Transfer and Turning
Two-Bit Doodles into Fine Artworks" (arXiv 1603.01768). Input: a painting, its segmentation into
a few labels (sky, sea, land, ...) and a *new* segmentation drawn by hand (the doodle); output: a
new painting whose regions follow the doodle, each painted with the texture of the same label in
the original.

Champandard appends the (scaled) segmentation maps to VGG's feature maps and matches *patches*
(the MRF loss of Li & Wand 2016). This module implements the simpler variant with the same
input and output that the Gram-matrix losses of lecture 16 give directly (the "spatial control"
of Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer"): for every label
``k`` the Gram matrix of the region ``k`` of the result must match the Gram matrix of the region
``k`` of the painting, at several layers,

    loss = 1/K  sum_k  sum_l  w_l ||G_l(x; M_k^doodle) - G_l(style; M_k^painting)||^2 / ||G_l(style; M_k^painting)||^2

with ``G(F; M) = sum_p m_p F_p F_p^T / sum_p m_p`` (:func:`lecture_utils.style.gram_matrix` with a
mask; the masks are area-averaged down to each layer's resolution).

Segmentations are integer label maps (H, W) or one-hot masks (K, H, W) (label ``k`` = channel ``k``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import losses
from .checks import check_bool, check_int, check_non_negative, check_number, check_positive
from .models import ZooModel
from .optimize import INPUT, Objective, PixelImage, render
from .style import (
    check_count,
    check_layers,
    check_vgg,
    features,
    gram_matrix,
    loss_values,
    style_loss,
    style_targets,
)
from .targets import check_image

__all__ = [
    "DOODLE_LAYERS",
    "label_masks",
    "resize_labels",
    "resize_masks",
    "color_segments",
    "draw_doodle",
    "colorize",
    "segment_mean_colors",
    "nearest_color_segments",
    "color_init",
    "region_distances",
    "segment_losses",
    "neural_doodle",
    "DoodleResult",
]

# relu5_1 sees 1/16 of the image: at 128 px a segment is a handful of positions there, and the
# layer costs time without adding much for landscapes; relu1_1..relu4_1 carry colour to strokes.
DOODLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


# --------------------------------------------------------------------------- segmentations


def _as_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except Exception as e:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} must be an array, got {type(x).__name__}") from e
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
    return a


def _segment_dict(segments: Any, name: str) -> dict[int, np.ndarray]:
    """``{label: mask (H, W) float32}`` for the labels that occur, from a label map or one-hot masks."""
    a = _as_array(segments, name)
    if a.ndim == 2:
        if a.size == 0:
            raise ValueError(f"{name} is empty")
        if a.dtype == bool or not np.all(np.isfinite(a)) or not np.all(a == np.round(a)) or a.min() < 0:
            raise ValueError(f"{name} as a label map (H, W) must hold integer labels >= 0")
        a = a.astype(np.int64)
        return {int(k): (a == k).astype(np.float32) for k in np.unique(a)}
    if a.ndim == 3:
        a = a.astype(np.float32)
        if a.shape[0] == 0 or not np.all(np.isfinite(a)) or a.min() < 0:
            raise ValueError(f"{name} as masks (K, H, W) must have K >= 1 and finite weights >= 0")
        return {k: a[k] for k in range(a.shape[0]) if a[k].sum() > 0}
    raise ValueError(
        f"{name} must be a label map (H, W) of integers or one-hot masks (K, H, W), got shape {tuple(a.shape)}"
    )


def label_masks(segments: Any, labels: Sequence[int] | None = None) -> torch.Tensor:
    """One mask per label: ``M[i, 0] = (segments == labels[i])``.

    Inputs: ``segments`` a label map (H, W) of integers >= 0 (numpy or torch) or masks (K, H, W);
    ``labels`` which labels, in which order (default: those that occur, ascending; for masks
    label ``k`` is channel ``k``). A label that does not occur gives an all-zero mask.
    Returns: float tensor (len(labels), 1, H, W).
    """
    seg = _segment_dict(segments, "segments")
    shape = next(iter(seg.values())).shape if seg else _as_array(segments, "segments").shape[-2:]
    labels = sorted(seg) if labels is None else [int(k) for k in labels]
    if not labels:
        raise ValueError("no label to make a mask for")
    out = np.stack([seg.get(k, np.zeros(shape, np.float32)) for k in labels])
    return torch.from_numpy(out)[:, None]


def _check_size(size: Any) -> tuple[int, int]:
    sides = (size, size) if isinstance(size, (int, np.integer)) and not isinstance(size, bool) else size
    if (
        not isinstance(sides, (tuple, list))
        or len(sides) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sides)
    ):
        raise ValueError(f"size must be an int or (H, W) of integers >= 1, got {size!r}")
    return int(sides[0]), int(sides[1])


def resize_masks(masks: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize masks (K, 1, H, W) to ``size`` (h, w): area averaging when shrinking (a cell's value
    is the share of the cell covered), bilinear when enlarging. Returns: (K, 1, h, w)."""
    if not isinstance(masks, torch.Tensor) or masks.ndim != 4 or masks.shape[1] != 1:
        raise ValueError(f"masks must be a (K, 1, H, W) tensor, got {getattr(masks, 'shape', masks)!r}")
    h, w = _check_size(size)
    m = masks.float()
    if (h, w) == tuple(m.shape[-2:]):
        return m.clone()
    if h <= m.shape[-2] and w <= m.shape[-1]:
        return F.adaptive_avg_pool2d(m, (h, w))
    return F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)


def resize_labels(segments: Any, size: int | tuple[int, int]) -> np.ndarray:
    """Resize a label map (H, W) to ``size`` (h, w) without inventing labels: each label's mask is
    resized (:func:`resize_masks`) and every pixel takes the label with the largest share, so
    boundaries come out smooth rather than blocky. Returns: int64 array (h, w)."""
    a = _as_array(segments, "segments")
    if a.ndim != 2:
        raise ValueError(f"segments must be a label map (H, W), got shape {tuple(a.shape)}")
    seg = _segment_dict(a, "segments")
    labels = np.array(sorted(seg))
    masks = resize_masks(label_masks(a, labels), size)
    return labels[masks[:, 0].argmax(0).numpy()]


def color_segments(
    image: Any, k: int = 3, width: int = 24, smooth: int = 5, seed: int = 0, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Segment a painting by colour: k-means (sklearn) on the CIELAB colours of a downsized copy.

    Inputs: ``image`` PIL image or (H, W, 3) array (uint8, or floats in [0, 1]); ``k`` clusters;
    ``width`` the downsized copy's width in pixels (box filter: averages away brush strokes and
    clouds); ``smooth`` the median filter's side on the small label map (1 = none); ``size`` (h, w)
    of the returned map (default the image's size).
    Returns: int64 label map, labels ``0..k-1`` numbered by their mean height (0 = the highest
    region, e.g. the sky), so the numbering does not depend on k-means' random start.
    """
    from PIL import Image
    from scipy.ndimage import median_filter
    from skimage.color import rgb2lab
    from sklearn.cluster import KMeans

    k, width, smooth = check_int(k, "k", low=2), check_int(width, "width", low=4), check_int(smooth, "smooth", low=1)
    if not isinstance(image, Image.Image):
        a = _as_array(image, "image")
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3), got shape {tuple(a.shape)}")
        a = a.astype(np.uint8) if a.dtype == np.uint8 else (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
        image = Image.fromarray(a)
    w0, h0 = image.size
    small = image.convert("RGB").resize((width, max(2, round(width * h0 / w0))), Image.BOX)
    lab = rgb2lab(np.asarray(small, dtype=np.float64) / 255.0)
    hs, ws = lab.shape[:2]
    if hs * ws < k:
        raise ValueError(f"a {hs}x{ws} copy has fewer pixels than k={k} clusters: raise width")
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(lab.reshape(-1, 3))
    labels = km.labels_.reshape(hs, ws)
    if smooth > 1:
        labels = median_filter(labels, size=smooth, mode="nearest")
    rows = np.arange(hs)[:, None].repeat(ws, 1)
    present = np.unique(labels)
    order = sorted(present, key=lambda c: rows[labels == c].mean())
    relabel = np.zeros(k, dtype=np.int64)
    relabel[np.array(order)] = np.arange(len(order))
    return resize_labels(relabel[labels], size or (h0, w0))


def draw_doodle(
    shape: tuple[int, int],
    horizon: float = 0.45,
    hill_x: float = 0.25,
    hill_width: float = 0.55,
    hill_height: float = 0.6,
    shore: float = 0.12,
    labels: tuple[int, int, int] = (0, 1, 2),
) -> np.ndarray:
    """A landscape doodle drawn with code, as a label map (H, W).

    ``labels`` = (sky, sea, land). Above the ``horizon`` (fraction of the height from the top):
    sky; below: sea; a strip of land of height ``shore`` (fraction of the height) along the
    bottom, and a hill of land: a half-ellipse standing on the bottom edge, centred at ``hill_x``
    (fraction of the width), ``hill_width`` wide and ``hill_height`` high (fractions). The hill may
    rise above the horizon (a cliff against the sky). Returns: int64 array (H, W).
    """
    h, w = _check_size(tuple(shape) if isinstance(shape, (tuple, list)) else shape)
    values = dict(horizon=horizon, hill_x=hill_x, hill_width=hill_width, hill_height=hill_height, shore=shore)
    for name, v in values.items():
        check_number(v, name, low=0.0, high=1.0)  # a fraction of the height or width
    if (
        not isinstance(labels, (tuple, list))
        or len(labels) != 3
        or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 0 for k in labels)
    ):
        raise ValueError(f"labels must be three integers >= 0 (sky, sea, land), got {labels!r}")
    sky, sea, land = (int(k) for k in labels)
    y = (np.arange(h)[:, None] + 0.5) / h  # 0 at the top
    x = (np.arange(w)[None, :] + 0.5) / w
    out = np.where(y < horizon, sky, sea) * np.ones((h, w), dtype=np.int64)
    out[np.broadcast_to(y > 1 - shore, (h, w))] = land
    if hill_width > 0 and hill_height > 0:
        inside = ((x - hill_x) / (hill_width / 2)) ** 2 + ((1 - y) / hill_height) ** 2 < 1
        out[inside] = land
    return out.astype(np.int64)


def colorize(segments: Any, palette: dict[int, Sequence[float]] | None = None) -> np.ndarray:
    """A label map (H, W) as an RGB image (H, W, 3) in [0, 1] for display: label -> colour from
    ``palette`` (RGB in [0, 1]), default matplotlib's tab10 colours by label."""
    import matplotlib

    seg = _segment_dict(segments, "segments")
    cmap = matplotlib.colormaps["tab10"]
    shape = next(iter(seg.values())).shape
    out = np.zeros((*shape, 3))
    for k, m in seg.items():
        colour = palette[k] if palette and k in palette else cmap(k % 10)[:3]
        out += m[..., None] * np.asarray(colour, dtype=float)[None, None]
    return np.clip(out, 0, 1)


def segment_mean_colors(image: Any, segments: Any) -> dict[int, np.ndarray]:
    """Mean RGB of every segment: ``{label: (3,)}``. ``image`` (H, W, 3); ``segments`` (H, W) or (K, H, W)."""
    a = _as_array(image, "image").astype(np.float64)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got shape {tuple(a.shape)}")
    seg = _segment_dict(segments, "segments")
    shape = next(iter(seg.values())).shape
    if shape != a.shape[:2]:
        raise ValueError(f"segments are {shape[0]}x{shape[1]} but the image is {a.shape[0]}x{a.shape[1]}")
    return {k: (a * m[..., None]).sum((0, 1)) / m.sum() for k, m in seg.items()}


def nearest_color_segments(image: Any, colors: dict[int, Sequence[float]], width: int = 24) -> np.ndarray:
    """Label every pixel of ``image`` (H, W, 3) in [0, 1] with the label whose colour in ``colors``
    ({label: RGB in [0, 1]}, e.g. :func:`segment_mean_colors` of the painting) is nearest in CIELAB,
    after averaging the image down to ``width`` pixels across (as :func:`color_segments` does), so
    that single brush strokes do not count. Returns: int64 label map (H, W)."""
    from PIL import Image
    from skimage.color import rgb2lab

    a = _as_array(image, "image").astype(np.float64)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got shape {tuple(a.shape)}")
    if not colors:
        raise ValueError("colors must give at least one label's colour")
    width = check_int(width, "width", low=1)
    h, w = a.shape[:2]
    pil = Image.fromarray((np.clip(a, 0, 1) * 255).round().astype(np.uint8))
    small = np.asarray(pil.resize((width, max(1, round(width * h / w))), Image.BOX), dtype=np.float64) / 255.0
    labels = np.array(sorted(colors))
    ref = rgb2lab(np.array([colors[k] for k in labels], dtype=np.float64)[None])[0]  # (K, 3)
    d = ((rgb2lab(small)[:, :, None, :] - ref[None, None]) ** 2).sum(-1)
    return resize_labels(labels[d.argmin(-1)], (h, w))


def color_init(
    target_segments: Any, colors: dict[int, Sequence[float]], noise: float = 0.1, seed: int = 0
) -> torch.Tensor:
    """A starting image for :func:`neural_doodle`: every region of the doodle filled with its
    label's colour from ``colors`` ({label: RGB in [0, 1]}, e.g. the painting's segment means), plus
    Gaussian noise of standard deviation ``noise`` (noise breaks the symmetry of flat regions, whose
    pixels would otherwise all get the same gradient). Returns: (1, 3, H, W) in [0, 1]."""
    seg = _segment_dict(target_segments, "target_segments")
    missing = sorted(set(seg) - set(colors))
    if missing:
        raise ValueError(f"colors gives no colour for label(s) {missing}")
    noise = check_non_negative(noise, "noise")
    flat = colorize(target_segments, {k: colors[k] for k in seg})
    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(flat).float().permute(2, 0, 1)[None]
    return (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)


# --------------------------------------------------------------------------- the method


def _check_pair(style: torch.Tensor, style_segments: Any, target_segments: Any):
    """Validate the inputs; returns ({label: style mask (1,1,H,W)}, {label: target mask (1,1,h,w)})."""
    src = _segment_dict(style_segments, "style_segments")
    dst = _segment_dict(target_segments, "target_segments")
    if not src:
        raise ValueError("style_segments has no non-empty segment")
    if not dst:
        raise ValueError("target_segments has no non-empty segment")
    hs, ws = next(iter(src.values())).shape
    if (hs, ws) != tuple(style.shape[-2:]):
        raise ValueError(
            f"style_segments is {hs}x{ws} but the style image is {style.shape[-2]}x{style.shape[-1]}: "
            "give a segmentation of the style image at its size (see resize_labels)"
        )
    h, w = next(iter(dst.values())).shape
    if h < 8 or w < 8:
        raise ValueError(f"target_segments is only {h}x{w}: the result needs at least 8x8 pixels")
    missing = sorted(set(dst) - set(src))
    if missing:
        raise ValueError(
            f"target_segments uses label(s) {missing} that do not occur in style_segments (labels {sorted(src)}): "
            "every region of the doodle needs a region of the painting to copy its texture from"
        )

    def t(m: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))[None, None]

    return {k: t(src[k]) for k in dst}, {k: t(m) for k, m in dst.items()}


def _segment_objectives(
    model: ZooModel, style: torch.Tensor, src: dict, dst: dict, layers: list[str]
) -> dict[int, Objective]:
    dev = model.device
    return {
        k: style_loss(style_targets(model, style.to(dev), layers, mask=src[k].to(dev)), masks=dst[k].to(dev))
        for k in dst
    }


def segment_losses(
    model: ZooModel,
    image: torch.Tensor,
    style: torch.Tensor,
    style_segments: Any,
    target_segments: Any,
    layers: Sequence[str] = DOODLE_LAYERS,
) -> dict[int, float]:
    """Masked Gram loss of every segment of a preprocessed ``image`` (1, 3, h, w) laid out as
    ``target_segments`` (h, w) against the same label's region of ``style`` (1, 3, H, W) segmented
    as ``style_segments`` (H, W). Returns ``{label: loss}`` (0 = the region's Gram matrices match)."""
    check_vgg(model)
    layers = check_layers(model, layers)
    check_image(image)
    check_image(style, "style")
    src, dst = _check_pair(style, style_segments, target_segments)
    h, w = next(iter(dst.values())).shape[-2:]
    if tuple(image.shape[-2:]) != (h, w):
        raise ValueError(f"image is {image.shape[-2]}x{image.shape[-1]} but target_segments is {h}x{w}")
    parts = _segment_objectives(model, style, src, dst, layers)
    rgb = model.normalize.inverse(image.to(model.device)).clamp(0, 1)
    return loss_values(model, rgb, parts)


def region_distances(
    model: ZooModel, style: torch.Tensor, style_segments: Any, layers: Sequence[str] = DOODLE_LAYERS
) -> tuple[list[int], np.ndarray]:
    """How different the textures of the painting's regions are: ``D[i, j]`` = the masked Gram loss
    of region ``labels[i]`` measured against region ``labels[j]`` (mean over ``layers`` of
    ``||G_i - G_j||^2 / ||G_j||^2``); 0 on the diagonal.

    Inputs: ``style`` (1, 3, H, W) preprocessed; ``style_segments`` (H, W) or (K, H, W).
    Returns: (labels, D) with D of shape (K, K).
    """
    check_vgg(model)
    layers = check_layers(model, layers)
    check_image(style, "style")
    src, _ = _check_pair(style, style_segments, style_segments)
    labels = sorted(src)
    feats = features(model, style, layers)
    grams = {k: {n: gram_matrix(a, src[k].to(a.device)) for n, a in feats.items()} for k in labels}
    d = np.zeros((len(labels), len(labels)))
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            d[i, j] = np.mean([float(losses.relative_error(grams[a][n], grams[b][n])) for n in layers])
    return labels, d


@dataclass
class DoodleResult:
    """``image`` (h, w, 3) in [0, 1]; ``values`` the optimized loss per step; ``snapshots`` step ->
    image; ``start``/``final`` the loss terms ({"style", "total", and "tv" if used}) before and
    after; ``segments_start``/``segments_final`` the *masked* Gram loss of every label before and
    after (also for the unmasked baseline, so that both can be compared)."""

    image: np.ndarray
    values: list[float] = field(default_factory=list)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    start: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    segments_start: dict[int, float] = field(default_factory=dict)
    segments_final: dict[int, float] = field(default_factory=dict)


def neural_doodle(
    model: ZooModel,
    style: torch.Tensor,
    style_segments: Any,
    target_segments: Any,
    layers: Sequence[str] = DOODLE_LAYERS,
    masked: bool = True,
    tv: float = 0.0,
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
    init: torch.Tensor | None = None,
    snapshots: Sequence[int] = (),
    progress: bool = False,
) -> DoodleResult:
    """Paint ``target_segments`` with the textures of the matching regions of ``style``.

    Inputs: ``model`` VGG19 (``load_model("vgg19")``); ``style`` the preprocessed painting
    (1, 3, H, W); ``style_segments`` its segmentation, a label map (H, W) or masks (K, H, W);
    ``target_segments`` the doodle, (h, w) or (K, h, w), which fixes the result's size; every
    label of the doodle must occur in the painting. ``layers`` whose Gram matrices are matched;
    ``masked=False`` gives the baseline: plain (unmasked) Gram matching of the whole painting,
    blind to the doodle; ``tv`` weight of a total-variation penalty; Adam (``lr`` in logit units)
    for ``steps`` steps from noise drawn with ``seed``, or from ``init`` (1, 3, h, w) RGB in [0, 1].
    Returns: :class:`DoodleResult`.
    """
    check_vgg(model)
    layers = check_layers(model, layers)
    check_image(style, "style")
    check_count(steps, "steps")
    masked, tv, lr = check_bool(masked, "masked"), check_non_negative(tv, "tv"), check_positive(lr, "lr")
    src, dst = _check_pair(style, style_segments, target_segments)
    h, w = next(iter(dst.values())).shape[-2:]
    if init is not None and (not isinstance(init, torch.Tensor) or init.ndim != 4 or tuple(init.shape) != (1, 3, h, w)):
        raise ValueError(f"init must be an RGB tensor (1, 3, {h}, {w}) in [0, 1], got {getattr(init, 'shape', init)!r}")
    style = style.to(model.device)
    per_segment = _segment_objectives(model, style, src, dst, layers)
    if masked:
        loss = (1.0 / len(per_segment)) * _sum(list(per_segment.values()))
    else:
        loss = style_loss(style_targets(model, style, layers))
    parts: dict[str, Objective] = {"style": loss}
    total = loss
    if tv:
        parts["tv"] = Objective(lambda acts: losses.total_variation(acts[INPUT]), [], "TV")
        total = total + tv * parts["tv"]
    parts["total"] = total
    param = (PixelImage(0, init=init.detach()) if init is not None else PixelImage((h, w), seed=seed)).to(model.device)
    with torch.no_grad():
        first = param()
    start = loss_values(model, first, parts)
    seg_start = loss_values(model, first, per_segment)
    res = render(model, -total, steps=steps, lr=lr, param=param, snapshots=snapshots, seed=seed, progress=progress)
    out = torch.from_numpy(res.image).permute(2, 0, 1)[None].to(model.device)
    return DoodleResult(
        image=res.image,
        values=[-v for v in res.values],
        snapshots=res.snapshots,
        start=start,
        final=loss_values(model, out, parts),
        segments_start=seg_start,
        segments_final=loss_values(model, out, per_segment),
    )


def _sum(objectives: list[Objective]) -> Objective:
    total = objectives[0]
    for o in objectives[1:]:
        total = total + o
    return total
