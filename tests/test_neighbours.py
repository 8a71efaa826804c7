"""Feature spaces (notebook 08): nearest neighbours, k-NN agreement and 2-D maps on hand-made
vectors, and embeddings of the real networks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lecture_utils import plot
from lecture_utils.datasets import load_fashion_mnist
from lecture_utils.neighbours import (
    embed_2d,
    knn_agreement,
    module_embed,
    nearest_neighbours,
    pairwise_distances,
    pixel_features,
    trustworthiness,
)
from lecture_utils.smallcnn import load_fashion_cnn, to_tensor
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# five points on a line and one far away: distances are easy to write down
LINE = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [6.0, 0.0], [10.0, 0.0], [0.0, 100.0]])


def test_nearest_neighbours_by_hand():
    idx, dist = nearest_neighbours(LINE, [0, 2, 5], k=3)
    assert idx.tolist() == [[1, 2, 3], [1, 0, 3], [0, 1, 2]]
    assert np.allclose(dist[0], [1, 3, 6]) and np.allclose(dist[1], [2, 3, 3])
    assert np.allclose(dist[2], [100, np.hypot(1, 100), np.hypot(3, 100)])
    assert idx.dtype == np.int64 and dist.shape == (3, 3)


def test_ties_go_to_the_smaller_index_and_self_is_excluded():
    pts = np.array([[0.0], [1.0], [-1.0], [0.0]])  # point 3 duplicates point 0
    idx, dist = nearest_neighbours(pts, [0, 3], k=3)
    assert idx.tolist() == [[3, 1, 2], [0, 1, 2]] and dist[0, 0] == 0.0


def test_cosine_ignores_length():
    v = np.array([[1.0, 0.0], [10.0, 0.5], [0.0, 1.0], [1.0, 1.0]])
    assert nearest_neighbours(v, [0], k=1, metric="cosine")[0].tolist() == [[1]]
    assert nearest_neighbours(v, [0], k=1, metric="euclidean")[0].tolist() == [[3]]  # |(1,1)-(1,0)| = 1 < 9
    d = pairwise_distances(v, v, "cosine")
    assert d[0, 2] == pytest.approx(1.0) and d[0, 3] == pytest.approx(1 - 1 / np.sqrt(2))


def test_knn_agreement_by_hand():
    labels = np.array(["a", "a", "a", "b", "b", "c"])
    # k=1: 0->1 a, 1->0 a, 2->1 a, 3->2 (a != b), 4->3 b, 5->0 (a != c)
    assert knn_agreement(LINE, labels, k=1) == pytest.approx(4 / 6)
    clusters = np.concatenate([np.zeros((5, 3)), np.ones((5, 3)) * 10]) + np.arange(10)[:, None] * 1e-3
    assert knn_agreement(clusters, [0] * 5 + [1] * 5, k=4) == 1.0
    assert knn_agreement(clusters, [0, 1] * 5, k=4) < 0.5


def test_knn_agreement_batches_agree():
    rng = np.random.default_rng(0)
    f, y = rng.normal(size=(50, 4)), rng.integers(0, 3, 50)
    assert knn_agreement(f, y, k=3, batch=7) == knn_agreement(f, y, k=3)


def test_pixel_features():
    imgs = np.zeros((2, 4, 4), np.uint8)
    imgs[1] = 255
    f = pixel_features(imgs)
    assert f.shape == (2, 16) and f.dtype == np.float32 and f[1].min() == 1.0
    rgb = np.random.default_rng(0).random((3, 8, 8, 3)).astype(np.float32)
    small = pixel_features(rgb, size=2)
    assert small.shape == (3, 12)
    assert np.allclose(small.reshape(3, 2, 2, 3)[:, 0, 0], rgb[:, :4, :4].mean(axis=(1, 2)), atol=1e-6)


def test_tsne_beats_pca_on_clusters_in_many_dimensions():
    """8 tight clusters in 30-D: two linear directions cannot keep them apart, t-SNE can."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1.5, (8, 30))
    labels = np.repeat(np.arange(8), 30)
    x = centres[labels] + rng.normal(0, 1, (240, 30))
    pca, tsne = embed_2d(x, "pca"), embed_2d(x, "tsne", perplexity=20, max_iter=500)
    assert pca.shape == tsne.shape == (240, 2) and tsne.dtype == np.float32
    assert knn_agreement(x, labels, k=5) == 1.0  # the clusters are separate in 30-D
    assert trustworthiness(x, tsne, k=10) > trustworthiness(x, pca, k=10) + 0.05
    assert knn_agreement(tsne, labels, k=5) > 0.95 > knn_agreement(pca, labels, k=5) + 0.1
    # PCA really is the projection on the two leading principal axes
    xc = x - x.mean(0)
    axes = np.linalg.svd(xc, full_matrices=False)[2][:2]
    assert np.allclose(np.abs(pca), np.abs(xc @ axes.T), atol=1e-3)


def test_trustworthiness_of_an_exact_copy_is_one():
    x = np.random.default_rng(1).normal(size=(40, 2))
    assert trustworthiness(x, x, k=5) == pytest.approx(1.0)
    assert trustworthiness(x, np.random.default_rng(2).normal(size=(40, 2)), k=5) < 0.8


def test_module_embed_equals_gap_and_is_clean(tiny_cnn):
    x = torch.rand(5, 3, 12, 12)
    e = module_embed(tiny_cnn, x, "act", batch_size=2)
    with torch.no_grad():
        ref = torch.nn.functional.relu6(tiny_cnn.conv(x)).mean(dim=(2, 3))
    assert e.shape == (5, 4) and np.allclose(e, ref.numpy(), atol=1e-6)
    assert np.allclose(module_embed(tiny_cnn, x, "fc"), tiny_cnn(x).detach().numpy(), atol=1e-6)
    assert_leaves_model_clean(tiny_cnn, lambda: module_embed(tiny_cnn, x, "act"))
    assert tiny_cnn.act.inplace


@pytest.mark.parametrize("layer", ["relu2", "gap", "fc"])
def test_module_embed_hygiene_on_the_fashion_cnn(layer):
    net = load_fashion_cnn()
    x = to_tensor(load_fashion_mnist().x_test[:8])
    assert_leaves_model_clean(net, lambda: module_embed(net, x, layer))


def test_fashion_cnn_embedding_beats_pixels():
    data = load_fashion_mnist()
    keep = np.concatenate([np.flatnonzero(data.y_test == c)[:30] for c in range(10)])
    x, y = data.x_test[keep], data.y_test[keep]
    emb = module_embed(load_fashion_cnn(), to_tensor(x), "gap")
    assert emb.shape == (300, 64)
    assert knn_agreement(emb, y, k=5) > knn_agreement(pixel_features(x), y, k=5)


def test_bad_inputs(tiny_cnn):
    f = LINE
    bad = [
        (lambda: nearest_neighbours(f, [0], k=6), ValueError, "larger than"),
        (lambda: nearest_neighbours(f, [0], k=0), ValueError, "positive"),
        (lambda: nearest_neighbours(f, [6], k=1), ValueError, "out of range"),
        (lambda: nearest_neighbours(f, [], k=1), ValueError, "non-empty"),
        (lambda: nearest_neighbours(f, [0.5], k=1), ValueError, "indices"),
        (lambda: nearest_neighbours(f, [0], metric="manhattan"), ValueError, "unknown metric"),
        (lambda: nearest_neighbours(np.zeros((0, 3)), [0]), ValueError, "empty"),
        (lambda: nearest_neighbours(np.zeros(5), [0]), ValueError, "2-D"),
        (lambda: nearest_neighbours(np.array([[np.nan, 1.0], [0.0, 0.0]]), [0], k=1), ValueError, "finite"),
        (lambda: knn_agreement(f, [0, 1], k=1), ValueError, "labels must have shape"),
        (lambda: pairwise_distances(f, np.zeros((2, 3))), ValueError, "different dimensions"),
        (lambda: pixel_features(np.zeros((0, 4, 4))), ValueError, "0 images"),
        (lambda: pixel_features(np.zeros((2, 4, 4, 4))), ValueError, "shape"),
        (lambda: embed_2d(f, "umap"), ValueError, "unknown method"),
        (lambda: embed_2d(f, "tsne", perplexity=10), ValueError, "perplexity"),
        (lambda: embed_2d(f[:2], "pca"), ValueError, "at least 3"),
        (lambda: trustworthiness(f, f[:, :1][:5]), ValueError, "differ in length"),
        (lambda: trustworthiness(f, f, k=3), ValueError, "k must be"),
    ]
    for call, exc, match in bad:
        with pytest.raises(exc, match=match):
            call()
    x = torch.rand(2, 3, 8, 8)
    assert_raises_and_leaves_clean(tiny_cnn, lambda: module_embed(tiny_cnn, x, "actt"), ValueError, "Unknown layer")
    assert_raises_and_leaves_clean(tiny_cnn, lambda: module_embed(tiny_cnn, x[0], "act"), ValueError, "N, C, H, W")
    assert_raises_and_leaves_clean(tiny_cnn, lambda: module_embed(tiny_cnn, x[:0], "act"), ValueError, "no inputs")
    assert_raises_and_leaves_clean(
        tiny_cnn, lambda: module_embed(tiny_cnn, x, "act", batch_size=0), ValueError, "batch_size"
    )


def test_feature_space_plots():
    pts = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.arange(30) % 3
    imgs = np.random.default_rng(1).integers(0, 256, (30, 8, 8), dtype=np.uint8)
    figs = [
        plot.neighbour_rows(
            imgs[:2],
            {"emb": [imgs[2:5], imgs[5:8]], "pix": [imgs[8:11], imgs[11:14]]},
            captions={"emb": [["a"] * 3, ["b"] * 3]},
            query_captions=["q1", "q2"],
            suptitle="s",
        ),
        plot.embedding_scatter({"a": pts, "b": pts * 2}, labels, ["x", "y", "z"]),
        plot.thumbnail_map(pts, imgs, grid=5, labels=labels, invert=True),
        plot.thumbnail_map(pts, np.zeros((30, 8, 8, 3)), grid=5),
    ]
    assert all(isinstance(f, plt.Figure) for f in figs)
    plt.close("all")
    with pytest.raises(ValueError, match="rows for 2 queries"):
        plot.neighbour_rows(imgs[:2], {"emb": [imgs[2:5]]})
    with pytest.raises(ValueError, match="points must have shape"):
        plot.embedding_scatter({"a": pts[:5]}, labels)
    with pytest.raises(ValueError, match="30 points"):
        plot.thumbnail_map(pts, imgs[:3])


def test_thumbnail_map_puts_each_image_in_its_cell():
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [0.01, 0.01]])  # the third falls into the first one's cell
    imgs = np.stack([np.full((4, 4), v, np.uint8) for v in (200, 128, 0)])
    fig = plot.thumbnail_map(pts, imgs, grid=2, size=2)
    canvas = fig.axes[0].images[0].get_array()
    assert np.allclose(canvas[4:8, 0:4], 200 / 255, atol=1e-6)  # bottom-left: image 0; image 2 skipped
    assert np.allclose(canvas[0:4, 4:8], 128 / 255, atol=1e-6)  # top-right: image 1
    assert np.allclose(canvas[0:4, 0:4], 1.0) and canvas.shape == (8, 8, 3)  # empty cell: white
    plt.close(fig)


def test_groups_give_neighbours_from_other_photos_one_each():
    # LINE with groups: 0 and 1 are crops of photo "a", 2 and 3 of "b", 4 of "c", 5 of "d"
    groups = ["a", "a", "b", "b", "c", "d"]
    idx, dist = nearest_neighbours(LINE, [0, 3], k=3, groups=groups)
    # query 0: not 1 (its own photo); of photo b only the nearer 2 (distance 3), then c (10), then d (100)
    assert idx.tolist() == [[2, 4, 5], [4, 1, 5]]  # query 3 (x=6): not 2 (its photo); c (4), a's nearer 1 (5), d
    assert np.allclose(dist[0], [3, 10, 100]) and np.allclose(dist[1], [4, 5, np.hypot(6, 100)])
    assert nearest_neighbours(LINE, [0], k=3)[0].tolist() == [[1, 2, 3]]  # without groups: the old answer
    # photo/painting agreement, neighbours from other photos only: by hand
    kind = np.array([0, 0, 0, 0, 1, 1])
    # k=1: 0->2 (same kind), 1->2 (same), 2->1 (same), 3->4 (no), 4->3 (no), 5->0 (no): 3/6
    assert knn_agreement(LINE, kind, k=1, groups=groups) == pytest.approx(3 / 6)
    assert knn_agreement(LINE, kind, k=1) == pytest.approx(4 / 6)  # 3->2 counts without groups
    with pytest.raises(ValueError, match="larger than the number of candidate groups"):
        nearest_neighbours(LINE, [0], k=4, groups=groups)
    with pytest.raises(ValueError, match="one label per point"):
        nearest_neighbours(LINE, [0], k=1, groups=groups[:5])
    with pytest.raises(TypeError, match="groups must be a sequence"):
        knn_agreement(LINE, kind, k=1, groups=3)
