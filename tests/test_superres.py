"""Super-resolution x4 (lecture 20, Johnson et al. 2016): degradation known answers, network
shapes, training lowering the loss, metrics by hand, saving/loading with checksums, and the
committed weights doing what the lecture claims on held-out images."""

import math

import numpy as np
import pytest
import torch

from lecture_utils import superres as S
from lecture_utils.hooks import model_state
from lecture_utils.models import WeightsError
from tests.helpers import assert_leaves_model_clean

# ----------------------------------------------------------------------------- degradation


def test_gaussian_blur_impulse_and_constant():
    x = torch.zeros(1, 1, 15, 15)
    x[0, 0, 7, 7] = 1.0
    y = S.gaussian_blur(x, sigma=1.0)[0, 0]
    assert float(y.sum()) == pytest.approx(1.0, abs=1e-6)  # normalized kernel, impulse far from the border
    # separable Gaussian: centre / direct neighbour = exp(1/2), centre / diagonal neighbour = exp(1)
    assert float(y[7, 7] / y[7, 8]) == pytest.approx(math.exp(0.5), rel=1e-5)
    assert float(y[7, 7] / y[8, 8]) == pytest.approx(math.exp(1.0), rel=1e-5)
    assert torch.allclose(y, y.flip(0)) and torch.allclose(y, y.T)
    c = torch.full((2, 3, 12, 16), 0.3)
    assert torch.allclose(S.gaussian_blur(c, 2.0), c, atol=1e-6)  # reflected borders keep a constant


def test_degrade_and_bicubic_keep_a_constant_image():
    hr = torch.full((2, 3, 32, 48), 0.37)
    lr = S.degrade(hr)
    assert lr.shape == (2, 3, 8, 12)
    assert torch.allclose(lr, torch.full_like(lr, 0.37), atol=1e-5)
    up = S.bicubic(lr)
    assert up.shape == (2, 3, 32, 48) and torch.allclose(up, hr, atol=1e-5)


def test_degrade_removes_fine_detail():
    # a 2-pixel checkerboard is above the LR Nyquist frequency: it must vanish, its mean stays
    i = torch.arange(32)
    board = ((i[:, None] // 2 + i[None, :] // 2) % 2).float().expand(1, 3, 32, 32).contiguous()
    lr = S.degrade(board)
    assert float(lr.std()) < 0.02 and float(lr.mean()) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.zeros(1, 1, 32, 32), r"\(B, 3, H, W\)"),
        (torch.zeros(3, 32, 32), r"\(B, 3, H, W\)"),
        (torch.zeros(1, 3, 30, 32), "multiples of 4"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "float"),
        (torch.zeros(1, 3, 4, 4), "at least"),
    ],
)
def test_degrade_bad_inputs(bad, match):
    with pytest.raises(ValueError, match=match):
        S.degrade(bad)


def test_degrade_bad_parameters():
    with pytest.raises(ValueError, match="sigma"):
        S.degrade(torch.zeros(1, 3, 32, 32), sigma=0)
    with pytest.raises(ValueError, match="scale"):
        S.degrade(torch.zeros(1, 3, 32, 32), scale=0)
    with pytest.raises(TypeError, match="tensor"):
        S.degrade(np.zeros((1, 3, 32, 32), np.float32))


# ----------------------------------------------------------------------------- network


def test_srnet_shapes_x4_and_starts_at_bicubic():
    torch.manual_seed(0)
    net = S.SRNet(width=8, blocks=2)
    lr = torch.rand(2, 3, 9, 13)
    out = net(lr)
    assert out.shape == (2, 3, 36, 52)
    # the last conv starts at zero: an untrained net is exactly bicubic upsampling
    ref = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False)
    assert torch.equal(out, ref)
    sr = S.super_resolve(net.train(), lr)
    assert net.training and sr.min() >= 0 and sr.max() <= 1  # flag restored, output clamped


@pytest.mark.parametrize(
    "kwargs, match", [({"width": 0}, "width"), ({"blocks": -1}, "blocks"), ({"scale": 2}, "upsamples by 4")]
)
def test_srnet_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.SRNet(**kwargs)


def test_srnet_bad_input():
    net = S.SRNet(width=4, blocks=1)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        S.super_resolve(net, torch.zeros(3, 8, 8))
    with pytest.raises(TypeError, match="nn.Module"):
        S.super_resolve("net", torch.zeros(1, 3, 8, 8))


# ----------------------------------------------------------------------------- losses and training


def test_pixel_loss_by_hand_and_shape_check():
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    assert float(S.pixel_loss(a, b)) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="differ in shape"):
        S.pixel_loss(a, torch.zeros(1, 3, 8, 8))


def test_feature_loss_zero_at_match_and_leaves_vgg_untouched(vgg):
    before = model_state(vgg)
    loss = S.FeatureLoss(vgg)
    assert model_state(vgg) == before and all(p.requires_grad for p in vgg.net.parameters())
    assert all(not p.requires_grad for p in loss.parameters())
    x = torch.rand(2, 3, 32, 32)
    assert float(loss(x, x)) == pytest.approx(0.0, abs=1e-7)
    assert float(loss(x, torch.rand(2, 3, 32, 32))) > 0.05
    with pytest.raises(ValueError, match="relu2_2"):  # unknown layer: error names close layers
        S.FeatureLoss(vgg, "relu2_9")
    with pytest.raises(TypeError, match="vgg19"):
        S.FeatureLoss(torch.nn.Conv2d(3, 3, 1))


def _fixed_batch():
    a = S.sr_image("chelsea")
    crops = [a[t : t + 32, l0 : l0 + 32] for t, l0 in ((40, 60), (120, 200), (200, 300), (80, 380))]
    return torch.cat([S.to_tensor(c) for c in crops])


@pytest.mark.parametrize("loss", ["pixel", "feature"])
def test_a_few_training_steps_lower_the_loss(loss, vgg):
    torch.manual_seed(0)
    hr = _fixed_batch()
    lr = S.degrade(hr)
    crit = S.pixel_loss if loss == "pixel" else S.FeatureLoss(vgg)
    net = S.SRNet(width=16, blocks=1)
    torch.nn.init.normal_(net.tail.weight, std=0.02)  # start away from bicubic: a clear loss to lower
    with torch.no_grad():
        before = float(crit(net(lr), hr))
    steps = 30
    images = ("chelsea",) if loss == "pixel" else hr  # names or a fixed set of crops
    net, hist = S.train_sr(
        loss, steps=steps, batch_size=4, crop=32, lr=2e-3, net=net, vgg=vgg, images=images, device="cpu"
    )
    with torch.no_grad():
        after = float(crit(net(lr), hr))
    assert after < 0.95 * before, (loss, before, after)
    assert hist["step"][-1] == steps and len(hist["loss"]) == 1
    assert net.config["loss"] == loss and net.config["steps"] == steps


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loss": "l1"}, "loss must be"),
        ({"steps": 0}, "steps"),
        ({"crop": 30}, "crop"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"tv": -1.0}, "tv"),
        ({"images": torch.rand(2, 3, 40, 40), "crop": 48}, "at least 48x48"),
        ({"images": torch.rand(2, 1, 48, 48), "crop": 48}, r"\(B, 3, H, W\)"),
    ],
)
def test_train_sr_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.train_sr(**kwargs)


# ----------------------------------------------------------------------------- images


def test_images_are_bundled_and_split():
    assert not set(S.TRAIN_IMAGES) & set(S.EVAL_IMAGES)
    from pathlib import Path

    import skimage.data

    folder = Path(skimage.data.__file__).parent
    for f in S._SKIMAGE_FILES.values():
        assert (folder / f).is_file(), f"{f} must ship inside scikit-image (never downloaded)"
    a = S.sr_image("coins", max_size=256)
    assert a.dtype == np.float32 and a.shape[2] == 3 and a.shape[0] % 4 == 0 and a.shape[1] % 4 == 0
    assert max(a.shape[:2]) <= 256 and 0 <= a.min() and a.max() <= 1
    hr, lr = S.example("rocket", max_size=128)
    assert hr.shape[-2:] == (lr.shape[-2] * 4, lr.shape[-1] * 4)
    with pytest.raises(ValueError, match="unknown image"):
        S.sr_image("lena")


# ----------------------------------------------------------------------------- metrics


def test_metrics_by_hand():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.2, 0.7, size=(24, 24, 3)).astype(np.float32)
    # +0.1 on every channel moves the BT.601 luma by 0.1 * (65.481 + 128.553 + 24.966) / 255
    dy = 0.1 * 219.0 / 255.0
    assert S.psnr(ref + 0.1, ref, border=0) == pytest.approx(-20 * math.log10(dy), abs=1e-4)
    assert S.ssim(ref, ref) == pytest.approx(1.0)
    assert S.ssim(ref + 0.1 * rng.standard_normal(ref.shape), ref, border=0) < 0.9
    assert S.hf_energy(np.full((20, 20, 3), 0.4)) == pytest.approx(0.0, abs=1e-12)
    assert S.hf_energy(ref) > S.hf_energy(S.to_numpy(S.gaussian_blur(S.to_tensor(ref), 1.5)))
    # a sinusoid of 0.25 cycles/pixel: the radial spectrum peaks there
    yy, xx = np.mgrid[:64, :64]
    wave = np.repeat((0.5 + 0.3 * np.cos(2 * np.pi * 0.25 * xx))[..., None], 3, axis=2)
    f, p = S.radial_spectrum(wave, bins=16)
    assert abs(f[int(np.argmax(p))] - 0.25) <= 0.5 / 16
    with pytest.raises(ValueError, match="differ in shape"):
        S.psnr(ref, ref[:20])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        S.ssim(ref[..., 0], ref[..., 0])


def test_feature_error_zero_for_itself_equals_content_loss_and_leaves_vgg_clean(vgg):
    from lecture_utils.style import content_loss, features

    a = S.sr_image("rocket", max_size=64)
    assert S.feature_error(vgg, a, a) == pytest.approx(0.0, abs=1e-7)
    blurred = S.to_numpy(S.gaussian_blur(S.to_tensor(a), 2.0))
    err = S.feature_error(vgg, blurred, a)
    assert err > 0.05
    # the same number as style.content_loss at relu2_2 (which runs the whole VGG19 with hooks)
    target = features(vgg, vgg.normalize(S.to_tensor(a)), ["relu2_2"])["relu2_2"]
    acts = features(vgg, vgg.normalize(S.to_tensor(blurred)), ["relu2_2"])
    assert err == pytest.approx(float(content_loss("relu2_2", target)(acts)), rel=1e-4)
    with pytest.raises(ValueError, match="relu2_2"):
        S.feature_error(S.FeatureLoss(vgg), blurred, a, layer="relu3_1")
    assert_leaves_model_clean(vgg, lambda: S.feature_error(vgg, blurred, a))


# ----------------------------------------------------------------------------- saving and loading


def test_save_load_roundtrip_and_checksum(tmp_path):
    torch.manual_seed(0)
    net = S.SRNet(width=8, blocks=1)
    torch.nn.init.normal_(net.tail.weight, std=0.01)
    digest = S.save_sr(net, tmp_path / "sr.pt", {"step": [1, 2], "loss": [0.5, 0.4]})
    back, hist = S.load_sr("pixel", path=tmp_path / "sr.pt", sha256=digest, with_history=True)
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(back(x), net.eval()(x)) and hist["loss"] == [0.5, 0.4]
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        S.load_sr("pixel", path=tmp_path / "sr.pt", sha256="0" * 64)
    with pytest.raises(WeightsError, match="not found"):
        S.load_sr("pixel", path=tmp_path / "missing.pt")
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="not an SRNet"):
        S.load_sr("feature", path=tmp_path / "other.pt")
    with pytest.raises(ValueError, match="unknown kind"):
        S.load_sr("perceptual")
    with pytest.raises(TypeError):
        S.save_sr(torch.nn.Conv2d(3, 3, 1), tmp_path / "x.pt")


def test_script_entry_point(tmp_path):
    from tools import train_superres  # the trainers' command line lives outside the package

    out = tmp_path / "cli.pt"
    train_superres.main(
        ["--loss", "pixel", "--out", str(out), "--steps", "2", "--batch-size", "2", "--crop", "32"]
        + ["--width", "8", "--blocks", "1", "--val-every", "0", "--log-every", "1", "--device", "cpu"]
    )
    net, hist = S.load_sr("pixel", path=out, with_history=True)
    assert net.config["width"] == 8 and net.config["steps"] == 2 and hist["step"] == [1.0, 2.0]


# ----------------------------------------------------------------------------- the committed weights


@pytest.fixture(scope="module")
def committed():
    return {k: S.load_sr(k) for k in ("pixel", "feature")}


def test_committed_weights_are_small_and_checked(committed):
    for kind, net in committed.items():
        assert S.sr_path(kind).stat().st_size < 8_000_000
        assert net.config["loss"] == kind and not net.training


def test_committed_weights_behave_as_the_paper_says(committed, vgg):
    table = S.evaluate(committed, ["grace_hopper", "rocket"], vgg=vgg, max_size=192)
    m = table["mean"]
    # the pixel loss optimizes what PSNR measures: it beats bicubic there
    assert m["pixel"]["psnr"] > m["bicubic"]["psnr"] + 0.2
    # the feature loss optimizes the VGG feature error: lowest of all three
    assert m["feature"]["feature"] < min(m["pixel"]["feature"], m["bicubic"]["feature"])
    # and it restores high-frequency energy that bicubic interpolation lacks
    gt = m["ground truth"]["hf"]
    assert abs(m["feature"]["hf"] - gt) < abs(m["bicubic"]["hf"] - gt)
    assert m["bicubic"]["hf"] < gt
