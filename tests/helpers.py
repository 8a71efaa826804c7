"""Assertions shared by the test files."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from lecture_utils.hooks import model_state


def assert_leaves_model_clean(model: Any, call: Callable[[], Any], repeat: int = 2) -> None:
    """``call()`` (run ``repeat`` times) leaves no hook and unchanged requires_grad/training/inplace."""
    before = model_state(model)
    assert before["hooks"] == 0, "the model had hooks before the call"
    for _ in range(repeat):
        call()
        assert model_state(model) == before


def assert_raises_and_leaves_clean(model: Any, call: Callable[[], Any], exc: type, match: str | None = None) -> None:
    """``call()`` raises ``exc`` (message matching ``match``) and leaves the model as it was."""
    before = model_state(model)
    with pytest.raises(exc, match=match):
        call()
    assert model_state(model) == before
