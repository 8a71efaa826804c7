"""Shared fixtures: the zoo models are loaded once per session (offline, a few seconds)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from lecture_utils.images import load_image
from lecture_utils.models import load_model


@pytest.fixture(scope="session")
def effnet():
    return load_model("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="session")
def vgg():
    return load_model("vgg19", device="cpu")


@pytest.fixture(scope="session")
def chelsea_img():
    return load_image("chelsea")


@pytest.fixture(scope="session")
def chelsea(effnet, chelsea_img):
    """Chelsea the cat, preprocessed for EfficientNet-Lite0: (1, 3, 224, 224)."""
    return effnet.preprocess(chelsea_img)


@pytest.fixture()
def tiny_cnn():
    """A tiny deterministic CNN with an in-place ReLU6, like EfficientNet's activations."""
    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("conv", torch.nn.Conv2d(3, 4, 3, padding=1))
    net.add_module("act", torch.nn.ReLU6(inplace=True))
    net.add_module("pool", torch.nn.AdaptiveAvgPool2d(1))
    net.add_module("flat", torch.nn.Flatten())
    net.add_module("fc", torch.nn.Linear(4, 5))
    return net.eval()
