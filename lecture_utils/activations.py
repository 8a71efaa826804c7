"""Activation analysis: the feature maps of one image, how sparse they are, and which patches of a
pool excite a channel most.

Lecture section «Анализ активации нейронов» (notebook 09). Papers: Zeiler & Fergus (2014),
"Visualizing and Understanding Convolutional Networks"; Springenberg, Dosovitskiy, Brox &
Riedmiller (2014), "Striving for Simplicity: The All Convolutional Net"; Girshick, Donahue,
Darrell & Malik (2014), "Rich feature hierarchies for accurate object detection and semantic
segmentation" (Fig. 4: the regions of a pool that activate a pool5 unit most).

Sparsity is measured after a ReLU, where a zero is an exact zero (VGG19's ``relu*`` layers).
EfficientNet's block outputs are *linear* bottlenecks (no activation after the last 1x1
convolution), so they are dense and signed: their zeros are not "off" units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .checks import check_finite, check_int, device_of
from .hooks import get_layer, run_until
from .models import ZooModel, as_module
from .targets import check_image

__all__ = [
    "relu_layers",
    "feature_maps",
    "zero_fraction",
    "crops_to_input",
    "PoolCache",
    "TopPatches",
    "top_patches",
    "pool_maxima",
    "strongest",
]


def _check_layers(model: nn.Module | ZooModel, layers: str | Sequence[str]) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("need at least one layer name")
    for name in names:
        get_layer(model, name)  # unknown names: ValueError with close names
    return list(dict.fromkeys(names))


def _check_channel(channel: int, n: int, layer: str) -> int:
    channel = check_int(channel, "channel")
    if not 0 <= channel < n:
        raise ValueError(f"channel {channel} out of range: layer {layer!r} has {n} channels (0..{n - 1})")
    return channel


def relu_layers(model: nn.Module | ZooModel) -> list[str]:
    """Names of the ``nn.ReLU`` modules of ``model``, input to output (VGG19: relu1_1 ... relu5_4)."""
    return [n for n, m in as_module(model).named_modules() if isinstance(m, nn.ReLU)]


@torch.no_grad()
def _run_until(model: nn.Module | ZooModel, x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
    """``hooks.run_until`` on the model's device, without gradients: the outputs of ``layers``."""
    return run_until(model, x.to(device_of(model)), layers)


def feature_maps(
    model: nn.Module | ZooModel, image: torch.Tensor, layers: str | Sequence[str]
) -> dict[str, torch.Tensor]:
    """The feature maps of one image at each of ``layers`` (one forward pass, stopped after the
    deepest of them).

    Inputs: ``image`` (1, 3, H, W) preprocessed; ``layers`` a layer name or a list of names.
    Returns: {layer: (C, h, w) tensor on the CPU}.
    """
    check_image(image)
    check_finite(image, "image")
    names = _check_layers(model, layers)
    acts = _run_until(model, image, names)
    out = {}
    for name in names:
        a = acts[name]
        if a.ndim != 4:
            raise ValueError(f"layer {name!r} gives an output of shape {tuple(a.shape)}, not a feature map")
        out[name] = a[0].cpu()
    return out


def zero_fraction(
    model: nn.Module | ZooModel, image: torch.Tensor, layers: str | Sequence[str] | None = None
) -> dict[str, float]:
    """The fraction of exactly-zero activations at each layer, over all channels and positions.

    Inputs: ``image`` (N, 3, H, W) preprocessed (one image or a batch: the fraction is over all of
    them); ``layers`` default: all ReLU layers (:func:`relu_layers`).
    Returns: {layer: fraction in [0, 1]}, in the order of ``layers``.
    """
    check_image(image, batch=True)
    if layers is None:
        layers = relu_layers(model)
        if not layers:
            raise ValueError(f"{type(as_module(model)).__name__} has no nn.ReLU layers; pass layers=[...]")
    check_finite(image, "image")
    names = _check_layers(model, layers)
    acts = _run_until(model, image, names)
    return {name: float((acts[name] == 0).float().mean()) for name in names}


def crops_to_input(model: nn.Module | ZooModel, crops: np.ndarray) -> torch.Tensor:
    """A pool of crops (N, S, S, 3) uint8 (or float in [0, 1]) -> network input (N, 3, S, S).

    A :class:`ZooModel` applies its own normalization (``preprocess(..., size=0)``: no resizing);
    a plain module gets RGB in [0, 1]. On the model's device.
    """
    arr = np.asarray(crops)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"crops must be an array of shape (N, S, S, 3), got {arr.shape}")
    if len(arr) == 0:
        raise ValueError("the pool of crops is empty")
    if arr.dtype == np.uint8:
        x = torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("float crops contain NaN or inf: expected finite values in [0, 1]")
        if arr.min() < -1e-3 or arr.max() > 1 + 1e-3:
            raise ValueError("float crops must lie in [0, 1]")
        x = torch.from_numpy(arr.astype(np.float32)).permute(0, 3, 1, 2)
    else:
        raise ValueError(f"crops must be uint8 or float in [0, 1], got dtype {arr.dtype}")
    if isinstance(model, ZooModel):
        return model.preprocess(x, size=0)
    return x.to(device_of(model))


class PoolCache:
    """Per-layer cache of a pool's activations: for every crop and channel, the strongest
    activation and its position. Computed once per layer (batched), so looking at many channels
    of a layer -- e.g. in a widget -- costs no forward pass.

    ``values[layer]`` (N, C) float tensor; ``positions[layer]`` (N, C, 2) (row, col) in the
    layer's feature map; ``shapes[layer]`` the map's (h, w). Tied to one model and one pool
    (checked by :func:`top_patches`).

    ``inside=True`` only counts positions whose receptive field lies entirely inside the crop: at
    the crop's border the zero padding creates strong artificial edges, and a patch cut there shows
    half of what the unit saw. Where the field is larger than the crop, the positions whose field
    covers most of the crop count; networks where the field cannot be computed (see
    :func:`top_patches`) use all positions.
    """

    def __init__(
        self, model: nn.Module | ZooModel, crops: np.ndarray, batch_size: int = 32, inside: bool = True
    ) -> None:
        batch_size = check_int(batch_size, "batch_size", low=1)
        self.inside = bool(inside)
        self.net = as_module(model)
        self.model = model
        self.crops = crops
        self.batch_size = batch_size
        self._input: torch.Tensor | None = None
        self.values: dict[str, torch.Tensor] = {}
        self.positions: dict[str, torch.Tensor] = {}
        self.shapes: dict[str, tuple[int, int]] = {}

    def matches(self, model: nn.Module | ZooModel, crops: np.ndarray) -> bool:
        """Whether this cache belongs to ``model`` and ``crops`` (the very same objects)."""
        return as_module(model) is self.net and crops is self.crops

    def compute(self, layers: str | Sequence[str]) -> PoolCache:
        """Fill the cache for ``layers`` (those not cached yet) in one batched pass over the pool."""
        names = [n for n in _check_layers(self.net, layers) if n not in self.values]
        if not names:
            return self
        if self._input is None:
            self._input = crops_to_input(self.model, self.crops)
        crop_hw = tuple(self._input.shape[-2:])

        def mask(name: str, hw: tuple[int, int]) -> torch.Tensor | None:
            return _inside_mask(self.model, name, hw, crop_hw) if self.inside else None

        values, positions, shapes = pool_maxima(self.net, self._input, names, self.batch_size, mask)
        self.values.update(values)
        self.positions.update(positions)
        self.shapes.update(shapes)
        return self


@torch.no_grad()
def pool_maxima(
    model: nn.Module | ZooModel,
    inputs: torch.Tensor,
    layers: Sequence[str],
    batch_size: int = 32,
    mask: Callable[[str, tuple[int, int]], torch.Tensor | None] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, tuple[int, int]]]:
    """For every input, every channel of each of ``layers``: its spatial maximum and where it is.
    The one "per-channel maxima over a pool" of the package (:class:`PoolCache`,
    :func:`lecture_utils.deconvnet.channel_maxima`); each batch's forward pass stops after the
    deepest of ``layers``.

    Inputs: ``inputs`` (N, 3, H, W) network input; ``mask(layer, (h, w))`` a (h, w) bool tensor of
    the positions that count, or ``None`` (all count).
    Returns: ``values`` {layer: (N, C)}, ``positions`` {layer: (N, C, 2) (row, col)} and
    ``shapes`` {layer: (h, w)}, on the CPU.
    """
    batch_size = check_int(batch_size, "batch_size", low=1)
    names = list(dict.fromkeys(layers))
    vals: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    poss: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    shapes: dict[str, tuple[int, int]] = {}
    for start in range(0, len(inputs), batch_size):
        acts = _run_until(model, inputs[start : start + batch_size], names)
        for name in names:
            a = acts[name]
            if a.ndim != 4:
                raise ValueError(f"layer {name!r} gives an output of shape {tuple(a.shape)}, not a feature map")
            keep = mask(name, tuple(a.shape[-2:])) if mask is not None else None
            if keep is not None:
                a = a.masked_fill(~keep.to(a.device), float("-inf"))
            v, idx = a.flatten(2).max(dim=2)
            w = a.shape[-1]
            vals[name].append(v.cpu())
            poss[name].append(torch.stack([idx // w, idx % w], dim=-1).cpu())
            shapes[name] = tuple(a.shape[-2:])
    return {n: torch.cat(v) for n, v in vals.items()}, {n: torch.cat(p) for n, p in poss.items()}, shapes


def _check_groups(groups: Sequence | np.ndarray | None, n: int, k: int) -> list | None:
    """``groups`` as a list of ``n`` hashable labels with at least ``k`` different ones (or ``None``)."""
    if groups is None:
        return None
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__len__"):
        raise TypeError(f"groups must be a sequence of labels, one per crop, got {type(groups).__name__}")
    labels = groups.tolist() if isinstance(groups, np.ndarray) else list(groups)
    if len(labels) != n:
        raise ValueError(f"groups must hold one label per crop: got {len(labels)} labels for {n} crops")
    try:
        distinct = len(set(labels))
    except TypeError as err:
        raise TypeError(f"groups must hold hashable labels (str, int): {err}") from None
    if distinct < k:
        raise ValueError(f"k={k} but groups names only {distinct} different sources: at most one crop per source")
    return labels


def strongest(
    values: torch.Tensor, k: int, distinct: bool = True, tol: float = 1e-6, groups: Sequence | None = None
) -> list[int]:
    """Indices of the ``k`` largest of ``values`` (N,), strongest first (ties: the smaller index).
    The one ranking of "top patches" in the package.

    Inputs: ``distinct`` skips a value equal (to ``tol``, relative) to one already chosen --
    overlapping crops repeat the same patch -- unless fewer than ``k`` distinct values exist (then
    the best of the skipped ones fill up); ``groups`` (N,) labels, e.g. the source photo of each
    crop (``datasets.crop_pool``'s labels): at most one index per label -- the strongest crop of
    each source -- so the top ``k`` show ``k`` different sources (needs >= ``k`` labels).
    Returns: a list of ``k`` ints.
    """
    k = check_int(k, "k", low=1)
    if k > len(values):
        raise ValueError(f"k={k} is larger than the number of values ({len(values)})")
    labels = _check_groups(groups, len(values), k)
    ranked = torch.argsort(values, descending=True, stable=True).tolist()
    if labels is not None:  # only the strongest crop of each source competes
        best: dict = {}
        for i in ranked:
            best.setdefault(labels[i], i)
        ranked = [i for i in ranked if best[labels[i]] == i]
    chosen: list[int] = []
    if distinct:
        for i in ranked:
            v = float(values[i])
            if not any(abs(v - float(values[j])) <= tol * max(abs(v), 1e-12) for j in chosen):
                chosen.append(i)
            if len(chosen) == k:
                break
    taken = set(chosen)
    chosen += [i for i in ranked if i not in taken][: int(k) - len(chosen)]
    chosen.sort(key=lambda i: (-float(values[i]), i))
    return chosen


@dataclass
class TopPatches:
    """The ``k`` crops of a pool that activate ``(layer, channel)`` most, strongest first.

    ``indices`` (k,) pool indices; ``values`` (k,) their activations (the channel's spatial
    maximum in each crop); ``positions`` (k, 2) where that maximum is in the feature map;
    ``boxes`` the input region each maximum can see (top, left, bottom, right; it may extend
    beyond the crop); ``patches`` the crops cut to those boxes (clipped to the crop);
    ``fields`` the same regions at full size, grey where the box leaves the crop (all of one size:
    for side-by-side display); ``pool_values`` (N,) the activation of every crop of the pool (for
    comparisons such as "top patches beat the median"); ``groups`` the group label of each chosen
    crop (its source image) when :func:`top_patches` got ``groups``, else ``None``.
    """

    layer: str
    channel: int
    indices: np.ndarray
    values: np.ndarray
    positions: np.ndarray
    boxes: list[tuple[int, int, int, int]]
    patches: list[np.ndarray]
    fields: list[np.ndarray]
    pool_values: np.ndarray
    groups: list | None = None


def _field_box(model: nn.Module | ZooModel, layer: str, pos: tuple[int, int], crop_hw: tuple[int, int]) -> tuple:
    """The receptive field (top, left, bottom, right) of ``pos``, NOT clipped to the crop; the whole
    crop when it cannot be computed (a network that is not a plain Sequential of
    Conv2d/ReLU/MaxPool2d, e.g. EfficientNet)."""
    from .deconvnet import receptive_field

    try:
        return tuple(receptive_field(model, layer, pos))
    except (ValueError, AttributeError, TypeError):
        return (0, 0, crop_hw[0], crop_hw[1])


def _inside_mask(
    model: nn.Module | ZooModel, layer: str, hw: tuple[int, int], crop_hw: tuple[int, int]
) -> torch.Tensor | None:
    """(h, w) bool: positions of ``layer`` whose receptive field overlaps the crop as much as
    possible along each axis -- i.e. lies inside it when it fits; ``None`` when the field cannot be
    computed."""
    from .deconvnet import receptive_field

    try:
        t0, l0, b0, r0 = receptive_field(model, layer, (0, 0))
        t1 = receptive_field(model, layer, (1, 1))[0]
    except (ValueError, AttributeError, TypeError):
        return None
    jump = t1 - t0
    rows = torch.arange(hw[0]) * jump
    cols = torch.arange(hw[1]) * jump
    ok = []
    for start, end, pos, side in ((t0, b0, rows, crop_hw[0]), (l0, r0, cols, crop_hw[1])):
        overlap = (torch.clamp(end + pos, max=side) - torch.clamp(start + pos, min=0)).clamp(min=0)
        ok.append(overlap == overlap.max())  # = the field lies inside, if it fits into the crop
    mask = ok[0][:, None] & ok[1][None, :]
    return mask if bool(mask.any()) else None


def _cut(crop: np.ndarray, box: tuple[int, int, int, int], fill: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The crop clipped to ``box``, and the full box with ``fill`` (grey) where it leaves the crop."""
    top, left, bottom, right = box
    h, w = crop.shape[:2]
    t, lft, b, r = max(0, top), max(0, left), min(h, bottom), min(w, right)
    clipped = crop[t:b, lft:r]
    full = np.full((bottom - top, right - left, crop.shape[2]), fill, dtype=crop.dtype)
    full[t - top : b - top, lft - left : r - left] = clipped
    return clipped, full


def _check_pool(crops: np.ndarray, k: int) -> np.ndarray:
    """The pool as an array (N, S, S, 3), checked, and ``k`` in 1..N."""
    arr = np.asarray(crops)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"crops must be an array of shape (N, S, S, 3), got {arr.shape}")
    if len(arr) == 0:
        raise ValueError("the pool of crops is empty")
    if check_int(k, "k") < 1:
        raise ValueError(f"k must be a positive integer (>= 1), got {k!r}")
    if k > len(arr):
        raise ValueError(f"k={k} is larger than the pool ({len(arr)} crops)")
    return arr


def top_patches(
    model: nn.Module | ZooModel,
    crops: np.ndarray,
    layer: str,
    channel: int,
    k: int = 9,
    batch_size: int = 32,
    cache: PoolCache | None = None,
    distinct: bool = True,
    inside: bool = True,
    groups: Sequence | np.ndarray | None = None,
) -> TopPatches:
    """The image patches of a pool with the largest activations of one channel (Girshick et al.
    2014, Fig. 4; Zeiler & Fergus 2014, Fig. 2 right half).

    Inputs: ``crops`` (N, S, S, 3) uint8 pool (``datasets.crop_pool``); ``layer`` a layer name
    with a feature-map output; ``channel`` its channel; ``k`` how many (1 <= k <= N);
    ``cache`` a :class:`PoolCache` of the same model and pool, to reuse its activations
    (without one, the pool is run through the network here, in batches of ``batch_size``);
    ``inside`` only positions whose receptive field lies inside the crop (see :class:`PoolCache`;
    a given ``cache`` must have the same setting); ``distinct`` skips a crop whose activation
    equals (to 1e-6, relative) one already chosen -- overlapping crops repeat the same patch --
    unless fewer than ``k`` distinct values exist; ``groups`` (N,) a label per crop, e.g. its
    source photo (the labels of ``datasets.crop_pool``): at most one crop per label, the
    strongest, so the ``k`` patches come from ``k`` different photos (needs >= ``k`` labels).
    Returns: a :class:`TopPatches` (activations sorted, strongest first). Each patch is the
    receptive field of the strongest position in the crop (the whole crop when the network is not
    a plain conv/ReLU/max-pool Sequential).
    Raises: ``ValueError`` for an unknown layer, a channel out of range, ``k`` < 1 or larger than
    the pool, an empty or malformed pool, a cache of another model/pool, or ``groups`` of another
    length or with fewer than ``k`` labels; ``TypeError`` for a non-integer ``channel``/``k`` or
    ``groups`` that is not a sequence of hashable labels.
    """
    names = _check_layers(model, layer)
    arr = _check_pool(crops, k)
    check_int(channel, "channel")
    labels = _check_groups(groups, len(arr), k)
    if cache is None:
        cache = PoolCache(model, crops, batch_size=batch_size, inside=inside)
    elif not cache.matches(model, crops):
        raise ValueError("this PoolCache was built for another model or another pool of crops")
    elif cache.inside != bool(inside):
        raise ValueError(f"this PoolCache was built with inside={cache.inside}, but top_patches got inside={inside}")
    cache.compute(names)
    values = cache.values[layer]
    channel = _check_channel(channel, values.shape[1], layer)
    col = values[:, channel]
    chosen = strongest(col, k, distinct, groups=labels)
    order = torch.as_tensor(chosen, dtype=torch.long)
    idx = order.numpy().astype(np.int64)
    pos = cache.positions[layer][order, channel].numpy()
    boxes, patches, fields = [], [], []
    for i, p in zip(idx, pos):
        box = _field_box(model, layer, (int(p[0]), int(p[1])), arr.shape[1:3])
        clipped, full = _cut(arr[i], box, fill=128 if arr.dtype == np.uint8 else 0.5)
        boxes.append(box)
        patches.append(clipped)
        fields.append(full)
    chosen_groups = None if labels is None else [labels[i] for i in idx]
    return TopPatches(layer, channel, idx, col[order].numpy(), pos, boxes, patches, fields, col.numpy(), chosen_groups)
