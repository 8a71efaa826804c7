"""The image losses of lectures 14-21, each written once, as pure functions of tensors.

- :func:`gram_matrix`: channel correlations averaged over positions (Gatys et al. 2015), optionally
  over one masked region (neural doodles).
- :func:`relative_error`: ``||x - t||^2 / ||t||^2``, the dimensionless error every loss of the
  course uses: 0 at a perfect match, 1 for an all-zero ``x``.
- :func:`content_loss`: the relative error of feature maps (Gatys et al.'s content loss, Johnson et
  al.'s feature reconstruction loss, the super-resolution feature loss).
- :func:`style_loss`: the weighted sum over layers of the relative error of Gram matrices.
- :func:`total_variation`: the mean absolute difference of neighbouring pixels (``beta=None``) or
  Mahendran & Vedaldi's ``TV^beta`` (``beta`` given).
- :class:`PerceptualLoss`: Johnson et al.'s fixed *loss network*, a frozen copy of VGG19 up to the
  deepest layer it needs, giving the content and style losses of images in [0, 1] (fast
  stylization, lecture 19; the super-resolution feature loss, lecture 20).

Reduction over a batch: ``per_item=False`` (default) gives one scalar for the whole batch --
``sum ||x_i - t_i||^2 / sum ||t_i||^2``, a target with batch 1 counting once per item (so for one
shared target it is the mean over items of the relative errors); ``per_item=True`` gives one value
per item, shape (B,). No function here touches a model, a random generator or a global flag
(:class:`PerceptualLoss` keeps its own frozen copy of the layers; the zoo model is not touched).
"""

from __future__ import annotations

import copy
import difflib
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_finite, device_of
from .models import ZooModel

__all__ = ["gram_matrix", "relative_error", "content_loss", "style_loss", "total_variation", "PerceptualLoss"]

_EPS = 1e-12  # floor of the target energy (an all-zero target would divide by zero)


def _check_4d(t: torch.Tensor, name: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a (B, C, H, W) tensor, got {type(t).__name__}")
    if t.ndim != 4:
        raise ValueError(f"{name} must be a (B, C, H, W) tensor, got shape {tuple(t.shape)}")


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Channel correlations averaged over positions: ``G[c, d] = mean_p F[c, p] F[d, p]``.

    Inputs: ``features`` (B, C, H, W); ``mask`` optional weights (B or 1, 1, H', W') >= 0 (resized to
    (H, W) by area averaging): then ``G = sum_p m_p F[:, p] F[:, p]^T / sum_p m_p`` -- the Gram matrix
    of one region (neural doodle, lecture 17).
    Returns: (B, C, C). Position plays no role: shuffling the positions leaves G unchanged.
    """
    _check_4d(features, "features")
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


def relative_error(x: torch.Tensor, target: torch.Tensor, per_item: bool = False) -> torch.Tensor:
    """``||x - target||^2 / ||target||^2`` (the target's energy floored at 1e-12).

    Inputs: ``x`` (B, ...); ``target`` (1, ...) shared by all items or (B, ...) one per item, the
    other axes equal to ``x``'s. Returns: a scalar (``per_item=False``: the summed error over the
    summed target energy, a shared target counted once per item) or (B,) (``per_item=True``).
    """
    if x.shape[1:] != target.shape[1:] or target.shape[0] not in (1, x.shape[0]):
        raise ValueError(
            f"x has shape {tuple(x.shape)} but the target {tuple(target.shape)}: they must agree "
            "(the target with batch 1 or the same batch)"
        )
    target = target.to(x.device)
    err = (x - target).pow(2).flatten(1).sum(1)  # (B,)
    energy = target.pow(2).flatten(1).sum(1).expand(x.shape[0])  # (B,)
    if per_item:
        return err / energy.clamp_min(_EPS)
    return err.sum() / energy.sum().clamp_min(_EPS)


def content_loss(features: torch.Tensor, target: torch.Tensor, per_item: bool = False) -> torch.Tensor:
    """Gatys et al.'s content loss as a relative error: ``||F(x) - F0||^2 / ||F0||^2``.

    Inputs: ``features`` F(x) (B, C, h, w); ``target`` F0 (1 or B, C, h, w), the content image's
    activation at the same layer. Returns: a scalar or (B,) (``per_item``), see :func:`relative_error`.
    The image being optimized must have the content image's size (else ``ValueError``).
    """
    _check_4d(features, "features")
    _check_4d(target, "target")
    if features.shape[1:] != target.shape[1:]:
        raise ValueError(
            f"the activation has shape {tuple(features.shape)} but the content target {tuple(target.shape)}: "
            "the image being optimized must have the content image's size"
        )
    return relative_error(features, target, per_item)


def style_loss(
    features: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    weights: Mapping[str, float] | None = None,
    mask: torch.Tensor | None = None,
    per_item: bool = False,
) -> torch.Tensor:
    """Weighted sum over layers of the relative Gram error ``||G(F_l) - G0_l||^2 / ||G0_l||^2``.

    Inputs: ``features`` ``{layer: (B, C, h, w)}`` (at least the layers of ``targets``);
    ``targets`` ``{layer: G0 (1 or B, C, C)}``; ``weights`` per layer (default ``1 / len(targets)``
    each, Gatys et al.'s ``w_l``); ``mask`` (1 or B, 1, H, W): compare the Gram matrices of that
    region of ``features`` (:func:`gram_matrix`). Returns: a scalar or (B,) (``per_item``).
    """
    if not targets:
        raise ValueError("style_loss needs at least one target Gram matrix")
    weights = dict(weights) if weights is not None else {n: 1.0 / len(targets) for n in targets}
    if set(weights) != set(targets):
        raise ValueError(f"weights name layers {sorted(weights)} but targets have {sorted(targets)}")
    total: torch.Tensor | float = 0.0
    for n, g0 in targets.items():
        total = total + weights[n] * relative_error(gram_matrix(features[n], mask), g0, per_item)
    return total  # type: ignore[return-value]


def total_variation(
    x: torch.Tensor, beta: float | None = None, scale: float = 1.0, per_item: bool = False
) -> torch.Tensor:
    """Total variation of images ``x`` (B, C, H, W).

    ``beta=None`` (the course's default regularizer, anisotropic TV):
    ``mean |x[i+1, j] - x[i, j]| + mean |x[i, j+1] - x[i, j]|``.
    ``beta`` given (Mahendran & Vedaldi 2015, ``TV^beta``):
    ``mean_{c,i,j} (((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2) / scale^2)^(beta/2)`` over all
    H x W pixels, the image extended by repeating its last row and column (differences across the
    border are 0); for ``beta != 2`` a 1e-8 offset keeps the gradient finite at flat pixels.
    Returns: a scalar (mean over the batch too) or (B,) (``per_item=True``).
    """
    _check_4d(x, "x")
    dims = (1, 2, 3) if per_item else (0, 1, 2, 3)
    if beta is None:
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dims) + (x[..., 1:] - x[..., :-1]).abs().mean(dims)
    dx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    dy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    sq = (dx.pow(2) + dy.pow(2)) / scale**2
    val = sq if beta == 2.0 else (sq + 1e-8).pow(beta / 2)
    return val.mean(dims)


# --------------------------------------------------------------------------- the loss network (lectures 19, 20)


class PerceptualLoss(nn.Module):
    """The fixed loss network of Johnson et al.: VGG19 features of RGB images in [0, 1].

    A frozen copy of VGG19's layers up to the deepest one needed (the zoo model is not touched).
    ``style`` (1, 3, H, W) RGB in [0, 1]: its Gram matrices at ``style_layers`` are the style
    targets. :meth:`forward` returns the loss terms of a batch of outputs ``y`` (B, 3, H, W):
    ``content`` = ``||F(y) - F(x)||^2 / ||F(x)||^2`` at ``content_layer`` against the photos ``x``
    and ``style`` = mean over layers (and batch) of ``||G(y) - G_s||^2 / ||G_s||^2`` -- the same
    relative errors as ``lecture_utils.style`` (lectures 16-18), computed by :func:`content_loss`
    and :func:`style_loss`. Defaults: Johnson et al.'s layers (``fastnet.CONTENT_LAYER``,
    ``fastnet.STYLE_LAYERS``). Used by ``fastnet`` (training) and ``superres.FeatureLoss``.
    """

    def __init__(
        self,
        vgg: ZooModel,
        style: torch.Tensor | None,
        content_layer: str | None = "relu2_2",
        style_layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
    ) -> None:
        super().__init__()
        _check_vgg19(vgg, type(self).__name__)
        self.style_layers = list(style_layers)
        self.content_layer = content_layer
        wanted = self.style_layers + ([content_layer] if content_layer else [])
        if not wanted:
            raise ValueError("give a content_layer or style_layers: the loss network has nothing to compare")
        last = max(_vgg_index(vgg, n) for n in wanted)
        self.features = copy.deepcopy(nn.Sequential(OrderedDict(list(vgg.net.named_children())[: last + 1])))
        self.normalize = copy.deepcopy(vgg.normalize)
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.features.eval()
        self.wanted = set(wanted)
        self.targets: list[torch.Tensor] = []
        if style is not None:
            self.set_style(style)

    def train(self, mode: bool = True) -> PerceptualLoss:  # the loss network always stays in eval mode
        return self

    @torch.no_grad()
    def set_style(self, style: torch.Tensor) -> None:
        """Compute the target Gram matrices of ``style`` (1, 3, H, W) RGB in [0, 1]."""
        if not isinstance(style, torch.Tensor) or style.ndim != 4 or style.shape[:2] != (1, 3):
            raise ValueError(
                f"style must be one RGB image (1, 3, H, W) in [0, 1], got {getattr(style, 'shape', style)!r}"
            )
        check_finite(style, "style", "replace the NaN/inf pixels (e.g. torch.nan_to_num)")
        acts = self.activations(style.to(device_of(self.features)))
        self.targets = [gram_matrix(acts[n]) for n in self.style_layers]

    def activations(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{layer: (B, C, h, w)}`` for the wanted layers of RGB images ``rgb`` (B, 3, H, W)."""
        x = self.normalize(rgb)
        out = {}
        for name, module in self.features.named_children():
            x = module(x)
            if name in self.wanted:
                out[name] = x
        return out

    def style_error(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean relative Gram error over the style layers, averaged over the batch: a scalar."""
        if not self.targets:
            raise ValueError("no style targets: give a style image (set_style)")
        return style_loss(acts, dict(zip(self.style_layers, self.targets)))

    def forward(self, y: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        acts = self.activations(y)
        terms = {"style": self.style_error(acts)} if self.targets else {}
        if x is not None and self.content_layer:
            with torch.no_grad():
                f0 = self.activations(x)[self.content_layer]
            terms["content"] = content_loss(acts[self.content_layer], f0)
        return terms


def _check_vgg19(vgg: Any, who: str) -> None:
    if not isinstance(vgg, ZooModel) or vgg.name != "vgg19":
        got = getattr(vgg, "name", type(vgg).__name__)
        raise TypeError(f"{who} needs the VGG19 zoo model, got {got}: pass load_model('vgg19')")


def _vgg_index(vgg: ZooModel, layer: Any) -> int:
    """The position of ``layer`` among VGG19's named children (``ValueError`` with close names)."""
    names = [n for n, _ in vgg.net.named_children()]
    if layer not in names:
        close = difflib.get_close_matches(str(layer), names, n=3, cutoff=0.4)
        raise ValueError(f"unknown VGG19 layer {layer!r}; close names: {', '.join(close) or names[:6]}")
    return names.index(layer)
