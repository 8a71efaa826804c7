"""Stored outputs are what students read: each notebook's outputs must come from one clean
top-to-bottom run (execution counts 1..n in order) with no error output."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_outputs_come_from_one_clean_run(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: execution counts {counts}"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: stored error output {errors[0].get('ename')}"
    stderr = [
        o
        for c in code
        for o in c.get("outputs", [])
        if o.get("name") == "stderr" and "Traceback" in "".join(o.get("text", ""))
    ]
    assert not stderr, f"{path.name}: a traceback in stored stderr"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_title_cell_names_lecture_and_paper(path):
    nb = json.loads(path.read_text())
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and first.startswith("# ")
    assert any("\u0400" <= ch <= "\u04ff" for ch in first), "the title cell gives the Russian lecture title"
    assert "Try it" in "".join("".join(c["source"]) for c in nb["cells"]), "a 'Try it' exercise"


LECTURE = Path(__file__).resolve().parent.parent.parent / "shared" / "lecture" / "lecture.txt"


def _guillemet_quotes(text: str) -> list[str]:
    """The outermost «...» quotes of ``text`` (a quote may contain quotes of its own: ««Saliency maps» ...»)."""
    quotes, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "«":
            start = i + 1 if depth == 0 else start
            depth += 1
        elif ch == "»" and depth:
            depth -= 1
            if depth == 0:
                quotes.append(text[start:i])
    return quotes


def test_guillemet_quotes_are_found_with_nesting():
    assert _guillemet_quotes("a «b» c ««d» e» f") == ["b", "«d» e"]


@pytest.mark.skipif(not LECTURE.exists(), reason="the lecture text lives in ../shared beside the project")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_title_cell_quotes_the_lecture_verbatim(path):
    """Every «...» of the title cell (the slide title first) stands in the lecture text, word for word
    (line breaks and repeated spaces aside)."""
    words = " ".join(LECTURE.read_text(encoding="utf-8").split())
    first = "".join(json.loads(path.read_text())["cells"][0]["source"])
    quotes = [" ".join(q.split()) for q in _guillemet_quotes(first)]
    assert quotes, f"{path.name}: the title cell quotes no slide title in «...»"
    missing = [q for q in quotes if q not in words]
    assert not missing, f"{path.name}: not in the lecture text: {missing}"


def test_stored_notebooks_fit_the_size_budget():
    """Issue #17's budget: all notebooks together <= 40 MB, photo-like figures stored as JPEG
    (`make notebooks` runs tools/compact_figures.py after executing)."""
    from tools import compact_figures

    total = sum(p.stat().st_size for p in NOTEBOOKS)
    assert total <= 40 * 2**20, f"the stored notebooks take {total / 2**20:.1f} MB"
    for path in NOTEBOOKS:
        before, after, converted, _ = compact_figures.compact_notebook(path, write=False)
        assert converted == 0, f"{path.name}: {converted} photo-like PNG figures; run tools/compact_figures.py"
