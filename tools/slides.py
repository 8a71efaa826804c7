"""Teachers' tool: the notebooks as RISE slides (``jupyterlab-rise``) that fit a 1280x720 projector.

``python tools/slides.py apply notebooks/*.ipynb``    set the slide metadata (nothing else changes in the files)
``python tools/slides.py check notebooks/*.ipynb``    exit 1 with a list when metadata is missing or a slide overflows
``python tools/slides.py present notebooks/NN_x.ipynb``  open one notebook directly as a slideshow (``make slides``)

Rules of :func:`assign` (``cell.metadata.slideshow.slide_type`` of every cell, in this order):

1. **skip** -- plumbing the lecture never shows: a code cell of imports only (and ``%magics``); a short markdown
   caption (<= 2 lines, no heading) right before such a cell ("Imports. ..."); the final
   ``widgets.exercise_all()`` cell; the homework check cells (nbgrader ``grade: true``: one call of
   ``homework.check`` plus the hidden-test asserts, grading machinery); long helper definitions
   (> :data:`LONG_CODE_LINES` lines, no output, only ``def``/``class``/imports at top level, not a homework
   solution). Skipped cells stay in the notebook and the slides show the stored outputs; before re-running
   cells live on a slide, Run All in the JupyterLab tab of the same notebook (the tabs share the notebook's
   kernel: one Jupyter session per path), since the slideshow's Shift-Enter runs only the cells it shows.
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
   cannot be split by metadata: :func:`check` reports it (a figure or table too tall for a slide); figures are
   never changed here.

The notebook-level ``metadata.rise`` gets :data:`RISE_SETTINGS` (1280x720, no scrolling, the "white" theme:
black on white reads best on a projector and, unlike "simple", its font ships with RISE, so nothing is fetched
from a font CDN offline; no transitions; the slideshow starts at the first slide).

Height model (px at the 1280x720 slide size; constants below): markdown wrapped at the text width (headings
have their own heights; lists, tables, display math and fenced code line by line); code one line per source
line (JupyterLab does not wrap code); text outputs wrapped at the output width, all lines (JupyterLab does
not cap them); PNGs at their pixel size from the PNG header, scaled down to the output width; widgets
:data:`WIDGET_H`.

``present`` starts ``python -m jupyterlab_rise <notebook>``: the standalone RISE app of jupyterlab-rise serves
``/rise/<path>`` (the notebook rendered directly as reveal.js slides, reveal.js bundled in the wheel) and opens
the browser there; the same server also serves JupyterLab at ``/lab/tree/<path>``. Inside JupyterLab the
slideshow is "View > Render as Reveal Slideshow" (Alt-R: the same ``/rise/`` page in a panel) or the notebook
toolbar's "Open as Reveal Slideshow" (a new browser tab).
Notebook metadata ``rise.autolaunch`` is not set: it would start the slideshow whenever a student opens the file.

Known limit (jupyterlab-rise 0.43.1, upstream issue jupyterlab-contrib/rise#119, open): its slideshow app bundles
JupyterLab 4.3 and cannot load the ipywidgets 8 manager (it needs ``@jupyterlab/console`` ^4.6), so a widget
shows as its text ``repr`` on the slide; code cells run, and their figures update, live. Widgets are shown in
the JupyterLab tab; their slides keep :data:`WIDGET_H` reserved so the layout holds once upstream fixes it.
"""

from __future__ import annotations

import argparse
import ast
import base64
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

# ---- slide geometry: px in the 1280x720 reveal.js slide, measured in RISE 0.43.1 (theme "white", Chromium):
# cell heights of notebooks 00, 03, 06, 12 and 16 fitted by least squares (code cells: residual <= 5 px for 90 %
# of them; markdown: mean error 5 px); markdown 14 px / 18.2 px lines, code 13 px / 18.2 px, outputs 14 px / 16.8 px
SLIDE_W, SLIDE_H = 1280, 720
MARGIN_V = 40  # kept free above and below the cells (reveal.js centres the slide's content)
BUDGET_H = SLIDE_H - MARGIN_V  # the height a slide's shown cells may take
# markdown (no prompt column: the text is 1244 px wide)
MD_TEXT_W, MD_LINE_H, MD_CHAR_W = 1244.0, 18.2, 7.2
MD_PARA_GAP, MD_LIST_GAP = 18.0, 8.0
MD_CELL_PAD = 20.0
HEADING_H = {1: 66.0, 2: 38.0, 3: 32.0, 4: 28.0, 5: 26.0, 6: 26.0}
TABLE_ROW_H = 21.0
MATH_BLOCK_H, MATH_LINE_H = 44.0, 22.0  # a display-math block, and each further source line of it
# code cells (prompt column: code and outputs are 1180 px wide; JupyterLab does not wrap code)
CODE_CELL_PAD, CODE_LINE_H = 26.5, 17.9
OUT_TEXT_W, OUT_LINE_H, OUT_CHAR_W = 1180.0, 17.0, 8.4
OUT_PAD = 2.0  # per output
PNG_PAD = 65.0  # per image output, on top of the image's own height
WIDGET_H = 480.0  # an interactive figure: controls + image (its size is only known live)
LONG_CODE_LINES = 20

RISE_SETTINGS = {
    "width": SLIDE_W,
    "height": SLIDE_H,
    "scroll": False,
    "theme": "white",
    "transition": "none",
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
    text = _LINK.sub(r"\1", text)
    text = _TEX_CMD.sub("x", text)
    return re.sub(r"[*_`${}]", "", text)


def markdown_height(source: str) -> float:
    """Estimated rendered height of a markdown cell's source.

    Inputs: ``source`` markdown text. Returns: height in px at the slide size (without the cell padding).
    Paragraphs and list items wrap at :data:`MD_TEXT_W`; headings, table rows, display math and fenced code
    lines have fixed heights.
    """
    height, para, gap, in_fence, in_math = 0.0, "", MD_PARA_GAP, False, False

    def flush() -> float:
        nonlocal para, gap
        text, para, used_gap, gap = para.strip(), "", gap, MD_PARA_GAP
        if not text:
            return 0.0
        return _wrapped_lines(_visible(text), MD_TEXT_W, MD_CHAR_W) * MD_LINE_H + used_gap

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
                height += TABLE_ROW_H * math.ceil(width / MD_TEXT_W)
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
    return height


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def output_height(output: dict) -> float:
    """Estimated height of one stored output.

    Inputs: ``output`` a notebook output (stream, display_data, execute_result or error).
    Returns: height in px: a PNG at its pixel size scaled down to :data:`OUT_TEXT_W`, plus
    :data:`PNG_PAD`; a widget :data:`WIDGET_H`; text wrapped at :data:`OUT_TEXT_W`.
    """
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text", ""))
    elif kind == "error":
        text = "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", t) for t in output.get("traceback", []))
    else:
        data = output.get("data", {})
        if WIDGET in data:
            return WIDGET_H + OUT_PAD
        for mime, size_of in ((PNG, png_size), (JPEG, jpeg_size)):
            if mime not in data:
                continue
            meta = output.get("metadata", {}).get(mime, {})
            width, height = size_of(_text(data[mime]))
            width, height = meta.get("width", width), meta.get("height", height)
            return height * min(1.0, OUT_TEXT_W / width) + PNG_PAD + OUT_PAD
        if "text/html" in data and "text/plain" not in data:
            text = re.sub(r"<[^>]+>", "", _text(data["text/html"]))
        else:
            text = _text(data.get("text/plain", ""))
    lines = sum(_wrapped_lines(line, OUT_TEXT_W, OUT_CHAR_W) for line in text.rstrip("\n").split("\n"))
    return lines * OUT_LINE_H + OUT_PAD


def cell_height(cell: dict) -> float:
    """Estimated height of a cell as RISE shows it (input + outputs + padding).

    Inputs: ``cell`` a notebook cell. Returns: height in px at the 1280x720 slide size.
    """
    source = _text(cell.get("source", ""))
    if cell.get("cell_type") == "markdown":
        return markdown_height(source) + MD_CELL_PAD
    if cell.get("cell_type") != "code":
        return CODE_LINE_H * max(1, source.count("\n") + 1) + CODE_CELL_PAD  # raw cells: monospace text
    lines = max(1, len(source.rstrip("\n").split("\n")))
    return CODE_CELL_PAD + lines * CODE_LINE_H + sum(output_height(o) for o in cell.get("outputs", []))


# ---------------------------------------------------------------- rules


def _mimes(cell: dict) -> set[str]:
    return {m for o in cell.get("outputs", []) for m in o.get("data", {})}


def is_visual(cell: dict) -> bool:
    """Whether a code cell's stored output holds a figure (PNG) or a widget."""
    return cell.get("cell_type") == "code" and bool(_mimes(cell) & {PNG, JPEG, WIDGET})


def has_widget(cell: dict) -> bool:
    """Whether a code cell's stored output holds a widget (its height is only known live)."""
    return cell.get("cell_type") == "code" and WIDGET in _mimes(cell)


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


def present(path: Path, extra: Sequence[str] = ()) -> int:
    """Open one notebook directly as a RISE slideshow (``python -m jupyterlab_rise``, browser at /rise/<path>).

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
    cmd = [sys.executable, "-m", "jupyterlab_rise", rel.as_posix(), f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline figures in the live kernel
    print(
        f"Slides: /rise/{rel.as_posix()} (opens in the browser). The same notebook in JupyterLab, on the same server:"
        f" /lab/tree/{rel.as_posix()} -- use it to Run All (skipped cells too) and to show the widgets, which"
        " jupyterlab-rise 0.43.1 does not render with ipywidgets 8 (jupyterlab-contrib/rise#119). Ctrl-C stops."
    )
    proc = subprocess.Popen([*cmd, *extra], cwd=ROOT, env=env)
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
