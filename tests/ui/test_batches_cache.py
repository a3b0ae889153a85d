"""The batches screen's start from the registry's newest-snapshots file: the newest
cached batches first, then the whole registry (read after the first frame), and
the live listing only once the registry's descriptions are known."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.ui.batches_support import batches_screen, build_app, loaded, seed, wait_for
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
