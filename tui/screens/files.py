"""The files screen: every file of the account, which batch uses it, and clean-up.

Files arrive page by page; the batches list is read beside them to map each input,
output and error file id to its batch, so files no batch uses (candidates for
clean-up) can be marked and filtered. Download, delete (after a confirmation) and
upload (after validation) show their progress; file names are shown literally and
saved under safe names. Workers post what they got as messages; the handlers paint.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from tui.core.downloads import file_names, files_downloads_dir
from tui.core.errors import BatchdeckError
from tui.core.models import Batch, FileInfo, display_filename
from tui.core.sizes import format_size
from tui.core.text import one_line
from tui.core.timefmt import relative
from tui.deck import styles_dir
from tui.dialogs.confirm import ConfirmDialog
from tui.dialogs.upload import UploadDialog
from tui.screens.base import REPORTED, DeckScreen
from tui.screens.batch_detail import BatchDetailScreen
from tui.widgets.header import DeckHeader
from tui.widgets.transfer import TransferProgress

COLUMNS = ("Name", "Purpose", "Size", "Used by", "Created", "Expires", "ID")
NARROW = 110  # below this width the table leaves out Created, Expires and ID
# Fixed widths (cells longer are cut with an ellipsis): the layout does not wait for
# the rows to be measured, and the columns fit 120 (all) and 80 (the first four).
WIDE_WIDTHS = {
    "name": 22,
    "purpose": 12,
    "size": 9,
    "used by": 29,
    "created": 10,
    "expires": 10,
    "id": 14,
}
NARROW_WIDTHS = {"name": 20, "purpose": 12, "size": 9, "used by": 29}
ROLES = ("input", "output", "error")
NAME_TRIES = 100  # names tried before a download gives up finding a free one


@dataclass(frozen=True, slots=True)
class Use:
    """A batch that uses a file, and as what (``input``, ``output`` or ``error``)."""

    batch_id: str
    role: str


def file_uses(batches: list[Batch]) -> dict[str, list[Use]]:
    """File id -> the batches using it (input, output or error file)."""
    uses: dict[str, list[Use]] = {}
    for batch in batches:
        for role, file_id in zip(
            ROLES, (batch.input_file_id, batch.output_file_id, batch.error_file_id), strict=True
        ):
            if file_id:
                uses.setdefault(file_id, []).append(Use(batch.id, role))
    return uses


def used_by_text(uses: list[Use] | None, known: bool) -> Text:
    """The "Used by" cell: the first batch and its role, how many more, or unused."""
    if not known:
        return Text("…", style="dim")
    if not uses:
        return Text("unused", style="yellow")
    first = uses[0]
    text = Text(f"{first.role:<6} {one_line(first.batch_id, 22)}")
    if len(uses) > 1:
        text.append(f" +{len(uses) - 1}", style="dim")
    return text


def file_row(info: FileInfo, uses: list[Use] | None, known: bool) -> tuple[Text, ...]:
    """The cells of one file; the name and every server value are literal."""
    return (
        Text(one_line(display_filename(info.filename), 28), no_wrap=True, overflow="ellipsis"),
        Text(one_line(info.purpose), no_wrap=True, overflow="ellipsis"),
        Text(format_size(info.bytes), justify="right"),
        used_by_text(uses, known),
        Text(relative(info.created_at)),
        Text(relative(info.expires_at) if info.expires_at else "never", style="dim"),
        Text(one_line(info.id), no_wrap=True, overflow="ellipsis"),
    )


class FilesScreen(DeckScreen):
    """All files, newest first."""

    CSS_PATH = str(styles_dir() / "files.tcss")
    PALETTE_GROUP = "Files"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="files.back", tooltip="Back to the batches"),
        Binding(
            "enter",
            "open_batch",
            "Open batch",
            id="files.open_batch",
            tooltip="Inspect the batch that uses the file",
        ),
        Binding("d", "download", "Download", id="files.download", tooltip="Download the file"),
        Binding("x,delete", "delete", "Delete", id="files.delete", tooltip="Delete the file"),
        Binding("n", "upload", "Upload", id="files.upload", tooltip="Upload a batch input file"),
        Binding(
            "f",
            "cycle_purpose",
            "Purpose filter",
            id="files.filter_purpose",
            tooltip="Filter by purpose (cycles)",
        ),
        Binding(
            "u",
            "toggle_unused",
            "Unused only",
            id="files.filter_unused",
            tooltip="Show only files no batch uses",
        ),
        Binding("y", "copy_id", "Copy id", id="files.copy_id", tooltip="Copy the file id"),
        Binding("r", "refresh", "Refresh", id="files.refresh", tooltip="Reload the files"),
    ]

    @dataclass
    class FilesListed(Message):
        """The files listed so far (``complete``: all of them)."""

        files: list[FileInfo]
        complete: bool

    @dataclass
    class ListFailed(Message):
        """Listing the files (``what`` = "files") or the batches ("uses") failed."""

        what: str
        error: BatchdeckError

    @dataclass
    class UsesFound(Message):
        uses: dict[str, list[Use]]

    @dataclass
    class FileDeleted(Message):
        file_id: str

    @dataclass
    class FileUploaded(Message):
        info: FileInfo
        name: str

    def __init__(self) -> None:
        super().__init__()
        self.files: list[FileInfo] = []
        self.uses: dict[str, list[Use]] = {}
        self.uses_known = False
        self.purpose: str | None = None  # None: every purpose
        self.unused_only = False
        self.fetching = False
        self._transferring = False
        self._widths: dict[str, int] | None = None  # the columns shown, see _fit_columns

    def compose(self) -> ComposeResult:
        yield DeckHeader()
        yield Static("", id="files-status")
        yield DataTable(id="files", cursor_type="row", zebra_stripes=True)
        yield TransferProgress(id="files-transfer")
        yield Footer()

    def on_mount(self) -> None:
        if not self.app.is_running:  # the app quit while this screen was being built
            return
        self._fit_columns(self.app.size.width)
        self.action_refresh()

    def on_resize(self) -> None:
        self._fit_columns(self.app.size.width)

    def _fit_columns(self, width: int) -> None:
        """The columns for ``width`` (fewer below :data:`NARROW`), if they changed."""
        widths = NARROW_WIDTHS if 0 < width < NARROW else WIDE_WIDTHS
        if widths is self._widths:
            return
        self._widths = widths
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for label in COLUMNS:
            key = label.lower()
            if key in widths:
                table.add_column(label, key=key, width=widths[key])
        self._repaint()

    # -- state and painting -------------------------------------------------------------

    def shown_files(self) -> list[FileInfo]:
        """The files that pass the purpose and unused filters."""
        out = []
        for info in self.files:
            if self.purpose is not None and info.purpose != self.purpose:
                continue
            if self.unused_only and (not self.uses_known or self.uses.get(info.id)):
                continue
            out.append(info)
        return out

    def unused(self) -> list[FileInfo]:
        """Files no batch uses (empty until the batches are known)."""
        if not self.uses_known:
            return []
        return [info for info in self.files if not self.uses.get(info.id)]

    def _repaint(self) -> None:
        table = self.query_one(DataTable)
        keep = self.selected()
        table.clear()
        rows = self.shown_files()
        shown = self._widths or WIDE_WIDTHS
        for info in rows:
            cells = file_row(info, self.uses.get(info.id), self.uses_known)
            by_key = dict(zip((label.lower() for label in COLUMNS), cells, strict=True))
            table.add_row(*(by_key[key] for key in shown), key=info.id)
        if keep is not None and keep.id in table.rows:
            table.move_cursor(row=table.get_row_index(keep.id))
        self._paint_status()
        self.refresh_bindings()

    def _paint_status(self, extra: str = "", *, error: bool = False) -> None:
        shown = len(self.shown_files())
        parts = [
            f"{shown} of {len(self.files)} files"
            if shown != len(self.files)
            else f"{len(self.files)} files"
        ]
        if self.uses_known:
            parts.append(f"{len(self.unused())} unused")
        else:
            parts.append("checking which batches use them…")
        parts.append(f"purpose: {self.purpose or 'all'}")
        if self.unused_only:
            parts.append("unused only")
        if self.fetching:
            parts.append("loading…")
        if extra:
            parts.append(extra)
        line = self.query_one("#files-status", Static)
        line.update(Text(one_line(" · ".join(parts))))
        line.set_class(error, "-error")

    def selected(self) -> FileInfo | None:
        """The file under the cursor, if any."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # the cursor is off the table
            return None
        for info in self.files:
            if info.id == key.value:
                return info
        return None

    # -- loading --------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load_files()
        self.load_uses()

    @work(exclusive=True, group="files-load")
    async def load_files(self) -> None:
        """Every file, page by page; each page is shown as it arrives."""
        self.fetching = True
        self._paint_status()
        files: list[FileInfo] = []
        try:
            async for page in self.deck.client.iter_file_pages():
                files.extend(page)
                self.post_message(self.FilesListed(list(files), False))
        except BatchdeckError as exc:
            self.post_message(self.ListFailed("files", exc))
            return
        self.post_message(self.FilesListed(files, True))

    def on_files_screen_files_listed(self, message: FilesListed) -> None:
        self.files = message.files
        self.fetching = not message.complete
        self._repaint()

    @work(exclusive=True, group="files-uses")
    async def load_uses(self) -> None:
        """Map file ids to the batches that use them."""
        try:
            batches = await self.deck.client.list_batches()
        except BatchdeckError as exc:
            self.post_message(self.ListFailed("uses", exc))
            return
        self.post_message(self.UsesFound(file_uses(batches)))

    def on_files_screen_uses_found(self, message: UsesFound) -> None:
        self.uses = message.uses
        self.uses_known = True
        self._repaint()

    def on_files_screen_list_failed(self, message: ListFailed) -> None:
        if message.what == "files":
            self.fetching = False
            self._paint_status(f"{message.error} (r to retry)", error=True)
        else:
            self._paint_status(f"cannot tell which batches use files: {message.error}", error=True)

    # -- filters ---------------------------------------------------------------------------

    def action_cycle_purpose(self) -> None:
        """All purposes, then each purpose present, then all again."""
        purposes = sorted({info.purpose for info in self.files} | {"batch", "batch_output"})
        options: list[str | None] = [None, *purposes]
        index = options.index(self.purpose) if self.purpose in options else 0
        self.purpose = options[(index + 1) % len(options)]
        self._repaint()

    def action_toggle_unused(self) -> None:
        self.unused_only = not self.unused_only
        if self.unused_only and not self.uses_known:
            self.notify("Still checking which batches use each file…")
        self._repaint()

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("download", "delete", "copy_id", "open_batch"):
            return bool(self.is_mounted and self.query_one(DataTable).row_count)
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy_id(self) -> None:
        info = self.selected()
        if info is not None:
            self.app.copy_to_clipboard(info.id)
            self.notify(f"Copied {one_line(info.id)}", markup=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (the table takes the key first): the batch using the file."""
        event.stop()
        self.action_open_batch()

    def action_open_batch(self) -> None:
        info = self.selected()
        if info is None:
            return
        uses = self.uses.get(info.id)
        if not uses:
            self.notify(
                "No batch uses this file." if self.uses_known else "Still checking batches…"
            )
            return
        self.app.push_screen(BatchDetailScreen(uses[0].batch_id))

    def action_download(self) -> None:
        info = self.selected()
        if info is None:
            return
        if self._transferring:
            self.notify("A transfer is already running.", severity="warning")
            return
        self._transferring = True
        self.download(info)

    @work(group="files-transfer")
    async def download(self, info: FileInfo) -> None:
        """Save a file under downloads/files/, under a safe version of its name."""
        report = self.query_one(TransferProgress).report  # stores numbers: safe from here
        try:
            names = file_names(files_downloads_dir(), info.filename, info.id)
            for target in itertools.islice(names, NAME_TRIES):
                if target.exists():
                    continue
                self.post_message(
                    TransferProgress.Began(f"saving {target.name}", info.bytes or None)
                )
                try:  # never over a file, even one that appears meanwhile
                    await self.deck.client.download_file(
                        info.id,
                        target,
                        progress=report,
                        info=info,
                        replace=False,
                    )
                except FileExistsError:
                    continue
                self.notify(f"Saved {one_line(info.id)} to {target}", markup=False)
                return
            self.notify(f"No free name to save {one_line(info.id)} under.", severity="error")
        except REPORTED as exc:
            self.post_message(self.Failed("Download failed", exc))
        finally:
            self.post_message(TransferProgress.Ended())

    def on_transfer_progress_began(self, message: TransferProgress.Began) -> None:
        self.query_one(TransferProgress).begin(message.label, message.total)

    def on_transfer_progress_ended(self, message: TransferProgress.Ended) -> None:
        self._transferring = False
        self.query_one(TransferProgress).end()

    def action_delete(self) -> None:
        info = self.selected()
        if info is None:
            return
        uses = self.uses.get(info.id) or []
        purpose = one_line(info.purpose, 40)
        detail = f"{one_line(info.filename, 60)} · {purpose} · {format_size(info.bytes)}"
        if uses:
            used = ", ".join(f"{one_line(use.batch_id, 40)} ({use.role})" for use in uses[:3])
            detail += f"\nStill used by {used}."

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete(info)

        self.app.push_screen(
            ConfirmDialog(f"Delete file {one_line(info.id)}?", detail, yes="Delete"), answered
        )

    @work(group="files-delete")
    async def delete(self, info: FileInfo) -> None:
        try:
            deleted = await self.deck.client.delete_file(info.id)
        except BatchdeckError as exc:
            self.post_message(self.Failed("Delete failed", exc))
            return
        if not deleted:
            self.notify(f"The server did not delete {one_line(info.id)}.", severity="warning")
            return
        self.post_message(self.FileDeleted(info.id))

    def on_files_screen_file_deleted(self, message: FileDeleted) -> None:
        self.files = [other for other in self.files if other.id != message.file_id]
        self._repaint()
        self.notify(f"Deleted {one_line(message.file_id)}", markup=False)

    def action_upload(self) -> None:
        if self._transferring:
            self.notify("A transfer is already running.", severity="warning")
            return

        def chosen(path: Path | None) -> None:
            if path is not None and not self._transferring:
                self._transferring = True
                self.upload(path)

        self.app.push_screen(UploadDialog(), chosen)

    @work(group="files-transfer")
    async def upload(self, path: Path) -> None:
        """Upload a checked file with purpose ``batch``; it appears at the top."""
        report = self.query_one(TransferProgress).report  # stores numbers: safe from here
        try:
            self.post_message(TransferProgress.Began(f"uploading {path.name}", path.stat().st_size))
            info = await self.deck.client.upload_file(path, purpose="batch", progress=report)
        except REPORTED as exc:
            self.post_message(self.Failed(f"Upload of {path} failed", exc))
            return
        finally:
            self.post_message(TransferProgress.Ended())
        self.post_message(self.FileUploaded(info, path.name))

    def on_files_screen_file_uploaded(self, message: FileUploaded) -> None:
        info = message.info
        self.files = [info, *self.files]
        self._repaint()
        self.notify(f"Uploaded {one_line(message.name)} as {one_line(info.id)}", markup=False)
