"""The batches list follows the registry while it is up: jobs from Compose or a
retry, edits in the inspector."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input

from tests.ui.batches_support import (
    batches_screen,
    build_app,
    loaded,
    seed,
    wait_for,
)
from tui.core.registry import Job, Registry
from tui.localapi.server import LocalServer


def row_text(screen: Any, batch_id: str) -> str:
    return " ".join(str(cell) for cell in screen.table.get_row(batch_id))


def shown_ids(screen: Any) -> list[str]:
    table = screen.table
    return [table.get_row_at(i)[0].batch_id for i in range(table.row_count)]


async def test_a_job_added_while_the_list_is_up_shows_its_description_and_is_mine(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=2, active=1)
    registry = Registry(durable=False)
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        assert "From compose" not in row_text(screen, ids[1])
        registry.add(Job(batch_id=ids[1], description="From compose"))  # as Compose does
        screen.action_refresh()
        await wait_for(pilot, lambda: "From compose" in row_text(screen, ids[1]))
        await pilot.press("m")
        assert shown_ids(screen) == [ids[1]]


async def test_an_edit_in_the_inspector_shows_in_the_list_on_return(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=2)  # all final: the next poll is far away
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BatchDetailScreen")
        await pilot.press("d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "EditJobDialog")
        app.screen.query_one("#edit-description", Input).value = "Edited in the inspector"
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BatchDetailScreen")
        await wait_for(pilot, lambda: app.registry.find_by_batch(ids[0]) is not None)
        cycles = screen.cycles
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Edited in the inspector" in row_text(screen, ids[0]))
        assert screen.cycles == cycles  # shown on return, not by a later poll
