"""The batch inspector: everything about one batch, live until it is final.

Sections (see :mod:`tui.widgets.batch_sections`): a header (id, status, endpoint,
model, the local description and tags), a notice for what needs saying (every line
failed, partial results, validation failed), the status timeline, request counts,
usage and its cost, metadata, file ids and downloads, and the validation errors
with the offending input lines.

A non-final batch is retrieved again by a :class:`~tui.screens.poller.ScreenPoller`:
never two retrieves at once, backing off on errors, paused while a modal or another
screen is on top, stopped once the batch is final. Workers post their results as
messages; the handlers paint. Everything from the server or the registry is shown
as literal text.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Static

from tui.core import errors, timefmt
from tui.core.downloads import (
    batch_file_path,
    download_once,
    job_for_batch,
    read_lines,
    record_download,
)
from tui.core.errors import BatchdeckError
from tui.core.models import Batch
from tui.core.poll import Backoff
from tui.core.pricing import PriceError, price_for, read_prices
from tui.core.registry import Job
from tui.core.results import RetryLinks, retry_links
from tui.core.text import one_line
from tui.core.throughput import Pace, pace_line
from tui.deck import styles_dir
from tui.dialogs.confirm import ConfirmDialog
from tui.dialogs.edit_job import EditJobDialog
from tui.dialogs.price import PriceDialog
from tui.screens.base import REPORTED, DeckScreen
from tui.screens.batch_alerts import notify_batches
from tui.screens.poller import ScreenPoller
from tui.widgets.batch_sections import (
    SHOWN_ERRORS,
    counts_text,
    errors_text,
    file_id_of,
    files_text,
    has_usage,
    header_text,
    links_text,
    metadata_text,
    notice_text,
    usage_renderable,
)
from tui.widgets.header import DeckHeader
from tui.widgets.timeline import StatusTimeline
from tui.widgets.transfer import TransferProgress

if TYPE_CHECKING:
    from tui.core.pricing import Price
    from tui.dialogs.edit_job import JobEdit

POLL_SECONDS = 5.0
RETRY_DELAYS = (5.0, 10.0, 30.0, 60.0)


class BatchDetailScreen(DeckScreen):
    """One batch, every field, and what can be done with it."""

    CSS_PATH = str(styles_dir() / "detail.tcss")
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (100, "-wide"),
    ]
    PALETTE_GROUP = "Batch"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="detail.back", tooltip="Back to the list"),
        Binding(
            "enter",
            "open_results",
            "Results",
            id="detail.open_results",
            tooltip="Open the results (or download them)",
        ),
        Binding(
            "o",
            "download('output')",
            "Output",
            id="detail.download_output",
            tooltip="Download the output file",
        ),
        Binding(
            "e",
            "download('error')",
            "Errors",
            id="detail.download_error",
            tooltip="Download the error file",
        ),
        Binding(
            "i",
            "download('input')",
            "Input",
            id="detail.download_input",
            tooltip="Download the input file",
        ),
        Binding("c", "cancel_batch", "Cancel batch", id="detail.cancel", tooltip="Cancel it"),
        Binding(
            "d",
            "edit",
            "Describe",
            id="detail.edit",
            tooltip="Edit the local description and tags",
        ),
        Binding(
            "y", "copy_id", "Copy id", id="detail.copy_id", tooltip="Copy the batch id", show=False
        ),
        Binding(
            "dollar_sign",
            "set_price",
            "Price",
            id="detail.price",
            tooltip="Set the model's price",
            show=False,
            key_display="$",
        ),
        Binding("r", "refresh", "Refresh", id="detail.refresh", tooltip="Refresh now", show=False),
        Binding(
            "g",
            "open_parent",
            "Parent",
            id="detail.open_parent",
            tooltip="Inspect the batch this one retries",
        ),
    ]

    @dataclass
    class Retrieved(Message):
        """The batch as the server has it now (after a retrieve, or a cancel)."""

        batch: Batch
        cancelled: bool = False

    @dataclass
    class RetrieveFailed(Message):
        error: BatchdeckError

    @dataclass
    class InputLines(Message):
        """Lines of the input file named by validation errors, or why there are none."""

        lines: dict[int, str]
        note: str

    @dataclass
    class FileSaved(Message):
        kind: str
        target: Path
        job: Job

    @dataclass
    class JobSaved(Message):
        job: Job

    @dataclass
    class JobLoaded(Message):
        """What the registry knows: the batch's job, the batch this one retries and
        the batches that retry it; ``problem`` if the registry could not be read."""

        job: Job | None
        links: RetryLinks
        problem: Exception | None = None

    def __init__(self, batch_id: str, batch: Batch | None = None) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.current_batch = batch
        self.job: Job | None = None
        self.input_lines: dict[int, str] = {}
        self._input_note = "loading input line…"
        self._inputs_requested = False
        self.poller = ScreenPoller(self, self.refresh_batch, Backoff(RETRY_DELAYS))
        self._transferring = False
        self._live = False  # True once the server answered this screen
        self._errors_first = False
        self.retrieves = 0  # how many times this screen asked the server (tests watch it)
        self._prices: dict[str, Price] | PriceError | None = None  # read once, see _price_table
        self.links = RetryLinks()
        self.pace = Pace()  # request counts seen by each retrieve: throughput and ETA

    # -- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield DeckHeader()
        yield Static("", id="detail-status")
        with VerticalScroll(id="detail-body"):
            yield Static("", id="detail-head")
            yield Static("", id="detail-links")
            yield Static("", id="detail-notice")
            yield StatusTimeline(id="detail-timeline", classes="section")
            with Horizontal(id="detail-columns"):
                yield Static("", id="detail-counts", classes="section")
                yield Static("", id="detail-usage", classes="section")
            yield Static("", id="detail-metadata", classes="section")
            yield Static("", id="detail-files", classes="section")
            yield Static("", id="detail-errors", classes="section")
        yield TransferProgress(id="detail-transfer")
        yield Footer()

    def on_mount(self) -> None:
        if not self.app.is_running:  # the app quit while this screen was being built:
            return  # its nested widgets were never mounted, and nothing needs showing
        titles = {
            "#detail-timeline": "Timeline",
            "#detail-counts": "Requests",
            "#detail-usage": "Usage and cost",
            "#detail-metadata": "Metadata",
            "#detail-files": "Files",
            "#detail-errors": "Validation errors",
        }
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        self._paint()
        self._set_status("Loading…" if self.current_batch is None else "Refreshing…")
        self.load_job()

    # -- painting -------------------------------------------------------------------

    @work(exclusive=True, group="detail-job")
    async def load_job(self) -> None:
        """Read the batch's job and retry links (in a thread: it reads every job); the
        handler paints them, then the server is asked."""
        registry, batch_id = self.deck.registry, self.batch_id

        def read() -> tuple[Job | None, RetryLinks]:
            return registry.find_by_batch(batch_id), retry_links(registry, batch_id)

        try:
            job, links = await asyncio.to_thread(read)
        except REPORTED as exc:
            self.post_message(self.JobLoaded(None, RetryLinks(), exc))
        else:
            self.post_message(self.JobLoaded(job, links))

    def on_batch_detail_screen_job_loaded(self, message: JobLoaded) -> None:
        if message.problem is not None:
            note = f"Registry unreadable: {message.problem}"
            self.notify(note, severity="warning", markup=False)
        self.job, self.links = message.job, message.links
        if self.current_batch is None and self.job is not None:
            self.current_batch = self.job.batch()  # the last view, until the server answers
            self._set_status("Refreshing…")
        self._paint()
        self.poller.now()

    def _set_status(self, message: str, *, error: bool = False) -> None:
        line = self.query_one("#detail-status", Static)
        line.update(Text(one_line(message)))
        line.set_class(error, "-error")

    def _paint(self) -> None:
        """Fill every section from ``self.current_batch`` and ``self.job``."""
        batch = self.current_batch
        self.query_one("#detail-head", Static).update(header_text(self.batch_id, batch, self.job))
        notice = self.query_one("#detail-notice", Static)
        message = notice_text(batch) if batch is not None else None
        notice.update(message or "")
        notice.display = message is not None
        links = self.query_one("#detail-links", Static)
        linked = links_text(self.links)
        links.update(linked or "")
        links.display = linked is not None
        sections = self.query(".section")
        sections.set(display=batch is not None)
        if batch is None:
            return
        self.query_one(StatusTimeline).show(batch)
        pace = pace_line(batch, self.pace, timefmt.now())
        self.query_one("#detail-counts", Static).update(counts_text(batch, pace))
        self.query_one("#detail-usage", Static).update(usage_renderable(batch, self._price_table()))
        self.query_one("#detail-metadata", Static).update(metadata_text(batch))
        self.query_one("#detail-files", Static).update(files_text(batch, self.job))
        errors_view = self.query_one("#detail-errors", Static)
        errors_view.display = bool(batch.errors)
        if batch.errors and not self._errors_first:
            self._errors_first = True  # the errors are what a failed batch is about
            self.query_one("#detail-body").move_child(errors_view, after=notice)
        if batch.errors:
            errors_view.border_title = f"Validation errors ({len(batch.errors)})"
            errors_view.update(errors_text(batch, self.input_lines, self._input_note))
        self.refresh_bindings()

    def _price_table(self) -> dict[str, Price] | PriceError:
        """The price table, read from disk once (again after the price dialog saves)."""
        if self._prices is None:
            self._prices = self.deck.profile.priced(read_prices())
        return self._prices

    # -- live refresh -----------------------------------------------------------------

    @work(exclusive=True, group="detail-refresh")
    async def refresh_batch(self) -> None:
        """Retrieve the batch once and keep it as the registry's snapshot."""
        self.retrieves += 1
        try:
            batch = await self.deck.client.retrieve_batch(self.batch_id)
        except BatchdeckError as exc:
            self.post_message(self.RetrieveFailed(exc))
            return
        await self._record(batch)
        self.post_message(self.Retrieved(batch))

    async def _record(self, batch: Batch) -> None:
        """Keep ``batch`` as the registry's snapshot (in a thread: it writes a file)."""
        with contextlib.suppress(*REPORTED):  # a convenience: the screen is live
            await asyncio.to_thread(self.deck.registry.record_snapshot, batch)

    def on_batch_detail_screen_retrieved(self, message: Retrieved) -> None:
        batch = self.current_batch = message.batch
        if batch.status == "in_progress":
            self.pace.add(timefmt.now(), batch.request_counts.done)
        self._live = True
        self._paint()
        notify_batches(self, [batch])
        if batch.errors and not self._inputs_requested:
            self._inputs_requested = True
            self.load_input_lines(batch)
        if message.cancelled:
            self.notify(f"Cancelling {one_line(self.batch_id)}", markup=False)
        if batch.is_final and not message.cancelled:
            self._set_status(f"{batch.status} · final, not refreshed again (r to refresh)")
        else:
            self._set_status(f"{batch.status} · live, refreshed every {POLL_SECONDS:.0f}s")
        self.poller.succeeded(None if batch.is_final else POLL_SECONDS)

    def on_batch_detail_screen_retrieve_failed(self, message: RetrieveFailed) -> None:
        exc = message.error
        if isinstance(exc, errors.NotFoundError):
            self.poller.stop()
            self._set_status(str(exc), error=True)
            return
        delay = self.poller.failed(exc)
        shown = "last seen" if self.current_batch is not None else "nothing to show yet"
        self._set_status(f"{exc} ({shown}; retrying in {delay:.0f}s)", error=True)

    def action_refresh(self) -> None:
        self.poller.now()

    # -- validation errors' input lines -----------------------------------------------

    @work(exclusive=True, group="detail-inputs")
    async def load_input_lines(self, batch: Batch) -> None:
        """Read the lines named by validation errors from the local input file, or
        else from the input file downloaded (once) into the data dir."""
        wanted = {item.line for item in batch.errors[:SHOWN_ERRORS] if item.line is not None}
        if not wanted:
            return
        path: Path | None = None
        if self.job is not None and self.job.input_path:
            local = Path(self.job.input_path).expanduser()
            if local.is_file():
                path = local
        try:
            if path is None:
                if not batch.input_file_id:
                    raise FileNotFoundError("the batch names no input file")
                path = batch_file_path(batch.id, "input")
                if not path.is_file():
                    self.post_message(self.InputLines({}, "downloading the input file…"))
                    await self.deck.client.download_file(batch.input_file_id, path)
            lines = await asyncio.to_thread(read_lines, path, wanted)
        except REPORTED as exc:
            self.post_message(self.InputLines({}, f"input file unavailable: {exc}"))
            return
        self.post_message(self.InputLines(lines, "no such line in the input file"))

    def on_batch_detail_screen_input_lines(self, message: InputLines) -> None:
        self.input_lines, self._input_note = message.lines, message.note
        self._paint()

    # -- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide actions that do not apply to this batch (the footer shows the rest)."""
        if not super().check_action(action, parameters):
            return False
        batch = self.current_batch
        if action == "download":
            return batch is not None and file_id_of(batch, str(parameters[0])) is not None
        if action == "open_results":
            return batch is not None and bool(batch.output_file_id or batch.error_file_id)
        if action == "cancel_batch":
            return batch is not None and not batch.is_final and batch.status != "cancelling"
        if action == "edit":
            return batch is not None
        if action == "open_parent":
            return self.links.retry_of is not None
        if action == "set_price":
            return batch is not None and bool(batch.model) and has_usage(batch)
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.batch_id)
        self.notify(f"Copied {one_line(self.batch_id)}", markup=False)

    def action_cancel_batch(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.cancel_batch()

        self.app.push_screen(
            ConfirmDialog(
                f"Cancel batch {one_line(self.batch_id)}?",
                "Requests already running finish; the rest are dropped. "
                "Partial results stay available.",
                yes="Cancel batch",
                no="Keep running",
            ),
            answered,
        )

    @work(exclusive=True, group="detail-cancel")
    async def cancel_batch(self) -> None:
        try:
            batch = await self.deck.client.cancel_batch(self.batch_id)
        except BatchdeckError as exc:
            self.post_message(self.Failed("Cancel failed", exc))
            return
        await self._record(batch)
        self.post_message(self.Retrieved(batch, cancelled=True))

    def action_download(self, kind: str) -> None:
        if self._transferring:
            self.notify("A download is already running.", severity="warning")
            return
        self._transferring = True
        self.download_files((kind,))

    def action_open_parent(self) -> None:
        """The batch this one retries, in its own inspector (Escape comes back)."""
        if self.links.retry_of:
            self.app.push_screen(BatchDetailScreen(self.links.retry_of))

    def action_open_results(self) -> None:
        self.deck.open_results(self.batch_id)

    @work(group="detail-transfer")
    async def download_files(self, kinds: tuple[str, ...]) -> None:
        """Save each of the batch's ``kinds`` files in its one place (the results store's)."""
        batch = self.current_batch
        report = self.query_one(TransferProgress).report  # stores numbers: safe from here
        deck = self.deck
        try:
            for kind in kinds:
                file_id = file_id_of(batch, kind) if batch is not None else None
                if batch is None or file_id is None:
                    continue
                info = await deck.client.retrieve_file(file_id)
                target = batch_file_path(batch.id, kind)
                self.post_message(
                    TransferProgress.Began(f"{kind}: {target.name}", info.bytes or None)
                )
                await download_once(deck.client, file_id, target, progress=report, info=info)
                saved = await asyncio.to_thread(
                    record_download, deck.registry, batch, kind, target, profile=deck.profile.name
                )
                self.post_message(self.FileSaved(kind, target, saved))
        except REPORTED as exc:
            self.post_message(self.Failed("Download failed", exc))
        finally:
            self.post_message(TransferProgress.Ended())

    def on_transfer_progress_began(self, message: TransferProgress.Began) -> None:
        self.query_one(TransferProgress).begin(message.label, message.total)

    def on_batch_detail_screen_file_saved(self, message: FileSaved) -> None:
        self.job = message.job
        self.notify(f"Saved the {message.kind} file to {message.target}", markup=False)

    def on_transfer_progress_ended(self, message: TransferProgress.Ended) -> None:
        self._transferring = False
        self.query_one(TransferProgress).end()
        self._paint()

    def action_edit(self) -> None:
        job = self.job
        self.app.push_screen(
            EditJobDialog(self.batch_id, job.description if job else "", job.tags if job else ()),
            self._save_edit,
        )

    def _save_edit(self, edit: JobEdit | None) -> None:
        if edit is not None and self.current_batch is not None:
            self.save_edit(self.current_batch, edit)

    @work(group="detail-edit")
    async def save_edit(self, batch: Batch, edit: JobEdit) -> None:
        """Write the description and tags to the registry (in a thread: it writes files)."""
        registry = self.deck.registry
        profile = self.deck.profile.name

        def save() -> Job:
            job = job_for_batch(registry, batch, profile=profile)
            return registry.modify(job.job_id, edit.apply)

        try:
            job = await asyncio.to_thread(save)
        except REPORTED as exc:  # JobNotFoundError too: the job left the registry
            self.post_message(self.Failed("Could not save", exc))
            return
        self.post_message(self.JobSaved(job))

    def on_batch_detail_screen_job_saved(self, message: JobSaved) -> None:
        self.job = message.job
        self.notify("Description and tags saved")
        self._paint()

    def action_set_price(self) -> None:
        model = self.current_batch.model if self.current_batch else None
        if not model:
            return
        prices = self._price_table()
        current = None if isinstance(prices, PriceError) else price_for(model, prices)

        def saved(price: Price | None) -> None:
            if price is not None:
                self._prices = None  # read the saved table again
                self.notify(f"Price of {one_line(model)} saved", markup=False)
                self._paint()

        self.app.push_screen(PriceDialog(model, current), saved)

    # -- helpers for tests and other screens ---------------------------------------------

    @property
    def is_live(self) -> bool:
        """True once the server has answered (the view is not just the cached one)."""
        return self._live
