"""One parametrized grid over the attribution methods of lectures 00-06, 10 and 11: every method, at several
layers, called repeatedly and with bad input, leaves the model exactly as it found it (no hook,
same requires_grad / training / inplace flags). EfficientNet-Lite0 has ReLU6(inplace=True)."""

from __future__ import annotations

import pytest
import torch

from lecture_utils.attribution import saliency, smooth_grad
from lecture_utils.backprop import backprop_gradient, deconvnet_backprop, guided_backprop
from lecture_utils.cam import cam, grad_cam, guided_grad_cam
from lecture_utils.deconvnet import deconvnet_projection
from lecture_utils.occlusion import occlusion
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


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("method", list(EFFNET_METHODS))
def test_method_is_clean_and_finite(effnet, small_cat, method, layer):
    call = lambda: EFFNET_METHODS[method](effnet, small_cat, layer)
    assert_leaves_model_clean(effnet, call, repeat=2)
    out = call()
    assert torch.isfinite(out).all() and out.abs().sum() > 0


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
