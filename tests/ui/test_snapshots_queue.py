"""Snapshots of the Queue screen at 120x36 and 80x24: a group whose first parts are
ready to go under the configured limit and the next waits for room, and a paused
group with a hostile description (shown literally). The runner is held (no pass),
group ids, host and theme are pinned, so the picture is the same on every run."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui.batches_support import loaded
from tests.ui.conftest import until
from tests.ui.test_queue_screen import limited, queued_app
from tui.app import BatchDeckApp
from tui.core import submission
from tui.core.config import Profile
from tui.core.queue import pause
from tui.localapi.server import LocalServer
from tui.screens.queue import QueueScreen

__all__ = ["limited"]  # the fixture, shared


@pytest.fixture
def queue_app(
    limited: tuple[LocalServer, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[BatchDeckApp]:
    ids = (f"grp-00000000000{n}" for n in itertools.count(1))
    monkeypatch.setattr(submission, "new_group_id", lambda: next(ids))
    monkeypatch.setattr(Profile, "host", lambda self: "batches.example:8080")
    server, limit = limited
    app = queued_app(server, limit, monkeypatch, tmp_path, tickets=6, digest=2)
    pause(app.registry, "grp-000000000002")
    monkeypatch.setattr(app.queue_runner, "start", lambda: None)  # nothing is sent
    app.theme = "textual-dark"
    yield app


async def on_queue(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.press("u")
    await until(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    await until(pilot, lambda: screen.waiting_table.row_count == 8)
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_queue_screen(snap_compare: Any, queue_app: BatchDeckApp, size: tuple[int, int]) -> None:
    assert snap_compare(queue_app, terminal_size=size, run_before=on_queue)
