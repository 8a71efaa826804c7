"""load_image: samples, conversions, and every kind of bad input (a clear error naming the file)."""

import numpy as np
import pytest
from PIL import Image

from lecture_utils.images import ImageError, load_image, sample_names, to_rgb


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "rocket", "china", "flower", "grace_hopper"])
def test_package_samples_load_as_rgb(name):
    img = load_image(name)
    assert img.mode == "RGB" and min(img.size) > 100


def test_paintings_are_samples():
    paintings = sample_names("paintings")
    assert "vangogh_starry_night" in paintings and len(paintings) == 7
    assert load_image("vangogh_starry_night", max_size=256).size[0] == 256


def _save(tmp_path, img, name):
    path = tmp_path / name
    img.save(path)
    return path


@pytest.mark.parametrize(
    "mode,value",
    [("L", 128), ("1", 1), ("P", 3), ("CMYK", (0, 255, 0, 0)), ("I;16", 40000), ("I", 70000), ("F", 0.5)],
)
def test_modes_convert_to_rgb(tmp_path, mode, value):
    img = Image.new(mode, (20, 10), value)
    if mode == "I":
        img.putpixel((0, 0), 0)
    ext = "tiff" if mode in {"I;16", "I", "F", "CMYK"} else "png"
    out = load_image(_save(tmp_path, img, f"x.{ext}"))
    assert out.mode == "RGB" and out.size == (20, 10)


def test_sixteen_bit_scaled_not_clipped(tmp_path):
    img = Image.new("I;16", (10, 10), 65535)
    img.putpixel((0, 0), 0)
    arr = np.asarray(load_image(_save(tmp_path, img, "x.png")))
    assert arr.max() == 255 and arr.min() == 0


def test_rgba_is_composited_on_white(tmp_path):
    img = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    assert np.asarray(load_image(_save(tmp_path, img, "x.png")))[0, 0].tolist() == [255, 255, 255]


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 0, 0] * 256)
    img.info["transparency"] = 0
    assert np.asarray(to_rgb(img))[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif)
    assert load_image(path).size == (20, 40)


def test_huge_image_is_downsized(tmp_path):
    path = _save(tmp_path, Image.new("RGB", (5000, 2500), (1, 2, 3)), "huge.png")
    assert load_image(path, max_size=1024).size == (1024, 512)


def test_missing_file_names_it_and_suggests_samples():
    with pytest.raises(FileNotFoundError, match="'chelsae'.*Did you mean the sample chelsea"):
        load_image("chelsae")


def test_directory_is_rejected(tmp_path):
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(ImageError, match="notes.txt is not an image"):
        load_image(path)


def test_truncated_file(tmp_path):
    path = _save(tmp_path, Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)), "t.jpg")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ImageError, match="t.jpg could not be decoded"):
        load_image(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png"):
        load_image(path)


def test_too_small_image(tmp_path):
    with pytest.raises(ImageError, match="only 4x3 pixels"):
        load_image(_save(tmp_path, Image.new("RGB", (4, 3)), "tiny.png"))


def test_wrong_argument_types():
    with pytest.raises(TypeError, match="sample name or a file path"):
        load_image(42)
    with pytest.raises(ValueError, match="max_size"):
        load_image("chelsea", max_size=2)
    with pytest.raises(ValueError, match="kind must be"):
        sample_names("videos")
