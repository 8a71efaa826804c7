"""datasets.crop_pool: crops of the sample images or of the photo pool, never the same box twice."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lecture_utils.datasets import _boxes, crop_pool
from lecture_utils.photos import photo_labels, photo_manifest, photo_names, photo_pool


def test_the_grid_repeats_boxes_at_scale_one_and_the_pool_never_does():
    boxes = _boxes(384, 256, (1.0,))  # 1 position down (linspace(0, 0, 2) = [0, 0]), 2 across
    assert boxes == [(0, 0, 256, 256), (128, 0, 384, 256)] * 2
    crops, labels = crop_pool(size=16, per_image=3, sources=["chelsea"], scales=(1.0,))
    assert len(crops) == 2 and labels == ["chelsea"] * 2  # 4 grid boxes, 2 different: 2 crops, not 3
    assert not np.array_equal(crops[0], crops[1])
    for per_image in (2, 12, 20):  # the default pool (sample images), as notebooks 02 and 12 draw it
        crops, _ = crop_pool(size=24, per_image=per_image)
        assert len({c.tobytes() for c in crops}) == len(crops), per_image


def test_pool_photos_as_sources_with_labels_and_captions():
    names = photo_names(n=4, seed=5)
    assert names == [p.file for p in photo_pool(n=4, size=8, seed=5)[1]]  # the same draw as photo_pool
    crops, labels = crop_pool(size=32, per_image=2, sources=names + ["hokusai_great_wave"], seed=1)
    assert crops.shape == (10, 32, 32, 3) and crops.dtype == np.uint8
    assert labels == [n for n in names for _ in range(2)] + ["hokusai_great_wave"] * 2
    by_file = {p.file: p for p in photo_manifest()}
    assert photo_labels(labels[:2] + labels[-1:]) == [by_file[names[0]].label] * 2 + ["hokusai_great_wave"]
    # a name without .jpg and a Photo row give the same crops, labelled by the file name
    again, labels2 = crop_pool(size=32, per_image=2, sources=[names[0].removesuffix(".jpg"), by_file[names[1]]], seed=1)
    assert labels2 == labels[:4] and np.array_equal(again, crops[:4])


def test_crop_pool_is_reproducible_and_leaves_the_random_state():
    state = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    a, la = crop_pool(size=16, per_image=3, sources=photo_names(n=3), seed=7)
    b, lb = crop_pool(size=16, per_image=3, sources=photo_names(n=3), seed=7)
    assert np.array_equal(a, b) and la == lb
    assert not np.array_equal(a, crop_pool(size=16, per_image=3, sources=photo_names(n=3), seed=8)[0])
    assert torch.equal(state[0], torch.random.get_rng_state())
    assert np.array_equal(state[1], np.random.get_state()[1]) and state[2] == random.getstate()


@pytest.mark.parametrize(
    "call, exc, phrase",
    [
        (lambda: crop_pool(sources="chelsea"), TypeError, "sources must be a list"),
        (lambda: crop_pool(sources=[]), ValueError, "sources is empty"),
        (lambda: crop_pool(sources=["no_such_image"]), ValueError, "sources: no image 'no_such_image'"),
        (lambda: crop_pool(sources=[3]), TypeError, "sources must hold image names"),
        (lambda: crop_pool(sources=["chelsea", "chelsea"]), ValueError, "'chelsea' more than once"),
        (lambda: crop_pool(sources=["gcompris_cat", "gcompris_cat.jpg"]), ValueError, "more than once"),
        (lambda: crop_pool(scales=()), ValueError, "scales is empty"),
        (lambda: crop_pool(scales=0.5), TypeError, "scales must be a tuple"),
        (lambda: crop_pool(scales=(1.5,)), ValueError, "each of scales"),
        (lambda: crop_pool(per_image=1.0), TypeError, "per_image"),
        (lambda: crop_pool(seed=-1), ValueError, "seed must be an integer >= 0"),
        (lambda: photo_labels("gcompris_cat.jpg"), TypeError, "names must be a list"),
        (lambda: photo_labels([3]), TypeError, "names must hold str"),
        (lambda: photo_names(n=0), ValueError, "n must be"),
    ],
)
def test_bad_arguments_are_named(call, exc, phrase):
    with pytest.raises(exc, match=phrase):
        call()
