"""The static edition of the course: a Jupyter Book (1.x) of the notebooks with their stored outputs.

``python tools/build_site.py [OUT]`` (``make site``, which first installs the ``site`` extra) writes the book's
sources into ``OUT.parent / "site_src"``: ``_config.yml``, ``_toc.yml``, an ``index.md`` home page and a copy of
every ``notebooks/NN_*.ipynb`` whose widget views are replaced by the figures their Output widgets stored.
Sphinx (Jupyter Book 1.x, MyST-NB, the book theme) then renders it into ``OUT`` (default ``build/site``;
``OUT/index.html`` is the home page): the notebooks as chapters grouped by the lecture's four parts, sidebar
navigation, previous/next links, full-text search, per-page contents and a download button per page.
Nothing is executed (``execute_notebooks: off``): the pages show the outputs stored from the full runs.
Formulas are typeset by the MathJax 3 that ``sphinx-mathjax-offline`` bundles; no page loads anything from the
internet. Interactive widgets need a running kernel: their cells show the stored figure and say so.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

__all__ = [
    "PARTS",
    "notebook_files",
    "notebook_title",
    "static_notebook",
    "parts_of",
    "book_config",
    "book_toc",
    "home_page",
    "download_notebook",
    "write_book",
    "build_site",
]

ROOT = Path(__file__).resolve().parents[1]
TITLE = "Seeing inside CNNs"
SUBTITLE = "Visualizing neural networks and generating images"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "Interactive widget: open this notebook in JupyterLab (make lab) to use it; "
    "the static edition shows the figures stored from the full run."
)
# The lecture's four parts: (caption, first notebook number, last notebook number).
PARTS = (
    ("Part I · One image through the network: weights and attribution", 0, 6),
    ("Part II · The representation as a whole", 7, 11),
    ("Part III · Optimizing the input", 12, 14),
    ("Part IV · Generating images", 15, 21),
)
# Jupyter Book's default Sphinx extensions without the two that name internet addresses (sphinx_thebe: a script URL
# on every page; intersphinx: remote inventories), plus the bundled MathJax (sphinx_comments stays: it adds nothing
# while its services are off, and Jupyter Book always sets its config value).
EXTENSIONS = [
    "sphinx_togglebutton",
    "sphinx_copybutton",
    "myst_nb",
    "jupyter_book",
    "sphinx_comments",
    "sphinx_external_toc",
    "sphinx_design",
    "sphinx_book_theme",
    "sphinx-mathjax-offline",
]
# What MathJax's tex-chtml component loads at run time (TeX extensions on demand, the CHTML fonts, the menu
# and its accessibility tools); the other combined components of the bundle (SVG, MathML, node) are not used.
MATHJAX_KEEP = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y", "sre")


def notebook_files(folder: Path | str = ROOT / "notebooks") -> list[Path]:
    """The course notebooks ``NN_name.ipynb`` in lecture order."""
    files = sorted(p for p in Path(folder).glob("*.ipynb") if re.match(r"\d\d_", p.name))
    if not files:
        raise FileNotFoundError(f"folder={folder!s}: no notebooks named NN_*.ipynb")
    return files


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def notebook_title(nb: dict) -> str:
    """The ``# `` heading of the first markdown cell (the notebook's title cell); "" when there is none."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            return next((ln[2:].strip() for ln in _source(cell).splitlines() if ln.startswith("# ")), "")
    return ""


def _widget_outputs(state: dict, model_id: str, seen: set | None = None) -> list[dict]:
    """Outputs stored in every ``Output`` widget below ``model_id`` (the figure an interactive cell drew)."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    found = list(model["state"].get("outputs", [])) if model.get("model_name") == "OutputModel" else []
    for child in model["state"].get("children", []):
        found += _widget_outputs(state, str(child).replace("IPY_MODEL_", ""), seen)
    return found


def static_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` for a page without a kernel: each widget view is replaced by the outputs its ``Output``
    widgets stored (the figure of the first render) and a note; views without stored output (progress bars) are
    dropped; the widget state leaves the metadata (a static page cannot use it, and the theme would load the
    widget JavaScript from a CDN for it). ``nb`` itself is not changed."""
    nb = copy.deepcopy(nb)
    state = nb.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        outputs = []
        for out in cell["outputs"]:
            data = out.get("data", {})
            if WIDGET_MIME not in data:
                outputs.append(out)
                continue
            stored = _widget_outputs(state, data[WIDGET_MIME]["model_id"])
            if stored or "interactive" in _source(cell):
                outputs += [nbformat.from_dict(o) for o in stored if o.get("output_type") != "error"]
                note = {"text/markdown": f"*{WIDGET_NOTE}*"}
                outputs.append(nbformat.from_dict({"output_type": "display_data", "data": note, "metadata": {}}))
        cell["outputs"] = outputs
    return nb


def download_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` for the page's download button: every cell and its metadata, without outputs, execution
    counts and widget state (the outputs are on the page; the site would otherwise hold every figure twice)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def parts_of(files: list[Path]) -> list[tuple[str, list[Path]]]:
    """``files`` grouped into the lecture's parts (``PARTS``) by their number, in order; parts without a file
    are left out. Raises ValueError naming ``files`` when a notebook's number is in no part."""
    grouped = []
    for caption, first, last in PARTS:
        members = [p for p in files if first <= int(p.name[:2]) <= last]
        if members:
            grouped.append((caption, members))
    placed = {p for _, members in grouped for p in members}
    missing = [p.name for p in files if p not in placed]
    if missing:
        raise ValueError(f"files: {missing} are in none of the parts {[(c, f, la) for c, f, la in PARTS]}")
    return grouped


def book_config() -> dict:
    """The book's ``_config.yml`` (Jupyter Book 1.x): no execution, no launch/repository buttons, the bundled
    MathJax, no widget JavaScript, a download button. Its ``sphinx.config`` replaces Jupyter Book's values of the
    same name whole (``recursive_update`` is off): the extension list and the theme's options are all here."""
    return {
        "title": TITLE,
        "author": 'The "Seeing inside CNNs" course authors',
        "copyright": "2026",
        "only_build_toc_files": True,
        "exclude_patterns": ["_build", "**.ipynb_checkpoints"],
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["amsmath", "dollarmath", "colon_fence"]},
        "html": {
            "use_repository_button": False,
            "use_edit_page_button": False,
            "use_issues_button": False,
            "use_multitoc_numbering": False,
            "home_page_in_navbar": True,
        },
        "launch_buttons": {"thebe": False},
        "sphinx": {
            "config": {
                "extensions": EXTENSIONS,
                "nb_ipywidgets_js": {},  # widget views are replaced by their stored figures (static_notebook)
                "html_theme_options": {
                    "use_download_button": True,
                    "use_fullscreen_button": True,
                    "show_toc_level": 2,
                    "navigation_with_keys": False,
                },
                "html_show_sourcelink": False,
                "html_last_updated_fmt": None,
            },
        },
    }


def book_toc(files: list[Path]) -> dict:
    """The book's ``_toc.yml``: the home page ``index``, then one chapter per notebook under its part."""
    return {
        "format": "jb-book",
        "root": "index",
        "parts": [
            {"caption": caption, "chapters": [{"file": f"notebooks/{p.stem}"} for p in members]}
            for caption, members in parts_of(files)
        ],
    }


def home_page(files: list[Path]) -> str:
    """The home page (MyST markdown): what the course is, how to run it, and every notebook under its part."""
    lines = [
        f"# {TITLE}",
        "",
        f"**{SUBTITLE}**: an open course in Jupyter notebooks, one per section of A. Dyakonov's lecture",
        "«Визуализация нейронных сетей и генерация изображений», backed by the small tested package",
        "`lecture_utils`. Everything runs offline on a laptop CPU.",
        "",
        "This is the static edition: every notebook with the outputs stored from its full run, readable",
        "without a kernel. To run the code and use the interactive widgets, clone the course and open it in",
        "JupyterLab with `make lab`. The download button of each page gives its notebook without the outputs",
        "(they are on the page).",
        "",
    ]
    for caption, members in parts_of(files):
        lines += [f"## {caption}", ""]
        for path in members:
            title = notebook_title(nbformat.read(path, as_version=4)) or path.stem
            lines.append(f"- [{title}](notebooks/{path.name})")
        lines.append("")
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless ``path`` already holds it (Sphinx then re-reads only what changed)."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def write_book(src: Path | str, notebooks: list[Path] | None = None) -> Path:
    """Write the book's sources into ``src``: ``_config.yml``, ``_toc.yml``, ``index.md`` and the static copies of
    ``notebooks`` (default all) under ``src/notebooks``; copies of notebooks no longer listed are removed.
    Returns ``src``."""
    import yaml

    src = Path(src)
    files = notebooks if notebooks is not None else notebook_files()
    dump = lambda d: yaml.safe_dump(d, sort_keys=False, allow_unicode=True)
    _write_if_changed(src / "_config.yml", dump(book_config()))
    _write_if_changed(src / "_toc.yml", dump(book_toc(files)))
    _write_if_changed(src / "index.md", home_page(files))
    names = {p.name for p in files}
    for old in (src / "notebooks").glob("*.ipynb") if (src / "notebooks").is_dir() else []:
        if old.name not in names:
            old.unlink()
    for path in files:
        nb = static_notebook(nbformat.read(path, as_version=4))
        _write_if_changed(src / "notebooks" / path.name, nbformat.writes(nb) + "\n")
    return src


def _slim(html: Path) -> None:
    """Remove from the built site what no page loads: of the bundled MathJax all but ``MATHJAX_KEEP``, the
    themes' source maps (``*.map``, read only by a browser's developer tools), translation catalogues, and
    figures no page shows."""
    root = html / "_static" / "mathjax"
    if not (root / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"{root}: no tex-chtml.js (is sphinx-mathjax-offline installed?)")
    keep = [root / k for k in MATHJAX_KEEP]
    for path in sorted(root.rglob("*"), reverse=True):
        if not any(path == k or k in path.parents or path in k.parents for k in keep):
            path.unlink() if path.is_file() else path.rmdir()
    for path in (html / "_static").rglob("*.map"):
        path.unlink()
    shutil.rmtree(html / "_static" / "locales", ignore_errors=True)
    # Sphinx never deletes a figure: after an incremental build, those of a previous version of a page stay
    used = {m for page in html.rglob("*.html") for m in re.findall(r"_images/([^\"'?#]+)", page.read_text("utf-8"))}
    for path in (html / "_images").iterdir() if (html / "_images").is_dir() else []:
        if path.name not in used:
            path.unlink()


def build_site(
    out: Path | str = ROOT / "build" / "site",
    notebooks: list[Path] | None = None,
    src: Path | str | None = None,
    quiet: bool = True,
    strict: bool = False,
) -> Path:
    """Write the book's sources into ``src`` (default ``out``'s sibling ``site_src``) and render them with Jupyter
    Book into ``out`` (replaced). Returns ``out/index.html``. Raises RuntimeError when Sphinx fails, and with
    ``strict`` also when it warns (a broken link, a figure it cannot read); the message quotes Sphinx's output."""
    out = Path(out).resolve()
    src = Path(src).resolve() if src is not None else out.parent / "site_src"
    if src == out or out in src.parents:
        raise ValueError(f"src={src!s} must lie outside out={out!s} (out is replaced)")
    structure = ("_config.yml", "_toc.yml")
    before = [(src / n).read_text(encoding="utf-8") if (src / n).is_file() else None for n in structure]
    write_book(src, notebooks)
    if before != [(src / n).read_text(encoding="utf-8") for n in structure]:
        shutil.rmtree(src / "_build", ignore_errors=True)  # pages may have gone or moved: no stale page is kept
    # Jupyter Book's own command (the public interface), in a child process: Sphinx and docutils keep global state.
    cli = "import sys; from jupyter_book.cli.main import main; sys.argv[0] = 'jupyter-book'; main()"
    cmd = [sys.executable, "-c", cli, "build", str(src), "--builder", "html", "--keep-going"]
    cmd += (["-q"] if quiet else []) + (["-W"] if strict else [])
    done = subprocess.run(cmd, capture_output=quiet, text=True)
    html = src / "_build" / "html"
    if done.returncode != 0 or not (html / "index.html").is_file():
        raise RuntimeError(f"jupyter-book build {src} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    warnings = [ln for ln in (done.stderr or "").splitlines() if "WARNING" in ln or "ERROR" in ln]
    if warnings:
        print("\n".join(warnings), file=sys.stderr)
    for path in notebooks if notebooks is not None else notebook_files():
        nb = download_notebook(nbformat.read(path, as_version=4))
        nbformat.write(nb, html / "_sources" / "notebooks" / path.name)
    _slim(html)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(html, out)
    return out / "index.html"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "build" / "site"), help="output folder (replaced)")
    parser.add_argument("--src", default=None, help="folder for the book's sources (default: OUT/../site_src)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    parser.add_argument("--strict", action="store_true", help="fail on any Sphinx warning")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    index = build_site(args.out, src=args.src, quiet=not args.verbose, strict=args.strict)
    size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
    print(
        f"wrote {index} ({len(notebook_files())} notebooks, {size / 2**20:.1f} MiB, "
        f"{time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
