"""Occlusion sensitivity (notebook 10): hand-computed answers on a tiny net, batched == unbatched,
a check on the real EfficientNet-Lite0, bad input and hook/state hygiene."""

from collections import OrderedDict

import pytest
import torch
from torch import nn

from lecture_utils.occlusion import (
    fill_value,
    occlusion,
    occlusion_cost,
    occlusion_pixel_map,
    occlusion_positions,
    occlusion_sweep,
    strongest_channel,
)
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def mean_red_net() -> nn.Sequential:
    """logit_0 = mean of the red channel, logit_1 = 1 (a constant): p_0 = sigmoid(mean_R - 1).
    Layer "feat" (1 channel) is the red channel itself, followed by an in-place ReLU6-free path."""
    conv = nn.Conv2d(3, 1, 1, bias=False)
    fc = nn.Linear(1, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
        fc.weight.copy_(torch.tensor([[1.0], [0.0]]))
        fc.bias.copy_(torch.tensor([0.0, 1.0]))
    layers = [("feat", conv), ("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", fc)]
    return nn.Sequential(OrderedDict(layers)).eval()


def bright_corner() -> torch.Tensor:
    """8x8 image, red = 1 everywhere except 5 in the top-left 4x4 block (red sum 128, mean 2)."""
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0] = 1.0
    x[0, 0, :4, :4] = 5.0
    x[0, 1] = 3.0  # green and blue do not matter to the net
    return x


def test_positions_and_cost():
    assert occlusion_positions((8, 8), 4, 2) == ([0, 2, 4], [0, 2, 4])
    assert occlusion_positions((10, 7), 4, 3) == ([0, 3, 6], [0, 3])
    cost = occlusion_cost((224, 224), 48, 16)
    assert cost["positions"] == 12 * 12 and cost["occlusion forward passes"] == 145
    assert cost["gradient forward passes"] == 1 and cost["gradient backward passes"] == 1


def test_occlusion_by_hand():
    net, x = mean_red_net(), bright_corner()
    # window 4, stride 4, fill 0: occluding the bright block removes 16*5 = 80 of the red sum 128
    logit = occlusion(net, x, 0, window=4, stride=4, fill=0.0, score="logit")
    assert torch.allclose(logit, torch.tensor([[48.0, 112.0], [112.0, 112.0]]) / 64)
    prob = occlusion(net, x, 0, window=4, stride=4, fill=0.0)
    assert torch.allclose(prob, torch.sigmoid(logit - 1.0), atol=1e-6)
    # stride 2: the square at (2, 2) covers 4 bright pixels and 12 plain ones -> removes 4*5 + 12 = 32
    logit = occlusion(net, x, 0, window=4, stride=2, fill=0.0, score="logit")
    assert logit.shape == (3, 3)
    assert torch.isclose(logit[1, 1], torch.tensor(96.0 / 64)) and torch.isclose(logit[0, 0], torch.tensor(0.75))
    assert torch.isclose(logit[2, 2], torch.tensor(112.0 / 64))
    # fill 1: the occluder adds 1 per pixel back, so the drop at the bright block is 80 - 16
    logit = occlusion(net, x, 0, window=4, stride=4, fill=1.0, score="logit")
    assert torch.isclose(logit[0, 0], torch.tensor(64.0 / 64)) and torch.isclose(logit[1, 1], torch.tensor(2.0))


def test_sweep_feature_labels_and_fill():
    net, x = mean_red_net(), bright_corner()
    s = occlusion_sweep(net, x, window=4, stride=4, fill=0.0, layer="feat")
    assert s.channel == 0 and s.base_feature == pytest.approx(128.0)
    assert torch.allclose(s.feature, torch.tensor([[48.0, 112.0], [112.0, 112.0]]))
    assert torch.equal(s.feature_map, x[0, 0])
    # class 1 has logit 1: it wins only where the red mean drops below 1 (the bright block occluded)
    assert torch.equal(s.label_map(), torch.tensor([[1, 0], [0, 0]]))
    assert torch.allclose(s.base_probs, torch.softmax(torch.tensor([2.0, 1.0]), 0))
    assert s.n_forward == 5 and s.logits.shape == (2, 2, 2)
    # "grey" for a plain module is 0; "mean" is the image's channel mean (red: 2)
    assert torch.equal(fill_value(net, x, "grey"), torch.zeros(1, 3, 1, 1))
    assert torch.allclose(fill_value(net, x, "mean").flatten(), torch.tensor([2.0, 3.0, 0.0]))
    mean_fill = occlusion(net, x, 0, window=4, stride=4, fill="mean", score="logit")
    assert torch.isclose(mean_fill[0, 0], torch.tensor((128.0 - 80 + 32) / 64))


def test_grey_fill_of_a_zoo_model_is_rgb_half(effnet, vgg, chelsea):
    assert torch.allclose(fill_value(effnet, chelsea), torch.zeros(1, 3, 1, 1), atol=1e-6)  # (0.5 - 0.5) / 0.5
    x = vgg.preprocess(torch.rand(3, 32, 32), size=32)
    assert torch.allclose(vgg.normalize.inverse(fill_value(vgg, x)), torch.full((1, 3, 1, 1), 0.5), atol=1e-5)


def test_pixel_map_by_hand():
    net, x = mean_red_net(), bright_corner()
    s = occlusion_sweep(net, x, window=4, stride=2, fill=0.0)
    values = torch.arange(9.0).view(3, 3)
    m = occlusion_pixel_map(values, s)
    assert m.shape == (8, 8)
    assert m[0, 0] == 0 and m[7, 7] == 8  # covered by one square only
    assert m[3, 3] == pytest.approx((0 + 1 + 3 + 4) / 4)  # covered by the four squares at rows/cols 0 and 2
    with pytest.raises(ValueError, match="grid shape"):
        occlusion_pixel_map(torch.zeros(2, 2), s)


def test_batched_equals_unbatched(effnet, chelsea):
    x = torch.nn.functional.interpolate(chelsea, size=(96, 96), mode="bilinear", align_corners=False)
    one = occlusion_sweep(effnet, x, window=32, stride=16, layer="bn2", batch_size=1)
    many = occlusion_sweep(effnet, x, window=32, stride=16, layer="bn2", batch_size=7)
    assert one.n_batches == 1 + 25 and many.n_batches == 1 + 4  # 5 x 5 positions in batches of 7
    assert torch.allclose(one.logits, many.logits, atol=1e-4)
    assert torch.allclose(one.feature, many.feature, atol=1e-3) and one.channel == many.channel
    assert one.channel == strongest_channel(effnet, x, "bn2")


def test_occluding_the_cat_not_the_background(effnet, chelsea):
    """Chelsea in the top-left quadrant of a grey canvas: covering grey changes (almost) nothing,
    the largest drop of the cat's probability is over the cat."""
    small = torch.nn.functional.interpolate(chelsea, size=(112, 112), mode="bilinear", align_corners=False)
    canvas = torch.zeros(1, 3, 224, 224)  # grey in EfficientNet's input space
    canvas[..., :112, :112] = small
    sweep = occlusion_sweep(effnet, canvas, window=56, stride=56)
    cat = int(sweep.base_logits.argmax())
    assert "cat" in effnet.classes[cat]
    p = sweep.prob_map(cat)
    base = float(sweep.base_probs[cat])
    assert (p[2:, 2:] - base).abs().max() < 0.02  # the grey quadrant
    drop = base - p
    i, j = divmod(int(drop.argmax()), p.shape[1])
    assert i < 2 and j < 2 and drop.max() > 0.1


METHODS = {
    "occlusion": lambda m, x, layer: occlusion(m, x, 285, window=48, stride=48),
    "occlusion_sweep": lambda m, x, layer: occlusion_sweep(m, x, window=48, stride=48, layer=layer).feature,
    "strongest_channel": lambda m, x, layer: torch.tensor(strongest_channel(m, x, layer)),
}
GRID = [(m, layer) for m in METHODS for layer in ("blocks.5", "bn2")]


@pytest.mark.parametrize("method,layer", GRID, ids=[f"{m}-{layer}" for m, layer in GRID])
def test_hygiene_grid(effnet, chelsea, method, layer):
    x = torch.nn.functional.interpolate(chelsea, size=(96, 96), mode="bilinear", align_corners=False)
    out = []
    assert_leaves_model_clean(effnet, lambda: out.append(METHODS[method](effnet, x, layer)))
    assert torch.equal(out[0], out[1])  # deterministic


def test_bad_input_leaves_model_clean(effnet, chelsea):
    check = lambda f, exc, match: assert_raises_and_leaves_clean(effnet, f, exc, match)
    x = chelsea
    check(lambda: occlusion(effnet, x, 1000), ValueError, "out of range")
    check(lambda: occlusion(effnet, x, "tigr cat"), ValueError, "tiger cat")
    check(lambda: occlusion(effnet, x[0], 285), ValueError, "shape")
    check(lambda: occlusion(effnet, x.to(torch.int64), 285), ValueError, "float")
    check(lambda: occlusion(effnet, x, 285, window=0), ValueError, "window")
    check(lambda: occlusion(effnet, x, 285, window=300), ValueError, "larger than the image")
    check(lambda: occlusion(effnet, x, 285, stride=0), ValueError, "stride")
    check(lambda: occlusion(effnet, x, 285, stride=2.5), TypeError, "stride")
    check(lambda: occlusion(effnet, x, 285, batch_size=0), ValueError, "batch_size")
    check(lambda: occlusion(effnet, x, 285, fill="pink"), ValueError, "fill")
    check(lambda: occlusion(effnet, x, 285, score="softmax"), ValueError, "score")
    check(lambda: occlusion(effnet, x, lambda z: z[:, 0]), TypeError, "callable")
    check(lambda: occlusion_sweep(effnet, x, layer="blocks.44"), ValueError, "Unknown layer 'blocks.44'")
    check(lambda: occlusion_sweep(effnet, x, channel=3), ValueError, "needs a layer")
    check(
        lambda: occlusion_sweep(effnet, x, window=112, stride=112, layer="bn2", channel=5000),
        ValueError,
        "out of range",
    )
    check(lambda: strongest_channel(effnet, x, "bn3"), ValueError, "Unknown layer")
    check(lambda: strongest_channel(effnet, x, "classifier"), ValueError, "not conv feature maps")
    net = mean_red_net()
    assert_raises_and_leaves_clean(
        net, lambda: occlusion(net, bright_corner(), 2, window=4), ValueError, "out of range"
    )
