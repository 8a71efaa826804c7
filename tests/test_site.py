"""The static HTML edition (tools/build_site.py): the index links every notebook, in lecture order, and each page
renders."""

from __future__ import annotations

import re

import pytest

from tools import build_site as site


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    return out, site.build_site(out)


def test_index_links_every_notebook_in_order(built):
    out, index = built
    links = re.findall(r'<a href="([^"]+)"', index.read_text(encoding="utf-8"))
    expected = [p.with_suffix(".html").name for p in site.notebook_files()]
    assert links == expected
    assert len(expected) >= 13
    for page in links:
        assert (out / page).stat().st_size > 10_000, f"{page} is (nearly) empty"


def test_pages_keep_outputs_and_replace_widgets(built):
    out, _ = built
    text = (out / "00_why_and_what.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in text  # stored figures are embedded
    assert "Interactive widget" in text  # the widget cell says how to use it
    assert "widget-view+json" not in text


def test_titles_come_from_the_title_cell():
    nb = {"cells": [{"cell_type": "markdown", "source": "# 03 · CAM\n\nLecture **«Карты активации классов»**"}]}
    assert site.notebook_title(nb) == ("03 · CAM", "«Карты активации классов»")
    with pytest.raises(FileNotFoundError, match="NN_"):
        site.notebook_files("/nonexistent")


def test_site_is_tooling_outside_the_package():
    """A student imports lecture_utils; the site builder is not part of it (`make site` runs tools/build_site.py)."""
    import importlib.util

    assert importlib.util.find_spec("lecture_utils.site") is None
    makefile = (site.ROOT / "Makefile").read_text(encoding="utf-8")
    assert "tools/build_site.py build/site" in makefile
