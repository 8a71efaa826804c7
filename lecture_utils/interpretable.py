"""Interpretable convolutional layers: one filter = one object part at one place.

Lecture section «Интерпретируемые свёрточные сети» (notebook 05); Zhang, Wu & Zhu 2018,
"Interpretable Convolutional Neural Networks", CVPR.

An ordinary filter of a high conv layer often fires at many places of an object (a mixture of
patterns). The interpretable layer of Zhang et al. adds two things to a conv layer:

1. a **mask**: each filter's feature map x (n x n, after ReLU) is multiplied by the positional
   template T_mu_hat centred at the map's maximum mu_hat, ``x_masked = max(x * T_mu_hat, 0)``:
   activations far from the strongest place are removed;
2. a **filter loss** added to the classification loss: minus the mutual information between the
   feature maps X of the images and the templates T, which pushes every filter to fire at one
   place (a template T_mu) or not at all (the negative template T^-).

Templates (``positive_templates``, ``negative_template``), for an n x n map and mu = (a, b)::

    T_mu(i, j) = tau * max(1 - beta * (|i - a| + |j - b|) / n, -1),   tau = 0.5 / n^2, beta = 4
    T^-(i, j)  = -tau

Filter loss (``filter_loss``), with priors p(T_mu) = alpha / n^2, p(T^-) = 1 - alpha and
p(x | T) = exp(tr(x . T)) / Z_T, Z_T = sum_{x in X} exp(tr(x . T)) over the maps of the batch::

    Loss_f = -MI(X; T) = -H(T) + H(T' | X) + sum_x p(T+, x) H(T+ | X = x)

where T' in {T^-, T+} asks only "is the part there?" (T+ = any of the n^2 positive templates)
and H(T+ | X = x) is the entropy of the part's position given that it is there.

The deep layers stay ordinary ``nn.Module`` s: :class:`TemplateMask` (the mask),
:class:`InterpretableConv2d` (conv + ReLU + mask, which can switch the mask off to give the
ordinary baseline) and :class:`PartNet` (a frozen backbone + that layer + GAP + linear head).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .checks import check_choice, check_int, check_number, check_positive

__all__ = [
    "default_tau",
    "positive_templates",
    "negative_template",
    "peak_positions",
    "assigned_templates",
    "template_mask",
    "TemplateMask",
    "InterpretableConv2d",
    "PartNet",
    "filter_loss",
    "mutual_information",
    "localization",
    "paste_on_canvas",
]


def default_tau(n: int) -> float:
    """The paper's template scale ``tau = 0.5 / n^2``."""
    return 0.5 / n**2


def _check_n(n: int) -> int:
    return check_int(n, "the feature map side n", low=1)


def _check_beta_tau(beta: float, tau: float | None, n: int) -> float:
    check_positive(beta, "beta")
    return default_tau(n) if tau is None else check_positive(tau, "tau")


def positive_templates(n: int, tau: float | None = None, beta: float = 4.0) -> torch.Tensor:
    """The n^2 positive templates T_mu of an n x n feature map.

    ``T_mu(i, j) = tau * max(1 - beta * ||(i, j) - mu||_1 / n, -1)``: +tau at mu, falling off
    linearly with the L1 distance, -tau far away. Defaults: the paper's tau = 0.5 / n^2, beta = 4.

    Returns: (n*n, n, n) float tensor; template number ``a * n + b`` is centred at row a, column b
    (the same index as ``x.flatten().argmax()``).
    """
    n = _check_n(n)
    tau = _check_beta_tau(beta, tau, n)
    r = torch.arange(n, dtype=torch.float64)
    # dist[a, b, i, j] = |i - a| + |j - b|
    dist = (r.view(n, 1, 1, 1) - r.view(1, 1, n, 1)).abs() + (r.view(1, n, 1, 1) - r.view(1, 1, 1, n)).abs()
    t = tau * torch.clamp(1 - beta * dist / n, min=-1.0)
    return t.reshape(n * n, n, n).float()


def negative_template(n: int, tau: float | None = None) -> torch.Tensor:
    """T^- = -tau everywhere (the filter is silent: the part is absent). Returns (n, n)."""
    n = _check_n(n)
    tau = _check_beta_tau(1.0, tau, n)
    return torch.full((n, n), -tau)


def _check_maps(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of feature maps (N, C, n, n), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, n, n), got {tuple(x.shape)}")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"the templates need square feature maps, got {x.shape[-2]}x{x.shape[-1]}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got {x.dtype}")
    return x


def peak_positions(x: torch.Tensor) -> torch.Tensor:
    """mu_hat: the flat index (row * n + col) of each feature map's maximum.

    Inputs: ``x`` (N, C, n, n). Returns: (N, C) long tensor (first maximum on ties).
    """
    x = _check_maps(x)
    return x.detach().flatten(2).argmax(dim=2)


def assigned_templates(x: torch.Tensor, tau: float | None = None, beta: float = 4.0) -> torch.Tensor:
    """T_mu_hat for every map: the positive template centred at the map's maximum.

    Inputs: ``x`` (N, C, n, n). Returns: (N, C, n, n) on ``x``'s device.
    """
    x = _check_maps(x)
    t = positive_templates(x.shape[-1], tau, beta).to(x.device, x.dtype)
    return t[peak_positions(x)]


def template_mask(x: torch.Tensor, beta: float = 4.0, normalized: bool = True) -> torch.Tensor:
    """The interpretable layer's mask: ``x_masked = max(x * T_mu_hat, 0)``, mu_hat = argmax of x.

    With ``normalized=True`` (default) the template is divided by tau, so its values lie in
    [-1, 1] and the peak keeps its value; this is the paper's mask up to the constant factor tau,
    which the next layer absorbs. The choice of mu_hat is not differentiated (as in the paper);
    the gradient flows through ``x``.

    Inputs: ``x`` (N, C, n, n), usually after ReLU. Returns: (N, C, n, n).
    """
    x = _check_maps(x)
    tau = 1.0 if normalized else None
    t = assigned_templates(x, tau=tau, beta=beta)
    return torch.clamp(x * t, min=0)


class TemplateMask(nn.Module):
    """:func:`template_mask` as a layer (no parameters). (N, C, n, n) -> (N, C, n, n)."""

    def __init__(self, beta: float = 4.0) -> None:
        super().__init__()
        self.beta = check_positive(beta, "beta")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return template_mask(x, beta=self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class InterpretableConv2d(nn.Module):
    """conv (3x3, 'same' padding) -> ReLU -> mask; the top conv layer of an interpretable CNN.

    Submodules (names for ``hooks.record``): ``conv``, ``relu`` (the feature maps x that the filter
    loss sees), ``mask`` (x_masked; an ``nn.Identity`` when ``interpretable=False``, which gives
    the ordinary layer to compare with).
    Forward: (N, C_in, n, n) -> (N, C_out, n, n); ``forward(x, return_maps=True)`` also returns x.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        interpretable: bool = True,
        beta: float = 4.0,
        bn_affine: bool = True,
    ) -> None:
        super().__init__()
        if check_int(kernel_size, "kernel_size") < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        self.interpretable = interpretable
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, affine=bn_affine)
        self.relu = nn.ReLU()
        self.mask = TemplateMask(beta) if interpretable else nn.Identity()

    def forward(self, x: torch.Tensor, return_maps: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        maps = self.relu(self.bn(self.conv(x)))
        out = self.mask(maps)
        return (out, maps) if return_maps else out


class PartNet(nn.Module):
    """A (frozen) convolutional backbone + :class:`InterpretableConv2d` + GAP + linear classifier.

    Inputs: ``backbone`` a module mapping images to (N, C_in, n, n) feature maps (its parameters
    are frozen); ``in_channels`` = C_in; ``n_filters`` of the top layer; ``interpretable``
    switches the mask (and, in training, the filter loss) on.
    Forward: images -> logits (N, n_classes); ``forward(x, return_maps=True)`` -> (logits, maps)
    with ``maps`` (N, n_filters, n, n) the top layer's feature maps before the mask.
    """

    def __init__(
        self,
        backbone: nn.Module,
        in_channels: int,
        n_filters: int = 32,
        n_classes: int = 10,
        interpretable: bool = True,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.top = InterpretableConv2d(in_channels, n_filters, interpretable=interpretable)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(n_filters, n_classes)

    def train(self, mode: bool = True) -> PartNet:
        super().train(mode)
        self.backbone.eval()  # frozen: keep it in eval mode
        return self

    def forward(self, x: torch.Tensor, return_maps: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        out, maps = self.top(self.backbone(x), return_maps=True)
        logits = self.fc(self.gap(out).flatten(1))
        return (logits, maps) if return_maps else logits


def _log_joint(x: torch.Tensor, alpha: float | None, tau: float | None, beta: float) -> torch.Tensor:
    """log p(x_k, T_m) for every filter: (C, N, n^2 + 1); template m = n^2 is T^-."""
    x = _check_maps(x)
    n_img, _, n, _ = x.shape
    if n_img < 2:
        raise ValueError("the filter loss compares the maps of several images: need a batch of N >= 2")
    m = n * n
    alpha = m / (m + 1.0) if alpha is None else check_number(alpha, "alpha")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha (the prior p(T+)) must lie in (0, 1), got {alpha}")
    tau = _check_beta_tau(beta, tau, n)
    t = torch.cat([positive_templates(n, tau, beta), negative_template(n, tau)[None]])  # (M, n, n), M = n^2 + 1
    t = t.to(x.device, x.dtype)
    score = torch.einsum("kcij,mij->ckm", x, t)  # tr(x_k . T_m): (C, N, M)
    log_lik = score - torch.logsumexp(score, dim=1, keepdim=True)  # log p(x_k | T_m), normalized over the batch
    log_prior = torch.full((m + 1,), math.log(alpha / m), dtype=x.dtype, device=x.device)
    log_prior[-1] = math.log(1 - alpha)
    return log_lik + log_prior  # (C, N, M)


def _entropy(log_p: torch.Tensor, dim: int) -> torch.Tensor:
    return -(log_p.exp() * log_p).sum(dim)


def filter_loss(
    x: torch.Tensor,
    alpha: float | None = None,
    tau: float | None = None,
    beta: float = 4.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """The filter loss of Zhang et al.: ``Loss_f = -MI(X; T)`` for each filter f.

    ::

        p(T_mu) = alpha / n^2,  p(T^-) = 1 - alpha             (priors)
        p(x | T) = exp(tr(x . T)) / Z_T,  Z_T = sum_x exp(tr(x . T))   (over the N maps of the batch)
        p(x) = sum_T p(T) p(x | T),   p(T | x) = p(T) p(x | T) / p(x)
        Loss_f = -H(T) + H(T' | X) + sum_x p(T+, x) H(T+ | X = x)
          H(T)          = -sum_T p(T) log p(T)                                 (a constant)
          H(T' | X)     = -sum_x p(x) sum_{T' in {T^-, T+}} p(T' | x) log p(T' | x),
                          p(T+ | x) = sum_mu p(T_mu | x)
          H(T+ | X = x) = -sum_mu q_mu log q_mu,  q_mu = p(T_mu | x) / p(T+ | x)
          p(T+, x)      = p(T+ | x) p(x)

    The three terms add up to H(T | X) - H(T) = -MI(X; T) (grouping rule of entropy). The loss is
    low when each map is explained by one template -- one peak at one place, or silence -- and
    different images use different templates.

    Inputs: ``x`` feature maps (N, C, n, n) of one filter layer after ReLU, N >= 2 images;
    ``alpha`` prior p(T+) in (0, 1) (default n^2 / (n^2 + 1): all n^2 + 1 templates equally
    likely a priori); ``tau``, ``beta`` the template parameters (default 0.5 / n^2 and 4);
    ``reduction`` "mean" (over filters), "sum" or "none".
    Returns: a scalar, or (C,) for ``reduction="none"``; in nats, between -log(n^2 + 1) and 0.
    """
    check_choice(reduction, "reduction", ("mean", "sum", "none"))
    log_joint = _log_joint(x, alpha, tau, beta)  # (C, N, M)
    log_prior = torch.logsumexp(log_joint, dim=1)  # p(T) = sum_x p(x, T): (C, M)
    log_px = torch.logsumexp(log_joint, dim=2)  # (C, N)
    log_post = log_joint - log_px[..., None]  # log p(T | x): (C, N, M)
    px = log_px.exp()
    h_t = _entropy(log_prior, dim=1)  # H(T): (C,)
    log_pos = torch.logsumexp(log_post[..., :-1], dim=2)  # log p(T+ | x): (C, N)
    log_neg = log_post[..., -1]  # log p(T^- | x)
    h_tprime = (px * _entropy(torch.stack([log_pos, log_neg], dim=2), dim=2)).sum(1)  # H(T' | X)
    h_pos = _entropy(log_post[..., :-1] - log_pos[..., None], dim=2)  # H(T+ | X = x): (C, N)
    term3 = (px * log_pos.exp() * h_pos).sum(1)
    loss = -h_t + h_tprime + term3
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def mutual_information(
    x: torch.Tensor, alpha: float | None = None, tau: float | None = None, beta: float = 4.0
) -> torch.Tensor:
    """MI(X; T) computed directly, ``sum_{x,T} p(x, T) log(p(x, T) / (p(x) p(T)))``, per filter: (C,).

    The same model as :func:`filter_loss` (which equals ``-mutual_information``); kept as an
    independent check of the entropy decomposition.
    """
    log_joint = _log_joint(x, alpha, tau, beta)
    log_px = torch.logsumexp(log_joint, dim=2, keepdim=True)
    log_pt = torch.logsumexp(log_joint, dim=1, keepdim=True)
    return (log_joint.exp() * (log_joint - log_px - log_pt)).sum((1, 2))


def localization(x: torch.Tensor, beta: float = 4.0, eps: float = 1e-12) -> torch.Tensor:
    """How concentrated each feature map is: the fraction of its activation within the template
    neighbourhood of its peak, ``sum_{T_mu_hat > 0} x / sum x`` (1 = all at one place).

    Inputs: ``x`` (N, C, n, n), non-negative (after ReLU). Returns: (N, C) in [0, 1]; maps that
    are all zero give NaN (no peak to talk about).
    """
    x = _check_maps(x).detach()
    if (x < 0).any():
        raise ValueError("localization expects non-negative feature maps (after ReLU)")
    near = assigned_templates(x, beta=beta) > 0
    total = x.sum((2, 3))
    inside = (x * near).sum((2, 3))
    return torch.where(total > eps, inside / total.clamp_min(eps), torch.full_like(total, float("nan")))


def paste_on_canvas(images: np.ndarray, canvas: int = 44, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Paste each (h, w) image at a random position on a black ``canvas x canvas`` image.

    Inputs: ``images`` (N, h, w) uint8. Returns: canvases (N, canvas, canvas) uint8 and the
    top-left corners (N, 2) (row, column).
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, h, w), got {images.shape}")
    n, h, w = images.shape
    canvas, seed = check_int(canvas, "canvas", low=1), check_int(seed, "seed", low=0)
    if canvas < max(h, w):
        raise ValueError(f"canvas {canvas} is smaller than the images ({h}x{w})")
    rng = np.random.default_rng(seed)
    corners = np.stack([rng.integers(0, canvas - h + 1, n), rng.integers(0, canvas - w + 1, n)], axis=1)
    out = np.zeros((n, canvas, canvas), dtype=images.dtype)
    for k, (r, c) in enumerate(corners):
        out[k, r : r + h, c : c + w] = images[k]
    return out, corners
