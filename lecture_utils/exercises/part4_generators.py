"""Algorithm-level exercises of part IV, the generator networks: chairs, fast stylization, super-resolution,
instance normalization (15, 19-21).

Each exercise is a method written out in its notebook (the cell that shows the algorithm's core); its check
runs the student's function on a real zoo model (:func:`.base.zoo`) or on one of the course's shipped trained
networks (loaded once per process, below) on fixed inputs and compares with the values the notebook's solution
computed (``data/homework/expected.pt``).
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Callable, Iterator

import torch

from .base import Exercise, Inputs, on_model, zoo

__all__ = ["EXERCISES"]

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")  # the small real photos the checks run on


# ----------------------------------------------------------------------------- shipped networks, loaded once
@functools.cache
def _chairs_generator():
    from ..upconv import load_chairs_generator

    return load_chairs_generator().eval()


@functools.cache
def _stylizer(name: str):
    from ..fastnet import load_stylizer

    return load_stylizer(name).eval()


@functools.cache
def _sr_net(kind: str):
    from ..superres import load_sr

    return load_sr(kind).eval()


@functools.cache
def _multistyle():
    from ..multistyle import load_multistyle

    return load_multistyle().eval()


@functools.cache
def _photo(name: str, size: int) -> torch.Tensor:
    """Photo ``name`` as (1, 3, size, size) RGB in [0, 1] (its central square, resized)."""
    from ..fastnet import to_input
    from ..images import load_image

    return to_input(load_image(name), size, crop=True)


@contextlib.contextmanager
def _frozen(net: torch.nn.Module) -> Iterator[None]:
    """The loss network's weights need no gradients while a check runs (restored afterwards)."""
    flags = [p.requires_grad for p in net.parameters()]
    net.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(net.parameters(), flags):
            p.requires_grad_(flag)


def _pick(g: torch.Generator, n: int) -> int:
    return int(torch.randint(0, n, (), generator=g))


# the checks of 15 and 21 run one layer of a shipped network forward, without a zoo model
_shipped_layer = functools.partial(Exercise, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- 15: one up-convolution block
def _upconv_inputs(g: torch.Generator) -> Inputs:
    return {
        "style": torch.tensor(_pick(g, 12)),
        "azimuth": torch.tensor(float(10 * _pick(g, 36))),
        "block": torch.tensor(_pick(g, 3)),
        "unpool": torch.tensor(_pick(g, 2)),
    }


def _upconv_call(fn: Callable, d: Inputs) -> object:
    """The feature map that enters up-conv block ``block`` of the shipped chairs generator (for one chair, one
    view) and a copy of that block, with the paper's unpooling when ``unpool`` is 1 (else the shipped nearest)."""
    from ..upconv import view_code

    net = _chairs_generator()
    k = int(d["block"])
    with torch.no_grad():
        style = torch.eye(net.n_styles)[int(d["style"])][None]
        view = view_code([float(d["azimuth"])], [20.0])
        h = torch.cat([net.style_fc(style), net.view_fc(view), net.theta_fc(torch.zeros(1, 5))], dim=1)
        c0, s = net.config["channels"][0], net.config["start"]
        x = net.up[:k](net.to_maps(net.joint_fc(h)).view(1, c0, s, s))
    block = copy.deepcopy(net.up[k])
    block.upsample = "unpool" if int(d["unpool"]) else "nearest"
    with torch.no_grad():
        return fn(x, block)


# ----------------------------------------------------------------------------- 19: one training step, perceptual loss
# the checks of the two training steps (19, 20): one Adam step of a shipped network through VGG19's loss
_training_step = on_model("vgg19", rtol=1e-3, atol=1e-5)


def _stylizer_inputs(g: torch.Generator) -> Inputs:
    from ..fastnet import available_stylizers, to_input
    from ..images import load_image

    a, style = _pick(g, len(PHOTOS)), _pick(g, len(available_stylizers()))
    return {
        "x": torch.cat([_photo(PHOTOS[a], 48), _photo(PHOTOS[(a + 1) % len(PHOTOS)], 48)]),
        "style_image": to_input(load_image(available_stylizers()[style]), 48, crop=True),
        "stylizer": torch.tensor(style),
        "style_weight": torch.tensor(float(torch.randint(2, 16, (), generator=g))),
        "tv_weight": torch.tensor(float(1 + _pick(g, 3))),
    }


def _stylizer_call(fn: Callable, d: Inputs) -> object:
    """One Adam step (lr 1e-3) of a copy of a shipped stylizer on two photos; the loss terms it returns and the
    network's output for the same photos after the step."""
    from ..fastnet import available_stylizers

    net = copy.deepcopy(_stylizer(available_stylizers()[int(d["stylizer"])])).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    vgg = zoo("vgg19")
    with _frozen(vgg.net):
        terms = fn(net, vgg, opt, d["x"], d["style_image"], float(d["style_weight"]), float(d["tv_weight"]))
    with torch.no_grad():
        return terms, net(d["x"])


# ----------------------------------------------------------------------------- 20: one super-resolution training step
def _sr_inputs(g: torch.Generator) -> Inputs:
    from ..superres import degrade

    hr = _photo(PHOTOS[_pick(g, len(PHOTOS))], 64)
    return {"hr": hr, "lr": degrade(hr), "feature": torch.tensor(_pick(g, 2)), "tv": torch.tensor(0.5 * _pick(g, 2))}


def _sr_call(fn: Callable, d: Inputs) -> object:
    """One Adam step (lr 5e-4) of a copy of the shipped x4 net trained with the same loss (pixel or feature); the
    loss value it returns and the network's output for the same input after the step."""
    kind = "feature" if int(d["feature"]) else "pixel"
    net = copy.deepcopy(_sr_net(kind)).train()
    opt = torch.optim.Adam(net.parameters(), lr=5e-4)
    vgg = zoo("vgg19")
    with _frozen(vgg.net):
        value = fn(net, vgg, opt, d["lr"], d["hr"], kind, float(d["tv"]))
    with torch.no_grad():
        return value, net(d["lr"])


# ----------------------------------------------------------------------------- 21: conditional instance normalization
def _cin_inputs(g: torch.Generator) -> Inputs:
    from ..multistyle import N_STYLES

    w = torch.zeros(N_STYLES)
    t = float(torch.rand((), generator=g))
    w[_pick(g, N_STYLES)] += 1 - t
    w[_pick(g, N_STYLES)] += t
    return {"x": _photo(PHOTOS[_pick(g, len(PHOTOS))], 48), "weights": w, "layer": torch.tensor(_pick(g, 18))}


def _cin_call(fn: Callable, d: Inputs) -> object:
    """The features that enter CIN layer ``layer`` of the 26-style network for a photo and a blend of two styles,
    normalized by the candidate with that layer's per-style (gamma, beta) tables."""
    from ..multistyle import ConditionalInstanceNorm

    net = _multistyle()
    norm = [m for m in net.modules() if isinstance(m, ConditionalInstanceNorm)][int(d["layer"])]
    seen: list[torch.Tensor] = []
    handle = norm.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            net(d["x"], d["weights"])
    finally:
        handle.remove()
    return fn(seen[0], norm.gamma.detach(), norm.beta.detach(), d["weights"])


EXERCISES: list[Exercise] = [
    _shipped_layer(
        "upconv_block",
        "15_generating_chairs",
        "enlarge x by 2 (unpool: a zero tensor with x at [..., ::2, ::2]; nearest: repeat_interleave on both "
        "axes), then twice F.conv2d(padding=1) -> batch norm with the running statistics -> leaky ReLU 0.2",
        _upconv_inputs,
        _upconv_call,
        seed=1,
        function="upconv_block_by_hand",
    ),
    _training_step(
        "perceptual_training_step",
        "19_fast_stylization",
        "y = net(x); VGG19 features of y, x and the painting (vgg.normalize, then the layers of vgg.net in order); "
        "content = relative error at relu2_2, style = mean over relu1_1..relu4_1 of the relative Gram error, "
        "TV = mean |vertical diff| + mean |horizontal diff|; then zero_grad, backward, step",
        _stylizer_inputs,
        _stylizer_call,
        cases=2,
        function="perceptual_step_by_hand",
    ),
    _training_step(
        "sr_training_step",
        "20_super_resolution",
        "sr = net(lr); pixel loss = mean squared error; feature loss = ||phi(sr) - phi(hr)||^2 / ||phi(hr)||^2 "
        "with phi = VGG19 up to relu2_2 (after vgg.normalize); add tv * TV(sr); zero_grad, backward, step",
        _sr_inputs,
        _sr_call,
        seed=3,
        function="sr_step_by_hand",
    ),
    _shipped_layer(
        "conditional_instance_norm",
        "21_instance_normalization",
        "gamma = weights @ gamma_table, beta = weights @ beta_table (one value per channel); normalize every image "
        "and channel by its own mean and biased variance over (H, W), eps 1e-5; scale by gamma, shift by beta",
        _cin_inputs,
        _cin_call,
        function="conditional_instance_norm_by_hand",
    ),
]
