"""The course in a real browser: JupyterLab + widgets, end to end (Playwright driving Debian's Chromium).

Starts JupyterLab from this environment on a free local port with a token, opens notebooks in
headless Chromium, runs all cells (quick mode), changes widget controls (one notebook of each part
of the lecture: 00 and 06, 12, 18, 21) and checks that the picture really changes and that no cell
shows an error. In notebook 21 a photo is uploaded through the image picker's upload button (the
picture and the picker then name the file), then a broken file (its error shows in the widget's
output area, and choosing a sample again works).

For every change the time from the change (the browser's input event) to the first new picture and
to the final one (after the preview stage, see ``lecture_utils.widgets``) is recorded, together with
the kernel's own account (``Interactive.timings``), in ``widget_timings.json`` and printed at the
end: numbers for a human to quote, never asserted (the project has no timed tests). Screenshots and
the timings go to ``build/browser/`` (or ``$BROWSER_ARTIFACTS``). The notebooks are copied to a
temporary folder first, so JupyterLab's autosave can never touch the stored outputs.

Needs ``/usr/bin/chromium`` (``make test`` installs it with apt-get); never ``playwright install``.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import json
import os
import platform
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import jupyter_server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "build" / "browser"))
RUN_TIMEOUT_S = 600  # a notebook's quick run under a loaded CI machine
CHANGE_TIMEOUT_S = 300  # one widget change's pictures under a loaded CI machine (a hang, not a speed limit)

pytestmark = pytest.mark.browser

# Each case: the notebook, and the widget controls to change, in order: (label, kind, new value). The
# label names the control (its description) and so the widget it belongs to. A value is one that the
# notebook's last cell (widgets.exercise_all) has not rendered yet, so a cache cannot answer it.
CASES = {
    "00_why_and_what": [("layer", "select", "blocks.3"), ("class", "combobox", "tabby")],
    "06_grad_cam": [("layer", "select", "blocks.5"), ("class", "combobox", "Egyptian cat")],
    "12_feature_visualization": [("regularizer", "select", "TV")],
    "18_style_transfer": [("painting", "select", "hokusai_great_wave")],  # a preview stage, then the final
    "21_instance_normalization": [("style a", "select", "3")],
}
# The upload test: the notebook, its image picker's label, a real photo, and a sample to choose afterwards.
UPLOAD = ("21_instance_normalization", "image", ROOT / "data" / "photos" / "gcompris_cat.jpg", "rocket")

NOTEBOOK_STATE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.content || !w.content.model || !w.sessionContext.session) return null;
  const cells = w.content.model.cells, errors = [];
  let code = 0, done = 0;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    code++;
    if (c.executionCount) done++;
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j);
      if (o.type === 'error') errors.push(`cell ${i}: ${o.toJSON().ename}: ${o.toJSON().evalue}`);
    }
  }
  const kernel = w.sessionContext.session.kernel;
  return {code, done, errors, status: kernel ? kernel.status : 'none', busy: w.content.node.innerText.includes('[*]')};
}"""

# What a widget box's output area shows now: its picture (an <img> of base64 data) and its text.
SHOWN = """(box) => {
  const out = box.querySelector('.widget-output'), img = out && out.querySelector('img');
  return {src: img ? img.src : null, text: out ? out.innerText : ''};
}"""

# Watch one widget box: the time of the next input event in it (the change) and of every new output
# the output area gets (a new first output element: each render the kernel writes replaces them all).
RECORD = """(box) => {
  if (window.__rec) window.__rec.observer.disconnect();
  const out = box.querySelector('.widget-output');
  const rec = {t0: null, armed: performance.now(), events: [], last: out.querySelector('.jp-OutputArea-output')};
  const arm = () => { if (rec.t0 === null) rec.t0 = performance.now(); };
  box.addEventListener('input', arm, true);
  box.addEventListener('change', arm, true);
  rec.observer = new MutationObserver(() => {
    const first = out.querySelector('.jp-OutputArea-output');
    if (first && first !== rec.last) {
      const img = out.querySelector('img');
      rec.events.push({t: performance.now(), picture: !!img, text: out.innerText.slice(0, 400)});
    }
    if (first) rec.last = first;
  });
  rec.observer.observe(out, {childList: true, subtree: true});
  window.__rec = rec;
}"""

RECORDED = """() => {
  const r = window.__rec;
  return {t0: r.t0 === null ? r.armed : r.t0, events: r.events.map(e => ({...e}))};
}"""

# The kernel's account of its widgets (lecture_utils.widgets.Interactive), as JSON; asked with a silent
# execute request's user_expressions, which adds no cell output and no execution count.
KERNEL_DEFS = """
def _browser_test_widgets():
    import json
    from lecture_utils import widgets as w
    def timing(t):
        values = {k: (w.image_name(v) if isinstance(v, str) else v) for k, v in t["values"].items()}
        return {**{k: t[k] for k in ("seq", "first_s", "final_s", "stage")}, "values": values}
    return json.dumps([{
        "labels": [getattr(c, "description", "") for c in ia.controls.values()],
        "busy": not ia.wait(0),
        "n": len(ia.timings),
        "timings": [timing(t) for t in list(ia.timings)[-8:]],
        "error": f"{type(ia.last_error).__name__}: {ia.last_error}" if ia.last_error is not None else None,
        "error_seq": ia.last_error_seq,
        "picker": {k: w.image_name(c.value) for k, c in ia.controls.items() if isinstance(c, w.ImagePicker)},
    } for ia in w.registered()], default=str)
"""
KERNEL_ASK = """async ([code]) => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const reply = await k.requestExecute({code, silent: true, store_history: false,
                                        user_expressions: {r: '_browser_test_widgets()'}}).done;
  const r = reply.content.user_expressions.r;
  return r && r.status === 'ok' ? r.data['text/plain'] : 'ERROR ' + JSON.stringify(reply.content);
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make test does: apt-get install chromium)")
    pytest.importorskip("playwright", reason="playwright is a dev dependency: pip install -e '.[dev]'")
    work = tmp_path_factory.mktemp("lab")
    (work / "notebooks").mkdir()
    for name in {*CASES, UPLOAD[0]}:
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", work / "notebooks")
    port, token = _free_port(), "course-test-token"
    env = {
        **os.environ,
        "LECTURE_QUICK": "1",
        "JUPYTERLAB_WORKSPACES_DIR": str(work / ".workspaces"),
        "JUPYTER_RUNTIME_DIR": str(work / ".runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(work / ".settings"),
    }
    news = work / ".settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no pop-up, no network
    env.pop("MPLBACKEND", None)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
        "--ServerApp.disable_check_xsrf=True",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])  # fmt: skip
    with jupyter_server(cmd, work, env, token, "JupyterLab") as base:
        yield base, token


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def widget_timings(request):
    """Per notebook, per change: seconds to the first and to the final picture. Written to
    ``widget_timings.json`` after each test and printed at the end of the module."""
    log: dict = {
        "what": "seconds from a widget change in the browser to its first new picture and to the final one "
        "(browser_*: the DOM as Chromium shows it; kernel_*: Interactive.timings); quick mode, not asserted",
        "machine": {"cpus": os.cpu_count(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                    "python": platform.python_version(), "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")},
        "changes": {},
    }  # fmt: skip
    yield log
    if not any(log["changes"].values()):
        return
    lines = ["", f"widget timings (quick mode, not asserted; {ARTIFACTS / 'widget_timings.json'}):"]
    for name, changes in log["changes"].items():
        for change, t in changes.items():
            lines.append(
                f"  {name} {change}: first picture {t['browser_first_s']:.2f} s, final {t['browser_final_s']:.2f} s"
                f" (kernel: {t['kernel_first_s']:.2f} / {t['kernel_final_s']:.2f} s, {t['stage']})"
            )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n".join(lines), flush=True)  # shown even under -q


def _save(log: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "widget_timings.json").write_text(json.dumps(log, indent=1, ensure_ascii=False) + "\n")


class Notebook:
    """A notebook open in JupyterLab, all its cells run: its widgets, and the kernel's account of them."""

    def __init__(self, page, name: str):
        self.page, self.name = page, name

    def state(self) -> dict:
        return self.page.evaluate(NOTEBOOK_STATE)

    def assert_no_error_output(self, when: str) -> None:
        state = self.state()
        assert not state["errors"], f"{self.name}: error output {when}: {state['errors']}"

    def box(self, label: str):
        """The widget box (an Interactive) that has the control labelled ``label``."""
        return self.page.locator(".jp-Notebook .widget-vbox", has=self.page.locator(f"label:text-is('{label}')")).last

    def control(self, label: str, kind: str):
        row = self.box(label).locator(".widget-inline-hbox", has=self.page.locator(f"label:text-is('{label}')"))
        return row.first.locator("select" if kind == "select" else "input").first

    def shown(self, label: str) -> dict:
        return self.box(label).evaluate(SHOWN)

    def kernel_widget(self, label: str) -> dict:
        answer = self.page.evaluate(KERNEL_ASK, [KERNEL_DEFS])
        assert not answer.startswith("ERROR"), f"{self.name}: asking the kernel failed: {answer}"
        found = [w for w in json.loads(ast.literal_eval(answer)) if label in w["labels"]]
        assert found, f"{self.name}: the kernel has no widget with a control {label!r}"
        return found[-1]

    def change(self, label: str, act, timeout_s: float = CHANGE_TIMEOUT_S) -> dict:
        """Do ``act()`` (a change of the widget that has control ``label``), wait until the kernel has
        rendered every picture it asked for and the browser shows them all; returns the timings."""
        box = self.box(label)
        box.scroll_into_view_if_needed()
        before = self.kernel_widget(label)
        box.evaluate(RECORD)
        act()
        t_end = time.time() + timeout_s
        while True:
            rec = self.page.evaluate(RECORDED)
            now = self.kernel_widget(label)
            new = now["timings"][-min(now["n"] - before["n"], 8) :] if now["n"] > before["n"] else []
            # each render wrote one output (final only, cached, error) or two (preview or neighbour, then final)
            expected = sum((t["first_s"] is not None) + (t["final_s"] not in (None, t["first_s"])) for t in new)
            if new and not now["busy"] and len(rec["events"]) >= expected:
                break
            assert time.time() < t_end, f"{self.name}: {label}: no final picture within {timeout_s:.0f} s: {now}"
            time.sleep(0.2)
        last = new[-1]
        assert last["stage"] in ("done", "cached"), f"{self.name}: {label}: the render ended {last['stage']}: {now}"
        events = rec["events"]
        return {
            "browser_first_s": round((events[0]["t"] - rec["t0"]) / 1000, 3),
            "browser_final_s": round((events[expected - 1]["t"] - rec["t0"]) / 1000, 3),
            "kernel_first_s": round(last["first_s"], 3),
            "kernel_final_s": round(last["final_s"], 3),
            "stage": last["stage"] if last["first_s"] == last["final_s"] else f"preview, then {last['stage']}",
            "renders": len(new),
            "values": last["values"],
        }

    def screenshot(self, label: str, stem: str) -> None:
        self.box(label).evaluate("el => el.scrollIntoView({block: 'center'})")
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}_{stem}.png"))


@pytest.fixture(scope="module")
def notebooks(lab, browser):
    """``open(name)``: the notebook run top to bottom in a JupyterLab tab (quick mode). The last one
    opened stays open for the next test; opening another closes it and shuts its kernel down."""
    base, token = lab
    current: dict = {}

    def close() -> None:
        nb = current.pop("nb", None)
        if nb is not None:
            try:
                nb.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
            finally:
                nb.page.close()

    def open_(name: str) -> Notebook:
        if "nb" in current and current["nb"].name == name:
            return current["nb"]
        close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        nb = current["nb"] = Notebook(page, name)
        page.goto(f"{base}/lab/tree/notebooks/{name}.ipynb?token={token}&reset", wait_until="domcontentloaded")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=120_000)
        page.wait_for_function(
            "() => { const s = (" + NOTEBOOK_STATE + ")(); return s && s.status === 'idle'; }", timeout=120_000
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        t0 = time.time()
        while True:
            state = nb.state()
            if state and state["done"] == state["code"] and state["status"] == "idle" and not state["busy"]:
                break
            assert not (state and state["errors"]), f"{name}: error output: {state['errors']}"
            assert time.time() - t0 < RUN_TIMEOUT_S, f"{name}: not finished after {RUN_TIMEOUT_S} s: {state}"
            time.sleep(1)
        nb.assert_no_error_output("after Run All")
        return nb

    yield open_
    close()


def _choose(nb: Notebook, label: str, kind: str, value: str) -> None:
    control = nb.control(label, kind)
    if kind == "select":
        control.select_option(label=value)
        return
    option = nb.page.evaluate(
        """([el, text]) => [...el.list.options].map(o => o.value).find(v => v.startsWith(text + ','))
           || [...el.list.options].map(o => o.value).find(v => v.startsWith(text))""",
        [control.element_handle(), value],
    )
    assert option, f"{nb.name}: no class option starts with {value!r}"
    control.fill(option)
    control.press("Enter")


@pytest.mark.parametrize("name", sorted(CASES))
def test_notebook_runs_and_widgets_update_in_the_browser(notebooks, widget_timings, name):
    nb = notebooks(name)
    label0 = CASES[name][0][0]
    image = nb.shown(label0)["src"]
    assert image and image.startswith(("data:image/jpeg", "data:image/png")), f"{name}: the widget shows no picture"
    nb.screenshot(label0, "0_start")
    log = widget_timings["changes"].setdefault(name, {})
    for step, (label, kind, value) in enumerate(CASES[name], start=1):
        before = nb.shown(label)["src"]
        log[f"{label}={value}"] = nb.change(label, functools.partial(_choose, nb, label, kind, value))
        _save(widget_timings)
        after = nb.shown(label)
        assert after["src"] and after["src"] != before, f"{name}: {label}={value}: the picture did not change"
        assert "Error" not in after["text"], f"{name}: {label}={value}: the widget shows {after['text'][:300]}"
        nb.screenshot(label, f"{step}_{label.replace(' ', '_')}")
    nb.assert_no_error_output("after the widget changes")


def test_upload_a_photo_then_a_broken_file_through_the_image_picker(notebooks, widget_timings, tmp_path):
    name, label, photo, sample = UPLOAD
    nb = notebooks(name)
    log = widget_timings["changes"].setdefault(name, {})
    box = nb.box(label)
    button = box.locator(".widget-upload")
    assert button.count() == 1, f"{name}: no upload button beside the image picker"
    picker = nb.control(label, "select")

    def upload(path: Path) -> None:
        """Click the upload button and choose ``path`` in the file dialog (the change starts there)."""
        with nb.page.expect_file_chooser() as chooser:
            button.click()
        nb.page.evaluate("() => { window.__rec.t0 = performance.now(); }")
        chooser.value.set_files(str(path))

    before = nb.shown(label)["src"]
    log[f"upload {photo.name}"] = nb.change(label, functools.partial(upload, photo))
    _save(widget_timings)
    shown = nb.shown(label)
    assert shown["src"] and shown["src"] != before, f"{name}: the uploaded photo did not change the picture"
    assert picker.evaluate("el => el.options[el.selectedIndex].text") == photo.name
    kernel = nb.kernel_widget(label)
    drawn = kernel["timings"][-1]["values"]
    assert photo.name in drawn.values(), f"{name}: the picture was not drawn from the upload: {drawn}"
    assert kernel["error"] is None, kernel["error"]
    nb.screenshot(label, "upload_photo")

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\x00not a JPEG\x00" + bytes(range(256)) * 8)
    box.evaluate(RECORD)
    upload(broken)
    nb.page.wait_for_function(
        "(box) => box.querySelector('.widget-output').innerText.includes('broken.jpg')",
        arg=box.element_handle(),
        timeout=CHANGE_TIMEOUT_S * 1000,
    )
    shown = nb.shown(label)
    assert shown["src"] is None, f"{name}: the broken file's error should replace the picture"
    assert "cannot be used as an image" in shown["text"], shown["text"][:500]
    nb.screenshot(label, "upload_broken")
    kernel = nb.kernel_widget(label)
    assert kernel["error"].startswith("ImageError: your file 'broken.jpg'"), kernel["error"]
    assert kernel["picker"] == {"photo_name": photo.name}, "the selection stays on the last good photo"
    assert picker.evaluate("el => [...el.options].map(o => o.text)").count("broken.jpg") == 0
    nb.assert_no_error_output("after a broken upload")  # the error is the widget's, no cell's

    log[f"{label}={sample} after the broken upload"] = nb.change(
        label, functools.partial(_choose, nb, label, "select", sample)
    )
    _save(widget_timings)
    shown = nb.shown(label)
    assert shown["src"] and "Error" not in shown["text"], f"{name}: choosing {sample} again shows {shown['text'][:300]}"
    assert nb.kernel_widget(label)["picker"] == {"photo_name": sample}
    nb.screenshot(label, "upload_then_sample")
    nb.assert_no_error_output("after choosing a sample again")
