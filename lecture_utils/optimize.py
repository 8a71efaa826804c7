"""Optimizing the input: one small engine for feature visualization, DeepDream, inversion, style.

Lecture 00 gives a first taste; lectures 07, 12-14, 16-18 build on it. The split follows
lucid/lucent (Olah et al., distill.pub 2017 "Feature Visualization"), kept small:

- **param**: a module whose ``forward()`` returns RGB images (B, 3, H, W) in [0, 1]: free pixels
  (:class:`PixelImage`) or a decorrelated Fourier spectrum (:class:`FFTImage`, Olah et al. 2017);
- **transforms**: random pad/jitter/scale/rotation before the network (transformation robustness);
- **callbacks**: steps that change the image every k steps: blur (Yosinski et al. 2015,
  "Understanding Neural Networks Through Deep Visualization"), bilateral filter (Tyka 2016);
- **objectives**: small callables on the recorded activations, composable with ``+``, ``-``,
  and scalar ``*``; ``render`` *maximizes* the objective;
- **render**: the optimizer loop with a progress bar and optional snapshots.

An objective receives a dict ``acts`` with the activation of every layer it names, plus
``acts["output"]`` (the logits) and ``acts["input"]`` (the RGB image before transforms).
An objective that names layers but not ``"output"`` stops the forward pass after its deepest
layer (faster); one that names no layer at all always gets the logits.

Lecture 12 («Визуализация модели класса и признаков») walks through the regularizers; papers:
Simonyan, Vedaldi & Zisserman 2014; Olah, Mordvintsev & Schubert 2017; Yosinski et al. 2015.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import losses
from .checks import check_finite, check_int, check_non_negative, check_number, check_positive, seeded
from .features import layer_means
from .hooks import OUTPUT, forward_until_stop, get_layer, record, stop_after
from .models import ZooModel

__all__ = [
    "Objective",
    "channel",
    "neuron",
    "layer_l2",
    "class_logit",
    "class_prob",
    "l2_penalty",
    "l1_penalty",
    "total_variation",
    "diversity",
    "PixelImage",
    "FFTImage",
    "COLOR_CORRELATION_SQRT",
    "estimate_color_correlation",
    "jitter",
    "pad",
    "random_scale",
    "random_rotate",
    "robust_transforms",
    "gaussian_blur",
    "bilateral_filter",
    "blur_every",
    "bilateral_every",
    "high_frequency_energy",
    "render",
    "RenderResult",
    "channel_means",
    "MAX_RENDER_SIDE",
]

INPUT = "input"
MAX_RENDER_SIDE = 4096
"""The largest image side :func:`render` accepts (a 4096 x 4096 image alone is 200 MB in float32;
the network's activations and gradients need many times more)."""

_WRAP_HINT = (
    "wrap the function in an Objective: Objective(lambda acts: ..., layers=['blocks.4'], name='mine'), "
    "where acts holds the outputs of the named layers, acts['output'] the logits and acts['input'] the RGB image"
)


class Objective:
    """A scalar function of activations, to be maximized. ``layers``: the layer names it reads."""

    def __init__(self, fn: Callable[[dict[str, torch.Tensor]], torch.Tensor], layers: Iterable[str], name: str):
        if not callable(fn):
            raise TypeError(f"fn must be a function of the activations dict, got {type(fn).__name__}")
        names = [layers] if isinstance(layers, str) else list(layers)
        if not all(isinstance(n, str) for n in names):
            raise TypeError(f"layers must be layer names (str), got {names!r}")
        self.fn, self.layers, self.name = fn, frozenset(names), str(name)

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fn(acts)

    def __add__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            raise TypeError(
                f"an Objective can only be added to another Objective, got {type(other).__name__}; {_WRAP_HINT}"
            )
        return Objective(lambda a: self(a) + other(a), self.layers | other.layers, f"{self.name} + {other.name}")

    def __neg__(self) -> Objective:
        return Objective(lambda a: -self(a), self.layers, f"-({self.name})")

    def __sub__(self, other: Objective) -> Objective:
        return self + (-other)

    def __mul__(self, k: float) -> Objective:
        k = check_number(k, "the factor of an objective (objectives multiply by numbers only)")
        return Objective(lambda a: k * self(a), self.layers, f"{k:g}*({self.name})")

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Objective({self.name})"


def _check_channel(a: torch.Tensor, layer: str, c: int) -> None:
    if not 0 <= c < a.shape[1]:
        raise ValueError(f"channel {c} out of range: layer {layer!r} has {a.shape[1]} channels")


def _items(a: torch.Tensor, batch: int | None) -> torch.Tensor:
    if batch is None:
        return a
    if not -a.shape[0] <= batch < a.shape[0]:
        raise ValueError(f"batch item {batch} out of range: the image batch has {a.shape[0]} items")
    return a[batch : batch + 1] if batch >= 0 else a[batch:][:1]


def channel(layer: str, c: int, batch: int | None = None) -> Objective:
    """Mean activation of channel ``c`` of ``layer`` (lecture: layer_n[:, :, z]).

    ``batch``: only this item of a batch of images (for interpolation / diversity); default all.
    """

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        a = acts[layer]
        _check_channel(a, layer, c)
        return _items(a, batch)[:, c].mean()

    return Objective(fn, [layer], f"channel {layer}:{c}")


def neuron(layer: str, c: int, x: int | None = None, y: int | None = None, batch: int | None = None) -> Objective:
    """One unit: channel ``c`` at position (y, x), default the centre (lecture: layer_n[x, y, z])."""

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        a = acts[layer]
        _check_channel(a, layer, c)
        h, w = a.shape[-2:]
        yy, xx = h // 2 if y is None else y, w // 2 if x is None else x
        if not (0 <= yy < h and 0 <= xx < w):
            raise ValueError(f"neuron position (y={yy}, x={xx}) outside the {h}x{w} map of layer {layer!r}")
        return _items(a, batch)[:, c, yy, xx].mean()

    return Objective(fn, [layer], f"neuron {layer}:{c}")


def layer_l2(layer: str) -> Objective:
    """DeepDream's objective: mean squared activation of a whole layer (lecture: layer_n^2)."""
    return Objective(lambda acts: acts[layer].pow(2).mean(), [layer], f"deepdream {layer}")


def _check_class(z: torch.Tensor, target: int) -> None:
    if not 0 <= target < z.shape[1]:
        raise ValueError(f"class {target} out of range: the model has {z.shape[1]} classes")


def class_logit(target: int, batch: int | None = None) -> Objective:
    """A class score before the softmax (gives better images than the probability)."""

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        _check_class(acts[OUTPUT], target)
        return _items(acts[OUTPUT], batch)[:, target].mean()

    return Objective(fn, [OUTPUT], f"logit {target}")


def class_prob(target: int, batch: int | None = None) -> Objective:
    """A class probability after the softmax (can rise by lowering the other classes)."""

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        _check_class(acts[OUTPUT], target)
        return torch.softmax(_items(acts[OUTPUT], batch), 1)[:, target].mean()

    return Objective(fn, [OUTPUT], f"prob {target}")


def l2_penalty(weight: float = 1.0) -> Objective:
    """L2 decay of the centred image, as a (negative) objective: ``-weight * mean((x - 0.5)^2)``."""
    return Objective(lambda acts: -weight * (acts[INPUT] - 0.5).pow(2).mean(), [], f"L2 {weight:g}")


def l1_penalty(weight: float = 1.0) -> Objective:
    """L1 penalty of the centred image (pushes pixels to grey, sparse colour): ``-weight * mean|x - 0.5|``."""
    return Objective(lambda acts: -weight * (acts[INPUT] - 0.5).abs().mean(), [], f"L1 {weight:g}")


def diversity(layer: str, weight: float = 1.0) -> Objective:
    """Diversity term for a batch of images (Olah et al. 2017): minus the mean pairwise cosine
    similarity of the items' Gram matrices at ``layer`` (style-like statistics), times ``weight``."""

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        a = acts[layer]
        b = a.shape[0]
        if b < 2:
            raise ValueError("diversity needs a batch of at least 2 images (param with batch >= 2)")
        f = a.flatten(2)
        gram = F.normalize((f @ f.transpose(1, 2)).flatten(1), dim=1)  # (B, C*C), unit length
        sim = gram @ gram.T
        return -weight * (sim.sum() - sim.diagonal().sum()) / (b * (b - 1))

    return Objective(fn, [layer], f"diversity {layer} x{weight:g}")


def total_variation(weight: float = 1.0) -> Objective:
    """Total variation penalty (neighbour differences), as a (negative) objective."""

    weight = check_number(weight, "weight")

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return -weight * losses.total_variation(acts[INPUT])

    return Objective(fn, [], f"TV {weight:g}")


def _check_size(size: int) -> int:
    size = check_int(size, "size (image side in pixels)", low=8)
    if size > MAX_RENDER_SIDE:
        gb = 3 * 4 * size * size / 1e9
        raise ValueError(
            f"size={size} means a {size}x{size} image: {gb:.1f} GB for the image alone in float32, and many times "
            f"that for the network's activations and gradients; use size <= {MAX_RENDER_SIDE} (128-512 is usual)"
        )
    return size


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    """``size`` as (H, W): an int means a square; each side an integer >= 8."""
    sides = (size, size) if not isinstance(size, (tuple, list)) else tuple(size)
    if len(sides) != 2:
        raise ValueError(f"image size must be an int or (H, W), got {size!r}")
    return (_check_size(sides[0]), _check_size(sides[1]))


def _check_batch(batch: int) -> int:
    return check_int(batch, "batch", low=1)


def _logit(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(1e-3, 1 - 1e-3)
    return torch.log(x / (1 - x))


class PixelImage(nn.Module):
    """Pixel parametrization: free logits per pixel, RGB = sigmoid(logits). Output (B, 3, H, W).

    ``size``: side (square) or ``(H, W)``; ignored when ``init`` (B, 3, H, W) in [0, 1] is given.
    ``downsample`` > 1 keeps the free pixels on a coarser grid (size / downsample), bilinearly
    upsampled: a simple way to suppress the high frequencies a CNN's gradient is full of.
    ``batch``: number of images optimized together (default 1).
    ``freq_norm`` > 0: *gradient-frequency normalization* (the "preconditioning" row of Olah et al.
    2017): every gradient is filtered in the Fourier domain by ``1 / f**freq_norm`` (rescaled to keep
    its energy), so a step moves low frequencies as much as high ones although the network's gradient
    is dominated by the high ones. ``freq_norm=1`` whitens a 1/f spectrum.
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        sd: float = 0.5,
        seed: int = 0,
        init: torch.Tensor | None = None,
        downsample: int = 1,
        batch: int = 1,
        freq_norm: float = 0.0,
    ):
        super().__init__()
        if init is not None:
            if not isinstance(init, torch.Tensor) or init.ndim != 4 or init.shape[1] != 3:
                raise ValueError(f"init must be a (B, 3, H, W) tensor in [0, 1], got {getattr(init, 'shape', init)!r}")
            check_finite(init, "init")
            hw = (int(init.shape[-2]), int(init.shape[-1]))
        else:
            hw = _hw(size)
        _check_batch(batch)
        downsample = check_int(downsample, "downsample")
        if not 1 <= downsample <= min(hw):
            raise ValueError(f"need 1 <= downsample <= size, got downsample={downsample}, size={hw}")
        freq_norm = check_non_negative(freq_norm, "freq_norm")
        sd = check_non_negative(sd, "sd")
        seed = check_int(seed, "seed", low=0)
        self.hw = hw
        self.size = hw[1]
        self.downsample = downsample
        if init is not None:
            self.logits = nn.Parameter(_logit(init.detach().float()))
            if downsample > 1:
                self.logits = nn.Parameter(F.interpolate(self.logits.detach(), size=self._grid(), mode="area"))
        else:
            g = torch.Generator().manual_seed(seed)
            self.logits = nn.Parameter(torch.randn(batch, 3, *self._grid(), generator=g) * sd)
        if freq_norm > 0:
            h, w = self._grid()
            f = (torch.fft.fftfreq(h)[:, None] ** 2 + torch.fft.rfftfreq(w)[None, :] ** 2).sqrt()
            filt = 1.0 / f.clamp(min=1.0 / max(h, w)) ** freq_norm
            # keep a white gradient's energy: mean of the squared filter over the full spectrum = 1
            self.register_buffer("grad_filter", filt / filt.pow(2).mean().sqrt())
            self.logits.register_hook(self._filter_gradient)

    def _grid(self) -> tuple[int, int]:
        return (self.hw[0] // self.downsample, self.hw[1] // self.downsample)

    def _filter_gradient(self, g: torch.Tensor) -> torch.Tensor:
        spec = torch.fft.rfft2(g, norm="ortho") * self.grad_filter.to(g.device)
        return torch.fft.irfft2(spec, s=g.shape[-2:], norm="ortho")

    def forward(self) -> torch.Tensor:
        z = self.logits
        if self.downsample > 1:
            z = F.interpolate(z, size=self.hw, mode="bilinear", align_corners=False)
        return torch.sigmoid(z)

    @torch.no_grad()
    def set_image(self, img: torch.Tensor) -> None:
        """Replace the parameters so that ``forward()`` gives (about) ``img`` (B, 3, H, W) in [0, 1]."""
        z = _logit(img)
        if self.downsample > 1:
            z = F.interpolate(z, size=self.logits.shape[-2:], mode="area")
        self.logits.copy_(z)


# The square root of the RGB covariance of natural photos, as columns (principal axes scaled by
# the square root of their variance). Estimated by ``estimate_color_correlation()`` from the
# course's seven sample photos (skimage/sklearn: chelsea, coffee, astronaut, ...); lucid uses
# the same idea with ImageNet statistics and gets nearly the same matrix.
COLOR_CORRELATION_SQRT = np.array(
    [
        [0.2892, 0.1343, -0.0143],
        [0.2533, -0.0356, 0.0402],
        [0.2319, -0.1287, -0.0260],
    ],
    dtype=np.float32,
)


def estimate_color_correlation(images: Sequence[np.ndarray]) -> np.ndarray:
    """The 3x3 matrix ``M`` with ``M @ M.T = cov(RGB)`` over all pixels of ``images``.

    Inputs: arrays (H, W, 3), uint8 or floats in [0, 1]. Returns: ``U * sqrt(s)`` from the SVD
    ``cov = U diag(s) U^T``, each column's sign fixed so its largest entry is positive.
    """
    px = []
    for im in images:
        a = np.asarray(im, dtype=np.float64)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"images must be (H, W, 3), got shape {a.shape}")
        px.append(a.reshape(-1, 3) / (255.0 if np.asarray(im).dtype == np.uint8 else 1.0))
    cov = np.cov(np.concatenate(px), rowvar=False)
    u, s, _ = np.linalg.svd(cov)
    m = u * np.sqrt(s)
    m *= np.sign(m[np.abs(m).argmax(0), range(3)])
    return m


class FFTImage(nn.Module):
    """Decorrelated parametrization (Olah et al. 2017): the free parameters are a Fourier spectrum
    per decorrelated colour channel; each frequency is scaled by ``1 / f**decay`` so that all
    frequencies start with about equal energy *after* scaling (natural images fall off as 1/f),
    then the colour channels are mixed by :data:`COLOR_CORRELATION_SQRT` and squashed by a sigmoid.

    Output: (B, 3, H, W) in [0, 1]; an all-zero spectrum gives a constant mid-grey image.
    Gradient steps on these parameters are steps in a whitened space: low frequencies and
    natural colours move fast, pixel noise slowly.
    """

    def __init__(self, size: int, sd: float = 0.01, seed: int = 0, decay: float = 1.0, batch: int = 1):
        super().__init__()
        size = _check_size(size)
        batch = _check_batch(batch)
        sd, decay = check_non_negative(sd, "sd"), check_number(decay, "decay")
        seed = check_int(seed, "seed", low=0)
        self.size = size
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freq = (fx**2 + fy**2).sqrt()
        scale = 1.0 / freq.clamp(min=1.0 / size) ** decay
        self.register_buffer("scale", scale / 4)  # (H, W//2+1); /4 keeps the start near grey (as lucid)
        color = torch.from_numpy(COLOR_CORRELATION_SQRT)
        self.register_buffer("color", color / color.norm(dim=0).max())
        g = torch.Generator().manual_seed(seed)
        self.spectrum = nn.Parameter(torch.randn(batch, 3, size, size // 2 + 1, 2, generator=g) * sd)

    def decorrelated(self) -> torch.Tensor:
        """The image in decorrelated colour space, before the colour mix and the sigmoid."""
        spec = torch.view_as_complex(self.spectrum) * self.scale
        return torch.fft.irfft2(spec, s=(self.size, self.size), norm="ortho")

    def forward(self) -> torch.Tensor:
        z = torch.einsum("ij,bjhw->bihw", self.color, self.decorrelated())
        return torch.sigmoid(z)

    @torch.no_grad()
    def set_image(self, img: torch.Tensor) -> None:
        """Replace the spectrum so that ``forward()`` gives ``img`` (B, 3, H, W) in [0, 1]."""
        z = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(self.color), _logit(img))
        spec = torch.fft.rfft2(z, norm="ortho") / self.scale
        self.spectrum.copy_(torch.view_as_real(spec))


Transform = Callable[[torch.Tensor], torch.Tensor]


def jitter(d: int) -> Transform:
    """Shift the image by a random offset in [-d, d] pixels (circular roll)."""
    d = check_int(d, "d (jitter in pixels)", low=0)

    def fn(x: torch.Tensor) -> torch.Tensor:
        dx, dy = np.random.randint(-d, d + 1, size=2)
        return torch.roll(x, shifts=(int(dy), int(dx)), dims=(2, 3))

    return fn


def pad(p: int, value: float = 0.5) -> Transform:
    """Pad by ``p`` pixels of grey on every side (so jitter and rotation do not wrap the content)."""
    p, value = check_int(p, "p (padding in pixels)", low=0), check_number(value, "value")

    def fn(x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (p, p, p, p), value=value)

    return fn


def _choices(values: Sequence[float], name: str, positive: bool = False) -> list[float]:
    """A non-empty list of finite numbers (``positive``: > 0) to draw from."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not len(values):
        raise TypeError(f"{name} must be a non-empty list of numbers, got {values!r}")
    check = check_positive if positive else check_number
    return [check(v, f"{name}[{i}]") for i, v in enumerate(values)]


def random_scale(scales: Sequence[float]) -> Transform:
    """Resize by a factor drawn from ``scales``."""
    scales = _choices(scales, "scales", positive=True)

    def fn(x: torch.Tensor) -> torch.Tensor:
        s = float(np.random.choice(scales))
        return x if s == 1 else F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)

    return fn


def random_rotate(angles: Sequence[float]) -> Transform:
    """Rotate about the centre by an angle (degrees) drawn from ``angles``; same size, corners
    filled by reflection."""
    angles = _choices(angles, "angles")

    def fn(x: torch.Tensor) -> torch.Tensor:
        a = float(np.deg2rad(np.random.choice(angles)))
        if a == 0:
            return x
        rot = torch.tensor([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0]], dtype=x.dtype)
        grid = F.affine_grid(rot[None].expand(x.shape[0], 2, 3).to(x.device), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    return fn


def robust_transforms(size: int = 96, strength: float = 1.0) -> list[Transform]:
    """Transformation robustness of lecture 12, scaled to the image ``size``: pad, jitter, random
    scale and rotation, a final small jitter (at 96 px: pad 8, jitter 6, scale 0.95-1.05,
    rotation up to 8 degrees, jitter 2). ``strength`` multiplies shifts, zoom and angles
    (0 gives no transforms). The one recipe of DeepDream's class transfer, class images and the
    semantic dictionary's icons."""
    strength = check_non_negative(strength, "strength")
    size = check_int(size, "size", low=1)
    if strength == 0:
        return []
    a = 8 * strength
    return [
        pad(max(1, round(size / 12 * strength))),
        jitter(max(1, round(size / 16 * strength))),
        random_scale([1 - 0.05 * strength, 1.0, 1 + 0.05 * strength]),
        random_rotate([-a, -a / 2, 0, a / 2, a]),
        jitter(max(1, round(size / 48 * strength))),
    ]


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) with reflect padding (radius ``max(1, round(2 sigma))``).

    The one Gaussian blur of the package. ``sigma`` > 0 in pixels.
    """
    sigma = check_positive(sigma, "sigma")
    if not isinstance(img, torch.Tensor) or img.ndim != 4:
        raise ValueError(f"img must be a (B, C, H, W) tensor, got {getattr(img, 'shape', type(img).__name__)!r}")
    return separable_gaussian(img, sigma, max(1, int(round(2 * sigma))))


def separable_gaussian(img: torch.Tensor, sigma: float, radius: int) -> torch.Tensor:
    """The blur itself, without checks: a normalized Gaussian kernel of ``2 * radius + 1`` taps applied
    along the rows, then the columns, after reflect padding by ``radius``; shared by
    :func:`gaussian_blur` and :func:`lecture_utils.superres.gaussian_blur` (which truncate differently).

    Inputs: ``img`` (B, C, H, W) with H, W > ``radius``. Returns: (B, C, H, W).
    """
    t = torch.arange(-radius, radius + 1, dtype=img.dtype, device=img.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = img.shape[1]
    x = F.pad(img, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def bilateral_filter(img: torch.Tensor, radius: int = 2, sigma_space: float = 1.5, sigma_color: float = 0.1):
    """Edge-preserving smoothing (Tomasi & Manduchi 1998; used by Tyka 2016): each pixel becomes
    the average of its (2r+1)^2 neighbours weighted by ``exp(-d^2/2s_space^2) * exp(-|dc|^2/2s_color^2)``.

    Inputs: (B, 3, H, W). Returns: same shape.
    """
    b, c, h, w = img.shape
    k = 2 * radius + 1
    patches = F.unfold(F.pad(img, (radius,) * 4, mode="reflect"), k).view(b, c, k * k, h, w)
    t = torch.arange(-radius, radius + 1, dtype=img.dtype, device=img.device)
    space = torch.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma_space**2)).view(1, k * k, 1, 1)
    diff = (patches - img[:, :, None]).pow(2).sum(1)  # (B, k*k, H, W)
    wgt = space * torch.exp(-diff / (2 * sigma_color**2))
    return (patches * wgt[:, None]).sum(2) / wgt.sum(1, keepdim=True)


Callback = Callable[[nn.Module, int], None]


def _every(k: int, name: str, filt: Callable[[torch.Tensor], torch.Tensor]) -> Callback:
    k = check_int(k, f"{name}: k", low=1)

    def fn(param: nn.Module, step: int) -> None:
        if step % k == 0:
            if not hasattr(param, "set_image"):
                raise TypeError(f"{name} needs a param with a set_image method (PixelImage, FFTImage)")
            with torch.no_grad():
                param.set_image(filt(param()))

    return fn


def blur_every(k: int = 4, sigma: float = 0.5) -> Callback:
    """Callback for :func:`render`: Gaussian-blur the image every ``k`` steps (Yosinski et al. 2015)."""
    sigma = check_positive(sigma, "sigma")
    return _every(k, "blur_every", lambda x: gaussian_blur(x, sigma))


def bilateral_every(k: int = 4, radius: int = 2, sigma_space: float = 1.5, sigma_color: float = 0.1) -> Callback:
    """Callback for :func:`render`: bilateral-filter the image every ``k`` steps (Tyka 2016)."""
    return _every(k, "bilateral_every", lambda x: bilateral_filter(x, radius, sigma_space, sigma_color))


def high_frequency_energy(image: np.ndarray | torch.Tensor, cutoff: float = 0.25) -> float:
    """Share of the (grey, mean-removed) image's spectral power above ``cutoff`` cycles/pixel
    (0.5 = Nyquist). Natural photos: a few percent; pixel noise: about 3/4.

    Inputs: (H, W, 3) or (H, W) array, or a (1, 3, H, W) tensor.
    """
    if isinstance(image, torch.Tensor):
        image = _to_hwc(image)
    a = np.asarray(image, dtype=np.float64)
    g = a.mean(-1) if a.ndim == 3 else a
    g = g - g.mean()
    p = np.abs(np.fft.fft2(g)) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(g.shape[0]), np.fft.fftfreq(g.shape[1]), indexing="ij"))
    return float(p[f > cutoff].sum() / max(p.sum(), 1e-20))


@dataclass
class RenderResult:
    """``image``: (H, W, 3) in [0, 1] (the first of the batch); ``snapshots``: step -> image;
    ``values``: objective per step; ``batch``: all images (B, H, W, 3)."""

    image: np.ndarray
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    values: list[float] = field(default_factory=list)
    batch: np.ndarray | None = None


def render(
    model: ZooModel,
    objective: Objective,
    size: int | tuple[int, int] = 128,
    steps: int = 128,
    lr: float = 0.05,
    transforms: Sequence[Transform] = (),
    param: nn.Module | None = None,
    snapshots: Iterable[int] = (),
    seed: int = 0,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> RenderResult:
    """Maximize ``objective`` over an image with Adam.

    Inputs: ``model`` a :class:`ZooModel`; ``size`` side or (H, W); ``param`` (default
    :class:`PixelImage` of ``size``); ``lr`` Adam's learning rate;
    ``transforms`` applied in order before the network; ``callbacks`` called as ``cb(param, step)``
    after each optimizer step (e.g. :func:`blur_every`); ``snapshots`` steps (1-based) to keep;
    ``seed`` the random start and the random transforms (the same seed gives the same image).
    Returns: :class:`RenderResult`. The model is left exactly as it was (hooks, flags), and so are
    the caller's global torch, NumPy and Python random generators.
    Raises: ``TypeError`` / ``ValueError`` for bad arguments (before any work); ``ValueError`` naming
    the step when the objective becomes NaN or infinite.
    """
    steps, lr, keep = _check_render_args(model, objective, size, steps, lr, transforms, param, snapshots, callbacks)
    layers = sorted(objective.layers - {OUTPUT, INPUT})
    stop_early = bool(layers) and OUTPUT not in objective.layers
    result = RenderResult(image=np.zeros((1, 1, 3)))
    with seeded(seed, [model.device]):
        param = (param or PixelImage(size, seed=seed)).to(model.device)
        opt = torch.optim.Adam(param.parameters(), lr=lr)
        with (
            record(model, layers or [_last_layer(model)]) as rec,
            stop_after(model, layers, rec.activations) if stop_early else nullcontext(),
        ):
            for step in tqdm(range(1, steps + 1), disable=not progress, desc=objective.name, leave=False):
                opt.zero_grad()
                value = _objective_value(model, objective, param, transforms, rec.activations)
                if not bool(torch.isfinite(value.detach())):
                    raise ValueError(
                        f"the objective {objective.name!r} is {float(value.detach())} at step {step} of {steps}: "
                        "look for a division by zero or a log of a non-positive number, or lower lr"
                    )
                (-value).backward()
                opt.step()
                for cb in callbacks:
                    cb(param, step)
                result.values.append(float(value.detach()))
                if step in keep:
                    result.snapshots[step] = _to_hwc(param())
    with torch.no_grad():
        final = param()
    result.image = _to_hwc(final)
    result.batch = final.detach().permute(0, 2, 3, 1).clamp(0, 1).cpu().numpy()
    return result


def _check_render_args(
    model: ZooModel,
    objective: Objective,
    size: int | tuple[int, int],
    steps: int,
    lr: float,
    transforms: Sequence[Transform],
    param: nn.Module | None,
    snapshots: Iterable[int],
    callbacks: Sequence[Callback],
) -> tuple[int, float, set[int]]:
    """Every check of :func:`render`, before any work. Returns ``steps``, ``lr`` and the snapshot steps."""
    if not isinstance(model, ZooModel):
        raise TypeError("render needs a ZooModel (it maps RGB to the network input via model.normalize)")
    if not isinstance(objective, Objective):
        kind = "a plain function" if callable(objective) else type(objective).__name__
        raise TypeError(f"objective must be an optimize.Objective, got {kind}; {_WRAP_HINT}")
    steps = check_int(steps, "steps", low=1)
    lr = check_positive(lr, "lr")
    if param is None:
        _hw(size)
    elif not isinstance(param, nn.Module):
        raise TypeError(f"param must be an image parametrization (PixelImage, FFTImage), got {type(param).__name__}")
    for what, funcs, example in (
        ("transforms", transforms, "optimize.jitter(8)"),
        ("callbacks", callbacks, "optimize.blur_every(4)"),
    ):
        if isinstance(funcs, (str, bytes)) or not isinstance(funcs, (list, tuple)):
            raise TypeError(f"{what} must be a list of functions, got {type(funcs).__name__}")
        for i, f in enumerate(funcs):
            if not callable(f):
                raise TypeError(f"{what}[{i}] is {f!r} ({type(f).__name__}): each must be a function, e.g. {example}")
    keep = {check_int(s, "a snapshot step", low=1) for s in snapshots}
    for layer in objective.layers - {OUTPUT, INPUT}:
        get_layer(model, layer)  # unknown names fail before any work
    return steps, lr, keep


def _objective_value(
    model: ZooModel,
    objective: Objective,
    param: nn.Module,
    transforms: Sequence[Transform],
    acts: dict[str, torch.Tensor],
) -> torch.Tensor:
    """One forward pass of ``param()`` through ``transforms`` and the network (stopped early by
    the caller's hooks when possible); the objective's value, a scalar tensor."""
    acts.clear()
    img = param()
    if not isinstance(img, torch.Tensor) or img.ndim != 4 or img.shape[1] != 3:
        raise ValueError(f"param() must return RGB images (B, 3, H, W), got {getattr(img, 'shape', img)!r}")
    x = img
    for t in transforms:
        x = t(x)
    out = forward_until_stop(model.net, model.normalize(x))
    values = {**acts, INPUT: img}
    if out is not None:
        values[OUTPUT] = out
    value = objective(values)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError(
            f"the objective {objective.name!r} must return a scalar tensor, got "
            f"{type(value).__name__}{tuple(value.shape) if isinstance(value, torch.Tensor) else ''}"
        )
    return value.reshape(())


def channel_means(model: ZooModel, images: np.ndarray | torch.Tensor, layer: str, batch_size: int = 32) -> torch.Tensor:
    """Spatial mean of every channel of ``layer`` for each image, in batches (for dataset examples);
    :func:`lecture_utils.features.layer_means` on RGB images.

    Inputs: ``images`` uint8/float array (N, H, W, 3) (RGB) or a tensor (N, 3, H, W) in [0, 1].
    Returns: (N, C) tensor on the CPU.
    """
    x = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if x.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W, 3) or (N, 3, H, W), got shape {tuple(x.shape)}")
    if x.shape[-1] == 3 and x.shape[1] != 3:
        x = x.permute(0, 3, 1, 2)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    check_finite(x, "images")
    return layer_means(model, x, layer, batch_size, prepare=lambda b: model.normalize(b.to(model.device)))


def _last_layer(model: ZooModel) -> str:
    return model.layers[-1]


def _to_hwc(img: torch.Tensor) -> np.ndarray:
    return img.detach()[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy()
