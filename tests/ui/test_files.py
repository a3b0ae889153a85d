"""The files screen against the embedded server: listing with the batch using each
file, filters, download under a safe name, delete after confirmation, and upload
after validation (problems shown with line numbers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from tests.api.conftest import chat_lines
from tests.ui import test_batch_detail_support as support
from tests.ui.test_batch_detail_support import (
    HOSTILE,
    HOSTILE_SHOWN,
    build_app,
    completed_batch,
    jsonl_file,
    sdk,
    settle,
    text_of,
    until,
    upload_lines,
)
from tui.core.sizes import format_size
from tui.dialogs.confirm import ConfirmDialog
from tui.dialogs.download_folder import DownloadFolderDialog
from tui.dialogs.file_preview import FilePreviewDialog
from tui.dialogs.upload import UploadDialog
from tui.localapi.server import LocalServer
from tui.screen_commands import binding_commands
from tui.screens.batch_detail import BatchDetailScreen
from tui.screens.files import FilesScreen

SIZE = (120, 36)
server = support.server  # the shared pinned-clock server fixture


async def open_files(pilot: Any) -> FilesScreen:
    screen = FilesScreen()
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.uses_known and not screen.fetching)
    await settle(pilot)
    return screen


def rows(screen: FilesScreen) -> dict[str, list[str]]:
    table = screen.query_one(DataTable)
    return {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}


def move_to(screen: FilesScreen, file_id: str) -> None:
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(file_id))


async def test_files_show_purpose_size_and_the_batch_using_each(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = completed_batch(server, name="tickets.jsonl")
    spare = upload_lines(server, chat_lines(2), "spare.jsonl")
    batch = server.batch(batch_id)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        shown = rows(screen)
        assert len(shown) == 4
        name, purpose, size, used_by, created, expires, file_id = shown[batch["input_file_id"]]
        assert (name, purpose, file_id) == ("tickets.jsonl", "batch", batch["input_file_id"])
        assert size == format_size(sdk(server).files.retrieve(file_id).bytes)
        assert used_by == f"input  {batch_id[:21]}…"
        assert created == "1m ago" and expires == "in 29d 23h"
        assert shown[batch["output_file_id"]][3].startswith("output ")
        assert shown[batch["error_file_id"]][3].startswith("error  ")
        assert shown[spare][3] == "unused"
        assert "1 unused" in text_of(screen, "#files-status")

        await pilot.press("u")  # only files no batch uses
        assert list(rows(screen)) == [spare]
        await pilot.press("u")
        await pilot.press("f")  # purpose: batch
        assert {r[1] for r in rows(screen).values()} == {"batch"}
        await pilot.press("f")  # purpose: batch_output
        assert set(rows(screen)) == {batch["output_file_id"], batch["error_file_id"]}
        await pilot.press("f")  # all again
        assert len(rows(screen)) == 4

        move_to(screen, batch["input_file_id"])
        await pilot.press("b")  # the batch using it
        await until(pilot, lambda: isinstance(pilot.app.screen, BatchDetailScreen))
        assert pilot.app.screen.batch_id == batch_id  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen)


def footer_overlaps(app: Any) -> list[str]:
    """The footer keys cut off: past the command palette's key, at the right edge."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    keys = list(app.screen.query_one(Footer).query(FooterKey))
    palette = next(key for key in keys if "palette" in key.action)
    return [
        key.description
        for key in keys
        if key is not palette and key.region.right > palette.region.x
    ]


async def download_into(pilot: Any, screen: FilesScreen, folder: Path) -> None:
    """``d``, the folder typed into the dialog, and the download run to its end."""
    await pilot.press("d")
    await until(pilot, lambda: isinstance(pilot.app.screen, DownloadFolderDialog))
    pilot.app.screen.query_one("#folder-path", Input).value = str(folder)
    await pilot.press("enter")
    await until(pilot, lambda: pilot.app.screen is screen)
    await until(pilot, lambda: not screen._transferring)
    await settle(pilot)


async def test_download_saves_a_hostile_name_inside_the_chosen_folder(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file_id = upload_lines(server, chat_lines(3), "../../.bashrc")
    folder = tmp_path / "nested" / "chosen"
    folder.mkdir(parents=True)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        assert rows(screen)[file_id][0] == "../../.bashrc"  # shown as the server has it
        move_to(screen, file_id)
        await download_into(pilot, screen, folder)
        assert [p.name for p in folder.iterdir()] == ["bashrc"]
        assert (folder / "bashrc").read_text().count("\n") == 3
        assert not (folder.parent.parent / ".bashrc").exists()


@pytest.mark.parametrize("width", [80, 120])
async def test_the_footer_fits(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    upload_lines(server, chat_lines(2), "one.jsonl")
    app = build_app(server, monkeypatch)
    async with app.run_test(size=(width, 36)) as pilot:
        await open_files(pilot)
        await until(pilot, lambda: not footer_overlaps(app))


async def test_download_into_a_missing_folder_creates_it_private(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file_id = upload_lines(server, chat_lines(2), "new.jsonl")
    folder = tmp_path / "not" / "yet"
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        move_to(screen, file_id)
        await download_into(pilot, screen, folder)
        assert [p.name for p in folder.iterdir()] == ["new.jsonl"]
        assert folder.stat().st_mode & 0o777 == 0o700
        assert folder.parent.stat().st_mode & 0o777 == 0o700


async def test_download_never_replaces_a_file_that_appears_meanwhile(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tui.core.client import BatchClient

    file_id = upload_lines(server, chat_lines(3), "tickets.jsonl")
    real = BatchClient.download_file

    async def racing(self: BatchClient, file_id: str, destination: Path, **kw: Any) -> Path:
        if destination.name == "tickets.jsonl":  # another download takes the name first
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text("theirs\n")
        return await real(self, file_id, destination, **kw)

    monkeypatch.setattr(BatchClient, "download_file", racing)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        move_to(screen, file_id)
        folder = tmp_path / "chosen"
        folder.mkdir()
        await download_into(pilot, screen, folder)
        assert (folder / "tickets.jsonl").read_text() == "theirs\n"
        saved = folder / f"tickets.{file_id}.jsonl"
        assert saved.read_text().count("\n") == 3
        assert sorted(p.name for p in folder.iterdir()) == sorted(["tickets.jsonl", saved.name])


async def test_hostile_file_names_are_literal_and_harmless(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_id = upload_lines(server, chat_lines(1), "plain.jsonl")
    server.store.files[file_id]["filename"] = HOSTILE  # multipart cannot carry escapes
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        assert rows(screen)[file_id][0] == HOSTILE_SHOWN[:27] + "…"
        other = upload_lines(server, chat_lines(1), "plain2.jsonl")
        server.store.files[other]["filename"] = "\x1b[31mred\x1b[0m [b]x[/b]"
        await pilot.press("r")
        await until(pilot, lambda: other in rows(screen) and not screen.fetching)
        assert rows(screen)[other][0] == "\\x1b[31mred\\x1b[0m [b]x[/b]"
        move_to(screen, file_id)
        await pilot.press("x")  # the confirmation quotes the name literally too
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        assert HOSTILE_SHOWN in text_of(pilot.app.screen, "#confirm-detail")
        await pilot.press("n")
        await until(pilot, lambda: pilot.app.screen is screen)
        await pilot.click(DataTable, offset=(5, 1))
        await pilot.click(DataTable, offset=(20, 1))  # on the cursor's row: its preview
        await settle(pilot)
        assert pilot.app.is_running
        assert pilot.app.screen is screen or isinstance(pilot.app.screen, FilePreviewDialog)


async def test_delete_asks_first(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    keep = upload_lines(server, chat_lines(1), "keep.jsonl")
    doomed = upload_lines(server, chat_lines(1), "doomed.jsonl")
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        move_to(screen, doomed)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await pilot.press("n")
        await until(pilot, lambda: pilot.app.screen is screen)
        assert doomed in rows(screen)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: doomed not in rows(screen))
        assert {f.id for f in sdk(server).files.list()} == {keep}


async def test_upload_validates_first_then_uploads_with_purpose_batch(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad_lines: list[Any] = chat_lines(2)
    bad_lines.append("{broken")
    bad = jsonl_file(tmp_path / "bad.jsonl", bad_lines)
    good = jsonl_file(tmp_path / "good.jsonl", chat_lines(3))
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(pilot.app.screen, UploadDialog))
        dialog = pilot.app.screen
        dialog.query_one("#upload-path", Input).value = str(bad)
        await pilot.press("enter")
        await until(pilot, lambda: "line 3" in text_of(dialog, "#upload-report"))
        assert "nothing uploaded" in text_of(dialog, "#upload-status")
        assert sdk(server).files.list().data == []
        dialog.query_one("#upload-path", Input).value = str(good)
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen is screen and len(rows(screen)) == 1)
        await until(pilot, lambda: not screen._transferring)
        (uploaded,) = sdk(server).files.list().data
        assert (uploaded.filename, uploaded.purpose) == ("good.jsonl", "batch")
        assert rows(screen)[uploaded.id][0] == "good.jsonl"


async def test_files_actions_are_palette_commands(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_lines(server, chat_lines(1), "one.jsonl")
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        titles = {title for title, _, _ in binding_commands(screen)}
        assert {
            "Files: Download the marked files (or this one) into a folder",
            "Files: Delete the marked files (or this one)",
            "Files: Show the file's first lines",
            "Files: Mark the file (or unmark)",
            "Files: Upload a batch input file",
            "Files: Filter by purpose (cycles)",
            "Files: Show only files no batch uses",
        } <= titles
        in_palette = {command.title for command in pilot.app.get_system_commands(screen)}
        assert titles <= in_palette  # what the palette offers on this screen
        for binding in FilesScreen.BINDINGS:
            assert binding.id and binding.description  # type: ignore[union-attr]


async def test_a_file_with_no_free_name_is_reported_by_the_screen(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The worker hands the skipped id to the screen, whose handler says so."""
    from tui.screens import files

    file_id = upload_lines(server, chat_lines(2), "tickets.jsonl")
    monkeypatch.setattr(files, "NAME_TRIES", 0)  # every name taken
    posted: list[FilesScreen.FilesSaved] = []
    handler = FilesScreen.on_files_screen_files_saved

    def seen(self: FilesScreen, message: FilesScreen.FilesSaved) -> None:
        posted.append(message)
        handler(self, message)

    monkeypatch.setattr(FilesScreen, "on_files_screen_files_saved", seen)
    app = build_app(server, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_files(pilot)
        move_to(screen, file_id)
        folder = tmp_path / "chosen"
        folder.mkdir()
        await download_into(pilot, screen, folder)
        await until(pilot, lambda: len(posted) == 1)
        assert posted[0].targets == [] and posted[0].skipped == [file_id]
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors == [f"No free name to save {file_id} under."]
        assert list(folder.iterdir()) == []
