"""Batched style transfer (lecture 18, ``lecture_utils.stylize``): per-item losses with known
answers, the batch equals separate runs, the content/style trade-off, bad input, hygiene."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lecture_utils import style, stylize
from lecture_utils.images import load_image
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# ----------------------------------------------------------------------------- per-item losses


def test_layer_subsets():
    assert stylize.layer_subsets(["a", "b", "c"]) == [["a"], ["a", "b"], ["a", "b", "c"]]
    assert stylize.layer_subsets()[-1] == list(style.STYLE_LAYERS)


def test_item_losses_known_answers():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    g = style.gram_matrix(a)
    losses = stylize.ItemLosses("x", a, [{"x": g}, {"x": g, "y": g}], tv=True)
    assert sorted(losses.layers) == ["x", "y"]
    img = torch.zeros(2, 3, 2, 2)
    img[1, :, :, 1] = 1.0  # item 1: a vertical edge; every horizontal neighbour pair differs by 1
    acts = {
        "x": torch.cat([a, torch.zeros_like(a)]),  # item 0 = the target, item 1 = zeros
        "y": torch.cat([torch.zeros_like(a), 2 * a]),  # item 0's y is not used
        "input": img,
    }
    out = losses(acts)
    assert torch.allclose(out["content"], torch.tensor([0.0, 1.0]))
    # item 0: only x, a perfect match; item 1: (1/2) * 1 (zeros) + (1/2) * (4 - 1)^2 (doubled features)
    assert torch.allclose(out["style"], torch.tensor([0.0, 5.0]))
    assert torch.allclose(out["tv"], torch.tensor([0.0, 1.0]))


def test_item_losses_agree_with_the_single_image_losses():
    torch.manual_seed(0)
    target = torch.randn(1, 4, 3, 5)
    grams = {"x": style.gram_matrix(torch.randn(1, 4, 6, 6)), "y": style.gram_matrix(torch.randn(1, 3, 2, 2))}
    acts = {"x": torch.randn(3, 4, 3, 5), "y": torch.randn(3, 3, 2, 2)}
    weights = [{"x": 0.2, "y": 0.8}] * 3
    out = stylize.ItemLosses("x", target, [grams] * 3, weights=weights)(acts)
    c, s = style.content_loss("x", target), style.style_loss(grams, weights[0])
    for i in range(3):
        one = {k: v[i : i + 1] for k, v in acts.items()}
        assert out["content"][i] == pytest.approx(float(c(one)), rel=1e-5)
        assert out["style"][i] == pytest.approx(float(s(one)), rel=1e-5)


def test_item_gradients_are_independent():
    """The summed loss gives item i the gradient of its own loss: changing item 1 leaves item 0's gradient."""
    torch.manual_seed(0)
    target = torch.randn(1, 2, 3, 3)
    losses = stylize.ItemLosses("x", target, [{"x": style.gram_matrix(torch.randn(1, 2, 3, 3))}] * 2)
    x = torch.randn(2, 2, 3, 3)
    grads = []
    for other in (0.0, 5.0):
        y = x.clone()
        y[1] += other
        y.requires_grad_(True)
        t = losses({"x": y})
        (t["content"] + t["style"]).sum().backward()
        grads.append(y.grad[0].clone())
    assert torch.allclose(grads[0], grads[1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "needs a content target"),
        ({"content_layer": "x"}, "both content_layer and content_target"),
        ({"content_layer": "x", "content_target": torch.zeros(1, 2, 3, 3)}, "all zeros"),
        ({"content_layer": "x", "content_target": torch.ones(2, 3)}, "content_target must be"),
        ({"style_targets": [{"x": torch.ones(1, 2, 3)}]}, "must be \\(1, C, C\\)"),
        ({"style_targets": [{"x": torch.ones(1, 2, 2)}], "weights": [{"y": 1.0}]}, "weights name"),
        ({"style_targets": [{"x": torch.ones(1, 2, 2)}], "weights": []}, "weight dicts"),
        ({"style_targets": [{"x": torch.zeros(1, 2, 2)}]}, "all zeros"),
    ],
)
def test_item_losses_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stylize.ItemLosses(**kwargs)


def test_item_losses_reject_wrong_batch_and_size():
    g = style.gram_matrix(torch.ones(1, 2, 2, 2))
    losses = stylize.ItemLosses("x", torch.ones(1, 2, 4, 4), [{"x": g}] * 2)
    with pytest.raises(ValueError, match="content image's size"):
        losses({"x": torch.ones(2, 2, 3, 4)})
    with pytest.raises(ValueError, match="style targets for 2"):
        losses({"x": torch.ones(3, 2, 4, 4)})


# ----------------------------------------------------------------------------- on VGG19


@pytest.fixture(scope="module")
def images(vgg):
    content = vgg.preprocess(load_image("chelsea"), size=(32, 40), crop=False)
    starry = vgg.preprocess(load_image("vangogh_starry_night"), size=40)
    munch = vgg.preprocess(load_image("munch_the_scream"), size=40)
    return content, starry, munch


SHALLOW = ["relu1_1", "relu2_1"]


@pytest.mark.parametrize("init", ["content", "noise"])
def test_batch_equals_separate_runs(vgg, images, init):
    content, starry, munch = images
    settings = [  # (alpha, beta, style layers, painting)
        (1.0, 10.0, list(style.STYLE_LAYERS), starry),
        (1.0, 1.0, SHALLOW, munch),
        (0.0, 1.0, ["relu3_1"], starry),
    ]
    batch = stylize.style_transfer_batch(
        vgg,
        content,
        [s for *_, s in settings],
        alpha=[a for a, *_ in settings],
        beta=[b for _, b, *_ in settings],
        style_layers=[layers for _, _, layers, _ in settings],
        init=init,
        steps=8,
        lr=0.1,
    )
    assert batch.images.shape == (3, 32, 40, 3)
    for i, (a, b, layers, painting) in enumerate(settings):
        alone = style.style_transfer(
            vgg, content, painting, alpha=a, beta=b, style_layers=layers, init=init, steps=8, lr=0.1
        )
        assert np.abs(batch.images[i] - alone.image).max() < 2e-3, f"item {i} differs from its separate run"
        for k in ("content", "style", "total"):
            assert batch.final[k][i] == pytest.approx(alone.final[k], rel=1e-2, abs=1e-4)
        np.testing.assert_allclose(batch.history["total"][:, i], alone.values, rtol=1e-3, atol=1e-5)
    # items with different settings really end up different
    assert np.abs(batch.images[0] - batch.images[1]).mean() > 0.01


def test_history_is_the_linear_combination_and_the_loss_falls(vgg, images):
    content, starry, _ = images
    res = stylize.style_transfer_batch(
        vgg, content, starry, alpha=[1.0, 2.0], beta=[10.0, 0.5], tv=0.3, steps=6, snapshots=[1, 6]
    )
    h = res.history
    assert h["total"].shape == (6, 2)
    expect = res.alpha * h["content"] + res.beta * h["style"] + 0.3 * h["tv"]
    np.testing.assert_allclose(h["total"], expect, rtol=1e-5)
    for k in h:
        np.testing.assert_allclose(h[k][0], res.start[k], rtol=1e-4, atol=1e-6)  # the first entry is the start
    assert res.start["content"] == pytest.approx([0, 0], abs=1e-3)  # init="content" starts at the photo
    assert (res.final["total"] < res.start["total"]).all()
    assert sorted(res.snapshots) == [1, 6] and res.snapshots[6].shape == (2, 32, 40, 3)


def test_content_only_reconstruction_from_noise(vgg, images):
    content, _, _ = images
    res = stylize.style_transfer_batch(vgg, content, None, beta=0.0, content_layer="relu2_2", init="noise", steps=15)
    assert "style" not in res.final
    assert res.start["content"] > 0.5
    assert res.final["content"] < 0.5 * res.start["content"]


def test_larger_content_weight_keeps_more_content_and_less_style(vgg, images):
    """Fig. 3's columns: as alpha / beta grows, the content loss falls and the style loss rises."""
    content, starry, _ = images
    ratios = [
        10.0,
        1.0,
        0.1,
    ]  # (after 15 steps, still smaller ratios all look alike: the steps, not the weights, limit)
    res = stylize.style_transfer_batch(vgg, content, starry, alpha=1.0, beta=[1 / r for r in ratios], steps=15, lr=0.1)
    assert np.all(np.diff(res.final["content"]) > 0), res.final["content"]
    assert np.all(np.diff(res.final["style"]) < 0), res.final["style"]
    # the style-dominated item is much closer in style to the painting than the photo is
    out = vgg.normalize(torch.from_numpy(res.images[-1]).permute(2, 0, 1)[None])
    assert style.style_distance(vgg, out, starry) < 0.5 * style.style_distance(vgg, content, starry)


@pytest.mark.parametrize("content_layer", ["relu1_2", "relu4_2"])
@pytest.mark.parametrize("style_layers", [["relu1_1"], list(style.STYLE_LAYERS), [["relu1_1"], SHALLOW]])
def test_batch_leaves_vgg_clean(vgg, images, content_layer, style_layers):
    content, starry, _ = images
    assert_leaves_model_clean(
        vgg,
        lambda: stylize.style_transfer_batch(
            vgg, content, starry, content_layer=content_layer, style_layers=style_layers, steps=2
        ),
    )


def test_start_image_coarse_to_fine(vgg, images):
    """``start``: 0 steps return the start image (resized); a half-size run continues at full size;
    start=None keeps the old behaviour; per-item starts; numpy (B, H, W, 3) works like the tensor."""
    content, starry, _ = images
    small = vgg.preprocess(load_image("chelsea"), size=(16, 20), crop=False)
    coarse = stylize.style_transfer_batch(vgg, small, starry, alpha=1.0, beta=10.0, steps=4, lr=0.1)
    start = torch.from_numpy(coarse.images).permute(0, 3, 1, 2)
    up = torch.nn.functional.interpolate(start, size=(32, 40), mode="bilinear", align_corners=False)
    zero = stylize.style_transfer_batch(vgg, content, starry, beta=10.0, start=start, steps=1, lr=1e-8)
    assert zero.images.shape == (1, 32, 40, 3)
    assert np.abs(zero.images[0] - up[0].permute(1, 2, 0).numpy()).max() < 2e-3
    assert zero.start["content"][0] > 1e-3  # it did not start from the photo
    fine = stylize.style_transfer_batch(vgg, content, starry, beta=10.0, start=coarse.images, steps=4, lr=0.1)
    again = stylize.style_transfer_batch(vgg, content, starry, beta=10.0, start=start, steps=4, lr=0.1)
    assert np.allclose(fine.images, again.images)
    assert fine.final["total"][0] < fine.start["total"][0]
    old = stylize.style_transfer_batch(vgg, content, starry, beta=10.0, steps=2, lr=0.1)
    same = stylize.style_transfer_batch(vgg, content, starry, beta=10.0, steps=2, lr=0.1, start=None)
    assert np.array_equal(old.images, same.images)
    two = torch.stack([start[0], 1 - start[0]])
    per_item = stylize.style_transfer_batch(vgg, content, starry, beta=[1.0, 1.0], start=two, steps=1, lr=1e-8)
    assert np.abs(per_item.images[1] - (1 - up[0]).permute(1, 2, 0).numpy()).max() < 2e-3
    for bad, match in [
        (start[0], "start must be"),
        (start * 300, "in \\[0, 1\\]"),
        (torch.cat([two, two[:1]]), "start must be"),
    ]:
        with pytest.raises(ValueError, match=match):
            stylize.style_transfer_batch(vgg, content, starry, beta=[1.0, 1.0], start=bad, steps=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"style_layers": ["relu9_1"]}, "relu9_1"),
        ({"style_layers": [["relu1_1"], ["relu1_1", "nope"]]}, "nope"),
        ({"content_layer": "conv9"}, "conv9"),
        ({"alpha": [1.0, 2.0], "beta": [1.0, 2.0, 3.0]}, "one length"),
        ({"alpha": [1.0, 2.0], "style_layers": [["relu1_1"]] * 3}, "one length"),
        ({"alpha": []}, "empty"),
        ({"alpha": -1.0}, "alpha"),
        ({"beta": [1.0, float("nan")]}, "beta\\[1\\]"),
        ({"alpha": [0.0, 1.0], "beta": [0.0, 1.0]}, "item 0: alpha and beta are both 0"),
        ({"init": "zeros"}, "init"),
        ({"steps": 0}, "steps"),
        ({"lr": 0.0}, "lr"),
        ({"tv": -1.0}, "tv"),
        ({"style": None}, "style is None"),
    ],
)
def test_batch_bad_inputs_leave_vgg_clean(vgg, images, kwargs, match):
    content, starry, _ = images
    kwargs = {"style": starry, "steps": 2, **kwargs}
    assert_raises_and_leaves_clean(vgg, lambda: stylize.style_transfer_batch(vgg, content, **kwargs), ValueError, match)


def test_batch_rejects_bad_images_and_models(vgg, images):
    content, starry, _ = images
    assert_raises_and_leaves_clean(vgg, lambda: stylize.style_transfer_batch(vgg, content[0], starry), ValueError, None)
    assert_raises_and_leaves_clean(
        vgg, lambda: stylize.style_transfer_batch(vgg, content, [starry, starry[0]]), ValueError, "style\\[1\\]"
    )
    with pytest.raises(TypeError, match="ZooModel"):
        stylize.style_transfer_batch(vgg.net, content, starry)
    # a string where a list of names is expected is a wrong type (the error policy: TypeError)
    assert_raises_and_leaves_clean(
        vgg,
        lambda: stylize.style_transfer_batch(vgg, content, starry, style_layers="relu1_1"),
        TypeError,
        "not a string",
    )


# ----------------------------------------------------------------------------- figures


def test_style_figures():
    import matplotlib.pyplot as plt

    from lecture_utils import plot

    img = np.random.default_rng(0).random((8, 12, 3))
    fig = plot.image_table([[img, img], [img, img]], ["a", "b"], ["x", "y"], xlabel="more style", ylabel="layers")
    assert len(fig.axes) == 4
    fig2 = plot.loss_terms({"run": {"content": np.r_[0.0, 0.5, 0.4], "total": np.r_[2.0, 1.0, 0.6]}})
    low, high = fig2.axes[0].get_ylim()
    assert 0 < low < 0.4 and high > 2.0  # the zero at the start does not stretch the log axis
    fig3 = plot.stylized_gallery(img, {"one": (img, img), "two": (img, img)}, ncols=3)
    assert len(fig3.axes) == 3 and sum(len(ax.child_axes) for ax in fig3.axes) == 2  # three panels, two insets
    for f in (fig, fig2, fig3):
        plt.close(f)
    with pytest.raises(ValueError, match="labels"):
        plot.image_table([[img, img]], ["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="rectangular"):
        plot.image_table([[img, img], [img]], ["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="at least one"):
        plot.stylized_gallery(img, {})
