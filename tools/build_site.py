"""The static HTML edition of the course: every notebook with its stored outputs, readable without a kernel.

``python tools/build_site.py [OUT]`` (``make site``) renders ``notebooks/NN_*.ipynb`` with nbconvert
(JupyterLab's look, figures embedded) into ``OUT`` (default ``build/site``) plus an ``index.html`` in
lecture order. Nothing is executed: the pages show the outputs stored from the full runs. Interactive
widgets need a running kernel; their cells say so on the page.
"""

from __future__ import annotations

import argparse
import html
import re
from pathlib import Path

import nbformat

__all__ = ["notebook_files", "notebook_title", "build_site"]

ROOT = Path(__file__).resolve().parents[1]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "Interactive widget: open this notebook in JupyterLab (make lab) to use it; "
    "the static edition shows the figures stored from the full run."
)


def notebook_files(folder: Path | str = ROOT / "notebooks") -> list[Path]:
    """The course notebooks ``NN_name.ipynb`` in lecture order."""
    files = sorted(p for p in Path(folder).glob("*.ipynb") if re.match(r"\d\d_", p.name))
    if not files:
        raise FileNotFoundError(f"no notebooks named NN_*.ipynb in {folder}")
    return files


def notebook_title(nb: dict) -> tuple[str, str]:
    """(title, subtitle) from the first markdown cell: its ``# `` heading and its first Cyrillic «...» title."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            head = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), "")
            ru = re.search(r"«[^»]*[А-Яа-яЁё][^»]*»", text)
            return head, (ru.group(0) if ru else "")
    return "", ""


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


def _static_widgets(nb) -> None:
    """Replace widget views (they need a kernel) by the figures their Output widgets stored, plus a note;
    drop views without stored output (progress bars). Removes the widget state from the metadata."""
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
            if stored or "interactive" in "".join(cell["source"]):
                outputs += [nbformat.from_dict(o) for o in stored if o.get("output_type") != "error"]
                note = {"text/markdown": f"*{WIDGET_NOTE}*"}
                outputs.append(nbformat.from_dict({"output_type": "display_data", "data": note, "metadata": {}}))
        cell["outputs"] = outputs


def build_site(out: Path | str = ROOT / "build" / "site", notebooks: list[Path] | None = None) -> Path:
    """Render ``notebooks`` (default all, in order) to HTML in ``out`` with an ``index.html``; returns the index."""
    from nbconvert import HTMLExporter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = notebooks if notebooks is not None else notebook_files()
    exporter = HTMLExporter(template_name="lab")
    rows = []
    for path in files:
        nb = nbformat.read(path, as_version=4)
        title, subtitle = notebook_title(nb)
        _static_widgets(nb)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title or path.stem}})
        page = path.with_suffix(".html").name
        (out / page).write_text(body, encoding="utf-8")
        rows.append((page, title or path.stem, subtitle))
    items = "\n".join(
        f'  <li><a href="{html.escape(page)}">{html.escape(title)}</a>'
        + (f' <span class="ru">{html.escape(sub)}</span>' if sub else "")
        + "</li>"
        for page, title, sub in rows
    )
    index = out / "index.html"
    index.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Seeing inside CNNs: visualizing neural networks and generating images</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
ul {{ list-style: none; padding-left: 0; }} li {{ margin: 0.3rem 0; }} .ru {{ color: #666; }}
</style></head>
<body>
<h1>Seeing inside CNNs</h1>
<p>Visualizing neural networks and generating images: the static edition of the course, one page per lecture
section, with the outputs of the full runs. To run the code and use the widgets, open the notebooks in
JupyterLab (<code>make lab</code>).</p>
<ul>
{items}
</ul>
</body></html>
""",
        encoding="utf-8",
    )
    return index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "build" / "site"), help="output folder")
    args = parser.parse_args(argv)
    index = build_site(args.out)
    print(f"wrote {index} ({len(notebook_files())} notebooks)")


if __name__ == "__main__":
    main()
