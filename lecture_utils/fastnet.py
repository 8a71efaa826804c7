"""Feed-forward stylization: a network that stylizes a photo in one forward pass (lectures 19, 21).

Lecture 19 («Быстрая стилизация»):

- Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and
  Super-Resolution": an *image transformation network* (:class:`TransformNet`) is trained once per
  style with the *perceptual loss* of a fixed *loss network* (VGG19, :class:`PerceptualLoss`): the
  content error of Gatys et al. at ``relu2_2`` against the input photo plus the Gram (style) error at
  ``relu1_1 .. relu4_1`` against the painting. After training, stylizing is one forward pass
  instead of hundreds of optimization steps.
- Ulyanov, Lebedev, Vedaldi & Lempitsky 2016, "Texture Networks: Feed-forward Synthesis of
  Textures and Stylized Images": a multi-scale generator (:class:`TextureNet`) turns noise into a
  texture; trained with the Gram loss only, every noise sample gives a new texture patch.

Lecture 21 («Нормализация по экземпляру»): Ulyanov, Vedaldi & Lempitsky 2016, "Instance
Normalization: The Missing Ingredient for Fast Stylization" -- the same network with
``norm="instance"`` instead of ``norm="batch"`` (:func:`instance_norm` writes it out).

Images are RGB in [0, 1], (B, 3, H, W); the transformation network needs sides that are
multiples of 4 (two stride-2 convolutions, two x2 upsamplings). Trained weights ship in
``data/weights/stylizer_<painting>.pt`` and ``data/weights/texture_<painting>.pt``
(:func:`load_stylizer`, :func:`load_texture_net`; sha256-checked, ``weights_only=True``).

The losses are :mod:`lecture_utils.losses` (the same relative errors as lectures 16-18). Training
is seeded and leaves the caller's random generators as they were. The command line that made the
committed weights is ``tools/train_fastnet.py`` (see ``data/README.md``)::

    python tools/train_fastnet.py --style vangogh_starry_night --out stylizer_vangogh_starry_night.pt
    python tools/train_fastnet.py --texture vangogh_starry_night --out texture_vangogh_starry_night.pt
"""

from __future__ import annotations

import copy
import difflib
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from . import models as _models
from .checks import (
    check_choice,
    check_finite,
    check_int,
    check_non_negative,
    check_number,
    check_positive,
    device_of,
    seeded,
)
from .losses import PerceptualLoss, _check_vgg19, _vgg_index
from .models import WeightsError, ZooModel, load_checked, sha256_of, shipped_file

__all__ = [
    "CONTENT_LAYER",
    "STYLE_LAYERS",
    "TEXTURE_LAYERS",
    "TRAIN_PHOTOS",
    "HELD_OUT_PHOTO",
    "STYLIZER_SHA256",
    "TEXTURE_SHA256",
    "instance_norm",
    "ConvBlock",
    "ResidualBlock",
    "TransformNet",
    "TextureNet",
    "PerceptualLoss",
    "PhotoCrops",
    "to_input",
    "stylize",
    "layer_table",
    "loss_table",
    "train_stylizer",
    "train_texture_net",
    "save_net",
    "load_net",
    "load_stylizer",
    "load_texture_net",
    "available_stylizers",
    "stylizer_path",
]

CONTENT_LAYER = "relu2_2"
"""Johnson et al. take the content (feature reconstruction) loss at relu2_2 of the loss network."""
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
"""Gram (style reconstruction) loss layers of the transformation network's training."""
TEXTURE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
"""Gatys et al.'s texture layers, used by Ulyanov et al.'s texture network."""

TRAIN_PHOTOS: tuple[str, ...] = ("chelsea", "coffee", "rocket", "china", "flower", "grace_hopper")
"""The photos whose random crops train the stylizers (all offline sample photos but one)."""
HELD_OUT_PHOTO = "astronaut"
"""Never seen in training: shows that the network generalizes beyond its training photos."""

# sha256 of the committed weight files data/weights/stylizer_<painting>.pt (trained on an H100 with
# the command line below; see data/README.md for the exact settings)
STYLIZER_SHA256: dict[str, str] = {
    "vangogh_starry_night": "91c07066376cf9a16d0aca41bc85706d11cdbe72156b77ed74c3d3701da47f8a",
    "munch_the_scream": "aa0bf17db0814f8984e75341a46fe3c9c1e820c6054b587bd4e0cff676b40f6f",
    "hokusai_great_wave": "49d1c85662699a7651a73dd8f96c76e3e1700552fff453144aff9c09f990e86c",
}
# sha256 of data/weights/texture_<painting>.pt
TEXTURE_SHA256: dict[str, str] = {
    "vangogh_starry_night": "bd1feef58c2ce0d454b7fb722aba13ab5f97028ec9f8772e8dd2eb2755baf161",
}

NORMS = ("instance", "batch")
_FINITE_HINT = "replace the NaN/inf pixels (e.g. torch.nan_to_num) or reload the image"


# --------------------------------------------------------------------------- the networks


def instance_norm(
    x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, eps: float = 1e-5
):
    """Instance normalization written out (Ulyanov et al. 2016, eq. 2): every channel of every
    image is normalized by its *own* spatial mean and variance,
    ``y[b, c] = (x[b, c] - mean_hw x[b, c]) / sqrt(var_hw x[b, c] + eps) * weight[c] + bias[c]``.

    Batch normalization would take the mean and variance over ``b`` too (over the batch in
    training, running averages at test time). Inputs: ``x`` (B, C, H, W); ``weight``, ``bias`` (C,)
    or None. Returns: (B, C, H, W). Equals ``torch.nn.InstanceNorm2d(C, affine=True)``.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a (B, C, H, W) tensor, got {getattr(x, 'shape', x)!r}")
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    y = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight.view(1, -1, 1, 1)
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class ConvBlock(nn.Module):
    """[nearest x``upsample``] -> reflect pad -> conv ``k``x``k`` / ``stride`` -> [norm] -> [ReLU].

    Johnson et al. upsample with fractionally strided convolutions; nearest upsampling followed by
    a convolution does the same job without checkerboard artifacts (Odena, Dumoulin & Olah 2016).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        k: int,
        stride: int = 1,
        upsample: int = 1,
        norm: str | None = "instance",
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(k // 2)
        self.conv = nn.Conv2d(c_in, c_out, k, stride=stride)
        self.norm = _norm(norm, c_out) if norm else nn.Identity()
        self.relu = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.relu(self.norm(self.conv(self.pad(x))))


class ResidualBlock(nn.Module):
    """``x + norm(conv(relu(norm(conv(x)))))`` with 3x3 convolutions (Johnson et al., supplement)."""

    def __init__(self, channels: int, norm: str = "instance") -> None:
        super().__init__()
        self.block1 = ConvBlock(channels, channels, 3, norm=norm)
        self.block2 = ConvBlock(channels, channels, 3, norm=norm, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block2(self.block1(x))


class TransformNet(nn.Module):
    """The image transformation network of Johnson et al. 2016 (their Fig. 2, left), narrower.

    Layers (named children, usable with ``hooks.record``)::

        down1  9x9 conv, stride 1   3 -> w0         H x W
        down2  3x3 conv, stride 2   w0 -> w1        H/2
        down3  3x3 conv, stride 2   w1 -> w2        H/4
        res1 .. resN  residual blocks (two 3x3 convs), w2
        up1    nearest x2 + 3x3 conv  w2 -> w1      H/2
        up2    nearest x2 + 3x3 conv  w1 -> w0      H
        out    9x9 conv  w0 -> 3, then a sigmoid     H x W, RGB in [0, 1]

    Every convolution but the last is followed by a normalization (``norm``: ``"instance"`` or
    ``"batch"``) and a ReLU; reflect padding everywhere. Johnson et al. use ``width=(32, 64, 128)``;
    the default (16, 32, 64) has 4x fewer weights (~0.4 M, a 1.7 MB file).
    Inputs: (B, 3, H, W) in [0, 1], H and W multiples of 4. Returns: (B, 3, H, W) in [0, 1].
    """

    def __init__(self, width: Sequence[int] = (16, 32, 64), n_res: int = 5, norm: str = "instance") -> None:
        super().__init__()
        if not isinstance(width, (list, tuple)) or len(width) != 3:
            raise ValueError(f"width must be three channel counts >= 1, e.g. (16, 32, 64), got {width!r}")
        width = tuple(check_int(w, "each width", low=1) for w in width)
        n_res = check_int(n_res, "n_res", low=0)
        norm = check_choice(norm, "norm", NORMS)
        w0, w1, w2 = width
        self.config: dict[str, Any] = {"width": list(width), "n_res": n_res, "norm": norm}
        self.down1 = ConvBlock(3, w0, 9, norm=norm)
        self.down2 = ConvBlock(w0, w1, 3, stride=2, norm=norm)
        self.down3 = ConvBlock(w1, w2, 3, stride=2, norm=norm)
        for i in range(1, n_res + 1):
            self.add_module(f"res{i}", ResidualBlock(w2, norm=norm))
        self.up1 = ConvBlock(w2, w1, 3, upsample=2, norm=norm)
        self.up2 = ConvBlock(w1, w0, 3, upsample=2, norm=norm)
        self.out = ConvBlock(w0, 3, 9, norm=None, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x)
        for module in self.children():
            x = module(x)
        return torch.sigmoid(x)


def check_input(x: torch.Tensor, multiple: int = 4, name: str = "x") -> None:
    """Raise ``ValueError`` unless ``x`` is a float (B, 3, H, W) tensor with H, W multiples of ``multiple``."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be an RGB batch (B, 3, H, W) in [0, 1], got {getattr(x, 'shape', x)!r}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got {x.dtype}")
    h, w = x.shape[-2:]
    if h % multiple or w % multiple or min(h, w) < multiple:
        raise ValueError(
            f"the image is {h}x{w}: both sides must be multiples of {multiple} (the network halves the size "
            f"twice and doubles it twice); use fastnet.to_input(image, size) to resize"
        )


class TextureNet(nn.Module):
    """Ulyanov et al.'s multi-scale texture generator (Texture Networks 2016, Fig. 2), small.

    ``scales`` noise images z_1 (full size) .. z_K (1/2^(K-1) size), 3 channels each. Each goes
    through a conv block (3x3, 3x3, 1x1 convs with ``channels`` filters); starting from the coarsest,
    the running result is upsampled x2 (nearest), normalized and concatenated with the next finer
    block's output, then mixed by another conv block. A final 1x1 conv and a sigmoid give RGB.
    Inputs to :meth:`forward`: the list of noise tensors; :meth:`sample` draws them.
    Output: (B, 3, H, W) in [0, 1]; H, W multiples of 2^(K-1).
    """

    def __init__(self, scales: int = 5, channels: int = 8, norm: str = "batch") -> None:
        super().__init__()
        scales = check_int(scales, "scales", low=1, high=7)
        channels = check_int(channels, "channels", low=1)
        norm = check_choice(norm, "norm", NORMS)
        self.config: dict[str, Any] = {"scales": scales, "channels": channels, "norm": norm}
        self.scales = scales

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.ReflectionPad2d(1),
                nn.Conv2d(c_in, c_out, 3),
                _norm(norm, c_out),
                nn.LeakyReLU(0.2),
                nn.ReflectionPad2d(1),
                nn.Conv2d(c_out, c_out, 3),
                _norm(norm, c_out),
                nn.LeakyReLU(0.2),
                nn.Conv2d(c_out, c_out, 1),
                _norm(norm, c_out),
                nn.LeakyReLU(0.2),
            )

        # noise blocks, finest (0) to coarsest (K-1); join blocks mix [upsampled coarse, fine]
        self.noise_blocks = nn.ModuleList(block(3, channels) for _ in range(scales))
        self.up_norms = nn.ModuleList()
        self.join_blocks = nn.ModuleList()
        c = channels
        for _ in range(scales - 1):
            self.up_norms.append(_norm(norm, c))
            self.join_blocks.append(block(c + channels, c + channels))
            c += channels
        self.to_rgb = nn.Conv2d(c, 3, 1)

    @property
    def multiple(self) -> int:
        return 2 ** (self.scales - 1)

    def noise(self, n: int, size: int | tuple[int, int], seed: int | None = None, device: Any = None):
        """The noise pyramid: ``scales`` tensors (n, 3, H / 2^k, W / 2^k), uniform in [0, 1)."""
        h, w = (size, size) if isinstance(size, int) else size
        m = self.multiple
        if h % m or w % m or min(h, w) < m:
            raise ValueError(f"size {h}x{w}: both sides must be positive multiples of {m} (2^(scales-1))")
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        zs = [torch.rand(n, 3, h >> k, w >> k, generator=g) for k in range(self.scales)]
        device = device if device is not None else device_of(self)
        return [z.to(device) for z in zs]

    def forward(self, noise: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(noise) != self.scales:
            raise ValueError(f"expected {self.scales} noise tensors (one per scale), got {len(noise)}")
        x = self.noise_blocks[-1](noise[-1])
        for k in range(self.scales - 2, -1, -1):
            j = self.scales - 2 - k
            up = self.up_norms[j](F.interpolate(x, scale_factor=2, mode="nearest"))
            x = self.join_blocks[j](torch.cat([up, self.noise_blocks[k](noise[k])], 1))
        return torch.sigmoid(self.to_rgb(x))

    @torch.no_grad()
    def sample(self, n: int = 1, size: int | tuple[int, int] = 128, seed: int = 0) -> torch.Tensor:
        """``n`` textures (n, 3, H, W) in [0, 1] from fresh noise (eval mode, no gradient)."""
        was = self.training
        self.eval()
        try:
            return self(self.noise(n, size, seed)).cpu()
        finally:
            self.train(was)


# --------------------------------------------------------------------------- images in and out


def _to_rgb_tensor(image: Any) -> torch.Tensor:
    from .models import _to_float_rgb

    return _to_float_rgb(image)


def to_input(image: Any, size: int | None = 256, multiple: int = 4, crop: bool = False) -> torch.Tensor:
    """A PIL image / (H, W, 3) array / (3, H, W) or (1, 3, H, W) tensor in [0, 1] -> (1, 3, H', W')
    in [0, 1] whose *longer* side is about ``size`` (None keeps the size) and both sides are
    multiples of ``multiple`` (aspect ratio kept, bilinear with antialiasing). ``crop``: first cut
    the central square."""
    x = _to_rgb_tensor(image)
    if x.shape[0] != 1:
        raise ValueError(f"to_input takes one image, got a batch of {x.shape[0]}")
    if size is not None:
        size = check_int(size, "size", low=multiple)
    h, w = x.shape[-2:]
    if crop:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[..., top : top + side, left : left + side]
        h, w = side, side
    s = 1.0 if size is None else size / max(h, w)
    nh = max(multiple, int(round(h * s / multiple)) * multiple)
    nw = max(multiple, int(round(w * s / multiple)) * multiple)
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0, 1)


@torch.no_grad()
def stylize(net: nn.Module, image: Any, size: int | None = 256) -> np.ndarray:
    """One forward pass: ``image`` (anything :func:`to_input` takes) -> stylized (H, W, 3) array in [0, 1].

    The net is run in eval mode on its own device and left in the mode it was in.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a trained network (fastnet.load_stylizer(name)), got {type(net).__name__}")
    x = check_finite(to_input(image, size), "image", _FINITE_HINT)
    device = device_of(net)
    was = net.training
    net.eval()
    try:
        y = net(x.to(device))
    finally:
        net.train(was)
    return y[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy()


@torch.no_grad()
def layer_table(net: nn.Module, size: int | tuple[int, int] = 256) -> list[dict[str, Any]]:
    """One row per named child of ``net`` for an input of ``size``: ``{"layer", "kind", "output"
    (C, H, W), "params"}`` -- computed by a forward pass (the network's diagram as a table)."""
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device_of(net))
    rows = [{"layer": "input", "kind": "RGB image", "output": tuple(x.shape[1:]), "params": 0}]
    was = net.training
    net.eval()
    try:
        for name, module in net.named_children():
            x = module(x)
            rows.append(
                {
                    "layer": name,
                    "kind": _describe(module),
                    "output": tuple(x.shape[1:]),
                    "params": sum(p.numel() for p in module.parameters()),
                }
            )
    finally:
        net.train(was)
    return rows


@torch.no_grad()
def loss_table(vgg: ZooModel, size: int | tuple[int, int] = 256, upto: str = "relu4_1") -> list[dict[str, Any]]:
    """The ReLU layers of the VGG19 loss network up to ``upto``: ``{"layer", "output" (C, H, W)}``
    for an input of ``size`` (a forward pass on a copy-free walk through ``vgg.net``'s children)."""
    _check_vgg19(vgg, "loss_table")
    _vgg_index(vgg, upto)
    h, w = (size, size) if isinstance(size, int) else size
    x = vgg.normalize(torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(vgg.device))
    rows = []
    for name, module in vgg.net.named_children():
        x = module(x)
        if name.startswith("relu"):
            rows.append({"layer": name, "output": tuple(x.shape[1:])})
        if name == upto:
            break
    return rows


def _describe(m: nn.Module) -> str:
    if isinstance(m, ResidualBlock):
        c = m.block1.conv
        return f"residual block, 2 x conv 3x3 {c.in_channels}->{c.out_channels}"
    if isinstance(m, ConvBlock):
        c = m.conv
        k, s = c.kernel_size[0], c.stride[0]
        up = "nearest x2 + " if m.upsample > 1 else ""
        norm = {nn.InstanceNorm2d: " + IN", nn.BatchNorm2d: " + BN"}.get(type(m.norm), "")
        relu = " + ReLU" if isinstance(m.relu, nn.ReLU) else " + sigmoid"
        return f"{up}conv {k}x{k}/{s} {c.in_channels}->{c.out_channels}{norm}{relu}"
    return type(m).__name__


# --------------------------------------------------------------------------- training


class PhotoCrops:
    """Random training crops of photos: a square of side ``uniform(min_scale, 1)`` x the shorter
    side at a random place, resized to ``size``, flipped left-right with probability 1/2.

    ``photos``: sample names (``images.load_image``), loaded once at ``max_side`` pixels and kept
    on ``device``. :meth:`batch` draws (n, 3, size, size) in [0, 1] with the generator ``seed``.
    """

    def __init__(
        self,
        photos: Sequence[str] = TRAIN_PHOTOS,
        size: int = 256,
        min_scale: float = 0.35,
        max_side: int = 512,
        seed: int = 0,
        device: Any = "cpu",
    ) -> None:
        from .images import load_image

        if isinstance(photos, str):
            photos = [photos]
        if not photos:
            raise ValueError("give at least one photo")
        min_scale = check_number(min_scale, "min_scale", low=0.0, high=1.0, strict_low=True)
        self.size, self.min_scale = int(size), float(min_scale)
        self.images = [_to_rgb_tensor(load_image(p, max_size=max_side)).to(device) for p in photos]
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        out = []
        for _ in range(n):
            img = self.images[self.rng.integers(len(self.images))]
            h, w = img.shape[-2:]
            side = max(8, int(min(h, w) * self.rng.uniform(self.min_scale, 1.0)))
            top, left = self.rng.integers(0, h - side + 1), self.rng.integers(0, w - side + 1)
            crop = img[..., top : top + side, left : left + side]
            crop = F.interpolate(
                crop, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True
            )
            out.append(crop.flip(-1) if self.rng.random() < 0.5 else crop)
        return torch.cat(out).clamp(0, 1)


def _style_image(style: str | Any, size: int) -> torch.Tensor:
    from .images import load_image

    img = load_image(style) if isinstance(style, (str, Path)) else style
    x = _to_rgb_tensor(img)
    h, w = x.shape[-2:]
    s = size / min(h, w)
    return F.interpolate(
        x, size=(max(8, round(h * s)), max(8, round(w * s))), mode="bilinear", align_corners=False, antialias=True
    ).clamp(0, 1)


def _device(device: Any) -> torch.device:
    return torch.device(device) if device is not None else _models.default_device()


def _check_style_name(style: Any, what: str = "style") -> None:
    """A painting name must be a sample name or a file (``ValueError`` with close names)."""
    if isinstance(style, str):
        from .images import sample_names

        if style not in sample_names("all") and not Path(style).is_file():
            close = difflib.get_close_matches(style, sample_names("paintings"), n=3, cutoff=0.4)
            raise ValueError(f"unknown {what} {style!r}; paintings: {', '.join(close or sample_names('paintings'))}")


def _check_stylizer_args(style: Any, steps: Any, size: Any, batch: Any, lr: Any, noise: Any, **weights: Any) -> None:
    """Every check of :func:`train_stylizer`, before any work (the policy of ``lecture_utils.checks``)."""
    check_int(steps, "steps", low=1)
    check_int(batch, "batch", low=1)
    if check_int(size, "size", low=16) % 4:
        raise ValueError(f"size must be a multiple of 4 and >= 16 (the network halves it twice), got {size}")
    check_positive(lr, "lr")
    for name, v in weights.items():
        check_non_negative(v, name)
    if check_number(noise, "noise", low=0.0) >= 1:
        raise ValueError(f"noise must be in [0, 1) (the largest noise standard deviation), got {noise!r}")
    _check_style_name(style)


def _loss_network(
    vgg: ZooModel | None, device: torch.device, style: Any, size: int, content_layer: str | None, layers: Sequence[str]
) -> PerceptualLoss:
    """The frozen VGG19 loss network on ``device`` with the Gram targets of ``style`` at ``size`` px."""
    vgg = vgg if vgg is not None else _models.load_model("vgg19", device=device)
    loss_net = PerceptualLoss(vgg, None, content_layer, layers).to(device)
    loss_net.set_style(_style_image(style, size).to(device))
    return loss_net


def _update(opt: torch.optim.Optimizer, loss: torch.Tensor, sched: Any = None) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()


def _fit(
    net: nn.Module, step: Any, steps: int, max_seconds: float | None, progress: bool, desc: str
) -> tuple[list, float]:
    """Call ``step(i)`` (one optimizer update; returns the numbers to log as a tensor) ``steps`` times
    with ``net`` in training mode, stopping after ``max_seconds``; ``net`` ends in eval mode.
    Returns: the logged rows (a list per step, or a float) and the seconds taken."""
    from tqdm.auto import tqdm

    raw: list[torch.Tensor] = []
    start = time.perf_counter()
    net.train()
    try:
        for i in tqdm(range(steps), desc=desc, disable=not progress, mininterval=10):
            raw.append(step(i))
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
    finally:
        net.eval()
    return torch.stack(raw).cpu().tolist(), time.perf_counter() - start


def _noisy(x: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    """Noise augmentation: each image gets Gaussian noise of a random strength in [0, ``noise``]."""
    if noise <= 0:
        return x
    sigma = torch.rand(x.shape[0], 1, 1, 1, generator=gen, device=x.device) * noise
    return (x + torch.randn(x.shape, generator=gen, device=x.device) * sigma).clamp(0, 1)


def train_stylizer(
    style: str | Any = "vangogh_starry_night",
    steps: int = 2000,
    size: int = 256,
    batch: int = 4,
    lr: float = 1e-3,
    content_weight: float = 1.0,
    style_weight: float = 5.0,
    tv_weight: float = 0.0,
    noise: float = 0.04,
    width: Sequence[int] = (16, 32, 64),
    n_res: int = 5,
    norm: str = "instance",
    photos: Sequence[str] = TRAIN_PHOTOS,
    style_size: int | None = None,
    content_layer: str = CONTENT_LAYER,
    style_layers: Sequence[str] = STYLE_LAYERS,
    net: TransformNet | None = None,
    vgg: ZooModel | None = None,
    seed: int = 0,
    device: Any = None,
    max_seconds: float | None = None,
    progress: bool = True,
) -> tuple[TransformNet, dict[str, list[float]]]:
    """Train a :class:`TransformNet` for one style with the perceptual loss (Johnson et al. 2016).

    Each step: a batch of ``batch`` random crops (:class:`PhotoCrops`, ``size`` px) of ``photos``;
    with *noise augmentation* each input gets Gaussian noise of a random strength in [0, ``noise``]
    while the content target stays the clean photo, so the network learns not to amplify noise.
    Loss = ``content_weight * content + style_weight * style + tv_weight * TV`` (relative errors,
    :class:`PerceptualLoss`; TV :func:`lecture_utils.losses.total_variation`); Adam with ``lr``.
    ``style`` a painting name or image; its Gram targets are taken at ``style_size`` (shorter side,
    default ``size``). ``net``: continue training this network (fine-tuning) instead of a fresh one
    (``width``, ``n_res``, ``norm``). ``vgg``: the zoo VGG19 (loaded if None; not modified).
    ``max_seconds``: stop early after this much time. Uses CUDA when present (``device``).
    Seeded: the same call gives the same network on the CPU, and the caller's global torch, NumPy
    and Python random generators are left as they were.

    Returns: ``(net, history)`` -- the network in eval mode and ``{"step", "content", "style",
    "total"}`` lists, one entry per step.
    """
    weights = dict(content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight)
    _check_stylizer_args(style, steps, size, batch, lr, noise, **weights)
    device = _device(device) if net is None else device_of(net)
    with seeded(seed, [device]):
        net = (net if net is not None else TransformNet(width, n_res, norm)).to(device)
        loss_net = _loss_network(vgg, device, style, style_size or size, content_layer, style_layers)
        crops = PhotoCrops(photos, size=size, seed=seed, device=device)
        gen = torch.Generator(device=device).manual_seed(seed + 1)
        opt = torch.optim.Adam(net.parameters(), lr=lr)

        def step(_: int) -> torch.Tensor:
            x = crops.batch(batch)
            y = net(_noisy(x, noise, gen))
            terms = loss_net(y, x)
            total = content_weight * terms["content"] + style_weight * terms["style"]
            if tv_weight:
                total = total + tv_weight * losses.total_variation(y)
            _update(opt, total)
            return torch.stack([terms["content"].detach(), terms["style"].detach(), total.detach()])

        desc = f"stylizer {style if isinstance(style, str) else ''}"
        values, seconds = _fit(net, step, steps, max_seconds, progress, desc)
    history = {"step": list(range(1, len(values) + 1))}
    history.update({k: [v[i] for v in values] for i, k in enumerate(("content", "style", "total"))})
    net.config["train"] = {
        "style": style if isinstance(style, str) else "image",
        "steps": len(values),
        **dict(size=size, batch=batch, lr=lr, **weights, noise=noise, photos=list(photos)),
        "style_size": style_size or size,
        **dict(seed=seed, seconds=round(seconds, 1), device=str(device)),
    }
    return net, history


def train_texture_net(
    texture: str | Any = "vangogh_starry_night",
    steps: int = 1000,
    size: int = 128,
    batch: int = 4,
    lr: float = 1e-2,
    scales: int = 5,
    channels: int = 8,
    texture_size: int | None = None,
    layers: Sequence[str] = TEXTURE_LAYERS,
    net: TextureNet | None = None,
    vgg: ZooModel | None = None,
    seed: int = 0,
    device: Any = None,
    max_seconds: float | None = None,
    progress: bool = True,
) -> tuple[TextureNet, dict[str, list[float]]]:
    """Train Ulyanov et al.'s :class:`TextureNet` to turn noise into the texture of ``texture``.

    Each step draws ``batch`` fresh noise pyramids of ``size`` px; the loss is the Gram (style) loss
    of the generated images against the texture's (taken at ``texture_size``, default ``size``,
    shorter side) at ``layers``. Adam with ``lr``, cosine decay. Seeded; the caller's random
    generators are left as they were. Returns ``(net, {"step", "style"})``.
    """
    steps, batch, size = (
        check_int(steps, "steps", low=1),
        check_int(batch, "batch", low=1),
        check_int(size, "size", low=1),
    )
    check_positive(lr, "lr")
    _check_style_name(texture, "texture")
    device = _device(device) if net is None else device_of(net)
    with seeded(seed, [device]):
        net = (net if net is not None else TextureNet(scales, channels)).to(device)
        if size % net.multiple:
            raise ValueError(f"size must be a multiple of {net.multiple} for {net.scales} scales, got {size}")
        loss_net = _loss_network(vgg, device, texture, texture_size or size, None, layers)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 0.05)

        def step(i: int) -> torch.Tensor:
            loss = loss_net(net(net.noise(batch, size, seed=seed * 100_003 + i, device=device)))["style"]
            _update(opt, loss, sched)
            return loss.detach()

        values, seconds = _fit(net, step, steps, max_seconds, progress, "texture net")
    net.config["train"] = {
        "texture": texture if isinstance(texture, str) else "image",
        "steps": len(values),
        **dict(size=size, batch=batch, lr=lr, texture_size=texture_size or size, seed=seed),
        **dict(seconds=round(seconds, 1), device=str(device)),
    }
    return net, {"step": list(range(1, len(values) + 1)), "style": values}


# --------------------------------------------------------------------------- weights


def _thin(history: dict[str, list[float]] | None, keep: int = 400) -> dict[str, list[float]]:
    if not history:
        return {}
    n = len(history["step"])
    idx = np.unique(np.linspace(0, n - 1, min(n, keep)).round().astype(int)).tolist()
    return {k: [float(v[i]) for i in idx] for k, v in history.items()}


def save_net(net: TransformNet | TextureNet, path: str | Path, history: dict[str, list[float]] | None = None) -> str:
    """Save ``{"config", "state_dict"}`` (plus a thinned loss ``history``, <= 400 points, in the
    config) with ``torch.save``, on the CPU; returns the file's sha256."""
    if not isinstance(net, (TransformNet, TextureNet)):
        raise TypeError(f"save_net saves a TransformNet or TextureNet, got {type(net).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(net.config)
    config["kind"] = type(net).__name__
    config["history"] = _thin(history)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    torch.save({"config": config, "state_dict": state}, path)
    return sha256_of(path)


def load_net(path: str | Path, sha256: str | None = None, device: Any = "cpu") -> TransformNet | TextureNet:
    """Load a network saved by :func:`save_net` (``weights_only=True``, strict), in eval mode.

    ``sha256``: when given, the file's checksum must match, else :class:`WeightsError`. The saved
    config (with ``"train"`` settings and ``"history"``) is available as ``net.config``.
    """
    blob = load_checked(path, sha256)
    config = dict(blob["config"])
    kind = config.get("kind", "TransformNet")
    if kind == "TransformNet":
        net: nn.Module = TransformNet(config["width"], config["n_res"], config["norm"])
    elif kind == "TextureNet":
        net = TextureNet(config["scales"], config["channels"], config["norm"])
    else:
        raise WeightsError(f"{path}: unknown network kind {kind!r}")
    net.load_state_dict(blob["state_dict"], strict=True)
    net.config = config
    return net.to(device).eval()


def _weights_dir() -> Path:
    from .datasets import data_dir

    return data_dir() / "weights"


def stylizer_path(name: str) -> Path:
    """``data/weights/stylizer_<name>.pt``."""
    return _weights_dir() / f"stylizer_{name}.pt"


def available_stylizers() -> list[str]:
    """Paintings with committed stylizer weights (names for :func:`load_stylizer`)."""
    return list(STYLIZER_SHA256)


def _load_committed(name: str, table: dict[str, str], prefix: str, what: str, device: Any):
    if not isinstance(name, str) or name not in table:
        close = difflib.get_close_matches(str(name), list(table), n=3, cutoff=0.3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"no committed {what} for {name!r}. Available: {', '.join(table) or 'none'}.{hint}")
    how = " (data/weights/); restore it from the repository or retrain it with the command in data/README.md"
    path = shipped_file(_weights_dir() / f"{prefix}_{name}.pt", how)
    return load_net(path, sha256=table[name], device=device)


def load_stylizer(name: str, device: Any = "cpu") -> TransformNet:
    """The committed :class:`TransformNet` for the painting ``name`` (sha256-checked), eval mode."""
    return _load_committed(name, STYLIZER_SHA256, "stylizer", "stylizer", device)


def load_texture_net(name: str, device: Any = "cpu") -> TextureNet:
    """The committed :class:`TextureNet` for the texture ``name`` (sha256-checked), eval mode."""
    return _load_committed(name, TEXTURE_SHA256, "texture", "texture network", device)
