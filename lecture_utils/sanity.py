"""Sanity checks for saliency maps: model randomization, edge detectors, deletion curves.

Lecture section «Карты значимости, SmoothGrad и проверки на вменяемость» (notebook 11;
Adebayo, Gilmer, Muelly, Goodfellow, Hardt & Kim 2018, "Sanity Checks for Saliency Maps",
NeurIPS 2018; the deletion metric follows Samek et al. 2017 and Petsiuk, Das & Saenko 2018).

* **Cascading model randomization** (Adebayo et al., Sec. 3.1): re-initialize the layers of a
  trained network from the top down, one group at a time, and recompute an explanation after
  every step. A method that explains *the model* must change its maps once the weights are
  random; a map that stays the same depends on the input only. :func:`cascading_randomization`
  works on a deep **copy** of the model: the model passed in is never changed.
* **Similarity** of two maps: Spearman's rank correlation (:func:`rank_correlation`, implemented
  here with average ranks for ties, no scipy needed) and SSIM (:func:`ssim`, scikit-image).
* **Edge detector** (Fig. 1): :func:`edge_map` (Sobel or Canny) needs no model at all -- a
  saliency map that resembles it may be an edge detector too.
* **Deletion curve** (faithfulness): remove the most salient pixels first, in steps, and record the
  class probability (:func:`deletion_curve`); the area under the curve (:func:`deletion_auc`) is
  small when the map ranks the pixels the model really uses first. :func:`random_map` gives the
  baseline ordering every method must beat.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_choice, check_int, check_positive
from .hooks import get_layer, preserved_state
from .models import ZooModel, as_module
from .occlusion import fill_value
from .targets import Target, check_image, model_input, one_class

__all__ = [
    "rank_correlation",
    "ssim",
    "default_cascade",
    "reinitialize",
    "cascading_randomization",
    "edge_map",
    "as_pixel_map",
    "random_map",
    "blurred",
    "deletion_curve",
    "deletion_auc",
]


# --------------------------------------------------------------------------- similarity


def _flat(a: Any, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().float().cpu().numpy()
    arr = np.asarray(a, dtype=np.float64)
    if arr.size < 2:
        raise ValueError(f"{name} needs at least 2 values, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr.ravel()


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as ``scipy.stats.rankdata``)."""
    order = np.argsort(a, kind="mergesort")
    inverse = np.empty(a.size, dtype=np.intp)
    inverse[order] = np.arange(a.size)
    s = a[order]
    new = np.concatenate([[True], s[1:] != s[:-1]])
    dense = np.cumsum(new)[inverse]  # 1-based group id of every element
    bounds = np.concatenate([np.nonzero(new)[0], [a.size]])
    return 0.5 * (bounds[dense] + bounds[dense - 1] + 1)


def rank_correlation(a: Any, b: Any) -> float:
    """Spearman's rank correlation of two maps of the same shape (any shape, flattened).

    Ties get average ranks. A constant map has no ranking: the correlation is then 0.
    Returns: a float in [-1, 1].
    """
    x, y = _flat(a, "a"), _flat(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"maps differ in size: {np.shape(a)} vs {np.shape(b)}")
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx * rx).sum()) * float((ry * ry).sum()))
    return 0.0 if den == 0 else float((rx * ry).sum() / den)


def ssim(a: Any, b: Any) -> float:
    """Structural similarity (scikit-image) of two 2-D maps, each min-max scaled to [0, 1] first.

    Inputs: (h, w) maps of the same shape, at least 7x7. Returns: a float (1 = identical).
    """
    from skimage.metrics import structural_similarity

    x, y = _flat(a, "a"), _flat(b, "b")
    shape = np.shape(a.detach().cpu() if isinstance(a, torch.Tensor) else a)
    if len(shape) != 2 or np.shape(b.detach().cpu() if isinstance(b, torch.Tensor) else b) != shape:
        raise ValueError("ssim takes two 2-D maps of the same shape")
    if min(shape) < 7:
        raise ValueError(f"ssim needs maps of at least 7x7, got {shape}")

    def scale(v: np.ndarray) -> np.ndarray:
        lo, hi = v.min(), v.max()
        return np.zeros_like(v) if hi - lo < 1e-12 else (v - lo) / (hi - lo)

    return float(structural_similarity(scale(x).reshape(shape), scale(y).reshape(shape), data_range=1.0))


# --------------------------------------------------------------------------- model randomization


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def default_cascade(model: nn.Module | ZooModel) -> list[tuple[str, list[str]]]:
    """The randomization steps from the top layer down: ``[(label, [layer names]), ...]``.

    For a :class:`ZooModel` its recommended ``layers`` in reverse, skipping layers without
    parameters; EfficientNet-Lite0: classifier, bn2, conv_head, blocks.6, ..., blocks.0, bn1,
    conv_stem. For a plain module its direct children with parameters, in reverse.
    """
    net = as_module(model)
    names = list(model.layers) if isinstance(model, ZooModel) else [n for n, _ in net.named_children()]
    return [(n, [n]) for n in reversed(names) if _has_params(get_layer(net, n))]


@torch.no_grad()
def reinitialize(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw the weights of ``module`` and all its submodules, in place, as an untrained network
    would start: conv weights ~ N(0, 2 / fan_out) (He, as timm's EfficientNet init), linear weights
    ~ U(-1/sqrt(fan_out), 1/sqrt(fan_out)), biases 0; batch norm scale 1, shift 0, running mean 0,
    running variance 1.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            w = torch.randn(m.weight.shape, generator=generator) * math.sqrt(2.0 / fan_out)
            m.weight.copy_(w.to(m.weight))
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.Linear):
            r = 1.0 / math.sqrt(m.out_features)
            m.weight.copy_((torch.rand(m.weight.shape, generator=generator) * 2 * r - r).to(m.weight))
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.weight is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()
            if m.running_mean is not None:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)


def cascading_randomization(
    model: nn.Module | ZooModel,
    cascade: Sequence[tuple[str, Sequence[str]]] | None = None,
    seed: int = 0,
) -> Iterator[tuple[str, nn.Module | ZooModel]]:
    """Adebayo et al.'s cascading randomization, on a deep copy of ``model``.

    Inputs: ``cascade`` the steps ``[(label, [layer names]), ...]`` from the top down (default
    :func:`default_cascade`); ``seed`` for the new weights. All layer names are checked before
    anything is copied.
    Yields: ``(label, randomized)`` after each step; ``randomized`` is ONE copy (a ZooModel when
    ``model`` is one) whose layers are re-initialized cumulatively -- use it before the next step.
    ``model`` itself is never modified.
    """
    net = as_module(model)
    steps = default_cascade(model) if cascade is None else [(str(a), list(b)) for a, b in cascade]
    if not steps:
        raise ValueError("the cascade has no steps")
    for label, names in steps:
        if not names:
            raise ValueError(f"cascade step {label!r} names no layer")
        for n in names:
            get_layer(net, n)
    seed = check_int(seed, "seed")
    copied = copy.deepcopy(model)
    copied_net = as_module(copied)
    generator = torch.Generator().manual_seed(seed)  # private: the global random state is untouched
    for label, names in steps:
        for n in names:
            reinitialize(get_layer(copied_net, n), generator)
        yield label, copied


# --------------------------------------------------------------------------- edge detector


def edge_map(image: Any, method: str = "sobel", sigma: float = 1.0) -> torch.Tensor:
    """A plain edge detector, for comparison with saliency maps (Adebayo et al., Fig. 1).

    Inputs: ``image`` an RGB image (H, W, 3) in [0, 1] (array or tensor; e.g. ``zoo.deprocess(x)``);
    ``method`` ``"sobel"`` (gradient magnitude of the grey image) or ``"canny"`` (scikit-image;
    ``sigma`` its Gaussian smoothing). Returns: (H, W) float tensor, larger on edges.
    """
    method = check_choice(method, "method", ("sobel", "canny"))
    sigma = check_positive(sigma, "sigma")
    a = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"edge_map takes an RGB image of shape (H, W, 3), got {a.shape}")
    grey = torch.from_numpy(a.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    if method == "sobel":
        kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        g = F.pad(grey[None, None], (1, 1, 1, 1), mode="replicate")
        gx = F.conv2d(g, kx[None, None])
        gy = F.conv2d(g, kx.t()[None, None])
        return torch.sqrt(gx**2 + gy**2)[0, 0]
    if method == "canny":
        from skimage.feature import canny

        return torch.from_numpy(canny(grey.numpy(), sigma=sigma).astype(np.float32))
    raise AssertionError(method)  # unreachable: checked above


# --------------------------------------------------------------------------- deletion curve


def blurred(image: torch.Tensor, sigma: float = 10.0) -> torch.Tensor:
    """A strongly blurred copy of ``image`` (1, 3, H, W) (Gaussian, ``sigma`` in pixels): what a
    removed pixel becomes with ``fill="blur"`` -- information goes, no new edges appear."""
    from torchvision.transforms.functional import gaussian_blur

    check_image(image)
    sigma = check_positive(sigma, "sigma")
    k = 2 * int(math.ceil(3 * sigma)) + 1
    k = min(k, 2 * ((min(image.shape[-2:]) - 1) // 2) + 1)
    return gaussian_blur(image.detach(), kernel_size=[k, k], sigma=[sigma, sigma])


def as_pixel_map(attribution: Any, size: tuple[int, int]) -> torch.Tensor:
    """Any attribution as one value per input pixel, for ranking pixels.

    Inputs: a (1, 3, H, W) / (3, H, W) gradient-like map (reduced by ``max_c |.|``, as the
    saliency of Simonyan et al.) or an (h, w) map (bilinearly resized, e.g. a 7x7 Grad-CAM);
    ``size`` = (H, W). Returns: (H, W) float tensor on the CPU.
    """
    m = torch.as_tensor(attribution).detach().float().cpu()
    if m.ndim == 4 and m.shape[0] == 1:
        m = m[0]
    if m.ndim == 3 and m.shape[0] == 3:
        m = m.abs().amax(dim=0)
    if m.ndim != 2:
        raise ValueError(f"an attribution must be (1, 3, H, W), (3, H, W) or (h, w), got {tuple(m.shape)}")
    if tuple(m.shape) != tuple(size):
        m = F.interpolate(m[None, None], size=tuple(size), mode="bilinear", align_corners=False)[0, 0]
    return m


def random_map(image: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A random ranking of the pixels of ``image`` (1, 3, H, W): (H, W) uniform noise (CPU)."""
    check_image(image)
    g = torch.Generator().manual_seed(check_int(seed, "seed"))  # private: the global random state is untouched
    return torch.rand(tuple(image.shape[-2:]), generator=g)


def deletion_curve(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Target,
    attribution: Any,
    steps: int = 20,
    fill: float | str = "grey",
    score: str = "prob",
    batch_size: int = 16,
    patch: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove the most salient pixels first and record the class score.

    Inputs: ``image`` (1, 3, H, W) preprocessed; ``target`` a class index or name; ``attribution``
    the map that ranks the pixels (see :func:`as_pixel_map`; larger = removed earlier; ties are
    broken by pixel order); ``steps`` the number of deletion steps (``steps + 1`` images, from
    nothing to everything removed); ``fill`` what a removed pixel becomes: ``"blur"`` (the pixel
    of :func:`blurred`) or a colour as in :func:`lecture_utils.occlusion.fill_value` (grey by
    default); ``score`` ``"prob"`` or ``"logit"``; ``batch_size`` images per forward pass;
    ``patch`` remove square patches of ``patch`` x ``patch`` pixels ranked by the map's mean over
    the patch (1 = single pixels).
    Scattered single grey pixels destroy an image quickly whatever their order; with patches every
    ordering removes compact regions, so orderings are compared on equal terms.
    Returns: ``(fractions, scores)`` two (steps + 1,) CPU tensors: the fraction of pixels removed
    and the target's score at that point.
    """
    check_image(image, model=model)
    steps = check_int(steps, "steps", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    patch = check_int(patch, "patch", low=1)
    score = check_choice(score, "score", ("prob", "logit"))
    idx = one_class(model, target, "deletion_curve")
    if isinstance(fill, str):
        check_choice(fill, "fill", ("grey", "mean", "blur"))
    h, w = image.shape[-2:]
    pixel = as_pixel_map(attribution, (h, w))
    colour = blurred(image) if isinstance(fill, str) and fill == "blur" else fill_value(model, image, fill)
    rank, n = _deletion_ranks(pixel, patch)
    counts = torch.round(torch.linspace(0, n, steps + 1)).long()
    fractions = torch.stack([(rank < k).float().mean() for k in counts])
    scores: list[torch.Tensor] = []
    with preserved_state(model) as net, torch.no_grad():
        x = model_input(image, net)
        colour = colour.to(device=x.device, dtype=x.dtype)
        rank = rank.view(1, 1, h, w).to(x.device)
        for start in range(0, steps + 1, batch_size):
            k = counts[start : start + batch_size].to(x.device).view(-1, 1, 1, 1)
            logits = net(torch.where(rank < k, colour, x))  # removed pixels (b, 1, H, W) take the fill
            if logits.ndim != 2:
                raise ValueError(f"deletion_curve needs logits (N, K), the model returned {tuple(logits.shape)}")
            if idx >= logits.shape[1]:
                raise ValueError(f"class index {idx} out of range: the model has {logits.shape[1]} classes")
            out = torch.softmax(logits, dim=1) if score == "prob" else logits
            scores.append(out[:, idx].cpu())
    return fractions, torch.cat(scores)


def _deletion_ranks(pixel: torch.Tensor, patch: int) -> tuple[torch.Tensor, int]:
    """Deletion order of the pixels of an (H, W) map: ``rank`` (H, W), 0 = removed first (largest
    value; ties by pixel order); with ``patch > 1`` every pixel gets the rank of its patch (the
    patch's mean value). Returns ``(rank, number of units)``."""
    h, w = pixel.shape
    units = F.avg_pool2d(pixel[None, None], patch, ceil_mode=True)[0, 0] if patch > 1 else pixel
    n = units.numel()
    order = torch.argsort(units.flatten(), descending=True, stable=True)
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n)
    rank = rank.view(units.shape)
    if patch > 1:
        rank = rank.repeat_interleave(patch, dim=0).repeat_interleave(patch, dim=1)[:h, :w]
    return rank, n


def deletion_auc(fractions: torch.Tensor, scores: torch.Tensor) -> float:
    """Area under a deletion curve (trapezoid rule over the fraction removed). Lower = the map
    put the pixels the class depends on first = more faithful."""
    f, s = torch.as_tensor(fractions, dtype=torch.float64), torch.as_tensor(scores, dtype=torch.float64)
    if f.ndim != 1 or f.shape != s.shape or f.numel() < 2:
        raise ValueError(f"need two 1-D tensors of the same length >= 2, got {tuple(f.shape)} and {tuple(s.shape)}")
    return float(torch.trapezoid(s, f))
