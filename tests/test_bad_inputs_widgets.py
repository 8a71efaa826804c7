"""Bad inputs to the widgets (issue 19): each gets a TypeError (wrong kind of thing) or a ValueError
(right kind, wrong value) whose message names the argument, what it got and what it expects."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import pytest

from lecture_utils import widgets

CLASSES = ["tench", "goldfish", "great white shark", "tabby", "crane", "crane"]


class FakeModel:
    layers = ["conv1", "relu1", "fc"]


def draw(layer=None, k=None):
    return None


CASES = [
    # class_picker
    ("class value -1", lambda: widgets.class_picker(CLASSES, value=-1), ValueError, "class id 0..5 .*got -1"),
    ("class value 5000", lambda: widgets.class_picker(CLASSES, value=5000), ValueError, "got 5000: there are 6"),
    ("class name unknown", lambda: widgets.class_picker(CLASSES, value="tabbby"), ValueError, "did you mean 'tabby'"),
    ("class name ambiguous", lambda: widgets.class_picker(CLASSES, value="crane"), ValueError, r"ambiguous \(ids"),
    ("class value float", lambda: widgets.class_picker(CLASSES, value=3.0), TypeError, r"value must be .*\(float\)"),
    ("class value bool", lambda: widgets.class_picker(CLASSES, value=True), TypeError, r"\(bool\)"),
    ("class top -1", lambda: widgets.class_picker(CLASSES, top=[1, -1]), ValueError, r"top\[1\] must be .*got -1"),
    ("class top string", lambda: widgets.class_picker(CLASSES, top="tabby"), TypeError, "top must be a list"),
    ("class top None", lambda: widgets.class_picker(CLASSES, top=None), TypeError, "top must be a list"),
    ("classes empty", lambda: widgets.class_picker([]), ValueError, "non-empty list of class names"),
    ("classes a string", lambda: widgets.class_picker("tabby"), TypeError, "the string 'tabby'"),
    ("classes numbers", lambda: widgets.class_picker([1, 2]), TypeError, r"got 1 \(int\)"),
    ("classes a model", lambda: widgets.class_picker(FakeClassesModel()), TypeError, "such as model.classes"),
    ("class_index of a slider", lambda: widgets.class_index(W.IntSlider()), TypeError, "made by class_picker"),
    ("class_index half typed", lambda: widgets.class_index(_half_typed()), ValueError, "holds 'tab', not one of"),
    # image_picker
    (
        "image value nope",
        lambda: widgets.image_picker(["chelsea", "rocket"], value="nope"),
        ValueError,
        "'nope' is not",
    ),
    ("image value close", lambda: widgets.image_picker(["chelsea"], value="chelsae"), ValueError, "mean 'chelsea'"),
    ("image value int", lambda: widgets.image_picker(["chelsea"], value=3), TypeError, r"image name \(str\), got 3"),
    ("image names str", lambda: widgets.image_picker("chelsea"), TypeError, "the string 'chelsea'"),
    ("image names empty", lambda: widgets.image_picker([]), ValueError, "non-empty list of image names"),
    ("image upload 1", lambda: widgets.image_picker(["a"], upload=1), TypeError, "upload must be True or False"),
    # layer_picker
    ("layer value nope", lambda: widgets.layer_picker(FakeModel(), value="nope"), ValueError, "not among"),
    ("layer value close", lambda: widgets.layer_picker(FakeModel(), value="relu"), ValueError, "mean 'relu1'"),
    ("layer value int", lambda: widgets.layer_picker(FakeModel(), value=5), TypeError, r"layer name \(str\), got 5"),
    ("layer model str", lambda: widgets.layer_picker("vgg19"), TypeError, "model must be a ZooModel"),
    ("layer layers str", lambda: widgets.layer_picker(FakeModel(), layers="fc"), TypeError, "the string 'fc'"),
    ("layer layers empty", lambda: widgets.layer_picker(FakeModel(), layers=[]), ValueError, "non-empty list"),
    # interactive
    ("interactive layer=5", lambda: widgets.interactive(draw, layer=5), TypeError, r"control 'layer' .*got 5 \(int\)"),
    ("interactive a str", lambda: widgets.interactive(draw, layer="fc"), TypeError, "control 'layer' must be"),
    ("interactive a Button", lambda: widgets.interactive(draw, k=W.Button()), TypeError, "with a value"),
    ("interactive a box", lambda: widgets.interactive(draw, k=W.HBox()), TypeError, r"\(HBox\)"),
    ("interactive draw str", lambda: widgets.interactive("draw", k=W.IntSlider()), TypeError, "draw must be a func"),
    ("interactive unknown", lambda: widgets.interactive(draw, q=W.IntSlider()), TypeError, "no parameter 'q'"),
    ("interactive cache -1", lambda: widgets.interactive(draw, cache=-1, k=W.IntSlider()), ValueError, "cache must"),
    ("interactive cache str", lambda: widgets.interactive(draw, cache="yes", k=W.IntSlider()), TypeError, "cache"),
    ("interactive preview 1", lambda: widgets.interactive(draw, preview=1, k=W.IntSlider()), TypeError, "preview"),
    ("preview=True no param", lambda: widgets.interactive(draw, preview=True, k=W.IntSlider()), TypeError, "preview"),
    ("continuous 'no'", lambda: widgets.interactive(draw, continuous_update="no", k=W.IntSlider()), TypeError, "cont"),
    ("slow_s nan", lambda: widgets.interactive(draw, slow_s=float("nan"), k=W.IntSlider()), ValueError, "slow_s"),
    ("background 1", lambda: widgets.interactive(draw, background=1, k=W.IntSlider()), TypeError, "background"),
]


class FakeClassesModel:
    classes = CLASSES


def _half_typed():
    picker = widgets.class_picker(CLASSES)
    picker.value = "tab"
    return picker


@pytest.mark.parametrize("call, exc, phrase", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_widget_input_gets_a_clear_error(call, exc, phrase):
    with pytest.raises(exc, match=phrase):
        call()


@pytest.mark.parametrize("value, expected", [(3, 3), ("tabby", 3), (np.int64(2), 2), ("great white shark", 2)])
def test_class_picker_takes_an_id_or_an_unambiguous_name(value, expected):
    picker = widgets.class_picker(CLASSES, top=[np.int64(1)], value=value)
    assert widgets.class_index(picker) == expected
    assert picker.options[0] == "goldfish (1)"


def test_a_rejected_control_leaves_no_registered_widget():
    widgets._REGISTRY.clear()
    with pytest.raises(TypeError):
        widgets.interactive(draw, layer=5)
    assert widgets.registered() == []
