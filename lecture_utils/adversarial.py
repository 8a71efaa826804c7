"""Fooling images: the fast gradient sign method (Goodfellow, Shlens & Szegedy 2015).

Lecture 00: a change too small to see flips the prediction, because the network is locally
almost linear in its input. The step is taken in RGB pixel space [0, 1], so ``epsilon`` is in
units of pixel intensity (``2/255`` = two grey levels).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_number
from .hooks import preserved_state
from .models import ZooModel
from .targets import Target, check_class_target, check_image, model_input, resolve_class

__all__ = ["fgsm"]


def fgsm(model: ZooModel, image: torch.Tensor, target: Target, epsilon: float = 2 / 255) -> torch.Tensor:
    """One signed-gradient step that increases the cross-entropy of class ``target``.

    Inputs: ``model`` a :class:`ZooModel` (its ``normalize`` maps RGB to the input);
    ``image`` (1, 3, H, W) preprocessed; ``target`` the class to move away from (index or name);
    ``epsilon`` the L-infinity size of the change in [0, 1] pixel units, 0 < epsilon <= 1.
    Returns: the adversarial image, preprocessed like ``image``, (1, 3, H, W).
    """
    if not isinstance(model, ZooModel):
        raise TypeError("fgsm needs a ZooModel (it steps in RGB pixel space through model.normalize)")
    check_image(image, model=model)
    epsilon = check_number(epsilon, "epsilon", low=0, strict_low=True, high=1)  # pixel units
    check_class_target(model, target)
    idx = resolve_class(target, model.classes)
    with preserved_state(model) as net:
        rgb = model.normalize.inverse(model_input(image, net)).clamp(0, 1).requires_grad_(True)
        loss = F.cross_entropy(net(model.normalize(rgb)), torch.tensor([idx], device=rgb.device))
        (grad,) = torch.autograd.grad(loss, rgb)
        adv = (rgb + epsilon * grad.sign()).clamp(0, 1)
        return model.normalize(adv).detach()
