"""Everyday use of the batches list: "Mine" after a profile rename, descriptions
from ``metadata.description``, failed lines in words, list keys (Home, End, g, G,
j, k), marking with space and cancelling the marked set, and help's title."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from tests.ui.batches_support import batches_screen, build_app, loaded, register, seed, wait_for
from tui.core.models import Batch
from tui.core.registry import Registry
from tui.localapi.server import LocalServer
from tui.widgets.batch_table import progress_cell


def row_text(screen: Any, batch_id: str) -> str:
    return " ".join(str(cell) for cell in screen.table.get_row(batch_id))


def shown_ids(screen: Any) -> list[str]:
    table = screen.table
    return [table.get_row_at(i)[0].batch_id for i in range(table.row_count)]


async def test_jobs_of_a_renamed_profile_are_still_mine_and_described(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=3)
    registry = Registry(durable=False)
    register(registry, ids[1:2], description="Nightly eval", profile="old-name")
    app = build_app(server, monkeypatch, registry)  # the profile is called "test" now
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        assert "Nightly eval" in row_text(screen, ids[1])
        await pilot.press("m")
        assert shown_ids(screen) == [ids[1]]


async def test_metadata_description_is_the_description(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, final=1, metadata={"description": "nightly eval", "team": "ops"})
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        text = row_text(batches_screen(pilot), ids[0])
        assert "nightly eval" in text and "description=" not in text


def test_failed_lines_are_counted_in_words() -> None:
    batch = Batch.from_dict(
        {"id": "b", "request_counts": {"total": 20, "completed": 17, "failed": 3}}
    )
    cell = progress_cell(batch)
    assert cell.plain.endswith("20/20 · 3 failed") and len(cell.plain) <= 20
    clean = progress_cell(Batch.from_dict({"id": "b", "request_counts": {"total": 20}}))
    assert "failed" not in clean.plain
    many = {"total": 50_000, "completed": 20_000, "failed": 30_000}
    assert progress_cell(Batch.from_dict({"id": "b", "request_counts": many})).plain == (
        "50k/50k · 30k failed"  # no room left for the bar: the words stay whole
    )


async def test_every_list_moves_with_home_end_g_G_j_k(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, final=6)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        table = batches_screen(pilot).table

        async def row_after(*keys: str) -> int:
            await pilot.press(*keys)
            return table.cursor_row

        assert await row_after("G") == 5
        assert await row_after("g") == 0
        assert await row_after("j", "j") == 2
        assert await row_after("k") == 1
        assert await row_after("end") == 5
        assert await row_after("home") == 0
        await pilot.press("slash", "j", "k", "G", "home")  # typed into the filter box
        assert app.focused is not None and isinstance(app.focused, Input)
        assert app.focused.value == "jkG" and table.cursor_row == 0
        await pilot.press("escape", "f1")  # another list: the help's table
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        help_table = app.screen.query_one(DataTable)
        await pilot.press("end")
        assert help_table.scroll_y == help_table.max_scroll_y > 0
        await pilot.press("home")
        assert help_table.scroll_y == 0


async def test_lists_in_dialogs_move_with_g_G_j_k(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import OptionList

    from tui.core.config import Config, Profile

    profiles = {
        name: Profile(name, base_url=server.base_url, api_key_env="BATCHDECK_TEST_KEY")
        for name in ("test", "b", "c", "d")
    }
    config = Config(profiles=profiles, default_profile="test")
    app = build_app(server, monkeypatch, config=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ProfilesScreen")
        options = app.screen.query_one(OptionList)
        assert options.highlighted == 0
        await pilot.press("j", "j")
        assert options.highlighted == 2
        await pilot.press("k")
        assert options.highlighted == 1
        await pilot.press("G")
        assert options.highlighted == 3
        await pilot.press("g")
        assert options.highlighted == 0


async def test_marked_batches_are_cancelled_after_one_question(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, active=3, final=1)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = batches_screen(pilot)
        await pilot.press("space", "j", "j", "space", "j", "space")  # the last is final
        assert screen.table.marked == {ids[0], ids[2], ids[3]}
        assert "3 marked" in str(screen.query_one("#status-line", Static).render())
        assert str(screen.table.get_cell(ids[0], "id")).startswith("●")
        await pilot.press("c")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert question == "Cancel 2 batches?"  # the final one is left alone
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is screen)

        def status(batch_id: str) -> str:
            return str(server.call(lambda: server.store.batches[batch_id]["status"]))

        await wait_for(pilot, lambda: status(ids[0]) != "validating")
        assert status(ids[2]) in ("cancelling", "cancelled") and status(ids[1]) == "validating"
        await wait_for(pilot, lambda: not screen.table.marked)
        assert type(app.screen).__name__ == "BatchesScreen"  # asked once, not per batch


async def test_cancel_without_marks_is_the_highlighted_batch(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(server, active=2)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("j", "c")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        question = app.screen.query_one("#confirm-question", Static).render()
        assert str(question) == f"Cancel batch {ids[1]}?"


async def test_help_title_is_in_words(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(server, final=1)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        title = app.screen.query_one("#help-title", Static).render()
        assert str(title) == "Keys · Batches"


def test_screen_titles_are_words() -> None:
    from textual.screen import Screen

    from tui.dialogs.help import screen_title
    from tui.screens.batches import BatchesScreen

    class BatchDetailScreen(Screen[None]):
        pass

    class ResultsScreen(Screen[None]):
        PALETTE_GROUP = "Results"

    assert screen_title(BatchesScreen()) == "Batches"
    assert screen_title(BatchDetailScreen()) == "Batch detail"
    assert screen_title(ResultsScreen()) == "Results"


async def test_the_inspector_shows_the_metadata_description(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ui.test_batch_detail_support import text_of

    seed(server, final=1, metadata={"description": "nightly eval"})
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BatchDetailScreen")
        await wait_for(pilot, lambda: "nightly eval" in text_of(app.screen, "#detail-head"))
        assert "no description" not in text_of(app.screen, "#detail-head")


async def test_results_footer_keeps_export_retry_reload_at_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    from tests.ui.test_results import local_copy, offline_app, open_results

    local_copy()
    app = offline_app(monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        footer = screen.query_one(Footer)

        def laid_out() -> bool:
            keys = footer.query(FooterKey)
            return bool(keys) and all(key.region.width for key in keys)

        await wait_for(pilot, laid_out)
        palette = footer.query_one(".-command-palette")
        whole = {
            key.description
            for key in footer.query(FooterKey)
            if key is not palette and key.region.right <= palette.region.x
        }
        assert {"Export", "Retry failed", "Reload"} <= whole


async def test_mark_and_cancel_are_in_the_palette(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.palette import deck_commands

    ids = seed(server, active=2)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        commands = {command.title: command for command in deck_commands(app, app.screen)}
        app.call_later(commands["Mark batch"].callback)  # as the palette runs them
        await wait_for(pilot, lambda: batches_screen(pilot).table.marked == {ids[0]})
        app.call_later(commands["Cancel batches"].callback)
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
