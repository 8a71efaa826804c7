"""The render thread behind :func:`lecture_utils.widgets.interactive` (private).

- :data:`WORKER`: one daemon thread that runs every widget's renders; ``submit(ia)`` queues a widget
  once (its newest request is taken when its turn comes: waiting requests are replaced, not queued).
- :func:`call_capturing`: call a draw function, collecting what it ``display()``-s on this thread.
- :func:`install_pyplot_isolation`: figures made on the render thread stay out of pyplot's global
  list (the inline backend of the main thread never shows or closes a half-drawn widget figure).
- :func:`display_data` / :func:`error_outputs`: objects and exceptions as Jupyter output dicts.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Any, Callable

_local = threading.local()  # .worker: this thread renders widgets; .captured: display() calls go here


def install_display_capture() -> None:
    """Route ``display()`` / ``clear_output()`` calls made on a render thread into that thread's
    capture list (a draw function that displays its figure itself, as some notebooks' do)."""
    from IPython.core.interactiveshell import InteractiveShell

    if not InteractiveShell.initialized():
        return
    pub = InteractiveShell.instance().display_pub
    if getattr(pub, "_lecture_capture", False):
        return
    publish, clear = pub.publish, pub.clear_output

    def capture_publish(data: dict, metadata: dict | None = None, *args: Any, **kwargs: Any) -> None:
        sink = getattr(_local, "captured", None)
        if sink is None:
            return publish(data, metadata, *args, **kwargs)
        sink.append({"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})})

    def capture_clear(wait: bool = False) -> None:
        sink = getattr(_local, "captured", None)
        if sink is None:
            return clear(wait)
        sink.clear()

    pub.publish, pub.clear_output = capture_publish, capture_clear
    pub._lecture_capture = True


def install_pyplot_isolation() -> None:
    """Figures created by pyplot on a render thread are not adopted into pyplot's global list:
    the inline backend (main thread, end of a cell) can then neither show nor close a widget's
    half-drawn figure, and ``plt.gcf()`` in a cell never returns it."""
    from matplotlib._pylab_helpers import Gcf

    current = Gcf.__dict__.get("_set_new_active_manager")
    func = getattr(current, "__func__", None)
    if func is None or getattr(func, "_lecture_isolated", False):
        return

    def set_new_active_manager(cls: Any, manager: Any) -> None:
        if getattr(_local, "worker", False):
            manager.canvas.figure._number = manager.num
            manager.canvas.figure._lecture_worker = True
            return
        func(cls, manager)

    set_new_active_manager._lecture_isolated = True  # type: ignore[attr-defined]
    Gcf._set_new_active_manager = classmethod(set_new_active_manager)


def in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _Worker:
    """One daemon thread that runs the renders of every interactive, newest request per widget."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[Any] = deque()
        self._thread: threading.Thread | None = None

    def submit(self, ia: Any) -> None:
        with self._cond:
            if ia not in self._queue:
                self._queue.append(ia)
            if self._thread is None or not self._thread.is_alive():
                install_pyplot_isolation()
                self._thread = threading.Thread(target=self._loop, name="lecture-widgets-render", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _loop(self) -> None:
        _local.worker = True
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                ia = self._queue.popleft()
            ia._run_pending()


WORKER = _Worker()
REFINING: set[Any] = set()  # interactives whose refinement shows a time-estimated bar
_ticker: threading.Thread | None = None


def _tick_loop() -> None:
    while True:
        time.sleep(0.2)
        for ia in list(REFINING):
            ia._tick()


def ensure_ticker() -> None:
    global _ticker
    if _ticker is None or not _ticker.is_alive():
        _ticker = threading.Thread(target=_tick_loop, name="lecture-widgets-progress", daemon=True)
        _ticker.start()


def display_data(obj: Any) -> dict:
    """An object as a ``display_data`` output (the kernel's formatter, or IPython's default one)."""
    from IPython.core.formatters import DisplayFormatter
    from IPython.core.interactiveshell import InteractiveShell

    if InteractiveShell.initialized():
        fmt = InteractiveShell.instance().display_formatter
    else:
        fmt = getattr(display_data, "fmt", None) or DisplayFormatter()
        display_data.fmt = fmt  # type: ignore[attr-defined]
    data, metadata = fmt.format(obj)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def error_outputs(exc: BaseException) -> list[dict]:
    """An exception as an ``error`` output, without this module's own frames."""
    here = str(Path(__file__).resolve())
    tb = [f for f in traceback.extract_tb(exc.__traceback__) if str(Path(f.filename).resolve()) != here]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(tb)] if tb else []
    lines += traceback.format_exception_only(type(exc), exc)
    return [{"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc), "traceback": lines}]


def call_capturing(fn: Callable[..., Any], **kwargs: Any) -> tuple[Any, list[dict]]:
    """``fn(**kwargs)`` and the ``display_data`` outputs it displayed itself (on this thread)."""
    install_display_capture()
    captured: list[dict] = []
    _local.captured = captured
    try:
        result = fn(**kwargs)
    finally:
        _local.captured = None
        if getattr(_local, "worker", False):
            forget_worker_figures()
    return result, captured


def forget_worker_figures() -> None:
    """Drop render-thread figures from the inline backend's to-draw list (it would keep every
    widget figure alive until the next cell runs: memory grows while a class plays with sliders)."""
    backend = sys.modules.get("matplotlib_inline.backend_inline")
    queued = getattr(getattr(backend, "show", None), "_to_draw", None)
    if not isinstance(queued, list):
        return
    for fig in [f for f in queued if getattr(f, "_lecture_worker", False)]:
        try:
            queued.remove(fig)
        except ValueError:  # flushed meanwhile by the main thread
            pass
