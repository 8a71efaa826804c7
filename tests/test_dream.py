"""DeepDream, class transfer and class generation (lecture 14, ``lecture_utils.dream``): hand-made
models with known answers, bad input, hygiene on the real EfficientNet-Lite0, and checks that the
methods do what the notebook claims."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lecture_utils import dream as D
from lecture_utils import optimize as O
from lecture_utils.hooks import model_state
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# ----------------------------------------------------------------------------- tiny models


def identity_net() -> nn.Sequential:
    """A 1x1 convolution that copies its input (layer "conv"), then an in-place ReLU6 and a head."""
    net = nn.Sequential()
    net.add_module("conv", nn.Conv2d(3, 3, 1))
    net.add_module("act", nn.ReLU6(inplace=True))
    net.add_module("pool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flat", nn.Flatten())
    net.add_module("fc", nn.Linear(3, 4))
    with torch.no_grad():
        net.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        net.conv.bias.zero_()
        # class 0 = blue, 1 = red, 2 = green, 3 = yellow (red + green)
        net.fc.weight.copy_(10 * torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0], [0.5, 0.5, 0]]))
        net.fc.bias.zero_()
    return net.eval()


def const_image(value: float, size: int = 16) -> torch.Tensor:
    return torch.full((1, 3, size, size), value)


# ----------------------------------------------------------------------------- octave sizes


@pytest.mark.parametrize(
    "size, octaves, scale, expected",
    [
        ((224, 224), 3, 2.0, [(56, 56), (112, 112), (224, 224)]),
        ((224, 224), 4, 1.4, [(82, 82), (114, 114), (160, 160), (224, 224)]),
        ((100, 60), 2, 1.5, [(67, 40), (100, 60)]),
        ((40, 40), 1, 1.4, [(40, 40)]),
    ],
)
def test_octave_sizes_known_answers(size, octaves, scale, expected):
    assert D.octave_sizes(size, octaves, scale) == expected


@pytest.mark.parametrize(
    "octaves, scale, exc, match",
    [
        (0, 1.4, ValueError, "octaves"),
        (2.5, 1.4, TypeError, "octaves"),  # wrong type: TypeError (lecture_utils.checks policy)
        (True, 1.4, TypeError, "octaves"),
        (3, 1.0, ValueError, "octave_scale"),
        (3, 0.5, ValueError, "octave_scale"),
        (3, -2, ValueError, "octave_scale"),
        (3, "big", TypeError, "octave_scale"),
        (4, 2.0, ValueError, "smallest octave"),  # 64 / 8 = 8 px
    ],
)
def test_octave_sizes_bad_parameters(octaves, scale, exc, match):
    with pytest.raises(exc, match=match):
        D.octave_sizes((64, 64), octaves, scale)


# ----------------------------------------------------------------------------- known answers


def test_one_step_on_the_identity_model_is_a_normalized_gradient_step():
    # objective mean(x^2): gradient 2x/N, normalized by its mean |.| -> the step is lr * x / mean(x)
    net = identity_net()
    g = torch.Generator().manual_seed(0)
    x = 0.2 + 0.5 * torch.rand(1, 3, 16, 16, generator=g)
    out = D.deepdream(net, x, "conv", octaves=1, steps=1, lr=0.02, jitter=3)
    expected = (x + 0.02 * x / x.mean()).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    assert np.allclose(out, expected, atol=1e-6)  # the jitter is undone: a pointwise model ignores it


def test_constant_image_gains_lr_per_step_and_octave():
    # constant c: every step adds exactly lr; resizing a constant keeps it; detail carries over
    x = const_image(0.3, 48)
    octs = D.deepdream_octaves(identity_net(), x, "conv", octaves=3, octave_scale=1.5, steps=2, lr=0.01)
    assert [o.size for o in octs] == [(21, 21), (32, 32), (48, 48)]
    for k, o in enumerate(octs, start=1):
        assert o.image.shape == (*o.size, 3)
        assert np.allclose(o.image, 0.3 + 0.02 * k, atol=1e-6)
        assert np.allclose(o.base, 0.3, atol=1e-6) and np.allclose(o.detail, 0.02 * k, atol=1e-6)


def test_channel_objective_moves_only_that_channel():
    # objective mean(x[:, 1]): gradient 1/N on channel 1 only; mean |g| over 3 channels = 1/(3N)
    out = D.deepdream(identity_net(), const_image(0.4), "conv", octaves=1, steps=1, lr=0.01, channel=1)
    assert np.allclose(out[..., 1], 0.43, atol=1e-6)
    assert np.allclose(out[..., [0, 2]], 0.4, atol=1e-6)


def test_output_is_clipped_to_the_unit_range():
    out = D.deepdream(identity_net(), const_image(0.9), "conv", octaves=1, steps=5, lr=0.1)
    assert np.allclose(out, 1.0)


def test_ascent_raises_the_objective_on_a_random_cnn(tiny_cnn):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 24, 24, generator=g)
    out = D.deepdream(tiny_cnn, x, "act", octaves=2, octave_scale=1.5, steps=4, lr=0.02, jitter=2)
    before = D.dream_score(tiny_cnn, x[0].permute(1, 2, 0).numpy(), "act")
    after = D.dream_score(tiny_cnn, out, "act")
    assert out.shape == (24, 24, 3) and after > 1.2 * before


def test_dream_score_known_answer():
    x = np.full((2, 8, 8, 3), 0.5, dtype=np.float32)
    x[1] = 0.25
    assert torch.allclose(D.dream_score(identity_net(), x, "conv"), torch.tensor([0.25, 0.0625]))
    assert torch.allclose(D.dream_score(identity_net(), x, "conv", channel=2), torch.tensor([0.5, 0.25]))


def test_deepdream_is_deterministic_given_the_seed(tiny_cnn):
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    kw = dict(octaves=1, steps=3, lr=0.05, jitter=4)
    a = D.deepdream(tiny_cnn, x, "conv", seed=3, **kw)
    assert np.array_equal(a, D.deepdream(tiny_cnn, x, "conv", seed=3, **kw))
    assert not np.array_equal(a, D.deepdream(tiny_cnn, x, "conv", seed=4, **kw))  # another jitter


def test_closeness_and_robust_transforms():
    ref = torch.full((1, 3, 4, 4), 0.5)
    assert torch.isclose(D.closeness(ref, 3.0)({"input": ref + 0.1}), torch.tensor(-0.03))
    assert D.closeness(ref, 3.0)({"input": ref}) == 0
    assert D.robust_transforms(96, 0) == []
    np.random.seed(0)
    x = torch.rand(1, 3, 96, 96)
    tf = D.robust_transforms(96)
    assert len(tf) == 5 and tf[0](x).shape == (1, 3, 112, 112)  # pad 8 as in lecture 12
    with pytest.raises(ValueError, match="strength"):
        D.robust_transforms(96, -1)


def test_class_transfer_on_a_tiny_classifier():
    # a red image is class 1 (red); the gradient of the blue logit touches only the blue channel,
    # so Adam (no closeness term) raises blue and leaves red and green exactly as they were
    x = torch.tensor([0.8, 0.2, 0.2]).view(1, 3, 1, 1).expand(1, 3, 16, 16).clone()
    res = D.class_transfer(identity_net(), x, 0, steps=30, lr=0.1, weight=0.0, strength=0, param="pixel", snapshots=[5])
    assert res.source == 1 and res.target == 0
    assert len(res.target_prob) == len(res.change) == 31 and sorted(res.snapshots) == [0, 5, 30]
    assert np.allclose(res.snapshots[0], [0.8, 0.2, 0.2]) and np.array_equal(res.image, res.snapshots[30])
    assert np.allclose(res.image[..., :2], [0.8, 0.2], atol=1e-3)  # 1e-3: the sigmoid clamp of the start
    assert res.image[..., 2].min() > 0.8  # blue now beats red: the class flipped
    assert res.target_prob[0] < 0.01 and res.flip_step is not None and res.target_prob[-1] > 0.5
    assert all(b >= a - 1e-6 for a, b in zip(res.target_prob, res.target_prob[1:]))  # monotone rise
    assert res.change[0] == 0 and res.change[-1] > 0.15


def test_transfer_result_flip_step():
    r = D.TransferResult(image=np.zeros((1, 1, 3)), target=1, source=0, target_prob=[0.0, 0.2, 0.7, 0.9])
    assert r.flip_step == 2
    assert D.TransferResult(image=np.zeros((1, 1, 3)), target=1, source=0, target_prob=[0.1]).flip_step is None


# ----------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def small_cat(effnet, chelsea_img):
    return effnet.preprocess(chelsea_img, size=64)


DREAM_BAD = [
    (dict(layer="blocks.77"), ValueError, "Unknown layer"),
    (dict(octaves=0), ValueError, "octaves"),
    (dict(octave_scale=1.0), ValueError, "octave_scale"),
    (dict(octaves=6, octave_scale=2.0), ValueError, "smallest octave"),
    (dict(steps=0), ValueError, "steps"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(jitter=-1), ValueError, "jitter"),
    (dict(channel=-1), ValueError, "channel"),
    (dict(channel=40), ValueError, "channel 40 out of range"),  # blocks.2 has 40 channels
]


@pytest.mark.parametrize("kwargs, exc, match", DREAM_BAD)
def test_deepdream_bad_input(effnet, small_cat, kwargs, exc, match):
    kw = {"layer": "blocks.2", "octaves": 2, "steps": 1, **kwargs}
    assert_raises_and_leaves_clean(effnet, lambda: D.deepdream(effnet, small_cat, **kw), exc, match)


@pytest.mark.parametrize(
    "image, exc, match",
    [
        (lambda x: x[0], ValueError, "shape"),
        (lambda x: x.repeat(2, 1, 1, 1), ValueError, "shape"),
        (lambda x: x[:, :1], ValueError, "shape"),
        (lambda x: (x * 100).long(), ValueError, "float"),
        (lambda x: x.numpy(), TypeError, "tensor"),
    ],
)
def test_wrong_images_are_rejected(effnet, small_cat, image, exc, match):
    bad = image(small_cat)
    assert_raises_and_leaves_clean(effnet, lambda: D.deepdream(effnet, bad, "blocks.2"), exc, match)
    assert_raises_and_leaves_clean(effnet, lambda: D.class_transfer(effnet, bad, "banana", steps=1), exc, match)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(target="bananna"), ValueError, "Unknown class name 'bananna'. Close names: banana"),
        (dict(target=1000), ValueError, "out of range"),
        (dict(steps=0), ValueError, "steps"),
        (dict(lr=-1.0), ValueError, "lr"),
        (dict(weight=-1.0), ValueError, "weight"),
        (dict(strength=-0.5), ValueError, "strength"),
        (dict(param="wavelet"), ValueError, "param"),
        (dict(snapshots=[5]), ValueError, "beyond"),
        (dict(snapshots=[0]), ValueError, "snapshot"),
    ],
)
def test_class_transfer_bad_input(effnet, small_cat, kwargs, exc, match):
    kw = {"target": "banana", "steps": 2, **kwargs}
    assert_raises_and_leaves_clean(effnet, lambda: D.class_transfer(effnet, small_cat, **kw), exc, match)


def test_fft_transfer_needs_a_square_image(effnet, chelsea_img):
    wide = effnet.preprocess(chelsea_img, size=(48, 64))
    assert_raises_and_leaves_clean(effnet, lambda: D.class_transfer(effnet, wide, 1, steps=1), ValueError, "square")
    res = D.class_transfer(effnet, wide, 1, steps=1, param="pixel")
    assert res.image.shape == (48, 64, 3)


def test_class_images_and_probabilities_bad_input(effnet, vgg):
    for targets, match in [([], "non-empty"), ("banana", "non-empty"), (["banana", "bananna"], "bananna")]:
        call = lambda t=targets: D.class_images(effnet, t, size=16, steps=1)
        assert_raises_and_leaves_clean(effnet, call, ValueError, match)
    with pytest.raises(TypeError, match="classifier"):
        D.class_images(vgg, ["banana"], size=16, steps=1)
    assert_raises_and_leaves_clean(vgg, lambda: D.probabilities(vgg, np.zeros((32, 32, 3))), ValueError, "classifier")
    with pytest.raises(ValueError, match="shape"):
        D.probabilities(effnet, np.zeros((32, 32)))
    grey = np.full((32, 32, 3), 0.5)
    assert_raises_and_leaves_clean(effnet, lambda: D.dream_score(effnet, grey, "blocks.9"), ValueError, "Unknown layer")
    assert_raises_and_leaves_clean(effnet, lambda: D.dream_score(effnet, grey, "blocks.1", 99), ValueError, "range")


# ----------------------------------------------------------------------------- hygiene grid

LAYERS = ["blocks.1", "blocks.4", "bn2"]

LAYER_METHODS = {
    "deepdream": lambda m, x, layer: D.deepdream(m, x, layer, octaves=2, steps=1),
    "deepdream_channel": lambda m, x, layer: D.deepdream(m, x, layer, octaves=1, steps=2, channel=3),
    "dream_score": lambda m, x, layer: D.dream_score(m, m.deprocess(x), layer),
}
OTHER_METHODS = {
    "class_transfer_fft": lambda m, x: D.class_transfer(m, x, "goldfish", steps=2),
    "class_transfer_pixel": lambda m, x: D.class_transfer(m, x, 1, steps=2, param="pixel"),
    "class_images": lambda m, x: D.class_images(m, ["banana", 1], size=32, steps=2),
    "probabilities": lambda m, x: D.probabilities(m, m.deprocess(x)),
}


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("method", list(LAYER_METHODS))
def test_layer_methods_leave_the_model_clean(effnet, small_cat, method, layer):
    assert_leaves_model_clean(effnet, lambda: LAYER_METHODS[method](effnet, small_cat, layer), repeat=2)


@pytest.mark.parametrize("method", list(OTHER_METHODS))
def test_class_methods_leave_the_model_clean(effnet, small_cat, method):
    assert_leaves_model_clean(effnet, lambda: OTHER_METHODS[method](effnet, small_cat), repeat=2)


def test_raising_in_the_middle_leaves_the_model_clean(effnet, small_cat):
    # the channel is checked inside the forward pass, with hooks registered: they must all go
    before = model_state(effnet)
    for _ in range(2):
        with pytest.raises(ValueError, match="out of range"):
            D.deepdream(effnet, small_cat, "blocks.1", octaves=1, steps=1, channel=500)
        assert model_state(effnet) == before


def test_inplace_flags_of_a_plain_module_are_restored(tiny_cnn):
    x = torch.rand(1, 3, 16, 16)
    assert_leaves_model_clean(tiny_cnn, lambda: D.deepdream(tiny_cnn, x, "act", octaves=1, steps=2), repeat=2)
    assert tiny_cnn.act.inplace is True


def test_vgg_deepdream_is_clean(vgg, chelsea_img):
    x = vgg.preprocess(chelsea_img, size=32)
    assert_leaves_model_clean(vgg, lambda: D.deepdream(vgg, x, "relu3_1", octaves=1, steps=1), repeat=2)
    out = D.deepdream(vgg, x, "relu3_1", octaves=1, steps=2)
    assert out.shape == (32, 32, 3)


# ----------------------------------------------------------------------------- the notebook's claims, real weights


def test_deepdream_amplifies_the_layer_on_the_real_model(effnet, chelsea_img):
    x = effnet.preprocess(chelsea_img, size=96)
    octs = D.deepdream_octaves(effnet, x, "blocks.3", octaves=2, steps=6, lr=0.02)
    out = octs[-1].image
    assert out.shape == (96, 96, 3) and 0 <= out.min() and out.max() <= 1
    scores = D.dream_score(effnet, np.stack([effnet.deprocess(x), out]), "blocks.3")
    assert scores[1] > 1.5 * scores[0]  # ~2x at these settings; the exact factor depends on thread count
    assert 0.01 < np.abs(out - effnet.deprocess(x)).mean() < 0.2  # dreamed, but still the photo


def test_class_transfer_flips_the_class_with_a_small_change(effnet, chelsea_img):
    x = effnet.preprocess(chelsea_img, size=128)
    res = D.class_transfer(effnet, x, "goldfish", steps=20, lr=0.05)
    assert effnet.classes[res.source] in {"Egyptian cat", "tabby", "tiger cat"}
    assert res.target_prob[0] < 0.01 and res.flip_step is not None and res.target_prob[-1] > 0.5
    assert res.change[res.flip_step] < 0.08
    assert res.source_prob[-1] < 0.1


def test_fourier_transfer_changes_lower_frequencies_than_pixels(effnet, chelsea_img):
    x = effnet.preprocess(chelsea_img, size=96)
    kw = dict(steps=12, lr=0.05)
    photo = effnet.deprocess(x)
    fft = D.class_transfer(effnet, x, "goldfish", **kw).image - photo
    pix = D.class_transfer(effnet, x, "goldfish", param="pixel", **kw).image - photo
    assert O.high_frequency_energy(fft, 0.125) < 0.7 * O.high_frequency_energy(pix, 0.125)


def test_generated_images_are_classified_as_their_class(effnet):
    names = ["goldfish", "strawberry"]
    res = D.class_images(effnet, names, size=64, steps=32)
    assert res.batch.shape == (2, 64, 64, 3)
    probs = D.probabilities(effnet, res.batch)
    ids = [effnet.classes.index(n) for n in names]
    assert (probs.argmax(1) == torch.tensor(ids)).all()
