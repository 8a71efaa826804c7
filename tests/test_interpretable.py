"""Interpretable CNN layer (notebook 05): templates, mask and filter loss against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from lecture_utils import interpretable as icnn
from lecture_utils.hooks import record
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def test_templates_n3_by_hand():
    tau = 0.5 / 9
    t = icnn.positive_templates(3)
    assert t.shape == (9, 3, 3)
    # mu = (0, 0): L1 distance d = i + j; 1 - 4 d / 3 = 1, -1/3, -5/3 -> clipped at -1
    corner = torch.tensor([[1, -1 / 3, -1], [-1 / 3, -1, -1], [-1, -1, -1]]) * tau
    centre = torch.tensor([[-1, -1 / 3, -1], [-1 / 3, 1, -1 / 3], [-1, -1 / 3, -1]]) * tau
    assert torch.allclose(t[0], corner) and torch.allclose(t[4], centre)
    # mu = (1, 2) is template 1 * 3 + 2 = 5: the mirror image of the corner case, shifted
    assert t[5, 1, 2] == pytest.approx(tau) and t[5, 1, 0] == pytest.approx(-tau)
    assert torch.equal(icnn.negative_template(3), torch.full((3, 3), -tau))
    assert icnn.positive_templates(1).item() == pytest.approx(0.5)
    # other beta / tau: n = 4, beta = 2, tau = 1; mu = (0, 0), d = 1 -> 1 - 2 / 4 = 0.5
    assert icnn.positive_templates(4, tau=1.0, beta=2.0)[0, 0, 1] == pytest.approx(0.5)


def test_mask_uses_template_at_argmax():
    x = torch.zeros(1, 2, 3, 3)
    x[0, 0, 2, 0], x[0, 0, 0, 2] = 5.0, 1.0  # filter 0: peak at (2, 0)
    x[0, 1] = torch.arange(9.0).view(3, 3)  # filter 1: peak at (2, 2)
    assert icnn.peak_positions(x).tolist() == [[6, 8]]
    masked = icnn.template_mask(x)
    # filter 0: the peak keeps 5 * 1; (0, 2) is at distance 4 -> template -1 -> 0
    assert masked[0, 0, 2, 0] == 5.0 and masked[0, 0].sum() == 5.0
    # filter 1: template at (2, 2) is +1 there, -1/3 at distance 1, -1 further: only the peak survives
    expected = torch.zeros(3, 3)
    expected[2, 2] = 8.0
    assert torch.allclose(masked[0, 1], expected)
    # normalized=False is the paper's mask with the tau factor
    assert torch.allclose(icnn.template_mask(x, normalized=False), masked * 0.5 / 9)
    # gradient flows through x at the kept positions only
    xg = x.clone().requires_grad_(True)
    icnn.template_mask(xg).sum().backward()
    assert xg.grad[0, 1, 2, 2] == 1.0 and xg.grad[0, 1, 0, 0] == 0.0


def test_filter_loss_equals_minus_mutual_information_small_case():
    # hand-rolled joint distribution for n = 1 (templates T_(0,0) = +tau, T^- = -tau), two maps
    x = torch.tensor([[[[2.0]]], [[[0.0]]]])  # (N=2, C=1, 1, 1)
    alpha, tau = 0.5, 1.0
    s = np.array([[2 * tau, -2 * tau], [0.0, 0.0]])  # scores tr(x T), rows x, columns (T+, T-)
    lik = np.exp(s) / np.exp(s).sum(0, keepdims=True)
    joint = lik * np.array([alpha, 1 - alpha])
    px, pt = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    mi = float((joint * np.log(joint / (px * pt))).sum())
    assert float(icnn.filter_loss(x, alpha=alpha, tau=tau)) == pytest.approx(-mi, abs=1e-6)
    assert float(icnn.mutual_information(x, alpha=alpha, tau=tau)) == pytest.approx(mi, abs=1e-6)


def test_filter_loss_decomposition_matches_direct_mi():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 5, 5) * 200
    loss = icnn.filter_loss(x, reduction="none")
    assert loss.shape == (3,)
    assert torch.allclose(loss, -icnn.mutual_information(x), atol=1e-4)
    assert (loss <= 1e-6).all() and (loss >= -math.log(26) - 1e-6).all()
    assert icnn.filter_loss(x, reduction="sum") == pytest.approx(float(loss.sum()), rel=1e-5)


def test_filter_loss_prefers_one_peak_per_map():
    n = 7
    torch.manual_seed(0)
    pyramid = icnn.positive_templates(n, tau=1.0).clamp(min=0)
    where1, where2 = torch.randint(0, n * n, (32,)), torch.randint(0, n * n, (32,))
    one = 60 * pyramid[where1][:, None]
    two = 30 * (pyramid[where1] + pyramid[where2])[:, None]
    noise = torch.rand_like(one) * 2 * one.mean()
    l_one, l_two, l_noise = (float(icnn.filter_loss(x)) for x in (one, two, noise))
    assert l_one < l_two < l_noise
    assert l_noise > -0.01  # unstructured maps carry ~no information about position


def test_localization_by_hand():
    x = torch.zeros(1, 2, 5, 5)
    x[0, 0, 2, 2] = 1.0  # a single peak: fully localized
    x[0, 1, 0, 0], x[0, 1, 4, 4] = 1.0, 1.0  # two far peaks: half inside the peak's neighbourhood
    loc = icnn.localization(x)
    assert loc[0, 0] == 1.0 and loc[0, 1] == pytest.approx(0.5)
    assert torch.isnan(icnn.localization(torch.zeros(1, 1, 3, 3))).all()
    with pytest.raises(ValueError, match="non-negative"):
        icnn.localization(-x)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: icnn.positive_templates(0), ValueError, "n must be"),
        (lambda: icnn.positive_templates(2.5), TypeError, "n must be"),  # wrong type (checks policy)
        (lambda: icnn.positive_templates(3, beta=0), ValueError, "beta"),
        (lambda: icnn.negative_template(3, tau=-1), ValueError, "tau"),
        (lambda: icnn.template_mask(torch.zeros(2, 3, 4)), ValueError, "shape"),
        (lambda: icnn.template_mask(torch.zeros(1, 1, 3, 4)), ValueError, "square"),
        (lambda: icnn.template_mask(torch.zeros(1, 1, 3, 3, dtype=torch.long)), ValueError, "float"),
        (lambda: icnn.filter_loss(torch.rand(1, 2, 3, 3)), ValueError, "N >= 2"),
        (lambda: icnn.filter_loss(torch.rand(2, 2, 3, 3), alpha=1.0), ValueError, "alpha"),
        (lambda: icnn.filter_loss(torch.rand(2, 2, 3, 3), reduction="max"), ValueError, "reduction"),
        (lambda: icnn.filter_loss(np.zeros((2, 2, 3, 3))), TypeError, "tensor"),
        (lambda: icnn.paste_on_canvas(np.zeros((2, 28, 28), np.uint8), canvas=20), ValueError, "smaller"),
        (lambda: icnn.InterpretableConv2d(4, 4, kernel_size=2), ValueError, "odd"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_partnet_layers_hooks_and_clean_state():
    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.MaxPool2d(4))
    net = icnn.PartNet(backbone, in_channels=4, n_filters=3, n_classes=5).eval()
    assert not any(p.requires_grad for p in net.backbone.parameters())
    x = torch.rand(2, 1, 24, 24)
    logits, maps = net(x, return_maps=True)
    assert logits.shape == (2, 5) and maps.shape == (2, 3, 6, 6)
    with record(net, ["top.relu", "top.mask"]) as rec:
        net(x)
    assert torch.allclose(rec["top.relu"], maps) and torch.allclose(rec["top.mask"], icnn.template_mask(maps))

    def run():
        with record(net, ["top.relu", "top.mask"]):
            net(x)

    assert_leaves_model_clean(net, run)
    assert_raises_and_leaves_clean(net, lambda: run_bad(net, x), ValueError, "top.mask")
    net.train()
    assert not net.backbone.training  # the frozen backbone stays in eval mode
    plain = icnn.PartNet(backbone, in_channels=4, n_filters=3, interpretable=False)
    assert isinstance(plain.top.mask, torch.nn.Identity)


def run_bad(net, x):
    with record(net, ["top.maks"]):
        net(x)


def test_paste_on_canvas_places_images():
    imgs = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4) + 1
    canv, corners = icnn.paste_on_canvas(imgs, canvas=10, seed=3)
    assert canv.shape == (2, 10, 10)
    for k, (r, c) in enumerate(corners):
        assert np.array_equal(canv[k, r : r + 4, c : c + 4], imgs[k])
        assert canv[k].sum() == imgs[k].sum()
