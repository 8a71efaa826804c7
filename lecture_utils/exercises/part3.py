"""Algorithm-level exercises of part III: optimizing the input (12-14).

Each exercise is a method written out in its notebook (the cell that shows the algorithm's core); its check
runs the student's function on a real zoo model (:func:`.base.zoo`) on fixed inputs and compares with the
values the notebook's solution computed (``data/homework/expected.pt``).

The optimization loops (feature visualization, DeepDream) and the full-gradient decomposition are checked in
float64, on a double-precision copy of EfficientNet-Lite0 cut after the layer they read (the layer names stay
the same). In float32 the round-off of another thread count or CPU grows over the steps: a ReLU6 unit near its
kink flips, the next gradient jumps, and after about ten DeepDream steps two correct runs differ by a few percent
(measured: 1 vs 2 threads, 3 octaves of 3 steps at 96 px, 4 % relative L2). In float64 they agree to round-off.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from .base import Exercise, Inputs, on_model, zoo

if TYPE_CHECKING:
    from ..models import ZooModel

__all__ = ["EXERCISES"]

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "china")  # the small real photos the checks run on


def _pick(g: torch.Generator, n: int) -> int:
    return int(torch.randint(0, n, (), generator=g))


@functools.cache
def _photo(name: str, size: int) -> torch.Tensor:
    """Sample photo ``name`` preprocessed for EfficientNet-Lite0 at ``size`` px: (1, 3, size, size) float32."""
    from ..images import load_image

    return zoo("efficientnet_lite0").preprocess(load_image(name), size=size)


def _double(module: nn.Module) -> nn.Module:
    """A float64 copy of ``module`` in eval mode: frozen weights, in-place activations off (so that a hook sees an
    output before the next layer overwrites it)."""
    net = copy.deepcopy(module).double().eval().requires_grad_(False)
    for m in net.modules():
        if m.__dict__.get("inplace") is True:
            m.inplace = False
    return net


@functools.cache
def _effnet64(last_block: int) -> ZooModel:
    """EfficientNet-Lite0 in float64 up to ``blocks.<last_block>`` (a ZooModel: ``net`` with the same layer
    names, ``normalize``): the rest of the network does not change the activations or gradients there."""
    z = zoo("efficientnet_lite0")
    n = z.net
    cut = nn.Sequential(OrderedDict(conv_stem=n.conv_stem, bn1=n.bn1, blocks=n.blocks[: last_block + 1]))
    return dataclasses.replace(z, net=_double(cut), normalize=copy.deepcopy(z.normalize).double())


@functools.cache
def _stem_piece64() -> nn.Module:
    """A small real piece of EfficientNet-Lite0 in float64: stem and blocks 0-1, then the global average pool,
    so that output channel c is the mean of channel c of ``blocks.1``. (1, 3, H, W) -> (1, 24)."""
    n = zoo("efficientnet_lite0").net
    return _double(nn.Sequential(n.conv_stem, n.bn1, n.blocks[:2], nn.AdaptiveAvgPool2d(1), nn.Flatten()))


def _color64() -> torch.Tensor:
    """The colour mix of :class:`~lecture_utils.optimize.FFTImage` (3, 3), float64."""
    from ..optimize import COLOR_CORRELATION_SQRT

    c = torch.from_numpy(COLOR_CORRELATION_SQRT).double()
    return c / c.norm(dim=0).max()


# ----------------------------------------------------------------------------- 12: feature visualization
def _vis_inputs(g: torch.Generator) -> Inputs:
    size = 40
    return {
        "spectrum": 0.01 * torch.randn(1, 3, size, size // 2 + 1, 2, generator=g, dtype=torch.float64),
        "color": _color64(),
        "block": torch.tensor(1 + _pick(g, 2)),
        "channel": torch.tensor(_pick(g, 24)),
        "seed": torch.tensor(_pick(g, 1000)),
    }


def _vis_call(fn: Callable, d: Inputs) -> object:
    """Four Adam steps (lr 0.05, jitter 4 px) on a channel of blocks.1 or blocks.2, from a 40 px spectrum."""
    b = int(d["block"])
    return fn(_effnet64(b), f"blocks.{b}", int(d["channel"]), d["spectrum"], d["color"], 4, 0.05, 4, int(d["seed"]))


# ----------------------------------------------------------------------------- 13: semantic dictionary, FullGrad
def _entry_inputs(g: torch.Generator) -> Inputs:
    block = 4 + _pick(g, 2)
    side = 96 // (16 if block == 4 else 32)  # the layer's map at 96 px: 6x6 (blocks.4), 3x3 (blocks.5)
    return {
        "x": _photo(PHOTOS[_pick(g, len(PHOTOS))], 96),
        "block": torch.tensor(block),
        "row": torch.tensor(_pick(g, side)),
        "col": torch.tensor(_pick(g, side)),
        "k": torch.tensor(3 + _pick(g, 4)),
    }


def _entry_call(fn: Callable, d: Inputs) -> object:
    net = zoo("efficientnet_lite0").net
    layer = f"blocks.{int(d['block'])}"
    return fn(net, d["x"], layer, int(d["row"]), int(d["col"]), int(d["k"]))


def _fullgrad_inputs(g: torch.Generator) -> Inputs:
    return {"x": _photo(PHOTOS[_pick(g, len(PHOTOS))], 64).double(), "channel": torch.tensor(_pick(g, 24))}


def _fullgrad_call(fn: Callable, d: Inputs) -> object:
    return fn(_stem_piece64(), d["x"], int(d["channel"]))


# ----------------------------------------------------------------------------- 14: DeepDream with octaves
def _dream_inputs(g: torch.Generator) -> Inputs:
    return {
        "image": _photo(PHOTOS[_pick(g, len(PHOTOS))], 48).double(),
        "block": torch.tensor(1 + _pick(g, 2)),
        "seed": torch.tensor(_pick(g, 1000)),
    }


def _dream_call(fn: Callable, d: Inputs) -> object:
    """Two octaves (34 and 48 px, scale 1.4) of two steps (lr 0.02, jitter 6 px) at blocks.1 or blocks.2."""
    b = int(d["block"])
    return fn(_effnet64(b), d["image"], f"blocks.{b}", 2, 1.4, 2, 0.02, 6, int(d["seed"]))


# every check of this part runs on EfficientNet-Lite0; the loops and the full gradient in float64 (see above), where
# two correct runs agree to round-off on any machine
_on_effnet = on_model("efficientnet_lite0")
_in_float64 = on_model("efficientnet_lite0", rtol=1e-6, atol=1e-8)

EXERCISES: list[Exercise] = [
    _in_float64(
        "channel_visualization",
        "12_feature_visualization",
        "scale = 1 / max(f, 1/S) / 4; image = sigmoid(color-mix of irfft2(spectrum * scale, norm='ortho')); each "
        "step: draw the shifts dx, dy from rng (integers in [-max_shift, max_shift]), torch.roll the image by "
        "(dy, dx), forward with a hook on the layer, gradient of minus the channel's mean w.r.t. the spectrum "
        "(torch.autograd.grad), Adam step",
        _vis_inputs,
        _vis_call,
        function="channel_visualization_by_hand",
    ),
    _on_effnet(
        "dictionary_entry",
        "13_semantic_dictionaries_fullgrad",
        "a forward hook on dict(net.named_modules())[layer] keeps the output; the vector is output[0, :, row, col]; "
        "topk(k) gives the values and the channels; torch.linalg.vector_norm of the whole vector",
        _entry_inputs,
        _entry_call,
        rtol=1e-5,
        atol=1e-5,
        function="dictionary_entry_by_hand",
    ),
    _in_float64(
        "full_gradient",
        "13_semantic_dictionaries_fullgrad",
        "hooks keep (tensor, constant) pairs: for each BatchNorm2d a pre-hook on m.act with beta - mu * gamma / "
        "sqrt(var + eps), for each ReLU6 a forward hook with 6 * (input >= 6); one torch.autograd.grad of the score "
        "w.r.t. x and all kept tensors; input term grad_x * x, bias total sum of grad * constant",
        _fullgrad_inputs,
        _fullgrad_call,
        cases=2,
        function="full_gradient_by_hand",
    ),
    _in_float64(
        "deepdream_with_octaves",
        "14_deepdream",
        "sizes round(H / scale**k) for k = octaves-1 ... 0; F.interpolate(bilinear, align_corners=False, "
        "antialias=True); each step: roll x by a random (dy, dx), gradient of mean(a**2) w.r.t. the rolled image, "
        "roll the gradient back, x = clamp(x + lr * g / (mean|g| + 1e-12), 0, 1); the detail is the dreamed "
        "image minus its base",
        _dream_inputs,
        _dream_call,
        function="deepdream_by_hand",
    ),
]
