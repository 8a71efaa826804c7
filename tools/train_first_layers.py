"""Train the two first-layer networks that notebook 01 loads (CPU, 1 thread is enough).

``--what fashion``: the notebook's SmallCNN (16 conv1 filters 9x9) on the Fashion-MNIST subset, same
recipe as the notebook (SGD momentum 0.9, lr 0.1, cosine, weight decay 5e-4, batch 64, seed 0) but for
``--epochs`` epochs; saves conv1 after every epoch and the test accuracy ->
``data/weights/fashion_cnn_plateau.pt``.

``--what stem``: ``lecture_utils.firstlayer.StemStudent`` (conv1 = AlexNet's shape: 64 filters 11x11x3,
stride 4; then conv 3x3 + BN + ReLU and conv 1x1) trained to predict EfficientNet-Lite0's ``blocks.1`` output
(24 channels at stride 4, standardized per channel) -- feature distillation; the full teacher's logits were too
slow to use on a CPU. ``--crops`` random crops per photo (scale 0.25-1 of the area, aspect 3/4-4/3, horizontal
flip, brightness/contrast/saturation factor 0.7-1.3) are drawn once at ``--size`` px; teacher and student see
the same (randomly flipped) batch; MSE loss; AdamW with a one-cycle schedule. 32 photos (seed 0) are held out:
R^2 of the standardized teacher maps on their centre crops every ``--log-every`` steps. conv1 snapshots at 0,
``--snap-steps`` and the last step. -> ``data/weights/stem_student.pt``.

Usage (the shipped files; see data/README.md):
``OMP_NUM_THREADS=1 python tools/train_first_layers.py --what fashion --epochs 20`` (455 s);
``OMP_NUM_THREADS=1 python tools/train_first_layers.py --what stem --size 96 --batch 32 --width 32 --crops 10
--steps 2400 --weight-decay 0.05 --snap-steps 10 50 200 800 --log-every 100 --max-seconds 600``
(395 s of one CPU thread; the files' bytes depend on the output path, so write to the default).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance

from lecture_utils import firstlayer, smallcnn
from lecture_utils.datasets import load_fashion_mnist
from lecture_utils.models import load_model, sha256_of
from lecture_utils.photos import load_photo, photo_manifest


def train_fashion(args: argparse.Namespace) -> None:
    data = load_fashion_mnist()
    torch.manual_seed(args.seed)
    net = smallcnn.SmallCNN(kernel_size=9, n_filters=16)
    snaps, acc = {}, {}

    def cb(epoch: int, n: torch.nn.Module) -> None:
        snaps[epoch] = smallcnn.first_layer_filters(n)
        acc[epoch] = smallcnn.evaluate(n, data.x_test, data.y_test)
        print(f"epoch {epoch}: test accuracy {acc[epoch]:.4f}  ({time.time() - t0:.0f} s)", flush=True)

    t0 = time.time()
    hist = smallcnn.train(
        net, data.x_train, data.y_train, epochs=args.epochs, batch_size=64, seed=args.seed, callback=cb, progress=False
    )
    out = Path(args.out or firstlayer.fashion_plateau_path())
    blob = {
        "config": dict(net.config),
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        "snapshots": snaps,
        "accuracy": acc,
        "meta": {"epochs": args.epochs, "train_loss": hist, "seconds": time.time() - t0, "seed": args.seed},
    }
    torch.save(blob, out)
    print(f"wrote {out}: {out.stat().st_size} bytes, sha256 {sha256_of(out)}; {time.time() - t0:.0f} s")


def _random_crop(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    for _ in range(10):
        area = rng.uniform(0.25, 1.0) * w * h
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = int(round(np.sqrt(area * ratio))), int(round(np.sqrt(area / ratio)))
        if cw <= w and ch <= h:
            x0, y0 = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
            im = im.crop((x0, y0, x0 + cw, y0 + ch))
            break
    else:
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    for enh in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        im = enh(im).enhance(rng.uniform(0.7, 1.3))
    return im


def _centre(im: Image.Image) -> Image.Image:
    w, h = im.size
    s = min(w, h)
    return im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))


def _to_tensor(ims: list[Image.Image], size: int) -> torch.Tensor:
    arr = np.stack([np.asarray(im.resize((size, size), Image.BICUBIC)) for im in ims])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # uint8


def teacher_stage(teacher) -> torch.nn.Module:
    """EfficientNet-Lite0 up to ``blocks.1`` (24 channels at stride 4), with its input normalization."""
    n = teacher.net
    return torch.nn.Sequential(teacher.normalize, n.conv_stem, n.bn1, n.blocks[0], n.blocks[1]).eval()


def train_stem(args: argparse.Namespace) -> None:
    t0 = time.time()
    rng = np.random.default_rng(args.seed)
    files = [p.file for p in photo_manifest()]
    held = set(rng.choice(len(files), 32, replace=False).tolist())
    train_files = [f for i, f in enumerate(files) if i not in held]
    test_files = [f for i, f in enumerate(files) if i in held]
    stage = teacher_stage(load_model("efficientnet_lite0", device="cpu"))
    photos = {f: load_photo(f).convert("RGB") for f in files}
    x_train = _to_tensor([_random_crop(photos[f], rng) for f in train_files for _ in range(args.crops)], args.size)
    x_test = _to_tensor([_centre(photos[f]) for f in test_files], args.size).float() / 255
    with torch.no_grad():
        t_test = stage(x_test)
        probe = stage(x_train[:: max(1, len(x_train) // 256)].float() / 255)
    mu, sd = probe.mean((0, 2, 3), keepdim=True), probe.std((0, 2, 3), keepdim=True)  # per-channel standardization
    t_test = (t_test - mu) / sd
    print(f"{len(x_train)} crops ready in {time.time() - t0:.0f} s", flush=True)

    torch.manual_seed(args.seed)
    net = firstlayer.StemStudent(n_filters=args.filters, width=args.width, n_out=t_test.shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    gen = torch.Generator().manual_seed(args.seed)
    snaps = {0: net.conv1.weight.detach().clone()}
    hist: list[tuple[int, float, float]] = []

    def evaluate() -> float:  # held-out R^2 of the standardized teacher map (1 - MSE / variance)
        net.eval()
        with torch.no_grad():
            err = float(F.mse_loss(net(x_test), t_test))
        net.train()
        return 1 - err / float(t_test.var())

    step, t_train0, losses = 0, time.time(), []
    net.train()
    while step < args.steps and time.time() - t_train0 < args.max_seconds:
        idx = torch.randint(len(x_train), (args.batch,), generator=gen)
        xb = x_train[idx].float() / 255
        flip = torch.rand(args.batch, generator=gen) < 0.5
        xb[flip] = xb[flip].flip(-1)
        with torch.no_grad():
            target = (stage(xb) - mu) / sd
        loss = F.mse_loss(net(xb), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        losses.append(loss.item())
        if step in args.snap_steps:
            snaps[step] = net.conv1.weight.detach().clone()
        if step % args.log_every == 0:
            hist.append((step, float(np.mean(losses[-args.log_every :])), evaluate()))
            print(
                f"step {step}: loss {hist[-1][1]:.3f}  held-out R2 {hist[-1][2]:.3f}  ({time.time() - t0:.0f} s)",
                flush=True,
            )
    snaps[step] = net.conv1.weight.detach().clone()
    net.eval()
    r2 = evaluate()
    out = Path(args.out or firstlayer.stem_student_path())
    blob = {
        "config": dict(net.config),
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        "snapshots": snaps,
        "history": torch.tensor(hist),
        "meta": {
            "steps": step,
            "batch": args.batch,
            "size": args.size,
            "crops_per_photo": args.crops,
            "n_train_crops": len(x_train),
            "held_out": test_files,
            "lr": args.lr,
            "teacher": "efficientnet_lite0 blocks.1",
            "weight_decay": args.weight_decay,
            "seed": args.seed,
            "seconds": time.time() - t0,
            "held_out_r2": r2,
        },
    }
    torch.save(blob, out)
    print(
        f"wrote {out}: {out.stat().st_size} bytes, sha256 {sha256_of(out)}; "
        f"held-out R2 {r2:.3f}; {time.time() - t0:.0f} s"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--what", choices=("fashion", "stem"), required=True)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--crops", type=int, default=10)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--temperature", type=float, default=2.0)
    p.add_argument("--snap-steps", type=int, nargs="*", default=[25, 100, 300])
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--max-seconds", type=float, default=780)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    (train_fashion if args.what == "fashion" else train_stem)(args)


if __name__ == "__main__":
    main()
