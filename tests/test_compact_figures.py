"""tools/compact_figures.py: photo-like figures become JPEG, line plots stay PNG, nothing else changes."""

from __future__ import annotations

import base64
import copy
import io
import json

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from tools import compact_figures as cf


def _png_of(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _photo_grid() -> str:
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 3, figsize=(6, 2))
    for ax in axes:  # smooth random "photos": many colours, as natural images have
        small = rng.random((8, 8, 3))
        ax.imshow(small, interpolation="bicubic")
        ax.set_title("a photo")
        ax.axis("off")
    return _png_of(fig)


def _line_plot() -> str:
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(np.arange(10), np.arange(10) ** 2, color="tab:blue")
    ax.set_title("loss")
    return _png_of(fig)


def _pixels(b64: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
        return np.asarray(im.convert("RGB"), dtype=float)


def test_a_photo_grid_becomes_a_smaller_jpeg_that_looks_the_same():
    png = _photo_grid()
    jpeg = cf.jpeg_if_smaller(png)
    assert jpeg is not None
    assert len(jpeg) < cf.MAX_RATIO * len(png)
    assert base64.b64decode(jpeg)[:3] == b"\xff\xd8\xff"  # a JPEG file
    a, b = _pixels(png), _pixels(jpeg)
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 3  # of 255: invisible at quality 85


def test_a_line_plot_stays_png():
    assert cf.jpeg_if_smaller(_line_plot()) is None


def test_thresholds_decide():
    png = _photo_grid()
    assert cf.jpeg_if_smaller(png, min_colours=10**8) is None  # "never photo-like"
    assert cf.jpeg_if_smaller(png, max_ratio=0.0) is None  # "never small enough"


def _notebook(png_photo: str, png_line: str) -> dict:
    out = lambda png: {  # noqa: E731
        "output_type": "display_data",
        "data": {"image/png": png, "text/plain": "<Figure>"},
        "metadata": {"image/png": {"width": 480}},
    }
    return {
        "cells": [
            {"cell_type": "markdown", "source": "# t", "metadata": {}},
            {"cell_type": "code", "source": "f()", "execution_count": 1, "metadata": {}, "outputs": [out(png_photo)]},
            {"cell_type": "code", "source": "g()", "execution_count": 2, "metadata": {}, "outputs": [out(png_line)]},
        ],
        "metadata": {
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "state": {"m1": {"model_name": "OutputModel", "state": {"outputs": [out(png_photo)]}}},
                    "version_major": 2,
                    "version_minor": 0,
                }
            }
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_cell_and_widget_outputs_are_converted_and_the_rest_is_untouched():
    nb = _notebook(_photo_grid(), _line_plot())
    before = copy.deepcopy(nb)
    converted, kept = cf.compact_outputs(nb)
    assert (converted, kept) == (2, 1)
    photo = nb["cells"][1]["outputs"][0]
    assert set(photo["data"]) == {"image/jpeg", "text/plain"} and photo["metadata"] == {"image/jpeg": {"width": 480}}
    assert nb["cells"][2] == before["cells"][2]  # the line plot: byte for byte
    widget = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]["m1"]["state"]
    assert "image/jpeg" in widget["outputs"][0]["data"]
    for a, b in zip(nb["cells"], before["cells"]):
        assert (a["source"], a.get("execution_count")) == (b["source"], b.get("execution_count"))


def test_files_are_rewritten_once_and_check_reports(tmp_path, capsys):
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(_notebook(_photo_grid(), _line_plot()), sort_keys=True, indent=1) + "\n")
    assert cf.main(["--check", str(path)]) == 1  # would shrink
    assert cf.main([str(path)]) == 0
    size = path.stat().st_size
    assert cf.main(["--check", str(path)]) == 0  # nothing left to do
    assert cf.main([str(path)]) == 0 and path.stat().st_size == size
    assert "total" in capsys.readouterr().out
