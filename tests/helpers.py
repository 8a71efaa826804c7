"""Assertions shared by the test files."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
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


@contextlib.contextmanager
def jupyter_server(cmd: list[str], work: Path, env: dict, token: str, what: str) -> Iterator[str]:
    """Start a Jupyter server (``cmd``, run in ``work`` with ``env``; its log in ``work/server.log``), wait
    until ``/api/status`` answers (60 s at most), yield its base URL, and stop it afterwards."""
    port = next(a for a in cmd if a.startswith("--port=")).split("=", 1)[1]
    base = f"http://127.0.0.1:{port}"
    with open(work / "server.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None:
                        pytest.fail(f"{what} exited: {(work / 'server.log').read_text()[-2000:]}")
                    time.sleep(0.5)
            else:
                pytest.fail(f"{what} did not answer within 60 s")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(autouse=True)
def no_gradients_left_on_vgg():
    """Autouse in the modules that import it: training-step solutions call ``loss.backward()`` through VGG19 (the
    zoo's shared copy); clear what they leave, so that a later test's clean-model check blames no innocent test."""
    from lecture_utils.exercises.base import zoo

    yield
    for p in zoo("vgg19").net.parameters():
        p.grad = None
