"""Optimizing the input: one small engine for feature visualization, DeepDream, inversion, style.

Lecture 00 gives a first taste; lectures 07, 12-14, 16-18 build on it. The split follows
lucid/lucent (Olah et al., distill.pub 2017 "Feature Visualization"), kept small:

- **param**: a module whose ``forward()`` returns an RGB image (1, 3, H, W) in [0, 1];
- **transforms**: random jitter/scale applied before the network (transformation robustness);
- **objectives**: small callables on the recorded activations, composable with ``+``, ``-``,
  and scalar ``*``; ``render`` *maximizes* the objective;
- **render**: the optimizer loop with a progress bar and optional snapshots.

An objective receives a dict ``acts`` with the activation of every layer it names, plus
``acts["output"]`` (the logits) and ``acts["input"]`` (the RGB image before transforms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .hooks import OUTPUT, get_layer, record
from .models import ZooModel

__all__ = [
    "Objective",
    "channel",
    "neuron",
    "layer_l2",
    "class_logit",
    "class_prob",
    "l2_penalty",
    "total_variation",
    "PixelImage",
    "jitter",
    "random_scale",
    "render",
    "RenderResult",
]

INPUT = "input"


class Objective:
    """A scalar function of activations, to be maximized. ``layers``: the layer names it reads."""

    def __init__(self, fn: Callable[[dict[str, torch.Tensor]], torch.Tensor], layers: Iterable[str], name: str):
        self.fn, self.layers, self.name = fn, frozenset(layers), name

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fn(acts)

    def __add__(self, other: Objective) -> Objective:
        return Objective(lambda a: self(a) + other(a), self.layers | other.layers, f"{self.name} + {other.name}")

    def __neg__(self) -> Objective:
        return Objective(lambda a: -self(a), self.layers, f"-({self.name})")

    def __sub__(self, other: Objective) -> Objective:
        return self + (-other)

    def __mul__(self, k: float) -> Objective:
        if not isinstance(k, (int, float)):
            raise TypeError("an objective can only be multiplied by a number")
        return Objective(lambda a: k * self(a), self.layers, f"{k:g}*({self.name})")

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Objective({self.name})"


def _check_channel(a: torch.Tensor, layer: str, c: int) -> None:
    if not 0 <= c < a.shape[1]:
        raise ValueError(f"channel {c} out of range: layer {layer!r} has {a.shape[1]} channels")


def channel(layer: str, c: int) -> Objective:
    """Mean activation of channel ``c`` of ``layer`` (lecture: layer_n[:, :, z])."""

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        a = acts[layer]
        _check_channel(a, layer, c)
        return a[:, c].mean()

    return Objective(fn, [layer], f"channel {layer}:{c}")


def neuron(layer: str, c: int, x: int | None = None, y: int | None = None) -> Objective:
    """One unit: channel ``c`` at position (y, x), default the centre (lecture: layer_n[x, y, z])."""

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        a = acts[layer]
        _check_channel(a, layer, c)
        h, w = a.shape[-2:]
        return a[:, c, h // 2 if y is None else y, w // 2 if x is None else x].mean()

    return Objective(fn, [layer], f"neuron {layer}:{c}")


def layer_l2(layer: str) -> Objective:
    """DeepDream's objective: mean squared activation of a whole layer (lecture: layer_n^2)."""
    return Objective(lambda acts: acts[layer].pow(2).mean(), [layer], f"deepdream {layer}")


def class_logit(target: int) -> Objective:
    """A class score before the softmax (gives better images than the probability)."""
    return Objective(lambda acts: acts[OUTPUT][:, target].mean(), [], f"logit {target}")


def class_prob(target: int) -> Objective:
    """A class probability after the softmax (can rise by lowering the other classes)."""
    return Objective(lambda acts: torch.softmax(acts[OUTPUT], 1)[:, target].mean(), [], f"prob {target}")


def l2_penalty(weight: float = 1.0) -> Objective:
    """L2 decay of the centred image, as a (negative) objective: ``-weight * mean((x - 0.5)^2)``."""
    return Objective(lambda acts: -weight * (acts[INPUT] - 0.5).pow(2).mean(), [], f"L2 {weight:g}")


def total_variation(weight: float = 1.0) -> Objective:
    """Total variation penalty (neighbour differences), as a (negative) objective."""

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        x = acts[INPUT]
        return -weight * ((x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., 1:] - x[..., :-1]).abs().mean())

    return Objective(fn, [], f"TV {weight:g}")


class PixelImage(nn.Module):
    """Pixel parametrization: free logits per pixel, RGB = sigmoid(logits). Output (1, 3, H, W).

    ``downsample`` > 1 keeps the free pixels on a coarser grid (size / downsample), bilinearly
    upsampled: a simple way to suppress the high frequencies a CNN's gradient is full of.
    """

    def __init__(
        self, size: int, sd: float = 0.5, seed: int = 0, init: torch.Tensor | None = None, downsample: int = 1
    ):
        super().__init__()
        if downsample < 1 or size < downsample:
            raise ValueError(f"need 1 <= downsample <= size, got downsample={downsample}, size={size}")
        self.size = size if init is None else init.shape[-1]
        self.downsample = downsample
        if init is not None:
            x = init.detach().clamp(1e-3, 1 - 1e-3)
            self.logits = nn.Parameter(torch.log(x / (1 - x)))
        else:
            g = torch.Generator().manual_seed(seed)
            self.logits = nn.Parameter(torch.randn(1, 3, size // downsample, size // downsample, generator=g) * sd)

    def forward(self) -> torch.Tensor:
        z = self.logits
        if self.downsample > 1:
            z = F.interpolate(z, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return torch.sigmoid(z)


Transform = Callable[[torch.Tensor], torch.Tensor]


def jitter(d: int) -> Transform:
    """Shift the image by a random offset in [-d, d] pixels (circular roll)."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        dx, dy = np.random.randint(-d, d + 1, size=2)
        return torch.roll(x, shifts=(int(dy), int(dx)), dims=(2, 3))

    return fn


def random_scale(scales: Sequence[float]) -> Transform:
    """Resize by a factor drawn from ``scales``."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        s = float(np.random.choice(scales))
        return x if s == 1 else F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)

    return fn


@dataclass
class RenderResult:
    """``image``: (H, W, 3) in [0, 1]; ``snapshots``: step -> image; ``values``: objective per step."""

    image: np.ndarray
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    values: list[float] = field(default_factory=list)


def render(
    model: ZooModel,
    objective: Objective,
    size: int = 128,
    steps: int = 128,
    lr: float = 0.05,
    transforms: Sequence[Transform] = (),
    param: nn.Module | None = None,
    snapshots: Iterable[int] = (),
    seed: int = 0,
    progress: bool = True,
) -> RenderResult:
    """Maximize ``objective`` over an image with Adam.

    Inputs: ``model`` a :class:`ZooModel`; ``param`` (default :class:`PixelImage` of ``size``);
    ``transforms`` applied in order before the network; ``snapshots`` steps (1-based) to keep.
    Returns: :class:`RenderResult`. The model is left exactly as it was (hooks, flags).
    """
    if not isinstance(model, ZooModel):
        raise TypeError("render needs a ZooModel (it maps RGB to the network input via model.normalize)")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    layers = sorted(objective.layers - {OUTPUT, INPUT})
    for layer in layers:
        get_layer(model, layer)  # unknown names fail before any work
    np.random.seed(seed)
    torch.manual_seed(seed)
    param = (param or PixelImage(size, seed=seed)).to(model.device)
    opt = torch.optim.Adam(param.parameters(), lr=lr)
    keep = set(snapshots)
    result = RenderResult(image=np.zeros((1, 1, 3)))
    with record(model, layers or [_last_layer(model)]) as rec:
        for step in tqdm(range(1, steps + 1), disable=not progress, desc=objective.name, leave=False):
            opt.zero_grad()
            img = param()
            x = img
            for t in transforms:
                x = t(x)
            logits = model.net(model.normalize(x))
            value = objective({**rec.activations, OUTPUT: logits, INPUT: img})
            (-value).backward()
            opt.step()
            result.values.append(float(value.detach()))
            if step in keep:
                result.snapshots[step] = _to_hwc(param())
    result.image = _to_hwc(param())
    return result


def _last_layer(model: ZooModel) -> str:
    return model.layers[-1]


def _to_hwc(img: torch.Tensor) -> np.ndarray:
    return img.detach()[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy()
