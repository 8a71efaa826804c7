"""Hook and state hygiene: the guarantee every method of the course relies on."""

import pytest
import torch

from lecture_utils.hooks import get_layer, hook_count, model_state, preserved_state, record
from tests.helpers import assert_leaves_model_clean


def test_record_activations_match_manual_forward(tiny_cnn):
    x = torch.randn(2, 3, 8, 8)
    with record(tiny_cnn, ["conv", "fc"]) as rec:
        out = tiny_cnn(x)
    assert torch.allclose(rec.activations["conv"], tiny_cnn.conv(x))
    assert torch.allclose(rec["fc"], out)


def test_record_gradients_match_autograd(tiny_cnn):
    x = torch.randn(1, 3, 8, 8, requires_grad=True)  # parameters are frozen inside record
    with record(tiny_cnn, "conv", gradients=True) as rec:
        tiny_cnn(x)[0, 2].backward()
    a = tiny_cnn.conv(x).detach().requires_grad_(True)
    logits = tiny_cnn.fc(torch.nn.functional.relu6(a).mean(dim=(2, 3)))  # the rest of the net, by hand
    logits[0, 2].backward()
    assert torch.allclose(rec.gradients["conv"], a.grad)


def test_inplace_activation_does_not_corrupt_recorded_input(tiny_cnn):
    # ReLU6(inplace=True) would overwrite the conv output that the hook keeps
    x = torch.randn(1, 3, 8, 8) * 10
    with record(tiny_cnn, "conv") as rec:
        tiny_cnn(x)
    assert rec["conv"].min() < 0 and rec["conv"].max() > 6


def test_keep_inplace_records_copies(tiny_cnn):
    # in-place ReLU6 stays on (faster forward), yet the recorded conv output is not overwritten
    x = torch.randn(1, 3, 8, 8) * 10
    with torch.no_grad(), record(tiny_cnn, "conv", detach=True, keep_inplace=True) as rec:
        assert tiny_cnn.act.inplace is True
        out = tiny_cnn(x)
    with torch.no_grad(), record(tiny_cnn, "conv", detach=True) as ref:
        assert torch.equal(tiny_cnn(x), out)
    assert torch.equal(rec["conv"], ref["conv"]) and rec["conv"].min() < 0 and rec["conv"].max() > 6
    with pytest.raises(ValueError, match="detach=True"):
        with record(tiny_cnn, "conv", keep_inplace=True):
            pass
    assert hook_count(tiny_cnn) == 0 and tiny_cnn.act.inplace is True


def test_preserved_state_restores_exactly_what_it_changed(tiny_cnn):
    tiny_cnn.train()
    tiny_cnn.fc.weight.requires_grad_(False)
    before = model_state(tiny_cnn)
    with preserved_state(tiny_cnn) as net:
        assert not net.training and not net.conv.training and net.act.inplace is False
        assert not any(p.requires_grad for p in net.parameters())
    assert model_state(tiny_cnn) == before and tiny_cnn.conv.training
    with preserved_state(tiny_cnn, keep_inplace=True, freeze=False, eval=False) as net:
        assert net.act.inplace is True and net.training and net.conv.weight.requires_grad
    assert model_state(tiny_cnn) == before


def test_unknown_layer_lists_close_names(effnet):
    with pytest.raises(ValueError, match="Unknown layer 'block.3'.*Close names: blocks.3"):
        get_layer(effnet, "block.3")
    with pytest.raises(ValueError, match="Unknown layer"):
        with record(effnet, ["bn2", "nope"]):
            pass
    assert hook_count(effnet) == 0


def test_record_restores_state_after_exception(tiny_cnn):
    tiny_cnn.train()
    tiny_cnn.fc.weight.requires_grad_(False)
    before = model_state(tiny_cnn)
    with pytest.raises(RuntimeError, match="boom"):
        with record(tiny_cnn, ["conv", "act"], gradients=True):
            assert hook_count(tiny_cnn) == 2
            assert tiny_cnn.act.inplace is False and tiny_cnn.training is False
            raise RuntimeError("boom")
    assert model_state(tiny_cnn) == before
    assert tiny_cnn.act.inplace is True and tiny_cnn.training is True


def test_repeated_records_leave_no_hooks(effnet, chelsea):
    def call():
        with record(effnet, ["blocks.3", "bn2"], gradients=True) as rec:
            effnet.net(chelsea.clone().requires_grad_(True))[0, 281].backward()
        assert rec.gradients["bn2"].shape == (1, 1280, 7, 7)

    assert_leaves_model_clean(effnet, call, repeat=3)


def test_preserved_state_freezes_and_restores(tiny_cnn):
    with preserved_state(tiny_cnn) as net:
        assert not any(p.requires_grad for p in net.parameters())
    assert all(p.requires_grad for p in tiny_cnn.parameters())


def test_get_layer_accepts_modules_of_the_model_only(tiny_cnn):
    assert get_layer(tiny_cnn, tiny_cnn.conv) is tiny_cnn.conv
    with pytest.raises(ValueError, match="not part of this model"):
        get_layer(tiny_cnn, torch.nn.Conv2d(1, 1, 1))
    with pytest.raises(TypeError, match="layer must be"):
        get_layer(tiny_cnn, 3)


def _deeper_cnn() -> torch.nn.Module:
    """A small CNN with several ReLUs, so that a swapped backward rule changes the gradient."""
    torch.manual_seed(1)
    layers = [torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(inplace=True)]
    layers += [torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU6(inplace=True)]
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 5)]
    return torch.nn.Sequential(*layers).eval()


def _two_threads(net, x, iterations):
    """saliency in one thread and guided backprop in another, on the same model, many times.
    Returns the results of each thread and any exception raised."""
    import threading

    from lecture_utils.attribution import saliency
    from lecture_utils.backprop import guided_backprop

    results = {"saliency": [], "guided": [], "errors": []}
    start = threading.Barrier(2)

    def run(name, fn):
        try:
            start.wait()
            for _ in range(iterations):
                results[name].append(fn())
        except Exception as e:  # noqa: BLE001 -- reported by the test
            results["errors"].append(e)

    threads = [
        threading.Thread(target=run, args=("saliency", lambda: saliency(net, x, 2))),
        threading.Thread(target=run, args=("guided", lambda: guided_backprop(net, x, 2))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results


def test_two_threads_on_one_model_get_single_thread_results_and_leave_it_clean():
    # Without the per-model lock the threads save each other's frozen requires_grad flags as the
    # "original" ones (the model ends up frozen for good) and one thread's forward runs with the
    # other's ReLU rule (saliency with guided gradients, or the reverse).
    from lecture_utils.attribution import saliency
    from lecture_utils.backprop import guided_backprop

    net = _deeper_cnn()
    x = torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    before = model_state(net)
    want_saliency, want_guided = saliency(net, x, 2), guided_backprop(net, x, 2)
    assert not torch.allclose(want_saliency, guided_backprop(net, x, 2).abs().amax(dim=1)[0])  # rules differ
    results = _two_threads(net, x, iterations=150)
    assert not results["errors"], results["errors"][:1]
    assert all(torch.equal(r, want_saliency) for r in results["saliency"])
    assert all(torch.equal(r, want_guided) for r in results["guided"])
    assert model_state(net) == before
    assert all(p.requires_grad for p in net.parameters()) and all(p.grad is None for p in net.parameters())


def test_model_lock_is_per_network_and_reentrant(tiny_cnn):
    from lecture_utils.hooks import model_lock

    other = torch.nn.Linear(2, 2)
    assert model_lock(tiny_cnn) is model_lock(tiny_cnn) and model_lock(tiny_cnn) is not model_lock(other)
    with preserved_state(tiny_cnn), preserved_state(tiny_cnn):  # nested in one thread: no deadlock
        assert not any(p.requires_grad for p in tiny_cnn.parameters())
    assert all(p.requires_grad for p in tiny_cnn.parameters())
