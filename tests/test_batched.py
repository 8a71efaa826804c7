"""The batched form of the attribution methods: (N, 3, H, W) with one target or N targets.

A batch must give exactly what the images give one at a time (images are independent in eval
mode), keep the batch axis by the documented rule, and refuse wrong target lists before any
hook is registered.
"""

from __future__ import annotations

import pytest
import torch

from lecture_utils.attribution import input_gradient, saliency, smooth_grad, smooth_saliency
from lecture_utils.backprop import backprop_gradient, deconvnet_backprop, guided_backprop
from lecture_utils.cam import cam, grad_cam, grad_cam_weights, guided_grad_cam
from lecture_utils.fullgrad import fullgrad, integrated_gradients
from lecture_utils.images import load_image
from lecture_utils.occlusion import occlusion
from lecture_utils.targets import batched_output, class_score, resolve_targets

from .helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

SIZE = 96
TARGETS = [281, "coffee mug", 414]  # tabby, a name, backpack: one per image, of different kinds

# name -> (call(model, images, target), maps drop the batch axis for one image and one target)
METHODS = {
    "input_gradient": (lambda m, x, t: input_gradient(m, x, t), False),
    "saliency": (lambda m, x, t: saliency(m, x, t), True),
    "smooth_grad": (lambda m, x, t: smooth_grad(m, x, t, n_samples=3, batch_size=2), False),
    "smooth_saliency": (lambda m, x, t: smooth_saliency(m, x, t, n_samples=3, batch_size=2), True),
    "backprop_gradient": (lambda m, x, t: backprop_gradient(m, x, t), False),
    "deconvnet_backprop": (lambda m, x, t: deconvnet_backprop(m, x, t), False),
    "guided_backprop": (lambda m, x, t: guided_backprop(m, x, t), False),
    "grad_cam": (lambda m, x, t: grad_cam(m, x, t), True),
    "grad_cam blocks.4": (lambda m, x, t: grad_cam(m, x, t, layer="blocks.4", relu=False), True),
    "grad_cam_weights": (lambda m, x, t: grad_cam_weights(m, x, t), True),
    "guided_grad_cam": (lambda m, x, t: guided_grad_cam(m, x, t), False),
    "cam": (lambda m, x, t: cam(m, x, t), True),
    "cam normalized": (lambda m, x, t: cam(m, x, t, normalize=True), True),
    "fullgrad": (lambda m, x, t: fullgrad(m, x, t), True),
    "integrated_gradients": (lambda m, x, t: integrated_gradients(m, x, t, steps=3, batch_size=3), False),
    "occlusion": (lambda m, x, t: occlusion(m, x, t, window=32, stride=32, batch_size=5), True),
}


@pytest.fixture(scope="module")
def images(effnet):
    """Three different photographs, (3, 3, 96, 96)."""
    return torch.cat([effnet.preprocess(load_image(n), size=SIZE) for n in ("chelsea", "coffee", "astronaut")])


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    scale = float(b.abs().max()) + 1e-12
    return a.shape == b.shape and float((a - b).abs().max()) <= 1e-4 * scale


@pytest.mark.parametrize("name", list(METHODS))
def test_batch_equals_one_image_at_a_time(name, effnet, images):
    call, _ = METHODS[name]
    batch = call(effnet, images, TARGETS)
    assert batch.shape[0] == len(TARGETS)
    singles = [call(effnet, images[i : i + 1], TARGETS[i]) for i in range(len(TARGETS))]
    for i, one in enumerate(singles):
        one = one if one.shape[0] == 1 and one.ndim == batch.ndim else one[None]
        assert _close(batch[i : i + 1], one), f"{name}: image {i} differs in the batch"
    # the maps really differ between the images and targets (the batch is not one map repeated)
    assert not _close(batch[0], batch[1])


@pytest.mark.parametrize("name", list(METHODS))
def test_batch_axis_rule(name, effnet, images):
    call, drops = METHODS[name]
    one = call(effnet, images[:1], 281)
    listed = call(effnet, images[:1], [281])
    assert listed.shape == (1, *one.shape) if drops else listed.shape == one.shape
    assert torch.equal(listed[0], one if drops else one[0])
    # one target for every image of a batch = that target repeated
    same = call(effnet, images[:2], 281)
    assert same.shape[0] == 2 and _close(same, call(effnet, images[:2], torch.tensor([281, 281])))


@pytest.mark.parametrize("name", ["saliency", "guided_backprop", "grad_cam", "guided_grad_cam", "cam", "fullgrad"])
def test_batched_calls_leave_the_model_clean(name, effnet, images):
    call, _ = METHODS[name]
    assert_leaves_model_clean(effnet, lambda: call(effnet, images, TARGETS))


@pytest.mark.parametrize("name", list(METHODS))
def test_wrong_targets_are_refused_cleanly(name, effnet, images):
    call, _ = METHODS[name]

    def bad(target, exc, match):
        assert_raises_and_leaves_clean(effnet, lambda: call(effnet, images, target), exc, match)

    bad([281, 282], ValueError, "2 targets for 3 image")
    bad([281, "tigr cat", 3], ValueError, "tiger cat")
    bad([281, 1000, 3], ValueError, "out of range")
    bad(torch.tensor([281.0, 1.0, 2.0]), TypeError, "integer class indices")
    bad(torch.tensor([[281, 1, 2]]), TypeError, "1-D")


def test_unit_targets_batch(effnet, images):
    """Guided backprop of a unit: the per-image max of the channel, one pass for the batch."""
    batch = guided_backprop(effnet, images, None, layer="blocks.3", channel=5)
    for i in range(len(images)):
        one = guided_backprop(effnet, images[i : i + 1], None, layer="blocks.3", channel=5)
        assert _close(batch[i : i + 1], one)


def test_class_score_and_resolve_targets_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert float(class_score(logits, [2, 0])) == 3.0 + 4.0
    assert float(class_score(logits, 1)) == 2.0 + 5.0
    assert float(class_score(logits, torch.tensor([1, 2]))) == 2.0 + 6.0
    assert float(class_score(logits, ("b", "c"), classes=["a", "b", "c"])) == 2.0 + 6.0
    assert resolve_targets(1, 3, None, n_classes=3) == [1, 1, 1]
    assert resolve_targets(lambda z: z[:, 0], 3, None) is None
    with pytest.raises(ValueError, match="1 targets for 2 image"):
        class_score(logits, [0])
    x1, x2 = torch.zeros(1, 3, 8, 8), torch.zeros(2, 3, 8, 8)
    assert not batched_output(x1, 3) and batched_output(x1, [3]) and batched_output(x2, 3)


def test_integrated_gradients_path_needs_one_image(effnet, images):
    with pytest.raises(ValueError, match="one image"):
        integrated_gradients(effnet, images, TARGETS, steps=2, return_path=True)
