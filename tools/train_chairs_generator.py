"""Train the chair generator shipped with the course (``data/weights/chairs_generator.pt``).

All 12 styles, 36 azimuths x 3 elevations at 64x64 (``--size``), the views of ``upconv.HOLDOUT_STYLES`` thinned to
every 40 degrees; prints the held-out scores, the file's sha256 and its size. Settings:
``lecture_utils.upconv.FULL_SETTINGS``. Usage::

    python tools/train_chairs_generator.py [--out PATH] [--steps N] [--device cpu|cuda] [--threads 1]

(Formerly ``python -m lecture_utils.upconv``; tooling lives outside the package a student imports.)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from lecture_utils.chairs import holdout_mask, make_dataset
from lecture_utils.upconv import (
    CHAIR_SIZE,
    FULL_SETTINGS,
    HOLDOUT_KEEP_EVERY,
    HOLDOUT_STYLES,
    chairs_generator_path,
    evaluate_views,
    save_generator,
    train_generator,
)


def main(argv: Sequence[str] | None = None) -> None:
    """Train, evaluate on the held-out views, save with metadata, print sha256 and size."""
    parser = argparse.ArgumentParser(prog="python tools/train_chairs_generator.py", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=chairs_generator_path())
    parser.add_argument("--steps", type=int, default=FULL_SETTINGS["steps"])
    parser.add_argument("--size", type=int, default=CHAIR_SIZE, help="image side in pixels (default %(default)s)")
    parser.add_argument("--device", default=None, help="default: cuda when present, else cpu")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: reproducible and polite)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = dict(FULL_SETTINGS, steps=args.steps)
    t0 = time.time()
    data = make_dataset(size=args.size)
    train = ~holdout_mask(data, HOLDOUT_STYLES, HOLDOUT_KEEP_EVERY)
    print(f"rendered {len(data)} images in {time.time() - t0:.0f} s; {train.sum()} for training")
    net, history = train_generator(data, train, device=args.device, **settings)
    elapsed = time.time() - t0
    scores = evaluate_views(net.cpu(), data, ~train, train)
    meta = {
        "settings": settings,
        "history": [round(h, 6) for h in history],
        "log_every": 10,
        "size": args.size,
        "holdout_styles": list(HOLDOUT_STYLES),
        "holdout_keep_every": HOLDOUT_KEEP_EVERY,
        "heldout_mse": float(scores["generator"].mean()),
        "heldout_iou": float(scores["mask IoU"].mean()),
        "torch": str(torch.__version__),
    }
    digest = save_generator(net, args.out, meta)
    size = args.out.stat().st_size
    print(f"held-out views: generator MSE {meta['heldout_mse']:.4f}, mask IoU {meta['heldout_iou']:.3f}")
    for k, v in scores.items():
        print(f"  {k}: {np.nanmean(v):.4f}")
    print(f"wrote {args.out} ({size / 1e6:.2f} MB) in {elapsed:.0f} s\nsha256 {digest}")


if __name__ == "__main__":
    main()
