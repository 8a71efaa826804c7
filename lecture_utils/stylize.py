"""Style transfer for a batch of images at once, with every loss term traced (lecture 18).

Lecture 18 («Перенос стиля»): L. Gatys, A. Ecker, M. Bethge 2015, "A Neural Algorithm of Artistic
Style" (arXiv 1508.06576; CVPR 2016: "Image Style Transfer Using Convolutional Neural Networks").
The loss of image ``x`` is a linear combination ``alpha * L_content(x) + beta * L_style(x)`` of a
feature error at one layer and Gram-matrix errors at several layers (the losses of
:mod:`lecture_utils.style`: relative errors, 0 at a perfect match).

:func:`style_transfer_batch` optimizes ``B`` images together, item ``i`` with its own weights
``alpha[i]``, ``beta[i]``, its own style layers and its own painting. The objective is the *sum*
of the items' losses, and VGG19 treats the items of a batch independently, so the gradient of item
``i`` depends only on item ``i``; Adam works element by element, so each item follows the path it
would follow alone, up to rounding (the tests check it). One call gives the whole grid of the
paper's Fig. 3 (on a CPU it costs about B single runs -- batching saves no arithmetic there; on a
GPU a small batch costs little more than one image). The per-item content, style and total losses
are recorded at every step (:attr:`BatchStyleResult.history`), which shows the two terms of the
sum trading off during the optimization.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from .hooks import record
from .models import ZooModel
from .optimize import Objective, PixelImage, render
from .style import CONTENT_LAYER, STYLE_LAYERS, check_layers, check_vgg, features, gram_matrix, style_targets
from .targets import check_image

__all__ = ["ItemLosses", "BatchStyleResult", "style_transfer_batch", "layer_subsets"]


def layer_subsets(layers: Sequence[str] = STYLE_LAYERS) -> list[list[str]]:
    """The increasing subsets of the paper's Fig. 3 rows: ``[[l1], [l1, l2], ..., [l1, ..., ln]]``."""
    layers = list(layers)
    return [layers[: k + 1] for k in range(len(layers))]


class ItemLosses:
    """Content, style and total-variation loss of every item of a batch, as (B,) tensors.

    Inputs: ``content_layer`` and ``content_target`` F0 (1, C, h, w) (``None``: no content term);
    ``style_targets`` one ``{layer: G0 (1, C, C)}`` per item (``None``: no style term; an empty
    dict: no style term for that item); ``weights`` optional per-item layer weights (default
    ``1 / len(style_targets[i])`` for each of item ``i``'s layers, as Gatys et al.'s ``w_l``).
    Called on activations ``{layer: (B, ...)}`` (plus ``"input"`` (B, 3, H, W) for ``tv``), it
    returns ``{"content": (B,), "style": (B,), "tv": (B,)}`` (only the terms it has):
    ``content[i] = ||F_i - F0||^2 / ||F0||^2``, ``style[i] = sum_l w_il ||G_il - G0_il||^2 / ||G0_il||^2``,
    ``tv[i]`` = mean absolute difference of vertical plus horizontal neighbours.
    """

    def __init__(
        self,
        content_layer: str | None = None,
        content_target: torch.Tensor | None = None,
        style_targets: Sequence[Mapping[str, torch.Tensor]] | None = None,
        weights: Sequence[Mapping[str, float]] | None = None,
        tv: bool = False,
    ):
        if (content_layer is None) != (content_target is None):
            raise ValueError("give both content_layer and content_target, or neither")
        self.content_layer = content_layer
        self.content_target = None
        if content_target is not None:
            if not isinstance(content_target, torch.Tensor) or content_target.ndim != 4 or content_target.shape[0] != 1:
                got = getattr(content_target, "shape", content_target)
                raise ValueError(f"content_target must be a (1, C, h, w) activation, got {got!r}")
            self.content_target = content_target.detach()
            self.content_norm = float(self.content_target.pow(2).sum())
            if not self.content_norm > 0:
                raise ValueError(f"the content target at {content_layer!r} is all zeros: nothing to match")
        self.tv = bool(tv)
        self.style: dict[str, tuple[list[int], torch.Tensor, torch.Tensor]] = {}
        self.batch: int | None = None
        if style_targets is not None:
            style_targets = [dict(t) for t in style_targets]
            self.batch = len(style_targets)
            if weights is not None and len(weights) != len(style_targets):
                raise ValueError(f"got {len(weights)} weight dicts for {len(style_targets)} items")
            per_layer: dict[str, list[tuple[int, torch.Tensor, float]]] = {}
            for i, targets in enumerate(style_targets):
                w = dict(weights[i]) if weights is not None else {n: 1.0 / len(targets) for n in targets}
                if set(w) != set(targets):
                    raise ValueError(f"item {i}: weights name layers {sorted(w)} but targets have {sorted(targets)}")
                for n, g in targets.items():
                    if not isinstance(g, torch.Tensor) or g.ndim != 3 or g.shape[0] != 1 or g.shape[1] != g.shape[2]:
                        got = getattr(g, "shape", g)
                        raise ValueError(f"item {i}: target Gram matrix at {n!r} must be (1, C, C), got {got!r}")
                    per_layer.setdefault(n, []).append((i, g.detach(), float(w[n])))
            for n, items in per_layer.items():
                idx = [i for i, _, _ in items]
                grams = torch.cat([g for _, g, _ in items])  # (k, C, C)
                norms = grams.pow(2).sum((1, 2))
                if not bool((norms > 0).all()):
                    raise ValueError(f"a target Gram matrix at {n!r} is all zeros")
                scale = torch.tensor([w for _, _, w in items], dtype=grams.dtype) / norms
                self.style[n] = (idx, grams, scale)
        if self.content_target is None and self.batch is None:
            raise ValueError("ItemLosses needs a content target, style targets, or both")

    @property
    def layers(self) -> list[str]:
        """The layers whose activations the losses read."""
        names = list(self.style)
        if self.content_layer is not None and self.content_layer not in names:
            names.append(self.content_layer)
        return names

    def __call__(self, acts: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        if self.content_target is not None:
            a = acts[self.content_layer]
            if a.shape[1:] != self.content_target.shape[1:]:
                raise ValueError(
                    f"activation of {self.content_layer!r} has shape {tuple(a.shape)} but the content target "
                    f"{tuple(self.content_target.shape)}: the optimized images must have the content image's size"
                )
            out["content"] = (a - self.content_target.to(a.device)).pow(2).sum((1, 2, 3)) / self.content_norm
        if self.batch is not None:
            some = acts[next(iter(self.style))] if self.style else None
            b = some.shape[0] if some is not None else self.batch
            if b != self.batch:
                raise ValueError(f"the batch has {b} items but there are style targets for {self.batch}")
            style = torch.zeros(b, device=some.device if some is not None else None)
            for n, (idx, grams, scale) in self.style.items():
                a = acts[n]
                g = gram_matrix(a if len(idx) == b else a[idx])
                err = (g - grams.to(g.device)).pow(2).sum((1, 2)) * scale.to(g.device)
                style = style.index_add(0, torch.tensor(idx, device=g.device), err)
            out["style"] = style
        if self.tv:
            x = acts["input"]
            out["tv"] = (x[..., 1:, :] - x[..., :-1, :]).abs().mean((1, 2, 3)) + (x[..., 1:] - x[..., :-1]).abs().mean(
                (1, 2, 3)
            )
        return out


@dataclass
class BatchStyleResult:
    """``images`` (B, H, W, 3) in [0, 1]; ``history`` {"content", "style", "tv", "total"} -> (steps, B)
    (the weighted total and the *unweighted* terms, each recorded before the step's update);
    ``start`` and ``final`` the same terms (B,) before the first and after the last update;
    ``snapshots`` step -> (B, H, W, 3); ``alpha``, ``beta`` (B,) the weights used."""

    images: np.ndarray
    history: dict[str, np.ndarray] = field(default_factory=dict)
    start: dict[str, np.ndarray] = field(default_factory=dict)
    final: dict[str, np.ndarray] = field(default_factory=dict)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    alpha: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _as_list(value: object) -> list | None:
    """``value`` as a list if it is a per-item sequence, else None (a scalar to broadcast)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return list(value)
    return None


def _check_weight(v: object, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not v >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {v!r}")
    return float(v)


def _batch_size(**seqs: list | None) -> int:
    sizes = {k: len(v) for k, v in seqs.items() if v is not None}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"per-item arguments must have one length, got {sizes}")
    b = next(iter(sizes.values()), 1)
    if b < 1:
        raise ValueError(f"per-item arguments are empty: {sizes}")
    return b


def style_transfer_batch(
    model: ZooModel,
    content: torch.Tensor,
    style: torch.Tensor | Sequence[torch.Tensor] | None,
    alpha: float | Sequence[float] = 1.0,
    beta: float | Sequence[float] = 1.0,
    content_layer: str = CONTENT_LAYER,
    style_layers: Sequence[str] | Sequence[Sequence[str]] = STYLE_LAYERS,
    tv: float = 0.0,
    init: str = "content",
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
    snapshots: Sequence[int] = (),
    progress: bool = False,
) -> BatchStyleResult:
    """Gatys et al.'s style transfer for ``B`` images at once; item ``i`` minimizes
    ``alpha[i] * L_content + beta[i] * L_style_i (+ tv * TV)``.

    Inputs: ``model`` VGG19 (``load_model("vgg19")``); ``content`` the preprocessed photo
    (1, 3, H, W), shared by all items (it sets the output size); ``style`` one preprocessed
    painting (1, 3, h, w) for all items, a list of B paintings (one per item; sizes may differ),
    or ``None`` when every ``beta`` is 0 (content reconstruction); ``alpha``, ``beta`` numbers >= 0
    or lists of B numbers; ``style_layers`` a list of layer names for all items or a list of B such
    lists; ``init`` ``"content"`` (start from the photo) or ``"noise"`` (every item from the same
    noise, drawn with ``seed``); ``lr`` Adam's step in logit units (pixels are ``sigmoid(logits)``).
    B is the common length of the per-item arguments (1 if there are none).
    Returns: :class:`BatchStyleResult`. Item ``i`` of the result equals
    ``style.style_transfer`` run alone with item ``i``'s settings.
    """
    check_vgg(model)
    check_image(content, "content")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    _check_weight(tv, "tv")
    if init not in ("content", "noise"):
        raise ValueError(f"init must be 'content' or 'noise', got {init!r}")
    check_layers(model, [content_layer])
    alphas, betas = _as_list(alpha), _as_list(beta)
    styles = list(style) if isinstance(style, (list, tuple)) else None
    if isinstance(style_layers, str):
        raise ValueError("style_layers must be a list of layer names (or a list of such lists), not a string")
    per_item_layers = len(style_layers) > 0 and not isinstance(style_layers[0], str)
    layer_sets = [list(s) for s in style_layers] if per_item_layers else None
    b = _batch_size(alpha=alphas, beta=betas, style=styles, style_layers=layer_sets)
    alphas = [_check_weight(a, f"alpha[{i}]") for i, a in enumerate(alphas or [alpha] * b)]
    betas = [_check_weight(v, f"beta[{i}]") for i, v in enumerate(betas or [beta] * b)]
    for i, (a, v) in enumerate(zip(alphas, betas)):
        if a == 0 and v == 0 and not tv:
            raise ValueError(f"item {i}: alpha and beta are both 0: nothing to optimize")
    layer_sets = layer_sets or [list(style_layers)] * b
    use_style = any(v > 0 for v in betas)
    if use_style:
        for layers in layer_sets:
            check_layers(model, layers)
        if style is None:
            raise ValueError("style is None but some beta > 0: give a painting (or set every beta to 0)")
        styles = styles or [style] * b
        for i, s in enumerate(styles):
            check_image(s, f"style[{i}]")
    use_content = any(a > 0 for a in alphas)

    # targets (no hooks stay registered: features() uses record())
    content = content.to(model.device)
    c_target = features(model, content, [content_layer])[content_layer] if use_content else None
    s_targets = None
    if use_style:
        cache: dict[tuple[int, tuple[str, ...]], dict[str, torch.Tensor]] = {}
        s_targets = []
        for s, layers in zip(styles, layer_sets):
            key = (id(s), tuple(layers))
            if key not in cache:
                cache[key] = style_targets(model, s.to(model.device), layers)
            s_targets.append(cache[key])
    losses = ItemLosses(content_layer if use_content else None, c_target, s_targets, tv=bool(tv))
    a_t = torch.tensor(alphas, device=model.device)
    b_t = torch.tensor(betas, device=model.device)

    def weighted(terms: dict[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros(b, device=model.device)
        if "content" in terms:
            total = total + a_t * terms["content"]
        if "style" in terms:
            total = total + b_t * terms["style"]
        if "tv" in terms:
            total = total + tv * terms["tv"]
        return total

    trace: list[dict[str, np.ndarray]] = []

    def objective_fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = losses(acts)
        total = weighted(terms)
        trace.append({k: v.detach().cpu().numpy() for k, v in {**terms, "total": total}.items()})
        return -total.sum()  # render maximizes; the sum keeps the items' gradients independent

    objective = Objective(objective_fn, losses.layers + (["input"] if tv else []), "style transfer (batch)")

    rgb = model.normalize.inverse(content).clamp(0, 1)
    if init == "content":
        param = PixelImage(0, init=rgb.expand(b, -1, -1, -1).contiguous())
    else:
        param = PixelImage(tuple(rgb.shape[-2:]), seed=seed, sd=0.5, batch=b)
        with torch.no_grad():  # the same noise for every item, as a batch-1 run with this seed draws it
            param.logits.copy_(PixelImage(tuple(rgb.shape[-2:]), seed=seed, sd=0.5).logits.expand(b, -1, -1, -1))
    param = param.to(model.device)

    @torch.no_grad()
    def terms_of(img: torch.Tensor) -> dict[str, np.ndarray]:
        with record(model, losses.layers, detach=True) as rec:
            model.net(model.normalize(img))
            acts = {**rec.activations, "input": img}
        terms = losses(acts)
        return {k: v.cpu().numpy() for k, v in {**terms, "total": weighted(terms)}.items()}

    start = terms_of(param())
    keep: dict[int, np.ndarray] = {}
    wanted = set(snapshots)

    def snap(p: torch.nn.Module, step: int) -> None:
        if step in wanted:
            keep[step] = p().detach().permute(0, 2, 3, 1).clamp(0, 1).cpu().numpy()

    res = render(model, objective, param=param, steps=steps, lr=lr, seed=seed, progress=progress, callbacks=[snap])
    images = res.batch
    final = terms_of(torch.from_numpy(images).permute(0, 3, 1, 2).to(model.device))
    history = {k: np.stack([t[k] for t in trace]) for k in trace[0]}
    return BatchStyleResult(images, history, start, final, keep, np.array(alphas), np.array(betas))
