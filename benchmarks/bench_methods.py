"""Our attribution methods against captum, pytorch-grad-cam and torch-cam; our cost against its floor;
Gatys style transfer against the PyTorch tutorial's loop; fast stylization throughput.

    python benchmarks/bench_methods.py [--device cpu|cuda] [--quick] [--out benchmarks/RESULTS.md]

Prints Markdown tables and writes them into the ``bench_methods`` section of ``--out``. Peers are
the optional extra ``bench`` (``pip install -e ".[bench]"``); a peer that is not installed is
skipped with a note. A benchmark, not a test: times are medians of several runs after a warm-up,
and every ratio is measured side by side in this one process. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    fmt_diff,
    fmt_ms,
    fmt_ratio,
    interleaved_medians,
    machine_line,
    markdown_table,
    median_time,
    try_import,
    write_section,
)

from lecture_utils.attribution import saliency, smooth_grad  # noqa: E402
from lecture_utils.backprop import backprop_gradient, guided_backprop  # noqa: E402
from lecture_utils.cam import cam, grad_cam, guided_grad_cam  # noqa: E402
from lecture_utils.hooks import get_layer, preserved_state, record  # noqa: E402
from lecture_utils.images import load_image  # noqa: E402
from lecture_utils.models import ZooModel, load_model  # noqa: E402
from lecture_utils.occlusion import (  # noqa: E402
    fill_value,
    occlusion,
    occlusion_pixel_map,
    occlusion_positions,
    occlusion_sweep,  # noqa: E402
)

try:  # written by another helper; the rows are skipped if it is missing
    from lecture_utils.fullgrad import fullgrad, integrated_gradients
except ImportError:  # pragma: no cover
    fullgrad = integrated_gradients = None

PEER_MODULES = {"captum": "captum", "grad-cam": "pytorch_grad_cam", "torchcam": "torchcam"}
IMAGES = ["chelsea", "coffee", "astronaut", "rocket", "china", "flower", "grace_hopper", "chelsea"]
CAM_LAYER = "bn2"


@dataclass
class Settings:
    size: int = 224
    batches: tuple[int, ...] = (1, 8)
    repeats: int = 5
    budget_s: float = 20.0
    sg_n: int = 25
    sg_noise: float = 0.15
    sg_batch: int = 8
    ig_steps: int = 32
    ig_batch: int = 16
    occ_window: int = 48
    occ_stride: int = 16
    occ_batch: int = 32
    style_size: int = 256
    style_steps: int = 10
    style_repeats: int = 2
    fast_size: int = 512
    methods: tuple[str, ...] = ()
    peers: tuple[str, ...] = tuple(PEER_MODULES)


# --------------------------------------------------------------------------- maps to compare


def to_tensor(a: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a)) if not isinstance(a, torch.Tensor) else a.detach()


def grad_map(a: Any) -> torch.Tensor:
    """A gradient-shaped attribution (1 or none, 3, H, W) or (H, W, 3) -> (H, W): ``max_c |a_c|``."""
    t = to_tensor(a).float().cpu()
    if t.ndim == 4:
        t = t[0]
    if t.ndim == 3 and t.shape[-1] == 3 and t.shape[0] != 3:
        t = t.permute(2, 0, 1)
    return t.abs().amax(dim=0)


def plain_map(a: Any) -> torch.Tensor:
    """A map (h, w) or (1, 1, h, w) / (1, h, w) -> (h, w)."""
    t = to_tensor(a).float().cpu()
    while t.ndim > 2:
        t = t[0]
    return t


def canon(m: torch.Tensor, size: int) -> torch.Tensor:
    """The common normalization before comparing: bilinear resize to (size, size) (align_corners=False,
    the convention of cv2.resize and torch), then min-max to [0, 1]."""
    m = m.float()
    if tuple(m.shape) != (size, size):
        m = F.interpolate(m[None, None], size=(size, size), mode="bilinear", align_corners=False)[0, 0]
    lo, hi = m.min(), m.max()
    return (m - lo) / (hi - lo) if float(hi - lo) > 0 else torch.zeros_like(m)


def max_diff(a: list[torch.Tensor], b: list[torch.Tensor], size: int) -> float:
    return max(float((canon(x, size) - canon(y, size)).abs().max()) for x, y in zip(a, b))


def raw_rel_diff(a: list[Any], b: list[Any]) -> float | None:
    """max |a - b| / max |a| on the raw outputs, when they have the same shape."""
    out = 0.0
    for x, y in zip(a, b):
        x, y = to_tensor(x).float().cpu(), to_tensor(y).float().cpu()
        if x.numel() != y.numel():
            return None
        y = y.reshape(x.shape)
        out = max(out, float((x - y).abs().max() / x.abs().max().clamp(min=1e-30)))
    return out


# --------------------------------------------------------------------------- the benchmark context


@dataclass
class Ctx:
    zoo: ZooModel
    peer_net: nn.Module  # a separate copy: peers change modules / leave grads, ours must not see it
    images: torch.Tensor  # (8, 3, S, S) preprocessed
    targets: list[int]  # our top-1 class per image
    s: Settings
    device: torch.device
    peers: dict[str, Any] = field(default_factory=dict)  # name -> module (None when not installed)
    versions: dict[str, str] = field(default_factory=dict)

    def batch(self, b: int) -> tuple[torch.Tensor, list[int]]:
        return self.images[:b], self.targets[:b]


@dataclass
class Peer:
    name: str  # captum / grad-cam / torchcam
    api: str  # the class used
    run: Callable[[Ctx, torch.Tensor, list[int]], list[Any]]  # one batched call -> per-image raw outputs
    to_map: Callable[[Any], torch.Tensor]
    note: str = ""


@dataclass
class Method:
    name: str
    ours: Callable[[Ctx, torch.Tensor, list[int]], Any]  # a batch (b, 3, S, S), b targets -> (b, ...) output
    to_map: Callable[[Any], torch.Tensor]
    floor: Callable[[Ctx, int], Callable[[], Any]]  # batch size -> a function doing the minimal passes
    floor_desc: str
    peers: list[Peer]
    compare: Callable[[Ctx, torch.Tensor, int], Any] | None = None  # ours on one image, as the peers define it
    # the floor of a batch: one batched measurement (True) or b times the one-image floor (False: the
    # method already fills its passes with copies of each image, 25-33 per image)
    floor_batched: bool = True
    extra: Callable[[Ctx, list[Any], list[Any]], str] | None = None  # more notes from (ours, peer) outputs


# ---- the physical floors: the passes a method needs at minimum, done as plainly as possible


def _floor_fwd_bwd(ctx: Ctx, n_images: int, per_image: int = 1) -> Callable[[], Any]:
    """One batched forward + backward to the input of ``n_images * per_image`` images."""
    x0, t = ctx.batch(n_images)
    x = x0.repeat_interleave(per_image, dim=0)
    idx = torch.tensor(t, device=ctx.device).repeat_interleave(per_image)

    def fn() -> torch.Tensor:
        with preserved_state(ctx.zoo) as net:
            xx = x.clone().requires_grad_(True)
            score = net(xx).gather(1, idx[:, None]).sum()
            return torch.autograd.grad(score, xx)[0]

    return fn


def _floor_fwd(ctx: Ctx, n: int, chunk: int | None = None) -> Callable[[], Any]:
    """Forward passes (no autograd) over ``n`` images, ``chunk`` at a time (default: all at once)."""
    x = ctx.images[:1].expand(min(n, chunk or n), -1, -1, -1).contiguous()

    def fn() -> None:
        with preserved_state(ctx.zoo) as net, torch.no_grad():
            left = n
            while left > 0:
                k = min(left, x.shape[0])
                net(x[:k])
                left -= k

    return fn


def _floor_to_layer(ctx: Ctx, b: int, layer: str = CAM_LAYER) -> Callable[[], Any]:
    """Forward + backward from the class score to ``layer``'s output only (what Grad-CAM needs)."""
    x, t = ctx.batch(b)
    idx = torch.tensor(t, device=ctx.device)

    def fn() -> torch.Tensor:
        with record(ctx.zoo, layer) as rec:
            net = ctx.zoo.net
            score = net(x.clone().requires_grad_(True)).gather(1, idx[:, None]).sum()
            return torch.autograd.grad(score, rec.activations[layer])[0]

    return fn


def _occ_positions(ctx: Ctx) -> int:
    rows, cols = occlusion_positions((ctx.s.size, ctx.s.size), ctx.s.occ_window, ctx.s.occ_stride)
    return len(rows) * len(cols)


# ---- peers


def _targets_gc(t: list[int]) -> list[Any]:
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    return [ClassifierOutputTarget(int(c)) for c in t]


def _captum_saliency(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from captum.attr import Saliency

    a = Saliency(ctx.peer_net).attribute(x.clone().requires_grad_(True), target=t, abs=True)
    return list(a.detach())


def _captum_smoothgrad(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from captum.attr import NoiseTunnel, Saliency

    sigma = [ctx.s.sg_noise * float(xi.max() - xi.min()) for xi in x]
    if len(set(sigma)) > 1:  # captum takes one stdev per input tensor: run image by image
        return [r for i in range(len(x)) for r in _captum_smoothgrad(ctx, x[i : i + 1], t[i : i + 1])]
    torch.manual_seed(0)  # captum draws torch.normal from the global generator; seeded like ours
    a = NoiseTunnel(Saliency(ctx.peer_net)).attribute(
        x.clone().requires_grad_(True),
        nt_type="smoothgrad",
        nt_samples=ctx.s.sg_n,
        nt_samples_batch_size=ctx.s.sg_batch,
        stdevs=sigma[0],
        target=t,
        abs=False,
    )
    return list(a.detach())


def _captum_guided(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from captum.attr import GuidedBackprop

    return list(GuidedBackprop(ctx.peer_net).attribute(x.clone().requires_grad_(True), target=t).detach())


def _gc_guided(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from pytorch_grad_cam import GuidedBackpropReLUModel

    gb = GuidedBackpropReLUModel(ctx.peer_net, device=ctx.device)
    return [gb(x[i : i + 1].clone(), target_category=t[i]) for i in range(len(x))]  # one image per call


def _captum_gradcam(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from captum.attr import LayerGradCam

    lgc = LayerGradCam(ctx.peer_net, get_layer(ctx.peer_net, CAM_LAYER))
    return list(lgc.attribute(x.clone().requires_grad_(True), target=t, relu_attributions=True).detach())


def _gc_gradcam(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from pytorch_grad_cam import GradCAM

    with GradCAM(model=ctx.peer_net, target_layers=[get_layer(ctx.peer_net, CAM_LAYER)]) as gc:
        return list(gc(input_tensor=x.clone(), targets=_targets_gc(t)))


def _tc_gradcam(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from torchcam.methods import GradCAM

    with GradCAM(ctx.peer_net, target_layer=CAM_LAYER) as ex:
        out = ctx.peer_net(x.clone().requires_grad_(True))
        return list(ex(class_idx=list(t), scores=out)[0].detach())


def _captum_guided_gradcam(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from captum.attr import GuidedGradCam

    ggc = GuidedGradCam(ctx.peer_net, get_layer(ctx.peer_net, CAM_LAYER))
    return list(ggc.attribute(x.clone().requires_grad_(True), target=t).detach())


def _gc_guided_gradcam(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    cams = _gc_gradcam(ctx, x, t)  # (H, W) each, min-max scaled and resized by the library
    gbs = _gc_guided(ctx, x, t)  # (H, W, 3) each
    return [g * c[..., None] for g, c in zip(gbs, cams)]  # the composition of the library's README


def _tc_cam(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from torchcam.methods import CAM

    with CAM(ctx.peer_net, target_layer=CAM_LAYER, fc_layer="classifier") as ex, torch.no_grad():
        out = ctx.peer_net(x)
        return list(ex(class_idx=list(t), scores=out)[0].detach())


def _captum_occlusion(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from captum.attr import Occlusion

    s = ctx.s
    colour = fill_value(ctx.zoo, x[:1]).to(x.device)
    prob = lambda inp: torch.softmax(ctx.peer_net(inp), dim=1)  # our map is the probability (Fig. 7 d)
    with torch.no_grad():
        a = Occlusion(prob).attribute(
            x,
            sliding_window_shapes=(3, s.occ_window, s.occ_window),
            strides=(3, s.occ_stride, s.occ_stride),
            baselines=colour.expand_as(x).contiguous(),
            target=t,
            perturbations_per_eval=max(1, s.occ_batch // len(x)),
        )
    return list(a[:, 0])  # the same value in all 3 channels


def _captum_ig(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from captum.attr import IntegratedGradients

    a = IntegratedGradients(ctx.peer_net).attribute(
        x,
        baselines=torch.zeros_like(x),
        target=t,
        n_steps=ctx.s.ig_steps + 1,  # captum counts nodes, ours intervals
        method="riemann_trapezoid",
        internal_batch_size=ctx.s.ig_batch,
    )
    return list(a.detach())


def _gc_fullgrad(ctx: Ctx, x: torch.Tensor, t: list[int]) -> list[Any]:
    from pytorch_grad_cam import FullGrad

    with FullGrad(model=ctx.peer_net, target_layers=[]) as fg:
        return list(fg(input_tensor=x.clone(), targets=_targets_gc(t)))


# ---- extra notes


def _vs_plain_gradient(ctx: Ctx, ours: list[Any], peer: list[Any]) -> str:
    n = len(peer)
    x, t = ctx.batch(n)
    plain = [grad_map(backprop_gradient(ctx.zoo, x[i : i + 1], t[i])) for i in range(n)]
    d = max_diff(plain, [grad_map(p) for p in peer], ctx.s.size)
    return f"vs our *plain* gradient: {fmt_diff(d)}"


def _gc_fullgrad_note(ctx: Ctx, ours: list[Any], peer: list[Any]) -> str:
    from pytorch_grad_cam.utils.find_layers import find_layer_predicate_recursive

    found = find_layer_predicate_recursive(
        ctx.peer_net, lambda m: type(m) in (nn.Conv2d, nn.BatchNorm2d) and m.bias is not None
    )
    n = len(peer)
    x, t = ctx.batch(n)
    inp = [fullgrad(ctx.zoo, x[i : i + 1], t[i], parts=True)["input"] for i in range(n)]
    d = max_diff(inp, [plain_map(p) for p in peer], ctx.s.size)
    return (
        f"grad-cam finds {len(found)} bias layers here (it matches `type(m) in (Conv2d, BatchNorm2d)`: timm's "
        f"BatchNormAct2d and Conv2dSame are subclasses; the convs have no bias), so its map is the input term "
        f"alone, min-max scaled per channel; vs our input term: {fmt_diff(d)}"
    )


def build_methods(ctx: Ctx) -> list[Method]:
    s = ctx.s
    gc_note = "library min-max scales at layer resolution, then cv2.resize (bilinear) to the input"
    relu_note = (
        "replaces/hooks `nn.ReLU` only: EfficientNet-Lite0's activations are ReLU6 (a Hardtanh), so the "
        "backward rule is unchanged and the result is the plain gradient"
    )
    methods = [
        Method(
            "saliency",
            lambda c, x, t: saliency(c.zoo, x, t),
            plain_map,
            lambda c, b: _floor_fwd_bwd(c, b),
            "1 fwd+bwd",
            [Peer("captum", "Saliency(abs=True)", _captum_saliency, grad_map, "max over channels of abs")],
        ),
        Method(
            "smoothgrad",
            lambda c, x, t: smooth_grad(c.zoo, x, t, noise=s.sg_noise, n_samples=s.sg_n, batch_size=s.sg_batch),
            grad_map,
            lambda c, b: _floor_fwd_bwd(c, b, per_image=s.sg_n),
            f"1 fwd+bwd of {s.sg_n} images (batched)",
            [
                Peer(
                    "captum",
                    "NoiseTunnel(Saliency, smoothgrad, abs=False)",
                    _captum_smoothgrad,
                    grad_map,
                    f"n={s.sg_n}, sigma={s.sg_noise}*(max-min); same noise tensors on the CPU at batch 1 "
                    "(torch.normal from the global generator seeded 0 = our Generator seeded 0); at batch>1 "
                    "and on CUDA the draws differ (difference = Monte-Carlo noise)",
                )
            ],
            floor_batched=False,
        ),
        Method(
            "guided backprop",
            lambda c, x, t: guided_backprop(c.zoo, x, t),
            grad_map,
            lambda c, b: _floor_fwd_bwd(c, b),
            "1 fwd+bwd",
            [
                Peer("captum", "GuidedBackprop", _captum_guided, grad_map, relu_note),
                Peer("grad-cam", "GuidedBackpropReLUModel", _gc_guided, grad_map, relu_note + "; one image per call"),
            ],
            extra=_vs_plain_gradient,
        ),
        Method(
            "Grad-CAM",
            lambda c, x, t: grad_cam(c.zoo, x, t, layer=CAM_LAYER),
            plain_map,
            lambda c, b: _floor_to_layer(c, b),
            "1 fwd + bwd to bn2",
            [
                Peer("captum", "LayerGradCam(relu_attributions=True)", _captum_gradcam, plain_map),
                Peer(
                    "grad-cam",
                    "GradCAM",
                    _gc_gradcam,
                    plain_map,
                    gc_note + "; `loss.backward()` also computes every weight gradient",
                ),
                Peer("torchcam", "methods.GradCAM", _tc_gradcam, plain_map, "ReLU + min-max at layer resolution"),
            ],
        ),
        Method(
            "Guided Grad-CAM",
            lambda c, x, t: guided_grad_cam(c.zoo, x, t, layer=CAM_LAYER),
            grad_map,
            lambda c, b: _floor_fwd_bwd(c, b),
            "1 fwd+bwd (one pass can give both factors)",
            [
                Peer(
                    "captum",
                    "GuidedGradCam",
                    _captum_guided_gradcam,
                    grad_map,
                    "Grad-CAM upsampled with *nearest* (ours bilinear); its guided backprop leaves ReLU6 "
                    "alone (plain gradient)",
                ),
                Peer(
                    "grad-cam",
                    "GradCAM x GuidedBackpropReLUModel",
                    _gc_guided_gradcam,
                    grad_map,
                    "composed as in the library's README (no class of its own); plain gradient on ReLU6",
                ),
            ],
        ),
        Method(
            "CAM",
            lambda c, x, t: cam(c.zoo, x, t),
            plain_map,
            lambda c, b: _floor_fwd(c, b),
            "1 fwd",
            [
                Peer(
                    "torchcam",
                    "methods.CAM",
                    _tc_cam,
                    plain_map,
                    "min-max of the signed map at layer resolution, no ReLU (upsampled only by "
                    "`overlay_mask`); ours is the raw signed map, compared after the same min-max",
                )
            ],
        ),
        Method(
            "occlusion",
            lambda c, x, t: occlusion(c.zoo, x, t, window=s.occ_window, stride=s.occ_stride, batch_size=s.occ_batch),
            plain_map,
            lambda c, b: _floor_fwd(c, b * (_occ_positions(c) + 1), chunk=s.occ_batch),
            f"fwd of the occluded copies + 1, in batches of {s.occ_batch}",
            [
                Peer(
                    "captum",
                    "Occlusion (prob.)",
                    _captum_occlusion,
                    plain_map,
                    f"window {s.occ_window}, stride {s.occ_stride}, grey fill; captum returns per pixel the mean "
                    "drop over the windows covering it: ours compared via `occlusion_pixel_map(base - prob)`",
                )
            ],
            compare=lambda c, x, t: _ours_occlusion_pixels(c, x, t),
        ),
    ]
    if fullgrad is not None:
        methods += [
            Method(
                "FullGrad",
                lambda c, x, t: fullgrad(c.zoo, x, t),
                plain_map,
                lambda c, b: _floor_fwd_bwd(c, b),
                "1 fwd+bwd",
                [
                    Peer(
                        "grad-cam",
                        "FullGrad",
                        _gc_fullgrad,
                        plain_map,
                        "bias terms of `Conv2d`/`BatchNorm2d` by exact type only, no implicit ReLU6 biases",
                    )
                ],
                extra=_gc_fullgrad_note,
            ),
            Method(
                "Integrated Gradients",
                lambda c, x, t: integrated_gradients(c.zoo, x, t, steps=s.ig_steps, batch_size=s.ig_batch),
                grad_map,
                lambda c, b: _floor_fwd_bwd(c, b, per_image=s.ig_steps + 1),
                f"1 fwd+bwd of {s.ig_steps + 1} images (batched)",
                [
                    Peer(
                        "captum",
                        "IntegratedGradients(riemann_trapezoid)",
                        _captum_ig,
                        grad_map,
                        f"same {s.ig_steps + 1} nodes, zero baseline; captum's trapezoid weights are 1/n at node "
                        "spacing 1/(n-1) (they sum to (n-1)/n), so its attributions are (n-1)/n of the trapezoid "
                        f"rule's: raw diff = 1/n = {1 / (s.ig_steps + 1):.3f}, removed by the normalization",
                    )
                ],
                floor_batched=False,
            ),
        ]
    return methods


def _ours_occlusion_pixels(ctx: Ctx, x: torch.Tensor, t: int) -> torch.Tensor:
    s = ctx.s
    sw = occlusion_sweep(ctx.zoo, x, window=s.occ_window, stride=s.occ_stride, batch_size=s.occ_batch)
    return occlusion_pixel_map(sw.base_probs[t] - sw.prob_map(t), sw)


# --------------------------------------------------------------------------- running the attribution rows


def bench_attribution(ctx: Ctx) -> tuple[list[list[Any]], list[list[Any]]]:
    """Returns (peer rows, cost rows)."""
    s = ctx.s
    peer_rows, cost_rows = [], []
    for m in build_methods(ctx):
        if s.methods and m.name.lower().replace(" ", "_").replace("-", "_") not in s.methods:
            continue
        for b in s.batches:
            x, t = ctx.batch(b)
            print(f"  {m.name}, batch {b} ...", flush=True)
            # ours, the floor and every peer measured in alternation: their ratios share the machine's state
            fns = {"ours": lambda m=m, x=x, t=t: list(m.ours(ctx, x, list(t)))}  # one batched call
            fns["floor"] = m.floor(ctx, b if m.floor_batched else 1)
            peers = [p for p in m.peers if p.name in s.peers]
            for p in peers:
                if ctx.peers.get(p.name) is not None:
                    fns[p.name] = lambda p=p, x=x, t=t: p.run(ctx, x, t)
            timed = interleaved_medians(fns, s.repeats, ctx.device, s.budget_s)
            if isinstance(timed["ours"], Exception) or isinstance(timed["floor"], Exception):
                raise timed["ours"] if isinstance(timed["ours"], Exception) else timed["floor"]
            t_ours, _, out = timed["ours"]
            if m.floor_batched:  # the minimal passes for the whole batch, measured as one batch
                t_floor = timed["floor"][0]
                floor_desc = m.floor_desc if b == 1 else f"{m.floor_desc}, batch of {b}"
            else:  # the method fills each pass with copies of one image: b one-image floors
                t_floor = b * timed["floor"][0]
                floor_desc = m.floor_desc if b == 1 else f"{b} x ({m.floor_desc})"
            ratio = t_ours / t_floor
            cost_rows.append(
                [
                    m.name,
                    b,
                    fmt_ms(t_ours),
                    fmt_ms(t_floor),
                    floor_desc,
                    fmt_ratio(ratio),
                    "ok" if ratio <= 1.15 else "**missed**",
                ]
            )
            ours_cmp = [m.compare(ctx, x[i : i + 1], t[i]) for i in range(b)] if m.compare else out
            ours_maps = [m.to_map(o) for o in ours_cmp]
            peer_rows.append([m.name, b, "ours", "", fmt_ms(t_ours), "1.00", "-", ""])
            for p in peers:
                if ctx.peers.get(p.name) is None:
                    peer_rows.append([m.name, b, p.name, p.api, "-", "-", "-", "not installed: skipped"])
                    continue
                if isinstance(timed[p.name], Exception):
                    e = timed[p.name]
                    peer_rows.append([m.name, b, p.name, p.api, "-", "-", "-", f"failed: {type(e).__name__}: {e}"])
                    continue
                t_peer, _, pout = timed[p.name]
                diff = max_diff(ours_maps, [p.to_map(o) for o in pout], s.size)
                notes = [p.note] if p.note else []
                raw = raw_rel_diff(ours_cmp, pout) if m.to_map is grad_map and p.to_map is grad_map else None
                if raw is not None and m.compare is None:
                    notes.append(f"raw rel. diff {fmt_diff(raw)}")
                if m.extra is not None:
                    try:
                        notes.append(m.extra(ctx, ours_cmp, pout))
                    except Exception as e:  # pragma: no cover
                        notes.append(f"(extra note failed: {e})")
                peer_rows.append(
                    [
                        m.name,
                        b,
                        p.name,
                        p.api,
                        fmt_ms(t_peer),
                        fmt_ratio(t_peer / t_ours),
                        fmt_diff(diff),
                        "; ".join(notes),
                    ]
                )
    return peer_rows, cost_rows


def profile_method(ctx: Ctx, name: str, rows: int = 15) -> str:
    """torch.profiler of our method and of its floor on one image: where does the extra time go?"""
    from torch.profiler import ProfilerActivity, profile

    key = name.lower().replace(" ", "_").replace("-", "_")
    found = [m for m in build_methods(ctx) if m.name.lower().replace(" ", "_").replace("-", "_") == key]
    if not found:
        raise SystemExit(f"--profile: unknown method {name!r}")
    m = found[0]
    x, t = ctx.batch(1)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if ctx.device.type == "cuda" else [])
    out = []
    for label, fn in (("ours", lambda: m.ours(ctx, x, t)), ("floor", m.floor(ctx, 1))):
        fn()  # warm-up
        with profile(activities=acts) as prof:
            fn()
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
        out.append(f"### {m.name}: {label}\n\n```\n{table}\n```")
    return "\n\n".join(out)


# --------------------------------------------------------------------------- style transfer


class ContentLoss(nn.Module):
    """The tutorial's module, with our relative error ``||F - F0||^2 / ||F0||^2``."""

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.target = target.detach()
        self.norm2 = self.target.pow(2).sum()
        self.loss = torch.zeros(())

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self.loss = (input - self.target).pow(2).sum() / self.norm2
        return input


def gram_matrix(input: torch.Tensor) -> torch.Tensor:
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    return torch.mm(features, features.t()).div(c * d)


class StyleLoss(nn.Module):
    """The tutorial's module, with our relative Gram error (scale-free, so the normalization of G cancels)."""

    def __init__(self, target_feature: torch.Tensor) -> None:
        super().__init__()
        self.target = gram_matrix(target_feature).detach()
        self.norm2 = self.target.pow(2).sum()
        self.loss = torch.zeros(())

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self.loss = (gram_matrix(input) - self.target).pow(2).sum() / self.norm2
        return input


def get_style_model_and_losses(cnn, normalization, style_img, content_img, content_layers, style_layers):
    """As in the tutorial: rebuild an nn.Sequential with the loss modules inserted, cut after the last one."""
    content_losses, style_losses = [], []
    model = nn.Sequential(normalization)
    for name, layer in cnn.named_children():
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module(f"content_loss_{name}", content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module(f"style_loss_{name}", style_loss)
            style_losses.append(style_loss)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], (ContentLoss, StyleLoss)):
            break
    model = model[: (i + 1)]
    return model, style_losses, content_losses


def bench_style(s: Settings, device: torch.device) -> tuple[list[list[Any]], list[str]]:
    from lecture_utils.optimize import PixelImage
    from lecture_utils.style import CONTENT_LAYER, STYLE_LAYERS, style_transfer

    vgg = load_model("vgg19", device=device)
    content = vgg.preprocess(load_image("chelsea"), size=s.style_size)
    style = vgg.preprocess(load_image("vangogh_starry_night"), size=s.style_size)
    alpha, beta, lr, steps = 1.0, 10.0, 0.05, s.style_steps
    content_rgb = vgg.normalize.inverse(content).clamp(0, 1)
    style_rgb = vgg.normalize.inverse(style).clamp(0, 1)

    def build():
        cnn = copy.deepcopy(vgg.net).eval().requires_grad_(False)
        return get_style_model_and_losses(
            cnn, copy.deepcopy(vgg.normalize), style_rgb, content_rgb, [CONTENT_LAYER], STYLE_LAYERS
        )

    def ref_loss(model, style_losses, content_losses, img):
        model(img)
        style_score = sum(sl.loss for sl in style_losses) / len(style_losses)
        content_score = sum(cl.loss for cl in content_losses)
        return alpha * content_score + beta * style_score

    def ours(n: int):
        return style_transfer(vgg, content, style, alpha=alpha, beta=beta, steps=n, lr=lr)

    def ref_adam(n: int):
        model, style_losses, content_losses = build()
        param = PixelImage(0, init=content_rgb).to(device)  # same sigmoid parametrization and init
        optimizer = torch.optim.Adam(param.parameters(), lr=lr)
        for _ in range(n):
            optimizer.zero_grad()
            loss = ref_loss(model, style_losses, content_losses, param())
            loss.backward()
            optimizer.step()
        return param().detach()

    evals = {"n": 0}

    def ref_lbfgs(n: int):
        model, style_losses, content_losses = build()
        input_img = content_rgb.clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS([input_img], max_iter=min(20, n))  # the tutorial's default max_iter=20
        run = [0]
        while run[0] < n:

            def closure():
                with torch.no_grad():
                    input_img.clamp_(0, 1)
                optimizer.zero_grad()
                loss = ref_loss(model, style_losses, content_losses, input_img)
                loss.backward()
                run[0] += 1
                return loss

            optimizer.step(closure)
        evals["n"] = run[0]
        with torch.no_grad():
            input_img.clamp_(0, 1)
        return input_img.detach()

    # the floor of one step: forward to relu5_1 + backward to the pixels, nothing else
    last = STYLE_LAYERS[-1]
    names = [n for n, _ in vgg.net.named_children()]
    trunk = nn.Sequential(vgg.normalize, *list(vgg.net.children())[: names.index(last) + 1])

    def floor_step():
        with preserved_state(trunk):
            z = torch.zeros_like(content_rgb).requires_grad_(True)
            trunk(torch.sigmoid(z)).pow(2).sum().backward()

    r = s.style_repeats
    t_floor = median_time(floor_step, 3, device)[0]
    per_step, finals = {}, {}
    for name, fn in (
        ("ours (style_transfer, Adam)", ours),
        ("tutorial loop, Adam", ref_adam),
        ("tutorial loop, L-BFGS", ref_lbfgs),
    ):
        print(f"  style: {name} ...", flush=True)
        t_n, _, out = median_time(lambda fn=fn: fn(steps), r, device, budget_s=600)
        n_evals = evals["n"] if "L-BFGS" in name else steps
        marginal = None
        if n_evals > 1:
            t_1 = median_time(lambda fn=fn: fn(1), r, device, budget_s=600)[0]
            marginal = (t_n - t_1) / (n_evals - 1)
        per_step[name] = (t_n, n_evals, marginal)
        finals[name] = out
    model, style_losses, content_losses = build()
    rows = []
    with torch.no_grad():
        ours_img = torch.from_numpy(finals["ours (style_transfer, Adam)"].image).permute(2, 0, 1)[None].to(device)
        values = {
            k: float(ref_loss(model, style_losses, content_losses, ours_img if k.startswith("ours") else v))
            for k, v in finals.items()
        }
    base = per_step["ours (style_transfer, Adam)"]
    for name, (t_n, n_evals, marginal) in per_step.items():
        step = marginal if marginal is not None else t_n / n_evals
        rows.append(
            [
                name,
                n_evals,
                fmt_ms(t_n),
                fmt_ms(step),
                fmt_ratio(step / t_floor),
                fmt_ratio(t_n / base[0]) if not name.startswith("ours") else "1.00",
                f"{values[name]:.4f}",
            ]
        )
    notes = [
        f"{s.style_size} px content (chelsea) and style (Starry Night); alpha={alpha}, beta={beta}; Adam lr={lr} on "
        "sigmoid pixels for both Adam rows (the tutorial optimizes raw pixels with L-BFGS: third row).",
        f"floor of one step (fwd to {last} + bwd to the pixels): {fmt_ms(t_floor)} ms.",
        "ms/step: (t(n steps) - t(1 step)) / (n - 1), so setup (targets, start/final losses) is excluded; "
        "L-BFGS: the same with closure evaluations (max_iter=min(20, n), the tutorial's loop).",
        f"final loss: alpha*content + beta*style (relative errors, as `style.style_transfer`) of each final image, "
        "evaluated by the same tutorial-style network; ours reports "
        f"{finals['ours (style_transfer, Adam)'].final['total']:.4f}.",
    ]
    return rows, notes


def bench_fast(s: Settings, device: torch.device) -> tuple[list[list[Any]], list[str]]:
    fastnet, _ = try_import("lecture_utils.fastnet")
    if fastnet is None or not hasattr(fastnet, "load_stylizer"):
        return [], ["lecture_utils.fastnet not present: skipped"]
    names = fastnet.available_stylizers()
    if not names:
        return [], ["no committed stylizer weights: skipped"]
    net = fastnet.load_stylizer(names[0], device=device).eval()
    rows = []
    for b in (1, 4):
        x = torch.rand(b, 3, s.fast_size, s.fast_size, device=device)

        def fn(x=x):
            with torch.no_grad():
                return net(x)

        t, n, _ = median_time(fn, s.repeats, device, s.budget_s)
        rows.append([names[0], f"{s.fast_size} px", b, fmt_ms(t), f"{b / t:.2f}"])
    return rows, [f"TransformNet ({sum(p.numel() for p in net.parameters()):,} parameters), forward only, no_grad."]


# --------------------------------------------------------------------------- main


def make_settings(args: argparse.Namespace) -> Settings:
    s = Settings()
    if args.quick:
        s = Settings(
            size=96,
            batches=(1, 2),
            repeats=2,
            budget_s=5.0,
            sg_n=4,
            sg_batch=2,
            ig_steps=4,
            ig_batch=4,
            occ_window=32,
            occ_stride=32,
            occ_batch=8,
            style_size=64,
            style_steps=2,
            style_repeats=1,
            fast_size=128,
        )
    for key in ("size", "repeats", "style_size", "style_steps", "fast_size"):
        if getattr(args, key) is not None:
            setattr(s, key, getattr(args, key))
    if args.batches:
        s.batches = tuple(int(b) for b in args.batches.split(","))
    if args.methods:
        s.methods = tuple(m.strip().lower().replace(" ", "_").replace("-", "_") for m in args.methods.split(","))
    if args.peers is not None:
        s.peers = tuple(p for p in args.peers.split(",") if p)
    s.occ_window = min(s.occ_window, s.size)
    s.occ_stride = min(s.occ_stride, s.size)
    return s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--quick", action="store_true", help="small images, few repeats (development, tests)")
    p.add_argument("--out", default="benchmarks/RESULTS.md", help="Markdown file to write (section bench_methods)")
    p.add_argument("--size", type=int, help="image side for the attribution rows (default 224; quick 96)")
    p.add_argument("--batches", help="comma-separated batch sizes (default 1,8; quick 1,2)")
    p.add_argument("--repeats", type=int, help="timed runs per measurement after a warm-up (default 5)")
    p.add_argument("--methods", help="comma-separated subset, e.g. saliency,grad_cam,occlusion")
    p.add_argument("--peers", help="comma-separated subset of captum,grad-cam,torchcam ('' = none)")
    p.add_argument("--style-size", type=int, help="style transfer image side (default 256; quick 64)")
    p.add_argument("--style-steps", type=int, help="optimization steps (default 10; quick 2)")
    p.add_argument("--fast-size", type=int, help="fast stylization image side (default 512; quick 128)")
    p.add_argument("--skip-style", action="store_true")
    p.add_argument("--skip-fast", action="store_true")
    p.add_argument("--profile", metavar="METHOD", help="only profile one of our methods and its floor (torch.profiler)")
    p.add_argument("--note", default="", help="a line written at the top of the section (e.g. machine load)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available")
    device = torch.device(args.device)
    s = make_settings(args)
    torch.manual_seed(0)

    zoo = load_model("efficientnet_lite0", device=device)
    imgs = torch.cat([zoo.preprocess(load_image(n), size=s.size) for n in IMAGES]).to(device)
    imgs[-1] = imgs[-1].flip(-1)  # the 8th image: chelsea mirrored
    with torch.no_grad():
        targets = [int(c) for c in zoo.net(imgs).argmax(1)]
    ctx = Ctx(zoo, copy.deepcopy(zoo.net).eval(), imgs, targets, s, device)
    for name, mod in PEER_MODULES.items():
        ctx.peers[name], ver = try_import(mod, dist=name)
        ctx.versions[name] = ver or "not installed"
    if ctx.peers.get("torchcam") is not None:
        import logging

        logging.getLogger("torchcam").setLevel(logging.ERROR)
    print(machine_line(device))
    print("peers: " + ", ".join(f"{k} {v}" for k, v in ctx.versions.items()))

    if args.profile:
        print(profile_method(ctx, args.profile))
        return 0
    t0 = time.perf_counter()
    peer_rows, cost_rows = bench_attribution(ctx)
    parts = []
    head = f"## Methods (`bench_methods.py{' --quick' if args.quick else ''}`)\n\n"
    if args.note:
        head += f"**{args.note}**\n\n"
    head += (
        f"{machine_line(device)}. Peers: " + ", ".join(f"{k} {v}" for k, v in ctx.versions.items()) + ".\n\n"
        f"EfficientNet-Lite0 at {s.size} px, images {', '.join(IMAGES[: max(s.batches)])}"
        f"{' (the 8th mirrored)' if max(s.batches) >= 8 else ''}, "
        f"target = our top-1 class; median of up to {s.repeats} runs after a warm-up, ours, the floor and "
        "the peers of one row measured in alternation (round by round). Every function, ours "
        "and the peers', gets the whole batch with one target per image (grad-cam's guided backprop takes "
        "one image per call)."
    )
    parts.append(head)
    parts.append(
        "### Against the peers\n\n"
        + markdown_table(["method", "batch", "library", "API", "ms", "peer/ours", "max abs diff", "notes"], peer_rows)
    )
    parts.append(
        "### Our cost against the physical floor (target <= 1.15)\n\n"
        + markdown_table(["method", "batch", "ours ms", "floor ms", "floor = ", "ours/floor", "target"], cost_rows)
    )
    if not args.skip_style:
        rows, notes = bench_style(s, device)
        parts.append(
            f"### Gatys style transfer, {s.style_size} px, {s.style_steps} steps\n\n"
            + markdown_table(
                ["loop", "steps / evals", "total ms", "ms/step", "step/floor", "total vs ours", "final loss"], rows
            )
            + "\n\n"
            + "\n".join(f"- {n}" for n in notes)
        )
    if not args.skip_fast:
        rows, notes = bench_fast(s, device)
        parts.append(
            f"### Fast stylization (lecture_utils.fastnet), {s.fast_size} px\n\n"
            + (markdown_table(["stylizer", "size", "batch", "ms", "images/s"], rows) + "\n\n" if rows else "")
            + "\n".join(f"- {n}" for n in notes)
        )
    parts.append(f"_Total benchmark time: {time.perf_counter() - t0:.0f} s._")
    text = "\n\n".join(parts)
    print()
    print(text)
    if args.out:
        write_section(args.out, "bench_methods", text, preamble="# Benchmark results\n\nSee benchmarks/README.md.")
        print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
