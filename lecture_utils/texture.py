"""What a texture representation keeps and what it throws away (lecture 16).

Lecture section 16 «Синтез текстур» (texture synthesis). Paper: L. A. Gatys, A. S. Ecker,
M. Bethge (2015), "Texture Synthesis Using Convolutional Neural Networks", NeurIPS.

The Gram-matrix loss, its targets and the synthesis itself live in :mod:`lecture_utils.style`
(``gram_matrix``, ``style_targets``, ``style_loss``, ``style_distance``, ``synthesize_texture``).
This module adds what the lecture compares them with and what it measures:

- the *simpler* spatially invariant statistic -- only the mean of every channel over all positions
  (:func:`spatial_means`, :func:`mean_targets`, :func:`mean_loss`, :func:`mean_distance`) -- and a
  synthesis that matches only those means (:func:`synthesize`, ``statistic="mean"``); both
  statistics forget *where* a feature was, but the means also forget *which features occur together*;
- position shuffles: :func:`shuffle_positions` permutes the positions of a feature map (the Gram
  matrix does not change at all), :func:`tile_shuffle` permutes square tiles of an image (the Gram
  matrices of a CNN change only a little, through the tile borders);
- :func:`representation_sizes`: how many numbers each representation has (C per layer for the
  means, C(C+1)/2 for a symmetric Gram matrix) compared with the number of pixel values;
- :func:`load_texture`: the lecture's sample textures (scikit-image's bundled gravel, brick and grass,
  cat fur cropped from ``chelsea``, a detail of Van Gogh's *Starry Night*), all offline.

Images handed in are *preprocessed* tensors (1, 3, H, W) (``model.preprocess``); images handed out
are RGB arrays (H, W, 3) in [0, 1]. Losses are *relative* errors (0 at a match, 1 for all-zero
features), as in :mod:`lecture_utils.style`.
"""

from __future__ import annotations

import difflib
from typing import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from . import losses
from .checks import check_choice, check_int, check_non_negative, check_positive
from .models import ZooModel
from .optimize import INPUT, Objective, PixelImage, render
from .style import (
    STYLE_LAYERS,
    StyleResult,
    check_count,
    check_image_size,
    check_layers,
    check_vgg,
    features,
    loss_values,
    style_loss,
    style_targets,
)
from .targets import check_image

__all__ = [
    "TEXTURES",
    "STATISTICS",
    "load_texture",
    "spatial_means",
    "mean_targets",
    "mean_loss",
    "mean_distance",
    "gram_distances",
    "synthesize",
    "shuffle_positions",
    "tile_shuffle",
    "representation_sizes",
]

# name -> (where it comes from, crop box (left, top, right, bottom) in the source's pixels or None)
TEXTURES: dict[str, tuple[str, tuple[int, int, int, int] | None]] = {
    "gravel": ("skimage:gravel", (0, 0, 256, 256)),
    "brick": ("skimage:brick", (0, 0, 256, 256)),
    "grass": ("skimage:grass", (0, 0, 256, 256)),
    "cat fur": ("chelsea", (195, 0, 305, 110)),
    "starry night": ("vangogh_starry_night", (330, 90, 650, 410)),
}

STATISTICS = ("gram", "mean")


def load_texture(name: str) -> Image.Image:
    """One of the lecture's sample textures (:data:`TEXTURES`) as a square RGB ``PIL.Image``.

    gravel, brick and grass are grey photographs bundled with scikit-image (no download);
    "cat fur" and "starry night" are crops of the course's sample images.
    """
    if name not in TEXTURES:
        close = difflib.get_close_matches(str(name), list(TEXTURES), n=2, cutoff=0.4)
        hint = f" Did you mean {' / '.join(close)}?" if close else ""
        raise ValueError(f"unknown texture {name!r}.{hint} Textures: {', '.join(TEXTURES)}")
    source, box = TEXTURES[name]
    if source.startswith("skimage:"):
        from skimage import data

        img = Image.fromarray(getattr(data, source.split(":", 1)[1])()).convert("RGB")
    else:
        from .images import load_image

        img = load_image(source)
    return img.crop(box) if box is not None else img


def spatial_means(features: torch.Tensor) -> torch.Tensor:
    """The mean of every channel over all positions: ``m[c] = mean_p F[c, p]``.

    Inputs: ``features`` (B, C, H, W). Returns: (B, C). Like the Gram matrix (whose diagonal is the
    mean of the *squared* channel) it ignores position, but it also ignores which channels fire together.
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        raise ValueError(f"features must be a (B, C, H, W) tensor, got {getattr(features, 'shape', features)!r}")
    return features.mean((2, 3))


def mean_targets(model: ZooModel, image: torch.Tensor, layers: Sequence[str] = STYLE_LAYERS) -> dict[str, torch.Tensor]:
    """Channel means of a preprocessed ``image`` (1, 3, H, W) at ``layers``: ``{layer: (1, C)}``."""
    return {n: spatial_means(a) for n, a in features(model, image, layers).items()}


def mean_loss(targets: Mapping[str, torch.Tensor], weights: Mapping[str, float] | None = None) -> Objective:
    """Weighted sum over layers of the relative error of the channel means ``||m(x) - m0||^2 / ||m0||^2``.

    Inputs: ``targets`` ``{layer: (1, C)}`` from :func:`mean_targets`; ``weights`` per layer (default
    equal, summing to 1). Returns: an Objective whose value is the loss (0 when every mean matches).
    """
    if not targets:
        raise ValueError("mean_loss needs at least one target")
    weights = dict(weights) if weights is not None else {n: 1.0 / len(targets) for n in targets}
    if set(weights) != set(targets):
        raise ValueError(f"weights name layers {sorted(weights)} but targets have {sorted(targets)}")
    for n, m in targets.items():
        if not isinstance(m, torch.Tensor) or m.ndim != 2 or m.shape[0] != 1:
            raise ValueError(f"target means at {n!r} must be (1, C), got {getattr(m, 'shape', m)!r}")
        if not float(m.pow(2).sum()) > 0:
            raise ValueError(f"the target means at {n!r} are all zeros")

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0
        for n, m0 in targets.items():
            m = spatial_means(acts[n])
            if m.shape[1] != m0.shape[1]:
                raise ValueError(f"layer {n!r} has {m.shape[1]} channels but its target {m0.shape[1]}")
            total = total + weights[n] * losses.relative_error(m, m0.detach())
        return total

    return Objective(fn, list(targets), f"means {'+'.join(targets)}")


def mean_distance(
    model: ZooModel, image: torch.Tensor, reference: torch.Tensor, layers: Sequence[str] = STYLE_LAYERS
) -> float:
    """The channel-means loss of preprocessed ``image`` against preprocessed ``reference`` (both (1, 3, H, W))."""
    targets = mean_targets(model, reference, layers)
    return float(mean_loss(targets)(features(model, image, layers)))


def gram_distances(
    model: ZooModel,
    images: Sequence[torch.Tensor],
    references: Sequence[torch.Tensor],
    layers: Sequence[str] = STYLE_LAYERS,
) -> np.ndarray:
    """The Gram (style) loss of every preprocessed image against every preprocessed reference.

    Inputs: ``images`` and ``references`` lists of (1, 3, H, W) tensors (sizes may differ).
    Returns: (len(images), len(references)) array; entry [i, j] is
    ``style_distance(model, images[i], references[j], layers)``, computed with one forward pass per image.
    """
    check_vgg(model)
    layers = check_layers(model, layers)
    if not images or not references:
        raise ValueError("give at least one image and one reference")
    for i, x in enumerate(list(images) + list(references)):
        check_image(x, name=f"image {i}")
    objectives = [style_loss(style_targets(model, r, layers)) for r in references]
    out = np.zeros((len(images), len(references)))
    for i, x in enumerate(images):
        acts = features(model, x, layers)
        out[i] = [float(loss(acts)) for loss in objectives]
    return out


def synthesize(
    model: ZooModel,
    image: torch.Tensor,
    layers: Sequence[str] = STYLE_LAYERS,
    statistic: str = "gram",
    size: int | tuple[int, int] = 128,
    steps: int = 200,
    lr: float = 0.1,
    seed: int = 0,
    sd: float = 0.1,
    snapshots: Sequence[int] = (),
    progress: bool = False,
    init: torch.Tensor | None = None,
    tv: float = 0.0,
) -> StyleResult:
    """Synthesis from noise matching one spatially invariant statistic of ``image`` at ``layers``.

    Inputs: ``model`` VGG19 (``load_model("vgg19")``); ``image`` the preprocessed texture (1, 3, H, W);
    ``statistic`` ``"gram"`` (Gatys et al.: channel correlations, the same optimization as
    :func:`lecture_utils.style.synthesize_texture`) or ``"mean"`` (channel means only); ``size`` of
    the output; Adam on sigmoid pixels (``lr`` in logit units) from Gaussian noise of standard
    deviation ``sd`` (in logit units) drawn with ``seed``. ``style.synthesize_texture`` starts from
    ``sd=0.5`` with ``lr=0.05``; fainter noise and a larger step leave less pixel noise after
    the short runs a CPU affords (the Gram matrices barely see pixel-level colour noise).
    ``init`` (1, 3, h, w) RGB in [0, 1]: start from this image instead of noise (``size`` and ``sd``
    are then ignored), e.g. a smaller result upsampled (coarse to fine); ``tv`` > 0 adds
    ``tv`` times the total variation of the pixels (:func:`lecture_utils.losses.total_variation`)
    to the optimized loss, against the pixel grain a CNN's gradient leaves.
    Returns: :class:`~lecture_utils.style.StyleResult`; ``values`` the optimized loss per step
    (with ``tv``: the statistic's loss plus ``tv`` times the total variation), ``start`` and ``final``
    *both* losses ``{"gram": ..., "mean": ...}`` whichever was optimized (without the TV term).
    """
    check_vgg(model)
    layers = check_layers(model, layers)
    check_image(image)
    statistic = check_choice(statistic, "statistic", STATISTICS)
    check_count(steps, "steps")
    check_positive(sd, "sd")
    tv = check_non_negative(tv, "tv")
    if init is not None:
        if not isinstance(init, torch.Tensor) or init.ndim != 4 or tuple(init.shape[:2]) != (1, 3):
            raise ValueError(f"init must be an RGB tensor (1, 3, h, w) in [0, 1], got {getattr(init, 'shape', init)!r}")
        if not bool(torch.isfinite(init).all()) or init.min() < 0 or init.max() > 1:
            raise ValueError("init must be finite RGB values in [0, 1]")
        param = PixelImage(0, init=init.detach().float()).to(model.device)
    else:
        param = PixelImage(size, seed=seed, sd=sd).to(model.device)  # checks the size
    check_image_size(model, tuple(param().shape[-2:]), layers, "the texture (size)")
    parts = {
        "gram": style_loss(style_targets(model, image, layers)),
        "mean": mean_loss(mean_targets(model, image, layers)),
    }
    objective = parts[statistic]
    if tv:
        objective = objective + tv * Objective(lambda acts: losses.total_variation(acts[INPUT]), [], "TV")
    start = loss_values(model, param(), parts)
    res = render(model, -objective, steps=steps, lr=lr, param=param, snapshots=snapshots, seed=seed, progress=progress)
    final = loss_values(model, torch.from_numpy(res.image).permute(2, 0, 1)[None].to(model.device), parts)
    return StyleResult(res.image, [-v for v in res.values], res.snapshots, start, final)


def shuffle_positions(features: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The feature map with its H*W positions permuted at random (one permutation for all channels).

    Inputs: ``features`` (B, C, H, W). Returns: (B, C, H, W). Each position keeps its whole feature
    vector, so the Gram matrix and the channel means are exactly unchanged.
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        raise ValueError(f"features must be a (B, C, H, W) tensor, got {getattr(features, 'shape', features)!r}")
    b, c, h, w = features.shape
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed)).to(features.device)
    return features.reshape(b, c, h * w)[..., perm].reshape(b, c, h, w)


def tile_shuffle(image: np.ndarray | torch.Tensor, tiles: int = 4, seed: int = 0) -> np.ndarray | torch.Tensor:
    """Cut an image into ``tiles`` x ``tiles`` square tiles and put them back in a random order.

    Inputs: an (H, W, 3) array or a (B, 3, H, W) tensor with H and W divisible by ``tiles``;
    the same type and shape come back. The permutation (drawn with ``seed``) moves every tile.
    """
    tiles = check_int(tiles, "tiles", low=2)
    is_tensor = isinstance(image, torch.Tensor)
    if is_tensor:
        if image.ndim != 4:
            raise ValueError(f"a tensor image must be (B, 3, H, W), got {tuple(image.shape)}")
        h, w = image.shape[-2:]
    else:
        image = np.asarray(image)
        if image.ndim != 3:
            raise ValueError(f"an array image must be (H, W, 3), got {image.shape}")
        h, w = image.shape[:2]
    if h % tiles or w % tiles:
        raise ValueError(f"the image ({h}x{w}) must divide into {tiles}x{tiles} tiles (crop it)")
    n = tiles * tiles
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    while (perm == np.arange(n)).any():  # a derangement: every tile moves
        perm = rng.permutation(n)
    th, tw = h // tiles, w // tiles

    def tile(k: int) -> tuple:
        ys, xs = slice(k // tiles * th, (k // tiles + 1) * th), slice(k % tiles * tw, (k % tiles + 1) * tw)
        return (..., ys, xs) if is_tensor else (ys, xs)

    out = image.clone() if is_tensor else image.copy()
    for dst, src in enumerate(perm):
        out[tile(dst)] = image[tile(int(src))]
    return out


@torch.no_grad()
def representation_sizes(
    model: ZooModel, layers: Sequence[str] = STYLE_LAYERS, size: int = 128
) -> list[dict[str, int | str]]:
    """How many numbers describe a texture when ``layers`` are used one after the other.

    One row per layer, measured on a forward pass of a ``size`` x ``size`` image: ``channels`` C,
    ``positions`` h*w, ``feature_values`` C*h*w, ``means`` C, ``gram_entries`` C^2,
    ``gram_unique`` C(C+1)/2 (the Gram matrix is symmetric), and the running totals
    ``total_means`` and ``total_gram_unique`` over this layer and the ones above it in the list.
    ``pixels`` (3 * size^2, the number of values of the image) is repeated in every row.
    """
    size = check_int(size, "size", low=32)  # VGG19 halves the image five times
    acts = features(model, torch.zeros(1, 3, size, size), layers)
    rows: list[dict[str, int | str]] = []
    total_means = total_gram = 0
    for n, a in acts.items():
        c, h, w = a.shape[1:]
        total_means += c
        total_gram += c * (c + 1) // 2
        rows.append(
            {
                "layer": n,
                "channels": c,
                "positions": h * w,
                "feature_values": c * h * w,
                "means": c,
                "gram_entries": c * c,
                "gram_unique": c * (c + 1) // 2,
                "total_means": total_means,
                "total_gram_unique": total_gram,
                "pixels": 3 * size * size,
            }
        )
    return rows
