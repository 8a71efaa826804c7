"""Class targets: an index, a class name, or a callable, resolved the same way by every method."""

from __future__ import annotations

import difflib
import numbers
from typing import Callable

import torch

__all__ = ["Target", "resolve_class", "class_score", "check_image"]

Target = int | str | Callable[[torch.Tensor], torch.Tensor]


def resolve_class(target: int | str, classes: list[str] | None, n_classes: int | None = None) -> int:
    """Class index from an index or a (case-insensitive) class name.

    Raises ``ValueError`` for an index out of range or an unknown name (listing close names).
    """
    n = len(classes) if classes is not None else n_classes
    if isinstance(target, bool):
        raise TypeError("a class target must be an int index or a class name, not a bool")
    if isinstance(target, numbers.Integral):
        idx = int(target)
        if n is not None and not 0 <= idx < n:
            raise ValueError(f"class index {idx} out of range: the model has {n} classes (0..{n - 1})")
        return idx
    if isinstance(target, str):
        if classes is None:
            raise ValueError(f"cannot resolve class name {target!r}: this model has no class names")
        lower = [c.lower() for c in classes]
        if target.lower() in lower:
            return lower.index(target.lower())
        close = difflib.get_close_matches(target.lower(), lower, n=5, cutoff=0.6)
        hint = f" Close names: {', '.join(classes[lower.index(c)] for c in close)}." if close else ""
        raise ValueError(f"Unknown class name {target!r}.{hint}")
    raise TypeError(f"a class target must be an int index or a class name, got {type(target).__name__}")


def class_score(logits: torch.Tensor, target: Target, classes: list[str] | None = None) -> torch.Tensor:
    """The scalar to differentiate: ``sum_n logits[n, target]`` or ``target(logits)`` if callable.

    Inputs: ``logits`` (N, K). Returns: a 0-dim tensor.
    """
    if logits.ndim != 2:
        raise ValueError(f"expected logits of shape (N, K), got {tuple(logits.shape)}")
    if callable(target):
        out = target(logits)
        if out.ndim != 0:
            out = out.sum()
        return out
    idx = resolve_class(target, classes, n_classes=logits.shape[1])
    return logits[:, idx].sum()


def check_image(image: torch.Tensor, name: str = "image", batch: bool = False) -> torch.Tensor:
    """Validate a preprocessed image tensor: (1, 3, H, W) (or (N, 3, H, W) with ``batch=True``)."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be a preprocessed tensor of shape (1, 3, H, W), got {type(image).__name__}")
    if image.ndim != 4 or image.shape[1] != 3 or (not batch and image.shape[0] != 1):
        want = "(N, 3, H, W)" if batch else "(1, 3, H, W)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(image.shape)}; use zoo.preprocess(img)")
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got {image.dtype}")
    if image.shape[-1] < 8 or image.shape[-2] < 8:
        raise ValueError(f"{name} is only {image.shape[-2]}x{image.shape[-1]} pixels; at least 8x8 needed")
    return image
