"""Shared helpers of the UI tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

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
