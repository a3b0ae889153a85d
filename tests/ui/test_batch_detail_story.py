"""The inspector tells a batch's story: what happened (from its fields), how fast it
runs and when it may end, the retries it is tied to (g opens the parent), and its
letter keys stay quiet while a field has focus."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from textual.widgets import Select

from tests.api.conftest import chat_lines
from tests.ui import test_batch_detail_support as support
from tests.ui.test_batch_detail_support import (
    build_app,
    completed_batch,
    create,
    settle,
    text_of,
    until,
)
from tui.core.models import Batch, RequestCounts
from tui.core.registry import Job, Registry
from tui.dialogs.confirm import ConfirmDialog
from tui.localapi.server import LocalServer
from tui.screens.batch_detail import BatchDetailScreen

SIZE = (120, 36)
server = support.server  # the shared pinned-clock server fixture


async def open_detail(pilot: Any, batch_id: str) -> BatchDetailScreen:
    screen = BatchDetailScreen(batch_id)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.is_live)
    await settle(pilot)
    return screen


async def test_a_batch_that_ran_and_whose_lines_failed_is_not_a_validation_failure(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = create(server, chat_lines(20))
    app = build_app(server, monkeypatch)
    real = app.client.retrieve_batch

    async def ran_then_failed(wanted: str) -> Batch:
        batch = await real(wanted)
        started = batch.created_at + 10
        return dataclasses.replace(
            batch,
            status="failed",
            in_progress_at=started,
            failed_at=started + 300,
            request_counts=RequestCounts(total=20, completed=0, failed=20),
        )

    monkeypatch.setattr(app.client, "retrieve_batch", ran_then_failed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        notice = text_of(screen, "#detail-notice")
        assert notice == "Failed after 5m running with 20 of 20 requests done (20 failed)."
        assert "Validation" not in notice


async def test_a_running_batch_estimates_then_shows_its_throughput_and_eta(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = create(server, chat_lines(40))
    server.advance(2)
    assert server.batch(batch_id)["status"] == "in_progress"
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        assert "estimating…" in text_of(screen, "#detail-counts")  # one sample: no number
        assert "req/min" not in text_of(screen, "#detail-counts")
        first = screen.pace.samples[-1]
        server.advance(3)
        assert server.batch(batch_id)["status"] == "in_progress"
        await pilot.press("r")
        await until(pilot, lambda: len(screen.pace.samples) == 2)
        await settle(pilot)
        last = screen.pace.samples[-1]
        assert last.done > first.done
        rate = (last.done - first.done) / (last.at - first.at) * 60
        counts = text_of(screen, "#detail-counts")
        assert f"{rate:.1f} req/min" in counts and "ETA ~" in counts
        assert "estimating" not in counts


async def test_retry_links_show_both_ways_and_g_opens_the_parent(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = completed_batch(server)
    child = completed_batch(server)
    registry = Registry(durable=False)
    registry.add(Job(batch_id=parent, description="first try"))
    registry.add(Job(batch_id=child, retry_of=parent, description="the retry"))
    app = build_app(server, monkeypatch, registry=registry)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, child)
        await until(pilot, lambda: screen.links.retry_of == parent)
        assert text_of(screen, "#detail-links") == f"retry of {parent} (g to open it)"
        assert screen.check_action("open_parent", ()) is True
        await pilot.press("g")
        await until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, BatchDetailScreen)
                and pilot.app.screen.batch_id == parent
            ),
        )
        opened = pilot.app.screen
        assert isinstance(opened, BatchDetailScreen)
        await until(pilot, lambda: opened.links.retried_by == (child,))
        assert text_of(opened, "#detail-links") == f"retried by {child}"
        assert opened.check_action("open_parent", ()) is False
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen)


async def test_letters_do_not_fire_the_inspectors_keys_while_a_field_has_focus(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = create(server, chat_lines(20))
    server.advance(2)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, batch_id)
        field: Select[str] = Select([("one", "one")], id="typing")  # takes no letters itself
        await screen.query_one("#detail-body").mount(field)
        field.focus()
        await pilot.press("c", "d")  # cancel, describe: not fired
        await settle(pilot)
        assert pilot.app.screen is screen
        assert not isinstance(pilot.app.screen, ConfirmDialog)
