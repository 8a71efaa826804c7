"""FullGrad and Integrated Gradients: attributions that add up to the class score.

Lecture section «Семантические словари и FullGrad» (notebook 13). Papers: S. Srinivas & F. Fleuret
(2019), "Full-Gradient Representation for Neural Network Visualization", NeurIPS 2019;
M. Sundararajan, A. Taly & Q. Yan (2017), "Axiomatic Attribution for Deep Networks" (Integrated
Gradients, the baseline FullGrad is compared with).

**Full-gradient decomposition.** A network built from convolutions, linear layers, batch norm in
eval mode, average pooling, residual sums and piecewise-linear activations is, around any input
``x``, exactly an affine function. Writing ``b`` for all its biases,

    f(x) = <grad_x f, x> + sum_layers <grad_b f, b>,

where ``grad_b f`` at a layer is the gradient of ``f`` w.r.t. that layer's output (the bias is
added at every position, so each position gets its own term ``grad_out * b``). The biases are

* the ``bias`` of a convolution / linear layer;
* the effective bias of a batch norm in eval mode: ``y = gamma (x - mu) / sqrt(var + eps) + beta``
  = ``x * gamma / sqrt(var + eps) + (beta - mu * gamma / sqrt(var + eps))``;
* **implicit** biases of activations whose pieces do not pass through 0: a saturated ``ReLU6``
  outputs the constant 6 (``Hardtanh`` the constants ``min_val`` / ``max_val``). ReLU and
  LeakyReLU have none. Without these terms completeness fails on EfficientNet-Lite0, whose
  activations are ReLU6.

:func:`full_gradient` returns all terms (:class:`FullGradient`); their sum equals the target
score up to float round-off (``FullGradient.residual``). The sum is over the *network input*:
the preprocessing ``(rgb - 0.5) / 0.5`` happens before the network and is not part of ``f``.
A network with a smooth activation (SiLU, GELU, sigmoid, squeeze-excitation) is not piecewise
linear: the residual is then not small and FullGrad is only a heuristic there.

**FullGrad saliency** (the paper's eq. 5): post-process every term with ``psi`` = absolute value,
min-max scaling to [0, 1] over the whole term (all its channels), bilinear resizing to the input;
sum over channels and layers: ``S = psi(grad_x f * x) + sum_l sum_c psi(grad_b f * b)_c``. Terms
without a spatial layout (a linear layer's bias) are left out, as in the authors' code.

**Pixel perturbation** (the paper's Sec. 5.1 benchmark): remove the k % *least* salient pixels
(set them to black) and measure the absolute fractional change of the score ``|f(x') - f(x)| / |f(x)|``;
a map that really found the unimportant pixels changes the output little
(:func:`pixel_perturbation`).

**Integrated Gradients**: ``(x - x0) * integral_0^1 grad f(x0 + a (x - x0)) da`` by a Riemann or
trapezoid sum over ``steps`` points, computed in batches. Completeness: the attributions sum to
``f(x) - f(x0)`` up to the quadrature error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from .checks import check_bool, check_choice, check_finite, check_int, check_number
from .hooks import HookSet, preserved_state
from .models import ZooModel, as_module, classes_of
from .targets import (
    Target,
    Targets,
    batched_output,
    check_image,
    class_score,
    model_input,
    one_class,
    resolve_for,
    resolve_targets,
)

__all__ = [
    "FullGradient",
    "effective_bias",
    "full_gradient",
    "fullgrad",
    "postprocess",
    "integrated_gradients",
    "IGPath",
    "path_scores",
    "target_score",
    "pixel_perturbation",
]


@dataclass
class FullGradient:
    """The full-gradient decomposition of one score.

    ``score``: the target score ``f(x)`` (float); ``input_term``: ``grad_x f * x`` (1, 3, H, W);
    ``bias_terms``: layer name -> ``grad_out f * b``, (1, C, h, w) for conv / batch-norm layers,
    (1, K) for a linear layer; ``implicit_terms``: activation name -> ``grad_out f * c`` where ``c``
    is the constant a saturated activation outputs (ReLU6: 6 where its input is >= 6), (1, C, h, w).
    A layer called more than once gets ``name#2``, ``name#3``, ... for its later calls.
    """

    score: float
    input_term: torch.Tensor
    bias_terms: dict[str, torch.Tensor] = field(default_factory=dict)
    implicit_terms: dict[str, torch.Tensor] = field(default_factory=dict)

    def layer_sums(self) -> dict[str, float]:
        """Each term summed to one number: ``{"input": ..., layer: ..., ...}`` (float64 sums)."""
        out = {"input": float(self.input_term.double().sum())}
        for name, t in {**self.bias_terms, **self.implicit_terms}.items():
            out[name] = float(t.double().sum())
        return out

    @property
    def total(self) -> float:
        """Sum of all terms; equals :attr:`score` for a piecewise-linear network (completeness)."""
        return float(sum(self.layer_sums().values()))

    @property
    def residual(self) -> float:
        """``score - total``: zero up to round-off when every bias of the network was found."""
        return self.score - self.total


def effective_bias(module: nn.Module) -> torch.Tensor | None:
    """The bias a layer adds to its output, per channel, or ``None`` when it adds none.

    Conv / linear: their ``bias``. Batch norm (eval mode, running statistics):
    ``beta - running_mean * gamma / sqrt(running_var + eps)``.
    Returns: (C,) detached tensor.
    """
    if isinstance(module, _BatchNorm):
        if module.running_mean is None or module.running_var is None:
            raise ValueError(
                f"{type(module).__name__} without running statistics normalizes with the batch's own "
                "statistics even in eval mode: it is not an affine map, so it has no fixed bias"
            )
        scale = torch.rsqrt(module.running_var + module.eps)
        if module.weight is not None:
            scale = scale * module.weight
        beta = module.bias if module.bias is not None else torch.zeros_like(scale)
        return (beta - module.running_mean * scale).detach()
    if isinstance(module, (_ConvNd, nn.Linear)):
        return None if module.bias is None else module.bias.detach()
    return None


def _broadcast(bias: torch.Tensor, like: torch.Tensor, linear: bool) -> torch.Tensor:
    """Shape a per-channel bias (C,) to multiply an output ``like``: channels on dim 1 (conv,
    batch norm) or on the last dim (linear)."""
    if linear or like.ndim == 2:
        return bias.view(*([1] * (like.ndim - 1)), -1)
    return bias.view(1, -1, *([1] * (like.ndim - 2)))


def _clamp_term(module: nn.Hardtanh, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``g * c`` where ``c`` is what a Hardtanh / ReLU6 with input ``z`` outputs where it is flat
    (slope 0): ``max_val`` where ``z >= max_val``, ``min_val`` where ``z <= min_val``, else 0."""
    lo, hi = float(module.min_val), float(module.max_val)
    term = (g * hi).masked_fill_(z < hi, 0.0)
    if lo != 0.0:  # ReLU6's lower constant is 0: nothing to add
        term = term + (g * lo).masked_fill_(z > lo, 0.0)
    return term


def _check_target(model: nn.Module | ZooModel, target: Targets, n_images: int = 1) -> None:
    resolve_for(model, target, n_images)  # head, counts, names, ranges before any hook


Record = tuple[str, str, torch.Tensor, Any]  # (kind, name, output, factor) of one bias / implicit term


def _bias_hooks(net: nn.Module, records: list[Record]) -> HookSet:
    """Register the hooks that collect every bias term of a forward pass into ``records``:
    ``("bias", name, output, broadcast bias)`` per conv / linear / batch-norm call and
    ``("implicit", name, output, (module, its input))`` per Hardtanh / ReLU6 call. A layer called
    more than once gets ``name#2``, ... The caller removes the hooks (``finally``)."""
    calls: dict[str, int] = {}

    def key(name: str) -> str:
        calls[name] = calls.get(name, 0) + 1
        return name if calls[name] == 1 else f"{name}#{calls[name]}"

    def bias_hook(name: str, module: nn.Module, linear: bool):
        def hook(out: torch.Tensor) -> None:
            b = effective_bias(module)
            if b is not None and isinstance(out, torch.Tensor) and out.requires_grad:
                records.append(("bias", key(name), out, _broadcast(b.to(out.dtype), out, linear)))

        return hook

    def clamp_hook(name: str):
        def hook(mod: nn.Module, inputs: Any, out: torch.Tensor) -> None:
            if out.requires_grad:
                records.append(("implicit", key(name), out, (mod, inputs[0].detach())))

        return hook

    hooks = HookSet()
    try:
        for name, m in net.named_modules():
            if isinstance(m, _BatchNorm):
                act = getattr(m, "act", None)  # timm's BatchNormAct2d: bias before drop + act
                fn = bias_hook(name, m, linear=False)
                if isinstance(act, nn.Module):
                    hooks.add(act.register_forward_pre_hook(lambda _m, args, fn=fn: fn(args[0])))
                else:
                    hooks.add(m.register_forward_hook(lambda _m, _i, out, fn=fn: fn(out)))
            elif isinstance(m, (_ConvNd, nn.Linear)) and m.bias is not None:
                fn = bias_hook(name, m, linear=isinstance(m, nn.Linear))
                hooks.add(m.register_forward_hook(lambda _m, _i, out, fn=fn: fn(out)))
            elif isinstance(m, nn.Hardtanh):  # ReLU6 is a Hardtanh(0, 6)
                hooks.add(m.register_forward_hook(clamp_hook(name)))
    except BaseException:
        hooks.remove()
        raise
    return hooks


def _scores(model: nn.Module | ZooModel, logits: torch.Tensor, target: Targets) -> torch.Tensor:
    """The target score of every image, (N,): one class per image, or a callable per image."""
    n = logits.shape[0]
    idx = resolve_targets(target, n, classes_of(model), n_classes=logits.shape[-1])
    if idx is None:
        return torch.stack([class_score(logits[i : i + 1], target) for i in range(n)])
    return logits[torch.arange(n, device=logits.device), idx]


def _decompose(
    model: nn.Module | ZooModel, image: torch.Tensor, target: Targets
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One forward + backward pass for a batch (N, 3, H, W): ``(scores (N,), input term,
    bias terms, implicit terms)``, every term with the batch axis first (see :func:`full_gradient`)."""
    check_image(image, batch=True, model=model)
    _check_target(model, target, image.shape[0])
    for m in as_module(model).modules():
        if isinstance(m, _BatchNorm):
            effective_bias(m)  # refuses batch-statistics norms before any hook is registered
    records: list[Record] = []
    with preserved_state(model) as net:
        hooks = _bias_hooks(net, records)
        try:
            x = model_input(image, net).requires_grad_(True)
            scores = _scores(model, net(x), target)
            score = scores.sum()  # images are independent: per-image gradients
            if not score.requires_grad:
                raise ValueError("the target score does not depend on the input")
            grads = torch.autograd.grad(score, [x] + [r[2] for r in records], allow_unused=True)
        finally:
            hooks.remove()
    bias_terms: dict[str, torch.Tensor] = {}
    implicit_terms: dict[str, torch.Tensor] = {}
    for (kind, name, out, factor), g in zip(records, grads[1:]):
        g = torch.zeros_like(out) if g is None else g
        if kind == "bias":
            bias_terms[name] = (g * factor).detach()
        else:
            implicit_terms[name] = _clamp_term(factor[0], factor[1], g).detach()
    return scores.detach(), (grads[0] * x).detach(), bias_terms, implicit_terms


def full_gradient(model: nn.Module | ZooModel, image: torch.Tensor, target: Target) -> FullGradient:
    """The full-gradient decomposition (Srinivas & Fleuret 2019) of the target score.

    Inputs: ``image`` (1, 3, H, W) preprocessed (the network input); ``target`` a class index or
    name, or a callable on the logits (completeness then needs it to be linear in the logits).
    Returns: :class:`FullGradient` with the input term, one bias term per conv / linear /
    batch-norm call and one implicit term per saturated Hardtanh / ReLU6 call, all on the
    model's device. ``result.residual`` is about 1e-5 of the score for a piecewise-linear network.
    Batch-norm layers of timm (``BatchNormAct2d``: norm, then ``drop``, then ``act`` inside one
    module) are handled: the bias term is taken before the activation.
    """
    check_image(image, model=model)
    scores, input_term, bias_terms, implicit_terms = _decompose(model, image, target)
    return FullGradient(float(scores[0]), input_term, bias_terms, implicit_terms)


def postprocess(term: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """FullGrad's ``psi``: absolute value, then min-max scaled to [0, 1] over the whole term of
    each image (all its channels and positions).

    Inputs/Returns: (N, C, h, w).
    """
    a = term.abs()
    dims = tuple(range(1, a.ndim))
    a = a - a.amin(dim=dims, keepdim=True)
    return a / (a.amax(dim=dims, keepdim=True) + eps)


def _postprocessed_channel_sum(term: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``postprocess(term).sum(dim=1, keepdim=True)`` in one pass over the term: the min-max
    scaling is affine, so it can follow the channel sum. (N, C, h, w) -> (N, 1, h, w)."""
    a = term.abs()
    if a.shape[0] == 1:  # one fused pass (aminmax along a dim is far slower than amin + amax on the CPU)
        lo, hi = torch.aminmax(a)
    else:
        flat = a.flatten(1)
        lo, hi = flat.amin(dim=1).view(-1, 1, 1, 1), flat.amax(dim=1).view(-1, 1, 1, 1)
    return (a.sum(dim=1, keepdim=True) - a.shape[1] * lo) / (hi - lo + eps)


def fullgrad(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Targets,
    implicit: bool = True,
    parts: bool = False,
) -> torch.Tensor | dict[str, torch.Tensor]:
    """FullGrad saliency map of Srinivas & Fleuret 2019.

    ``S = psi(grad_x f * x) + sum_layers sum_channels upsample(psi(grad_b f * b))``, with ``psi``
    = :func:`postprocess` and bilinear upsampling to the input size.
    Inputs: ``image`` (1, 3, H, W) preprocessed, or a batch (N, 3, H, W) (one forward and backward
    pass for all); ``target`` class index, name or callable on the logits, or N classes;
    ``implicit`` include the implicit biases of saturated ReLU6 units (they are biases of the local
    affine map too); ``parts`` return the per-layer maps instead of their sum.
    Returns: (H, W) non-negative map on the model's device, (N, H, W) for a batch or per-image
    targets (``parts=True``: dict name -> such a map: ``"input"``, then the bias terms in forward
    order, then the implicit terms).
    """
    implicit, parts = check_bool(implicit, "implicit"), check_bool(parts, "parts")
    _, input_term, bias_terms, implicit_terms = _decompose(model, image, target)
    h, w = image.shape[-2:]
    keep = batched_output(image, target)
    terms = {**bias_terms, **(implicit_terms if implicit else {})}
    terms = {n: t for n, t in terms.items() if t.ndim == 4}  # a linear layer's bias has no position

    def out(m: torch.Tensor) -> torch.Tensor:  # (N, 1, H, W) -> the returned shape
        return m[:, 0] if keep else m[0, 0]

    # resizing is linear: summing the channels first gives the same map, C times cheaper
    if parts:
        maps = {"input": out(_postprocessed_channel_sum(input_term))}
        for name, t in terms.items():
            up = F.interpolate(_postprocessed_channel_sum(t), size=(h, w), mode="bilinear", align_corners=True)
            maps[name] = out(up)
        return maps
    # ... and so is summing the layers: maps of one resolution are added before one resize
    by_size: dict[tuple[int, int], torch.Tensor] = {}
    for t in terms.values():
        m = _postprocessed_channel_sum(t)
        size = tuple(m.shape[-2:])
        by_size[size] = by_size[size] + m if size in by_size else m
    total = _postprocessed_channel_sum(input_term)
    for m in by_size.values():
        total = total + F.interpolate(m, size=(h, w), mode="bilinear", align_corners=True)
    return out(total)


# --------------------------------------------------------------------------- Integrated Gradients


def target_score(model: nn.Module | ZooModel, image: torch.Tensor, target: Target) -> float:
    """The target score (logit) of one preprocessed image (1, 3, H, W), without gradients."""
    check_image(image, model=model)
    _check_target(model, target)
    with preserved_state(model) as net, torch.no_grad():
        return float(class_score(net(model_input(image, net)), target, classes_of(model)))


@dataclass
class IGPath:
    """What Integrated Gradients saw along the straight path from the baseline to the image.

    ``alphas`` (n,) the quadrature nodes; ``weights`` (n,) their weights (they sum to 1);
    ``scores`` (n,) ``f(x0 + a (x - x0))``; ``integrand`` (n,) ``<grad f(x0 + a (x - x0)), x - x0>``,
    whose weighted sum equals the sum of the attributions. ``delta`` = ``f(x) - f(x0)``.
    All float64 CPU tensors.
    """

    alphas: torch.Tensor
    weights: torch.Tensor
    scores: torch.Tensor
    integrand: torch.Tensor
    delta: float

    @property
    def estimate(self) -> float:
        """The quadrature ``sum_k w_k integrand_k`` (= the sum of the IG attributions)."""
        return float((self.weights * self.integrand).sum())

    @property
    def gap(self) -> float:
        """Completeness error ``estimate - delta``; goes to 0 as the number of steps grows."""
        return self.estimate - self.delta


def _baseline(image: torch.Tensor, baseline: torch.Tensor | float | None) -> torch.Tensor:
    """IG's x0 as a tensor of the image's shape: zeros, a number everywhere, or a tensor (checked:
    the image's shape, finite -- a NaN baseline makes every attribution NaN)."""
    if baseline is None:
        return torch.zeros_like(image)
    if isinstance(baseline, torch.Tensor):
        if tuple(baseline.shape) != tuple(image.shape):
            raise ValueError(f"baseline must have the image's shape {tuple(image.shape)}, got {tuple(baseline.shape)}")
        check_finite(baseline.detach(), "baseline")
        return baseline.detach().to(image.dtype)
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float)) and not hasattr(baseline, "__float__"):
        raise TypeError(f"baseline must be None, a number or a tensor, got {type(baseline).__name__}")
    return torch.full_like(image, check_number(baseline, "baseline"))


def integrated_gradients(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Targets,
    baseline: torch.Tensor | float | None = None,
    steps: int = 32,
    method: str = "trapezoid",
    batch_size: int = 8,
    return_path: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, IGPath]:
    """Integrated Gradients (Sundararajan, Taly & Yan 2017).

    ``IG = (x - x0) * sum_k w_k grad f(x0 + a_k (x - x0))`` with ``a_k = k / steps``:
    ``method="trapezoid"`` k = 0..steps, weights 1/steps (half at both ends);
    ``method="riemann"`` the paper's right Riemann sum, k = 1..steps, weights 1/steps.
    Inputs: ``image`` (N, 3, H, W) preprocessed; ``target`` class index, name or callable on the
    logits, or N classes; ``baseline`` x0: ``None`` = zeros of the network input (for a ZooModel
    the mean colour of its normalization: mid-grey for EfficientNet-Lite0), a number, or a tensor
    of the image's shape; ``steps`` >= 1 intervals; ``batch_size`` interpolated images per
    forward/backward pass (each image's path fills its own passes; 8 was the fastest on a 2-core
    CPU, 1.7x faster than 16, see benchmarks/RESULTS.md); ``return_path`` also return an
    :class:`IGPath` (scores and integrand at the nodes, no extra cost; one image only).
    Returns: attributions (N, 3, H, W) on the model's device; their sum approximates
    ``f(x) - f(x0)`` (completeness), the closer the more steps.
    """
    check_image(image, batch=True, model=model)
    steps = check_int(steps, "steps", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    method = check_choice(method, "method", ("trapezoid", "riemann"))
    return_path = check_bool(return_path, "return_path")
    if return_path and image.shape[0] != 1:
        raise ValueError(f"return_path needs one image (1, 3, H, W), got a batch of {image.shape[0]}")
    x0_all = _baseline(image, baseline)
    idx = resolve_for(model, target, image.shape[0])  # head, counts, names, ranges first
    alphas, weights = _ig_nodes(steps, method)
    attributions = []
    with preserved_state(model) as net:
        xs, x0s = model_input(image, net), model_input(x0_all, net)
        for i in range(image.shape[0]):
            t = target if idx is None else idx[i]
            x, x0 = xs[i : i + 1], x0s[i : i + 1]
            attribution, scores, integrand = _ig_path(model, net, x, x0, t, alphas, weights, batch_size)
            attributions.append(attribution)
        if return_path:
            with torch.no_grad():
                ends = [class_score(net(v), t, classes_of(model)) for v in (x0, x)]
    if not return_path:
        return torch.cat(attributions)
    return attributions[0], IGPath(alphas, weights, scores, integrand, float(ends[1] - ends[0]))


def _ig_nodes(steps: int, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """IG's quadrature: nodes ``a_k`` and weights ``w_k`` (float64, the weights sum to 1)."""
    if method == "trapezoid":
        alphas = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
        weights = torch.full((steps + 1,), 1.0 / steps, dtype=torch.float64)
        weights[0] = weights[-1] = 0.5 / steps
    else:
        alphas = torch.arange(1, steps + 1, dtype=torch.float64) / steps
        weights = torch.full((steps,), 1.0 / steps, dtype=torch.float64)
    return alphas, weights


def _ig_path(
    model: nn.Module | ZooModel,
    net: nn.Module,
    x: torch.Tensor,
    x0: torch.Tensor,
    target: Target,
    alphas: torch.Tensor,
    weights: torch.Tensor,
    batch_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """IG of one image ``x`` (1, 3, H, W) against ``x0``: ``batch_size`` path points per pass.

    Returns ``(attribution (1, 3, H, W), scores (n,), integrand (n,))``, the last two float64 CPU."""
    device, classes = x.device, classes_of(model)
    total = None
    scores, integrand = [], []
    for start in range(0, len(alphas), batch_size):
        a = alphas[start : start + batch_size].to(device=device, dtype=x.dtype).view(-1, 1, 1, 1)
        wk = weights[start : start + batch_size].to(device=device, dtype=x.dtype).view(-1, 1, 1, 1)
        xb = (x0 + a * (x - x0)).requires_grad_(True)
        logits = net(xb)
        per_item = torch.stack([class_score(logits[k : k + 1], target, classes) for k in range(len(a))])
        (grad,) = torch.autograd.grad(per_item.sum(), xb)  # items are independent: per-item gradients
        g = (grad * wk).sum(dim=0, keepdim=True)
        total = g if total is None else total + g
        scores.append(per_item.detach().double().cpu())
        integrand.append((grad * (x - x0)).sum(dim=(1, 2, 3)).detach().double().cpu())
    return (x - x0) * total, torch.cat(scores), torch.cat(integrand)


def path_scores(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Target,
    alphas: torch.Tensor,
    baseline: torch.Tensor | float | None = None,
    batch_size: int = 16,
) -> torch.Tensor:
    """The target score along the straight path: ``f(x0 + a (x - x0))`` for each ``a`` of ``alphas``
    (forward passes only). Inputs as :func:`integrated_gradients`; ``alphas`` (n,).
    Returns: (n,) float64 CPU tensor."""
    check_image(image, model=model)
    batch_size = check_int(batch_size, "batch_size", low=1)
    alphas = torch.as_tensor(alphas, dtype=torch.float64).flatten()
    check_finite(alphas, "alphas")
    x0 = _baseline(image, baseline)
    _check_target(model, target)
    out = []
    with preserved_state(model) as net, torch.no_grad():
        x, x0 = model_input(image, net), model_input(x0, net)
        device = x.device
        for start in range(0, len(alphas), batch_size):
            a = alphas[start : start + batch_size].to(device=device, dtype=x.dtype).view(-1, 1, 1, 1)
            logits = net(x0 + a * (x - x0))
            out += [class_score(logits[i : i + 1], target, classes_of(model)) for i in range(len(a))]
    return torch.stack(out).double().cpu()


# --------------------------------------------------------------------------- pixel perturbation


def pixel_perturbation(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: int | str,
    attribution: Any,
    fractions: Any = (0.01, 0.03, 0.1),
    fill: float | str = "black",
) -> torch.Tensor:
    """Srinivas & Fleuret's pixel-perturbation test: remove the least salient pixels first.

    Inputs: ``image`` (1, 3, H, W) preprocessed; ``target`` a class index or name; ``attribution``
    the map that ranks the pixels -- (1, 3, H, W) (reduced by ``max_c |.|``) or (h, w) (resized
    bilinearly), see :func:`lecture_utils.sanity.as_pixel_map`; ``fractions`` the shares of pixels
    removed, each in (0, 1]; ``fill`` what a removed pixel becomes: ``"black"`` (RGB 0 through a
    ZooModel's normalization, 0 for a plain module) or a fill of
    :func:`lecture_utils.occlusion.fill_value` (``"grey"``, ``"mean"``, a number in input space).
    Returns: (n,) CPU tensor, the absolute fractional change of the target score
    ``|f(x') - f(x)| / |f(x)|`` for each fraction (lower = the map's least salient pixels really
    did not matter). Ties in the map are broken by pixel order.
    """
    from .occlusion import fill_value
    from .sanity import as_pixel_map

    check_image(image, model=model)
    idx = one_class(model, target, "pixel_perturbation")
    fr = torch.as_tensor(fractions, dtype=torch.float64).flatten()
    if fr.numel() == 0 or not ((fr > 0) & (fr <= 1)).all():
        raise ValueError(f"fractions must be numbers in (0, 1], got {fractions!r}")
    h, w = image.shape[-2:]
    pixel = as_pixel_map(attribution, (h, w))
    if isinstance(fill, str) and fill == "black":
        if isinstance(model, ZooModel):
            colour = model.normalize(torch.zeros(1, 3, 1, 1, device=model.device)).detach()
        else:
            colour = torch.zeros(1, 3, 1, 1)
    else:
        colour = fill_value(model, image, fill)
    n = h * w
    order = torch.argsort(pixel.flatten(), stable=True)  # least salient first
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n)
    counts = torch.round(fr * n).long().clamp(min=1)
    with preserved_state(model) as net, torch.no_grad():
        x = model_input(image, net)
        device = x.device
        removed = rank.view(1, 1, h, w).to(device) < counts.view(-1, 1, 1, 1).to(device)
        xb = torch.cat([x, torch.where(removed, colour.to(device=device, dtype=x.dtype), x)])
        logits = net(xb)
        if logits.ndim != 2 or idx >= logits.shape[1]:
            raise ValueError(f"class index {idx} out of range for the model's output {tuple(logits.shape)}")
        s = logits[:, idx].double().cpu()
    return (s[1:] - s[0]).abs() / s[0].abs().clamp(min=1e-12)
