"""The files screen's everyday use: Enter previews a file's first lines, space marks
a set that download and delete act on (asking once), a download goes where the
user chose and says so, and a batch is created from an existing input file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Select

from tests.api.conftest import chat_lines
from tests.ui import test_batch_detail_support as support
from tests.ui.test_batch_detail_support import (
    HOSTILE,
    HOSTILE_SHOWN,
    build_app,
    sdk,
    settle,
    text_of,
    until,
    upload_lines,
)
from tests.ui.test_files import move_to, open_files
from tui.core.preview import PREVIEW_LINES
from tui.core.registry import Registry
from tui.dialogs import download_folder
from tui.dialogs.confirm import ConfirmDialog
from tui.dialogs.create_batch import CreateBatchDialog
from tui.dialogs.download_folder import DownloadFolderDialog
from tui.dialogs.file_preview import FilePreviewDialog
from tui.localapi.server import LocalServer
from tui.screens.batch_detail import BatchDetailScreen
from tui.screens.files import FilesScreen

SIZE = (120, 36)
server = support.server  # the shared pinned-clock server fixture


def name_cell(screen: FilesScreen, file_id: str) -> str:
    return str(screen.query_one(DataTable).get_row(file_id)[0])


async def test_enter_previews_the_first_lines_literally(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[Any] = [HOSTILE, *chat_lines(PREVIEW_LINES + 5)]
    file_id = upload_lines(server, lines, "long.jsonl")
    server.store.files[file_id]["purpose"] = "user_data"  # a line need not be JSON here
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        move_to(screen, file_id)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, FilePreviewDialog))
        dialog = pilot.app.screen
        shown = text_of(dialog, "#preview-text")
        assert shown.splitlines()[0] == f"  1 │ {HOSTILE_SHOWN}"  # literal, escapes visible
        assert f"{PREVIEW_LINES:>3} │ " in shown and f"{PREVIEW_LINES + 1:>3} │" not in shown
        assert shown.rstrip().endswith("… the file goes on")
        assert file_id in text_of(dialog, "#preview-title")
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen)


async def test_space_marks_a_set_that_delete_asks_about_once(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = upload_lines(server, chat_lines(1), "keep.jsonl")
    first = upload_lines(server, chat_lines(1), "first.jsonl")
    second = upload_lines(server, chat_lines(1), "second.jsonl")
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        move_to(screen, first)
        await pilot.press("space")
        move_to(screen, second)
        await pilot.press("space")
        assert screen.marked == {first, second}
        assert name_cell(screen, first).startswith("● ")
        assert not name_cell(screen, keep).startswith("● ")
        assert "2 marked" in text_of(screen, "#files-status")
        move_to(screen, keep)  # the cursor elsewhere: the marked set is what is deleted
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        dialog = pilot.app.screen
        assert text_of(dialog, "#confirm-question") == "Delete 2 files?"
        detail = text_of(dialog, "#confirm-detail")
        assert "first.jsonl" in detail and "second.jsonl" in detail and "keep" not in detail
        await pilot.press("y")
        await until(pilot, lambda: pilot.app.screen is screen and not screen.marked)
        await settle(pilot)
        assert {f.id for f in sdk(server).files.list()} == {keep}
        assert [str(row.value) for row in screen.query_one(DataTable).rows] == [keep]


async def test_a_marked_set_downloads_into_the_chosen_folder_and_says_where(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    monkeypatch.setattr(download_folder.Path, "home", lambda: home)
    one = upload_lines(server, chat_lines(2), "one.jsonl")
    two = upload_lines(server, chat_lines(3), "two.jsonl")
    notes: list[str] = []
    app = build_app(server, monkeypatch)
    monkeypatch.setattr(app, "notify", lambda message, **kw: notes.append(message))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        for file_id in (one, two):
            move_to(screen, file_id)
            await pilot.press("space")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, DownloadFolderDialog))
        dialog = pilot.app.screen
        field = dialog.query_one("#folder-path", Input)
        assert field.value == str(home / "Downloads")  # the user's downloads folder
        (tmp_path / "a-file").write_text("")
        field.value = str(tmp_path / "a-file")
        await pilot.press("enter")  # not a folder: said, and the dialog stays
        await until(pilot, lambda: "Not a folder" in text_of(dialog, "#folder-status"))
        chosen = tmp_path / "chosen"
        chosen.mkdir()
        field.value = str(chosen)
        await pilot.press("enter")
        await until(pilot, lambda: any(note.startswith("Saved 2 files") for note in notes))
        await settle(pilot)
        assert sorted(p.name for p in chosen.iterdir()) == ["one.jsonl", "two.jsonl"]
        assert (chosen / "two.jsonl").read_text().count("\n") == 3
        note = next(note for note in notes if note.startswith("Saved 2 files"))
        assert note == f"Saved 2 files to {chosen.resolve()}: two.jsonl, one.jsonl"

        screen.marked.clear()  # one file: the notification names its full path
        move_to(screen, one)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, DownloadFolderDialog))
        assert pilot.app.screen.query_one("#folder-path", Input).value == str(chosen.resolve())
        await pilot.press("enter")
        await until(pilot, lambda: any(note.endswith(f"one.{one}.jsonl") for note in notes))
        assert f"Saved {chosen.resolve() / f'one.{one}.jsonl'}" in notes


async def test_a_batch_is_created_from_an_existing_input_file_and_registered(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_id = upload_lines(server, chat_lines(2), "existing.jsonl")
    registry = Registry(durable=False)
    app = build_app(server, monkeypatch, registry=registry)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        move_to(screen, file_id)
        assert screen.check_action("create_batch", ()) is True
        await pilot.press("s")
        await until(pilot, lambda: isinstance(pilot.app.screen, CreateBatchDialog))
        dialog = pilot.app.screen
        dialog.query_one("#create-endpoint", Select).value = "/v1/embeddings"
        assert "24h" in text_of(dialog, "#create-window")
        await pilot.press("tab", *"from an old file", "enter")  # to the description
        await until(pilot, lambda: isinstance(pilot.app.screen, BatchDetailScreen))
        inspector = pilot.app.screen
        assert isinstance(inspector, BatchDetailScreen)
        batch = server.batch(inspector.batch_id)
        assert batch["input_file_id"] == file_id and batch["endpoint"] == "/v1/embeddings"
        job = registry.find_by_batch(inspector.batch_id)
        assert job is not None and job.description == "from an old file"
        assert job.submission and job.submission["state"] == "created"


async def test_only_a_batch_input_file_can_become_a_batch(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_id = upload_lines(server, chat_lines(1), "notes.jsonl")
    server.store.files[file_id]["purpose"] = "user_data"
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        move_to(screen, file_id)
        await pilot.pause()
        assert screen.check_action("create_batch", ()) is False
        await pilot.press("s")
        await pilot.pause()
        assert pilot.app.screen is screen


async def test_letters_do_not_fire_the_files_keys_while_a_field_has_focus(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_lines(server, chat_lines(1), "one.jsonl")
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        field: Select[str] = Select([("one", "one")], id="typing")  # takes no letters itself
        await screen.mount(field)
        field.focus()
        await pilot.press("x")  # delete: not fired
        await settle(pilot)
        assert pilot.app.screen is screen
