"""The chair renderer of notebook 15: determinism, masks, recorded parameters, hand-computed
geometry and shading of a single box, mirror symmetry, the held-out split and bad input."""

import numpy as np
import pytest

from lecture_utils import chairs


def test_rendering_is_deterministic():
    a = chairs.render_chair(3, azimuth=37.0, elevation=22.0, size=32)
    b = chairs.render_chair(3, azimuth=37.0, elevation=22.0, size=32)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    d1 = chairs.make_dataset(size=24, styles=[0, 5], azimuths=[0.0, 90.0], elevations=[10.0])
    d2 = chairs.make_dataset(size=24, styles=[0, 5], azimuths=[0.0, 90.0], elevations=[10.0])
    assert np.array_equal(d1.images, d2.images) and np.array_equal(d1.masks, d2.masks)


def test_mask_marks_exactly_the_non_background_pixels():
    for style in (0, 2, 6, 11):
        img, mask = chairs.render_chair(style, azimuth=50.0, elevation=20.0, size=32)
        assert img.shape == (32, 32, 3) and mask.shape == (32, 32)
        assert img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
        assert 0 <= mask.min() and mask.max() == 1.0
        differs = np.abs(img - 1.0).max(-1) > 0  # background is white
        assert np.array_equal(mask > 0, differs)
        assert 0.05 < mask.mean() < 0.6  # a chair, not an empty or full frame


def test_parameters_are_recorded():
    data = chairs.make_dataset(size=16, styles=[1, 4], azimuths=[0.0, 120.0, 240.0], elevations=[10.0, 30.0])
    assert len(data) == 2 * 2 * 3
    assert data.style.tolist() == [1] * 6 + [4] * 6
    assert data.elevation.tolist() == ([10.0] * 3 + [30.0] * 3) * 2
    assert data.azimuth.tolist() == [0.0, 120.0, 240.0] * 4
    assert data.names == chairs.style_names() and len(data.names) == len(chairs.STYLES) == 12
    i = data.index(4, 240.0, 10.0)
    img, mask = chairs.render_chair(4, azimuth=240.0, elevation=10.0, size=16)
    assert np.array_equal(data.images[i], img) and np.array_equal(data.masks[i], mask)
    # the foreground is the image without the background, and composes back to the image
    fg = data.foreground()
    assert np.allclose(fg + (1 - data.masks[..., None]) * 1.0, data.images, atol=1e-6)
    assert np.all(fg[data.masks == 0] == 0)
    with pytest.raises(ValueError, match="no image"):
        data.index(4, 45.0, 10.0)
    sub = data.subset(data.style == 1)
    assert len(sub) == 6 and set(sub.style.tolist()) == {1}


def test_box_seen_from_the_front_has_the_hand_computed_extent_and_shade():
    # box 1.0 wide, 0.5 high, 0.2 deep at the origin; orthographic camera, image plane [-1, 1]^2 on 40 px
    box = [(chairs.box_vertices((0, 0, 0), (1.0, 0.5, 0.2)), np.array([0.8, 0.4, 0.2]))]
    light = np.array([0.0, 0.0, 1.0])
    img, mask = chairs.render_boxes(box, 0.0, 0.0, size=40, extent=1.0, distance=None, light=light)
    # |u| < 0.5 -> columns 10..29, |v| < 0.25 -> rows 15..24 (pixel edges fall exactly on the box edges)
    expected = np.zeros((40, 40))
    expected[15:25, 10:30] = 1
    assert np.array_equal(mask, expected)
    # front face, normal = light direction: shade = ambient + diffuse = 0.4 + 0.6 = 1
    assert np.allclose(img[15:25, 10:30], [0.8, 0.4, 0.2], atol=1e-6)
    assert np.all(img[mask == 0] == 1.0)
    # from the side (azimuth 90) the visible width is the depth 0.2 -> 4 columns; shade as before
    img90, mask90 = chairs.render_boxes(box, 90.0, 0.0, size=40, extent=1.0, distance=None, light=light)
    assert mask90.sum() == 4 * 10 and np.array_equal(np.flatnonzero(mask90.any(0)), np.arange(18, 22))
    # at 45 degrees the face is lit at cos 45: shade 0.4 + 0.6 * cos(45) on the brighter face
    img45, _ = chairs.render_boxes(
        box, 0.0, 0.0, size=40, extent=1.0, distance=None, light=(np.sin(np.pi / 4), 0, np.cos(np.pi / 4))
    )
    assert np.allclose(img45[20, 20], np.array([0.8, 0.4, 0.2]) * (0.4 + 0.6 * np.cos(np.pi / 4)), atol=1e-6)
    # perspective: the front face is closer than the origin, so it looks larger than in orthographic
    _, mask_p = chairs.render_boxes(box, 0.0, 0.0, size=40, extent=1.0, distance=2.0, light=light)
    assert mask_p.sum() > mask.sum()


def test_depth_order_nearer_box_wins():
    far = (chairs.box_vertices((0, 0, -0.5), (1.0, 1.0, 0.2)), np.array([1.0, 0.0, 0.0]))
    near = (chairs.box_vertices((0, 0, 0.5), (0.4, 0.4, 0.2)), np.array([0.0, 0.0, 1.0]))
    for boxes in ([far, near], [near, far]):  # the drawing order must not matter (z-buffer)
        img, _ = chairs.render_boxes(boxes, 0.0, 0.0, size=20, extent=1.0, light=(0, 0, 1))
        assert np.allclose(img[10, 10], [0, 0, 1]) and np.allclose(img[6, 10], [1, 0, 0])


def test_mirror_symmetry_of_views():
    # a chair is left-right symmetric: with a light on the symmetry plane, azimuth -a is the mirror of +a
    light = (0.0, 0.6, 0.8)
    for style in (0, 5):
        a, ma = chairs.render_chair(style, azimuth=40.0, elevation=20.0, size=32, light=light)
        b, mb = chairs.render_chair(style, azimuth=-40.0, elevation=20.0, size=32, light=light)
        assert np.allclose(a, b[:, ::-1], atol=1e-5) and np.allclose(ma, mb[:, ::-1], atol=1e-5)
    # orthographic, elevation 0: the silhouette from the back is the mirrored silhouette from the front
    _, front = chairs.render_chair(4, azimuth=0.0, elevation=0.0, size=32, distance=None)
    _, back = chairs.render_chair(4, azimuth=180.0, elevation=0.0, size=32, distance=None)
    assert np.array_equal(front, back[:, ::-1])
    # ... but the images differ (front: seat visible from the front, back: the back panel)
    img_f, _ = chairs.render_chair(0, azimuth=0.0, elevation=20.0, size=32)
    img_b, _ = chairs.render_chair(0, azimuth=180.0, elevation=20.0, size=32)
    assert np.abs(img_f - img_b[:, ::-1]).mean() > 0.01


def test_styles_and_arithmetic_pair():
    assert len(chairs.STYLES) == 12 and len(set(chairs.style_names())) == 12
    # styles 0 and 1 differ only by the armrests (4 boxes: 2 rests + 2 supports)
    assert len(chairs.chair_boxes(1)) == len(chairs.chair_boxes(0)) + 4
    assert chairs.chair_style(0, arms=True) == chairs.chair_style(1, name="kitchen")
    with_arms = chairs.chair_style(2, arms=True)
    assert with_arms.arms and with_arms.seat_color == chairs.STYLES[2].seat_color


def test_holdout_mask():
    data = chairs.make_dataset(size=8, styles=[0, 2], elevations=[20.0])
    held = chairs.holdout_mask(data, styles=[2], keep_every=4)
    assert held[data.style == 0].sum() == 0
    kept = data.azimuth[(data.style == 2) & ~held]
    assert kept.tolist() == [0.0, 40.0, 80.0, 120.0, 160.0, 200.0, 240.0, 280.0, 320.0]
    assert held.sum() == 36 - 9


def test_bad_input():
    with pytest.raises(ValueError, match="style id"):
        chairs.chair_style(12)
    with pytest.raises(ValueError, match="style id"):
        chairs.render_chair(-1)
    with pytest.raises(ValueError, match="unknown chair style fields"):
        chairs.chair_style(0, colour=(1, 0, 0))
    with pytest.raises(ValueError, match="back must be"):
        chairs.ChairStyle("x", back="cushion")
    with pytest.raises(ValueError, match="positive"):
        chairs.ChairStyle("x", seat_w=-0.1)
    with pytest.raises(ValueError, match="size"):
        chairs.render_chair(0, size=1)
    with pytest.raises(ValueError, match="light"):
        chairs.render_chair(0, size=8, light=(0, 0, 0))
    with pytest.raises(ValueError, match="3 positive sizes"):
        chairs.box_vertices((0, 0, 0), (1, 0, 1))
    with pytest.raises(ValueError, match="behind the camera"):
        chairs.render_chair(0, size=8, distance=0.1)
    with pytest.raises(ValueError, match="keep_every"):
        chairs.holdout_mask(chairs.make_dataset(size=8, styles=[0], azimuths=[0.0], elevations=[0.0]), [0], 0)
