"""Feature spaces: embeddings of many images at one layer.

Lecture 00 (a first look at a feature space) and 08 (neighbours, t-SNE). An embedding is the
layer's output, globally average-pooled when it is a feature map.

:func:`layer_means` is the one batched embedding of the package: :func:`embed` (images through a
:class:`ZooModel`'s preprocessing), :func:`lecture_utils.neighbours.module_embed` (ready tensors
for a plain module) and :func:`lecture_utils.optimize.channel_means` (RGB images in [0, 1]) call it.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .checks import check_int
from .hooks import get_layer, run_until
from .models import ZooModel

__all__ = ["embed", "layer_means"]


@torch.no_grad()
def layer_means(
    model: nn.Module | ZooModel,
    inputs: Sequence[Any] | torch.Tensor | np.ndarray,
    layer: str,
    batch_size: int = 32,
    prepare: Callable[[Any], torch.Tensor] | None = None,
) -> torch.Tensor:
    """The spatial mean of ``layer``'s output (flattened when it is not a feature map) for every
    input, ``batch_size`` inputs per forward pass; each pass stops after ``layer``.

    Inputs: ``inputs`` anything sliceable of length N; ``prepare(chunk)`` turns a slice into the
    network's input tensor (B, ...) on the model's device (default: the slice as it is).
    Returns: (N, D) float32 tensor on the CPU. The model is left as it was.
    """
    batch_size = check_int(batch_size, "batch_size", low=1)
    get_layer(model, layer)  # unknown names fail before any work
    if len(inputs) == 0:
        raise ValueError("got no inputs to embed (an empty batch)")
    out = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        x = prepare(chunk) if prepare is not None else chunk
        a = run_until(model, x, layer)[layer]
        out.append((a.mean(dim=(2, 3)) if a.ndim == 4 else a.flatten(1)).float().cpu())
    return torch.cat(out)


def embed(
    model: ZooModel,
    images: np.ndarray | list,
    layer: str = "global_pool",
    batch_size: int = 32,
) -> np.ndarray:
    """Embed images at ``layer``.

    Inputs: ``images`` uint8 array (N, H, W, 3) or a list of PIL/arrays; ``layer`` a layer name.
    Returns: (N, D) float32 array (feature maps are averaged over space).
    """
    if not isinstance(model, ZooModel):
        raise TypeError("embed needs a ZooModel (it preprocesses the images)")
    batch_size = check_int(batch_size, "batch_size", low=1)
    if len(images) == 0:
        raise ValueError("embed got no images")

    def prepare(chunk: Sequence[Any]) -> torch.Tensor:
        return torch.cat([model.preprocess(im) for im in chunk])

    return layer_means(model, images, layer, batch_size, prepare).numpy()
