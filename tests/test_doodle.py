"""Neural doodles: label maps and masks, segmentation helpers, the masked Gram method (lecture 17)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lecture_utils import doodle
from lecture_utils.images import load_image
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# --------------------------------------------------------------------------- label maps and masks


def test_label_masks_known_answer():
    seg = np.array([[0, 2], [2, 1]])
    m = doodle.label_masks(seg)
    assert m.shape == (3, 1, 2, 2) and m.dtype == torch.float32
    assert m[:, 0].tolist() == [
        [[1, 0], [0, 0]],
        [[0, 0], [0, 1]],
        [[0, 1], [1, 0]],
    ]
    # every pixel belongs to exactly one mask
    assert torch.equal(m.sum(0), torch.ones(1, 2, 2))
    # chosen labels and order; a label that does not occur gives an empty mask
    m2 = doodle.label_masks(torch.tensor(seg), labels=[2, 5])
    assert m2[:, 0].tolist() == [[[0, 1], [1, 0]], [[0, 0], [0, 0]]]
    # one-hot masks (K, H, W) are taken as they are: label k = channel k
    assert torch.equal(doodle.label_masks(m[:, 0].numpy()), m)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(4), "label map \\(H, W\\)"),
        (np.array([[0.5, 1.0]]), "integer labels"),
        (np.array([[-1, 0]]), "integer labels"),
        (np.array([["a", "b"]]), "numeric"),
        (-np.ones((2, 3, 3)), "weights >= 0"),
    ],
)
def test_label_masks_rejects_bad_segments(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        doodle.label_masks(bad)


def test_resize_masks_area_and_bilinear():
    m = torch.zeros(2, 1, 4, 4)
    m[0, 0, :2, :2] = 1  # the top-left quarter
    m[1, 0, 3, 3] = 1  # one pixel
    small = doodle.resize_masks(m, 2)
    assert small.shape == (2, 1, 2, 2)
    assert small[0, 0].tolist() == [[1, 0], [0, 0]]
    # a cell's value is the share of the cell that the region covers
    assert small[1, 0].tolist() == [[0, 0], [0, 0.25]]
    big = doodle.resize_masks(m, (8, 6))
    assert big.shape == (2, 1, 8, 6) and big.min() >= 0 and big.max() <= 1
    with pytest.raises(ValueError, match="size"):
        doodle.resize_masks(m, (0, 3))
    with pytest.raises(ValueError, match="\\(K, 1, H, W\\)"):
        doodle.resize_masks(m[:, 0], 2)


def test_resize_labels_keeps_blocks_and_invents_no_label():
    seg = np.array([[0, 0, 3, 3], [0, 0, 3, 3], [1, 1, 1, 1], [1, 1, 1, 1]])
    up = doodle.resize_labels(seg, (8, 8))
    assert up.dtype == np.int64 and up.shape == (8, 8)
    assert (up == seg.repeat(2, 0).repeat(2, 1)).all()
    down = doodle.resize_labels(up, (4, 4))
    assert (down == seg).all()
    # odd sizes: only existing labels, each region roughly where it was
    odd = doodle.resize_labels(seg, (5, 7))
    assert set(np.unique(odd)) == {0, 1, 3}
    assert odd[0, 0] == 0 and odd[0, -1] == 3 and odd[-1, 3] == 1


# --------------------------------------------------------------------------- doodles and segmentation


def test_draw_doodle_layout():
    plain = doodle.draw_doodle((10, 6), horizon=0.5, hill_height=0, shore=0, labels=(4, 5, 6))
    assert (plain[:5] == 4).all() and (plain[5:] == 5).all()
    d = doodle.draw_doodle((20, 40), horizon=0.3, hill_x=0.25, hill_width=0.4, hill_height=0.8, shore=0.1)
    assert (d[0] == 0).all()  # sky at the top
    assert (d[-2:] == 2).all()  # the shore strip
    assert d[5, 10] == 2  # the hill rises above the horizon on the left...
    assert d[10, 35] == 1  # ...while the right is sea
    for kwargs in ({"horizon": 1.5}, {"hill_x": -0.1}, {"labels": (0, 1)}):
        with pytest.raises(ValueError):
            doodle.draw_doodle((20, 20), **kwargs)
    with pytest.raises(TypeError, match="shore"):  # a wrong type (the error policy: TypeError)
        doodle.draw_doodle((20, 20), shore="low")


def _three_bands(colors):
    img = np.zeros((30, 40, 3))
    for i, c in enumerate(colors):
        img[10 * i : 10 * (i + 1)] = c
    return img


def test_color_segments_finds_bands_numbered_top_down():
    blue, teal, brown = (0.4, 0.6, 0.9), (0.1, 0.5, 0.5), (0.5, 0.35, 0.1)
    rows = np.repeat([0, 1, 2], 10)[:, None].repeat(40, 1)
    for colors in ((blue, teal, brown), (brown, blue, teal)):
        seg = doodle.color_segments(_three_bands(colors), k=3, width=20)
        assert seg.shape == (30, 40)
        # labels are numbered by height whatever the colours are
        assert (seg == rows).mean() > 0.95
    assert doodle.color_segments(_three_bands((blue, teal, brown)), size=(6, 8)).shape == (6, 8)
    with pytest.raises(ValueError, match="k must be"):
        doodle.color_segments(_three_bands((blue, teal, brown)), k=1)


def test_mean_colors_and_nearest_color_segments():
    colors = [(0.4, 0.6, 0.9), (0.1, 0.5, 0.5), (0.5, 0.35, 0.1)]
    img = _three_bands(colors)
    rows = np.repeat([0, 1, 2], 10)[:, None].repeat(40, 1)
    means = doodle.segment_mean_colors(img, rows)
    assert sorted(means) == [0, 1, 2]
    for k, c in enumerate(colors):
        assert np.allclose(means[k], c)
    # labelling by the nearest mean colour recovers the bands (up to the blurred boundaries)
    assert (doodle.nearest_color_segments(img, means, width=40) == rows).mean() > 0.95
    with pytest.raises(ValueError, match="segments are"):
        doodle.segment_mean_colors(img, rows[:5])


# --------------------------------------------------------------------------- the method on VGG19


@pytest.fixture(scope="module")
def painting(vgg):
    img = load_image("monet_cliff_walk_pourville")
    style = vgg.preprocess(img, size=(32, 40), crop=False)
    seg = doodle.color_segments(img, k=3, size=(32, 40))
    target = doodle.draw_doodle((32, 32), horizon=0.4, hill_x=0.3, hill_width=0.5, hill_height=0.5)
    return style, seg, target


LAYERS = ["relu1_1", "relu2_1"]


def test_painting_segments_cover_sky_sea_land(painting):
    _, seg, target = painting
    assert set(np.unique(seg)) == {0, 1, 2} == set(np.unique(target))
    assert (seg[0] == 0).mean() > 0.8  # the top row is sky


def test_segment_losses_zero_for_the_painting_itself(vgg, painting):
    style, seg, _ = painting
    own = doodle.segment_losses(vgg, style, style, seg, seg, layers=LAYERS)
    assert sorted(own) == [0, 1, 2]
    assert max(own.values()) < 1e-6
    # laid out with sky and sea swapped, the same picture no longer matches
    swapped = np.where(seg == 0, 1, np.where(seg == 1, 0, seg))
    wrong = doodle.segment_losses(vgg, style, style, seg, swapped, layers=LAYERS)
    assert wrong[0] > 0.01 and wrong[1] > 0.01


def test_region_distances(vgg, painting):
    style, seg, _ = painting
    labels, d = doodle.region_distances(vgg, style, seg, layers=LAYERS)
    assert labels == [0, 1, 2] and d.shape == (3, 3)
    assert np.allclose(np.diag(d), 0, atol=1e-6)
    assert (d[~np.eye(3, dtype=bool)] > 0.01).all()


def test_tiny_optimization_lowers_the_masked_loss(vgg, painting):
    style, seg, target = painting
    res = doodle.neural_doodle(vgg, style, seg, target, layers=LAYERS, steps=30, lr=0.1, snapshots=[1, 30])
    assert res.image.shape == (32, 32, 3)
    assert sorted(res.snapshots) == [1, 30]
    assert res.final["style"] < 0.3 * res.start["style"]
    assert res.values[-1] < res.values[0]
    for k in (0, 1, 2):
        assert res.segments_final[k] < 0.5 * res.segments_start[k]
    # the reported per-segment losses agree with segment_losses on the result
    again = doodle.segment_losses(vgg, vgg.preprocess(res.image, size=0), style, seg, target, layers=LAYERS)
    for k in again:
        assert again[k] == pytest.approx(res.segments_final[k], rel=1e-3, abs=1e-5)
    # the unmasked baseline matches the whole painting's Gram matrices, not the regions'
    base = doodle.neural_doodle(vgg, style, seg, target, layers=LAYERS, steps=30, lr=0.1, masked=False)
    assert sum(res.segments_final.values()) < 0.7 * sum(base.segments_final.values())
    # and the masked result's sky is bluer / lighter than its land, as in the painting
    colors = doodle.segment_mean_colors(res.image, target)
    assert colors[0][2] > colors[2][2]


def test_one_hot_masks_give_the_same_result_as_label_maps(vgg, painting):
    style, seg, target = painting
    a = doodle.neural_doodle(vgg, style, seg, target, layers=LAYERS, steps=3)
    b = doodle.neural_doodle(
        vgg, style, doodle.label_masks(seg)[:, 0], doodle.label_masks(target)[:, 0].numpy(), layers=LAYERS, steps=3
    )
    assert np.allclose(a.image, b.image, atol=1e-5)


def test_tv_and_init(vgg, painting):
    style, seg, target = painting
    init = torch.full((1, 3, 32, 32), 0.5)
    res = doodle.neural_doodle(vgg, style, seg, target, layers=LAYERS, steps=2, tv=0.1, init=init)
    assert res.start["tv"] == pytest.approx(0.0, abs=1e-4)  # a flat grey start has no variation
    assert res.final["total"] == pytest.approx(res.final["style"] + 0.1 * res.final["tv"], rel=1e-4)


@pytest.mark.parametrize("layer", ["relu1_1", "relu3_1", "conv2_2"])
@pytest.mark.parametrize("method", ["masked", "unmasked", "segment_losses", "region_distances"])
def test_methods_leave_vgg_clean(vgg, painting, method, layer):
    style, seg, target = painting
    calls = {
        "masked": lambda: doodle.neural_doodle(vgg, style, seg, target, layers=[layer], steps=2),
        "unmasked": lambda: doodle.neural_doodle(vgg, style, seg, target, layers=[layer], steps=2, masked=False),
        "segment_losses": lambda: doodle.segment_losses(vgg, style, style, seg, seg, layers=[layer]),
        "region_distances": lambda: doodle.region_distances(vgg, style, seg, layers=[layer]),
    }
    assert_leaves_model_clean(vgg, calls[method])


@pytest.mark.parametrize(
    "change, match",
    [
        ({"style_segments": "short"}, "style_segments is 31x40 but the style image is 32x40"),
        ({"target_segments": "new label"}, "label\\(s\\) \\[7\\] that do not occur in style_segments"),
        ({"layers": ["relu9_1"]}, "relu9_1"),
        ({"target_segments": "1-D"}, "label map \\(H, W\\)"),
        ({"target_segments": "tiny"}, "at least 8x8"),
        ({"steps": 0}, "steps"),
        ({"tv": -1.0}, "tv"),
        ({"init": "wrong"}, "init must be"),
    ],
)
def test_bad_inputs_raise_and_leave_vgg_clean(vgg, painting, change, match):
    style, seg, target = painting
    kwargs = {"layers": LAYERS, "steps": 2}
    args = {"style_segments": seg, "target_segments": target}
    key, value = next(iter(change.items()))
    if value == "short":
        args[key] = seg[1:]
    elif value == "new label":
        args[key] = np.where(target == 2, 7, target)
    elif value == "1-D":
        args[key] = target.ravel()
    elif value == "tiny":
        args[key] = target[:4, :4]
    elif value == "wrong":
        kwargs[key] = torch.rand(1, 3, 16, 16)
    else:
        kwargs[key] = value
    call = lambda: doodle.neural_doodle(vgg, style, args["style_segments"], args["target_segments"], **kwargs)  # noqa: E731
    assert_raises_and_leaves_clean(vgg, call, ValueError, match)


def test_other_functions_reject_bad_inputs(vgg, effnet, painting):
    style, seg, target = painting
    # masked="yes" is a wrong type (the error policy: TypeError)
    assert_raises_and_leaves_clean(
        vgg, lambda: doodle.neural_doodle(vgg, style, seg, target, layers=LAYERS, masked="yes"), TypeError, "masked"
    )
    with pytest.raises(TypeError, match="ZooModel"):
        doodle.neural_doodle(vgg.net, style, seg, target)
    assert_raises_and_leaves_clean(
        vgg, lambda: doodle.segment_losses(vgg, style, style, seg, target, layers=LAYERS), ValueError, "image is 32x40"
    )
    assert_raises_and_leaves_clean(
        vgg, lambda: doodle.region_distances(vgg, style, seg[:, 1:], layers=LAYERS), ValueError, "style_segments is"
    )
    assert_raises_and_leaves_clean(
        vgg, lambda: doodle.neural_doodle(vgg, style[0], seg, target), ValueError, "style must have shape"
    )


def test_color_init():
    seg = np.array([[0, 0, 1], [2, 2, 1]] * 4)
    colors = {0: (1.0, 0.0, 0.0), 1: (0.0, 1.0, 0.0), 2: (0.2, 0.4, 0.6)}
    flat = doodle.color_init(seg, colors, noise=0)
    assert flat.shape == (1, 3, 8, 3)
    assert flat[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0] and flat[0, :, 0, 2].tolist() == [0.0, 1.0, 0.0]
    assert torch.allclose(flat[0, :, 1, 0], torch.tensor([0.2, 0.4, 0.6]))
    noisy = doodle.color_init(seg, colors, noise=0.05, seed=1)
    assert 0 < (noisy - flat).abs().mean() < 0.06 and noisy.min() >= 0 and noisy.max() <= 1
    assert torch.equal(noisy, doodle.color_init(seg, colors, noise=0.05, seed=1))  # seeded
    with pytest.raises(ValueError, match="no colour for label\\(s\\) \\[2\\]"):
        doodle.color_init(seg, {0: (1, 0, 0), 1: (0, 1, 0)})
