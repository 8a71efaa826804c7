"""The course in a real browser: JupyterLab + widgets, end to end (Playwright driving Debian's Chromium).

Starts JupyterLab from this environment on a free local port with a token, opens notebooks in
headless Chromium, runs all cells (quick mode), changes the class and the layer in the widgets and
checks that the figure really changes and that no cell shows an error. Screenshots go to
``build/browser/`` (or ``$BROWSER_ARTIFACTS``). The notebooks are copied to a temporary folder
first, so JupyterLab's autosave can never touch the stored outputs.

Needs ``/usr/bin/chromium`` (``make test`` installs it with apt-get); never ``playwright install``.
"""

from __future__ import annotations

import os
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

pytestmark = pytest.mark.browser

# Each case: the notebook, and the widget controls to change, in order: (label, kind, new value).
CASES = {
    "00_why_and_what": [("layer", "select", "blocks.3"), ("class", "combobox", "tabby")],
    "06_grad_cam": [("layer", "select", "blocks.5"), ("class", "combobox", "Egyptian cat")],
}


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
    for name in CASES:
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

# the <img> shown by the last interactive widget's output area (base64 image data: a JPEG, see widgets.interactive)
WIDGET_IMAGE = """() => {
  const outs = document.querySelectorAll('.jp-Notebook .widget-vbox .widget-output img');
  return outs.length ? outs[outs.length - 1].src : null;
}"""


def _wait_image_change(page, before: str, timeout_s: float = 300) -> tuple[str, float]:
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        now = page.evaluate(WIDGET_IMAGE)
        state = page.evaluate(NOTEBOOK_STATE)
        if now and now != before and state and state["status"] == "idle":
            return now, time.time() - t0
        time.sleep(0.25)
    raise AssertionError(f"the widget's figure did not change within {timeout_s:.0f} s")


def _control(page, label: str, kind: str):
    box = page.locator(".jp-Notebook .widget-vbox").last
    widget = box.locator(".widget-inline-hbox", has=page.locator(f"label:text-is('{label}')")).first
    return widget.locator("select" if kind == "select" else "input").first


@pytest.mark.parametrize("name", sorted(CASES))
def test_notebook_runs_and_widgets_update_in_the_browser(lab, browser, name):
    base, token = lab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{base}/lab/tree/notebooks/{name}.ipynb?token={token}&reset", wait_until="domcontentloaded")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=120_000)
        page.wait_for_function(
            "() => { const s = (" + NOTEBOOK_STATE + ")(); return s && s.status === 'idle'; }", timeout=120_000
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        t0 = time.time()
        while True:
            state = page.evaluate(NOTEBOOK_STATE)
            if state and state["done"] == state["code"] and state["status"] == "idle" and not state["busy"]:
                break
            assert not (state and state["errors"]), f"{name}: error output: {state['errors']}"
            assert time.time() - t0 < RUN_TIMEOUT_S, f"{name}: not finished after {RUN_TIMEOUT_S} s: {state}"
            time.sleep(1)
        assert not state["errors"], f"{name}: error output: {state['errors']}"
        image = page.evaluate(WIDGET_IMAGE)
        assert image and image.startswith(("data:image/jpeg", "data:image/png")), f"{name}: the widget shows no figure"
        box = page.locator(".jp-Notebook .widget-vbox").last
        box.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"{name}_0_start.png"))
        timings = {}
        for step, (label, kind, value) in enumerate(CASES[name], start=1):
            control = _control(page, label, kind)
            if kind == "select":
                control.select_option(label=value)
            else:
                option = page.evaluate(
                    """([el, text]) => [...el.list.options].map(o => o.value).find(v => v.startsWith(text + ','))
                       || [...el.list.options].map(o => o.value).find(v => v.startsWith(text))""",
                    [control.element_handle(), value],
                )
                assert option, f"{name}: no class option starts with {value!r}"
                control.fill(option)
                control.press("Enter")
            image, timings[label] = _wait_image_change(page, image)
            box.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / f"{name}_{step}_{label}.png"))
        state = page.evaluate(NOTEBOOK_STATE)
        assert not state["errors"], f"{name}: error output after the widget changes: {state['errors']}"
        (ARTIFACTS / f"{name}_timings.txt").write_text(
            "".join(f"{k}: figure updated {v:.2f} s after the change\n" for k, v in timings.items())
        )
    finally:
        page.close()
