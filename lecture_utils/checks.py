"""Argument checks with one policy, used by every module of the package.

Policy
------
- A value of the wrong *type* raises ``TypeError``; a value of the right type but outside what is
  allowed (range, choice, shape, NaN/inf) raises ``ValueError``.
- Every message names the argument, says what it got and what it expects, and -- where it helps --
  what to do: ``"steps must be an integer >= 1, got 0"``.
- ``bool`` is never accepted where a number is expected (``True`` is an ``int`` in Python, but
  ``steps=True`` is always a mistake).
- Checks return the value converted to the plain Python type (``int``, ``float``, ``str``), so a
  caller writes ``steps = check_int(steps, "steps", low=1)``.

Tensors: :func:`check_finite` refuses NaN and inf (one bad pixel turns a gradient map into zeros
or NaNs without a word otherwise); :func:`device_of` is the one place that asks a module where its
parameters live.
"""

from __future__ import annotations

import math
import numbers
import random
from contextlib import contextmanager
from typing import Any, Collection, Iterable, Iterator

import numpy as np
import torch
from torch import nn

__all__ = [
    "check_int",
    "check_number",
    "check_positive",
    "check_non_negative",
    "check_bool",
    "check_choice",
    "check_finite",
    "device_of",
    "seeded",
    "random_state",
]


def _range_text(low: float | None, high: float | None, strict_low: bool = False) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if strict_low else '>='} {low}")
    if high is not None:
        parts.append(f"<= {high}")
    return " and ".join(parts)


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound optional).

    Accepts Python and NumPy integers (and 0-dim integer tensors); refuses bools and floats
    (``TypeError``) and values out of range (``ValueError``).
    """
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point():
        value = value.item()
    want = "an integer" + (f" {_range_text(low, high)}" if low is not None or high is not None else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {want}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {want}, got {value}")
    return value


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    strict_low: bool = False,
) -> float:
    """``value`` as a finite ``float`` in the range (``strict_low``: ``> low`` instead of ``>= low``).

    NaN and inf are refused (``ValueError``): ``not v >= 0`` lets inf through, this does not.
    """
    if isinstance(value, torch.Tensor) and value.ndim == 0:
        value = value.item()
    rng = _range_text(low, high, strict_low)
    want = "a finite number" + (f" {rng}" if rng else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {want}, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {want}, got {value}")
    too_low = low is not None and (value <= low if strict_low else value < low)
    if too_low or (high is not None and value > high):
        raise ValueError(f"{name} must be {want}, got {value:g}")
    return value


def check_positive(value: Any, name: str) -> float:
    """A finite number ``> 0`` (learning rates, sigmas, sizes in units)."""
    return check_number(value, name, low=0.0, strict_low=True)


def check_non_negative(value: Any, name: str) -> float:
    """A finite number ``>= 0`` (loss weights, regularization strengths)."""
    return check_number(value, name, low=0.0)


def check_bool(value: Any, name: str) -> bool:
    """A real ``bool`` (not ``0`` / ``1`` / ``"yes"``)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_choice(value: Any, name: str, choices: Collection[str]) -> str:
    """One of ``choices`` (strings); the message lists them."""
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}, got {value!r} ({type(value).__name__})")
    if value not in choices:
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_finite(t: torch.Tensor, name: str, hint: str = "") -> torch.Tensor:
    """Refuse a tensor with NaN or inf entries (``ValueError`` with their count and first position).

    A single NaN pixel makes a saliency map all zeros and a Grad-CAM map NaN without an error;
    this check turns that into a message. ``hint`` is appended (what to do).
    """
    if t.is_floating_point() or t.is_complex():
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            n = int(bad.sum())
            first = tuple(int(i) for i in bad.nonzero()[0].tolist())
            kinds = []
            if bool(torch.isnan(t).any()):
                kinds.append("NaN")
            if bool(torch.isinf(t).any()):
                kinds.append("inf")
            extra = f"; {hint}" if hint else ""
            raise ValueError(
                f"{name} has {n} non-finite value(s) ({'/'.join(kinds)}, first at index {first}): "
                f"expected finite numbers{extra}"
            )
    return t


def device_of(module: nn.Module | Any) -> torch.device:
    """The device of a module's first parameter (or buffer); CPU for a module without either.
    A ``ZooModel`` (anything with an ``nn.Module`` in ``.net``) gives its network's device.

    The one place that asks this (``next(net.parameters()).device`` was written 37 times).
    """
    net = getattr(module, "net", module)
    if not isinstance(net, nn.Module):
        raise TypeError(f"model must be an nn.Module or a ZooModel, got {type(module).__name__}")
    for p in net.parameters():
        return p.device
    for b in net.buffers():
        return b.device
    return torch.device("cpu")


@contextmanager
def seeded(seed: int | None, devices: Iterable[torch.device | str] = ()) -> Iterator[None]:
    """Inside the block the global torch, NumPy and Python ``random`` generators start from ``seed``;
    at exit -- also after an exception -- all three are exactly as before the block.

    For functions that draw random numbers (``render``, ``deepdream``, trainers): the same ``seed``
    gives the same result, and the caller's random state is left as it was found
    (``torch.initial_seed()`` included). ``seed=None``: no reseeding, the draws just do not leak out.
    ``devices``: CUDA devices whose generators are forked too (CPU ones are ignored; the CPU
    generator is always forked).
    """
    if seed is not None:
        seed = check_int(seed, "seed", low=0, high=2**32 - 1)
    cuda = sorted({torch.device(d).index or 0 for d in devices if torch.device(d).type == "cuda"})
    py_state = random.getstate()
    np_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=cuda):
            if seed is not None:
                torch.manual_seed(seed)
                np.random.seed(seed)
                random.seed(seed)
            yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def random_state() -> tuple[Any, ...]:
    """A snapshot of the global torch (CPU), NumPy and Python ``random`` states, comparable with ``==``
    (for tests: ``before = random_state(); f(); assert random_state() == before``)."""
    return (
        torch.initial_seed(),
        tuple(torch.get_rng_state().tolist()),
        np.random.get_state()[1].tobytes() + repr(np.random.get_state()[2:]).encode(),
        random.getstate(),
    )


# --------------------------------------------------------------------------- image tensors

MIN_IMAGE_SIDE = 8  # smaller images carry no usable content for a CNN (as ``images.MIN_SIDE``)


def check_image_tensor(image: Any, name: str = "image", batch: bool = False) -> torch.Tensor:
    """The model-independent checks of a preprocessed image tensor, in the order a user meets them.

    A ``torch.Tensor`` (else ``TypeError``) with data (not on the ``meta`` device), of shape
    (1, 3, H, W) -- or (N, 3, H, W), N >= 1, with ``batch=True`` --, floating point, at least
    8 x 8 pixels, without NaN or inf (each a ``ValueError`` naming ``name`` and what to do).
    Returns ``image`` unchanged. The range check against a model's input convention is
    :meth:`lecture_utils.models.ZooModel.check_range` (called by ``targets.check_image``).
    """
    want = "(N, 3, H, W)" if batch else "(1, 3, H, W)"
    if not isinstance(image, torch.Tensor):
        raise TypeError(
            f"{name} must be a preprocessed tensor of shape {want}, got {type(image).__name__}; use zoo.preprocess(img)"
        )
    if image.device.type == "meta":
        raise ValueError(
            f"{name} is on the 'meta' device: a tensor with a shape but no values; create it on 'cpu' "
            "or the model's device (zoo.preprocess(img) does)"
        )
    if image.ndim != 4 or image.shape[1] != 3 or (not batch and image.shape[0] != 1):
        raise ValueError(f"{name} must have shape {want}, got {tuple(image.shape)}; use zoo.preprocess(img)")
    if image.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch {tuple(image.shape)}: give at least one image")
    if not image.is_floating_point():
        raise ValueError(
            f"{name} must be a float tensor, got {image.dtype}; use zoo.preprocess(img), which scales "
            "uint8 pixels to [0, 1] and normalizes them"
        )
    if image.shape[-1] < MIN_IMAGE_SIDE or image.shape[-2] < MIN_IMAGE_SIDE:
        raise ValueError(
            f"{name} is only {image.shape[-2]}x{image.shape[-1]} pixels; at least "
            f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} needed"
        )
    check_finite(image.detach(), name, hint="one NaN pixel turns every score and map into NaN (or zeros)")
    return image


def memory_text(n_bytes: float) -> str:
    """``1.2 GB`` / ``350 MB`` / ``12 kB``: a size for a message."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{int(n_bytes)} bytes"


__all__ += ["check_image_tensor", "memory_text", "MIN_IMAGE_SIDE"]
