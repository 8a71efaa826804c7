"""The static edition (tools/build_site.py): a Jupyter Book of the notebooks with their stored outputs.

The fast tests check the generated book (parts, config, the static and the download copies of a notebook); the
rest build the real site once into a temporary folder (about 1.5 min on the 2-core CPU, nothing executed) and
check it as a reader meets it: the home page, every notebook a page, sidebar and previous/next navigation, search,
downloads, no resource from the internet, and, in Chromium with the network cut off (every request that is not for
a file aborted and recorded), formulas typeset by the bundled MathJax with no raw TeX left, and the search page
finding a chapter. Screenshots go to ``build/browser/`` (or ``$BROWSER_ARTIFACTS``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from tools import build_site as site

FILES = site.notebook_files()
PAGES = [f"notebooks/{p.stem}.html" for p in FILES]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", site.ROOT / "build" / "browser"))
SEARCH_WORD, SEARCH_CHAPTER = "Grad-CAM", "notebooks/06_grad_cam.html"  # a word, and the chapter about it


class _Tags(HTMLParser):
    """Every start tag of a page as (tag, attributes), and the text of its <title>."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.title, self._in_title = "", False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False if tag == "title" else self._in_title

    def handle_data(self, data):
        self.title += data if self._in_title else ""

    def hrefs(self, cls: str) -> list[str]:
        """The ``href`` of every <a> whose class list has ``cls``."""
        return [a["href"] for t, a in self.tags if t == "a" and cls in a.get("class", "").split()]


@functools.cache
def _page(out: Path, rel: str) -> _Tags:
    """The tags of page ``rel`` of the built site, parsed once."""
    return _Tags((out / rel).read_text(encoding="utf-8"))


def _resolve(out: Path, page: str, href: str) -> Path:
    """The file ``href`` on ``page`` points to (``#...`` alone: the page itself)."""
    target = href.split("#")[0].split("?")[0]
    return (out / page).resolve() if not target else (out / page).parent.joinpath(target).resolve()


@functools.cache
def _read(path: Path) -> nbformat.NotebookNode:
    """A course notebook, read once (the tests only look; each copies what it changes)."""
    return nbformat.read(path, as_version=4)


def _n_images(cells) -> int:
    """How many outputs of ``cells`` are images (PNG figures, JPEG widget frames)."""
    return sum(any(k.startswith("image/") for k in o.get("data", {})) for c in cells for o in c.get("outputs", []))


def _titles() -> list[str]:
    return [site.notebook_title(_read(p)) for p in FILES]


# ---------------------------------------------------------------- the generated book (fast)


def test_parts_follow_the_lecture_and_hold_every_notebook_once_in_order():
    toc = site.book_toc(FILES)
    assert toc["root"] == "index"
    chapters = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert chapters == [f"notebooks/{p.stem}" for p in FILES]
    assert len(FILES) == 22
    numbers = {part["caption"]: [int(c["file"][10:12]) for c in part["chapters"]] for part in toc["parts"]}
    assert list(numbers.values()) == [list(range(0, 7)), list(range(7, 12)), list(range(12, 15)), list(range(15, 22))]
    assert [c.split(" · ")[0] for c in numbers] == ["Part I", "Part II", "Part III", "Part IV"]
    with pytest.raises(ValueError, match=r"files: \['99_extra.ipynb'\]"):
        site.parts_of([*FILES, Path("99_extra.ipynb")])


def test_config_executes_nothing_and_loads_nothing_from_the_internet():
    cfg = site.book_config()
    assert cfg["execute"]["execute_notebooks"] == "off"
    extensions = cfg["sphinx"]["config"]["extensions"]
    assert "sphinx-mathjax-offline" in extensions and "myst_nb" in extensions
    assert not {"sphinx_thebe", "sphinx.ext.intersphinx"} & set(extensions)
    assert cfg["sphinx"]["config"]["nb_ipywidgets_js"] == {}  # MyST-NB's default loads them from a CDN
    assert "https://" not in json.dumps(cfg)


def test_static_copy_shows_the_stored_widget_figures_and_leaves_the_notebook_alone():
    nb = _read(FILES[0])
    views = [o for c in nb.cells for o in c.get("outputs", []) if site.WIDGET_MIME in o.get("data", {})]
    assert views and "widgets" in nb.metadata
    static = site.static_notebook(nb)
    outs = [o for c in static.cells for o in c.get("outputs", [])]
    assert not [o for o in outs if site.WIDGET_MIME in o.get("data", {})]
    assert "widgets" not in static.metadata and "widgets" in nb.metadata  # the input is not changed
    notes = [o for o in outs if site.WIDGET_NOTE in o.get("data", {}).get("text/markdown", "")]
    assert notes
    assert _n_images(static.cells) > _n_images(nb.cells)  # the figures the Output widgets stored now stand in the cells


def test_download_copy_keeps_every_cell_without_outputs():
    nb = _read(FILES[0])
    down = site.download_notebook(nb)
    assert [c.source for c in down.cells] == [c.source for c in nb.cells]
    assert [c.metadata for c in down.cells] == [c.metadata for c in nb.cells]
    assert all(c.outputs == [] and c.execution_count is None for c in down.cells if c.cell_type == "code")
    assert any(c.get("outputs") for c in nb.cells) and "widgets" not in down.metadata


def test_titles_come_from_the_title_cell():
    nb = {"cells": [{"cell_type": "code", "source": "x = 1"}, {"cell_type": "markdown", "source": "# 03 · CAM\n\nA"}]}
    assert site.notebook_title(nb) == "03 · CAM"
    assert all(re.match(r"\d\d · \w", t) for t in _titles())
    with pytest.raises(FileNotFoundError, match="folder=/nonexistent"):
        site.notebook_files("/nonexistent")


def test_make_site_installs_the_extra_and_builds_into_build_site():
    """A student imports lecture_utils; the site builder is tooling (`make site` runs tools/build_site.py)."""
    import importlib.util

    assert importlib.util.find_spec("lecture_utils.site") is None
    makefile = (site.ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nsite:", 1)[1].split("\n\n", 1)[0]
    assert '-m pip install --quiet -e ".[site]"' in recipe and "tools/build_site.py build/site" in recipe
    pyproject = (site.ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"jupyter-book==1\.[\d.a-z]+"', pyproject)  # 1.x: 2.x downloads a theme at build time


# ---------------------------------------------------------------- the built site


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    index = site.build_site(tmp / "site", src=tmp / "site_src", strict=True)  # a Sphinx warning fails the build
    assert index == tmp / "site" / "index.html"
    return index.parent


def test_home_page_links_every_notebook_under_its_part(out):
    home = (out / "index.html").read_text(encoding="utf-8")
    assert 'http-equiv="Refresh"' not in home  # the home page itself, not a redirect
    tags = _page(out, "index.html")
    body = home.split('id="main-content"', 1)[1]
    assert re.findall(r'<a class="reference internal" href="([^"#]+)"', body) == PAGES
    for caption, _, _ in site.PARTS:
        assert body.count(caption) >= 1
    assert tags.hrefs("right-next") == [PAGES[0]]


def test_every_notebook_is_a_page_with_its_title_and_figures(out):
    for path, page, title in zip(FILES, PAGES, _titles()):
        tags = _page(out, page)
        assert tags.title.startswith(title), (page, tags.title)
        images = [a["src"] for t, a in tags.tags if t == "img" and "_images/" in a.get("src", "")]
        cells = _read(path).cells
        assert len(images) >= min(_n_images(cells), 1), f"{page}: no figure"
        for src in images:
            assert _resolve(out, page, src).stat().st_size > 0, f"{page}: {src} missing"
        html = (out / page).read_text(encoding="utf-8")
        toc = html.split('id="pst-page-toc-nav"', 1)[1].split("</nav>", 1)[0]  # the page's own contents
        heads = [ln for c in cells if c.cell_type == "markdown" for ln in c.source.splitlines()]
        assert toc.count('href="#') >= min(sum(ln.startswith("## ") for ln in heads), 3), page
    assert site.WIDGET_NOTE in (out / PAGES[0]).read_text(encoding="utf-8")  # a widget cell says how to use it


def test_sidebar_lists_all_parts_and_pages_and_previous_next_chain_them(out):
    chain = ["index.html", *PAGES]
    for i, page in enumerate(chain):
        tags = _page(out, page)
        nav = [a["href"] for t, a in tags.tags if t == "a" and "reference internal" in a.get("class", "")]
        assert {(out / p).resolve() for p in PAGES} <= {_resolve(out, page, h) for h in nav}, f"{page}: sidebar"
        assert [_resolve(out, page, h) for h in tags.hrefs("navbar-brand")] == [(out / "index.html").resolve()]
        prev, nxt = tags.hrefs("left-prev"), tags.hrefs("right-next")
        assert [_resolve(out, page, h) for h in prev] == ([(out / chain[i - 1]).resolve()] if i else [])
        expected_next = [(out / chain[i + 1]).resolve()] if i + 1 < len(chain) else []
        assert [_resolve(out, page, h) for h in nxt] == expected_next, page
    html = (out / PAGES[0]).read_text(encoding="utf-8")
    assert all(caption in html for caption, _, _ in site.PARTS)  # the part captions head the sidebar's groups


def test_search_page_and_index_cover_every_page(out):
    assert (out / "search.html").is_file() and (out / "genindex.html").is_file()
    text = (out / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    assert sorted(index["docnames"]) == sorted(["index", *[p[:-5] for p in PAGES]])
    assert {"smoothgrad", "deepdream", "gram"} <= set(index["terms"])  # words from the notebooks' text
    for page in ["index.html", *PAGES]:
        assert any(t == "form" and a.get("action", "").endswith("search.html") for t, a in _page(out, page).tags)


def test_download_button_gives_the_notebook(out):
    for path, page in zip(FILES, PAGES):
        links = [a["href"] for t, a in _page(out, page).tags if t == "a" and "_sources/" in a.get("href", "")]
        assert links == [f"../_sources/notebooks/{path.name}"], page
        down = nbformat.read(_resolve(out, page, links[0]), as_version=4)
        assert [c.source for c in down.cells] == [c.source for c in _read(path).cells]


def test_nothing_is_loaded_from_the_internet_and_the_site_stays_small(out):
    pages = sorted(out.rglob("*.html"))
    assert len(pages) >= len(PAGES) + 3
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for tag, attrs in _Tags(text).tags:
            url = attrs.get("src") or (attrs.get("href") if tag == "link" else "")
            if tag in ("script", "link", "img", "iframe", "source") and url:
                assert not re.match(r"(https?:)?//", url), f"{page.name}: <{tag}> loads {url}"
        for script in re.findall(r"<script[^>]*>(.*?)</script>", text, flags=re.S):
            assert "://" not in script, f"{page.name}: a script names a URL: {script[:200]}"
        assert "widget-state+json" not in text and "cdn." not in text.lower()
    shown = {m for p in pages for m in re.findall(r"_images/([^\"'?#]+)", p.read_text(encoding="utf-8"))}
    assert {p.name for p in (out / "_images").iterdir()} == shown  # every figure file is on a page, once
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    notebooks = sum(p.stat().st_size for p in FILES)
    # figures once (PNG files, 3/4 of their base64 in the notebooks) + theme, search and MathJax (~10 MiB)
    assert size < notebooks + 16 * 2**20, f"site {size / 2**20:.0f} MiB, notebooks {notebooks / 2**20:.0f} MiB"


def test_math_is_typeset_by_the_bundled_mathjax(out):
    mathjax = out / "_static" / "mathjax" / "tex-chtml.js"
    assert 'VERSION="3.' in mathjax.read_text(encoding="utf-8")
    with_math = 0
    for page in PAGES:
        tags = _page(out, page)
        scripts = [a["src"] for t, a in tags.tags if t == "script" and "mathjax" in a.get("src", "")]
        math = [a for t, a in tags.tags if t == "span" and "math" in a.get("class", "").split()]
        assert [_resolve(out, page, s) for s in scripts] == ([mathjax.resolve()] if math else []), page
        with_math += bool(math)
    assert with_math >= 5
    html = (out / PAGES[0]).read_text(encoding="utf-8")
    assert r'<span class="math notranslate nohighlight">\(\partial S_c / \partial I\)</span>' in html


# ---------------------------------------------------------------- the built site in a browser, offline

# A page's text as a reader sees it, without code (a code cell may hold a "$") and without typeset formulas.
PROSE = """() => {
  const main = (document.querySelector('main') || document.body).cloneNode(true);
  main.querySelectorAll('pre, code, script, style, mjx-container, .cell_input').forEach(e => e.remove());
  return main.textContent;
}"""
RAW_TEX = re.compile(r"\$\$|\$[^$\n]{1,200}\$|\\\(|\\\[|\\begin\{")


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (make test does: apt-get install chromium)")
    pytest.importorskip("playwright", reason="playwright is a dev dependency: pip install -e '.[dev]'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def offline(chromium):
    """A page with the network cut off: every request that is not for a file (or data: URL) is aborted and
    recorded in ``page.blocked``; the test checks that none was made."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(("file://", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.blocked = blocked
    try:
        yield page
    finally:
        context.close()


def _most_math_page(out: Path) -> str:
    spans = {p: sum(t == "span" and "math" in a.get("class", "").split() for t, a in _page(out, p).tags) for p in PAGES}
    return max(spans, key=spans.get)


@pytest.mark.browser
def test_formulas_render_offline_in_a_browser(out, offline):
    """Chromium opens pages from disk with the network cut off: the bundled MathJax typesets every formula,
    no raw TeX ($...$, \\(...\\)) is left in the text, and no request leaves the site's folder."""
    page = offline
    for rel in dict.fromkeys([PAGES[0], _most_math_page(out)]):
        page.goto((out / rel).as_uri())
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("MathJax.startup.promise")
        spans = page.locator("span.math, div.math").count()
        assert spans >= 2 and page.locator("span.math mjx-container, div.math mjx-container").count() == spans, rel
        assert page.locator("mjx-merror").count() == 0, rel
        raw = RAW_TEX.findall(page.evaluate(PROSE))
        assert not raw, f"{rel}: TeX left untypeset in the text: {raw[:5]}"
        page.locator("span.math mjx-container").first.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site_math_{Path(rel).stem}.png"))
    assert page.blocked == [], f"requests to the network: {page.blocked}"


@pytest.mark.browser
def test_search_page_finds_the_chapter_offline(out, offline):
    """The search page, opened from disk with the network cut off, lists the chapter a word names; its link opens
    that chapter."""
    page = offline
    chapter = (out / SEARCH_CHAPTER).resolve()
    title = site.notebook_title(_read(site.ROOT / "notebooks" / f"{chapter.stem}.ipynb"))
    page.goto((out / "search.html").as_uri() + "?q=" + urllib.parse.quote(SEARCH_WORD))
    done = "() => /Search finished|did not match/.test(document.querySelector('#search-results')?.innerText || '')"
    page.wait_for_function(done, timeout=30_000)
    results = page.locator("#search-results ul.search li > a")
    links = results.evaluate_all("els => els.map(a => [a.href, a.innerText])")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site_search.png"))
    hits = [i for i, (href, _) in enumerate(links) if _file_of(href) == chapter]
    assert hits, f"searching {SEARCH_WORD!r} does not list {SEARCH_CHAPTER}: {links}"
    assert links[hits[0]][1].startswith(title), links[hits[0]]
    results.nth(hits[0]).click()
    page.wait_for_load_state()
    assert _file_of(page.url) == chapter and page.locator("h1").first.inner_text().startswith(title)
    assert page.blocked == [], f"requests to the network: {page.blocked}"


def _file_of(url: str) -> Path:
    """The file a file:// URL names (without ?query and #anchor)."""
    return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).resolve()
