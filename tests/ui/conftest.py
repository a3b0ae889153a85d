"""Shared helpers of the UI tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tui.localapi.server import LocalServer

WAIT_SECONDS = 30.0  # generous for a slow, shared CI machine; a met condition returns at once


async def until(
    pilot: Pilot[Any], condition: Callable[[], bool], *, timeout: float = WAIT_SECONDS
) -> None:
    """Pause until ``condition()`` holds; fail the test if it has not after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        await pilot.pause(0.02)


async def click_shown(pilot: Pilot[Any], selector: str) -> None:
    """Click the widget ``selector`` of the current screen once it is laid out (a
    click on a screen pushed a moment ago can land before its layout, on nothing)
    and fail unless the click landed on it."""
    widget = pilot.app.screen.query_one(selector)
    await until(pilot, lambda: widget.region.area > 0 and not widget.disabled)
    assert await pilot.click(selector), f"the click missed {selector}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    """The batches tests' server (pinned clock and ids, see ``batches_support``);
    a test module that needs another one defines its own ``server``."""
    from tests.ui.batches_support import start_server

    running = start_server(tmp_path / "server")
    try:
        yield running
    finally:
        running.stop()
