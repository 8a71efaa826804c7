"""Your own photo: an upload through ``image_picker`` goes through ``load_image``; a bad file shows its
error in the widget's output area and nothing else breaks. Uploads are simulated the way the browser
sends them (``FileUpload.set_state`` with the file's bytes)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lecture_utils import widgets
from lecture_utils.images import ImageError, load_image


def _jpeg(w: int = 64, h: int = 48) -> bytes:
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 128)], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _upload(picker: widgets.ImagePicker, name: str, data: bytes) -> None:
    """What the browser does: the FileUpload's value arrives as JSON plus the bytes."""
    entry = {"name": name, "type": "image/jpeg", "size": len(data), "content": memoryview(data), "last_modified": 0}
    picker.upload.set_state({"value": [entry]})


@pytest.fixture(autouse=True)
def _clean_registry():
    widgets._REGISTRY.clear()
    yield
    widgets._REGISTRY.clear()


def _sizes_drawn():
    drawn = []

    def draw(image):
        img = load_image(image)
        drawn.append((widgets.image_name(image), img.size))
        return f"{widgets.image_name(image)} {img.size}"

    return drawn, draw


@pytest.mark.parametrize("background", [False, True])
def test_an_uploaded_jpeg_becomes_an_option_and_is_drawn(background):
    drawn, draw = _sizes_drawn()
    picker = widgets.image_picker(["chelsea", "rocket"], value="chelsea")
    ia = widgets.interactive(draw, image=picker, background=background)
    assert picker.upload in ia.children[0].children, "the upload button sits beside the picker"
    _upload(picker, "my cat.jpg", _jpeg(64, 48))
    ia.wait(10)
    assert picker.label == "my cat.jpg" and picker.value.endswith("my_cat.jpg")
    assert load_image(picker.value).size == (64, 48)
    assert drawn[-1] == ("my cat.jpg", (64, 48))
    assert [n for n, _ in drawn] == ["chelsea", "my cat.jpg"], "no render of an intermediate option"
    assert ia.out.outputs[0]["data"]["text/plain"] == "'my cat.jpg (64, 48)'"
    assert picker.label == "my cat.jpg"
    picker.value = "rocket"  # the samples still work, and the upload stays an option
    ia.wait(10)
    assert drawn[-1][0] == "rocket" and "my cat.jpg" in picker._options_labels


@pytest.mark.parametrize(
    "name, data, phrase",
    [
        ("notes.jpg", b"this is not a picture at all", "not an image file"),
        ("cut.jpg", _jpeg(64, 48)[:300], "could not be decoded"),
        ("tiny.jpg", _jpeg(4, 4), "at least 8x8"),
    ],
)
@pytest.mark.parametrize("background", [False, True])
def test_a_broken_upload_shows_its_error_and_nothing_else_breaks(name, data, phrase, background):
    drawn, draw = _sizes_drawn()
    picker = widgets.image_picker(["chelsea", "rocket"], value="chelsea")
    ia = widgets.interactive(draw, image=picker, background=background)
    _upload(picker, name, data)
    ia.wait(10)
    (err,) = ia.out.outputs
    assert err["output_type"] == "error" and err["ename"] == "ImageError"
    assert f"your file {name!r} cannot be used as an image" in err["evalue"] and phrase in err["evalue"]
    assert picker.value == "chelsea" and len(picker.options) == 2, "the bad file is not added"
    assert isinstance(ia.last_error, ImageError)
    picker.value = "rocket"  # the widget keeps working
    ia.wait(10)
    assert drawn[-1][0] == "rocket" and ia.out.outputs[0]["output_type"] == "display_data"
    _upload(picker, "good.jpg", _jpeg())  # and a good file after a bad one is accepted
    ia.wait(10)
    assert drawn[-1] == ("good.jpg", (64, 48))


def test_add_upload_without_a_widget_raises_clearly():
    picker = widgets.image_picker(["chelsea"])
    with pytest.raises(ImageError, match="'x.png' cannot be used as an image"):
        picker.add_upload("x.png", b"\x89PNG broken")
    with pytest.raises(TypeError, match="bytes"):
        picker.add_upload("x.png", "not bytes")
    with pytest.raises(ImageError, match="at most 40 MB"):
        picker.add_upload("huge.jpg", b"\0" * (widgets.MAX_UPLOAD_BYTES + 1))
    assert picker.value == "chelsea"


def test_upload_can_be_switched_off_and_names_are_safe():
    assert widgets.image_picker(["a"], upload=False).upload is None
    picker = widgets.image_picker(["chelsea"])
    value = picker.add_upload("../../etc/passwd photo.jpg", _jpeg())
    assert "/etc/" not in value and value.endswith("passwd_photo.jpg")
    assert widgets.image_name(value) == "../../etc/passwd photo.jpg" and widgets.image_name("chelsea") == "chelsea"
