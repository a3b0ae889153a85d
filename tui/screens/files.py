"""The files screen: every file of the account, which batch uses it, and clean-up.

Files arrive page by page; the batches list is read beside them to map each input,
output and error file id to its batch, so files no batch uses (candidates for
clean-up) can be marked and filtered. Enter previews a file's first lines; space
marks files, and download (into a folder asked for) and delete (after one
confirmation) act on the marked set, or else on the file under the cursor; a batch
input file can become a batch (``s``, through the journal). Upload validates first.
Transfers show their progress; file names are shown literally and saved under safe
names. Workers post what they got as messages; the handlers paint.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Footer, Static
from textual.widgets.data_table import CellDoesNotExist

from tui.core.anthropic_client import NO_FILES, NoFilesError
from tui.core.anthropic_journal import journal_for
from tui.core.downloads import file_names
from tui.core.errors import BatchdeckError
from tui.core.journal import Journal
from tui.core.models import Batch, FileInfo, display_filename
from tui.core.preview import Preview, first_lines
from tui.core.registry import Job
from tui.core.sizes import format_size
from tui.core.text import one_line, plural
from tui.core.timefmt import relative
from tui.deck import styles_dir
from tui.dialogs.confirm import ConfirmDialog
from tui.dialogs.create_batch import CreateBatchDialog, NewBatch
from tui.dialogs.download_folder import DownloadFolderDialog, default_folder
from tui.dialogs.file_preview import FilePreviewDialog
from tui.dialogs.upload import UploadDialog
from tui.screens.base import REPORTED, DeckScreen
from tui.screens.batch_detail import BatchDetailScreen
from tui.widgets.file_sets import delete_question, saved_note
from tui.widgets.header import DeckHeader
from tui.widgets.transfer import TransferProgress

if TYPE_CHECKING:
    from tui.core.client import Progress

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
MARK = "● "  # before the name of a marked file


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
    # the footer shows Back, Download, Delete and Upload (it fits 80 columns); every key
    # is in F1 and the palette
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="files.back", tooltip="Back to the batches"),
        Binding(
            "enter",
            "preview",
            "Preview",
            id="files.preview",
            show=False,
            tooltip="Show the file's first lines",
        ),
        Binding(
            "b",
            "open_batch",
            "Open batch",
            id="files.open_batch",
            show=False,
            tooltip="Inspect the batch that uses the file",
        ),
        Binding(
            "space",
            "toggle_mark",
            "Mark",
            id="files.mark",
            show=False,
            tooltip="Mark the file (or unmark)",
        ),
        Binding(
            "d",
            "download",
            "Download",
            id="files.download",
            tooltip="Download the marked files (or this one) into a folder",
        ),
        Binding(
            "x,delete",
            "delete",
            "Delete",
            id="files.delete",
            tooltip="Delete the marked files (or this one)",
        ),
        Binding(
            "s",
            "create_batch",
            "Create batch",
            id="files.create_batch",
            show=False,
            tooltip="Create a batch from this input file",
        ),
        Binding("n", "upload", "Upload", id="files.upload", tooltip="Upload a batch input file"),
        Binding(
            "f",
            "cycle_purpose",
            "Purpose filter",
            id="files.filter_purpose",
            show=False,
            tooltip="Filter by purpose (cycles)",
        ),
        Binding(
            "u",
            "toggle_unused",
            "Unused only",
            id="files.filter_unused",
            show=False,
            tooltip="Show only files no batch uses",
        ),
        Binding(
            "y", "copy_id", "Copy id", id="files.copy_id", show=False, tooltip="Copy the file id"
        ),
        Binding(
            "r", "refresh", "Refresh", id="files.refresh", show=False, tooltip="Reload the files"
        ),
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
    class FilesDeleted(Message):
        """The files deleted, and how many the server refused to delete."""

        file_ids: list[str]
        kept: int

    @dataclass
    class FilesSaved(Message):
        """Where the downloaded files went, and the ids of those with no free name."""

        targets: list[Path]
        skipped: list[str]

    @dataclass
    class Previewed(Message):
        info: FileInfo
        preview: Preview

    @dataclass
    class BatchCreated(Message):
        job: Job

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
        self.marked: set[str] = set()  # ids of the files marked with space
        self.folder: Path | None = None  # where the last download went
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
            if info.id in self.marked:
                cells = (Text(MARK, style="bold yellow") + cells[0], *cells[1:])
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
        if self.marked:
            parts.append(f"{len(self.marked)} marked")
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
        except CellDoesNotExist:  # the cursor is off the table
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
        if message.complete:  # marks of files that are gone go with them
            self.marked &= {info.id for info in self.files}
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
        if not super().check_action(action, parameters):
            return False
        if action in ("download", "delete", "copy_id", "open_batch", "preview", "toggle_mark"):
            return bool(self.is_mounted and self.query_one(DataTable).row_count)
        if action == "create_batch":
            info = self.selected() if self.is_mounted else None
            return info is not None and info.purpose == "batch"
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy_id(self) -> None:
        info = self.selected()
        if info is not None:
            self.app.copy_to_clipboard(info.id)
            self.notify(f"Copied {one_line(info.id)}", markup=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (the table takes the key first): the file's first lines."""
        event.stop()
        self.action_preview()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()  # Create batch depends on the file under the cursor

    def targets(self) -> list[FileInfo]:
        """The marked files (in the list's order), or else the one under the cursor."""
        if self.marked:
            return [info for info in self.files if info.id in self.marked]
        info = self.selected()
        return [info] if info is not None else []

    def action_toggle_mark(self) -> None:
        info = self.selected()
        if info is None:
            return
        self.marked.symmetric_difference_update({info.id})
        self._repaint()
        table = self.query_one(DataTable)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    # -- preview ------------------------------------------------------------------------

    def action_preview(self) -> None:
        info = self.selected()
        if info is not None:
            self._paint_status(f"reading the first lines of {one_line(info.id)}…")
            self.preview(info)

    @work(exclusive=True, group="files-preview")
    async def preview(self, info: FileInfo) -> None:
        try:
            found = await first_lines(self.deck.client, info)
        except REPORTED as exc:
            self.post_message(self.Failed("Preview failed", exc))
            return
        self.post_message(self.Previewed(info, found))

    def on_files_screen_previewed(self, message: Previewed) -> None:
        self._paint_status()
        info = message.info
        title = f"{one_line(info.filename, 60)} · {one_line(info.id)}"
        self.app.push_screen(FilePreviewDialog(title, message.preview))

    # -- a batch from an input file ------------------------------------------------------

    def action_create_batch(self) -> None:
        info = self.selected()
        if info is None or info.purpose != "batch":
            return

        def chosen(new: NewBatch | None) -> None:
            if new is not None:
                self.create_batch(info, new)

        self.app.push_screen(CreateBatchDialog(info), chosen)

    @work(group="files-create")
    async def create_batch(self, info: FileInfo, new: NewBatch) -> None:
        """Create the batch through the journal, so the registry knows it."""
        deck = self.deck
        try:
            journal = journal_for(deck.registry, deck.client, deck.profile)
            if not isinstance(journal, Journal):  # Anthropic: requests go inline, no files
                raise NoFilesError(NO_FILES)
            job = await journal.submit_file(info.id, new.endpoint, new.description)
        except REPORTED as exc:
            self.post_message(self.Failed("Create batch failed", exc))
            return
        self.post_message(self.BatchCreated(job))

    def on_files_screen_batch_created(self, message: BatchCreated) -> None:
        batch_id = message.job.batch_id or ""
        self.notify(f"Created batch {one_line(batch_id)}", markup=False)
        self.load_uses()
        if batch_id:
            self.app.push_screen(BatchDetailScreen(batch_id))

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
        infos = self.targets()
        if not infos:
            return
        if self._transferring:
            self.notify("A transfer is already running.", severity="warning")
            return
        what = (
            f"{one_line(infos[0].filename or infos[0].id, 60)}"
            if len(infos) == 1
            else f"{len(infos)} files"
        )

        def chosen(folder: Path | None) -> None:
            if folder is not None and not self._transferring:
                self.folder = folder
                self._transferring = True
                self.download(infos, folder)

        self.app.push_screen(DownloadFolderDialog(what, self.folder or default_folder()), chosen)

    @work(group="files-transfer")
    async def download(self, infos: list[FileInfo], folder: Path) -> None:
        """Save each file in ``folder`` under a safe version of its name, never over
        another file (even one that appears meanwhile)."""
        report = self.query_one(TransferProgress).report  # stores numbers: safe from here
        saved: list[Path] = []
        skipped: list[str] = []
        try:
            for info in infos:
                target = await self._download_one(info, folder, report)
                if target is None:
                    skipped.append(info.id)
                else:
                    saved.append(target)
        except REPORTED as exc:
            self.post_message(self.Failed("Download failed", exc))
        finally:
            self.post_message(TransferProgress.Ended())
            if saved or skipped:
                self.post_message(self.FilesSaved(saved, skipped))

    async def _download_one(self, info: FileInfo, folder: Path, report: Progress) -> Path | None:
        """The first free name in ``folder`` that the file was saved under, or None."""
        names = file_names(folder, info.filename, info.id)
        for target in itertools.islice(names, NAME_TRIES):
            if target.exists():
                continue
            self.post_message(TransferProgress.Began(f"saving {target.name}", info.bytes or None))
            try:
                await self.deck.client.download_file(
                    info.id, target, progress=report, info=info, replace=False
                )
            except FileExistsError:
                continue
            return target
        return None

    def on_files_screen_files_saved(self, message: FilesSaved) -> None:
        if message.targets:
            self.notify(saved_note(message.targets), markup=False)
        for file_id in message.skipped:
            note = f"No free name to save {one_line(file_id)} under."
            self.notify(note, severity="error", markup=False)

    def on_transfer_progress_began(self, message: TransferProgress.Began) -> None:
        self.query_one(TransferProgress).begin(message.label, message.total)

    def on_transfer_progress_ended(self, message: TransferProgress.Ended) -> None:
        self._transferring = False
        self.query_one(TransferProgress).end()

    def action_delete(self) -> None:
        infos = self.targets()
        if not infos:
            return
        question, detail = delete_question(infos, self.uses)

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete(infos)

        self.app.push_screen(ConfirmDialog(question, detail, yes="Delete"), answered)

    @work(group="files-delete")
    async def delete(self, infos: list[FileInfo]) -> None:
        deleted: list[str] = []
        kept = 0
        try:
            for info in infos:
                if await self.deck.client.delete_file(info.id):
                    deleted.append(info.id)
                else:
                    kept += 1
        except BatchdeckError as exc:
            self.post_message(self.Failed("Delete failed", exc))
        finally:
            self.post_message(self.FilesDeleted(deleted, kept))

    def on_files_screen_files_deleted(self, message: FilesDeleted) -> None:
        gone = set(message.file_ids)
        self.files = [other for other in self.files if other.id not in gone]
        self.marked -= gone
        self._repaint()
        if len(gone) == 1:
            self.notify(f"Deleted {one_line(message.file_ids[0])}", markup=False)
        elif gone:
            self.notify(f"Deleted {plural(len(gone), 'file')}", markup=False)
        if message.kept:
            kept = plural(message.kept, "file")
            self.notify(f"The server did not delete {kept}.", severity="warning")

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
