"""Algorithm-level exercises of part II: the representation as a whole (07-11).

Each exercise is a method written out in its notebook (the cell that shows the algorithm's core); its check
runs the student's function on a real zoo model (:func:`.base.zoo`) on fixed inputs and compares with the
values the notebook's solution computed (``data/homework/expected.pt``).

Where a gradient of the network is compared, the student's order of work may legitimately differ from the
solution's (one noisy copy per backward pass or a batch of them; a loss summed in another order): the check then
runs the network in float64 behind float32 inputs and outputs (:class:`InFloat64`). In float32 the round-off of
a convolution depends on the batch size and the number of threads, and a ReLU's kink can turn it into a visible
change of a gradient.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .base import Exercise, Inputs, on_model, zoo

__all__ = ["EXERCISES", "InFloat64", "PHOTOS", "INVERSION_LAYERS", "EMBED_LAYERS", "POOL_LAYERS", "CASCADE", "GAP"]

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "flower", "grace_hopper")
"""The sample photos the checks draw from (``lecture_utils.images.load_image``)."""
INVERSION_LAYERS = ("relu1_1", "relu1_2", "relu2_1")
"""VGG19 layers whose code the inversion exercise inverts (shallow: a few steps already change the image)."""
EMBED_LAYERS = ("global_pool", "blocks.5", "blocks.3")
"""EfficientNet-Lite0's layers whose (spatially averaged) output the nearest-neighbour exercise embeds at."""
POOL_LAYERS = ("relu2_2", "relu3_1", "relu3_2")
"""VGG19 layers whose channels the top-patches exercise ranks the crops of a pool by."""
GAP = 1e-3
"""Relative gap that the checks' rankings keep between consecutive values (neighbours' distances, top patches'
activations), so that the round-off of another batching or summation order cannot swap two of them."""
CASCADE = ("classifier", "bn2", "conv_head", "blocks.6")
"""EfficientNet-Lite0's layers from the top down, as in the default cascade of ``sanity.cascading_randomization``."""


class InFloat64(nn.Module):
    """``net`` evaluated in float64 behind float32 inputs and outputs (a frozen, eval-mode copy).

    Inputs: a float32 tensor; the output comes back in the input's dtype. Gradients flow to the input.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = copy.deepcopy(net).double().eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.double()).to(x.dtype)


@functools.cache
def _vgg_prefix64(layer: str) -> nn.Module:
    """RGB in [0, 1] -> VGG19's activation of ``layer`` (normalization included), in float64 inside."""
    vgg = zoo("vgg19")
    names = [n for n, _ in vgg.net.named_children()]
    return InFloat64(nn.Sequential(vgg.normalize, vgg.net[: names.index(layer) + 1]))


@functools.cache
def _effnet64() -> nn.Module:
    """EfficientNet-Lite0 (preprocessed input -> logits), in float64 inside."""
    return InFloat64(zoo("efficientnet_lite0").net)


def _photo(g: torch.Generator, size: int, model: str = "efficientnet_lite0") -> torch.Tensor:
    """One of :data:`PHOTOS`, picked with ``g``, preprocessed for zoo model ``model`` at ``size`` px: (1, 3, s, s)."""
    from ..images import load_image

    name = PHOTOS[int(torch.randint(len(PHOTOS), (), generator=g))]
    return zoo(model).preprocess(load_image(name), size=size)


@functools.cache
def _full_photo(name: str, side: int, model: str) -> torch.Tensor:
    from ..images import load_image

    return zoo(model).preprocess(load_image(name), size=side)


def _crops(g: torch.Generator, n: int, size: int, model: str) -> torch.Tensor:
    """A pool of ``n`` square crops of :data:`PHOTOS` (side 1, 2/3 or 1/2 of a 96 px centre square, at a random
    place), resized to ``size`` px, preprocessed for zoo model ``model``: (n, 3, size, size)."""
    out = []
    for _ in range(n):
        photo = _full_photo(PHOTOS[int(torch.randint(len(PHOTOS), (), generator=g))], 96, model)
        side = (96, 64, 48)[int(torch.randint(3, (), generator=g))]
        top, left = (int(v) for v in torch.randint(96 - side + 1, (2,), generator=g))
        crop = photo[:, :, top : top + side, left : left + side]
        out.append(F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(out)


def _separated(values: torch.Tensor, descending: bool) -> bool:
    """Whether the sorted ``values`` (finite ones) differ pairwise by more than :data:`GAP` (relative)."""
    v = values[torch.isfinite(values)].double().sort(descending=descending).values
    return bool(((v[1:] - v[:-1]).abs() > GAP * v.abs().max()).all())


def _top1(x: torch.Tensor) -> torch.Tensor:
    """EfficientNet-Lite0's top-1 class of the preprocessed image ``x`` (1, 3, H, W), as a 0-d tensor."""
    with torch.no_grad():
        return zoo("efficientnet_lite0").net(x)[0].argmax()


# ----------------------------------------------------------------------------- 07: inversion
def _inversion_inputs(g: torch.Generator) -> Inputs:
    size = 48
    vgg = zoo("vgg19")
    rgb = vgg.normalize.inverse(_photo(g, size, "vgg19")).clamp(0, 1)
    return {
        "image": rgb,
        "start": 0.5 * torch.randn(1, 3, size, size, generator=g),  # PixelImage's start: logits of the pixels
        "layer": torch.randint(len(INVERSION_LAYERS), (), generator=g),
        "steps": torch.tensor(4),
        "lr": torch.tensor(0.1),
        "lam_alpha": torch.tensor(1e-3),
        "lam_tv": torch.tensor([0.05, 0.5][int(torch.randint(2, (), generator=g))]),
    }


def _inversion_call(fn: Callable, d: Inputs) -> object:
    phi = _vgg_prefix64(INVERSION_LAYERS[int(d["layer"])])
    with torch.no_grad():
        target = phi(d["image"])
    return fn(phi, target, d["start"], int(d["steps"]), float(d["lr"]), float(d["lam_alpha"]), float(d["lam_tv"]))


# ----------------------------------------------------------------------------- 08: nearest neighbours in an embedding
def _nearest_inputs(g: torch.Generator) -> Inputs:
    from ..features import layer_means
    from ..neighbours import nearest_neighbours

    images = _crops(g, 12, 48, "efficientnet_lite0")
    layer = torch.randint(len(EMBED_LAYERS), (), generator=g)
    k = 3
    emb = layer_means(zoo("efficientnet_lite0"), images, EMBED_LAYERS[int(layer)]).numpy()
    # queries whose k + 1 nearest distances are well apart: another order of summation cannot swap two neighbours
    _, dist = nearest_neighbours(emb, list(range(len(images))), k=k + 1)
    ok = [i for i, d in enumerate(dist) if _separated(torch.from_numpy(d), descending=False)]
    pick = torch.randperm(len(ok), generator=g)[:2]
    return {"images": images, "layer": layer, "queries": torch.tensor(ok)[pick], "k": torch.tensor(k)}


def _nearest_call(fn: Callable, d: Inputs) -> object:
    # float32: forward passes only (another batching changes the embedding by round-off, ~1e-6 relative)
    net = zoo("efficientnet_lite0").net
    return fn(net, d["images"], EMBED_LAYERS[int(d["layer"])], d["queries"], int(d["k"]))


# ----------------------------------------------------------------------------- 09: top-activating patches
def _patches_inputs(g: torch.Generator) -> Inputs:
    from ..activations import pool_maxima

    crops = _crops(g, 16, 40, "vgg19")
    layer = torch.randint(len(POOL_LAYERS), (), generator=g)
    k = 4
    values, _, _ = pool_maxima(zoo("vgg19"), crops, [POOL_LAYERS[int(layer)]])
    v = values[POOL_LAYERS[int(layer)]]  # (N, C) every crop's maximum of every channel
    # channels whose k + 1 strongest crops fire (> 0) with well-separated maxima: no near ties in the ranking
    top = v.topk(k + 1, dim=0).values  # (k + 1, C)
    ok = [c for c in range(v.shape[1]) if top[-1, c] > 0 and _separated(top[:, c], descending=True)]
    channel = torch.tensor(ok)[torch.randint(len(ok), (), generator=g)]
    return {"crops": crops, "layer": layer, "channel": channel, "k": torch.tensor(k)}


def _patches_call(fn: Callable, d: Inputs) -> object:
    # float32: forward passes only; the maxima and their positions hardly feel round-off
    net = zoo("vgg19").net
    return fn(net, d["crops"], POOL_LAYERS[int(d["layer"])], int(d["channel"]), int(d["k"]))


# ----------------------------------------------------------------------------- 10: occlusion
def _occlusion_inputs(g: torch.Generator) -> Inputs:
    x = _photo(g, 64)
    grey = bool(torch.randint(2, (), generator=g))
    window = int(torch.randint(2, (), generator=g)) * 8 + 16  # 16 or 24
    return {
        "image": x,
        "target": _top1(x),
        "window": torch.tensor(window),
        "stride": torch.tensor(window // 2 + 4),
        # the grey occluder (RGB 0.5, which EfficientNet's normalization maps to 0) or the image's mean colour
        "fill": torch.zeros(3) if grey else x.mean(dim=(0, 2, 3)),
    }


def _occlusion_call(fn: Callable, d: Inputs) -> object:
    # float32: forward passes only, so batching the copies differently changes the probabilities by ~1e-6
    args = (int(d["target"]), int(d["window"]), int(d["stride"]), d["fill"])
    return fn(zoo("efficientnet_lite0").net, d["image"], *args)


# ----------------------------------------------------------------------------- 11: saliency, SmoothGrad
def _saliency_inputs(g: torch.Generator) -> Inputs:
    x = _photo(g, 64)
    return {
        "image": x,
        "target": _top1(x),
        "noise": torch.tensor([0.1, 0.2][int(torch.randint(2, (), generator=g))]),
        "n_samples": torch.tensor(3),
        "seed": torch.randint(1000, (), generator=g),
    }


def _saliency_call(fn: Callable, d: Inputs) -> object:
    args = (int(d["target"]), float(d["noise"]), int(d["n_samples"]), int(d["seed"]))
    return fn(_effnet64(), d["image"], *args)


# ----------------------------------------------------------------------------- 11: cascading randomization
def _randomization_inputs(g: torch.Generator) -> Inputs:
    x = _photo(g, 64)
    return {
        "image": x,
        "target": _top1(x),
        "depth": torch.randint(2, len(CASCADE) + 1, (), generator=g),
        "seed": torch.randint(1000, (), generator=g),
    }


def _randomization_call(fn: Callable, d: Inputs) -> object:
    # float32: the output, rank correlations, hardly feels float round-off. The function gets a private copy of
    # the model, so that a function that randomizes the model itself cannot break the shared one; it is told.
    shared = zoo("efficientnet_lite0").net
    net = copy.deepcopy(shared)
    out = fn(net, d["image"], int(d["target"]), list(CASCADE[: int(d["depth"])]), int(d["seed"]))
    if any(not torch.equal(a, b) for a, b in zip(net.state_dict().values(), shared.state_dict().values())):
        raise ValueError("it changed the weights of the model it was given: randomize a copy.deepcopy(net)")
    return out


# every check of this part runs the student's function on one zoo model, in two cases (seeds chosen so that the
# cases differ in the settings drawn), compared at rtol 1e-4 + atol 1e-5 unless the entry says otherwise
_on_vgg19 = on_model("vgg19", cases=2, rtol=1e-4, atol=1e-5)
_on_effnet = on_model("efficientnet_lite0", cases=2, rtol=1e-4, atol=1e-5)

EXERCISES: list[Exercise] = [
    _on_vgg19(
        "inversion_loop",
        "07_inverting_representations",
        "z = start.clone() with requires_grad, Adam([z], lr); each step x = sigmoid(z), loss = "
        "||phi(x) - target||^2 / ||target||^2 + lam_alpha * mean((|x - mu| / b)^alpha) + lam_tv * "
        "mean(((dx^2 + dy^2) / V^2)^(beta/2)) with V = b / 6.5 and dx, dy padded with a zero column / row; "
        "return sigmoid(z) after the last step",
        _inversion_inputs,
        _inversion_call,
        function="invert_by_hand",
    ),
    _on_effnet(
        "nearest_embedding",
        "08_feature_spaces",
        "a forward hook on the layer keeps its output while net runs (in chunks of images); a feature map is "
        "averaged over its rows and columns, a vector flattened; then the Euclidean distance of every query's code "
        "to every image's code, infinity for the query itself, and the k smallest (argsort with stable=True)",
        _nearest_inputs,
        _nearest_call,
        seed=8,
        function="nearest_by_hand",
        dims=("query", "rank"),
    ),
    _on_vgg19(
        "top_patches_pool",
        "09_activation_analysis",
        "a forward hook on the layer keeps the channel's maps and raises StopForward (caught around each call of "
        "net on a chunk of crops), so that no pass goes beyond the layer; "
        "per crop, the maximum over all positions of the map and where it is (row = flat index // width, "
        "col = flat index % width); the k crops with the largest maxima, strongest first (argsort descending, "
        "stable=True)",
        _patches_inputs,
        _patches_call,
        atol=1e-4,
        seed=9,
        function="top_patches_by_hand",
        dims=("rank",),
    ),
    _on_effnet(
        "occlusion_loop",
        "10_occlusion",
        "corners range(0, H - window + 1, stride) for rows and columns; per position a copy of the image with "
        "the window x window square set to fill (one value per channel), then softmax(net(copy))[target]; "
        "no gradients needed (torch.no_grad)",
        _occlusion_inputs,
        _occlusion_call,
        rtol=1e-3,
        atol=1e-6,
        seed=10,
        function="occlusion_by_hand",
    ),
    _on_effnet(
        "saliency_smoothgrad",
        "11_saliency_sanity_checks",
        "saliency: autograd.grad of net(x)[0, target] w.r.t. x, then |.| and the max over channels; SmoothGrad: "
        "noise = torch.randn((n, C, H, W), generator=torch.Generator().manual_seed(seed)), sigma = noise_level * "
        "(x.max() - x.min()), the gradients of the n noisy copies averaged, then |.| and the max over channels",
        _saliency_inputs,
        _saliency_call,
        atol=1e-7,
        seed=7,
        function="saliency_by_hand",
        dims=("row", "column"),
    ),
    _on_effnet(
        "randomization_check",
        "11_saliency_sanity_checks",
        "copy.deepcopy(net) once; for each layer in turn re-draw its weights with one generator (Conv2d: "
        "randn * sqrt(2 / fan_out), Linear: uniform in +-1/sqrt(out_features), biases 0, BatchNorm: "
        "reset_parameters()), recompute the saliency map, and take the Pearson correlation of the ranks "
        "(argsort().argsort()) of the two maps",
        _randomization_inputs,
        _randomization_call,
        rtol=0,
        atol=1e-3,
        seed=1,
        function="randomization_by_hand",
        dims=("step",),
    ),
]
