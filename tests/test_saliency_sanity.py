"""Saliency, SmoothGrad and sanity checks (notebook 11): hand-computed answers on tiny nets,
rank correlation, cascading randomization on a copy, edge maps, deletion curves, checks on the
real EfficientNet-Lite0, bad input and hook/state hygiene."""

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from lecture_utils.attribution import input_gradient, saliency, smooth_grad, smooth_saliency
from lecture_utils.backprop import guided_backprop
from lecture_utils.hooks import model_state
from lecture_utils.sanity import (
    as_pixel_map,
    blurred,
    cascading_randomization,
    default_cascade,
    deletion_auc,
    deletion_curve,
    edge_map,
    random_map,
    rank_correlation,
    reinitialize,
    ssim,
)
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def relu_sum_net() -> nn.Sequential:
    """score_0 = sum of relu(red), score_1 = 0: d score_0 / d red = [red > 0]."""
    conv = nn.Conv2d(3, 1, 1, bias=False)
    fc = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
        fc.weight.copy_(torch.tensor([[1.0], [0.0]]))
    layers = [("feat", conv), ("act", nn.ReLU(inplace=True)), ("pool", nn.AdaptiveAvgPool2d(1))]
    layers += [("flat", nn.Flatten()), ("fc", fc)]
    return nn.Sequential(OrderedDict(layers)).eval()


def mean_red_net() -> nn.Sequential:
    """logit_0 = mean of the red channel, logit_1 = 0."""
    conv = nn.Conv2d(3, 1, 1, bias=False)
    fc = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
        fc.weight.copy_(torch.tensor([[1.0], [0.0]]))
    layers = [("feat", conv), ("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", fc)]
    return nn.Sequential(OrderedDict(layers)).eval()


# --------------------------------------------------------------------------- rank correlation, SSIM


def test_rank_correlation_by_hand():
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert rank_correlation(a, 10 * a) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, torch.exp(a)) == pytest.approx(1.0)  # only the order counts
    # ties get average ranks: (1, 2.5, 2.5, 4) against (1, 2, 3, 4) -> 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10)
    assert rank_correlation([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(10))
    # (1, 2, 3) vs (2, 3, 1): d = (-1, -1, 2), rho = 1 - 6 * 6 / (3 * 8) = -0.5
    assert rank_correlation([1, 2, 3], [2, 3, 1]) == pytest.approx(-0.5)
    assert rank_correlation(np.ones((3, 3)), np.arange(9.0).reshape(3, 3)) == 0.0  # a constant map has no ranking
    with pytest.raises(ValueError, match="differ in size"):
        rank_correlation(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        rank_correlation([1.0, float("nan")], [1.0, 2.0])


def test_ssim():
    m = torch.rand(16, 16, generator=torch.Generator().manual_seed(0))
    assert ssim(m, 3 * m + 1) == pytest.approx(1.0, abs=1e-6)  # min-max scaled first
    assert ssim(m, torch.rand(16, 16, generator=torch.Generator().manual_seed(1))) < 0.3
    with pytest.raises(ValueError, match="7x7"):
        ssim(torch.rand(5, 5), torch.rand(5, 5))
    with pytest.raises(ValueError, match="2-D"):
        ssim(torch.rand(8, 8), torch.rand(8, 9))


# --------------------------------------------------------------------------- SmoothGrad


def test_smooth_grad_of_a_relu_is_the_normal_cdf():
    # d sum relu(x) / dx = [x > 0]; averaged over x + N(0, s^2) this is Phi(x / s)
    net = relu_sum_net()
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0] = torch.linspace(-2, 2, 64).view(8, 8)
    x[0, 1, 0, 0] = -2.0  # the input range is 4, so noise=0.25 gives sigma = 1
    g = smooth_grad(net, x, 0, noise=0.25, n_samples=4000, batch_size=1000)
    phi = 0.5 * (1 + torch.erf(x[0, 0] / math.sqrt(2)))
    assert torch.allclose(g[0, 0] * 64, phi, atol=0.04)  # the score is the mean: gradient / 64
    assert torch.equal(g[0, 1:], torch.zeros(2, 8, 8))
    # noise 0: plain gradient; smooth_saliency: max_c |.|
    g0 = smooth_grad(net, x, 0, noise=0.0, n_samples=3)
    assert torch.allclose(g0, input_gradient(net, x, 0))
    sg8 = smooth_grad(net, x, 0, noise=0.25, n_samples=8)
    assert torch.equal(smooth_saliency(net, x, 0, noise=0.25, n_samples=8), sg8.abs().amax(dim=1)[0])


def test_smooth_grad_of_a_linear_net_is_its_gradient():
    net, x = mean_red_net(), torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    g = smooth_grad(net, x, 0, noise=0.3, n_samples=5)
    assert torch.allclose(g, input_gradient(net, x, 0), atol=1e-7)  # the gradient does not depend on x


def test_smooth_grad_batched_equals_unbatched(effnet, chelsea):
    x = torch.nn.functional.interpolate(chelsea, size=(96, 96), mode="bilinear", align_corners=False)
    threads = torch.get_num_threads()
    try:  # one thread: the same convolution kernels for any batch size, so only float round-off differs
        torch.set_num_threads(1)
        one = smooth_grad(effnet, x, 285, n_samples=5, batch_size=1)
        many = smooth_grad(effnet, x, 285, n_samples=5, batch_size=3)
        assert (one - many).abs().max() < 1e-4 * one.abs().max()
    finally:
        torch.set_num_threads(threads)
    # several threads: a batch of one takes other kernels; their round-off moves a few ReLU6 inputs across
    # a kink, which changes single pixels by ~1 % of the maximum (measured 2 threads: relative L2 1.0e-2).
    # Different noise (another seed) differs by ~130 %, so the relative L2 still tells a real bug apart.
    one_mt = smooth_grad(effnet, x, 285, n_samples=5, batch_size=1)
    many_mt = smooth_grad(effnet, x, 285, n_samples=5, batch_size=3)
    assert (one_mt - many_mt).norm() < 0.05 * one_mt.norm()
    other_seed = smooth_grad(effnet, x, 285, n_samples=5, batch_size=3, seed=1)
    assert (one_mt - other_seed).norm() > 0.5 * one_mt.norm()


def test_smoothgrad_is_more_stable_than_the_gradient(effnet, chelsea):
    """Smilkov et al.'s point: a faint change of the input reshuffles the raw gradient map much more
    than the SmoothGrad map (compared on 8x8 block means)."""
    nudge = 0.05 * torch.randn(chelsea.shape, generator=torch.Generator().manual_seed(5))
    block = lambda m: torch.nn.functional.avg_pool2d(m[None, None], 8)[0, 0]
    sal = rank_correlation(block(saliency(effnet, chelsea, 285)), block(saliency(effnet, chelsea + nudge, 285)))
    sg = lambda x, seed: smooth_saliency(effnet, x, 285, noise=0.15, n_samples=8, seed=seed)
    smooth = rank_correlation(block(sg(chelsea, 0)), block(sg(chelsea + nudge, 1)))
    assert smooth > sal + 0.05


# --------------------------------------------------------------------------- randomization


def test_cascade_works_on_a_copy_and_is_cumulative(tiny_cnn):
    before = {k: v.clone() for k, v in tiny_cnn.state_dict().items()}
    assert default_cascade(tiny_cnn) == [("fc", ["fc"]), ("conv", ["conv"])]
    seen = []
    for label, rnd in cascading_randomization(tiny_cnn, seed=0):
        assert rnd is not tiny_cnn
        seen.append(label)
        changed = {k for k, v in rnd.state_dict().items() if not torch.equal(v, before[k])}
        if label == "fc":
            assert changed == {"fc.weight", "fc.bias"}  # only the top layer so far
        else:
            assert changed == {"fc.weight", "fc.bias", "conv.weight", "conv.bias"}  # cumulative
    assert seen == ["fc", "conv"]
    assert all(torch.equal(v, before[k]) for k, v in tiny_cnn.state_dict().items())  # the original is untouched


def test_cascade_on_the_zoo_model_leaves_it_unchanged(effnet):
    before = {k: v.clone() for k, v in effnet.net.state_dict().items()}
    steps = default_cascade(effnet)
    assert [s[0] for s in steps[:4]] == ["classifier", "bn2", "conv_head", "blocks.6"]
    assert steps[-1][0] == "conv_stem" and "global_pool" not in [s[0] for s in steps]
    label, rnd = next(iter(cascading_randomization(effnet, [("head", ["classifier", "bn2"])])))
    assert label == "head" and type(rnd) is type(effnet) and rnd.net is not effnet.net
    assert not torch.equal(rnd.net.classifier.weight, effnet.net.classifier.weight)
    assert torch.equal(rnd.net.bn2.weight, torch.ones(1280)) and torch.equal(rnd.net.bn2.running_var, torch.ones(1280))
    assert torch.equal(rnd.net.conv_head.weight, effnet.net.conv_head.weight)
    assert all(torch.equal(v, before[k]) for k, v in effnet.net.state_dict().items())


def test_reinitialize_statistics():
    conv = nn.Conv2d(16, 64, 3)
    reinitialize(conv, torch.Generator().manual_seed(0))
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.05)
    assert torch.equal(conv.bias, torch.zeros(64))
    lin = nn.Linear(100, 400)
    reinitialize(lin, torch.Generator().manual_seed(0))
    assert lin.weight.abs().max().item() <= 1 / 20 and lin.weight.abs().max().item() > 0.9 / 20


def test_randomizing_the_classifier_changes_saliency_not_guided_backprop(effnet, chelsea):
    """Adebayo et al.'s finding at the first cascade step, on the real weights."""
    label, rnd = next(iter(cascading_randomization(effnet, [("classifier", ["classifier"])])))
    c = 285
    rho_sal = rank_correlation(saliency(effnet, chelsea, c), saliency(rnd, chelsea, c))
    gb = lambda m: guided_backprop(m, chelsea, c).abs().amax(dim=1)[0]
    rho_gb = rank_correlation(gb(effnet), gb(rnd))
    assert rho_sal < 0.5 < rho_gb


# --------------------------------------------------------------------------- edges


def test_sobel_and_canny_on_a_step():
    img = np.zeros((12, 12, 3), dtype=np.float32)
    img[:, 6:] = 1.0  # vertical step between columns 5 and 6
    e = edge_map(img, "sobel")
    assert e.shape == (12, 12)
    assert torch.allclose(e[:, 5], torch.full((12,), 4.0)) and torch.allclose(e[:, 6], torch.full((12,), 4.0))
    assert e[:, :5].abs().max() == 0 and e[:, 7:].abs().max() == 0
    c = edge_map(img, "canny")
    assert c[2:-2].sum(dim=0).argmax() in (5, 6) and c[:, :4].sum() == 0
    with pytest.raises(ValueError, match="sobel"):
        edge_map(img, "laplace")
    with pytest.raises(ValueError, match="H, W, 3"):
        edge_map(img[..., 0], "sobel")


# --------------------------------------------------------------------------- deletion


def test_deletion_curve_by_hand():
    net = mean_red_net()
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0] = torch.arange(1.0, 65.0).view(8, 8)  # red 1..64, sum 2080
    f, s = deletion_curve(net, x, 0, x[0, 0], steps=4, fill=0.0, score="logit")
    assert torch.allclose(f, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    # the 16 largest values go first: 2080 -> - (49 + ... + 64) = 1176 -> - (33..48) = 528 -> - (17..32) = 136 -> 0
    assert torch.allclose(s, torch.tensor([2080.0, 1176.0, 528.0, 136.0, 0.0]) / 64)
    assert deletion_auc(f, s) == pytest.approx(0.25 * (2080 / 2 + 1176 + 528 + 136) / 64)
    # the reverse ranking deletes the useless pixels first: a larger area
    f2, s2 = deletion_curve(net, x, 0, -x[0, 0], steps=4, fill=0.0, score="logit")
    assert deletion_auc(f2, s2) > deletion_auc(f, s)
    # probabilities: softmax of (logit, 0); batching does not matter; a 2x2 map is upsampled
    fp, sp = deletion_curve(net, x, 0, x[0, 0], steps=4, fill=0.0, batch_size=2)
    assert torch.allclose(sp, torch.sigmoid(s))
    assert as_pixel_map(torch.ones(2, 2), (4, 4)).shape == (4, 4)
    g = torch.zeros(1, 3, 4, 4)
    g[0, 2, 1, 1] = -5.0
    assert as_pixel_map(g, (4, 4))[1, 1] == 5.0  # max over channels of |.|


def test_deletion_in_patches_and_blur_fill_by_hand():
    net = mean_red_net()
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0] = torch.arange(1.0, 65.0).view(8, 8)
    # 4x4 patches ranked by their mean: bottom-right (sum 808), bottom-left (744), top-right (296), top-left (232)
    f, s = deletion_curve(net, x, 0, x[0, 0], steps=4, fill=0.0, score="logit", patch=4)
    assert torch.allclose(f, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert torch.allclose(s, torch.tensor([2080.0, 1272.0, 528.0, 232.0, 0.0]) / 64)
    const = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(blurred(const), const)
    noisy = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert blurred(noisy, sigma=3.0).std() < 0.3 * noisy.std()
    # fill="blur": everything removed = the blurred image
    _, sb = deletion_curve(net, noisy, 0, noisy[0, 0], steps=2, fill="blur", score="logit")
    assert torch.isclose(sb[-1], blurred(noisy)[0, 0].mean(), atol=1e-5)


def test_saliency_beats_random_deletion(effnet):
    from lecture_utils.images import load_image

    x = effnet.preprocess(load_image("flower"))
    c = effnet.predict(x, 1)[0][0]
    kw = dict(steps=8, fill="blur", score="logit")
    auc = deletion_auc(*deletion_curve(effnet, x, c, saliency(effnet, x, c), **kw))
    rnd = deletion_auc(*deletion_curve(effnet, x, c, random_map(x, seed=0), **kw))
    assert auc < rnd


# --------------------------------------------------------------------------- hygiene and bad input


def _cascade_step(model, image, target):
    _, rnd = next(iter(cascading_randomization(model, [("classifier", ["classifier"])])))
    return saliency(rnd, image, target)


METHODS = {
    "smooth_grad": lambda m, x, t: smooth_grad(m, x, t, n_samples=2),
    "smooth_saliency": lambda m, x, t: smooth_saliency(m, x, t, n_samples=2),
    "deletion_curve": lambda m, x, t: deletion_curve(m, x, t, random_map(x), steps=2)[1],
    "cascade": _cascade_step,
}
GRID = [(m, t) for m in METHODS for t in (285, "tabby")]


@pytest.mark.parametrize("method,target", GRID, ids=[f"{m}-{t}" for m, t in GRID])
def test_hygiene_grid(effnet, chelsea, method, target):
    x = torch.nn.functional.interpolate(chelsea, size=(64, 64), mode="bilinear", align_corners=False)
    out = []
    weights = {k: v.clone() for k, v in effnet.net.state_dict().items()}
    assert_leaves_model_clean(effnet, lambda: out.append(METHODS[method](effnet, x, target)))
    assert torch.isfinite(out[-1]).all() and torch.equal(out[0], out[1])  # deterministic
    assert all(torch.equal(v, weights[k]) for k, v in effnet.net.state_dict().items())


@pytest.mark.parametrize("f", [smooth_grad, smooth_saliency], ids=["smooth_grad", "smooth_saliency"])
def test_bad_input_to_smoothgrad_leaves_model_clean(effnet, chelsea, f):
    check = lambda g, exc, match: assert_raises_and_leaves_clean(effnet, g, exc, match)
    x = chelsea
    check(lambda: f(effnet, x, 1000), ValueError, "out of range")
    check(lambda: f(effnet, x, "tigr cat"), ValueError, "tiger cat")
    check(lambda: f(effnet, x[0], 285), ValueError, "shape")
    check(lambda: f(effnet, x.to(torch.int64), 285), ValueError, "float")
    check(lambda: f(effnet, x, 285, noise=-0.1), ValueError, "noise")
    check(lambda: f(effnet, x, 285, noise="high"), TypeError, "noise")
    check(lambda: f(effnet, x, 285, n_samples=0), ValueError, "n_samples")
    check(lambda: f(effnet, x, 285, batch_size=0), ValueError, "batch_size")


def test_bad_input_leaves_model_clean(effnet, chelsea):
    check = lambda g, exc, match: assert_raises_and_leaves_clean(effnet, g, exc, match)
    x = chelsea
    m = random_map(x)
    check(lambda: deletion_curve(effnet, x, 1000, m), ValueError, "out of range")
    check(lambda: deletion_curve(effnet, x, "tigr cat", m), ValueError, "tiger cat")
    check(lambda: deletion_curve(effnet, x, 285, m, steps=0), ValueError, "steps")
    check(lambda: deletion_curve(effnet, x, 285, m, batch_size=0), ValueError, "batch_size")
    check(lambda: deletion_curve(effnet, x, 285, m, score="softmax"), ValueError, "score")
    check(lambda: deletion_curve(effnet, x, 285, m, fill="pink"), ValueError, "fill")
    check(lambda: deletion_curve(effnet, x, 285, torch.zeros(2, 3, 4)), ValueError, "attribution")
    check(lambda: deletion_curve(effnet, x, lambda z: z[:, 0], m), TypeError, "callable")
    check(lambda: next(cascading_randomization(effnet, [("x", ["blocks.44"])])), ValueError, "Unknown layer")
    check(lambda: next(cascading_randomization(effnet, [("x", [])])), ValueError, "names no layer")
    check(lambda: next(cascading_randomization(effnet, [])), ValueError, "no steps")
    with pytest.raises(ValueError, match="length"):
        deletion_auc(torch.zeros(1), torch.zeros(1))
    assert model_state(effnet)["hooks"] == 0
