"""Class activation maps: CAM, Grad-CAM and Guided Grad-CAM.

Lecture sections «Карты активации классов (CAM)» (notebook 03; Zhou, Khosla, Lapedriza, Oliva &
Torralba 2016, "Learning Deep Features for Discriminative Localization") and «Grad-CAM»
(notebook 06; Selvaraju, Cogswell, Das, Vedantam, Parikh & Batra 2017, "Grad-CAM: Visual
Explanations from Deep Networks via Gradient-based Localization").

CAM needs a network whose head is global average pooling (GAP) followed by one linear layer:
with ``f_k(x, y)`` the last conv features (K channels, h x w positions) and ``w_k^c`` the linear
weights of class c,

    S_c = sum_k w_k^c * (1/Z) sum_{x,y} f_k(x, y) + b_c = (1/Z) sum_{x,y} M_c(x, y) + b_c,
    M_c(x, y) = sum_k w_k^c f_k(x, y)        (Z = h * w),

so the class score is exactly the mean of the map ``M_c`` plus the bias: ``M_c`` says where the
score comes from. The bias ``b_c`` is a constant; spreading it as ``b_c / Z`` over the cells
would shift the map, not change its shape, so the map is kept without it. For a head that is
not GAP + linear (a fully-connected layer over the flattened map, max pooling, a hidden layer
with a nonlinearity) the identity fails and :func:`cam` refuses with an explanation.

Grad-CAM drops the architectural requirement: the channel weights become the spatially averaged
gradients ``alpha_k^c = (1/Z) sum_{i,j} dS_c / dA_k(i, j)`` at any conv layer ``A``, and
``L^c = ReLU(sum_k alpha_k^c A_k)``. At EfficientNet-Lite0's last features (``bn2``)
``dS_c / dA_k(i, j) = w_k^c / Z``, hence Grad-CAM = ReLU(CAM) / Z.

Maps are returned at layer resolution (h, w); upsampling happens in :mod:`lecture_utils.plot`.
:func:`cam`, :func:`grad_cam`, :func:`grad_cam_weights` and :func:`guided_grad_cam` also take a
batch (N, 3, H, W) with one target or N targets (:mod:`lecture_utils.targets`) and then need one
forward (and backward) pass for all images; the maps keep the batch axis, (N, h, w).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backprop import RuleSwitch, relu_rule
from .checks import check_bool
from .hooks import get_layer, record
from .models import ZooModel, as_module, classes_of
from .targets import (
    Targets,
    batched_output,
    check_image,
    class_score,
    model_input,
    resolve_class,
    resolve_for,
    resolve_targets,
)

__all__ = [
    "NotGapHeadError",
    "cam_head",
    "cam_maps",
    "cam",
    "gap_head_error",
    "normalize_map",
    "grad_cam_weights",
    "grad_cam",
    "guided_grad_cam",
]

GAP_TOLERANCE = 1e-4  # relative error allowed in logits == W @ GAP(f) + b


class NotGapHeadError(ValueError):
    """CAM was asked for on a network whose head is not global average pooling + one linear layer."""


def normalize_map(heatmap: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Min-max scale a map to [0, 1] for display (a constant map becomes zeros).

    Inputs/Returns: any shape, e.g. (h, w).
    """
    lo, hi = heatmap.min(), heatmap.max()
    if float(hi - lo) < eps:
        return torch.zeros_like(heatmap)
    return (heatmap - lo) / (hi - lo)


def cam_head(model: nn.Module | ZooModel, layer: str | None = None, fc: str | None = None) -> tuple[str, nn.Linear]:
    """The feature layer and the linear classifier that CAM uses, validated (no forward pass).

    For a :class:`ZooModel` the defaults are ``model.extra["cam_layer"]`` and ``model.extra["fc"]``
    (EfficientNet-Lite0: ``"bn2"`` and ``"classifier"``). A plain ``nn.Module`` has no defaults:
    the caller names both. Returns ``(layer_name, fc_module)``.
    """
    net = as_module(model)
    extra = model.extra if isinstance(model, ZooModel) else {}
    if layer is None or fc is None:
        if isinstance(model, ZooModel) and "cam_layer" not in extra:
            raise NotGapHeadError(
                f"{model.name} has no global-average-pooling + linear classifier head, so CAM does not "
                "apply to it (use Grad-CAM, which works at any conv layer)."
            )
        if not isinstance(model, ZooModel):
            raise ValueError(
                "for a plain nn.Module name the last conv feature layer and the linear classifier after "
                "global average pooling, e.g. cam(net, x, target, layer='act', fc='fc')"
            )
    layer = extra["cam_layer"] if layer is None else layer
    fc = extra["fc"] if fc is None else fc
    if not isinstance(layer, str) or not isinstance(fc, str):
        raise TypeError("layer and fc must be layer names (str)")
    get_layer(net, layer)  # unknown names -> ValueError with close names
    fc_module = get_layer(net, fc)
    if not isinstance(fc_module, nn.Linear):
        raise NotGapHeadError(
            f"CAM needs a linear classifier after global average pooling, but {fc!r} is a "
            f"{type(fc_module).__name__}, not nn.Linear"
        )
    return layer, fc_module


def _features_and_logits(
    model: nn.Module | ZooModel, image: torch.Tensor, layer: str, fc: nn.Linear
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass: the layer's features (N, C, h, w) and the logits (N, K), both detached."""
    with record(model, layer, detach=True, keep_inplace=True) as rec, torch.no_grad():  # no backward: in-place is safe
        net = as_module(model)
        logits = net(model_input(image, net))
    feats = rec.activations[layer]
    if feats.ndim != 4:
        raise NotGapHeadError(f"CAM needs conv feature maps (N, C, h, w) at {layer!r}, got {tuple(feats.shape)}")
    if logits.ndim != 2:
        raise NotGapHeadError(f"CAM needs logits of shape (N, K), the model returned {tuple(logits.shape)}")
    if feats.shape[1] != fc.in_features:
        raise NotGapHeadError(
            f"CAM needs global average pooling between {layer!r} and the classifier: {layer!r} has "
            f"{feats.shape[1]} channels but the classifier takes {fc.in_features} inputs. A classifier over "
            "the flattened map (C*h*w inputs) has a weight per channel AND position, so there is no single "
            "w_k^c per channel and the CAM formula does not apply. Use Grad-CAM."
        )
    return feats, logits


def _gap_error(feats: torch.Tensor, logits: torch.Tensor, fc: nn.Linear) -> float:
    """The largest relative error of ``logits == W . GAP(feats) + b`` over the batch."""
    pooled = feats.mean(dim=(2, 3))
    bias = fc.bias.detach() if fc.bias is not None else torch.zeros(logits.shape[1], device=logits.device)
    predicted = pooled @ fc.weight.detach().T + bias
    err = (predicted - logits).abs().amax(dim=1) / (1.0 + logits.abs().amax(dim=1))
    return float(err.max())


def _checked_features(model: nn.Module | ZooModel, image: torch.Tensor, layer: str, fc: nn.Linear) -> torch.Tensor:
    """The features (N, C, h, w) at ``layer``, after checking the head is GAP + linear on these images."""
    feats, logits = _features_and_logits(model, image, layer, fc)
    err = _gap_error(feats, logits, fc)
    if err > GAP_TOLERANCE:
        raise NotGapHeadError(
            f"the head after {layer!r} is not global average pooling + linear: logits differ from "
            f"W . GAP(f) + b by {err:.2g} (relative). CAM relies on S_c = mean_xy(sum_k w_k^c f_k(x,y)) + b_c, "
            "which holds only when the map is averaged and then mapped linearly; max pooling, a hidden "
            "layer or any nonlinearity between the features and the logits breaks it. Use Grad-CAM."
        )
    return feats


def gap_head_error(
    model: nn.Module | ZooModel, image: torch.Tensor, layer: str | None = None, fc: str | None = None
) -> float:
    """How far the head is from GAP + linear on this image: ``max_c |W_c . GAP(f) + b_c - S_c|``
    divided by ``1 + max_c |S_c|``. About 1e-7 for a true GAP + linear head (float round-off).

    Inputs: ``image`` (1, 3, H, W); ``layer``/``fc`` as in :func:`cam_head`. Returns: a float.
    """
    check_image(image, model=model)
    layer, fc_module = cam_head(model, layer, fc)
    return _gap_error(*_features_and_logits(model, image, layer, fc_module), fc_module)


def cam_maps(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    layer: str | None = None,
    fc: str | None = None,
    classes: list[int] | None = None,
) -> torch.Tensor:
    """Raw class activation maps of ALL classes (or of ``classes``) from one forward pass: ``M[c] = sum_k w_k^c f_k``.

    Inputs: ``image`` (1, 3, H, W) preprocessed; ``layer`` the last conv features and ``fc`` the
    linear classifier (defaults for a ZooModel, see :func:`cam_head`); ``classes`` class ids to
    compute (default all).
    Returns: (K, h, w) on the model's device (K = len(classes) if given), not ReLU'd, without bias:
    ``M[c].mean() + b_c == logit_c``.
    Raises: :class:`NotGapHeadError` when the head is not GAP + linear (checked numerically on all logits).
    """
    check_image(image, model=model)
    layer, fc_module = cam_head(model, layer, fc)
    rows = None if classes is None else _class_rows(model, classes, fc_module.out_features)
    feats = _checked_features(model, image, layer, fc_module)
    weight = fc_module.weight.detach()
    if rows is not None:
        weight = weight[rows]
    return torch.einsum("ck,khw->chw", weight, feats[0])


def _class_rows(model: nn.Module | ZooModel, classes: object, n_classes: int) -> list[int]:
    """``cam_maps``'s ``classes`` (indices or names) as classifier rows, checked (before any pass)."""
    if isinstance(classes, (str, int)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a list of class indices or names, got {classes!r}; e.g. classes=[281]")
    rows = [resolve_class(c, classes_of(model), n_classes) for c in classes]
    if not rows:
        raise ValueError("classes is empty: name at least one class, or pass classes=None for all")
    return rows


def cam(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: int | str | Targets,
    layer: str | None = None,
    fc: str | None = None,
    normalize: bool = False,
) -> torch.Tensor:
    """Class activation map of Zhou et al. 2016: ``M_c(x, y) = sum_k w_k^c f_k(x, y)``.

    Inputs: ``image`` (1, 3, H, W) preprocessed, or a batch (N, 3, H, W); ``target`` a class index
    or name, or N of them (one per image); ``layer`` the last conv features (EfficientNet-Lite0:
    ``"bn2"``, 1280 x 7 x 7 after ReLU6) and ``fc`` the linear classifier after global average
    pooling -- both default for a ZooModel, required for a plain module; ``normalize`` min-max
    scale each map to [0, 1] for display (default: the raw map).
    Returns: (h, w) map at layer resolution on the model's device; (N, h, w) for a batch or
    per-image targets. The raw map is signed and excludes the bias: ``cam(...).mean() + b_c == logit_c``.
    Raises: ``ValueError`` for an unknown layer / class; :class:`NotGapHeadError` (a ValueError)
    when the head is not GAP + linear.
    """
    check_image(image, batch=True, model=model)
    layer, fc_module = cam_head(model, layer, fc)
    normalize = check_bool(normalize, "normalize")
    if callable(target) and not isinstance(target, (int, str)):
        raise TypeError("CAM needs one class (an index or a name); a callable target has no classifier row")
    idx = resolve_targets(target, image.shape[0], classes_of(model), n_classes=fc_module.out_features)
    feats = _checked_features(model, image, layer, fc_module)
    weight = fc_module.weight.detach()[idx]  # only the rows needed, one per image
    maps = torch.einsum("nk,nkhw->nhw", weight, feats)
    if normalize:
        maps = torch.stack([normalize_map(m) for m in maps])
    return maps if batched_output(image, target) else maps[0]


# --------------------------------------------------------------------------- Grad-CAM


def _default_layer(model: nn.Module | ZooModel, layer: str | None) -> str:
    if layer is not None:
        return layer
    if isinstance(model, ZooModel) and "cam_layer" in model.extra:
        return model.extra["cam_layer"]
    raise ValueError("name the conv layer for Grad-CAM, e.g. grad_cam(net, x, target, layer='blocks.5')")


def _grad_cam_parts(
    model: nn.Module | ZooModel, image: torch.Tensor, target: Targets, layer: str | None, keep_graph: bool = False
) -> tuple[torch.Tensor, ...]:
    """Validate, then one forward + backward pass: alphas (N, C) and the layer's features (N, C, h, w).

    ``keep_graph=True`` also returns the score and the input tensor with the graph kept, for a
    second backward pass (Guided Grad-CAM).
    """
    check_image(image, batch=True, model=model)
    layer = _default_layer(model, layer)
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str), got {type(layer).__name__}")
    net = as_module(model)
    get_layer(net, layer)
    classes = classes_of(model)
    resolve_for(model, target, image.shape[0])  # counts, names, ranges before any hook (again below)
    with record(model, layer) as rec:
        x = model_input(image, net).requires_grad_(True)
        score = class_score(net(x), target, classes)
        feats = rec.activations.get(layer)
        if feats is None or feats.ndim != 4:
            shape = None if feats is None else tuple(feats.shape)
            raise ValueError(f"Grad-CAM needs conv feature maps (N, C, h, w) at {layer!r}, got {shape}")
        if not score.requires_grad:
            raise ValueError("the class score does not depend on the input")
        (grads,) = torch.autograd.grad(score, feats, retain_graph=keep_graph)
    alphas = grads.mean(dim=(2, 3))  # images are independent: each gets its own gradients
    if keep_graph:
        return alphas.detach(), feats.detach(), score, x
    return alphas.detach(), feats.detach()


def grad_cam_weights(
    model: nn.Module | ZooModel, image: torch.Tensor, target: Targets, layer: str | None = None
) -> torch.Tensor:
    """Grad-CAM's neuron-importance weights ``alpha_k^c = (1/Z) sum_{i,j} dS_c / dA_k(i, j)``.

    Inputs: ``image`` (1, 3, H, W) preprocessed or a batch (N, 3, H, W); ``target`` class index,
    name or callable on the logits, or N classes; ``layer`` a conv layer name (default for a
    ZooModel: its last features, ``bn2``).
    Returns: (C,) one weight per channel of ``layer``, on the model's device; (N, C) for a batch
    or per-image targets.
    """
    alphas = _grad_cam_parts(model, image, target, layer)[0]
    return alphas if batched_output(image, target) else alphas[0]


def grad_cam(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Targets,
    layer: str | None = None,
    relu: bool = True,
) -> torch.Tensor:
    """Grad-CAM of Selvaraju et al. 2017: ``L^c = ReLU(sum_k alpha_k^c A_k)``.

    Inputs: ``image`` (1, 3, H, W) preprocessed or a batch (N, 3, H, W); ``target`` class index,
    name or callable on the logits (the score before softmax), or N classes (one per image);
    ``layer`` a conv layer name (default for a ZooModel: the last features ``bn2``);
    ``relu=False`` keeps the negative evidence.
    Returns: (h, w) map at the layer's resolution on the model's device; (N, h, w) for a batch or
    per-image targets.
    """
    relu = check_bool(relu, "relu")
    alphas, feats = _grad_cam_parts(model, image, target, layer)
    m = torch.einsum("nk,nkhw->nhw", alphas, feats)
    m = m.clamp(min=0) if relu else m
    return m if batched_output(image, target) else m[0]


def guided_grad_cam(
    model: nn.Module | ZooModel, image: torch.Tensor, target: Targets, layer: str | None = None
) -> torch.Tensor:
    """Guided Grad-CAM: guided backpropagation times the Grad-CAM map upsampled to the input size.

    High resolution (from guided backprop) and class-discriminative (from Grad-CAM).
    Inputs: as :func:`grad_cam`. Returns: (N, 3, H, W) on the model's device, w.r.t. the
    preprocessed input (display it with ``plot.signed_rgb``).
    """
    # One forward pass serves both parts: plain gradients down to ``layer`` (Grad-CAM), then,
    # with the rule switched, guided gradients down to the input -- over the same graph.
    switch = RuleSwitch("backprop")
    with relu_rule(model, switch):
        alphas, feats, score, x = _grad_cam_parts(model, image, target, layer, keep_graph=True)
        switch.rule = "guided"
        (gb,) = torch.autograd.grad(score, x)
    heat = torch.einsum("nk,nkhw->nhw", alphas, feats).clamp(min=0)
    up = F.interpolate(heat[:, None], size=image.shape[-2:], mode="bilinear", align_corners=False)
    return gb * up
