"""The photo pool in data/photos: complete, checksummed, diverse, labelled, small enough to ship."""

import hashlib
import random

import numpy as np
import pytest
import torch
from PIL import Image

from lecture_utils.models import imagenet_classes
from lecture_utils.photos import load_photo, photo_dir, photo_manifest, photo_pool


@pytest.fixture(scope="module")
def manifest():
    return photo_manifest()


def test_pool_has_at_least_300_photos_from_several_packages(manifest):
    assert len(manifest) >= 300
    assert len({p.package for p in manifest}) >= 4
    assert len({p.file for p in manifest}) == len(manifest), "file names are unique"


def test_every_file_matches_its_sha256_and_the_folder_has_no_stray_files(manifest):
    for p in manifest:
        assert hashlib.sha256((photo_dir() / p.file).read_bytes()).hexdigest() == p.sha256, p.file
    on_disk = {f.name for f in photo_dir().glob("*.jpg")}
    assert on_disk == {p.file for p in manifest}


def test_photos_are_256_px_jpegs_within_15_mb(manifest):
    total = 0
    for p in manifest:
        path = photo_dir() / p.file
        total += path.stat().st_size
        with Image.open(path) as im:
            assert im.format == "JPEG" and im.mode == "RGB", p.file
            assert min(im.size) == 256 and max(im.size) <= 384, (p.file, im.size)
    assert total <= 15e6, f"{total / 1e6:.1f} MB"


def test_labels_are_imagenet_classes_and_diverse(manifest):
    classes = imagenet_classes()
    for p in manifest:
        assert classes[p.label_index] == p.label, p.file
        assert 0 < p.probability <= 1
    assert len({p.label for p in manifest}) >= 100
    assert max(sum(q.label == p.label for q in manifest) for p in manifest) <= 5


def test_every_photo_has_provenance(manifest):
    for p in manifest:
        assert p.package and p.version and p.original_path.startswith("/") and p.licence, p.file


def test_photo_pool_crops_and_leaves_random_state(manifest):
    state = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    images, rows = photo_pool(n=5, size=64, seed=3)
    assert images.shape == (5, 64, 64, 3) and images.dtype == np.uint8 and len(rows) == 5
    again, rows2 = photo_pool(n=5, size=64, seed=3)
    assert np.array_equal(images, again) and rows == rows2
    assert images.std() > 10, "real photos, not blank crops"
    assert torch.equal(state[0], torch.random.get_rng_state())
    assert np.array_equal(state[1], np.random.get_state()[1]) and state[2] == random.getstate()


def test_load_photo_by_name_with_or_without_suffix(manifest):
    first = manifest[0].file
    a, b = load_photo(first, verify=True), load_photo(first.removesuffix(".jpg"))
    assert a.size == b.size and a.mode == "RGB"


@pytest.mark.parametrize(
    "call, exc, phrase",
    [
        (lambda: load_photo("no_such_photo"), ValueError, "no photo 'no_such_photo'"),
        (lambda: load_photo(3), TypeError, "name must be"),
        (lambda: photo_pool(n=0), ValueError, "n must be"),
        (lambda: photo_pool(n=10**6), ValueError, "n must be"),
        (lambda: photo_pool(size=4), ValueError, "size must be"),
        (lambda: photo_pool(size=64.5), TypeError, "size must be"),
    ],
)
def test_bad_arguments_are_named(call, exc, phrase):
    with pytest.raises(exc, match=phrase):
        call()
