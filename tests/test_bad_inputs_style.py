"""Bad and unusual inputs to the style, texture, doodle, fast-stylization and super-resolution API
(lectures 16-21): each case asserts the exception type and a phrase of its message, or that the
input is handled correctly; every case also asserts that the zoo models and the caller's global
torch / NumPy / Python random generators are left exactly as they were (issues 18 and 19).

Tiny images (16 x 16) and 1-2 optimization steps keep the whole table well under a minute.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pytest
import torch

from lecture_utils import doodle, fastnet, losses, style, stylize, texture
from lecture_utils import multistyle as ms
from lecture_utils import superres as S
from lecture_utils.checks import random_state
from lecture_utils.hooks import model_state
from lecture_utils.images import load_image


@pytest.fixture(scope="module")
def ctx(vgg, effnet):
    torch.manual_seed(0)
    content = vgg.preprocess(load_image("chelsea"), size=16)
    painting = vgg.preprocess(load_image("vangogh_starry_night"), size=16)
    nan = content.clone()
    nan[0, 1, 3, 4] = float("nan")
    inf = content.clone()
    inf[0, 0, 0, 0] = float("inf")
    rgb = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    rgb_nan = rgb.clone()
    rgb_nan[0, 0, 5, 5] = float("nan")
    return SimpleNamespace(
        vgg=vgg,
        effnet=effnet,
        content=content,
        painting=painting,
        nan=nan,
        inf=inf,
        small=vgg.preprocess(load_image("chelsea"), size=8),
        rgb=rgb,
        rgb_nan=rgb_nan,
        tnet=fastnet.TransformNet(width=(2, 4, 4), n_res=1).eval(),
        srnet=S.SRNet(width=4, blocks=1).eval(),
    )


def st(c: Any, **kw: Any) -> style.StyleResult:
    """style_transfer on the tiny images, one step (keywords override)."""
    args = dict(content=c.content, style=c.painting, steps=1)
    args.update(kw)
    return style.style_transfer(c.vgg, args.pop("content"), args.pop("style"), **args)


def stb(c: Any, **kw: Any) -> stylize.BatchStyleResult:
    args = dict(content=c.content, style=c.painting, steps=1)
    args.update(kw)
    return stylize.style_transfer_batch(c.vgg, args.pop("content"), args.pop("style"), **args)


def train_st(c: Any, **kw: Any):
    args = dict(steps=1, size=16, batch=1, width=(2, 4, 4), n_res=1, photos=("chelsea",), vgg=c.vgg)
    args.update(kw)
    return fastnet.train_stylizer(args.pop("style", "vangogh_starry_night"), device="cpu", progress=False, **args)


def train_tex(c: Any, **kw: Any):
    args = dict(steps=1, size=16, batch=1, scales=2, channels=2, vgg=c.vgg)
    args.update(kw)
    return fastnet.train_texture_net("vangogh_starry_night", device="cpu", progress=False, **args)


def train_sr(c: Any, **kw: Any):
    hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    args = dict(steps=1, batch_size=1, crop=32, width=4, blocks=1, images=hr, device="cpu", log_every=1)
    args.update(kw)
    return S.train_sr(args.pop("loss", "pixel"), **args)


def finite_image(shape: tuple[int, ...]) -> Callable[[Any], None]:
    def check(out: Any) -> None:
        a = out.image if hasattr(out, "image") else out
        a = np.asarray(a.detach() if isinstance(a, torch.Tensor) else a)
        assert a.shape == shape and np.isfinite(a).all() and 0 <= a.min() and a.max() <= 1

    return check


def trained(kind: type) -> Callable[[Any], None]:
    def check(out: Any) -> None:
        net, hist = out
        assert isinstance(net, kind) and not net.training
        assert all(np.isfinite(v).all() for k, v in hist.items())

    return check


NAN_MSG = "non-finite value"
VGG_MSG = r"load_model\('vgg19'\)"

# (id, call, exception or None (handled correctly), phrase of the message, check of the result)
CASES: list[tuple[str, Callable, type | None, str | None, Callable | None]] = [
    # ------------------------------------------------------------------ style transfer: numbers
    ("tv_inf", lambda c: st(c, tv=float("inf")), ValueError, "tv must be a finite number", None),
    ("tv_nan", lambda c: st(c, tv=float("nan")), ValueError, "tv must be a finite number", None),
    ("tv_str", lambda c: st(c, tv="0.1"), TypeError, "tv must be", None),
    ("tv_negative", lambda c: st(c, tv=-1.0), ValueError, "tv must be .*>= 0", None),
    ("alpha_negative", lambda c: st(c, alpha=-1.0), ValueError, "alpha must be", None),
    ("alpha_bool", lambda c: st(c, alpha=True), TypeError, "alpha must be", None),
    ("beta_none", lambda c: st(c, beta=None), TypeError, "beta must be", None),
    ("beta_inf", lambda c: st(c, beta=float("inf")), ValueError, "beta must be a finite number", None),
    ("both_zero", lambda c: st(c, alpha=0.0, beta=0.0), ValueError, "both 0", None),
    ("steps_zero", lambda c: st(c, steps=0), ValueError, "steps must be an integer >= 1", None),
    ("steps_float", lambda c: st(c, steps=1.5), TypeError, "steps must be an integer", None),
    ("lr_zero", lambda c: st(c, lr=0.0), ValueError, "lr must be .*> 0", None),
    ("lr_str", lambda c: st(c, lr="0.1"), TypeError, "lr must be", None),
    ("seed_negative", lambda c: st(c, seed=-1), ValueError, "seed", None),
    ("snapshot_zero", lambda c: st(c, snapshots=[0]), ValueError, "snapshot step", None),
    ("init_unknown", lambda c: st(c, init="zeros"), ValueError, "init must be one of", None),
    ("init_none", lambda c: st(c, init=None), TypeError, "init must be one of", None),
    # ------------------------------------------------------------------ style transfer: layers and models
    ("content_layer_unknown", lambda c: st(c, content_layer="relu4_9"), ValueError, "relu4_9", None),
    ("content_layer_int", lambda c: st(c, content_layer=5), TypeError, "layer name must be a string", None),
    ("style_layers_unknown", lambda c: st(c, style_layers=["relu9_1"]), ValueError, "relu9_1", None),
    ("style_layers_empty", lambda c: st(c, style_layers=[]), ValueError, "at least one layer", None),
    ("style_layers_str", lambda c: st(c, style_layers="relu1_1"), TypeError, "not a string", None),
    ("style_layers_per_item", lambda c: st(c, style_layers=[["relu1_1"]]), TypeError, "style_transfer_batch", None),
    (
        "efficientnet",
        lambda c: style.style_transfer(c.effnet, c.content, c.painting, steps=1),
        ValueError,
        VGG_MSG,
        None,
    ),
    ("plain_module", lambda c: style.style_transfer(c.vgg.net, c.content, c.painting), TypeError, "ZooModel", None),
    # ------------------------------------------------------------------ style transfer: images
    ("content_nan", lambda c: st(c, content=c.nan), ValueError, NAN_MSG, None),
    ("content_inf", lambda c: st(c, content=c.inf), ValueError, NAN_MSG, None),
    ("style_nan", lambda c: st(c, style=c.nan), ValueError, NAN_MSG, None),
    (
        "content_numpy",
        lambda c: st(c, content=np.zeros((16, 16, 3))),
        TypeError,
        "content must be a preprocessed",
        None,
    ),
    ("content_3d", lambda c: st(c, content=c.content[0]), ValueError, r"content must have shape \(1, 3, H, W\)", None),
    ("content_uint8", lambda c: st(c, content=c.content.to(torch.uint8)), ValueError, "float", None),
    ("style_none", lambda c: st(c, style=None), TypeError, "style must be one preprocessed painting", None),
    ("content_8px", lambda c: st(c, content=c.small), ValueError, "at least 16 pixels", None),
    ("style_8px", lambda c: st(c, style=c.small), ValueError, r"style\[0\] is 8x8 pixels, too small", None),
    ("content_16px_relu5", lambda c: st(c), None, None, finite_image((16, 16, 3))),
    (
        "content_8px_shallow",
        lambda c: st(c, content=c.small, style=c.small, content_layer="relu2_2", style_layers=["relu1_1", "relu2_1"]),
        None,
        None,
        finite_image((8, 8, 3)),
    ),
    ("noise_init_tv", lambda c: st(c, init="noise", tv=0.5, steps=1), None, None, finite_image((16, 16, 3))),
    # ------------------------------------------------------------------ the batch
    ("batch_alpha_empty", lambda c: stb(c, alpha=[]), ValueError, "empty", None),
    ("batch_lengths", lambda c: stb(c, alpha=[1.0, 2.0], beta=[1.0, 2.0, 3.0]), ValueError, "one length", None),
    ("batch_beta_nan", lambda c: stb(c, beta=[1.0, float("nan")]), ValueError, r"beta\[1\]", None),
    ("batch_style_none", lambda c: stb(c, style=None), ValueError, "style is None", None),
    ("batch_style_nan", lambda c: stb(c, style=[c.painting, c.nan]), ValueError, r"style\[1\] has 1 non-finite", None),
    ("batch_style_layers_none", lambda c: stb(c, style_layers=None), TypeError, "style_layers must be a list", None),
    (
        "batch_two_items",
        lambda c: stb(c, alpha=[1.0, 0.5], beta=[1.0, 10.0]).images,
        None,
        None,
        lambda out: finite_image((2, 16, 16, 3))(out),
    ),
    # ------------------------------------------------------------------ texture, features, distances
    (
        "texture_8px",
        lambda c: style.synthesize_texture(c.vgg, c.painting, size=8, steps=1),
        ValueError,
        "too small",
        None,
    ),
    (
        "texture_steps",
        lambda c: style.synthesize_texture(c.vgg, c.painting, size=16, steps=0),
        ValueError,
        "steps",
        None,
    ),
    ("texture_effnet", lambda c: style.synthesize_texture(c.effnet, c.painting, steps=1), ValueError, VGG_MSG, None),
    (
        "texture_16px",
        lambda c: style.synthesize_texture(c.vgg, c.painting, size=16, steps=1),
        None,
        None,
        finite_image((16, 16, 3)),
    ),
    ("features_no_layers", lambda c: style.features(c.vgg, c.content, []), ValueError, "at least one layer", None),
    ("features_int_layer", lambda c: style.features(c.vgg, c.content, [1]), TypeError, "layer name", None),
    ("features_set", lambda c: style.features(c.vgg, c.content, {"relu1_1"}), TypeError, "list of names", None),
    ("distance_nan", lambda c: style.style_distance(c.vgg, c.nan, c.painting), ValueError, NAN_MSG, None),
    (
        "synthesize_statistic",
        lambda c: texture.synthesize(c.vgg, c.painting, statistic=3),
        TypeError,
        "statistic",
        None,
    ),
    ("synthesize_sd", lambda c: texture.synthesize(c.vgg, c.painting, sd=float("inf")), ValueError, "sd must be", None),
    ("tile_shuffle_float", lambda c: texture.tile_shuffle(np.zeros((8, 8, 3)), tiles=1.5), TypeError, "tiles", None),
    ("representation_16", lambda c: texture.representation_sizes(c.vgg, size=16), ValueError, "size must be", None),
    ("doodle_shore_str", lambda c: doodle.draw_doodle((20, 20), shore="low"), TypeError, "shore", None),
    (
        "doodle_noise",
        lambda c: doodle.color_init(np.zeros((8, 8), int), {0: (1, 0, 0)}, noise=-1),
        ValueError,
        "noise",
        None,
    ),
    # ------------------------------------------------------------------ the losses
    ("gram_2d", lambda c: losses.gram_matrix(torch.ones(2, 2)), ValueError, "features must be", None),
    ("gram_not_tensor", lambda c: losses.gram_matrix("x"), TypeError, "features must be", None),
    ("relative_shapes", lambda c: losses.relative_error(torch.ones(2, 3), torch.ones(1, 4)), ValueError, "agree", None),
    (
        "content_sizes",
        lambda c: losses.content_loss(torch.ones(1, 2, 3, 3), torch.ones(1, 2, 4, 4)),
        ValueError,
        "content image's size",
        None,
    ),
    ("style_loss_empty", lambda c: losses.style_loss({}, {}), ValueError, "at least one", None),
    ("tv_3d", lambda c: losses.total_variation(torch.ones(3, 4, 4)), ValueError, r"\(B, C, H, W\)", None),
    # ------------------------------------------------------------------ fast stylization
    ("stylize_nan", lambda c: fastnet.stylize(c.tnet, c.rgb_nan, None), ValueError, NAN_MSG, None),
    ("stylize_size_zero", lambda c: fastnet.stylize(c.tnet, c.rgb, 0), ValueError, "size must be", None),
    ("stylize_size_float", lambda c: fastnet.stylize(c.tnet, c.rgb, 2.5), TypeError, "size must be", None),
    ("stylize_not_net", lambda c: fastnet.stylize("munch", c.rgb), TypeError, "load_stylizer", None),
    ("stylize_ok", lambda c: fastnet.stylize(c.tnet, c.rgb, None), None, None, finite_image((16, 16, 3))),
    ("transformnet_norm", lambda c: fastnet.TransformNet(norm="group"), ValueError, "norm must be one of", None),
    ("transformnet_width", lambda c: fastnet.TransformNet(width=(2, 4)), ValueError, "three channel counts", None),
    ("texturenet_scales", lambda c: fastnet.TextureNet(scales=0), ValueError, "scales must be", None),
    ("perceptual_effnet", lambda c: fastnet.PerceptualLoss(c.effnet, None), TypeError, VGG_MSG, None),
    ("perceptual_nan", lambda c: fastnet.PerceptualLoss(c.vgg, c.rgb_nan), ValueError, NAN_MSG, None),
    (
        "perceptual_nothing",
        lambda c: fastnet.PerceptualLoss(c.vgg, None, None, []),
        ValueError,
        "nothing to compare",
        None,
    ),
    ("train_steps_zero", lambda c: train_st(c, steps=0), ValueError, "steps must be", None),
    ("train_steps_str", lambda c: train_st(c, steps="2"), TypeError, "steps must be", None),
    ("train_noise", lambda c: train_st(c, noise=1.5), ValueError, "noise must be in", None),
    ("train_lr_inf", lambda c: train_st(c, lr=float("inf")), ValueError, "lr must be", None),
    ("train_size", lambda c: train_st(c, size=30), ValueError, "multiple of 4", None),
    ("train_style_typo", lambda c: train_st(c, style="vangog_starry_night"), ValueError, "unknown style", None),
    ("train_stylizer_ok", lambda c: train_st(c), None, None, trained(fastnet.TransformNet)),
    ("train_texture_lr", lambda c: train_tex(c, lr=0.0), ValueError, "lr must be", None),
    ("train_texture_size", lambda c: train_tex(c, size=17), ValueError, "multiple of 2", None),
    ("train_texture_ok", lambda c: train_tex(c), None, None, trained(fastnet.TextureNet)),
    # ------------------------------------------------------------------ super-resolution
    ("sr_nan", lambda c: S.super_resolve(c.srnet, c.rgb_nan), ValueError, NAN_MSG, None),
    ("sr_inf", lambda c: S.super_resolve(c.srnet, c.rgb_nan.nan_to_num(nan=float("inf"))), ValueError, "inf", None),
    ("sr_not_net", lambda c: S.super_resolve("net", c.rgb), TypeError, "nn.Module", None),
    ("sr_gray", lambda c: S.super_resolve(c.srnet, c.rgb[:, :1]), ValueError, r"\(B, 3, H, W\)", None),
    ("sr_ok", lambda c: S.super_resolve(c.srnet, c.rgb)[0].permute(1, 2, 0), None, None, finite_image((64, 64, 3))),
    ("bicubic_nan", lambda c: S.bicubic(c.rgb_nan), ValueError, NAN_MSG, None),
    ("degrade_scale_float", lambda c: S.degrade(c.rgb, scale=2.0), TypeError, "scale must be", None),
    ("blur_sigma_zero", lambda c: S.gaussian_blur(c.rgb, 0.0), ValueError, "sigma must be", None),
    ("blur_sigma_str", lambda c: S.gaussian_blur(c.rgb, "1"), TypeError, "sigma must be", None),
    ("srnet_width", lambda c: S.SRNet(width=1.5), TypeError, "width must be", None),
    ("feature_loss_effnet", lambda c: S.FeatureLoss(c.effnet), TypeError, VGG_MSG, None),
    ("train_sr_loss", lambda c: train_sr(c, loss="l1"), ValueError, "loss must be one of", None),
    ("train_sr_tv_inf", lambda c: train_sr(c, tv=float("inf")), ValueError, "tv must be", None),
    ("train_sr_steps_bool", lambda c: train_sr(c, steps=True), TypeError, "steps must be", None),
    ("train_sr_max_seconds", lambda c: train_sr(c, max_seconds=-1), ValueError, "max_seconds", None),
    (
        "train_sr_nan_images",
        lambda c: train_sr(c, images=torch.full((1, 3, 32, 32), float("nan"))),
        ValueError,
        NAN_MSG,
        None,
    ),
    ("train_sr_ok", lambda c: train_sr(c), None, None, trained(S.SRNet)),
    ("train_sr_feature_ok", lambda c: train_sr(c, loss="feature", vgg=c.vgg, tv=0.1), None, None, trained(S.SRNet)),
    # ------------------------------------------------------------------ multi-style
    ("mix_t_str", lambda c: ms.mix(0, 1, "a"), TypeError, "t must be", None),
    ("mix_t_nan", lambda c: ms.mix(0, 1, float("nan")), ValueError, "t must be", None),
    ("style_vector_key", lambda c: ms.style_vector({"a": 1.0}), TypeError, "style index", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_or_unusual_input(ctx, case):
    _, call, exc, match, check = case
    before = {"vgg": model_state(ctx.vgg), "effnet": model_state(ctx.effnet)}
    nets = {"tnet": model_state(ctx.tnet), "srnet": model_state(ctx.srnet)}
    weights = [p.detach().clone() for p in ctx.tnet.parameters()]
    state = random_state()
    if exc is None:
        check(call(ctx))
    else:
        with pytest.raises(exc, match=match):
            call(ctx)
    assert random_state() == state, "the call changed the caller's global random state"
    assert {"vgg": model_state(ctx.vgg), "effnet": model_state(ctx.effnet)} == before
    assert {"tnet": model_state(ctx.tnet), "srnet": model_state(ctx.srnet)} == nets
    assert all(torch.equal(a, b) for a, b in zip(weights, ctx.tnet.parameters()))


def test_the_table_is_large_enough():
    assert len(CASES) >= 50
    assert sum(c[2] is None for c in CASES) >= 10  # correct handling, not only errors


def test_trainers_are_reproducible_and_leave_the_random_state(vgg):
    """The same seed gives the same network; the caller's generators are untouched (issue 18)."""
    c = SimpleNamespace(vgg=vgg)
    torch.manual_seed(123)
    state = random_state()
    (net1, h1), (net2, h2) = train_st(c, seed=5), train_st(c, seed=5)
    assert random_state() == state and torch.initial_seed() == 123
    assert h1 == h2 and all(torch.equal(a, b) for a, b in zip(net1.state_dict().values(), net2.state_dict().values()))
    (sr1, _), (sr2, _) = train_sr(c, seed=3), train_sr(c, seed=4)
    assert random_state() == state
    assert not torch.equal(sr1.head.weight, sr2.head.weight)  # the seed, not the global state, decides
