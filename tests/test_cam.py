"""CAM, Grad-CAM and Guided Grad-CAM (notebooks 03 and 06): hand-computed answers on tiny nets,
the CAM == Grad-CAM identity and localization on the real EfficientNet-Lite0, hygiene, bad input."""

from collections import OrderedDict

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils import plot
from lecture_utils.backprop import guided_backprop
from lecture_utils.cam import (
    NotGapHeadError,
    cam,
    cam_maps,
    gap_head_error,
    grad_cam,
    grad_cam_weights,
    guided_grad_cam,
    normalize_map,
)
from lecture_utils.images import load_image
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def gap_net(relu: bool = False) -> nn.Sequential:
    """x -> 1x1 conv ("feat", 2 channels: f0 = x_R, f1 = x_G - x_B) [-> ReLU ("act")] -> GAP -> fc (3 classes)."""
    conv = nn.Conv2d(3, 2, 1, bias=False)
    fc = nn.Linear(2, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]]).view(2, 3, 1, 1))
        fc.weight.copy_(torch.tensor([[2.0, -1.0], [0.5, 3.0], [-1.0, 0.0]]))
        fc.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    layers = [("feat", conv)] + ([("act", nn.ReLU())] if relu else [])
    layers += [("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", fc)]
    return nn.Sequential(OrderedDict(layers)).eval()


def toy_input() -> torch.Tensor:
    torch.manual_seed(3)
    return torch.randn(1, 3, 8, 8)


def test_cam_by_hand_on_a_gap_net():
    net, x = gap_net(), toy_input()
    f0, f1 = x[0, 0], x[0, 1] - x[0, 2]
    m = cam(net, x, 1, layer="feat", fc="fc")
    assert torch.allclose(m, 0.5 * f0 + 3.0 * f1, atol=1e-6)
    assert torch.allclose(m.mean() + 0.2 * -1, net(x)[0, 1], atol=1e-5)  # mean(CAM) + bias == logit
    allm = cam_maps(net, x, layer="feat", fc="fc")
    assert allm.shape == (3, 8, 8) and torch.allclose(allm[0], 2 * f0 - f1, atol=1e-6)
    n = cam(net, x, 1, layer="feat", fc="fc", normalize=True)
    assert n.min() == 0 and n.max() == 1 and torch.allclose(n, normalize_map(m))
    assert gap_head_error(net, x, layer="feat", fc="fc") < 1e-6


def test_grad_cam_by_hand():
    # linear net: dS_c/df_k(i,j) = w_ck / Z, so alpha = w_c / 64 and the map is ReLU(sum_k w_ck f_k) / 64
    net, x = gap_net(), toy_input()
    f0, f1 = x[0, 0], x[0, 1] - x[0, 2]
    a = grad_cam_weights(net, x, 0, layer="feat")
    assert torch.allclose(a, torch.tensor([2.0, -1.0]) / 64)
    g = grad_cam(net, x, 0, layer="feat")
    assert torch.allclose(g, (2 * f0 - f1).clamp(min=0) / 64, atol=1e-7)
    assert torch.allclose(grad_cam(net, x, 0, layer="feat", relu=False), (2 * f0 - f1) / 64, atol=1e-7)
    # with a ReLU after the layer the gradient is masked: alpha_k = w_ck * (fraction of f_k > 0) / ... (mean of mask)
    net = gap_net(relu=True)
    a = grad_cam_weights(net, x, 1, layer="feat")
    frac = torch.stack([(f0 > 0).float().mean(), (f1 > 0).float().mean()])
    assert torch.allclose(a, torch.tensor([0.5, 3.0]) * frac / 64)
    # a callable target: sum of two logits -> alphas add up
    a01 = grad_cam_weights(gap_net(), x, lambda z: z[:, 0] + z[:, 1], layer="feat")
    assert torch.allclose(a01, torch.tensor([2.5, 2.0]) / 64)


def test_cam_refuses_heads_that_are_not_gap_linear():
    x = toy_input()
    base = gap_net(relu=True)
    gmp = nn.Sequential(OrderedDict([("feat", base.feat), ("pool", nn.AdaptiveMaxPool2d(1)), ("flat", nn.Flatten())]))
    gmp.add_module("fc", base.fc)
    assert_raises_and_leaves_clean(gmp, lambda: cam(gmp, x, 0, layer="feat", fc="fc"), NotGapHeadError, "not global")
    fcnet = nn.Sequential(OrderedDict([("feat", base.feat), ("flat", nn.Flatten()), ("fc", nn.Linear(128, 3))]))
    assert_raises_and_leaves_clean(fcnet, lambda: cam(fcnet, x, 0, layer="feat", fc="fc"), NotGapHeadError, "128")
    with pytest.raises(NotGapHeadError, match="not nn.Linear"):
        cam(base, x, 0, layer="feat", fc="act")
    with pytest.raises(ValueError, match="name the last conv"):
        cam(base, x, 0)
    assert gap_head_error(gmp, x, layer="feat", fc="fc") > 1e-3


def test_cam_mean_is_logit_minus_bias_on_effnet(effnet, chelsea):
    with torch.no_grad():
        logits = effnet.net(chelsea)[0]
    b = effnet.net.classifier.bias.detach()
    maps = cam_maps(effnet, chelsea)
    assert maps.shape == (1000, 7, 7)
    assert torch.allclose(maps.mean(dim=(1, 2)), logits - b, rtol=1e-4, atol=1e-4)
    for c in (281, "Egyptian cat", 967):
        m = cam(effnet, chelsea, c)
        idx = c if isinstance(c, int) else 285
        assert torch.allclose(m, maps[idx], atol=1e-5) and torch.isclose(m.mean() + b[idx], logits[idx], atol=1e-4)


def test_grad_cam_at_bn2_equals_relu_cam_over_z(effnet, chelsea):
    for c in (285, "espresso"):
        m = cam(effnet, chelsea, c)
        g = grad_cam(effnet, chelsea, c, layer="bn2")
        z = m.numel()
        assert (z * g - m.clamp(min=0)).abs().max() <= 1e-5 * m.abs().max()
    a = grad_cam_weights(effnet, chelsea, 285)  # default layer: bn2
    assert torch.allclose(49 * a, effnet.net.classifier.weight[285].detach(), rtol=1e-4, atol=1e-6)


def test_cam_peak_lies_on_the_cat(effnet, chelsea_img):
    size, s = 320, 160
    cat = effnet.deprocess(effnet.preprocess(chelsea_img, size=s))
    canvas = np.full((size, size, 3), 0.5, np.float32)
    canvas[size - s :, size - s :] = cat
    x = effnet.preprocess(canvas, size=0)
    m = cam(effnet, x, "Egyptian cat")
    assert m.shape == (10, 10)
    up = plot.upsample_map(m, (size, size))
    i, j = np.unravel_index(up.argmax(), up.shape)
    assert i >= size - s and j >= size - s, f"CAM peak at {(i, j)}, not on the cat"


@pytest.fixture(scope="module")
def pair(effnet):
    """Chelsea (left) and the coffee (right) on one (1, 3, 224, 448) canvas."""
    return torch.cat([effnet.preprocess(load_image(n)) for n in ("chelsea", "coffee")], dim=3)


def left_share(m: torch.Tensor) -> float:
    m = m.abs() if m.ndim == 2 else m.abs().sum(dim=(0, 1))
    return float(m[:, : m.shape[1] // 2].sum() / m.sum())


def test_grad_cam_is_class_discriminative(effnet, pair):
    assert left_share(grad_cam(effnet, pair, "tiger cat")) > 0.75
    assert left_share(grad_cam(effnet, pair, "espresso")) < 0.25
    assert left_share(guided_grad_cam(effnet, pair, "tiger cat")) > 0.75
    assert left_share(guided_grad_cam(effnet, pair, "espresso")) < 0.25


def test_guided_grad_cam_is_guided_backprop_times_upsampled_grad_cam(effnet, chelsea):
    for layer in ("bn2", "blocks.4"):
        ggc = guided_grad_cam(effnet, chelsea, 285, layer=layer)
        assert ggc.shape == (1, 3, 224, 224)
        g = grad_cam(effnet, chelsea, 285, layer=layer)
        up = F.interpolate(g[None, None], size=(224, 224), mode="bilinear", align_corners=False)
        assert torch.allclose(ggc, guided_backprop(effnet, chelsea, 285) * up, atol=1e-9)


METHODS = {
    "cam": lambda zoo, x, layer: cam(zoo, x, 285, layer=layer),
    "grad_cam": lambda zoo, x, layer: grad_cam(zoo, x, 285, layer=layer),
    "grad_cam_weights": lambda zoo, x, layer: grad_cam_weights(zoo, x, "tabby", layer=layer),
    "guided_grad_cam": lambda zoo, x, layer: guided_grad_cam(zoo, x, 285, layer=layer),
}
LAYERS = {
    "cam": [None, "bn2", "bn2.act"],
    "grad_cam": ["blocks.2", "blocks.4", "blocks.5", "conv_head", "bn2"],
    "grad_cam_weights": ["blocks.3", "bn2"],
    "guided_grad_cam": ["blocks.4", "bn2"],
}
GRID = [(m, layer) for m, layers in LAYERS.items() for layer in layers]


@pytest.mark.parametrize("method,layer", GRID, ids=[f"{m}-{layer}" for m, layer in GRID])
def test_hygiene_grid(effnet, chelsea, method, layer):
    out = []
    assert_leaves_model_clean(effnet, lambda: out.append(METHODS[method](effnet, chelsea, layer)))
    assert torch.isfinite(out[-1]).all() and torch.equal(out[0], out[1])  # deterministic


@pytest.mark.parametrize("method", list(METHODS))
def test_bad_input_leaves_model_clean(effnet, chelsea, method):
    call = METHODS[method]
    check = lambda f, exc, match: assert_raises_and_leaves_clean(effnet, f, exc, match)
    check(lambda: call(effnet, chelsea, "blocks.44"), ValueError, "Unknown layer 'blocks.44'")
    check(lambda: call(effnet, chelsea[0], "bn2"), ValueError, "shape")
    check(lambda: call(effnet, chelsea.to(torch.int64), "bn2"), ValueError, "float")
    fn = {"cam": cam, "grad_cam": grad_cam, "grad_cam_weights": grad_cam_weights, "guided_grad_cam": guided_grad_cam}
    f = fn[method]
    check(lambda: f(effnet, chelsea, 1000, layer="bn2"), ValueError, "out of range")
    check(lambda: f(effnet, chelsea, "tigr cat", layer="bn2"), ValueError, "tiger cat")


def test_cam_specific_bad_input(effnet, vgg, chelsea):
    check = assert_raises_and_leaves_clean
    check(effnet, lambda: cam(effnet, chelsea, 285, layer="blocks.5"), NotGapHeadError, "192 channels")
    check(effnet, lambda: cam(effnet, chelsea, 285, layer="conv_head"), NotGapHeadError, "not global average")
    check(effnet, lambda: cam(effnet, chelsea, 285, fc="bn2"), NotGapHeadError, "not nn.Linear")
    check(effnet, lambda: cam(effnet, chelsea, lambda z: z[:, 0]), TypeError, "one class")
    x = vgg.preprocess(np.zeros((64, 64, 3), np.uint8))
    check(vgg, lambda: cam(vgg, x, 0), NotGapHeadError, "no global-average-pooling")
    check(vgg, lambda: grad_cam(vgg, x, 0), ValueError, "name the conv layer")
    check(effnet, lambda: grad_cam(effnet, chelsea, 285, layer="global_pool"), ValueError, "conv feature maps")
    check(effnet, lambda: grad_cam(effnet, chelsea, 285, layer=3), TypeError, "layer name")


def test_plots_for_cams(effnet, chelsea):
    img = effnet.deprocess(chelsea)
    g = guided_grad_cam(effnet, chelsea, 285)
    rgb = plot.signed_rgb(g)
    assert rgb.shape == (224, 224, 3) and 0 <= rgb.min() and rgb.max() <= 1
    assert np.allclose(plot.signed_rgb(torch.zeros(1, 3, 8, 8)), 0.5)
    figs = [
        plot.signed_maps({"a": cam(effnet, chelsea, 285), "b": -cam(effnet, chelsea, 967)}),
        plot.compare_wide({"img": np.concatenate([img, img], axis=1), "map": np.random.rand(7, 14)}),
    ]
    assert all(isinstance(f, plt.Figure) for f in figs)
    plt.close("all")
    with pytest.raises(ValueError, match="signed_maps"):
        plot.signed_maps({"x": np.zeros((2, 2, 3))})
    with pytest.raises(ValueError, match="signed_rgb"):
        plot.signed_rgb(np.zeros((4, 4)))


def test_map_rows_scales_each_map_or_each_row():
    bg = np.zeros((8, 8, 3))
    weak, strong = torch.full((2, 2), 0.1), torch.full((2, 2), 1.0)
    weak[0, 0], strong[0, 0] = 0.0, 0.0  # min 0 in both maps
    fig = plot.map_rows([bg, bg], {"each": [weak, strong], "row": [weak, strong]}, scale={"row": "row"})
    # the overlay is the second image of each axes: scaled on its own, both maps reach 1;
    # on one row scale, the weak map stays at a tenth of the strong one
    top = [ax.get_images()[1].get_array().max() for ax in fig.axes[:2]]
    bottom = [ax.get_images()[1].get_array().max() for ax in fig.axes[2:4]]
    assert np.allclose(top, [1.0, 1.0]) and np.allclose(bottom, [0.1, 1.0], atol=1e-6)
    plt.close(fig)
    with pytest.raises(ValueError, match="scale"):
        plot.map_rows([bg], {"a": [weak]}, scale="global")
    with pytest.raises(ValueError, match="scale"):
        plot.map_rows([bg], {"a": [weak]}, scale={"b": "row"})
