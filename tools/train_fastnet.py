"""Train the fast-stylization networks shipped with the course (``data/weights/stylizer_*.pt``,
``data/weights/texture_*.pt``; lecture 19). Usage::

    python tools/train_fastnet.py --style vangogh_starry_night --out stylizer_vangogh_starry_night.pt
    python tools/train_fastnet.py --texture vangogh_starry_night --out texture_vangogh_starry_night.pt

The exact settings of the committed files are in ``data/README.md``. Prints the steps, the last
losses, the file's sha256 and its size. (Formerly ``python -m lecture_utils.fastnet``; tooling lives
outside the package a student imports.)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from lecture_utils.fastnet import NORMS, _device, save_net, train_stylizer, train_texture_net


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python tools/train_fastnet.py", description=__doc__.split("\n\n")[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--style", help="painting name: train a stylizer (Johnson et al.)")
    what.add_argument("--texture", help="painting name: train a texture network (Ulyanov et al.)")
    p.add_argument("--out", required=True, help="output .pt file")
    for name in ("--steps", "--size", "--batch"):
        p.add_argument(name, type=int, default=None)
    for name in ("--lr", "--style-weight", "--tv-weight", "--noise"):
        p.add_argument(name, type=float, default=None)
    p.add_argument("--width", type=int, nargs=3, default=None)
    p.add_argument("--norm", choices=NORMS, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop training after this many seconds")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    a = parser().parse_args(argv)
    device = _device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    opts = {k: v for k, v in dict(steps=a.steps, size=a.size, batch=a.batch, lr=a.lr).items() if v is not None}
    if a.style:
        extra = dict(style_weight=a.style_weight, tv_weight=a.tv_weight, noise=a.noise, width=a.width, norm=a.norm)
        opts.update({k: v for k, v in extra.items() if v is not None})
        net, hist = train_stylizer(a.style, seed=a.seed, device=device, max_seconds=a.max_seconds, **opts)
        last = {k: float(np.mean(v[-50:])) for k, v in hist.items() if k != "step"}
    else:
        net, hist = train_texture_net(a.texture, seed=a.seed, device=device, max_seconds=a.max_seconds, **opts)
        last = {"style": float(np.mean(hist["style"][-50:]))}
    digest = save_net(net, a.out, hist)
    size = Path(a.out).stat().st_size
    print(f"{a.out}: {len(hist['step'])} steps in {net.config['train']['seconds']} s on {device}; last losses {last}")
    print(f"sha256 {digest}  size {size} bytes")


if __name__ == "__main__":
    main()
