"""Teachers' tool: the notebooks as RISE slides (classic RISE 5.7 on nbclassic) that fit a 1280x720 projector.

``python tools/slides.py apply notebooks/*.ipynb``    set the slide metadata (nothing else changes in the files)
``python tools/slides.py check notebooks/*.ipynb``    exit 1 with a list when metadata is missing or a slide overflows
``python tools/slides.py present notebooks/NN_x.ipynb``  open one notebook, ready to present (``make slides``)

Rules of :func:`assign` (``cell.metadata.slideshow.slide_type`` of every cell, in this order):

1. **skip** -- plumbing the lecture never shows: a code cell of imports only (and ``%magics``); a short markdown
   caption (<= 2 lines, no heading) right before such a cell ("Imports. ..."); the final
   ``widgets.exercise_all()`` cell; the homework check cells (nbgrader ``grade: true``: one call of
   ``homework.check`` plus the hidden-test asserts, grading machinery); long helper definitions
   (> :data:`LONG_CODE_LINES` lines, no output, only ``def``/``class``/imports at top level, not a homework
   solution). Skipped cells stay in the notebook; Cell > Run All before the slideshow (Alt-R) runs them too,
   since the slideshow's Shift-Enter runs only the cells it shows.
2. **slide** -- the title cell (cell 0) and every markdown cell whose first line is a ``#`` or ``##`` heading.
3. **subslide** -- a markdown cell starting with ``###`` (or deeper); any other code cell longer than
   :data:`LONG_CODE_LINES` lines (the teacher reaches it with the down/space key, or passes it).
4. **subslide** for every cell whose output holds a figure (``image/png``) or a widget
   (``application/vnd.jupyter.widget-view+json``): it starts its own sub-slide, except that the markdown cell
   right before it stays with it when both fit on one slide (then the markdown starts the sub-slide, or stays
   the slide's heading).
5. **-** (continue the current slide) for everything else. Fragments are not used: every key press shows a whole
   slide, so a teacher never has to count presses.
6. Split: walking the shown cells, when adding a cell would make the current slide taller than
   :data:`BUDGET_H` (720 px minus margins, estimated by :func:`cell_height`), that cell starts a new sub-slide
   (or the short markdown right before it, which then stays with it). A cell taller than the budget on its own
   cannot be split by metadata: :func:`check` reports it; figures are never changed here, notebooks/rise.css
   scales them.

The notebook-level ``metadata.rise`` gets :data:`RISE_SETTINGS` (1280x720, no margin, no scrolling, the
"white" theme: black on white reads best on a projector and, unlike RISE's default "simple", its font ships
with RISE, so nothing is fetched from a font CDN; no transitions; the slideshow starts at the first slide).
RISE 5.7 reads that metadata only when the notebook loaded before RISE did (a race at page load), so
:func:`present` also gives the server the same settings (:func:`server_config`).
Notebook metadata ``rise.autolaunch`` is not set: it would start the slideshow whenever a student opens the file.

``notebooks/rise.css`` (RISE loads ``rise.css`` from the notebook's folder) fits the content to the slide; the
rules a teacher sees: 20-px text, 13-px code; a figure at most :data:`FIG_MAX_H` px tall (58 % of the slide,
aspect kept; :data:`MULTI_FIG_MAX_H` each when a cell has several) -- large enough to read from the back; long
code (17+ lines) in smaller type by :data:`CODE_ZOOM` (at 54 lines about 7 px: such cells are helpers the
teacher scrolls past, each on its own sub-slide by rule 3); code of :data:`SPLIT_LINES`+ lines whose output is
a figure or widget (:data:`WIDGET_SPLIT_LINES`+ for an interactive widget) in two columns, the code smaller on
the left and the figure or widget at up to 594 px wide on the right (input and output of one cell cannot go to
separate sub-slides); table rows compact; a dense markdown cell
(:data:`DENSE_BLOCKS`+ blocks) in :data:`DENSE_FONT` type.

Height model (px at the 1280x720 slide size, measured in Chromium; constants below, every rule of rise.css
modelled): markdown wrapped at the text width (headings have their own heights; lists, tables, display math
and fenced code line by line); code one line per source line (CodeMirror does not wrap code) times its zoom;
text outputs as shown (stream outputs joined, progress bars' carriage returns applied) wrapped at the output
width; figures at their pixel size (PNG/JPEG header) scaled to the output column and the figure cap; widgets
:data:`WIDGET_H` (a tqdm progress bar :data:`PROGRESS_H`).

``present`` starts nbclassic (``python -m nbclassic``, RISE's nbextension enabled by its wheel) on the
repository and opens the notebook at ``/nbclassic/notebooks/<path>``. ipywidgets 8 work live on the slides
(jupyterlab-rise 0.43.1 cannot draw them: jupyterlab-contrib/rise#119). Run All only once the kernel is ready:
in the first seconds after the page connects, its widget manager closes new widgets at once (they then never
draw; re-run the cell).
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import math
import os
import re
import struct
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# ---- slide geometry: px in the 1280x720 reveal.js slide of classic RISE 5.7.1 (theme "white", Chromium), with
# notebooks/rise.css (its rules are modelled here: change both together). Measured on notebooks 00, 03, 06, 11, 14
# and 16 (tests/test_slides_browser.py measures again): markdown 20 px text on 26 px lines, code 13 px on 15.3 px
# lines, text outputs 14 px lines, a figure 18 px more than its image.
SLIDE_W, SLIDE_H = 1280, 720
MARGIN_V = 40  # kept free above and below the cells (reveal.js centres the slide's content)
BUDGET_H = SLIDE_H - MARGIN_V  # the height a slide's shown cells may take
# markdown: the model below is in units of a 14-px font (18.2 px lines, 7.2 px characters); RISE shows it
# MD_SCALE times larger on a text column MD_SLIDE_W px wide; `code` spans CODE_SPAN_W times as wide (monospace)
MD_SCALE, MD_SLIDE_W, CODE_SPAN_W = 1.3, 1260.0, 1.7
MD_TEXT_W, MD_LINE_H, MD_CHAR_W = MD_SLIDE_W / MD_SCALE, 18.2, 7.2
MD_PARA_GAP, MD_LIST_GAP = 18.0, 8.0
MD_CELL_PAD = 57.0  # px on the slide: the cell's padding and its first/last margins
HEADING_H = {1: 66.0, 2: 38.0, 3: 32.0, 4: 28.0, 5: 26.0, 6: 26.0}
TABLE_ROW_H = 17.5  # notebooks/rise.css: compact rows
MATH_BLOCK_H, MATH_LINE_H = 68.0, 22.0  # a display-math block, and each further source line of it
# code cells (prompt column: outputs are 1168 px wide; CodeMirror does not wrap code)
CODE_CELL_PAD = 12.0  # around input + outputs
CODE_IN_PAD, CODE_LINE_H = 19.4, 15.3  # the input box: padding + one line per source line (before zoom)
OUT_TEXT_W, OUT_LINE_H, OUT_CHAR_W = 1168.0, 14.0, 8.2
OUT_PAD = 12.0  # per text output
PNG_PAD = 18.0  # per image output, on top of the image's shown height
# notebooks/rise.css: figures at most FIG_MAX_H tall (MULTI_FIG_MAX_H when a cell has several), scaled keeping
# their aspect; long code shown smaller (CODE_ZOOM: from that many lines, that zoom); code of SPLIT_LINES+ lines
# with a figure or widget in two columns: code at SPLIT_ZOOM on the left, outputs SPLIT_OUT_W wide on the right
FIG_MAX_H, MULTI_FIG_MAX_H = 420.0, 240.0
DENSE_BLOCKS, DENSE_FONT = 7, 0.75  # a markdown cell of 7+ blocks (paragraphs, lists, tables, headings): smaller type
CODE_ZOOM = ((35, 0.55), (25, 0.7), (17, 0.85))
SPLIT_LINES, WIDGET_SPLIT_LINES, SPLIT_OUT_W = 13, 9, 594.0  # interactive widgets go beside code from 9 lines
SPLIT_ZOOM = ((45, 0.5), (30, 0.6), (0, 0.7))
WIDGET_H = 480.0  # an interactive figure: controls + image (its size is only known live)
PROGRESS_H = 30.0  # a tqdm progress bar (a widget too, one line)
LONG_CODE_LINES = 20

RISE_SETTINGS = {
    "width": SLIDE_W,
    "height": SLIDE_H,
    "scroll": False,
    "theme": "white",
    "transition": "none",
    "margin": 0,
    "start_slideshow_at": "beginning",
    "enable_chalkboard": False,
}
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
PNG = "image/png"
JPEG = "image/jpeg"  # photo-like figures after tools/compact_figures.py
WIDGET = "application/vnd.jupyter.widget-view+json"


# ---------------------------------------------------------------- heights


def png_size(data: str | bytes) -> tuple[int, int]:
    """Width and height of a PNG from its header.

    Inputs: ``data`` the PNG, base64 text as stored in a notebook (str) or raw bytes.
    Returns: ``(width, height)`` in pixels. Raises ``ValueError`` (naming ``data``) when it is not a PNG.
    """
    raw = base64.b64decode(data[:64]) if isinstance(data, str) else bytes(data[:24])
    if raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR":
        raise ValueError(f"data: not a PNG (starts with {raw[:8]!r})")
    width, height = struct.unpack(">II", raw[16:24])
    return int(width), int(height)


def jpeg_size(data: str | bytes) -> tuple[int, int]:
    """Width and height of a JPEG (base64 text as stored in a notebook, or raw bytes), from its header."""
    import io

    from PIL import Image

    raw = base64.b64decode(data) if isinstance(data, str) else bytes(data)
    try:
        with Image.open(io.BytesIO(raw)) as im:  # reads the header only
            return im.size
    except OSError as exc:
        raise ValueError(f"data: not a JPEG ({exc})") from exc


def _wrapped_lines(text: str, width_px: float, char_w: float) -> int:
    """Number of lines ``text`` takes when wrapped at ``width_px`` (one line when empty)."""
    cols = max(1, int(width_px // char_w))
    return max(1, len(textwrap.wrap(text, cols, break_long_words=True, break_on_hyphens=False)))


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TEX_CMD = re.compile(r"\\[a-zA-Z]+")


def _visible(text: str) -> str:
    """The characters a markdown line shows (links by their text, no emphasis/backticks, TeX commands short)."""
    text = re.sub(r"`([^`]*)`", lambda m: m.group(1) + "x" * round((CODE_SPAN_W - 1) * len(m.group(1))), text)
    text = _LINK.sub(r"\1", text)
    text = _TEX_CMD.sub("x", text)
    return re.sub(r"[*_`${}]", "", text)


def markdown_blocks(source: str) -> int:
    """Number of top-level blocks of a markdown text (headings, paragraphs, lists, tables, fenced code): the
    children of the rendered cell, which notebooks/rise.css counts to show a dense cell in smaller type."""
    blocks, last, blank, in_fence = 0, "", True, False
    for line in source.splitlines():
        stripped = line.strip()
        if in_fence:
            in_fence = not stripped.startswith("```")
            last, blank = "fence", False
            continue
        if not stripped:
            blank = True
            continue
        if stripped.startswith("```"):
            kind, in_fence = "fence", True
        elif re.match(r"#{1,6}\s", stripped):
            kind = "heading"
        elif stripped.startswith("|"):
            kind = "table"
        elif re.match(r"([*+-]|\d+[.)])\s", stripped) or (last == "list" and line[:1].isspace()):
            kind = "list"
        else:
            kind = "para"
        if kind in ("heading", "fence") or kind != last or (blank and kind != "list"):
            blocks += 1
        last, blank = kind, False
    return blocks


def markdown_height(source: str) -> float:
    """Estimated rendered height of a markdown cell's source.

    Inputs: ``source`` markdown text. Returns: height in px at the slide size (without the cell padding).
    Paragraphs and list items wrap at :data:`MD_TEXT_W`; headings, table rows, display math and fenced code
    lines have fixed heights (all in 14-px-font units, then times :data:`MD_SCALE`); a table row wraps when
    its cells' text is wider than the text, and a whole cell of :data:`DENSE_BLOCKS`+ blocks in :data:`DENSE_FONT` type.
    """
    font = DENSE_FONT if markdown_blocks(source) >= DENSE_BLOCKS else 1.0
    text_w = MD_TEXT_W / font
    height, para, gap, in_fence, in_math = 0.0, "", MD_PARA_GAP, False, False

    def flush() -> float:
        nonlocal para, gap
        text, para, used_gap, gap = para.strip(), "", gap, MD_PARA_GAP
        if not text:
            return 0.0
        return _wrapped_lines(_visible(text), text_w, MD_CHAR_W) * MD_LINE_H + used_gap

    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            height += flush()
            in_fence = not in_fence
            height += MD_PARA_GAP / 2
            continue
        if in_fence:
            height += CODE_LINE_H
            continue
        if in_math:
            height += MATH_LINE_H
            in_math = "$$" not in stripped
            continue
        if stripped.startswith("$$"):
            height += flush() + MATH_BLOCK_H
            in_math = stripped.count("$$") == 1
            continue
        heading = re.match(r"(#{1,6})\s", stripped)
        if heading:
            height += flush()
            height += HEADING_H[len(heading.group(1))]
            continue
        if stripped.startswith("|"):
            height += flush()
            if not re.fullmatch(r"[|\s:-]+", stripped):  # a row (the separator row takes no height)
                cells = [_visible(c.strip()) for c in stripped.strip("|").split("|")]
                width = sum(len(c) + 3 for c in cells) * MD_CHAR_W  # columns take their content's width
                height += TABLE_ROW_H * math.ceil(width / text_w)
            continue
        if not stripped:
            height += flush()
            continue
        if re.match(r"([*+-]|\d+[.)])\s", stripped):  # a list item starts a new line (indented: nested)
            height += flush()
            indent = len(line) - len(line.lstrip())
            para, gap = "xxx " * (1 + indent // 3) + stripped, MD_LIST_GAP  # the bullet's indent
            continue
        para += " " + stripped
    height += flush()
    return height * MD_SCALE * font


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def image_size(output: dict) -> tuple[int, int] | None:
    """Pixel size of the figure (PNG or JPEG) of one output, ``None`` when it has none."""
    data = output.get("data", {})
    for mime, size_of in ((PNG, png_size), (JPEG, jpeg_size)):
        if mime in data:
            return size_of(_text(data[mime]))
    return None


def merge_streams(outputs: Sequence[dict]) -> list[dict]:
    """The outputs as the notebook shows them: consecutive stream outputs of one stream joined, and each line
    only what is left after its last carriage return (a progress bar that redraws itself is one line)."""
    merged: list[dict] = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if out.get("output_type") == "stream" and prev and prev.get("output_type") == "stream":
            if prev.get("name") == out.get("name"):
                prev["text"] += _text(out.get("text", ""))
                continue
        merged.append({**out, "text": _text(out.get("text", ""))} if out.get("output_type") == "stream" else out)
    for out in merged:
        if out.get("output_type") == "stream":
            lines = re.sub(r"\r+\n", "\n", out["text"]).split("\n")
            out["text"] = "\n".join(line.rsplit("\r", 1)[-1] for line in lines)
    return merged


_PROGRESS = re.compile(r"\d+%\|.*\|")  # tqdm's text form: "name:  40%|####      | 32/80 [...]"


def output_height(output: dict, width: float = OUT_TEXT_W, fig_max_h: float = FIG_MAX_H) -> float:
    """Estimated height of one stored output.

    Inputs: ``output`` a notebook output (stream, display_data, execute_result or error); ``width`` the output
    column (px); ``fig_max_h`` the tallest a figure is shown (notebooks/rise.css).
    Returns: height in px: a figure at its pixel size, scaled down (aspect kept) to ``width`` and ``fig_max_h``,
    plus :data:`PNG_PAD`; a widget :data:`WIDGET_H`; text wrapped at ``width``.
    """
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text", ""))
    elif kind == "error":
        text = "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", t) for t in output.get("traceback", []))
    else:
        data = output.get("data", {})
        if WIDGET in data:
            return PROGRESS_H if _PROGRESS.search(_text(data.get("text/plain", ""))) else WIDGET_H
        size = image_size(output)
        if size:
            w, h = size
            return h * min(1.0, width / w, fig_max_h / h) + PNG_PAD
        if "text/html" in data and "text/plain" not in data:
            text = re.sub(r"<[^>]+>", "", _text(data["text/html"]))
        else:
            text = _text(data.get("text/plain", ""))
    if not text.strip("\n"):
        return 0.0
    lines = sum(_wrapped_lines(line, width, OUT_CHAR_W) for line in text.rstrip("\n").split("\n"))
    return lines * OUT_LINE_H + OUT_PAD


def _zoom(lines: int, tiers: Sequence[tuple[int, float]]) -> float:
    return next((z for n, z in tiers if lines >= n), 1.0)


def code_layout(cell: dict) -> tuple[str, float]:
    """How notebooks/rise.css shows a code cell: ``("split", zoom)`` -- code of :data:`SPLIT_LINES`+ lines
    with a figure or widget output, or of :data:`WIDGET_SPLIT_LINES`+ lines with an interactive widget: code on
    the left at ``zoom``, outputs on the right -- or
    ``("stacked", zoom)``: code (at ``zoom``, by :data:`CODE_ZOOM`) above its outputs."""
    lines = len(_text(cell.get("source", "")).split("\n"))  # CodeMirror shows every line, the last empty one too
    if (lines >= SPLIT_LINES and is_visual(cell)) or (lines >= WIDGET_SPLIT_LINES and has_interactive(cell)):
        return "split", _zoom(lines, SPLIT_ZOOM)
    return "stacked", _zoom(lines, CODE_ZOOM)


def cell_height(cell: dict) -> float:
    """Estimated height of a cell as RISE shows it with notebooks/rise.css (input + outputs + padding).

    Inputs: ``cell`` a notebook cell. Returns: height in px at the 1280x720 slide size.
    """
    source = _text(cell.get("source", ""))
    if cell.get("cell_type") == "markdown":
        return markdown_height(source) + MD_CELL_PAD
    if cell.get("cell_type") != "code":
        return CODE_LINE_H * max(1, source.count("\n") + 1) + CODE_CELL_PAD  # raw cells: monospace text
    lines = len(source.split("\n"))
    kind, zoom = code_layout(cell)
    outputs = merge_streams(cell.get("outputs", []))
    fig_max_h = MULTI_FIG_MAX_H if sum(image_size(o) is not None for o in outputs) > 1 else FIG_MAX_H
    code = (CODE_IN_PAD + lines * CODE_LINE_H) * zoom
    if kind == "split":
        out = sum(output_height(o, SPLIT_OUT_W, fig_max_h) for o in outputs)
        return CODE_CELL_PAD + max(code, out)
    return CODE_CELL_PAD + code + sum(output_height(o, OUT_TEXT_W, fig_max_h) for o in outputs)


# ---------------------------------------------------------------- rules


def _mimes(cell: dict) -> set[str]:
    return {m for o in cell.get("outputs", []) for m in o.get("data", {})}


def is_visual(cell: dict) -> bool:
    """Whether a code cell's stored output holds a figure (PNG) or a widget."""
    return cell.get("cell_type") == "code" and bool(_mimes(cell) & {PNG, JPEG, WIDGET})


def has_widget(cell: dict) -> bool:
    """Whether a code cell's stored output holds a widget (its height is only known live)."""
    return cell.get("cell_type") == "code" and WIDGET in _mimes(cell)


def has_interactive(cell: dict) -> bool:
    """Whether a code cell's stored output holds an interactive widget (not just a tqdm progress bar)."""
    outs = [o for o in cell.get("outputs", []) if WIDGET in o.get("data", {})]
    return cell.get("cell_type") == "code" and any(
        not _PROGRESS.search(_text(o["data"].get("text/plain", ""))) for o in outs
    )


def _top_level(source: str) -> list[ast.stmt] | None:
    lines = [line for line in source.split("\n") if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines)).body
    except SyntaxError:
        return None


def is_import_cell(cell: dict) -> bool:
    """A code cell of imports only (``%magics`` and comments allowed)."""
    if cell.get("cell_type") != "code":
        return False
    body = _top_level(_text(cell.get("source", "")))
    return bool(body) and all(isinstance(s, ast.Import | ast.ImportFrom) for s in body)


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_plumbing(cell: dict) -> bool:
    """Code the lecture never shows (rule 1 of the module docstring, code cells)."""
    if cell.get("cell_type") != "code":
        return False
    source = _text(cell.get("source", ""))
    if is_import_cell(cell) or "exercise_all(" in source:
        return True
    grader = _nbgrader(cell)
    if grader.get("grade") and not grader.get("solution"):
        return True
    if grader.get("solution") or cell.get("outputs") or len(source.strip().split("\n")) <= LONG_CODE_LINES:
        return False
    body = _top_level(source)
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    return bool(body) and all(isinstance(s, defs) for s in body)


def _heading_level(cell: dict) -> int:
    if cell.get("cell_type") != "markdown":
        return 0
    first = _text(cell.get("source", "")).lstrip().split("\n")[0]
    match = re.match(r"(#{1,6})\s", first)
    return len(match.group(1)) if match else 0


def base_type(cells: Sequence[dict], i: int) -> str:
    """Slide type of cell ``i`` by rules 1-3 and 5 (before figures and splitting)."""
    cell = cells[i]
    if i == 0:
        return "slide"
    if is_plumbing(cell):
        return "skip"
    level = _heading_level(cell)
    if cell.get("cell_type") == "markdown" and not level and i + 1 < len(cells) and is_import_cell(cells[i + 1]):
        if len(_text(cell.get("source", "")).strip().split("\n")) <= 2:
            return "skip"
    if level in (1, 2):
        return "slide"
    if level >= 3:
        return "subslide"
    if cell.get("cell_type") == "code" and len(_text(cell.get("source", "")).strip().split("\n")) > LONG_CODE_LINES:
        return "subslide"
    return "-"


def _shown(types: list[str]) -> list[int]:
    return [i for i, t in enumerate(types) if t not in ("skip", "notes")]


def slide_types(nb: dict) -> list[str]:
    """The slide type of every cell by the module's rules (nothing is changed).

    Inputs: ``nb`` a notebook (nbformat node or dict). Returns: one slide type per cell.
    """
    cells = nb["cells"]
    types = [base_type(cells, i) for i in range(len(cells))]
    heights = [cell_height(c) for c in cells]
    # rule 4: figures and widgets start their own sub-slide, with the markdown right before them when it fits
    for i in range(1, len(cells)):
        if not is_visual(cells[i]) or types[i] in ("slide", "skip"):
            continue
        prev = i - 1
        keep = cells[prev].get("cell_type") == "markdown" and types[prev] != "skip"
        if keep and heights[prev] + heights[i] <= BUDGET_H:
            if types[prev] == "-":
                types[prev] = "subslide"
            types[i] = "-"
        else:
            types[i] = "subslide"
    # rule 6: split a slide that would overflow
    used, members = 0.0, []
    for i in _shown(types):
        if types[i] in ("slide", "subslide"):
            used, members = 0.0, []
        elif members and used + heights[i] > BUDGET_H:
            j = members[-1]
            intro = cells[j].get("cell_type") == "markdown" and types[j] == "-" and len(members) > 1
            if intro and heights[j] + heights[i] <= BUDGET_H:
                types[j] = "subslide"
                used, members = heights[j], [j]
            else:
                types[i] = "subslide"
                used, members = 0.0, []
        used += heights[i]
        members.append(i)
    return types


def assign(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Set ``metadata.slideshow.slide_type`` on every cell and ``metadata.rise`` on the notebook.

    Inputs: ``nb`` a notebook read with nbformat (version 4); changed in place.
    Returns: the same notebook. Only those two metadata entries change.
    """
    if "cells" not in nb:
        raise ValueError("nb: not a version-4 notebook (no 'cells')")
    for cell, kind in zip(nb.cells, slide_types(nb), strict=True):
        cell.metadata["slideshow"] = nbformat.from_dict({"slide_type": kind})
    nb.metadata["rise"] = nbformat.from_dict(dict(RISE_SETTINGS))
    return nb


# ---------------------------------------------------------------- checking


@dataclass
class Slide:
    """One reveal.js (sub-)slide: the shown cells from a ``slide``/``subslide`` cell up to the next one."""

    start: int
    kind: str
    cells: list[int] = field(default_factory=list)
    height: float = 0.0

    @property
    def overflows(self) -> bool:
        return self.height > BUDGET_H


def layout(nb: dict) -> list[Slide]:
    """The slides of a notebook from its stored slide metadata, with estimated heights.

    Inputs: ``nb`` a notebook. Returns: the slides in order (cells without metadata continue the slide).
    """
    slides: list[Slide] = []
    for i, cell in enumerate(nb["cells"]):
        kind = cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")
        if kind in ("skip", "notes"):
            continue
        if kind in ("slide", "subslide") or not slides:
            slides.append(Slide(i, kind))
        slides[-1].cells.append(i)
        slides[-1].height += cell_height(cell)
    return slides


def _label(cell: dict) -> str:
    first = _text(cell.get("source", "")).strip().split("\n")[0]
    return first[:60]


def check(nb: dict) -> list[str]:
    """Problems of a notebook as slides: missing metadata, slides taller than the 720-px slide.

    Inputs: ``nb`` a notebook. Returns: one line per problem (empty when it presents without scrolling).
    A slide of one cell that alone is too tall is named as such (a figure/table to make smaller).
    """
    problems = []
    rise = nb.get("metadata", {}).get("rise")
    if not rise or any(rise.get(k) != v for k, v in (("width", SLIDE_W), ("height", SLIDE_H), ("scroll", False))):
        problems.append(f"metadata.rise missing or not {SLIDE_W}x{SLIDE_H} without scroll: {rise}")
    cells = nb["cells"]
    missing = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("slideshow", {}).get("slide_type") is None]
    if missing:
        problems.append(f"cells without slideshow.slide_type: {missing}")
    elif cells and cells[0]["metadata"]["slideshow"]["slide_type"] != "slide":
        problems.append("cell 0 (the title) is not a 'slide'")
    for s in layout(nb):
        if not s.overflows:
            continue
        if len(s.cells) == 1:
            problems.append(
                f"cell {s.start} alone is ~{s.height:.0f} px > {BUDGET_H} px (too tall for a slide): "
                f"{_label(cells[s.start])!r}"
            )
        else:
            problems.append(f"slide at cell {s.start} (cells {s.cells}) is ~{s.height:.0f} px > {BUDGET_H} px")
    return problems


# ---------------------------------------------------------------- files and CLI


def dumps(nb: nbformat.NotebookNode) -> str:
    """The notebook as the repository stores it (nbformat's JSON: 1-space indent, UTF-8, trailing newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def apply_file(path: Path) -> bool:
    """Write the slide metadata into one notebook file. Returns whether the file changed."""
    before = path.read_text(encoding="utf-8")
    nb = assign(nbformat.reads(before, as_version=4))
    after = dumps(nb)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def server_config(where: Path) -> Path:
    """Write the Jupyter config folder of the slides server and return it: ``nbconfig/rise.json`` holds
    :data:`RISE_SETTINGS`. RISE 5.7 reads a notebook's ``metadata.rise`` only when the notebook has loaded before
    RISE itself (a race at page load; otherwise its defaults: the "simple" theme, which fetches Google Fonts, and a
    slide as large as the window); its server-side config section is always read, so every notebook opens at
    1280x720 with the offline "white" theme. Used by :func:`present` and tests/test_slides_browser.py."""
    folder = Path(where) / "nbconfig"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rise.json").write_text(json.dumps(RISE_SETTINGS, indent=1) + "\n", encoding="utf-8")
    return Path(where)


def server(root: Path, config: Path, extra: Sequence[str] = ()) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a classic-notebook server (nbclassic, with RISE) for the slides.

    Inputs: ``root`` the folder it serves; ``config`` a folder written by :func:`server_config`; ``extra`` more
    options. Returns: ``(cmd, env)``; the notebook ``X`` opens at ``/nbclassic/notebooks/X``.
    """
    cmd = [sys.executable, "-m", "nbclassic", f"--ServerApp.root_dir={root}", *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline figures in the live kernel
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(config), os.environ.get("JUPYTER_CONFIG_PATH")) if p)
    return cmd, env


def present(path: Path, extra: Sequence[str] = ()) -> int:
    """Open one notebook in the classic notebook (nbclassic) with RISE, ready to present.

    Inputs: ``path`` a notebook inside this repository; ``extra`` more server options (e.g. ``--no-browser``).
    Returns: the server's exit status (it runs until stopped with Ctrl-C).
    """
    path = Path(path).resolve()
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"path: not a notebook file: {path}")
    try:
        rel = path.relative_to(ROOT)
    except ValueError:
        raise ValueError(f"path: {path} is not inside the course repository {ROOT}") from None
    config = server_config(ROOT / "build" / "slides" / "jupyter_config")
    url = f"/nbclassic/notebooks/{rel.as_posix()}"
    cmd, env = server(ROOT, config, [f"--NotebookApp.default_url={url}", *extra])
    print(
        f"Slides: {url} opens in the browser (the classic notebook with RISE). Run all cells first (Cell > Run All),"
        " then Alt-R (or the bar-chart button) starts the slideshow at the first slide; Space moves on, Alt-R"
        " leaves it. Widgets work live on the slides. Ctrl-C stops the server."
    )
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the server asks itself whether to shut down (Ctrl-C twice: at once)
            continue


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("apply", "check"):
        sub.add_parser(name).add_argument("notebooks", nargs="+", type=Path)
    show = sub.add_parser("present")
    show.add_argument("notebook", type=Path)
    args, extra = parser.parse_known_args(argv)
    if args.command == "present":
        return present(args.notebook, extra)
    if extra:
        parser.error(f"unknown arguments: {extra}")
    failed = False
    for path in args.notebooks:
        if args.command == "apply":
            print(f"{path}: {'metadata written' if apply_file(path) else 'unchanged'}")
            continue
        nb = nbformat.read(path, as_version=4)
        problems = check(nb)
        n = len(layout(nb))
        print(f"{path}: {n} slides, {'OK' if not problems else f'{len(problems)} problem(s)'}")
        for p in problems:
            print("   ", p)
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
