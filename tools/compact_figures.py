"""Store photo-like figures of the notebooks as JPEG, line plots stay PNG (`make notebooks` runs it).

The notebooks' stored figures are most of their size: a grid of photos, feature visualizations or
stylized images compresses badly as PNG (lossless) and well as JPEG, while a line plot or a filter grid
with a few flat colours is small as PNG and smeared by JPEG. This tool decides per figure:

* a PNG with at least ``min_colours`` distinct colours (photo-like: natural images, smooth maps) is
  re-encoded as JPEG (``quality``, 4:4:4 chroma so thin coloured lines and titles stay sharp) when that
  saves at least ``1 - max_ratio`` of its bytes;
* every other figure keeps its PNG byte for byte.

It rewrites cell outputs and the outputs kept in the notebook's widget state (the first render of each
widget, which the static edition shows). Only the figure encoding changes: sources, execution counts and
text outputs stay as they are, so the outputs still come from one clean run.

``python tools/compact_figures.py notebooks/*.ipynb`` rewrites in place and prints the sizes;
``--check`` only reports (exit 1 when a notebook would shrink by more than 5 %).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image

__all__ = ["jpeg_if_smaller", "compact_outputs", "compact_notebook", "main"]

MIN_COLOURS = 4096  # distinct RGB colours: a line plot or a filter grid has far fewer, a photo grid far more
QUALITY = 85
MAX_RATIO = 0.6  # keep the PNG unless the JPEG is at most 60 % of its size


def jpeg_if_smaller(
    png_b64: str, min_colours: int = MIN_COLOURS, quality: int = QUALITY, max_ratio: float = MAX_RATIO
) -> str | None:
    """The figure ``png_b64`` (base64 PNG) as base64 JPEG, or None when it should stay PNG.

    Stays PNG: fewer than ``min_colours`` distinct colours (line plots, flat panels), or a JPEG larger
    than ``max_ratio`` of the PNG. Transparent pixels are composed onto white first.
    """
    raw = base64.b64decode(png_b64)
    with Image.open(io.BytesIO(raw)) as im:
        im.load()
        rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    if rgb.getcolors(maxcolors=min_colours - 1) is not None:  # None: more colours than that
        return None
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=quality, subsampling=0, optimize=True)
    jpeg = buf.getvalue()
    return base64.b64encode(jpeg).decode("ascii") if len(jpeg) <= max_ratio * len(raw) else None


def _outputs(nb: dict) -> Iterator[dict]:
    """Every output dict of the notebook: cell outputs, then those stored in widget state."""
    for cell in nb.get("cells", []):
        yield from cell.get("outputs", [])
    for model in (
        nb.get("metadata", {})
        .get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
        .values()
    ):
        yield from model.get("state", {}).get("outputs", []) or []


def compact_outputs(nb: dict, **kwargs) -> tuple[int, int]:
    """Re-encode the photo-like PNG figures of notebook ``nb`` (a JSON dict) as JPEG, in place.

    Returns: (figures converted, figures kept as PNG).
    """
    converted = kept = 0
    for out in _outputs(nb):
        data = out.get("data", {})
        png = data.get("image/png")
        if not isinstance(png, str):
            continue
        jpeg = jpeg_if_smaller(png.replace("\n", ""), **kwargs)
        if jpeg is None:
            kept += 1
            continue
        del data["image/png"]
        data["image/jpeg"] = jpeg
        meta = out.get("metadata", {})
        if "image/png" in meta:
            meta["image/jpeg"] = meta.pop("image/png")
        converted += 1
    return converted, kept


def compact_notebook(path: str | Path, write: bool = True, **kwargs) -> tuple[int, int, int, int]:
    """Compact one notebook file. Returns: (bytes before, bytes after, converted, kept)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    converted, kept = compact_outputs(nb, **kwargs)
    new = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n" if converted else text
    if write and converted:
        path.write_text(new, encoding="utf-8")
    return len(text.encode()), len(new.encode()), converted, kept


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report only; exit 1 if a notebook would shrink >5 %")
    args = parser.parse_args(argv)
    total_before = total_after = 0
    shrinkable = []
    for path in args.notebooks:
        before, after, converted, kept = compact_notebook(path, write=not args.check)
        total_before, total_after = total_before + before, total_after + after
        print(f"{path.name:45s} {before / 2**20:6.2f} MB -> {after / 2**20:6.2f} MB  ({converted} JPEG, {kept} PNG)")
        if after < 0.95 * before:
            shrinkable.append(path.name)
    print(f"{'total':45s} {total_before / 2**20:6.2f} MB -> {total_after / 2**20:6.2f} MB")
    if args.check and shrinkable:
        print("would shrink: " + ", ".join(shrinkable) + " (run python tools/compact_figures.py on them)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
