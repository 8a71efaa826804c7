"""Gradient-based attribution: how the class score changes with each input pixel.

Lecture 00 (a first look) and 11 (saliency maps; Simonyan, Vedaldi & Zisserman 2014,
"Deep Inside Convolutional Networks"). Every method has the signature
``method(model, image, target, ...) -> map`` with ``image`` a preprocessed (1, 3, H, W) tensor
and ``target`` a class index or name -- or a batch (N, 3, H, W) with one target for all images or
one per image (see :mod:`lecture_utils.targets`): one forward and one backward pass for the batch.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import torch
from torch import nn

from .checks import check_int, check_number
from .hooks import preserved_state
from .models import ZooModel, classes_of
from .targets import Targets, batched_output, check_image, class_score, model_input, resolve_for

__all__ = ["input_gradient", "saliency", "classes_of"]


def input_gradient(model: nn.Module | ZooModel, image: torch.Tensor, target: Targets) -> torch.Tensor:
    """d score_target / d image.

    Inputs: ``image`` (N, 3, H, W) preprocessed; ``target`` class index, name or callable on
    logits, or N classes (one per image).
    Returns: gradient (N, 3, H, W), same device as the model.
    """
    check_image(image, batch=True, model=model)
    resolve_for(model, target, image.shape[0])  # checked before any forward pass
    with preserved_state(model) as net:
        x = model_input(image, net).requires_grad_(True)
        score = class_score(net(x), target, classes_of(model))
        (grad,) = torch.autograd.grad(score, x)
    return grad


def _as_saliency(gradient_method: Callable[..., torch.Tensor], name: str, doc: str) -> Callable[..., torch.Tensor]:
    """The saliency map of a gradient method, ``max_c |gradient_c|`` over the colour channels, as a
    function with the gradient method's arguments (and signature); one image with one target drops
    the batch axis (:func:`lecture_utils.targets.batched_output`)."""

    @functools.wraps(gradient_method)
    def method(
        model: nn.Module | ZooModel, image: torch.Tensor, target: Targets, *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        m = gradient_method(model, image, target, *args, **kwargs).abs().amax(dim=1)
        return m if batched_output(image, target) else m[0]

    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return method


saliency = _as_saliency(
    input_gradient,
    "saliency",
    """Simonyan et al.'s image-specific class saliency: ``max_c |d S_target / d I_c|``.

    Inputs as :func:`input_gradient`. Returns: map (H, W), non-negative; (N, H, W) for a batch
    or per-image targets.
    """,
)


def smooth_grad(
    model: nn.Module | ZooModel,
    image: torch.Tensor,
    target: Targets,
    noise: float = 0.15,
    n_samples: int = 25,
    batch_size: int = 8,
    seed: int = 0,
) -> torch.Tensor:
    """SmoothGrad (Smilkov, Thorat, Kim, Viégas & Wattenberg 2017, "SmoothGrad: removing noise by
    adding noise"; notebook 11): the input gradient averaged over noisy copies of the image,
    ``(1/n) sum_i d S_target / d x (image + N(0, sigma^2))``.

    Inputs: ``image`` (N, 3, H, W) preprocessed; ``target`` class index, name or callable on the
    logits, or N classes; ``noise`` the noise level sigma / (x_max - x_min), a fraction of the
    input's range (the paper finds 0.1-0.2 best), the range taken per image; ``n_samples`` noisy
    copies per image; ``batch_size`` copies per forward/backward pass; ``seed`` for the noise (every
    image of a batch gets the same draws, so a batch gives what the images give one by one).
    Returns: averaged gradient (N, 3, H, W) on the model's device (``noise=0`` gives
    :func:`input_gradient`).
    """
    check_image(image, batch=True, model=model)
    noise = check_number(noise, "noise", low=0, high=10)  # a fraction of the input range
    n_samples = check_int(n_samples, "n_samples", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    idx = resolve_for(model, target, image.shape[0])  # before any forward pass
    generator = torch.Generator().manual_seed(check_int(seed, "seed"))  # private: the global RNG is untouched
    noises = torch.randn((n_samples, *image.shape[1:]), generator=generator)  # the same for any batch_size
    out = []
    with preserved_state(model) as net:
        images = model_input(image, net)
        for i in range(images.shape[0]):  # each image already fills its passes with its noisy copies
            x = images[i : i + 1]
            t = target if idx is None else idx[i]
            sigma = noise * float(x.max() - x.min())
            total = None
            for start in range(0, n_samples, batch_size):
                eps = noises[start : start + batch_size].to(device=x.device, dtype=x.dtype)
                xb = (x + sigma * eps).requires_grad_(True)
                score = class_score(net(xb), t, classes_of(model))  # sum over the copies: per-copy gradients
                (grad,) = torch.autograd.grad(score, xb)
                g = grad.sum(dim=0, keepdim=True)
                total = g if total is None else total + g
            out.append(total / n_samples)
    return torch.cat(out)


smooth_saliency = _as_saliency(
    smooth_grad,
    "smooth_saliency",
    """SmoothGrad shown as a saliency map: ``max_c |smooth_grad_c|``. Inputs as :func:`smooth_grad`.

    Returns: map (H, W), non-negative; (N, H, W) for a batch or per-image targets.
    """,
)


__all__ += ["smooth_grad", "smooth_saliency"]
