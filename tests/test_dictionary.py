"""Semantic dictionaries (notebook 13): the per-position ranking on a tiny net with known
activations, the icon cache (renders once per channel), the figures, bad input and hygiene."""

from collections import OrderedDict

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from lecture_utils import optimize, plot
from lecture_utils.dictionary import IconCache, position_of, semantic_dictionary
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean


def identity_net() -> nn.Sequential:
    """'feat' = the input itself (1x1 identity conv), then GAP + linear: activations are the pixels."""
    conv = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    layers = [("feat", conv), ("act", nn.ReLU(inplace=True)), ("pool", nn.AdaptiveAvgPool2d(1))]
    return nn.Sequential(OrderedDict(layers + [("flat", nn.Flatten()), ("fc", nn.Linear(3, 2))])).eval()


def known_image() -> torch.Tensor:
    """8x8 image: channel 0 wins on the left half, channel 2 on the right, channel 1 at (0, 0)."""
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0, :, :4] = 2.0
    x[0, 2, :, 4:] = 3.0
    x[0, 1] = 1.0
    x[0, 1, 0, 0] = 5.0
    return x


def test_dictionary_by_hand():
    d = semantic_dictionary(identity_net(), known_image(), "feat")
    want = torch.zeros(8, 8, dtype=torch.long)
    want[:, 4:] = 2
    want[0, 0] = 1
    assert d.shape == (8, 8) and torch.equal(d.channels, want)
    assert d.values[0, 0] == 5.0 and d.values[3, 1] == 2.0 and d.values[3, 6] == 3.0
    assert d.norms[3, 1].item() == pytest.approx(5**0.5) and d.norms[0, 0].item() == pytest.approx(29**0.5)
    assert d.top(0, 0, k=3) == [(1, 5.0), (0, 2.0), (2, 0.0)]
    assert d.top(5, 6, k=2) == [(2, 3.0), (1, 1.0)]
    # 31 left cells say 0, 32 right cells say 2, one cell says 1: most frequent first
    assert d.words() == [2, 0, 1] and d.words(2) == [2, 0]
    s = d.strength()
    assert s.max() == 1.0 and s[0, 0] == 1.0 and s[3, 6].item() == pytest.approx(10**0.5 / 29**0.5)
    assert d.strength("value")[3, 6].item() == pytest.approx(3 / 5)
    st = d.strength(floor=0.2)  # weakest norm sqrt(5) -> 0.2, strongest sqrt(29) -> 1
    assert st[3, 1].item() == pytest.approx(0.2) and st[0, 0].item() == pytest.approx(1.0)
    mid = 0.2 + 0.8 * (10**0.5 - 5**0.5) / (29**0.5 - 5**0.5)
    assert st[3, 6].item() == pytest.approx(mid)
    assert position_of(d) == (0, 0) and position_of(d, 2, 3) == (2, 3)


def test_dictionary_bad_input():
    net, x = identity_net(), known_image()
    assert_raises_and_leaves_clean(net, lambda: semantic_dictionary(net, x, "feet"), ValueError, "feat")
    assert_raises_and_leaves_clean(net, lambda: semantic_dictionary(net, x, "fc"), ValueError, "feature map")
    assert_raises_and_leaves_clean(net, lambda: semantic_dictionary(net, x[0], "feat"), ValueError, "shape")
    assert_raises_and_leaves_clean(net, lambda: semantic_dictionary(net, x, 3), TypeError)
    d = semantic_dictionary(net, x, "feat")
    for call, match in [
        (lambda: d.top(8, 0), "outside"),
        (lambda: d.top(0, 0, k=0), "k must"),
        (lambda: d.top(0, 0, k=4), "k must"),
        (lambda: d.strength("mean"), "by must"),
        (lambda: d.strength(floor=2), "floor"),
        (lambda: position_of(d, 1, None), "both"),
        (lambda: position_of(d, 9, 9), "outside"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()


def test_dictionary_on_efficientnet_is_clean_and_consistent(effnet, chelsea_img):
    from lecture_utils.hooks import record

    x = effnet.preprocess(chelsea_img, size=96)
    assert_leaves_model_clean(effnet, lambda: semantic_dictionary(effnet, x, "blocks.5"))
    d = semantic_dictionary(effnet, x, "blocks.5")
    with record(effnet, "blocks.5", detach=True) as rec:
        effnet.net(x)
    a = rec.activations["blocks.5"][0]
    assert d.activations.shape == (192, 3, 3) and torch.equal(d.channels, a.argmax(0))
    assert torch.allclose(d.values, a.amax(0)) and torch.allclose(d.norms, a.norm(dim=0))


def test_icon_cache_renders_each_channel_once(effnet):
    cache = IconCache(effnet, size=32, steps=6, batch=2)
    icons = cache.get("blocks.3", [5, 0, 5])
    assert cache.rendered == 2 and len(icons) == 3 and icons[0] is icons[2]
    assert icons[0].shape == (32, 32, 3) and 0 <= icons[0].min() and icons[0].max() <= 1
    again = cache.get("blocks.3", [0, 7])
    assert cache.rendered == 3 and again[0] is icons[1]
    acts = cache.activations("blocks.3", [0, 5])
    grey = optimize.channel_means(effnet, np.full((1, 32, 32, 3), 0.5, dtype=np.float32), "blocks.3")[0]
    assert (acts > grey[[0, 5]]).all(), "a rendered icon must excite its channel more than grey"
    assert cache.rendered == 3


def test_icon_cache_bad_input(effnet, tiny_cnn):
    with pytest.raises(TypeError, match="ZooModel"):
        IconCache(tiny_cnn)
    for kw, match in [({"size": 4}, "size"), ({"steps": 0}, "steps"), ({"batch": 0}, "batch"), ({"lr": 0}, "lr")]:
        with pytest.raises(ValueError, match=match):
            IconCache(effnet, **kw)
    cache = IconCache(effnet, size=16, steps=1)
    assert_raises_and_leaves_clean(effnet, lambda: cache.get("blocks.3", [80]), ValueError, "out of range")
    assert_raises_and_leaves_clean(effnet, lambda: cache.get("blocks.33", [0]), ValueError, "blocks.3")
    assert cache.rendered == 0


def test_icon_canvas_full_opacity_and_strength_bars_by_hand():
    red, blue = np.zeros((8, 8, 3)), np.zeros((8, 8, 3))
    red[..., 0], blue[..., 2] = 1.0, 1.0
    ch = np.array([[0, 1], [1, 9]])
    out = plot.icon_canvas(ch, {0: red, 1: blue}, strength=np.array([[1.0, 0.5], [0.0, 1.0]]), gap=1, bar=2)
    cell_h = 8 + 1 + 2  # icon, white line, bar
    assert out.shape == (1 + 2 * (cell_h + 1), 1 + 2 * (8 + 1), 3)
    assert np.allclose(out[1:9, 1:9], red) and np.allclose(out[1:9, 10:18], blue)  # full opacity at any strength
    assert np.allclose(out[13:21, 1:9], blue)  # strength 0: still the full icon
    fill, track = plot.part1_weights_and_attribution.STRENGTH_BAR_COLOUR, (0.82, 0.82, 0.82)
    assert np.allclose(out[10:12, 1:9], fill)  # strength 1: a full bar
    assert np.allclose(out[10:12, 10:14], fill) and np.allclose(out[10:12, 14:18], track)  # 0.5: half
    assert np.allclose(out[22:24, 1:9], track)  # strength 0: an empty bar
    assert np.allclose(out[13:24, 10:18], 1.0)  # no icon: a white cell, no bar
    plain = plot.icon_canvas(ch, {0: red, 1: blue}, gap=1)  # no strength: no bars
    assert plain.shape == (19, 19, 3) and np.allclose(plain[1:9, 10:18], blue)
    default = plot.icon_canvas(ch, {0: red, 1: blue}, strength=np.ones((2, 2)), gap=1)
    assert default.shape[0] == 1 + 2 * (8 + 1 + 3 + 1)  # bar of max(3, s // 8) px by default
    with pytest.raises(ValueError, match="strength"):
        plot.icon_canvas(ch, {0: red}, strength=np.ones((3, 3)))
    with pytest.raises(ValueError, match="bar"):
        plot.icon_canvas(ch, {0: red}, strength=np.ones((2, 2)), bar=0)


def test_dictionary_figures():
    d = semantic_dictionary(identity_net(), known_image(), "feat")
    icons = {c: np.full((4, 4, 3), c / 3) for c in range(3)}
    img = np.zeros((8, 8, 3))
    fig = plot.semantic_grid(img, d.channels, icons, d.strength(), allow_blank={"image"})
    assert len(fig.axes) == 2
    entries = [dict(position=(0, 0), top=d.top(0, 0, 2), icons=[icons[1], icons[0]])]
    fig2 = plot.dictionary_entries(img, d.shape, entries, allow_blank=True)
    assert len(fig2.axes) == 1 + 2 * 2
    fig3 = plot.attribution_rows({"a": {"image": img, "map": torch.rand(2, 2)}}, allow_blank={"a/image"})
    assert fig3.axes[1].images[0].get_array().shape == (8, 8)
    for f in (fig, fig2, fig3):
        plt.close(f)
    small = plot.compact(plot.semantic_grid(img, d.channels, icons, d.strength(), allow_blank=True))
    assert small.format == "jpeg" and small.data[:2] == b"\xff\xd8" and len(small.data) < 100_000
    assert plt.get_fignums() == [], "compact closes the figure"
    with pytest.raises(TypeError, match="Figure"):
        plot.compact(img)
    with pytest.raises(ValueError, match="icons"):
        plot.dictionary_entries(img, d.shape, [dict(position=(0, 0), top=d.top(0, 0, 2), icons=[icons[1]])])
