"""Build data/photos/: a pool of free-licence natural photos from Debian packages (issue 17, section 1).

Run on a machine that reaches Debian's archive (never at course run time):

    python tools/build_photo_pool.py --work /tmp/photo-pool          # all stages
    python tools/build_photo_pool.py --work /tmp/photo-pool --stage select   # re-select only

Stages (each caches its result in ``--work``):

1. ``fetch``: ``apt-get download`` the packages of :data:`PACKAGES` and unpack them with ``dpkg -x``;
   GCompris ships its images inside Qt resource files (``*.rcc``), which :func:`extract_rcc` unpacks.
2. ``candidates``: every JPEG / PNG / WebP with a shorter side >= 120 px outside the folders of
   :data:`SKIP` (alphabets, symbols, cartoons, paintings), with a colour-richness measure.
3. ``label``: EfficientNet-Lite0's top-3 classes for each candidate (the course's own model).
4. ``select``: a photo is kept when its top-1 class is not one of :data:`NON_PHOTO` (labels the model
   gives to diagrams, screenshots and clip art), its probability is >= ``--min-prob``, it is colour
   rich, and it is not a near-copy (16x16 average hash) of a photo already kept; at most
   ``--per-class`` photos per top-1 class. The kept photos are written as JPEGs (quality 85, shorter
   side 256 px, longer side centre-cropped to at most 384 px) with ``data/photos/manifest.csv``:
   file, source package and version, original path, licence, sha256, label, probability.

Licences come from each package's ``debian/copyright`` (machine-readable stanzas are matched per file;
otherwise the package's licence is recorded).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import glob
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None
ROOT = Path(__file__).resolve().parents[1]

# package -> licence used when its copyright file has no stanza for a file
PACKAGES = {
    "tuxpaint-stamps-default": "GPL-2",
    "gcompris-qt-data": "GPL-3+",
    "gimp-help-en": "GFDL-NIV-1.2+",
    "opencv-doc": "BSD-3-Clause",
    "mate-backgrounds": "GPL-2+",
    "gnome-backgrounds": "CC-BY-SA-3.0",
}
SKIP = re.compile(
    r"/(cartoon|alphabets|math|money|symbols|music|roadsigns|flags|paintings|details|babyshapes|erase|"
    r"louis-braille|core|lang|seasonal|space|people|clothes|naturalforces|medical|military/final)/|_mirror",
    re.I,
)
# Packages whose photos sit among screenshots and processed variants: keep only the originals.
ONLY = {
    "gimp-help-en": re.compile(r"(orig|source)[^/]*$", re.I),
    "opencv-doc": re.compile(r"/examples/|(original|orig_|pexels|shuttle|boat|temple|Sample)[^/]*$", re.I),
}


def wanted(pkg: str, rel: str) -> bool:
    """Whether a file of ``pkg`` at ``rel`` may be a photo (before looking at its pixels)."""
    if not rel.lower().endswith((".jpg", ".jpeg", ".png", ".webp")) or SKIP.search(rel):
        return False
    if SKIP_NAMES.search(os.path.basename(rel)) or (pkg == "gcompris-qt-data" and "/rcc/" not in rel):
        return False
    return pkg not in ONLY or bool(ONLY[pkg].search(rel))


SKIP_NAMES = re.compile(
    r"(result|output|_res\b|mask|edge|gray|grey|thresh|hist|canny|sobel|lap|blur|contour|match|segment|"
    r"_dst|dst_|after|plot|screenshot|diff|icon|logo|button|dialog|menu|toolbox)",
    re.I,
)
NON_PHOTO = set(
    """web site|analog clock|crossword puzzle|digital clock|nematode|envelope|oscilloscope|coil|scoreboard|rule|
switch|comic book|book jacket|jigsaw puzzle|Band Aid|notebook|menu|screen|monitor|television|slide rule|honeycomb|
window shade|theater curtain|spotlight|doormat|chain mail|maze|shower curtain|quilt|prayer rug|fire screen|pinwheel|
matchstick|hair slide|bathing cap|brassiere|Windsor tie|parachute|bow|sundial|wall clock|street sign|traffic light|
binder|laptop|desktop computer|computer keyboard|space bar|typewriter keyboard|mouse|cash machine|safe|radio|
tape player|cassette|iPod|cellular telephone|hand-held computer|modem|printer|chain|knot|lampshade|tray|plate rack|
bib|apron|handkerchief|mosquito net|velvet|wool|dishrag|paper towel|toilet tissue|rubber eraser|pencil box|ruler|
stopwatch|odometer|barometer|magnetic compass|maypole|spider web|pole|flagpole|manhole cover|radiator|grille|
chainlink fence|solar dish|dial telephone|joystick|loupe|scale|combination lock|padlock|carton|packet|bubble|
buckle|hook|nail|pick|rubber eraser|cleaver|letter opener|pencil sharpener|balloon|parallel bars|puck""".replace(
        "\n", ""
    ).split("|")
)


def extract_rcc(path: str, out: str) -> int:
    """Unpack the images of a Qt resource file (format versions 1-3, zlib-compressed or stored)."""
    b = open(path, "rb").read()
    if b[:4] != b"qres":
        raise ValueError(f"{path} is not a Qt resource file")
    ver, tree, data, names = struct.unpack(">IIII", b[4:20])
    node = 22 if ver >= 2 else 14
    count = 0

    def name(off: int) -> str:
        (n,) = struct.unpack(">H", b[names + off : names + off + 2])
        return b[names + off + 6 : names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(i: int, prefix: str) -> None:
        nonlocal count
        p = tree + i * node
        noff, flags = struct.unpack(">IH", b[p : p + 6])
        nm = name(noff) if i else ""
        if flags & 2:  # directory
            cnt, first = struct.unpack(">II", b[p + 6 : p + 14])
            for c in range(cnt):
                walk(first + c, prefix + nm + "/")
            return
        (doff,) = struct.unpack(">I", b[p + 10 : p + 14])
        (size,) = struct.unpack(">I", b[data + doff : data + doff + 4])
        raw = b[data + doff + 4 : data + doff + 4 + size]
        if flags & 4:  # zstd: not used by the images we need
            return
        if flags & 1:
            raw = zlib.decompress(raw[4:])
        fn = os.path.join(out, (prefix + nm).lstrip("/"))
        if fn.lower().endswith((".jpg", ".jpeg", ".png", ".webp")):
            os.makedirs(os.path.dirname(fn), exist_ok=True)
            Path(fn).write_bytes(raw)
            count += 1

    walk(0, "")
    return count


def fetch(work: Path) -> None:
    debs = work / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    for deb in debs.glob("*.deb"):
        pkg = deb.name.split("_")[0]
        dest = work / "pkgs" / pkg
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True)
        (dest / "VERSION").write_text(deb.name.split("_")[1].replace("%3a", ":"))
    for rcc in glob.glob(str(work / "pkgs" / "gcompris-qt-data" / "**" / "*.rcc"), recursive=True):
        extract_rcc(rcc, str(work / "pkgs" / "gcompris-qt-data" / "rcc" / Path(rcc).stem))


def open_rgb(path: str, side: int) -> Image.Image:
    """RGB image, transparency composited on white, decoded reduced where the format allows."""
    im = Image.open(path)
    im.draft("RGB", (side, side))
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        bg.alpha_composite(im)
        im = bg
    return im.convert("RGB")


def colour_richness(path: str) -> int:
    """Distinct colours (5 bits per channel) of a 128 px thumbnail: clip art has few, photos many."""
    im = open_rgb(path, 256)
    im.thumbnail((128, 128))
    q = (np.asarray(im) // 8).reshape(-1, 3).astype(np.int64)
    return len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]))


def candidates(work: Path) -> list[dict]:
    rows = []
    for pkg in PACKAGES:
        root = work / "pkgs" / pkg
        for f in glob.glob(str(root / "**" / "*"), recursive=True):
            rel = f[len(str(root)) :]
            if not wanted(pkg, rel):
                continue
            try:
                w, h = Image.open(f).size
            except Exception:  # not an image after all
                continue
            if min(w, h) >= 120:
                rows.append({"pkg": pkg, "path": rel, "full": f, "w": w, "h": h, "uniq": colour_richness(f)})
    return rows


def label(rows: list[dict]) -> None:
    import torch

    sys.path.insert(0, str(ROOT))
    from lecture_utils.models import load_model

    zoo = load_model("efficientnet_lite0", device="cpu")
    with torch.no_grad():
        for i in range(0, len(rows), 32):
            chunk = rows[i : i + 32]
            x = torch.cat([zoo.preprocess(np.asarray(open_rgb(r["full"], 448))) for r in chunk])
            top = zoo.net(x).softmax(1).topk(3, dim=1)
            for r, v, k in zip(chunk, top.values, top.indices):
                r["labels"] = [[int(a), zoo.classes[int(a)], float(b)] for a, b in zip(k, v)]


def ahash(path: str) -> np.ndarray:
    im = open_rgb(path, 64).convert("L").resize((16, 16))
    a = np.asarray(im, float)
    return (a > a.mean()).ravel()


def copyright_licence(work: Path, pkg: str, rel: str) -> str:
    """The licence of the last DEP-5 stanza whose ``Files`` pattern matches ``rel`` (extensions ignored:
    GCompris converts its PNG/JPEG sources to WebP), else the package default."""
    paths = glob.glob(str(work / "pkgs" / pkg / "usr/share/doc/*/copyright"))
    if not paths:
        return PACKAGES[pkg]
    text = Path(paths[0]).read_text(errors="replace")
    stem = re.sub(r"\.[a-z]+$", "", rel.lower())
    found = None
    for stanza in re.split(r"\n\s*\n", text):
        m = re.search(r"^Files:(.*?)(?=^\S|\Z)", stanza, re.M | re.S)
        lic = re.search(r"^License:\s*(\S+)", stanza, re.M)
        if not m or not lic:
            continue
        for pat in m.group(1).split():
            pat = re.sub(r"\.[a-z]+$", "", pat.lower())
            if pat != "*" and fnmatch.fnmatch(stem, "*" + pat.lstrip("*")):
                found = lic.group(1)
    return found or PACKAGES[pkg]


def write_photo(src: str, dst: Path) -> None:
    im = open_rgb(src, 1024)
    w, h = im.size
    s = 256 / min(w, h)
    im = im.resize((max(256, round(w * s)), max(256, round(h * s))), Image.LANCZOS)
    w, h = im.size
    cw, ch = min(w, 384), min(h, 384)
    im = im.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85, optimize=True)
    dst.write_bytes(buf.getvalue())


def select(work: Path, rows: list[dict], out: Path, min_prob: float, per_class: int, min_colours: int) -> list[dict]:
    keep: list[dict] = []
    hashes: list[np.ndarray] = []
    per: dict[str, int] = {}
    for r in sorted(rows, key=lambda r: -r["labels"][0][2]):
        idx, lab, p = r["labels"][0]
        if (
            r["pkg"] not in PACKAGES
            or not wanted(r["pkg"], r["path"])
            or lab in NON_PHOTO
            or p < min_prob
            or r["uniq"] < min_colours
            or per.get(lab, 0) >= per_class
        ):
            continue
        h = ahash(r["full"])
        if any((h != k).sum() <= 40 for k in hashes):
            continue
        hashes.append(h)
        per[lab] = per.get(lab, 0) + 1
        keep.append(r)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()
    manifest = []
    for r in sorted(keep, key=lambda r: (r["pkg"], r["path"])):
        stem = re.sub(r"[^a-z0-9]+", "_", Path(r["path"]).stem.lower()).strip("_")[:40]
        name = f"{r['pkg'].split('-')[0]}_{stem}.jpg"
        n = 2
        while (out / name).exists():
            name, n = f"{r['pkg'].split('-')[0]}_{stem}_{n}.jpg", n + 1
        write_photo(r["full"], out / name)
        idx, lab, p = r["labels"][0]
        version_file = work / "pkgs" / r["pkg"] / "VERSION"
        manifest.append(
            {
                "file": name,
                "package": r["pkg"],
                "version": version_file.read_text().strip() if version_file.exists() else "",
                "original_path": r["path"],
                "licence": copyright_licence(work, r["pkg"], r["path"]),
                "sha256": hashlib.sha256((out / name).read_bytes()).hexdigest(),
                "label_index": idx,
                "label": lab,
                "probability": f"{p:.3f}",
            }
        )
    with open(out / "manifest.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(manifest[0]))
        wr.writeheader()
        wr.writerows(manifest)
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/photo-pool"))
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "photos")
    ap.add_argument("--stage", choices=["all", "candidates", "label", "select"], default="all")
    ap.add_argument("--min-prob", type=float, default=0.08)
    ap.add_argument("--per-class", type=int, default=5)
    ap.add_argument("--min-colours", type=int, default=150)
    args = ap.parse_args(argv)
    cache = args.work / "labeled.json"
    if args.stage == "all":
        fetch(args.work)
    if args.stage in ("all", "candidates"):
        rows = candidates(args.work)
        label(rows)
        cache.write_text(json.dumps(rows))
    if args.stage == "label":
        rows = json.loads(cache.read_text())
        label(rows)
        cache.write_text(json.dumps(rows))
    rows = json.loads(cache.read_text())
    manifest = select(args.work, rows, args.out, args.min_prob, args.per_class, args.min_colours)
    size = sum((args.out / m["file"]).stat().st_size for m in manifest)
    print(f"{len(manifest)} photos, {len(set(m['label'] for m in manifest))} classes, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
