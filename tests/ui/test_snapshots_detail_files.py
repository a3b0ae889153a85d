"""Snapshots of the batch inspector and the files screen at 120x36 and 80x24.

Time (a ManualClock, ``timefmt.now`` pinned to it), ids (``id_seed``), the header's
host, the terminal size and the theme are fixed, so the pictures are the same on
every run. Scenarios: a completed batch with usage and cost, a batch that failed
validation with each error beside its input line, a running retry with its parent
link, throughput and ETA, the files screen with a file no batch uses, and with a
marked set.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable

from tests.api.conftest import chat_lines
from tests.ui import test_batch_detail_support as support
from tests.ui.test_batch_detail_support import (
    build_app,
    completed_batch,
    create,
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


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
def test_detail_running_retry_with_throughput_and_eta(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, snap_compare: Any, size: Any
) -> None:
    parent = completed_batch(server, metadata={"job": "first-try"})
    batch_id = create(server, chat_lines(40), metadata={"job": "the-retry"})
    server.advance(2)
    registry = Registry(durable=False)
    registry.add(Job(batch_id=parent, description="First try"))
    registry.add(Job(batch_id=batch_id, retry_of=parent, description="Retry of the failures"))
    app = build_app(server, monkeypatch, registry)

    async def run_before(pilot: Any) -> None:
        pilot.app.theme = "textual-dark"
        screen = BatchDetailScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.is_live and screen.links.retry_of == parent)
        server.advance(3)
        await pilot.press("r")  # a second sample: a rate and an ETA
        await until(pilot, lambda: len(screen.pace.samples) == 2)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["120x36", "80x24"])
def test_files_with_a_marked_set(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, snap_compare: Any, size: Any
) -> None:
    completed_batch(server, name="tickets-2026-01-01.jsonl")
    spare = upload_lines(server, chat_lines(4), "left-over.jsonl")
    other = upload_lines(server, chat_lines(2), "old-draft.jsonl")
    app = build_app(server, monkeypatch)

    async def run_before(pilot: Any) -> None:
        pilot.app.theme = "textual-dark"
        screen = FilesScreen()
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.uses_known and not screen.fetching)
        table = screen.query_one(DataTable)
        for file_id in (spare, other):
            table.move_cursor(row=table.get_row_index(file_id))
            await pilot.press("space")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
