"""The results screen: every request of a batch joined to what came back.

Opening it downloads the batch's output, error and input files once (progress in
the status line; later opens, also offline, use the local copies) with those of its
retries, then indexes them in a thread: rows appear while the files are read. The
list is virtual (:class:`~tui.widgets.results_list.ResultsList`), so filtering
50,000 rows swaps a list and a row's detail reads its two lines by offset.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Input, Select, Static

from tui.core.downloads import progress_line
from tui.core.errors import BatchdeckError
from tui.core.results import (
    DEFAULT_RETRY,
    OUTCOME_LABELS,
    Attempt,
    IndexProgress,
    LineReader,
    Outcome,
    ResultIndex,
    ResultRow,
    RetryLinks,
    export,
    load_source,
    open_attempts,
    retry_counts,
    retry_links,
    search,
    source_of,
)
from tui.core.text import one_line, plural
from tui.core.throughput import Pace
from tui.deck import styles_dir
from tui.screens.base import REPORTED, DeckScreen, reason
from tui.widgets.header import DeckHeader
from tui.widgets.result_detail import ResultDetail
from tui.widgets.results_list import ResultsList, header_line

if TYPE_CHECKING:
    from tui.core.registry import Registry
    from tui.dialogs.results_export import ExportRequest

logger = logging.getLogger(__name__)

FAILED = "failed"  # the outcome filter for every failure (HTTP and request errors)
OUTCOME_FILTERS: list[tuple[str, str]] = [
    ("All outcomes", "all"),
    ("Failed (any)", FAILED),
    *((f"Only {label}", outcome.value) for outcome, label in OUTCOME_LABELS.items()),
]


FAILED_OUTCOMES = frozenset(
    {
        Outcome.HTTP_ERROR,
        Outcome.REQUEST_ERROR,
        Outcome.NOT_RUN_CANCELLED,
        Outcome.NOT_RUN_EXPIRED,
    }
)


def matches_outcome(row: ResultRow, wanted: str) -> bool:
    if wanted == "all":
        return True
    if wanted == FAILED:
        return row.outcome in FAILED_OUTCOMES
    return row.outcome.value == wanted


class ResultsScreen(DeckScreen):
    """The results of one batch (and of its retries, merged)."""

    CSS_PATH = str(styles_dir() / "results.tcss")
    DEFAULT_CSS = """
    #results-links { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        # the footer (80 columns) shows Export, Retry failed and Reload; the rest are in
        # F1 and the palette (Escape goes back on every screen)
        Binding("escape", "back", "Back", id="results.back", show=False),
        Binding("x", "export", "Export", id="results.export"),
        Binding("R", "retry", "Retry failed", id="results.retry"),
        Binding("r", "reload", "Reload", id="results.reload"),
        Binding("j", "toggle_json", "JSON", id="results.json", show=False),
        Binding("slash", "focus_search", "Search", id="results.search", show=False),
        Binding("i", "focus_id", "Filter id", id="results.filter_id", show=False),
        Binding("o", "cycle_outcome", "Outcome", id="results.outcome", show=False),
        Binding("v", "view_all", "View all", id="results.view_all", show=False),
        Binding("P", "open_parent", "Parent", id="results.parent", show=False),
    ]

    # What the workers hand back; handled (painted) only while the screen is mounted.
    @dataclass
    class Status(Message, bubble=False):
        """A line for the status bar (download progress, or why something failed)."""

        text: str
        error: bool = False

    @dataclass
    class Unavailable(Message, bubble=False):
        """The results cannot be opened (not ready, no files, ...): ``text`` says why."""

        text: str

    @dataclass
    class Told(Message, bubble=False):
        """A notification: an export or a retry went well (failures post ``Failed``)."""

        text: str

    @dataclass
    class Opened(Message, bubble=False):
        """The batch's files (and its retries') are local: index them. ``links`` ties
        it to its retries both ways; ``source`` is the rows file it was composed from."""

        attempts: list[Attempt]
        notes: list[str]
        links: RetryLinks
        source: Path | None

    @dataclass
    class Indexed(Message, bubble=False):
        """One step of indexing ``index``."""

        index: ResultIndex
        step: IndexProgress

    @dataclass
    class Linked(Message, bubble=False):
        """The batch's retry links, read again (a retry was just submitted)."""

        links: RetryLinks

    @dataclass
    class Searched(Message, bubble=False):
        """The rows of ``index`` whose request or answer contains ``text``."""

        index: ResultIndex
        text: str
        found: set[ResultRow]

    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.index: ResultIndex | None = None
        self._all: list[ResultRow] = []
        self._matches: set[ResultRow] | None = None  # rows the text search found
        self._reader: LineReader | None = None
        self._notes: list[str] = []
        self.ready = False  # every row is listed in input order (tests wait on it)
        self._percent = 0
        self.links = RetryLinks()
        self.source: Path | None = None  # the rows file the batch was composed from
        self.unavailable: str | None = None  # why the results could not be opened

    def palette_commands(self) -> Iterable[SystemCommand]:
        """This screen's actions for the command palette (see tui.palette)."""
        yield SystemCommand(
            "Results: search", "Search requests and answers", self.action_focus_search
        )
        yield SystemCommand(
            "Results: filter by custom_id", "Type part of an id", self.action_focus_id
        )
        for label, value in OUTCOME_FILTERS:
            yield SystemCommand(
                f"Results: {label.lower()}", "Filter by outcome", partial(self._set_outcome, value)
            )
        yield SystemCommand(
            "Results: toggle JSON", "The whole request and result lines", self.action_toggle_json
        )
        yield SystemCommand(
            "Results: export", "Write the rows to .csv or .jsonl", self.action_export
        )
        yield SystemCommand(
            "Results: retry failed",
            "Choose which failed, expired or missing requests to submit again",
            self.action_retry,
        )
        yield SystemCommand("Results: reload", "Open again (with new retries)", self.action_reload)
        yield SystemCommand(
            "Results: view all", "The shown row's lines, uncut, in the pager", self.action_view_all
        )
        yield SystemCommand(
            "Results: open the batch this retries", "Its parent's results", self.action_open_parent
        )

    def _set_outcome(self, value: str) -> None:
        self.query_one("#results-outcome", Select).value = value

    def compose(self) -> ComposeResult:
        yield DeckHeader()
        yield Static("", id="results-status")
        yield Static("", id="results-links")
        with Horizontal(id="results-filters"):
            yield Select(
                OUTCOME_FILTERS, value="all", allow_blank=False, id="results-outcome", compact=True
            )
            yield Input(placeholder="custom_id contains…", id="results-id", compact=True)
            yield Input(
                placeholder="search requests and answers…", id="results-search", compact=True
            )
        yield Static("", id="results-header")
        yield ResultsList(id="results-list")
        yield ResultDetail(id="results-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ResultDetail).display = False
        self._show_links()
        self.query_one(ResultsList).focus()
        self._set_status(f"Opening the results of {self.batch_id}…")
        self.load()

    def on_resize(self) -> None:
        self.query_one("#results-header", Static).update(
            Text(header_line(self.size.width - 2), style="bold")
        )

    def on_unmount(self) -> None:
        if self._reader is not None:
            self._reader.close()

    # -- status ---------------------------------------------------------------------

    def _set_status(self, message: str, *, error: bool = False) -> None:
        line = self.query_one("#results-status", Static)
        line.update(Text(one_line(message)))
        line.set_class(error, "-error")

    def _summary(self) -> str:
        index = self.index
        if index is None:
            return ""
        counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        for row in self._all:
            counts[row.outcome] += 1
        parts = [f"{counts[o]} {OUTCOME_LABELS[o]}" for o in Outcome if counts[o]]
        shown = len(self.query_one(ResultsList).rows)
        head = f"{one_line(self.batch_id)} · {plural(len(self._all), 'row')}"
        if shown != len(self._all):
            head += f" ({shown} shown)"
        tail = "" if index.done else f" · indexing {self._percent}%"
        if len(index.attempts) > 1:
            retries = len(index.attempts) - 1
            tail += f" · merged with {retries} retr{'y' if retries == 1 else 'ies'}"
        return f"{head}: {', '.join(parts) or 'nothing yet'}{tail}"

    def _show_links(self) -> None:
        """The retry links on their own line, shown only when there are some."""
        line = self.query_one("#results-links", Static)
        text = self.links.describe()
        if self.links.retry_of:
            text += " (P: its results)"
        line.update(Text(one_line(text)))
        line.display = bool(text)

    def _refresh_status(self) -> None:
        if self.index is None:  # still opening, or why it failed: that line stays
            return
        message = self._summary()
        if self._notes:
            message += " · " + "; ".join(self._notes)
        self._set_status(message)

    # -- loading ----------------------------------------------------------------------

    @work(exclusive=True, group="results-load")
    async def load(self) -> None:
        """Download what is not local yet; the handler of :class:`Opened` indexes it."""
        batch_id, paces = self.batch_id, dict[str, Pace]()

        def progress(kind: str, done: int, total: int | None) -> None:
            share = progress_line(paces.setdefault(kind, Pace()), done, total)
            self.post_message(self.Status(f"Downloading the {kind} file of {batch_id}: {share}"))

        try:
            opened = await open_attempts(
                self.deck.client, batch_id, registry=self.deck.registry, progress=progress
            )
            links, source = await asyncio.to_thread(_links_and_source, self.deck.registry, batch_id)
        except BatchdeckError as exc:  # not ready, no files, the job left the registry...
            self.post_message(self.Unavailable(f"Cannot open the results: {exc}"))
        except OSError as exc:
            self.post_message(self.Unavailable(f"Cannot save the results: {exc}"))
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("opening the results of %s failed", batch_id)
            self.post_message(self.Unavailable(f"Cannot open the results: {reason(exc)}"))
        else:
            self.post_message(self.Opened(opened.attempts, opened.notes, links, source))

    @on(Opened)
    def _opened(self, event: Opened) -> None:
        self.links, self.source = event.links, event.source
        self._show_links()
        self._notes = list(event.notes)
        if event.attempts[0].input is None:
            self._notes.append("input file unavailable: missing requests cannot be listed")
        self.start_index(event.attempts)

    def start_index(self, attempts: list[Attempt]) -> None:
        """Index ``attempts`` (the batch first, then its retries) from scratch."""
        if self._reader is not None:
            self._reader.close()
        self.index = ResultIndex(attempts)
        self._reader = LineReader(self.index)
        self._all = []
        self._matches = None
        self.ready = False
        self.query_one(ResultsList).set_rows([])
        self.index_rows(self.index)

    @work(exclusive=True, group="results-index")
    async def index_rows(self, index: ResultIndex) -> None:
        """Index in a thread that posts each step as :class:`Indexed`; a new index or
        leaving the screen cancels this worker, and the thread stops at its next step."""
        stop = threading.Event()

        def build() -> None:
            for step in index.build():
                if stop.is_set() or not self.post_message(self.Indexed(index, step)):
                    return

        try:
            await asyncio.to_thread(build)
        except asyncio.CancelledError:
            stop.set()
            raise
        except (BatchdeckError, OSError) as exc:
            self.post_message(self.Status(f"Cannot read the results: {exc}", error=True))
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("indexing the results failed")
            self.post_message(self.Status(f"Cannot index the results: {reason(exc)}", error=True))

    @on(Indexed)
    def _indexed(self, event: Indexed) -> None:
        index, step = event.index, event.step
        if index is not self.index:
            return
        self._percent = step.bytes_done * 100 // step.bytes_total if step.bytes_total else 100
        listing = self.query_one(ResultsList)
        if step.final:  # rows now in input order; the cursor stays where the user put it
            self._all = list(index.rows)
            self.ready = True
            self._apply_filters(follow=listing.cursor != 0)
            if self._search_text():
                self._search(self._search_text())
        else:
            self._all.extend(step.new_rows)
            if self._filters_active():
                listing.append_rows([r for r in step.new_rows if self._keep(r)])
            else:
                listing.append_rows(list(step.new_rows))
            if step.updated:
                listing.refresh()
        self._refresh_status()

    @on(Status)
    def _status_posted(self, event: Status) -> None:
        self._set_status(event.text, error=event.error)

    @on(Unavailable)
    def _unavailable(self, event: Unavailable) -> None:
        self.unavailable = event.text
        self._set_status(event.text, error=True)

    def _indexed_or_say_why(self) -> ResultIndex | None:
        """The finished index, or None after telling why there is none (yet)."""
        if self.index is not None and self.index.done:
            return self.index
        why = self.unavailable or "The results are still being indexed."
        self.notify(why, severity="warning", markup=False)
        return None

    @on(Linked)
    def _linked(self, event: Linked) -> None:
        self.links = event.links
        self._show_links()

    @on(Told)
    def _told(self, event: Told) -> None:
        self.notify(event.text, markup=False)

    # -- filters ------------------------------------------------------------------------

    def _outcome(self) -> str:
        value = self.query_one("#results-outcome", Select).value
        return value if isinstance(value, str) else "all"

    def _id_text(self) -> str:
        return self.query_one("#results-id", Input).value.strip().lower()

    def _search_text(self) -> str:
        return self.query_one("#results-search", Input).value.strip()

    def _filters_active(self) -> bool:
        return self._outcome() != "all" or bool(self._id_text()) or self._matches is not None

    def _keep(self, row: ResultRow) -> bool:
        wanted = self._id_text()
        return (
            matches_outcome(row, self._outcome())
            and (not wanted or wanted in row.custom_id.lower())
            and (self._matches is None or row in self._matches)
        )

    def _apply_filters(self, *, follow: bool = True) -> None:
        listing = self.query_one(ResultsList)
        rows = (
            [r for r in self._all if self._keep(r)] if self._filters_active() else list(self._all)
        )
        listing.empty_text = "No rows match the filters." if self._all else ""
        listing.set_rows(rows, follow=follow)
        self._refresh_status()

    @on(Select.Changed, "#results-outcome")
    def _outcome_changed(self) -> None:
        self._apply_filters()

    @on(Input.Changed, "#results-id")
    def _id_changed(self) -> None:
        self._apply_filters()

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "results-search":
            self._start_search()
        self.query_one(ResultsList).focus()

    @on(Input.Changed, "#results-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if not event.value.strip():
            self._matches = None
            self._apply_filters()

    def _start_search(self) -> None:
        text = self._search_text()
        if not text:
            self._matches = None
            self._apply_filters()
        elif self.index is not None and self.index.done:
            self._search(text)
        else:
            self.notify("Searching once the files are indexed.")

    def _search(self, text: str) -> None:
        self._set_status(f"Searching for {one_line(text, 40)}…")
        self.run_search(text)

    @work(exclusive=True, group="results-search")
    async def run_search(self, text: str) -> None:
        index = self.index
        if index is None:
            return
        try:
            found = await asyncio.to_thread(search, index, text)
        except (BatchdeckError, OSError) as exc:
            self.post_message(self.Status(f"Search failed: {exc}", error=True))
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("searching the results failed")
            self.post_message(self.Status(f"Search failed: {reason(exc)}", error=True))
        else:
            self.post_message(self.Searched(index, text, found))

    @on(Searched)
    def _searched(self, event: Searched) -> None:
        if event.index is self.index and event.text == self._search_text():
            self._matches = event.found
            self._apply_filters()

    # -- detail ---------------------------------------------------------------------------

    @on(ResultsList.Selected)
    def _selected(self, event: ResultsList.Selected) -> None:
        detail = self.query_one(ResultDetail)
        detail.display = not detail.display
        if detail.display:
            self._show_detail(event.row)

    @on(ResultsList.Highlighted)
    def _highlighted(self, event: ResultsList.Highlighted) -> None:
        detail = self.query_one(ResultDetail)
        if detail.display:
            if event.row is None:
                detail.clear()
            else:
                self._show_detail(event.row)

    def _show_detail(self, row: ResultRow) -> None:
        reader, index = self._reader, self.index
        if reader is None or index is None:
            return
        try:
            request_raw = reader.request_bytes(row)
            result_raw = reader.result_bytes(row)
        except OSError as exc:
            self.notify(f"Cannot read the line: {exc}", severity="error", markup=False)
            return
        request: Any = _decode(request_raw)
        result: Any = _decode(result_raw)
        where = ""
        if row.source >= 0:
            source = index.sources[row.source]
            where = f"{source.kind} file line {row.line}"
            if source.attempt:
                where += f" of retry {source.batch_id}"
        self.query_one(ResultDetail).show(row, request, request_raw, result, result_raw, where)

    def action_toggle_json(self) -> None:
        detail = self.query_one(ResultDetail)
        detail.show_json = not detail.show_json
        row = self.query_one(ResultsList).current
        if not detail.display:
            detail.display = True
        if row is not None:
            self._show_detail(row)

    def action_back(self) -> None:
        detail = self.query_one(ResultDetail)
        if self.focused is not None and isinstance(self.focused, Input):
            self.query_one(ResultsList).focus()
        elif detail.display:
            detail.display = False
        else:
            self.app.pop_screen()

    def action_focus_search(self) -> None:
        self.query_one("#results-search", Input).focus()

    def action_focus_id(self) -> None:
        self.query_one("#results-id", Input).focus()

    def action_cycle_outcome(self) -> None:
        """The next outcome filter that shows some row (and back to all)."""
        select = self.query_one("#results-outcome", Select)
        values = [
            value
            for _, value in OUTCOME_FILTERS
            if value in ("all", self._outcome())
            or any(matches_outcome(row, value) for row in self._all)
        ]
        current = values.index(self._outcome()) if self._outcome() in values else 0
        select.value = values[(current + 1) % len(values)]

    def action_view_all(self) -> None:
        self.query_one(ResultDetail).action_view_all()

    def action_open_parent(self) -> None:
        parent = self.links.retry_of
        if parent is None:
            self.notify("This batch is not a retry of another.", markup=False)
            return
        self.app.push_screen(ResultsScreen(parent))

    def action_reload(self) -> None:
        self.unavailable = None
        self._set_status(f"Reopening the results of {self.batch_id}…")
        self.load()

    # -- export -------------------------------------------------------------------------------

    def action_export(self) -> None:
        from tui.dialogs.results_export import ExportDialog

        if self._indexed_or_say_why() is None:
            return
        default = Path.cwd() / f"{_safe(self.batch_id)}-results.csv"
        total, shown = len(self._all), len(self.query_one(ResultsList).rows)
        dialog = ExportDialog(default, self.source, total, shown)
        self.app.push_screen(dialog, self._export_chosen)

    def _export_chosen(self, choice: ExportRequest | None) -> None:
        if choice is not None:
            rows = list(self.query_one(ResultsList).rows) if choice.only_shown else None
            self.run_export(choice.path, choice.request_fields, choice.source_columns, rows)

    @work(exclusive=True, group="results-export")
    async def run_export(
        self,
        path: Path,
        fields: tuple[str, ...],
        source_columns: bool = False,
        rows: list[ResultRow] | None = None,
    ) -> None:
        """Write ``rows`` (default: every row) of the results to ``path``."""
        index, deck, batch_id = self.index, self.deck, self.batch_id
        if index is None:
            return

        def write() -> int:
            source = None
            if source_columns:
                source = load_source(deck.registry.find_by_batch(batch_id))
            return export(index, path, fields, source=source, rows=rows)

        try:
            count = await asyncio.to_thread(write)
        except REPORTED as exc:  # ValueError: the file's suffix
            self.post_message(self.Failed("Export failed", exc))
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("exporting the results failed")
            self.post_message(self.Failed("Export failed", exc))
        else:
            self.post_message(self.Told(f"Exported {plural(count, 'row')} to {path}"))

    # -- retry ---------------------------------------------------------------------------------

    def action_retry(self) -> None:
        from tui.dialogs.retry_choice import RetryChoice, RetryDialog

        index = self._indexed_or_say_why()
        if index is None:
            return
        counts = retry_counts(index)
        if not any(counts.values()):
            self.notify("Every request has an answer: nothing to retry.")
            return
        detail = f"Same bodies and custom_ids, to {index.endpoint or 'the same endpoint'}."

        def chosen(choice: RetryChoice | None) -> None:
            if choice and choice.groups:
                self.submit_retry(choice.groups, queue=choice.queue)

        self.app.push_screen(RetryDialog(counts, detail), chosen)

    @work(exclusive=True, group="results-retry")
    async def submit_retry(
        self, groups: frozenset[str] = DEFAULT_RETRY, queue: bool = False
    ) -> None:
        from tui.core.retry import submit_retry

        index, batch_id, deck = self.index, self.batch_id, self.deck
        if index is None:
            return
        try:
            retried = await submit_retry(
                index,
                batch_id,
                groups,
                registry=deck.registry,
                client=deck.client,
                profile=deck.profile,
                queue=queue,
            )
        except (BatchdeckError, OSError) as exc:
            self.post_message(self.Failed("Retry not submitted", exc))
        except Exception as exc:  # last resort (e.g. the registry): the app goes on
            logger.exception("submitting the retry of %s failed", batch_id)
            self.post_message(self.Failed("Retry not submitted", exc))
        else:
            self.post_message(self.Linked(retried.links))
            done = f"{retried.summary()}; reload (r) once it is done to see the merged results."
            self.post_message(self.Told(done))


def _links_and_source(registry: Registry, batch_id: str) -> tuple[RetryLinks, Path | None]:
    """The batch's retry links and the rows file it was composed from (registry reads)."""
    found = source_of(registry.find_by_batch(batch_id))
    return retry_links(registry, batch_id), found[0] if found else None


def _decode(raw: bytes | None) -> Any:
    import msgspec

    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None


def _safe(batch_id: str) -> str:
    from tui.core.results import results_dir

    return results_dir(batch_id).name
