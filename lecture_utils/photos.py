"""The photo pool: a few hundred free-licence natural photos shipped in ``data/photos/``.

Top-activating patches, nearest neighbours and dataset examples need *many different* photos:
crops of a dozen sample images make every "top 9" a set of near-copies of one photo. The pool
holds JPEGs (shorter side 256 px) taken from Debian packages (Tux Paint's photo stamps, GCompris,
the GIMP manual, OpenCV's samples, desktop wallpapers) by ``tools/build_photo_pool.py``;
``data/photos/manifest.csv`` records for each file its source package and version, original path,
licence, sha256 and EfficientNet-Lite0's top-1 class with its probability.

Nothing is downloaded: the files are part of the course.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from .checks import check_int
from .images import data_dir

__all__ = ["Photo", "photo_dir", "photo_manifest", "photo_names", "photo_labels", "load_photo", "photo_pool"]


@dataclass(frozen=True)
class Photo:
    """One row of ``manifest.csv``."""

    file: str
    package: str
    version: str
    original_path: str
    licence: str
    sha256: str
    label_index: int
    label: str
    probability: float


def photo_dir() -> Path:
    """``data/photos`` of the course."""
    return data_dir() / "photos"


@lru_cache(maxsize=1)
def _manifest(path: str) -> tuple[Photo, ...]:
    with open(path, newline="") as fh:
        return tuple(
            Photo(
                file=r["file"],
                package=r["package"],
                version=r["version"],
                original_path=r["original_path"],
                licence=r["licence"],
                sha256=r["sha256"],
                label_index=int(r["label_index"]),
                label=r["label"],
                probability=float(r["probability"]),
            )
            for r in csv.DictReader(fh)
        )


def photo_manifest() -> list[Photo]:
    """All photos of the pool, in file order."""
    path = photo_dir() / "manifest.csv"
    if not path.is_file():
        raise FileNotFoundError(f"the photo pool's manifest is missing at {path}; it ships in data/photos/")
    return list(_manifest(str(path)))


def _draw(n: int | None, seed: int) -> list[Photo]:
    """All rows of the manifest, or ``n`` of them drawn with ``seed`` (a private generator), in file order."""
    rows = photo_manifest()
    if n is not None:
        n = check_int(n, "n", low=1, high=len(rows))
        order = np.random.default_rng(check_int(seed, "seed")).permutation(len(rows))[:n]
        rows = [rows[i] for i in sorted(order)]
    return rows


def photo_names(n: int | None = None, seed: int = 0) -> list[str]:
    """File names of the pool's photos, for ``datasets.crop_pool(sources=...)``.

    Inputs: ``n`` how many (``None``: all; else ``n`` drawn with ``seed`` by a private generator,
    the global random state untouched -- the same ``n``/``seed`` draw the same photos as
    :func:`photo_pool`).
    Returns: a list of file names (``"gcompris_cat.jpg"``, ...) in manifest order.
    """
    return [p.file for p in _draw(n, seed)]


def photo_labels(names: list[str] | tuple[str, ...]) -> list[str]:
    """EfficientNet-Lite0's top-1 class of each named photo (the manifest's ``label``), e.g. as
    captions under top patches. A name that is not a pool photo (a sample image or painting of
    ``images.sample_names()``) keeps its own name.

    Inputs: ``names`` a list of file names (with or without ``.jpg``) or sample names.
    Returns: a list of str of the same length.
    """
    if isinstance(names, str) or not isinstance(names, (list, tuple, np.ndarray)):
        raise TypeError(f"names must be a list of photo file names, got {type(names).__name__}")
    by_name = {}
    for p in photo_manifest():
        by_name[p.file] = by_name[p.file.removesuffix(".jpg")] = p.label
    out = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"names must hold str, got {type(name).__name__} ({name!r})")
        out.append(by_name.get(name, name))
    return out


def _find(name: str) -> Photo:
    if not isinstance(name, str):
        raise TypeError(f"name must be a photo's file name (str), got {type(name).__name__}")
    for p in photo_manifest():
        if name in (p.file, p.file.removesuffix(".jpg")):
            return p
    raise ValueError(f"no photo {name!r} in the pool; see photo_manifest() for the {len(photo_manifest())} names")


def load_photo(name: str, verify: bool = False) -> Image.Image:
    """The photo ``name`` (file name, with or without ``.jpg``) as an RGB PIL image.

    ``verify=True`` also checks the file's sha256 against the manifest.
    """
    photo = _find(name)
    path = photo_dir() / photo.file
    if verify:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != photo.sha256:
            raise ValueError(f"{path} has sha256 {digest}, expected {photo.sha256}: corrupt or modified file")
    with Image.open(path) as im:
        return im.convert("RGB")


def photo_pool(n: int | None = None, size: int = 224, seed: int = 0) -> tuple[np.ndarray, list[Photo]]:
    """Centre crops of the pool's photos, one per photo.

    Inputs: ``n`` how many photos (``None``: all; else ``n`` drawn with ``seed`` by a private
    generator, the global random state untouched); ``size`` the crops' side in pixels.
    Returns: ``images`` uint8 (N, size, size, 3) and the ``Photo`` rows in the same order.
    """
    size = check_int(size, "size", low=8, high=1024)
    rows = _draw(n, seed)
    out = np.empty((len(rows), size, size, 3), np.uint8)
    for i, p in enumerate(rows):
        im = load_photo(p.file)
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        out[i] = np.asarray(im.resize((size, size), Image.BICUBIC))
    return out, rows
