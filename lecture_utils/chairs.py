"""Procedurally rendered 3-D chairs: the data set of notebook 15.

Lecture section 15 «Генерация изображений по параметрам» (generating images from parameters).
Paper: Dosovitskiy, Springenberg & Brox (2015), "Learning to Generate Chairs with Convolutional
Neural Networks" (CVPR); extended as "Learning to Generate Chairs, Tables and Cars with Convolutional
Networks" (TPAMI 2017). The paper trains on 809 CAD chair models rendered from 62 views each. We cannot
ship those, so this module builds its own chairs out of boxes and renders them with a small numpy
software renderer -- every image comes with the exact parameters that produced it.

Model of a chair (world units, y up, the chair's front faces +z): a seat slab, four legs, and
optionally a back (solid panel, vertical slats or horizontal rails, possibly tilted), armrests and
stretchers between the legs. A *style* (:data:`STYLES`) is one fixed set of proportions and colours.

Camera: it looks at the origin from azimuth ``a`` and elevation ``e`` (degrees). ``a = 0`` looks at
the chair's front, ``a = 90`` at its +x side (the chair's left), ``e > 0`` from above. Perspective
projection (camera at distance ``distance``) or orthographic (``distance=None``); the image plane
spans ``[-extent, extent]`` world units in both directions.

Renderer: boxes -> 6 quads each, back faces culled, z-buffer on a supersampled grid (``ss`` x ``ss``
samples per pixel, averaged: anti-aliased edges and a soft coverage mask), Lambert shading
``colour * (ambient + diffuse * max(0, n . l))`` with the light fixed relative to the camera.

Everything is deterministic: the same arguments give bit-identical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from .checks import check_int, check_number, check_positive

__all__ = [
    "ChairStyle",
    "STYLES",
    "style_names",
    "chair_style",
    "chair_boxes",
    "box_vertices",
    "render_boxes",
    "render_chair",
    "ChairData",
    "make_dataset",
    "holdout_mask",
    "AZIMUTHS",
    "ELEVATIONS",
    "BACKGROUND",
    "CHAIR_SIZE",
]

BACKGROUND = (1.0, 1.0, 1.0)
"""Background colour (white, as the paper's renderings)."""

CHAIR_SIZE = 64
"""Image side in pixels of the data set and of the shipped generator (``upconv.ChairGenerator``)."""

AZIMUTHS = tuple(float(a) for a in range(0, 360, 10))
"""The 36 azimuths of the data set, degrees."""

ELEVATIONS = (10.0, 20.0, 30.0)
"""The 3 elevations of the data set, degrees."""

DEFAULT_LIGHT = (-0.45, 0.6, 0.66)
"""Light direction in camera coordinates (x right, y up, z towards the viewer): upper left front."""


@dataclass(frozen=True)
class ChairStyle:
    """Proportions (world units) and colours (RGB in [0, 1]) of one chair.

    ``back``: "solid" | "slats" (``n_bars`` vertical bars between two posts and a top rail) |
    "rails" (``n_bars`` horizontal rails between two posts) | "none". ``back_tilt`` in degrees
    (positive leans backwards). ``arms``: armrests on two posts; ``stretchers``: bars between the
    legs at ``stretcher_h`` of the leg height.
    """

    name: str
    seat_w: float = 0.46
    seat_d: float = 0.42
    seat_t: float = 0.06
    seat_h: float = 0.46
    leg_t: float = 0.05
    back: str = "solid"
    back_h: float = 0.46
    back_t: float = 0.05
    back_tilt: float = 5.0
    n_bars: int = 3
    arms: bool = False
    arm_h: float = 0.22
    arm_t: float = 0.05
    stretchers: bool = False
    stretcher_h: float = 0.3
    seat_color: tuple[float, float, float] = (0.72, 0.5, 0.3)
    frame_color: tuple[float, float, float] = (0.5, 0.32, 0.18)
    back_color: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.back not in ("solid", "slats", "rails", "none"):
            raise ValueError(f"back must be 'solid', 'slats', 'rails' or 'none', got {self.back!r}")
        sizes = (self.seat_w, self.seat_d, self.seat_t, self.seat_h, self.leg_t, self.back_t, self.arm_t)
        if min(sizes) <= 0:
            raise ValueError(f"{self.name}: all sizes must be positive")
        if self.back != "none" and self.back_h <= 0:
            raise ValueError(f"{self.name}: back_h must be positive for a back of type {self.back!r}")
        if self.n_bars < 1:
            raise ValueError(f"{self.name}: n_bars must be >= 1")


# One style per entry: the name, the fields that differ from :class:`ChairStyle`'s defaults, then the colours.
# fmt: off
STYLES: tuple[ChairStyle, ...] = (
    ChairStyle("kitchen"),
    ChairStyle("kitchen + arms", arms=True),
    ChairStyle("red cafe", seat_w=0.42, seat_d=0.4, leg_t=0.035, back="slats", back_h=0.42, n_bars=3,
               seat_color=(0.85, 0.18, 0.15), frame_color=(0.6, 0.1, 0.08)),
    ChairStyle("blue office", seat_w=0.5, seat_d=0.46, seat_t=0.08, seat_h=0.44, leg_t=0.06, back_h=0.6,
               back_t=0.07, back_tilt=10.0, arms=True, seat_color=(0.2, 0.35, 0.8), frame_color=(0.25, 0.25, 0.3)),
    ChairStyle("green farm", seat_h=0.44, back_h=0.3, back_tilt=0.0, stretchers=True,
               seat_color=(0.3, 0.65, 0.3), frame_color=(0.18, 0.42, 0.18)),
    ChairStyle("black tall", seat_w=0.44, seat_d=0.4, leg_t=0.04, back="slats", back_h=0.7, n_bars=5, back_tilt=8.0,
               seat_color=(0.25, 0.25, 0.28), frame_color=(0.12, 0.12, 0.14)),
    ChairStyle("yellow armchair", seat_w=0.62, seat_d=0.52, seat_t=0.12, seat_h=0.4, leg_t=0.08, back_h=0.36,
               back_t=0.1, back_tilt=12.0, arms=True, arm_h=0.2, arm_t=0.09,
               seat_color=(0.95, 0.78, 0.2), frame_color=(0.55, 0.4, 0.15)),
    ChairStyle("purple lounge", seat_w=0.5, seat_d=0.5, seat_h=0.36, back_h=0.5, back_tilt=22.0,
               seat_color=(0.6, 0.3, 0.75), frame_color=(0.35, 0.18, 0.45)),
    ChairStyle("teal bar", seat_w=0.38, seat_d=0.36, seat_h=0.7, leg_t=0.04, back_h=0.22, back_tilt=0.0,
               stretchers=True, stretcher_h=0.35, seat_color=(0.15, 0.65, 0.65), frame_color=(0.35, 0.35, 0.38)),
    ChairStyle("orange bench", seat_w=0.7, seat_d=0.4, seat_h=0.44, back="rails", back_h=0.34, n_bars=2, back_tilt=4.0,
               seat_color=(0.95, 0.5, 0.12), frame_color=(0.45, 0.28, 0.12)),
    ChairStyle("pink child", seat_w=0.34, seat_d=0.32, seat_t=0.05, seat_h=0.3, leg_t=0.045, back_h=0.3, back_tilt=3.0,
               seat_color=(0.95, 0.55, 0.7), frame_color=(0.75, 0.35, 0.5)),
    ChairStyle("grey ladder", seat_w=0.44, seat_d=0.42, leg_t=0.045, back="rails", back_h=0.62, n_bars=4, back_tilt=6.0,
               stretchers=True, seat_color=(0.62, 0.62, 0.64), frame_color=(0.38, 0.38, 0.42)),
)
# fmt: on
"""The 12 chair styles of the data set; a style id is an index into this tuple. Styles 0 and 1 differ
only by the armrests (used for feature arithmetic)."""


def style_names() -> list[str]:
    """Names of the styles, indexed by style id."""
    return [s.name for s in STYLES]


def chair_style(style: int | ChairStyle, **overrides: Any) -> ChairStyle:
    """A style by id (or a style), with some fields replaced, e.g. ``chair_style(2, arms=True)``."""
    if isinstance(style, ChairStyle):
        base = style
    else:
        if not isinstance(style, (int, np.integer)) or not 0 <= int(style) < len(STYLES):
            raise ValueError(f"style id must be an integer in [0, {len(STYLES) - 1}], got {style!r}")
        base = STYLES[int(style)]
    unknown = set(overrides) - set(ChairStyle.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown chair style fields {sorted(unknown)}")
    return replace(base, **overrides)


# ----------------------------------------------------------------------------------------------------
# geometry


def box_vertices(center: Sequence[float], size: Sequence[float]) -> np.ndarray:
    """The 8 corners (8, 3) of an axis-aligned box; corner ``4*ix + 2*iy + iz`` has coordinate
    ``center + (s_x, s_y, s_z) * size / 2`` with ``s = -1`` for index 0 and ``+1`` for index 1."""
    c, s = np.asarray(center, float), np.asarray(size, float)
    if c.shape != (3,) or s.shape != (3,) or (s <= 0).any():
        raise ValueError(f"a box needs a 3-D center and 3 positive sizes, got {c.tolist()}, {s.tolist()}")
    signs = np.array([[ix, iy, iz] for ix in (-1, 1) for iy in (-1, 1) for iz in (-1, 1)], float)
    return c + signs * s / 2


def _rot_x(deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def chair_boxes(style: int | ChairStyle) -> list[tuple[np.ndarray, np.ndarray]]:
    """The chair as a list of ``(vertices (8, 3), colour (3,))`` boxes in world coordinates.

    The floor is at ``y = -0.5`` (so a chair about 1 unit tall is centred on the origin); the seat is
    centred on the y axis.
    """
    st = chair_style(style)
    boxes: list[tuple[np.ndarray, np.ndarray]] = []
    frame = np.asarray(st.frame_color, float)
    seat_c = np.asarray(st.seat_color, float)
    back_c = np.asarray(st.back_color if st.back_color is not None else st.seat_color, float)
    y0 = -0.5
    top = y0 + st.seat_h  # top of the seat
    hw, hd, lt = st.seat_w / 2, st.seat_d / 2, st.leg_t

    def add(center, size, color, tilt=0.0, pivot=None):
        v = box_vertices(center, size)
        if tilt:
            p = np.asarray(pivot, float)
            v = (v - p) @ _rot_x(-tilt).T + p  # positive tilt leans the top backwards (towards -z)
        boxes.append((v, np.asarray(color, float)))

    # seat and legs
    add((0, top - st.seat_t / 2, 0), (st.seat_w, st.seat_t, st.seat_d), seat_c)
    leg_h = st.seat_h - st.seat_t
    for sx in (-1, 1):
        for sz in (-1, 1):
            add((sx * (hw - lt / 2), y0 + leg_h / 2, sz * (hd - lt / 2)), (lt, leg_h, lt), frame)
    if st.stretchers:
        ys = y0 + st.stretcher_h * leg_h
        bt = lt * 0.7
        for sx in (-1, 1):  # side stretchers (front-back)
            add((sx * (hw - lt / 2), ys, 0), (bt, bt, st.seat_d - 2 * lt), frame)
        add((0, ys + 1.5 * bt, 0), (st.seat_w - 2 * lt, bt, bt), frame)  # middle cross bar
    # back, leaning around its bottom edge at the back of the seat
    if st.back != "none":
        _add_back(add, st, top, frame, back_c)
    if st.arms:
        at = st.arm_t
        for sx in (-1, 1):
            x = sx * (hw - at / 2)
            add((x, top + st.arm_h - at / 2, -0.05 * st.seat_d), (at, at, st.seat_d * 0.85), frame)  # armrest
            add((x, top + (st.arm_h - at) / 2, hd * 0.6), (at * 0.8, st.arm_h - at, at * 0.8), frame)  # support
    return boxes


def _add_back(add: Any, st: ChairStyle, top: float, frame: np.ndarray, back_c: np.ndarray) -> None:
    """The chair's back (solid panel, vertical slats or horizontal rails), via ``add`` of :func:`chair_boxes`."""
    hw, hd, lt = st.seat_w / 2, st.seat_d / 2, st.leg_t
    bh, bt = st.back_h, st.back_t
    zc = -hd + bt / 2
    pivot = (0.0, top, -hd)
    if st.back == "solid":
        add((0, top + bh / 2, zc), (st.seat_w, bh, bt), back_c, st.back_tilt, pivot)
    else:
        post = max(lt, 0.04)
        for sx in (-1, 1):
            add((sx * (hw - post / 2), top + bh / 2, zc), (post, bh, bt), frame, st.back_tilt, pivot)
        inner = st.seat_w - 2 * post
        if st.back == "slats":
            rail = 0.08
            add((0, top + bh - rail / 2, zc), (inner, rail, bt), back_c, st.back_tilt, pivot)
            n = st.n_bars
            gap = inner / (2 * n + 1)  # bars and gaps of equal width
            for i in range(n):
                x = -inner / 2 + gap * (2 * i + 1.5)
                add((x, top + (bh - rail) / 2, zc), (gap, bh - rail, bt * 0.8), back_c, st.back_tilt, pivot)
        else:  # horizontal rails
            n = st.n_bars
            rail = bh / (2 * n)
            for i in range(n):
                y = top + bh - rail / 2 - i * 2 * rail
                add((0, y, zc), (inner, rail, bt * 0.8), back_c, st.back_tilt, pivot)


# faces of a box by corner index (see box_vertices); winding fixed to counter-clockwise from outside
_FACES = np.array([[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]])


def _camera_rotation(azimuth: float, elevation: float) -> np.ndarray:
    """World -> camera rotation: the camera at azimuth ``a`` / elevation ``e`` ends up on +z."""
    return _rot_x(elevation) @ _rot_y(-azimuth)


def render_boxes(
    boxes: Sequence[tuple[np.ndarray, np.ndarray]],
    azimuth: float = 0.0,
    elevation: float = 0.0,
    size: int = CHAIR_SIZE,
    extent: float = 0.8,
    distance: float | None = 4.0,
    ss: int = 3,
    background: Sequence[float] = BACKGROUND,
    light: Sequence[float] = DEFAULT_LIGHT,
    ambient: float = 0.4,
    diffuse: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """Render boxes (from :func:`chair_boxes` or hand-made) with a z-buffer and Lambert shading.

    Inputs: ``boxes`` list of (vertices (8, 3), colour (3,)); angles in degrees; ``size`` pixels;
    ``extent`` the half-width of the visible square in world units at the origin; ``distance`` of
    the camera from the origin (``None``: orthographic); ``ss`` samples per pixel per axis.
    Returns: ``image`` (size, size, 3) float32 in [0, 1] composited on ``background`` and ``mask``
    (size, size) float32 coverage in [0, 1] (0 exactly where no box covers any sample).
    """
    size, ss = check_int(size, "size", low=2), check_int(ss, "ss", low=1)
    extent = check_positive(extent, "extent")
    if distance is not None:
        distance = check_positive(distance, "distance")
    azimuth, elevation = check_number(azimuth, "azimuth"), check_number(elevation, "elevation")
    light = np.asarray(light, float)
    if light.shape != (3,) or np.linalg.norm(light) == 0:
        raise ValueError(f"light must be a non-zero 3-vector, got {light.tolist()}")
    light = light / np.linalg.norm(light)
    n = size * ss
    rot = _camera_rotation(azimuth, elevation)
    centers = (np.arange(n) + 0.5) / n * 2 - 1  # pixel centres in [-1, 1]
    gu = centers * extent  # screen u (right) of each column, in world units at the origin
    gv = -centers * extent  # screen v (up) of each row
    color = np.empty((n, n, 3))
    color[:] = np.asarray(background, float)
    depth = np.full((n, n), -np.inf)
    covered = np.zeros((n, n), bool)
    for verts, col in boxes:
        _draw_box(np.asarray(verts, float) @ rot.T, np.asarray(col, float), distance, light, ambient, diffuse,
                  (gu, gv), (color, depth, covered))  # fmt: skip
    image = color.reshape(size, ss, size, ss, 3).mean((1, 3))
    mask = covered.reshape(size, ss, size, ss).mean((1, 3))
    return image.astype(np.float32), mask.astype(np.float32)


def _draw_box(
    cam: np.ndarray,
    col: np.ndarray,
    distance: float | None,
    light: np.ndarray,
    ambient: float,
    diffuse: float,
    grid: tuple[np.ndarray, np.ndarray],
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Draw one box (corners ``cam`` (8, 3) in camera coordinates) into ``buffers`` = (colour,
    depth, covered) on the supersampled screen grid ``(u of each column, v of each row)``."""
    if distance is None:
        uv = cam[:, :2]
        q = cam[:, 2]  # larger = closer; affine in screen space
    else:
        if (cam[:, 2] >= distance * 0.99).any():
            raise ValueError("a box reaches behind the camera; increase distance")
        f = distance / (distance - cam[:, 2])
        uv = cam[:, :2] * f[:, None]
        q = 1.0 / (distance - cam[:, 2])  # 1/depth is affine in screen space
    faces = _FACES.copy()
    p3 = cam[faces]  # (6, 4, 3)
    normals = np.cross(p3[:, 1] - p3[:, 0], p3[:, 3] - p3[:, 0])
    flip = np.einsum("fk,fk->f", normals, p3.mean(1) - cam.mean(0)) < 0
    faces[flip] = faces[flip][:, ::-1]  # make the winding counter-clockwise seen from outside
    normals[flip] *= -1
    pts_all = uv[faces]  # (6, 4, 2)
    x, y = pts_all[..., 0], pts_all[..., 1]
    areas = 0.5 * (x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y).sum(1)
    unit_n = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    shades = ambient + diffuse * np.maximum(0.0, unit_n @ light)
    for fi in np.flatnonzero(areas > 1e-12):  # front faces only
        _draw_face(pts_all[fi], q[faces[fi]], np.clip(col * shades[fi], 0, 1), grid, buffers)


def _draw_face(
    pts: np.ndarray,
    q: np.ndarray,
    rgb: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Rasterize one convex quad (screen corners ``pts`` (4, 2), depth values ``q`` (4,)) with the z-buffer."""
    gu, gv = grid
    color, depth, covered = buffers
    # pixel range of the face's bounding box
    c0 = np.searchsorted(gu, pts[:, 0].min())
    c1 = np.searchsorted(gu, pts[:, 0].max(), side="right")
    r0 = np.searchsorted(-gv, -pts[:, 1].max())
    r1 = np.searchsorted(-gv, -pts[:, 1].min(), side="right")
    if c0 >= c1 or r0 >= r1:
        return
    U = gu[None, c0:c1]
    V = gv[r0:r1, None]
    inside = np.ones((r1 - r0, c1 - c0), bool)
    for k in range(4):
        a, b = pts[k], pts[(k + 1) % 4]
        inside &= (b[0] - a[0]) * (V - a[1]) - (b[1] - a[1]) * (U - a[0]) >= -1e-12
    # depth plane q = A u + B v + C through three corners
    A, B, C = np.linalg.solve(np.c_[pts[:3], np.ones(3)], q[:3])
    zbuf = depth[r0:r1, c0:c1]
    win = inside & (A * U + B * V + C > zbuf)
    if not win.any():
        return
    zbuf[win] = (A * U + B * V + C)[win]
    color[r0:r1, c0:c1][win] = rgb
    covered[r0:r1, c0:c1] |= win


def render_chair(
    style: int | ChairStyle,
    azimuth: float = 30.0,
    elevation: float = 20.0,
    size: int = CHAIR_SIZE,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one chair: ``(image (size, size, 3), mask (size, size))``; see :func:`render_boxes`."""
    return render_boxes(chair_boxes(style), azimuth=azimuth, elevation=elevation, size=size, **kwargs)


# ----------------------------------------------------------------------------------------------------
# the data set


@dataclass
class ChairData:
    """Rendered chairs with their generating parameters.

    ``images`` (N, H, W, 3) float32 in [0, 1] on white; ``masks`` (N, H, W) float32 coverage;
    ``style`` (N,) int64 style ids; ``azimuth``, ``elevation`` (N,) float32 degrees;
    ``names`` the style names (by id); ``background`` the RGB background.
    """

    images: np.ndarray
    masks: np.ndarray
    style: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    names: list[str]
    background: tuple[float, float, float] = BACKGROUND

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def foreground(self) -> np.ndarray:
        """The chair alone, premultiplied by its coverage: ``image - (1 - mask) * background``
        (N, H, W, 3); 0 on the background. This is the paper's target "image times mask"."""
        bg = np.asarray(self.background, np.float32)
        return np.clip(self.images - (1 - self.masks[..., None]) * bg, 0, 1)

    def index(self, style: int, azimuth: float, elevation: float) -> int:
        """Position of the image with these parameters (ValueError if it is not in the set)."""
        hit = np.flatnonzero(
            (self.style == style) & np.isclose(self.azimuth, azimuth) & np.isclose(self.elevation, elevation)
        )
        if len(hit) == 0:
            raise ValueError(f"no image with style {style}, azimuth {azimuth}, elevation {elevation}")
        return int(hit[0])

    def subset(self, keep: np.ndarray) -> ChairData:
        """The images selected by a boolean mask or index array."""
        return ChairData(
            self.images[keep],
            self.masks[keep],
            self.style[keep],
            self.azimuth[keep],
            self.elevation[keep],
            list(self.names),
            self.background,
        )


def make_dataset(
    size: int = CHAIR_SIZE,
    styles: Sequence[int] | None = None,
    azimuths: Sequence[float] = AZIMUTHS,
    elevations: Sequence[float] = ELEVATIONS,
    **kwargs: Any,
) -> ChairData:
    """Render every (style, elevation, azimuth) combination, in that nesting order.

    Inputs: ``size`` pixels; ``styles`` style ids (default all of :data:`STYLES`); angles in degrees;
    ``kwargs`` go to :func:`render_boxes`. Returns a :class:`ChairData` of
    ``len(styles) * len(elevations) * len(azimuths)`` images. 12 x 3 x 36 images at 64x64 take about ten
    seconds.
    """
    styles = list(range(len(STYLES))) if styles is None else [int(s) for s in styles]
    for s in styles:
        chair_style(s)  # validates the id
    if not len(azimuths) or not len(elevations) or not styles:
        raise ValueError("need at least one style, azimuth and elevation")
    images, masks, sid, az, el = [], [], [], [], []
    for s in styles:
        boxes = chair_boxes(s)
        for e in elevations:
            for a in azimuths:
                img, m = render_boxes(boxes, azimuth=a, elevation=e, size=size, **kwargs)
                images.append(img)
                masks.append(m)
                sid.append(s)
                az.append(a)
                el.append(e)
    return ChairData(
        np.stack(images),
        np.stack(masks),
        np.asarray(sid, np.int64),
        np.asarray(az, np.float32),
        np.asarray(el, np.float32),
        style_names(),
        tuple(kwargs.get("background", BACKGROUND)),
    )


def holdout_mask(data: ChairData, styles: Sequence[int], keep_every: int = 4) -> np.ndarray:
    """Boolean (N,) mask of the held-out images: for each style in ``styles`` only every
    ``keep_every``-th azimuth of :data:`AZIMUTHS` stays in training (at every elevation); all other
    views of those styles are held out. Other styles keep all their views."""
    keep_every = check_int(keep_every, "keep_every", low=1)
    for s in styles:
        chair_style(int(s))
    step = AZIMUTHS[1] - AZIMUTHS[0]
    az_index = np.rint(np.asarray(data.azimuth) / step).astype(int)
    return np.isin(data.style, list(styles)) & (az_index % keep_every != 0)
