"""benchmarks/bench_widgets.py runs (a tiny notebook with two widgets, one of them two-stage) and writes
its table; no timing is checked -- benchmarks are not tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

CELLS = [
    "import time\nimport ipywidgets as W\nfrom lecture_utils import widgets",
    "def draw(k, preview=False):\n    time.sleep(0.01 if preview else 0.05)\n    return f'k={k}'\n\n"
    "widgets.interactive(draw, k=W.IntSlider(value=0, max=8, step=2))",
    "def pick(name):\n    return name\n\nwidgets.interactive(pick, name=W.Dropdown(options=['a', 'b', 'c']))",
]


def test_bench_widgets_measures_every_control_of_a_tiny_notebook(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- bench_notebooks:start -->\nkept\n<!-- bench_notebooks:end -->\n")
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_widgets.py"), str(path), "--values", "2", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = out.read_text()
    assert "kept" in text and "## Widgets (`bench_widgets.py`, full settings)" in text
    assert "| tiny | draw | k | preview+final | 2 |" in text, text
    assert "| tiny | pick | name | final | 2 |" in text, text
    assert "All changes: first picture median" in text and "(4 changes)" in text
