"""The up-convolutional chair generator of notebook 15: up-convolution by hand, shapes, the
transformations, a few training steps, save/load with checksums, the shipped weights, bad input."""

import numpy as np
import pytest
import torch

from lecture_utils import chairs, upconv
from lecture_utils.models import WeightsError


def tiny_net(**kw):
    torch.manual_seed(0)
    cfg = dict(n_styles=3, size=16, start=4, channels=(8, 8, 4), style_dim=8, view_dim=8, theta_dim=8, hidden=16)
    cfg.update(kw)
    return upconv.ChairGenerator(**cfg)


def test_unpool_by_hand():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = torch.tensor([[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]], dtype=torch.float32)
    assert torch.equal(upconv.unpool2d(x)[0, 0], expected)


def test_upsampling_demo_checkerboard_and_equivalence():
    maps = upconv.upsampling_demo(torch.ones(4, 4))
    assert all(m.shape == (8, 8) for m in maps.values())
    # 3x3 kernel of ones on zero-inserted ones: 1, 2 or 4 taps hit a value -> checkerboard
    inner = maps["unpooling + conv"][2:6, 2:6]
    assert torch.equal(inner, torch.tensor([[1.0, 2, 1, 2], [2, 4, 2, 4], [1, 2, 1, 2], [2, 4, 2, 4]]))
    assert torch.equal(maps["nearest + conv"][1:7, 1:7], torch.full((6, 6), 9.0))  # flat away from the border
    # unpooling + convolution IS a transposed convolution with stride 2 (kernel flipped)
    torch.manual_seed(0)
    x, k = torch.randn(5, 6), torch.randn(3, 3)
    m = upconv.upsampling_demo(x, k)
    assert torch.allclose(m["unpooling + conv"], m["transposed conv"], atol=1e-5)
    with pytest.raises(ValueError, match="odd"):
        upconv.upsampling_demo(x, torch.ones(2, 2))
    with pytest.raises(ValueError, match="one"):
        upconv.upsampling_demo(torch.ones(1, 4, 4))


def test_upconv_block():
    torch.manual_seed(0)
    block = upconv.UpConv(4, 6)
    assert block(torch.randn(2, 4, 5, 7)).shape == (2, 6, 10, 14)
    # nearest upsampling + a centre-tap conv copies each value to its 2x2 block
    with torch.no_grad():
        for conv in (block.conv1, block.conv2):
            conv.weight.zero_()
            conv.bias.zero_()
            for c in range(min(conv.in_channels, conv.out_channels)):
                conv.weight[c, c, 1, 1] = 1.0
    x = torch.rand(1, 4, 3, 3)
    y = block(x)
    assert torch.allclose(y[0, :4, ::2, ::2], x[0]) and torch.allclose(y[0, :4, 1::2, 1::2], x[0])
    assert torch.all(y[0, 4:] == 0)
    unpool = upconv.UpConv(4, 6, upsample="unpool")
    unpool.load_state_dict(block.state_dict())
    y2 = unpool(x)
    assert torch.allclose(y2[0, :4, ::2, ::2], x[0]) and torch.all(y2[0, :4, 1::2, :] == 0)
    with pytest.raises(ValueError, match="upsample"):
        upconv.UpConv(4, 6, upsample="bilinear")


def test_generator_shapes():
    net = upconv.ChairGenerator()
    fg, logit = net(torch.eye(12)[:2], upconv.view_code([0.0, 90.0], [10.0, 20.0]), torch.zeros(2, 5))
    assert fg.shape == (2, 3, 64, 64) and logit.shape == (2, 1, 64, 64)
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params * 4 < 8e6  # the float32 weights fit the 8 MB budget
    small = tiny_net()
    out = upconv.generate(small, style=[0, 1, 2], azimuth=30.0, elevation=20.0)
    assert out.images.shape == (3, 16, 16, 3) and out.masks.shape == (3, 16, 16) and out.fg.shape == (3, 16, 16, 3)
    assert 0 <= out.images.min() and out.images.max() <= 1
    assert upconv.style_features(small, [0, 2]).shape == (2, 8)
    with pytest.raises(ValueError, match="size"):
        upconv.ChairGenerator(size=40, start=6)


def test_view_code():
    v = upconv.view_code([90.0, 0.0], [0.0, 30.0])
    assert torch.allclose(v, torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.5, 3**0.5 / 2]]), atol=1e-6)
    assert torch.allclose(upconv.view_code(360.0, 0.0), upconv.view_code(0.0, 0.0), atol=1e-6)


def _blob():
    """One 16x16 image: a 4x4 grey square in the middle, premultiplied."""
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 6:10, 6:10] = 1
    fg = mask.repeat(1, 3, 1, 1) * torch.tensor([0.6, 0.3, 0.3]).view(1, 3, 1, 1)
    return fg, mask


def test_transform_by_hand():
    fg, mask = _blob()
    same = upconv.transform(fg, mask, torch.zeros(1, 5))
    assert torch.equal(same[0], fg) and torch.equal(same[1], mask)
    # shift_x = 1 moves right by 0.15 * 16 = 2.4 px; shift_y = 1 moves up
    _, m = upconv.transform(fg, mask, torch.tensor([[1.0, 0, 0, 0, 0]]))
    cols = torch.arange(16.0)
    cx = lambda mm: float((mm[0, 0].sum(0) * cols).sum() / mm.sum())
    cy = lambda mm: float((mm[0, 0].sum(1) * cols).sum() / mm.sum())
    assert cx(m) - cx(mask) == pytest.approx(2.4, abs=0.05)
    _, m = upconv.transform(fg, mask, torch.tensor([[0, 1.0, 0, 0, 0]]))
    assert cy(m) - cy(mask) == pytest.approx(-2.4, abs=0.05)
    # zoom = 1 scales by 2**0.5: the area doubles
    _, m = upconv.transform(fg, mask, torch.tensor([[0, 0, 1.0, 0, 0]]))
    assert float(m.sum() / mask.sum()) == pytest.approx(2.0, rel=0.05)
    # brightness = 1: colours x 1.5 (never above the mask)
    f, m = upconv.transform(fg, mask, torch.tensor([[0, 0, 0, 1.0, 0]]))
    assert torch.allclose(f[0, :, 8, 8], torch.tensor([0.9, 0.45, 0.45])) and torch.equal(m, mask)
    f, _ = upconv.transform(fg, mask, torch.tensor([[0, 0, 0, -1.0, 0]]))
    assert torch.allclose(f[0, :, 8, 8], torch.tensor([0.3, 0.15, 0.15]))
    # saturation: -1 gives the grey value (mean 0.4), +1 doubles the distance to it: 0.4 + 2 * (0.2, -0.1, -0.1)
    f, _ = upconv.transform(fg, mask, torch.tensor([[0, 0, 0, 0, -1.0]]))
    assert torch.allclose(f[0, :, 8, 8], torch.tensor([0.4, 0.4, 0.4]))
    f, _ = upconv.transform(fg, mask, torch.tensor([[0, 0, 0, 0, 1.0]]))
    assert torch.allclose(f[0, :, 8, 8], torch.tensor([0.8, 0.2, 0.2]))
    assert torch.all(f[mask.expand_as(f) == 0] == 0)  # the background stays empty
    with pytest.raises(ValueError, match="theta"):
        upconv.transform(fg, mask, torch.zeros(1, 4))
    with pytest.raises(ValueError, match="mask"):
        upconv.transform(fg, mask[:, :, :8], torch.zeros(1, 5))


def test_compose_roundtrip():
    data = chairs.make_dataset(size=16, styles=[0], azimuths=[0.0, 60.0], elevations=[20.0])
    img = upconv.compose(data.foreground(), data.masks)
    assert np.allclose(img, data.images, atol=1e-6)
    t = upconv.compose(torch.from_numpy(data.foreground()).permute(0, 3, 1, 2), torch.from_numpy(data.masks)[:, None])
    assert np.allclose(t.permute(0, 2, 3, 1).numpy(), img, atol=1e-6)


def test_mask_iou_by_hand():
    a = np.zeros((1, 4, 4))
    b = np.zeros((1, 4, 4))
    a[0, :2] = 1  # 8 pixels
    b[0, 1:3] = 1  # 8 pixels, 4 shared
    assert upconv.mask_iou(a, b)[0] == pytest.approx(4 / 12)
    assert upconv.mask_iou(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))[0] == 1.0


@pytest.fixture(scope="module")
def tiny_data():
    return chairs.make_dataset(size=16, styles=[0, 1, 2], azimuths=[0.0, 90.0, 180.0, 270.0], elevations=[20.0])


def test_training_lowers_the_loss_and_is_seeded(tiny_data):
    cfg = dict(channels=(8, 8, 4), style_dim=8, view_dim=8, theta_dim=8, hidden=16)
    kw = dict(config=cfg, steps=60, batch_size=8, lr=3e-3, log_every=10, progress=False, device="cpu")
    net, hist = upconv.train_generator(tiny_data, **kw)
    assert len(hist) == 6 and hist[-1] < 0.6 * hist[0]
    assert net.config["size"] == 16 and net.config["start"] == 4 and not net.training
    net2, hist2 = upconv.train_generator(tiny_data, **kw)
    assert hist == hist2
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net2.state_dict().values()))
    # training on a subset: the mask is respected
    calls = []
    train = tiny_data.style != 2
    upconv.train_generator(tiny_data, train, callback=lambda s, n: calls.append(s), **dict(kw, steps=20))
    assert calls == [10, 20]
    scores = upconv.evaluate_views(net, tiny_data, ~train, train)
    assert set(scores) == {
        "generator",
        "nearest seen view",
        "other chairs, same view",
        "mean training image",
        "mask IoU",
    }
    assert all(v.shape == (4,) for v in scores.values())
    assert np.isnan(scores["nearest seen view"]).all()  # style 2 has no training view at all


def test_training_bad_input(tiny_data):
    with pytest.raises(ValueError, match="boolean mask"):
        upconv.train_generator(tiny_data, np.ones(3, bool), steps=1, progress=False)
    with pytest.raises(ValueError, match="no image"):
        upconv.train_generator(tiny_data, np.zeros(len(tiny_data), bool), steps=1, progress=False)
    with pytest.raises(ValueError, match="steps"):
        upconv.train_generator(tiny_data, steps=0, progress=False)
    with pytest.raises(ValueError, match="divisible"):
        upconv.train_generator(tiny_data, config={"channels": (8, 8, 8, 8, 8, 4)}, steps=1, progress=False)


def test_generate_bad_input_and_state():
    net = tiny_net()
    with pytest.raises(ValueError, match="style id 3 out of range"):
        upconv.generate(net, style=3)
    with pytest.raises(ValueError, match="style id -1 out of range"):
        upconv.generate(net, style=[0, -1])
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        upconv.generate(net, style=torch.ones(2, 4))
    with pytest.raises(ValueError, match="azimuth has 2 entries"):
        upconv.generate(net, style=[0, 1, 2], azimuth=[0.0, 10.0])
    with pytest.raises(ValueError, match="theta must have shape"):
        upconv.generate(net, style=0, theta=torch.zeros(3))
    with pytest.raises(ValueError, match="theta has 3 entries"):
        upconv.generate(net, style=[0, 1, 2, 0], theta=torch.zeros(3, 5))
    with pytest.raises(ValueError, match="theta must have shape"):
        upconv.generate(net, style=[0, 1], theta=torch.zeros(2, 4))
    assert upconv.generate(net, style=0, theta=torch.zeros(4, 5)).images.shape[0] == 4  # theta sets N
    with pytest.raises(ValueError, match="exactly one"):
        upconv.generate(net, style=0, features=torch.zeros(1, 8))
    with pytest.raises(ValueError, match="features must have shape"):
        upconv.generate(net, features=torch.zeros(1, 5))
    with pytest.raises(ValueError, match="finite"):
        upconv.generate(net, style=0, azimuth=float("nan"))
    with pytest.raises(TypeError):
        upconv.generate(torch.nn.Linear(2, 2), style=0)
    # generate leaves the mode and the parameters as they were
    net.train()
    before = [p.clone() for p in net.parameters()]
    upconv.generate(net, style=1)
    assert net.training and all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    # mixing codes: t = 0 and t = 1 are the two one-hot styles
    e = torch.eye(3)
    mix = upconv.generate(net, style=torch.stack([e[0], e[2]]))
    ids = upconv.generate(net, style=[0, 2])
    assert np.allclose(mix.images, ids.images)
    feats = upconv.generate(net, features=upconv.style_features(net, [0, 2]))
    assert np.allclose(feats.images, ids.images, atol=1e-6)


def test_save_load_and_checksum(tmp_path):
    net = tiny_net()
    digest = upconv.save_generator(net, tmp_path / "g.pt", {"history": [1.0, 0.5]})
    back = upconv.load_generator(tmp_path / "g.pt", sha256=digest)
    assert back.config == net.config and back.meta == {"history": [1.0, 0.5]}
    a = upconv.generate(net, style=[0, 1], azimuth=[10.0, 200.0], elevation=25.0)
    b = upconv.generate(back, style=[0, 1], azimuth=[10.0, 200.0], elevation=25.0)
    assert np.array_equal(a.images, b.images)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        upconv.load_generator(tmp_path / "g.pt", sha256="0" * 64)
    with pytest.raises(WeightsError, match="not found"):
        upconv.load_generator(tmp_path / "missing.pt")
    with pytest.raises(TypeError):
        upconv.save_generator(torch.nn.Linear(2, 2), tmp_path / "x.pt")


def test_shipped_generator_reproduces_held_out_views():
    net = upconv.load_chairs_generator()
    assert upconv.chairs_generator_path().stat().st_size < 8_000_000
    assert net.meta["holdout_styles"] == list(upconv.HOLDOUT_STYLES)
    style = upconv.HOLDOUT_STYLES[0]
    data = chairs.make_dataset(styles=[style], elevations=[20.0])
    held = chairs.holdout_mask(data, [style], upconv.HOLDOUT_KEEP_EVERY)
    out = upconv.generate(net, data.style[held], data.azimuth[held], data.elevation[held])
    assert upconv.mask_iou(out.masks, data.masks[held]).mean() > 0.8
    err = ((out.images - data.images[held]) ** 2).mean()
    mean_err = ((data.images.mean(0) - data.images[held]) ** 2).mean()
    assert err < 0.3 * mean_err
