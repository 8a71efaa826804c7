"""Quick mode: one switch for image sizes and step counts.

The test command sets ``LECTURE_QUICK=1``; notebooks then run every code path with smaller
images and fewer steps. Stored outputs come from the full settings (variable unset or ``0``).
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

ENV_VAR = "LECTURE_QUICK"


def is_quick() -> bool:
    """True when the environment asks for the quick (test) mode."""
    return os.environ.get(ENV_VAR, "0").strip().lower() in {"1", "true", "yes", "on"}


def pick(full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Example: ``steps = pick(full=256, quick=8)``.
    """
    return quick if is_quick() else full
