"""Large first-layer filters: an AlexNet-style 11x11 stride-4 layer distilled from EfficientNet-Lite0, and
measurements of a filter bank (dead units, near-duplicate filters) -- notebook 01.

The weights ship in ``data/weights/`` (see ``data/README.md``); they are produced by
``tools/train_first_layers.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lecture_utils.datasets import data_dir
from lecture_utils.models import load_checked, shipped_file
from lecture_utils.smallcnn import SmallCNN

STEM_STUDENT_SHA256 = "c51bf96172cb04264c9c4c4f7f25666686baaacd3844f796c3a32d69ff604636"
FASHION_PLATEAU_SHA256 = "fd215e4c7fc276c3a4764b0da829a27bfce9f987daddbdaac1c50e3ab62ad357"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class StemStudent(nn.Module):
    """An AlexNet-style first layer with a small head, for RGB input in [0, 1], (N, 3, H, W), H, W >= 11.

    ``conv1`` is AlexNet's: ``n_filters`` filters of 11x11x3, stride 4, bias, ReLU, no normalization
    (so the filters can be drawn as they are); padding 4 makes the output exactly H/4 x W/4 for H, W
    divisible by 4. Then conv 3x3 (``width``) + BN + ReLU and a 1x1 conv to ``n_out`` channels: the
    student predicts a stride-4 feature map (notebook 01: EfficientNet-Lite0's ``blocks.1``). The
    ImageNet mean/std normalization is done inside ``forward``.
    """

    def __init__(self, n_filters: int = 64, width: int = 64, n_out: int = 24) -> None:
        super().__init__()
        for name, v in (("n_filters", n_filters), ("width", width), ("n_out", n_out)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.config = {"n_filters": n_filters, "width": width, "n_out": n_out}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.features = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(3, n_filters, 11, stride=4, padding=4),
                relu1=nn.ReLU(),
                conv2=nn.Conv2d(n_filters, width, 3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(width),
                relu2=nn.ReLU(),
                out=nn.Conv2d(width, n_out, 1),
            )
        )

    @property
    def conv1(self) -> nn.Conv2d:
        return self.features.conv1

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> conv1's input (ImageNet mean/std); checks the shape."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3 or min(x.shape[-2:]) < 11:
            raise ValueError(f"expected an (N, 3, H, W) RGB tensor with H, W >= 11, got {getattr(x, 'shape', x)}")
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.normalize(x))


def stem_student_path() -> Path:
    """``data/weights/stem_student.pt``."""
    return data_dir() / "weights" / "stem_student.pt"


def fashion_plateau_path() -> Path:
    """``data/weights/fashion_cnn_plateau.pt``."""
    return data_dir() / "weights" / "fashion_cnn_plateau.pt"


_HOW = "; regenerate it with tools/train_first_layers.py (see data/README.md)"


def load_stem_student(device: str | torch.device = "cpu") -> tuple[StemStudent, dict[str, Any]]:
    """The 11x11 stem distilled from EfficientNet-Lite0 (checksum verified), in eval mode, and the saved
    dict: ``snapshots`` {step: conv1 weights (n, 3, 11, 11)}, ``history`` and ``meta``."""
    blob = load_checked(shipped_file(stem_student_path(), _HOW), STEM_STUDENT_SHA256)
    net = StemStudent(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    return net.to(device).eval(), blob


def load_fashion_plateau(device: str | torch.device = "cpu") -> tuple[SmallCNN, dict[str, Any]]:
    """The notebook-01 SmallCNN trained to its plateau (checksum verified), in eval mode, and the
    saved dict: ``snapshots`` {epoch: conv1 weights}, ``accuracy`` {epoch: test accuracy}, ``meta``."""
    blob = load_checked(shipped_file(fashion_plateau_path(), _HOW), FASHION_PLATEAU_SHA256)
    net = SmallCNN(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    return net.to(device).eval(), blob


def active_fraction(pre: torch.Tensor) -> torch.Tensor:
    """How often each unit is active: ``pre`` pre-ReLU responses (N, C, H, W) -> (C,) the fraction of
    images and positions where the response is > 0. A unit with 0 is dead on these inputs."""
    if not isinstance(pre, torch.Tensor) or pre.ndim != 4 or pre.numel() == 0:
        raise ValueError(f"pre must be a non-empty (N, C, H, W) tensor, got {getattr(pre, 'shape', type(pre))}")
    return (pre.detach() > 0).float().mean(dim=(0, 2, 3))


def filter_cosines(weights: torch.Tensor) -> torch.Tensor:
    """Pairwise cosine similarity of mean-centred filters: (C, ...) -> (C, C), diagonal set to 0.

    A filter whose weights are all equal (after centring: zero) has cosine 0 with every other one."""
    if not isinstance(weights, torch.Tensor) or weights.ndim < 2 or weights.shape[0] < 2:
        raise ValueError(f"weights must be a tensor (C >= 2, ...), got {getattr(weights, 'shape', type(weights))}")
    f = weights.detach().float().flatten(1)
    f = nn.functional.normalize(f - f.mean(1, keepdim=True), dim=1)
    return (f @ f.T).fill_diagonal_(0)


def near_duplicates(weights: torch.Tensor, threshold: float = 0.9) -> list[tuple[int, int, float]]:
    """Pairs of filters ``(i, j, cosine)`` with ``i < j`` whose |cosine| (see :func:`filter_cosines`)
    is at least ``threshold`` (in (0, 1]); a negative cosine means one filter is the other inverted."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
    c = filter_cosines(weights)
    i, j = torch.triu_indices(len(c), len(c), offset=1)
    keep = c[i, j].abs() >= threshold
    return [(int(a), int(b), float(c[a, b])) for a, b in zip(i[keep], j[keep])]
