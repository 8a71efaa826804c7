"""Figure content: each image-drawing function of ``plot`` draws a known input, the canvas is read
back (``fig.canvas.buffer_rgba()``) and the colour at a known place is checked.

A panel is read back through its axes' window extent; with ``imshow``'s equal aspect the axes box
is the image, so the top-left ninth of a 3x3 image is the top-left pixel of the input.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lecture_utils import plot

RED = np.array([1.0, 0.0, 0.0])
GREEN = np.array([0.0, 1.0, 0.0])
BLUE = np.array([0.0, 0.0, 1.0])
BLACK = np.zeros(3)
# A 3x3 RGB kernel: red top-left, green top-right, blue bottom-middle, black elsewhere. (Red alone
# in the corner is not enough: the old double permutation maps pixel (0, 0) of channel 0 to itself.)
KERNEL_COLOURS = {(0, 0): RED, (0, 2): GREEN, (2, 1): BLUE}


def panel(fig: plt.Figure, ax: plt.Axes) -> np.ndarray:
    """The pixels of one axes as an (h, w, 3) float array in [0, 1] (top row first)."""
    fig.canvas.draw()
    buf = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255.0
    box = ax.get_window_extent()
    height = buf.shape[0]
    x0, x1 = int(np.ceil(box.x0)), int(np.floor(box.x1))
    y0, y1 = int(np.ceil(height - box.y1)), int(np.floor(height - box.y0))
    return buf[y0:y1, x0:x1]


def cell(img: np.ndarray, i: int, j: int, n: int, m: int | None = None) -> np.ndarray:
    """Mean colour of the middle of cell (i, j) of an n x m grid laid over ``img``."""
    m = m or n
    h, w = img.shape[:2]
    top, left = int((i + 0.25) * h / n), int((j + 0.25) * w / m)
    bottom, right = int((i + 0.75) * h / n), int((j + 0.75) * w / m)
    return img[top:bottom, left:right].reshape(-1, 3).mean(0)


def red_corner_kernel(bgr: bool = False) -> torch.Tensor:
    """One 3x3 filter (1, 3, 3, 3) with the colours of ``KERNEL_COLOURS`` (input channels in BGR
    order with ``bgr``)."""
    w = torch.zeros(1, 3, 3, 3)
    for (i, j), colour in KERNEL_COLOURS.items():
        c = int(np.argmax(colour))
        w[0, 2 - c if bgr else c, i, j] = 1.0
    return w


def assert_kernel_drawn(img: np.ndarray) -> None:
    for i in range(3):
        for j in range(3):
            want = KERNEL_COLOURS.get((i, j), BLACK)
            assert np.allclose(cell(img, i, j, 3), want, atol=0.05), ((i, j), cell(img, i, j, 3))


def image_axes(fig: plt.Figure) -> list[plt.Axes]:
    return [ax for ax in fig.axes if ax.images]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_filter_grid_draws_a_kernel_row_as_a_row_not_as_colour():
    fig = plot.filter_grid(red_corner_kernel(), ncols=1)
    assert_kernel_drawn(panel(fig, image_axes(fig)[0]))


def test_filter_grid_bgr_flips_the_input_channels():
    fig = plot.filter_grid(red_corner_kernel(bgr=True), ncols=1, channel_order="bgr")
    assert_kernel_drawn(panel(fig, image_axes(fig)[0]))
    with pytest.raises(ValueError, match="channel_order"):
        plot.filter_grid(red_corner_kernel(), channel_order="brg")


def test_filter_evolution_draws_rgb_kernels_in_place():
    fig = plot.filter_evolution({0: red_corner_kernel(), 1: red_corner_kernel()}, n_filters=1)
    assert len(image_axes(fig)) == 2
    for ax in image_axes(fig):
        assert_kernel_drawn(panel(fig, ax))


def test_to_array_layout_is_explicit():
    hwc = np.zeros((3, 3, 3))
    hwc[0, 0, 0] = 1.0
    assert np.array_equal(plot.to_array(hwc), hwc)  # an array is never permuted
    assert np.array_equal(plot.to_array(torch.as_tensor(hwc), layout="hwc"), hwc)
    chw = torch.as_tensor(hwc).permute(2, 0, 1)
    assert np.array_equal(plot.to_array(chw, layout="chw"), hwc)
    with pytest.raises(ValueError, match="layout="):
        plot.to_array(chw)  # a 3x3x3 tensor is ambiguous
    assert plot.to_array(torch.zeros(1, 3, 5, 7)).shape == (5, 7, 3)
    with pytest.raises(ValueError, match="layout"):
        plot.to_array(hwc, layout="whc")


# --------------------------------------------------------------------------- every image-drawing function

# A 4x4 RGB marker: red top-left, green top-right, blue in the bottom row (column 1), black elsewhere.
MARKER_COLOURS = {(0, 0): RED, (0, 3): GREEN, (3, 1): BLUE}


def marker(n: int = 4) -> np.ndarray:
    """An (4k, 4k, 3) image of the 4x4 marker, each marker pixel k x k (k = n // 4)."""
    k = n // 4
    a = np.zeros((4, 4, 3))
    for (i, j), colour in MARKER_COLOURS.items():
        a[i, j] = colour
    return np.kron(a, np.ones((k, k, 1)))


def peak_map(i: int = 3, j: int = 0, n: int = 4) -> np.ndarray:
    """An (n, n) map, 0 except 1 at (i, j)."""
    m = np.zeros((n, n))
    m[i, j] = 1.0
    return m


def assert_marker(img: np.ndarray, atol: float = 0.08) -> None:
    for i in range(4):
        for j in range(4):
            want = MARKER_COLOURS.get((i, j), BLACK)
            got = cell(img, i, j, 4)
            assert np.allclose(got, want, atol=atol), ((i, j), got, want)


def assert_peak(img: np.ndarray, i: int, j: int, hi: Any, lo: Any, n: int = 4, atol: float = 0.08) -> None:
    """The cell (i, j) of an n x n map has colour ``hi``, every other cell ``lo``."""
    for a in range(n):
        for b in range(n):
            want = np.asarray(hi if (a, b) == (i, j) else lo)[:3]
            got = cell(img, a, b, n)
            assert np.allclose(got, want, atol=atol), ((a, b), got, want)


def over_black(cmap: str, v: float, alpha: float) -> np.ndarray:
    """The colour of value ``v`` of ``cmap`` laid with opacity ``alpha`` over black."""
    return alpha * np.asarray(plt.get_cmap(cmap)(v)[:3])


WHITE = np.ones(3)


def image_panels(fig: plt.Figure) -> list[np.ndarray]:
    return [panel(fig, ax) for ax in image_axes(fig)]


MARKER_FIGURES = {
    "show_images": lambda: plot.show_images([marker(), marker()], titles=["a", "b"]),
    "show_images_tensor": lambda: plot.show_images([torch.as_tensor(marker()).permute(2, 0, 1)[None]]),
    "compare": lambda: plot.compare({"a": marker(), "b": marker()}),
    "compare_wide": lambda: plot.compare_wide({"a": marker()}),
    "panel_rows": lambda: plot.panel_rows({"r": {"x": marker()}, "s": {"x": marker()}}),
    "attribution_rows": lambda: plot.attribution_rows({"r": {"x": marker()}}),
    "captioned_rows": lambda: plot.captioned_rows({"r": [(marker(), "a"), (marker(), "b")]}),
    "image_rows": lambda: plot.image_rows({"r": [(marker(), "a\nb")], "s": [(marker(), "")]}),
    "marked_image_rows": lambda: plot.marked_image_rows({"r": [marker(), None]}, highlight=[True, False]),
    "image_table": lambda: plot.image_table([[marker(), marker()]], ["r"], ["a", "b"]),
    "patches_and_projections": lambda: plot.patches_and_projections([("u", [marker()] * 2, [marker()])]),
    "patch_rows": lambda: plot.patch_rows({"u": ([marker(8)] * 2, [2.0, 1.0])}, fmt=""),
    "neighbour_rows": lambda: plot.neighbour_rows([marker()], {"g": [[marker(), marker()]]}),
    "feature_vis_rows": lambda: plot.feature_vis_rows({"u": {"min": [marker()], "positive": marker()}}),
    "sr_zoom_comparison": lambda: plot.sr_zoom_comparison({"a": marker(16)}, (0, 0, 16)),
    "stylized_gallery": lambda: plot.stylized_gallery(marker(), {"a": (marker(), marker())}, inset=0.01),
    "activation_layers": lambda: plot.activation_layers(marker(), {"l": torch.rand(2, 3, 3)}),
    "dictionary_entries": lambda: plot.dictionary_entries(
        marker(), (4, 4), [{"position": (1, 1), "top": [(0, 1.0)], "icons": [marker()]}]
    ),
}


@pytest.mark.parametrize("name", sorted(MARKER_FIGURES))
def test_images_are_drawn_upright_in_their_colours(name):
    fig = MARKER_FIGURES[name]()
    panels = image_panels(fig)
    if name in ("stylized_gallery", "activation_layers", "dictionary_entries"):
        panels = panels[:1]  # the photo / input; the rest is checked elsewhere
    assert panels
    for img in panels:
        assert_marker(img)


@pytest.mark.parametrize(
    ("name", "make", "cmap", "alpha"),
    [
        ("overlay", lambda m: plot.overlay(np.zeros((4, 4, 3)), m, alpha=0.5), "jet", 0.5),
        ("compare", lambda m: plot.compare({"m": m}, image=np.zeros((4, 4, 3))), "jet", 0.5),
        ("map_rows", lambda m: plot.map_rows([np.zeros((4, 4, 3))], {"r": [m]}), "viridis", 0.6),
    ],
)
def test_maps_over_an_image_peak_in_place(name, make, cmap, alpha):
    fig = make(peak_map(3, 0))
    (img,) = image_panels(fig)
    assert_peak(img, 3, 0, over_black(cmap, 1.0, alpha), over_black(cmap, 0.0, alpha))


@pytest.mark.parametrize(
    ("name", "make", "hi", "lo"),
    [
        ("show_images", lambda m: plot.show_images([m]), WHITE, BLACK),
        ("compare", lambda m: plot.compare({"m": m}), WHITE, BLACK),
        ("panel_rows", lambda m: plot.panel_rows({"r": {"m": m}}, percentile=100), WHITE, BLACK),
        ("signed_maps", lambda m: plot.signed_maps({"m": m - m[::-1, ::-1]}), plt.get_cmap("RdBu_r")(1.0), None),
        ("marked_image_rows", lambda m: plot.marked_image_rows({"r": [m]}), WHITE, BLACK),
        ("captioned_rows", lambda m: plot.captioned_rows({"r": [(m, "m")]}), WHITE, BLACK),
        ("unit_view", lambda m: plot.unit_view(marker(), m, [], []), WHITE, BLACK),
        ("rule_tables", lambda m: plot.rule_tables({"m": m}, fmt=""), plt.get_cmap("RdBu_r")(1.0), WHITE),
        ("distance_matrix", lambda m: plot.distance_matrix(m, list("abcd"), fmt=""), plt.get_cmap("magma_r")(1.0),
         plt.get_cmap("magma_r")(0.0)),
        ("labelled_matrix", lambda m: plot.labelled_matrix(m + 0.5, list("abcd"), list("abcd"), fmt="", log=False),
         plt.get_cmap("viridis_r")(1.0), plt.get_cmap("viridis_r")(0.0)),
        ("gram_heatmaps", lambda m: plot.gram_heatmaps({"g": m}), plt.get_cmap("magma")(1.0),
         plt.get_cmap("magma")(0.0)),
    ],
)  # fmt: skip
def test_maps_peak_in_place(name, make, hi, lo):
    fig = make(peak_map(3, 0))
    img = image_panels(fig)[0]
    if lo is None:  # a signed map: the mirrored cell is the negative end
        assert np.allclose(cell(img, 3, 0, 4), np.asarray(hi)[:3], atol=0.08)
        assert np.allclose(cell(img, 0, 3, 4), np.asarray(plt.get_cmap("RdBu_r")(0.0))[:3], atol=0.08)
        assert np.allclose(cell(img, 1, 1, 4), np.asarray(plt.get_cmap("RdBu_r")(0.5))[:3], atol=0.08)
    else:
        assert_peak(img, 3, 0, hi, lo)


def test_activation_mosaic_puts_each_channel_in_its_tile():
    maps = torch.zeros(4, 2, 2)
    maps[3, 1, 0] = 1.0  # last channel (bottom-right tile of 2x2), its bottom-left pixel
    fig = plot.activation_mosaic(maps, ncols=2, vmax=1.0, max_tile=None)
    img = image_panels(fig)[0]  # 2 tiles of 2 px + 3 separator lines per side: a 7 x 7 grid
    assert np.allclose(cell(img, 5, 4, 7), WHITE, atol=0.1)
    assert np.allclose(cell(img, 1, 1, 7), BLACK, atol=0.1)
    assert np.allclose(cell(img, 0, 0, 7), (0.23, 0.35, 0.6), atol=0.1)  # separator


def test_occlusion_maps_sit_at_the_occluder_centres():
    m = np.zeros((2, 2))
    m[1, 0] = 1.0
    spec = {"map": m, "rows": [0, 2], "cols": [0, 2], "window": 2, "stride": 2}
    fig = plot.occlusion_maps(marker(), {"p": spec}, cmap="gray")
    image, occ = image_panels(fig)
    assert_marker(image)
    assert_peak(occ, 1, 0, WHITE, BLACK, n=2)
    row = {"image": marker(), "rows": [0, 2], "cols": [0, 2], "window": 2, "stride": 2, "prob": m,
           "labels": np.zeros((2, 2), int)}  # fmt: skip
    fig = plot.occlusion_figure([row], cmap="gray")
    prob = image_panels(fig)[1]
    assert_peak(prob, 1, 0, WHITE, BLACK, n=2)


def test_semantic_grid_puts_each_icon_in_its_cell():
    icons = {0: np.zeros((16, 16, 3)), 1: np.tile(RED, (16, 16, 1))}  # gaps of 2 px are small beside them
    channels = np.array([[0, 0], [1, 0]])
    fig = plot.semantic_grid(marker(), channels, icons, label=False)
    image, canvas = image_panels(fig)
    assert_marker(image)
    assert np.allclose(cell(canvas, 1, 0, 2), RED, atol=0.1)
    assert np.allclose(cell(canvas, 0, 1, 2), BLACK, atol=0.1)


def test_semantic_grid_draws_weak_icons_at_full_opacity_with_a_strength_bar():
    icons = {0: np.tile(BLUE, (32, 32, 1)), 1: np.tile(RED, (32, 32, 1))}
    channels = np.array([[0, 1], [1, 0]])
    strength = np.array([[1.0, 0.1], [0.5, 0.0]])
    fig = plot.semantic_grid(marker(), channels, icons, strength, label=False)
    _, canvas = image_panels(fig)
    h, w = canvas.shape[:2]
    for (i, j), c in np.ndenumerate(channels):  # the icon's middle: its own colour however weak the position
        top, left = int((i + 0.3) * h / 2), int((j + 0.3) * w / 2)
        bottom, right = int((i + 0.6) * h / 2), int((j + 0.7) * w / 2)
        assert np.allclose(canvas[top:bottom, left:right].reshape(-1, 3).mean(0), icons[c][0, 0], atol=0.1)
    # canvas 80 x 70 px: gap 2, icon 32, white line 1, bar max(3, 32 // 8) = 4; row 0's bars are rows 35-38
    bar_row = int(36.5 / 80 * h)
    orange = np.array(plot.part1_weights_and_attribution.STRENGTH_BAR_COLOUR)
    row = canvas[bar_row]
    assert np.allclose(row[int(0.1 * w)], orange, atol=0.1)  # strength 1: filled from left to right
    assert np.allclose(row[int(0.4 * w)], orange, atol=0.1)
    assert np.allclose(row[int(37.5 / 70 * w)], orange, atol=0.15)  # strength 0.1: 3 of 32 px, at the left
    assert not np.allclose(row[int(0.8 * w)], orange, atol=0.15)
    plt.close(fig)


def test_thumbnail_map_draws_each_thumbnail_where_its_point_is():
    points = np.array([[0.0, 0.0], [1.0, 1.0]])  # bottom-left and top-right
    thumbs = [np.tile(RED, (4, 4, 1)), np.tile(BLUE, (4, 4, 1))]
    img = image_panels(plot.thumbnail_map(points, thumbs, grid=2))[0]
    assert np.allclose(cell(img, 1, 0, 2), RED, atol=0.1)
    assert np.allclose(cell(img, 0, 1, 2), BLUE, atol=0.1)
    assert np.allclose(cell(img, 0, 0, 2), WHITE, atol=0.1)


def test_perceptual_loss_diagram_draws_the_photo_upright():
    rows = [{"layer": "conv", "output": (8, 4, 4)}]
    fig = plot.perceptual_loss_diagram(rows, rows, marker(), marker(), marker(), "conv", ["conv"])
    ax = fig.axes[0]
    fig.canvas.draw()
    buf = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255.0
    (x0, y0), (x1, y1) = ax.transData.transform([(0.0, 4.55 + 0.65), (1.3, 4.55 - 0.65)])  # the photo's extent
    h = buf.shape[0]
    assert_marker(buf[int(h - y0) + 1 : int(h - y1) - 1, int(x0) + 1 : int(x1) - 1])


# --------------------------------------------------------------------------- blank panels

BLANK_FIGURES = {
    "show_images": lambda grey, **kw: plot.show_images([marker(), grey], titles=["ok", "x"], **kw),
    "compare": lambda grey, **kw: plot.compare({"ok": marker(), "x": grey}, **kw),
    "compare_map": lambda grey, **kw: plot.compare({"x": grey[..., 0]}, image=marker(), **kw),
    "overlay": lambda grey, **kw: plot.overlay(marker(), grey[..., 0], title="x", **kw),
    "panel_rows": lambda grey, **kw: plot.panel_rows({"r": {"ok": marker(), "x": grey[..., 0]}}, **kw),
    "attribution_rows": lambda grey, **kw: plot.attribution_rows({"r": {"ok": marker(), "x": grey[..., 0]}}, **kw),
    "map_rows": lambda grey, **kw: plot.map_rows(marker(), {"r": [grey[..., 0]]}, col_titles=["x"], **kw),
    "captioned_rows": lambda grey, **kw: plot.captioned_rows({"r": [(grey, "x")]}, **kw),
    "image_rows": lambda grey, **kw: plot.image_rows({"r": [(grey, "x")]}, **kw),
    "marked_image_rows": lambda grey, **kw: plot.marked_image_rows({"r": [grey]}, **kw),
    "image_table": lambda grey, **kw: plot.image_table([[grey]], ["r"], ["x"], **kw),
    "filter_grid": lambda grey, **kw: plot.filter_grid(np.zeros((1, 3, 3, 3)), **kw),
    "filter_evolution": lambda grey, **kw: plot.filter_evolution({0: np.zeros((1, 3, 3, 3))}, **kw),
    "signed_maps": lambda grey, **kw: plot.signed_maps({"x": np.zeros((4, 4))}, **kw),
    "patches_and_projections": lambda grey, **kw: plot.patches_and_projections([("u", [grey], [marker()])], **kw),
    "occlusion_maps": lambda grey, **kw: plot.occlusion_maps(
        marker(), {"x": {"map": np.ones((2, 2)), "rows": [0, 2], "cols": [0, 2], "window": 2, "stride": 2}},
        vmin=0, vmax=1, **kw),
    "semantic_grid": lambda grey, **kw: plot.semantic_grid(grey, np.zeros((2, 2), int), {0: marker()}, **kw),
    "dictionary_entries": lambda grey, **kw: plot.dictionary_entries(
        grey, (2, 2), [{"position": (0, 0), "top": [(0, 1.0)], "icons": [marker()]}], **kw),
    "activation_mosaic": lambda grey, **kw: plot.activation_mosaic(torch.zeros(2, 3, 3), **kw),
    "activation_layers": lambda grey, **kw: plot.activation_layers(grey, {"l": torch.rand(2, 3, 3)}, **kw),
    "patch_rows": lambda grey, **kw: plot.patch_rows({"u": ([grey], [1.0])}, **kw),
    "unit_view": lambda grey, **kw: plot.unit_view(marker(), np.zeros((3, 3)), [], [], **kw),
    "neighbour_rows": lambda grey, **kw: plot.neighbour_rows([marker()], {"g": [[grey]]}, **kw),
    "thumbnail_map": lambda grey, **kw: plot.thumbnail_map(np.zeros((1, 2)), [np.ones((3, 3))], grid=2, **kw),
    "feature_vis_rows": lambda grey, **kw: plot.feature_vis_rows({"u": {"positive": grey}}, **kw),
    "sr_zoom_comparison": lambda grey, **kw: plot.sr_zoom_comparison({"x": grey}, (0, 0, 2), **kw),
    "stylized_gallery": lambda grey, **kw: plot.stylized_gallery(marker(), {"x": (grey, marker())}, **kw),
    "perceptual_loss_diagram": lambda grey, **kw: plot.perceptual_loss_diagram(
        [{"layer": "c", "output": (8, 4, 4)}], [{"layer": "c", "output": (8, 4, 4)}], grey, marker(), marker(),
        "c", ["c"], **kw),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BLANK_FIGURES))
def test_a_constant_panel_raises_unless_allowed(name):
    grey = np.full((4, 4, 3), 0.5)
    with pytest.raises(ValueError, match=r"is constant \(all .*\): nothing to see; pass allow_blank=True"):
        BLANK_FIGURES[name](grey)
    assert isinstance(BLANK_FIGURES[name](grey, allow_blank=True), plt.Figure)


def test_allow_blank_names_the_panels_that_may_be_blank():
    grey = np.full((4, 4, 3), 0.5)
    with pytest.raises(ValueError, match="panel 'x' is constant"):
        plot.show_images([grey, grey], titles=["y", "x"], allow_blank={"y"})
    plot.show_images([grey, marker()], titles=["y", "x"], allow_blank={"y"})
    plot.panel_rows({"r": {"x": grey}, "s": {"x": marker()}}, allow_blank={"r"})  # a whole row
    plot.panel_rows({"r": {"x": grey}, "s": {"x": marker()}}, allow_blank={"r/x"})  # one cell
    with pytest.raises(ValueError, match="panel 's/x'"):
        plot.panel_rows({"r": {"x": marker()}, "s": {"x": grey}}, allow_blank={"r/x"})


def test_faint_but_visible_panels_pass():
    faint = np.full((4, 4, 3), 0.5)
    faint[0, 0] += 2 / 255  # two grey levels: visible
    plot.show_images([faint])
    tiny = np.zeros((4, 4))
    tiny[0, 0] = 1e-9  # a map is min-max scaled: any spread is visible
    plot.show_images([tiny])
    with pytest.raises(ValueError, match="constant"):
        plot.show_images([np.full((4, 4, 3), 0.5) + np.eye(4)[..., None] * 0.2 / 255])  # < 1 grey level


def test_all_lists_exactly_the_public_names():
    import importlib
    import inspect

    public = set()
    for sub in [
        "core",
        "images",
        "curves",
        "matrices",
        "part1_weights_and_attribution",
        "part2_units_and_features",
        "part3_synthesis",
    ]:
        mod = importlib.import_module(f"lecture_utils.plot.{sub}")
        own = {
            n
            for n, o in vars(mod).items()
            if not n.startswith("_") and (inspect.isfunction(o) or inspect.isclass(o)) and o.__module__ == mod.__name__
        }
        assert own == set(mod.__all__), (sub, own ^ set(mod.__all__))
        public |= own
    assert public == set(plot.__all__)
    assert all(callable(getattr(plot, n)) for n in plot.__all__)


def test_allow_blank_takes_one_name_as_a_string():
    grey = np.full((4, 4, 3), 0.5)
    plot.show_images([grey], titles=["x"], allow_blank="x")
    with pytest.raises(ValueError, match="panel 'x'"):
        plot.show_images([grey], titles=["x"], allow_blank="xy")  # a name, not letters


def test_line_panel_draws_each_series_with_its_style():
    fig, ax = plt.subplots()
    plot.line_panel(ax, {"a": ([1, 2], [3, 4]), "b": ([0, 5], [1, 1])}, styles={"b": {"color": "red"}}, logy=True)
    a, b = ax.get_lines()
    assert a.get_label() == "a" and np.array_equal(a.get_xydata(), [[1, 3], [2, 4]])
    assert b.get_color() == "red" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="curve 'c'"):
        plot.line_panel(ax, {"c": ([1, 2, 3], [1, 2])})


def test_annotated_matrix_writes_each_value_in_its_cell():
    fig, ax = plt.subplots()
    plot.annotated_matrix(ax, np.array([[1.0, 2.0], [3.0, 4.0]]), "{:.0f}", row_labels=["r0", "r1"])
    texts = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert texts == {((0, 0), "1"), ((1, 0), "2"), ((0, 1), "3"), ((1, 1), "4")}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["r0", "r1"] and len(ax.get_xticks()) == 0
