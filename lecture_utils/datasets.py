"""Data shipped in ``data/``: the Fashion-MNIST subset and pools of image crops.

Lecture use: notebooks 01, 05, 08 train small CNNs on Fashion-MNIST; 02, 08, 09, 12 search a pool
of crops (sample photos + paintings) for the patches that most activate a unit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checks import check_int
from .images import data_dir, load_image, sample_names

__all__ = ["data_dir", "FashionMNIST", "load_fashion_mnist", "crop_pool"]

FASHION_SHA256 = "34b0c5c2d12c19486904de473d8ddc2ee9773e33102014b9e4a39801e3bc2e72"


@dataclass
class FashionMNIST:
    """Arrays of the subset. ``x_*``: (N, 28, 28) uint8; ``y_*``: (N,) int64; ``class_names``: 10 str."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


def load_fashion_mnist(path: str | Path | None = None) -> FashionMNIST:
    """Load ``data/datasets/fashion_mnist_subset.npz`` (15,000 train / 3,000 test), checking its sha256."""
    path = Path(path) if path is not None else data_dir() / "datasets" / "fashion_mnist_subset.npz"
    if not path.is_file():
        raise FileNotFoundError(f"Fashion-MNIST subset not found at {path}; it ships in data/datasets/ of the course")
    if path.name == "fashion_mnist_subset.npz":
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != FASHION_SHA256:
            raise ValueError(f"{path} has sha256 {digest}, expected {FASHION_SHA256}: corrupt or modified file")
    with np.load(path, allow_pickle=False) as z:
        return FashionMNIST(
            x_train=z["x_train"],
            y_train=z["y_train"].astype(np.int64),
            x_test=z["x_test"],
            y_test=z["y_test"].astype(np.int64),
            class_names=[str(c) for c in z["class_names"]],
        )


def crop_pool(
    size: int = 96,
    per_image: int = 16,
    sources: list[str] | None = None,
    scales: tuple[float, ...] = (1.0, 0.5, 0.3),
    seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """A pool of square crops of the sample photos and paintings, for "top-activating patches".

    Each source image is cut into a grid of crops at several scales (a crop's side is ``scale``
    times the image's shorter side) and each crop resized to ``size``; ``per_image`` crops per
    image are kept, chosen with ``seed``.

    Returns: ``crops`` uint8 array (N, size, size, 3) and ``labels`` (N,) naming the source image.
    """
    from PIL import Image

    size = check_int(size, "size", low=8)
    per_image = check_int(per_image, "per_image", low=1)
    rng = np.random.default_rng(check_int(seed, "seed"))  # a private generator: the global state is untouched
    crops, labels = [], []
    for name in sources or sample_names():
        img = load_image(name, max_size=512)
        w, h = img.size
        boxes = []
        for scale in scales:
            side = max(8, int(min(w, h) * scale))
            for top in np.linspace(0, h - side, max(1, round(h / side * 1.5))).astype(int):
                for left in np.linspace(0, w - side, max(1, round(w / side * 1.5))).astype(int):
                    boxes.append((int(left), int(top), int(left) + side, int(top) + side))
        keep = rng.choice(len(boxes), size=min(per_image, len(boxes)), replace=False)
        for k in sorted(keep):
            crops.append(np.asarray(img.crop(boxes[k]).resize((size, size), Image.BILINEAR)))
            labels.append(name)
    return np.stack(crops), labels
