"""Texture statistics: channel means vs Gram matrices, position shuffles, representation sizes (lecture 16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from lecture_utils import style, texture
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# --------------------------------------------------------------------------- sample textures


@pytest.mark.parametrize("name", list(texture.TEXTURES))
def test_load_texture_gives_square_rgb_crops(name):
    img = texture.load_texture(name)
    assert isinstance(img, Image.Image) and img.mode == "RGB"
    assert img.size[0] == img.size[1] >= 96
    a = np.asarray(img, dtype=float)
    assert a.std() > 10  # a real picture, not a blank


def test_load_texture_unknown_name_suggests_close_ones():
    with pytest.raises(ValueError, match="brick"):
        texture.load_texture("bricks")


# --------------------------------------------------------------------------- channel means and their loss


def test_spatial_means_known_answer():
    f = torch.tensor([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 4.0, 0.0]]).reshape(1, 2, 2, 2)
    assert torch.allclose(texture.spatial_means(f), torch.tensor([[3.0, 1.0]]))
    with pytest.raises(ValueError, match="features must be"):
        texture.spatial_means(torch.ones(2, 3))


def test_mean_loss_known_answers():
    a = torch.tensor([[1.0, 3.0], [2.0, 2.0]]).reshape(1, 2, 1, 2)  # means (2, 2)
    m = texture.spatial_means(a)
    loss = texture.mean_loss({"x": m})
    assert loss.layers == {"x"}
    assert loss({"x": a}) == 0
    assert loss({"x": torch.zeros_like(a)}) == pytest.approx(1.0)
    assert loss({"x": 2 * a}) == pytest.approx(1.0)  # ||2m - m||^2 / ||m||^2
    # the means ignore how the values are spread: (2, 2) and (1, 3) have the same mean ...
    flat = torch.full_like(a, 2.0)
    assert loss({"x": flat}) == pytest.approx(0.0)
    # ... while the Gram matrix does not (G_00 = mean of squares: 5 vs 4)
    assert style.style_loss({"x": style.gram_matrix(a)})({"x": flat}) > 0.01
    # two layers, default weights 1/2 each; explicit weights
    two = texture.mean_loss({"x": m, "y": m})
    assert two({"x": a, "y": torch.zeros_like(a)}) == pytest.approx(0.5)
    weighted = texture.mean_loss({"x": m, "y": m}, weights={"x": 0.0, "y": 3.0})
    assert weighted({"x": torch.zeros_like(a), "y": torch.zeros_like(a)}) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: texture.mean_loss({}), "at least one"),
        (lambda: texture.mean_loss({"x": torch.ones(1, 2)}, weights={"y": 1.0}), "weights name"),
        (lambda: texture.mean_loss({"x": torch.ones(1, 2, 2)}), "must be \\(1, C\\)"),
        (lambda: texture.mean_loss({"x": torch.zeros(1, 4)}), "all zeros"),
    ],
)
def test_mean_loss_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mean_loss_rejects_other_channel_counts():
    loss = texture.mean_loss({"x": torch.ones(1, 3)})
    with pytest.raises(ValueError, match="3"):
        loss({"x": torch.ones(1, 4, 2, 2)})


# --------------------------------------------------------------------------- position shuffles


def test_shuffle_positions_keeps_gram_and_means_exactly():
    torch.manual_seed(0)
    f = torch.randn(2, 6, 5, 7)
    s = texture.shuffle_positions(f, seed=3)
    assert s.shape == f.shape
    assert (f - s).abs().max() > 1  # really moved
    assert torch.allclose(style.gram_matrix(s), style.gram_matrix(f), atol=1e-5)
    assert torch.allclose(texture.spatial_means(s), texture.spatial_means(f), atol=1e-6)
    # one permutation for all channels: every position keeps its whole feature vector
    cols = {tuple(v.tolist()) for v in f[0].reshape(6, -1).T}
    assert {tuple(v.tolist()) for v in s[0].reshape(6, -1).T} == cols
    assert torch.equal(texture.shuffle_positions(f, seed=3), s)  # deterministic
    with pytest.raises(ValueError, match="features must be"):
        texture.shuffle_positions(torch.ones(3, 4))


def test_tile_shuffle_known_answer_and_types():
    a = np.arange(16).reshape(4, 4)[..., None].repeat(3, 2)  # 2x2 tiles of 2x2 pixels
    out = texture.tile_shuffle(a, tiles=2, seed=0)
    assert out.shape == a.shape and out.dtype == a.dtype

    def tiles(x):
        return [x[y : y + 2, z : z + 2, 0].tolist() for y in (0, 2) for z in (0, 2)]

    before, after = tiles(a), tiles(out)
    assert sorted(map(str, before)) == sorted(map(str, after))  # the same tiles ...
    assert all(b != c for b, c in zip(before, after))  # ... every one in a new place
    t = torch.from_numpy(a).permute(2, 0, 1)[None].float()
    t_out = texture.tile_shuffle(t, tiles=2, seed=0)
    assert isinstance(t_out, torch.Tensor)
    assert torch.equal(t_out[0].permute(1, 2, 0), torch.from_numpy(out).float())  # same permutation
    assert np.array_equal(a, np.arange(16).reshape(4, 4)[..., None].repeat(3, 2))  # input untouched


@pytest.mark.parametrize(
    "image, tiles, match",
    [
        (np.zeros((4, 4, 3)), 1, "tiles must be"),
        (np.zeros((6, 4, 3)), 4, "divide"),
        (np.zeros((4, 4)), 2, "\\(H, W, 3\\)"),
        (torch.zeros(3, 4, 4), 2, "\\(B, 3, H, W\\)"),
    ],
)
def test_tile_shuffle_bad_inputs(image, tiles, match):
    with pytest.raises(ValueError, match=match):
        texture.tile_shuffle(image, tiles=tiles)


# --------------------------------------------------------------------------- on VGG19


@pytest.fixture(scope="module")
def bricks(vgg):
    return tuple(vgg.preprocess(texture.load_texture(n), size=32) for n in ("brick", "gravel"))


def test_representation_sizes_on_vgg(vgg):
    rows = texture.representation_sizes(vgg, style.STYLE_LAYERS, size=32)
    assert [r["layer"] for r in rows] == list(style.STYLE_LAYERS)
    assert [r["channels"] for r in rows] == [64, 128, 256, 512, 512]
    assert [r["positions"] for r in rows] == [32 * 32, 16 * 16, 8 * 8, 4 * 4, 2 * 2]
    assert [r["gram_unique"] for r in rows] == [2080, 8256, 32896, 131328, 131328]
    assert [r["total_gram_unique"] for r in rows] == [2080, 10336, 43232, 174560, 305888]
    assert rows[-1]["total_means"] == 64 + 128 + 256 + 512 + 512
    assert all(r["gram_entries"] == r["channels"] ** 2 and r["pixels"] == 3 * 32 * 32 for r in rows)
    with pytest.raises(ValueError, match="size"):
        texture.representation_sizes(vgg, size=8)


def test_gram_distances_match_style_distance(vgg, bricks):
    brick, gravel = bricks
    d = texture.gram_distances(vgg, [brick, gravel], [brick, gravel], ["relu1_1", "relu3_1"])
    assert d.shape == (2, 2)
    assert d[0, 0] == pytest.approx(0.0, abs=1e-6) and d[1, 1] == pytest.approx(0.0, abs=1e-6)
    assert d[0, 1] == pytest.approx(style.style_distance(vgg, brick, gravel, ["relu1_1", "relu3_1"]), rel=1e-5)
    assert d[0, 1] > 0.05


def test_mean_distance_is_zero_for_the_image_itself(vgg, bricks):
    brick, gravel = bricks
    assert texture.mean_distance(vgg, brick, brick) == pytest.approx(0.0, abs=1e-6)
    assert texture.mean_distance(vgg, gravel, brick) > 0.01


def test_tile_shuffled_image_keeps_most_of_its_gram_matrices(vgg, bricks):
    brick, gravel = bricks
    shuffled = texture.tile_shuffle(brick, tiles=2, seed=0)
    assert (shuffled - brick).abs().max() > 1
    assert style.style_distance(vgg, shuffled, brick) < 0.3 * style.style_distance(vgg, gravel, brick)


def test_gram_synthesis_is_style_synthesize_texture(vgg, bricks):
    brick, _ = bricks
    ours = texture.synthesize(vgg, brick, ["relu1_1", "relu2_1"], size=32, steps=3, lr=0.05, sd=0.5, seed=2)
    ref = style.synthesize_texture(vgg, brick, ["relu1_1", "relu2_1"], size=32, steps=3, lr=0.05, seed=2)
    assert np.allclose(ours.image, ref.image, atol=1e-5)
    assert ours.start["gram"] == pytest.approx(ref.start["style"], rel=1e-4)
    assert ours.final["gram"] == pytest.approx(ref.final["style"], rel=1e-4)


def test_each_statistic_matches_itself_and_means_lose_cooccurrence(vgg, bricks):
    brick, _ = bricks
    layers = ["relu1_1"]
    means = texture.synthesize(vgg, brick, layers, statistic="mean", size=32, steps=40, snapshots=[1, 40])
    gram = texture.synthesize(vgg, brick, layers, statistic="gram", size=32, steps=40)
    assert means.image.shape == gram.image.shape == (32, 32, 3)
    assert sorted(means.snapshots) == [1, 40]
    assert means.final["mean"] < 0.05 * means.start["mean"]
    assert gram.final["gram"] < 0.05 * gram.start["gram"]
    assert means.values[-1] < means.values[0] and np.isfinite(means.values).all()
    # matching the means leaves the channel correlations wrong
    assert means.final["gram"] > 3 * gram.final["gram"]


@pytest.mark.parametrize("layers", [["relu1_1"], ["relu2_1", "relu3_1"]])
@pytest.mark.parametrize(
    "method",
    [
        lambda vgg, x, layers: texture.synthesize(vgg, x, layers, size=32, steps=2),
        lambda vgg, x, layers: texture.synthesize(vgg, x, layers, statistic="mean", size=32, steps=2),
        lambda vgg, x, layers: texture.mean_targets(vgg, x, layers),
        lambda vgg, x, layers: texture.mean_distance(vgg, x, x, layers),
        lambda vgg, x, layers: texture.gram_distances(vgg, [x], [x], layers),
        lambda vgg, x, layers: texture.representation_sizes(vgg, layers, size=32),
    ],
    ids=["synth-gram", "synth-mean", "mean_targets", "mean_distance", "gram_distances", "sizes"],
)
def test_texture_methods_leave_vgg_clean(vgg, bricks, method, layers):
    assert_leaves_model_clean(vgg, lambda: method(vgg, bricks[0], layers))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layers": ["relu9_1"]}, "relu9_1"),
        ({"layers": []}, "at least one layer"),
        ({"statistic": "median"}, "statistic"),
        ({"steps": 0}, "steps"),
        ({"sd": 0.0}, "sd"),
        ({"size": 4}, "size"),
    ],
)
def test_synthesize_bad_inputs_leave_vgg_clean(vgg, bricks, kwargs, match):
    assert_raises_and_leaves_clean(vgg, lambda: texture.synthesize(vgg, bricks[0], **kwargs), ValueError, match)


def test_bad_images_and_models(vgg, bricks):
    brick, _ = bricks
    assert_raises_and_leaves_clean(vgg, lambda: texture.synthesize(vgg, brick[0]), ValueError, "image")
    assert_raises_and_leaves_clean(vgg, lambda: texture.gram_distances(vgg, [], [brick]), ValueError, "at least one")
    assert_raises_and_leaves_clean(vgg, lambda: texture.gram_distances(vgg, [brick], [brick[0]]), ValueError, "image")
    assert_raises_and_leaves_clean(vgg, lambda: texture.mean_targets(vgg, brick, ["nope"]), ValueError, "nope")
    with pytest.raises(TypeError, match="ZooModel"):
        texture.synthesize(vgg.net, brick)


def test_synthesize_from_init_with_tv(vgg, bricks):
    brick, _ = bricks
    layers = ["relu1_1", "relu2_1"]
    plain = texture.synthesize(vgg, brick, layers, size=32, steps=3)
    again = texture.synthesize(vgg, brick, layers, size=32, steps=3, tv=0.0, init=None)
    assert np.array_equal(plain.image, again.image) and plain.values == again.values  # the defaults change nothing
    init = torch.full((1, 3, 40, 24), 0.5)
    init[..., ::2, :] = 0.6
    ours = texture.synthesize(vgg, brick, layers, init=init, steps=5, lr=0.05, size=999)
    assert ours.image.shape == (40, 24, 3)  # the size of init, not ``size``
    smooth = texture.synthesize(vgg, brick, layers, init=init, steps=5, lr=0.05, tv=10.0)
    tv = lambda a: float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())  # noqa: E731
    assert tv(smooth.image) < tv(ours.image)
    assert ours.start["gram"] == pytest.approx(smooth.start["gram"])  # the start is init, whatever tv
    assert smooth.values[0] > ours.values[0]  # the optimized loss includes the TV term
    assert_leaves_model_clean(vgg, lambda: texture.synthesize(vgg, brick, layers, init=init, steps=2, tv=0.1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tv": -1.0}, "tv"),
        ({"init": torch.zeros(3, 32, 32)}, "init"),
        ({"init": torch.zeros(1, 1, 32, 32)}, "init"),
        ({"init": torch.full((1, 3, 32, 32), 2.0)}, "init"),
    ],
)
def test_synthesize_bad_init_and_tv(vgg, bricks, kwargs, match):
    assert_raises_and_leaves_clean(vgg, lambda: texture.synthesize(vgg, bricks[0], **kwargs), ValueError, match)
