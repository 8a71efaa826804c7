"""Widgets for the notebooks: layer, class and image pickers and a re-rendering helper.

Every picker has a sensible default, so a widget cell also executes unattended (nbval, the
static edition): :func:`interactive` draws once with the defaults (that first picture is stored
in the notebook), then again on every change.

How a change is rendered (inside a Jupyter kernel)
--------------------------------------------------
- Renders run in **one background thread**, so the kernel stays responsive while a picture is
  computed. A change that arrives while a render runs **replaces** the waiting one: a slider
  dragged across ten values renders the one it stops on, not ten stale pictures. The picture
  shown is always the one of the newest finished request.
- Sliders update on release (``continuous_update=False``) when the first render took longer
  than ``slow_s`` (0.2 s).
- **Two stages**: a ``draw`` that accepts ``preview`` is called with ``preview=True`` first (a
  quick picture, shown at once), then with ``preview=False`` (the refined one) while a progress
  bar runs. A ``draw`` that accepts ``progress`` gets a callable ``progress(fraction)``; it moves
  the bar and raises :class:`Superseded` when a newer value is waiting (let it propagate: it
  stops a stale refinement).
- ``cache=True`` keeps the final pictures in memory per control value: revisiting is instant.
- :func:`exercise_all` (the last cell of every notebook) changes every control of every widget
  once, waits for the pictures and raises on any error ("Run All, then use").

Outside a kernel (scripts, tests) renders run at once on the calling thread (``background=None``).
Figures drawn on the render thread are kept out of pyplot's global figure list, so the inline
backend never shows a half-drawn widget figure under another cell.
"""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
import re
import tempfile
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as W
from matplotlib.figure import Figure

from ._widget_thread import REFINING, WORKER, call_capturing, display_data, ensure_ticker, error_outputs, in_kernel
from .plot import compact

__all__ = [
    "layer_picker",
    "class_picker",
    "image_picker",
    "interactive",
    "class_index",
    "image_name",
    "ImagePicker",
    "Interactive",
    "Superseded",
    "exercise_all",
    "registered",
]

MAX_UPLOAD_BYTES = 40 * 2**20  # a photo; a larger upload is refused with its size in the message


class Superseded(Exception):
    """Raised by ``progress(fraction)`` inside a refinement when a newer value is waiting."""


# --------------------------------------------------------------------------- pickers


def _names_list(value: Any, arg: str, what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        got = f"the string {value!r}" if isinstance(value, str) else f"{type(value).__name__}"
        raise TypeError(f"{arg} must be a list of {what}, got {got}")
    names = list(value)
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise TypeError(f"{arg} must be a list of {what} (strings), got {bad[0]!r} ({type(bad[0]).__name__}) in it")
    if not names:
        raise ValueError(f"{arg} must be a non-empty list of {what}, got an empty list")
    return names


def _not_among(func: str, value: str, options: Sequence[str], what: str) -> ValueError:
    close = difflib.get_close_matches(value, list(options), n=3, cutoff=0.5)
    hint = f" Did you mean {' / '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(options[:30]) + (", ..." if len(options) > 30 else "")
    return ValueError(f"{func}: value {value!r} is not among the picker's {what}: {shown}.{hint}")


def layer_picker(model: Any, value: str | None = None, layers: Sequence[str] | None = None) -> W.Dropdown:
    """Dropdown of the model's named layers (input to output); ``layers`` restricts the list
    (it may hold pseudo-layers such as ``"class score"``); ``value`` defaults to the last one."""
    if not hasattr(model, "layers") or isinstance(model, (str, Sequence)):
        raise TypeError(f"layer_picker: model must be a ZooModel (from load_model), got {type(model).__name__}")
    options = _names_list(model.layers if layers is None else layers, "layer_picker: layers", "layer names")
    if value is not None:
        if not isinstance(value, str):
            raise TypeError(f"layer_picker: value must be a layer name (str), got {value!r} ({type(value).__name__})")
        if value not in options:
            raise _not_among("layer_picker", value, options, "layers")
    return W.Dropdown(options=options, value=value or options[-1], description="layer")


def _label(i: int, name: str) -> str:
    return f"{name} ({i})"


def _class_id(value: Any, classes: Sequence[str], arg: str) -> int:
    """A class id from an id or an exact, unambiguous class name."""
    n = len(classes)
    want = f"a class id 0..{n - 1} or a class name such as {classes[0]!r}"
    if isinstance(value, str):
        ids = [i for i, c in enumerate(classes) if c == value]
        if len(ids) == 1:
            return ids[0]
        if ids:
            raise ValueError(f"{arg}: the class name {value!r} is ambiguous (ids {ids}); pass the id")
        close = difflib.get_close_matches(value, list(classes), n=3, cutoff=0.6)
        hint = f"; did you mean {' / '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"{arg} must be {want}, got {value!r}, which is no class name{hint}")
    if hasattr(value, "ndim") and getattr(value, "ndim", 1) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{arg} must be {want}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if not 0 <= value < n:
        raise ValueError(f"{arg} must be {want}, got {value}: there are {n} classes")
    return value


def class_picker(classes: Sequence[str], top: Sequence[int] = (), value: int | str | None = None) -> W.Combobox:
    """Searchable class picker: type to filter the class names; ``top`` (e.g. the image's top-k
    predictions) is listed first. ``value``: a class id or an exact class name (default: the first
    of ``top``, else class 0). Read the choice with :func:`class_index`."""
    if not isinstance(classes, (list, tuple)) and hasattr(classes, "classes"):
        raise TypeError(
            f"class_picker: classes must be a list of class names such as model.classes, got {type(classes).__name__}"
        )
    if isinstance(classes, Sequence) and not isinstance(classes, str) and len(classes) == 0:
        raise ValueError("class_picker needs a non-empty list of class names, got an empty list")
    classes = _names_list(classes, "class_picker: classes", "class names")
    if isinstance(top, (str, bytes)) or not hasattr(top, "__iter__"):
        raise TypeError(f"class_picker: top must be a list of class ids, got {top!r} ({type(top).__name__})")
    first: list[int] = []
    for i, t in enumerate(top):
        c = _class_id(t, classes, f"class_picker: top[{i}]")
        if c not in first:
            first.append(c)
    seen = set(first)
    order = first + [i for i in range(len(classes)) if i not in seen]
    start = _class_id(value, classes, "class_picker: value") if value is not None else (first[0] if first else 0)
    return W.Combobox(
        options=[_label(i, classes[i]) for i in order],
        value=_label(start, classes[start]),
        description="class",
        ensure_option=True,
        placeholder="type a class name",
    )


def class_index(picker: W.Combobox) -> int:
    """The class id chosen in a :func:`class_picker` (``ValueError`` while it holds half-typed text)."""
    if not isinstance(picker, W.Combobox):
        raise TypeError(f"class_index takes a widget made by class_picker, got {type(picker).__name__}")
    text = picker.value
    m = re.fullmatch(r".*\((\d+)\)", text or "", flags=re.S)
    if m is None or text not in picker.options:
        raise ValueError(f"the class picker holds {text!r}, not one of its classes: pick a class from the list")
    return int(m.group(1))


_UPLOADS: dict[str, str] = {}  # path of an uploaded file -> the name it was uploaded with
_upload_lock = threading.Lock()


def _upload_dir() -> Path:
    d = getattr(_upload_dir, "path", None)
    if d is None or not d.is_dir():
        d = Path(tempfile.mkdtemp(prefix="your-photos-"))
        _upload_dir.path = d  # type: ignore[attr-defined]
    return d


def image_name(value: str) -> str:
    """A short name for a picker's value, for titles: the sample name, or the uploaded file's name."""
    return _UPLOADS.get(str(value), str(value))


class ImagePicker(W.Dropdown):
    """Dropdown of sample images plus an upload button (``.upload``, shown beside it by
    :func:`interactive`). An uploaded file is saved to a temporary file and checked with
    :func:`lecture_utils.images.load_image`; if it loads, it becomes an option (its value is the
    file's path, which ``load_image`` accepts) and is selected; if not, the error goes to
    :meth:`on_error` handlers (an interactive's output area) and the selection is unchanged."""

    def __init__(self, names: list[str], value: str, upload: bool = True) -> None:
        super().__init__(options=[(n, n) for n in names], value=value, description="image")
        self.samples = list(names)
        self.muted = False  # True while options change (no render of the intermediate value)
        self._error_handlers: list[Callable[[BaseException], None]] = []
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="your photo") if upload else None
        if self.upload is not None:
            self.upload.observe(self._on_upload, names="value")

    def on_error(self, handler: Callable[[BaseException], None]) -> None:
        """Call ``handler(exception)`` when an uploaded file cannot be used."""
        self._error_handlers.append(handler)

    def add_upload(self, name: str, data: bytes) -> str:
        """Check ``data`` (the bytes of an image file called ``name``) with ``load_image``, add it as
        an option and select it. Returns its value (a path). Raises ``ImageError`` (a ``ValueError``)
        for a file that is no usable image, ``TypeError`` for data that is not bytes."""
        from .images import ImageError, load_image

        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"add_upload: data must be the file's bytes, got {type(data).__name__}")
        data = bytes(data)
        shown = str(name) or "upload"
        if len(data) > MAX_UPLOAD_BYTES:
            raise ImageError(
                f"your file {shown!r} is {len(data) / 2**20:.0f} MB; at most {MAX_UPLOAD_BYTES // 2**20} MB "
                "can be uploaded: save a smaller copy of the photo"
            )
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(shown).name).strip("._") or "upload"
        with _upload_lock:
            folder = _upload_dir() / str(len(_UPLOADS) + 1)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / safe
            path.write_bytes(data)
        try:
            load_image(path)
        except (ValueError, OSError) as e:
            path.unlink(missing_ok=True)
            raise ImageError(f"your file {shown!r} cannot be used as an image: {e}") from e
        value = str(path)
        _UPLOADS[value] = shown
        self.muted = True
        try:
            self.options = [*((lbl, v) for lbl, v in zip(self._options_labels, self._options_values)), (shown, value)]
        finally:
            self.muted = False
        self.value = value
        return value

    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        f = files[-1]
        try:
            self.add_upload(f["name"], f["content"])
        except Exception as e:  # noqa: BLE001 -- every failure is shown to the user, none escapes
            if not self._error_handlers:
                raise
            for handler in self._error_handlers:
                handler(e)


def image_picker(names: Sequence[str] | None = None, value: str | None = None, upload: bool = True) -> ImagePicker:
    """Dropdown of image names (photos and paintings by default) and, with ``upload=True``, a
    button to upload your own photo (see :class:`ImagePicker`; the draw function then gets the
    uploaded file's path: pass it to ``load_image``, and to :func:`image_name` for a title)."""
    from .images import sample_names

    options = _names_list(sample_names() if names is None else names, "image_picker: names", "image names")
    if value is not None:
        if not isinstance(value, str):
            raise TypeError(f"image_picker: value must be an image name (str), got {value!r} ({type(value).__name__})")
        if value not in options:
            raise _not_among("image_picker", value, options, "images")
    if not isinstance(upload, bool):
        raise TypeError(f"image_picker: upload must be True or False, got {upload!r} ({type(upload).__name__})")
    return ImagePicker(options, value or options[0], upload=upload)


class _Request:
    __slots__ = ("seq", "values", "t0", "first", "final", "stage", "error")

    def __init__(self, seq: int, values: dict[str, Any]) -> None:
        self.seq, self.values, self.t0 = seq, values, time.perf_counter()
        self.first: float | None = None  # seconds from the change to the first new picture
        self.final: float | None = None  # ... to the final picture
        self.stage = "waiting"
        self.error: BaseException | None = None


# --------------------------------------------------------------------------- interactive


def _value_of(w: W.ValueWidget) -> Any:
    return class_index(w) if isinstance(w, W.Combobox) else w.value


def _freeze(v: Any) -> Any:
    hash(v)  # TypeError for an unhashable value: that request is not cached
    return v


class Interactive(W.VBox):
    """The box :func:`interactive` returns: the controls, a progress bar (hidden while idle) and the
    output area. ``wait()`` blocks until the newest picture is shown; ``timings`` lists, per
    change, seconds to the first new picture and to the final one; ``last_error`` is the newest
    render's exception (shown in the output area), if any."""

    def __init__(self, draw: Callable[..., Any], controls: dict[str, W.ValueWidget], **opts: Any) -> None:
        self.draw, self.controls = draw, controls
        self.preview_fn: Callable[..., Any] | None = opts["preview_fn"]
        self.accepts = opts["accepts"]  # names among ("preview", "progress") that draw takes
        self.background: bool = opts["background"]
        self.slow_s: float = opts["slow_s"]
        self.out = W.Output()
        self.bar = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="refining", bar_style="info")
        self.bar.layout.visibility = "hidden"
        row: list[W.Widget] = []
        for w in controls.values():
            row.append(w)
            if isinstance(w, ImagePicker) and w.upload is not None:
                row.append(w.upload)
                w.on_error(self.show_error)
        super().__init__([W.HBox(row, layout=W.Layout(flex_flow="row wrap")), self.bar, self.out])
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._cache: OrderedDict[Any, list[dict]] | None = OrderedDict() if opts["cache"] else None
        self._cache_size = int(opts["cache"])
        self._seq = 0
        self._shown = -1
        self._pending: _Request | None = None
        self._running: _Request | None = None
        self._suppress = False
        self.auto_release = False  # switch sliders to update-on-release when a render is slow
        self._final_s = 0.0  # running estimate of the final stage's duration (the bar's time base)
        self._refine_t0 = 0.0
        self.timings: deque[dict] = deque(maxlen=1000)
        self.last_error: BaseException | None = None
        self.last_error_seq = -1
        for w in controls.values():
            w.observe(self._changed, names="value")

    def set_continuous_update(self, on: bool) -> None:
        """``continuous_update`` of every control that has it (sliders, text boxes): ``False`` =
        update on release / Enter."""
        for w in self.controls.values():
            if w.has_trait("continuous_update") and w.continuous_update != on:
                w.continuous_update = on

    def detach(self) -> None:
        """Stop re-rendering on control changes (a re-run cell's old widget, a failed first render)."""
        for w in self.controls.values():
            try:
                w.unobserve(self._changed, names="value")
            except ValueError:
                pass

    def close(self) -> None:
        self.detach()
        super().close()

    # ---- requests (main thread)
    def values(self) -> dict[str, Any]:
        """The controls' current values as ``draw`` gets them (``ValueError`` for a half-typed class)."""
        return {k: _value_of(w) for k, w in self.controls.items()}

    def _changed(self, _change: Any = None) -> None:
        if self._suppress or any(getattr(w, "muted", False) for w in self.controls.values()):
            return
        self.request()

    def request(self, *, stages: bool = True) -> _Request | None:
        """Ask for a picture of the current values; returns the request (``None`` while a class
        picker holds half-typed text). ``stages=False``: no preview stage (the first render)."""
        try:
            values = self.values()
        except (ValueError, IndexError):
            return None  # a class picker holds half-typed text: wait for a full choice
        with self._lock:
            self._seq += 1
            req = _Request(self._seq, values)
            req.stage = "waiting" if stages else "final-only"
            hit = self._cached(values)
            if hit is not None:
                self._pending = None
                req.stage = "cached"
                self._write(req, hit, final=True)
                self.timings.append(self._timing(req))
                self._idle.notify_all()
                return req
            near = self._neighbour(values) if self.background and stages else None
            if near is not None:
                self._write(req, near, final=False)
            self._pending = req
        if self.background:
            WORKER.submit(self)
        else:
            self._run_pending()
        return req

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no render is running or waiting; ``False`` if ``timeout`` (s) ran out."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending is None and self._running is None, timeout)

    def show_error(self, exc: BaseException) -> None:
        """Show ``exc`` in the output area (replacing the picture); later changes render as usual."""
        with self._lock:
            self._seq += 1
            req = _Request(self._seq, {})
            req.error = exc
            self.last_error, self.last_error_seq = exc, req.seq
            self._write(req, error_outputs(exc), final=True)

    # ---- cache
    def _cached(self, values: dict[str, Any]) -> list[dict] | None:
        if self._cache is None:
            return None
        try:
            key = tuple((k, _freeze(v)) for k, v in values.items())
        except TypeError:
            return None
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return found

    def _neighbour(self, values: dict[str, Any]) -> list[dict] | None:
        """A cached picture whose values differ from ``values`` in one number only (the closest),
        with a line saying so: shown at once while the new picture renders."""
        if not self._cache:
            return None
        best: tuple[float, str, Any, list[dict]] | None = None
        for key, outputs in self._cache.items():
            other = dict(key)
            diff = [k for k in values if other.get(k) != values[k]]
            if len(diff) != 1:
                continue
            a, b = other[diff[0]], values[diff[0]]
            numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (a, b))
            if numeric and (best is None or abs(a - b) < best[0]):
                best = (abs(a - b), diff[0], a, outputs)
        if best is None:
            return None
        _, name, a, outputs = best
        note = f"showing {name} = {a:g} (computed before) while {name} = {values[name]:g} renders ...\n"
        return [{"output_type": "stream", "name": "stdout", "text": note}, *outputs]

    def _store(self, values: dict[str, Any], outputs: list[dict]) -> None:
        if self._cache is None:
            return
        try:
            key = tuple((k, _freeze(v)) for k, v in values.items())
        except TypeError:
            return
        with self._lock:
            self._cache[key] = outputs
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # ---- rendering (render thread, or the caller's thread outside a kernel)
    def _write(self, req: _Request, outputs: list[dict], final: bool) -> bool:
        with self._lock:
            if req.seq < self._shown:
                return False  # a newer picture is already shown
            self._shown = req.seq
            self.out.outputs = tuple(outputs)
            now = time.perf_counter() - req.t0
            req.first = now if req.first is None else req.first
            req.final = now if final else req.final
            return True

    def _newer_waiting(self) -> bool:
        return self._pending is not None

    def _run_pending(self) -> None:
        with self._lock:
            req, self._pending = self._pending, None
            if req is None:
                return
            self._running = req
        try:
            self._render(req)
        except Superseded:
            req.stage = "superseded"
        except Exception as e:  # noqa: BLE001 -- a broken render is shown, never kills the widget
            req.error, req.stage = e, "error"
            with self._lock:
                self.last_error, self.last_error_seq = e, req.seq
                self._write(req, error_outputs(e), final=True)
        finally:
            self._progress_off()
            with self._lock:
                self._running = None
                self.timings.append(self._timing(req))
                self._idle.notify_all()

    def _call(self, fn: Callable[..., Any], values: dict[str, Any], **extra: Any) -> list[dict]:
        """``fn(**values, **extra)`` as outputs: its returned figure (as a JPEG) after whatever it
        displayed itself."""
        result, captured = call_capturing(fn, **values, **extra)
        if isinstance(result, Figure):
            captured.append(display_data(compact(result, dpi=result.dpi, quality=90)))  # closes the figure
        elif result is not None:
            captured.append(display_data(result))
        return captured

    def _render(self, req: _Request) -> None:
        values = req.values
        staged = self.background and req.stage != "final-only"
        if staged and (self.preview_fn is not None or "preview" in self.accepts):
            req.stage = "preview"
            fn = self.preview_fn or self.draw
            extra = {} if self.preview_fn is not None else {"preview": True}
            self._write(req, self._call(fn, values, **extra), final=False)
            if self._newer_waiting():
                req.stage = "superseded"
                return
        req.stage = "final"
        extra = {"preview": False} if "preview" in self.accepts else {}
        if "progress" in self.accepts:
            extra["progress"] = self._progress_callback(req)
        self._progress_on(estimated="progress" not in self.accepts)
        t0 = time.perf_counter()
        outputs = self._call(self.draw, values, **extra)
        took = time.perf_counter() - t0
        self._final_s = took if self._final_s == 0 else 0.5 * self._final_s + 0.5 * took
        if self.auto_release and took > self.slow_s:
            self.set_continuous_update(False)
        self._store(values, outputs)
        self._write(req, outputs, final=True)
        req.stage = "done"

    # ---- progress bar
    def _progress_on(self, estimated: bool) -> None:
        if not self.background or (estimated and self._final_s < self.slow_s):
            return
        with self._lock:
            self._refine_t0 = time.perf_counter()
            self.bar.value = 0.0
            self.bar.layout.visibility = "visible"
        if estimated:
            REFINING.add(self)
            ensure_ticker()

    def _progress_off(self) -> None:
        REFINING.discard(self)
        with self._lock:
            if self.bar.layout.visibility != "hidden":
                self.bar.layout.visibility = "hidden"

    def _tick(self) -> None:
        with self._lock:
            if self in REFINING and self._final_s > 0:
                elapsed = time.perf_counter() - self._refine_t0
                self.bar.value = min(0.95, elapsed / self._final_s)

    def _progress_callback(self, req: _Request) -> Callable[[float], None]:
        def progress(fraction: float) -> None:
            if self._newer_waiting():
                raise Superseded(f"a newer value is waiting (request {req.seq} dropped)")
            with self._lock:
                self.bar.layout.visibility = "visible"
                self.bar.value = min(1.0, max(0.0, float(fraction)))

        return progress

    @staticmethod
    def _timing(req: _Request) -> dict:
        return {
            "seq": req.seq,
            "t0": req.t0,
            "values": req.values,
            "first_s": req.first,
            "final_s": req.final,
            "stage": req.stage,
        }

    # ---- "Run All, then use"
    def exercise(self, timeout_s: float = 600.0) -> list[str]:
        """Change each control once to another value, wait for its picture, then put every value and
        the first picture back. Returns the failures (empty: all rendered)."""
        with self._lock:
            saved_outputs = self.out.outputs
        saved = {k: w.value for k, w in self.controls.items()}
        failures = []
        for name, w in self.controls.items():
            new = _another_value(w)
            if new is _SKIP:
                continue
            seq0 = self._seq
            w.value = new
            if not self.wait(timeout_s):
                failures.append(f"{self._name()}: {name}={new!r}: no picture within {timeout_s:.0f} s")
            elif self.last_error_seq > seq0:
                e = self.last_error
                failures.append(f"{self._name()}: {name}={new!r}: {type(e).__name__}: {e}")
        self.wait(timeout_s)
        self._suppress = True
        try:
            for k, w in self.controls.items():
                w.value = saved[k]
        finally:
            self._suppress = False
        with self._lock:
            self._seq += 1
            self._shown = self._seq
            self.out.outputs = saved_outputs
        return failures

    def _name(self) -> str:
        return f"{getattr(self.draw, '__qualname__', 'draw')}({', '.join(self.controls)})"


_SKIP = object()


def _another_value(w: W.ValueWidget) -> Any:
    """Another valid value of a control (the next option, one step along a slider), or ``_SKIP``."""
    if isinstance(w, W.Combobox):
        others = [o for o in w.options if o != w.value]
        return others[0] if others else _SKIP
    if hasattr(w, "_options_values"):
        values = [v for v in w._options_values if not (isinstance(w, ImagePicker) and str(v) in _UPLOADS)]
        if len(values) < 2:
            return _SKIP
        i = next((j for j, v in enumerate(values) if v == w.value), -1)
        return values[(i + 1) % len(values)]
    if isinstance(w.value, bool):
        return not w.value
    if isinstance(w, W.FloatLogSlider):
        e, step = math.log(w.value, w.base), w.step or 0.1
        e = e + step if e + step <= w.max else e - step
        return w.base**e
    if isinstance(w.value, (int, float)) and not isinstance(w.value, bool):
        step = getattr(w, "step", None) or 1
        lo, hi = getattr(w, "min", None), getattr(w, "max", None)
        up = w.value + step
        new = up if hi is None or up <= hi else w.value - step
        return _SKIP if lo is not None and new < lo else new
    return _SKIP


_REGISTRY: dict[tuple, Interactive] = {}


def registered() -> list[Interactive]:
    """The interactives created in this kernel (a re-run cell replaces its earlier one), in order."""
    return [ia for ia in _REGISTRY.values() if ia.comm is not None]


def exercise_all(timeout_s: float = 600.0) -> int:
    """After a top-to-bottom run: change every control of every registered interactive once to
    another value, wait for its picture, then restore the values and first pictures. Raises
    ``RuntimeError`` listing every control whose render failed or timed out; returns how many
    interactives were exercised. The last cell of each notebook calls it."""
    failures: list[str] = []
    done = registered()
    for ia in done:
        failures += ia.exercise(timeout_s)
    if failures:
        raise RuntimeError("widgets failed after Run All:\n  " + "\n  ".join(failures))
    return len(done)


def _check_options(draw: Any, controls: dict[str, Any], preview: Any, cache: Any, continuous_update: Any) -> set:
    """Validate :func:`interactive`'s arguments; returns the names among (preview, progress) draw takes."""
    if not callable(draw):
        raise TypeError(f"interactive: draw must be a function of the controls' values, got {type(draw).__name__}")
    for name, w in controls.items():
        if not isinstance(w, W.ValueWidget) or not isinstance(w, W.DOMWidget):
            raise TypeError(
                f"interactive: control {name!r} must be an ipywidgets control with a value "
                f"(e.g. widgets.layer_picker(model) or ipywidgets.IntSlider()), got {w!r} ({type(w).__name__})"
            )
    try:
        params = inspect.signature(draw).parameters
    except (TypeError, ValueError):
        params = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    missing = [n for n in controls if params and not takes_any and n not in params]
    if missing:
        raise TypeError(
            f"interactive: draw has no parameter {', '.join(map(repr, missing))}; it takes "
            f"({', '.join(params)}): name each control after one of them"
        )
    if preview is not None and not isinstance(preview, bool) and not callable(preview):
        raise TypeError(f"interactive: preview must be True, False, None or a function, got {type(preview).__name__}")
    if preview is True and "preview" not in params:
        raise TypeError("interactive: preview=True needs a draw that takes a `preview` parameter")
    if isinstance(cache, bool) or cache is None:
        pass
    elif not isinstance(cache, int):
        raise TypeError(f"interactive: cache must be True, False or a number of pictures, got {cache!r}")
    elif cache < 1:
        raise ValueError(f"interactive: cache must be >= 1 pictures (or True / False), got {cache}")
    if continuous_update is not None and not isinstance(continuous_update, bool):
        raise TypeError(
            f"interactive: continuous_update must be True, False or None (automatic), got {continuous_update!r}"
        )
    return {n for n in ("preview", "progress") if n in params}


def interactive(
    draw: Callable[..., Any],
    *,
    preview: bool | Callable[..., Any] | None = None,
    cache: bool | int = False,
    continuous_update: bool | None = None,
    slow_s: float = 0.2,
    background: bool | None = None,
    **controls: W.ValueWidget,
) -> Interactive:
    """Re-render ``draw(**values)`` into an output area whenever a control changes.

    ``draw`` returns a matplotlib Figure (shown as a JPEG at its own resolution, quality 90:
    :func:`plot.compact`, which keeps updates fast and unattended runs from stalling, see
    jupyter/nbclient#312), or something displayable, or displays it itself. Class pickers pass the
    class id, image pickers the image name (or an uploaded file's path), other widgets their value.

    The first render happens at once, before this returns (its picture is stored in the notebook;
    an error in it is raised). Options (see the module docstring):

    - ``preview``: ``None`` -- two stages if ``draw`` takes ``preview``; a function -- called with
      the same values for the quick picture; ``False`` -- one stage.
    - ``cache``: ``True`` (64 pictures) or a number: final pictures kept per control values.
    - ``continuous_update``: ``None`` -- sliders update on release if the first render took more
      than ``slow_s`` seconds; ``True`` / ``False`` set it for every control.
    - ``background``: ``None`` -- a render thread inside a Jupyter kernel, the caller's thread
      elsewhere.
    """
    accepts = _check_options(draw, controls, preview, cache, continuous_update)
    slow_s = float(slow_s) if isinstance(slow_s, (int, float)) and not isinstance(slow_s, bool) else slow_s
    if not isinstance(slow_s, float) or not slow_s >= 0 or math.isinf(slow_s):
        raise ValueError(f"interactive: slow_s must be a finite number of seconds >= 0, got {slow_s!r}")
    if background is not None and not isinstance(background, bool):
        raise TypeError(f"interactive: background must be True, False or None, got {background!r}")
    if preview is False:
        accepts.discard("preview")
    ia = Interactive(
        draw,
        dict(controls),
        preview_fn=preview if callable(preview) and not isinstance(preview, bool) else None,
        accepts=accepts,
        background=in_kernel() if background is None else background,
        slow_s=slow_s,
        cache=64 if cache is True else int(cache or 0),
    )
    t0 = time.perf_counter()
    ia.request(stages=False)
    ia.wait()
    took = time.perf_counter() - t0
    if ia.last_error is not None:
        ia.detach()
        raise ia.last_error
    if continuous_update is not None:
        ia.set_continuous_update(continuous_update)
    else:
        ia.auto_release = True  # and later renders that take longer switch it off too
        if took > slow_s:
            ia.set_continuous_update(False)
    key = (getattr(draw, "__module__", ""), getattr(draw, "__qualname__", repr(draw)), tuple(controls))
    old = _REGISTRY.pop(key, None)
    if old is not None:
        old.detach()  # the cell was re-run: its earlier widget stops rendering
    _REGISTRY[key] = ia
    return ia
