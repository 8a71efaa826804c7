"""The optimization engine of lecture 12 (and 00, 07, 13, 14): parametrizations, objectives,
transforms, step-filters and ``render`` -- hand-made inputs with known answers, then the real model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lecture_utils import optimize as O
from lecture_utils.hooks import OUTPUT
from lecture_utils.images import load_image, sample_names
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# ----------------------------------------------------------------------------- parametrizations


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("size", [16, 33])
def test_fft_image_shape_and_range(size, batch):
    img = O.FFTImage(size, batch=batch, sd=1.0)()
    assert img.shape == (batch, 3, size, size)
    assert img.min() > 0 and img.max() < 1


def test_fft_image_zero_spectrum_is_mid_grey():
    p = O.FFTImage(24)
    with torch.no_grad():
        p.spectrum.zero_()
    assert torch.allclose(p(), torch.full((1, 3, 24, 24), 0.5))


def test_fft_image_set_image_round_trip_and_gradient():
    p = O.FFTImage(20, batch=2)
    target = torch.rand(2, 3, 20, 20) * 0.8 + 0.1
    p.set_image(target)
    assert torch.allclose(p(), target, atol=1e-4)
    p().mean().backward()
    assert p.spectrum.grad is not None and p.spectrum.grad.abs().sum() > 0


def test_fft_init_is_smoother_than_pixel_init():
    fft = O.FFTImage(64, sd=0.5, seed=1)()
    pix = O.PixelImage(64, sd=0.5, seed=1)()
    assert O.high_frequency_energy(fft) < 0.3 * O.high_frequency_energy(pix)


def test_color_matrix_is_invertible_and_decorrelates():
    m = O.COLOR_CORRELATION_SQRT
    assert abs(np.linalg.det(m)) > 1e-4
    assert np.allclose(m @ np.linalg.inv(m), np.eye(3), atol=1e-5)
    # the matrix is a square root of the photos' colour covariance
    rng = np.random.default_rng(0)
    z = rng.standard_normal((20000, 3))
    rgb = (z @ m.T).reshape(100, 200, 3)
    assert np.allclose(O.estimate_color_correlation([rgb]) @ O.estimate_color_correlation([rgb]).T, m @ m.T, atol=3e-3)


def test_color_matrix_matches_the_sample_photos():
    photos = [np.asarray(load_image(n, max_size=256)) for n in sample_names("photos")]
    assert np.allclose(O.estimate_color_correlation(photos), O.COLOR_CORRELATION_SQRT, atol=2e-3)


def test_estimate_color_correlation_known_answer():
    # independent channels with std 1, 2, 3: the square root is diag(3, 2, 1) up to the column order
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200000, 3)) * [1.0, 2.0, 3.0]
    m = O.estimate_color_correlation([x.reshape(400, 500, 3)])
    assert np.allclose(np.abs(m), [[0, 0, 1], [0, 2, 0], [3, 0, 0]], atol=0.03)
    with pytest.raises(ValueError, match="H, W, 3"):
        O.estimate_color_correlation([np.zeros((4, 4))])


def test_pixel_image_batch_and_set_image():
    p = O.PixelImage(16, batch=2, downsample=2)
    assert p().shape == (2, 3, 16, 16) and p.logits.shape == (2, 3, 8, 8)
    flat = torch.full((2, 3, 16, 16), 0.25)
    p.set_image(flat)
    assert torch.allclose(p(), flat, atol=1e-5)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: O.FFTImage(4), "size"),
        (lambda: O.FFTImage(16, batch=0), "batch"),
        (lambda: O.PixelImage(3), "size"),
        (lambda: O.PixelImage(16, batch=0), "batch"),
        (lambda: O.PixelImage(8, downsample=16), "downsample"),
    ],
)
def test_bad_parametrizations(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ----------------------------------------------------------------------------- objectives


def _acts():
    a = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)  # batch 2, 3 channels, 2x2
    logits = torch.tensor([[0.0, 1.0, 2.0], [2.0, 0.0, 0.0]])
    img = torch.full((2, 3, 4, 4), 0.5)
    img[:, :, :, 2:] = 1.0  # a vertical edge
    return {"L": a, OUTPUT: logits, "input": img}


def test_objectives_on_hand_made_activations():
    acts = _acts()
    a = acts["L"]
    assert O.channel("L", 1)(acts) == a[:, 1].mean()
    assert O.channel("L", 1, batch=1)(acts) == a[1, 1].mean() == 17.5
    assert O.neuron("L", 2, x=1, y=0)(acts) == (a[0, 2, 0, 1] + a[1, 2, 0, 1]) / 2
    assert O.neuron("L", 0, batch=0)(acts) == a[0, 0, 1, 1] == 3.0  # default: the centre (h//2, w//2)
    assert O.layer_l2("L")(acts) == a.pow(2).mean()
    assert O.class_logit(2)(acts) == 1.0 and O.class_logit(0, batch=1)(acts) == 2.0
    p = torch.softmax(acts[OUTPUT], 1)
    assert torch.isclose(O.class_prob(2)(acts), p[:, 2].mean())
    assert O.l2_penalty(2.0)(acts) == -2.0 * 0.125 and O.l1_penalty(1.0)(acts) == -0.25
    # TV: only the one column step 0.5 -> 1, in x: mean over the (4 x 3) horizontal differences = 0.5/3
    assert torch.isclose(O.total_variation(1.0)(acts), torch.tensor(-0.5 / 3))
    assert (O.class_logit(2) + O.channel("L", 0)).layers == {OUTPUT, "L"}


def test_diversity_known_answers():
    same = {"L": torch.ones(3, 2, 4, 4)}
    assert torch.isclose(O.diversity("L", 2.0)(same), torch.tensor(-2.0))  # identical Gram matrices
    apart = torch.zeros(2, 2, 4, 4)
    apart[0, 0], apart[1, 1] = 1.0, 1.0  # each item uses another channel: orthogonal Gram matrices
    assert O.diversity("L")({"L": apart}) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        O.diversity("L")({"L": torch.ones(1, 2, 4, 4)})


@pytest.mark.parametrize(
    "objective, match",
    [
        (O.channel("L", 3), "channel 3 out of range"),
        (O.neuron("L", 0, x=5), "outside"),
        (O.channel("L", 0, batch=2), "batch item 2 out of range"),
        (O.class_logit(3), "class 3 out of range"),
        (O.class_prob(-1), "out of range"),
    ],
)
def test_objectives_reject_bad_indices(objective, match):
    with pytest.raises(ValueError, match=match):
        objective(_acts())


# ----------------------------------------------------------------------------- transforms and filters


def test_transform_shapes():
    x = torch.rand(2, 3, 20, 20)
    assert O.pad(4)(x).shape == (2, 3, 28, 28) and O.pad(4)(x)[0, 0, 0, 0] == 0.5
    assert O.jitter(3)(x).shape == x.shape
    assert O.random_scale([0.5])(x).shape == (2, 3, 10, 10)
    assert O.random_rotate([15])(x).shape == x.shape
    assert torch.equal(O.random_rotate([0])(x), x)


def test_rotate_by_90_degrees_moves_pixels():
    x = torch.rand(1, 3, 8, 8)
    y = O.random_rotate([90])(x)
    assert any(torch.allclose(y, torch.rot90(x, k, dims=(2, 3)), atol=1e-5) for k in (1, -1))


def test_gaussian_blur():
    const = torch.full((1, 3, 9, 9), 0.3)
    assert torch.allclose(O.gaussian_blur(const, 1.0), const)
    delta = torch.zeros(1, 1, 9, 9)
    delta[0, 0, 4, 4] = 1.0
    out = O.gaussian_blur(delta, 1.0)
    assert torch.isclose(out.sum(), torch.tensor(1.0)) and out[0, 0, 4, 4] < 0.2
    assert out[0, 0, 4, 3] == out[0, 0, 3, 4] == out[0, 0, 4, 5]  # symmetric


def test_both_gaussian_blurs_share_one_kernel_and_differ_only_in_radius():
    from lecture_utils import superres

    delta = torch.zeros(1, 1, 15, 15)
    delta[0, 0, 7, 7] = 1.0
    for sigma in (0.7, 1.0, 1.6):
        short, wide = O.gaussian_blur(delta, sigma), superres.gaussian_blur(delta, sigma)
        assert torch.equal(short, O.separable_gaussian(delta, sigma, max(1, round(2 * sigma))))
        assert torch.equal(wide, O.separable_gaussian(delta, sigma, math.ceil(3 * sigma)))
        # the support of the impulse response: 2 * radius + 1 pixels per side
        assert int((short[0, 0, 7] > 0).sum()) == 2 * max(1, round(2 * sigma)) + 1
        assert int((wide[0, 0, 7] > 0).sum()) == 2 * math.ceil(3 * sigma) + 1


def test_bilateral_keeps_edges_but_removes_small_noise():
    edge = torch.zeros(1, 3, 12, 12)
    edge[..., 6:] = 1.0
    assert torch.allclose(O.bilateral_filter(edge, sigma_color=0.1), edge, atol=1e-6)  # edge kept
    assert not torch.allclose(O.gaussian_blur(edge, 1.0), edge, atol=0.1)  # a blur smears it
    g = torch.Generator().manual_seed(0)
    noisy = 0.5 + 0.03 * torch.randn(1, 3, 12, 12, generator=g)
    assert O.bilateral_filter(noisy, sigma_color=0.2).std() < 0.5 * noisy.std()
    const = torch.full((1, 3, 8, 8), 0.7)
    assert torch.allclose(O.bilateral_filter(const), const)


def test_filter_callbacks_fire_every_k_steps():
    p = O.PixelImage(16, sd=2.0)
    before = p().clone()
    cb = O.blur_every(3, sigma=1.0)
    cb(p, 1)
    cb(p, 2)
    assert torch.allclose(p(), before)
    cb(p, 3)
    assert O.high_frequency_energy(p()) < O.high_frequency_energy(before)
    q = O.FFTImage(16, sd=1.0)
    start = q().clone()
    O.bilateral_every(1)(q, 1)
    assert not torch.allclose(q(), start)
    with pytest.raises(ValueError, match="k must be"):
        O.blur_every(0)
    with pytest.raises(TypeError, match="set_image"):
        O.blur_every(1)(torch.nn.Linear(1, 1), 1)


def test_high_frequency_energy():
    assert O.high_frequency_energy(np.full((16, 16, 3), 0.4)) == 0.0
    checker = (np.indices((16, 16)).sum(0) % 2).astype(float)
    assert O.high_frequency_energy(checker) == pytest.approx(1.0)
    ramp = np.tile(np.sin(np.linspace(0, 2 * np.pi, 32, endpoint=False)), (32, 1))
    assert O.high_frequency_energy(ramp) == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- render on the real model

LAYERS = ["blocks.2", "blocks.4"]


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("kind", ["fft", "pixel+callbacks", "class"])
def test_render_rises_and_leaves_the_model_clean(effnet, layer, kind):
    if kind == "fft":
        make = lambda: dict(objective=O.channel(layer, 3), param=O.FFTImage(32), transforms=[O.jitter(2)])
    elif kind == "pixel+callbacks":
        make = lambda: dict(
            objective=O.channel(layer, 3) + O.total_variation(1.0),
            param=O.PixelImage(32, sd=0.1),
            callbacks=[O.blur_every(2), O.bilateral_every(3)],
            transforms=[O.random_rotate([-5, 5])],
        )
    else:
        make = lambda: dict(objective=O.class_logit(1) + O.channel(layer, 0), param=O.FFTImage(32))
    assert_leaves_model_clean(effnet, lambda: O.render(effnet, steps=2, progress=False, **make()), repeat=2)
    res = O.render(effnet, steps=8, lr=0.1, progress=False, **make())
    assert res.values[-1] > res.values[0]
    assert res.image.shape == (32, 32, 3) and res.batch.shape == (1, 32, 32, 3)


def test_early_stop_gives_the_same_values_as_the_full_pass(effnet):
    short = O.render(effnet, O.channel("blocks.3", 5), size=32, steps=3, progress=False)
    full = O.render(effnet, O.channel("blocks.3", 5) + 0 * O.class_logit(0), size=32, steps=3, progress=False)
    assert np.allclose(short.values, full.values, atol=1e-5) and np.allclose(short.image, full.image, atol=1e-5)


def test_batch_objectives_optimize_each_item(effnet):
    obj = O.channel("blocks.3", 5, batch=0) - O.channel("blocks.3", 5, batch=1)
    res = O.render(effnet, obj, param=O.FFTImage(32, batch=2), steps=10, lr=0.1, progress=False)
    m = O.channel_means(effnet, res.batch, "blocks.3")[:, 5]
    assert res.batch.shape == (2, 32, 32, 3) and m[0] > m[1] + 1.0


def test_channel_means_matches_one_forward(effnet):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    m = O.channel_means(effnet, imgs, "blocks.1", batch_size=2)
    assert m.shape == (5, 24)
    one = O.channel_means(effnet, torch.as_tensor(imgs[2:3]).permute(0, 3, 1, 2) / 255.0, "blocks.1")
    assert torch.allclose(m[2:3], one, atol=1e-5)
    with pytest.raises(ValueError, match="batch"):
        O.channel_means(effnet, imgs[0], "blocks.1")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(objective=O.channel("blocks.44", 0)), ValueError, "Unknown layer"),
        (dict(objective=O.channel("blocks.4", 112)), ValueError, "channel 112 out of range"),
        (dict(objective=O.class_logit(1000)), ValueError, "class 1000 out of range"),
        (dict(objective=O.channel("blocks.4", 0), steps=0), ValueError, "steps"),
        (dict(objective=O.channel("blocks.4", 0), steps=2.5), TypeError, "steps"),
        (dict(objective=O.channel("blocks.4", 0), size=4), ValueError, "size"),
        (dict(objective=O.channel("blocks.4", 0), size="big"), TypeError, "size"),
        (dict(objective=O.channel("blocks.4", 0), lr=0.0), ValueError, "lr"),
        (dict(objective=O.diversity("blocks.2")), ValueError, "at least 2"),
    ],
)
def test_render_bad_inputs(effnet, kwargs, exc, match):
    kwargs = {"size": 32, "steps": 1, **kwargs}
    assert_raises_and_leaves_clean(effnet, lambda: O.render(effnet, progress=False, **kwargs), exc, match)


def test_render_needs_a_zoo_model(tiny_cnn):
    with pytest.raises(TypeError, match="ZooModel"):
        O.render(tiny_cnn, O.channel("conv", 0), size=16, steps=1, progress=False)
