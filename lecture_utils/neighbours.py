"""Feature spaces with standard tools: nearest neighbours, k-NN agreement and 2-D maps (t-SNE, PCA).

Lecture section «Стандартные средства в признаковых пространствах» (notebook 08). Papers:
Krizhevsky, Sutskever & Hinton (2012), "ImageNet Classification with Deep Convolutional Neural
Networks", Fig. 4 (the nearest training images of a query in the last hidden layer share its
meaning, not its pixels); van der Maaten & Hinton (2008), "Visualizing Data using t-SNE";
A. Karpathy, "t-SNE visualization of CNN codes" (images placed at their t-SNE positions).

Embeddings of a :class:`~lecture_utils.models.ZooModel` come from
:func:`lecture_utils.features.embed`; :func:`module_embed` does the same for a plain module that
takes ready tensors (the small Fashion-MNIST CNN of notebook 01).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .checks import check_finite, check_int, check_number, device_of
from .features import layer_means
from .models import ZooModel, as_module

__all__ = [
    "pixel_features",
    "module_embed",
    "pairwise_distances",
    "nearest_neighbours",
    "knn_agreement",
    "embed_2d",
    "trustworthiness",
]

METRICS = ("euclidean", "cosine")


def _features(features: np.ndarray | torch.Tensor, name: str = "features") -> np.ndarray:
    f = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    if f.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D), got shape {f.shape}")
    if len(f) == 0:
        raise ValueError(f"{name} is empty: got 0 vectors")
    if not np.issubdtype(f.dtype, np.number) or not np.isfinite(f).all():
        raise ValueError(f"{name} must hold finite numbers")
    return f.astype(np.float32, copy=False)


def _check_k(k: int, n: int, what: str = "points") -> int:
    k = check_int(k, "k")
    if k < 1:
        raise ValueError(f"k must be a positive integer (>= 1), got {k}")
    if k > n:
        raise ValueError(f"k={k} is larger than the number of candidate {what} ({n})")
    return k


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return metric


def pixel_features(images: np.ndarray, size: int | None = None) -> np.ndarray:
    """Images as raw pixel vectors, the baseline space of Krizhevsky et al.'s Fig. 4.

    Inputs: ``images`` (N, H, W) or (N, H, W, 3), uint8 or float in [0, 1]; ``size`` resize to
    ``size`` x ``size`` first (area average) to compare images of different sizes or to smooth.
    Returns: (N, H*W[*3]) float32 in [0, 1].
    """
    a = np.asarray(images)
    if a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[-1] != 3):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, 3), got {a.shape}")
    if len(a) == 0:
        raise ValueError("got 0 images")
    x = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    if size is not None:
        import torch.nn.functional as F

        size = check_int(size, "size", low=1)
        t = torch.from_numpy(x if x.ndim == 4 else x[..., None]).permute(0, 3, 1, 2)
        x = F.interpolate(t, size=(size, size), mode="area").permute(0, 2, 3, 1).numpy()
    return x.reshape(len(x), -1)


def module_embed(model: nn.Module | ZooModel, inputs: torch.Tensor, layer: str, batch_size: int = 256) -> np.ndarray:
    """Embed ready network inputs at ``layer`` (feature maps averaged over space): a thin wrapper
    of :func:`lecture_utils.features.layer_means`.

    Inputs: ``inputs`` (N, C, H, W) tensor as the network takes it (e.g. ``smallcnn.to_tensor``);
    ``layer`` a layer name. Returns: (N, D) float32 array.
    """
    if not isinstance(inputs, torch.Tensor) or inputs.ndim != 4:
        raise ValueError(f"inputs must be a tensor of shape (N, C, H, W), got {getattr(inputs, 'shape', inputs)!r}")
    if len(inputs) == 0:
        raise ValueError("module_embed got no inputs")
    batch_size = check_int(batch_size, "batch_size", low=1)
    check_finite(inputs, "inputs")
    device = device_of(as_module(model))
    return layer_means(model, inputs, layer, batch_size, prepare=lambda b: b.to(device)).numpy()


def pairwise_distances(a: np.ndarray, b: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distances between the rows of ``a`` (M, D) and ``b`` (N, D): (M, N) float32.

    ``euclidean``: ||a_i - b_j||; ``cosine``: 1 - cos(a_i, b_j) (a zero vector has distance 1).
    """
    _check_metric(metric)
    a, b = _features(a, "a"), _features(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b have different dimensions: {a.shape[1]} vs {b.shape[1]}")
    ta, tb = torch.from_numpy(a).double(), torch.from_numpy(b).double()
    if metric == "cosine":
        na = ta / ta.norm(dim=1, keepdim=True).clamp_min(1e-12)
        nb = tb / tb.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (1.0 - na @ nb.T).float().numpy()
    return torch.cdist(ta, tb).float().numpy()


def _check_groups(groups: Sequence | np.ndarray | None, n: int) -> np.ndarray | None:
    """``groups`` as an (n,) array of labels (or ``None``)."""
    if groups is None:
        return None
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__len__"):
        raise TypeError(f"groups must be a sequence of labels, one per point, got {type(groups).__name__}")
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups must hold one label per point: shape ({n},), got {g.shape}")
    return g


def nearest_neighbours(
    features: np.ndarray,
    queries: Sequence[int] | np.ndarray,
    k: int = 5,
    metric: str = "euclidean",
    groups: Sequence | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours of some points of a set, the point itself excluded.

    Inputs: ``features`` (N, D); ``queries`` (Q,) indices into ``features``; ``metric``
    "euclidean" or "cosine"; ``groups`` (N,) optional labels, e.g. the source photo of each crop:
    then no neighbour shares the query's label and at most one neighbour comes from each label
    (the nearest of its group) -- neighbours from ``k`` other photos, not crops of one.
    Ties are broken by the smaller index.
    Returns: ``indices`` (Q, k) int64 nearest first, and their ``distances`` (Q, k).
    Raises: ``ValueError`` when fewer than ``k`` candidates (or other groups) are left.
    """
    f = _features(features)
    q = np.asarray(queries)
    if q.ndim != 1 or len(q) == 0 or not np.issubdtype(q.dtype, np.integer):
        raise ValueError(f"queries must be a non-empty 1-D list of indices, got {queries!r}")
    if q.min() < 0 or q.max() >= len(f):
        raise ValueError(f"query index out of range: {len(f)} points (0..{len(f) - 1}), got {q.min()}..{q.max()}")
    g = _check_groups(groups, len(f))
    if g is None:
        k = _check_k(k, len(f) - 1, "neighbours (all points but the query)")
    else:
        k = _check_k(k, len(np.unique(g)) - 1, "groups (all but the query's)")
    d = pairwise_distances(f[q], f, metric).astype(np.float64)
    d[np.arange(len(q)), q] = np.inf
    if g is None:
        idx = np.argsort(d, axis=1, kind="stable")[:, :k]
        return idx.astype(np.int64), np.take_along_axis(d, idx, axis=1).astype(np.float32)
    d[g[q][:, None] == g[None, :]] = np.inf  # nothing from the query's own group
    idx = np.empty((len(q), k), np.int64)
    for r, order in enumerate(np.argsort(d, axis=1, kind="stable")):
        _, first = np.unique(g[order], return_index=True)  # the nearest point of each group
        idx[r] = order[np.sort(first)][:k]
    return idx, np.take_along_axis(d, idx, axis=1).astype(np.float32)


def knn_agreement(
    features: np.ndarray,
    labels: Sequence | np.ndarray,
    k: int = 5,
    metric: str = "euclidean",
    batch: int = 1024,
    groups: Sequence | np.ndarray | None = None,
) -> float:
    """How often a point's ``k`` nearest neighbours (itself excluded) share its label: the mean,
    over all points, of the fraction of its neighbours with the same label. 1 = every neighbourhood
    is pure; about 1/#classes for random features and balanced classes.

    Inputs: ``features`` (N, D); ``labels`` (N,) class ids or names; ``groups`` (N,) optional
    source labels: neighbours then come from other groups only, one per group
    (:func:`nearest_neighbours`) -- e.g. "photo or painting?" without counting crops of the same
    picture. Returns: a float in [0, 1].
    """
    f = _features(features)
    y = np.asarray(labels)
    if y.shape != (len(f),):
        raise ValueError(f"labels must have shape ({len(f)},), got {y.shape}")
    batch = check_int(batch, "batch", low=1)
    if groups is None:
        k = _check_k(k, len(f) - 1, "neighbours (all points but the query)")
    hits = 0.0
    for start in range(0, len(f), batch):
        q = np.arange(start, min(len(f), start + batch))
        idx, _ = nearest_neighbours(f, q, k, metric, groups=groups)
        hits += float((y[idx] == y[q][:, None]).sum())
    return hits / (len(f) * k)


def embed_2d(
    features: np.ndarray, method: str = "tsne", seed: int = 0, perplexity: float = 30.0, max_iter: int = 1000
) -> np.ndarray:
    """A 2-D map of the points: t-SNE (scikit-learn, Barnes-Hut, PCA initialization) or PCA.

    Inputs: ``features`` (N, D); ``method`` "tsne" or "pca"; ``perplexity`` (t-SNE: about the
    number of neighbours each point keeps close; must be < N); ``max_iter`` t-SNE iterations.
    Returns: (N, 2) float32.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    f = _features(features)
    if method not in ("tsne", "pca"):
        raise ValueError(f"unknown method {method!r}; use 'tsne' or 'pca'")
    if len(f) < 3 or f.shape[1] < 2:
        raise ValueError(f"need at least 3 points of dimension >= 2, got shape {f.shape}")
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(f).astype(np.float32)
    perplexity = check_number(perplexity, "perplexity", low=0.0, strict_low=True)
    if not perplexity < len(f):
        raise ValueError(f"perplexity must lie in (0, N) = (0, {len(f)}), got {perplexity:g}")
    max_iter = check_int(max_iter, "max_iter (scikit-learn's minimum is 250)", low=250)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=max_iter)
    return tsne.fit_transform(f).astype(np.float32)


def trustworthiness(features: np.ndarray, points: np.ndarray, k: int = 10) -> float:
    """How well a 2-D map keeps neighbourhoods (scikit-learn's ``trustworthiness``): 1 when every
    point's ``k`` nearest neighbours on the map are also among its nearest in ``features``;
    lower when the map brings together points that are far apart in the original space.

    Inputs: ``features`` (N, D), ``points`` (N, 2); ``k`` < N / 2. Returns: a float <= 1.
    """
    from sklearn.manifold import trustworthiness as sk_trust

    f, p = _features(features), _features(points, "points")
    if len(f) != len(p):
        raise ValueError(f"features and points differ in length: {len(f)} vs {len(p)}")
    k = check_int(k, "k", low=1)
    if not k < len(f) / 2:
        raise ValueError(f"k must be an int with 1 <= k < N/2 = {len(f) / 2:g}, got {k!r}")
    return float(sk_trust(f, p, n_neighbors=k))
