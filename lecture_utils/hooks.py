"""Hooks, cleanly: record activations/gradients of named layers and restore the model afterwards.

Every method of the course that needs a hook goes through this module, so one tested guarantee
covers them all: after the ``with`` block -- also when an exception was raised inside it -- no
hook remains on any module, every parameter's ``requires_grad``, every module's ``training``
flag and every in-place activation's ``inplace`` flag are as before.

Why ``inplace`` matters: EfficientNet-Lite0 uses ``ReLU6(inplace=True)``. A hook that captures a
tensor which a later in-place op overwrites sees wrong values, and replacing backward rules of
an in-place op breaks autograd. Inside :func:`preserved_state` in-place activations are switched
off (same forward result, one extra buffer) and switched back on at exit.

(captum's ``_utils/gradient.py`` follows the same try/finally discipline.)
"""

from __future__ import annotations

import difflib
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

from .models import ZooModel, as_module

__all__ = [
    "get_layer",
    "layer_names",
    "preserved_state",
    "record",
    "Recording",
    "HookSet",
    "hook_count",
    "model_state",
    "StopForward",
    "stop_after",
    "forward_until_stop",
    "run_until",
    "model_lock",
]

OUTPUT = "output"  # pseudo-layer name: the model's output


class StopForward(Exception):
    """Raised by a forward hook to end the forward pass early, once every layer a method needs has
    run (the rest of the network is skipped); the caller catches it around ``net(x)``."""


def layer_names(model: nn.Module | ZooModel) -> list[str]:
    """All module names of ``model`` (dotted paths as in ``named_modules``), root excluded."""
    return [n for n, _ in as_module(model).named_modules() if n]


def get_layer(model: nn.Module | ZooModel, layer: str | nn.Module) -> nn.Module:
    """The submodule called ``layer`` (or ``layer`` itself if it is a submodule of ``model``).

    Raises ``ValueError`` naming the closest layer names when there is no such layer.
    """
    net = as_module(model)
    if isinstance(layer, nn.Module):
        if any(m is layer for m in net.modules()):
            return layer
        raise ValueError(f"the module {type(layer).__name__} given as layer is not part of this model")
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str) or a module, got {type(layer).__name__}")
    if layer:
        try:
            return net.get_submodule(layer)  # follows the dotted path: no walk over the whole model
        except AttributeError:
            pass
    names = layer_names(net)
    close = difflib.get_close_matches(layer, names, n=5, cutoff=0.4)
    hint = f" Close names: {', '.join(close)}." if close else f" Some names: {', '.join(names[:8])}, ..."
    raise ValueError(f"Unknown layer {layer!r} in {type(net).__name__}.{hint}")


def hook_count(model: nn.Module | ZooModel) -> int:
    """Number of forward/backward hooks on all modules of ``model`` (0 for a clean model)."""
    total = 0
    for m in as_module(model).modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            total += len(getattr(m, attr, {}))
    return total


def model_state(model: nn.Module | ZooModel) -> dict[str, Any]:
    """A snapshot of everything a method must leave unchanged (for tests and asserts)."""
    net = as_module(model)
    return {
        "hooks": hook_count(net),
        "training": {n: m.training for n, m in net.named_modules()},
        "requires_grad": {n: p.requires_grad for n, p in net.named_parameters()},
        "inplace": {n: m.inplace for n, m in net.named_modules() if isinstance(getattr(m, "inplace", None), bool)},
        "forward overrides": sorted(n for n, m in net.named_modules() if "forward" in vars(m)),
    }


_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module | ZooModel) -> threading.RLock:
    """The re-entrant lock of one network (created on first use, dropped with the network).

    :func:`preserved_state` -- and so :func:`record`, ``backprop.relu_rule`` and every method --
    holds it for the whole block: two threads calling methods on one model run one after the
    other, so neither can save the other's frozen ``requires_grad`` flags as "original" (and
    leave them frozen for good) or run with the other's ReLU rule. Re-entrant: a method may nest
    blocks on the same model in one thread. The key is the ``nn.Module`` given (a ``ZooModel``'s
    ``net``); blocks on two different submodules of one network do not exclude each other.
    """
    net = as_module(model)
    with _LOCKS_GUARD:
        lock = _LOCKS.get(net)
        if lock is None:
            lock = _LOCKS[net] = threading.RLock()
    return lock


@contextmanager
def preserved_state(
    model: nn.Module | ZooModel, freeze: bool = True, eval: bool = True, keep_inplace: bool = False
) -> Iterator[nn.Module]:
    """Run a method on ``model`` and restore it afterwards, even after an exception.

    Inside the block: eval mode (``eval=True``), parameters frozen (``freeze=True``: input gradients
    only, faster), in-place activations off (unless ``keep_inplace=True``: safe, and faster, for a
    forward pass without gradients whose intermediate outputs nobody keeps). Yields the ``nn.Module``.
    Cheap (well under a millisecond for EfficientNet-Lite0): only flags that change are written.
    Thread-safe per model: the block holds :func:`model_lock` (other threads wait at its start).
    """
    net = as_module(model)
    with model_lock(net):
        with _flags_preserved(net, freeze, eval, keep_inplace):
            yield net


@contextmanager
def _flags_preserved(net: nn.Module, freeze: bool, eval: bool, keep_inplace: bool) -> Iterator[None]:
    """The body of :func:`preserved_state` (called with the model's lock held)."""
    modules = list(net.modules())
    training = [m.training for m in modules]
    params = list(net.parameters())
    grads = [p.requires_grad for p in params]
    # ``inplace`` is a plain attribute (ReLU, ReLU6, Hardtanh, ...): read it from the instance dict,
    # as getattr on a module without it would go through nn.Module.__getattr__ and raise
    inplace = [m for m in modules if m.__dict__.get("inplace") is True] if not keep_inplace else []
    try:
        if eval and any(training):
            net.eval()
        if freeze:
            for p, flag in zip(params, grads):
                if flag:
                    p.requires_grad_(False)
        for m in inplace:
            m.inplace = False
        yield
    finally:
        for m, flag in zip(modules, training):
            if m.training != flag:
                m.training = flag
        for p, flag in zip(params, grads):
            if p.requires_grad != flag:
                p.requires_grad_(flag)
        for m in inplace:
            m.inplace = True


class HookSet:
    """Handles of registered hooks, all removed by :meth:`remove` (use in ``finally``)."""

    def __init__(self) -> None:
        self.handles: list[torch.utils.hooks.RemovableHandle] = []

    def add(self, handle: torch.utils.hooks.RemovableHandle) -> None:
        self.handles.append(handle)

    def remove(self) -> None:
        while self.handles:
            self.handles.pop().remove()


@dataclass
class Recording:
    """What :func:`record` captured. ``activations[name]``: the layer's output, (N, C, H, W) or
    (N, D); ``gradients[name]``: d(backpropagated quantity)/d(output), same shape (after backward)."""

    activations: dict[str, torch.Tensor] = field(default_factory=dict)
    gradients: dict[str, torch.Tensor] = field(default_factory=dict)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.activations[name]


def _first_tensor(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f"layer output of type {type(output).__name__} is not a tensor")


@contextmanager
def record(
    model: nn.Module | ZooModel,
    layers: str | Iterable[str],
    gradients: bool = False,
    detach: bool = False,
    freeze: bool = True,
    keep_inplace: bool = False,
) -> Iterator[Recording]:
    """Record the outputs (and, with ``gradients=True``, output gradients) of named layers.

    Example::

        with record(model, ["blocks.3", "bn2"], gradients=True) as rec:
            model(x)[0, cls].backward()
        rec.activations["bn2"], rec.gradients["bn2"]

    ``detach=False`` keeps activations in the autograd graph (to build losses from them).
    ``keep_inplace=True`` (with ``detach=True``, for a forward pass without gradients) leaves in-place
    activations on, which is faster; the recorded outputs are then copies, so a later in-place
    operation cannot change them.
    Unknown layer names raise ``ValueError`` before anything is registered. State is restored
    as in :func:`preserved_state`.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("record needs at least one layer name")
    modules = {name: get_layer(model, name) for name in names}  # validate first
    rec = Recording()
    hooks = HookSet()

    def make_hook(name: str) -> Callable:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            out = _first_tensor(output)
            rec.activations[name] = (out.detach().clone() if keep_inplace else out.detach()) if detach else out
            if gradients and out.requires_grad:

                def save_grad(grad: torch.Tensor) -> None:
                    rec.gradients[name] = grad.detach()

                out.register_hook(save_grad)

        return hook

    if keep_inplace and (gradients or not detach):
        raise ValueError("keep_inplace=True is for detached recordings without gradients (detach=True)")
    with preserved_state(model, freeze=freeze, keep_inplace=keep_inplace):
        try:
            for name, module in modules.items():
                hooks.add(module.register_forward_hook(make_hook(name)))
            yield rec
        finally:
            hooks.remove()


@contextmanager
def stop_after(model: nn.Module | ZooModel, layers: str | Iterable[str], seen: Any) -> Iterator[None]:
    """Inside the block a forward pass ends (``StopForward``) as soon as every one of ``layers`` is a
    key of ``seen`` (e.g. ``rec.activations`` of an enclosing :func:`record`): the rest of the
    network is skipped. Enter it *after* ``record`` so its hooks run after the capture. Catch the
    exception with :func:`forward_until_stop`. The hooks are removed at exit, also after an error.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    modules = [get_layer(model, n) for n in names]  # validate before registering anything
    hooks = HookSet()

    def stop(*_: Any) -> None:
        if all(n in seen for n in names):
            raise StopForward

    try:
        for module in modules:
            hooks.add(module.register_forward_hook(stop))
        yield
    finally:
        hooks.remove()


def forward_until_stop(net: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """``net(x)``; ``None`` when a hook ended the pass early with ``StopForward``."""
    try:
        return net(x)
    except StopForward:
        return None


def run_until(
    model: nn.Module | ZooModel, x: torch.Tensor, layers: str | Iterable[str], detach: bool = True, freeze: bool = True
) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``x`` only as far as needed and return the outputs of ``layers``.

    The one implementation of "run the network up to a layer". ``x`` goes to the module as it is
    (a ``ZooModel``'s *preprocessed* input). ``detach=False`` keeps the outputs in the autograd
    graph (for losses). Returns ``{name: output}`` for every name in ``layers``; state is restored
    as in :func:`preserved_state`.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    with record(model, names, detach=detach, freeze=freeze) as rec, stop_after(model, names, rec.activations):
        forward_until_stop(as_module(model), x)
    return {n: rec.activations[n] for n in names}
