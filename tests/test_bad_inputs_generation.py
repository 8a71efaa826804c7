"""Bad and unusual inputs to the input-optimization, generation and feature modules (issue 19).

Every case states the exception type and a phrase of its message (or, for valid inputs, the
correct handling), and every case -- also one that raises -- must leave the model as it was (no
hook, same flags, no ``.grad``) and the caller's global torch, NumPy and Python random states
exactly as they were (issue 18, item 5). Only tiny models: the whole file runs in seconds.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np
import pytest
import torch
from torch import nn

from lecture_utils import activations as A
from lecture_utils import chairs as CH
from lecture_utils import deconvnet as DC
from lecture_utils import dictionary as DI
from lecture_utils import dream as D
from lecture_utils import features as FE
from lecture_utils import interpretable as IC
from lecture_utils import inversion as INV
from lecture_utils import neighbours as NB
from lecture_utils import optimize as O
from lecture_utils import smallcnn as SC
from lecture_utils import upconv as UP
from lecture_utils.checks import random_state
from lecture_utils.hooks import model_state
from lecture_utils.models import Normalize, ZooModel

NAN, INF = float("nan"), float("inf")


def _tiny() -> nn.Sequential:
    """conv(3->4) + in-place ReLU6 + GAP + fc(4->5): a 5-class "classifier" on RGB in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential()
    net.add_module("conv", nn.Conv2d(3, 4, 3, padding=1))
    net.add_module("act", nn.ReLU6(inplace=True))
    net.add_module("pool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flat", nn.Flatten())
    net.add_module("fc", nn.Linear(4, 5))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return net.eval()


NET = _tiny()
ZOO = ZooModel(
    name="tiny",
    net=NET,
    normalize=Normalize([0.0] * 3, [1.0] * 3),
    input_size=16,
    classes=[f"class{i}" for i in range(5)],
    layers=["conv", "act", "pool", "flat", "fc"],
)
VGGISH = nn.Sequential()  # a plain conv/ReLU/max-pool Sequential, as the deconvnet needs
VGGISH.add_module("conv1", nn.Conv2d(3, 4, 3, padding=1))
VGGISH.add_module("relu1", nn.ReLU())
VGGISH.add_module("pool1", nn.MaxPool2d(2))
VGGISH.eval()
IMG = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
NAN_IMG = IMG.clone()
NAN_IMG[0, 1, 3, 4] = NAN
INF_IMG = IMG.clone()
INF_IMG[0, 0, 0, 0] = INF
CROPS = np.random.default_rng(0).integers(0, 256, (6, 12, 12, 3), dtype=np.uint8)
NAN_CROPS = CROPS.astype(np.float32) / 255
NAN_CROPS[2, 1, 1, 0] = NAN
MODELS = (NET, VGGISH)
torch.manual_seed(0)  # the modules below draw their initial weights from the global generator here, at import
SMALL = SC.SmallCNN(width=8, n_filters=2)
GEN = UP.ChairGenerator(
    n_styles=12, size=8, start=2, channels=(4, 4, 4), style_dim=4, view_dim=4, theta_dim=4, hidden=8
)
MAPS = torch.rand(2, 2, 3, 3)


def _render(**kw: Any) -> O.RenderResult:
    args = {"objective": O.channel("conv", 1), "size": 16, "steps": 2, "progress": False, **kw}
    return O.render(ZOO, **args)


def _nan_from_step(k: int) -> O.Objective:
    """An objective that is finite up to step k - 1 and NaN from step k on."""
    calls = []

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        calls.append(1)
        v = acts["conv"][:, 0].mean()
        return v * NAN if len(calls) >= k else v

    return O.Objective(fn, ["conv"], "nan later")


def _dict() -> DI.SemanticDictionary:
    return DI.semantic_dictionary(NET, IMG, "conv")


def _chairs() -> CH.ChairData:
    return CH.make_dataset(size=8, styles=[0], azimuths=[0.0, 90.0], elevations=[20.0])


BAD: list[tuple[str, Callable[[], Any], type, str]] = [
    # ---- render: the arguments of issue 19
    (
        "render lr str",
        lambda: _render(lr="0.1"),
        TypeError,
        r"lr must be a finite number > 0(\.0)?, got '0\.1' \(str\)",
    ),
    ("render lr 0", lambda: _render(lr=0.0), ValueError, "lr must be"),
    ("render lr nan", lambda: _render(lr=NAN), ValueError, "lr must be a finite number"),
    ("render lr inf", lambda: _render(lr=INF), ValueError, "finite"),
    ("render size 30000", lambda: _render(size=30000), ValueError, r"10\.8 GB for the image alone"),
    ("render size (16, 30000)", lambda: _render(size=(16, 30000)), ValueError, "GB"),
    ("render size 4", lambda: _render(size=4), ValueError, ">= 8"),
    ("render size 16.5", lambda: _render(size=16.5), TypeError, "size"),
    ("render size 3 sides", lambda: _render(size=(16, 16, 16)), ValueError, r"\(H, W\)"),
    ("render steps 0", lambda: _render(steps=0), ValueError, "steps must be an integer >= 1"),
    ("render steps True", lambda: _render(steps=True), TypeError, "steps"),
    ("render plain lambda", lambda: _render(objective=lambda a: a["output"][:, 0].mean()), TypeError, "wrap"),
    ("render objective str", lambda: _render(objective="channel"), TypeError, "must be an optimize.Objective"),
    ("render transforms [5]", lambda: _render(transforms=[5]), TypeError, r"transforms\[0\] is 5"),
    ("render transforms not list", lambda: _render(transforms=O.jitter(2)), TypeError, "list of functions"),
    ("render callbacks [None]", lambda: _render(callbacks=[None]), TypeError, r"callbacks\[0\]"),
    ("render snapshot 0", lambda: _render(snapshots=[0]), ValueError, "snapshot step"),
    ("render NaN objective", lambda: _render(objective=_nan_from_step(1)), ValueError, "nan at step 1 of 2"),
    ("render NaN at step 3", lambda: _render(objective=_nan_from_step(3), steps=4), ValueError, "at step 3 of 4"),
    ("render inf objective", lambda: _render(objective=O.channel("conv", 0) * 1e300 * 1e300), ValueError, "inf"),
    ("render float objective", lambda: _render(objective=O.Objective(lambda a: 1.0, [], "f")), TypeError, "scalar"),
    (
        "render vector objective",
        lambda: _render(objective=O.Objective(lambda a: a["input"], [], "v")),
        TypeError,
        "scalar",
    ),
    ("render param str", lambda: _render(param="pixel"), TypeError, "param must be"),
    ("render plain module", lambda: O.render(NET, O.channel("conv", 0), size=16, steps=1), TypeError, "ZooModel"),
    ("render seed -1", lambda: _render(seed=-1), ValueError, "seed"),
    ("render seed 1.5", lambda: _render(seed=1.5), TypeError, "seed"),
    ("render unknown layer", lambda: _render(objective=O.channel("nope", 0)), ValueError, "Unknown layer"),
    ("render NaN init", lambda: _render(param=O.PixelImage(16, init=NAN_IMG)), ValueError, "init has 1 non-finite"),
    # ---- objectives, parametrizations, transforms
    ("objective * str", lambda: O.channel("conv", 0) * "2", TypeError, "multiply by numbers only"),
    ("objective * nan", lambda: O.channel("conv", 0) * NAN, ValueError, "finite"),
    ("objective + lambda", lambda: O.channel("conv", 0) + (lambda a: 0), TypeError, "wrap"),
    ("Objective(5)", lambda: O.Objective(5, [], "x"), TypeError, "fn must be a function"),
    ("Objective layers int", lambda: O.Objective(lambda a: 0, [3], "x"), TypeError, "layer names"),
    ("jitter -1", lambda: O.jitter(-1), ValueError, "jitter"),
    ("random_scale []", lambda: O.random_scale([]), TypeError, "non-empty list"),
    ("random_scale 0", lambda: O.random_scale([0.0]), ValueError, r"scales\[0\]"),
    ("random_rotate nan", lambda: O.random_rotate([NAN]), ValueError, r"angles\[0\]"),
    ("pad 1.5", lambda: O.pad(1.5), TypeError, "padding"),
    ("gaussian_blur sigma 0", lambda: O.gaussian_blur(IMG, 0), ValueError, "sigma"),
    ("gaussian_blur sigma nan", lambda: O.gaussian_blur(IMG, NAN), ValueError, "sigma"),
    ("gaussian_blur 3-D", lambda: O.gaussian_blur(IMG[0], 1.0), ValueError, r"\(B, C, H, W\)"),
    ("blur_every 0", lambda: O.blur_every(0), ValueError, "k must be"),
    ("total_variation str", lambda: O.total_variation("big"), TypeError, "weight"),
    ("robust_transforms -1", lambda: O.robust_transforms(96, -1), ValueError, "strength"),
    ("FFTImage sd nan", lambda: O.FFTImage(16, sd=NAN), ValueError, "sd"),
    ("PixelImage batch 0", lambda: O.PixelImage(16, batch=0), ValueError, "batch"),
    ("channel_means NaN", lambda: O.channel_means(ZOO, NAN_IMG, "conv"), ValueError, "images has 1 non-finite"),
    ("channel_means batch 0", lambda: O.channel_means(ZOO, IMG, "conv", batch_size=0), ValueError, "batch_size"),
    # ---- DeepDream, class transfer
    ("deepdream NaN", lambda: D.deepdream(NET, NAN_IMG, "conv", octaves=1, steps=1), ValueError, "NaN"),
    ("deepdream inf", lambda: D.deepdream(NET, INF_IMG, "conv", octaves=1, steps=1), ValueError, "inf"),
    ("deepdream lr str", lambda: D.deepdream(NET, IMG, "conv", octaves=1, lr="0.1"), TypeError, "lr"),
    ("deepdream steps 1.5", lambda: D.deepdream(NET, IMG, "conv", octaves=1, steps=1.5), TypeError, "steps"),
    ("deepdream jitter -1", lambda: D.deepdream(NET, IMG, "conv", octaves=1, jitter=-1), ValueError, "jitter"),
    (
        "deepdream scale nan",
        lambda: D.deepdream(NET, IMG, "conv", octaves=2, octave_scale=NAN),
        ValueError,
        "octave_scale",
    ),
    ("deepdream seed str", lambda: D.deepdream(NET, IMG, "conv", octaves=1, steps=1, seed="a"), TypeError, "seed"),
    ("deepdream unknown", lambda: D.deepdream(NET, IMG, "convv", octaves=1), ValueError, "Unknown layer"),
    ("class_transfer param 5", lambda: D.class_transfer(ZOO, IMG, 1, steps=1, param=5), TypeError, "param"),
    ("class_transfer NaN", lambda: D.class_transfer(ZOO, NAN_IMG, 1, steps=1), ValueError, "non-finite"),
    ("class_transfer target", lambda: D.class_transfer(ZOO, IMG, 7, steps=1), ValueError, "out of range"),
    ("closeness NaN", lambda: D.closeness(NAN_IMG), ValueError, "reference has 1 non-finite"),
    ("closeness ndarray", lambda: D.closeness(np.zeros((1, 3, 4, 4))), TypeError, "tensor"),
    ("dream_score NaN", lambda: D.dream_score(NET, np.full((8, 8, 3), NAN), "conv"), ValueError, "images has"),
    ("class_images size", lambda: D.class_images(ZOO, [1], size=4, steps=1), ValueError, "size"),
    # ---- inversion
    ("invert NaN", lambda: INV.invert(NET, NAN_IMG, "conv", steps=1), ValueError, "image has 1 non-finite"),
    ("invert lam_tv inf", lambda: INV.invert(NET, IMG, "conv", steps=1, lam_tv=INF), ValueError, "lam_tv"),
    ("invert lr str", lambda: INV.invert(NET, IMG, "conv", steps=1, lr="0.1"), TypeError, "lr"),
    ("invert steps 2.5", lambda: INV.invert(NET, IMG, "conv", steps=2.5), TypeError, "steps"),
    ("invert size 4", lambda: INV.invert(NET, IMG, "conv", steps=1, size=4), ValueError, "size"),
    ("representation NaN", lambda: INV.representation(NET, NAN_IMG, "conv"), ValueError, "non-finite"),
    ("tv_beta nan", lambda: INV.tv_beta(NAN), ValueError, "beta"),
    ("alpha_norm weight -1", lambda: INV.alpha_norm(6, -1.0), ValueError, "lam_alpha"),
    ("HOG cell 0", lambda: INV.HOG(cell=0), ValueError, "cell"),
    # ---- activations, deconvnet
    ("feature_maps NaN", lambda: A.feature_maps(NET, NAN_IMG, "conv"), ValueError, "non-finite"),
    ("zero_fraction inf", lambda: A.zero_fraction(NET, INF_IMG, ["act"]), ValueError, "inf"),
    ("top_patches k 1.5", lambda: A.top_patches(NET, CROPS, "conv", 0, k=1.5), TypeError, "k must be an integer"),
    ("top_patches NaN crops", lambda: A.top_patches(NET, NAN_CROPS, "conv", 0, k=2), ValueError, "NaN or inf"),
    ("PoolCache batch True", lambda: A.PoolCache(NET, CROPS, batch_size=True), TypeError, "batch_size"),
    ("channel_maxima NaN", lambda: DC.channel_maxima(VGGISH, NAN_IMG, ["relu1"]), ValueError, "non-finite"),
    ("channel_maxima str", lambda: DC.channel_maxima(VGGISH, IMG, "relu1"), ValueError, "non-empty list"),
    ("deconvnet channel 1.5", lambda: DC.deconvnet_projection(VGGISH, IMG, "relu1", 1.5), TypeError, "channel"),
    # ---- features, neighbours, dictionary
    ("module_embed NaN", lambda: NB.module_embed(NET, NAN_IMG, "conv"), ValueError, "inputs has 1 non-finite"),
    ("module_embed batch 1.5", lambda: NB.module_embed(NET, IMG, "conv", batch_size=1.5), TypeError, "batch_size"),
    ("layer_means empty", lambda: FE.layer_means(NET, IMG[:0], "conv"), ValueError, "no inputs"),
    ("nearest k True", lambda: NB.nearest_neighbours(np.eye(4), [0], k=True), TypeError, "k must be"),
    ("embed_2d perplexity nan", lambda: NB.embed_2d(np.eye(5), perplexity=NAN), ValueError, "perplexity"),
    ("semantic_dictionary NaN", lambda: DI.semantic_dictionary(NET, NAN_IMG, "conv"), ValueError, "non-finite"),
    ("IconCache lr str", lambda: DI.IconCache(ZOO, lr="x"), TypeError, "lr"),
    ("strength floor nan", lambda: _dict().strength(floor=NAN), ValueError, "floor"),
    # ---- small CNN, chairs, generator, interpretable layer
    (
        "smallcnn lr str",
        lambda: SC.train(SMALL, np.zeros((4, 28, 28), np.uint8), np.zeros(4), lr="0.1"),
        TypeError,
        "lr",
    ),
    (
        "smallcnn epochs -1",
        lambda: SC.train(SMALL, np.zeros((4, 28, 28), np.uint8), np.zeros(4), epochs=-1),
        ValueError,
        "epochs",
    ),
    ("smallcnn NaN images", lambda: SC.to_tensor(np.full((2, 28, 28), NAN, np.float32)), ValueError, "images has"),
    (
        "generate theta NaN",
        lambda: UP.generate(GEN, 0, theta=[NAN, 0, 0, 0, 0]),
        ValueError,
        "theta has 1 non-finite",
    ),
    (
        "train_generator theta_prob",
        lambda: UP.train_generator(_chairs(), steps=1, theta_prob=2.0),
        ValueError,
        "theta_prob",
    ),
    ("render_chair extent nan", lambda: CH.render_chair(0, size=8, extent=NAN), ValueError, "extent"),
    ("render_chair azimuth str", lambda: CH.render_chair(0, azimuth="front", size=8), TypeError, "azimuth"),
    ("holdout keep 1.5", lambda: CH.holdout_mask(_chairs(), [0], keep_every=1.5), TypeError, "keep_every"),
    ("templates beta nan", lambda: IC.positive_templates(3, beta=NAN), ValueError, "beta"),
    ("paste seed -1", lambda: IC.paste_on_canvas(np.zeros((2, 4, 4), np.uint8), canvas=8, seed=-1), ValueError, "seed"),
    ("filter_loss reduction", lambda: IC.filter_loss(MAPS, reduction="max"), ValueError, "reduction"),
]


def _grads(models: tuple[nn.Module, ...]) -> list[bool]:
    return [p.grad is not None for m in models for p in m.parameters()]


def _hygienic(call: Callable[[], Any]) -> Any:
    """Run ``call`` (which may raise) and check: models unchanged, no gradients, random state as found."""
    states = [model_state(m) for m in MODELS]
    rng = random_state()
    try:
        return call()
    finally:
        assert [model_state(m) for m in MODELS] == states, "a model's hooks or flags changed"
        assert not any(_grads(MODELS)), "a .grad was left on a model"
        assert random_state() == rng, "the global torch / NumPy / Python random state changed"


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_raises_a_clear_error_and_leaves_everything_as_it_was(call, exc, match):
    with pytest.raises(exc, match=match):
        _hygienic(call)


# ----------------------------------------------------------------------------- valid calls: correct handling


def _pair(call: Callable[[int], Any], key: Callable[[Any], Any]) -> None:
    """Two calls with the same seed give the same result, another seed another one; all hygienic."""
    a, b, c = (key(_hygienic(lambda s=s: call(s))) for s in (3, 3, 4))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


GOOD: list[tuple[str, Callable[[int], Any], Callable[[Any], Any]]] = [
    (
        "render",
        lambda s: _render(transforms=O.robust_transforms(16), seed=s),
        lambda r: r.image,
    ),
    ("deepdream", lambda s: D.deepdream(NET, IMG, "conv", octaves=1, steps=2, jitter=2, seed=s), lambda r: r),
    ("class_transfer", lambda s: D.class_transfer(ZOO, IMG, 1, steps=2, param="pixel", seed=s), lambda r: r.image),
    ("class_images", lambda s: D.class_images(ZOO, [1, 2], size=16, steps=2, seed=s), lambda r: r.batch),
    ("invert", lambda s: INV.invert(NET, IMG, "conv", steps=2, seed=s), lambda r: r.image),
    ("IconCache", lambda s: DI.IconCache(ZOO, size=8, steps=2, seed=s).get("conv", [1]), lambda r: r[0]),
    (
        "smallcnn.train",
        lambda s: SC.train(
            copy.deepcopy(SMALL),  # the same start each time
            np.arange(8 * 28 * 28).reshape(8, 28, 28) % 256,
            np.arange(8) % 10,
            epochs=1,
            batch_size=4,
            seed=s,
            progress=False,
        ),  # fmt: skip
        lambda r: np.asarray(r),
    ),
    (
        "train_generator",
        lambda s: UP.train_generator(
            _chairs(),
            config=dict(channels=(4, 4, 4), style_dim=4, view_dim=4, theta_dim=4, hidden=8),
            steps=2,
            batch_size=2,
            seed=s,
            device="cpu",
            progress=False,
        )[1],  # fmt: skip
        lambda r: np.asarray(r),
    ),
    ("paste_on_canvas", lambda s: IC.paste_on_canvas(np.ones((3, 4, 4), np.uint8), canvas=12, seed=s), lambda r: r[1]),
    ("FFTImage", lambda s: O.FFTImage(16, seed=s)(), lambda r: r.detach().numpy()),
]


@pytest.mark.parametrize("call, key", [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_random_functions_are_seeded_and_leave_the_global_random_state(call, key):
    torch.manual_seed(123)  # a caller's own seed: must survive the call
    _pair(call, key)
    assert torch.initial_seed() == 123


def test_render_nan_error_names_the_step_and_keeps_the_caller_generators():
    torch.manual_seed(7)
    np.random.seed(7)
    expected_torch, expected_np = torch.rand(3), np.random.rand(3)
    torch.manual_seed(7)
    np.random.seed(7)
    with pytest.raises(ValueError, match="step 2 of 5"):
        _render(objective=_nan_from_step(2), steps=5, transforms=[O.jitter(2)])
    assert torch.equal(torch.rand(3), expected_torch) and np.array_equal(np.random.rand(3), expected_np)


def test_large_but_allowed_size_is_only_checked_not_refused():
    assert O.MAX_RENDER_SIDE == 4096
    with pytest.raises(ValueError, match=r"4097x4097 image: 0\.2 GB"):
        _render(size=4097)
    assert math.isclose(3 * 4 * 30000**2 / 1e9, 10.8)  # the figure for size=30000
