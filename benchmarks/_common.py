"""Helpers shared by the benchmark scripts: timing, Markdown tables, RESULTS.md sections."""

from __future__ import annotations

import importlib
import platform
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # torch is imported lazily: bench_notebooks' runner must stay small (its RSS is
    import torch  # inherited by the forked kernel and would show in the kernel's ru_maxrss)


def sync(device: torch.device | str) -> None:
    """Wait for queued CUDA work (no-op on the CPU)."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_time(
    fn: Callable[[], Any], repeats: int, device: torch.device | str = "cpu", budget_s: float = 30.0
) -> tuple[float, int, Any]:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up run.

    Stops early (after at least one timed run) once ``budget_s`` seconds were spent on timed runs,
    so expensive rows stay affordable. Returns ``(median seconds, timed runs, last result)``.
    """
    sync(device)
    out = fn()  # warm-up: allocations, caches, lazy imports
    sync(device)
    times: list[float] = []
    spent = 0.0
    for _ in range(max(1, repeats)):
        sync(device)
        t = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t)
        spent += times[-1]
        if spent > budget_s:
            break
    return statistics.median(times), len(times), out


def interleaved_medians(
    fns: dict[str, Callable[[], Any]], repeats: int, device: torch.device | str = "cpu", budget_s: float = 30.0
) -> dict[str, tuple[float, int, Any] | Exception]:
    """Median wall times of several functions measured in alternation: one warm-up each, then
    ``repeats`` rounds that run every function once, so a slow phase of the machine (another process,
    thermal or memory state) affects all of them alike and their *ratios* stay comparable.

    A function that raises in its warm-up is reported as the exception and left out of the rounds.
    Stops early (after at least one round) once the rounds took ``budget_s`` per function.
    Returns ``{name: (median seconds, timed runs, last result) or the exception}``.
    """
    out: dict[str, Any] = {}
    live: dict[str, Callable[[], Any]] = {}
    for name, fn in fns.items():
        try:
            sync(device)
            out[name] = fn()  # warm-up
            sync(device)
            live[name] = fn
        except Exception as e:  # a peer failing on this model is a result
            out[name] = e
    times: dict[str, list[float]] = {name: [] for name in live}
    spent = 0.0
    for _ in range(max(1, repeats)):
        for name, fn in live.items():
            sync(device)
            t = time.perf_counter()
            out[name] = fn()
            sync(device)
            times[name].append(time.perf_counter() - t)
            spent += times[name][-1]
        if spent > budget_s * max(1, len(live)):
            break
    return {
        name: (statistics.median(times[name]), len(times[name]), out[name]) if name in live else out[name]
        for name in fns
    }


def try_import(module: str, dist: str | None = None) -> tuple[Any | None, str | None]:
    """``(module, version)``, or ``(None, None)`` when it is not installed. ``dist`` the
    distribution name on PyPI when it differs from the import name (for the version)."""
    from importlib import metadata

    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None, None
    try:
        version = metadata.version(dist or module)
    except metadata.PackageNotFoundError:
        version = getattr(mod, "__version__", "?")
    return mod, version


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table (cells converted with ``str``; ``|`` escaped)."""

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(device: torch.device | str) -> str:
    """One line naming the machine: CPU/GPU, threads, torch version."""
    import torch

    dev = torch.device(device)
    what = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    return (
        f"device `{dev}` ({what}), torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"Python {platform.python_version()}"
    )


def write_section(path: str | Path, name: str, text: str, preamble: str = "") -> None:
    """Replace the section ``name`` of a Markdown file (between HTML comment markers), keeping the
    other sections, so several scripts can write into one RESULTS.md. ``preamble`` is written at
    the top when the file is new."""
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    old = path.read_text() if path.is_file() else (preamble.rstrip() + "\n\n" if preamble else "")
    if start in old and end in old:
        head, rest = old.split(start, 1)
        tail = rest.split(end, 1)[1]
        new = head + block + tail
    else:
        new = old.rstrip() + ("\n\n" if old.strip() else "") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 1 else f"{ms:.2f}"


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def fmt_diff(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}" if x < 1e-3 else f"{x:.3f}"
