"""The first page listed by the start-up child (tui.core.first_page) against the
embedded server: the table it makes is the one the screen's own listing makes, the
rest of the listing and the app work on from it, the SDK loads only once that page
is on screen, and a child that has no page (a refused key, no server) ends in the
screen's own message, once."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.api.conftest import API_KEY
from tests.api.test_first_page import start
from tests.ui.batches_support import (
    batches_screen,
    loaded,
    seed,
    status_text,
    wait_for,
)
from tui.app import BatchDeckApp, make_app
from tui.core import first_page, timefmt
from tui.core.client import BatchClient
from tui.core.config import load_config
from tui.core.registry import Registry
from tui.localapi.server import LocalServer


def app_on(
    base_url: str, monkeypatch: pytest.MonkeyPatch, *, key: str = API_KEY, prefetch: bool
) -> tuple[BatchDeckApp, first_page.Prefetch | None]:
    """The app as ``batchdeck`` makes it (no config file: the default profile on
    ``OPENAI_BASE_URL``), with the start-up child's page handed over if ``prefetch``."""
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    config = load_config()
    profile = config.profile()
    client = BatchClient(profile, max_retries=0)
    child = start(client) if prefetch else None
    return make_app(config, client, Registry(durable=False), profile=profile), child


def rows(pilot: Pilot[Any]) -> list[list[str]]:
    table = batches_screen(pilot).table
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def listed_after(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The ``after`` cursor of every listing the app's own client starts."""
    calls: list[str | None] = []
    original = BatchClient.iter_batch_pages

    def recording(self: BatchClient, **kw: Any) -> Any:
        calls.append(kw.get("after"))
        return original(self, **kw)

    monkeypatch.setattr(BatchClient, "iter_batch_pages", recording)
    return calls


async def test_the_prefetched_page_makes_the_table_the_listing_makes(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=200, active=60)  # three pages of 100
    monkeypatch.setattr(timefmt, "now", server.clock)
    calls = listed_after(monkeypatch)
    tables = []
    for prefetch in (False, True):
        calls.clear()
        app, child = app_on(server.base_url, monkeypatch, prefetch=prefetch)
        async with app.run_test(size=(120, 36)) as pilot:
            await loaded(pilot)
            tables.append(rows(pilot))
            assert batches_screen(pilot).requests_last_cycle == 3
            assert status_text(pilot).startswith("260 batches · 60 active")
        if child is not None:
            assert child.taken and child.close()  # its page was used; it exited well
    assert calls == [ids[99]]  # with the child's page, the app listed from page two on
    assert tables[1] == tables[0]
    assert len(tables[0]) == len(ids) == 260


async def test_the_app_works_on_after_a_prefetched_page(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=3, active=2)
    monkeypatch.setattr(timefmt, "now", server.clock)
    app, child = app_on(server.base_url, monkeypatch, prefetch=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        assert child is not None and child.taken
        await pilot.press("r")  # a refresh cycle with the app's own client
        await loaded(pilot, cycles=2)
        assert screen.requests_last_cycle >= 1
        await pilot.press("down", "enter")  # the inspector of the second batch
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BatchDetailScreen")
        assert app.screen.batch_id == ids[1]  # type: ignore[attr-defined]


async def test_the_sdk_loads_once_the_prefetched_page_is_painted(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's import (a thread) would hold up the page's paint (the GIL): it waits
    until the table has refreshed with a screenful of the page's rows (usually the
    frame that draws them; Textual has no hook after a frame is written, so that is
    not asserted: under load the frame can come later). The rows below a screenful
    come after."""
    seed(server, final=150, active=0)
    events: list[str] = []
    original_shown, original_settled = first_page.shown, first_page.settled

    def shown(client: BatchClient) -> None:
        table = batches_screen(pilot).table
        events.append(f"shown with {table.row_count} rows in a table {table.size.height} high")
        original_shown(client)

    async def settled(client: BatchClient) -> None:
        await original_settled(client)
        events.append("sdk may load")

    monkeypatch.setattr(first_page, "shown", shown)
    monkeypatch.setattr(first_page, "settled", settled)
    app, child = app_on(server.base_url, monkeypatch, prefetch=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        assert child is not None and child.taken
        assert batches_screen(pilot).table.row_count == 150
        height = batches_screen(pilot).table.size.height
    assert 0 < height < 100
    # the page's first screenful in the table, before any import; the rest after
    assert events[0] == f"shown with {height} rows in a table {height} high"
    assert "sdk may load" in events[1:]


def reason_shown(pilot: Pilot[Any]) -> str:
    return status_text(pilot).split("  (retrying", 1)[0]


@pytest.mark.parametrize("trouble", ["refused key", "no server"])
async def test_a_child_without_a_page_ends_in_the_listing_s_own_message(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, trouble: str
) -> None:
    base_url, key = server.base_url, API_KEY
    if trouble == "refused key":
        key = "sk-not-the-key"
    else:
        base_url = "http://127.0.0.1:9/v1"  # discard: nothing listens
    said = []
    for prefetch in (False, True):
        app, child = app_on(base_url, monkeypatch, key=key, prefetch=prefetch)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: "retrying" in status_text(pilot))
            said.append(reason_shown(pilot))
        if child is not None:
            assert child.taken and not child.close()  # it had no page to give
    assert said[1] == said[0]
    assert ("refused the key" if trouble == "refused key" else "Cannot reach") in said[0]
