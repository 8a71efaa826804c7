"""Notebook 05's written-out interpretable layer (mask + filter loss) and its homework check, on the real
Fashion-MNIST CNN's feature maps."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

from lecture_utils import homework
from lecture_utils import interpretable as icnn
from lecture_utils.exercises import part1
from tools import homework_build as hb

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "05_interpretable_cnns.ipynb"
NAME = "interpretable_layer"


def _source() -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == NAME)


def _solution(replace: tuple[str, str] | None = None):
    src = _source()
    if replace is not None:
        assert replace[0] in src, f"the solution no longer contains {replace[0]!r}"
        src = src.replace(*replace)
    return hb.solution_function(src, hb.defined_function(src, NAME))


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("part1_05") / "expected.pt"
    torch.save(hb.compute_expected([NOTEBOOK], [NAME]), path)
    return path


def test_the_written_out_layer_is_the_packages_mask_and_filter_loss():
    ex = homework.EXERCISES[NAME]
    assert ex in part1.EXERCISES
    x = ex.make_inputs(torch.Generator().manual_seed(5))["x"]  # real feature maps (8, 16, 11, 11)
    assert x.shape == (8, 16, 11, 11) and x.min() >= 0 and x.amax(dim=(2, 3)).gt(0).float().mean() > 0.5
    for beta in (3.0, 4.0):
        masked, loss = _solution()(x, beta=beta)
        assert torch.allclose(masked, icnn.template_mask(x, beta=beta), rtol=1e-6, atol=1e-6)
        assert torch.allclose(loss, icnn.filter_loss(x, beta=beta, reduction="none"), rtol=1e-4, atol=1e-6)
        assert (loss <= 1e-6).all()  # -MI <= 0


def test_the_solution_passes_and_typical_mistakes_fail(expected, capsys):
    assert homework.check(NAME, _solution(), expected_path=expected)
    # the three-term sum without H(T): the loss of a batch would not be minus a mutual information
    no_prior = _solution(("return masked, h_t_given_x - h_t", "return masked, h_t_given_x"))
    assert not homework.check(NAME, no_prior, expected_path=expected)
    # p(x | T) not normalized over the batch of maps
    no_norm = _solution(("score - score.logsumexp(dim=1, keepdim=True)", "score"))
    assert not homework.check(NAME, no_norm, expected_path=expected)
    capsys.readouterr()


def test_the_stub_reports_not_implemented(expected):
    stub = hb.stub_function(_source(), hb.defined_function(_source(), NAME), hint=homework.EXERCISES[NAME].hint)
    result = homework.check(NAME, stub, expected_path=expected, verbose=False)
    assert result.status == "not implemented" and "templates" in result.message
