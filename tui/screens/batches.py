"""The batches screen: every batch of the account, live, merged with the local registry.

- Start-up paints a screenful of the registry's last-seen snapshots (instant, works
  offline; :mod:`tui.screens.batches_start`), then lists the server page by page,
  updating rows in place and adding new ones; the older cached rows follow the
  first page.
- Then a refresh cycle runs every few seconds (:mod:`tui.core.poll`, driven by a
  :class:`~tui.screens.poller.ScreenPoller`): the next one is scheduled when the
  last has ended, so they never overlap; failures back off (a 429's
  ``Retry-After`` is honoured) and show in the status line; nothing is fetched
  while a modal or another screen covers this one; final batches are not asked
  about again.
- A batch seen running in this session that reaches a final state is announced
  (and rings the bell if that is on); registry jobs get their snapshot recorded,
  off the UI thread, when their status or counts change.
- Workers fetch and read; they post what they got as messages, and the handlers
  update the table (never a worker after an ``await``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from tui.core import first_page, poll, timefmt
from tui.core.errors import BatchdeckError
from tui.core.models import Batch, batch_description
from tui.core.text import one_line, plural
from tui.deck import styles_dir
from tui.screens.base import REPORTED, reason
from tui.screens.batches_start import CachedStart, counts_key
from tui.screens.poller import ScreenPoller
from tui.widgets.batch_table import BatchTable
from tui.widgets.footer import DeckFooter
from tui.widgets.header import DeckHeader

if TYPE_CHECKING:
    from tui.core.registry import Job

logger = logging.getLogger(__name__)

TIMES_EVERY = 15.0  # seconds between updates of the relative times on screen
SHOW_EVERY = 0.25  # seconds between table updates while a listing streams in
FILTER_DELAY = 0.25  # seconds of typing quiet before the text filter applies
FILTER_HINT = "filter: id, description, tag, metadata, model…"
SORT_TITLES = {
    "created": "created",
    "id": "id",
    "description": "description",
    "status": "status",
    "progress": "progress",
    "endpoint": "endpoint",
    "model": "model",
    "state": "time in state",
}


class BatchesScreen(CachedStart):
    """All batches, newest first (or as sorted), with filters."""

    CSS_PATH = str(styles_dir() / "batches.tcss")
    HELP_TITLE = "Batches"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter_text", "Filter", id="batches.filter"),
        Binding("s", "cycle_status", "Status", id="batches.status"),
        Binding("o", "cycle_sort", "Sort", id="batches.sort"),
        Binding("O", "reverse_sort", "Reverse sort", id="batches.reverse", show=False),
        Binding("m", "toggle_mine", "Mine", id="batches.mine"),
        Binding("A", "app.toggle_fleet", "All profiles", id="batches.fleet", show=False),
        Binding("space", "toggle_mark", "Mark", id="batches.mark", show=False),
        Binding("c", "cancel_batches", "Cancel batch", id="batches.cancel", show=False),
        Binding("t", "toggle_times", "Exact times", id="batches.times", show=False),
        Binding("r", "refresh", "Refresh", id="batches.refresh", show=False),
        Binding("v", "open_results", "Results", id="batches.results", show=False),
        Binding("escape", "clear_filters", "Clear filters", id="batches.clear", show=False),
    ]

    @dataclass(eq=False, repr=False)  # a message: never compared, never printed
    class Fetched(Message):
        """Batches as the server has them now (a page of the listing, or a refresh)."""

        batches: list[Batch]
        note: str = ""  # for the status line while a listing streams in
        prefetched: bool = False  # the start-up child's page (tui.core.first_page)

    @dataclass(eq=False, repr=False)  # a message: never compared, never printed
    class PollEnded(Message):
        """A refresh cycle (``full``: the whole listing) ended well."""

        requests: int
        full: bool
        missing: list[str] = field(default_factory=list)

    @dataclass(eq=False, repr=False)  # a message: never compared, never printed
    class PollFailed(Message):
        error: Exception

    @dataclass(eq=False, repr=False)  # a message: never compared, never printed
    class JobsRead(Message):
        """The registry's jobs, read again (``before``: the table's jobs back then)."""

        jobs: dict[str, Job]
        changed: bool
        before: dict[str, Job]

    @dataclass(eq=False, repr=False)  # a message: never compared, never printed
    class CancelsEnded(Message):
        """Cancels asked for: the batches as the server returned them, and failures."""

        batches: list[Batch]
        failures: list[tuple[str, Exception]]

    def __init__(self) -> None:
        super().__init__()
        self.poller = ScreenPoller(self, self._start_poll)
        self.watcher = poll.Watcher()
        self.requests_last_cycle = 0
        self.cycles = 0
        self._loaded = False  # a full listing has succeeded since start (or reload)
        self._filter_timer: Timer | None = None
        self._gone: set[str] = set()
        self._message = ""
        self._error = False

    def compose(self) -> ComposeResult:
        yield DeckHeader()
        yield Static("", id="status-line")
        yield BatchTable(id="batches")
        yield Static("", id="detail-line")
        yield DeckFooter(compact=True)

    def on_mount(self) -> None:
        self.paint_cached()
        self.set_interval(TIMES_EVERY, self.table.refresh_times)
        self.call_after_refresh(self.action_refresh)  # the cached view is on screen first

    # -- loading -------------------------------------------------------------------

    async def _read_registry(self, before: dict[str, Job]) -> None:
        """Read the registry again (in a thread; cheap when nothing changed: it checks
        a change token) for jobs added or edited meanwhile (by Compose, a retry,
        ``d`` in the inspector): their descriptions show, "Mine" includes them,
        their snapshots get recorded."""

        def read() -> tuple[dict[str, Job], bool]:
            jobs = self._registry_jobs()
            return jobs, jobs != before and _shown_fields(jobs) != _shown_fields(before)

        try:
            jobs, changed = await asyncio.to_thread(read)
        except REPORTED as exc:  # keep the jobs known so far
            logger.warning("registry unreadable: %s", exc)
            return
        self.post_message(self.JobsRead(jobs, changed, before))

    def on_batches_screen_jobs_read(self, message: JobsRead) -> None:
        """Take the jobs read; rows are redrawn only if what they show or filter on
        changed."""
        if self.table.jobs is not message.before:  # another read won meanwhile
            return
        self.table.set_jobs(message.jobs)
        if message.changed:
            self.table.rebuild()

    def on_screen_resume(self) -> None:
        """Back from the inspector (or any screen): show its edits at once."""
        if self._loaded:
            self.take_registry_changes(self.table.jobs)

    @work(exclusive=True, group="batches-jobs", description="registry changes")
    async def take_registry_changes(self, before: dict[str, Job]) -> None:
        await self._read_registry(before)

    def reload(self) -> None:
        """Start again (another profile): cached view, then a full listing."""
        self._loaded = False
        self.poller.backoff.success()
        self.watcher = poll.Watcher()
        self._gone.clear()
        self.paint_cached(wait_for_listing=False)
        self.action_refresh()

    def action_refresh(self) -> None:
        """Fetch now (a full listing until one has succeeded, then a refresh cycle)."""
        self.poller.now()

    def _start_poll(self) -> None:
        """The poller's poll: what to ask about is read here, the asking is a worker."""
        table = self.table
        active = [i for i, b in table.batches.items() if not b.is_final and i not in self._gone]
        self.poll_now(self._loaded, active, table.jobs)

    @work(exclusive=True, group="batches-poll")
    async def poll_now(self, loaded: bool, active: list[str], jobs: dict[str, Job]) -> None:
        """One refresh cycle (``loaded``: of the ``active`` ids, else the full listing);
        the poller schedules the next when :class:`PollEnded` or :class:`PollFailed`
        arrives."""
        try:
            # the page a child process listed during start-up (tui.core.first_page)
            first = None if loaded else await first_page.take(self.deck.client)
            if first is None:
                await self.deck.prepare_client()  # import the SDK off the event loop
            await self.jobs_ready.wait()  # descriptions and tags for the rows it adds
            if loaded:
                await self._read_registry(jobs)
                result = await poll.refresh_active(self.deck.client, active)
                self.post_message(self.Fetched(result.batches))
                self.post_message(self.PollEnded(result.requests, False, result.missing))
            else:
                await self._full_listing(first)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # said in the status line; polling goes on
            if not isinstance(exc, BatchdeckError):
                logger.exception("refreshing the batches failed")
            self.post_message(self.PollFailed(exc))

    async def _full_listing(self, first: first_page.FirstPage | None = None) -> None:
        """Every batch, page by page; the next page is fetched while this one is shown.

        The first page is shown at once, later ones at most every
        :data:`SHOW_EVERY` seconds: each change of the table costs a repaint of
        what is on screen, which would otherwise take longer than the listing.
        ``first``: the first page as the start-up child listed it, posted before the
        SDK loads.
        """
        loop = asyncio.get_running_loop()
        seen = requests = 0
        waiting: list[Batch] = []
        shown_at = 0.0
        client = self.deck.client
        if first is None:
            pages = client.iter_batch_pages()
        else:
            requests, seen, shown_at = 1, len(first.batches), loop.time()
            # a screenful first: the rows below it wait for that frame (each costs its
            # cells, and the frame the page; ~1/3 of 100 rows fit a 36-line terminal)
            screenful = max(self.table.size.height, 1)
            top, rest = first.batches[:screenful], first.batches[screenful:]
            self.post_message(self.Fetched(top, _loading(seen), prefetched=True))
            await first_page.settled(client)  # until that frame is drawn
            if rest:
                self.post_message(self.Fetched(rest, _loading(seen)))
            await self.deck.prepare_client()
            after = first.after
            pages = _no_pages() if after is None else client.iter_batch_pages(after=after)
        async for page in _prefetched(pages):
            requests += 1
            seen += len(page)
            waiting.extend(page)
            if requests == 1 or loop.time() - shown_at >= SHOW_EVERY:
                self.post_message(self.Fetched(waiting, _loading(seen)))
                waiting = []
                shown_at = loop.time()
        if waiting:
            self.post_message(self.Fetched(waiting))
        self.post_message(self.PollEnded(requests, True))

    def on_batches_screen_fetched(self, message: Fetched) -> None:
        """Show fetched batches, announce finished ones, record registry snapshots."""
        table = self.table
        table.put(message.batches)
        table.finish_page()
        self.show_rest_of_cache()  # the first page is on screen: the older cached rows may come
        from tui.screens.batch_alerts import notify_batches  # not needed for the first frame

        notify_batches(self, message.batches, table.jobs, self.watcher.watching)
        to_record: list[Batch] = []
        for batch in message.batches:
            if self.watcher.finished(batch, table.jobs.get(batch.id)):
                self._announce(batch)
            if batch.id in table.jobs and self._recorded.get(batch.id) != counts_key(batch):
                to_record.append(batch)
        self._refresh_detail()
        if message.note:
            self._say(message.note)
        if message.prefetched:  # once it is drawn the SDK may load (the GIL)
            # through the table's queue: its own refresh, then the screen's frame
            self.table.call_after_refresh(first_page.shown, self.deck.client)
        if to_record:
            self.record_snapshots(to_record)

    def on_batches_screen_poll_ended(self, message: PollEnded) -> None:
        self.requests_last_cycle = message.requests
        self._gone.update(message.missing)
        self._loaded = self._loaded or message.full
        self.cycles += 1
        self._say(self._summary())
        table = self.table
        active = any(not b.is_final for i, b in table.batches.items() if i not in self._gone)
        self.poller.succeeded(poll.ACTIVE_INTERVAL if active else poll.IDLE_INTERVAL)

    def on_batches_screen_poll_failed(self, message: PollFailed) -> None:
        exc = message.error
        delay = self.poller.failed(exc)
        self.show_rest_of_cache()
        self._say(f"{reason(exc)}  (retrying in {timefmt.duration(delay)})", error=True)

    @work(group="batches-record", description="registry snapshots")
    async def record_snapshots(self, batches: list[Batch]) -> None:
        await asyncio.to_thread(self._record, batches)

    def _record(self, batches: list[Batch]) -> None:
        """Keep the registry's cached view current (runs in a thread)."""
        for batch in batches:
            try:
                self.deck.registry.record_snapshot(batch)
            except REPORTED:
                continue  # the cached view is a convenience; never fail the refresh
            self._recorded[batch.id] = counts_key(batch)

    def _announce(self, batch: Batch) -> None:
        description = batch_description(batch, self.table.jobs.get(batch.id))
        name = f"{batch.id} ({description})" if description else batch.id
        self.app.notify(
            one_line(f"Batch {name} is {batch.status}.", 200),
            title="Batch finished",
            severity="information" if batch.status == "completed" else "warning",
            markup=False,
        )
        if self.deck.bell_enabled:
            self.app.bell()

    # -- status lines --------------------------------------------------------------

    def _summary(self) -> str:
        table = self.table
        total = len(table.batches)
        parts = [plural(total, "batch", "batches")]
        active = sum(1 for b in table.batches.values() if not b.is_final)
        if active:
            parts.append(f"{active} active")
        shown = table.row_count + (len(table._pending) if table.loading_rows else 0)
        filters = []
        if table.status_filter != "all":
            filters.append(table.status_filter)
        if table.text_filter:
            filters.append(f"“{table.text_filter}”")
        if table.only_mine:
            filters.append("mine")
        if filters:
            parts.append(f"showing {shown}: {', '.join(filters)}")
        if marked := len(table.marked_shown()):
            parts.append(f"{marked} marked (c: cancel, Esc: unmark)")
        arrow = "↓" if table.sort_reverse else "↑"
        parts.append(f"sort {SORT_TITLES[table.sort_column]} {arrow}")
        return " · ".join(parts)

    def say_cached(self, message: str) -> None:
        self._say(message)

    def _say(self, message: str, *, error: bool = False) -> None:
        self._message, self._error = message, error
        line = self.query_one("#status-line", Static)
        line.update(Text(one_line(message)))
        line.set_class(error, "-error")

    def _refresh_detail(self) -> None:
        table = self.table
        batch_id = table.selected_id()
        batch = table.batches.get(batch_id) if batch_id else None
        line = self.query_one("#detail-line", Static)
        if batch is None:
            line.update("")
            return
        now = timefmt.now()
        job = table.jobs.get(batch.id)
        parts = [batch.id, f"created {timefmt.exact(batch.created_at)}"]
        if table.narrow:
            parts.append(batch.endpoint.removeprefix("/v1/"))
            if batch.model:
                parts.append(batch.model)
        flagged = poll.flags(batch, now)
        parts.extend(f"⚠ {flag}" for flag in flagged)
        if job is not None:
            if job.tags:
                parts.append(" ".join(f"#{tag}" for tag in job.tags))
            if job.input_path:
                parts.append(job.input_path)
        line.update(Text(one_line(" · ".join(parts))))
        line.set_class(bool(flagged), "-flagged")

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._refresh_detail()

    # -- opening -------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.open_batch(str(event.row_key.value))

    def open_batch(self, batch_id: str | None = None) -> None:
        """Push the batch inspector for ``batch_id`` (default: the selected row)."""
        batch_id = batch_id or self.table.selected_id()
        if batch_id is None:
            self.app.notify("No batch selected.", severity="warning")
            return
        from tui.screens.batch_detail import BatchDetailScreen  # not needed at start-up

        self.app.push_screen(BatchDetailScreen(batch_id, self.table.batches.get(batch_id)))

    def action_open_results(self) -> None:
        batch_id = self.table.selected_id()
        if batch_id is None:
            self.app.notify("No batch selected.", severity="warning")
            return
        self.deck.open_results(batch_id)

    # -- marks and cancel ----------------------------------------------------------

    def action_toggle_mark(self) -> None:
        """Space: mark the highlighted batch (cancel acts on every marked one)."""
        batch_id = self.table.selected_id()
        if batch_id is not None:
            self.table.toggle_mark(batch_id)
            self._say(self._summary())

    def cancel_targets(self) -> list[str]:
        """The marked batches on show, else the highlighted one."""
        table = self.table
        chosen = table.marked_shown()
        if not chosen and (selected := table.selected_id()) is not None:
            chosen = [selected]
        return chosen

    def action_cancel_batches(self) -> None:
        """Cancel the marked batches (or the highlighted one), asking once."""
        batches = self.table.batches
        chosen = self.cancel_targets()
        running = [i for i in chosen if i in batches and _cancellable(batches[i])]
        if not running:
            what = "the marked batches are" if len(chosen) > 1 else "this batch is"
            self.app.notify(
                f"Nothing to cancel: {what} finished or cancelling." if chosen else "No batch.",
                severity="warning",
            )
            return
        names = ", ".join(one_line(i) for i in running[:5]) if len(running) > 1 else ""
        more = f" and {len(running) - 5} more" if len(running) > 5 else ""
        skipped = len(chosen) - len(running)
        note = f"{skipped} of the marked already finished: left alone. " if skipped else ""
        question = (
            f"Cancel batch {one_line(running[0])}?"
            if len(running) == 1
            else f"Cancel {len(running)} batches?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.cancel_now(running)

        from tui.dialogs.confirm import ConfirmDialog  # not needed at start-up

        self.app.push_screen(
            ConfirmDialog(
                question,
                (f"{names}{more}. " if names else "")
                + f"{note}Requests already running finish; the rest are dropped. "
                "Partial results stay available.",
                yes="Cancel " + ("batch" if len(running) == 1 else f"{len(running)} batches"),
                no="Keep running",
            ),
            answered,
        )

    @work(exclusive=True, group="batches-cancel", description="cancel batches")
    async def cancel_now(self, batch_ids: list[str]) -> None:
        done: list[Batch] = []
        failures: list[tuple[str, Exception]] = []
        for batch_id in batch_ids:
            try:
                done.append(await self.deck.client.cancel_batch(batch_id))
            except BatchdeckError as exc:
                failures.append((batch_id, exc))
        self.post_message(self.CancelsEnded(done, failures))

    def on_batches_screen_cancels_ended(self, message: CancelsEnded) -> None:
        self.post_message(self.Fetched(message.batches))
        self.table.clear_marks()
        self._say(self._summary())
        if message.batches:
            count = len(message.batches)
            self.app.notify(f"Cancelling {count} batch{'es' if count > 1 else ''}.")
        for batch_id, exc in message.failures:
            self.post_message(self.Failed(f"Cancel {one_line(batch_id)} failed", exc))
        self.action_refresh()

    # -- filters and order ---------------------------------------------------------

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = str(event.column_key.value)
        self.sort_by(
            column,
            reverse=(not self.table.sort_reverse) if column == self.table.sort_column else None,
        )

    def sort_by(self, column: str, *, reverse: bool | None = None) -> None:
        """Order the rows by ``column`` (one of :data:`poll.SORT_COLUMNS`)."""
        table = self.table
        table.sort_column = column
        table.sort_reverse = column in ("created", "state") if reverse is None else reverse
        table.resort()
        self._say(self._summary())

    def action_cycle_sort(self) -> None:
        columns = poll.SORT_COLUMNS
        current = columns.index(self.table.sort_column)
        self.sort_by(columns[(current + 1) % len(columns)])

    def action_reverse_sort(self) -> None:
        self.sort_by(self.table.sort_column, reverse=not self.table.sort_reverse)

    def set_status_filter(self, status: str) -> None:
        """Show only batches of ``status`` (one of :data:`poll.STATUS_FILTERS`)."""
        self.table.status_filter = status
        self._apply_filters()

    def action_cycle_status(self) -> None:
        filters = poll.STATUS_FILTERS
        current = filters.index(self.table.status_filter)
        self.set_status_filter(filters[(current + 1) % len(filters)])

    def action_toggle_mine(self) -> None:
        self.table.only_mine = not self.table.only_mine
        self._apply_filters()

    def action_toggle_times(self) -> None:
        self.table.toggle_exact()

    def _filter_box(self) -> Input | None:
        """The filter field, once ``/`` has mounted it (the first frame never shows
        it: styling and mounting it at start-up only delayed that frame)."""
        return next(self.query("#filter").results(Input), None)

    async def action_filter_text(self) -> None:
        box = self._filter_box()
        if box is None:
            box = Input(placeholder=FILTER_HINT, id="filter")
            await self.mount(box, before="#detail-line")
        box.add_class("-shown")
        box.focus()

    def action_clear_filters(self) -> None:
        """Escape: drop the marks, else the filters, else close the filter box."""
        table = self.table
        if table.marked:
            table.clear_marks()
            self._say(self._summary())
            return
        box = self._filter_box()
        if not (table.text_filter or table.only_mine or table.status_filter != "all"):
            if box is not None:
                box.remove_class("-shown")
            table.focus()
            return
        table.status_filter, table.text_filter, table.only_mine = "all", "", False
        if box is not None:
            box.value = ""
            box.remove_class("-shown")
        self.table.focus()
        self._apply_filters()

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_text_filter)

    def _apply_text_filter(self) -> None:
        box = self._filter_box()
        value = box.value.strip() if box is not None else ""
        if value != self.table.text_filter:
            self.table.text_filter = value
            self._apply_filters()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self._apply_text_filter()
        box = self._filter_box()
        if box is not None and not box.value:
            box.remove_class("-shown")
        self.table.focus()

    def _apply_filters(self) -> None:
        self.table.rebuild()
        if not self._error:
            self._say(self._summary())
        self._refresh_detail()


def _cancellable(batch: Batch) -> bool:
    return not batch.is_final and batch.status != "cancelling"


def _shown_fields(jobs: dict[str, Job]) -> dict[str, tuple[object, ...]]:
    """What the table shows or filters on of each job (not its snapshot)."""
    return {batch_id: (job.description, job.tags, job.input_path) for batch_id, job in jobs.items()}


def _loading(seen: int) -> str:
    """The status line while a listing streams in."""
    return f"{plural(seen, 'batch', 'batches')} · loading…"


async def _no_pages() -> AsyncIterator[list[Batch]]:
    return
    yield


async def _prefetched(
    pages: AsyncIterator[list[Batch]], ahead: int = 2
) -> AsyncIterator[list[Batch]]:
    """``pages``, with up to ``ahead`` pages fetched while the caller works on one."""
    queue: asyncio.Queue[list[Batch] | BaseException | None] = asyncio.Queue(maxsize=ahead)

    async def fetch() -> None:
        try:
            async for page in pages:
                await queue.put(page)
        except Exception as exc:  # handed to the reader, who raises it
            await queue.put(exc)
            return
        await queue.put(None)

    fetcher = asyncio.create_task(fetch())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        fetcher.cancel()
