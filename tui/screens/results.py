"""The results screen: every request of a batch joined to what came back.

Opening it downloads the batch's output, error and input files once (progress in
the status line; later opens, also offline, use the local copies) with those of its
retries, then indexes them in a thread: rows appear while the files are read. The
list is virtual (:class:`~tui.widgets.results_list.ResultsList`), so filtering
50,000 rows swaps a list and a row's detail reads its two lines by offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Select, Static
from textual.worker import get_current_worker

from tui.core import errors
from tui.core.results import (
    OUTCOME_LABELS,
    Attempt,
    IndexProgress,
    LineReader,
    NoResultsError,
    Outcome,
    ResultIndex,
    ResultRow,
    export,
    open_attempts,
    retry_path,
    retry_rows,
    search,
    write_retry_file,
)
from tui.core.sizes import format_size
from tui.core.text import one_line
from tui.deck import styles_dir
from tui.screens.base import DeckScreen
from tui.widgets.result_detail import ResultDetail
from tui.widgets.results_list import ResultsList, header_line

if TYPE_CHECKING:
    from tui.widgets.results_export_dialog import ExportRequest

logger = logging.getLogger(__name__)

FAILED = "failed"  # the outcome filter for every failure (HTTP and request errors)
OUTCOME_FILTERS: list[tuple[str, str]] = [
    ("All outcomes", "all"),
    ("Failed (any)", FAILED),
    *((f"Only {label}", outcome.value) for outcome, label in OUTCOME_LABELS.items()),
]


def matches_outcome(row: ResultRow, wanted: str) -> bool:
    if wanted == "all":
        return True
    if wanted == FAILED:
        return row.outcome in (Outcome.HTTP_ERROR, Outcome.REQUEST_ERROR)
    return row.outcome.value == wanted


class ResultsScreen(DeckScreen):
    """The results of one batch (and of its retries, merged)."""

    CSS_PATH = str(styles_dir() / "results.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="results.back"),
        Binding("slash", "focus_search", "Search", id="results.search"),
        Binding("i", "focus_id", "Filter id", id="results.filter_id"),
        Binding("o", "cycle_outcome", "Outcome", id="results.outcome"),
        Binding("j", "toggle_json", "JSON", id="results.json"),
        Binding("x", "export", "Export", id="results.export"),
        Binding("R", "retry", "Retry failed", id="results.retry"),
        Binding("r", "reload", "Reload", id="results.reload"),
    ]

    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.index: ResultIndex | None = None
        self._all: list[ResultRow] = []
        self._matches: set[ResultRow] | None = None  # rows the text search found
        self._reader: LineReader | None = None
        self._notes: list[str] = []
        self._phase = "opening"
        self._percent = 0
        self._status = ""

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
            "Submit the failed, expired and missing requests again",
            self.action_retry,
        )
        yield SystemCommand("Results: reload", "Open again (with new retries)", self.action_reload)

    def _set_outcome(self, value: str) -> None:
        self.query_one("#results-outcome", Select).value = value

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="results-status")
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
        self._status = message
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
        head = f"{one_line(self.batch_id)} · {len(self._all)} rows"
        if shown != len(self._all):
            head += f" ({shown} shown)"
        tail = "" if index.done else f" · indexing {self._percent}%"
        if len(index.attempts) > 1:
            retries = len(index.attempts) - 1
            tail += f" · merged with {retries} retr{'y' if retries == 1 else 'ies'}"
        return f"{head}: {', '.join(parts) or 'nothing yet'}{tail}"

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
        """Download what is not local yet, then index it in a thread."""

        def progress(kind: str, done: int, total: int | None) -> None:
            share = f"{done * 100 // total}%" if total else format_size(done)
            self._set_status(f"Downloading the {kind} file of {self.batch_id}: {share}")

        try:
            opened = await open_attempts(
                self.deck.client, self.batch_id, registry=self.deck.registry, progress=progress
            )
        except NoResultsError as exc:
            self._set_status(str(exc), error=True)
            return
        except errors.ApiError as exc:
            self._set_status(f"Cannot open the results: {exc.message}", error=True)
            return
        except OSError as exc:
            self._set_status(f"Cannot save the results: {exc}", error=True)
            return
        except (KeyError, ValueError) as exc:  # the registry could not record them
            self._set_status(f"Cannot record the results: {exc}", error=True)
            return
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("opening the results of %s failed", self.batch_id)
            self._set_status(f"Cannot open the results: {type(exc).__name__}: {exc}", error=True)
            return
        self._notes = opened.notes
        if opened.attempts[0].input is None:
            self._notes.append("input file unavailable: missing requests cannot be listed")
        self.start_index(opened.attempts)

    def start_index(self, attempts: list[Attempt]) -> None:
        """Index ``attempts`` (the batch first, then its retries) from scratch."""
        if self._reader is not None:
            self._reader.close()
        self.index = ResultIndex(attempts)
        self._reader = LineReader(self.index)
        self._all = []
        self._matches = None
        self.query_one(ResultsList).set_rows([])
        self.index_rows(self.index)

    @work(thread=True, exclusive=True, group="results-index")
    def index_rows(self, index: ResultIndex) -> None:
        worker = get_current_worker()
        try:
            for step in index.build():
                if worker.is_cancelled:
                    return
                self.app.call_from_thread(self._on_step, index, step)
        except OSError as exc:
            message = f"Cannot read the results: {exc}"
            self.app.call_from_thread(self._set_status, message, True)
        except RuntimeError:  # the app closed while indexing: nothing left to show
            return
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("indexing the results failed")
            message = f"Cannot index the results: {type(exc).__name__}: {exc}"
            self._from_thread(self._set_status, message, True)

    def _from_thread(self, callback: Callable[..., object], *args: object, **kw: object) -> None:
        """Run ``callback`` on the event loop from a worker thread; nothing if the app
        closed meanwhile (then there is nothing left to show)."""
        with contextlib.suppress(RuntimeError):
            self.app.call_from_thread(callback, *args, **kw)

    def _on_step(self, index: ResultIndex, step: IndexProgress) -> None:
        if index is not self.index:
            return
        self._percent = step.bytes_done * 100 // step.bytes_total if step.bytes_total else 100
        listing = self.query_one(ResultsList)
        if step.final:  # rows now in input order; the cursor stays where the user put it
            self._all = list(index.rows)
            self._apply_filters(follow=listing.cursor != 0)
            if self._search_text():
                self.run_search(self._search_text())
        else:
            self._all.extend(step.new_rows)
            if self._filters_active():
                listing.append_rows([r for r in step.new_rows if self._keep(r)])
            else:
                listing.append_rows(step.new_rows)
            if step.updated:
                listing.refresh()
        self._refresh_status()

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
            self.run_search(text)
        else:
            self.notify("Searching once the files are indexed.")

    @work(thread=True, exclusive=True, group="results-search")
    def run_search(self, text: str) -> None:
        index = self.index
        if index is None:
            return
        self._from_thread(self._set_status, f"Searching for {one_line(text, 40)}…")
        try:
            found = search(index, text)
        except OSError as exc:
            self._from_thread(self._set_status, f"Search failed: {exc}", True)
            return
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("searching the results failed")
            self._from_thread(self._set_status, f"Search failed: {type(exc).__name__}: {exc}", True)
            return
        if get_current_worker().is_cancelled:
            return
        self._from_thread(self._search_done, index, text, found)

    def _search_done(self, index: ResultIndex, text: str, found: set[ResultRow]) -> None:
        if index is self.index and text == self._search_text():
            self._matches = found
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
        select = self.query_one("#results-outcome", Select)
        values = [value for _, value in OUTCOME_FILTERS]
        current = values.index(self._outcome()) if self._outcome() in values else 0
        select.value = values[(current + 1) % len(values)]

    def action_reload(self) -> None:
        self._set_status(f"Reopening the results of {self.batch_id}…")
        self.load()

    # -- export -------------------------------------------------------------------------------

    def action_export(self) -> None:
        from tui.widgets.results_export_dialog import ExportDialog

        if self.index is None or not self.index.done:
            self.notify("The results are still being indexed.", severity="warning")
            return
        default = Path.cwd() / f"{_safe(self.batch_id)}-results.csv"
        self.app.push_screen(ExportDialog(default), self._export_chosen)

    def _export_chosen(self, choice: ExportRequest | None) -> None:
        if choice is not None:
            self.run_export(choice.path, choice.request_fields)

    @work(thread=True, exclusive=True, group="results-export")
    def run_export(self, path: Path, fields: tuple[str, ...]) -> None:
        index = self.index
        if index is None:
            return
        try:
            count = export(index, path, fields)
        except (OSError, ValueError) as exc:
            message = f"Export failed: {exc}"
            self._from_thread(self.notify, message, severity="error", markup=False)
            return
        except Exception as exc:  # last resort: the screen says so, the app goes on
            logger.exception("exporting the results failed")
            message = f"Export failed: {type(exc).__name__}: {exc}"
            self._from_thread(self.notify, message, severity="error", markup=False)
            return
        message = f"Exported {count} rows to {path}"
        self._from_thread(self.notify, message, markup=False)

    # -- retry ---------------------------------------------------------------------------------

    def action_retry(self) -> None:
        from tui.dialogs.confirm import ConfirmDialog

        index = self.index
        if index is None or not index.done:
            self.notify("The results are still being indexed.", severity="warning")
            return
        rows = retry_rows(index)
        if not rows:
            self.notify("Every request has an answer: nothing to retry.")
            return
        question = f"Submit a new batch of the {len(rows)} failed, expired or missing requests?"
        detail = f"Same bodies and custom_ids, to {index.endpoint or 'the same endpoint'}."

        def answered(yes: bool | None) -> None:
            if yes:
                self.submit_retry()

        self.app.push_screen(ConfirmDialog(question, detail), answered)

    @work(exclusive=True, group="results-retry")
    async def submit_retry(self) -> None:
        from tui.core.journal import Journal, SubmitError

        index = self.index
        if index is None:
            return
        try:
            planned = await asyncio.to_thread(write_retry_file, index, retry_path(self.batch_id))
            journal = Journal(self.deck.registry, self.deck.client, self.deck.profile)
            job = await journal.submit(
                planned.path,
                index.endpoint,
                {"retry_of": self.batch_id[:512]},
                f"retry of {self.batch_id} ({planned.count} requests)",
                retry_of=self.batch_id,
            )
        except (NoResultsError, SubmitError, OSError) as exc:
            self.notify(f"Retry not submitted: {exc}", severity="error", markup=False)
            return
        except errors.ApiError as exc:
            self.notify(f"Retry not submitted: {exc.message}", severity="error", markup=False)
            return
        except Exception as exc:  # last resort (e.g. the registry): the app goes on
            logger.exception("submitting the retry of %s failed", self.batch_id)
            message = f"Retry not submitted: {type(exc).__name__}: {exc}"
            self.notify(message, severity="error", markup=False)
            return
        self.notify(
            f"Retry {job.batch_id} submitted with {planned.count} requests; reload (r) "
            "once it is done to see the merged results.",
            markup=False,
        )


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
