"""FullGrad, the full-gradient decomposition and Integrated Gradients (notebook 13): hand-computed
decompositions of tiny ReLU / ReLU6 + batch-norm + bias nets, IG on linear and quadratic functions,
completeness on the real EfficientNet-Lite0, bad input and hook/state hygiene."""

from collections import OrderedDict

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils import plot
from lecture_utils.fullgrad import (
    effective_bias,
    full_gradient,
    fullgrad,
    integrated_gradients,
    path_scores,
    pixel_perturbation,
    postprocess,
    target_score,
)
from lecture_utils.hooks import model_state
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# --------------------------------------------------------------------------- tiny nets with known answers

CONV_W = torch.tensor([[1.0, -1.0, 0.5], [0.0, 2.0, 1.0]]).view(2, 3, 1, 1)
CONV_B = torch.tensor([0.3, -0.2])
GAMMA, BETA = torch.tensor([2.0, 0.5]), torch.tensor([0.1, -0.4])
MU, VAR = torch.tensor([0.2, -0.1]), torch.tensor([4.0, 0.25])  # sd = 2, 0.5 (eps = 0)
FC_W = torch.tensor([[1.0, -2.0], [0.5, 1.5], [-1.0, 0.0]])
FC_B = torch.tensor([0.05, -0.3, 0.7])


def bn_net(act: nn.Module) -> nn.Sequential:
    """x -> conv 1x1 (bias) -> BatchNorm2d (eval, eps 0) -> act -> GAP -> linear (bias)."""
    conv, bn, fc = nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2, eps=0.0), nn.Linear(2, 3)
    with torch.no_grad():
        conv.weight.copy_(CONV_W)
        conv.bias.copy_(CONV_B)
        bn.weight.copy_(GAMMA)
        bn.bias.copy_(BETA)
        bn.running_mean.copy_(MU)
        bn.running_var.copy_(VAR)
        fc.weight.copy_(FC_W)
        fc.bias.copy_(FC_B)
    layers = [("conv", conv), ("bn", bn), ("act", act), ("pool", nn.AdaptiveAvgPool2d(1))]
    layers += [("flat", nn.Flatten()), ("fc", fc)]
    return nn.Sequential(OrderedDict(layers)).eval()


def toy_input(scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(5)
    return scale * torch.randn(1, 3, 8, 8, generator=g)


def by_hand(x: torch.Tensor, k: int, relu6: bool = False):
    """The decomposition written out: z = BN(conv(x)), active units m, P positions."""
    sd = VAR.sqrt()
    conv = torch.einsum("jc,nchw->njhw", CONV_W[:, :, 0, 0], x) + CONV_B.view(1, 2, 1, 1)
    z = GAMMA.view(1, 2, 1, 1) * (conv - MU.view(1, 2, 1, 1)) / sd.view(1, 2, 1, 1) + BETA.view(1, 2, 1, 1)
    hi = 6.0 if relu6 else float("inf")
    m = ((z > 0) & (z < hi)).float()
    sat = (z >= hi).float()
    P = z.shape[-1] * z.shape[-2]
    a = torch.clamp(z, 0, hi)
    logit = (FC_W[k] * a.mean(dim=(2, 3))[0]).sum() + FC_B[k]
    d_act = FC_W[k].view(1, 2, 1, 1) / P  # d f / d act output
    d_z = d_act * m
    d_conv = d_z * (GAMMA / sd).view(1, 2, 1, 1)
    d_x = torch.einsum("jc,njhw->nchw", CONV_W[:, :, 0, 0], d_conv)
    eff = BETA - MU * GAMMA / sd
    fc_term = torch.zeros(1, 3)
    fc_term[0, k] = FC_B[k]
    terms = {
        "input": d_x * x,
        "conv": d_conv * CONV_B.view(1, 2, 1, 1),
        "bn": d_z * eff.view(1, 2, 1, 1),
        "fc": fc_term,
        "act": d_act * 6.0 * sat,
    }
    return logit, terms


@pytest.mark.parametrize("k", [0, 1, 2])
def test_decomposition_by_hand_relu_bn_bias(k):
    net, x = bn_net(nn.ReLU(inplace=True)), toy_input()
    logit, want = by_hand(x, k)
    fg = full_gradient(net, x, k)
    assert fg.score == pytest.approx(float(logit), abs=1e-5)
    assert torch.allclose(fg.input_term, want["input"], atol=1e-6)
    assert set(fg.bias_terms) == {"conv", "bn", "fc"} and fg.implicit_terms == {}
    for name in ("conv", "bn", "fc"):
        assert torch.allclose(fg.bias_terms[name], want[name], atol=1e-6), name
    assert fg.total == pytest.approx(float(logit), abs=1e-5) and abs(fg.residual) < 1e-5
    assert set(fg.layer_sums()) == {"input", "conv", "bn", "fc"}


def test_effective_bias_of_batch_norm():
    net = bn_net(nn.ReLU())
    assert torch.allclose(effective_bias(net.bn), BETA - MU * GAMMA / VAR.sqrt())
    assert torch.equal(effective_bias(net.conv), CONV_B) and effective_bias(net.act) is None
    assert effective_bias(nn.Conv2d(1, 1, 1, bias=False)) is None
    plain = nn.BatchNorm2d(2, affine=False).eval()
    with torch.no_grad():
        plain.running_mean.copy_(torch.tensor([1.0, -2.0]))
        plain.running_var.copy_(torch.tensor([4.0, 1.0]) - plain.eps)
    assert torch.allclose(effective_bias(plain), torch.tensor([-0.5, 2.0]))


def test_relu6_implicit_bias_by_hand():
    """With large inputs some ReLU6 units saturate: their constant 6 is a bias completeness needs."""
    net, x = bn_net(nn.ReLU6(inplace=True)), toy_input(scale=4.0)
    logit, want = by_hand(x, 1, relu6=True)
    assert want["act"].abs().sum() > 0, "the toy input must saturate some units"
    fg = full_gradient(net, x, 1)
    assert torch.allclose(fg.implicit_terms["act"], want["act"], atol=1e-6)
    assert torch.allclose(fg.bias_terms["bn"], want["bn"], atol=1e-6)
    assert torch.allclose(fg.input_term, want["input"], atol=1e-6)
    assert abs(fg.residual) < 1e-5 * (1 + abs(fg.score))
    without = fg.total - fg.layer_sums()["act"]
    assert abs(without - fg.score) > 0.1, "dropping the implicit term must break completeness"


def test_timm_batchnormact_bias_is_taken_before_the_activation():
    from timm.layers import BatchNormAct2d

    bn = BatchNormAct2d(2, act_layer=nn.ReLU6, eps=0.0)
    ref = bn_net(nn.ReLU6())
    bn.load_state_dict(ref.bn.state_dict())
    layers = [("conv", ref.conv), ("bn", bn), ("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten())]
    net = nn.Sequential(OrderedDict(layers + [("fc", ref.fc)])).eval()
    x = toy_input(scale=4.0)
    logit, want = by_hand(x, 0, relu6=True)
    fg = full_gradient(net, x, 0)
    assert torch.allclose(fg.bias_terms["bn"], want["bn"], atol=1e-6)
    assert torch.allclose(fg.implicit_terms["bn.act"], want["act"], atol=1e-6)
    assert abs(fg.residual) < 1e-5 and fg.score == pytest.approx(float(logit), abs=1e-5)


def test_module_called_twice_gets_numbered_terms():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(self.pool(self.conv(torch.relu(self.conv(x)))).flatten(1))

    torch.manual_seed(0)
    net = Twice().eval()
    fg = full_gradient(net, toy_input(), 1)
    assert set(fg.bias_terms) == {"conv", "conv#2", "fc"}
    assert abs(fg.residual) < 1e-5


def test_postprocess_and_fullgrad_map_by_hand():
    t = torch.tensor([[[[-2.0, 1.0], [0.5, -1.0]]]])
    assert torch.allclose(postprocess(t, eps=0.0), torch.tensor([[[[1.0, 1 / 3], [0.0, 1 / 3]]]]))
    net, x = bn_net(nn.ReLU()), toy_input()
    _, want = by_hand(x, 0)
    expected = postprocess(want["input"]).sum(1)[0]
    for name in ("conv", "bn"):  # 8x8 maps on an 8x8 input: resizing is the identity; fc has no map
        expected = expected + postprocess(want[name]).sum(1)[0]
    m = fullgrad(net, x, 0)
    assert m.shape == (8, 8) and torch.allclose(m, expected, atol=1e-5)
    parts = fullgrad(net, x, 0, parts=True)
    assert list(parts) == ["input", "conv", "bn"] and torch.allclose(torch.stack(list(parts.values())).sum(0), m)


def test_fullgrad_upsamples_coarse_bias_maps():
    layers = [("conv", nn.Conv2d(3, 2, 2, stride=2)), ("act", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(1))]
    torch.manual_seed(1)
    net = nn.Sequential(OrderedDict(layers + [("flat", nn.Flatten()), ("fc", nn.Linear(2, 2))])).eval()
    x = toy_input()
    fg = full_gradient(net, x, 0)
    assert fg.bias_terms["conv"].shape == (1, 2, 4, 4)
    up = F.interpolate(postprocess(fg.bias_terms["conv"]), size=(8, 8), mode="bilinear", align_corners=True)
    parts = fullgrad(net, x, 0, parts=True)
    assert torch.allclose(parts["conv"], up.sum(1)[0], atol=1e-6)


def test_implicit_flag_drops_clamp_maps(tiny_cnn):
    x = toy_input(scale=6.0)
    with_ = fullgrad(tiny_cnn, x, 2, parts=True)
    without = fullgrad(tiny_cnn, x, 2, implicit=False, parts=True)
    assert "act" in with_ and "act" not in without
    with pytest.raises(TypeError):
        fullgrad(tiny_cnn, x, 2, implicit="yes")


# --------------------------------------------------------------------------- Integrated Gradients


class Quadratic(nn.Module):
    """logits = (sum x^2, sum x); a dummy parameter gives the device."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.stack([(x**2).flatten(1).sum(1), x.flatten(1).sum(1)], dim=1) + self.dummy


def linear_net() -> nn.Sequential:
    torch.manual_seed(2)
    layers = [("conv", nn.Conv2d(3, 2, 1)), ("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten())]
    return nn.Sequential(OrderedDict(layers + [("fc", nn.Linear(2, 3))])).eval()


@pytest.mark.parametrize("method", ["trapezoid", "riemann"])
@pytest.mark.parametrize("baseline", [None, 0.5, "tensor"])
def test_ig_on_a_linear_model_is_delta_times_weight(method, baseline):
    net, x = linear_net(), toy_input()
    x0 = torch.randn(1, 3, 8, 8) if baseline == "tensor" else baseline
    ref = torch.zeros_like(x) if x0 is None else (x0 if isinstance(x0, torch.Tensor) else torch.full_like(x, x0))
    w = torch.einsum("j,jc->c", net.fc.weight[1], net.conv.weight[:, :, 0, 0]) / 64  # d logit_1 / d x
    ig = integrated_gradients(net, x, 1, baseline=x0, steps=3, method=method).detach()
    assert torch.allclose(ig, (x - ref) * w.view(1, 3, 1, 1), atol=1e-6)
    assert ig.sum().item() == pytest.approx(target_score(net, x, 1) - target_score(net, ref, 1), abs=1e-5)


def test_ig_on_a_quadratic_by_hand():
    net = Quadratic()
    x, x0 = toy_input(), torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(9))
    d = x - x0
    ig = integrated_gradients(net, x, 0, baseline=x0, steps=5)  # trapezoid: exact for a linear integrand
    assert torch.allclose(ig, x**2 - x0**2, atol=1e-5)
    n = 5  # right Riemann sum: d * (1/n) sum_k 2 (x0 + k/n d) = d (2 x0 + d (n + 1) / n)
    ig_r = integrated_gradients(net, x, 0, baseline=x0, steps=n, method="riemann")
    assert torch.allclose(ig_r, d * (2 * x0 + d * (n + 1) / n), atol=1e-5)
    ig_b = integrated_gradients(net, x, 0, baseline=x0, steps=5, batch_size=2)
    assert torch.allclose(ig_b, ig, atol=1e-6)


def test_ig_path_and_path_scores():
    net, x = Quadratic(), toy_input()
    ig, path = integrated_gradients(net, x, 0, steps=4, return_path=True)
    assert torch.allclose(path.alphas, torch.linspace(0, 1, 5, dtype=torch.float64))
    assert path.weights.sum().item() == pytest.approx(1.0)
    assert torch.allclose(path.scores, path.alphas**2 * (x**2).sum().double(), rtol=1e-5)
    assert torch.allclose(path.integrand, 2 * path.alphas * (x**2).sum().double(), rtol=1e-5)
    assert path.estimate == pytest.approx(ig.sum().item(), rel=1e-5)
    assert path.delta == pytest.approx((x**2).sum().item(), rel=1e-5) and abs(path.gap) < 1e-4
    a = torch.tensor([0.0, 0.5, 1.0])
    assert torch.allclose(path_scores(net, x, 1, a, batch_size=2), a.double() * x.sum().double(), rtol=1e-5)


def test_ig_converges_on_a_smooth_net():
    torch.manual_seed(4)
    layers = [("conv", nn.Conv2d(3, 4, 3, padding=1)), ("act", nn.Softplus()), ("pool", nn.AdaptiveAvgPool2d(1))]
    net = nn.Sequential(OrderedDict(layers + [("flat", nn.Flatten()), ("fc", nn.Linear(4, 2))])).eval()
    x = toy_input(scale=3.0)
    delta = target_score(net, x, 0) - target_score(net, torch.zeros_like(x), 0)
    gaps = [abs(integrated_gradients(net, x, 0, steps=s).sum().item() - delta) for s in (1, 4, 32)]
    assert gaps[2] < gaps[1] < gaps[0] and gaps[2] < 1e-3 * (1 + abs(delta))


# --------------------------------------------------------------------------- pixel perturbation


def mean_red_net() -> nn.Sequential:
    """logit_0 = mean of the red channel, logit_1 = 0."""
    conv, fc = nn.Conv2d(3, 1, 1, bias=False), nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
        fc.weight.copy_(torch.tensor([[1.0], [0.0]]))
    layers = [("feat", conv), ("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", fc)]
    return nn.Sequential(OrderedDict(layers)).eval()


def test_pixel_perturbation_by_hand():
    net = mean_red_net()
    red = torch.arange(1.0, 65.0).view(8, 8)
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0] = red
    total = red.sum().item()  # 2080
    # the map ranks by red: the least salient are the smallest reds; fill 0 ("black" of a plain module)
    out = pixel_perturbation(net, x, 0, red, fractions=[4 / 64, 0.5])
    assert torch.allclose(out, torch.tensor([10 / total, 528 / total], dtype=torch.float64))
    # a fill value in input space: removed pixels become 0.5
    out = pixel_perturbation(net, x, 0, red, fractions=[4 / 64], fill=0.5)
    assert out.item() == pytest.approx((10 - 4 * 0.5) / total)
    # reversed map: the largest reds go first; a (1, 3, H, W) map is reduced by max |.|
    grad_like = torch.zeros(1, 3, 8, 8)
    grad_like[0, 2] = -red.flip(0).flip(1)
    out = pixel_perturbation(net, x, 0, grad_like, fractions=[1 / 64])
    assert out.item() == pytest.approx(64 / total)


def test_pixel_perturbation_bad_input():
    net, x = mean_red_net(), toy_input()
    m = torch.rand(8, 8)
    for fr in ([0.0], [1.5], []):
        with pytest.raises(ValueError, match="fractions"):
            pixel_perturbation(net, x, 0, m, fractions=fr)
    with pytest.raises(TypeError, match="callable"):
        pixel_perturbation(net, x, lambda z: z[:, 0].sum(), m)
    with pytest.raises(ValueError, match="range"):
        pixel_perturbation(net, x, 2, m)
    with pytest.raises(ValueError, match="attribution"):
        pixel_perturbation(net, x, 0, torch.rand(2, 8, 8, 8))


# --------------------------------------------------------------------------- real weights


@pytest.fixture(scope="module")
def cat96(effnet, chelsea_img):
    return effnet.preprocess(chelsea_img, size=96)


@pytest.mark.parametrize("target", [285, "tabby"])
def test_completeness_on_efficientnet(effnet, cat96, target):
    fg = full_gradient(effnet, cat96, target)
    assert abs(fg.residual) < 1e-4 * (1 + abs(fg.score))
    assert fg.score == pytest.approx(target_score(effnet, cat96, target), abs=1e-4)
    assert len(fg.implicit_terms) > 0 and abs(sum(t.sum().item() for t in fg.implicit_terms.values())) > 1e-3
    assert abs(fg.layer_sums()["input"] - fg.score) > 0.05 * abs(fg.score), "input term alone is not complete"
    assert fg.bias_terms["classifier"].shape == (1, 1000)


def test_pixel_perturbation_on_efficientnet_favours_fullgrad(effnet, cat96):
    from lecture_utils.attribution import input_gradient

    fg = pixel_perturbation(effnet, cat96, 285, fullgrad(effnet, cat96, 285), [0.1])
    gx = pixel_perturbation(effnet, cat96, 285, (input_gradient(effnet, cat96, 285) * cat96).abs().sum(1)[0], [0.1])
    assert fg.item() < gx.item()


def test_fullgrad_on_efficientnet_peaks_on_the_cat_half(effnet, chelsea_img):
    from lecture_utils.images import load_image

    pair = torch.cat([effnet.preprocess(im, size=96) for im in (chelsea_img, load_image("coffee"))], dim=3)
    cat, coffee = fullgrad(effnet, pair, "tiger cat"), fullgrad(effnet, pair, "espresso")
    assert cat.shape == (96, 192) and (cat >= 0).all() and torch.isfinite(cat).all()
    assert int(cat.argmax()) % 192 < 96 and int(coffee.argmax()) % 192 >= 96


# --------------------------------------------------------------------------- bad input, hygiene

METHODS = {
    "full_gradient": lambda m, x, t=285: full_gradient(m, x, t).input_term,
    "fullgrad": lambda m, x, t=285: fullgrad(m, x, t),
    "integrated_gradients": lambda m, x, t=285: integrated_gradients(m, x, t, steps=2, batch_size=2),
    "path_scores": lambda m, x, t=285: path_scores(m, x, t, torch.tensor([0.0, 1.0])),
    "pixel_perturbation": lambda m, x, t=285: pixel_perturbation(m, x, t, torch.rand(96, 96)),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_methods_leave_the_model_clean(effnet, cat96, method):
    call = lambda: METHODS[method](effnet, cat96)
    before = model_state(effnet)
    assert any(before["inplace"].values()), "EfficientNet-Lite0 has in-place ReLU6"
    assert_leaves_model_clean(effnet, call, repeat=2)
    out = call()
    assert torch.isfinite(out).all() and out.abs().sum() > 0


@pytest.mark.parametrize("method", list(METHODS))
def test_bad_input_raises_and_leaves_clean(effnet, cat96, method):
    call = METHODS[method]
    assert_raises_and_leaves_clean(effnet, lambda: call(effnet, cat96[0]), ValueError, "shape")
    assert_raises_and_leaves_clean(effnet, lambda: call(effnet, cat96, 5000), ValueError, "range")
    assert_raises_and_leaves_clean(effnet, lambda: call(effnet, cat96, "tabbby"), ValueError, "tabby")
    assert_raises_and_leaves_clean(effnet, lambda: call(effnet, cat96.int()), ValueError, "float")


def test_exception_inside_the_pass_leaves_clean(effnet, cat96):
    def boom(logits):
        raise RuntimeError("target failed")

    for fn in (full_gradient, fullgrad, integrated_gradients):
        assert_raises_and_leaves_clean(effnet, lambda fn=fn: fn(effnet, cat96, boom), RuntimeError, "target failed")


def test_bad_parameters(effnet, cat96):
    bad = [
        (lambda: integrated_gradients(effnet, cat96, 285, steps=0), "steps"),
        (lambda: integrated_gradients(effnet, cat96, 285, batch_size=0), "batch_size"),
        (lambda: integrated_gradients(effnet, cat96, 285, method="simpson"), "simpson"),
        (lambda: integrated_gradients(effnet, cat96, 285, baseline=torch.zeros(1, 3, 16, 16)), "baseline"),
    ]
    for call, match in bad:
        assert_raises_and_leaves_clean(effnet, call, ValueError, match)
    assert_raises_and_leaves_clean(effnet, lambda: integrated_gradients(effnet, cat96, 285, baseline="grey"), TypeError)


def test_batch_norm_with_batch_statistics_is_refused():
    net = bn_net(nn.ReLU())
    net.bn.track_running_stats = False
    net.bn.running_mean = None
    net.bn.running_var = None
    assert_raises_and_leaves_clean(net, lambda: full_gradient(net, toy_input(), 0), ValueError, "running statistics")


def test_ig_path_figure():
    net, x = Quadratic(), toy_input()
    _, path = integrated_gradients(net, x, 0, steps=4, return_path=True)
    fig = plot.ig_path(path.alphas, path.scores, path.integrand, fine=(path.alphas, path.scores))
    assert len(fig.axes) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="1-D"):
        plot.ig_path(path.alphas, path.scores[:2], path.integrand)


def test_fast_sum_equals_the_sum_of_the_paper_maps(effnet, cat96):
    """fullgrad() adds maps of one resolution before resizing and scales after the channel sum;
    both are linear, so it equals the paper's sum of per-layer psi-maps (parts=True)."""
    fg = full_gradient(effnet, cat96, 285)
    h, w = cat96.shape[-2:]
    want = postprocess(fg.input_term).sum(1)[0]
    for t in {**fg.bias_terms, **fg.implicit_terms}.values():
        if t.ndim == 4:
            up = F.interpolate(postprocess(t).sum(1, keepdim=True), size=(h, w), mode="bilinear", align_corners=True)
            want = want + up[0, 0]
    total = fullgrad(effnet, cat96, 285)
    parts = fullgrad(effnet, cat96, 285, parts=True)
    assert len({tuple(t.shape[-2:]) for t in fg.bias_terms.values() if t.ndim == 4}) >= 4
    assert torch.allclose(total, want, rtol=1e-4, atol=1e-3)
    assert torch.allclose(torch.stack(list(parts.values())).sum(0), want, rtol=1e-4, atol=1e-3)
