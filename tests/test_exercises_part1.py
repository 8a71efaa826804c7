"""The written-out algorithms of part I (notebooks 02, 03, 04, 06) and their homework checks.

For each exercise of :mod:`lecture_utils.exercises.part1`: the notebook's solution equals the package's method on
a real zoo model and photo; a typical student mistake (the notebook's solution with one line changed) is rejected
by ``homework.check``; the student version's stub reports "not implemented".
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

from lecture_utils import homework
from lecture_utils.backprop import guided_backprop
from lecture_utils.cam import cam, grad_cam
from lecture_utils.deconvnet import deconvnet_projection
from lecture_utils.exercises import part1
from lecture_utils.exercises.base import zoo
from lecture_utils.images import load_image
from tools import homework_build as hb

ROOT = Path(__file__).resolve().parent.parent
NAMES = [e.name for e in part1.EXERCISES if e.notebook != "05_interpretable_cnns"]  # 05: test_exercise_interpretable.py
NOTEBOOKS = {e.name: ROOT / "notebooks" / f"{e.notebook}.ipynb" for e in part1.EXERCISES if e.name in NAMES}


def _source(name: str) -> str:
    """The solution cell of exercise ``name`` in its notebook."""
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == name)


def _solution(name: str, replace: tuple[str, str] | None = None):
    """The notebook's solution of ``name``, optionally with one piece of its code replaced (a student's mistake)."""
    src = _source(name)
    if replace is not None:
        assert replace[0] in src, f"the solution of {name} no longer contains {replace[0]!r}"
        src = src.replace(replace[0], replace[1])
    return hb.solution_function(src, hb.defined_function(src, name))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> Path:
    """The expected values of the four exercises, computed from the notebooks' solutions."""
    path = tmp_path_factory.mktemp("part1") / "expected.pt"
    torch.save(hb.compute_expected(sorted(set(NOTEBOOKS.values())), NAMES), path)
    return path


def test_the_exercises_are_the_four_written_out_methods():
    assert NAMES == ["deconvnet_by_hand", "cam_by_hand", "guided_backprop_by_hand", "grad_cam_by_hand"]
    for name in NAMES:
        assert name in homework.EXERCISES and f"def {name}(" in _source(name)


# ----------------------------------------------------------------------------- (a) the solution is the package's method
def test_deconvnet_by_hand_is_the_packages_projection():
    vgg = zoo("vgg19")
    x = vgg.preprocess(load_image("chelsea"), size=64)
    for layer, channel in (("pool2", 47), ("relu3_4", 5)):
        ref = deconvnet_projection(vgg, x, layer, channel)
        assert ref.abs().max() > 0, "a silent unit would test nothing"
        assert _rel(_solution("deconvnet_by_hand")(vgg.net, x, layer, channel), ref) < 1e-5, layer


def test_cam_guided_backprop_and_grad_cam_by_hand_are_the_packages():
    eff = zoo("efficientnet_lite0")
    x = eff.preprocess(load_image("chelsea"), size=96)
    tabby = eff.classes.index("tabby")
    assert _rel(_solution("cam_by_hand")(eff.net, x, tabby), cam(eff, x, tabby)) < 1e-5
    guided = _solution("guided_backprop_by_hand")(eff.net, x, tabby)
    assert _rel(guided, guided_backprop(eff, x, tabby)) < 1e-5
    assert all("forward" not in vars(m) for m in eff.net.modules()), "the ReLU modules were not restored"
    for layer in ("blocks.4", "bn2"):
        ref = grad_cam(eff, x, tabby, layer=layer)
        assert ref.max() > 0 and _rel(_solution("grad_cam_by_hand")(eff.net, x, tabby, layer), ref) < 1e-5, layer
    assert all(not m._forward_hooks for m in eff.net.modules()), "a hook was left behind"


# ----------------------------------------------------------------------------- (b) typical mistakes are rejected
MISTAKES = {
    "deconvnet_by_hand": ("signal = signal.relu()", "signal = signal"),  # the signal is not rectified
    "cam_by_hand": ("return (w[:, None, None] * f).sum(dim=0)", "return (w[:, None, None] * f).sum(dim=0).relu()"),
    "guided_backprop_by_hand": ("(x > 0) & (x < ctx.upper) & (grad > 0)", "(x > 0) & (grad > 0)"),  # ReLU6's clip
    "grad_cam_by_hand": ("grads[0].mean(dim=(1, 2))", "grads[0].sum(dim=(1, 2))"),  # sum instead of the average
}


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_passes_and_a_typical_mistake_fails(name, expected, capsys):
    assert homework.check(name, _solution(name), expected_path=expected).passed
    wrong = homework.check(name, _solution(name, MISTAKES[name]), expected_path=expected)
    assert wrong.status == "failed" and "FAILED on test case" in wrong.message, wrong.message
    capsys.readouterr()


def test_guided_backprop_without_the_backward_mask_is_plain_backprop_and_fails(expected):
    plain = _solution("guided_backprop_by_hand", ("& (grad > 0)", ""))
    assert not homework.check("guided_backprop_by_hand", plain, expected_path=expected, verbose=False)


# ----------------------------------------------------------------------------- (c) the student version's stub
@pytest.mark.parametrize("name", NAMES)
def test_the_stub_reports_not_implemented(name, expected):
    stub = hb.stub_function(_source(name), name, hint=homework.EXERCISES[name].hint)
    result = homework.check(name, stub, expected_path=expected, verbose=False)
    assert result.status == "not implemented" and homework.EXERCISES[name].hint in result.message
