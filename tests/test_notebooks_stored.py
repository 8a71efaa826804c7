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
