"""Class targets: an index, a class name, or a callable, resolved the same way by every method.

Every attribution method takes ``target``: one class (index or name) or a callable on the logits
for all images, or -- for a batch (N, 3, H, W) -- a sequence (list, tuple, 1-D integer tensor) of
N classes, one per image (:data:`Targets`). A method's map keeps the batch axis when the input is
a batch of N > 1 images *or* the targets are given per image, so code that passes a list always
gets (N, ...) back, also for N = 1; one image with one target gives the map without it, as
throughout the notebooks.
"""

from __future__ import annotations

import difflib
import numbers
from typing import Callable, Sequence

import torch
from torch import nn

from .checks import check_image_tensor, device_of
from .models import ZooModel, classes_of

__all__ = [
    "Target",
    "Targets",
    "resolve_class",
    "resolve_targets",
    "per_image",
    "batched_output",
    "class_score",
    "check_image",
    "check_class_target",
    "resolve_for",
    "one_class",
    "model_input",
]

Target = int | str | Callable[[torch.Tensor], torch.Tensor]
Targets = Target | Sequence[int | str] | torch.Tensor  # one target for all images, or one per image


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


def per_image(target: object) -> bool:
    """True when ``target`` gives one class per image (a list, a tuple or a 1-D tensor)."""
    return isinstance(target, (list, tuple)) or (isinstance(target, torch.Tensor) and target.ndim == 1)


def resolve_targets(
    target: Targets, n_images: int, classes: list[str] | None, n_classes: int | None = None
) -> list[int] | None:
    """One class index per image, or ``None`` for a callable target (it sees the whole logits).

    ``target`` one class for all ``n_images`` images, or a sequence of exactly ``n_images`` classes.
    Raises ``ValueError`` naming the wrong count, index or name, ``TypeError`` for a wrong type;
    call it before any hook is registered.
    """
    if per_image(target):
        if isinstance(target, torch.Tensor):
            if target.is_floating_point() or target.dtype == torch.bool:
                raise TypeError(f"a tensor of targets must hold integer class indices, got {target.dtype}")
            items: list = target.tolist()
        else:
            items = list(target)
        if len(items) != n_images:
            raise ValueError(
                f"got {len(items)} targets for {n_images} image(s): give one class per image, or one class for all"
            )
        return [resolve_class(t, classes, n_classes) for t in items]
    if callable(target):
        return None
    if isinstance(target, torch.Tensor):
        raise TypeError(f"a tensor of targets must be 1-D (one class per image), got shape {tuple(target.shape)}")
    return [resolve_class(target, classes, n_classes)] * n_images


def batched_output(image: torch.Tensor, target: object) -> bool:
    """Whether a method's map keeps the batch axis: N > 1 images, or targets given per image."""
    return image.shape[0] > 1 or per_image(target)


def class_score(logits: torch.Tensor, target: Targets, classes: list[str] | None = None) -> torch.Tensor:
    """The scalar to differentiate: ``sum_n logits[n, target_n]`` or ``target(logits)`` if callable.

    Images are independent in eval mode, so the gradient of this sum w.r.t. image ``n`` is the
    gradient of its own score. Inputs: ``logits`` (N, K); ``target`` one class, N classes or a
    callable. Returns: a 0-dim tensor.
    """
    if logits.ndim != 2:
        raise ValueError(f"expected logits of shape (N, K), got {tuple(logits.shape)}")
    if callable(target) and not per_image(target):
        out = target(logits)
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"a callable target must return the score as a tensor built from the logits, got "
                f"{type(out).__name__} {out!r}; e.g. lambda z: z[:, 281] (no float(...) / .item(): "
                "a Python number has no gradient)"
            )
        if out.ndim != 0:
            out = out.sum()
        return out
    idx = resolve_targets(target, logits.shape[0], classes, n_classes=logits.shape[1])
    if len(set(idx)) == 1:
        return logits[:, idx[0]].sum()
    return logits.gather(1, torch.tensor(idx, device=logits.device)[:, None]).sum()


def check_image(
    image: torch.Tensor, name: str = "image", batch: bool = False, model: nn.Module | ZooModel | None = None
) -> torch.Tensor:
    """Validate a preprocessed image tensor: (1, 3, H, W) (or (N, 3, H, W), N >= 1, with ``batch=True``).

    The one entrance check of every method: a float tensor with data, at least 8 x 8 pixels,
    no NaN or inf (:func:`lecture_utils.checks.check_image_tensor`); with a :class:`ZooModel`
    given as ``model`` also its input range (raw 0-255 pixels: "did you forget zoo.preprocess?",
    :meth:`ZooModel.check_range`). A plain module has no known input convention: no range check.
    ``TypeError`` for a non-tensor, ``ValueError`` for the rest. Returns ``image`` unchanged.
    """
    check_image_tensor(image, name, batch)
    if isinstance(model, ZooModel):
        model.check_range(image, name)
    return image


def model_input(image: torch.Tensor, model: nn.Module | ZooModel) -> torch.Tensor:
    """``image`` detached, on the model's device and in its floating dtype.

    The dtype policy: a float64 or float16 image is converted to the dtype of the model's
    parameters (float32 for the course's models), so results come back in that dtype; the
    numbers are those of the float32 image.
    """
    net = model.net if isinstance(model, ZooModel) else model
    dtype = next((p.dtype for p in net.parameters() if p.is_floating_point()), image.dtype)
    return image.detach().to(device=device_of(net), dtype=dtype)


def check_class_target(model: nn.Module | ZooModel, target: object) -> None:
    """Refuse a class target (index, name or list of them) for a :class:`ZooModel` without a
    classification head (VGG19's conv part): its output is a feature map, not class scores."""
    if isinstance(model, ZooModel) and model.classes is None and (per_image(target) or not callable(target)):
        raise ValueError(
            f"{model.name} has no classification head: its output is a feature map, not class scores, so "
            f"the class target {target!r} names nothing. Use load_model('efficientnet_lite0') for classes, or "
            "a unit (layer=..., channel=...) where the method takes one"
        )


def resolve_for(
    model: nn.Module | ZooModel, target: Targets, n_images: int, n_classes: int | None = None
) -> list[int] | None:
    """:func:`resolve_targets` with the model's class names, after :func:`check_class_target`."""
    check_class_target(model, target)
    return resolve_targets(target, n_images, classes_of(model), n_classes)


def one_class(model: nn.Module | ZooModel, target: object, method: str) -> int:
    """The class index of a method that scores one class (an index or a name, no callable):
    ``TypeError`` naming ``method`` for a callable, then :func:`check_class_target` and
    :func:`resolve_class` with the model's class names."""
    if callable(target) and not isinstance(target, (int, str)):
        raise TypeError(f"{method} needs one class (an index or a name), not a callable")
    check_class_target(model, target)
    return resolve_class(target, classes_of(model))
