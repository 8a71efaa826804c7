"""Data shipped in ``data/``: the Fashion-MNIST subset and pools of image crops.

Lecture use: notebooks 01, 05, 08 train small CNNs on Fashion-MNIST; 02, 08, 09, 12 search a pool
of crops (the photo pool of ``data/photos``, sample photos, paintings) for the patches that most
activate a unit or for nearest neighbours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from .checks import check_int, check_number
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


def _resolve(items: list) -> list[tuple[str, Callable[[], Image.Image]]]:
    """The sources of :func:`crop_pool` -> (label, loader of the RGB PIL image) for each."""
    from .photos import Photo, load_photo, photo_manifest

    samples = set(sample_names())
    pool = {}
    for p in photo_manifest():
        pool[p.file] = pool[p.file.removesuffix(".jpg")] = p.file
    out = []
    for item in items:
        if isinstance(item, Photo):
            item = item.file
        if not isinstance(item, str):
            raise TypeError(
                f"sources must hold image names (str) or photos.Photo rows, got {type(item).__name__} ({item!r})"
            )
        if item in samples:
            out.append((str(item), lambda name=str(item): load_image(name, max_size=512)))
        elif item in pool:
            out.append((pool[item], lambda name=pool[item]: load_photo(name)))
        else:
            raise ValueError(
                f"sources: no image {item!r}; use a name of images.sample_names() or a file of the photo pool "
                "(photos.photo_names())"
            )
    return out


def _boxes(w: int, h: int, scales: tuple[float, ...]) -> list[tuple[int, int, int, int]]:
    """The grid of square boxes (left, top, right, bottom) at each scale, in order; may repeat a box."""
    boxes = []
    for scale in scales:
        side = max(8, int(min(w, h) * scale))
        for top in np.linspace(0, h - side, max(1, round(h / side * 1.5))).astype(int):
            for left in np.linspace(0, w - side, max(1, round(w / side * 1.5))).astype(int):
                boxes.append((int(left), int(top), int(left) + side, int(top) + side))
    return boxes


def crop_pool(
    size: int = 96,
    per_image: int = 16,
    sources: list | tuple | None = None,
    scales: tuple[float, ...] = (1.0, 0.5, 0.3),
    seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """A pool of square crops of images, for "top-activating patches" and nearest neighbours.

    Each source image is cut into a grid of square crops at several scales (a crop's side is
    ``scale`` times the image's shorter side) and each crop resized to ``size``; ``per_image``
    crops per image are kept, chosen with ``seed`` (a private generator: the global random state is
    untouched). No box is kept twice: the grid repeats some boxes (at scale 1 there is one position
    across the shorter side), and a repeat drawn is replaced by another box of the same image.

    Inputs: ``size`` the crops' side in pixels (>= 8); ``per_image`` crops per image (>= 1; fewer
    when an image has fewer boxes); ``sources`` ``None`` for the 14 sample photos and paintings
    (``images.sample_names()``), or a list of image names -- sample names and/or files of the
    photo pool (``photos.photo_names()``, with or without ``.jpg``, or ``photos.Photo`` rows),
    each at most once; ``scales`` fractions in (0, 1]; ``seed`` an int.
    Returns: ``crops`` uint8 array (N, size, size, 3) and ``labels`` (N,) naming each crop's
    source (a sample name, or a pool photo's file name): pass them as ``groups=`` to
    :func:`lecture_utils.activations.top_patches` for at most one crop per source.
    Raises: ``TypeError`` / ``ValueError`` naming the argument.
    """
    size = check_int(size, "size", low=8)
    per_image = check_int(per_image, "per_image", low=1)
    seed = check_int(seed, "seed", low=0)
    rng = np.random.default_rng(seed)  # a private generator: the global state is untouched
    if not isinstance(scales, (list, tuple)):
        raise TypeError(f"scales must be a tuple of fractions in (0, 1], got {type(scales).__name__} ({scales!r})")
    if not scales:
        raise ValueError("scales is empty: give at least one fraction in (0, 1]")
    for s in scales:
        check_number(s, "each of scales", low=0.0, high=1.0, strict_low=True)
    if sources is None:
        items = sample_names()
    elif isinstance(sources, (str, bytes)) or not isinstance(sources, (list, tuple, np.ndarray)):
        raise TypeError(f"sources must be a list of image names, got {type(sources).__name__}")
    elif len(sources) == 0:
        raise ValueError("sources is empty: give at least one image name")
    else:
        items = list(sources)
    resolved = _resolve(items)
    seen: set[str] = set()
    for name, _ in resolved:
        if name in seen:
            raise ValueError(f"sources names {name!r} more than once: each image at most once")
        seen.add(name)
    crops, labels = [], []
    for number, (name, load) in enumerate(resolved):
        img = load()
        boxes = _boxes(*img.size, tuple(scales))
        keep = rng.choice(len(boxes), size=min(per_image, len(boxes)), replace=False)
        chosen, taken = [], set()
        for k in sorted(keep):  # a box drawn twice (the grid repeats it) is kept once
            if boxes[k] not in taken:
                chosen.append(int(k))
                taken.add(boxes[k])
        distinct = list(dict.fromkeys(boxes))
        want = min(per_image, len(distinct))
        if len(chosen) < want:
            # replace the repeats by unused boxes, drawn by a generator of this image's own: the draws of the
            # next images stay as they were (a pool without repeats is the same as before the rule)
            spare = [boxes.index(b) for b in distinct if b not in taken]
            extra = np.random.default_rng([seed, number]).permutation(len(spare))
            chosen += [spare[j] for j in extra[: want - len(chosen)]]
        for k in sorted(chosen):
            crops.append(np.asarray(img.crop(boxes[k]).resize((size, size), Image.BILINEAR)))
            labels.append(name)
    return np.stack(crops), labels
