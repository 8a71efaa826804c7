"""The algorithm-level exercises of notebooks 07-11 (lecture_utils.exercises.part2).

For each: the notebook's solution equals the package's method on a real zoo model and a real photo; a typical
student mistake is rejected by ``homework.check``; the student's stub reports "not implemented".
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from lecture_utils import homework
from lecture_utils.activations import crops_to_input, top_patches
from lecture_utils.attribution import saliency, smooth_saliency
from lecture_utils.datasets import crop_pool
from lecture_utils.exercises.base import zoo
from lecture_utils.exercises.part2 import CASCADE, InFloat64
from lecture_utils.features import layer_means
from lecture_utils.images import load_image
from lecture_utils.inversion import invert
from lecture_utils.neighbours import nearest_neighbours
from lecture_utils.occlusion import occlusion
from lecture_utils.sanity import cascading_randomization, rank_correlation
from tools import homework_build as hb

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {
    "inversion_loop": ROOT / "notebooks" / "07_inverting_representations.ipynb",
    "nearest_embedding": ROOT / "notebooks" / "08_feature_spaces.ipynb",
    "top_patches_pool": ROOT / "notebooks" / "09_activation_analysis.ipynb",
    "occlusion_loop": ROOT / "notebooks" / "10_occlusion.ipynb",
    "saliency_smoothgrad": ROOT / "notebooks" / "11_saliency_sanity_checks.ipynb",
    "randomization_check": ROOT / "notebooks" / "11_saliency_sanity_checks.ipynb",
}


def _cell(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == name]
    return cell.source


def _solution(name: str):
    return hb.solution_function(_cell(name), homework.EXERCISES[name].function)


def _mistake(name: str, wrong: str, right: str):
    """The solution with one line changed (``right`` -> ``wrong``), as a student might write it."""
    source = _cell(name)
    assert right in source, right
    return hb.solution_function(source.replace(right, wrong), homework.EXERCISES[name].function)


@pytest.fixture(scope="module")
def effnet():
    return zoo("efficientnet_lite0")


@pytest.fixture(scope="module")
def cat(effnet) -> tuple[torch.Tensor, int]:
    """Chelsea at 64 px for EfficientNet-Lite0, and the network's top-1 class."""
    x = effnet.preprocess(load_image("chelsea"), size=64)
    with torch.no_grad():
        return x, int(effnet.net(x)[0].argmax())


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("part2") / "expected.pt"
    torch.save(hb.compute_expected(sorted(set(NOTEBOOKS.values())), list(NOTEBOOKS)), path)
    return path


def _rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


# ----------------------------------------------------------------------------- (a) solution == the package
def test_inversion_solution_matches_invert():
    vgg = zoo("vgg19")
    x0 = vgg.preprocess(load_image("coffee"), size=40)
    ref = invert(vgg, x0, "relu2_1", steps=3, lr=0.1, lam_tv=0.5, seed=2)
    names = [n for n, _ in vgg.net.named_children()]
    phi = nn.Sequential(vgg.normalize, vgg.net[: names.index("relu2_1") + 1])
    with torch.no_grad():
        target = phi(vgg.normalize.inverse(x0).clamp(0, 1))
    start = 0.5 * torch.randn(1, 3, 40, 40, generator=torch.Generator().manual_seed(2))  # PixelImage(40, seed=2)
    mine = _solution("inversion_loop")(phi, target, start, 3, 0.1, 1e-3, 0.5)
    theirs = torch.from_numpy(ref.image).permute(2, 0, 1)[None]
    assert _rel_l2(mine, theirs) < 1e-4  # rel. L2 error < 1e-4 at 1 and 2 threads (float round-off)
    assert _rel_l2(torch.sigmoid(start), theirs) > 1e-2  # the 3 steps did move the image


@pytest.mark.parametrize("layer", ["global_pool", "blocks.5"])  # the CNN code, and a feature map to average
def test_nearest_solution_matches_nearest_neighbours(effnet, layer):
    crops, _ = crop_pool(size=40, per_image=1)
    x = torch.cat([effnet.preprocess(im, size=56) for im in crops])
    queries = [0, 5, 9]
    ref_idx, ref_dist = nearest_neighbours(layer_means(effnet, x, layer).numpy(), queries, k=4)
    idx, dist = _solution("nearest_embedding")(effnet.net, x, layer, torch.tensor(queries), 4)
    assert torch.equal(idx, torch.from_numpy(ref_idx)) and not (idx == torch.tensor(queries)[:, None]).any()
    assert _rel_l2(dist, torch.from_numpy(ref_dist)) < 1e-5  # float32 vs the package's float64 distances


@pytest.mark.parametrize("layer", ["relu2_2", "relu3_2"])
def test_top_patches_solution_matches_top_patches(layer):
    vgg = zoo("vgg19")
    crops, _ = crop_pool(size=40, per_image=2)
    for channel in (3, 17):
        ref = top_patches(vgg, crops, layer, channel, k=5, inside=False, distinct=False)
        idx, values, positions = _solution("top_patches_pool")(vgg.net, crops_to_input(vgg, crops), layer, channel, 5)
        assert torch.equal(idx, torch.from_numpy(ref.indices)) and torch.equal(
            positions, torch.from_numpy(ref.positions)
        )
        assert _rel_l2(values, torch.from_numpy(ref.values)) < 1e-6  # the same batches of 32: the same values


@pytest.mark.parametrize("fill", ["grey", "mean"])
def test_occlusion_solution_matches_occlusion(effnet, cat, fill):
    x, c = cat
    ref = occlusion(effnet, x, c, window=16, stride=12, fill=fill)
    colour = torch.zeros(3) if fill == "grey" else x.mean(dim=(0, 2, 3))  # EfficientNet maps grey 0.5 to 0
    mine = _solution("occlusion_loop")(effnet.net, x, c, 16, 12, colour)
    assert mine.shape == ref.shape == (5, 5)
    assert _rel_l2(mine, ref) < 1e-4  # the copies batched differently: float round-off of forward passes only


def test_saliency_solution_matches_saliency_and_smooth_saliency(effnet, cat):
    x, c = cat
    sal, smooth = _solution("saliency_smoothgrad")(effnet.net, x, c, 0.15, 4, 5)
    assert _rel_l2(sal, saliency(effnet, x, c)) < 1e-5
    # the same batch composition (4 copies in one pass) as the solution: equal up to round-off at any thread count
    ref = smooth_saliency(effnet, x, c, noise=0.15, n_samples=4, batch_size=4, seed=5)
    assert _rel_l2(smooth, ref) < 1e-5
    other_seed = smooth_saliency(effnet, x, c, noise=0.15, n_samples=4, batch_size=4, seed=6)
    assert _rel_l2(smooth, other_seed) > 0.1  # the seed matters: the check tells another noise apart


def test_randomization_solution_matches_cascading_randomization(effnet, cat):
    x, c = cat
    before = {k: v.clone() for k, v in effnet.net.state_dict().items()}
    mine = _solution("randomization_check")(effnet.net, x, c, list(CASCADE), 3)
    original = saliency(effnet, x, c)
    steps = [(name, [name]) for name in CASCADE]
    ref = [rank_correlation(original, saliency(rnd, x, c)) for _, rnd in cascading_randomization(effnet, steps, 3)]
    assert float((mine - torch.tensor(ref, dtype=torch.float64)).abs().max()) < 1e-4
    assert all(torch.equal(v, before[k]) for k, v in effnet.net.state_dict().items()), "the model must be unchanged"


def test_float64_wrapper_keeps_the_values_and_gives_input_gradients(effnet, cat):
    x, c = cat
    wrapped = InFloat64(effnet.net)
    with torch.no_grad():
        assert _rel_l2(wrapped(x), effnet.net(x)) < 1e-5
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(wrapped(xg)[0, c], xg)
    assert g.dtype == torch.float32
    assert _rel_l2(g.abs().amax(dim=1)[0], saliency(effnet, x, c)) < 1e-2  # float32 vs float64 round-off


# ----------------------------------------------------------------------------- (b) a typical mistake is rejected
MISTAKES = {
    # the query counted as its own nearest neighbour (at distance 0)
    "nearest_embedding": ("pass  #", 'dist[torch.arange(len(queries)), queries] = float("inf")  #'),
    # rows and columns of the strongest unit swapped
    "top_patches_pool": ("[where % a.shape[2], where // a.shape[2]]", "[where // a.shape[2], where % a.shape[2]]"),
    # the feature loss not divided by ||Phi0||^2: the feature term outweighs the regularizers
    "inversion_loop": ("(phi(x) - target).pow(2).sum()\n", "(phi(x) - target).pow(2).sum() / target.pow(2).sum()\n"),
    # the logit instead of the probability of the class
    "occlusion_loop": ("out[i] = net(batch)[:, target]", "out[i] = torch.softmax(net(batch), dim=1)[:, target]"),
    # |gradient| averaged over the noisy copies instead of the gradient (the signs no longer cancel)
    "saliency_smoothgrad": ("grads.abs().mean(dim=0).amax(dim=0)", "grads.mean(dim=0).abs().amax(dim=0)"),
    # Pearson's correlation of the raw values instead of Spearman's (of the ranks)
    "randomization_check": (".flatten().double()", ".flatten().argsort().argsort().double()"),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_check_passes_the_solution_and_rejects_a_mistake(name, expected):
    assert homework.check(name, _solution(name), expected_path=expected, verbose=False).passed
    wrong, right = MISTAKES[name]
    result = homework.check(name, _mistake(name, wrong, right), expected_path=expected, verbose=False)
    assert result.status == "failed", result.message
    print(result.message)


def test_randomizing_the_given_model_is_reported(expected, effnet):
    """A solution that re-initializes the model it was given instead of a copy fails with a message; the shared
    zoo model stays as it was (the check hands the function a copy)."""
    before = {k: v.clone() for k, v in effnet.net.state_dict().items()}
    wrong = _mistake("randomization_check", "model = net  #", "model = copy.deepcopy(net)  #")
    result = homework.check("randomization_check", wrong, expected_path=expected, verbose=False)
    assert result.status == "failed" and "copy.deepcopy(net)" in result.message, result.message
    assert all(torch.equal(v, before[k]) for k, v in effnet.net.state_dict().items())


# ----------------------------------------------------------------------------- (c) the stub
@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_stub_is_not_implemented(name, expected):
    hint = homework.EXERCISES[name].hint
    stub = hb.stub_function(_cell(name), homework.EXERCISES[name].function, hint=hint)
    result = homework.check(name, stub, expected_path=expected, verbose=False)
    assert result.status == "not implemented", result.message
    assert hint[:30] in result.message
