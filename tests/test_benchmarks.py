"""The benchmark scripts run (tiny settings, one repeat); no timing is checked here -- benchmarks are
not tests. Peers of the optional ``bench`` extra that are not installed are skipped by the script
with a note, so this passes in the plain test environment too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def run(args: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


TINY = ["--quick", "--size", "32", "--repeats", "1", "--batches", "1"]


def test_bench_methods_tiny_run_writes_tables(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n<!-- bench_notebooks:start -->\nkept\n<!-- bench_notebooks:end -->\n")
    proc = run(
        [sys.executable, str(BENCH / "bench_methods.py"), *TINY, "--methods", "saliency,grad_cam,cam,occlusion"]
        + ["--style-size", "32", "--style-steps", "2", "--fast-size", "32", "--out", str(out)]
    )
    text = out.read_text()
    assert "kept" in text, "the other script's section must survive"
    for needle in ("### Against the peers", "ours/floor", "| saliency | 1 | ours", "| occlusion | 1 |", "Gatys style"):
        assert needle in text, needle
    assert "| Grad-CAM | 1 | ours" in proc.stdout
    # every peer row is either measured or marked as not installed
    for line in text.splitlines():
        if line.startswith("| saliency | 1 | captum"):
            assert "not installed" in line or line.split("|")[5].strip() != "-"


def test_bench_methods_skips_missing_peers(tmp_path):
    """A peer that cannot be imported is reported as skipped, not an error."""
    out = tmp_path / "R.md"
    code = (
        "import sys, runpy; sys.modules['captum'] = None; sys.modules['torchcam'] = None; "
        "sys.modules['pytorch_grad_cam'] = None; "
        f"sys.argv = ['bench_methods.py', *{TINY!r}, '--methods', 'saliency,cam', '--skip-style', '--skip-fast', "
        f"'--out', {str(out)!r}]; "
        f"runpy.run_path({str(BENCH / 'bench_methods.py')!r}, run_name='__main__')"
    )
    run([sys.executable, "-c", code])
    text = out.read_text()
    assert "| saliency | 1 | captum | Saliency(abs=True) | - | - | - | not installed: skipped |" in text
    assert "| CAM | 1 | torchcam |" in text and "not installed" in text


def test_bench_notebooks_on_a_fake_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 99 · Fake"),
        nbformat.v4.new_code_cell("import os\nblock = bytearray(20_000_000)\nprint(os.environ['LECTURE_QUICK'])"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "99_fake.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    out = tmp_path / "R.md"
    run([sys.executable, str(BENCH / "bench_notebooks.py"), str(path), "--out", str(out)], timeout=600)
    text = out.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| 99_fake.ipynb | quick"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[2]) > 0 and cells[6] == "ok"
    assert float(cells[5]) > 0.015  # the kernel held a 20 MB block: its max RSS is above that
    assert path.read_text() == before, "the notebook must not be modified"
