"""Occlusion sensitivity: slide a grey square over the image and watch the output.

Lecture section «Чувствительность к перекрытию (occlusion)» (notebook 10; Zeiler & Fergus 2014,
"Visualizing and Understanding Convolutional Networks", Sec. 4.2 and Fig. 7).

A square of side ``window`` filled with grey is put at every position of a grid with step
``stride``; the network sees one occluded copy per position. Three maps of Fig. 7 come out of
the same sweep:

(b) the total activation (sum over space) of one feature map of a deep layer -- the channel that
    responds most strongly to the unoccluded image;
(d) the probability of the true class;
(e) the most probable class (a label map).

The copies are evaluated in batches of ``batch_size`` (one forward pass of the network per
batch, never one per Python loop step). The cost is one forward pass per occluder position:
``n_positions = (1 + (H - window) // stride) * (1 + (W - window) // stride)`` plus one for the
unoccluded image -- against one forward and one backward pass for a gradient map
(:mod:`lecture_utils.attribution`). :func:`occlusion_cost` computes these numbers.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .checks import check_choice, check_int, check_number
from .hooks import get_layer, preserved_state, record
from .models import ZooModel, as_module
from .targets import Targets, batched_output, check_image, model_input, resolve_for

__all__ = [
    "OcclusionSweep",
    "occlusion_positions",
    "occlusion_cost",
    "fill_value",
    "occlusion_sweep",
    "occlusion",
    "strongest_channel",
    "occlusion_pixel_map",
]

SCORES = ("prob", "logit")


def occlusion_positions(size: tuple[int, int], window: int, stride: int) -> tuple[list[int], list[int]]:
    """Top-left corners of the occluder: rows and columns ``0, stride, 2*stride, ...`` that keep
    the ``window`` x ``window`` square inside an image of ``size = (H, W)``.

    Returns: ``(rows, cols)`` two lists of ints.
    """
    h, w = int(size[0]), int(size[1])
    window = check_int(window, "window", low=1)
    stride = check_int(stride, "stride", low=1)
    if window > min(h, w):
        raise ValueError(f"window {window} is larger than the image ({h}x{w})")
    return list(range(0, h - window + 1, stride)), list(range(0, w - window + 1, stride))


def occlusion_cost(size: tuple[int, int], window: int, stride: int) -> dict[str, int]:
    """How many network passes occlusion needs, against a gradient method.

    Returns: ``{"positions": P, "occlusion forward passes": P + 1, "gradient forward passes": 1,
    "gradient backward passes": 1}`` (the ``+ 1`` is the unoccluded image).
    """
    rows, cols = occlusion_positions(size, window, stride)
    n = len(rows) * len(cols)
    return {
        "positions": n,
        "occlusion forward passes": n + 1,
        "gradient forward passes": 1,
        "gradient backward passes": 1,
    }


def fill_value(model: nn.Module | ZooModel, image: torch.Tensor, fill: float | str = "grey") -> torch.Tensor:
    """The occluder's colour in the network's input space, shape (1, 3, 1, 1).

    ``fill`` is ``"grey"`` (RGB 0.5 through the model's normalization; 0 for a plain module, whose
    input is taken as already centred), ``"mean"`` (the image's mean per channel: (N, 3, 1, 1)
    for a batch ``image`` (N, 3, H, W)) or a number (a value in the preprocessed input space).
    """
    check_image(image, batch=True)
    if isinstance(fill, str):
        fill = check_choice(fill, "fill", ("grey", "mean"))
        if fill == "grey":
            if isinstance(model, ZooModel):
                grey = torch.full((1, 3, 1, 1), 0.5, device=model.normalize.mean.device)
                return model.normalize(grey).detach().to(image.device)
            return torch.zeros(1, 3, 1, 1, dtype=image.dtype, device=image.device)
        return image.detach().mean(dim=(2, 3), keepdim=True)
    if isinstance(fill, bool) or not isinstance(fill, (int, float)) and not hasattr(fill, "__float__"):
        raise TypeError(f"fill must be 'grey', 'mean' or a number, got {fill!r} ({type(fill).__name__})")
    value = check_number(fill, "fill")  # NaN / inf: an occluder of NaN makes every score NaN
    return torch.full((1, 3, 1, 1), value, dtype=image.dtype, device=image.device)


@dataclass
class OcclusionSweep:
    """Everything one occlusion sweep measured.

    ``logits`` (h', w', K): the network's output with the occluder at grid cell (i, j), i.e. with
    its top-left corner at ``(rows[i], cols[j])``; ``base_logits`` (K,) on the unoccluded image;
    ``feature`` (h', w') total activation of ``layer``'s ``channel`` per position (``None`` when no
    layer was asked for) and ``base_feature`` on the unoccluded image; ``n_forward`` the number of
    images the network evaluated (positions + 1) and ``n_batches`` the number of forward calls.
    """

    logits: torch.Tensor
    base_logits: torch.Tensor
    rows: list[int]
    cols: list[int]
    window: int
    stride: int
    image_size: tuple[int, int]
    n_forward: int
    n_batches: int
    feature: torch.Tensor | None = None
    base_feature: float | None = None
    feature_map: torch.Tensor | None = None
    layer: str | None = None
    channel: int | None = None

    @property
    def probs(self) -> torch.Tensor:
        """Class probabilities per position, (h', w', K)."""
        return torch.softmax(self.logits, dim=-1)

    @property
    def base_probs(self) -> torch.Tensor:
        """Class probabilities on the unoccluded image, (K,)."""
        return torch.softmax(self.base_logits, dim=-1)

    def prob_map(self, target: int) -> torch.Tensor:
        """(h', w') probability of class ``target`` per occluder position (Fig. 7 d)."""
        return self.probs[..., target]

    def label_map(self) -> torch.Tensor:
        """(h', w') most probable class per occluder position (Fig. 7 e), int64."""
        return self.logits.argmax(dim=-1)


def _occluded_logits(
    net: nn.Module,
    x: torch.Tensor,
    colour: torch.Tensor,
    positions: list[tuple[int, int]],
    window: int,
    batch_size: int,
    after_pass: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, int]:
    """Logits of every image of ``x`` (N, 3, H, W) with the occluder at every position.

    The copies of all images are packed into passes of ``batch_size`` (never a pass per image or
    per position); ``colour`` (1 or N, 3, 1, 1); ``after_pass`` is called after each pass (to
    read recorded activations). Returns ``(logits (N, P, K) on x's device, number of passes)``.
    """
    n, p = x.shape[0], len(positions)
    out = []
    for start in range(0, n * p, batch_size):
        pairs = range(start, min(start + batch_size, n * p))
        which = torch.tensor([k // p for k in pairs], device=x.device)
        xb = x.index_select(0, which)  # a copy per occluder position
        for j, k in enumerate(pairs):
            r, c = positions[k % p]
            xb[j, :, r : r + window, c : c + window] = colour[0 if colour.shape[0] == 1 else k // p]
        y = net(xb)
        if y.ndim != 2:
            raise ValueError(f"occlusion needs logits of shape (N, K), the model returned {tuple(y.shape)}")
        out.append(y)
        if after_pass is not None:
            after_pass()
    return torch.cat(out).view(n, p, -1), len(out)


def _check_unit(model: nn.Module | ZooModel, layer: str | None, channel: int | None) -> None:
    """A sweep's optional unit: a channel needs a layer; the layer must exist, the channel be >= 0."""
    if channel is not None and layer is None:
        raise ValueError("a channel needs a layer: pass layer=... too")
    if layer is not None:
        get_layer(model, layer)
        if channel is not None:
            check_int(channel, "channel", low=0)


def _sweep_channel(act: torch.Tensor, layer: str, channel: int | None) -> int:
    """The channel a sweep records: ``channel`` checked against ``act`` (1, C, h, w), or the
    strongest one on the unoccluded image."""
    if act.ndim != 4:
        raise ValueError(f"layer {layer!r} gives {tuple(act.shape)}, not conv feature maps (N, C, h, w)")
    if channel is None:
        return int(act[0].sum(dim=(1, 2)).argmax())
    if channel >= act.shape[1]:
        raise ValueError(f"channel {channel} out of range: layer {layer!r} has {act.shape[1]} channels")
    return channel


def occlusion_sweep(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    window: int = 48,
    stride: int = 16,
    fill: float | str = "grey",
    layer: str | None = None,
    channel: int | None = None,
    batch_size: int = 32,
) -> OcclusionSweep:
    """Slide the occluder over ``image`` and record the logits (and one feature map's total).

    Inputs: ``image`` (1, 3, H, W) preprocessed; ``window`` the square's side and ``stride`` the
    step, in pixels; ``fill`` see :func:`fill_value`; ``layer`` / ``channel`` optional: a layer
    name whose output channel's spatial sum is recorded per position (``channel=None`` picks the
    :func:`strongest_channel` on the unoccluded image); ``batch_size`` occluded copies per forward.
    Returns: :class:`OcclusionSweep` with ``logits`` (h', w', K) on the CPU.
    """
    check_image(image, model=model)
    rows, cols = occlusion_positions(image.shape[-2:], window, stride)
    batch_size = check_int(batch_size, "batch_size", low=1)
    _check_unit(model, layer, channel)
    colour = fill_value(model, image, fill)
    positions = [(r, c) for r in rows for c in cols]
    layers = [layer] if layer is not None else []
    totals: list[torch.Tensor] = []
    with ExitStack() as stack:
        net = stack.enter_context(preserved_state(model))
        stack.enter_context(torch.no_grad())
        rec = stack.enter_context(record(model, layers, detach=True)) if layers else None
        x = model_input(image, net)
        colour = colour.to(device=x.device, dtype=x.dtype)
        base = net(x)
        if base.ndim != 2 or base.shape[0] != 1:
            raise ValueError(f"occlusion needs logits of shape (1, K), the model returned {tuple(base.shape)}")
        feature_map = None
        if rec is not None:
            channel = _sweep_channel(rec.activations[layer], layer, channel)
            feature_map = rec.activations[layer][0, channel].cpu()

        def read_totals() -> None:
            if rec is not None:
                totals.append(rec.activations[layer][:, channel].sum(dim=(1, 2)).cpu())

        logits, passes = _occluded_logits(net, x, colour, positions, window, batch_size, read_totals)
    logits = logits.cpu()
    n_batches = passes + 1  # and the unoccluded image
    h, w = len(rows), len(cols)
    out = logits[0].view(h, w, -1)
    return OcclusionSweep(
        logits=out,
        base_logits=base[0].cpu(),
        rows=rows,
        cols=cols,
        window=window,
        stride=stride,
        image_size=(int(image.shape[-2]), int(image.shape[-1])),
        n_forward=len(positions) + 1,
        n_batches=n_batches,
        feature=torch.cat(totals).view(h, w) if totals else None,
        base_feature=float(feature_map.sum()) if feature_map is not None else None,
        feature_map=feature_map,
        layer=layer,
        channel=channel,
    )


def occlusion(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Targets,
    window: int = 48,
    stride: int = 16,
    fill: float | str = "grey",
    score: str = "prob",
    batch_size: int = 32,
) -> torch.Tensor:
    """Zeiler & Fergus's occlusion map: the target class's probability per occluder position.

    Inputs: ``image`` (1, 3, H, W) preprocessed, or a batch (N, 3, H, W); ``target`` a class index
    or name, or N of them; ``window``, ``stride`` in pixels; ``fill`` the occluder colour
    (:func:`fill_value`); ``score`` ``"prob"`` (softmax probability, as in Fig. 7 d) or
    ``"logit"``; ``batch_size`` occluded copies per forward pass (the copies of all images of a
    batch are packed together).
    Returns: (h', w') map on the model's device (as every map of the package), cell (i, j) =
    score with the square's top-left corner at ``(i * stride, j * stride)``; low values mark the
    regions the class depends on. (N, h', w') for a batch or per-image targets.
    """
    check_image(image, batch=True, model=model)
    score = check_choice(score, "score", SCORES)
    if callable(target) and not isinstance(target, (int, str)):
        raise TypeError("occlusion needs one class (an index or a name), not a callable")
    idx = resolve_for(model, target, image.shape[0])
    rows, cols = occlusion_positions(image.shape[-2:], window, stride)
    batch_size = check_int(batch_size, "batch_size", low=1)
    colour = fill_value(model, image, fill)  # checked before any pass
    positions = [(r, c) for r in rows for c in cols]
    with preserved_state(model, keep_inplace=True) as net, torch.no_grad():  # forward only, nothing recorded
        x = model_input(image, net)
        colour = colour.to(device=x.device, dtype=x.dtype)
        logits, _ = _occluded_logits(net, x, colour, positions, window, batch_size)
    if max(idx) >= logits.shape[-1]:
        raise ValueError(f"class index {max(idx)} out of range: the model has {logits.shape[-1]} classes")
    values = torch.softmax(logits, dim=-1) if score == "prob" else logits
    maps = values[torch.arange(len(idx), device=values.device), :, idx].view(len(idx), len(rows), len(cols))
    return maps if batched_output(image, target) else maps[0]


def strongest_channel(model: nn.Module | ZooModel, image: torch.Tensor, layer: str) -> int:
    """The channel of ``layer`` with the largest total activation (sum over space) on ``image``.

    Inputs: ``image`` (1, 3, H, W) preprocessed; ``layer`` a conv layer name. Returns: an int.
    """
    check_image(image, model=model)
    net = as_module(model)
    get_layer(net, layer)
    with record(model, layer, detach=True) as rec, torch.no_grad():
        net(model_input(image, net))
    act = rec.activations[layer]
    if act.ndim != 4:
        raise ValueError(f"layer {layer!r} gives {tuple(act.shape)}, not conv feature maps (N, C, h, w)")
    return int(act[0].sum(dim=(1, 2)).argmax())


def occlusion_pixel_map(values: torch.Tensor, sweep: OcclusionSweep) -> torch.Tensor:
    """Spread a per-position map back onto the pixels: each pixel gets the mean of ``values`` over
    all occluder positions whose square covers it (pixels no square covers get the overall mean).

    Inputs: ``values`` (h', w') e.g. ``base_prob - sweep.prob_map(c)`` (the drop); ``sweep`` the
    sweep it came from. Returns: (H, W) float map on the CPU.
    """
    values = torch.as_tensor(values, dtype=torch.float32).cpu()
    grid = (len(sweep.rows), len(sweep.cols))
    if tuple(values.shape) != grid:
        raise ValueError(f"values must have the sweep's grid shape {grid}, got {tuple(values.shape)}")
    h, w = sweep.image_size
    total = torch.zeros(h, w)
    count = torch.zeros(h, w)
    for i, r in enumerate(sweep.rows):
        for j, c in enumerate(sweep.cols):
            total[r : r + sweep.window, c : c + sweep.window] += values[i, j]
            count[r : r + sweep.window, c : c + sweep.window] += 1
    out = total / count.clamp(min=1)
    out[count == 0] = values.mean()
    return out
