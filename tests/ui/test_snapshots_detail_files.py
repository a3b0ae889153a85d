"""Snapshots of the batch inspector and the files screen at 120x36 and 80x24.

Time (a ManualClock, ``timefmt.now`` pinned to it), ids (``id_seed``), the header's
host, the terminal size and the theme are fixed, so the pictures are the same on
every run. Scenarios: a completed batch with usage and cost, a batch that failed
validation with each error beside its input line, and the files screen with a
file no batch uses.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import chat_lines
from tests.ui import test_batch_detail_support as support
from tests.ui.test_batch_detail_support import (
    build_app,
    completed_batch,
    failed_batch,
    settle,
    until,
    upload_lines,
)
from tui.core.registry import Job, Registry
from tui.localapi.server import LocalServer
from tui.screens.batch_detail import BatchDetailScreen
from tui.screens.files import FilesScreen

server = support.server  # the shared pinned-clock server fixture
SIZES = [(120, 36), (80, 24)]


def detail_runner(batch_id: str, *, errors: bool = False) -> Any:
    async def run_before(pilot: Any) -> None:
        pilot.app.theme = "textual-dark"
        screen = BatchDetailScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.is_live)
        if errors:
            await until(pilot, lambda: bool(screen.input_lines))
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
def test_detail_completed_with_usage_and_cost(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, snap_compare: Any, size: Any
) -> None:
    batch_id = completed_batch(server, metadata={"job": "nightly-summaries", "team": "support"})
    registry = Registry(durable=False)
    registry.add(
        Job(batch_id=batch_id, description="Nightly ticket summaries", tags=("support", "nightly"))
    )
    app = build_app(server, monkeypatch, registry)
    assert snap_compare(app, terminal_size=size, run_before=detail_runner(batch_id))


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
def test_detail_failed_validation_with_input_lines(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, snap_compare: Any, size: Any
) -> None:
    batch_id = failed_batch(server, metadata={"job": "refund-drafts"})
    app = build_app(server, monkeypatch)
    runner = detail_runner(batch_id, errors=True)
    assert snap_compare(app, terminal_size=size, run_before=runner)


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
def test_files_with_uses_and_an_unused_file(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, snap_compare: Any, size: Any
) -> None:
    completed_batch(server, name="tickets-2026-01-01.jsonl")
    upload_lines(server, chat_lines(4), "left-over.jsonl")
    app = build_app(server, monkeypatch)

    async def run_before(pilot: Any) -> None:
        pilot.app.theme = "textual-dark"
        screen = FilesScreen()
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.uses_known and not screen.fetching)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
