"""Semantic dictionaries: at every position of a layer, the channel that fires most, shown as its
feature visualization -- a "word" for what the network sees there.

Lecture section «Семантические словари и FullGrad» (notebook 13). Paper: C. Olah, A. Satyanarayan,
I. Johnson, S. Carter, L. Schubert, K. Ye & A. Mordvintsev (2018), "The Building Blocks of
Interpretability", distill.pub. A semantic dictionary pairs each neuron's activation with a
visualization of that neuron (notebook 12's feature visualization), sorted by the size of the
activation; laid over the image it turns an activation grid into a grid of pictures.

:func:`semantic_dictionary` computes the activations and the per-position ranking;
:class:`IconCache` renders channel visualizations in batches and keeps them, so a channel that
is the top one at many positions -- or in several figures -- is optimized only once.

EfficientNet-Lite0's block outputs are *linear* bottlenecks (no activation after the last 1x1
convolution): values are signed and dense, and "most activated" means the largest (positive) value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from . import optimize
from .checks import check_choice, check_finite, check_int, check_number, check_positive, device_of
from .hooks import get_layer, run_until
from .models import ZooModel
from .optimize import robust_transforms
from .targets import check_image

__all__ = [
    "SemanticDictionary",
    "semantic_dictionary",
    "robust_transforms",
    "IconCache",
    "position_of",
]  # robust_transforms: optimize's


@dataclass
class SemanticDictionary:
    """Activations of one image at one layer, ranked per position.

    ``activations`` (C, h, w) on the CPU; ``channels`` (h, w) long: the most activated channel
    at each position (argmax over C); ``values`` (h, w) its activation; ``norms`` (h, w) the L2
    norm of the activation vector over all channels (the "magnitude" of the position).
    """

    layer: str
    activations: torch.Tensor
    channels: torch.Tensor
    values: torch.Tensor
    norms: torch.Tensor

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.channels.shape)

    def top(self, row: int, col: int, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` most activated channels at (row, col): ``[(channel, activation), ...]``, strongest first."""
        h, w = self.shape
        if not (0 <= row < h and 0 <= col < w):
            raise ValueError(f"position (row={row}, col={col}) outside the {h}x{w} map of layer {self.layer!r}")
        if not 1 <= check_int(k, "k") <= self.activations.shape[0]:
            raise ValueError(f"k must be an int in 1..{self.activations.shape[0]}, got {k!r}")
        v, c = self.activations[:, row, col].topk(int(k))
        return [(int(ci), float(vi)) for ci, vi in zip(c, v)]

    def words(self, n: int | None = None) -> list[int]:
        """The distinct argmax channels, most frequent first (ties: larger summed activation);
        ``n`` keeps only the first ``n``."""
        flat = self.channels.flatten()
        ids, counts = flat.unique(return_counts=True)
        mass = torch.stack([self.values.flatten()[flat == i].sum() for i in ids])
        order = sorted(range(len(ids)), key=lambda j: (-int(counts[j]), -float(mass[j]), int(ids[j])))
        out = [int(ids[j]) for j in order]
        return out if n is None else out[:n]

    def strength(self, by: str = "norm", floor: float = 0.0) -> torch.Tensor:
        """(h, w) in [0, 1] for drawing: ``norms`` (``by="norm"``) or ``values`` (``by="value"``),
        negative values counted as 0. ``floor=0``: divided by the maximum. ``floor > 0``: stretched
        from the minimum (-> ``floor``) to the maximum (-> 1), so that differences show even when all
        positions are strong."""
        check_choice(by, "by", ("norm", "value"))
        floor = check_number(floor, "floor", low=0.0, high=1.0)
        s = (self.norms if by == "norm" else self.values).clamp(min=0)
        if floor == 0:
            return s / s.max() if float(s.max()) > 0 else s
        lo, hi = s.min(), s.max()
        if float(hi - lo) <= 0:
            return torch.ones_like(s)
        return floor + (1 - floor) * (s - lo) / (hi - lo)


def semantic_dictionary(model: ZooModel | torch.nn.Module, image: torch.Tensor, layer: str) -> SemanticDictionary:
    """The semantic dictionary of ``image`` at ``layer`` (Olah et al. 2018).

    Inputs: ``image`` (1, 3, H, W) preprocessed; ``layer`` a layer name with a feature-map output.
    Returns: :class:`SemanticDictionary` (all tensors on the CPU).
    """
    check_image(image)
    check_finite(image, "image")
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str), got {type(layer).__name__}")
    get_layer(model, layer)
    with torch.no_grad():
        a = run_until(model, image.detach().to(device_of(model)), layer)[layer]
    if a.ndim != 4:
        raise ValueError(f"layer {layer!r} gives an output of shape {tuple(a.shape)}, not a feature map (1, C, h, w)")
    a = a[0].float().cpu()
    values, channels = a.max(dim=0)
    return SemanticDictionary(layer, a, channels, values, a.norm(dim=0))


def position_of(d: SemanticDictionary, row: int | None = None, col: int | None = None) -> tuple[int, int]:
    """A position of the dictionary: the given one, or (both ``None``) the one of largest norm."""
    if row is None and col is None:
        i = int(d.norms.flatten().argmax())
        return i // d.shape[1], i % d.shape[1]
    if row is None or col is None:
        raise ValueError("give both row and col, or neither")
    d.top(row, col, 1)  # range check
    return int(row), int(col)


class IconCache:
    """Feature visualizations of channels, rendered on demand in batches and kept.

    Each icon maximizes the mean activation of one channel with notebook 12's best recipe: the
    decorrelated Fourier parametrization (:class:`optimize.FFTImage`) plus
    :func:`robust_transforms`. ``size`` pixels, ``steps`` Adam steps of learning rate ``lr``; up to ``batch`` channels
    are optimized together (one image per channel, each with its own objective).

    ``icons[(layer, channel)]``: (size, size, 3) float array in [0, 1]; ``rendered`` counts the
    channels optimized so far (repeated requests do not raise it).
    """

    def __init__(
        self, model: ZooModel, size: int = 64, steps: int = 32, batch: int = 16, seed: int = 0, lr: float = 0.05
    ) -> None:
        if not isinstance(model, ZooModel):
            raise TypeError("IconCache needs a ZooModel (rendering maps RGB through model.normalize)")
        size, steps = check_int(size, "size", low=8), check_int(steps, "steps", low=1)
        batch, seed = check_int(batch, "batch", low=1), check_int(seed, "seed", low=0)
        self.model, self.size, self.steps, self.batch, self.seed = model, size, steps, batch, seed
        self.lr = check_positive(lr, "lr")
        self.icons: dict[tuple[str, int], np.ndarray] = {}
        self.rendered = 0

    def get(self, layer: str, channels: Iterable[int]) -> list[np.ndarray]:
        """Icons of ``channels`` of ``layer`` (rendering the missing ones), in the given order."""
        channels = [check_int(c, "channel") for c in channels]
        get_layer(self.model, layer)
        n_ch = self._n_channels(layer)
        for c in channels:
            if not 0 <= c < n_ch:
                raise ValueError(f"channel {c} out of range: layer {layer!r} has {n_ch} channels")
        missing = list(dict.fromkeys(c for c in channels if (layer, c) not in self.icons))
        for start in range(0, len(missing), self.batch):
            self._render(layer, missing[start : start + self.batch])
        return [self.icons[(layer, c)] for c in channels]

    def activations(self, layer: str, channels: Sequence[int]) -> torch.Tensor:
        """Mean activation of each channel on its own icon (spatial mean, as optimized): (n,)."""
        icons = np.stack(self.get(layer, channels))
        means = optimize.channel_means(self.model, icons, layer)
        return means[torch.arange(len(channels)), torch.as_tensor(list(channels))]

    def _n_channels(self, layer: str) -> int:
        if not hasattr(self, "_channels"):
            self._channels: dict[str, int] = {}
        if layer not in self._channels:
            probe = torch.full((1, 32, 32, 3), 0.5)
            a = optimize.channel_means(self.model, probe, layer)
            self._channels[layer] = a.shape[1]
        return self._channels[layer]

    def _render(self, layer: str, channels: list[int]) -> None:
        objective = None
        for i, c in enumerate(channels):
            term = optimize.channel(layer, c, batch=i)
            objective = term if objective is None else objective + term
        param = optimize.FFTImage(self.size, batch=len(channels), seed=self.seed)
        res = optimize.render(
            self.model,
            objective,
            param=param,
            transforms=robust_transforms(),
            steps=self.steps,
            lr=self.lr,
            progress=False,
            seed=self.seed,
        )
        for i, c in enumerate(channels):
            self.icons[(layer, c)] = res.batch[i]
        self.rendered += len(channels)
