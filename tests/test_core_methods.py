"""Core methods of notebook 00 on tiny models with hand-computed answers, and on the real zoo."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lecture_utils import config, optimize, plot, widgets
from lecture_utils.adversarial import fgsm
from lecture_utils.attribution import input_gradient, saliency
from lecture_utils.datasets import crop_pool, load_fashion_mnist
from lecture_utils.features import embed
from lecture_utils.targets import check_image, class_score, resolve_class
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def linear_model():
    """logits = W @ flatten(x): the input gradient of class k is exactly W[k]."""
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4, bias=False)).eval()


def test_input_gradient_equals_weights_of_a_linear_model():
    net = linear_model()
    x = torch.rand(1, 3, 8, 8)
    g = input_gradient(net, x, 2)
    assert torch.allclose(g, net[1].weight[2].view(1, 3, 8, 8))
    s = saliency(net, x, 2)
    assert torch.allclose(s, net[1].weight[2].view(3, 8, 8).abs().amax(0))


def test_input_gradient_matches_finite_difference_on_effnet(effnet, chelsea):
    g = input_gradient(effnet, chelsea, 281)
    d = torch.randn_like(chelsea)
    d /= d.norm()
    h = 1e-2
    with torch.no_grad():
        fd = (effnet.net(chelsea + h * d)[0, 281] - effnet.net(chelsea - h * d)[0, 281]) / (2 * h)
    assert torch.isclose((g * d).sum(), fd, rtol=0.05, atol=1e-3)


def test_saliency_lives_on_the_object(effnet, chelsea_img):
    # the cat pasted into the middle of a plain grey canvas: the gradient concentrates on the cat
    canvas = np.full((224, 224, 3), 0.5, np.float32)
    canvas[56:168, 56:168] = np.asarray(chelsea_img.resize((112, 112))) / 255.0
    s = saliency(effnet, effnet.preprocess(canvas), "tabby")
    inside = s[56:168, 56:168].sum() / s.sum()
    assert inside > 0.35, f"only {inside:.0%} of the saliency on the cat (the cat covers 25% of the image)"


def test_saliency_hygiene_and_bad_input(effnet, chelsea):
    assert_leaves_model_clean(effnet, lambda: saliency(effnet, chelsea, 281))
    assert_raises_and_leaves_clean(effnet, lambda: saliency(effnet, chelsea, 1000), ValueError, "out of range")
    assert_raises_and_leaves_clean(effnet, lambda: saliency(effnet, chelsea, "tigr cat"), ValueError, "tiger cat")
    assert_raises_and_leaves_clean(effnet, lambda: saliency(effnet, chelsea[0], 281), ValueError, "shape")


def test_fgsm_step_is_epsilon_sized_and_flips_prediction(effnet, chelsea):
    top = effnet.predict(chelsea, 1)[0][0]
    adv = fgsm(effnet, chelsea, top, epsilon=4 / 255)
    diff = effnet.normalize.inverse(adv) - effnet.normalize.inverse(chelsea).clamp(0, 1)
    assert diff.abs().max() <= 4 / 255 + 1e-5
    assert effnet.predict(adv, 1)[0][0] != top
    with pytest.raises(ValueError, match="epsilon"):
        fgsm(effnet, chelsea, top, epsilon=0)
    with pytest.raises(TypeError, match="ZooModel"):
        fgsm(effnet.net, chelsea, top)


def test_targets():
    classes = ["cat", "dog", "crane"]
    assert resolve_class("DOG", classes) == 1 and resolve_class(np.int64(2), classes) == 2
    with pytest.raises(ValueError, match="Close names: dog"):
        resolve_class("dgo", classes)
    with pytest.raises(ValueError, match="out of range"):
        resolve_class(-1, classes)
    with pytest.raises(TypeError):
        resolve_class(1.5, classes)
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    assert class_score(logits, 2) == 3.0
    assert class_score(logits, lambda z: z.max()) == 3.0
    with pytest.raises(ValueError, match="shape"):
        check_image(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="float"):
        check_image(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_render_increases_the_objective_and_is_clean(effnet):
    obj = optimize.channel("blocks.4", 10) - 0.1 * optimize.total_variation()
    run = lambda: optimize.render(effnet, obj, size=64, steps=12, progress=False, snapshots=[1, 12])
    assert_leaves_model_clean(effnet, run, repeat=1)
    res = run()
    assert res.values[-1] > res.values[0] + 1.0
    assert set(res.snapshots) == {1, 12} and res.image.shape == (64, 64, 3)
    with pytest.raises(ValueError, match="Unknown layer"):
        optimize.render(effnet, optimize.channel("blocks.44", 0), steps=1, progress=False)
    with pytest.raises(ValueError, match="channel 5000 out of range"):
        optimize.render(effnet, optimize.channel("blocks.4", 5000), size=32, steps=1, progress=False)


def test_objective_algebra():
    acts = {"a": torch.ones(1, 2, 3, 3) * 2}
    o = optimize.channel("a", 0)
    assert (2 * o + o)(acts) == 6.0 and (o - o)(acts) == 0.0 and (-o)(acts) == -2.0
    assert (o + optimize.layer_l2("b")).layers == {"a", "b"}


def test_embed_shapes(effnet):
    crops, labels = crop_pool(size=64, per_image=2, sources=["chelsea", "coffee"])
    assert crops.shape == (4, 64, 64, 3) and labels == ["chelsea"] * 2 + ["coffee"] * 2
    e = embed(effnet, crops, batch_size=3)
    assert e.shape == (4, 1280) and np.isfinite(e).all()


def test_fashion_mnist_subset():
    d = load_fashion_mnist()
    assert d.x_train.shape == (15000, 28, 28) and d.x_test.shape == (3000, 28, 28)
    assert np.bincount(d.y_test).tolist() == [300] * 10 and d.class_names[9] == "Ankle boot"


def test_quick_mode_switch(monkeypatch):
    monkeypatch.setenv("LECTURE_QUICK", "1")
    assert config.pick(full=100, quick=3) == 3
    monkeypatch.setenv("LECTURE_QUICK", "0")
    assert config.pick(full=100, quick=3) == 100


def test_plots_return_figures(effnet, chelsea):
    img = effnet.deprocess(chelsea)
    figs = [
        plot.show_images([img, img[..., 0]], titles=["a", "b"]),
        plot.filter_grid(effnet.net.conv_stem.weight),
        plot.overlay(img, np.random.rand(7, 7)),
        plot.compare({"image": img, "map": np.random.rand(7, 7)}, image=img),
        plot.topk_bar(effnet.predict(chelsea, 3)),
    ]
    assert all(isinstance(f, plt.Figure) for f in figs)
    plt.close("all")
    with pytest.raises(ValueError, match="titles"):
        plot.show_images([img], titles=["a", "b"])
    with pytest.raises(ValueError, match="C_out, C_in"):
        plot.filter_grid(np.zeros((3, 3)))


def test_widgets_render_once_and_on_change(effnet):
    calls = []
    layer = widgets.layer_picker(effnet, value="bn2")
    cls = widgets.class_picker(effnet.classes, top=[285, 281])
    assert cls.options[0] == "Egyptian cat (285)" and widgets.class_index(cls) == 285
    box = widgets.interactive(lambda layer, cls: calls.append((layer, cls)), layer=layer, cls=cls)
    layer.value = "blocks.3"
    cls.value = "tabby (281)"
    cls.value = "tab"  # half-typed: ignored
    assert calls == [("bn2", 285), ("blocks.3", 285), ("blocks.3", 281)]
    assert box.children
    with pytest.raises(ValueError, match="not among"):
        widgets.layer_picker(effnet, value="nope")


def test_pixel_image_downsample_is_smooth_and_validated():
    img = optimize.PixelImage(16, downsample=4, seed=0)()
    assert img.shape == (1, 3, 16, 16) and img.min() >= 0 and img.max() <= 1
    # bilinear upsampling of a 4x4 grid: neighbouring pixels differ much less than in a free 16x16 image
    free = optimize.PixelImage(16, seed=0)()
    step = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean()
    assert step(img) < 0.5 * step(free)
    with pytest.raises(ValueError, match="downsample"):
        optimize.PixelImage(8, downsample=16)


def test_widget_figures_are_shown_as_compact_jpegs_and_closed(monkeypatch):
    import ipywidgets as W
    import matplotlib.pyplot as plt

    shown = []
    real = widgets.compact
    monkeypatch.setattr(widgets, "compact", lambda fig, **kw: shown.append(kw) or real(fig, **kw))

    def draw(k):
        fig = plt.figure(dpi=72)
        fig.add_subplot().imshow(np.random.rand(8, 8))
        return fig

    before = set(plt.get_fignums())
    widgets.interactive(draw, k=W.IntSlider(value=1))
    assert shown == [{"dpi": 72, "quality": 90}]
    assert set(plt.get_fignums()) == before, "the widget closed its figure"
    img = real(plt.figure(), dpi=50, quality=90)
    assert img.format == "jpeg" and img.data[:2] == b"\xff\xd8"
