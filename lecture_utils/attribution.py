"""Gradient-based attribution: how the class score changes with each input pixel.

Lecture 00 (a first look) and 11 (saliency maps; Simonyan, Vedaldi & Zisserman 2014,
"Deep Inside Convolutional Networks"). Every method has the signature
``method(model, image, target, ...) -> map`` with ``image`` a preprocessed (1, 3, H, W) tensor
and ``target`` a class index or name.
"""

from __future__ import annotations

import torch
from torch import nn

from .hooks import preserved_state
from .models import ZooModel
from .targets import Target, check_image, class_score

__all__ = ["input_gradient", "saliency", "classes_of"]


def classes_of(model: nn.Module | ZooModel) -> list[str] | None:
    return model.classes if isinstance(model, ZooModel) else None


def input_gradient(model: nn.Module | ZooModel, image: torch.Tensor, target: Target) -> torch.Tensor:
    """d score_target / d image.

    Inputs: ``image`` (1, 3, H, W) preprocessed; ``target`` class index, name or callable on logits.
    Returns: gradient (1, 3, H, W), same device as the model.
    """
    check_image(image)
    with preserved_state(model) as net:
        device = next(net.parameters()).device
        x = image.detach().to(device).requires_grad_(True)
        score = class_score(net(x), target, classes_of(model))
        (grad,) = torch.autograd.grad(score, x)
    return grad


def saliency(model: nn.Module | ZooModel, image: torch.Tensor, target: Target) -> torch.Tensor:
    """Simonyan et al.'s image-specific class saliency: ``max_c |d S_target / d I_c|``.

    Returns: map (H, W), non-negative.
    """
    return input_gradient(model, image, target).abs().amax(dim=1)[0]
