"""widgets.interactive's render machinery: supersede, preview then final, cache, errors, exercise_all.

The renders run on the background thread here (``background=True``), as they do in a kernel; a
fake ``draw`` records what it was called with and returns a string (shown as text/plain).
"""

from __future__ import annotations

import threading
import time

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pytest

from lecture_utils import widgets


def _shown(ia) -> list[str]:
    """The text/plain (or the output type) of what the output area shows."""
    return [
        o["data"].get("text/plain", "") if o["output_type"] == "display_data" else o["ename"] for o in ia.out.outputs
    ]


class Recorder:
    """A draw function of ``k`` that sleeps ``delay`` s and records every call."""

    def __init__(self, delay: float = 0.0, fail_on: tuple = ()) -> None:
        self.delay, self.fail_on, self.calls = delay, fail_on, []
        self.started: dict[int, threading.Event] = {}

    def __call__(self, k):
        self.calls.append(k)
        self.started.setdefault(k, threading.Event()).set()
        time.sleep(self.delay)
        if k in self.fail_on:
            raise ValueError(f"k={k} is not allowed here")
        return f"picture {k}"


@pytest.fixture(autouse=True)
def _clean_registry():
    widgets._REGISTRY.clear()
    yield
    widgets._REGISTRY.clear()


def test_a_change_during_a_render_supersedes_the_waiting_ones():
    draw = Recorder(delay=0.3)
    k = W.IntSlider(value=0, max=10)
    ia = widgets.interactive(draw, k=k, background=True)
    assert draw.calls == [0] and _shown(ia) == ["'picture 0'"]
    draw.started[1] = threading.Event()
    k.value = 1
    assert draw.started[1].wait(5)  # the render of 1 is running now
    for v in (2, 3, 4):
        k.value = v  # arrive while 1 renders: each replaces the waiting one
    assert ia.wait(5)
    assert draw.calls == [0, 1, 4], "only the newest waiting value renders after the running one"
    assert _shown(ia) == ["'picture 4'"]
    stages = [t["stage"] for t in ia.timings]
    assert stages.count("done") == 3


def test_preview_first_then_final_with_a_visible_progress_bar():
    calls, bar_seen = [], []
    holder = {}

    def draw(k, preview):
        calls.append(("preview" if preview else "final", k))
        if not preview:
            time.sleep(0.35)
            if "ia" in holder:
                bar_seen.append(holder["ia"].bar.layout.visibility)
        return f"{'preview' if preview else 'final'} {k}"

    k = W.IntSlider(value=0, max=10)
    ia = widgets.interactive(draw, k=k, background=True)
    holder["ia"] = ia
    assert calls == [("final", 0)], "the first render (stored in the notebook) is the final one only"
    shown = []
    ia.out.observe(lambda c: shown.append(c["new"][0]["data"]["text/plain"]), names="outputs")
    k.value = 3
    assert ia.wait(5)
    assert calls[1:] == [("preview", 3), ("final", 3)]
    assert shown == ["'preview 3'", "'final 3'"]
    assert bar_seen == ["visible"], "the bar shows while the final stage refines"
    assert ia.bar.layout.visibility == "hidden"
    t = ia.timings[-1]
    assert t["final_s"] - t["first_s"] >= 0.3, t


def test_progress_callback_moves_the_bar_and_drops_a_stale_refinement():
    calls, finished, values = [], [], []
    holder, running = {}, threading.Event()

    def draw(k, progress):
        calls.append(k)
        for i in range(8):
            time.sleep(0.05)
            progress((i + 1) / 8)
            if k == 1:
                running.set()
            if "ia" in holder:
                values.append(holder["ia"].bar.value)
        finished.append(k)
        return f"picture {k}"

    k = W.IntSlider(value=0, max=10)
    ia = widgets.interactive(draw, k=k, background=True)
    holder["ia"] = ia
    k.value = 1
    assert running.wait(5)
    k.value = 2  # progress() in the running render of 1 raises Superseded
    assert ia.wait(5)
    assert calls == [0, 1, 2] and finished == [0, 2]
    assert _shown(ia) == ["'picture 2'"]
    assert values and values[-1] == 1.0 and 0 < values[0] < 1
    assert "superseded" in [t["stage"] for t in ia.timings]


def test_cache_makes_a_revisited_value_instant():
    draw = Recorder(delay=0.05)
    k = W.IntSlider(value=0, max=10)
    ia = widgets.interactive(draw, k=k, cache=True, background=True)
    k.value = 1
    ia.wait(5)
    k.value = 0
    ia.wait(5)
    assert draw.calls == [0, 1], "the picture of k=0 came from the cache"
    assert _shown(ia) == ["'picture 0'"]
    assert ia.timings[-1]["stage"] == "cached" and ia.timings[-1]["final_s"] < 0.2
    # without a cache the same sequence renders three times
    draw2 = Recorder()
    k2 = W.IntSlider(value=0, max=10)
    ia2 = widgets.interactive(draw2, k=k2, background=True)
    k2.value, k2.value = 1, 0
    ia2.wait(5)
    assert draw2.calls[-1] == 0 and len(draw2.calls) >= 2


@pytest.mark.parametrize("background", [False, True])
def test_an_error_is_shown_in_the_output_area_and_later_changes_render(background):
    draw = Recorder(fail_on=(1,))
    k = W.IntSlider(value=0, max=10)
    ia = widgets.interactive(draw, k=k, background=background)
    k.value = 1
    ia.wait(5)
    (err,) = ia.out.outputs
    assert err["output_type"] == "error" and err["ename"] == "ValueError"
    assert "k=1 is not allowed here" in "".join(err["traceback"])
    assert isinstance(ia.last_error, ValueError)
    k.value = 2
    ia.wait(5)
    assert _shown(ia) == ["'picture 2'"]


def test_an_error_in_the_first_render_is_raised():
    with pytest.raises(ValueError, match="k=0 is not allowed"):
        widgets.interactive(Recorder(fail_on=(0,)), k=W.IntSlider(value=0), background=True)


def test_continuous_update_off_for_slow_renders_unless_told():
    fast, slow = W.IntSlider(value=0), W.IntSlider(value=0)
    widgets.interactive(Recorder(), k=fast, background=True, slow_s=2.0)
    widgets.interactive(Recorder(delay=0.25), k=slow, background=True)
    assert fast.continuous_update is True and slow.continuous_update is False
    forced = W.FloatSlider(value=0.0)
    widgets.interactive(lambda k: None, k=forced, continuous_update=False)
    assert forced.continuous_update is False


def test_figures_of_the_render_thread_stay_out_of_pyplot():
    seen_from_main = []
    started = threading.Event()

    def draw(k):
        fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
        ax.imshow(np.full((4, 4), k, dtype=float))
        started.set()
        time.sleep(0.3)
        return fig

    before = set(plt.get_fignums())
    k = W.IntSlider(value=0)
    ia = widgets.interactive(draw, k=k, background=True)
    started.clear()
    k.value = 1
    assert started.wait(5)
    seen_from_main.append(set(plt.get_fignums()))
    ia.wait(5)
    assert seen_from_main == [before], "a half-drawn widget figure is invisible to pyplot's global list"
    assert set(plt.get_fignums()) == before
    (out,) = ia.out.outputs
    assert "image/jpeg" in out["data"]


def test_a_draw_that_displays_its_figure_itself_is_captured():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    had = InteractiveShell.initialized()
    InteractiveShell.instance()
    try:

        def draw(k):
            display(f"displayed {k}")

        k = W.IntSlider(value=0)
        ia = widgets.interactive(draw, k=k, background=True)
        assert _shown(ia) == ["'displayed 0'"]
        k.value = 5
        ia.wait(5)
        assert _shown(ia) == ["'displayed 5'"]
    finally:
        if not had:
            InteractiveShell.clear_instance()


def test_exercise_all_changes_every_control_and_restores_the_first_picture():
    calls = []

    def draw(n, name, flag, cls):
        calls.append((n, name, flag, cls))
        return f"{n} {name} {flag} {cls}"

    classes = ["tench", "goldfish", "shark"]
    controls = dict(
        n=W.IntSlider(value=10, min=0, max=10, step=2),
        name=widgets.image_picker(["a", "b"], value="b"),
        flag=W.Checkbox(value=False),
        cls=widgets.class_picker(classes, top=[2]),
    )
    ia = widgets.interactive(draw, background=True, **controls)
    first = ia.out.outputs
    assert widgets.registered() == [ia]
    assert widgets.exercise_all(timeout_s=10) == 1
    assert calls == [(10, "b", False, 2), (8, "b", False, 2), (8, "a", False, 2), (8, "a", True, 2), (8, "a", True, 0)]
    assert ia.values() == {"n": 10, "name": "b", "flag": False, "cls": 2}
    assert ia.out.outputs == first, "the stored first picture is put back"


def test_exercise_all_raises_on_a_broken_control():
    k = W.IntSlider(value=0, max=3)
    widgets.interactive(Recorder(fail_on=(1,)), k=k, background=True)
    with pytest.raises(RuntimeError, match=r"k=1: ValueError: k=1 is not allowed"):
        widgets.exercise_all(timeout_s=10)
    assert k.value == 0


def test_a_rerun_cell_replaces_its_registered_interactive_and_the_old_one_stops():
    calls = []

    def draw(k):
        calls.append(k)

    k = W.IntSlider()
    widgets.interactive(draw, k=k)
    second = widgets.interactive(draw, k=k)  # the same cell run again, with a control from an earlier cell
    assert widgets.registered() == [second]
    k.value = 4
    assert calls == [0, 0, 4], "only the newest widget renders the change"
    second.close()
    k.value = 5
    assert calls == [0, 0, 4] and widgets.registered() == []


def test_with_a_cache_the_nearest_computed_value_is_shown_while_a_new_one_renders():
    draw = Recorder(delay=0.2)
    k = W.IntSlider(value=0, max=10)
    ia = widgets.interactive(draw, k=k, cache=True, background=True)
    k.value = 10
    ia.wait(5)
    seen = []
    ia.out.observe(lambda c: seen.append([o.get("text") or o["data"]["text/plain"] for o in c["new"]]), "outputs")
    k.value = 3
    ia.wait(5)
    assert seen == [["showing k = 0 (computed before) while k = 3 renders ...\n", "'picture 0'"], ["'picture 3'"]]
    t = ia.timings[-1]
    assert t["final_s"] - t["first_s"] >= 0.15, "the neighbour came at once, the final picture after the render"


@pytest.mark.parametrize(
    "control, expected",
    [
        (W.IntSlider(value=10, min=0, max=10, step=2), 8),  # at the top: one step down
        (W.IntSlider(value=0, min=0, max=10, step=2), 2),
        (W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.25), 0.75),
        (W.BoundedIntText(value=3, min=0, max=3), 2),
        (W.IntText(value=7), 8),
        (W.Checkbox(value=True), False),
        (W.Dropdown(options=[("first", 1), ("second", 2)], value=2), 1),  # wraps around
        (W.SelectionSlider(options=[10.0, 3.0, 1.0], value=3.0), 1.0),
        (W.Text(value="free text"), widgets._SKIP),
        (W.Dropdown(options=["only"], value="only"), widgets._SKIP),
    ],
)
def test_exercise_picks_another_valid_value_for_each_kind_of_control(control, expected):
    assert widgets._another_value(control) == expected


def test_exercise_moves_a_log_slider_by_one_step_of_its_exponent():
    s = W.FloatLogSlider(value=0.05, base=10, min=-3, max=1, step=0.25)
    assert widgets._another_value(s) == pytest.approx(0.05 * 10**0.25)


def test_render_thread_figures_do_not_pile_up_in_the_inline_backend(monkeypatch):
    import types

    queued = []  # what matplotlib-inline's show._to_draw holds: every figure made while interactive
    fake = types.SimpleNamespace(show=types.SimpleNamespace(_to_draw=queued))
    monkeypatch.setitem(__import__("sys").modules, "matplotlib_inline.backend_inline", fake)
    mine = plt.figure()
    queued.append(mine)

    def draw(k):
        fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
        queued.append(fig)  # as the inline backend does on figure creation
        return fig

    k = W.IntSlider()
    ia = widgets.interactive(draw, k=k, background=True)
    for v in range(1, 4):
        k.value = v
        ia.wait(5)
    assert queued == [mine], "the widget's figures are dropped, the cell's own figure stays"
    plt.close(mine)


def test_a_slider_switches_to_update_on_release_when_a_later_render_is_slow():
    def draw(k):
        time.sleep(1.2 if k >= 5 else 0.0)

    k = W.IntSlider(value=0, max=10)
    ia = widgets.interactive(draw, k=k, background=True, slow_s=1.0)
    assert k.continuous_update is True
    k.value = 7
    ia.wait(5)
    assert k.continuous_update is False
