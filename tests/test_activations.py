"""Activation analysis (notebook 09): feature maps, zero fractions and top patches, on tiny models
with hand-computed answers and on VGG19 / EfficientNet-Lite0."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from lecture_utils import plot
from lecture_utils.activations import PoolCache, feature_maps, relu_layers, strongest, top_patches, zero_fraction
from lecture_utils.datasets import crop_pool
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def red_box_net() -> nn.Sequential:
    """conv (3x3, pad 1): channel 0 = mean of the red channel over 3x3, channel 1 = minus that; ReLU."""
    conv = nn.Conv2d(3, 2, 3, padding=1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0] = 1 / 9
        conv.weight[1, 0] = -1 / 9
    return nn.Sequential(conv, nn.ReLU()).eval()


def red_block_pool() -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """5 black 12x12 crops, each with one 3x3 red block of brightness v_i centred at p_i."""
    values = np.array([60, 250, 120, 200, 30], dtype=np.uint8)
    centres = [(2, 3), (6, 6), (9, 2), (4, 9), (1, 1)]
    crops = np.zeros((5, 12, 12, 3), np.uint8)
    for i, (v, (r, c)) in enumerate(zip(values, centres)):
        crops[i, r - 1 : r + 2, c - 1 : c + 2, 0] = v
    return crops, values, centres


def test_top_patches_known_answer():
    net = red_box_net()
    crops, values, centres = red_block_pool()
    t = top_patches(net, crops, "1", 0, k=3)
    assert t.indices.tolist() == [1, 3, 2]  # brightness 250, 200, 120
    assert np.allclose(t.values, values[[1, 3, 2]] / 255, atol=1e-6)
    assert [tuple(p) for p in t.positions] == [centres[1], centres[3], centres[2]]
    for i, box, patch in zip(t.indices, t.boxes, t.patches):
        r, c = centres[i]
        assert box == (r - 1, c - 1, r + 2, c + 2)  # receptive field 3x3 around the maximum
        assert np.array_equal(patch, crops[i, r - 1 : r + 2, c - 1 : c + 2])
        assert (patch[..., 0] == values[i]).all()
    assert np.allclose(t.pool_values, values / 255, atol=1e-6)
    # the negated channel is zero everywhere after the ReLU
    assert np.array_equal(top_patches(net, crops, "1", 1, k=2).pool_values, np.zeros(5, np.float32))


def test_top_patches_field_padding_at_the_border():
    net = red_box_net()
    crops, values, centres = red_block_pool()
    t = top_patches(net, crops, "1", 0, k=5)
    j = t.indices.tolist().index(4)  # the block centred at (1, 1): its 3x3 field fits exactly
    assert t.fields[j].shape == (3, 3, 3)
    crops[4] = 0
    crops[4, 0, 0, 0] = 255  # a corner pixel: the first strongest unit sits at (0, 0), its field leaves the crop
    t = top_patches(net, crops, "1", 0, k=5, inside=False)
    j = t.indices.tolist().index(4)
    assert t.boxes[j] == (-1, -1, 2, 2) and t.patches[j].shape == (2, 2, 3)
    assert t.fields[j].shape == (3, 3, 3) and (t.fields[j][0] == 128).all()
    # inside=True (default): only units whose field lies in the crop; (1, 1) sees the pixel as well
    t = top_patches(net, crops, "1", 0, k=5)
    j = t.indices.tolist().index(4)
    assert t.boxes[j] == (0, 0, 3, 3) and tuple(t.positions[j]) == (1, 1)
    assert t.values[j] == pytest.approx(1 / 9)


def test_inside_excludes_border_maxima():
    net = red_box_net()
    crops = np.zeros((1, 12, 12, 3), np.uint8)
    crops[0, 0:2, 5:8, 0] = 255  # a bright bar at the top border: strongest unit at row 0
    assert tuple(top_patches(net, crops, "1", 0, k=1, inside=False).positions[0]) == (0, 6)
    t = top_patches(net, crops, "1", 0, k=1)
    assert tuple(t.positions[0]) == (1, 6) and t.boxes[0] == (0, 5, 3, 8)


def test_top_patches_distinct_skips_repeated_crops():
    net = red_box_net()
    crops, values, _ = red_block_pool()
    crops = np.concatenate([crops, crops[1:2]])  # crop 5 repeats crop 1
    assert top_patches(net, crops, "1", 0, k=3).indices.tolist() == [1, 3, 2]
    assert top_patches(net, crops, "1", 0, k=3, distinct=False).indices.tolist() == [1, 5, 3]


def test_cache_is_reused_and_batching_does_not_matter():
    net = red_box_net()
    crops, _, _ = red_block_pool()
    cache = PoolCache(net, crops, batch_size=2)
    top_patches(net, crops, "1", 0, k=2, cache=cache)
    stored = cache.values["1"]
    top_patches(net, crops, "1", 1, k=2, cache=cache)
    assert cache.values["1"] is stored  # no second pass over the pool
    full = PoolCache(net, crops, batch_size=64).compute("1")
    assert torch.allclose(full.values["1"], stored, atol=1e-6)


def test_zero_fraction_and_feature_maps_known_answer():
    conv = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    net = nn.Sequential(conv, nn.ReLU()).eval()
    x = torch.tensor([[-1.0, 2.0], [0.5, -3.0]]).repeat(1, 3, 4, 4)  # (1, 3, 8, 8), half of it negative
    x[:, 2] = 1.0  # channel 2 all positive: 1/3 * 0 + 2/3 * 1/2 = 1/3 zeros overall
    assert relu_layers(net) == ["1"]
    assert zero_fraction(net, x) == {"1": pytest.approx(1 / 3)}
    assert zero_fraction(net, x, ["0", "1"])["0"] == 0.0
    maps = feature_maps(net, x, ["1", "0"])
    assert list(maps) == ["1", "0"] and maps["1"].shape == (3, 8, 8)
    assert torch.equal(maps["1"], x[0].clamp(min=0)) and torch.equal(maps["0"], x[0])


def test_vgg_deep_layers_are_sparser(vgg, chelsea_img):
    x = vgg.preprocess(chelsea_img, size=128)
    fr = zero_fraction(vgg, x)
    assert list(fr) == relu_layers(vgg) and len(fr) == 16
    assert fr["relu5_4"] > fr["relu1_1"] + 0.2
    assert np.mean([fr[f"relu5_{i}"] for i in range(1, 5)]) > np.mean([fr[f"relu1_{i}"] for i in (1, 2)]) + 0.2


def test_vgg_top_patches_are_the_strongest_crops(vgg):
    crops, _ = crop_pool(size=48, per_image=3, sources=["chelsea", "coffee", "astronaut"])
    t = top_patches(vgg, crops, "relu3_2", 7, k=4)
    assert np.all(np.diff(t.values) <= 0) and t.values[0] == t.pool_values.max()
    assert t.values[-1] >= np.median(t.pool_values)
    best = feature_maps(vgg, vgg.preprocess(crops[t.indices[0]], size=0), "relu3_2")["relu3_2"][7]
    assert float(best.max()) == pytest.approx(float(t.values[0]), rel=1e-4)
    assert all(p.shape[0] <= 32 and p.shape[1] <= 32 for p in t.patches)  # the 32 px receptive field
    assert all(f.shape == (32, 32, 3) for f in t.fields)


def test_effnet_block_outputs_are_dense(effnet, chelsea_img):
    x = effnet.preprocess(chelsea_img, size=96)
    fr = zero_fraction(effnet, x, ["blocks.3", "bn2"])
    assert fr["blocks.3"] < 0.01 < fr["bn2"]  # linear bottleneck vs ReLU6
    with pytest.raises(ValueError, match="no nn.ReLU"):
        zero_fraction(effnet, x)


def _call(method: str, model, layer: str):
    if method == "feature_maps":
        return lambda: feature_maps(model, model.preprocess(np.full((40, 40, 3), 0.5, np.float32), size=0), layer)
    if method == "zero_fraction":
        return lambda: zero_fraction(model, model.preprocess(np.full((40, 40, 3), 0.5, np.float32), size=0), [layer])
    crops = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    return lambda: top_patches(model, crops, layer, 0, k=2)


GRID = [("vgg", "relu1_2"), ("vgg", "relu3_2"), ("effnet", "blocks.3"), ("effnet", "bn2")]


@pytest.mark.parametrize("method", ["feature_maps", "zero_fraction", "top_patches"])
@pytest.mark.parametrize("which, layer", GRID)
def test_hygiene(method, which, layer, request):
    model = request.getfixturevalue(which)
    assert_leaves_model_clean(model, _call(method, model, layer))


def test_hygiene_inplace_tiny_cnn(tiny_cnn):
    crops = np.random.default_rng(0).integers(0, 256, (4, 10, 10, 3), dtype=np.uint8)
    assert_leaves_model_clean(tiny_cnn, lambda: top_patches(tiny_cnn, crops, "act", 1, k=2))
    assert_leaves_model_clean(tiny_cnn, lambda: zero_fraction(tiny_cnn, torch.rand(2, 3, 10, 10), ["act"]))
    assert tiny_cnn.act.inplace  # restored


@pytest.mark.parametrize("method", ["feature_maps", "zero_fraction", "top_patches"])
def test_unknown_layer(vgg, method):
    assert_raises_and_leaves_clean(vgg, _call(method, vgg, "relu3_22"), ValueError, "Unknown layer.*relu3_2")


def test_bad_inputs(vgg):
    crops = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    bad = [
        (lambda: top_patches(vgg, crops, "relu1_2", 64, k=2), ValueError, "channel 64 out of range.*64 channels"),
        (lambda: top_patches(vgg, crops, "relu1_2", -1, k=2), ValueError, "out of range"),
        (lambda: top_patches(vgg, crops, "relu1_2", 1.0, k=2), TypeError, "channel must be an int"),
        (lambda: top_patches(vgg, crops, "relu1_2", 0, k=4), ValueError, "larger than the pool"),
        (lambda: top_patches(vgg, crops, "relu1_2", 0, k=0), ValueError, "positive"),
        (lambda: top_patches(vgg, crops[:0], "relu1_2", 0), ValueError, "empty"),
        (lambda: top_patches(vgg, crops[..., 0], "relu1_2", 0), ValueError, "shape"),
        (lambda: top_patches(vgg, crops.astype(np.float32), "relu1_2", 0, k=2), ValueError, r"\[0, 1\]"),
        (lambda: top_patches(vgg, crops, "relu1_2", 0, k=2, cache=PoolCache(vgg, crops.copy())), ValueError, "another"),
        (lambda: feature_maps(vgg, torch.zeros(3, 32, 32), "relu1_2"), ValueError, "shape"),
        (lambda: feature_maps(vgg, torch.zeros(2, 3, 32, 32), "relu1_2"), ValueError, "shape"),
        (lambda: zero_fraction(vgg, torch.zeros(1, 3, 32, 32), []), ValueError, "at least one layer"),
        (lambda: PoolCache(vgg, crops, batch_size=0), ValueError, "batch_size"),
        (
            lambda: top_patches(vgg, crops, "relu1_2", 0, k=2, inside=False, cache=PoolCache(vgg, crops)),
            ValueError,
            "inside",
        ),
    ]
    for call, exc, match in bad:
        assert_raises_and_leaves_clean(vgg, call, exc, match)


def test_feature_maps_rejects_vector_layers(effnet, chelsea):
    assert_raises_and_leaves_clean(effnet, lambda: feature_maps(effnet, chelsea, "classifier"), ValueError, "not a")


def test_activation_plots():
    maps = torch.zeros(5, 4, 6)
    maps[1, 2, 3] = 2.0
    mosaic = plot.activation_mosaic_array(maps, ncols=3)
    assert mosaic.shape == (2 * 5 + 1, 3 * 7 + 1)
    assert np.isnan(mosaic[0]).all() and np.isneginf(mosaic[6:10, 15:21]).all()  # separators, unused 6th tile
    assert mosaic[1 + 2, 8 + 3] == 2.0
    small = plot.activation_mosaic_array(torch.rand(2, 40, 40), max_tile=10)
    assert small.shape == (1 * 11 + 1, 2 * 11 + 1)  # 2 tiles of 10 x 10 in one row
    figs = [
        plot.activation_mosaic(maps),
        plot.activation_layers(np.zeros((8, 8, 3)), {"a": maps, "b": torch.rand(3, 2, 2)}, allow_blank=True),
        plot.sparsity_plot({"x": {"relu1_1": 0.2, "relu5_4": 0.9}}),
        plot.patch_rows({"unit": ([np.zeros((4, 4, 3))] * 2, [3.0, 2.0])}, suptitle="t", allow_blank=True),
        plot.unit_view(
            np.zeros((16, 16, 3)), np.random.rand(4, 4), [np.zeros((4, 4, 3))] * 4, [4, 3, 2, 1], allow_blank=True
        ),
    ]
    assert all(isinstance(f, plt.Figure) for f in figs)
    plt.close("all")
    with pytest.raises(ValueError, match="C, h, w"):
        plot.activation_mosaic(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="values"):
        plot.patch_rows({"unit": ([np.zeros((4, 4, 3))], [1.0, 2.0])})


# --- at most one crop per source photo (issue #17): `groups=` ---------------------------------------------------


def three_of_one_photo_pool() -> tuple[np.ndarray, list[str]]:
    """6 crops of 3 'photos': photo a's three crops are the three brightest (250, 240, 230); b: 200, 50; c: 120."""
    values = [250, 240, 230, 200, 50, 120]
    groups = ["a", "a", "a", "b", "b", "c"]
    crops = np.zeros((6, 12, 12, 3), np.uint8)
    for i, v in enumerate(values):
        crops[i, 5:8, 5:8, 0] = v
    return crops, groups


def test_top_patches_groups_takes_one_crop_per_photo():
    net = red_box_net()
    crops, groups = three_of_one_photo_pool()
    plain = top_patches(net, crops, "1", 0, k=3)
    assert plain.indices.tolist() == [0, 1, 2] and plain.groups is None  # the top 3: three crops of photo a
    t = top_patches(net, crops, "1", 0, k=3, groups=groups)
    assert t.indices.tolist() == [0, 3, 5]  # the best crop of a (250), of b (200), of c (120)
    assert t.groups == ["a", "b", "c"]
    assert np.allclose(t.values, np.array([250, 200, 120]) / 255, atol=1e-6)
    assert np.allclose(t.pool_values, np.array([250, 240, 230, 200, 50, 120]) / 255, atol=1e-6)  # all crops
    # numpy labels and the cache give the same answer; groups=None is the old ranking
    cache = PoolCache(net, crops)
    assert top_patches(net, crops, "1", 0, k=3, groups=np.array(groups), cache=cache).indices.tolist() == [0, 3, 5]
    assert strongest(torch.tensor([0.9, 0.8, 0.7, 0.6]), 2, groups=[1, 1, 2, 2]) == [0, 2]


def test_groups_and_distinct_together():
    # photo a: 5 and a repeat of b's value 4 at index 1; b: 4; c: 3 -> one per photo, and no two equal values
    values = torch.tensor([5.0, 4.0, 4.0, 3.0])
    assert strongest(values, 3, groups=["a", "a", "b", "c"]) == [0, 2, 3]
    assert strongest(values, 3, groups=["a", "b", "c", "d"]) == [0, 1, 3]  # distinct skips the repeated 4
    assert strongest(values, 3, groups=["a", "b", "c", "d"], distinct=False) == [0, 1, 2]
    # fewer distinct values than k: the skipped fill up, still one per group
    assert strongest(torch.tensor([2.0, 2.0, 2.0, 1.0]), 3, groups=["a", "b", "b", "c"]) == [0, 1, 3]


def test_groups_bad_inputs_are_named():
    net = red_box_net()
    crops, groups = three_of_one_photo_pool()
    bad = [
        (lambda: top_patches(net, crops, "1", 0, k=4, groups=groups), ValueError, "k=4 but groups names only 3"),
        (lambda: top_patches(net, crops, "1", 0, k=2, groups=groups[:5]), ValueError, "groups must hold one label"),
        (lambda: top_patches(net, crops, "1", 0, k=2, groups="aaabbc"), TypeError, "groups must be a sequence"),
        (lambda: top_patches(net, crops, "1", 0, k=2, groups=[[1]] * 6), TypeError, "hashable"),
        (lambda: strongest(torch.ones(3), 4), ValueError, "k=4 is larger"),
        (lambda: strongest(torch.ones(3), 1.5), TypeError, "k must be an integer"),
    ]
    for call, exc, match in bad:
        with pytest.raises(exc, match=match):
            call()


def test_vgg_top_patches_from_pool_photos_one_per_photo(vgg):
    from lecture_utils.photos import photo_names

    names = photo_names(n=6, seed=1)
    crops, labels = crop_pool(size=40, per_image=3, sources=names, seed=2)
    assert len(crops) == 18 and set(labels) == set(names)
    state = (torch.random.get_rng_state(), np.random.get_state()[1].copy())
    assert_leaves_model_clean(vgg, lambda: top_patches(vgg, crops, "relu2_2", 5, k=6, groups=labels))
    t = top_patches(vgg, crops, "relu2_2", 5, k=6, groups=labels)
    assert sorted(t.groups) == sorted(names)  # six crops, six photos
    assert [labels[i] for i in t.indices] == t.groups and np.all(np.diff(t.values) <= 0)
    best = {g: max(v for v, lab in zip(t.pool_values, labels) if lab == g) for g in names}
    assert np.allclose(t.values, [best[g] for g in t.groups])  # each photo's strongest crop
    assert torch.equal(state[0], torch.random.get_rng_state()) and np.array_equal(state[1], np.random.get_state()[1])
