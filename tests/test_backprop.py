"""Backward rules through a ReLU (lecture_utils.backprop): hand-computed answers, agreement with
plain autograd, the ReLU6 upper clip, hygiene and bad input."""

import pytest
import torch

from lecture_utils.attribution import input_gradient
from lecture_utils.backprop import (
    RULES,
    all_rules,
    backprop_gradient,
    deconvnet_backprop,
    guided_backprop,
    input_gradient_with_rule,
    relu_modules,
    relu_rule,
    relu_rule_table,
    rgb_gradient,
)
from lecture_utils.hooks import model_state
from tests.helpers import assert_leaves_model_clean, assert_raises_and_leaves_clean

# Springenberg et al. 2014, Fig. 1 (b): forward input of a ReLU and the gradient arriving from above
F_IN = torch.tensor([[1.0, -1.0, 5.0], [2.0, -5.0, -7.0], [-3.0, 2.0, 4.0]])
R_UP = torch.tensor([[-2.0, 3.0, -1.0], [6.0, -3.0, 1.0], [2.0, -1.0, 3.0]])
EXPECTED = {  # Fig. 1 (c), by hand
    "backprop": [[-2.0, 0.0, -1.0], [6.0, 0.0, 0.0], [0.0, -1.0, 3.0]],
    "deconvnet": [[0.0, 3.0, 0.0], [6.0, 0.0, 1.0], [2.0, 0.0, 3.0]],
    "guided": [[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 0.0, 3.0]],
}


def rule_grad(act: torch.nn.Module, f_in: torch.Tensor, r_up: torch.Tensor, rule: str) -> torch.Tensor:
    """d/dx sum(act(x) * r_up) with ``rule`` at the activation."""
    net = torch.nn.Sequential(act)
    with relu_rule(net, rule):
        x = f_in.clone().requires_grad_(True)
        (net(x) * r_up).sum().backward()
    return x.grad


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("inplace", [False, True])
def test_paper_figure_1_by_hand(rule, inplace):
    g = rule_grad(torch.nn.ReLU(inplace=inplace), F_IN, R_UP, rule)
    assert torch.equal(g, torch.tensor(EXPECTED[rule]))


def test_relu6_upper_clip_by_hand():
    f_in = torch.tensor([-1.0, 0.5, 3.0, 6.5, 9.0, 2.0, 7.0])
    r_up = torch.tensor([2.0, 1.0, -4.0, 5.0, -1.0, 3.0, 2.0])
    # open region 0 < x < 6: entries 1, 2, 5
    assert rule_grad(torch.nn.ReLU6(inplace=True), f_in, r_up, "backprop").tolist() == [0, 1, -4, 0, 0, 3, 0]
    assert rule_grad(torch.nn.ReLU6(), f_in, r_up, "guided").tolist() == [0, 1, 0, 0, 0, 3, 0]
    assert rule_grad(torch.nn.ReLU6(), f_in, r_up, "deconvnet").tolist() == [2, 1, 0, 5, 0, 3, 2]
    # the plain ReLU lets 6.5, 9 and 7 through
    assert rule_grad(torch.nn.ReLU(), f_in, r_up, "guided").tolist() == [0, 1, 0, 5, 0, 3, 2]


def test_two_layer_net_by_hand():
    # x -> Linear(w1) -> ReLU -> Linear(w2): the rule acts on the signal w2 arriving at the ReLU
    lin1 = torch.nn.Linear(2, 3, bias=False)
    lin2 = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        lin2.weight.copy_(torch.tensor([[2.0, -3.0, -1.0]]))
    net = torch.nn.Sequential(lin1, torch.nn.ReLU(), lin2).eval()
    x = torch.tensor([[1.0, -2.0]])  # hidden pre-activations: 1, -2, -1 -> only unit 0 open
    # backprop: w1^T (w2 * [1,0,0]) = [2, 0]; deconvnet: w1^T relu(w2) = [2, 0]
    # guided: w1^T (w2 * [1,0,0] * [w2>0]) = [2, 0]; change w2 so the rules differ:
    with torch.no_grad():
        lin2.weight.copy_(torch.tensor([[-2.0, 3.0, 1.0]]))
    expected = {"backprop": [-2.0, 0.0], "deconvnet": [1.0, 4.0], "guided": [0.0, 0.0]}
    for rule, want in expected.items():
        with relu_rule(net, rule):
            xx = x.clone().requires_grad_(True)
            net(xx).sum().backward()
        assert xx.grad[0].tolist() == want, rule


def test_backprop_rule_equals_plain_autograd(effnet, chelsea, vgg):
    assert torch.allclose(backprop_gradient(effnet, chelsea, 281), input_gradient(effnet, chelsea, 281), atol=1e-7)
    xv = vgg.preprocess(torch.rand(3, 64, 64), size=0)
    with torch.enable_grad():
        x = xv.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(vgg.net[:27](x)[0, 7].amax(), x)  # conv1_1 ... relu4_4 (index 26)
    assert vgg.layers[26] == "relu4_4"
    g = backprop_gradient(vgg, xv, None, layer="relu4_4", channel=7)
    assert torch.allclose(g, expected, atol=1e-6)


def test_all_relu6_of_effnet_are_switched(effnet):
    names = [n for n, _ in relu_modules(effnet)]
    assert len(names) == 33 and "bn2.act" in names and "blocks.5.0.bn1.act" in names


def test_guided_differs_from_plain_and_respects_relu6_clip(effnet, chelsea):
    plain = backprop_gradient(effnet, chelsea, 281)
    guided = guided_backprop(effnet, chelsea, 281)
    cos = torch.nn.functional.cosine_similarity(plain.flatten(), guided.flatten(), dim=0)
    assert cos < 0.5, f"guided and plain gradients too similar (cosine {cos:.2f})"
    # saturated ReLU6 units (input >= 6) must block the guided signal: look at bn2's ReLU6
    seen = {}

    def pre_hook(module, inputs):
        seen["x"] = inputs[0].detach().clone()
        inputs[0].register_hook(lambda g: seen.__setitem__("gi", g.detach()))

    with relu_rule(effnet, "guided") as net:
        h = dict(net.named_modules())["bn2.act"].register_forward_pre_hook(pre_hook)
        try:
            x = chelsea.clone().requires_grad_(True)
            net(x)[0, 281].backward()
        finally:
            h.remove()
    grads = seen
    assert (seen["x"] > 6).any(), "no saturated unit at bn2 to test the clip on"
    assert (grads["gi"][seen["x"] >= 6] == 0).all()
    assert (grads["gi"] >= 0).all(), "guided rule passed a negative signal"
    assert (grads["gi"] > 0).any()


def test_deconvnet_is_nearly_class_insensitive(effnet, chelsea):
    def corr(a, b):
        return torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1]

    d = corr(deconvnet_backprop(effnet, chelsea, 281), deconvnet_backprop(effnet, chelsea, "espresso"))
    p = corr(backprop_gradient(effnet, chelsea, 281), backprop_gradient(effnet, chelsea, "espresso"))
    assert d > 0.8 and d > p + 0.3, f"deconvnet corr {d:.2f}, plain corr {p:.2f}"


def test_rgb_gradient_chain_rule(vgg, effnet):
    g = torch.randn(1, 3, 8, 8)
    assert torch.allclose(rgb_gradient(vgg, g), 255 * g.flip(1))
    assert torch.allclose(rgb_gradient(effnet, g), 2 * g)
    assert rgb_gradient(torch.nn.ReLU(), g) is g


LAYERS = {"efficientnet_lite0": ["bn1", "blocks.3", "bn2"], "vgg19": ["conv2_1", "relu3_4", "pool5"]}


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("which", ["efficientnet_lite0", "vgg19"])
def test_hygiene_grid(rule, which, effnet, vgg, chelsea):
    zoo = effnet if which == "efficientnet_lite0" else vgg
    small = torch.nn.functional.interpolate(chelsea, size=96, mode="bilinear")
    x = small if which == "efficientnet_lite0" else vgg.preprocess(torch.rand(3, 48, 48), size=0)
    for layer in LAYERS[which]:
        call = lambda layer=layer: input_gradient_with_rule(zoo, x, None, rule, layer=layer, channel=1)
        assert_leaves_model_clean(zoo, call)
    if which == "efficientnet_lite0":
        assert_leaves_model_clean(zoo, lambda: input_gradient_with_rule(zoo, x, "tabby", rule))


def test_hygiene_after_exception_inside_the_block(tiny_cnn):
    before = model_state(tiny_cnn)
    with pytest.raises(RuntimeError, match="boom"):
        with relu_rule(tiny_cnn, "guided"):
            assert model_state(tiny_cnn)["forward overrides"] == ["act"]
            raise RuntimeError("boom")
    assert model_state(tiny_cnn) == before and tiny_cnn.act.inplace
    assert "forward" not in vars(tiny_cnn.act)


def test_relu_rule_does_not_nest(tiny_cnn):
    before = model_state(tiny_cnn)
    with relu_rule(tiny_cnn, "guided"):
        with pytest.raises(RuntimeError, match="already"):
            with relu_rule(tiny_cnn, "backprop"):
                pass
        assert model_state(tiny_cnn)["forward overrides"] == ["act"]  # the outer block still holds
    assert model_state(tiny_cnn) == before


def test_bad_input(effnet, chelsea):
    def bad(call, exc, match):
        assert_raises_and_leaves_clean(effnet, call, exc, match)

    bad(lambda: input_gradient_with_rule(effnet, chelsea, 281, "gided"), ValueError, "Unknown rule")
    bad(lambda: guided_backprop(effnet, chelsea, None, layer="blocks.9", channel=0), ValueError, "blocks")
    bad(lambda: guided_backprop(effnet, chelsea, None, layer="bn2", channel=1280), ValueError, "out of range")
    bad(lambda: guided_backprop(effnet, chelsea, None, layer="bn2", channel=-1), ValueError, ">= 0")
    bad(lambda: guided_backprop(effnet, chelsea, None, layer="bn2"), ValueError, "both layer and channel")
    bad(lambda: guided_backprop(effnet, chelsea, 281, layer="bn2", channel=0), ValueError, "not both")
    bad(lambda: guided_backprop(effnet, chelsea, None), ValueError, "class target")
    bad(lambda: guided_backprop(effnet, chelsea, 1000), ValueError, "out of range")
    bad(lambda: guided_backprop(effnet, chelsea, "tigr cat"), ValueError, "tiger cat")
    bad(lambda: guided_backprop(effnet, chelsea[0], 281), ValueError, "shape")
    bad(lambda: guided_backprop(effnet, chelsea, None, layer="bn2", channel=1.0), TypeError, "int")
    with pytest.raises(ValueError, match="Unknown rule"):
        with relu_rule(effnet, "zeiler"):
            pass


def test_relu_rule_table_is_the_paper_figure():
    t = relu_rule_table(F_IN, R_UP)
    assert t["forward output"].tolist() == F_IN.clamp(min=0).tolist()
    for rule, want in EXPECTED.items():
        assert t[rule].tolist() == want
    t6 = relu_rule_table(F_IN + 3, R_UP, activation="relu6")  # inputs 8 and 7 saturate, 0 is closed
    assert t6["guided"].tolist() == [[0, 3, 0], [6, 0, 0], [0, 0, 0]]  # the 3 at (2, 2) is blocked by x=7
    with pytest.raises(ValueError, match="relu6"):
        relu_rule_table(F_IN, R_UP, activation="tanh")
    with pytest.raises(ValueError, match="shapes differ"):
        relu_rule_table(F_IN, R_UP[:2])


def test_all_rules_keys_and_rgb(vgg):
    x = vgg.preprocess(torch.rand(3, 32, 32), size=0)
    maps = all_rules(vgg, x, None, layer="relu2_1", channel=4)
    raw = all_rules(vgg, x, None, layer="relu2_1", channel=4, rgb=False)
    assert list(maps) == list(RULES)
    assert torch.allclose(maps["guided"], 255 * raw["guided"].flip(1))


def test_rule_switch_is_read_at_backward_time(tiny_cnn):
    from lecture_utils.backprop import RuleSwitch, relu_rule

    with pytest.raises(ValueError, match="Unknown rule"):
        RuleSwitch("smooth")
    switch = RuleSwitch("backprop")
    with pytest.raises(ValueError, match="Unknown rule"):
        switch.rule = "smooth"
    torch.manual_seed(3)
    x0 = torch.randn(1, 3, 6, 6)
    expected = {}
    for rule in ("backprop", "guided", "deconvnet"):
        with relu_rule(tiny_cnn, rule) as net:
            x = x0.clone().requires_grad_(True)
            (expected[rule],) = torch.autograd.grad(net(x)[0, 1], x)
    with relu_rule(tiny_cnn, switch) as net:  # one forward, three backward passes
        x = x0.clone().requires_grad_(True)
        score = net(x)[0, 1]
        for rule in ("backprop", "guided", "deconvnet"):
            switch.rule = rule
            (g,) = torch.autograd.grad(score, x, retain_graph=True)
            assert torch.equal(g, expected[rule]), rule
    assert not torch.equal(expected["guided"], expected["backprop"])


def test_rule_functions_keep_their_names_signatures_and_docs():
    """The three rule functions are made by one factory: each still reads like a plain function."""
    import inspect

    from lecture_utils import attribution, backprop

    for fn, rule in [
        (backprop.backprop_gradient, "backprop"),
        (backprop.deconvnet_backprop, "deconvnet"),
        (backprop.guided_backprop, "guided"),
    ]:
        assert fn.__name__ in backprop.__all__ and fn.__doc__ and fn.__module__ == "lecture_utils.backprop"
        params = inspect.signature(fn).parameters
        assert list(params) == ["model", "image", "target", "layer", "channel"], rule
        assert params["layer"].default is None and params["channel"].default is None
    # the saliency maps likewise take their gradient method's arguments
    assert inspect.signature(attribution.saliency) == inspect.signature(attribution.input_gradient)
    assert inspect.signature(attribution.smooth_saliency) == inspect.signature(attribution.smooth_grad)
    assert (
        attribution.smooth_saliency.__name__ == "smooth_saliency"
        and "SmoothGrad" in attribution.smooth_saliency.__doc__
    )


def test_rule_functions_are_input_gradient_with_rule(effnet, chelsea_img):
    from lecture_utils import backprop

    x = effnet.preprocess(chelsea_img, size=64)
    for fn, rule in [
        (backprop.backprop_gradient, "backprop"),
        (backprop.deconvnet_backprop, "deconvnet"),
        (backprop.guided_backprop, "guided"),
    ]:
        assert torch.equal(fn(effnet, x, 281), backprop.input_gradient_with_rule(effnet, x, 281, rule))
        assert torch.equal(
            fn(effnet, x, None, "blocks.3", 5),
            backprop.input_gradient_with_rule(effnet, x, None, rule, layer="blocks.3", channel=5),
        )
