"""Algorithm-level exercises of part I: looking at one image's path through the network (02-06).

Each exercise is a method written out in its notebook (the cell that shows the algorithm's core); its check
runs the student's function on a real zoo model (:func:`.base.zoo`) on fixed inputs and compares with the
values the notebook's solution computed (``data/homework/expected.pt``).

The fixed inputs are centre crops of the course's sample photos, stored as uint8 pixels (3, S, S) and
preprocessed for the model by the check (``ZooModel.preprocess`` with ``size=0``). The checks run the
student's function on a copy of the network (one per exercise, so that a function which leaves a hook or a
patched ``forward`` behind cannot spoil another exercise). Guided backprop, the deconvnet's switches and
Grad-CAM's gradients pass through ReLU / max-pool kinks, where float32 round-off of another CPU or thread count
could flip a mask: those three run in float64, where the stored values hold on any machine. CAM is a forward
pass, continuous in the input: it runs in float32.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .base import Exercise, Inputs, zoo

__all__ = ["EXERCISES"]

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "china", "flower", "grace_hopper")
DECONV_LAYERS = ("relu2_2", "pool2", "relu3_4")  # VGG19 layers whose units the deconvnet exercise projects
GRAD_CAM_LAYERS = ("blocks.4", "blocks.5", "bn2")  # EfficientNet-Lite0 layers of the Grad-CAM exercise


def _pixels(g: torch.Generator, side: int) -> torch.Tensor:
    """A centre crop of a sample photo drawn with ``g``, resized to ``side``: (3, side, side) uint8."""
    from PIL import ImageOps

    from ..images import load_image

    name = PHOTOS[int(torch.randint(len(PHOTOS), (), generator=g))]
    crop = ImageOps.fit(load_image(name), (side, side))
    return torch.from_numpy(np.asarray(crop).copy()).permute(2, 0, 1).contiguous()


def _input(model: str, d: Inputs) -> torch.Tensor:
    """The stored pixels preprocessed for zoo model ``model``: (1, 3, S, S) float32."""
    return zoo(model).preprocess(d["pixels"], size=0)


@functools.cache
def _net_copy(model: str, exercise: str, dtype: torch.dtype, last: str | None = None) -> nn.Module:
    """A copy of zoo model ``model``'s network for ``exercise`` in ``dtype`` (a Sequential cut after layer ``last``)."""
    net = zoo(model).net
    if last is not None:
        names = [name for name, _ in net.named_children()]
        net = net[: names.index(last) + 1]
    return copy.deepcopy(net).to(dtype).eval()


def _strong(values: torch.Tensor, g: torch.Generator, k: int = 3) -> torch.Tensor:
    """One of the ``k`` largest entries of the 1-d ``values`` (its index), drawn with ``g``."""
    return values.topk(k).indices[int(torch.randint(k, (), generator=g))]


@torch.no_grad()
def _deconv_inputs(g: torch.Generator) -> Inputs:
    """A photo, a VGG19 layer and one of its three most active channels on the photo (never a silent unit)."""
    pixels = _pixels(g, 64)
    layer = torch.randint(len(DECONV_LAYERS), (), generator=g)
    net, x = zoo("vgg19").net, _input("vgg19", {"pixels": pixels})
    for name, m in net.named_children():
        x = m(x)
        if name == DECONV_LAYERS[int(layer)]:
            break
    return {"pixels": pixels, "layer": layer, "channel": _strong(x[0].amax(dim=(1, 2)), g)}


def _float32(out: object, scale: float = 1.0) -> object:
    """A returned tensor back in float32 (divided by ``scale``); anything else as it is, for the check to report."""
    return out.float() / scale if isinstance(out, torch.Tensor) and out.is_floating_point() else out


def _deconv_call(fn: Callable, d: Inputs) -> object:
    net = _net_copy("vgg19", "deconvnet_by_hand", torch.float64, DECONV_LAYERS[-1])
    out = fn(net, _input("vgg19", d).double(), DECONV_LAYERS[int(d["layer"])], int(d["channel"]))
    return _float32(out, 1e3)  # VGG19's input is on a 0-255 scale: the projection is compared in units of 1e3


def _class_inputs(side: int) -> Callable[[torch.Generator], Inputs]:
    """Inputs maker: a photo of ``side`` px and one of EfficientNet-Lite0's top-3 classes on it."""

    @torch.no_grad()
    def make(g: torch.Generator) -> Inputs:
        pixels = _pixels(g, side)
        logits = zoo("efficientnet_lite0").net(_input("efficientnet_lite0", {"pixels": pixels}))[0]
        return {"pixels": pixels, "target": _strong(logits, g)}

    return make


def _cam_inputs(g: torch.Generator) -> Inputs:
    """A photo of 112 px and any class: a class the photo does not show has a map of both signs (no ReLU in CAM)."""
    return {"pixels": _pixels(g, 112), "target": torch.randint(1000, (), generator=g)}


def _grad_cam_inputs(g: torch.Generator) -> Inputs:
    return {**_class_inputs(96)(g), "layer": torch.randint(len(GRAD_CAM_LAYERS), (), generator=g)}


def _eff_call(exercise: str, dtype: torch.dtype = torch.float64) -> Callable[..., object]:
    """The check's call for an EfficientNet-Lite0 exercise: ``fn(net, image, target, *extra)`` in ``dtype``."""

    def call(fn: Callable, d: Inputs, *extra: object) -> object:
        net = _net_copy("efficientnet_lite0", exercise, dtype)
        return _float32(fn(net, _input("efficientnet_lite0", d).to(dtype), int(d["target"]), *extra))

    return call


EXERCISES: list[Exercise] = [
    Exercise(
        "deconvnet_by_hand",
        "02_deconvnet",
        "forward through net.named_children() up to `layer`, keeping each layer's input shape and, for MaxPool2d, "
        "the switches (F.max_pool2d(..., return_indices=True)); keep only the channel's strongest activation; then "
        "backwards: F.max_unpool2d with the switches, relu of the signal, F.conv_transpose2d with m.weight and no bias",
        _deconv_inputs,
        _deconv_call,
        rtol=1e-5,  # float64: the solution's round-off is ~1e-12 on any machine
        atol=1e-5,
        dims=("image", "colour", "row", "column"),
        models=("vgg19",),  # loaded before the clock starts (half a gigabyte when no notebook has loaded it yet)
    ),
    Exercise(
        "cam_by_hand",
        "03_cam",
        "a forward hook on net.bn2 keeps its output f (1, K, h, w) during net(image); the map is "
        "sum_k net.classifier.weight[target, k] * f[0, k] (no bias, no ReLU); remove the hook afterwards",
        _cam_inputs,
        _eff_call("cam_by_hand", torch.float32),
        rtol=1e-4,  # float32: round-off of a sum over 1280 channels of maps up to ~30
        atol=2e-4,
        models=("efficientnet_lite0",),
    ),
    Exercise(
        "guided_backprop_by_hand",
        "04_guided_backprop",
        "a torch.autograd.Function whose forward is x.clamp(0, upper) (upper = 6 for nn.ReLU6) and whose backward "
        "returns grad * [0 < x < upper] * [grad > 0]; give every ReLU / ReLU6 module a forward that applies it "
        "(and delete it in a finally block), then torch.autograd.grad of net(x)[0, target] w.r.t. x",
        _class_inputs(64),
        _eff_call("guided_backprop_by_hand"),
        rtol=1e-5,
        atol=1e-6,
        dims=("image", "colour", "row", "column"),
        models=("efficientnet_lite0",),
    ),
    Exercise(
        "grad_cam_by_hand",
        "06_grad_cam",
        "a forward hook on dict(net.named_modules())[layer] keeps its output A; torch.autograd.grad of the logit "
        "net(x)[0, target] w.r.t. A; alpha_k = mean of the gradient over the positions; ReLU(sum_k alpha_k A_k)",
        _grad_cam_inputs,
        lambda fn, d: _eff_call("grad_cam_by_hand")(fn, d, GRAD_CAM_LAYERS[int(d["layer"])]),
        rtol=1e-5,
        atol=1e-6,
        models=("efficientnet_lite0",),
    ),
]


# ----------------------------------------------------------------------------- 05: interpretable CNNs
def _fashion_maps_inputs(g: torch.Generator) -> Inputs:
    """Feature maps of the Fashion-MNIST CNN's backbone (notebook 01's weights) on 8 test items pasted at
    random places of a 44 x 44 canvas: 16 of its 32 channels, (8, 16, 11, 11), after the ReLU and pooling."""
    from ..datasets import load_fashion_mnist
    from ..interpretable import paste_on_canvas
    from ..smallcnn import backbone, load_fashion_cnn, to_tensor

    data = load_fashion_mnist()
    pick = torch.randperm(len(data.x_test), generator=g)[:8].numpy()
    canvases, _ = paste_on_canvas(data.x_test[pick], canvas=44, seed=int(torch.randint(0, 1000, (), generator=g)))
    with torch.no_grad():
        maps = backbone(load_fashion_cnn())(to_tensor(canvases))[:, torch.randperm(32, generator=g)[:16]]
    return {"x": maps, "beta": torch.tensor(float(torch.randint(3, 6, (), generator=g)))}


EXERCISES.append(
    Exercise(
        "interpretable_layer",
        "05_interpretable_cnns",
        "templates from the L1 distance to every position; mask with the template at each map's argmax; "
        "score tr(x . T) for all n^2 + 1 templates, log p(x, T) by a log-softmax over the batch plus the log prior, "
        "then -MI = H(T | X) - H(T) from logsumexp marginals",
        _fashion_maps_inputs,
        lambda fn, d: fn(d["x"], beta=float(d["beta"])),
        rtol=1e-4,
        atol=1e-5,  # the loss is ~1e-4 ... 1e-2 nats; float32 sums over the batch and n^2 + 1 templates
        cases=2,
    )
)
