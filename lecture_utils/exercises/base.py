"""What an exercise is (:class:`Exercise`), and the shared pieces of the exercise tables.

The one-line warm-ups live in :mod:`lecture_utils.homework`; the algorithm-level exercises, one module per
lecture part (:mod:`.part1` ... :mod:`.part4`), run the student's function on the real zoo models.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["Exercise", "Inputs", "TIME_LIMIT", "in_order", "on_model", "randn", "zoo"]

TIME_LIMIT = 15.0  # seconds per test case; every solution takes well under 1 s

Inputs = dict[str, torch.Tensor]


def in_order(fn: Callable, inputs: Inputs) -> object:
    """How a check calls the student's function unless its exercise says otherwise: with the inputs in the order
    ``make_inputs`` names them, each 0-d tensor as a Python number (``int`` for an integer dtype, else ``float``)."""
    return fn(*(v if v.ndim else int(v) if not v.is_floating_point() else float(v) for v in inputs.values()))


@dataclass(frozen=True)
class Exercise:
    """One exercise: the function ``function`` the student writes in notebook ``notebook``.

    ``make_inputs(g)`` builds the fixed inputs (named tensors) from a seeded generator; ``call(fn, inputs)``
    runs a candidate on them and returns a tensor (or a tuple of tensors) -- by default :func:`in_order`, the
    inputs as the function's arguments in their order. Outputs are compared with
    ``torch.allclose(out, expected, rtol, atol)``. ``function``: the name the solution cell defines (the
    builder takes it from the cell's one ``def`` when the cell renames it). ``time_limit``: seconds per test
    case. ``dims``: names of the output's dimensions for the report of a wrong value (default by rank: row,
    column; channel, row, column; image, channel, row, column). ``models``: the zoo models the check runs on,
    loaded (:func:`zoo`) before the clock starts, so that reading half a gigabyte of weights the first time is
    not counted as the student's time.
    """

    name: str
    notebook: str
    hint: str
    make_inputs: Callable[[torch.Generator], Inputs]
    call: Callable[[Callable, Inputs], object] = in_order
    rtol: float = 1e-5
    atol: float = 1e-6
    seed: int = 0
    cases: int = 3
    function: str = field(default="")
    time_limit: float = TIME_LIMIT
    dims: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.function:
            object.__setattr__(self, "function", self.name)


def on_model(model: str, **shared: object) -> Callable[..., Exercise]:
    """A builder of the exercises whose check runs the student's function on zoo model ``model``: :class:`Exercise`
    with ``models=(model,)`` and the settings ``shared`` (e.g. the tolerances of one precision) filled in."""
    return functools.partial(Exercise, models=(model,), **shared)


def randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64).float()


@functools.cache
def zoo(name: str):
    """The course's zoo model ``name`` (``load_model``), loaded once per process for the checks.

    The checks only read it: every method they compare with restores the model's state.
    """
    from ..models import load_model

    return load_model(name)
