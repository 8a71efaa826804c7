"""Widgets for the notebooks: layer, class and image pickers and a re-rendering helper.

Every picker has a sensible default, so a widget cell also executes unattended (nbval, the
static edition): :func:`interactive` draws once with the defaults, then again on every change.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import ipywidgets as W
from IPython.display import display
from matplotlib.figure import Figure

from .models import ZooModel
from .plot import compact

__all__ = ["layer_picker", "class_picker", "image_picker", "interactive", "class_index"]


def layer_picker(model: ZooModel, value: str | None = None, layers: Sequence[str] | None = None) -> W.Dropdown:
    """Dropdown of the model's named layers (input to output)."""
    options = list(layers or model.layers)
    if value is not None and value not in options:
        raise ValueError(f"layer {value!r} is not among the picker's layers: {', '.join(options)}")
    return W.Dropdown(options=options, value=value or options[-1], description="layer")


def _label(i: int, name: str) -> str:
    return f"{name} ({i})"


def class_picker(classes: Sequence[str], top: Sequence[int] = (), value: int | None = None) -> W.Combobox:
    """Searchable class picker: type to filter the 1000 names; ``top`` (e.g. the image's top-k
    predictions) is listed first. Read the choice with :func:`class_index`."""
    if not classes:
        raise ValueError("class_picker needs a non-empty list of class names")
    first = [i for i in top]
    order = first + [i for i in range(len(classes)) if i not in set(first)]
    options = [_label(i, classes[i]) for i in order]
    start = value if value is not None else (first[0] if first else 0)
    return W.Combobox(
        options=options,
        value=_label(start, classes[start]),
        description="class",
        ensure_option=True,
        placeholder="type a class name",
    )


def class_index(picker: W.Combobox) -> int:
    """The class id chosen in a :func:`class_picker`."""
    return int(picker.value.rsplit("(", 1)[1].rstrip(")"))


def image_picker(names: Sequence[str] | None = None, value: str | None = None) -> W.Dropdown:
    """Dropdown of sample image names (photos and paintings by default)."""
    from .images import sample_names

    options = list(names or sample_names())
    return W.Dropdown(options=options, value=value or options[0], description="image")


def interactive(draw: Callable[..., Any], **controls: W.ValueWidget) -> W.VBox:
    """Re-render ``draw(**values)`` into an output area whenever a control changes.

    ``draw`` returns a matplotlib Figure (or something displayable, or displays it itself). Class
    pickers pass the class id, other widgets their value. The first render happens immediately.
    A Figure is shown as a JPEG at its own resolution (quality 90, :func:`plot.compact`): a few times
    smaller than a PNG of a photo-like figure, which keeps widget updates fast and avoids a stall of
    unattended runs (nbclient echoes every output of an ``ipywidgets.Output`` back to the kernel;
    jupyter/nbclient issue #312).
    """
    out = W.Output()

    def value_of(w: W.ValueWidget) -> Any:
        return class_index(w) if isinstance(w, W.Combobox) else w.value

    def render(*_: Any) -> None:
        try:
            values = {k: value_of(w) for k, w in controls.items()}
        except (ValueError, IndexError):
            return  # a class picker holds half-typed text: wait for a full choice
        with out:
            out.clear_output(wait=True)
            fig = draw(**values)
            if isinstance(fig, Figure):
                display(compact(fig, dpi=fig.dpi, quality=90))  # closes the figure
            elif fig is not None:
                display(fig)

    for w in controls.values():
        w.observe(render, names="value")
    box = W.VBox([W.HBox(list(controls.values())), out])
    render()
    return box
