"""Every notification is plain, escaped text, whoever calls notify and however."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import DataTable, Static

from tests.api.conftest import chat_lines
from tests.ui import test_batch_detail_support as support
from tests.ui.test_batch_detail_support import HOSTILE, HOSTILE_SHOWN, build_app, text_of, until
from tests.ui.test_shell import make
from tui.core.registry import Registry
from tui.dialogs.confirm import ConfirmDialog
from tui.localapi.server import LocalServer
from tui.screens.files import FilesScreen
from tui.screens.results import ResultsScreen

server = support.server  # the shared pinned-clock server fixture


async def test_notifications_escape_controls_and_ignore_markup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make("http://127.0.0.1:9/v1", monkeypatch, Registry())
    async with app.run_test(size=(80, 24)) as pilot:  # type: ignore[attr-defined]
        pilot.app.screen.query_one(Static).notify(
            "server said \x1b]2;PWNED\x07 [@click=app.quit]q[/]", title="\x1b[2J", markup=True
        )
        await pilot.pause()
        (note,) = [n for n in pilot.app._notifications if "server said" in n.message]
        assert note.message == "server said \\x1b]2;PWNED\\x07 [@click=app.quit]q[/]"
        assert note.title == "\\x1b[2J"
        assert note.markup is False
        await pilot.press("q")


async def test_a_hostile_server_status_reaches_the_results_status_line_escaped(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = support.create(server, chat_lines(2))
    server.store.batches[batch_id]["status"] = HOSTILE  # what a hostile server could send
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = ResultsScreen(batch_id)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: "not ready" in text_of(screen, "#results-status"))
        shown = text_of(screen, "#results-status")
        assert HOSTILE_SHOWN in shown
        assert "\x1b" not in shown and "\x07" not in shown


async def test_a_hostile_file_name_purpose_and_user_are_escaped_in_the_delete_dialog(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = support.completed_batch(server)
    file_id = server.batch(batch_id)["input_file_id"]
    server.store.files[file_id]["filename"] = "evil\x1b]0;x\x07.jsonl"
    server.store.files[file_id]["purpose"] = HOSTILE
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = FilesScreen()
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.uses_known and not screen.fetching)
        screen.uses[file_id][0] = replace(screen.uses[file_id][0], batch_id=HOSTILE)
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(file_id))
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        detail = text_of(pilot.app.screen, "#confirm-detail")
        assert "evil\\x1b]0;x\\x07.jsonl" in detail
        assert detail.count(HOSTILE_SHOWN[:39] + "…") == 2  # the purpose and the batch using it
        assert "\x1b" not in detail and "\x07" not in detail
        await pilot.press("n")
