"""Gram matrices, texture synthesis and style transfer on VGG19 (lectures 16-21).

Lecture 16 («Синтез текстур»): Gatys, Ecker & Bethge 2015, "Texture Synthesis Using
Convolutional Neural Networks" -- a texture is described by the Gram matrices (channel
correlations averaged over all positions) of VGG19 feature maps; a new texture is an image whose
Gram matrices match.

Lecture 18 («Перенос стиля»): Gatys, Ecker & Bethge 2015, "A Neural Algorithm of Artistic Style" --
the loss is a linear combination ``alpha * content + beta * style`` of a feature (content) error at
one layer and the Gram (style) error at several layers. :func:`style_transfer_batch` is the one
implementation: it optimizes ``B`` images together, item ``i`` with its own weights, style layers
and painting; :func:`style_transfer` is the batch of one.

Lectures 17, 19-21 reuse the same losses (masked Gram matrices for neural doodles, perceptual
losses for feed-forward networks). The tensor formulas live in :mod:`lecture_utils.losses`.

Every loss here is an :class:`lecture_utils.optimize.Objective` whose value is the *loss* (>= 0);
``render`` maximizes, so optimize ``-(alpha * content + beta * style)``. Both losses are *relative*
errors (divided by the squared norm of the target), so they are dimensionless, 1 for an all-zero
image and 0 at a perfect match; the weights ``alpha`` and ``beta`` therefore differ in scale from
the paper's (which used unnormalized sums).

The network runs only up to the deepest layer a method reads (``hooks.run_until``): a 16x16 image
is fine for ``relu5_1``; an image too small for a layer gets a message with the minimum size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from . import losses
from .checks import check_choice, check_finite, check_int, check_non_negative, check_positive
from .hooks import get_layer, run_until
from .losses import gram_matrix
from .models import ZooModel
from .optimize import INPUT, Objective, PixelImage, render
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
    "style_transfer_batch",
    "StyleResult",
    "BatchStyleResult",
    "ItemLosses",
    "check_vgg",
    "check_layers",
    "check_count",
    "check_image_size",
    "min_side",
    "loss_values",
]

# Gatys et al. use conv1_1, conv2_1, ..., conv5_1 (in Caffe the ReLU is applied in place, so these
# are the rectified maps) for style and conv4_2 for content.
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
_FINITE_HINT = "replace the NaN/inf pixels (e.g. torch.nan_to_num) or reload the image"


# --------------------------------------------------------------------------- checks


def check_vgg(model: ZooModel) -> None:
    """Refuse anything but a zoo model (the Gram-matrix methods need its layer names and normalization)."""
    if not isinstance(model, ZooModel):
        raise TypeError(f"model must be a ZooModel (load_model('vgg19')), got {type(model).__name__}")


def check_layers(model: ZooModel, layers: str | Sequence[str]) -> list[str]:
    """``layers`` (a name or a list) as a non-empty list of the model's layer names.

    Raises ``TypeError`` for a non-string name, ``ValueError`` for an empty list or an unknown name
    (on a model other than VGG19: the methods need ``load_model("vgg19")``).
    """
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a layer name or a list of names, got {type(layers).__name__}")
    layers = list(layers)
    if not layers:
        raise ValueError("give at least one layer, e.g. ['relu1_1', 'relu2_1']")
    for layer in layers:
        if not isinstance(layer, str):
            raise TypeError(f"a layer name must be a string such as 'relu1_1', got {layer!r} ({type(layer).__name__})")
        try:
            get_layer(model, layer)  # unknown names: a clear error with close matches
        except ValueError:
            name = getattr(model, "name", type(model).__name__)
            if name == "vgg19":
                raise
            raise ValueError(
                f"layer {layer!r} is not in {name}: the style and texture methods use VGG19's layer names "
                "(relu1_1, relu4_2, ...); load it with load_model('vgg19')"
            ) from None
    return layers


def check_count(value: Any, name: str) -> int:
    """``value`` must be an int >= 1 (steps, sizes): ``TypeError`` / ``ValueError`` naming ``name``."""
    return check_int(value, name, low=1)


def min_side(model: ZooModel, layers: Sequence[str]) -> int:
    """The smallest image side for which every one of ``layers`` has an output: ``2 ** k`` for the
    ``k`` pooling layers before the deepest of them (VGG19: 16 for ``relu5_1``, 8 for ``relu4_2``)."""
    children = list(model.net.named_children())
    names = [n for n, _ in children]
    if not all(n in names for n in layers):
        return 1
    deepest = max(names.index(n) for n in layers)
    pools = sum(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for _, m in children[:deepest])
    return 2**pools


def check_image_size(model: ZooModel, hw: Sequence[int], layers: Sequence[str], name: str) -> None:
    """``ValueError`` with the minimum size when an (H, W) image is too small for ``layers``."""
    need = min_side(model, layers)
    if min(hw) < need:
        deepest = max(layers, key=lambda n: [m for m, _ in model.net.named_children()].index(n))
        raise ValueError(
            f"{name} is {hw[0]}x{hw[1]} pixels, too small for layer {deepest!r}: the network halves the size "
            f"{need.bit_length() - 1} times before it, so both sides must be at least {need} pixels; "
            "use a larger image or shallower layers"
        )


def _check_input(model: ZooModel, image: torch.Tensor, layers: Sequence[str], name: str) -> None:
    check_image(image, name)
    check_finite(image, name, _FINITE_HINT)
    check_image_size(model, tuple(image.shape[-2:]), layers, name)


# --------------------------------------------------------------------------- features and losses


@torch.no_grad()
def features(
    model: ZooModel, image: torch.Tensor, layers: Sequence[str], name: str = "image"
) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for a preprocessed ``image`` (1, 3, H, W) (``model.preprocess``).

    Only the layers up to the deepest requested one are run. Returns: ``{layer: (1, C, h, w)}``
    (detached). The model is left as it was.
    """
    check_vgg(model)
    layers = check_layers(model, layers)
    _check_input(model, image, layers, name)
    return run_until(model, image.to(model.device), layers)


def style_targets(
    model: ZooModel, image: torch.Tensor, layers: Sequence[str] = STYLE_LAYERS, mask: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Gram matrices of a preprocessed style ``image`` (1, 3, H, W) at ``layers``: ``{layer: (1, C, C)}``.

    ``mask`` (1, 1, H, W) restricts them to a region (see :func:`gram_matrix`).
    """
    return {n: gram_matrix(a, mask) for n, a in features(model, image, layers, "style").items()}


def content_loss(layer: str, target: torch.Tensor) -> Objective:
    """Relative feature error ``||F(x) - F0||^2 / ||F0||^2`` at ``layer`` (the *content* loss,
    :func:`lecture_utils.losses.content_loss`).

    Inputs: ``target`` = F0 (1, C, h, w), the content image's activation (:func:`features`).
    Returns: an Objective whose value is the loss (0 at the content image).
    """
    if not isinstance(target, torch.Tensor) or target.ndim != 4:
        raise ValueError(f"target must be a (1, C, h, w) activation, got {getattr(target, 'shape', target)!r}")
    target = target.detach()
    if not float(target.pow(2).sum()) > 0:
        raise ValueError(f"the content target at {layer!r} is all zeros: nothing to match")
    return Objective(lambda acts: losses.content_loss(acts[layer], target), [layer], f"content {layer}")


def _check_grams(targets: Mapping[str, torch.Tensor], where: str = "") -> None:
    for n, g in targets.items():
        if not isinstance(g, torch.Tensor) or g.ndim != 3 or g.shape[0] != 1 or g.shape[1] != g.shape[2]:
            raise ValueError(f"{where}target Gram matrix at {n!r} must be (1, C, C), got {getattr(g, 'shape', g)!r}")
        if not float(g.pow(2).sum()) > 0:
            raise ValueError(f"{where}the target Gram matrix at {n!r} is all zeros")


def style_loss(
    targets: Mapping[str, torch.Tensor],
    weights: Mapping[str, float] | None = None,
    masks: torch.Tensor | None = None,
) -> Objective:
    """Weighted sum over layers of the relative Gram error ``||G(x) - G0||^2 / ||G0||^2``
    (:func:`lecture_utils.losses.style_loss`).

    Inputs: ``targets`` ``{layer: (1, C, C)}`` from :func:`style_targets`; ``weights`` per layer
    (default equal, summing to 1, as Gatys et al.'s w_l = 1/|layers|); ``masks`` optional
    (1, 1, H, W) region of the *optimized* image whose Gram matrices are compared.
    Returns: an Objective whose value is the loss (0 when every Gram matrix matches).
    """
    if not targets:
        raise ValueError("style_loss needs at least one target Gram matrix")
    targets = {n: g.detach() if isinstance(g, torch.Tensor) else g for n, g in targets.items()}
    weights = dict(weights) if weights is not None else {n: 1.0 / len(targets) for n in targets}
    if set(weights) != set(targets):
        raise ValueError(f"weights name layers {sorted(weights)} but targets have {sorted(targets)}")
    _check_grams(targets)
    return Objective(
        lambda acts: losses.style_loss(acts, targets, weights, masks), list(targets), f"style {'+'.join(targets)}"
    )


def style_distance(
    model: ZooModel, image: torch.Tensor, style: torch.Tensor, layers: Sequence[str] = STYLE_LAYERS
) -> float:
    """The style loss of preprocessed ``image`` against preprocessed ``style`` (both (1, 3, H, W))."""
    targets = style_targets(model, style, layers)
    acts = features(model, image, layers)
    return float(style_loss(targets)(acts))


def loss_values(model: ZooModel, rgb: torch.Tensor, parts: Mapping[str, Objective]) -> dict[str, float]:
    """Each objective of ``parts`` evaluated on the RGB image ``rgb`` (1, 3, H, W) in [0, 1], no gradient."""
    layers = sorted(set().union(*(o.layers for o in parts.values())) - {INPUT})
    rgb = rgb.detach()
    with torch.no_grad():
        acts = run_until(model, model.normalize(rgb), layers) if layers else {}
        acts[INPUT] = rgb
        return {k: float(o(acts)) for k, o in parts.items()}


# --------------------------------------------------------------------------- texture synthesis


@dataclass
class StyleResult:
    """``image`` (H, W, 3) in [0, 1]; ``values`` the total loss per step; ``snapshots`` step -> image;
    ``start`` and ``final`` the loss terms ({"content", "style", "total"}) before and after."""

    image: np.ndarray
    values: list[float] = field(default_factory=list)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    start: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)


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
    Optimized with Adam (``lr`` in logit units) from noise (standard deviation 0.5 in logit units)
    drawn with ``seed``; the caller's random generators are left as they were. The one implementation
    is :func:`lecture_utils.texture.synthesize` with the statistic ``"gram"``.
    Returns: :class:`StyleResult` with ``start``/``final`` ``{"style": loss}``.
    """
    from .texture import synthesize  # imported here: texture imports this module

    settings = dict(steps=steps, lr=lr, seed=seed, snapshots=snapshots, progress=progress)
    res = synthesize(model, image, layers, "gram", size, sd=0.5, **settings)
    return StyleResult(res.image, res.values, res.snapshots, {"style": res.start["gram"]}, {"style": res.final["gram"]})


# --------------------------------------------------------------------------- style transfer, B items at once


class ItemLosses:
    """Content, style and total-variation loss of every item of a batch, as (B,) tensors.

    Inputs: ``content_layer`` and ``content_target`` F0 (1, C, h, w) (``None``: no content term);
    ``style_targets`` one ``{layer: G0 (1, C, C)}`` per item (``None``: no style term; an empty
    dict: no style term for that item); ``weights`` optional per-item layer weights (default
    ``1 / len(style_targets[i])`` for each of item ``i``'s layers, as Gatys et al.'s ``w_l``).
    Called on activations ``{layer: (B, ...)}`` (plus ``"input"`` (B, 3, H, W) for ``tv``), it
    returns ``{"content": (B,), "style": (B,), "tv": (B,)}`` (only the terms it has):
    ``content[i] = ||F_i - F0||^2 / ||F0||^2``, ``style[i] = sum_l w_il ||G_il - G0_il||^2 / ||G0_il||^2``,
    ``tv[i]`` = mean absolute difference of vertical plus horizontal neighbours (:mod:`lecture_utils.losses`).
    """

    def __init__(
        self,
        content_layer: str | None = None,
        content_target: torch.Tensor | None = None,
        style_targets: Sequence[Mapping[str, torch.Tensor]] | None = None,
        weights: Sequence[Mapping[str, float]] | None = None,
        tv: bool = False,
    ):
        if (content_layer is None) != (content_target is None):
            raise ValueError("give both content_layer and content_target, or neither")
        self.content_layer = content_layer
        self.content_target = None
        if content_target is not None:
            if not isinstance(content_target, torch.Tensor) or content_target.ndim != 4 or content_target.shape[0] != 1:
                got = getattr(content_target, "shape", content_target)
                raise ValueError(f"content_target must be a (1, C, h, w) activation, got {got!r}")
            if not float(content_target.pow(2).sum()) > 0:
                raise ValueError(f"the content target at {content_layer!r} is all zeros: nothing to match")
            self.content_target = content_target.detach()
        self.tv = bool(tv)
        self.style: dict[str, tuple[list[int], torch.Tensor, torch.Tensor]] = {}
        self.batch: int | None = None
        if style_targets is not None:
            self._set_style([dict(t) for t in style_targets], weights)
        if self.content_target is None and self.batch is None:
            raise ValueError("ItemLosses needs a content target, style targets, or both")

    def _set_style(self, style_targets: list[dict[str, torch.Tensor]], weights: Sequence[Mapping] | None) -> None:
        """Group the items' Gram targets by layer: ``self.style[layer] = (items, G0 (k, C, C), w (k,))``."""
        self.batch = len(style_targets)
        if weights is not None and len(weights) != len(style_targets):
            raise ValueError(f"got {len(weights)} weight dicts for {len(style_targets)} items")
        per_layer: dict[str, list[tuple[int, torch.Tensor, float]]] = {}
        for i, targets in enumerate(style_targets):
            w = dict(weights[i]) if weights is not None else {n: 1.0 / len(targets) for n in targets}
            if set(w) != set(targets):
                raise ValueError(f"item {i}: weights name layers {sorted(w)} but targets have {sorted(targets)}")
            _check_grams(targets, f"item {i}: ")
            for n, g in targets.items():
                per_layer.setdefault(n, []).append((i, g.detach(), float(w[n])))
        for n, items in per_layer.items():
            grams = torch.cat([g for _, g, _ in items])  # (k, C, C)
            self.style[n] = ([i for i, _, _ in items], grams, torch.tensor([w for _, _, w in items], dtype=grams.dtype))

    @property
    def layers(self) -> list[str]:
        """The layers whose activations the losses read."""
        names = list(self.style)
        if self.content_layer is not None and self.content_layer not in names:
            names.append(self.content_layer)
        return names

    def __call__(self, acts: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        if self.content_target is not None:
            out["content"] = losses.content_loss(acts[self.content_layer], self.content_target, per_item=True)
        if self.batch is not None:
            some = acts[next(iter(self.style))] if self.style else None
            b = some.shape[0] if some is not None else self.batch
            if b != self.batch:
                raise ValueError(f"the batch has {b} items but there are style targets for {self.batch}")
            style = torch.zeros(b, device=some.device if some is not None else None)
            for n, (idx, grams, w) in self.style.items():
                g = gram_matrix(acts[n] if len(idx) == b else acts[n][idx])
                err = losses.relative_error(g, grams, per_item=True) * w.to(g.device)
                style = style.index_add(0, torch.tensor(idx, device=g.device), err)
            out["style"] = style
        if self.tv:
            out["tv"] = losses.total_variation(acts[INPUT], per_item=True)
        return out


@dataclass
class BatchStyleResult:
    """``images`` (B, H, W, 3) in [0, 1]; ``history`` {"content", "style", "tv", "total"} -> (steps, B)
    (the weighted total and the *unweighted* terms, each recorded before the step's update);
    ``start`` and ``final`` the same terms (B,) before the first and after the last update;
    ``snapshots`` step -> (B, H, W, 3); ``alpha``, ``beta`` (B,) the weights used."""

    images: np.ndarray
    history: dict[str, np.ndarray] = field(default_factory=dict)
    start: dict[str, np.ndarray] = field(default_factory=dict)
    final: dict[str, np.ndarray] = field(default_factory=dict)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    alpha: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class _Plan:
    """The checked settings of one style-transfer call (B items)."""

    alphas: list[float]
    betas: list[float]
    styles: list[torch.Tensor] | None
    layer_sets: list[list[str]]
    content_layer: str
    tv: float
    init: str
    steps: int
    lr: float
    use_content: bool
    use_style: bool


def _per_item(value: object) -> list | None:
    """``value`` as a list if it is a per-item sequence, else None (a scalar to broadcast)."""
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else None


def _batch_size(**seqs: list | None) -> int:
    sizes = {k: len(v) for k, v in seqs.items() if v is not None}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"per-item arguments must have one length, got {sizes}")
    b = next(iter(sizes.values()), 1)
    if b < 1:
        raise ValueError(f"per-item arguments are empty: {sizes}; give at least one value")
    return b


def _plan(model: ZooModel, content: torch.Tensor, style: Any, alpha: Any, beta: Any, style_layers: Any, **kw) -> _Plan:
    """Every check of :func:`style_transfer_batch`, before any work."""
    check_vgg(model)
    check_image(content, "content")
    check_finite(content, "content", _FINITE_HINT)
    steps, lr = check_count(kw["steps"], "steps"), check_positive(kw["lr"], "lr")
    tv = check_non_negative(kw["tv"], "tv")
    init = check_choice(kw["init"], "init", ("content", "noise"))
    content_layer = check_layers(model, [kw["content_layer"]])[0]
    if isinstance(style_layers, str) or not isinstance(style_layers, (list, tuple)):
        got = f"a string: write [{style_layers!r}]" if isinstance(style_layers, str) else type(style_layers).__name__
        raise TypeError(f"style_layers must be a list of layer names (or a list of such lists), not {got}")
    alphas, betas = _per_item(alpha), _per_item(beta)
    styles = list(style) if isinstance(style, (list, tuple)) else None
    per_item_layers = len(style_layers) > 0 and not isinstance(style_layers[0], str)
    layer_sets = [list(s) for s in style_layers] if per_item_layers else None
    b = _batch_size(alpha=alphas, beta=betas, style=styles, style_layers=layer_sets)
    alphas = [check_non_negative(a, f"alpha[{i}]" if alphas else "alpha") for i, a in enumerate(alphas or [alpha] * b)]
    betas = [check_non_negative(v, f"beta[{i}]" if betas else "beta") for i, v in enumerate(betas or [beta] * b)]
    for i, (a, v) in enumerate(zip(alphas, betas)):
        if a == 0 and v == 0 and not tv:
            raise ValueError(f"item {i}: alpha and beta are both 0: nothing to optimize; make one of them > 0")
    layer_sets = layer_sets or [list(style_layers)] * b
    use_style = kw.get("keep_terms", False) or any(v > 0 for v in betas)
    if use_style:
        layer_sets = [check_layers(model, layers) for layers in layer_sets]
        if style is None:
            raise ValueError("style is None but some beta > 0: give a painting (or set every beta to 0)")
        styles = styles or [style] * b
        for i, s in enumerate(styles):
            _check_input(model, s, layer_sets[i], f"style[{i}]")
    needed = [content_layer] + [n for s in layer_sets for n in s] if use_style else [content_layer]
    check_image_size(model, tuple(content.shape[-2:]), needed, "content")
    use_content = kw.get("keep_terms", False) or any(a > 0 for a in alphas)
    return _Plan(alphas, betas, styles, layer_sets, content_layer, tv, init, steps, lr, use_content, use_style)


def _item_losses(model: ZooModel, content: torch.Tensor, plan: _Plan) -> ItemLosses:
    """The targets of every item (each distinct painting and layer set computed once)."""
    c_target = (
        features(model, content, [plan.content_layer], "content")[plan.content_layer] if plan.use_content else None
    )
    s_targets = None
    if plan.use_style:
        cache: dict[tuple[int, tuple[str, ...]], dict[str, torch.Tensor]] = {}
        s_targets = []
        for s, layers in zip(plan.styles, plan.layer_sets):
            key = (id(s), tuple(layers))
            if key not in cache:
                cache[key] = style_targets(model, s.to(model.device), layers)
            s_targets.append(cache[key])
    return ItemLosses(plan.content_layer if plan.use_content else None, c_target, s_targets, tv=bool(plan.tv))


def _check_start(start: Any, b: int) -> torch.Tensor | None:
    """``start`` checked: None, or a (1 or B, 3, h, w) RGB tensor in [0, 1]."""
    if start is None:
        return None
    if not isinstance(start, torch.Tensor) or start.ndim != 4 or start.shape[1] != 3 or start.shape[0] not in (1, b):
        got = getattr(start, "shape", type(start).__name__)
        raise ValueError(f"start must be a (1, 3, h, w) or ({b}, 3, h, w) RGB tensor in [0, 1], got {got!r}")
    check_finite(start, "start", _FINITE_HINT)
    if float(start.min()) < 0 or float(start.max()) > 1:
        raise ValueError("start must be RGB in [0, 1] (e.g. a result's images, not a preprocessed tensor)")
    return start.float()


def _start_image(rgb: torch.Tensor, plan: _Plan, b: int, seed: int, start: torch.Tensor | None = None) -> PixelImage:
    """``init="content"``: B copies of the photo; ``"noise"``: the same noise for every item, as a
    batch-1 run with this ``seed`` draws it; ``start`` given: that RGB image (resized to the photo's
    size, bilinearly) for every item, or item ``i`` from ``start[i]``."""
    if start is not None:
        hw = tuple(rgb.shape[-2:])
        img = start.to(rgb.device)
        if tuple(img.shape[-2:]) != hw:
            img = torch.nn.functional.interpolate(img, size=hw, mode="bilinear", align_corners=False)
        return PixelImage(0, init=img.clamp(0, 1).expand(b, -1, -1, -1).contiguous())
    if plan.init == "content":
        return PixelImage(0, init=rgb.expand(b, -1, -1, -1).contiguous())
    param = PixelImage(tuple(rgb.shape[-2:]), seed=seed, sd=0.5, batch=b)
    with torch.no_grad():
        param.logits.copy_(PixelImage(tuple(rgb.shape[-2:]), seed=seed, sd=0.5).logits.expand(b, -1, -1, -1))
    return param


def _transfer(
    model: ZooModel,
    content: torch.Tensor,
    plan: _Plan,
    seed: int,
    snapshots: Sequence[int],
    progress: bool,
    start: torch.Tensor | None = None,
) -> BatchStyleResult:
    """Optimize the B images of ``plan`` together (the objective is the sum of the items' losses)."""
    content = content.to(model.device)
    item_losses = _item_losses(model, content, plan)
    b = len(plan.alphas)
    a_t, b_t = torch.tensor(plan.alphas, device=model.device), torch.tensor(plan.betas, device=model.device)

    def weighted(terms: dict[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros(b, device=model.device)
        for key, w in (("content", a_t), ("style", b_t), ("tv", plan.tv)):
            if key in terms:
                total = total + w * terms[key]
        return total

    def terms_of(acts: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        terms = item_losses(acts)
        return {**terms, "total": weighted(terms)}

    trace: list[dict[str, np.ndarray]] = []

    def objective_fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = terms_of(acts)
        trace.append({k: v.detach().cpu().numpy() for k, v in terms.items()})
        return -terms["total"].sum()  # render maximizes; the sum keeps the items' gradients independent

    @torch.no_grad()
    def numbers(img: torch.Tensor) -> dict[str, np.ndarray]:
        acts = {**run_until(model, model.normalize(img), item_losses.layers), INPUT: img}
        return {k: v.cpu().numpy() for k, v in terms_of(acts).items()}

    layers = item_losses.layers + ([INPUT] if plan.tv else [])
    param = _start_image(model.normalize.inverse(content).clamp(0, 1), plan, b, seed, start).to(model.device)
    start = numbers(param())
    keep: dict[int, np.ndarray] = {}
    wanted = {check_count(s, "a snapshot step") for s in snapshots}

    def snap(p: torch.nn.Module, step: int) -> None:
        if step in wanted:
            keep[step] = p().detach().permute(0, 2, 3, 1).clamp(0, 1).cpu().numpy()

    objective = Objective(objective_fn, layers, "style transfer (batch)")
    res = render(
        model, objective, param=param, steps=plan.steps, lr=plan.lr, seed=seed, progress=progress, callbacks=[snap]
    )
    final = numbers(torch.from_numpy(res.batch).permute(0, 3, 1, 2).to(model.device))
    history = {k: np.stack([t[k] for t in trace]) for k in trace[0]}
    return BatchStyleResult(res.batch, history, start, final, keep, np.array(plan.alphas), np.array(plan.betas))


def style_transfer_batch(
    model: ZooModel,
    content: torch.Tensor,
    style: torch.Tensor | Sequence[torch.Tensor] | None,
    alpha: float | Sequence[float] = 1.0,
    beta: float | Sequence[float] = 1.0,
    content_layer: str = CONTENT_LAYER,
    style_layers: Sequence[str] | Sequence[Sequence[str]] = STYLE_LAYERS,
    tv: float = 0.0,
    init: str = "content",
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
    snapshots: Sequence[int] = (),
    progress: bool = False,
    start: torch.Tensor | np.ndarray | None = None,
) -> BatchStyleResult:
    """Gatys et al.'s style transfer for ``B`` images at once; item ``i`` minimizes
    ``alpha[i] * L_content + beta[i] * L_style_i (+ tv * TV)``.

    Inputs: ``model`` VGG19 (``load_model("vgg19")``); ``content`` the preprocessed photo
    (1, 3, H, W), shared by all items (it sets the output size); ``style`` one preprocessed
    painting (1, 3, h, w) for all items, a list of B paintings (one per item; sizes may differ),
    or ``None`` when every ``beta`` is 0 (content reconstruction); ``alpha``, ``beta`` numbers >= 0
    or lists of B numbers; ``style_layers`` a list of layer names for all items or a list of B such
    lists; ``init`` ``"content"`` (start from the photo) or ``"noise"`` (every item from the same
    noise, drawn with ``seed``); ``lr`` Adam's step in logit units (pixels are ``sigmoid(logits)``).
    B is the common length of the per-item arguments (1 if there are none). A term whose weights are
    all 0 is not computed (no ``"content"`` / ``"style"`` key then).

    The objective is the *sum* of the items' losses; VGG19 treats the items independently and
    Adam works element by element, so item ``i`` follows the path it would follow alone, up to
    rounding. The caller's random generators are left as they were.
    ``start`` (default None: ``init`` decides) an RGB image in [0, 1] to start from instead: (1, 3, h, w)
    for every item or (B, 3, h, w), or a result's ``images`` (B, h, w, 3); resized bilinearly to the
    photo's size when its size differs -- e.g. a run at half the size, for a coarse-to-fine schedule.
    Returns: :class:`BatchStyleResult`.
    """
    settings = dict(content_layer=content_layer, tv=tv, init=init, steps=steps, lr=lr)
    plan = _plan(model, content, style, alpha, beta, style_layers, **settings)
    if isinstance(start, np.ndarray):
        start = torch.from_numpy(np.ascontiguousarray(start)).permute(0, 3, 1, 2) if start.ndim == 4 else start
    start = _check_start(start, len(plan.alphas))
    return _transfer(model, content, plan, seed, snapshots, progress, start)


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
    """Neural style transfer (Gatys et al. 2015): minimize ``alpha * content + beta * style (+ tv * TV)``
    for one image -- :func:`style_transfer_batch` with a batch of one.

    Inputs: ``model`` VGG19; ``content`` and ``style`` preprocessed images (1, 3, H, W) (sizes may
    differ: Gram matrices do not depend on the size); ``content_layer`` one layer; ``style_layers``
    the layers whose Gram matrices are matched; ``init`` ``"content"`` (start from the photo) or
    ``"noise"``. Gatys et al. used L-BFGS; Adam on sigmoid pixels (``lr`` in logit units) gets
    there in a few hundred steps and is what the course's engine uses everywhere.
    Returns: :class:`StyleResult`, its ``start`` and ``final`` giving each loss term (both terms
    also when one weight is 0).
    """
    if isinstance(style_layers, (list, tuple)) and style_layers and not isinstance(style_layers[0], str):
        raise TypeError("style_layers must be a list of layer names; per-item lists are for style_transfer_batch")
    if not isinstance(style, torch.Tensor):
        raise TypeError(f"style must be one preprocessed painting (1, 3, H, W), got {type(style).__name__}")
    settings = dict(content_layer=content_layer, tv=tv, init=init, steps=steps, lr=lr, keep_terms=True)
    plan = _plan(model, content, style, alpha, beta, style_layers, **settings)
    if len(plan.alphas) != 1:
        raise ValueError(
            f"style_transfer optimizes one image, got {len(plan.alphas)} weights; use style_transfer_batch"
        )
    r = _transfer(model, content, plan, seed, snapshots, progress)
    first = {k: {t: float(v[0]) for t, v in d.items()} for k, d in (("start", r.start), ("final", r.final))}
    snaps = {s: img[0] for s, img in r.snapshots.items()}
    return StyleResult(r.images[0], r.history["total"][:, 0].tolist(), snaps, first["start"], first["final"])
