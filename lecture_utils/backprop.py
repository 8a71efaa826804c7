"""Backward rules through a ReLU: plain backprop, deconvnet and guided backpropagation.

Lecture sections «Деконволюционная сеть (Deconvnet)» (notebook 02; Zeiler & Fergus 2014,
"Visualizing and Understanding Convolutional Networks") and «Управляемое обратное
распространение (Guided backpropagation)» (notebook 04; Springenberg, Dosovitskiy, Brox &
Riedmiller 2014, "Striving for Simplicity: The All Convolutional Net", Fig. 1).

The three methods differ only in what the backward pass lets through a ReLU. With ``x`` the
ReLU's forward input and ``g`` the gradient arriving from above (for ReLU6 the forward pass is
``min(max(x, 0), 6)``, so its "open" region is ``0 < x < 6``):

==============  ==========================================  =====================================
rule            passes                                      paper
==============  ==========================================  =====================================
``backprop``    ``g * [0 < x < 6]``  (ordinary gradient)     Simonyan et al. 2014 (saliency)
``deconvnet``   ``relu(g)``  (forward mask ignored)          Zeiler & Fergus 2014
``guided``      ``g * [0 < x < 6] * [g > 0]``  (both masks)  Springenberg et al. 2014
==============  ==========================================  =====================================

(for ``nn.ReLU`` the upper bound is infinite). :func:`relu_rule` switches the rule of every
``nn.ReLU``/``nn.ReLU6`` in a model -- including the ``.act`` ReLU6 inside timm's
``BatchNormAct2d`` of EfficientNet-Lite0 -- by giving each of these modules, for the duration of
the ``with`` block, a ``forward`` of its own: a custom ``torch.autograd.Function`` with the same
forward values (the clamp) and the chosen backward rule, built from PyTorch's own activation
backward kernels (``guided`` = the plain ReLU/ReLU6 backward applied to ``relu(g)``). Computing
the forward pass in the function itself, rather than re-routing the module's output through a
forward hook, keeps the rule's cost close to a plain backward pass (``benchmarks/RESULTS.md``).
Everything is undone when the ``with`` block ends, also after an exception.

On a VGG-like network (conv, ReLU, max-pool only) the "deconvnet" rule applied to the whole
backward pass *is* Zeiler & Fergus's deconvnet: autograd's max-pool backward already routes the
signal through the pooling switches, and a convolution's backward is the transposed convolution
with the same filters (see :mod:`lecture_utils.deconvnet`, which writes this out explicitly).
"""

from __future__ import annotations

import inspect
import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import nn

from .checks import check_choice, check_int
from .hooks import forward_until_stop, get_layer, model_lock, preserved_state, record, stop_after
from .models import ZooModel, as_module, classes_of
from .targets import Targets, check_image, class_score, model_input, resolve_for

__all__ = [
    "RULES",
    "RuleSwitch",
    "relu_rule",
    "relu_modules",
    "input_gradient_with_rule",
    "backprop_gradient",
    "deconvnet_backprop",
    "guided_backprop",
    "rgb_gradient",
    "all_rules",
    "relu_rule_table",
]

RULES = ("backprop", "deconvnet", "guided")


def check_rule(rule: str) -> str:
    """Validate a rule name (one of :data:`RULES`): ``TypeError`` for a non-string, ``ValueError``
    for an unknown name."""
    if isinstance(rule, str) and rule not in RULES:
        raise ValueError(f"Unknown rule {rule!r}: rule must be one of {', '.join(map(repr, RULES))}")
    return check_choice(rule, "rule", RULES)


class RuleSwitch:
    """A ReLU rule read at *backward* time: one forward pass, several backward passes with
    different rules (Guided Grad-CAM: plain gradients to the conv layer, then guided ones to the
    input, over the same graph). Pass it to :func:`relu_rule` instead of a rule name and set
    ``switch.rule`` between the backward passes.
    """

    def __init__(self, rule: str) -> None:
        self.rule = check_rule(rule)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "rule":
            check_rule(value)
        super().__setattr__(name, value)


class _RuleReLU(torch.autograd.Function):
    """A ReLU / ReLU6 whose backward pass follows a rule.

    ``apply(x, upper, rule)``: forward ``clamp(x, 0, upper)`` (``upper = inf`` for ReLU), exactly
    the module's output; backward the rule, ``rule`` a rule name or a :class:`RuleSwitch`.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, upper: float, rule: str | RuleSwitch) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.upper = upper
        ctx.rule = rule
        return x.clamp(min=0.0) if math.isinf(upper) else x.clamp(0.0, upper)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        (x,) = ctx.saved_tensors
        rule = ctx.rule.rule if isinstance(ctx.rule, RuleSwitch) else ctx.rule
        if rule == "deconvnet":
            return grad.clamp(min=0), None, None
        if rule == "guided":  # g * [g > 0] * [0 < x < upper]: the plain backward of relu(g)
            grad = grad.clamp(min=0)
        if math.isinf(ctx.upper):
            return torch.ops.aten.threshold_backward(grad, x, 0.0), None, None  # g * [x > 0]
        return torch.ops.aten.hardtanh_backward(grad, x, 0.0, ctx.upper), None, None  # g * [0 < x < upper]


def relu_modules(model: nn.Module | ZooModel) -> list[tuple[str, nn.Module]]:
    """All ``nn.ReLU`` / ``nn.ReLU6`` modules of ``model`` as ``(name, module)`` pairs."""
    return [(n, m) for n, m in as_module(model).named_modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]


def _upper(module: nn.Module) -> float:
    # nn.ReLU6 is a Hardtanh(0, 6); plain ReLU has no upper clip
    return float(module.max_val) if isinstance(module, nn.Hardtanh) else math.inf


@contextmanager
def relu_rule(model: nn.Module | ZooModel, rule: str | RuleSwitch) -> Iterator[nn.Module]:
    """Switch the backward rule of every ReLU/ReLU6 of ``model`` inside the ``with`` block.

    Example::

        with relu_rule(model, "guided") as net:
            x = image.clone().requires_grad_(True)
            net(x)[0, 281].backward()     # x.grad is the guided-backprop map

    ``rule`` is one of ``"backprop"``, ``"deconvnet"``, ``"guided"``, or a :class:`RuleSwitch`
    (the rule is then read when the gradient flows back). Yields the ``nn.Module``
    in eval mode with frozen parameters and in-place activations off (:func:`hooks.preserved_state`);
    no replaced ``forward`` and no changed flag remain afterwards, also after an exception. The
    blocks do not nest (a second ``relu_rule`` on the same model inside the first raises).
    """
    if not isinstance(rule, RuleSwitch):
        check_rule(rule)
    relus = [m for _, m in relu_modules(model)]

    def rule_forward(upper: float) -> Any:
        def forward(x: torch.Tensor) -> torch.Tensor:
            return _RuleReLU.apply(x, upper, rule)

        return forward

    with model_lock(model):  # another thread's rule cannot be seen (or undone) by this block
        for m in relus:
            if "forward" in vars(m):
                raise RuntimeError(f"{type(m).__name__} already has a forward of its own: is relu_rule already active?")
        with preserved_state(model) as net:
            try:
                for m in relus:
                    m.forward = rule_forward(_upper(m))  # an instance attribute shadows the class's forward
                yield net
            finally:
                for m in relus:
                    vars(m).pop("forward", None)


def _check_unit(net: nn.Module, target: Any, layer: str | nn.Module | None, channel: Any) -> str | None:
    """Validate the (target | layer, channel) choice before anything is registered.

    Returns the unit's layer name (``None`` for a class target)."""
    if layer is None and channel is None:
        if target is None:
            raise ValueError("give a class target, or a layer and a channel")
        return None
    if layer is None or channel is None:
        raise ValueError("a unit target needs both layer and channel (got only one of them)")
    if target is not None:
        raise ValueError("give either a class target or a (layer, channel) unit, not both; pass target=None")
    check_int(channel, "channel", low=0)
    module = get_layer(net, layer)
    return next(n for n, m in net.named_modules() if m is module) if isinstance(layer, nn.Module) else layer


def _unit_score(out: torch.Tensor | None, layer: str, channel: int) -> torch.Tensor:
    """The unit of every image, summed: the max over space of ``out[n, channel]`` for a feature map
    (N, C, h, w), the value itself for a vector output (N, C) (a linear layer's unit)."""
    if out is None or out.ndim < 2:
        shape = None if out is None else tuple(out.shape)
        raise ValueError(f"layer {layer!r} gave no (N, C, ...) output to take a channel from (got {shape})")
    if channel >= out.shape[1]:
        raise ValueError(f"channel {channel} out of range: layer {layer!r} has {out.shape[1]} channels")
    unit = out[:, channel]
    return (unit.flatten(1).amax(dim=1) if unit.ndim > 1 else unit).sum()  # images are independent


def input_gradient_with_rule(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Targets | None,
    rule: str,
    layer: str | None = None,
    channel: int | None = None,
) -> torch.Tensor:
    """Gradient of a class score or of a unit w.r.t. the input, with ``rule`` at every ReLU.

    Inputs: ``image`` (N, 3, H, W) preprocessed; ``target`` a class index or name (or a callable
    on the logits), or N classes (one per image) -- or ``None`` when ``layer`` and ``channel`` are
    given: then the quantity differentiated is, per image, the *unit* ``max over space of
    layer_output[n, channel]`` (``layer_output[n, channel]`` for a layer with vector output, such
    as a classifier); the forward pass stops after ``layer``. ``rule`` one of
    ``"backprop"``, ``"deconvnet"``, ``"guided"``. One forward and one backward pass for the batch.
    Returns: gradient (N, 3, H, W) on the model's device (w.r.t. the preprocessed input).
    """
    check_image(image, batch=True, model=model)
    check_rule(rule)
    net = as_module(model)
    unit_layer = _check_unit(net, target, layer, channel)
    if unit_layer is None:
        resolve_for(model, target, image.shape[0])  # counts, names and ranges before any hook
    with relu_rule(model, rule):
        x = model_input(image, net).requires_grad_(True)
        if unit_layer is None:
            score = class_score(net(x), target, classes_of(model))
        else:  # the layer's recorded output is that of the rule's forward
            with record(model, unit_layer) as rec, stop_after(model, unit_layer, rec.activations):
                forward_until_stop(net, x)
            score = _unit_score(rec.activations.get(unit_layer), unit_layer, int(channel))
        if not score.requires_grad:
            raise ValueError("the target does not depend on the input")
        (grad,) = torch.autograd.grad(score, x)
    return grad


def _rule_method(rule: str, name: str, doc: str) -> Callable[..., torch.Tensor]:
    """One public function per rule of :data:`RULES`: :func:`input_gradient_with_rule` with ``rule`` fixed.

    Its signature is that of :func:`input_gradient_with_rule` without ``rule``: ``(model, image,
    target, layer=None, channel=None)``; ``layer`` and ``channel`` may be passed by position.
    """
    full = inspect.signature(input_gradient_with_rule)

    def method(
        model: nn.Module | ZooModel, image: torch.Tensor, target: Targets | None, *args: Any, **kw: Any
    ) -> torch.Tensor:
        return input_gradient_with_rule(model, image, target, rule, *args, **kw)

    method.__signature__ = full.replace(parameters=[p for n, p in full.parameters.items() if n != "rule"])
    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return method


backprop_gradient = _rule_method(
    "backprop",
    "backprop_gradient",
    """Plain gradient (the saliency of Simonyan et al.). Same inputs/returns as :func:`guided_backprop`.""",
)

deconvnet_backprop = _rule_method(
    "deconvnet",
    "deconvnet_backprop",
    """Zeiler & Fergus's deconvnet as a backward rule: ``relu`` of the signal at every ReLU.

    On VGG19 this equals the explicit deconvnet of :func:`lecture_utils.deconvnet.deconvnet_projection`
    (up to the unit's activation as a factor). Same inputs/returns as :func:`guided_backprop`.
    """,
)

guided_backprop = _rule_method(
    "guided",
    "guided_backprop",
    """Guided backpropagation (Springenberg et al. 2014).

    Inputs: ``image`` (N, 3, H, W) preprocessed; ``target`` a class index or name (via
    ``targets.class_score``) or N of them, or ``None`` together with ``layer`` and ``channel``:
    then the gradient is that of the channel's activation (max over space of ``layer``'s output
    channel).
    Returns: (N, 3, H, W) gradient w.r.t. the preprocessed input with the guided ReLU rule.
    """,
)


def rgb_gradient(model: nn.Module | ZooModel, grad: torch.Tensor) -> torch.Tensor:
    """Turn a gradient w.r.t. the *preprocessed* input into one w.r.t. the RGB image in [0, 1].

    Applies the chain rule through ``model.normalize`` (VGG19: BGR order, x255; EfficientNet: x2),
    so the channels are R, G, B for display. A plain ``nn.Module`` has no normalization: returned as is.
    Inputs/Returns: (N, 3, H, W).
    """
    if not isinstance(model, ZooModel):
        return grad
    norm = model.normalize
    rgb = torch.zeros_like(grad, requires_grad=True)  # normalize is affine: any point gives the same map
    with torch.enable_grad():
        (out,) = torch.autograd.grad(norm(rgb), rgb, grad_outputs=grad.detach())
    return out


def all_rules(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Targets | None,
    layer: str | None = None,
    channel: int | None = None,
    rgb: bool = True,
) -> dict[str, torch.Tensor]:
    """The input gradient under each rule of :data:`RULES`, for the same target.

    Inputs as in :func:`input_gradient_with_rule`; ``rgb=True`` converts each map to RGB image
    space (:func:`rgb_gradient`) for display. Returns: ``{rule: (1, 3, H, W)}``.
    """
    out = {}
    for rule in RULES:
        g = input_gradient_with_rule(model, image, target, rule, layer=layer, channel=channel)
        out[rule] = rgb_gradient(model, g) if rgb else g
    return out


def relu_rule_table(
    forward_input: torch.Tensor, upstream: torch.Tensor, activation: str = "relu"
) -> dict[str, torch.Tensor]:
    """Springenberg et al.'s Fig. 1 (b-c), computed: what each rule passes back through one
    activation, for a forward input and the gradient arriving from above (same shape, any).

    ``activation`` ``"relu"`` or ``"relu6"``. Runs the real :func:`relu_rule` machinery on a
    one-module network. Returns: ``{"forward input", "forward output", "gradient from above",
    "backprop", "deconvnet", "guided"}`` -> tensors of the input's shape.
    """
    check_choice(activation, "activation", ("relu", "relu6"))
    if forward_input.shape != upstream.shape:
        raise ValueError(f"shapes differ: forward input {tuple(forward_input.shape)}, upstream {tuple(upstream.shape)}")
    net = nn.Sequential(nn.ReLU() if activation == "relu" else nn.ReLU6())
    table = {
        "forward input": forward_input.detach().clone(),
        "forward output": net(forward_input.detach()),
        "gradient from above": upstream.detach().clone(),
    }
    for rule in RULES:
        with relu_rule(net, rule):
            x = forward_input.detach().clone().float().requires_grad_(True)
            (g,) = torch.autograd.grad((net(x) * upstream).sum(), x)
        table[rule] = g
    return table
