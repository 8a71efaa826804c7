"""Algorithm-level exercises of part IV, the style family: texture synthesis, doodles, style transfer (16-18).

Each exercise is a method written out in its notebook (the cell that shows the algorithm's core); its check
runs the student's function on a real zoo model (:func:`.base.zoo`) on fixed inputs and compares with the
values the notebook's solution computed (``data/homework/expected.pt``).

All three run VGG19 (``zoo("vgg19")``) on small real images (48-64 px) so that a test case takes about a
second on a laptop CPU: texture synthesis and style transfer a few Adam steps, the doodle loss one forward pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from .base import Exercise, Inputs, on_model, randn, zoo

__all__ = ["EXERCISES"]

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # = style.STYLE_LAYERS (Gatys et al.)
DOODLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")  # = doodle.DOODLE_LAYERS
TEXTURES = ("brick", "gravel", "cat fur", "starry night")  # texture.TEXTURES, all offline
PHOTOS = ("chelsea", "coffee", "astronaut")
PAINTINGS = ("vangogh_starry_night", "munch_the_scream", "hokusai_great_wave")


def _pick(g: torch.Generator, options: tuple, low: int = 0) -> object:
    return options[int(torch.randint(low, len(options), (), generator=g))]


# ----------------------------------------------------------------------------- 16: Gram-matrix texture synthesis
def _texture_inputs(g: torch.Generator) -> Inputs:
    """A 64-px texture, 48-px noise logits (another size: the Gram matrices must be averaged over positions),
    the number of style layers (3-5), 3 Adam steps."""
    from ..texture import load_texture

    source = zoo("vgg19").preprocess(load_texture(_pick(g, TEXTURES)), size=64)
    depth = int(torch.randint(3, 6, (), generator=g))
    start = 0.1 * randn(g, 1, 3, 48, 48)
    return {
        "texture": source,
        "start": start,
        "depth": torch.tensor(depth),
        "steps": torch.tensor(3),
        "lr": torch.tensor(0.1),
    }


def _texture_call(fn: Callable, d: Inputs) -> object:
    layers = list(STYLE_LAYERS[: int(d["depth"])])
    return fn(zoo("vgg19"), d["texture"], d["start"], layers, int(d["steps"]), float(d["lr"]))


# ----------------------------------------------------------------------------- 17: the masked Gram loss of a doodle
@functools.cache
def _monet(height: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """Notebook 17's painting, ``height`` px high, preprocessed (1, 3, H, W), and its 3 regions found by colour
    (k-means, as in the notebook) as masks (3, 1, H, W): sky, sea, land."""
    from ..doodle import color_segments, label_masks
    from ..images import load_image

    monet = load_image("monet_cliff_walk_pourville")
    hw = (height, round(height * monet.width / monet.height))
    painting = zoo("vgg19").preprocess(monet, size=hw, crop=False)
    return painting, label_masks(color_segments(monet, k=3, width=24, smooth=5, size=hw))


def _doodle_inputs(g: torch.Generator) -> Inputs:
    """Monet's cliff walk (48 px high) segmented by colour into 3 masks, a doodle with a random horizon and hill,
    and a real image of the doodle's size (another painting) whose per-region losses are measured."""
    from ..doodle import draw_doodle, label_masks
    from ..images import load_image

    painting, masks = _monet()
    hw = tuple(painting.shape[-2:])
    horizon, hill_x = 0.3 + 0.3 * float(torch.rand((), generator=g)), 0.2 + 0.6 * float(torch.rand((), generator=g))
    doodle = draw_doodle(hw, horizon=horizon, hill_x=hill_x)
    return {
        "image": zoo("vgg19").preprocess(load_image(_pick(g, PAINTINGS)), size=hw),
        "painting": painting.clone(),
        "painting_masks": masks.clone(),
        "image_masks": label_masks(doodle, labels=[0, 1, 2]),
    }


def _doodle_call(fn: Callable, d: Inputs) -> object:
    return fn(zoo("vgg19"), d["image"], d["painting"], d["painting_masks"], d["image_masks"], list(DOODLE_LAYERS))


# ----------------------------------------------------------------------------- 18: the style-transfer loop
def _transfer_inputs(g: torch.Generator) -> Inputs:
    """A 48 x 64 photo, a painting (shorter side 48 px), beta 1, 10 or 100 with alpha 1, 2 Adam steps (the first
    one from the photo, where the content term has no gradient yet; the second one weighs both terms)."""
    from PIL import ImageOps

    from ..images import load_image

    vgg = zoo("vgg19")
    content = vgg.preprocess(ImageOps.fit(load_image(_pick(g, PHOTOS)), (64, 48)), size=0)
    return {
        "content": content,
        "painting": vgg.preprocess(load_image(_pick(g, PAINTINGS)), size=48),
        "alpha": torch.tensor(1.0),
        "beta": torch.tensor(10.0 ** int(torch.randint(0, 3, (), generator=g))),
        "steps": torch.tensor(2),
        "lr": torch.tensor(0.1),
    }


def _transfer_call(fn: Callable, d: Inputs) -> object:
    return fn(
        zoo("vgg19"),
        d["content"],
        d["painting"],
        float(d["alpha"]),
        float(d["beta"]),
        "relu4_2",
        list(STYLE_LAYERS),
        int(d["steps"]),
        float(d["lr"]),
    )


# Adam divides every step by the gradient's running RMS, so the round-off of VGG19's convolutions reaches the pixels
# almost unchanged: measured between 1 and 2 threads, at most 6e-7 absolute (1.3e-6 relative) after these few
# steps, well inside rtol 1e-4 + atol 1e-5; the mistakes the tests try move pixels by 1e-2 and more. Every check of
# this part runs VGG19.
_on_vgg19 = on_model("vgg19", rtol=1e-4, atol=1e-5)

EXERCISES: list[Exercise] = [
    _on_vgg19(
        name="synthesize_texture_by_hand",
        notebook="16_texture_synthesis",
        hint=(
            "Run vgg.net's named children in order and keep the Gram matrix (F F^T / positions) at each wanted "
            "layer; the targets come from the texture without gradient; optimize logits (pixels = sigmoid, fed "
            "through vgg.normalize) with Adam on the mean over layers of ||G - G0||^2 / ||G0||^2."
        ),
        make_inputs=_texture_inputs,
        call=_texture_call,
        cases=2,
    ),
    _on_vgg19(
        name="masked_gram_losses_by_hand",
        notebook="17_neural_doodle",
        hint=(
            "For each region: shrink its mask to the layer's size with F.adaptive_avg_pool2d, G = (F * m) F^T / "
            "sum(m); the region's loss is the mean over layers of ||G(image) - G(painting)||^2 / ||G(painting)||^2."
        ),
        make_inputs=_doodle_inputs,
        call=_doodle_call,
        atol=1e-6,
        dims=("region",),
    ),
    _on_vgg19(
        name="style_transfer_by_hand",
        notebook="18_style_transfer",
        hint=(
            "Start from the photo's logits (pixels = sigmoid(logits), the photo clamped to [1e-3, 1 - 1e-3]); each "
            "Adam step: alpha * ||F - P||^2 / ||P||^2 at content_layer + beta * the mean over style_layers of "
            "||G - A||^2 / ||A||^2, with the targets P and A computed once, without gradient."
        ),
        make_inputs=_transfer_inputs,
        call=_transfer_call,
        cases=2,
    ),
]
