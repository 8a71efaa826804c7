"""Inverting representations: which images does a network (or HOG) map to the same code?

Lecture section «Восстановление входа по представлению» (notebook 07). Paper: A. Mahendran and
A. Vedaldi (2015), "Understanding Deep Image Representations by Inverting Them", CVPR 2015.

Given the code ``Phi0 = Phi(x0)`` of an image at some layer, find an image ``x`` whose code is
the same, preferring "natural" images:

    x* = argmin_x  ||Phi(x) - Phi0||^2 / ||Phi0||^2  +  lam_alpha * N_alpha(x)  +  lam_tv * N_TV^beta(x)

- the **feature loss** is normalized by ``||Phi0||^2`` so that one set of weights works at every
  layer (0 = same code, 1 = as far as the all-zero code);
- ``N_alpha(x) = mean |x - mu|^alpha / B^alpha``: the alpha-norm of the mean-subtracted image
  (``mu`` the ImageNet mean colour), keeping the pixels in a natural range (paper: alpha = 6);
- ``N_TV^beta(x) = mean ((dx^2 + dy^2) / V^2)^(beta/2)``: total variation raised to ``beta``
  (paper: beta = 2; beta = 1 is the classical TV), preferring piecewise-smooth images.

``B = 80/255`` (the paper's typical pixel range, here in [0, 1] units) and ``V = B / 6.5``
(the paper's typical size of a pixel step) make both terms about 1 on a natural image.

The optimization runs in the course engine :func:`lecture_utils.optimize.render`, which
*maximizes*: each term below is an :class:`~lecture_utils.optimize.Objective` equal to *minus*
the loss term. :func:`invert` puts them together.

HOG (Dalal & Triggs 2005) is a hand-made representation. scikit-image's ``hog`` is not
differentiable, so :class:`HOG` re-implements it in torch: with ``soft=False`` it equals
``skimage.feature.hog`` on a grey image (same gradient filter, hard orientation bins, cell means,
L2-Hys block normalization, same ravel order); with ``soft=True`` (for inversion) each pixel's
vote is shared linearly between the two nearest orientation bins, so the histogram changes
smoothly with the image. :func:`hog_model` wraps it as a :class:`ZooModel` whose output
("logits") is the descriptor, so it is inverted by the same :func:`invert`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .checks import check_finite, check_int, check_number
from .hooks import OUTPUT, get_layer, preserved_state, run_until
from .models import Normalize, ZooModel, as_zoo
from .optimize import INPUT, Objective, PixelImage, RenderResult, Transform, render
from .targets import check_image

__all__ = [
    "B_RANGE",
    "V_RANGE",
    "IMAGENET_MEAN",
    "feature_match",
    "alpha_norm",
    "tv_beta",
    "relative_error",
    "representation",
    "invert",
    "InversionResult",
    "HOG",
    "hog_model",
    "rgb_to_gray",
    "hog_picture",
    "pairwise_rmse",
    "pairwise_correlation",
    "UpTo",
]

B_RANGE = 80.0 / 255.0  # the paper's B = 80 (Caffe pixel units) in [0, 1] units
V_RANGE = B_RANGE / 6.5  # the paper's V = B / 6.5
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # mu: the mean colour subtracted before the alpha-norm


def _check_number(value: float, name: str, low: float = 0.0, strict: bool = False) -> float:
    """A finite number (``checks.check_number``: TypeError / ValueError) that is ``>= low`` (``> low``)."""
    value = check_number(value, name)
    if value <= low if strict else value < low:
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low:g}, got {value:g}")
    return value


# --------------------------------------------------------------------------- objectives


def feature_match(layer: str, target: torch.Tensor) -> Objective:
    """Minus the normalized feature loss: ``-||Phi(x) - Phi0||^2 / ||Phi0||^2``.

    Inputs: ``layer`` a layer name (or ``"output"`` for the logits); ``target`` = Phi0, the
    layer's activation for the original image, (1, C, h, w) or (1, D).
    Returns: an Objective (0 at the original image, negative elsewhere).
    """
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be the layer's activation (a tensor), got {type(target).__name__}")
    target = target.detach()
    norm2 = target.pow(2).sum()
    if not torch.isfinite(norm2) or norm2 <= 0:
        raise ValueError(f"the target code at {layer!r} is all zeros (or not finite): nothing to match")

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        a = acts[layer]
        if a.shape != target.shape:
            raise ValueError(
                f"activation of {layer!r} has shape {tuple(a.shape)} but the target has {tuple(target.shape)}: "
                "invert an image of the same size as the original (and use no resizing transforms)"
            )
        return -(a - target.to(a.device)).pow(2).sum() / norm2.to(a.device)

    return Objective(fn, [] if layer == OUTPUT else [layer], f"match {layer}")


def alpha_norm(alpha: float = 6.0, weight: float = 1.0, mean: Sequence[float] = IMAGENET_MEAN) -> Objective:
    """Minus the normalized alpha-norm of the mean-subtracted image:
    ``-weight * mean_{c,i,j} |x - mu_c|^alpha / B^alpha`` (x the RGB image in [0, 1]).

    Inputs: ``alpha`` >= 1 (paper: 6, which mostly punishes extreme pixels); ``weight`` >= 0;
    ``mean`` mu, one value per channel.
    """
    alpha = _check_number(alpha, "alpha", 1.0)
    weight = _check_number(weight, "weight (lam_alpha)")
    if len(mean) != 3:
        raise ValueError(f"mean needs one value per RGB channel, got {len(mean)}")
    mu = torch.tensor([float(m) for m in mean]).view(1, 3, 1, 1)

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        x = acts[INPUT]
        return -weight * ((x - mu.to(x.device)).abs() / B_RANGE).pow(alpha).mean()

    return Objective(fn, [], f"alpha-norm {alpha:g} x{weight:g}")


def tv_beta(beta: float = 2.0, weight: float = 1.0) -> Objective:
    """Minus the normalized total variation raised to beta:
    ``-weight * mean_{c,i,j} (((x[i, j+1] - x[i, j])^2 + (x[i+1, j] - x[i, j])^2) / V^2)^(beta/2)``
    over all H x W pixels, the image extended by repeating its last row and column (so the
    differences across the border are 0 and every pixel, corners included, is regularized).

    Inputs: ``beta`` >= 1 (paper: 2; 1 is the classical TV); ``weight`` >= 0.
    """
    beta = _check_number(beta, "beta", 1.0)
    weight = _check_number(weight, "weight (lam_tv)")

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        # beta = 2 needs no root; for beta < 2 a tiny offset keeps the gradient finite at flat pixels
        return -weight * losses.total_variation(acts[INPUT], beta=beta, scale=V_RANGE)

    return Objective(fn, [], f"TV^{beta:g} x{weight:g}")


# --------------------------------------------------------------------------- inversion


def _as_zoo(model: ZooModel | nn.Module) -> ZooModel:
    """:func:`lecture_utils.models.as_zoo` for a model that must have parameters."""
    if not isinstance(model, (ZooModel, nn.Module)):
        raise TypeError(f"model must be an nn.Module or ZooModel, got {type(model).__name__}")
    return as_zoo(model, require_parameters=True)


def _check_layer(zoo: ZooModel, layer: str) -> None:
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str), or 'output' for the logits; got {type(layer).__name__}")
    if layer != OUTPUT:
        get_layer(zoo, layer)


class UpTo(nn.Module):
    """``net`` run only as far as ``layer``: returns that layer's output and skips the rest
    (``layer="output"``: the whole network).

    Inverting ``relu1_1`` of VGG19 needs one convolution, not sixteen: the forward pass is cut
    after the layer by :func:`lecture_utils.hooks.run_until` (its hooks live only during one call);
    the output stays in the autograd graph."""

    def __init__(self, net: nn.Module, layer: str) -> None:
        super().__init__()
        self.net, self.layer = net, layer
        self._module = None if layer == OUTPUT else get_layer(net, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._module is None:  # "output": the whole network
            return self.net(x)
        return run_until(self.net, x, self.layer, detach=False, freeze=False)[self.layer]


def _truncated(zoo: ZooModel, layer: str) -> ZooModel:
    """``zoo`` whose output ("logits") is the activation of ``layer`` (``"output"``: the logits)."""
    return ZooModel(
        name=f"{zoo.name} up to {layer}",
        net=UpTo(zoo.net, layer),
        normalize=zoo.normalize,
        input_size=zoo.input_size,
        classes=None,
        layers=["net"],
    )


@torch.no_grad()
def representation(model: ZooModel | nn.Module, image: torch.Tensor, layer: str) -> torch.Tensor:
    """Phi(image): the activation of ``layer`` (``"output"``: the logits), detached.

    Inputs: ``image`` a preprocessed (N, 3, H, W) tensor. Returns: (N, C, h, w) or (N, D).
    """
    zoo = _as_zoo(model)
    _check_layer(zoo, layer)
    check_image(image, batch=True)
    check_finite(image, "image")
    image = image.to(zoo.device)
    with preserved_state(zoo):
        return _truncated(zoo, layer).net(image).detach()


def relative_error(model: ZooModel | nn.Module, rgb: torch.Tensor, layer: str, target: torch.Tensor) -> float:
    """``||Phi(x) - Phi0|| / ||Phi0||`` for an RGB image ``rgb`` (1, 3, H, W) in [0, 1] (the paper's
    normalized reconstruction error; its square is the feature loss)."""
    zoo = _as_zoo(model)
    x = zoo.normalize(rgb.to(zoo.device))
    phi = representation(zoo, x, layer)
    if phi.shape != target.shape:
        raise ValueError(f"code shape {tuple(phi.shape)} differs from the target's {tuple(target.shape)}")
    return float((phi - target.to(phi.device)).norm() / target.norm())


@dataclass
class InversionResult(RenderResult):
    """A :class:`RenderResult` plus: ``layer``; ``target`` Phi0; ``original`` the RGB original
    (H, W, 3); ``start_error`` / ``error`` the relative feature error ``||Phi(x) - Phi0|| / ||Phi0||``
    of the random start and of the reconstruction; ``pixel_error`` the RMSE between the
    reconstruction and the original, RGB in [0, 1]."""

    layer: str = ""
    target: torch.Tensor | None = None
    original: np.ndarray | None = None
    start_error: float = float("nan")
    error: float = float("nan")
    pixel_error: float = float("nan")


def invert(
    model: ZooModel | nn.Module,
    image: torch.Tensor,
    layer: str,
    steps: int = 200,
    size: int | None = None,
    lam_alpha: float = 1e-3,
    lam_tv: float = 0.05,
    alpha: float = 6.0,
    beta: float = 2.0,
    seed: int = 0,
    lr: float = 0.05,
    downsample: int = 1,
    transforms: Sequence[Transform] = (),
    snapshots: Sequence[int] = (),
    progress: bool = False,
) -> InversionResult:
    """Reconstruct an image from its code at ``layer`` (Mahendran & Vedaldi 2015).

    Minimizes ``||Phi(x) - Phi0||^2/||Phi0||^2 + lam_alpha N_alpha(x) + lam_tv N_TV^beta(x)`` over an
    RGB image ``x`` (a sigmoid pixel parametrization started from noise drawn with ``seed``) with
    Adam, in :func:`lecture_utils.optimize.render`.

    Inputs: ``model`` a ZooModel (or a plain module taking RGB in [0, 1]); ``image`` the
    preprocessed original (1, 3, H, W), square unless ``size`` is given; ``layer`` a layer name
    or ``"output"`` (logits; for :func:`hog_model` the HOG descriptor); ``size`` resize the
    original to size x size first (None: keep); ``downsample`` free pixels on a coarser grid.
    Returns: :class:`InversionResult`; ``image`` (size, size, 3) in [0, 1], ``values`` the
    objective (minus the total loss) per step. The model is left as it was.
    """
    zoo = _as_zoo(model)
    _check_invert_args(zoo, image, layer, steps, size, lam_alpha, lam_tv, alpha, beta, lr)
    rgb = zoo.normalize.inverse(image.detach().to(zoo.device)).clamp(0, 1)
    if size is not None and size != rgb.shape[-1]:
        rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    side = rgb.shape[-1]
    if check_int(downsample, "downsample") < 1 or downsample > side:
        raise ValueError(f"downsample must be an integer in 1..{side}, got {downsample!r}")
    target = representation(zoo, zoo.normalize(rgb), layer)
    # the truncated model returns the layer's activation as its output: match that
    match = feature_match(OUTPUT, target)
    match.name = f"match {layer}"
    objective = match + alpha_norm(alpha, lam_alpha) + tv_beta(beta, lam_tv) if lam_alpha or lam_tv else match
    param = PixelImage(side, seed=seed, downsample=downsample).to(zoo.device)
    with torch.no_grad():
        start_error = relative_error(zoo, param(), layer, target)
    res = render(
        _truncated(zoo, layer),
        objective,
        steps=steps,
        lr=lr,
        transforms=transforms,
        param=param,
        snapshots=snapshots,
        seed=seed,
        progress=progress,
    )
    return _inversion_result(zoo, res, layer, target, rgb, start_error)


def _inversion_result(
    zoo: ZooModel, res: RenderResult, layer: str, target: torch.Tensor, rgb: torch.Tensor, start_error: float
) -> InversionResult:
    """:func:`invert`'s result: the render's plus the errors of the reconstruction (``rgb`` the original)."""
    final = torch.from_numpy(res.image).permute(2, 0, 1)[None].to(zoo.device)
    return InversionResult(
        image=res.image,
        snapshots=res.snapshots,
        values=res.values,
        layer=layer,
        target=target,
        original=rgb[0].permute(1, 2, 0).cpu().numpy(),
        start_error=start_error,
        error=relative_error(zoo, final, layer, target),
        pixel_error=float(((final - rgb) ** 2).mean().sqrt()),
    )


def _check_invert_args(
    zoo: ZooModel,
    image: torch.Tensor,
    layer: str,
    steps: int,
    size: int | None,
    lam_alpha: float,
    lam_tv: float,
    alpha: float,
    beta: float,
    lr: float,
) -> None:
    """The checks of :func:`invert`, before any work."""
    _check_layer(zoo, layer)
    check_image(image)
    check_finite(image, "image", "the original must be a real picture")
    check_int(steps, "steps", low=1)
    _check_number(lam_alpha, "lam_alpha")
    _check_number(lam_tv, "lam_tv")
    _check_number(lr, "lr", 0.0, strict=True)
    _check_number(alpha, "alpha", 1.0)
    _check_number(beta, "beta", 1.0)
    if size is not None:
        check_int(size, "size (pixels, or None)", low=8)
    elif image.shape[-1] != image.shape[-2]:
        raise ValueError(f"the image is {image.shape[-2]}x{image.shape[-1]}: invert needs a square image (or size=)")


# --------------------------------------------------------------------------- HOG in torch


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) luminance with scikit-image's ``rgb2gray`` weights."""
    w = torch.tensor([0.2125, 0.7154, 0.0721], dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * w).sum(1, keepdim=True)


class HOG(nn.Module):
    """Histogram of oriented gradients (Dalal & Triggs 2005) of a grey image, in torch.

    Input: (N, 3, H, W) RGB in [0, 1] (turned grey first) or (N, 1, H, W) grey.
    Output: (N, D) with D = blocks_y * blocks_x * block^2 * orientations, in the order of
    ``skimage.feature.hog(gray, orientations, (cell, cell), (block, block), 'L2-Hys')``.

    Steps, as in scikit-image: centred differences ``g = x[i+1] - x[i-1]`` (0 on the border);
    magnitude and unsigned orientation in [0, 180); per pixel a vote of its magnitude into the
    orientation bins -- ``soft=False``: the bin containing the angle (scikit-image, exact);
    ``soft=True``: shared linearly between the two nearest bin centres (differentiable in the
    angle); the mean vote per cell x cell cell; each block x block group of cells L2-normalized,
    clipped at 0.2 and normalized again (L2-Hys).
    """

    def __init__(self, orientations: int = 9, cell: int = 8, block: int = 2, soft: bool = True) -> None:
        super().__init__()
        for name, v in (("orientations", orientations), ("cell", cell), ("block", block)):
            check_int(v, name, low=1)
        self.orientations, self.cell, self.block, self.soft = orientations, cell, block, soft
        # a (frozen) parameter, so that the module has a device like any network
        self.gray = nn.Parameter(torch.tensor([0.2125, 0.7154, 0.0721]).view(1, 3, 1, 1), requires_grad=False)

    def extra_repr(self) -> str:
        return f"orientations={self.orientations}, cell={self.cell}, block={self.block}, soft={self.soft}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"HOG takes (N, 3, H, W) RGB or (N, 1, H, W) grey images, got {tuple(x.shape)}")
        g = (x * self.gray.to(x.dtype)).sum(1, keepdim=True) if x.shape[1] == 3 else x
        n, _, h, w = g.shape
        cy, cx = h // self.cell, w // self.cell
        if cy < self.block or cx < self.block:
            need = self.block * self.cell
            raise ValueError(f"a {h}x{w} image is too small for HOG blocks of {need}x{need} pixels")
        gy = F.pad(g[..., 2:, :] - g[..., :-2, :], (0, 0, 1, 1))
        gx = F.pad(g[..., :, 2:] - g[..., :, :-2], (1, 1, 0, 0))
        sq = gx.pow(2) + gy.pow(2)
        flat = sq <= 0  # exactly 0 there (as in scikit-image), with a finite gradient
        mag = torch.where(flat, torch.zeros_like(sq), torch.sqrt(torch.where(flat, torch.ones_like(sq), sq)))
        theta = torch.rad2deg(torch.atan2(gy, gx)) % 180.0  # (N, 1, H, W), unsigned orientation
        width = 180.0 / self.orientations
        if self.soft:
            t = theta / width - 0.5  # position between bin centres
            lo = torch.floor(t)
            frac = t - lo
            lo = lo.long() % self.orientations
            hi = (lo + 1) % self.orientations
            votes = (
                F.one_hot(lo[:, 0], self.orientations) * (1 - frac[:, 0, ..., None])
                + F.one_hot(hi[:, 0], self.orientations) * frac[:, 0, ..., None]
            )
        else:
            idx = torch.floor(theta / width).long().clamp(max=self.orientations - 1)
            votes = F.one_hot(idx[:, 0], self.orientations).to(x.dtype)
        votes = (votes * mag[:, 0, ..., None]).permute(0, 3, 1, 2)  # (N, O, H, W)
        hist = F.avg_pool2d(votes[..., : cy * self.cell, : cx * self.cell], self.cell)  # (N, O, cy, cx)
        b = self.block
        blocks = hist.unfold(2, b, 1).unfold(3, b, 1)  # (N, O, by, bx, b, b)
        blocks = blocks.permute(0, 2, 3, 4, 5, 1).reshape(n, cy - b + 1, cx - b + 1, -1)  # skimage order
        eps = 1e-5
        out = blocks / torch.sqrt(blocks.pow(2).sum(-1, keepdim=True) + eps**2)
        out = torch.clamp(out, max=0.2)
        out = out / torch.sqrt(out.pow(2).sum(-1, keepdim=True) + eps**2)
        return out.reshape(n, -1)


def hog_model(
    size: int = 128, orientations: int = 9, cell: int = 8, block: int = 2, device: str | torch.device = "cpu"
) -> ZooModel:
    """The soft :class:`HOG` as a :class:`ZooModel`: input = RGB in [0, 1] (identity normalize),
    output ("logits", layer ``"output"``) = the HOG descriptor. For :func:`invert`."""
    net = HOG(orientations, cell, block, soft=True).eval().to(device)
    return ZooModel(
        name="hog",
        net=net,
        normalize=Normalize([0.0] * 3, [1.0] * 3).to(device),
        input_size=size,
        classes=None,
        layers=[OUTPUT],
        description=f"HOG ({orientations} orientations, {cell}px cells, {block}x{block} blocks, L2-Hys), soft bins",
    )


def hog_picture(rgb: np.ndarray, orientations: int = 9, cell: int = 8, block: int = 2) -> np.ndarray:
    """scikit-image's picture of a HOG (one star of orientation glyphs per cell) for an
    (H, W, 3) RGB image in [0, 1], grey-converted as in :class:`HOG`. Returns (H, W) floats."""
    from skimage.feature import hog

    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"hog_picture takes an (H, W, 3) RGB image, got shape {rgb.shape}")
    gray = rgb @ np.array([0.2125, 0.7154, 0.0721])
    return hog(gray, orientations, (cell, cell), (block, block), block_norm="L2-Hys", visualize=True)[1]


def pairwise_rmse(images: Sequence[np.ndarray]) -> np.ndarray:
    """(n, n) matrix of pixel RMSE between (H, W, 3) images of the same size."""
    a = np.stack([np.asarray(im, dtype=np.float64) for im in images])
    if a.ndim != 4:
        raise ValueError(f"pairwise_rmse takes equally sized (H, W, C) images, got stacked shape {a.shape}")
    flat = a.reshape(len(a), -1)
    return np.sqrt(((flat[:, None] - flat[None]) ** 2).mean(-1))


def pairwise_correlation(images: Sequence[np.ndarray]) -> np.ndarray:
    """(n, n) matrix of Pearson correlations between the pixel values of (H, W, 3) images of the
    same size (1 = the same picture up to brightness and contrast, about 0 = unrelated pictures)."""
    a = np.stack([np.asarray(im, dtype=np.float64) for im in images])
    if a.ndim != 4:
        raise ValueError(f"pairwise_correlation takes equally sized (H, W, C) images, got stacked shape {a.shape}")
    flat = a.reshape(len(a), -1)
    return np.corrcoef(flat)
