"""The batches screen with Pilot on the embedded server: loading, filters, sort,
opening a batch, live refresh (requests, notifications, bell, registry snapshots),
pausing under a dialog, back-off, and untrusted text shown literally."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from tests.ui.batches_support import (
    QUICK,
    batches_screen,
    build_app,
    loaded,
    register,
    seed,
    status_text,
    wait_for,
)
from tui.core.registry import Registry
from tui.core.text import one_line
from tui.localapi.server import LocalServer


def shown_ids(screen: object) -> list[str]:
    table = screen.table  # type: ignore[attr-defined]
    return [table.get_row_at(i)[0].batch_id for i in range(table.row_count)]


async def test_260_batches_arrive_page_by_page_newest_first(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=200, active=60)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        assert shown_ids(screen) == ids
        assert screen.requests_last_cycle == 3  # pages of 100
        assert status_text(pilot).startswith("260 batches · 60 active")


async def test_one_batch_is_counted_in_the_singular(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, final=0, active=1)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        assert status_text(pilot).startswith("1 batch · 1 active")


async def test_filters_sort_and_only_mine(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=3, active=2)
    registry = Registry(durable=False)
    register(registry, ids[:1], description="The nightly eval", tags=("prod",))
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        await pilot.press("s")  # active
        assert shown_ids(screen) == ids[:2]
        assert "showing 2: active" in status_text(pilot)
        await pilot.press("s")  # final
        assert shown_ids(screen) == ids[2:]
        await pilot.press("escape")  # clear
        assert len(shown_ids(screen)) == 5
        await pilot.press("m")
        assert shown_ids(screen) == ids[:1]
        await pilot.press("m")
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"nightly")
        await wait_for(pilot, lambda: shown_ids(screen) == ids[:1])
        await pilot.press("enter")  # back to the table, filter kept
        assert app.focused is screen.table
        await pilot.press("escape")
        await pilot.press("o")  # sort by id
        assert shown_ids(screen) == sorted(ids)
        await pilot.press("O")
        assert shown_ids(screen) == sorted(ids, reverse=True)
        await pilot.click("#batches", offset=(40, 0))  # the Status header
        assert screen.table.sort_column == "status"
        assert set(shown_ids(screen)[:2]) == set(ids[:2])  # validating first
        await pilot.press("t")  # exact times
        row = [str(cell) for cell in screen.table.get_row(ids[0])]
        assert "2025-12-31 23:10" in row  # created 50 minutes before the pinned now


async def test_enter_opens_the_inspector_of_the_selected_batch(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=1, active=1)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BatchDetailScreen")
        assert app.screen.batch_id == ids[1]  # type: ignore[attr-defined]


async def test_refresh_cycle_uses_the_list_and_announces_finished_batches(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=50, active=99)
    quick = seed(server, active=1, timing=QUICK, age=0)  # finishes once the clock moves
    registry = Registry(durable=False)
    register(registry, quick, description="watch me")
    app = build_app(server, monkeypatch, registry)
    bells: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        assert screen.requests_last_cycle == 2  # the full listing: 150 batches
        await pilot.press("b")  # bell on
        server.advance(60)
        screen.action_refresh()
        await loaded(pilot, cycles=2)
        assert screen.requests_last_cycle == 1  # 100 active batches, one request
        assert str(screen.table.get_row(quick[0])[2]) == "completed"
        notes = [n for n in app._notifications if n.title == "Batch finished"]
        assert len(notes) == 1 and "watch me" in notes[0].message and not notes[0].markup
        assert bells == [1]
        job = registry.find_by_batch(quick[0])
        await wait_for(
            pilot, lambda: (registry.find_by_batch(quick[0]) or job).status == "completed"
        )
        screen.action_refresh()  # nothing new: no second notice
        await loaded(pilot, cycles=3)
        assert len([n for n in app._notifications if n.title == "Batch finished"]) == 1
        assert len(ids) == 149


async def test_polling_pauses_while_a_dialog_is_open(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, active=1)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        screen.poller.due()  # the timer fires under the dialog
        assert screen.poller.scheduled  # it looks again later instead of polling
        await app.workers.wait_for_complete()
        assert screen.cycles == 1
        await pilot.press("escape")
        screen.poller.due()
        await loaded(pilot, cycles=2)


async def test_rate_limit_backs_off_by_retry_after_then_recovers(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, active=1)
    server.faults.add("429", path="/v1/batches", retry_after=42, times=1)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = batches_screen(pilot)
        await wait_for(pilot, lambda: "retrying" in status_text(pilot))
        assert "Rate limited" in status_text(pilot)
        assert "retrying in 42s" in status_text(pilot)
        assert screen.query_one("#status-line", Static).has_class("-error")
        screen.action_refresh()  # r: try now
        await loaded(pilot)
        assert not screen.query_one("#status-line", Static).has_class("-error")
        assert screen.poller.backoff.failures == 0


async def test_bad_key_is_a_clear_state_not_a_crash(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(server, monkeypatch)
    monkeypatch.setattr(app.client, "_client", app.client._client.with_options(api_key="sk-bad"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "retrying" in status_text(pilot))
        assert "refused the key" in status_text(pilot)
        assert app.is_running


HOSTILE = "[bold red]x[/] [@click=app.quit]q[/] \x1b[2J \x1b]0;title\x07"


async def test_markup_and_escapes_in_metadata_and_descriptions_are_text(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, active=1, metadata={"note": HOSTILE}, timing=QUICK, age=0)
    plain = seed(server, active=1, metadata={"note": HOSTILE})
    registry = Registry(durable=False)
    register(registry, ids, description=HOSTILE, tags=("[b]t[/b]",))
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        assert str(screen.table.get_row(ids[0])[1]) == one_line(HOSTILE, 40)
        assert one_line(HOSTILE, 40) == "[bold red]x[/] [@click=app.quit]q[/] \\x…"
        assert str(screen.table.get_row(plain[0])[1]).startswith("note=[bold red]x[/] [@click")
        assert screen.table.selected_id() == ids[0]
        detail = str(screen.query_one("#detail-line", Static).render())
        assert "#[b]t[/b]" in detail
        await pilot.click("#batches", offset=(30, 2))  # on the hostile text
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running
        for cell in screen.table.get_row(ids[0]):
            assert "\x1b" not in cell.plain and "\x07" not in cell.plain
        server.advance(3600)  # the quick one finishes: its notice quotes the description
        screen.action_refresh()
        await loaded(pilot, cycles=2)
        notes = [n for n in app._notifications if n.title == "Batch finished"]
        assert len(notes) == 1 and not notes[0].markup
        assert "[bold red]x[/] [@click=app.quit]q[/] \\x1b[2J" in notes[0].message
        assert "\x1b" not in notes[0].message
        assert app.is_running


async def test_a_large_cached_registry_paints_first_and_fills_in(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.core.models import Batch, RequestCounts
    from tui.core.registry import Job

    live = seed(server, active=1)
    registry = Registry(durable=False)
    for i in range(400):
        batch = Batch(
            id=f"batch_old{i:04d}",
            status="completed",
            endpoint="/v1/embeddings",
            input_file_id="file-x",
            created_at=1_700_000_000 + i,
            request_counts=RequestCounts(3, 3, 0),
        )
        registry.add(Job(batch_id=batch.id, description=f"old {i}", snapshot=batch.to_dict()))
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = batches_screen(pilot)
        await loaded(pilot)
        await wait_for(pilot, lambda: screen.table.row_count == 401)
        shown = shown_ids(screen)
        assert shown[:3] == [live[0], "batch_old0399", "batch_old0398"]
        assert shown[-1] == "batch_old0000"


async def test_a_queue_part_that_finishes_is_not_announced_alone(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job group's parts end one after another: no toast for each (the group's end
    is told once, by the queue runner's hooks); a plain batch still gets its toast."""
    seed(server, final=2)
    part = seed(server, active=1, timing=QUICK, age=0)
    plain = seed(server, active=1, timing=QUICK, age=0)
    registry = Registry(durable=False)
    queue = {"order": 0, "parts": 2, "tokens": 10, "model": "m", "enqueued_at": 0.0}
    register(registry, part, group_id="grp-1", submission={"state": "created", "queue": queue})
    register(registry, plain, description="plain one")
    app = build_app(server, monkeypatch, registry)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        server.advance(60)
        screen.action_refresh()
        await loaded(pilot, cycles=2)
        assert str(screen.table.get_row(plain[0])[2]) == "completed"
        notes = [n for n in app._notifications if n.title == "Batch finished"]
        assert len(notes) == 1 and "plain one" in notes[0].message
