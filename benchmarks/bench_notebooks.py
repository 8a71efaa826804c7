"""Wall time and peak kernel memory of each course notebook, in quick mode (and full mode with --full).

    python benchmarks/bench_notebooks.py [--only 03 06] [--full] [--out benchmarks/RESULTS.md] [paths ...]

Each notebook runs in a fresh subprocess (nbclient, kernel ``python3``, working directory = the
notebook's folder, ``MPLBACKEND=Agg``, ``LECTURE_QUICK=1`` or ``0``); nothing is written back to the
notebook. Memory: the parent samples the resident set size (RSS) of the runner's process tree minus
the runner itself -- i.e. the kernel and anything it started -- every 0.1 s with psutil (peak of the
sum), and the runner reports ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of its reaped kernel (the peak
of the largest single process, exact). Targets: quick suite <= 15 min on 2 cores, each full run
<= 3-5 min, peak <= 3 GiB. Notebooks run one after another, never in parallel.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3
PREAMBLE = "# Benchmark results\n\nSee benchmarks/README.md."
TARGETS = {"quick_suite_s": 15 * 60, "full_each_s": 5 * 60, "full_each_goal_s": 3 * 60, "peak_bytes": 3 * GIB}


def run_child(path: str, timeout: float) -> None:
    """Inside the runner subprocess: execute one notebook, print one JSON line."""
    import resource

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).resolve().parent)}},
    )
    status, t = "ok", time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as e:
        status = "error: " + str(e).strip().splitlines()[-1][:200]
    except Exception as e:  # timeouts, dead kernels
        status = f"error: {type(e).__name__}: {str(e)[:200]}"
    wall = time.perf_counter() - t
    maxrss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    n_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    print(
        "BENCH_RESULT " + json.dumps({"wall_s": wall, "maxrss": maxrss_kib * 1024, "status": status, "cells": n_cells})
    )


def measure(path: Path, quick: bool, timeout: float) -> dict:
    """Run ``path`` in a subprocess and sample its kernel tree's RSS."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        psutil = None
    env = dict(os.environ, LECTURE_QUICK="1" if quick else "0", MPLBACKEND="Agg")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", str(path), "--timeout", str(timeout)]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    if psutil is not None:
        runner = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                total = sum(p.memory_info().rss for p in runner.children(recursive=True))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                total = 0
            peak = max(peak, total)
            time.sleep(0.1)
    out, err = proc.communicate()
    total_s = time.perf_counter() - t
    line = next((x for x in out.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        return {
            "wall_s": None,
            "total_s": total_s,
            "peak": peak or None,
            "maxrss": None,
            "status": "runner failed: " + err.strip()[-300:],
        }
    res = json.loads(line[len("BENCH_RESULT ") :])
    res.update(total_s=total_s, peak=peak or None)
    return res


def find_notebooks(paths: list[str], only: list[str]) -> list[Path]:
    if paths:
        nbs = [Path(p) for p in paths]
    else:
        nbs = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        nbs = [p for p in nbs if any(p.name.startswith(o.zfill(2)) for o in only)]
    return nbs


def gib(b: float | None) -> str:
    return "-" if b is None else f"{b / GIB:.2f}"


def _section(modes: list[str], note: str, rows: list[list[str]], totals: dict[str, float], done: int, n: int) -> str:
    import platform

    text = f"## Notebooks (`bench_notebooks.py`, {' + '.join(modes)} mode)\n\n"
    if note:
        text += f"**{note}**\n\n"
    if done < n:
        text += f"**Partial: {done} of {n} notebooks measured so far.**\n\n"
    text += (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}. Targets: quick suite <= 15 min, each full run <= 3-5 min, "
        "peak kernel memory <= 3 GiB.\n\n"
    )
    text += markdown_table(
        [
            "notebook",
            "mode",
            "execute s",
            "with kernel start s",
            "peak RSS GiB (tree)",
            "max RSS GiB (kernel)",
            "status",
            "target",
        ],
        rows,
    )
    for mode, total in totals.items():
        limit = f" (target {TARGETS['quick_suite_s'] // 60} min for all notebooks)" if mode == "quick" else ""
        text += f"\n\n{mode} total: {total:.0f} s for {done} notebook(s){limit}."
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", help="notebooks (default: notebooks/NN_*.ipynb)")
    p.add_argument("--only", nargs="+", default=[], metavar="NN", help="notebook numbers, e.g. --only 03 06")
    p.add_argument("--full", action="store_true", help="also run each notebook with full settings")
    p.add_argument("--no-quick", action="store_true", help="skip the quick-mode runs (with --full)")
    p.add_argument("--timeout", type=float, default=1800, help="per-cell timeout in seconds")
    p.add_argument("--out", default="benchmarks/RESULTS.md", help="Markdown file (section bench_notebooks); '' = none")
    p.add_argument("--section", default="bench_notebooks", help="name of the RESULTS.md section to (re)write")
    p.add_argument("--note", default="", help="a line written at the top of the section (e.g. machine load)")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        run_child(args._child, args.timeout)
        return 0
    nbs = find_notebooks(args.paths, args.only)
    if not nbs:
        p.error("no notebook matched")
    modes = ([] if args.no_quick else ["quick"]) + (["full"] if args.full else [])
    rows, totals = [], {m: 0.0 for m in modes}
    for i, nb in enumerate(nbs):
        for mode in modes:
            print(f"  {nb.name} ({mode}) ...", flush=True)
            r = measure(nb, mode == "quick", args.timeout)
            wall = r.get("wall_s")
            totals[mode] += r["total_s"]
            peak = max(x for x in (r.get("peak") or 0, r.get("maxrss") or 0))
            ok = r["status"] == "ok" and peak <= TARGETS["peak_bytes"]
            if mode == "full":
                ok = ok and wall is not None and wall <= TARGETS["full_each_s"]
            rows.append(
                [
                    nb.name,
                    mode,
                    "-" if wall is None else f"{wall:.1f}",
                    f"{r['total_s']:.1f}",
                    gib(r.get("peak")),
                    gib(r.get("maxrss")),
                    r["status"],
                    "ok" if ok else "**missed**",
                ]
            )
            print("    " + " | ".join(rows[-1]), flush=True)
        # the section is rewritten after every notebook: a long run that is stopped still leaves its rows
        text = _section(modes, args.note, rows, totals, i + 1, len(nbs))
        if args.out:
            write_section(args.out, args.section, text, preamble=PREAMBLE)
    print()
    print(text)
    if args.out:
        print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
