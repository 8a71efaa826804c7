"""SmallCNN of notebook 01: filter roughness with hand-computed values, save/load with checksums,
the shipped Fashion-MNIST weights, and training actually smoothing the first layer."""

import numpy as np
import pytest
import torch

from lecture_utils import smallcnn
from lecture_utils.datasets import load_fashion_mnist
from lecture_utils.hooks import record
from lecture_utils.models import WeightsError
from tests.helpers import assert_leaves_model_clean


def test_roughness_by_hand():
    # 1x2 "filter" [[0, 2]] (k = 2 needs a 2x2): w = [[0, 2], [0, 2]]
    w = torch.tensor([[[[0.0, 2.0], [0.0, 2.0]]]])
    # neighbour differences: horizontal (2, 2) -> squares 4, 4; vertical (0, 0) -> 0, 0; mean 2
    # variance of {0, 2, 0, 2} = 1  ->  r = 2 / (2 * 1) = 1
    assert smallcnn.roughness(w).item() == pytest.approx(1.0)
    checker = torch.tensor([[(-1.0) ** (i + j) for j in range(6)] for i in range(6)])[None, None]
    assert smallcnn.roughness(checker).item() == pytest.approx(2.0)  # every neighbour differs by 2, var 1
    ramp = torch.arange(36.0).view(1, 1, 6, 6)
    assert smallcnn.roughness(ramp).item() < 0.1
    torch.manual_seed(0)
    assert smallcnn.roughness(torch.randn(200, 1, 9, 9)).median().item() == pytest.approx(1.0, abs=0.1)


def test_roughness_bad_input():
    with pytest.raises(ValueError, match="shape"):
        smallcnn.roughness(torch.zeros(3, 9, 9))
    with pytest.raises(ValueError, match="k >= 2"):
        smallcnn.roughness(torch.zeros(3, 1, 1, 1))


def test_model_shapes_and_bad_config():
    net = smallcnn.SmallCNN()
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert net(torch.rand(1, 1, 44, 44)).shape == (1, 10)  # fully convolutional + GAP
    assert smallcnn.first_layer_filters(net).shape == (16, 1, 9, 9)
    assert smallcnn.backbone(net)(torch.rand(1, 1, 44, 44)).shape == (1, 32, 11, 11)
    with pytest.raises(ValueError, match="odd"):
        smallcnn.SmallCNN(kernel_size=8)
    with pytest.raises(ValueError, match="unknown layer"):
        smallcnn.backbone(net, upto="conv9")
    with pytest.raises(ValueError, match="grayscale"):
        smallcnn.to_tensor(np.zeros((2, 3, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="labels"):
        smallcnn.evaluate(net, np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="optimizer"):
        smallcnn.train(net, np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int64), epochs=1, optimizer="lbfgs")


def test_save_load_roundtrip_and_checksum(tmp_path):
    torch.manual_seed(0)
    net = smallcnn.SmallCNN(kernel_size=5, n_filters=4, width=8)
    digest = smallcnn.save_weights(net, tmp_path / "w.pt")
    back = smallcnn.load_weights(tmp_path / "w.pt", sha256=digest)
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(back(x), net.eval()(x)) and back.config == net.config
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        smallcnn.load_weights(tmp_path / "w.pt", sha256="0" * 64)
    with pytest.raises(WeightsError, match="not found"):
        smallcnn.load_weights(tmp_path / "missing.pt")
    with pytest.raises(TypeError):
        smallcnn.save_weights(torch.nn.Linear(2, 2), tmp_path / "x.pt")


def test_shipped_weights_are_trained_and_smooth():
    data = load_fashion_mnist()
    net = smallcnn.load_fashion_cnn()
    assert smallcnn.evaluate(net, data.x_test[:1000], data.y_test[:1000]) > 0.8
    assert smallcnn.roughness(smallcnn.first_layer_filters(net)).median() < 0.5
    assert smallcnn.fashion_cnn_path().stat().st_size < 1_000_000
    # the layers carry names usable with hooks, and recording leaves the net clean
    x = smallcnn.to_tensor(data.x_test[:2])
    with record(net, ["conv1", "relu3"]) as rec:
        net(x)
    assert rec["conv1"].shape == (2, 16, 28, 28) and rec["relu3"].shape == (2, 64, 7, 7)
    assert_leaves_model_clean(net, lambda: smallcnn.evaluate(net, data.x_test[:8], data.y_test[:8]))


def test_short_training_learns_and_smooths_filters():
    data = load_fashion_mnist()
    torch.manual_seed(0)
    net = smallcnn.SmallCNN()
    seen = []
    smallcnn.train(
        net,
        data.x_train[:3000],
        data.y_train[:3000],
        epochs=2,
        batch_size=32,
        progress=False,
        callback=lambda e, m: seen.append((e, smallcnn.roughness(smallcnn.first_layer_filters(m)).median())),
    )
    assert [e for e, _ in seen] == [0, 1, 2]
    assert seen[-1][1] < 0.8 * seen[0][1]
    assert not net.training
    assert smallcnn.evaluate(net, data.x_test[:500], data.y_test[:500]) > 0.3
