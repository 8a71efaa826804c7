"""Shared fixtures: the zoo models are loaded once per session (offline, a few seconds)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
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


@pytest.fixture(autouse=True)
def _isolated(request):
    """Tests do not depend on each other's order: each starts from the same random state, and
    none may leave gradients on the zoo models the whole session shares (a leftover ``.grad``
    would make a later test's "the model is unchanged" check fail; the culprit is named here).
    """
    torch.manual_seed(0)  # every test starts from the same random state, whatever ran before it
    np.random.seed(0)
    yield
    for name in ("effnet", "vgg"):
        if name in request.fixturenames:
            model = request.getfixturevalue(name).net
            dirty = [n for n, p in model.named_parameters() if p.grad is not None]
            for n in dirty:
                dict(model.named_parameters())[n].grad = None
            assert not dirty, f"{request.node.nodeid} left gradients on the shared {name}: {dirty[:3]}"
