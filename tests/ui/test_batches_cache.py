"""The batches screen's start from the registry's newest-snapshots file: a screenful
of the newest cached batches first, then the whole registry (read after the first
frame), the SDK once that frame is out, the live listing only once the registry's
descriptions are known, and the older cached rows after the first page."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.ui.batches_support import batches_screen, build_app, loaded, seed, wait_for
from tui.core.client import BatchClient
from tui.core.models import Batch, RequestCounts
from tui.core.registry import Job, Newest, Registry
from tui.localapi.server import LocalServer


def shown_ids(screen: Any) -> list[str]:
    table = screen.table
    return [table.get_row_at(i)[0].batch_id for i in range(table.row_count)]


async def test_newest_cached_first_then_the_whole_registry(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = seed(server, active=1)
    registry = Registry(durable=False)
    for i in range(300):
        batch = Batch(
            id=f"batch_old{i:04d}",
            status="completed",
            endpoint="/v1/embeddings",
            input_file_id="file-x",
            created_at=1_700_000_000 + i,
            request_counts=RequestCounts(3, 3, 0),
        )
        registry.add(Job(batch_id=batch.id, description=f"old {i}", snapshot=batch.to_dict()))
    registry.add(Job(batch_id=live[0], description="mine, never cached"))  # no snapshot
    Registry(durable=False).load()  # writes the cache and the newest-snapshots file

    used: list[Newest | None] = []
    newest_snapshots = Registry.newest_snapshots

    def spy(self: Registry, profile: str | None, count: int) -> Newest | None:
        used.append(newest_snapshots(self, profile, count))
        return used[-1]

    load = Registry.load
    first_frame = threading.Event()

    def slow_load(self: Registry, **kw: Any) -> dict[str, Job]:
        first_frame.wait(timeout=30)  # (in a thread) the whole registry comes later
        return load(self, **kw)

    monkeypatch.setattr(Registry, "newest_snapshots", spy)
    monkeypatch.setattr(Registry, "load", slow_load)
    app = build_app(server, monkeypatch, Registry(durable=False))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = batches_screen(pilot)
        first = used[0]
        assert first is not None and first.total == 300
        assert [job.batch_id for job in first.jobs[:2]] == ["batch_old0299", "batch_old0298"]
        first_frame.set()
        await loaded(pilot)
        await wait_for(pilot, lambda: screen.table.row_count == 301)
        shown = shown_ids(screen)
        assert shown[:3] == [live[0], "batch_old0299", "batch_old0298"]
        assert shown[-1] == "batch_old0000"
        assert str(screen.table.get_row(live[0])[1]) == "mine, never cached"
        assert str(screen.table.get_row("batch_old0000")[1]) == "old 0"
        await pilot.press("q")


def cached_registry(count: int) -> Registry:
    """``count`` jobs with snapshots (newest last), and the registry's start-up cache."""
    registry = Registry(durable=False)
    for i in range(count):
        batch = Batch(
            id=f"batch_old{i:04d}",
            status="completed",
            endpoint="/v1/embeddings",
            input_file_id="file-x",
            created_at=1_700_000_000 + i,
            request_counts=RequestCounts(3, 3, 0),
        )
        registry.add(Job(batch_id=batch.id, description=f"old {i}", snapshot=batch.to_dict()))
    Registry(durable=False).load()  # writes the cache and the newest-snapshots file
    return registry


async def test_a_screenful_first_the_older_rows_after_the_first_page(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = seed(server, active=1)
    cached_registry(300)
    listing = asyncio.Event()
    pages = BatchClient.iter_batch_pages

    async def held_pages(self: BatchClient, **kw: Any) -> AsyncIterator[list[Batch]]:
        await listing.wait()  # the server "answers" when the test says so
        async for page in pages(self, **kw):
            yield page

    monkeypatch.setattr(BatchClient, "iter_batch_pages", held_pages)
    app = build_app(server, monkeypatch, Registry(durable=False))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = batches_screen(pilot)
        await wait_for(pilot, lambda: screen.jobs_ready.is_set())  # the rest is known...
        await pilot.pause()
        assert screen.table.row_count == screen.table.screenful() < 300  # ...and waits
        assert shown_ids(screen)[0] == "batch_old0299"
        listing.set()
        await loaded(pilot)
        await wait_for(pilot, lambda: screen.table.row_count == 301)
        assert shown_ids(screen)[:2] == [live[0], "batch_old0299"]
        assert shown_ids(screen)[-1] == "batch_old0000"
        await pilot.press("q")


@pytest.mark.parametrize("cached", [50, 0])
async def test_the_sdk_loads_after_the_cached_rows_are_out(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, cached: int
) -> None:
    """With cached rows, the SDK import waits until the frame showing them is out;
    without, nothing is worth waiting for: it starts at once."""
    seed(server, final=1)
    if cached:
        cached_registry(cached)
    seen: list[tuple[bool, int]] = []
    waits: list[str] = []
    prepare = BatchClient.prepare

    async def spy(self: BatchClient) -> None:
        screen = app.batches_screen()
        assert screen is not None
        seen.append((app._first_frame.is_set(), screen.table.row_count))
        await prepare(self)

    monkeypatch.setattr(BatchClient, "prepare", spy)
    app = build_app(server, monkeypatch, Registry(durable=False))
    first_frame = app.first_frame

    async def counted() -> None:
        waits.append(sys._getframe(1).f_code.co_name)  # who waits for the first frame
        await first_frame()

    monkeypatch.setattr(app, "first_frame", counted)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screenful = batches_screen(pilot).table.screenful()
        if cached:
            assert "prepare_client" in waits
            assert seen[0] == (True, screenful)  # cached rows on screen, then the SDK
        else:
            assert "prepare_client" not in waits and seen[0][1] == 0
        await pilot.press("q")


async def test_prepare_client_turns_the_paused_gc_back_on(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch, Registry(durable=False))
    gc.disable()  # as `batchdeck` does at launch
    try:
        await app.prepare_client()
        assert gc.isenabled()
    finally:
        gc.enable()
        await app.client.close()


async def test_cached_rows_that_belong_higher_up_are_sorted_in(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older cached rows are appended as they are (already in order); one that belongs
    above the rows on screen puts the table back in order once appended."""
    monkeypatch.setattr(Registry, "newest_snapshots", lambda *a: None)  # the whole view
    cached_registry(5)
    app = build_app(server, monkeypatch, Registry(durable=False))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = batches_screen(pilot)
        await loaded(pilot)
        table = screen.table

        def batch(batch_id: str, created_at: int) -> Batch:
            return Batch(
                id=batch_id,
                status="completed",
                endpoint="/v1/embeddings",
                input_file_id="file-x",
                created_at=created_at,
            )

        sorts: list[str] = []
        resort = table.resort

        def counted() -> None:
            sorts.append("sort")
            resort()

        monkeypatch.setattr(table, "resort", counted)
        table.add_cached([batch("batch_older", 1_600_000_000)])
        await wait_for(pilot, lambda: not table.loading_rows and "batch_older" in table.rows)
        assert shown_ids(screen)[-1] == "batch_older" and sorts == []
        table.add_cached([batch("batch_newest", 1_900_000_000)])
        await wait_for(pilot, lambda: not table.loading_rows and "batch_newest" in table.rows)
        await wait_for(pilot, lambda: shown_ids(screen)[0] == "batch_newest")
        assert shown_ids(screen)[-1] == "batch_older" and sorts == ["sort"]
        await pilot.press("q")
