"""A small CNN for 28x28 grayscale images (Fashion-MNIST) that trains on a CPU in a minute.

Lecture «Визуализация весов: свёртки первого слоя» (notebook 01): the first layer has LARGE
kernels (16 filters 9x9), so its weights can be looked at as pictures while the net trains --
noisy at initialization, smooth and structured after training (Krizhevsky, Sutskever & Hinton
2012, "ImageNet Classification with Deep Convolutional Neural Networks", Fig. 3; Zeiler &
Fergus 2014, "Visualizing and Understanding Convolutional Networks", Fig. 4). Notebooks 05 and 08
reuse the trained weights shipped in ``data/weights/fashion_cnn.pt`` (:func:`load_fashion_cnn`).

Layers (names usable with ``hooks.record``)::

    conv1 (1->16, 9x9, pad 4) relu1 pool1   28 -> 14
    conv2 (16->32, 3x3)       relu2 pool2   14 -> 7
    conv3 (32->64, 3x3)       relu3          7 -> 7   (last conv layer)
    gap (global average pooling) flatten fc (64 -> 10)

The head is global average pooling + linear, so class activation maps apply.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_choice, check_finite, check_int, check_non_negative, check_positive, device_of, seeded
from .datasets import data_dir
from .models import as_module, load_saved, sha256_of, shipped_file

__all__ = [
    "SmallCNN",
    "FASHION_CNN_SHA256",
    "fashion_cnn_path",
    "to_tensor",
    "train",
    "evaluate",
    "predict",
    "save_weights",
    "load_weights",
    "load_fashion_cnn",
    "roughness",
    "first_layer_filters",
    "backbone",
]

FASHION_CNN_SHA256 = "ebc3651b682d1065bf8ceb73770c5ae4c132aebcb11be1dbe99b7f0c41f728ac"
"""sha256 of ``data/weights/fashion_cnn.pt`` (produced by notebook 01 in full mode)."""


def fashion_cnn_path() -> Path:
    """Where the trained weights ship: ``data/weights/fashion_cnn.pt``."""
    return data_dir() / "weights" / "fashion_cnn.pt"


class SmallCNN(nn.Sequential):
    """Three conv layers + GAP + linear for (N, 1, 28, 28) inputs in [0, 1].

    Inputs: ``kernel_size`` of conv1 (odd, default 9), ``n_filters`` of conv1 (16),
    ``width`` channels of conv3 (64; conv2 has ``width // 2``), ``n_classes`` (10).
    Forward: (N, 1, H, W) -> logits (N, n_classes); any H, W >= 4 works (fully convolutional + GAP).
    """

    def __init__(self, kernel_size: int = 9, n_filters: int = 16, width: int = 64, n_classes: int = 10) -> None:
        if check_int(kernel_size, "kernel_size") < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        if min(n_filters, width // 2, n_classes) < 1:
            raise ValueError("n_filters, width and n_classes must be >= 1")
        layers = OrderedDict(
            conv1=nn.Conv2d(1, n_filters, kernel_size, padding=kernel_size // 2),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(n_filters, width // 2, 3, padding=1),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2),
            conv3=nn.Conv2d(width // 2, width, 3, padding=1),
            relu3=nn.ReLU(),
            gap=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            fc=nn.Linear(width, n_classes),
        )
        super().__init__(layers)
        self.config = {"kernel_size": kernel_size, "n_filters": n_filters, "width": width, "n_classes": n_classes}


def to_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float tensor (N, 1, 28, 28) in [0, 1]."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected grayscale images (N, H, W) or (N, 1, H, W), got shape {tuple(x.shape)}")
    return check_finite(x.float() / 255.0 if x.dtype == torch.uint8 else x.float(), "images")


def _check_xy(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = to_tensor(x)
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).long()
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"labels must have shape ({len(x)},), got {tuple(y.shape)}")
    return x, y


def cross_entropy_loss(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """The default training loss: cross-entropy of ``net(xb)`` against labels ``yb``."""
    return F.cross_entropy(net(xb), yb)


def train(
    net: nn.Module,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 0.1,
    weight_decay: float = 5e-4,
    seed: int = 0,
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] = cross_entropy_loss,
    callback: Callable[[int, nn.Module], None] | None = None,
    params: list[nn.Parameter] | None = None,
    optimizer: str = "sgd",
    progress: bool = True,
) -> list[float]:
    """Train ``net`` with Adam (decoupled weight decay, i.e. AdamW) or SGD (momentum 0.9), with a
    cosine learning-rate schedule, on the model's device.

    Inputs: ``x`` images (N, 28, 28) uint8 or (N, 1, H, W) float; ``y`` labels (N,);
    ``loss_fn(net, xb, yb)`` the loss of one batch (default cross-entropy; notebook 05 adds a
    filter loss); ``callback(epoch, net)`` is called after each epoch (epoch = 1, 2, ...) and once
    before training with epoch 0; ``params`` the parameters to train (default: all that require
    grad); ``optimizer`` "sgd" or "adam".
    Returns: the mean training loss of each epoch. The net is left in eval mode.
    """
    epochs, batch_size = check_int(epochs, "epochs", low=0), check_int(batch_size, "batch_size", low=1)
    lr, weight_decay = check_positive(lr, "lr"), check_non_negative(weight_decay, "weight_decay")
    check_choice(optimizer, "optimizer", ("adam", "sgd"))
    net = as_module(net)
    x, y = _check_xy(x, y)
    params = list(params) if params is not None else [p for p in net.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    steps = max(1, epochs * ((len(x) + batch_size - 1) // batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    history: list[float] = []
    if callback is not None:
        net.eval()
        callback(0, net)
    from tqdm import tqdm

    bar = tqdm(total=steps, desc="training", disable=not progress, mininterval=5.0)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", low=0))
    with seeded(seed, [device_of(net)]):  # dropout etc. draw from the global generators: fork them
        for epoch in range(1, epochs + 1):
            history.append(
                _epoch(net, x, y, batch_size, torch.randperm(len(x), generator=gen), loss_fn, opt, sched, bar)
            )
            bar.set_postfix(epoch=epoch, loss=f"{history[-1]:.3f}")
            net.eval()
            if callback is not None:
                callback(epoch, net)
    bar.close()
    net.eval()
    return history


def _epoch(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    order: torch.Tensor,
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    bar: Any,
) -> float:
    """One epoch of :func:`train` over the samples in ``order``; the mean loss."""
    device = device_of(net)
    net.train()
    total, count = 0.0, 0
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        xb, yb = x[idx].to(device), y[idx].to(device)
        loss = loss_fn(net, xb, yb)
        if not bool(torch.isfinite(loss.detach())):
            raise ValueError(f"the training loss is {float(loss)} (not finite): lower lr, or check the inputs")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(idx)
        count += len(idx)
        bar.update(1)
    return total / count


@torch.no_grad()
def predict(net: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Class predictions (N,) for images (N, 28, 28) uint8 or (N, 1, H, W) float (eval mode)."""
    net = as_module(net)
    x = to_tensor(x)
    device = device_of(net)
    was_training = net.training
    net.eval()
    try:
        out = [net(x[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out)


def evaluate(net: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """Accuracy in [0, 1] of ``net`` on images ``x`` (N, 28, 28) with labels ``y`` (N,)."""
    x, y = _check_xy(x, y)
    return float((predict(net, x) == y).float().mean())


def save_weights(net: SmallCNN, path: str | Path) -> str:
    """Save ``{"config": ..., "state_dict": ...}`` with ``torch.save``; returns the file's sha256."""
    if not isinstance(net, SmallCNN):
        raise TypeError(f"save_weights saves a SmallCNN, got {type(net).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    torch.save({"config": dict(net.config), "state_dict": state}, path)
    return sha256_of(path)


def load_weights(path: str | Path, sha256: str | None = None, device: str | torch.device = "cpu") -> SmallCNN:
    """Load a :class:`SmallCNN` saved by :func:`save_weights` (``weights_only=True``), in eval mode.

    ``sha256``: when given, the file's checksum must match, else :class:`WeightsError`.
    """
    return load_saved(SmallCNN, path, sha256, device)[0]


def load_fashion_cnn(device: str | torch.device = "cpu") -> SmallCNN:
    """The SmallCNN trained on the Fashion-MNIST subset by notebook 01 (checksum verified)."""
    path = shipped_file(fashion_cnn_path(), "; regenerate it by running notebook 01 in full mode (see data/README.md)")
    return load_weights(path, sha256=FASHION_CNN_SHA256, device=device)


def first_layer_filters(net: nn.Module) -> torch.Tensor:
    """A copy of the first convolution's weights, (C_out, C_in, k, k), on the CPU."""
    for m in as_module(net).modules():
        if isinstance(m, nn.Conv2d):
            return m.weight.detach().cpu().clone()
    raise ValueError(f"{type(net).__name__} has no Conv2d layer")


def roughness(weights: torch.Tensor | np.ndarray) -> torch.Tensor:
    """How noisy each filter is: mean squared difference of neighbouring weights / (2 * variance).

    ``r = mean_{adjacent (p, q)} (w_p - w_q)^2 / (2 * var(w))`` over horizontal and vertical
    neighbours within each input-channel slice; the variance is over all of the filter's weights.
    White noise gives r ~ 1, a smooth filter r << 1, a checkerboard r ~ 2.

    Inputs: ``weights`` (C_out, C_in, k, k) with k >= 2. Returns: (C_out,) tensor.
    """
    w = torch.as_tensor(np.asarray(weights) if not isinstance(weights, torch.Tensor) else weights.detach())
    w = w.double().cpu()
    if w.ndim != 4 or min(w.shape[-2:]) < 2:
        raise ValueError(f"filters must have shape (C_out, C_in, k, k) with k >= 2, got {tuple(w.shape)}")
    dh = (w[..., 1:, :] - w[..., :-1, :]).pow(2).flatten(1)
    dw = (w[..., :, 1:] - w[..., :, :-1]).pow(2).flatten(1)
    msd = torch.cat([dh, dw], dim=1).mean(1)
    var = w.flatten(1).var(1, unbiased=False)
    return msd / (2 * var.clamp_min(1e-30))


def backbone(net: SmallCNN, upto: str = "pool2") -> nn.Sequential:
    """A copy of the layers of ``net`` from the input up to and including ``upto``, frozen, eval mode.

    E.g. ``backbone(load_fashion_cnn())`` maps (N, 1, H, W) images to (N, 32, H/4, W/4) features.
    """
    import copy

    names = [name for name, _ in net.named_children()]
    if upto not in names:
        raise ValueError(f"unknown layer {upto!r}; SmallCNN layers: {', '.join(names)}")
    keep = names[: names.index(upto) + 1]
    part = nn.Sequential(OrderedDict((name, copy.deepcopy(getattr(net, name))) for name in keep))
    for p in part.parameters():
        p.requires_grad_(False)
    return part.eval()
