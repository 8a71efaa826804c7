"""Loading images robustly: sample names, any file, any mode -> RGB.

``load_image("chelsea")`` returns a sample photo shipped inside an installed package;
``load_image("vangogh_starry_night")`` a painting from ``data/style-images``; any other string
or path is read as a file. Every result is an RGB ``PIL.Image`` no larger than ``max_size``.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .checks import MIN_IMAGE_SIDE, check_choice, check_int

__all__ = ["load_image", "sample_names", "to_rgb", "data_dir", "MIN_SIDE", "ImageError", "DRAFT_PIXELS"]

MIN_SIDE = MIN_IMAGE_SIDE  # smaller images carry no usable content for a CNN
DRAFT_PIXELS = 16_000_000  # JPEGs larger than this are decoded reduced (``Image.draft``) when they are downsized


class ImageError(ValueError):
    """An image file cannot be used; the message names the file and the problem."""


def _skimage(name: str):
    def load() -> Image.Image:
        from skimage import data

        return Image.fromarray(getattr(data, name)())

    return load


def _sklearn(name: str):
    def load() -> Image.Image:
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image(name))

    return load


def _matplotlib(name: str):
    def load() -> Image.Image:
        from matplotlib import cbook

        with cbook.get_sample_data(name) as f:
            img = Image.open(f)
            img.load()
            return img

    return load


_PACKAGE_SAMPLES = {
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "astronaut": _skimage("astronaut"),
    "rocket": _skimage("rocket"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
    "grace_hopper": _matplotlib("grace_hopper.jpg"),
}


def data_dir() -> Path:
    """The course's ``data/`` folder (next to the package in a checkout); also ``datasets.data_dir``."""
    return Path(__file__).resolve().parent.parent / "data"


def _paintings() -> dict[str, Path]:
    folder = data_dir() / "style-images"
    return {p.stem: p for p in sorted(folder.glob("*.jpg"))} if folder.is_dir() else {}


def sample_names(kind: str = "all") -> list[str]:
    """Names accepted by :func:`load_image`: ``kind`` = ``"photos"``, ``"paintings"`` or ``"all"``."""
    check_choice(kind, "kind", ("all", "photos", "paintings"))
    photos = list(_PACKAGE_SAMPLES) if kind != "paintings" else []
    paintings = list(_paintings()) if kind != "photos" else []
    return photos + paintings


def to_rgb(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any PIL mode (L, LA, P, PA, RGBA, CMYK, 1, I;16, I, F) to 8-bit RGB.

    Transparent pixels are composited on ``background``; 16-bit and float images are rescaled
    from their own value range to 0..255.
    """
    if img.mode == "RGB":
        return img
    if img.mode in {"I;16", "I;16B", "I;16L", "I", "F"}:
        arr = np.asarray(img, dtype=np.float64)
        bad = ~np.isfinite(arr)
        if bad.any():  # the min-max scaling below would turn the whole image black
            raise ImageError(
                f"the {img.mode} image has {int(bad.sum())} NaN or infinite pixel(s) (first at row "
                f"{int(np.argwhere(bad)[0][0])}, column {int(np.argwhere(bad)[0][1])}); fix them, e.g. "
                "np.nan_to_num, before loading"
            )
        lo, hi = float(arr.min()), float(arr.max())
        if img.mode.startswith("I;16") and hi <= 65535 and lo >= 0:
            lo, hi = 0.0, 65535.0 if hi > 255 else 255.0
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        return Image.fromarray(scaled.round().astype(np.uint8), "L").convert("RGB")
    if img.mode in {"RGBA", "LA", "PA"} or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(source: str | os.PathLike, max_size: int = 1024) -> Image.Image:
    """Load an image as RGB.

    Inputs: ``source`` a sample name (see :func:`sample_names`) or a file path;
    ``max_size`` the longest side after loading (larger images are downsized, aspect kept; a JPEG
    of more than ``DRAFT_PIXELS`` pixels is decoded reduced first, so a 100-megapixel photo never
    occupies 1.2 GB).
    Returns: ``PIL.Image`` in mode RGB, EXIF orientation applied.
    Raises: ``FileNotFoundError`` (missing file, with close sample names), :class:`ImageError`
    (a directory, not an image, truncated/corrupt, NaN pixels, smaller than ``MIN_SIDE`` pixels),
    ``ValueError`` for an empty ``source``, ``TypeError`` for a source that is not a str or path.
    """
    max_size = check_int(max_size, "max_size", low=MIN_SIDE)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"load_image takes a sample name or a file path, got {type(source).__name__}")
    key = str(source)
    if not key.strip():
        raise ValueError(
            f"source is an empty name ({key!r}): give a sample name ({', '.join(sample_names('photos'))}, ...) "
            "or the path of an image file"
        )
    if key in _PACKAGE_SAMPLES:
        img, label = _PACKAGE_SAMPLES[key](), f"sample {key!r}"
    else:
        path = _find(key)
        img, label = _read(path, max_size), str(path)
    if min(img.size) < MIN_SIDE:
        raise ImageError(f"{label} is only {img.size[0]}x{img.size[1]} pixels; at least {MIN_SIDE}x{MIN_SIDE} needed")
    try:
        img = to_rgb(img)
    except ImageError as e:
        raise ImageError(f"{label}: {e}") from None
    if max(img.size) > max_size:
        img = img.copy()
        img.thumbnail((max_size, max_size), Image.LANCZOS)
    return img


def _find(key: str) -> Path:
    """The file a name or path stands for (a painting's name -> its file); raises when missing."""
    path = Path(_paintings().get(key, key)).expanduser()
    if not path.exists():
        close = difflib.get_close_matches(key, sample_names(), n=3, cutoff=0.5)
        hint = f" Did you mean the sample {' / '.join(close)}?" if close else ""
        raise FileNotFoundError(
            f"Image not found: {key!r} is neither a file nor a sample name.{hint} Samples: {', '.join(sample_names())}."
        )
    if path.is_dir():
        raise ImageError(f"{path} is a directory, not an image file")
    return path


def _read(path: Path, max_size: int) -> Image.Image:
    """Decode an image file (EXIF orientation applied). A JPEG of more than ``DRAFT_PIXELS`` pixels
    is decoded at 1/2, 1/4 or 1/8 scale, still at least twice ``max_size`` (``Image.draft``)."""
    label = str(path)
    try:
        with Image.open(path) as opened:
            w, h = opened.size
            if opened.format == "JPEG" and w * h > DRAFT_PIXELS and max(w, h) > 2 * max_size:
                opened.draft(opened.mode, (2 * max_size * w // max(w, h), 2 * max_size * h // max(w, h)))
            opened.load()  # decode now: truncated files fail here
            img = opened.copy()
            img.info.update(opened.info)
            exif = opened.getexif()
    except Image.DecompressionBombError as e:
        raise ImageError(f"{label} is too large to decode safely ({e})") from e
    except UnidentifiedImageError as e:
        raise ImageError(f"{label} is not an image file PIL can read") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{label} could not be decoded (truncated or corrupt file?): {e}") from e
    if exif:
        img.getexif().update(exif)
        img = ImageOps.exif_transpose(img)
    return img
