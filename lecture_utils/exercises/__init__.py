"""The homework's exercise tables: :class:`~.base.Exercise`, and the algorithm-level exercises by lecture part."""

from __future__ import annotations

from . import part1, part2, part3, part4_generators, part4_style
from .base import Exercise

__all__ = ["ALGORITHM_EXERCISES", "Exercise"]

ALGORITHM_EXERCISES: list[Exercise] = [
    *part1.EXERCISES,
    *part2.EXERCISES,
    *part3.EXERCISES,
    *part4_style.EXERCISES,
    *part4_generators.EXERCISES,
]
