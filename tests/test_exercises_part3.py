"""The algorithm-level exercises of notebooks 12-14 (``lecture_utils.exercises.part3``).

For each exercise: the notebook's solution equals the package's version of the method (``optimize.render``,
``semantic_dictionary``, ``full_gradient``, ``dream.deepdream``) on the exercise's real inputs and models, a typical
student mistake is rejected by ``homework.check``, and the student version's stub reports "not implemented".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import torch

from lecture_utils import dream, homework, optimize
from lecture_utils.dictionary import semantic_dictionary
from lecture_utils.exercises import part3 as p3
from lecture_utils.exercises.base import zoo
from lecture_utils.fullgrad import full_gradient
from tools import homework_build as hb

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISES = {e.name: e for e in p3.EXERCISES}


@functools.cache
def _cell(name: str) -> str:
    """The source of exercise ``name``'s solution cell in its notebook."""
    nb = nbformat.read(NOTEBOOKS / f"{EXERCISES[name].notebook}.ipynb", as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == name)


def _solution(name: str, source: str | None = None) -> Callable:
    return hb.solution_function(_cell(name) if source is None else source, EXERCISES[name].function)


def _cases(name: str) -> list[dict]:
    """The fixed inputs of every test case of exercise ``name``, as the check draws them."""
    g = torch.Generator().manual_seed(EXERCISES[name].seed)
    return [EXERCISES[name].make_inputs(g) for _ in range(EXERCISES[name].cases)]


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four exercises' expected values from the notebooks' solutions, in a temporary file (not data/homework)."""
    notebooks = sorted({NOTEBOOKS / f"{e.notebook}.ipynb" for e in p3.EXERCISES})
    path = tmp_path_factory.mktemp("part3") / "expected.pt"
    torch.save(hb.compute_expected(notebooks, list(EXERCISES)), path)
    return path


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def _same(name: str, package: Callable, rtol: float) -> None:
    """The notebook's solution and the package's version, run through the exercise's own call on every test
    case, agree: each output within ``rtol`` relative L2 error."""
    ex, solution = EXERCISES[name], _solution(name)
    for inputs in _cases(name):
        ours, ref = ex.call(solution, inputs), ex.call(package, inputs)
        ours, ref = (ours, ref) if isinstance(ours, tuple) else ((ours,), (ref,))
        for i, (a, b) in enumerate(zip(ours, ref)):
            assert _rel(a, b) < rtol, (name, i, _rel(a, b))


def _rejected(name: str, wrong: Callable, expected: Path) -> None:
    result = homework.check(name, wrong, expected_path=expected, verbose=False)
    assert result.status == "failed", result.message


# ----------------------------------------------------------------------------- the cases
def test_cases_run_on_real_photos_and_vary():
    for name in ("dictionary_entry", "full_gradient", "deepdream_with_octaves"):
        key = "image" if name == "deepdream_with_octaves" else "x"
        rgb = [zoo("efficientnet_lite0").normalize.inverse(d[key].float()) for d in _cases(name)]
        assert all(x.std() > 0.1 and x.min() >= -1e-6 and x.max() <= 1 + 1e-6 for x in rgb)  # photos, not noise
        assert len({float(x.sum()) for x in rgb}) > 1, name  # not the same photo in every case
    assert {int(d["block"]) for d in _cases("dictionary_entry")} == {4, 5}
    for d in _cases("dictionary_entry"):  # the position lies on the layer's map
        h, w = semantic_dictionary(zoo("efficientnet_lite0"), d["x"], f"blocks.{int(d['block'])}").shape
        assert 0 <= int(d["row"]) < h and 0 <= int(d["col"]) < w


# ----------------------------------------------------------------------------- 12: feature visualization
def _package_visualization(model, layer, channel, spectrum, color, steps, lr, jitter, seed):
    """``optimize.render`` with an FFTImage of the same start and colour mix (float64 like the model)."""
    param = optimize.FFTImage(spectrum.shape[2]).double()
    with torch.no_grad():
        param.spectrum.copy_(spectrum)
        param.color.copy_(color)
    objective = optimize.channel(layer, channel)
    transforms = [optimize.jitter(jitter)]
    optimize.render(model, objective, param=param, transforms=transforms, steps=steps, lr=lr, seed=seed, progress=False)
    with torch.no_grad():
        return param()


def test_channel_visualization_equals_render():
    _same("channel_visualization", _package_visualization, rtol=1e-9)  # float64 round-off


def test_channel_visualization_rejects_a_missing_jitter(expected: Path):
    solution = _solution("channel_visualization")

    def no_roll(model, layer, channel, spectrum, color, steps, lr, jitter, seed):  # shifts of 0: no roll
        return solution(model, layer, channel, spectrum, color, steps, lr, 0, seed)

    _rejected("channel_visualization", no_roll, expected)


# ----------------------------------------------------------------------------- 13: dictionary entry, FullGrad
def _package_entry(net, x, layer, row, col, k):
    d = semantic_dictionary(net, x, layer)
    top = d.top(row, col, k)
    return torch.tensor([c for c, _ in top]), torch.tensor([v for _, v in top]), d.norms[row, col]


def test_dictionary_entry_equals_semantic_dictionary():
    ex, solution = EXERCISES["dictionary_entry"], _solution("dictionary_entry")
    for inputs in _cases("dictionary_entry"):
        (c, v, n), (c_ref, v_ref, n_ref) = ex.call(solution, inputs), ex.call(_package_entry, inputs)
        assert torch.equal(c, c_ref), (c, c_ref)
        assert _rel(v, v_ref) < 1e-6 and _rel(n, n_ref) < 1e-6


def test_dictionary_entry_rejects_the_spatial_mean(expected: Path):
    def spatial_mean(net, x, layer, row, col, k):  # the mistake: the mean over positions, not the vector at one
        vector = semantic_dictionary(net, x, layer).activations.mean(dim=(1, 2))
        values, channels = vector.topk(k)
        return channels, values, vector.norm()

    _rejected("dictionary_entry", spatial_mean, expected)


def _package_fullgrad(piece, x, channel, implicit: bool = True):
    fg = full_gradient(piece, x, channel)
    terms = {**fg.bias_terms, **(fg.implicit_terms if implicit else {})}
    total = sum(t.sum() for t in terms.values())
    return torch.tensor(fg.score, dtype=x.dtype), fg.input_term, total


def test_full_gradient_equals_the_package_and_is_complete():
    _same("full_gradient", _package_fullgrad, rtol=1e-9)
    ex, solution = EXERCISES["full_gradient"], _solution("full_gradient")
    for inputs in _cases("full_gradient"):
        score, input_term, bias_total = ex.call(solution, inputs)
        assert abs(float(score - input_term.sum() - bias_total)) < 1e-9 * (1 + abs(float(score)))  # completeness
        assert abs(float(bias_total)) > 0.1 * abs(float(score))  # the biases carry a real part of the score


def test_full_gradient_rejects_missing_implicit_biases(expected: Path):
    def without_relu6(piece, x, channel):  # the mistake: the saturated ReLU6 units' constant 6 left out
        return _package_fullgrad(piece, x, channel, implicit=False)

    _rejected("full_gradient", without_relu6, expected)


# ----------------------------------------------------------------------------- 14: DeepDream with octaves
def test_deepdream_by_hand_equals_the_package():
    """On the float32 model (the package's deepdream works in float32): the same operations, the same image."""
    model, solution = zoo("efficientnet_lite0"), _solution("deepdream_with_octaves")
    for d in _cases("deepdream_with_octaves"):
        image, layer, seed = d["image"].float(), f"blocks.{int(d['block'])}", int(d["seed"])
        ours = solution(model, image, layer, 2, 1.4, 2, 0.02, 6, seed)
        ref = dream.deepdream(model, image, layer, octaves=2, octave_scale=1.4, steps=2, lr=0.02, jitter=6, seed=seed)
        assert _rel(ours[0].permute(1, 2, 0), torch.from_numpy(ref)) < 1e-5


def test_deepdream_rejects_a_gradient_left_shifted(expected: Path):
    source = _cell("deepdream_with_octaves")
    unroll = "g = torch.roll(g, shifts=(-dy, -dx), dims=(2, 3))"
    assert source.count(unroll) == 1
    _rejected("deepdream_with_octaves", _solution("deepdream_with_octaves", source.replace(unroll, "pass")), expected)


# ----------------------------------------------------------------------------- stubs
@pytest.mark.parametrize("name", list(EXERCISES))
def test_stub_reports_not_implemented(name: str, expected: Path):
    stub = hb.stub_function(_cell(name), EXERCISES[name].function, hint=EXERCISES[name].hint)
    result = homework.check(name, stub, expected_path=expected, verbose=False)
    assert result.status == "not implemented", result.message
