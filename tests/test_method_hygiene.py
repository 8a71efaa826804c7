"""One parametrized grid over the attribution methods of lectures 00-06, 10 and 11: every method, at several
layers, called repeatedly and with bad input, leaves the model exactly as it found it (no hook,
same requires_grad / training / inplace flags) and the global torch, NumPy and Python random states
as it found them. EfficientNet-Lite0 has ReLU6(inplace=True)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lecture_utils.attribution import saliency, smooth_grad
from lecture_utils.backprop import backprop_gradient, deconvnet_backprop, guided_backprop
from lecture_utils.cam import cam, grad_cam, guided_grad_cam
from lecture_utils.datasets import crop_pool
from lecture_utils.deconvnet import deconvnet_projection
from lecture_utils.fullgrad import fullgrad, integrated_gradients
from lecture_utils.occlusion import occlusion
from lecture_utils.sanity import cascading_randomization, deletion_curve, random_map
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

LAYERS = ["blocks.3", "blocks.5", "bn2"]

# name -> call(model, image, layer, target) on EfficientNet-Lite0; 281 = tabby
EFFNET_METHODS = {
    "saliency": lambda m, x, layer, t=281: saliency(m, x, t),
    "backprop": lambda m, x, layer, t=281: backprop_gradient(m, x, t),
    "deconvnet_rule": lambda m, x, layer, t=281: deconvnet_backprop(m, x, t),
    "guided_backprop": lambda m, x, layer, t=281: guided_backprop(m, x, t),
    "guided_backprop_unit": lambda m, x, layer, t=0: guided_backprop(m, x, None, layer=layer, channel=t),
    "cam": lambda m, x, layer, t=281: cam(m, x, t),
    "grad_cam": lambda m, x, layer, t=281: grad_cam(m, x, t, layer=layer),
    "guided_grad_cam": lambda m, x, layer, t=281: guided_grad_cam(m, x, t, layer=layer),
    "smooth_grad": lambda m, x, layer, t=281: smooth_grad(m, x, t, n_samples=3, batch_size=2),
    "occlusion": lambda m, x, layer, t=281: occlusion(m, x, t, window=32, stride=32, batch_size=4),
}


@pytest.fixture(scope="module")
def small_cat(effnet, chelsea_img):
    return effnet.preprocess(chelsea_img, size=96)


def random_states() -> tuple:
    """The global random states a method must leave as it found them: torch, NumPy, Python."""
    return torch.random.get_rng_state(), np.random.get_state(), random.getstate()


def assert_same_random_states(before: tuple, after: tuple) -> None:
    assert torch.equal(before[0], after[0]), "the global torch generator changed"
    assert before[1][0] == after[1][0] and np.array_equal(before[1][1], after[1][1]), "NumPy's global state changed"
    assert before[1][2:] == after[1][2:], "NumPy's global state changed"
    assert before[2] == after[2], "Python's random state changed"


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("method", list(EFFNET_METHODS))
def test_method_is_clean_and_finite(effnet, small_cat, method, layer):
    call = lambda: EFFNET_METHODS[method](effnet, small_cat, layer)
    rng = random_states()
    assert_leaves_model_clean(effnet, call, repeat=2)
    out = call()
    assert_same_random_states(rng, random_states())
    assert torch.isfinite(out).all() and out.abs().sum() > 0


# functions that draw random numbers (from a private generator) or might: name -> call(model, image)
RANDOM_USERS = {
    "smooth_grad": lambda m, x: smooth_grad(m, x, 281, n_samples=2, batch_size=2, seed=5),
    "cascading_randomization": lambda m, x: [label for label, _ in cascading_randomization(m, seed=3)][:1],
    "random_map": lambda m, x: random_map(x, seed=2),
    "deletion_curve": lambda m, x: deletion_curve(m, x, 281, random_map(x, seed=1), steps=2),
    "crop_pool": lambda m, x: crop_pool(size=16, per_image=2, sources=["chelsea"], seed=4),
    "fullgrad": lambda m, x: fullgrad(m, x, 281),
    "integrated_gradients": lambda m, x: integrated_gradients(m, x, 281, steps=2),
}


@pytest.mark.parametrize("name", list(RANDOM_USERS))
def test_random_state_is_left_as_found(effnet, small_cat, name):
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    rng = random_states()
    first = RANDOM_USERS[name](effnet, small_cat)
    assert_same_random_states(rng, random_states())
    # and the result depends on the seed argument only, not on the global state
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    again = RANDOM_USERS[name](effnet, small_cat)
    if isinstance(first, torch.Tensor):
        assert torch.equal(first, again)
    elif isinstance(first, tuple):
        assert all(np.array_equal(a, b) for a, b in zip(first, again))
    else:
        assert first == again


@pytest.mark.parametrize("method", list(EFFNET_METHODS))
def test_method_bad_input_raises_and_leaves_clean(effnet, small_cat, method):
    call = EFFNET_METHODS[method]
    assert_raises_and_leaves_clean(effnet, lambda: call(effnet, small_cat[0], "bn2"), ValueError, "shape")
    # class index out of range (for the unit variant: channel out of range)
    assert_raises_and_leaves_clean(effnet, lambda: call(effnet, small_cat, "bn2", 5000), ValueError, "range")


@pytest.mark.parametrize("method", ["grad_cam", "guided_grad_cam", "guided_backprop_unit"])
def test_unknown_layer_is_named(effnet, small_cat, method):
    assert_raises_and_leaves_clean(
        effnet, lambda: EFFNET_METHODS[method](effnet, small_cat, "blocks.55"), ValueError, "blocks.55"
    )


@pytest.mark.parametrize("layer", ["relu2_2", "relu4_1", "relu5_4"])
def test_deconvnet_projection_is_clean(vgg, chelsea_img, layer):
    x = vgg.preprocess(chelsea_img, size=64)
    assert_leaves_model_clean(vgg, lambda: deconvnet_projection(vgg, x, layer, 3), repeat=2)
    assert_raises_and_leaves_clean(vgg, lambda: deconvnet_projection(vgg, x, layer, 100000), ValueError, "channel")
