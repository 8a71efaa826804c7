"""Style transfer for a batch of images at once, with every loss term traced (lecture 18).

Lecture 18 («Перенос стиля»): L. Gatys, A. Ecker, M. Bethge 2015, "A Neural Algorithm of Artistic
Style" (arXiv 1508.06576; CVPR 2016: "Image Style Transfer Using Convolutional Neural Networks").
The loss of image ``x`` is a linear combination ``alpha * L_content(x) + beta * L_style(x)`` of a
feature error at one layer and Gram-matrix errors at several layers (relative errors, 0 at a
perfect match; :mod:`lecture_utils.losses`).

The one implementation lives in :mod:`lecture_utils.style`: :func:`style_transfer_batch`
optimizes ``B`` images together, item ``i`` with its own weights ``alpha[i]``, ``beta[i]``, its own
style layers and its own painting, and records the per-item content, style and total losses at
every step (:attr:`BatchStyleResult.history`); ``style.style_transfer`` is the batch of one. The
objective is the *sum* of the items' losses, and VGG19 treats the items of a batch independently,
so each item follows the path it would follow alone, up to rounding (the tests check it). One call
gives the whole grid of the paper's Fig. 3 (on a CPU it costs about B single runs -- batching saves
no arithmetic there; on a GPU a small batch costs little more than one image).

This module keeps the names notebook 18 imports and adds :func:`layer_subsets`.
"""

from __future__ import annotations

from typing import Sequence

from .style import STYLE_LAYERS, BatchStyleResult, ItemLosses, style_transfer_batch

__all__ = ["ItemLosses", "BatchStyleResult", "style_transfer_batch", "layer_subsets"]


def layer_subsets(layers: Sequence[str] = STYLE_LAYERS) -> list[list[str]]:
    """The increasing subsets of the paper's Fig. 3 rows: ``[[l1], [l1, l2], ..., [l1, ..., ln]]``."""
    layers = list(layers)
    return [layers[: k + 1] for k in range(len(layers))]
