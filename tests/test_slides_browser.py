"""A notebook presented as RISE slides in a real browser at 1280x720, with a running kernel and live widgets
(Playwright driving Debian's Chromium).

A copy of notebook 03 (slide metadata of ``tools/slides.py``, ``notebooks/rise.css`` beside it) is opened in the
classic notebook (nbclassic) with RISE 5.7, as ``tools/slides.py present`` does (same server command, same RISE
config). The test runs all cells in quick mode (``LECTURE_QUICK=1``), as a teacher does before presenting, starts
the slideshow and walks through every slide with the space key. It checks that each slide is at most 720 px tall
as rendered (no scrolling in a slide), that the height estimate (computed from the notebook as it is now, with
the quick-mode outputs) is within 15 % + 20 px of it, and that nothing is fetched from outside the machine (such
requests are recorded and aborted). A second test goes to the slide of the CAM widget, selects another class in
the widget's drop-down and checks that the widget's picture changes.
Screenshots go to ``build/browser/`` (or ``$BROWSER_ARTIFACTS``).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import nbformat
import pytest

from tests.helpers import jupyter_server
from tools import slides

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "build" / "browser"))
NOTEBOOK = "03_cam"
RUN_ALL_TIMEOUT_MS = 300_000  # quick mode takes ~30 s; a loaded CI machine is slower (a hang, not a speed limit)

pytestmark = pytest.mark.browser

# the slide on screen: the present <section> that is not a stack of sub-slides, its index among all of them
PRESENT = """() => {
  const leaves = [...document.querySelectorAll('.reveal .slides section')].filter(s => !s.classList.contains('stack'));
  const now = leaves.filter(s => s.classList.contains('present')).pop();
  return now ? {index: leaves.indexOf(now), count: leaves.length, height: now.offsetHeight,
                widget: !!now.querySelector('.widget-vbox select'), text: now.innerText.slice(0, 40)} : null;
}"""
# every code cell has run: a number in its prompt (none is waiting, '*'), and the kernel is idle
ALL_RUN = """() => Jupyter.notebook.kernel && Jupyter.notebook.kernel_busy === false && Jupyter.notebook.get_cells()
  .every(c => c.cell_type !== 'code' || typeof c.input_prompt_number === 'number')"""
# every widget output has been drawn (nbclassic shows a widget's output area once its view has rendered)
WIDGETS_DRAWN = """() => { const views = [...document.querySelectorAll('.output_subarea.jupyter-widgets-view')];
  return views.length > 0 && views.every(v => v.style.display !== 'none' && v.querySelector('.jupyter-widgets')); }"""
# the widget box on the present slide: its picture (an <img> of base64 data) in the widget's output area (nbclassic's
# class for it; JupyterLab's is .widget-output)
PICTURE = """() => {
  const img = document.querySelector('.reveal section.present .widget-vbox .jupyter-widgets-output-area img');
  return img ? img.src.slice(-200) : null; }"""


# a silent execute request (no cell output, no execution count): the value of one expression in the kernel
KERNEL_EVAL = """([code, expr]) => new Promise(res => Jupyter.notebook.kernel.execute(code,
  {shell: {reply: m => { const v = m.content.user_expressions.v; res(v.data ? v.data['text/plain'] : 'error'); }}},
  {silent: true, store_history: false, user_expressions: {v: expr}}))"""


def _wait_for_the_widget_manager(page, timeout_s: float = 60.0) -> None:
    """Wait until a widget the kernel creates stays open. For a few seconds after the page connects to the kernel,
    the page's widget manager closes every new widget at once (its outputs then carry an empty model_id and never
    draw), so running the cells before that leaves dead widgets. A teacher takes longer than that to press Run All."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.evaluate(KERNEL_EVAL, ["import ipywidgets as _w\n_probe = _w.Widget()", "1"])
        page.wait_for_timeout(1000)  # the manager's comm_close, if any, reaches the kernel before the next request
        if page.evaluate(KERNEL_EVAL, ["", "_probe.comm is not None"]) == "True":
            page.evaluate(KERNEL_EVAL, ["_probe.close(); del _probe, _w", "1"])
            return
    pytest.fail(f"the page's widget manager did not keep a widget open within {timeout_s:.0f} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def classic(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make browser-deps)")
    pytest.importorskip("playwright", reason="playwright is a dev dependency: pip install -e '.[dev]'")
    pytest.importorskip("nbclassic", reason="RISE runs on nbclassic, the optional extra: pip install -e '.[slides]'")
    work = tmp_path_factory.mktemp("rise")
    nb = slides.assign(nbformat.read(ROOT / "notebooks" / f"{NOTEBOOK}.ipynb", as_version=4))
    nbformat.write(nb, work / f"{NOTEBOOK}.ipynb")
    shutil.copy(ROOT / "notebooks" / "rise.css", work / "rise.css")
    port, token = _free_port(), "slides-test-token"
    server = [f"--port={port}", "--ip=127.0.0.1", "--no-browser", f"--ServerApp.token={token}"]
    cmd, env = slides.server(work, slides.server_config(work / ".jupyter_config"), server)
    env.update(JUPYTER_RUNTIME_DIR=str(work / ".runtime"), LECTURE_QUICK="1", OMP_NUM_THREADS="1")
    with jupyter_server(cmd, work, env, token, "the nbclassic server") as base:
        yield base, token


@pytest.fixture(scope="module")
def deck(classic):
    """The notebook open in the browser, all cells run (quick mode), the slideshow started at slide 1; requests
    to outside the machine are aborted and listed in ``deck["outside"]``."""
    from playwright.sync_api import sync_playwright

    base, token = classic
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith((base, "data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": slides.SLIDE_W, "height": slides.SLIDE_H})
            page.route("**/*", route)
            page.goto(f"{base}/nbclassic/notebooks/{NOTEBOOK}.ipynb?token={token}", wait_until="domcontentloaded")
            page.wait_for_function(
                "() => window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded && Jupyter.notebook.kernel"
                " && Jupyter.notebook.kernel.is_connected() && Jupyter.actions.exists('RISE:slideshow')",
                timeout=120_000,
            )
            _wait_for_the_widget_manager(page)
            page.evaluate("() => Jupyter.notebook.execute_all_cells()")
            page.wait_for_timeout(2000)
            page.wait_for_function(ALL_RUN, timeout=RUN_ALL_TIMEOUT_MS, polling=500)
            errors = page.locator(".output_error").all_inner_texts()
            assert not errors, f"a cell failed in quick mode: {errors[0][-1500:]}"
            # the layout the slides should have, from the notebook as run now (quick-mode outputs)
            nb = nbformat.from_dict(page.evaluate("() => Jupyter.notebook.toJSON()"))
            page.evaluate("() => Jupyter.actions.call('RISE:slideshow')")
            page.wait_for_selector(".reveal .slides section.present", timeout=60_000)
            page.wait_for_timeout(1500)  # RISE re-syncs the layout after the deck appears
            yield {"page": page, "nb": nb, "outside": outside}
        finally:
            browser.close()


def test_every_slide_fits_1280x720_with_a_running_kernel(deck):
    page, nb = deck["page"], deck["nb"]
    expected = slides.layout(nb)
    seen = []
    for step in range(len(expected)):
        if step:
            page.keyboard.press("Space")
            page.wait_for_function(f"() => ({PRESENT})().index === {step}", timeout=10_000)
            page.wait_for_timeout(300)
        now = page.evaluate(PRESENT)
        assert now["count"] == len(expected), f"RISE shows {now['count']} slides, layout() {len(expected)}"
        seen.append(now["height"])
        page.screenshot(path=str(ARTIFACTS / f"slides_{NOTEBOOK}_{step:02d}.png"))
    assert not deck["outside"], f"requests to outside the machine (aborted): {deck['outside'][:5]}"
    report = [(s.start, round(s.height + slides.MARGIN_V), h) for s, h in zip(expected, seen, strict=True)]
    for s, height in zip(expected, seen, strict=True):
        assert not s.overflows, f"slide at cell {s.start}: estimated too tall: {report}"
        assert height <= slides.SLIDE_H, f"slide at cell {s.start} is {height} px tall: {report}"
        if any(slides.has_widget(nb.cells[i]) for i in s.cells):
            continue  # a widget's height is only known live; WIDGET_H bounds it (checked above through layout)
        estimate = s.height + slides.MARGIN_V  # the slide's <section> adds 20 px above and below its cells
        assert abs(estimate - height) <= 0.15 * height + 20, f"slide at cell {s.start}: estimate vs. {report}"


def test_widget_changes_its_picture_on_its_slide(deck):
    page = deck["page"]
    page.wait_for_function(WIDGETS_DRAWN, timeout=60_000, polling=500)
    page.evaluate("() => Reveal.slide(0, 0)")
    for step in range(200):  # to the first slide with a widget drop-down, with the space key
        now = page.evaluate(PRESENT)
        if now["widget"]:
            break
        page.keyboard.press("Space")
        page.wait_for_function(f"() => ({PRESENT})().index === {step + 1}", timeout=10_000)
        page.wait_for_timeout(300)
    else:
        pytest.fail("no slide with a widget drop-down")
    before = page.evaluate(PICTURE)
    assert before, "the widget shows no picture on its slide"
    select = page.locator(".reveal section.present .widget-vbox select").last
    current = select.evaluate("s => s.options[s.selectedIndex].text")
    choice = next(o for o in select.locator("option").all_inner_texts() if o != current)
    select.select_option(label=choice)
    page.wait_for_function(f"() => ({PICTURE})() && ({PICTURE})() !== {before!r}", timeout=120_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"slides_{NOTEBOOK}_widget_changed.png"))
    assert page.evaluate(PRESENT)["height"] <= slides.SLIDE_H
