"""Train the x4 super-resolution networks shipped with the course (``data/weights/sr_pixel.pt``,
``data/weights/sr_feature.pt``; lecture 20). Usage::

    python tools/train_superres.py --loss pixel|feature --out PATH [--steps N ...]

The exact commands of the committed files are ``lecture_utils.superres.SR_COMMANDS`` (and
``data/README.md``). ``--calibrate SECONDS`` only times 40 steps and prints how many steps fit.
(Formerly ``python -m lecture_utils.superres``; tooling lives outside the package a student imports.)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

from lecture_utils.superres import LOSSES, save_sr, train_sr


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python tools/train_superres.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--loss", choices=LOSSES, required=True)
    p.add_argument("--out", required=True, help="output .pt file")
    for name, default in (("--steps", 2000), ("--batch-size", 32), ("--crop", 96), ("--width", 48), ("--blocks", 4)):
        p.add_argument(name, type=int, default=default)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--tv", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cuda / cpu (default: cuda when present)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--max-seconds", type=float, default=0.0, help="stop early after this long (0: no limit)")
    p.add_argument(
        "--calibrate",
        type=float,
        default=0.0,
        help="only time 40 training steps and print how many steps (a multiple of 500) fit in this many seconds",
    )
    return p


def calibrate(a: argparse.Namespace) -> None:
    """Time 40 steps (the last 30 of them) and print the steps that fit in ``a.calibrate`` seconds."""
    stamps: dict[int, float] = {}
    net_args = dict(batch_size=a.batch_size, crop=a.crop, width=a.width, blocks=a.blocks, device=a.device)
    train_sr(a.loss, steps=40, log_every=10, callback=lambda step, _: stamps.__setitem__(step, time.time()), **net_args)
    per_step = (stamps[40] - stamps[10]) / 30
    print(f"{per_step * 1e3:.1f} ms per step", flush=True)
    print(max(500, int(a.calibrate / per_step) // 500 * 500))


def main(argv: Sequence[str] | None = None) -> int:
    a = parser().parse_args(argv)
    t0 = time.time()
    if a.calibrate > 0:
        calibrate(a)
        return 0
    net, hist = train_sr(
        a.loss,
        steps=a.steps,
        batch_size=a.batch_size,
        crop=a.crop,
        lr=a.lr,
        width=a.width,
        blocks=a.blocks,
        tv=a.tv,
        seed=a.seed,
        device=a.device,
        log_every=a.log_every,
        val_every=a.val_every,
        max_seconds=a.max_seconds,
        progress=True,
    )
    digest = save_sr(net.cpu(), a.out, hist)
    size = Path(a.out).stat().st_size
    print(f"saved {a.out}: {size} bytes, sha256 {digest}, {net.config['steps']} steps in {time.time() - t0:.0f}s")
    if "val_psnr" in hist:
        print(
            f"held-out crops: PSNR {hist['val_psnr'][0]:.2f} -> {hist['val_psnr'][-1]:.2f} dB, "
            f"VGG error {hist['val_feature'][0]:.3f} -> {hist['val_feature'][-1]:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
