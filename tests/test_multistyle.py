"""The 26-style conditional-instance-norm network rebuilt from its ONNX file (lecture 21)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from lecture_utils import multistyle as ms
from lecture_utils.fastnet import instance_norm
from lecture_utils.models import WeightsError


@pytest.fixture(scope="module")
def net():
    return ms.load_multistyle()


def test_architecture_read_from_the_graph():
    rows = ms.graph_layers()
    assert [r["name"] for r in rows[:3]] == ["contract.0", "contract.1", "contract.2"]
    assert [(r["kernel"], r["stride"], r["out"]) for r in rows[:3]] == [
        ((9, 9), 1, 32),
        ((3, 3), 2, 32),
        ((3, 3), 2, 32),
    ]
    res = [r for r in rows if r["name"].startswith("res.")]
    assert len(res) == 12 and all(r["kernel"] == (3, 3) and r["in"] == r["out"] == 32 for r in res)
    expand = rows[-3:]
    assert [(r["in"], r["out"], r["upsample"]) for r in expand] == [(32, 8, True), (8, 4, True), (4, 3, False)]
    assert expand[-1]["kernel"] == (9, 9)
    assert all("reflect" in r["pad"] for r in rows) and not any(r["bias"] for r in rows)
    assert [r["pad"].split()[0] for r in rows] == [str(r["kernel"][0] // 2) for r in rows]


def test_strict_load_and_shapes(net):
    assert net.n_styles == 26
    assert net.contract[0].norm.gamma.shape == (26, 32) and net.expand[2].norm.beta.shape == (26, 3)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    x = torch.rand(2, 3, 24, 32)
    y = net(x, ms.style_vector(5))
    assert y.shape == (2, 3, 24, 32) and 0 <= float(y.min()) and float(y.max()) <= 1
    # strict: a state dict with a missing tensor is refused
    state = net.state_dict()
    state.pop("res.3.1.w")
    with pytest.raises(RuntimeError, match="Missing key"):
        ms.MultiStyleNet().load_state_dict(state, strict=True)


@pytest.mark.parametrize("spec", [0, 19, {3: 0.5, 12: 0.5}])
def test_matches_the_onnx_reference(net, spec):
    """The PyTorch rebuild computes what the ONNX graph computes (onnx.reference, no onnxruntime)."""
    torch.manual_seed(1)
    x = torch.rand(1, 3, 16, 20)
    w = ms.style_vector(spec)
    ref = ms.reference_output(x, w)
    out = net(x, w).numpy()
    assert ref.shape == out.shape == (1, 3, 16, 20)
    assert np.abs(ref - out).max() < 1e-4
    # ... and a different style gives a clearly different image (the check is not vacuous)
    other = net(x, ms.style_vector(7 if spec != 7 else 8)).numpy()
    assert np.abs(ref - other).max() > 0.05


def test_conditional_instance_norm_is_instance_norm_with_mixed_parameters():
    torch.manual_seed(0)
    cin = ms.ConditionalInstanceNorm(4, n_styles=3)
    with torch.no_grad():
        cin.gamma.copy_(torch.rand(3, 4) + 0.5)
        cin.beta.copy_(torch.randn(3, 4))
    x = torch.randn(2, 4, 5, 6) * 3 + 1
    w = torch.tensor([0.2, 0.0, 0.8])
    expected = instance_norm(x, 0.2 * cin.gamma[0] + 0.8 * cin.gamma[2], 0.2 * cin.beta[0] + 0.8 * cin.beta[2])
    assert torch.allclose(cin(x, w), expected, atol=1e-5)
    # one-hot weights select one style's (gamma, beta): per channel mean beta and std gamma
    y = cin(x, torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(y.mean((2, 3)), cin.beta[1].expand(2, 4), atol=1e-4)
    assert torch.allclose(y.std((2, 3), unbiased=False), cin.gamma[1].expand(2, 4), atol=1e-3)


def test_mixing_interpolates_the_normalization_parameters(net):
    w = ms.mix(3, 12, 0.25)
    assert torch.allclose(w.sum(), torch.tensor(1.0)) and w[3] == 0.75 and w[12] == 0.25
    gamma = net.res[0][0].norm.gamma
    assert torch.allclose(w @ gamma, 0.75 * gamma[3] + 0.25 * gamma[12])
    x = torch.rand(1, 3, 32, 32)
    a, b, half = (net(x, ms.mix(3, 12, t)) for t in (0.0, 1.0, 0.5))
    assert torch.allclose(a, net(x, ms.style_vector(3)), atol=1e-6)
    assert torch.allclose(b, net(x, ms.style_vector(12)), atol=1e-6)
    assert (half - a).abs().mean() > 0.01 and (half - b).abs().mean() > 0.01


def test_style_vector_specs():
    assert torch.equal(ms.style_vector(4), torch.eye(26)[4])
    v = ms.style_vector({1: 1.0, 2: 3.0})
    assert torch.allclose(v[[1, 2]], torch.tensor([0.25, 0.75])) and float(v.sum()) == pytest.approx(1.0)
    assert torch.allclose(ms.style_vector([2.0] * 26), torch.full((26,), 1 / 26))


@pytest.mark.parametrize(
    "spec, match",
    [
        (26, "index must be"),
        (-1, "index must be"),
        ({30: 1.0}, "index must be"),
        ("starry_night", "no names"),
        ([1.0] * 25, "vector of 26"),
        ([0.0] * 26, "not all zero"),
        (True, "a style is"),
    ],
)
def test_bad_style_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        ms.style_vector(spec)


def test_bad_inputs(net):
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.rand(1, 3, 30, 32), ms.style_vector(0))
    with pytest.raises(ValueError, match="vector of 26"):
        net(torch.rand(1, 3, 32, 32), torch.ones(25) / 25)
    with pytest.raises(ValueError, match="vector of 26"):
        net(torch.rand(1, 3, 32, 32), torch.ones(1, 26) / 26)
    with pytest.raises(ValueError, match="RGB batch"):
        net(torch.rand(3, 32, 32), ms.style_vector(0))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ms.mix(0, 1, 1.5)


def test_checksum_and_missing_file_errors(tmp_path):
    bad = tmp_path / "multistyle26.onnx"
    shutil.copy(ms.onnx_path(), bad)
    with open(bad, "ab") as f:
        f.write(b"\0")
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        ms.load_multistyle(path=bad)
    with pytest.raises(WeightsError, match="not found"):
        ms.load_multistyle(path=tmp_path / "nothing.onnx")
    assert ms.onnx_path().stat().st_size == ms.ONNX_SIZE


def test_stylize_keeps_the_size(net):
    from PIL import Image

    img = Image.fromarray((np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8))
    out = net.stylize(img, style=2, size=64)
    assert out.shape == (44, 64, 3) and out.dtype == np.float32
