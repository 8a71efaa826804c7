"""A notebook as RISE slides in a real browser at 1280x720 (Playwright driving Debian's Chromium).

A copy of notebook 03 gets the slide metadata of ``tools/slides.py`` (``assign``), then the standalone
RISE app of jupyterlab-rise (``python -m jupyterlab_rise``, what ``tools/slides.py present`` starts) serves
it at ``/rise/<path>``. The test walks through every slide with the space key, as a teacher does, and
checks that each slide the height estimate says fits is at most 720 px tall as rendered (so no slide
needs scrolling), that the estimate is within 15 % of the rendered height, and that nothing is fetched
from outside the machine (reveal.js, its theme and fonts come from the wheel). The kernel is not run:
the stored outputs are shown. Screenshots go to ``build/browser/`` (or ``$BROWSER_ARTIFACTS``).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import nbformat
import pytest

from tests.helpers import jupyter_server
from tools import slides

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "build" / "browser"))
NOTEBOOK = "03_cam"

pytestmark = pytest.mark.browser

# the slide on screen: the present <section> that is not a stack of sub-slides, its index among all of them
PRESENT = """() => {
  const leaves = [...document.querySelectorAll('.reveal .slides section')].filter(s => !s.classList.contains('stack'));
  const now = leaves.filter(s => s.classList.contains('present')).pop();
  return now ? {index: leaves.indexOf(now), count: leaves.length, height: now.offsetHeight,
                text: now.innerText.slice(0, 40)} : null;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def rise(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make browser-deps)")
    pytest.importorskip("playwright", reason="playwright is a dev dependency: pip install -e '.[dev]'")
    pytest.importorskip("jupyterlab_rise", reason="jupyterlab-rise is a dependency: pip install -e .")
    work = tmp_path_factory.mktemp("rise")
    nb = slides.assign(nbformat.read(ROOT / "notebooks" / f"{NOTEBOOK}.ipynb", as_version=4))
    nbformat.write(nb, work / f"{NOTEBOOK}.ipynb")
    port, token = _free_port(), "slides-test-token"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(work / ".runtime"), "LECTURE_QUICK": "1"}
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(work / ".workspaces")
    cmd = [
        sys.executable, "-m", "jupyterlab_rise", f"{NOTEBOOK}.ipynb", "--no-browser", f"--port={port}",
        "--ip=127.0.0.1", f"--ServerApp.token={token}", f"--ServerApp.root_dir={work}",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])  # fmt: skip
    with jupyter_server(cmd, work, env, token, "the RISE server") as base:
        yield base, token, nb


def test_every_slide_fits_1280x720_without_scrolling(rise):
    from playwright.sync_api import sync_playwright

    base, token, nb = rise
    expected = slides.layout(nb)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": slides.SLIDE_W, "height": slides.SLIDE_H})
            outside = []
            local = (base, "data:", "blob:")
            page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
            page.goto(f"{base}/rise/{NOTEBOOK}.ipynb?token={token}", wait_until="domcontentloaded")
            page.wait_for_selector(".reveal .slides section.present", timeout=120_000)
            page.wait_for_timeout(3000)  # the cells' outputs render after the deck appears
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
        finally:
            browser.close()
    assert not outside, f"fetched from outside the machine: {outside[:5]}"
    report = [(s.start, round(s.height), h) for s, h in zip(expected, seen, strict=True)]
    for s, height in zip(expected, seen, strict=True):
        if s.overflows or any(slides.has_widget(nb.cells[i]) for i in s.cells):
            continue  # too tall by the estimate (check reports it) or a widget (only rendered live)
        assert height <= slides.SLIDE_H, f"slide at cell {s.start} is {height} px tall: {report}"
        assert abs(s.height - height) <= 0.15 * height + 20, f"slide at cell {s.start}: estimate vs. {report}"
