"""An up-convolutional network that generates chair images from parameters (notebook 15).

Lecture section 15 «Генерация изображений по параметрам» (generating images from parameters).
Paper: Dosovitskiy, Springenberg & Brox (2015), "Learning to Generate Chairs with Convolutional
Neural Networks" (CVPR); extended in "Learning to Generate Chairs, Tables and Cars with Convolutional
Networks" (TPAMI 2017).

The paper's 1-stream generator (its Fig. 1), scaled down for 64x64 images (:class:`ChairGenerator`)::

    style one-hot c (S)     -> FC -> FC  \\
    view (sin/cos az, el)  -> FC -> FC   > concat -> FC -> FC -> FC -> reshape (C, 8, 8)
    transformation theta    -> FC -> FC  /
    -> [upsample x2, conv 3x3, conv 3x3] x 3  (8 -> 16 -> 32 -> 64, "up-convolutions")
    -> two heads: RGB of the chair (premultiplied by its mask) and the segmentation mask (logits)

Loss (paper's Sec. 3): squared error between the RGB output and the target image times its mask,
plus ``mask_weight`` x the mask loss (binary cross-entropy here).

Transformation parameters ``theta`` (:data:`THETA_NAMES`, each in [-1, 1], 0 = identity): the
training images are transformed on the fly (shift, zoom, brightness, saturation) by :func:`transform`, and the
network receives theta as an input, so it learns to *generate* the transformed image (paper Fig. 7).

Up-convolution (paper Fig. 2) = upsampling followed by a convolution. With the paper's unpooling
(each value into the top-left corner of a 2x2 block of zeros) it is exactly a transposed convolution
with stride 2 (:func:`unpool2d`, :func:`upsampling_demo`); a 3x3 kernel then overlaps unevenly and
leaves checkerboard patterns. Nearest-neighbour upsampling + convolution (the default here) does not.

Trained weights: ``data/weights/chairs_generator.pt``, made by ``python tools/train_chairs_generator.py``
(:data:`FULL_SETTINGS`), loaded by :func:`load_chairs_generator` (``weights_only=True``, sha256 checked).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .chairs import BACKGROUND, CHAIR_SIZE, ChairData
from .checks import check_finite, check_int, check_number, check_positive, device_of, seeded
from .datasets import data_dir
from .models import default_device, load_saved, sha256_of, shipped_file

__all__ = [
    "THETA_NAMES",
    "HOLDOUT_STYLES",
    "HOLDOUT_KEEP_EVERY",
    "CHAIRS_GENERATOR_SHA256",
    "view_code",
    "transform",
    "compose",
    "unpool2d",
    "upsampling_demo",
    "UpConv",
    "ChairGenerator",
    "Generated",
    "style_features",
    "generate",
    "generator_loss",
    "train_generator",
    "evaluate_views",
    "mask_iou",
    "save_generator",
    "load_generator",
    "chairs_generator_path",
    "load_chairs_generator",
    "FULL_SETTINGS",
]

THETA_NAMES = ("shift_x", "shift_y", "zoom", "brightness", "saturation")
"""Transformation parameters, each in [-1, 1] (0 = identity): shift right / up by up to
``MAX_SHIFT`` of the image width, zoom by a factor ``2 ** (ZOOM_OCTAVES * zoom)``, brightness factor
``1 + BRIGHTNESS * brightness``, saturation factor ``1 + SATURATION * saturation`` (-1: grey, +1: twice
as colourful)."""

MAX_SHIFT = 0.15
ZOOM_OCTAVES = 0.5
BRIGHTNESS = 0.5
SATURATION = 1.0

HOLDOUT_STYLES = (2, 6, 11)
"""Styles with most views held out during training (only every :data:`HOLDOUT_KEEP_EVERY`-th
azimuth, i.e. every 40 degrees, is seen); all other styles are seen from all 36 x 3 views."""
HOLDOUT_KEEP_EVERY = 4

CHAIRS_GENERATOR_SHA256 = "e443340ebd4bee8e7d2f63b4624d4f3dfd4e1248d554057f970c2d119b4d53a6"
"""sha256 of ``data/weights/chairs_generator.pt`` (made by ``python tools/train_chairs_generator.py``)."""


# ----------------------------------------------------------------------------------------------------
# inputs and transformations


def view_code(azimuth: Any, elevation: Any) -> torch.Tensor:
    """Angles in degrees (N,) -> the view input (N, 4) = (sin a, cos a, sin e, cos e).

    sin/cos make 0 and 360 degrees the same input, so the network sees the circle of views."""
    a = torch.deg2rad(torch.as_tensor(azimuth, dtype=torch.float32).reshape(-1))
    e = torch.deg2rad(torch.as_tensor(elevation, dtype=torch.float32).reshape(-1))
    if a.shape != e.shape:
        raise ValueError(f"azimuth and elevation must have the same length, got {len(a)} and {len(e)}")
    return torch.stack([a.sin(), a.cos(), e.sin(), e.cos()], dim=1)


def _check_theta(theta: torch.Tensor, n: int) -> torch.Tensor:
    if theta.ndim != 2 or theta.shape != (n, len(THETA_NAMES)):
        raise ValueError(
            f"theta must have shape ({n}, {len(THETA_NAMES)}) = (N, {THETA_NAMES}), got {tuple(theta.shape)}"
        )
    return theta


def transform(fg: torch.Tensor, mask: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply transformation parameters to chair images: what the generator must learn to produce.

    Inputs: ``fg`` (N, 3, H, W) the chair premultiplied by its mask (0 on the background), ``mask``
    (N, 1, H, W) in [0, 1], ``theta`` (N, 5) in [-1, 1] (see :data:`THETA_NAMES`).
    Returns: the transformed ``(fg, mask)``, same shapes. Colour changes act on the chair only; shift
    and zoom move chair and mask together (zoom about the image centre, bilinear resampling).
    """
    if fg.ndim != 4 or fg.shape[1] != 3 or mask.shape != (fg.shape[0], 1, *fg.shape[2:]):
        raise ValueError(f"need fg (N, 3, H, W) and mask (N, 1, H, W), got {tuple(fg.shape)}, {tuple(mask.shape)}")
    theta = _check_theta(torch.as_tensor(theta, dtype=fg.dtype, device=fg.device), fg.shape[0])
    sx, sy, zoom, bright, sat = theta.unbind(1)
    # colour: brightness factor, then saturation around the grey value (both linear: fine on premultiplied RGB)
    out = fg * (1 + BRIGHTNESS * bright)[:, None, None, None]
    grey = out.mean(1, keepdim=True)
    out = grey + (1 + SATURATION * sat)[:, None, None, None] * (out - grey)
    out = torch.minimum(out.clamp_min(0), mask)  # premultiplied colours stay within [0, mask]
    # geometry: output point p samples the input at (p - t) / s (normalized coordinates, y down)
    scale = 2.0 ** (ZOOM_OCTAVES * zoom)
    tx, ty = 2 * MAX_SHIFT * sx, -2 * MAX_SHIFT * sy
    zero = torch.zeros_like(scale)
    affine = torch.stack(
        [torch.stack([1 / scale, zero, -tx / scale], 1), torch.stack([zero, 1 / scale, -ty / scale], 1)], 1
    )
    if bool((theta[:, :3] != 0).any()):
        grid = F.affine_grid(affine, list(fg.shape), align_corners=False)
        both = F.grid_sample(
            torch.cat([out, mask], 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        out, mask = both[:, :3], both[:, 3:]
    return out, mask


def compose(fg: torch.Tensor | np.ndarray, mask: torch.Tensor | np.ndarray, background: Sequence[float] = BACKGROUND):
    """Put a premultiplied chair on a background: ``clip(fg + (1 - mask) * background, 0, 1)``.

    Works on tensors (N, 3, H, W) with masks (N, 1, H, W), or arrays (..., H, W, 3) with (..., H, W)."""
    if isinstance(fg, torch.Tensor):
        bg = torch.as_tensor(background, dtype=fg.dtype, device=fg.device).view(1, 3, 1, 1)
        return (fg + (1 - mask) * bg).clamp(0, 1)
    bg = np.asarray(background, np.float32)
    return np.clip(fg + (1 - np.asarray(mask)[..., None]) * bg, 0, 1)


# ----------------------------------------------------------------------------------------------------
# up-convolution


def unpool2d(x: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """The paper's unpooling: each value goes to the top-left corner of a ``stride`` x ``stride``
    block of zeros. (N, C, H, W) -> (N, C, stride*H, stride*W)."""
    if x.ndim != 4 or stride < 1:
        raise ValueError(f"need (N, C, H, W) and stride >= 1, got {tuple(x.shape)}, stride {stride}")
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, h * stride, w * stride)
    out[:, :, ::stride, ::stride] = x
    return out


def upsampling_demo(x: torch.Tensor, kernel: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """What each kind of 2x "up-convolution" does to one feature map (paper Fig. 2).

    Inputs: ``x`` (H, W) one feature map; ``kernel`` (k, k) with odd k (default 3x3 of ones).
    Returns (2H, 2W) maps: "unpooling" (zeros inserted), "unpooling + conv", "transposed conv"
    (``conv_transpose2d`` with stride 2 and the flipped kernel: identical to the previous one),
    "nearest upsampling", "nearest + conv". With a 3x3 kernel of ones a constant input gives a
    checkerboard (1, 2, 4 overlapping taps) after unpooling + conv, and a constant after nearest + conv.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be one (H, W) feature map, got shape {tuple(x.shape)}")
    kernel = torch.ones(3, 3) if kernel is None else torch.as_tensor(kernel, dtype=torch.float32)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(f"kernel must be (k, k) with odd k, got shape {tuple(kernel.shape)}")
    k = kernel.shape[0]
    x4, w4 = x[None, None], kernel[None, None]
    up0 = unpool2d(x4)
    near = F.interpolate(x4, scale_factor=2, mode="nearest")
    transposed = F.conv_transpose2d(x4, w4.flip(-1, -2), stride=2, padding=k // 2, output_padding=1)
    return {
        "unpooling": up0[0, 0],
        "unpooling + conv": F.conv2d(up0, w4, padding=k // 2)[0, 0],
        "transposed conv": transposed[0, 0],
        "nearest upsampling": near[0, 0],
        "nearest + conv": F.conv2d(near, w4, padding=k // 2)[0, 0],
    }


class UpConv(nn.Module):
    """One up-convolution block: 2x upsampling, conv 3x3 + leaky ReLU, conv 3x3 + leaky ReLU.

    ``upsample``: "nearest" (default) or "unpool" (the paper's zero-inserting unpooling, which makes
    the first conv a stride-2 transposed convolution). (N, c_in, H, W) -> (N, c_out, 2H, 2W).
    """

    def __init__(self, c_in: int, c_out: int, upsample: str = "nearest", norm: bool = False) -> None:
        super().__init__()
        if upsample not in ("nearest", "unpool"):
            raise ValueError(f"upsample must be 'nearest' or 'unpool', got {upsample!r}")
        self.upsample = upsample
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(c_out) if norm else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(c_out) if norm else nn.Identity()
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = unpool2d(x) if self.upsample == "unpool" else F.interpolate(x, scale_factor=2, mode="nearest")
        return self.act(self.norm2(self.conv2(self.act(self.norm1(self.conv1(x))))))


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


class ChairGenerator(nn.Module):
    """The 1-stream up-convolutional generator (paper Fig. 1), small.

    Config: ``n_styles`` S; ``size`` output pixels (``start * 2**k``); ``start`` side of the first
    feature map; ``channels`` of the feature maps from ``start`` upwards (one up-conv block per step,
    so ``size == start * 2**(len(channels) - 1)``); ``style_dim``, ``view_dim``, ``theta_dim`` widths of
    the input streams; ``hidden`` width of the joint FC layers; ``upsample`` "nearest" or "unpool".

    Submodules: ``style_fc`` (S -> style_dim -> style_dim), ``view_fc`` (4 -> ...), ``theta_fc``
    (5 -> ...), ``joint_fc`` (concat -> hidden -> hidden), ``to_maps`` (hidden -> C0 * start**2),
    ``up`` (the up-conv blocks), ``rgb_head`` (C -> 3), ``mask_head`` (C -> 1, logits).
    Forward: ``(style code (N, S), view (N, 4), theta (N, 5)) -> (fg (N, 3, size, size), mask logits
    (N, 1, size, size))``; use :func:`generate` for ids, angles and images.
    """

    def __init__(
        self,
        n_styles: int = 12,
        size: int = CHAIR_SIZE,
        start: int = CHAIR_SIZE // 8,
        channels: Sequence[int] = (64, 64, 32, 16),
        style_dim: int = 128,
        view_dim: int = 64,
        theta_dim: int = 64,
        hidden: int = 256,
        upsample: str = "nearest",
        norm: bool = True,
    ) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if n_styles < 1 or start < 1 or len(channels) < 1 or min(channels) < 1:
            raise ValueError("n_styles, start and channels must be positive")
        if start * 2 ** (len(channels) - 1) != size:
            raise ValueError(f"size {size} != start {start} * 2**{len(channels) - 1} (one up-conv per extra channel)")
        self.config = {
            "n_styles": int(n_styles),
            "size": int(size),
            "start": int(start),
            "channels": channels,
            "style_dim": int(style_dim),
            "view_dim": int(view_dim),
            "theta_dim": int(theta_dim),
            "hidden": int(hidden),
            "upsample": upsample,
            "norm": bool(norm),
        }
        self.style_fc = _mlp([n_styles, style_dim, style_dim])
        self.view_fc = _mlp([4, view_dim, view_dim])
        self.theta_fc = _mlp([len(THETA_NAMES), theta_dim, theta_dim])
        self.joint_fc = _mlp([style_dim + view_dim + theta_dim, hidden, hidden])
        self.to_maps = nn.Sequential(nn.Linear(hidden, channels[0] * start * start), nn.LeakyReLU(0.2))
        self.up = nn.Sequential(*[UpConv(a, b, upsample, norm) for a, b in zip(channels[:-1], channels[1:])])
        self.rgb_head = nn.Conv2d(channels[-1], 3, 3, padding=1)
        self.mask_head = nn.Conv2d(channels[-1], 1, 3, padding=1)

    @property
    def n_styles(self) -> int:
        return self.config["n_styles"]

    def decode(
        self, style_feat: torch.Tensor, view: torch.Tensor, theta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """From the style stream's features (N, style_dim), view (N, 4) and theta (N, 5) to
        ``(fg (N, 3, H, W), mask logits (N, 1, H, W))``."""
        h = torch.cat([style_feat, self.view_fc(view), self.theta_fc(theta)], dim=1)
        h = self.to_maps(self.joint_fc(h))
        c0, s = self.config["channels"][0], self.config["start"]
        x = self.up(h.view(-1, c0, s, s))
        return self.rgb_head(x), self.mask_head(x)

    def forward(
        self, style: torch.Tensor, view: torch.Tensor, theta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decode(self.style_fc(style), view, theta)


# ----------------------------------------------------------------------------------------------------
# generating


def _style_code(net: ChairGenerator, style: Any, n: int | None = None) -> torch.Tensor:
    """Style ids (N,) / a scalar id -> one-hot (N, S); float codes (N, S) or (S,) pass through."""
    S = net.n_styles
    t = style if isinstance(style, torch.Tensor) else torch.as_tensor(np.asarray(style))
    if t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        ids = t.reshape(-1).long()
        if t.ndim > 1:
            raise ValueError(f"style ids must be a scalar or shape (N,), got shape {tuple(t.shape)}")
        bad = ids[(ids < 0) | (ids >= S)]
        if len(bad):
            raise ValueError(f"style id {int(bad[0])} out of range: this generator knows styles 0..{S - 1}")
        code = F.one_hot(ids, S).float()
    elif t.is_floating_point():
        code = check_finite(t.float().reshape(1, -1) if t.ndim == 1 else t.float(), "style code")
        if code.ndim != 2 or code.shape[1] != S:
            raise ValueError(f"a style code must have shape (N, {S}) (one weight per style), got {tuple(t.shape)}")
    else:
        raise ValueError(f"style must be integer ids or float codes, got dtype {t.dtype}")
    if n is not None and len(code) == 1 and n > 1:
        code = code.expand(n, S)
    return code


def _broadcast_inputs(
    net: ChairGenerator, n_style: int, azimuth: Any, elevation: Any, theta: Any
) -> tuple[torch.Tensor, torch.Tensor, int]:
    az = torch.as_tensor(azimuth, dtype=torch.float32).reshape(-1)
    el = torch.as_tensor(elevation, dtype=torch.float32).reshape(-1)
    if not torch.isfinite(az).all() or not torch.isfinite(el).all():
        raise ValueError("azimuth and elevation must be finite numbers (degrees)")
    th = None if theta is None else check_finite(torch.as_tensor(theta, dtype=torch.float32), "theta")
    if th is not None and th.ndim == 1:
        if th.shape != (len(THETA_NAMES),):
            raise ValueError(
                f"theta must have shape ({len(THETA_NAMES)},) or (N, {len(THETA_NAMES)}), got {tuple(th.shape)}"
            )
        th = th[None]
    n_theta = 1 if th is None else len(th)
    n = max(n_style, len(az), len(el), n_theta)
    for name, length in (("style", n_style), ("azimuth", len(az)), ("elevation", len(el)), ("theta", n_theta)):
        if length not in (1, n):
            raise ValueError(f"{name} has {length} entries, expected 1 or {n} (inputs are broadcast)")
    view = view_code(az.expand(n) if len(az) == 1 else az, el.expand(n) if len(el) == 1 else el)
    if th is None:
        th = torch.zeros(n, len(THETA_NAMES))
    else:
        th = _check_theta(th.expand(n, -1) if len(th) == 1 else th, n)
    return view, th, n


@dataclass
class Generated:
    """Generated chairs: ``images`` (N, H, W, 3) composited on the background, ``masks`` (N, H, W)
    in [0, 1], ``fg`` (N, H, W, 3) the premultiplied RGB output; numpy float32 on the CPU."""

    images: np.ndarray
    masks: np.ndarray
    fg: np.ndarray


def style_features(net: ChairGenerator, style: Any) -> torch.Tensor:
    """Output of the style stream (its two FC layers), (N, style_dim): the feature space in which
    the notebook does arithmetic (paper Fig. 16). ``style``: ids (N,) or codes (N, S)."""
    if not isinstance(net, ChairGenerator):
        raise TypeError(f"expected a ChairGenerator, got {type(net).__name__}")
    code = _style_code(net, style).to(device_of(net))
    with torch.no_grad():
        return net.style_fc(code)


@torch.no_grad()
def generate(
    net: ChairGenerator,
    style: Any = None,
    azimuth: Any = 30.0,
    elevation: Any = 20.0,
    theta: Any = None,
    features: torch.Tensor | None = None,
    background: Sequence[float] = BACKGROUND,
    batch_size: int = 256,
) -> Generated:
    """Generate chairs (eval mode, one forward pass per batch).

    Inputs (broadcast to a common N): ``style`` ids (N,) or an int, or float codes (N, S) -- e.g. a
    mix ``(1 - t) * onehot(A) + t * onehot(B)``; or instead ``features`` (N, style_dim) of the style
    stream (see :func:`style_features`); ``azimuth``, ``elevation`` degrees, scalars or (N,);
    ``theta`` None (identity), (5,) or (N, 5). Returns a :class:`Generated`.
    """
    if not isinstance(net, ChairGenerator):
        raise TypeError(f"expected a ChairGenerator, got {type(net).__name__}")
    if (style is None) == (features is None):
        raise ValueError("give exactly one of style (ids or codes) and features")
    device = device_of(net)
    if features is not None:
        feat = check_finite(torch.as_tensor(features, dtype=torch.float32), "features")
        if feat.ndim == 1:
            feat = feat[None]
        if feat.ndim != 2 or feat.shape[1] != net.config["style_dim"]:
            raise ValueError(f"features must have shape (N, {net.config['style_dim']}), got {tuple(feat.shape)}")
        view, th, n = _broadcast_inputs(net, len(feat), azimuth, elevation, theta)
        feat = feat.expand(n, -1) if len(feat) == 1 else feat
        code = None
    else:
        code = _style_code(net, style)
        view, th, n = _broadcast_inputs(net, len(code), azimuth, elevation, theta)
        code = code.expand(n, -1) if len(code) == 1 else code
    was_training = net.training
    net.eval()
    fgs, masks = [], []
    try:
        for i in range(0, n, batch_size):
            sl = slice(i, i + batch_size)
            v, t = view[sl].to(device), th[sl].to(device)
            f = net.style_fc(code[sl].to(device)) if code is not None else feat[sl].to(device)
            fg, logit = net.decode(f, v, t)
            fgs.append(fg.clamp(0, 1).cpu())
            masks.append(torch.sigmoid(logit).cpu())
    finally:
        net.train(was_training)
    fg = torch.cat(fgs)
    mask = torch.cat(masks)
    img = compose(fg, mask, background)
    return Generated(img.permute(0, 2, 3, 1).numpy(), mask[:, 0].numpy(), fg.permute(0, 2, 3, 1).numpy())


# ----------------------------------------------------------------------------------------------------
# training


def generator_loss(
    net: ChairGenerator,
    style: torch.Tensor,
    view: torch.Tensor,
    theta: torch.Tensor,
    fg: torch.Tensor,
    mask: torch.Tensor,
    mask_weight: float = 0.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The paper's loss for one batch: squared error of the RGB output against the target image
    times its mask (``fg``, (N, 3, H, W)), plus ``mask_weight`` x binary cross-entropy of the mask
    logits against ``mask`` (N, 1, H, W). Returns (loss, {"rgb": ..., "mask": ...})."""
    out_fg, logit = net(style, view, theta)
    rgb = F.mse_loss(out_fg, fg)
    seg = F.binary_cross_entropy_with_logits(logit, mask)
    return rgb + mask_weight * seg, {"rgb": float(rgb.detach()), "mask": float(seg.detach())}


def _sample_theta(n: int, prob: float, gen: torch.Generator) -> torch.Tensor:
    """Random theta (n, 5): each parameter independently non-zero with probability ``prob``,
    then uniform in [-1, 1]."""
    on = torch.rand(n, len(THETA_NAMES), generator=gen) < prob
    return torch.where(on, torch.rand(n, len(THETA_NAMES), generator=gen) * 2 - 1, torch.zeros(()))


def train_generator(
    data: ChairData,
    train: np.ndarray | None = None,
    config: dict[str, Any] | None = None,
    steps: int = 2000,
    batch_size: int = 48,
    lr: float = 4e-3,
    theta_prob: float = 0.1,
    mask_weight: float = 0.2,
    seed: int = 0,
    device: str | torch.device | None = None,
    log_every: int = 10,
    callback: Callable[[int, ChairGenerator], None] | None = None,
    progress: bool = True,
) -> tuple[ChairGenerator, list[float]]:
    """Train a :class:`ChairGenerator` on rendered chairs with random transformations (Adam, cosine
    learning rate, seeded: the same arguments on the same machine give the same weights).

    Inputs: ``data`` from :func:`lecture_utils.chairs.make_dataset`; ``train`` boolean (N,) mask of the
    training images (default: all); ``config`` keyword arguments of :class:`ChairGenerator` (``size``
    and ``n_styles`` are taken from the data); ``theta_prob`` how often each transformation parameter
    is switched on; ``device`` default CUDA when present, else CPU; ``callback(step, net)`` every
    ``log_every`` steps.
    Returns ``(net in eval mode, history)``: the mean loss over each block of ``log_every`` steps.
    """
    steps, batch_size = check_int(steps, "steps", low=1), check_int(batch_size, "batch_size", low=1)
    lr, log_every = check_positive(lr, "lr"), check_int(log_every, "log_every", low=1)
    theta_prob = check_number(theta_prob, "theta_prob", low=0.0, high=1.0)
    mask_weight = check_number(mask_weight, "mask_weight", low=0.0)
    train = _train_mask(data, train)
    cfg = _generator_config(data, config)
    device = torch.device(device) if device is not None else default_device()
    from tqdm import tqdm

    with seeded(seed, [device]):  # the weights' initialization: global generators, forked
        net = ChairGenerator(**cfg).to(device)
        gen = torch.Generator().manual_seed(seed)
        batches = _TrainingSet(data, np.flatnonzero(train), cfg["n_styles"], device)
        opt, sched = _adam_warm_cosine(net, lr, steps)
        history: list[float] = []
        running = 0.0
        net.train()
        bar = tqdm(total=steps, desc="training the generator", disable=not progress, mininterval=5.0)
        for step in range(1, steps + 1):
            code, view, theta, fg, mask = batches.sample(batch_size, theta_prob, gen)
            loss, _ = generator_loss(net, code, view, theta, fg, mask, mask_weight)
            if not bool(torch.isfinite(loss.detach())):
                raise ValueError(f"the training loss is {float(loss)} at step {step}: lower lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach())
            bar.update(1)
            if step % log_every == 0 or step == steps:
                history.append(running / (step % log_every or log_every))
                running = 0.0
                bar.set_postfix(loss=f"{history[-1]:.4f}")
                if callback is not None:
                    net.eval()
                    callback(step, net)
                    net.train()
        bar.close()
    return net.eval(), history


def _adam_warm_cosine(net: nn.Module, lr: float, steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """Adam with a linear warm-up over the first 5% of ``steps``, then a cosine decay to 0."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))
    )
    return opt, sched


def _train_mask(data: ChairData, train: np.ndarray | None) -> np.ndarray:
    """The boolean (N,) training mask (default: all images), checked."""
    train = np.ones(len(data), bool) if train is None else np.asarray(train)
    if train.dtype != bool or train.shape != (len(data),):
        raise ValueError(f"train must be a boolean mask of shape ({len(data)},), got {train.dtype} {train.shape}")
    if not train.any():
        raise ValueError("the training mask selects no image")
    return train


def _generator_config(data: ChairData, config: dict[str, Any] | None) -> dict[str, Any]:
    """:class:`ChairGenerator` keyword arguments: ``config`` with ``size``, ``n_styles`` (and
    ``start``, unless given) taken from the data."""
    cfg = dict(config or {})
    cfg["size"], cfg["n_styles"] = data.size, len(data.names)
    if "start" not in cfg:
        n_up = len(cfg.get("channels", (64, 64, 32, 16))) - 1
        if data.size % 2**n_up:
            raise ValueError(f"image size {data.size} is not divisible by 2**{n_up}; pass config['start']")
        cfg["start"] = data.size // 2**n_up
    return cfg


class _TrainingSet:
    """The training images on ``device`` as tensors, and random transformed batches of them."""

    def __init__(self, data: ChairData, idx: np.ndarray, n_styles: int, device: torch.device) -> None:
        self.n, self.device = len(idx), device
        self.fg = torch.from_numpy(data.foreground()[idx]).permute(0, 3, 1, 2).contiguous().to(device)
        self.mask = torch.from_numpy(data.masks[idx])[:, None].contiguous().to(device)
        self.code = F.one_hot(torch.from_numpy(data.style[idx]), n_styles).float().to(device)
        self.view = view_code(data.azimuth[idx], data.elevation[idx]).to(device)

    def sample(self, batch_size: int, theta_prob: float, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        """``(code, view, theta, fg, mask)`` of ``batch_size`` random images, transformed by theta."""
        b = torch.randint(self.n, (batch_size,), generator=gen).to(self.device)
        theta = _sample_theta(batch_size, theta_prob, gen).to(self.device)
        fg, mask = transform(self.fg[b], self.mask[b], theta)
        return self.code[b], self.view[b], theta, fg, mask


# ----------------------------------------------------------------------------------------------------
# evaluation


def mask_iou(pred: np.ndarray, true: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Intersection over union of thresholded masks, per image: (N, H, W) x 2 -> (N,)."""
    p, t = np.asarray(pred) > threshold, np.asarray(true) > threshold
    if p.shape != t.shape:
        raise ValueError(f"mask shapes differ: {p.shape} vs {t.shape}")
    axes = tuple(range(1, p.ndim))
    inter, union = (p & t).sum(axes), (p | t).sum(axes)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).reshape(len(a), -1).mean(1)


def evaluate_views(net: ChairGenerator, data: ChairData, test: np.ndarray, train: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image squared error (mean over pixels and channels) of the generator and of three
    baselines on the images ``test`` (boolean (N,) or indices), given the ``train`` mask:

    - "generator": the generated view vs the rendered ground truth;
    - "nearest seen view": the closest azimuth of the same chair and elevation that was in training;
    - "other chairs, same view": the best of all *other* styles' renderings of the same view;
    - "mean training image": the average training image.

    Also "mask IoU" of the generated mask (threshold 0.5). Arrays of shape (n_test,).
    """
    test_idx = np.flatnonzero(test) if np.asarray(test).dtype == bool else np.asarray(test, int)
    train = np.asarray(train, bool)
    out = generate(net, data.style[test_idx], data.azimuth[test_idx], data.elevation[test_idx])
    truth = data.images[test_idx]
    mean_img = data.images[train].mean(0, keepdims=True)
    nearest, others = [], []
    for i in test_idx:
        same = np.flatnonzero(train & (data.style == data.style[i]) & np.isclose(data.elevation, data.elevation[i]))
        if len(same):
            d = np.abs((data.azimuth[same] - data.azimuth[i] + 180) % 360 - 180)
            nearest.append(_mse(data.images[same[np.argmin(d)]][None], data.images[i][None])[0])
        else:
            nearest.append(np.nan)
        view = np.flatnonzero(
            (data.style != data.style[i])
            & np.isclose(data.azimuth, data.azimuth[i])
            & np.isclose(data.elevation, data.elevation[i])
        )
        others.append(
            _mse(data.images[view], np.repeat(data.images[i][None], len(view), 0)).min() if len(view) else np.nan
        )
    return {
        "generator": _mse(out.images, truth),
        "nearest seen view": np.asarray(nearest),
        "other chairs, same view": np.asarray(others),
        "mean training image": _mse(np.repeat(mean_img, len(test_idx), 0), truth),
        "mask IoU": mask_iou(out.masks, data.masks[test_idx]),
    }


# ----------------------------------------------------------------------------------------------------
# weights


def chairs_generator_path() -> Path:
    """Where the trained generator ships: ``data/weights/chairs_generator.pt``."""
    return data_dir() / "weights" / "chairs_generator.pt"


def save_generator(net: ChairGenerator, path: str | Path, meta: dict[str, Any] | None = None) -> str:
    """Save ``{"config", "state_dict", "meta"}`` with ``torch.save``; returns the file's sha256.
    ``meta`` (training settings, loss history) must hold plain numbers, strings, lists and dicts."""
    if not isinstance(net, ChairGenerator):
        raise TypeError(f"save_generator saves a ChairGenerator, got {type(net).__name__}")
    try:  # plain JSON types only, so that torch.load(weights_only=True) accepts the file
        meta = json.loads(json.dumps(dict(meta or {})))
    except TypeError as e:
        raise TypeError(f"meta must hold plain numbers, strings, lists and dicts: {e}") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    torch.save({"config": dict(net.config), "state_dict": state, "meta": meta}, path)
    return sha256_of(path)


def load_generator(path: str | Path, sha256: str | None = None, device: str | torch.device = "cpu") -> ChairGenerator:
    """Load a generator saved by :func:`save_generator` (``weights_only=True``), in eval mode;
    its training metadata is in ``net.meta``. ``sha256``: when given, the file's checksum must match,
    else :class:`~lecture_utils.models.WeightsError`."""
    net, blob = load_saved(ChairGenerator, path, sha256, device)
    net.meta = blob.get("meta", {})
    return net


def load_chairs_generator(device: str | torch.device = "cpu") -> ChairGenerator:
    """The generator shipped with the course (checksum verified); made by ``tools/train_chairs_generator.py``."""
    how = "; regenerate it with `python tools/train_chairs_generator.py` (see data/README.md)"
    path = shipped_file(chairs_generator_path(), how)
    return load_generator(path, sha256=CHAIRS_GENERATOR_SHA256, device=device)


# ----------------------------------------------------------------------------------------------------
# the training script

FULL_SETTINGS: dict[str, Any] = {"steps": 2000, "batch_size": 48, "lr": 4e-3, "theta_prob": 0.1, "seed": 0}
"""Settings of the shipped weights (``python tools/train_chairs_generator.py``)."""
