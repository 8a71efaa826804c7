"""Curves and bars: ONE line plotter (:func:`line_panel`) and the figures built on it -- losses over
steps, objectives, spectra, per-layer fractions -- plus the two bar charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .core import _finish_figure, to_array

__all__ = [
    "curves",
    "grouped_bars",
    "ig_path",
    "inversion_errors",
    "line_panel",
    "loss_terms",
    "objective_curves",
    "sparsity_plot",
    "sr_spectra",
    "sr_training_curves",
    "step_curves",
    "topk_bar",
    "training_curves",
]

Series = Mapping[str, tuple[Any, Any]]


def _values(v: Any) -> np.ndarray:
    return np.asarray(to_array(v) if isinstance(v, torch.Tensor) else v, dtype=float)


def _smoothed(ax: plt.Axes, x: np.ndarray, y: np.ndarray, smooth: int, label: str) -> None:
    (line,) = ax.plot(x, y, linewidth=0.6, alpha=0.25)
    k = np.ones(smooth) / smooth
    ax.plot(np.convolve(x, k, "valid"), np.convolve(y, k, "valid"), color=line.get_color(), lw=1.6, label=label)


def line_panel(
    ax: plt.Axes,
    series: Series,
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    logy: bool = False,
    style: Mapping[str, Any] | None = None,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    grid: str | None = "major",
    legend: Mapping[str, Any] | None = None,
    hline: tuple[float, str | None] | None = None,
    xticklabels: tuple[Sequence[str], float] | None = None,
    smooth: int = 1,
) -> plt.Axes:
    """THE curve plotter: ``series`` {name: (x, y)} as lines on ``ax``.

    ``style`` the line keywords of every curve, ``styles`` {name: keywords} per curve on top;
    ``logy`` a log y axis; ``grid`` "major" / "both" / None; ``legend`` its keywords (None: no
    legend); ``hline`` = (y, label) a dashed grey reference line; ``xticklabels`` = (labels,
    rotation) for categorical x; ``smooth`` > 1 draws a running mean over the faint raw curve."""
    for name, (x, y) in series.items():
        x, y = _values(x), _values(y)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"curve {name!r}: {x.shape} x values for {y.shape} values")
        if smooth > 1 and len(y) > smooth:
            _smoothed(ax, x, y, smooth, name)
        else:
            ax.plot(x, y, label=name, **{**(style or {}), **((styles or {}).get(name, {}))})
    if hline is not None:
        ax.axhline(hline[0], color="grey", linestyle="--", linewidth=1, label=hline[1])
    if logy:
        ax.set_yscale("log")
    if xticklabels is not None:
        labels, rotation = xticklabels
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=rotation, ha="right" if rotation else "center")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    if grid:
        ax.grid(alpha=0.3, which=grid)
    if legend is not None:
        ax.legend(**legend)
    return ax


def _figure(n: int, size: tuple[float, float], sharey: bool = False) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(1, n, figsize=(size[0] * n, size[1]), squeeze=False, sharey=sharey)
    return fig, axes[0]


_LOSS_LOOK: dict[str, Any] = {"grid": "both", "legend": {"fontsize": 8}}
"""The look of the loss and spectrum panels: grid lines at major and minor ticks, a small legend."""


def _finish(fig: Figure, title: str | None, fontsize: float = 11) -> Figure:
    return _finish_figure(fig, title, fontsize=fontsize)


def curves(
    x: Sequence[Any],
    ys: dict[str, Sequence[float]],
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    hline: float | None = None,
    rotate: bool = False,
    size: tuple[float, float] = (6.0, 3.4),
) -> Figure:
    """Line plot of several named curves over the same x values (numbers or labels), with markers;
    ``hline`` draws a dashed reference line; ``rotate`` turns long x labels."""
    if not ys:
        raise ValueError("curves needs at least one curve")
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in x)
    pos = np.asarray(x, dtype=float) if numeric else np.arange(len(x), dtype=float)
    for name, y in ys.items():
        if _values(y).shape != (len(x),):
            raise ValueError(f"curve {name!r} has {_values(y).shape} values for {len(x)} x positions")
    fig, (ax,) = _figure(1, size)
    line_panel(
        ax,
        {n: (pos, y) for n, y in ys.items()},
        xlabel,
        ylabel,
        title,
        style={"marker": "o", "markersize": 3},
        legend={"fontsize": 8, "loc": "best"},
        hline=None if hline is None else (hline, None),
        xticklabels=None if numeric else ([str(v) for v in x], 45 if rotate else 0),
    )
    return _finish(fig, None)


def step_curves(
    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str | None = None,
    xlabel: str = "training step",
    ylabel: str = "loss",
    logy: bool = True,
    size: tuple[float, float] = (6.0, 3.2),
) -> Figure:
    """Loss curves that may have different x values: ``curves[name] = (steps, values)``; log y axis
    by default (losses fall over orders of magnitude)."""
    if not curves:
        raise ValueError("step_curves needs at least one curve")
    fig, (ax,) = _figure(1, size)
    line_panel(ax, curves, xlabel, ylabel, title, logy, style={"linewidth": 1.2}, **_LOSS_LOOK)
    return _finish(fig, None)


def objective_curves(curves: dict[str, Sequence[float]], title: str | None = None, ylabel: str = "objective") -> Figure:
    """Objective value per optimization step, one line per run."""
    fig, (ax,) = _figure(1, (5, 2.8))
    series = {n: (np.arange(1, len(v) + 1), v) for n, v in curves.items()}
    line_panel(ax, series, "step", ylabel, title, grid=None, legend={"fontsize": 7})
    return _finish(fig, None)


def training_curves(
    histories: dict[str, dict[str, Sequence[float]]],
    keys: Sequence[str] = ("content", "style"),
    title: str | None = None,
    logy: bool = True,
    size: tuple[float, float] = (4.6, 3.1),
    smooth: int = 1,
) -> Figure:
    """Training losses against the step, one panel per key (``content``, ``style``, ...), one line
    per run: ``histories`` {run label: {"step": [...], key: [...]}} (runs may have different step
    grids). Log scale with ``logy``. ``smooth`` > 1: a running mean over that many points is drawn
    over the faint raw curve (per-batch losses are noisy)."""
    if not histories:
        raise ValueError("training_curves needs at least one run")
    fig, axes = _figure(len(keys), size)
    for ax, key in zip(axes, keys):
        series = {}
        for label, h in histories.items():
            if key not in h:
                raise ValueError(f"run {label!r} has no {key!r} values (has {sorted(h)})")
            series[label] = (h.get("step", np.arange(1, len(h[key]) + 1)), h[key])
        line_panel(
            ax,
            series,
            "training step",
            "",
            f"{key} loss",
            logy,
            style={"linewidth": 1.4},
            **_LOSS_LOOK,
            smooth=smooth,
        )
    return _finish(fig, title)


def loss_terms(
    runs: dict[str, dict[str, Sequence[float]]],
    title: str | None = None,
    logy: bool = True,
    size: tuple[float, float] = (4.4, 3.1),
) -> Figure:
    """Loss terms per optimization step, one panel per run: ``runs`` {panel title: {curve label:
    values}}. A curve whose label starts with "total" is drawn black and dashed, on top; the panels
    share the y axis (log scale with ``logy``), so the runs compare directly."""
    if not runs:
        raise ValueError("loss_terms needs at least one run")
    fig, axes = _figure(len(runs), size, sharey=True)
    total = {"color": "k", "linestyle": "--", "linewidth": 2, "zorder": 3}
    for ax, (name, terms) in zip(axes, runs.items()):
        series = {label: (np.arange(1, len(_values(v)) + 1), v) for label, v in terms.items()}
        styles = {label: total for label in terms if label.startswith("total")}
        line_panel(
            ax,
            series,
            "step",
            "",
            name,
            logy,
            style={"linewidth": 1.6},
            styles=styles,
            **_LOSS_LOOK,
        )
    if logy:  # a curve that starts at 0 (the content loss from the photo) would stretch a log axis to 1e-14
        values = np.concatenate([_values(v).ravel() for c in runs.values() for v in c.values()])
        top = float(np.nanmax(values))
        positive = values[values > 0]
        low = max(float(positive.min()) if positive.size else top * 1e-3, top * 1e-3)
        axes[0].set_ylim(low / 1.5, top * 1.5)
    axes[0].set_ylabel("loss")
    return _finish(fig, title)


def sparsity_plot(series: dict[str, dict[str, float]], title: str | None = None) -> Figure:
    """Fraction of zero activations per layer: one line per series {label: {layer: fraction}}."""
    if not series:
        raise ValueError("nothing to plot: got 0 series")
    fig, (ax,) = _figure(1, (7.5, 3.4))
    names = list(next(reversed(series.values())))
    lines = {label: (np.arange(len(fr)), [fr[n] for n in fr]) for label, fr in series.items()}
    styles = {label: {"marker": m} for label, m in zip(series, "osd^v<>")}
    line_panel(
        ax,
        lines,
        "",
        "fraction of zeros",
        None,
        styles=styles,
        legend={"fontsize": 8, "loc": "lower right"},
        xticklabels=(names, 60),
    )
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig, None)


def sr_spectra(freqs: Any, spectra: dict[str, Any], title: str | None = None, cutoff: float | None = None) -> Figure:
    """Radially averaged power spectra {name: (bins,)} over ``freqs`` (cycles/pixel), log scale;
    ``cutoff`` marks the highest frequency the low-resolution input can carry."""
    if not spectra:
        raise ValueError("sr_spectra needs at least one spectrum")
    f = _values(freqs)
    for name, p in spectra.items():
        if _values(p).shape != f.shape:
            raise ValueError(f"spectrum {name!r} has shape {_values(p).shape}, frequencies {f.shape}")
    fig, (ax,) = _figure(1, (6.0, 3.6))
    series = {name: (f, np.maximum(_values(p), 1e-12)) for name, p in spectra.items()}
    styles = {n: {"color": "black", "linewidth": 2.2} for n in spectra if n.lower().startswith("ground")}
    line_panel(
        ax,
        series,
        "spatial frequency (cycles / pixel)",
        "power (log)",
        title,
        True,
        style={"linewidth": 1.4},
        styles=styles,
        **_LOSS_LOOK,
    )
    if cutoff is not None:
        ax.axvline(cutoff, color="grey", linestyle="--", linewidth=1)
        ax.text(cutoff, ax.get_ylim()[1], " LR Nyquist", va="top", fontsize=8, color="grey")
    return _finish(fig, None)


def sr_training_curves(
    histories: dict[str, dict[str, Sequence[float]]],
    loss_labels: dict[str, str] | None = None,
    baseline_psnr: float | None = None,
    title: str | None = None,
) -> Figure:
    """Training of super-resolution nets: one panel per history with its training loss over the
    steps (log scale; ``loss_labels`` names each loss), and, if the histories have ``val_psnr``
    (at ``val_step``), a last panel with the held-out PSNR of all of them (``baseline_psnr`` dashed)."""
    if not histories:
        raise ValueError("sr_training_curves needs at least one history")
    with_val = [k for k, h in histories.items() if h.get("val_psnr")]
    fig, axes = _figure(len(histories) + (1 if with_val else 0), (3.6, 3.1))
    for ax, (name, h) in zip(axes, histories.items()):
        steps, loss = _values(h["step"]), _values(h["loss"])
        if steps.shape != loss.shape or steps.size == 0:
            raise ValueError(f"history {name!r} needs 'step' and 'loss' of one length")
        style = {"marker": "o" if steps.size < 30 else None, "markersize": 3}
        line_panel(
            ax,
            {name: (steps, loss)},
            "step",
            (loss_labels or {}).get(name, "training loss"),
            name,
            True,
            style=style,
            grid="both",
        )
    if with_val:
        series = {name: (histories[name]["val_step"], histories[name]["val_psnr"]) for name in with_val}
        line_panel(
            axes[-1],
            series,
            "step",
            "PSNR on held-out crops (dB)",
            "held-out PSNR",
            style={"marker": "o", "markersize": 3},
            legend={"fontsize": 8},
            hline=None if baseline_psnr is None else (baseline_psnr, "bicubic"),
        )
    if title:
        fig.suptitle(title, fontsize=10)
    return _finish(fig, None)


def inversion_errors(
    labels: Sequence[str],
    feature_errors: Sequence[float],
    pixel_errors: Sequence[float],
    start_errors: Sequence[float] | None = None,
    title: str | None = None,
) -> Figure:
    """Two panels over the layers of an inversion (Mahendran & Vedaldi's error analysis):
    left, the relative feature error ``||Phi(x*) - Phi0|| / ||Phi0||`` of each reconstruction (and of
    the random start, if given); right, the pixel RMSE between reconstruction and original."""
    n = len(labels)
    if len(feature_errors) != n or len(pixel_errors) != n or (start_errors is not None and len(start_errors) != n):
        raise ValueError("labels, feature_errors, pixel_errors (and start_errors) need the same length")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.2))
    pos = np.arange(n)
    series = {} if start_errors is None else {"random start": (pos, start_errors)}
    series["reconstruction"] = (pos, feature_errors)
    styles = {
        "random start": {"marker": "o", "linestyle": "--", "color": "tab:gray"},
        "reconstruction": {"marker": "o", "linestyle": "-", "color": "tab:blue"},
    }
    line_panel(
        a1,
        series,
        "",
        r"$\|\Phi(x) - \Phi_0\| \,/\, \|\Phi_0\|$",
        None,
        styles=styles,
        grid=None,
        legend={"fontsize": 8},
    )
    a1.set_ylim(0, None)
    a1.set_title("feature error (what the optimizer sees)", fontsize=10)
    a2.bar(pos, pixel_errors, color="tab:orange")
    a2.set_ylabel("pixel RMSE to the original")
    a2.set_title("pixel error (what we see)", fontsize=10)
    for ax in (a1, a2):
        ax.set_xticks(pos, labels, rotation=30, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return _finish(fig, None)


def ig_path(
    alphas: Any, scores: Any, integrand: Any, fine: tuple[Any, Any] | None = None, title: str | None = None
) -> Figure:
    """Integrated Gradients along its path (notebook 13). Left: the score ``f(x0 + a (x - x0))`` at
    the quadrature nodes (dots), and on a finer grid if ``fine`` = (alphas, scores) is given (line).
    Right: the integrand ``<grad f, x - x0>`` at the nodes, whose average over [0, 1] should equal
    ``f(x) - f(x0)``."""
    a, f, g = (_values(to_array(alphas)), _values(to_array(scores)), _values(to_array(integrand)))
    if not (a.shape == f.shape == g.shape) or a.ndim != 1:
        raise ValueError(f"alphas, scores, integrand must be 1-D of one length, got {a.shape}, {f.shape}, {g.shape}")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.2))
    series = {} if fine is None else {"score, fine grid": tuple(_values(to_array(v)) for v in fine)}
    series["score at the IG nodes"] = (a, f)
    styles = {
        "score, fine grid": {"linestyle": "-", "color": "tab:gray", "linewidth": 1},
        "score at the IG nodes": {"marker": "o", "linestyle": "none", "color": "tab:blue", "markersize": 3},
    }
    line_panel(
        a1,
        series,
        r"$\alpha$  (0 = baseline, 1 = image)",
        r"$f(x_0 + \alpha (x - x_0))$",
        "the class score along the path",
        styles=styles,
        legend={"fontsize": 8},
    )
    a2.axhline(0, color="grey", linewidth=0.8)
    a2.vlines(a, 0, g, color="tab:orange", linewidth=1)
    a2.plot(a, g, "o", color="tab:orange", markersize=3)
    a2.set_xlabel(r"$\alpha$")
    a2.set_ylabel(r"$\langle \nabla f, x - x_0 \rangle$")
    a2.set_title("the integrand at the nodes", fontsize=10)
    a2.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return _finish(fig, None)


def grouped_bars(
    series: dict[str, dict[str, float]],
    ylabel: str = "",
    title: str | None = None,
    log: bool = False,
    fmt: str = "{:.3f}",
    size: tuple[float, float] = (7.0, 3.4),
) -> Figure:
    """Grouped bar chart: ``series`` {series label: {group: value}}, one group of bars per key of
    the first series (e.g. one group per segment, one bar per run), each bar labelled with its value
    (``fmt``); ``log`` for a logarithmic y axis (values must then be > 0)."""
    if not series:
        raise ValueError("grouped_bars needs at least one series")
    groups = list(next(iter(series.values())))
    for name, vals in series.items():
        if set(vals) != set(groups):
            raise ValueError(f"series {name!r} has groups {sorted(vals)} but the first has {sorted(groups)}")
    fig, ax = plt.subplots(figsize=size)
    n = len(series)
    width = 0.8 / n
    x = np.arange(len(groups))
    for i, (name, vals) in enumerate(series.items()):
        v = np.array([float(vals[g]) for g in groups])
        if log and (v <= 0).any():
            raise ValueError(f"series {name!r} has values <= 0: cannot use a log axis")
        bars = ax.bar(x + (i - (n - 1) / 2) * width, v, width, label=name)
        for b, val in zip(bars, v):
            ax.text(b.get_x() + b.get_width() / 2, val, fmt.format(val), ha="center", va="bottom", fontsize=7)
    if log:
        ax.set_yscale("log")
    ax.margins(y=0.15)
    ax.set_xticks(x, [str(g) for g in groups])
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig, None)


def topk_bar(predictions: Sequence[tuple[int, str, float]], title: str | None = None) -> Figure:
    """Horizontal bars of ``[(class_id, name, probability), ...]`` as returned by ``ZooModel.predict``."""
    fig, ax = plt.subplots(figsize=(4.5, 0.35 * len(predictions) + 0.8))
    names = [n for _, n, _ in predictions][::-1]
    probs = [p for _, _, p in predictions][::-1]
    ax.barh(names, probs, color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    if title:
        ax.set_title(title)
    return _finish(fig, None)
