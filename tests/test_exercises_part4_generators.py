"""The algorithm-level exercises of notebooks 15, 19-21 (``lecture_utils.exercises.part4_generators``).

For each exercise: the notebook's solution equals the package's version of the method on the exercise's real inputs
(the shipped chairs generator, stylizers, super-resolution nets, the 26-style network, VGG19), a typical student
mistake is rejected by ``homework.check``, and the student version's stub reports "not implemented".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import torch

from lecture_utils import fastnet, homework, losses, multistyle, superres
from lecture_utils.exercises import part4_generators as p4
from tests.helpers import no_gradients_left_on_vgg  # noqa: F401 (an autouse fixture)
from tools import homework_build as hb

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISES = {e.name: e for e in p4.EXERCISES}


def _cell(name: str) -> str:
    ex = EXERCISES[name]
    nb = nbformat.read(NOTEBOOKS / f"{ex.notebook}.ipynb", as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == name)


def _solution(name: str) -> Callable:
    return hb.solution_function(_cell(name), EXERCISES[name].function)


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The expected values of the four exercises, computed by the notebooks' solutions (not data/homework)."""
    path = tmp_path_factory.mktemp("homework") / "expected.pt"
    notebooks = sorted({NOTEBOOKS / f"{e.notebook}.ipynb" for e in p4.EXERCISES})
    torch.save(hb.compute_expected(notebooks, list(EXERCISES)), path)
    return path


def _cases(name: str) -> list[dict]:
    ex = EXERCISES[name]
    g = torch.Generator().manual_seed(ex.seed)
    return [ex.make_inputs(g) for _ in range(ex.cases)]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def _same(name: str, package: Callable, rtol: float, out_rtol: float | None = None) -> None:
    """The notebook's solution and the package's version of the method, run through the exercise's own call on
    every test case, agree: each output within ``rtol`` (the last one within ``out_rtol``) relative L2 error."""
    ex, solution = EXERCISES[name], _solution(name)
    for inputs in _cases(name):
        ours, ref = ex.call(solution, inputs), ex.call(package, inputs)
        ours, ref = (ours, ref) if isinstance(ours, tuple) else ((ours,), (ref,))
        for i, (a, b) in enumerate(zip(ours, ref)):
            tol = out_rtol if out_rtol is not None and i == len(ref) - 1 else rtol
            assert _rel(a, b) < tol, (name, i, _rel(a, b))


def _rejected(name: str, wrong: Callable, expected: Path) -> None:
    result = homework.check(name, wrong, expected_path=expected, verbose=False)
    assert result.status == "failed", result.message


# ----------------------------------------------------------------------------- the cases
def test_cases_cover_both_variants():
    """Each check runs the method in both of its variants (upsampling kind, loss kind), on real photos."""
    assert {int(d["unpool"]) for d in _cases("upconv_block")} == {0, 1}
    assert {int(d["feature"]) for d in _cases("sr_training_step")} == {0, 1}
    for name in ("perceptual_training_step", "conditional_instance_norm"):
        x = _cases(name)[0]["x"]
        assert x.std() > 0.1 and 0 <= x.min() and x.max() <= 1  # a photo, not noise


# ----------------------------------------------------------------------------- 15: one up-convolution block
def test_upconv_block_equals_the_package():
    def package(x: torch.Tensor, block: torch.nn.Module) -> torch.Tensor:
        return block(x)

    _same("upconv_block", package, rtol=1e-5)


def test_upconv_block_rejects_nearest_for_unpool(expected: Path):
    solution = _solution("upconv_block")

    def always_nearest(x: torch.Tensor, block: torch.nn.Module) -> torch.Tensor:  # ignores block.upsample
        block.upsample = "nearest"
        return solution(x, block)

    _rejected("upconv_block", always_nearest, expected)


# ----------------------------------------------------------------------------- 19: one perceptual training step
def _package_stylizer_step(net, vgg, opt, x, style_image, style_weight, tv_weight, normalize: bool = True):
    loss_net = losses.PerceptualLoss(vgg, style_image)
    if not normalize:  # the mistake: VGG19 fed raw [0, 1] pixels
        loss_net.normalize = torch.nn.Identity()
        loss_net.set_style(style_image)
    y = net(x)
    terms = loss_net(y, x)
    tv = losses.total_variation(y)
    total = terms["content"] + style_weight * terms["style"] + tv_weight * tv
    opt.zero_grad()
    total.backward()
    opt.step()
    return torch.stack([terms["content"], terms["style"], tv, total]).detach()


def test_perceptual_training_step_equals_the_package():
    _same("perceptual_training_step", _package_stylizer_step, rtol=1e-5, out_rtol=1e-4)
    assert fastnet.CONTENT_LAYER == "relu2_2" and len(fastnet.STYLE_LAYERS) == 4  # what the solution hard-codes


def test_perceptual_training_step_rejects_unnormalized_vgg_input(expected: Path):
    def raw_pixels(*args):
        return _package_stylizer_step(*args, normalize=False)

    _rejected("perceptual_training_step", raw_pixels, expected)


# ----------------------------------------------------------------------------- 20: one super-resolution training step
def _package_sr_step(net, vgg, opt, lr_img, hr_img, loss, tv, relative: bool = True):
    sr = net(lr_img)
    if loss == "pixel":
        value = superres.pixel_loss(sr, hr_img)
    elif relative:
        value = superres.FeatureLoss(vgg)(sr, hr_img)
    else:  # the mistake: the mean squared feature error, not divided by the target's energy
        feat = superres.FeatureLoss(vgg)
        value = (feat.activations(sr)["relu2_2"] - feat.activations(hr_img)["relu2_2"]).pow(2).mean()
    opt.zero_grad()
    (value + tv * losses.total_variation(sr)).backward()
    opt.step()
    return value.detach()


def test_sr_training_step_equals_the_package():
    _same("sr_training_step", _package_sr_step, rtol=1e-5, out_rtol=1e-4)
    assert superres.FEATURE_LAYER == "relu2_2"


def test_sr_training_step_rejects_an_unnormalized_feature_loss(expected: Path):
    def mean_squared(*args):
        return _package_sr_step(*args, relative=False)

    _rejected("sr_training_step", mean_squared, expected)


# ----------------------------------------------------------------------------- 21: conditional instance normalization
def test_conditional_instance_norm_equals_the_package():
    def package(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        layer = multistyle.ConditionalInstanceNorm(gamma.shape[1], gamma.shape[0])
        layer.load_state_dict({"gamma": gamma, "beta": beta})
        with torch.no_grad():
            return layer(x, w)

    _same("conditional_instance_norm", package, rtol=1e-5)


def test_conditional_instance_norm_rejects_the_unbiased_variance(expected: Path):
    def unbiased(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        mean, var = x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True)  # torch.var: unbiased by default
        return (x - mean) / torch.sqrt(var + 1e-5) * (w @ gamma)[:, None, None] + (w @ beta)[:, None, None]

    _rejected("conditional_instance_norm", unbiased, expected)


# ----------------------------------------------------------------------------- the student version
@pytest.mark.parametrize("name", list(EXERCISES))
def test_stub_is_not_implemented(name: str, expected: Path):
    ex = EXERCISES[name]
    stub = hb.stub_function(_cell(name), ex.function, hint=ex.hint)
    assert homework.check(name, stub, expected_path=expected, verbose=False).status == "not implemented"
