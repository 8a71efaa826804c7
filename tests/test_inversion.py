"""Inverting representations (notebook 07): regularizers by hand, torch HOG against scikit-image,
inversion of tiny known networks, the real zoo, hygiene and bad input."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from skimage import color, data
from skimage.feature import hog

from lecture_utils import plot
from lecture_utils.hooks import hook_count, record
from lecture_utils.inversion import (
    B_RANGE,
    HOG,
    IMAGENET_MEAN,
    V_RANGE,
    UpTo,
    alpha_norm,
    feature_match,
    hog_model,
    hog_picture,
    invert,
    pairwise_correlation,
    pairwise_rmse,
    relative_error,
    representation,
    rgb_to_gray,
    tv_beta,
)
from lecture_utils.models import Normalize, ZooModel
from lecture_utils.optimize import INPUT, OUTPUT
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# --------------------------------------------------------------------------- regularizers by hand


def test_alpha_norm_by_hand():
    mu = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    x = mu.repeat(1, 1, 2, 2)
    assert alpha_norm(6, 1.0)({INPUT: x}) == 0  # the mean colour costs nothing
    x[0, 0, 0, 0] += 0.1  # one of 12 values off by 0.1
    for alpha in (1.0, 2.0, 6.0):
        want = -3.0 * (0.1 / B_RANGE) ** alpha / 12
        assert alpha_norm(alpha, 3.0)({INPUT: x}).item() == pytest.approx(want, rel=1e-4)
    # alpha = 6 punishes one large deviation much more than several small ones of the same sum
    y = mu.repeat(1, 1, 2, 2)
    y[0, :, 0, 0] += 0.1 / 3
    assert alpha_norm(6)({INPUT: x}) < alpha_norm(6)({INPUT: y})


def test_tv_beta_by_hand():
    x = torch.zeros(1, 3, 2, 2)
    x[..., 0, 1] = 1.0  # [[0, 1], [0, 0]]: pixel (0, 0) has dx = 1, pixel (0, 1) has dy = -1, the rest 0
    assert tv_beta(2, 1.0)({INPUT: x}).item() == pytest.approx(-(1 + 1) / 4 / V_RANGE**2, rel=1e-5)
    assert tv_beta(1, 2.0)({INPUT: x}).item() == pytest.approx(-2 * (1 + 1) / 4 / V_RANGE, rel=1e-4)
    x[..., 1, 0] = 1.0  # [[0, 1], [1, 0]]: (0, 0) has dx = dy = 1; (0, 1) dy = -1; (1, 0) dx = -1
    assert tv_beta(2)({INPUT: x}).item() == pytest.approx(-(2 + 1 + 1) / 4 / V_RANGE**2, rel=1e-5)
    assert tv_beta(1)({INPUT: x}).item() == pytest.approx(-(2**0.5 + 1 + 1) / 4 / V_RANGE, rel=1e-4)
    # every pixel is regularized, the corner (H-1, W-1) included
    y = torch.zeros(1, 3, 4, 4, requires_grad=True)
    (-tv_beta(1)({INPUT: y + 0.1 * torch.rand(1, 3, 4, 4)})).backward()
    assert y.grad[..., -1, -1].abs().min() > 0
    assert tv_beta(2)({INPUT: torch.full((1, 3, 5, 5), 0.3)}) == 0  # flat image
    # a smooth image has less TV than noise
    ramp = torch.linspace(0, 1, 16).view(1, 1, 1, 16).expand(1, 3, 16, 16)
    assert tv_beta()({INPUT: ramp}) > tv_beta()({INPUT: torch.rand(1, 3, 16, 16)})


def test_regularizers_reject_bad_values():
    with pytest.raises(ValueError, match="alpha must be >= 1"):
        alpha_norm(0.5)
    with pytest.raises(ValueError, match="lam_alpha"):
        alpha_norm(6, -1.0)
    with pytest.raises(ValueError, match="beta must be >= 1"):
        tv_beta(0.5)
    with pytest.raises(ValueError, match="lam_tv"):
        tv_beta(2, -0.1)
    with pytest.raises(TypeError, match="number"):
        tv_beta(2, "big")
    with pytest.raises(ValueError, match="one value per RGB"):
        alpha_norm(6, 1.0, mean=(0.5, 0.5))


def test_feature_match_is_zero_at_the_target_and_its_gradient_points_to_it():
    torch.manual_seed(0)
    t = torch.randn(1, 4, 3, 3)
    obj = feature_match("a", t)
    assert obj.layers == {"a"} and obj({"a": t.clone()}) == 0
    a = torch.randn(1, 4, 3, 3, requires_grad=True)
    v = obj({"a": a})
    assert v.item() == pytest.approx(-((a - t).pow(2).sum() / t.pow(2).sum()).item())
    v.backward()
    assert torch.allclose(a.grad, -2 * (a - t) / t.pow(2).sum())  # ascent moves a towards t
    step = a.detach() + 0.1 * a.grad
    assert (step - t).norm() < (a.detach() - t).norm()
    assert feature_match(OUTPUT, torch.ones(1, 5)).layers == set()  # logits need no hook
    with pytest.raises(ValueError, match="all zeros"):
        feature_match("a", torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"shape \(1, 4, 2, 2\) but the target has \(1, 4, 3, 3\)"):
        obj({"a": torch.zeros(1, 4, 2, 2)})


# --------------------------------------------------------------------------- HOG in torch vs scikit-image


@pytest.mark.parametrize("orientations,cell,block", [(9, 8, 2), (6, 6, 3), (12, 4, 1)])
def test_hard_hog_equals_skimage(orientations, cell, block):
    rgb = data.astronaut()[100:196, 150:262] / 255.0  # 96 x 112, not a multiple of every cell size
    hard = HOG(orientations, cell, block, soft=False).double()
    # 8-bit images have pixels whose angle lies exactly on a bin boundary (e.g. g_row = -g_col:
    # 135 degrees), where numpy's and torch's atan2 may differ in the last bit: a few values differ
    ref = hog(color.rgb2gray(rgb), orientations, (cell, cell), (block, block), block_norm="L2-Hys")
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    assert np.mean(np.abs(hard(x)[0].numpy() - ref) < 1e-5) > 0.99
    # with a little noise no angle sits on a boundary: equal everywhere (scikit-image sums in float32)
    rgb = np.clip(rgb + np.random.default_rng(0).normal(0, 0.01, rgb.shape), 0, 1)
    gray = color.rgb2gray(rgb)
    ref = hog(gray, orientations, (cell, cell), (block, block), block_norm="L2-Hys")
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    ours = hard(x)[0].numpy()
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-5
    soft = HOG(orientations, cell, block, soft=True).double()(x)[0].numpy()
    assert np.corrcoef(soft, ref)[0, 1] > 0.9
    assert torch.allclose(rgb_to_gray(x)[0, 0], torch.from_numpy(gray))


def test_hog_of_a_vertical_edge_votes_for_the_horizontal_gradient_bin():
    img = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    img[..., 8:] = 1.0  # a vertical edge: the gradient points along x, orientation 0 degrees
    for soft in (False, True):
        h = HOG(orientations=4, cell=8, block=1, soft=soft).double()(img).view(2, 2, 4)  # (cy, cx, bins)
        if soft:  # 0 degrees lies between the centres of bins 3 (157.5) and 0 (22.5): half to each
            assert torch.allclose(h[0, 0, 0], h[0, 0, 3]) and h[0, 0, 1:3].abs().max() < 1e-12
        else:
            assert h[0, 0, 0] > 0.99 and h[0, 0, 1:].abs().max() < 1e-12


def test_soft_hog_is_differentiable_and_validated():
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    HOG()(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    HOG()(torch.zeros(1, 3, 32, 32, requires_grad=True)).sum().backward()  # flat image: no NaN
    with pytest.raises(ValueError, match="too small"):
        HOG(cell=8, block=2)(torch.rand(1, 3, 12, 12))
    with pytest.raises(ValueError, match="orientations"):
        HOG(orientations=0)
    with pytest.raises(ValueError, match="RGB or"):
        HOG()(torch.rand(1, 2, 32, 32))
    assert hog_picture(np.random.rand(32, 32, 3)).shape == (32, 32)


# --------------------------------------------------------------------------- inverting tiny known networks


def tiny_zoo(net: torch.nn.Module, layers: list[str]) -> ZooModel:
    return ZooModel("tiny", net.eval(), Normalize([0.0] * 3, [1.0] * 3), 16, None, layers)


def test_an_invertible_code_gives_back_the_image():
    """Phi = a 1x1 conv with an invertible 3x3 colour matrix: the unregularized inversion must
    recover the original pixels."""
    conv = torch.nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[2.0, 0.5, 0.0], [0.0, 1.0, -1.0], [0.3, 0.0, 1.5]]).view(3, 3, 1, 1))
    net = torch.nn.Sequential()
    net.add_module("mix", conv)
    net.add_module("act", torch.nn.ReLU6(inplace=True))
    zoo = tiny_zoo(net, ["mix", "act"])
    g = torch.Generator().manual_seed(0)
    x = 0.2 + 0.6 * torch.rand(1, 3, 16, 16, generator=g)
    r = invert(zoo, x, "mix", steps=300, lam_alpha=0, lam_tv=0, lr=0.1)
    assert r.image.shape == (16, 16, 3) and r.layer == "mix"
    assert r.error < 1e-3 < 0.3 < r.start_error
    assert r.pixel_error < 1e-3, r.pixel_error
    assert r.values[-1] > r.values[0]


def test_inversion_of_a_tiny_cnn_reduces_the_loss_and_is_clean(tiny_cnn):
    x = torch.rand(1, 3, 16, 16)
    for layer in ("conv", "act", OUTPUT):
        run = lambda: invert(tiny_cnn, x, layer, steps=60, lr=0.1, lam_alpha=0, lam_tv=1e-4)  # noqa: B023
        assert_leaves_model_clean(tiny_cnn, run, repeat=1)
        r = run()
        assert r.error < 0.5 * r.start_error, (layer, r.start_error, r.error)
    assert tiny_cnn.act.inplace is True  # the in-place ReLU6 is restored


def test_up_to_stops_at_the_layer_and_matches_a_recording(tiny_cnn):
    x = torch.rand(1, 3, 8, 8)
    with record(tiny_cnn, "act", detach=True) as rec:
        tiny_cnn(x)
    up = UpTo(tiny_cnn, "act")
    assert torch.equal(up(x), rec["act"]) and hook_count(tiny_cnn) == 0
    calls = []
    h = tiny_cnn.fc.register_forward_hook(lambda *a: calls.append(1))
    try:
        up(x)
    finally:
        h.remove()
    assert calls == []  # the layers after "act" never ran
    assert torch.equal(representation(tiny_cnn, x, OUTPUT), tiny_cnn(x).detach())
    assert torch.equal(representation(tiny_cnn, x, "act"), rec["act"])


def test_pairwise_rmse():
    a, b = np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.5)
    m = pairwise_rmse([a, b, a])
    assert np.allclose(m, [[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]])
    with pytest.raises(ValueError):
        pairwise_rmse([np.zeros((2, 2, 3)), np.zeros((3, 2, 3))])
    rng = np.random.default_rng(0)
    u, v = rng.random((8, 8, 3)), rng.random((8, 8, 3))
    c = pairwise_correlation([u, 2 * u + 0.1, 1 - u, v])
    assert np.allclose(c[0, :3], [1, 1, -1]) and abs(c[0, 3]) < 0.3


# --------------------------------------------------------------------------- real weights


def test_vgg_detail_is_lost_with_depth(vgg, chelsea_img):
    x = vgg.preprocess(chelsea_img, size=48)
    shallow = invert(vgg, x, "relu1_1", steps=60, lr=0.08)
    deep = invert(vgg, x, "relu4_1", steps=60, lr=0.08)
    for r in (shallow, deep):
        assert r.error < 0.6 * r.start_error, (r.layer, r.start_error, r.error)
    assert shallow.pixel_error < 0.6 * deep.pixel_error, (shallow.pixel_error, deep.pixel_error)


def test_effnet_logit_inversion_keeps_the_prediction(effnet, chelsea_img):
    x = effnet.preprocess(chelsea_img, size=96)
    r = invert(effnet, x, OUTPUT, steps=60, lr=0.08)
    assert r.error < 0.5 * r.start_error
    xr = effnet.normalize(torch.from_numpy(r.image).permute(2, 0, 1)[None])
    assert effnet.predict(xr, 1)[0][0] == effnet.predict(x, 1)[0][0]  # same class, different picture
    assert r.pixel_error > 0.1
    assert relative_error(effnet, torch.from_numpy(r.image).permute(2, 0, 1)[None], OUTPUT, r.target) == pytest.approx(
        r.error, rel=1e-4
    )


def test_hog_inversion_reduces_the_loss(chelsea_img):
    hm = hog_model(32)
    x = hm.preprocess(chelsea_img, size=32)
    assert_leaves_model_clean(hm, lambda: invert(hm, x, OUTPUT, steps=3))
    r = invert(hm, x, OUTPUT, steps=60, lr=0.1)
    assert r.error < 0.5 * r.start_error
    with pytest.raises(ValueError, match="too small"):
        invert(hm, hm.preprocess(chelsea_img, size=12), OUTPUT, steps=1)


GRID = [
    ("vgg", "relu1_1"),
    ("vgg", "pool2"),
    ("vgg", "conv4_1"),
    ("vgg", "relu5_1"),
    ("effnet", "blocks.2"),
    ("effnet", "bn2"),
    ("effnet", OUTPUT),
]


@pytest.mark.parametrize("which,layer", GRID, ids=[f"{m}-{layer}" for m, layer in GRID])
def test_hygiene_grid(request, chelsea_img, which, layer):
    zoo = request.getfixturevalue(which)
    x = zoo.preprocess(chelsea_img, size=32)
    out = []
    assert_leaves_model_clean(zoo, lambda: out.append(invert(zoo, x, layer, steps=2, seed=3)))
    assert np.array_equal(out[0].image, out[1].image)  # deterministic for a seed
    assert_leaves_model_clean(zoo, lambda: representation(zoo, x, layer))
    assert np.isfinite(out[0].image).all() and out[0].image.shape == (32, 32, 3)


@pytest.mark.parametrize("which", ["vgg", "effnet"])
def test_bad_input_leaves_model_clean(request, chelsea_img, which):
    zoo = request.getfixturevalue(which)
    x = zoo.preprocess(chelsea_img, size=32)
    layer = "relu2_1" if which == "vgg" else "blocks.3"

    def check(exc, match, **kw):
        args = {"image": x, "layer": layer, "steps": 1, **kw}
        assert_raises_and_leaves_clean(zoo, lambda: invert(zoo, **args), exc, match)

    check(ValueError, "Unknown layer 'relu2_11'" if which == "vgg" else "Unknown layer 'blocks.31'", layer=layer + "1")
    check(TypeError, "layer must be a layer name", layer=3)
    check(ValueError, "shape", image=x[0])
    check(ValueError, "float", image=x.to(torch.int64))
    check(ValueError, "square", image=zoo.preprocess(np.zeros((32, 48, 3), np.uint8), size=0))
    check(ValueError, "lam_tv must be >= 0", lam_tv=-1.0)
    check(ValueError, "lam_alpha must be >= 0", lam_alpha=-0.1)
    check(ValueError, "steps", steps=0)
    check(ValueError, "size", size=4)
    check(ValueError, "alpha", alpha=0.5)
    check(ValueError, "beta", beta=0)
    check(ValueError, "lr", lr=0.0)
    check(ValueError, "downsample", downsample=64)
    assert_raises_and_leaves_clean(zoo, lambda: representation(zoo, x, "nope"), ValueError, "Unknown layer")


def test_invert_rejects_a_non_model():
    with pytest.raises(TypeError, match="nn.Module or ZooModel"):
        invert("vgg19", torch.zeros(1, 3, 16, 16), "relu1_1")


def test_inversion_plots_return_figures():
    figs = [
        plot.inversion_errors(["a", "b"], [0.1, 0.3], [0.02, 0.2], start_errors=[1.0, 1.0]),
        plot.distance_matrix(np.array([[0, 0.3], [0.3, 0]]), ["x", "y"], title="d"),
    ]
    assert all(isinstance(f, plt.Figure) for f in figs)
    plt.close("all")
    with pytest.raises(ValueError, match="same length"):
        plot.inversion_errors(["a"], [0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match=r"\(n, n\)"):
        plot.distance_matrix(np.zeros((2, 3)), ["a", "b"])
