"""Zeiler & Fergus's deconvnet, written out layer by layer, and the "top patches" of a unit.

Lecture section «Деконволюционная сеть (Deconvnet)» (notebook 02; Zeiler & Fergus 2014,
"Visualizing and Understanding Convolutional Networks", Fig. 1 and 2).

A deconvnet maps one activation back to pixel space. For a unit ``(layer, channel)`` of a plain
conv / ReLU / max-pool network (VGG19):

1. forward pass, recording the *switches* of every max-pool (where each maximum came from);
2. keep only the unit's strongest activation in the feature map, set everything else to zero;
3. walk down to the input, undoing each layer: max-pool -> **unpool** with the switches
   (``max_unpool2d``), ReLU -> **rectify** the signal (``relu``), conv -> **transposed conv** with
   the same filters and no bias (``conv_transpose2d``).

This is exactly autograd's backward pass with the "deconvnet" ReLU rule of
:mod:`lecture_utils.backprop` (times the activation), which the tests check to numerical
precision. The projection of a unit is zero outside the unit's receptive field
(:func:`receptive_field`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .activations import pool_maxima, strongest
from .checks import check_finite, check_int, check_number, device_of
from .hooks import get_layer
from .models import ZooModel, as_module
from .targets import check_image

__all__ = [
    "deconvnet_projection",
    "deconvnet_projections",
    "receptive_field",
    "channel_maxima",
    "PoolActivations",
    "top_patches",
    "unit_gallery",
    "UnitGallery",
    "selective_channels",
    "crop_box",
    "enhance_projection",
    "projection_concentration",
]


def _layers_up_to(model: nn.Module | ZooModel, layer: str) -> list[tuple[str, nn.Module]]:
    """The named children of a Sequential conv/ReLU/max-pool net, from the input up to ``layer``."""
    net = as_module(model)
    get_layer(net, layer)  # unknown names: ValueError with close names
    if not isinstance(net, nn.Sequential):
        raise ValueError(
            f"the explicit deconvnet needs a plain nn.Sequential of Conv2d/ReLU/MaxPool2d (like VGG19), "
            f"got {type(net).__name__}; use backprop.deconvnet_backprop for other networks"
        )
    names = [n for n, _ in net.named_children()]
    if layer not in names:
        raise ValueError(f"layer {layer!r} is not a top-level layer of the network; choose one of {', '.join(names)}")
    chosen = list(net.named_children())[: names.index(layer) + 1]
    for name, m in chosen:
        if not isinstance(m, (nn.Conv2d, nn.ReLU, nn.MaxPool2d)):
            raise ValueError(f"layer {name!r} is a {type(m).__name__}; the deconvnet handles Conv2d, ReLU, MaxPool2d")
    return chosen


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


@dataclass
class _Step:
    module: nn.Module
    in_shape: tuple[int, ...]
    switches: torch.Tensor | None = None


def _forward_with_switches(layers: list[tuple[str, nn.Module]], x: torch.Tensor) -> tuple[torch.Tensor, list[_Step]]:
    steps: list[_Step] = []
    for _, m in layers:
        step = _Step(m, tuple(x.shape))
        if isinstance(m, nn.MaxPool2d):
            x, step.switches = F.max_pool2d(
                x, m.kernel_size, m.stride, m.padding, m.dilation, ceil_mode=m.ceil_mode, return_indices=True
            )
        else:
            x = m(x)
        steps.append(step)
    return x, steps


def _backward_deconv(signal: torch.Tensor, steps: list[_Step]) -> torch.Tensor:
    for step in reversed(steps):
        m = step.module
        if isinstance(m, nn.MaxPool2d):  # unpool: put each value back where its maximum came from
            signal = F.max_unpool2d(
                signal, step.switches, m.kernel_size, m.stride, m.padding, output_size=step.in_shape[-2:]
            )
        elif isinstance(m, nn.ReLU):  # rectify the reconstruction
            signal = F.relu(signal)
        else:  # transposed convolution with the same filters, no bias
            out_pad = [
                step.in_shape[-2 + d]
                - ((signal.shape[-2 + d] - 1) * _pair(m.stride)[d] - 2 * _pair(m.padding)[d]
                   + _pair(m.dilation)[d] * (m.kernel_size[d] - 1) + 1)
                for d in range(2)
            ]  # fmt: skip
            signal = F.conv_transpose2d(
                signal, m.weight, None, m.stride, m.padding, tuple(out_pad), m.groups, m.dilation
            )
    return signal


def _check_channel(channel: int, n: int, layer: str) -> None:
    channel = check_int(channel, "channel")
    if not 0 <= channel < n:
        raise ValueError(f"channel {channel} out of range: layer {layer!r} has {n} channels (0..{n - 1})")


def _out_channels(layers: list[tuple[str, nn.Module]]) -> int:
    return next(m.out_channels for _, m in reversed(layers) if isinstance(m, nn.Conv2d))


@torch.no_grad()
def deconvnet_projections(
    model: nn.Module | ZooModel,
    images: torch.Tensor,
    layer: str,
    channel: int,
    positions: list[tuple[int, int]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched :func:`deconvnet_projection`: one unit, many images.

    Inputs: ``images`` (N, 3, H, W) preprocessed; ``positions`` one (row, col) per image in
    ``layer``'s feature map, or ``None`` for each image's strongest activation of ``channel``.
    Returns: ``projections`` (N, 3, H, W) and the projected ``activations`` (N,).
    """
    check_image(images, "images", batch=True)
    check_finite(images, "images")
    layers = _layers_up_to(model, layer)
    _check_channel(channel, _out_channels(layers), layer)
    x = images.detach().to(device_of(model))
    out, steps = _forward_with_switches(layers, x)
    fmap = out[:, channel]  # (N, h, w)
    n, h, w = fmap.shape
    if positions is None:
        flat = fmap.reshape(n, -1).argmax(dim=1)
        rows, cols = (flat // w).tolist(), (flat % w).tolist()
    else:
        if len(positions) != n:
            raise ValueError(f"got {len(positions)} positions for {n} images")
        for r, c in positions:
            if not (0 <= r < h and 0 <= c < w):
                raise ValueError(f"position {(r, c)} outside the {h}x{w} feature map of {layer!r}")
        rows, cols = [int(p[0]) for p in positions], [int(p[1]) for p in positions]
    idx = torch.arange(n)
    values = fmap[idx, rows, cols]
    signal = torch.zeros_like(out)
    signal[idx, channel, rows, cols] = values  # the single strongest activation, all others zeroed
    return _backward_deconv(signal, steps), values


def deconvnet_projection(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    layer: str,
    channel: int,
    position: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Project one activation of unit ``(layer, channel)`` back to pixel space (Zeiler & Fergus 2014).

    Inputs: ``image`` (1, 3, H, W) preprocessed for a Sequential conv/ReLU/max-pool net (VGG19);
    ``layer`` a layer name (e.g. ``"relu4_1"``); ``channel`` its channel; ``position`` (row, col)
    in the feature map, default: the channel's strongest activation.
    Returns: (1, 3, H, W) reconstruction in the space of the preprocessed input (for VGG19:
    BGR; :func:`lecture_utils.backprop.rgb_gradient` turns it to RGB for display).
    """
    check_image(image)
    proj, _ = deconvnet_projections(model, image, layer, channel, None if position is None else [tuple(position)])
    return proj


def receptive_field(model: nn.Module | ZooModel, layer: str, position: tuple[int, int]) -> tuple[int, int, int, int]:
    """The input pixels that unit ``position`` = (row, col) of ``layer`` can see.

    Returns: ``(top, left, bottom, right)`` with bottom/right exclusive; may extend beyond the
    image (clip it with :func:`crop_box`). VGG19: 14 px at relu2_2, 48 at relu3_4, 116 at relu4_4.
    """
    layers = _layers_up_to(model, layer)
    rf, jump = 1.0, 1.0
    start = [0.0, 0.0]  # centre of unit 0's field, per axis
    for _, m in layers:
        if isinstance(m, nn.ReLU):
            continue
        k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
        d = _pair(m.dilation)
        if k[0] != k[1] or s[0] != s[1]:
            raise ValueError("receptive_field handles square kernels and strides only")
        keff = d[0] * (k[0] - 1) + 1
        start = [start[a] + ((keff - 1) / 2 - p[a]) * jump for a in range(2)]
        rf += (keff - 1) * jump
        jump *= s[0]
    box = []
    for a in range(2):
        centre = start[a] + position[a] * jump
        box.append(int(round(centre - (rf - 1) / 2)))
    top, left = box
    return top, left, top + int(rf), left + int(rf)


def crop_box(array: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``array[top:bottom, left:right]`` with the box clipped to the array, (H, W, ...) -> (h, w, ...)."""
    top, left, bottom, right = box
    h, w = array.shape[:2]
    return array[max(0, top) : min(h, bottom), max(0, left) : min(w, right)]


# --------------------------------------------------------------------------- top patches of a pool


@dataclass
class PoolActivations:
    """Per layer, for a pool of N images: ``values[layer]`` (N, C) the strongest activation of
    each channel in each image, ``positions[layer]`` (N, C, 2) its (row, col)."""

    values: dict[str, torch.Tensor]
    positions: dict[str, torch.Tensor]


@torch.no_grad()
def channel_maxima(
    model: nn.Module | ZooModel, images: torch.Tensor, layers: list[str], batch_size: int = 32
) -> PoolActivations:
    """One batched forward pass over ``images`` (N, 3, H, W), preprocessed, recording each
    channel's maximum and its position at each of ``layers`` (a cache for top-patch searches):
    :func:`lecture_utils.activations.pool_maxima`."""
    check_image(images, "images", batch=True)
    check_finite(images, "images")
    if isinstance(layers, str) or not layers:
        raise ValueError(f"channel_maxima needs a non-empty list of layer names, got {layers!r}")
    for name in layers:
        get_layer(model, name)  # unknown names: ValueError with close names
    values, positions, _ = pool_maxima(model, images, layers, batch_size)
    return PoolActivations(values, positions)


def top_patches(
    acts: PoolActivations,
    layer: str,
    channel: int,
    k: int = 9,
    distinct: bool = True,
    groups: Sequence | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` pool images that activate ``(layer, channel)`` most, strongest first,
    and their activations (:func:`lecture_utils.activations.strongest`). ``distinct`` skips images
    whose activation equals (to 1e-5, relative) one already chosen -- overlapping crops or flat
    regions repeat the same patch -- unless fewer than ``k`` distinct values exist; ``groups`` (N,)
    a label per pool image (its source photo, ``datasets.crop_pool``'s labels): at most one image
    per label, so the ``k`` come from ``k`` different photos.
    Returns: (k,) ints, (k,) floats (k at most the pool size)."""
    if layer not in acts.values:
        raise ValueError(f"layer {layer!r} was not recorded; recorded: {', '.join(acts.values)}")
    v = acts.values[layer]
    _check_channel(channel, v.shape[1], layer)
    k = check_int(k, "k", low=1)
    idx = np.array(strongest(v[:, channel], min(k, len(v)), distinct, tol=1e-5, groups=groups), dtype=np.int64)
    return idx, v[idx, channel].numpy()


def enhance_projection(projection: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Contrast-enhanced display of one signed projection, normalized on its own as in Zeiler &
    Fergus's Fig. 2: grey 0.5 is zero, and the ``percentile`` of this projection's own |values|
    maps to black / white, the brightest ``100 - percentile`` % of the values clipped.

    Inputs: ``projection`` (h, w, 3) signed RGB (e.g. :attr:`UnitGallery.signed`, already cropped
    to the receptive field, so that the zeros outside it do not enter the percentile);
    ``percentile`` in (0, 100]: 100 is the plain linear display (the largest |value| -> 0 / 1).
    Returns: (h, w, 3) in [0, 1] (all grey for an all-zero projection)."""
    from .plot import signed_rgb

    check_number(percentile, "percentile", low=0.0, high=100.0, strict_low=True)
    a = np.asarray(projection)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"enhance_projection takes an (h, w, 3) signed RGB projection, got shape {a.shape}")
    return signed_rgb(a, percentile=percentile)


def projection_concentration(projection: np.ndarray, fraction: float = 1 / 3) -> float:
    """How compact a projection is: the largest share of its energy (|values| summed over the
    colours) that one square window of side ``fraction`` x the shorter side can hold. A pattern
    spread evenly over the crop gives about ``fraction**2``; one small blob gives close to 1.

    Inputs: ``projection`` (h, w, 3) signed (or (h, w) energy); ``fraction`` in (0, 1].
    Returns: a float in [0, 1] (0 for an all-zero projection)."""
    check_number(fraction, "fraction", low=0.0, high=1.0, strict_low=True)
    a = np.abs(np.asarray(projection, dtype=np.float64))
    e = a.sum(-1) if a.ndim == 3 else a
    if e.ndim != 2:
        raise ValueError(f"projection_concentration takes an (h, w, 3) or (h, w) array, got shape {a.shape}")
    total = float(e.sum())
    if total <= 0:
        return 0.0
    k = max(1, int(round(min(e.shape) * fraction)))
    c = np.pad(e, ((1, 0), (1, 0))).cumsum(0).cumsum(1)  # summed-area table: every window's sum at once
    windows = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return float(windows.max() / total)


@dataclass
class UnitGallery:
    """The top patches of one unit and their deconvnet projections, cropped to the unit's
    receptive field. ``projections`` / ``patches``: lists of (h, w, 3) arrays in [0, 1] (the
    projections as displayed, :func:`enhance_projection`); ``signed``: the same projections as
    signed RGB values, unscaled; ``indices`` (k,) pool indices; ``values`` (k,) activations,
    strongest first."""

    layer: str
    channel: int
    indices: np.ndarray
    values: np.ndarray
    projections: list[np.ndarray]
    patches: list[np.ndarray]
    signed: list[np.ndarray] = field(default_factory=list)


def unit_gallery(
    model: ZooModel,
    crops: np.ndarray,
    images: torch.Tensor,
    acts: PoolActivations,
    layer: str,
    channel: int,
    k: int = 9,
    groups: Sequence | np.ndarray | None = None,
    percentile: float = 99.0,
) -> UnitGallery:
    """Zeiler & Fergus's Fig. 2 for one unit: the ``k`` strongest pool patches and the deconvnet
    projection of the unit's strongest activation in each, both cropped to its receptive field.

    Inputs: ``crops`` (N, S, S, 3) uint8 pool; ``images`` the same pool preprocessed (N, 3, S, S);
    ``acts`` from :func:`channel_maxima` on ``images``; ``groups`` see :func:`top_patches` (at
    most one patch per source photo); ``percentile``: each projection is contrast-enhanced on its
    own (:func:`enhance_projection`, grey = 0, in RGB); 100 gives the plain linear display.
    """
    from .backprop import rgb_gradient

    idx, vals = top_patches(acts, layer, channel, k, groups=groups)
    pos = [tuple(int(t) for t in acts.positions[layer][i, channel]) for i in idx]
    proj, _ = deconvnet_projections(model, images[torch.as_tensor(idx)], layer, channel, pos)
    proj = rgb_gradient(model, proj).cpu().permute(0, 2, 3, 1).numpy()
    projections, patches, signed = [], [], []
    for j, i in enumerate(idx):
        box = receptive_field(model, layer, pos[j])
        signed.append(crop_box(proj[j], box).copy())
        projections.append(enhance_projection(signed[-1], percentile))
        patches.append(crop_box(crops[i], box))
    return UnitGallery(layer, channel, idx, vals, projections, patches, signed)


def selective_channels(acts: PoolActivations, layer: str, n: int = 2, k: int = 9) -> list[int]:
    """``n`` channels of ``layer`` whose top-``k`` images stand out most from the rest of the pool:
    largest ``mean(top k) / (mean(all) + eps)`` among channels that respond at all."""
    v = acts.values[layer]
    top = torch.topk(v, min(k, v.shape[0]), dim=0).values.mean(0)
    alive = top > 0.25 * top.median()
    score = torch.where(alive, top / (v.mean(0) + 0.05 * top.mean()), torch.zeros_like(top))
    return [int(c) for c in torch.argsort(score, descending=True)[:n]]
