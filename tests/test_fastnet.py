"""Feed-forward stylization networks, the perceptual loss and instance normalization (lectures 19, 21)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lecture_utils import fastnet, style
from lecture_utils.hooks import model_state
from lecture_utils.models import WeightsError


def test_transform_net_shapes_and_layers():
    torch.manual_seed(0)
    net = fastnet.TransformNet(width=(4, 8, 16), n_res=2)
    with torch.no_grad():
        y = net(torch.rand(2, 3, 32, 48))
    assert y.shape == (2, 3, 32, 48) and 0 < float(y.min()) and float(y.max()) < 1
    rows = fastnet.layer_table(net, (32, 48))
    assert [r["layer"] for r in rows] == ["input", "down1", "down2", "down3", "res1", "res2", "up1", "up2", "out"]
    shapes = {r["layer"]: r["output"] for r in rows}
    assert shapes["down1"] == (4, 32, 48) and shapes["down3"] == (16, 8, 12) and shapes["res2"] == (16, 8, 12)
    assert shapes["up1"] == (8, 16, 24) and shapes["out"] == (3, 32, 48)
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in net.parameters())
    kinds = {r["layer"]: r["kind"] for r in rows}
    assert kinds["up1"].startswith("nearest x2 + conv 3x3") and kinds["down2"].startswith("conv 3x3/2")
    assert "IN" in kinds["down1"] and "sigmoid" in kinds["out"]
    assert isinstance(net.down1.pad, torch.nn.ReflectionPad2d)
    bn = fastnet.TransformNet(width=(4, 8, 16), n_res=1, norm="batch")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in bn.modules())
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in bn.modules())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"norm": "layer"}, "norm must be"),
        ({"width": (4, 8)}, "width must be"),
        ({"width": (4, 0, 8)}, "width must be"),
        ({"n_res": -1}, "n_res must be"),
    ],
)
def test_transform_net_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fastnet.TransformNet(**kwargs)


def test_transform_net_bad_inputs():
    net = fastnet.TransformNet(width=(2, 4, 4), n_res=0)
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.rand(1, 3, 30, 32))
    with pytest.raises(ValueError, match="RGB batch"):
        net(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="float"):
        net(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_instance_norm_written_out_equals_torch():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 7, 9) * 4 + 2
    w, b = torch.rand(5) + 0.5, torch.randn(5)
    layer = torch.nn.InstanceNorm2d(5, affine=True)
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
    assert torch.allclose(fastnet.instance_norm(x, w, b), layer(x), atol=1e-5)
    plain = fastnet.instance_norm(x)
    assert torch.allclose(plain.mean((2, 3)), torch.zeros(3, 5), atol=1e-5)
    assert torch.allclose(plain.var((2, 3), unbiased=False), torch.ones(3, 5), atol=1e-3)
    # batch norm (training mode) normalizes over the batch too: different unless the batch is 1
    bn = torch.nn.BatchNorm2d(5, affine=False)
    assert not torch.allclose(bn(x), plain, atol=1e-2)
    assert torch.allclose(bn(x[:1]), fastnet.instance_norm(x[:1]), atol=1e-4)
    with pytest.raises(ValueError, match="B, C, H, W"):
        fastnet.instance_norm(torch.ones(2, 3))


def test_instance_norm_network_ignores_contrast_batch_norm_does_not():
    """IN after the first (linear) conv removes any a * x + b change of the input exactly (up to eps)."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    low = 0.5 + 0.25 * (x - 0.5)  # a quarter of the contrast
    inet = fastnet.TransformNet(width=(4, 8, 8), n_res=1, norm="instance").eval()
    bnet = fastnet.TransformNet(width=(4, 8, 8), n_res=1, norm="batch")
    bnet.train()
    for _ in range(3):  # give the running statistics some values
        bnet(torch.rand(4, 3, 32, 32))
    bnet.eval()
    with torch.no_grad():
        # after the first block: IN maps both versions to the same features, BN (eval) does not
        f_in = (inet.down1(x) - inet.down1(low)).abs().max() / inet.down1(x).abs().max()
        f_bn = (bnet.down1(x) - bnet.down1(low)).abs().max() / bnet.down1(x).abs().max()
        assert f_in < 0.01 and f_bn > 0.1
        # ... and so do the whole networks' outputs
        d_in = (inet(x) - inet(low)).abs().max()
        d_bn = (bnet(x) - bnet(low)).abs().max()
    assert d_in < 0.1 * d_bn


@pytest.fixture(scope="module")
def style_image():
    return fastnet._style_image("vangogh_starry_night", 64)


def test_perceptual_loss_known_values(vgg, style_image):
    before = model_state(vgg)
    loss = fastnet.PerceptualLoss(vgg, style_image)
    torch.manual_seed(0)
    x = torch.rand(2, 3, 48, 48)
    terms = loss(x, x)
    assert float(terms["content"]) == pytest.approx(0.0, abs=1e-10)
    assert float(loss(style_image)["style"]) == pytest.approx(0.0, abs=1e-5)
    # the style term is the lecture-18 style loss (mean over the four layers)
    one = x[:1]
    expected = style.style_distance(vgg, vgg.normalize(one), vgg.normalize(style_image), fastnet.STYLE_LAYERS)
    assert float(loss(one)["style"]) == pytest.approx(expected, rel=1e-3)
    # content: relative error at relu2_2
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    f = vgg.net[: list(dict(vgg.net.named_children())).index("relu2_2") + 1]
    with torch.no_grad():
        fy, fx = f(vgg.normalize(y)), f(vgg.normalize(x))
    assert float(loss(y, x)["content"]) == pytest.approx(float((fy - fx).pow(2).sum() / fx.pow(2).sum()), rel=1e-4)
    # gradients reach the image but not the (copied, frozen) VGG; the zoo model is unchanged
    y.requires_grad_(True)
    loss(y, x)["style"].backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0
    assert all(p.grad is None for p in loss.parameters())
    assert model_state(vgg) == before and all(p.grad is None for p in vgg.net.parameters())


def test_perceptual_loss_bad_arguments(vgg, style_image, effnet):
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        fastnet.PerceptualLoss(vgg, style_image, content_layer="relu9_9")
    with pytest.raises(TypeError, match="VGG19"):
        fastnet.PerceptualLoss(effnet, style_image)
    with pytest.raises(ValueError, match="one RGB image"):
        fastnet.PerceptualLoss(vgg, style_image[0])
    with pytest.raises(ValueError, match="no style targets"):
        fastnet.PerceptualLoss(vgg, None).style_error({})


def test_a_few_training_steps_lower_the_loss(vgg):
    net, hist = fastnet.train_stylizer(
        "vangogh_starry_night", steps=12, size=32, batch=2, lr=5e-3, width=(4, 8, 8), n_res=1,
        photos=("chelsea",), vgg=vgg, device="cpu", progress=False,
    )  # fmt: skip
    assert len(hist["total"]) == 12 and hist["step"][-1] == 12
    assert np.mean(hist["total"][-3:]) < 0.8 * hist["total"][0]
    assert not net.training and net.config["train"]["steps"] == 12
    # same seed, same network (CPU)
    net2, hist2 = fastnet.train_stylizer(
        "vangogh_starry_night", steps=2, size=32, batch=2, width=(4, 8, 8), n_res=1, photos=("chelsea",),
        vgg=vgg, device="cpu", progress=False,
    )  # fmt: skip
    assert hist2["total"] == pytest.approx(hist["total"][:1] + [hist2["total"][1]], rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps must be"),
        ({"size": 30}, "multiple of 4"),
        ({"batch": 0}, "batch must be"),
        ({"style": "vangog_starry_night"}, "unknown style"),
        ({"noise": 1.5}, "noise must be"),
        ({"style_weight": -1.0}, "style_weight must be"),
        ({"lr": 0}, "lr must be"),
    ],
)
def test_train_stylizer_bad_arguments(vgg, kwargs, match):
    args = {"steps": 1, "size": 32, "batch": 1, "vgg": vgg, "device": "cpu", "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        fastnet.train_stylizer(**args)


def test_photo_crops():
    crops = fastnet.PhotoCrops(("chelsea", "coffee"), size=40, seed=3)
    b = crops.batch(3)
    assert b.shape == (3, 3, 40, 40) and 0 <= float(b.min()) and float(b.max()) <= 1
    again = fastnet.PhotoCrops(("chelsea", "coffee"), size=40, seed=3).batch(3)
    assert torch.equal(b, again)
    with pytest.raises(ValueError, match="min_scale"):
        fastnet.PhotoCrops(("chelsea",), min_scale=0)


def test_to_input_and_stylize():
    from PIL import Image

    img = Image.fromarray((np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8))
    x = fastnet.to_input(img, 64)
    assert x.shape == (1, 3, 44, 64)
    net = fastnet.TransformNet(width=(2, 4, 4), n_res=0)
    net.train()
    out = fastnet.stylize(net, img, 64)
    assert out.shape == (44, 64, 3) and net.training  # mode restored


def test_texture_net_shapes_and_training(vgg, style_image):
    net = fastnet.TextureNet(scales=3, channels=4)
    zs = net.noise(2, 32, seed=0)
    assert [tuple(z.shape) for z in zs] == [(2, 3, 32, 32), (2, 3, 16, 16), (2, 3, 8, 8)]
    assert net(zs).shape == (2, 3, 32, 32)
    a, b = net.sample(2, (16, 24), seed=1), net.sample(2, (16, 24), seed=1)
    assert a.shape == (2, 3, 16, 24) and torch.equal(a, b)
    assert not torch.equal(a, net.sample(2, (16, 24), seed=2))
    with pytest.raises(ValueError, match="multiples of 4"):
        net.noise(1, 30)
    with pytest.raises(ValueError, match="3 noise tensors"):
        net(zs[:2])
    trained, hist = fastnet.train_texture_net(
        style_image, steps=10, size=32, batch=2, scales=3, channels=4, vgg=vgg, device="cpu", progress=False
    )
    assert np.mean(hist["style"][-3:]) < 0.8 * hist["style"][0]
    assert not trained.training


def test_save_and_load_round_trip_and_errors(tmp_path):
    torch.manual_seed(0)
    net = fastnet.TransformNet(width=(2, 4, 4), n_res=1, norm="batch")
    path = tmp_path / "net.pt"
    digest = fastnet.save_net(net, path, {"step": [1, 2], "total": [2.0, 1.0]})
    loaded = fastnet.load_net(path, sha256=digest)
    assert isinstance(loaded, fastnet.TransformNet) and loaded.config["norm"] == "batch"
    assert loaded.config["history"]["total"] == [2.0, 1.0]
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(loaded(x), net.eval()(x))
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        fastnet.load_net(path, sha256="0" * 64)
    with pytest.raises(WeightsError, match="not found"):
        fastnet.load_net(tmp_path / "missing.pt")
    tex = fastnet.TextureNet(scales=2, channels=2)
    fastnet.save_net(tex, tmp_path / "tex.pt")
    assert isinstance(fastnet.load_net(tmp_path / "tex.pt"), fastnet.TextureNet)
    # strict loading: a tensor too many is refused
    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["extra"] = torch.zeros(1)
    torch.save(blob, tmp_path / "extra.pt")
    with pytest.raises(RuntimeError, match="Unexpected key"):
        fastnet.load_net(tmp_path / "extra.pt")
    with pytest.raises(TypeError, match="saves a TransformNet"):
        fastnet.save_net(torch.nn.Linear(2, 2), path)


def test_committed_weight_names_and_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="no committed stylizer"):
        fastnet.load_stylizer("vangog_starry_night")
    with pytest.raises(ValueError, match="no committed texture"):
        fastnet.load_texture_net("unknown")
    # a missing file and a wrong checksum give clear errors
    monkeypatch.setattr(fastnet, "STYLIZER_SHA256", {"demo": "0" * 64})
    monkeypatch.setattr(fastnet, "_weights_dir", lambda: tmp_path)
    with pytest.raises(WeightsError, match="missing"):
        fastnet.load_stylizer("demo")
    fastnet.save_net(fastnet.TransformNet(width=(2, 4, 4), n_res=0), tmp_path / "stylizer_demo.pt")
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        fastnet.load_stylizer("demo")


@pytest.mark.parametrize("name", sorted(fastnet.STYLIZER_SHA256))
def test_committed_stylizers_stylize(vgg, name):
    """Real weights: the stylized photo's Gram (style) loss to the painting is far below the photo's."""
    from lecture_utils.images import load_image

    net = fastnet.load_stylizer(name)
    assert fastnet.stylizer_path(name).stat().st_size < 8_000_000
    photo = fastnet.to_input(load_image("chelsea"), 128)
    out = torch.from_numpy(fastnet.stylize(net, photo, None)).permute(2, 0, 1)[None]
    painting = fastnet._style_image(name, 128)
    d_out = style.style_distance(vgg, vgg.normalize(out), vgg.normalize(painting), fastnet.STYLE_LAYERS)
    d_photo = style.style_distance(vgg, vgg.normalize(photo), vgg.normalize(painting), fastnet.STYLE_LAYERS)
    assert d_out < 0.5 * d_photo


@pytest.mark.parametrize("name", sorted(fastnet.TEXTURE_SHA256))
def test_committed_texture_nets(name):
    net = fastnet.load_texture_net(name)
    a = net.sample(2, 64, seed=0)
    assert a.shape == (2, 3, 64, 64) and float((a[0] - a[1]).abs().mean()) > 0.02  # different noise, new texture


def test_command_line(tmp_path, vgg, monkeypatch):
    import lecture_utils.models as models

    monkeypatch.setattr(models, "load_model", lambda name, device=None: vgg)
    out = tmp_path / "s.pt"
    from tools import train_fastnet  # the trainers' command line lives outside the package

    train_fastnet.main(["--style", "munch_the_scream", "--out", str(out), "--steps", "2", "--size", "32",
                  "--batch", "1", "--width", "2", "4", "4", "--device", "cpu"])  # fmt: skip
    net = fastnet.load_net(out)
    assert net.config["train"]["style"] == "munch_the_scream" and len(net.config["history"]["step"]) == 2
    train_fastnet.main(["--texture", "munch_the_scream", "--out", str(tmp_path / "t.pt"), "--steps", "1",
                  "--size", "32", "--batch", "1", "--device", "cpu"])  # fmt: skip
    assert isinstance(fastnet.load_net(tmp_path / "t.pt"), fastnet.TextureNet)
