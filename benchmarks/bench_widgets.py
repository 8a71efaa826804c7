"""How fast the widgets answer: seconds from a control change to the first new picture and to the final one.

    python benchmarks/bench_widgets.py [--nb 03 06 10] [--quick] [--values 3] [--out benchmarks/RESULTS.md] [paths]

Each notebook runs top to bottom in a fresh kernel (nbclient, working directory = the notebook's folder,
``MPLBACKEND=Agg``, full settings unless ``--quick``). Then, in the same kernel, every control of every
``widgets.interactive`` is set to a few other values (other options; slider positions at 1/4, 3/4 and
1/2 of the range), one at a time, each followed by a wait for its picture; the control is put back
afterwards. Times come from the widget's own records (``Interactive.timings``): from the moment the
value is set in the kernel (which includes the notebook's own observers of that control) to the
moment the first new picture (a preview, a cached picture or the final one) and the final picture
are written to the output area. Not included: the browser's round trip (a few ms on one machine) and
drawing the JPEG in the page. Not a timed test: nothing here fails on a slow number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PREAMBLE = "# Benchmark results\n\nSee benchmarks/README.md."
FIRST_TARGET_S, FINAL_TARGET_S = 1.0, 10.0

# Runs in the notebook's kernel after the last cell; prints one line "BENCH_WIDGETS <json>".
PROBE = r'''
import json as _json, time as _time
from lecture_utils import widgets as _w


def _bench_values(w, n):
    """Up to n other values of a control."""
    import ipywidgets as _W
    if isinstance(w, _W.Combobox):
        return [o for o in w.options if o != w.value][:n]
    if hasattr(w, "_options_values"):
        vals = [v for v in w._options_values if not (isinstance(w, _w.ImagePicker) and str(v) in _w._UPLOADS)]
        i = next((j for j, v in enumerate(vals) if v == w.value), 0)
        return [vals[(i + k) % len(vals)] for k in range(1, min(n, len(vals) - 1) + 1)]
    if isinstance(w.value, bool):
        return [not w.value]
    if isinstance(w, _W.FloatLogSlider):
        return [w.base ** (w.min + f * (w.max - w.min)) for f in (0.25, 0.75, 0.5)[:n]]
    if isinstance(w.value, (int, float)) and getattr(w, "max", None) is not None:
        lo, hi, step = w.min, w.max, (w.step or 1)
        out = []
        for f in (0.25, 0.75, 0.5)[:n]:
            v = lo + round((hi - lo) * f / step) * step
            v = type(w.value)(v)
            if v != w.value and v not in out:
                out.append(v)
        return out
    if isinstance(w.value, (int, float)):
        return [w.value + 1]
    return []


_rows = []
for _ia in _w.registered():
    _name = getattr(_ia.draw, "__qualname__", "draw")
    _stages = "preview+final" if (_ia.preview_fn or "preview" in _ia.accepts) else "final"
    for _k, _c in _ia.controls.items():
        _orig = _c.value
        for _v in _bench_values(_c, __N__):
            _n0 = _ia._seq
            _t = _time.perf_counter()
            _c.value = _v
            _ok = _ia.wait(__TIMEOUT__)
            _new = [r for r in list(_ia.timings) if r["seq"] > _n0]
            _firsts = [r["t0"] + r["first_s"] - _t for r in _new if r["first_s"] is not None]
            _last = _new[-1] if _new else None
            _final = (_last["t0"] + _last["final_s"] - _t) if _last and _last["final_s"] is not None else None
            _err = _ia.last_error if _ia.last_error_seq > _n0 else None
            _rows.append(dict(widget=_name, control=_k, value=repr(_v)[:40], stages=_stages,
                              first=min(_firsts) if _firsts else None, final=_final, ok=bool(_ok),
                              error=None if _err is None else f"{type(_err).__name__}: {_err}"[:160]))
        _c.value = _orig
        _ia.wait(__TIMEOUT__)
print("BENCH_WIDGETS " + _json.dumps(_rows))
'''


def run_notebook(path: Path, n_values: int, timeout: float) -> tuple[list[dict], float, str]:
    """Execute ``path`` and the probe in one kernel; returns (rows, seconds of the top-to-bottom run, status)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell(PROBE.replace("__N__", str(n_values)).replace("__TIMEOUT__", str(timeout)))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    status, run_s, rows = "ok", 0.0, []
    with client.setup_kernel():
        t = time.perf_counter()
        try:
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, i)
        except Exception as e:  # a failing notebook is a result
            return [], time.perf_counter() - t, f"error: {str(e).strip().splitlines()[-1][:200]}"
        run_s = time.perf_counter() - t
        nb.cells.append(probe)
        client.execute_cell(probe, len(nb.cells) - 1)
    text = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream")
    line = next((x for x in text.splitlines() if x.startswith("BENCH_WIDGETS ")), None)
    if line is None:
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in probe.outputs if o.get("output_type") == "error"]
        return [], run_s, "probe failed: " + (errors[0][:200] if errors else text[-200:])
    rows = json.loads(line[len("BENCH_WIDGETS ") :])
    return rows, run_s, status


def quantile(xs: list[float], q: float) -> float:
    """The q-quantile (linear interpolation; the value itself for one sample)."""
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def summarize(per_nb: dict[str, list[dict]]) -> tuple[list[list[str]], list[float], list[float]]:
    """One table row per (notebook, widget, control): median and p90 of first / final seconds."""
    rows, all_first, all_final = [], [], []
    for nb, recs in per_nb.items():
        groups: dict[tuple, list[dict]] = {}
        for r in recs:
            groups.setdefault((r["widget"], r["control"], r["stages"]), []).append(r)
        for (widget, control, stages), rs in groups.items():
            first = [r["first"] for r in rs if r["first"] is not None]
            final = [r["final"] for r in rs if r["final"] is not None]
            all_first += first
            all_final += final
            errors = [r["error"] for r in rs if r["error"]] + [
                f"no picture for {r['value']}" for r in rs if not r["ok"]
            ]
            med_first = statistics.median(first) if first else None
            p90_final = quantile(final, 0.9) if final else None
            meets = (
                med_first is not None
                and quantile(first, 0.9) <= FIRST_TARGET_S
                and p90_final is not None
                and p90_final <= FINAL_TARGET_S
            )
            rows.append(
                [
                    nb,
                    widget,
                    control,
                    stages,
                    len(rs),
                    _fmt(med_first),
                    _fmt(quantile(first, 0.9) if first else None),
                    _fmt(statistics.median(final) if final else None),
                    _fmt(p90_final),
                    "; ".join(errors)[:120] if errors else ("ok" if meets else "**missed**"),
                ]
            )
    return rows, all_first, all_final


def section(per_nb: dict[str, list[dict]], runs: dict[str, tuple[float, str]], mode: str, note: str) -> str:
    import platform

    rows, first, final = summarize(per_nb)
    text = f"## Widgets (`bench_widgets.py`, {mode} settings)\n\n"
    if note:
        text += f"**{note}**\n\n"
    text += (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}. Seconds from a control change (set in the kernel "
        f"after a top-to-bottom run) to the first new picture and to the final one; targets: first <= "
        f"{FIRST_TARGET_S:g} s, final <= {FINAL_TARGET_S:g} s (90th percentiles). Notebooks: "
        + ", ".join(f"{nb} (run {s:.0f} s, {st})" for nb, (s, st) in runs.items())
        + ".\n\n"
    )
    text += markdown_table(
        ["notebook", "widget", "control", "stages", "n", "first med", "first p90", "final med", "final p90", "result"],
        rows,
    )
    if first:
        text += (
            f"\n\nAll changes: first picture median {statistics.median(first):.2f} s, "
            f"p90 {quantile(first, 0.9):.2f} s; "
            f"final median {statistics.median(final):.2f} s, p90 {quantile(final, 0.9):.2f} s "
            f"({len(first)} changes)."
        )
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", help="notebook files (default: notebooks/NN_*.ipynb, see --nb)")
    p.add_argument("--nb", nargs="+", default=[], metavar="NN", help="notebook numbers (default: all)")
    p.add_argument("--quick", action="store_true", help="quick settings (LECTURE_QUICK=1) instead of full ones")
    p.add_argument("--values", type=int, default=3, help="other values tried per control")
    p.add_argument("--timeout", type=float, default=600, help="seconds per cell and per widget change")
    p.add_argument("--out", default="benchmarks/RESULTS.md", help="Markdown file (section bench_widgets); '' = none")
    p.add_argument("--note", default="", help="a line written at the top of the section (e.g. machine load)")
    args = p.parse_args(argv)
    os.environ["LECTURE_QUICK"] = "1" if args.quick else "0"
    os.environ.setdefault("MPLBACKEND", "Agg")
    nbs = [Path(x).resolve() for x in args.paths] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.nb:
        nbs = [q for q in nbs if any(q.name.startswith(o.zfill(2)) for o in args.nb)]
    if not nbs:
        p.error("no notebook matched")
    per_nb: dict[str, list[dict]] = {}
    runs: dict[str, tuple[float, str]] = {}
    text = ""
    for path in nbs:
        print(f"  {path.name} ...", flush=True)
        rows, run_s, status = run_notebook(path, args.values, args.timeout)
        label = path.name[:2] if path.name[:2].isdigit() else path.stem
        per_nb[label], runs[label] = rows, (run_s, status)
        print(f"    run {run_s:.0f} s, {status}, {len(rows)} changes", flush=True)
        text = section(per_nb, runs, "quick" if args.quick else "full", args.note)
        if args.out:  # rewritten after every notebook: a stopped run keeps its rows
            write_section(args.out, "bench_widgets", text, preamble=PREAMBLE)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
