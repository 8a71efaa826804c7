"""Gram matrices, content/style losses, texture synthesis and style transfer (lectures 16-18)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lecture_utils import style
from lecture_utils.images import load_image
from lecture_utils.optimize import PixelImage
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def test_gram_matrix_known_answer():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)  # 2 channels, 2 positions
    g = style.gram_matrix(f)
    # G[c, d] = mean over the 2 positions of F[c] F[d]
    assert torch.allclose(g, torch.tensor([[[2.5, 5.5], [5.5, 12.5]]]))


def test_gram_matrix_ignores_position():
    torch.manual_seed(0)
    f = torch.randn(2, 5, 4, 6)
    perm = torch.randperm(24)
    shuffled = f.reshape(2, 5, 24)[..., perm].reshape(2, 5, 4, 6)
    assert torch.allclose(style.gram_matrix(f), style.gram_matrix(shuffled), atol=1e-5)
    # ...while the features themselves differ a lot
    assert (f - shuffled).abs().max() > 1


def test_masked_gram_matrix():
    f = torch.tensor([[1.0, 2.0, 0.0, 5.0], [3.0, 4.0, 1.0, 0.0]]).reshape(1, 2, 2, 2)
    mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).reshape(1, 1, 2, 2)
    # one position selected: the outer product of its feature vector (1, 3)
    assert torch.allclose(style.gram_matrix(f, mask), torch.tensor([[[1.0, 3.0], [3.0, 9.0]]]))
    # a full mask gives the plain Gram matrix; a mask at twice the resolution is area-averaged
    assert torch.allclose(style.gram_matrix(f, torch.ones(1, 1, 2, 2)), style.gram_matrix(f))
    big = mask.repeat_interleave(2, -1).repeat_interleave(2, -2)
    assert torch.allclose(style.gram_matrix(f, big), style.gram_matrix(f, mask))
    with pytest.raises(ValueError, match="empty"):
        style.gram_matrix(f, torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="mask must be"):
        style.gram_matrix(f, torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match="features must be"):
        style.gram_matrix(torch.ones(2, 2))


def test_content_and_style_losses_known_answers():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    c = style.content_loss("x", a)
    assert c({"x": a}) == 0
    assert c({"x": torch.zeros_like(a)}) == pytest.approx(1.0)
    assert c({"x": 2 * a}) == pytest.approx(1.0)
    assert c.layers == {"x"}
    g = style.gram_matrix(a)
    s = style.style_loss({"x": g})
    assert s({"x": a}) == 0
    assert s({"x": torch.zeros_like(a)}) == pytest.approx(1.0)
    # doubling the features multiplies the Gram matrix by 4: relative error (4 - 1)^2 = 9
    assert s({"x": 2 * a}) == pytest.approx(9.0)
    # two layers, default weights 1/2 each
    s2 = style.style_loss({"x": g, "y": g})
    assert s2({"x": a, "y": torch.zeros_like(a)}) == pytest.approx(0.5)
    # the total is a linear combination (the lecture's point)
    total = 3.0 * c + 0.5 * s
    acts = {"x": torch.zeros_like(a)}
    assert total(acts) == pytest.approx(3.0 * c(acts) + 0.5 * s(acts))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: style.content_loss("x", torch.zeros(1, 2, 3, 3)), "all zeros"),
        (lambda: style.content_loss("x", torch.ones(2, 3)), "target must be"),
        (lambda: style.style_loss({}), "at least one"),
        (lambda: style.style_loss({"x": torch.ones(1, 2, 2)}, weights={"y": 1.0}), "weights name"),
        (lambda: style.style_loss({"x": torch.ones(1, 2, 3)}), "must be \\(1, C, C\\)"),
    ],
)
def test_loss_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_content_loss_rejects_other_sizes():
    c = style.content_loss("x", torch.ones(1, 2, 4, 4))
    with pytest.raises(ValueError, match="content image's size"):
        c({"x": torch.ones(1, 2, 3, 4)})


@pytest.fixture(scope="module")
def images(vgg):
    content = vgg.preprocess(load_image("chelsea"), size=(40, 48))
    painting = vgg.preprocess(load_image("vangogh_starry_night"), size=48)
    return content, painting


def test_style_distance_is_zero_for_the_image_itself(vgg, images):
    content, painting = images
    assert style.style_distance(vgg, painting, painting) == pytest.approx(0.0, abs=1e-6)
    assert style.style_distance(vgg, content, painting) > 0.1


def test_style_transfer_lowers_the_loss_and_moves_the_gram_matrices(vgg, images):
    content, painting = images
    res = style.style_transfer(vgg, content, painting, alpha=1.0, beta=10.0, steps=25)
    assert res.image.shape == (40, 48, 3)
    assert res.start["content"] == pytest.approx(0.0, abs=1e-3)  # starts at the photo
    assert res.final["total"] < 0.5 * res.start["total"]
    assert res.final["style"] < 0.5 * res.start["style"]
    assert res.values[-1] < res.values[0]
    out = vgg.normalize(torch.from_numpy(res.image).permute(2, 0, 1)[None])
    # the output's Gram matrices are closer to the painting's than the photo's are
    assert style.style_distance(vgg, out, painting) < 0.5 * style.style_distance(vgg, content, painting)


def test_texture_synthesis_from_noise(vgg, images):
    _, painting = images
    res = style.synthesize_texture(vgg, painting, layers=["relu1_1", "relu2_1"], size=32, steps=30, snapshots=[1, 30])
    assert res.image.shape == (32, 32, 3)
    assert res.final["style"] < 0.3 * res.start["style"]
    assert sorted(res.snapshots) == [1, 30]
    assert np.isfinite(res.values).all()


def test_style_methods_leave_vgg_clean(vgg, images):
    content, painting = images
    assert_leaves_model_clean(vgg, lambda: style.style_transfer(vgg, content, painting, steps=2, init="noise"))
    assert_leaves_model_clean(vgg, lambda: style.synthesize_texture(vgg, painting, size=32, steps=2))
    assert_leaves_model_clean(vgg, lambda: style.style_targets(vgg, painting))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"style_layers": ["relu9_1"]}, ValueError, "relu9_1"),
        ({"content_layer": "nope"}, ValueError, "nope"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"alpha": 0.0, "beta": 0.0}, ValueError, "both 0"),
        ({"init": "zeros"}, ValueError, "init"),
        ({"steps": 0}, ValueError, "steps"),
    ],
)
def test_style_transfer_bad_inputs_leave_vgg_clean(vgg, images, kwargs, exc, match):
    content, painting = images
    assert_raises_and_leaves_clean(vgg, lambda: style.style_transfer(vgg, content, painting, **kwargs), exc, match)


def test_style_transfer_rejects_bad_images_and_models(vgg, effnet, images):
    content, painting = images
    assert_raises_and_leaves_clean(vgg, lambda: style.style_transfer(vgg, content[0], painting), ValueError, None)
    with pytest.raises(TypeError, match="ZooModel"):
        style.style_transfer(vgg.net, content, painting)


def test_pixel_image_non_square_and_frequency_normalized_gradient():
    p = PixelImage((16, 24), seed=0)
    assert p().shape == (1, 3, 16, 24)
    q = PixelImage((16, 24), seed=0, freq_norm=1.0)
    assert torch.equal(p(), q())  # same start, only the gradient differs
    torch.manual_seed(0)
    w = torch.randn(1, 3, 16, 24)  # white "network gradient"
    (p().mul(w)).sum().backward()
    (q().mul(w)).sum().backward()

    def low_share(g: torch.Tensor) -> float:
        spec = torch.fft.rfft2(g).abs().pow(2)
        f = (torch.fft.fftfreq(16)[:, None] ** 2 + torch.fft.rfftfreq(24)[None, :] ** 2).sqrt()
        return float(spec[..., f < 0.15].sum() / spec.sum())

    # the filtered gradient carries far more of its energy in low frequencies
    assert low_share(q.logits.grad) > 3 * low_share(p.logits.grad)
    with pytest.raises(ValueError, match="freq_norm"):
        PixelImage(16, freq_norm=-1.0)
    with pytest.raises(ValueError, match="size"):
        PixelImage((16, 4))
