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

Command line (the committed weights were made this way, see ``data/README.md``)::

    python -m lecture_utils.fastnet --style vangogh_starry_night --out stylizer_vangogh_starry_night.pt
    python -m lecture_utils.fastnet --texture vangogh_starry_night --out texture_vangogh_starry_night.pt
"""

from __future__ import annotations

import copy
import difflib
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models import WeightsError, ZooModel, load_checked, sha256_of

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
        width = tuple(int(w) for w in width)
        if len(width) != 3 or min(width) < 1:
            raise ValueError(f"width must be three channel counts >= 1, got {width!r}")
        if isinstance(n_res, bool) or not isinstance(n_res, int) or n_res < 0:
            raise ValueError(f"n_res must be an integer >= 0, got {n_res!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
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
        if isinstance(scales, bool) or not isinstance(scales, int) or not 1 <= scales <= 7:
            raise ValueError(f"scales must be an integer in 1..7, got {scales!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
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
        device = device if device is not None else next(self.parameters()).device
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


# --------------------------------------------------------------------------- the loss network


class PerceptualLoss(nn.Module):
    """The fixed loss network of Johnson et al.: VGG19 features of RGB images in [0, 1].

    A frozen copy of VGG19's layers up to the deepest one needed (the zoo model is not touched).
    ``style`` (1, 3, H, W) RGB in [0, 1]: its Gram matrices at ``style_layers`` are the style
    targets. :meth:`forward` returns the loss terms of a batch of outputs ``y`` (B, 3, H, W):
    ``content`` = ``||F(y) - F(x)||^2 / ||F(x)||^2`` at ``content_layer`` against the photos ``x``
    and ``style`` = mean over layers (and batch) of ``||G(y) - G_s||^2 / ||G_s||^2`` -- the same
    relative errors as ``lecture_utils.style`` (lectures 16-18).
    """

    def __init__(
        self,
        vgg: ZooModel,
        style: torch.Tensor | None,
        content_layer: str | None = CONTENT_LAYER,
        style_layers: Sequence[str] = STYLE_LAYERS,
    ) -> None:
        super().__init__()
        if not isinstance(vgg, ZooModel) or vgg.name != "vgg19":
            raise TypeError("PerceptualLoss needs the VGG19 zoo model: load_model('vgg19')")
        self.style_layers = list(style_layers)
        self.content_layer = content_layer
        wanted = self.style_layers + ([content_layer] if content_layer else [])
        names = [n for n, _ in vgg.net.named_children()]
        for n in wanted:
            if n not in names:
                close = difflib.get_close_matches(str(n), names, n=3, cutoff=0.4)
                raise ValueError(f"unknown VGG19 layer {n!r}; close names: {', '.join(close) or names[:6]}")
        last = max(names.index(n) for n in wanted)
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
        from .style import gram_matrix

        if not isinstance(style, torch.Tensor) or style.ndim != 4 or style.shape[:2] != (1, 3):
            raise ValueError(
                f"style must be one RGB image (1, 3, H, W) in [0, 1], got {getattr(style, 'shape', style)!r}"
            )
        device = next(self.features.parameters()).device
        acts = self.activations(style.to(device))
        self.targets = [gram_matrix(acts[n]) for n in self.style_layers]
        self.norms = [float(g.pow(2).sum()) for g in self.targets]

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
        from .style import gram_matrix

        if not self.targets:
            raise ValueError("no style targets: give a style image (set_style)")
        total = 0.0
        for n, g0, norm in zip(self.style_layers, self.targets, self.norms):
            g = gram_matrix(acts[n])
            total = total + (g - g0).pow(2).sum() / (norm * g.shape[0])
        return total / len(self.style_layers)

    def forward(self, y: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        acts = self.activations(y)
        terms = {"style": self.style_error(acts)} if self.targets else {}
        if x is not None and self.content_layer:
            with torch.no_grad():
                f0 = self.activations(x)[self.content_layer]
            f = acts[self.content_layer]
            terms["content"] = (f - f0).pow(2).sum() / f0.pow(2).sum().clamp_min(1e-12)
        return terms


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
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < multiple):
        raise ValueError(f"size must be an integer >= {multiple} or None, got {size!r}")
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
    x = to_input(image, size)
    device = next(net.parameters()).device
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
    device = next(net.parameters()).device
    x = torch.rand(1, 3, h, w, device=device)
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
    if not isinstance(vgg, ZooModel) or vgg.name != "vgg19":
        raise TypeError("loss_table needs the VGG19 zoo model: load_model('vgg19')")
    names = [n for n, _ in vgg.net.named_children()]
    if upto not in names:
        close = difflib.get_close_matches(str(upto), names, n=3, cutoff=0.4)
        raise ValueError(f"unknown VGG19 layer {upto!r}; close names: {', '.join(close) or names[:6]}")
    h, w = (size, size) if isinstance(size, int) else size
    x = vgg.normalize(torch.rand(1, 3, h, w, device=vgg.device))
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
        if not 0 < min_scale <= 1:
            raise ValueError(f"min_scale must be in (0, 1], got {min_scale!r}")
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


def _check_positive(**values: Any) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise ValueError(f"{name} must be a number > 0, got {v!r}")


def _device(device: Any) -> torch.device:
    from .models import default_device

    return torch.device(device) if device is not None else default_device()


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
    :class:`PerceptualLoss`); Adam with ``lr``. ``style`` a painting name or image; its Gram targets
    are taken at ``style_size`` (shorter side, default ``size``). ``net``: continue training this
    network (fine-tuning) instead of a fresh one (``width``, ``n_res``, ``norm``). ``vgg``: the zoo
    VGG19 (loaded if None; not modified). ``max_seconds``: stop early after this much time.
    Uses CUDA when present (``device``). Seeded: the same call gives the same network on the CPU.

    Returns: ``(net, history)`` -- the network in eval mode and ``{"step", "content", "style",
    "total"}`` lists, one entry per step.
    """
    from .models import load_model

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16 or size % 4:
        raise ValueError(f"size must be a multiple of 4 and >= 16, got {size!r}")
    _check_positive(lr=lr)
    for name, v in (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {v!r}")
    if not 0 <= noise < 1:
        raise ValueError(f"noise must be in [0, 1), got {noise!r}")
    if isinstance(style, str):
        from .images import sample_names

        paintings = sample_names("all")
        if style not in paintings and not Path(style).is_file():
            close = difflib.get_close_matches(style, sample_names("paintings"), n=3, cutoff=0.4)
            raise ValueError(f"unknown style {style!r}; paintings: {', '.join(close or sample_names('paintings'))}")
    device = _device(device) if net is None else next(net.parameters()).device
    torch.manual_seed(seed)
    if net is None:
        net = TransformNet(width, n_res, norm)
    net = net.to(device)
    vgg = vgg if vgg is not None else load_model("vgg19", device=device)
    loss_net = PerceptualLoss(vgg, None, content_layer, style_layers).to(device)
    loss_net.set_style(_style_image(style, style_size or size).to(device))
    crops = PhotoCrops(photos, size=size, seed=seed, device=device)
    gen = torch.Generator(device=device).manual_seed(seed + 1)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    raw: list[torch.Tensor] = []
    start = time.perf_counter()
    from tqdm.auto import tqdm

    net.train()
    bar = tqdm(
        range(steps), desc=f"stylizer {style if isinstance(style, str) else ''}", disable=not progress, mininterval=10
    )
    for _ in bar:
        x = crops.batch(batch)
        if noise > 0:
            sigma = torch.rand(batch, 1, 1, 1, generator=gen, device=device) * noise
            x_in = (x + torch.randn(x.shape, generator=gen, device=device) * sigma).clamp(0, 1)
        else:
            x_in = x
        y = net(x_in)
        terms = loss_net(y, x)
        total = content_weight * terms["content"] + style_weight * terms["style"]
        if tv_weight:
            total = total + tv_weight * _tv(y)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        raw.append(torch.stack([terms["content"].detach(), terms["style"].detach(), total.detach()]))
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    bar.close()
    net.eval()
    values = torch.stack(raw).cpu().tolist()
    history = {
        "step": list(range(1, len(values) + 1)),
        "content": [v[0] for v in values],
        "style": [v[1] for v in values],
        "total": [v[2] for v in values],
    }
    net.config["train"] = {
        "style": style if isinstance(style, str) else "image",
        "steps": len(values),
        "size": size,
        "batch": batch,
        "lr": lr,
        "content_weight": content_weight,
        "style_weight": style_weight,
        "tv_weight": tv_weight,
        "noise": noise,
        "photos": list(photos),
        "style_size": style_size or size,
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 1),
        "device": str(device),
    }
    return net, history


def _tv(y: torch.Tensor) -> torch.Tensor:
    return (y[..., 1:, :] - y[..., :-1, :]).abs().mean() + (y[..., 1:] - y[..., :-1]).abs().mean()


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
    shorter side) at ``layers``. Adam with ``lr``. Returns ``(net, {"step", "style"})``.
    """
    from .models import load_model

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    _check_positive(lr=lr)
    device = _device(device) if net is None else next(net.parameters()).device
    torch.manual_seed(seed)
    net = (net if net is not None else TextureNet(scales, channels)).to(device)
    if size % net.multiple:
        raise ValueError(f"size must be a multiple of {net.multiple} for {net.scales} scales, got {size}")
    vgg = vgg if vgg is not None else load_model("vgg19", device=device)
    loss_net = PerceptualLoss(vgg, None, None, layers).to(device)
    loss_net.set_style(_style_image(texture, texture_size or size).to(device))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 0.05)
    raw: list[torch.Tensor] = []
    start = time.perf_counter()
    from tqdm.auto import tqdm

    net.train()
    for step in tqdm(range(steps), desc="texture net", disable=not progress, mininterval=10):
        y = net(net.noise(batch, size, seed=seed * 100_003 + step, device=device))
        loss = loss_net(y)["style"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        raw.append(loss.detach())
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    net.eval()
    values = torch.stack(raw).cpu().tolist()
    net.config["train"] = {
        "texture": texture if isinstance(texture, str) else "image",
        "steps": len(values),
        "size": size,
        "batch": batch,
        "lr": lr,
        "texture_size": texture_size or size,
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 1),
        "device": str(device),
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
    path = _weights_dir() / f"{prefix}_{name}.pt"
    if not path.is_file():
        raise WeightsError(
            f"{path} is missing: it ships with the course (data/weights/); restore it from the repository or "
            f"retrain it with the command in data/README.md"
        )
    return load_net(path, sha256=table[name], device=device)


def load_stylizer(name: str, device: Any = "cpu") -> TransformNet:
    """The committed :class:`TransformNet` for the painting ``name`` (sha256-checked), eval mode."""
    return _load_committed(name, STYLIZER_SHA256, "stylizer", "stylizer", device)


def load_texture_net(name: str, device: Any = "cpu") -> TextureNet:
    """The committed :class:`TextureNet` for the texture ``name`` (sha256-checked), eval mode."""
    return _load_committed(name, TEXTURE_SHA256, "texture", "texture network", device)


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m lecture_utils.fastnet", description=__doc__.split("\n\n")[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--style", help="painting name: train a stylizer (Johnson et al.)")
    what.add_argument("--texture", help="painting name: train a texture network (Ulyanov et al.)")
    p.add_argument("--out", required=True, help="output .pt file")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--style-weight", type=float, default=None)
    p.add_argument("--tv-weight", type=float, default=None)
    p.add_argument("--noise", type=float, default=None)
    p.add_argument("--width", type=int, nargs=3, default=None)
    p.add_argument("--norm", choices=NORMS, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop training after this many seconds")
    a = p.parse_args(argv)
    device = _device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    opts = {k: v for k, v in dict(steps=a.steps, size=a.size, batch=a.batch, lr=a.lr).items() if v is not None}
    if a.style:
        extra = dict(style_weight=a.style_weight, tv_weight=a.tv_weight, noise=a.noise, width=a.width, norm=a.norm)
        opts.update({k: v for k, v in extra.items() if v is not None})
        net, hist = train_stylizer(a.style, seed=a.seed, device=device, max_seconds=a.max_seconds, **opts)
        last = {k: float(np.mean(v[-50:])) for k, v in hist.items() if k != "step"}
    else:
        net, hist = train_texture_net(a.texture, seed=a.seed, device=device, max_seconds=a.max_seconds, **opts)
        last = {"style": float(np.mean(hist["style"][-50:]))}
    digest = save_net(net, a.out, hist)
    size = Path(a.out).stat().st_size
    print(f"{a.out}: {len(hist['step'])} steps in {net.config['train']['seconds']} s on {device}; last losses {last}")
    print(f"sha256 {digest}  size {size} bytes")


if __name__ == "__main__":
    main()
