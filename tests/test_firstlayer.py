"""lecture_utils.firstlayer: the 11x11 student's shapes and argument checks, dead-unit and
near-duplicate measurements on hand-made cases, and the shipped weight files of notebook 01."""

from __future__ import annotations

import pytest
import torch

from lecture_utils import firstlayer
from lecture_utils.models import WeightsError


def test_stem_student_shapes():
    net = firstlayer.StemStudent(n_filters=8, width=4, n_out=3)
    assert net.conv1.weight.shape == (8, 3, 11, 11) and net.conv1.stride == (4, 4)
    assert net(torch.rand(2, 3, 32, 40)).shape == (2, 3, 8, 10)  # exactly H/4 x W/4


@pytest.mark.parametrize("kw", [{"n_filters": 0}, {"width": -1}, {"n_out": 2.5}, {"n_filters": True}])
def test_stem_student_bad_config(kw):
    with pytest.raises(ValueError):
        firstlayer.StemStudent(**kw)


@pytest.mark.parametrize("x", [torch.rand(3, 32, 32), torch.rand(1, 1, 32, 32), torch.rand(1, 3, 8, 32)])
def test_stem_student_bad_input(x):
    with pytest.raises(ValueError):
        firstlayer.StemStudent(n_filters=2, width=2, n_out=1)(x)


def test_active_fraction():
    pre = torch.zeros(2, 3, 2, 2)
    pre[0, 1, 0, 0] = 1.0  # unit 1 active at 1 of 8 positions
    pre[:, 2] = 0.5  # unit 2 always active; unit 0 never (0 is not > 0)
    assert firstlayer.active_fraction(pre).tolist() == [0.0, 0.125, 1.0]
    for bad in (torch.zeros(3, 2, 2), torch.zeros(0, 3, 2, 2), [[1.0]]):
        with pytest.raises(ValueError):
            firstlayer.active_fraction(bad)


def test_filter_cosines_and_near_duplicates():
    a = torch.tensor([[1.0, -1.0], [0.0, 0.0]])
    w = torch.stack([a, 2 * a + 5, -a, a.T, torch.ones(2, 2)])[:, None]  # (5, 1, 2, 2)
    c = firstlayer.filter_cosines(w)
    assert c.shape == (5, 5) and torch.all(c.diagonal() == 0)
    assert c[0, 1] == pytest.approx(1.0) and c[0, 2] == pytest.approx(-1.0)  # scale/offset: same; sign: inverted
    assert c[4].abs().max() == 0  # a constant filter has nothing left after centring
    pairs = firstlayer.near_duplicates(w, 0.9)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (0, 2), (1, 2)]
    assert pairs[1][2] == pytest.approx(-1.0)


@pytest.mark.parametrize("t", [0, -0.5, 1.5, True, "0.9"])
def test_near_duplicates_bad_threshold(t):
    with pytest.raises(ValueError):
        firstlayer.near_duplicates(torch.rand(3, 1, 2, 2), t)


def test_filter_cosines_needs_two_filters():
    with pytest.raises(ValueError):
        firstlayer.filter_cosines(torch.rand(1, 3, 3, 3))


def test_shipped_files_load():
    stem, blob = firstlayer.load_stem_student()
    assert stem.conv1.weight.shape == (64, 3, 11, 11)
    assert all(w.shape == (64, 3, 11, 11) for w in blob["snapshots"].values()) and 0 in blob["snapshots"]
    net, blob = firstlayer.load_fashion_plateau()
    assert net.conv1.weight.shape == (16, 1, 9, 9) and max(blob["accuracy"]) == blob["meta"]["epochs"]


def test_missing_file_is_explained(tmp_path, monkeypatch):
    monkeypatch.setattr(firstlayer, "stem_student_path", lambda: tmp_path / "gone.pt")
    with pytest.raises(WeightsError, match="gone.pt is missing.*train_first_layers"):
        firstlayer.load_stem_student()
