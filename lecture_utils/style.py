"""Gram matrices, texture synthesis and style transfer on VGG19 (lectures 16-21).

Lecture 16 («Синтез текстур»): Gatys, Ecker & Bethge 2015, "Texture Synthesis Using
Convolutional Neural Networks" -- a texture is described by the Gram matrices (channel
correlations averaged over all positions) of VGG19 feature maps; a new texture is an image whose
Gram matrices match.

Lecture 18 («Перенос стиля»): Gatys, Ecker & Bethge 2015, "A Neural Algorithm of Artistic Style" --
the loss is a linear combination ``alpha * content + beta * style`` of a feature (content) error at
one layer and the Gram (style) error at several layers.

Lectures 17, 19-21 reuse the same losses (masked Gram matrices for neural doodles, perceptual
losses for feed-forward networks).

Every loss here is an :class:`lecture_utils.optimize.Objective` whose value is the *loss* (>= 0);
``render`` maximizes, so optimize ``-(alpha * content + beta * style)``. Both losses are *relative*
errors (divided by the squared norm of the target), so they are dimensionless, 1 for an all-zero
image and 0 at a perfect match; the weights ``alpha`` and ``beta`` therefore differ in scale from
the paper's (which used unnormalized sums).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .hooks import get_layer, record
from .models import ZooModel
from .optimize import Objective, PixelImage, render, total_variation
from .targets import check_image

__all__ = [
    "STYLE_LAYERS",
    "CONTENT_LAYER",
    "gram_matrix",
    "features",
    "style_targets",
    "content_loss",
    "style_loss",
    "style_distance",
    "synthesize_texture",
    "style_transfer",
    "StyleResult",
    "check_vgg",
    "check_layers",
    "check_count",
    "loss_values",
]

# Gatys et al. use conv1_1, conv2_1, ..., conv5_1 (in Caffe the ReLU is applied in place, so these
# are the rectified maps) for style and conv4_2 for content.
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Channel correlations averaged over positions: ``G[c, d] = mean_p F[c, p] F[d, p]``.

    Inputs: ``features`` (B, C, H, W); ``mask`` optional weights (B or 1, 1, H', W') >= 0 (resized to
    (H, W) by area averaging): then ``G = sum_p m_p F[:, p] F[:, p]^T / sum_p m_p`` -- the Gram matrix
    of one region (neural doodle, lecture 17).
    Returns: (B, C, C). Position plays no role: shuffling the positions leaves G unchanged.
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        raise ValueError(f"features must be a (B, C, H, W) tensor, got {getattr(features, 'shape', features)!r}")
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    if mask is None:
        return f @ f.transpose(1, 2) / (h * w)
    if not isinstance(mask, torch.Tensor) or mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, b):
        raise ValueError(f"mask must be (1 or B, 1, H, W), got {getattr(mask, 'shape', mask)!r}")
    m = mask.to(features.device, features.dtype)
    if m.shape[-2:] != (h, w):
        m = F.adaptive_avg_pool2d(m, (h, w))
    m = m.reshape(m.shape[0], 1, h * w)
    total = m.sum(-1, keepdim=True)
    if (total <= 0).any():
        raise ValueError("the mask is empty (all zeros) at this layer's resolution: no region to describe")
    return (f * m) @ f.transpose(1, 2) / total


def check_vgg(model: ZooModel) -> None:
    """Refuse anything but a zoo model (the Gram-matrix methods need its layer names and normalization)."""
    if not isinstance(model, ZooModel):
        raise TypeError(f"model must be a ZooModel (load_model('vgg19')), got {type(model).__name__}")


def check_layers(model: ZooModel, layers: Sequence[str]) -> list[str]:
    """``layers`` (a name or a list) as a non-empty list of the model's layer names, or ``ValueError``."""
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError("give at least one layer")
    for layer in layers:
        get_layer(model, layer)  # unknown names: a clear error with close matches
    return layers


@torch.no_grad()
def features(model: ZooModel, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for a preprocessed ``image`` (1, 3, H, W) (``model.preprocess``).

    Returns: ``{layer: (1, C, h, w)}`` (detached). The model is left as it was.
    """
    check_vgg(model)
    layers = check_layers(model, layers)
    check_image(image)
    with record(model, layers, detach=True) as rec:
        model.net(image.to(model.device))
        return {n: rec.activations[n] for n in layers}


def style_targets(
    model: ZooModel, image: torch.Tensor, layers: Sequence[str] = STYLE_LAYERS, mask: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Gram matrices of a preprocessed style ``image`` (1, 3, H, W) at ``layers``: ``{layer: (1, C, C)}``.

    ``mask`` (1, 1, H, W) restricts them to a region (see :func:`gram_matrix`).
    """
    return {n: gram_matrix(a, mask) for n, a in features(model, image, layers).items()}


def content_loss(layer: str, target: torch.Tensor) -> Objective:
    """Relative feature error ``||F(x) - F0||^2 / ||F0||^2`` at ``layer`` (the *content* loss).

    Inputs: ``target`` = F0 (1, C, h, w), the content image's activation (:func:`features`).
    Returns: an Objective whose value is the loss (0 at the content image).
    """
    if not isinstance(target, torch.Tensor) or target.ndim != 4:
        raise ValueError(f"target must be a (1, C, h, w) activation, got {getattr(target, 'shape', target)!r}")
    target = target.detach()
    norm2 = float(target.pow(2).sum())
    if not norm2 > 0:
        raise ValueError(f"the content target at {layer!r} is all zeros: nothing to match")

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        a = acts[layer]
        if a.shape[1:] != target.shape[1:]:
            raise ValueError(
                f"activation of {layer!r} has shape {tuple(a.shape)} but the content target {tuple(target.shape)}: "
                "the image being optimized must have the content image's size"
            )
        return (a - target.to(a.device)).pow(2).sum() / (norm2 * a.shape[0])

    return Objective(fn, [layer], f"content {layer}")


def style_loss(
    targets: Mapping[str, torch.Tensor],
    weights: Mapping[str, float] | None = None,
    masks: torch.Tensor | None = None,
) -> Objective:
    """Weighted sum over layers of the relative Gram error ``||G(x) - G0||^2 / ||G0||^2``.

    Inputs: ``targets`` ``{layer: (1, C, C)}`` from :func:`style_targets`; ``weights`` per layer
    (default equal, summing to 1, as Gatys et al.'s w_l = 1/|layers|); ``masks`` optional
    (1, 1, H, W) region of the *optimized* image whose Gram matrices are compared.
    Returns: an Objective whose value is the loss (0 when every Gram matrix matches).
    """
    if not targets:
        raise ValueError("style_loss needs at least one target Gram matrix")
    weights = dict(weights) if weights is not None else {n: 1.0 / len(targets) for n in targets}
    if set(weights) != set(targets):
        raise ValueError(f"weights name layers {sorted(weights)} but targets have {sorted(targets)}")
    norms = {}
    for n, g in targets.items():
        if not isinstance(g, torch.Tensor) or g.ndim != 3 or g.shape[1] != g.shape[2]:
            raise ValueError(f"target Gram matrix at {n!r} must be (1, C, C), got {getattr(g, 'shape', g)!r}")
        norms[n] = float(g.pow(2).sum())
        if not norms[n] > 0:
            raise ValueError(f"the target Gram matrix at {n!r} is all zeros")

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0
        for n, g0 in targets.items():
            g = gram_matrix(acts[n], masks)
            total = total + weights[n] * (g - g0.to(g.device)).pow(2).sum() / (norms[n] * g.shape[0])
        return total

    return Objective(fn, list(targets), f"style {'+'.join(targets)}")


def style_distance(
    model: ZooModel, image: torch.Tensor, style: torch.Tensor, layers: Sequence[str] = STYLE_LAYERS
) -> float:
    """The style loss of preprocessed ``image`` against preprocessed ``style`` (both (1, 3, H, W))."""
    targets = style_targets(model, style, layers)
    acts = features(model, image, layers)
    return float(style_loss(targets)(acts))


@dataclass
class StyleResult:
    """``image`` (H, W, 3) in [0, 1]; ``values`` the total loss per step; ``snapshots`` step -> image;
    ``start`` and ``final`` the loss terms ({"content", "style", "total"}) before and after."""

    image: np.ndarray
    values: list[float] = field(default_factory=list)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    start: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)


def loss_values(model: ZooModel, rgb: torch.Tensor, parts: Mapping[str, Objective]) -> dict[str, float]:
    """Each objective of ``parts`` evaluated on the RGB image ``rgb`` (1, 3, H, W) in [0, 1], no gradient."""
    layers = sorted(set().union(*(o.layers for o in parts.values())))
    with torch.no_grad(), record(model, layers, detach=True) as rec:
        model.net(model.normalize(rgb))
        acts = dict(rec.activations)
    acts["input"] = rgb
    return {k: float(o(acts)) for k, o in parts.items()}


def check_count(value: int, name: str) -> None:
    """``value`` must be an int >= 1 (steps, sizes), else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def synthesize_texture(
    model: ZooModel,
    image: torch.Tensor,
    layers: Sequence[str] = STYLE_LAYERS,
    size: int | tuple[int, int] = 128,
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
    snapshots: Sequence[int] = (),
    progress: bool = False,
) -> StyleResult:
    """Texture synthesis (Gatys et al. 2015): from noise, match the Gram matrices of ``image``.

    Inputs: ``model`` VGG19 (``load_model("vgg19")``); ``image`` the preprocessed texture
    (1, 3, H, W); ``layers`` whose Gram matrices are matched; ``size`` of the output.
    Optimized with Adam (``lr`` in logit units) from noise drawn with ``seed``.
    Returns: :class:`StyleResult` with ``start``/``final`` ``{"style": loss}``.
    """
    check_vgg(model)
    layers = check_layers(model, layers)
    check_image(image)
    check_count(steps, "steps")
    loss = style_loss(style_targets(model, image.to(model.device), layers))
    param = PixelImage(size, seed=seed).to(model.device)
    start = loss_values(model, param(), {"style": loss})
    res = render(
        model,
        -loss,
        steps=steps,
        lr=lr,
        param=param,
        snapshots=snapshots,
        seed=seed,
        progress=progress,
    )
    final = loss_values(model, torch.from_numpy(res.image).permute(2, 0, 1)[None].to(model.device), {"style": loss})
    return StyleResult(res.image, [-v for v in res.values], res.snapshots, start, final)


def style_transfer(
    model: ZooModel,
    content: torch.Tensor,
    style: torch.Tensor,
    alpha: float = 1.0,
    beta: float = 1.0,
    content_layer: str = CONTENT_LAYER,
    style_layers: Sequence[str] = STYLE_LAYERS,
    tv: float = 0.0,
    init: str = "content",
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
    snapshots: Sequence[int] = (),
    progress: bool = False,
) -> StyleResult:
    """Neural style transfer (Gatys et al. 2015): minimize ``alpha * content + beta * style (+ tv * TV)``.

    Inputs: ``model`` VGG19; ``content`` and ``style`` preprocessed images (1, 3, H, W) (sizes may
    differ: Gram matrices do not depend on the size); ``content_layer`` one layer; ``style_layers``
    the layers whose Gram matrices are matched; ``init`` ``"content"`` (start from the photo) or
    ``"noise"``. Gatys et al. used L-BFGS; Adam on sigmoid pixels (``lr`` in logit units) gets
    there in a few hundred steps and is what the course's engine uses everywhere.
    Returns: :class:`StyleResult`, its ``start`` and ``final`` giving each loss term.
    """
    check_vgg(model)
    style_layers = check_layers(model, style_layers)
    check_layers(model, [content_layer])
    check_image(content)
    check_image(style)
    check_count(steps, "steps")
    for name, v in (("alpha", alpha), ("beta", beta), ("tv", tv)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {v!r}")
    if alpha == 0 and beta == 0:
        raise ValueError("alpha and beta are both 0: nothing to optimize")
    if init not in ("content", "noise"):
        raise ValueError(f"init must be 'content' or 'noise', got {init!r}")
    content = content.to(model.device)
    c_loss = content_loss(content_layer, features(model, content, [content_layer])[content_layer])
    s_loss = style_loss(style_targets(model, style.to(model.device), style_layers))
    parts = {"content": c_loss, "style": s_loss}
    total = alpha * c_loss + beta * s_loss
    if tv:
        parts["tv"] = -total_variation(1.0)  # optimize.total_variation is a penalty (<= 0)
        total = total + tv * parts["tv"]
    parts["total"] = total
    rgb = model.normalize.inverse(content).clamp(0, 1)
    param = (PixelImage(0, init=rgb) if init == "content" else PixelImage(tuple(rgb.shape[-2:]), seed=seed, sd=0.5)).to(
        model.device
    )
    start = loss_values(model, param(), parts)
    res = render(
        model,
        -total,
        steps=steps,
        lr=lr,
        param=param,
        snapshots=snapshots,
        seed=seed,
        progress=progress,
    )
    final = loss_values(model, torch.from_numpy(res.image).permute(2, 0, 1)[None].to(model.device), parts)
    return StyleResult(res.image, [-v for v in res.values], res.snapshots, start, final)
