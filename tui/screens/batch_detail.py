"""The batch inspector: everything about one batch, live until it is final.

Sections: a header (id, status, endpoint, model, the local description and tags),
a notice for what needs saying (every line failed, partial results, validation
failed), the status timeline, request counts, usage and its cost, metadata, file
ids and downloads, and the validation errors with the offending input lines.

A non-final batch is retrieved again on a timer that is set only after the last
retrieve ended (never two at once), backs off on errors, pauses while a modal or
another screen is on top, and stops once the batch is final. Everything from the
server or the registry is shown as literal text.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from tui.app import styles_dir
from tui.core import errors
from tui.core.downloads import (
    batch_file_path,
    download_once,
    job_for_batch,
    read_lines,
    record_download,
)
from tui.core.models import Batch
from tui.core.pricing import PriceError, cost_of, format_usd, load_prices, price_for
from tui.core.registry import Job
from tui.core.text import one_line
from tui.screens.base import DeckScreen
from tui.widgets.batch_table import STATUS_STYLES
from tui.widgets.timeline import StatusTimeline
from tui.widgets.transfer import TransferProgress

if TYPE_CHECKING:
    from tui.core.pricing import Price
    from tui.dialogs.edit_job import JobEdit

POLL_SECONDS = 5.0
RETRY_DELAYS = (5.0, 10.0, 30.0, 60.0)
SHOWN_ERRORS = 200  # validation errors listed (the API reports at most a few hundred)
INPUT_LINE_SHOWN = 300  # characters of an offending input line shown beside its error
FILE_KINDS = ("output", "error", "input")


def file_id_of(batch: Batch, kind: str) -> str | None:
    """The id of a batch's ``output``, ``error`` or ``input`` file, if it has one."""
    value = {
        "output": batch.output_file_id,
        "error": batch.error_file_id,
        "input": batch.input_file_id,
    }[kind]
    return value or None


def header_text(batch_id: str, batch: Batch | None, job: Job | None) -> Text:
    """Id, status, endpoint, model; then the local description and tags."""
    text = Text()
    text.append(one_line(batch_id), style="bold")
    if batch is not None:
        text.append("  ")
        text.append(one_line(batch.status), style=f"bold {STATUS_STYLES.get(batch.status, '')}")
        text.append(f"  {one_line(batch.endpoint)}")
        if batch.model:
            text.append(f"  {one_line(batch.model)}", style="cyan")
        text.append(f"  window {one_line(batch.completion_window)}", style="dim")
    description = job.description if job else ""
    tags = job.tags if job else ()
    text.append("\n")
    if description:
        text.append(one_line(description, 200))
    else:
        text.append("no description (d to add one)", style="dim italic")
    if tags:
        text.append("  ")
        text.append(" ".join(f"#{one_line(tag, 40)}" for tag in tags), style="magenta")
    return text


def notice_text(batch: Batch) -> Text | None:
    """What a reader must not miss about this batch, or None."""
    counts = batch.request_counts
    if batch.status == "completed" and not batch.output_file_id:
        message = "Every request failed: this batch has no output file."
        if batch.error_file_id:
            message += " Press e to download the error file (or Enter to open the results)."
        return Text(message)
    if batch.status in ("expired", "cancelled"):
        verb = "expired" if batch.status == "expired" else "was cancelled"
        message = f"This batch {verb} with {counts.done} of {counts.total} requests done."
        offers = []
        if batch.output_file_id:
            offers.append("o: partial output")
        if batch.error_file_id:
            offers.append("e: errors")
        message += f" Partial results: {', '.join(offers)}." if offers else " No results were kept."
        return Text(message)
    if batch.status == "failed":
        found = len(batch.errors)
        return Text(f"Validation failed: the API refused the input file ({found} error(s) below).")
    if batch.status == "cancelling":
        return Text("Cancelling: requests already running finish, the rest are dropped.")
    return None


def counts_text(batch: Batch) -> Text:
    """Request counts with a bar: done of total, completed and failed."""
    counts = batch.request_counts
    text = Text()
    if not counts.total:
        text.append("no requests counted yet" if not batch.is_final else "no requests")
        return text
    width = 24
    filled = round(width * counts.done / counts.total)
    failed = min(filled, round(width * counts.failed / counts.total))
    text.append("█" * (filled - failed), style="green")
    text.append("█" * failed, style="red")
    text.append("░" * (width - filled), style="dim")
    text.append(f" {100 * counts.done // counts.total}%\n")
    text.append(f"{counts.total} total  ")
    text.append(f"{counts.completed} completed  ", style="green")
    text.append(f"{counts.failed} failed  ", style="red" if counts.failed else "")
    left = counts.total - counts.done
    text.append(f"{left} {'not run' if batch.is_final else 'pending'}", style="dim")
    return text


def has_usage(batch: Batch) -> bool:
    """Whether the batch reports any tokens (a failed validation reports zeros)."""
    usage = batch.usage
    return usage is not None and bool(
        usage.total_tokens or usage.input_tokens or usage.output_tokens
    )


def usage_renderable(
    batch: Batch, prices: dict[str, Price] | PriceError | None = None
) -> RenderableType:
    """Tokens used and what they cost at the standard rate and with the batch discount;
    ``prices`` is the price table (or why it is unusable), read from disk if None."""
    usage = batch.usage
    if usage is None or not has_usage(batch):
        return Text("No usage reported yet." if not batch.is_final else "No usage reported.")
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column(justify="right")
    table.add_row("input tokens", f"{usage.input_tokens:,}")
    table.add_row("cached", f"{usage.cached_tokens:,}")
    table.add_row("output tokens", f"{usage.output_tokens:,}")
    table.add_row("reasoning", f"{usage.reasoning_tokens:,}")
    table.add_row("total", f"{usage.total_tokens:,}")
    if prices is None:
        prices = read_prices()
    if isinstance(prices, PriceError):
        return Group(table, Text(f"\nPrice table unusable: {one_line(str(prices))}", style="red"))
    price = price_for(batch.model, prices)
    if price is None:
        model = one_line(batch.model or "this batch's model")
        return Group(
            table,
            Text(f"\nNo price known for {model}. Press p to set it.", style="yellow"),
        )
    cost = cost_of(usage, price)
    costs = Table.grid(padding=(0, 2))
    costs.add_column(justify="right", style="bold")
    costs.add_column(justify="right")
    costs.add_row("standard cost", format_usd(cost.standard))
    costs.add_row("Batch API cost", Text(format_usd(cost.batch), style="bold green"))
    costs.add_row("saving (50%)", format_usd(cost.standard - cost.batch))
    rates = f"input ${price.input:g}"
    if price.cached_input is not None:
        rates += f", cached ${price.cached_input:g}"
    rates += f", output ${price.output:g} per 1M (p to edit)"
    return Group(table, Text(""), costs, Text(rates, style="dim"))


def read_prices() -> dict[str, Price] | PriceError:
    """The price table from disk, or the error that makes it unusable."""
    try:
        return load_prices()
    except PriceError as exc:
        return exc


def metadata_text(batch: Batch) -> Text:
    """``key = value`` per metadata pair, literal."""
    if not batch.metadata:
        return Text("none", style="dim")
    text = Text()
    for index, (key, value) in enumerate(sorted(batch.metadata.items())):
        if index:
            text.append("\n")
        text.append(one_line(key, 64), style="bold")
        text.append(" = ")
        text.append(one_line(value, 512))
    return text


def files_text(batch: Batch, job: Job | None) -> Text:
    """The batch's file ids, and where each was saved if it was downloaded."""
    text = Text()
    downloads = job.downloads if job else {}
    for index, kind in enumerate(FILE_KINDS):
        if index:
            text.append("\n")
        text.append(f"{kind:>6}  ", style="bold")
        file_id = file_id_of(batch, kind)
        text.append(one_line(file_id) if file_id else "none", style="" if file_id else "dim")
        if kind in downloads:
            text.append(f"  saved: {one_line(downloads[kind])}", style="dim")
    if job is not None and job.input_path:
        text.append("\n local  ", style="bold")
        text.append(one_line(job.input_path), style="dim")
    return text


def errors_text(batch: Batch, lines: dict[int, str], note: str) -> Text:
    """Each validation error (code, message, param, line) with its input line."""
    text = Text()
    for index, item in enumerate(batch.errors[:SHOWN_ERRORS]):
        if index:
            text.append("\n\n")
        where = f"line {item.line}" if item.line is not None else "file"
        text.append(where, style="bold")
        text.append("  ")
        text.append(one_line(item.code or "error"), style="bold red")
        if item.param:
            text.append("  param ")
            text.append(one_line(item.param), style="cyan")
        text.append("\n  ")
        text.append(one_line(item.message or "", 500))
        if item.line is not None:
            text.append("\n  ")
            text.append(f"{item.line} │ ", style="dim")
            if item.line in lines:
                text.append(one_line(lines[item.line], INPUT_LINE_SHOWN), style="yellow")
            else:
                text.append(note or "input line not loaded", style="dim italic")
    hidden = len(batch.errors) - SHOWN_ERRORS
    if hidden > 0:
        text.append(f"\n\n… and {hidden} more", style="dim")
    return text


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
            "p",
            "set_price",
            "Price",
            id="detail.price",
            tooltip="Set the model's price",
            show=False,
        ),
        Binding("r", "refresh", "Refresh", id="detail.refresh", tooltip="Refresh now", show=False),
    ]

    def __init__(self, batch_id: str, batch: Batch | None = None) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.current_batch = batch
        self.job: Job | None = None
        self.input_lines: dict[int, str] = {}
        self._input_note = "loading input line…"
        self._inputs_requested = False
        self._failures = 0
        self._poll_timer: Timer | None = None
        self._transferring = False
        self._live = False  # True once the server answered this screen
        self._errors_first = False
        self.retrieves = 0  # how many times this screen asked the server (tests watch it)
        self._prices: dict[str, Price] | PriceError | None = None  # read once, see _price_table

    # -- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="detail-status")
        with VerticalScroll(id="detail-body"):
            yield Static("", id="detail-head")
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
        self._load_job()
        if self.current_batch is None and self.job is not None:
            self.current_batch = self.job.batch()
        self._paint()
        if self.current_batch is None:
            self._set_status("Loading…")
        else:
            self._set_status("Refreshing…")
        self.refresh_batch()

    # -- painting -------------------------------------------------------------------

    def _load_job(self) -> None:
        try:
            self.job = self.deck.registry.find_by_batch(self.batch_id)
        except (OSError, ValueError) as exc:
            self.job = None
            self.notify(f"Registry unreadable: {exc}", severity="warning", markup=False)

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
        sections = self.query(".section")
        sections.set(display=batch is not None)
        if batch is None:
            return
        self.query_one(StatusTimeline).show(batch)
        self.query_one("#detail-counts", Static).update(counts_text(batch))
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
            self._prices = read_prices()
        return self._prices

    async def _apply(self, batch: Batch) -> None:
        """Keep a fresh copy of the batch as the registry's snapshot (in a thread: it
        writes a file) and show it."""
        with contextlib.suppress(OSError, ValueError):  # a convenience: the screen is live
            await asyncio.to_thread(self.deck.registry.record_snapshot, batch)
        self.current_batch = batch
        self._paint()
        if batch.errors and not self._inputs_requested:
            self._inputs_requested = True
            self.load_input_lines(batch)

    # -- live refresh -----------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._poll_timer = self.set_timer(delay, self._poll)

    def _poll(self) -> None:
        self._poll_timer = None
        if not self.is_active:  # a modal or another screen is on top: wait
            self._schedule(POLL_SECONDS)
            return
        self.refresh_batch()

    @work(exclusive=True, group="detail-refresh")
    async def refresh_batch(self) -> None:
        """Retrieve the batch once; schedule the next retrieve unless it is final."""
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None
        self.retrieves += 1
        try:
            batch = await self.deck.client.retrieve_batch(self.batch_id)
        except errors.ApiError as exc:
            delay = RETRY_DELAYS[min(self._failures, len(RETRY_DELAYS) - 1)]
            if isinstance(exc, errors.RateLimitedError) and exc.retry_after:
                delay = max(delay, exc.retry_after)
            self._failures += 1
            if isinstance(exc, errors.NotFoundError):
                self._set_status(f"{exc.message}", error=True)
                return
            shown = "last seen" if self.current_batch is not None else "nothing to show yet"
            self._set_status(f"{exc.message} ({shown}; retrying in {delay:.0f}s)", error=True)
            self._schedule(delay)
            return
        self._failures = 0
        await self._apply(batch)
        self._live = True
        if batch.is_final:
            self._set_status(f"{batch.status} · final, not refreshed again (r to refresh)")
        else:
            self._set_status(f"{batch.status} · live, refreshed every {POLL_SECONDS:.0f}s")
            self._schedule(POLL_SECONDS)

    def action_refresh(self) -> None:
        self.refresh_batch()

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
                    self._input_note = "downloading the input file…"
                    self._paint()
                    await self.deck.client.download_file(batch.input_file_id, path)
            self.input_lines = await asyncio.to_thread(read_lines, path, wanted)
            self._input_note = "no such line in the input file"
        except errors.ApiError as exc:
            self._input_note = f"input file unavailable: {exc.message}"
        except OSError as exc:
            self._input_note = f"input file unreadable: {exc}"
        self._paint()

    # -- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide actions that do not apply to this batch (the footer shows the rest)."""
        batch = self.current_batch
        if action == "download":
            return batch is not None and file_id_of(batch, str(parameters[0])) is not None
        if action == "open_results":
            return batch is not None and bool(batch.output_file_id or batch.error_file_id)
        if action == "cancel_batch":
            return batch is not None and not batch.is_final and batch.status != "cancelling"
        if action == "edit":
            return batch is not None
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

        from tui.dialogs.confirm import ConfirmDialog

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
        except errors.ApiError as exc:
            self.notify(f"Cancel failed: {exc.message}", severity="error", markup=False)
            return
        await self._apply(batch)
        self.notify(f"Cancelling {one_line(self.batch_id)}", markup=False)
        self._set_status(f"{batch.status} · live, refreshed every {POLL_SECONDS:.0f}s")
        if not batch.is_final:
            self._schedule(POLL_SECONDS)

    def action_download(self, kind: str) -> None:
        if self._transferring:
            self.notify("A download is already running.", severity="warning")
            return
        self._transferring = True
        self.download_files((kind,))

    def action_open_results(self) -> None:
        """The results browser if this batchdeck has one, else download the results."""
        try:
            from tui.screens.results import ResultsScreen
        except ImportError:
            kinds = tuple(
                kind
                for kind in ("output", "error")
                if self.current_batch is not None and file_id_of(self.current_batch, kind)
            )
            if self._transferring:
                self.notify("A download is already running.", severity="warning")
            elif kinds:
                self.notify("No results browser yet: downloading the results instead.")
                self._transferring = True
                self.download_files(kinds)
            return
        self.app.push_screen(ResultsScreen(self.batch_id))

    @work(group="detail-transfer")
    async def download_files(self, kinds: tuple[str, ...]) -> None:
        """Save each of the batch's ``kinds`` files in its one place (the results store's)."""
        batch = self.current_batch
        if batch is None:
            self._transferring = False
            return
        progress = self.query_one(TransferProgress)
        try:
            for kind in kinds:
                file_id = file_id_of(batch, kind)
                if file_id is None:
                    continue
                info = await self.deck.client.retrieve_file(file_id)
                target = batch_file_path(batch.id, kind)
                progress.begin(f"{kind}: {target.name}", info.bytes or None)
                await download_once(
                    self.deck.client, file_id, target, progress=progress.report, info=info
                )
                self.job = await asyncio.to_thread(
                    record_download,
                    self.deck.registry,
                    batch,
                    kind,
                    target,
                    profile=self.deck.profile.name,
                )
                self.notify(f"Saved the {kind} file to {target}", markup=False)
        except errors.ApiError as exc:
            self.notify(f"Download failed: {exc.message}", severity="error", markup=False)
        except (OSError, ValueError) as exc:
            self.notify(f"Could not save the file: {exc}", severity="error", markup=False)
        finally:
            self._transferring = False
            progress.end()
            self._paint()

    def action_edit(self) -> None:
        from tui.dialogs.edit_job import EditJobDialog

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
            self.job = await asyncio.to_thread(save)
        except (OSError, ValueError, KeyError) as exc:
            self.notify(f"Could not save: {exc}", severity="error", markup=False)
            return
        self.notify("Description and tags saved")
        self._paint()

    def action_set_price(self) -> None:
        from tui.dialogs.price import PriceDialog

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
