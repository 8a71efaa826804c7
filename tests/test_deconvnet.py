"""The explicit deconvnet (lecture_utils.deconvnet): hand-computed unpooling, equality with the
autograd deconvnet rule on VGG19, receptive fields, top patches, hygiene and bad input."""

import numpy as np
import pytest
import torch
from torch import nn

from lecture_utils.backprop import deconvnet_backprop
from lecture_utils.deconvnet import (
    PoolActivations,
    channel_maxima,
    crop_box,
    deconvnet_projection,
    deconvnet_projections,
    enhance_projection,
    projection_concentration,
    receptive_field,
    selective_channels,
    top_patches,
    unit_gallery,
)
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def tiny_vgg():
    conv = nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.fill_(-0.5)  # the bias must not enter the projection
    net = nn.Sequential()
    net.add_module("conv", conv)
    net.add_module("relu", nn.ReLU())
    net.add_module("pool", nn.MaxPool2d(2, 2))
    return net.eval()


def test_unpooling_by_hand():
    net = tiny_vgg()
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0] = torch.arange(64.0).view(8, 8) % 7  # channel sums = red channel
    # pooled map (4x4); its maximum 6 first appears in the 2x2 window at rows 0-1, cols 4-5?
    proj = deconvnet_projection(net, x, "pool", 0)
    fmap = net(x)[0, 0]
    r, c = divmod(int(fmap.argmax()), 4)
    window = (x[0, 0] - 0.5)[2 * r : 2 * r + 2, 2 * c : 2 * c + 2]
    wr, wc = divmod(int(window.argmax()), 2)
    expected = torch.zeros(8, 8)
    expected[2 * r + wr, 2 * c + wc] = fmap.max()  # the activation goes back to its switch position
    # transposed 1x1 conv with weight 1 copies it to all three input channels (no bias)
    assert torch.equal(proj[0], expected.expand(3, 8, 8))


def test_unpooling_chooses_the_switch_not_the_window_corner():
    net = tiny_vgg()
    x = torch.zeros(1, 3, 8, 8)
    x[0, 1, 1, 0] = 3.0  # window (0,0): max at (1,0)
    x[0, 2, 2, 3] = 2.0  # window (1,1): max at (2,3)
    proj = deconvnet_projection(net, x, "pool", 0, position=(1, 1))
    assert proj[0, 0].nonzero().tolist() == [[2, 3]] and float(proj[0, 0, 2, 3]) == 1.5
    proj = deconvnet_projection(net, x, "pool", 0)  # default: strongest activation, window (0,0)
    assert proj[0, 0].nonzero().tolist() == [[1, 0]] and float(proj[0, 0, 1, 0]) == 2.5


def test_rectification_of_the_backward_signal():
    # colour sum (1x1 conv) -> ReLU -> 3x3 conv with +1 at the centre and -1 right of it:
    # unit(p) = r(p) - r(p + right). Projecting it sends +v to p and -v to p + right; the
    # deconvnet rectifies at the ReLU, so only p survives, while the plain gradient keeps both.
    c1, c2 = nn.Conv2d(3, 1, 1, bias=False), nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        c1.weight.fill_(1.0)
        c2.weight.zero_()
        c2.weight[0, 0, 1, 1] = 1.0
        c2.weight[0, 0, 1, 2] = -1.0
    net = nn.Sequential()
    for name, m in [("c1", c1), ("r1", nn.ReLU()), ("c2", c2)]:
        net.add_module(name, m)
    x = torch.ones(1, 3, 8, 8)
    x[0, :, 2, 2] = 3.0  # r = 3 everywhere, 9 at (2, 2): unit(2, 2) = 6, the strongest
    proj = deconvnet_projection(net, x, "c2", 0, position=(2, 2))
    expected = torch.zeros(1, 3, 8, 8)
    expected[0, :, 2, 2] = 6.0
    assert torch.equal(proj, expected)
    assert torch.equal(deconvnet_backprop(net, x, None, layer="c2", channel=0) * 6.0, expected)
    plain = torch.zeros(1, 3, 8, 8)
    plain[0, :, 2, 2], plain[0, :, 2, 3] = 1.0, -1.0
    x_ = x.clone().requires_grad_(True)
    net(x_)[0, 0, 2, 2].backward()
    assert torch.equal(x_.grad, plain)


@pytest.mark.parametrize("layer", ["relu2_2", "pool2", "conv3_1", "relu4_1", "relu5_4"])
def test_explicit_deconvnet_equals_autograd_rule(vgg, chelsea_img, layer):
    x = vgg.preprocess(chelsea_img, size=96)
    strongest = channel_maxima(vgg, x, [layer]).values[layer][0].argsort(descending=True)
    for channel in (int(strongest[0]), int(strongest[5])):
        proj = deconvnet_projection(vgg, x, layer, channel)
        with torch.no_grad():
            value = vgg.net[: vgg.layers.index(layer) + 1](x)[0, channel].max()
        auto = deconvnet_backprop(vgg, x, None, layer=layer, channel=channel) * value
        assert value > 0
        assert proj.abs().max() > 0
        assert torch.allclose(proj, auto, rtol=1e-4, atol=1e-5 * float(auto.abs().max())), (layer, channel)


def test_batched_projections_match_single(vgg, chelsea_img):
    cat = vgg.preprocess(
        chelsea_img, size=48
    )  # a real image: the unit below is active (a noise image may leave it at 0)
    x = torch.cat([cat, cat.flip(-1)])
    with torch.no_grad():
        a = vgg.net[: vgg.layers.index("relu3_1") + 1](x)[:, 5]  # (2, 12, 12)
    (r0, c0), (r1, c1) = [divmod(int(m.argmax()), a.shape[-1]) for m in a]  # each image's strongest unit
    proj, values = deconvnet_projections(vgg, x, "relu3_1", 5, positions=[(r0, c0), (r1, c1)])
    one = deconvnet_projection(vgg, x[1:], "relu3_1", 5, position=(r1, c1))
    assert torch.allclose(proj[1:], one, atol=1e-5 * float(one.abs().max())) and values.shape == (2,)
    assert one.abs().max() > 0


def test_receptive_field_sizes_and_support(vgg):
    sides = {"conv1_1": 3, "relu2_2": 14, "pool2": 16, "relu3_4": 48, "relu4_4": 116}
    for layer, side in sides.items():
        top, left, bot, right = receptive_field(vgg, layer, (0, 0))
        assert bot - top == side and right - left == side, layer
    # the field is tight: the projection's support fills it exactly for an interior unit
    x = vgg.preprocess(torch.rand(3, 96, 96), size=0)
    proj = deconvnet_projection(vgg, x, "conv3_1", 0, position=(10, 12))
    rows, cols = proj[0].abs().sum(0).nonzero(as_tuple=True)
    top, left, bot, right = receptive_field(vgg, "conv3_1", (10, 12))
    assert (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1) == (top, left, bot, right)
    assert crop_box(np.zeros((96, 96, 3)), (-5, 90, 10, 120)).shape == (10, 6, 3)


def test_top_patches_sorted_distinct_and_gallery(vgg):
    crops = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    crops[5] = crops[4]  # a duplicate patch is shown once
    images = vgg.preprocess(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255, size=0)
    acts = channel_maxima(vgg, images, ["relu2_1", "relu3_1"], batch_size=5)
    assert acts.values["relu3_1"].shape == (12, 256) and acts.positions["relu2_1"].shape == (12, 128, 2)
    idx, vals = top_patches(acts, "relu2_1", 7, k=11)
    assert not {4, 5} <= set(idx.tolist()) and len(idx) == 11
    assert np.all(np.diff(vals) <= 0) and vals[0] == acts.values["relu2_1"][:, 7].max()
    ch = selective_channels(acts, "relu3_1", n=3)
    assert len(set(ch)) == 3
    g = unit_gallery(vgg, crops, images, acts, "relu2_1", 7, k=4)
    assert len(g.projections) == len(g.patches) == 4
    assert g.projections[0].shape == g.patches[0].shape[:2] + (3,) and g.projections[0].shape[0] <= 10
    assert len(g.signed) == 4 and g.signed[0].shape == g.projections[0].shape
    for shown, raw in zip(g.projections, g.signed):  # each projection enhanced on its own
        assert np.allclose(shown, enhance_projection(raw))
    plain = unit_gallery(vgg, crops, images, acts, "relu2_1", 7, k=4, percentile=100.0)
    assert np.allclose(plain.signed[0], g.signed[0])
    assert np.abs(plain.projections[0] - 0.5).max() <= 0.5 + 1e-12


def test_enhance_projection_per_projection_percentile():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(20, 20, 3))
    shown = enhance_projection(p, percentile=99.0)
    scale = np.percentile(np.abs(p), 99.0)
    assert np.allclose(shown, np.clip(0.5 + 0.5 * p / scale, 0, 1))
    assert np.isclose((np.abs(shown - 0.5) >= 0.5 - 1e-12).mean(), 0.01, atol=0.002)  # about 1 % clipped
    # each projection on its own: a projection 1000x weaker looks the same
    assert np.allclose(enhance_projection(p * 1e-3), shown)
    linear = enhance_projection(p, percentile=100.0)  # the plain display: nothing clipped
    assert np.isclose(np.abs(linear - 0.5).max(), 0.5) and np.allclose(linear, 0.5 + 0.5 * p / np.abs(p).max())
    assert np.all(enhance_projection(np.zeros((4, 4, 3))) == 0.5)
    with pytest.raises(ValueError, match="percentile"):
        enhance_projection(p, percentile=0.0)
    with pytest.raises(ValueError, match="shape"):
        enhance_projection(p[..., 0])


def test_projection_concentration():
    blob = np.zeros((30, 30, 3))
    blob[10:14, 5:9] = -2.0  # signed: the energy is |values|
    assert projection_concentration(blob) == 1.0
    flat = np.ones((30, 30, 3))
    assert np.isclose(projection_concentration(flat), 0.01 * 100 / 9, atol=1e-12)  # a 10x10 window of 30x30
    half = flat.copy()
    half[:, 15:] = 0
    assert np.isclose(projection_concentration(half), 100 / 450)
    assert projection_concentration(np.zeros((8, 8, 3))) == 0.0
    with pytest.raises(ValueError, match="fraction"):
        projection_concentration(flat, fraction=1.5)


def test_hygiene_and_bad_input(vgg, tiny_cnn):
    x = vgg.preprocess(torch.rand(3, 32, 32), size=0)
    for layer in ["conv1_1", "relu3_2", "pool4"]:
        assert_leaves_model_clean(vgg, lambda layer=layer: deconvnet_projection(vgg, x, layer, 0))
    bad = lambda call, exc, match: assert_raises_and_leaves_clean(vgg, call, exc, match)
    bad(lambda: deconvnet_projection(vgg, x, "relu6_1", 0), ValueError, "Unknown layer")
    bad(lambda: deconvnet_projection(vgg, x, "relu5_1", 512), ValueError, "out of range")
    bad(lambda: deconvnet_projection(vgg, x, "relu5_1", -1), ValueError, "out of range")
    bad(lambda: deconvnet_projection(vgg, x, "relu5_1", 1.5), TypeError, "int")
    bad(lambda: deconvnet_projection(vgg, x, "conv1_1", 0, position=(32, 0)), ValueError, "outside")
    bad(lambda: deconvnet_projection(vgg, x[0], "conv1_1", 0), ValueError, "shape")

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 3)

    with pytest.raises(ValueError, match="Sequential"):
        deconvnet_projection(Wrapped(), x, "conv", 0)
    with pytest.raises(ValueError, match="ReLU6"):  # a ReLU6 clips: not a deconvnet layer
        deconvnet_projection(tiny_cnn, x, "pool", 0)
    acts = PoolActivations({"relu1_1": torch.zeros(2, 64)}, {"relu1_1": torch.zeros(2, 64, 2)})
    with pytest.raises(ValueError, match="not recorded"):
        top_patches(acts, "relu2_1", 0)
    with pytest.raises(ValueError, match="k must"):
        top_patches(acts, "relu1_1", 0, k=0)


def test_top_patches_take_at_most_one_crop_per_source_photo():
    # channel 0: the three strongest crops come from photo "a"; with groups the top 3 are a, b, c
    v = torch.tensor([[9.0], [8.0], [7.0], [3.0], [2.0], [1.0]])
    acts = PoolActivations({"relu1_1": v}, {"relu1_1": torch.zeros(6, 1, 2)})
    idx, vals = top_patches(acts, "relu1_1", 0, k=3)
    assert idx.tolist() == [0, 1, 2]
    idx, vals = top_patches(acts, "relu1_1", 0, k=3, groups=["a", "a", "a", "b", "c", "b"])
    assert idx.tolist() == [0, 3, 4] and vals.tolist() == [9.0, 3.0, 2.0]
    with pytest.raises(ValueError, match="only 2 different sources"):
        top_patches(acts, "relu1_1", 0, k=3, groups=["a", "a", "a", "b", "b", "b"])
    with pytest.raises(ValueError, match="one label per crop"):
        top_patches(acts, "relu1_1", 0, k=3, groups=["a", "b", "c"])
