"""Feature spaces: embeddings of many images at one layer.

Lecture 00 (a first look at a feature space) and 08 (neighbours, t-SNE). An embedding is the
layer's output, globally average-pooled when it is a feature map.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .hooks import record
from .models import ZooModel, as_module

__all__ = ["embed"]


@torch.no_grad()
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
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(images) == 0:
        raise ValueError("embed got no images")
    net: nn.Module = as_module(model)
    out = []
    with record(net, layer, detach=True) as rec:
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            x = torch.cat([model.preprocess(im) for im in chunk])
            net(x)
            a = rec.activations[layer]
            out.append((a.mean(dim=(2, 3)) if a.ndim == 4 else a.flatten(1)).cpu().numpy())
    return np.concatenate(out).astype(np.float32)
