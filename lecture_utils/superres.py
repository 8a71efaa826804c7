"""Single-image super-resolution x4 with a pixel loss or a perceptual (feature) loss (lecture 20).

Lecture 20 («Суперразрешение»): J. Johnson, A. Alahi & L. Fei-Fei 2016, "Perceptual Losses for
Real-Time Style Transfer and Super-Resolution" (ECCV), the x4 super-resolution part. A feed-forward
network maps a low-resolution image to one 4x larger; it is trained either with a per-pixel loss
(mean squared error against the high-resolution image) or with a *feature reconstruction loss*: the
error between VGG feature maps (here VGG19 ``relu2_2``, the paper used VGG16 ``relu2_2``) of the
output and of the ground truth. The pixel loss is what PSNR measures, so it wins on PSNR; the
feature loss gives sharper edges and fine detail, which PSNR/SSIM do not reward.

The pieces, as in the paper:

* degradation: high-resolution (HR) crop -> Gaussian blur (sigma = 1) -> bicubic downsampling x4
  (:func:`degrade`) gives the low-resolution (LR) input;
* :class:`SRNet`: a 9x9 conv, residual blocks at the LR resolution, two x2 upsampling stages
  (nearest-neighbour upsampling + 3x3 conv, which avoids the checkerboard artefacts of strided
  transposed convolutions), a 9x9 conv to RGB. Two deliberate differences from the paper, both
  for training in a few minutes: no batch normalization, and the output is *added to the bicubic
  upsampling of the input* (a global residual as in Kim et al. 2016, "VDSR"); the last conv starts
  at zero, so an untrained net reproduces bicubic interpolation exactly;
* losses (:func:`pixel_loss`, :class:`FeatureLoss`; ``train_sr(tv=...)`` adds a total-variation
  penalty, as the paper did against grid artefacts), training on random crops (:func:`train_sr`),
  the committed weights (:func:`load_sr`: ``sr_pixel.pt``, and ``sr_feature.pt`` trained with the
  feature loss + TV 0.5), and the paper's metrics (:func:`psnr`, :func:`ssim` on
  the luminance channel, with scikit-image) plus two that show what they miss
  (:func:`feature_error`, :func:`hf_energy`).

Training uses only images bundled with scikit-image (:data:`TRAIN_IMAGES`, read from the package
folder: nothing is downloaded). :data:`EVAL_IMAGES` (Grace Hopper, the rocket, and scikit-learn's
China and flower photos) are never seen in training.

The losses are those of :mod:`lecture_utils.losses` (the feature loss is its
:class:`~lecture_utils.losses.PerceptualLoss` with one content layer). Training is seeded and leaves
the caller's random generators as they were. The command line that made the committed weights:
``python tools/train_superres.py --loss pixel|feature --out PATH [--steps N ...]`` (:data:`SR_COMMANDS`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from . import models as _models
from .checks import check_choice, check_finite, check_int, check_non_negative, check_positive, device_of, seeded
from .datasets import data_dir
from .losses import PerceptualLoss
from .models import WeightsError, ZooModel, default_device, load_checked, sha256_of
from .optimize import separable_gaussian

__all__ = [
    "SCALE",
    "FEATURE_LAYER",
    "TRAIN_IMAGES",
    "EVAL_IMAGES",
    "SR_SHA256",
    "SR_COMMANDS",
    "SRNet",
    "gaussian_blur",
    "degrade",
    "bicubic",
    "sr_image",
    "example",
    "to_tensor",
    "to_numpy",
    "pixel_loss",
    "FeatureLoss",
    "train_sr",
    "super_resolve",
    "save_sr",
    "load_sr",
    "sr_path",
    "psnr",
    "ssim",
    "feature_error",
    "hf_energy",
    "radial_spectrum",
    "evaluate",
    "format_table",
]

SCALE = 4
FEATURE_LAYER = "relu2_2"
LOSSES = ("pixel", "feature")

# Bundled with scikit-image (files inside the package; gray ones are made RGB). Held out: see EVAL_IMAGES.
TRAIN_IMAGES: tuple[str, ...] = (
    "chelsea",
    "coffee",
    "astronaut",
    "motorcycle_left",
    "retina",
    "ihc",
    "camera",
    "brick",
    "grass",
    "gravel",
    "coins",
)
EVAL_IMAGES: tuple[str, ...] = ("grace_hopper", "rocket", "china", "flower")
_SKIMAGE_FILES = {
    "motorcycle_left": "motorcycle_left.png",
    "retina": "retina.jpg",
    "ihc": "ihc.png",
    "camera": "camera.png",
    "brick": "brick.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "coins": "coins.png",
}

SR_SHA256: dict[str, str] = {
    "pixel": "327becdb8c37a00b65aa31a41032adf4ddc26fdc18a5f86a00e38ba34d3ba565",
    "feature": "909aee445b4036178ca909581bab2bdea0fc5dc8d677b277325f8e298eadb708",
}
"""sha256 of ``data/weights/sr_pixel.pt`` and ``data/weights/sr_feature.pt`` (see data/README.md)."""

_COMMON = (
    "--steps 2000 --batch-size 32 --crop 96 --width 48 --blocks 4 --lr 5e-4 --seed 0 --val-every 250 --log-every 50"
)
SR_COMMANDS: dict[str, str] = {
    "pixel": f"OMP_NUM_THREADS=1 python tools/train_superres.py --loss pixel --tv 0 {_COMMON} --device cpu "
    "--out data/weights/sr_pixel.pt",
    "feature": f"python tools/train_superres.py --loss feature --tv 0.5 {_COMMON} --device cuda --max-seconds 60 "
    "--out data/weights/sr_feature.pt",
}
"""The commands that produced the committed weights: the feature network on one H100 (shared with another job; it
finished its 2000 steps in 36 s, within ``--max-seconds 60``), the pixel network on the course's 2-core CPU with one
thread (all 2000 steps, 84 min; its earlier GPU run had been stopped by the 60 s limit after 618 steps)."""


# --------------------------------------------------------------------------- images and degradation


def _check_batch(
    x: torch.Tensor, name: str = "image", multiple: int = 1, min_side: int = 4, finite: bool = False
) -> torch.Tensor:
    """An RGB batch (B, 3, H, W), float, sides >= ``min_side`` and multiples of ``multiple``
    (``finite``: also without NaN/inf -- checked at the entrances, not on every training step)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape (B, 3, H, W), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W) (RGB in [0, 1]), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got {x.dtype}")
    h, w = x.shape[-2:]
    if min(h, w) < min_side:
        raise ValueError(f"{name} is only {h}x{w} pixels; at least {min_side}x{min_side} needed")
    if h % multiple or w % multiple:
        raise ValueError(f"{name} is {h}x{w}: both sides must be multiples of {multiple} (crop it first)")
    if finite:
        check_finite(x, name, "replace the NaN/inf pixels (e.g. torch.nan_to_num) or reload the image")
    return x


def gaussian_blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders (a constant image stays constant).

    Inputs: ``x`` (B, C, H, W); ``sigma`` in pixels (the kernel spans +-ceil(3 sigma)).
    Returns: (B, C, H, W).

    Not ``optimize.gaussian_blur``: that one truncates the kernel at +-round(2 sigma) (5 taps for
    sigma = 1, here 7), which changes the degraded inputs by up to 0.008 and so the committed
    weights' inputs and the stored PSNR numbers of notebook 20.
    """
    sigma = check_positive(sigma, "sigma")
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a (B, C, H, W) tensor, got {getattr(x, 'shape', x)!r}")
    r = max(1, math.ceil(3 * sigma))
    if min(x.shape[-2:]) <= r:
        raise ValueError(f"image {tuple(x.shape[-2:])} too small for a blur of sigma {sigma} (needs sides > {r})")
    return separable_gaussian(x, sigma, r)


def degrade(hr: torch.Tensor, scale: int = SCALE, sigma: float = 1.0) -> torch.Tensor:
    """The paper's low-resolution input: Gaussian blur (``sigma``), then bicubic downsampling.

    Inputs: ``hr`` (B, 3, H, W) in [0, 1], H and W multiples of ``scale``.
    Returns: (B, 3, H / scale, W / scale) in [0, 1].
    """
    scale = check_int(scale, "scale", low=1)
    _check_batch(hr, "hr", multiple=scale, min_side=max(8, 2 * scale))
    h, w = hr.shape[-2:]
    y = gaussian_blur(hr, sigma)
    y = F.interpolate(y, size=(h // scale, w // scale), mode="bicubic", align_corners=False, antialias=True)
    return y.clamp(0, 1)


def bicubic(lr: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """The baseline: bicubic upsampling (B, 3, h, w) -> (B, 3, scale h, scale w), clamped to [0, 1]."""
    _check_batch(lr, "lr", finite=True)
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


def _skimage_file(name: str) -> np.ndarray:
    import skimage.data
    from PIL import Image

    path = Path(skimage.data.__file__).parent / _SKIMAGE_FILES[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the scikit-image package (it is bundled, never downloaded)")
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def sr_image(name: str, max_size: int = 512) -> np.ndarray:
    """An image for training/evaluation: (H, W, 3) float32 in [0, 1], longest side <= ``max_size``,
    cropped to multiples of :data:`SCALE`.

    ``name``: one of :data:`TRAIN_IMAGES`, :data:`EVAL_IMAGES` or any :func:`images.load_image` name.
    """
    from PIL import Image

    from .images import load_image, sample_names

    if not isinstance(name, str):
        raise TypeError(f"image name must be a string, got {type(name).__name__}")
    if name in _SKIMAGE_FILES:
        img = Image.fromarray(_skimage_file(name))
        if max(img.size) > max_size:
            img.thumbnail((max_size, max_size), Image.LANCZOS)
    elif name in sample_names():
        img = load_image(name, max_size=max_size)
    else:
        known = sorted(set(TRAIN_IMAGES) | set(sample_names()))
        raise ValueError(f"unknown image {name!r}; known: {', '.join(known)}")
    a = np.asarray(img, dtype=np.float32) / 255.0
    h, w = (a.shape[0] // SCALE) * SCALE, (a.shape[1] // SCALE) * SCALE
    return np.ascontiguousarray(a[:h, :w])


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) array in [0, 1] -> (1, 3, H, W) float tensor."""
    a = np.asarray(image, dtype=np.float32)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {a.shape}")
    return torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (H, W, 3) float32 array clipped to [0, 1]."""
    _check_batch(x, "x", min_side=1)
    if x.shape[0] != 1:
        raise ValueError(f"to_numpy takes one image, got a batch of {x.shape[0]}")
    return x[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def example(name: str, max_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """The ground truth ``hr`` (1, 3, H, W) of image ``name`` and its degraded input ``lr`` (1, 3, H/4, W/4)."""
    hr = to_tensor(sr_image(name, max_size))
    return hr, degrade(hr)


# --------------------------------------------------------------------------- the network


class _Residual(nn.Module):
    """conv 3x3 - ReLU - conv 3x3, plus the identity (no batch norm)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class SRNet(nn.Module):
    """x4 super-resolution network (Johnson et al. 2016, the SR variant of their Fig. 2).

    ``head`` 9x9 conv 3 -> ``width``; ``blocks`` residual blocks at the LR resolution; ``up1``,
    ``up2`` nearest x2 + 3x3 conv + ReLU; ``tail`` 9x9 conv ``width`` -> 3 (zero at init); the
    result is added to :func:`bicubic` of the input.

    Forward: ``lr`` (B, 3, h, w) in [0, 1] -> (B, 3, 4h, 4w) (not clamped; see :func:`super_resolve`).
    """

    def __init__(self, width: int = 48, blocks: int = 4, scale: int = SCALE) -> None:
        super().__init__()
        width, blocks = check_int(width, "width", low=1), check_int(blocks, "blocks", low=0)
        if scale != SCALE:
            raise ValueError(f"SRNet upsamples by {SCALE} (two x2 stages), got scale={scale!r}")
        self.config = {"width": width, "blocks": blocks, "scale": scale}
        self.head = nn.Conv2d(3, width, 9, padding=4)
        self.body = nn.Sequential(*[_Residual(width) for _ in range(blocks)])
        self.up1 = nn.Conv2d(width, width, 3, padding=1)
        self.up2 = nn.Conv2d(width, width, 3, padding=1)
        self.tail = nn.Conv2d(width, 3, 9, padding=4)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        _check_batch(lr, "lr")
        f = F.relu(self.head(lr))
        f = f + self.body(f)
        f = F.relu(self.up1(F.interpolate(f, scale_factor=2, mode="nearest")))
        f = F.relu(self.up2(F.interpolate(f, scale_factor=2, mode="nearest")))
        up = F.interpolate(lr, scale_factor=SCALE, mode="bicubic", align_corners=False)
        return up + self.tail(f)


@torch.no_grad()
def super_resolve(net: nn.Module, lr: torch.Tensor) -> torch.Tensor:
    """Apply ``net`` to ``lr`` (B, 3, h, w) on the net's device; returns (B, 3, 4h, 4w) in [0, 1] on the CPU.

    The net's ``training`` flag is restored afterwards.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be an nn.Module (an SRNet), got {type(net).__name__}")
    _check_batch(lr, "lr", finite=True)
    device = device_of(net)
    was = net.training
    net.eval()
    try:
        return net(lr.to(device)).clamp(0, 1).cpu()
    finally:
        net.train(was)


# --------------------------------------------------------------------------- losses


def pixel_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Per-pixel loss: mean squared error over all pixels and channels (what PSNR measures)."""
    if sr.shape != hr.shape:
        raise ValueError(f"output {tuple(sr.shape)} and ground truth {tuple(hr.shape)} differ in shape")
    return F.mse_loss(sr, hr)


class FeatureLoss(PerceptualLoss):
    """Feature reconstruction loss: ``||phi(sr) - phi(hr)||^2 / ||phi(hr)||^2`` with ``phi`` the
    VGG19 layers from the input up to ``layer`` (default ``relu2_2``, as the paper).

    Inputs: ``vgg`` the zoo's VGG19 (``load_model("vgg19")``); the loss keeps its own frozen copy
    of the layers it needs, so ``vgg`` itself is left untouched (it is the content term of
    :class:`lecture_utils.losses.PerceptualLoss`).
    Forward: ``sr``, ``hr`` (B, 3, H, W) RGB in [0, 1] -> scalar (a relative error: 0 at a perfect
    match, 1 for all-zero features). The paper used the unnormalized mean; dividing by the
    target's energy only rescales it and makes it comparable across images.
    """

    def __init__(self, vgg: ZooModel, layer: str = FEATURE_LAYER) -> None:
        super().__init__(vgg, None, content_layer=layer, style_layers=())
        self.layer = layer

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if sr.shape != hr.shape:
            raise ValueError(f"output {tuple(sr.shape)} and ground truth {tuple(hr.shape)} differ in shape")
        return super().forward(sr, hr)["content"]


# --------------------------------------------------------------------------- training


def _load_train_images(names: Sequence[str], max_size: int, min_side: int) -> list[torch.Tensor]:
    out = []
    for n in names:
        t = to_tensor(sr_image(n, max_size))[0]
        if min(t.shape[-2:]) >= min_side:
            out.append(t)
    if not out:
        raise ValueError(f"no training image is at least {min_side} pixels on each side")
    return out


def _crops(images: list[torch.Tensor], n: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """``n`` random crops (n, 3, size, size), images drawn in proportion to their area, flips and
    90-degree rotations at random."""
    areas = np.array([im.shape[-1] * im.shape[-2] for im in images], dtype=float)
    which = rng.choice(len(images), size=n, p=areas / areas.sum())
    out = []
    for i in which:
        im = images[i]
        top = int(rng.integers(0, im.shape[-2] - size + 1))
        left = int(rng.integers(0, im.shape[-1] - size + 1))
        c = im[:, top : top + size, left : left + size]
        if rng.random() < 0.5:
            c = c.flip(-1)
        c = torch.rot90(c, int(rng.integers(0, 4)), dims=(-2, -1))
        out.append(c)
    return torch.stack(out)


def _validation_set(device: torch.device, size: int = 128) -> torch.Tensor:
    """Fixed centre crops of two held-out photos (grace_hopper, rocket): (2, 3, size, size)."""
    crops = []
    for n in ("grace_hopper", "rocket"):
        a = sr_image(n, 512)
        h, w = a.shape[:2]
        t, lf = (h - size) // 2, (w - size) // 2
        crops.append(to_tensor(a[t : t + size, lf : lf + size])[0])
    return torch.stack(crops).to(device)


def _check_train_args(loss: Any, crop: Any, lr: Any, tv: Any, max_seconds: Any, **counts: tuple[Any, int]) -> None:
    """Every check of :func:`train_sr`, before any work (the policy of ``lecture_utils.checks``)."""
    check_choice(loss, "loss", LOSSES)
    for name, (v, low) in counts.items():
        check_int(v, name, low=low)
    if check_int(crop, "crop", low=16) % SCALE:
        raise ValueError(f"crop must be an integer >= 16 and a multiple of {SCALE}, got {crop!r}")
    check_positive(lr, "lr")
    check_non_negative(tv, "tv")
    check_non_negative(max_seconds, "max_seconds")


def _train_set(images: Sequence[str] | torch.Tensor, crop: int, device: torch.device) -> tuple[list[torch.Tensor], Any]:
    """The HR images to crop from, on ``device``, and how to name them in the net's config."""
    if isinstance(images, torch.Tensor):
        _check_batch(images, "images", min_side=crop, finite=True)
        return list(images.detach().float().to(device)), f"{len(images)} given images"
    return [t.to(device) for t in _load_train_images(images, 512, crop)], list(images)


@torch.no_grad()
def _validate(net: SRNet, feat: FeatureLoss, val: torch.Tensor, hist: dict[str, list[float]], step: int) -> None:
    """PSNR (RGB, whole crop) and feature error on the fixed held-out crops, appended to ``hist``."""
    net.eval()
    sr = net(degrade(val)).clamp(0, 1)
    mse = ((sr - val) ** 2).flatten(1).mean(1)
    hist["val_step"].append(step)
    hist["val_psnr"].append(float((10 * torch.log10(1 / mse)).mean()))
    hist["val_feature"].append(float(feat(sr, val)))
    net.train()


def _loop(net: SRNet, update: Callable[[], float], hist: dict, validate: Callable | None, **o: Any) -> int:
    """Call ``update()`` (one optimizer step; returns the loss) up to ``o["steps"]`` times; log the
    mean loss every ``log_every`` steps (print, ``callback``), validate every ``val_every`` steps,
    stop after ``max_seconds`` (> 0). Returns the last step."""
    start, window, step = time.time(), [], 0
    if validate is not None:
        validate(0)
    net.train()
    for step in range(1, o["steps"] + 1):
        window.append(update())
        timed_out = o["max_seconds"] > 0 and time.time() - start > o["max_seconds"]
        if step % o["log_every"] == 0 or step == o["steps"] or timed_out:
            hist["step"].append(step)
            hist["loss"].append(float(np.mean(window)))
            window = []
            if o["progress"]:
                print(f"step {step}/{o['steps']}  {o['loss']} loss {hist['loss'][-1]:.5f}  {time.time() - start:.0f}s")
            if o["callback"] is not None:
                o["callback"](step, hist["loss"][-1])
        if validate is not None and (step % o["val_every"] == 0 or step == o["steps"] or timed_out):
            validate(step)
        if timed_out:
            break
    return step


def train_sr(
    loss: str = "pixel",
    steps: int = 2000,
    batch_size: int = 32,
    crop: int = 96,
    lr: float = 5e-4,
    width: int = 48,
    blocks: int = 4,
    tv: float = 0.0,
    seed: int = 0,
    device: str | torch.device | None = None,
    vgg: ZooModel | None = None,
    net: SRNet | None = None,
    images: Sequence[str] | torch.Tensor = TRAIN_IMAGES,
    log_every: int = 50,
    val_every: int = 0,
    max_seconds: float = 0.0,
    callback: Callable[[int, float], None] | None = None,
    progress: bool = False,
) -> tuple[SRNet, dict[str, list[float]]]:
    """Train an :class:`SRNet` (Adam, cosine learning-rate decay) on random ``crop`` x ``crop``
    HR crops of ``images``, degraded with :func:`degrade`.

    Inputs: ``loss`` ``"pixel"`` (MSE) or ``"feature"`` (:class:`FeatureLoss` at ``relu2_2``);
    ``images`` names (:func:`sr_image`) or a tensor (N, 3, H, W) of HR images to crop from (with
    H = W = ``crop``: a fixed set of crops, only flipped and turned -- the "can it fit a small
    set?" sanity check); ``tv`` optional total-variation weight added to the loss
    (:func:`lecture_utils.losses.total_variation`); ``net`` continue training this net (fine-tuning)
    instead of a fresh one of ``width``/``blocks``; ``vgg`` the loss network (loaded when needed);
    ``device`` default CUDA when present; ``val_every`` > 0 also logs PSNR and the feature error on
    fixed held-out crops; ``max_seconds`` > 0 stops early after that much time. Seeded (``seed``);
    the caller's global torch, NumPy and Python random generators are left as they were.
    Returns: the net (eval mode, on ``device``) and the history ``{"step", "loss"[, "val_psnr",
    "val_step", "val_feature"]}`` (loss averaged over each ``log_every`` steps).
    """
    counts = dict(steps=(steps, 1), batch_size=(batch_size, 1), log_every=(log_every, 1), val_every=(val_every, 0))
    _check_train_args(loss, crop, lr, tv, max_seconds, **counts)
    device = torch.device(device) if device is not None else default_device()
    with seeded(seed, [device]):
        rng = np.random.default_rng(seed)
        net = (net if net is not None else SRNet(width, blocks)).to(device)
        need_vgg = loss == "feature" or val_every > 0
        feat = (
            FeatureLoss(vgg if vgg is not None else _models.load_model("vgg19", device="cpu")).to(device)
            if need_vgg
            else None
        )
        train_images, names = _train_set(images, crop, device)
        val = _validation_set(device) if val_every > 0 else None
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        hist: dict[str, list[float]] = {"step": [], "loss": []}
        if val is not None:
            hist.update(val_step=[], val_psnr=[], val_feature=[])

        def update() -> float:
            hr = _crops(train_images, batch_size, crop, rng)
            sr = net(degrade(hr))
            value = pixel_loss(sr, hr) if loss == "pixel" else feat(sr, hr)
            total = value + tv * losses.total_variation(sr) if tv else value
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            sched.step()
            return float(value.detach())

        validate = (lambda step: _validate(net, feat, val, hist, step)) if val is not None else None
        settings = dict(loss=loss, log_every=log_every, val_every=val_every, max_seconds=max_seconds)
        step = _loop(net, update, hist, validate, steps=steps, progress=progress, callback=callback, **settings)
    net.eval()
    net.config.update(loss=loss, steps=step, batch_size=batch_size, crop=crop, lr=lr, tv=tv, seed=seed, images=names)
    return net, hist


# --------------------------------------------------------------------------- saving and loading


def sr_path(kind: str) -> Path:
    """``data/weights/sr_<kind>.pt`` for ``kind`` in ``("pixel", "feature")``."""
    if kind not in LOSSES:
        raise ValueError(f"kind must be one of {LOSSES}, got {kind!r}")
    return data_dir() / "weights" / f"sr_{kind}.pt"


def save_sr(net: SRNet, path: str | Path, history: dict[str, list[float]] | None = None) -> str:
    """Save ``{"config", "state_dict", "history"}`` with ``torch.save``; returns the file's sha256."""
    if not isinstance(net, SRNet):
        raise TypeError(f"save_sr saves an SRNet, got {type(net).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    hist = {k: [float(v) for v in vals] for k, vals in (history or {}).items()}
    torch.save({"config": dict(net.config), "state_dict": state, "history": hist}, path)
    return sha256_of(path)


def load_sr(
    kind: str = "feature",
    path: str | Path | None = None,
    sha256: str | None = None,
    device: str | torch.device = "cpu",
    with_history: bool = False,
) -> SRNet | tuple[SRNet, dict[str, list[float]]]:
    """Load a trained :class:`SRNet` (``weights_only=True``), in eval mode.

    ``kind`` ``"pixel"`` or ``"feature"``: the committed ``data/weights/sr_<kind>.pt``, its
    sha256 checked against :data:`SR_SHA256`. ``path`` loads another file instead (checked
    against ``sha256`` when given). ``with_history`` also returns the training history.
    Raises: ``ValueError`` (unknown kind), :class:`WeightsError` (missing file, checksum mismatch,
    not an SRNet file).
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown kind {kind!r}: choose 'pixel' or 'feature'")
    if path is None:
        path, sha256 = sr_path(kind), SR_SHA256[kind]
        hint = f"; it ships with the course -- regenerate it with `{SR_COMMANDS[kind]}` (data/README.md)"
    else:
        path, hint = Path(path), ""
    blob = load_checked(path, sha256, hint)
    try:
        cfg = blob["config"]
        net = SRNet(cfg["width"], cfg["blocks"], cfg.get("scale", SCALE))
        net.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise WeightsError(f"{path} is not an SRNet weight file saved by save_sr: {e}") from e
    net.config.update({k: v for k, v in cfg.items() if k not in net.config})
    net = net.to(device).eval()
    return (net, dict(blob.get("history", {}))) if with_history else net


# --------------------------------------------------------------------------- metrics


def _as_hw3(image: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        image = to_numpy(image)
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{name} must be an (H, W, 3) image or a (1, 3, H, W) tensor, got shape {a.shape}")
    return a


def _pair(image, reference, border: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_hw3(image, "image"), _as_hw3(reference, "reference")
    if a.shape != b.shape:
        raise ValueError(f"image {a.shape} and reference {b.shape} differ in shape")
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return a, b


def _luma(a: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma Y in [16/255, 235/255] (as SRCNN and the paper evaluate)."""
    return (16.0 + 65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255.0


def psnr(image, reference, border: int = SCALE) -> float:
    """PSNR in dB on the luminance channel (skimage.metrics), ignoring ``border`` pixels at each edge.

    Inputs: (H, W, 3) arrays in [0, 1] or (1, 3, H, W) tensors.
    """
    from skimage.metrics import peak_signal_noise_ratio

    a, b = _pair(image, reference, border)
    return float(peak_signal_noise_ratio(_luma(b), _luma(a), data_range=1.0))


def ssim(image, reference, border: int = SCALE) -> float:
    """SSIM (Wang et al. 2004: Gaussian window sigma 1.5) on the luminance channel (skimage.metrics)."""
    from skimage.metrics import structural_similarity

    a, b = _pair(image, reference, border)
    return float(
        structural_similarity(_luma(b), _luma(a), data_range=1.0, gaussian_weights=True, use_sample_covariance=False)
    )


def feature_error(vgg: ZooModel | FeatureLoss, image, reference, layer: str = FEATURE_LAYER) -> float:
    """The relative VGG feature error ``||F(image) - F(reference)||^2 / ||F(reference)||^2`` at
    ``layer`` -- the value of ``style.content_loss`` and of :class:`FeatureLoss`, what the feature
    loss minimizes. Only the layers up to ``layer`` are run (pass a :class:`FeatureLoss` to reuse one).

    Inputs: ``vgg`` the zoo's VGG19 or a :class:`FeatureLoss`; images (H, W, 3) or (1, 3, H, W) in [0, 1].
    """
    a, b = _pair(image, reference, 0)
    loss = vgg if isinstance(vgg, FeatureLoss) else FeatureLoss(vgg, layer)
    if loss.layer != layer:
        raise ValueError(f"this FeatureLoss compares {loss.layer!r}, not {layer!r}")
    device = device_of(loss)
    x = to_tensor(a.astype(np.float32)).to(device)
    y = to_tensor(b.astype(np.float32)).to(device)
    with torch.no_grad():
        return float(loss(x, y))


def hf_energy(image, sigma: float = 1.0, border: int = SCALE) -> float:
    """High-frequency energy: mean squared difference between the luma and its Gaussian blur
    (``sigma``), ignoring ``border``. Blurry images have little; sharp ones more."""
    a = _as_hw3(image, "image")
    y = torch.from_numpy(_luma(a))[None, None]
    hp = (y - gaussian_blur(y, sigma))[0, 0].numpy()
    if border:
        hp = hp[border:-border, border:-border]
    return float(np.mean(hp**2))


def radial_spectrum(image, bins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of the luma: ``(frequency in cycles/pixel (bins,), power (bins,))``."""
    a = _as_hw3(image, "image")
    y = _luma(a)
    y = (y - y.mean()) * np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))
    p = np.abs(np.fft.fftshift(np.fft.fft2(y))) ** 2
    fy = np.fft.fftshift(np.fft.fftfreq(y.shape[0]))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(y.shape[1]))[None, :]
    r = np.sqrt(fx**2 + fy**2)
    edges = np.linspace(0, 0.5, bins + 1)
    idx = np.digitize(r.ravel(), edges) - 1
    ok = (idx >= 0) & (idx < bins)
    power = np.bincount(idx[ok], weights=p.ravel()[ok], minlength=bins) / np.maximum(
        np.bincount(idx[ok], minlength=bins), 1
    )
    return (edges[:-1] + edges[1:]) / 2, power


def evaluate(
    nets: dict[str, nn.Module], names: Sequence[str] = EVAL_IMAGES, vgg: ZooModel | None = None, max_size: int = 512
) -> dict[str, dict[str, dict[str, float]]]:
    """The paper's table: for each image and method (``"bicubic"`` + each of ``nets``) the PSNR,
    SSIM, VGG feature error and high-frequency energy (``"hf"``; the ground truth's too).

    Returns: ``{image: {method: {"psnr", "ssim", "feature", "hf"}}}``; the key ``"mean"`` averages
    over images.
    """
    from .models import load_model

    if not names:
        raise ValueError("give at least one image name")
    feat = FeatureLoss(vgg if vgg is not None else load_model("vgg19", device="cpu"))
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        hr, lr = example(name, max_size)
        outs = {"bicubic": bicubic(lr), **{k: super_resolve(n, lr) for k, n in nets.items()}}
        row = {
            k: {"psnr": psnr(o, hr), "ssim": ssim(o, hr), "feature": feature_error(feat, o, hr), "hf": hf_energy(o)}
            for k, o in outs.items()
        }
        row["ground truth"] = {"psnr": float("inf"), "ssim": 1.0, "feature": 0.0, "hf": hf_energy(hr)}
        table[name] = row
    methods = list(next(iter(table.values())))
    table["mean"] = {
        m: {k: float(np.mean([table[n][m][k] for n in names])) for k in ("psnr", "ssim", "feature", "hf")}
        for m in methods
    }
    return table


def format_table(table: dict[str, dict[str, dict[str, float]]]) -> str:
    """A text table of :func:`evaluate`'s result: one line per image and method."""
    lines = [f"{'image':<14}{'method':<14}{'PSNR dB':>9}{'SSIM':>8}{'VGG err':>9}{'HF x1e3':>9}"]
    for name, row in table.items():
        for m, v in row.items():
            p = "   —" if math.isinf(v["psnr"]) else f"{v['psnr']:.2f}"
            lines.append(f"{name:<14}{m:<14}{p:>9}{v['ssim']:>8.3f}{v['feature']:>9.3f}{1e3 * v['hf']:>9.3f}")
        lines.append("")
    return "\n".join(lines).rstrip()
