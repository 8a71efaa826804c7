"""Notebooks 16-18: texture synthesis, the masked Gram loss of a doodle and style transfer, written out as exercises.

Three kinds of test per exercise (``lecture_utils.exercises.part4_style``): the solution cell of the notebook gives
what ``texture`` / ``doodle`` / ``style`` give on VGG19 and real images, ``homework.check`` rejects one plausible
wrong version of it, and the stub of the student notebook is reported as "not implemented".
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lecture_utils import doodle, homework, style, texture
from lecture_utils.exercises.base import zoo
from lecture_utils.images import load_image
from tests.helpers import no_gradients_left_on_vgg  # noqa: F401 (an autouse fixture)
from tools import homework_build as hb

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = [NB_DIR / f"{n}.ipynb" for n in ("16_texture_synthesis", "17_neural_doodle", "18_style_transfer")]
NAMES = ["synthesize_texture_by_hand", "masked_gram_losses_by_hand", "style_transfer_by_hand"]


def _source(name: str, replace: tuple[str, str] | None = None) -> str:
    """The solution cell of exercise ``name`` (found by its nbgrader id), with ``replace`` = (right, wrong) applied."""
    text = hb._exercise_sources(PATHS, [name])[name][1]
    if replace is not None:
        assert replace[0] in text, replace[0]
        text = text.replace(*replace)
    return text


def _solution(name: str, replace: tuple[str, str] | None = None):
    return hb.solution_function(_source(name, replace), name)


@pytest.fixture(scope="module")
def vgg():
    return zoo("vgg19")


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("part4_style") / "expected.pt"
    torch.save(hb.compute_expected(PATHS, NAMES), path)
    return path


def _rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


# ----------------------------------------------------------------------------- (a) solution == the package
def test_texture_solution_matches_texture_synthesize(vgg):
    fn = _solution("synthesize_texture_by_hand")
    source = vgg.preprocess(texture.load_texture("cat fur"), size=48)
    layers = list(style.STYLE_LAYERS)
    ref = texture.synthesize(vgg, source, layers, size=32, steps=3, lr=0.1, seed=3, sd=0.1)
    start = 0.1 * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))  # PixelImage's noise
    mine = fn(vgg, source, start, layers, 3, 0.1)
    theirs = torch.from_numpy(ref.image).permute(2, 0, 1)[None]
    assert _rel_l2(mine, theirs) < 1e-4  # rel. L2 error < 1e-4 at 1 and 2 threads (measured: < 1e-7)


def test_doodle_solution_matches_segment_losses(vgg):
    fn = _solution("masked_gram_losses_by_hand")
    monet = load_image("monet_cliff_walk_pourville")
    hw = (48, round(48 * monet.width / monet.height))
    painting = vgg.preprocess(monet, size=hw, crop=False)
    seg = doodle.color_segments(monet, k=3, size=hw)
    target = doodle.draw_doodle(hw, horizon=0.5, hill_x=0.7)
    image = vgg.preprocess(load_image("hokusai_great_wave"), size=hw)
    ref = doodle.segment_losses(vgg, image, painting, seg, target)
    with torch.no_grad():
        mine = fn(vgg, image, painting, doodle.label_masks(seg), doodle.label_masks(target), list(doodle.DOODLE_LAYERS))
    theirs = torch.tensor([ref[k] for k in sorted(ref)])
    assert float(((mine - theirs).abs() / theirs).max()) < 1e-4  # relative error per region


def test_style_transfer_solution_matches_style_transfer(vgg):
    fn = _solution("style_transfer_by_hand")
    content = vgg.preprocess(load_image("coffee"), size=(32, 48))
    painting = vgg.preprocess(load_image("munch_the_scream"), size=40)
    ref = style.style_transfer(vgg, content, painting, alpha=1.0, beta=10.0, steps=3, lr=0.1)
    mine = fn(vgg, content, painting, 1.0, 10.0, style.CONTENT_LAYER, list(style.STYLE_LAYERS), 3, 0.1)
    assert _rel_l2(mine, torch.from_numpy(ref.image).permute(2, 0, 1)[None]) < 1e-4  # rel. L2 error


# ----------------------------------------------------------------------------- (b) a typical mistake is rejected
MISTAKES = {
    # the Gram matrix summed over positions, not averaged: wrong when the texture and the result differ in size
    "synthesize_texture_by_hand": (
        "out[name] = f @ f.transpose(1, 2)  #",
        "out[name] = f @ f.transpose(1, 2) / f.shape[-1]  #",
    ),
    # the masked Gram matrix divided by the number of positions instead of the region's area
    "masked_gram_losses_by_hand": (
        "return (f * m) @ f.transpose(1, 2) / f.shape[-1]  #",
        "return (f * m) @ f.transpose(1, 2) / m.sum()  #",
    ),
    # the optimized pixels fed to VGG19 without its input normalization (the targets were computed with it)
    "style_transfer_by_hand": (
        "f = features(torch.sigmoid(logits))",
        "f = features(vgg.normalize(torch.sigmoid(logits)))",
    ),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_check_passes_the_solution_and_rejects_a_mistake(name, expected):
    assert homework.check(name, _solution(name), expected_path=expected, verbose=False).passed
    wrong, right = MISTAKES[name]
    result = homework.check(name, _solution(name, (right, wrong)), expected_path=expected, verbose=False)
    assert result.status == "failed", result.message
    print(result.message)


# ----------------------------------------------------------------------------- (c) the stub
@pytest.mark.parametrize("name", NAMES)
def test_stub_is_not_implemented(name, expected):
    hint = homework.EXERCISES[name].hint
    stub = hb.stub_function(_source(name), name, hint=hint)
    result = homework.check(name, stub, expected_path=expected, verbose=False)
    assert result.status == "not implemented", result.message
    assert hint[:30] in result.message


def test_notebook_solutions_leave_the_zoo_model_as_it_was(vgg):
    """The solutions take gradients of the pixels only: no .grad appears on VGG19's weights."""
    before = [p.grad for p in vgg.net.parameters()]
    fn = _solution("synthesize_texture_by_hand")
    fn(vgg, vgg.preprocess(texture.load_texture("brick"), size=32), torch.zeros(1, 3, 32, 32), ["relu1_1"], 1, 0.1)
    assert all(p.grad is b for p, b in zip(vgg.net.parameters(), before))
