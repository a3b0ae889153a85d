"""BatchTable: the batches as a DataTable that stays quick with 10,000 rows.

It keeps every batch it was given (``batches``) and the registry's jobs
(``jobs``, by batch id) and shows those that pass the filters, in the chosen order:

- :meth:`put` adds or updates batches; a row that exists has only its changed
  cells updated, a new one is appended (and the order fixed after the page).
- Filters and the sort column change through :meth:`rebuild` / :meth:`resort`:
  sorting reorders the rows in place; filtering re-adds the rows that pass, the
  first screenful at once and the rest in chunks (:data:`CHUNK` rows a step of the
  event loop), so the table never freezes.
- The parts of a job group fold into one row (``+`` or Enter expands it; see
  :mod:`tui.widgets.batch_groups`).
- Column widths follow the table's width; below :data:`NARROW` columns the
  endpoint, model and created columns are left out (the status line shows them).

Every cell is a ``rich.text.Text`` built from :func:`tui.core.text.one_line`, so
text from the server or the registry is shown literally.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowKey

from tui.core import poll, timefmt
from tui.core.models import Batch, RequestCounts
from tui.core.text import one_line
from tui.widgets.batch_groups import BatchGroups

if TYPE_CHECKING:
    from tui.core.registry import Job

STATUS_STYLES = {
    "validating": "yellow",
    "in_progress": "cyan",
    "finalizing": "blue",
    "completed": "green",
    "failed": "red",
    "expired": "magenta",
    "cancelling": "dark_orange",
    "cancelled": "bright_black",
}
NARROW = 110  # below this width, fewer columns
CHUNK = 100  # rows added per step of the event loop when (re)building
BAR_WIDTH = 6
PROGRESS_WIDTH = 20  # the bar shrinks to leave room for "20/20 · 3 failed"
_EIGHTHS = " ▏▎▍▌▋▊▉"
# key, title, width (None: takes what is left), shown when narrow
COLUMNS: tuple[tuple[str, str, int | None, bool], ...] = (
    ("id", "ID", 13, True),
    ("description", "Description", None, True),
    ("status", "Status", 11, True),
    ("progress", "Progress", PROGRESS_WIDTH, True),
    ("endpoint", "Endpoint", 11, False),
    ("model", "Model", 13, False),
    ("created", "Created", 9, False),
    ("state", "In state", 9, True),
)
EXACT_WIDTH = 16
ENDPOINT_NAMES = {
    "/v1/chat/completions": "chat",
    "/v1/images/generations": "images/gen",
    "/v1/images/edits": "images/edit",
}


MARK = "● "


class IdCell(Text):
    """The id cell: a short id on screen (after a mark if the row is marked), the
    whole id kept for sorting."""

    def __init__(self, batch_id: str, *, marked: bool = False) -> None:
        if marked:
            super().__init__(MARK, style="bold")
            self.append(short_id(batch_id, 13 - len(MARK)))
        else:
            super().__init__(short_id(batch_id))
        self.batch_id = batch_id


def short_id(batch_id: str, width: int = 13) -> str:
    """A batch id that fits ``width``: its tail, which is what tells ids apart."""
    flat = one_line(batch_id)
    return flat if len(flat) <= width else "…" + flat[-(width - 1) :]


def compact(number: int) -> str:
    """``950``, ``12k``, ``1.2M``."""
    if number < 10_000:
        return str(number)
    if number < 1_000_000:
        return f"{number // 1000}k"
    return f"{number / 1_000_000:.1f}M"


def progress_cell(batch: Batch) -> Text:
    """A bar (completed green, failed red) and ``done/total``, then ``· 3 failed`` in
    words when lines failed (colour alone is lost under the cursor); the bar gives
    way to the words when the cell is short of room."""
    counts = batch.request_counts
    if not counts.total:
        return Text("░" * BAR_WIDTH + " –", style="bright_black")
    numbers = f"{compact(counts.done)}/{compact(counts.total)}"
    failed = f" · {compact(counts.failed)} failed" if counts.failed else ""
    width = min(BAR_WIDTH, PROGRESS_WIDTH - len(numbers) - len(failed) - 1)
    bar = _bar(counts, width) if width > 0 else Text()
    bar.no_wrap, bar.overflow = True, "ellipsis"
    bar.append(numbers)
    if failed:
        bar.append(failed, style="red")
    return bar


def _bar(counts: RequestCounts, width: int) -> Text:
    """``width`` cells of bar and a space: completed green, failed red."""
    eighths = width * 8
    ok = min(eighths, round(eighths * counts.completed / counts.total))
    bad = min(eighths - ok, round(eighths * counts.failed / counts.total))
    bar = Text()
    full, part = divmod(ok, 8)
    bar.append("█" * full + (_EIGHTHS[part] if part else ""), style="green")
    used = full + (1 if part else 0)
    if bad:
        cells = max(1, round(bad / 8))
        cells = min(cells, width - used)
        bar.append("█" * cells, style="red")
        used += cells
    bar.append("░" * (width - used), style="bright_black")
    bar.append(" ")
    return bar


def state_cell(batch: Batch, now: float) -> Text:
    """How long the batch has been in its state; flagged in bold red when it
    looks stuck or is about to expire."""
    since = poll.state_since(batch)
    text = timefmt.duration(now - since) if since else ""
    if poll.flags(batch, now):
        return Text("⚠ " + text, style="bold red")
    return Text(text)


def endpoint_name(endpoint: str) -> str:
    name = ENDPOINT_NAMES.get(endpoint) or endpoint.removeprefix("/v1/")
    return one_line(name)


class BatchTable(DataTable[Text]):
    """The batches table; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="batches.open"),
        Binding("plus", "toggle_group", "Expand/fold group", id="batches.group", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.batches: dict[str, Batch] = {}
        self.jobs: dict[str, Job] = {}
        self.status_filter = "all"
        self.text_filter = ""
        self.only_mine = False
        self.sort_column = "created"
        self.sort_reverse = True
        self.exact_times = False
        self.narrow = False
        self.marked: set[str] = set()  # batch ids marked with space (for cancel)
        self._pending: list[str] = []  # ids waiting to be added (chunked rebuild)
        self._unordered = False  # a row was appended out of order
        self._columns_ready = False
        self.groups = BatchGroups()  # job groups folded into one row

    # -- columns -------------------------------------------------------------------

    def _shown_columns(self) -> list[tuple[str, str, int | None, bool]]:
        return [column for column in COLUMNS if column[3] or not self.narrow]

    def _fixed_width(self, key: str, width: int | None) -> int:
        if key == "created" and self.exact_times:
            return EXACT_WIDTH
        return width or 0

    def _description_width(self) -> int:
        shown = self._shown_columns()
        used = sum(self._fixed_width(key, width) for key, _, width, _ in shown)
        padding = 2 * self.cell_padding * len(shown)
        return max(12, self._width() - used - padding - 2)  # 2: the scrollbar

    def _width(self) -> int:
        """The table's width; before the first layout, the terminal's (the table
        spans it), so that the first frame's columns are already the right ones."""
        return self.size.width or self.app.size.width

    def fit_columns(self) -> None:
        """Choose columns and widths for the current width (rebuilds if the set changes)."""
        narrow = 0 < self._width() < NARROW
        if not self._columns_ready or narrow != self.narrow:
            self.narrow = narrow
            self._columns_ready = True
            self.clear(columns=True)
            for key, title, width, _ in self._shown_columns():
                size = self._description_width() if width is None else self._fixed_width(key, width)
                self.add_column(Text(title), key=key, width=size)  # no markup to parse
            self.rebuild()
            return
        changed = False
        for key, _, width, _ in self._shown_columns():
            size = self._description_width() if width is None else self._fixed_width(key, width)
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is not None and column.width != size:
                column.width = size
                changed = True
        if changed:
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()

    def on_resize(self) -> None:
        self.fit_columns()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable measures every cell of every new row to size its auto-width
        columns (about a millisecond per row here); every column of this table has a
        fixed width and every row one line, so only the scrollable size is updated
        (and the rendered lines stay cached: new rows change no column's width).
        Falls back to DataTable's own way if its internals ever differ."""
        try:
            if any(column.auto_width for column in self.columns.values()):
                raise AttributeError("auto-width column")
            total_height = self._total_row_height
            label_width = self._row_label_column_width
        except AttributeError:
            super()._update_dimensions(new_rows)
            return
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width + label_width, total_height + header)

    # -- cells ---------------------------------------------------------------------

    def cells(self, batch: Batch, now: float) -> dict[str, Text]:
        job = self.jobs.get(batch.id)
        created = (
            timefmt.exact(batch.created_at)[:16]
            if self.exact_times
            else timefmt.relative(batch.created_at, now)
        )
        cells = {
            "id": IdCell(batch.id, marked=batch.id in self.marked),
            "description": Text(
                one_line(poll.describe(batch, job), 40), no_wrap=True, overflow="ellipsis"
            ),
            "status": Text(one_line(batch.status), style=STATUS_STYLES.get(batch.status, "")),
            "progress": progress_cell(batch),
            "endpoint": Text(endpoint_name(batch.endpoint), no_wrap=True, overflow="ellipsis"),
            "model": Text(one_line(batch.model or ""), no_wrap=True, overflow="ellipsis"),
            "created": Text(created),
            "state": state_cell(batch, now),
        }
        group = self.groups.cells(batch, cells, self.batches, self.jobs)
        if group is not None:  # the row of a folded job group: its parts summed up
            cells["status"] = Text(group.status, style=STATUS_STYLES.get(group.status, ""))
            cells["progress"] = progress_cell(group)
        return cells

    def _row(self, batch: Batch, now: float) -> list[Text]:
        cells = self.cells(batch, now)
        return [cells[key] for key, _, _, _ in self._shown_columns()]

    # -- rows ----------------------------------------------------------------------

    def passes(self, batch: Batch) -> bool:
        return poll.matches(
            batch,
            self.jobs.get(batch.id),
            status=self.status_filter,
            text=self.text_filter,
            only_mine=self.only_mine,
        ) and not self.groups.hidden(batch.id, self.batches)

    def _key(self, batch_id: str) -> Any:
        return poll.sort_key(self.sort_column, self.batches[batch_id], self.jobs.get(batch_id))

    def _append(self, batch: Batch, now: float) -> None:
        self.add_row(*self._row(batch, now), key=batch.id)

    def put(self, batches: Iterable[Batch]) -> None:
        """Add or update batches; rows change only where their cells changed."""
        now = timefmt.now()
        last_key = None
        if self.row_count and not self._pending:
            last_key = self._key(
                str(self.coordinate_to_cell_key(Coordinate(self.row_count - 1, 0))[0].value)
            )
        pending = set(self._pending)
        batches = list(batches)
        self.groups.note_seen(batch.id for batch in batches)
        for batch in batches:
            old = self.batches.get(batch.id)
            self.batches[batch.id] = batch
            shown = batch.id in self.rows
            if not self.passes(batch):
                if shown:
                    self.remove_row(batch.id)
                continue
            if shown:
                if old != batch:
                    self._update_row(batch, old, now)
            elif batch.id not in pending:
                if self._pending:
                    self._pending.append(batch.id)
                    pending.add(batch.id)
                    self._unordered = True
                    continue
                key = self._key(batch.id)
                if last_key is not None and (
                    key > last_key if self.sort_reverse else key < last_key
                ):
                    self._unordered = True
                self._append(batch, now)
                last_key = key
        self._repaint_groups(batches, now)

    def _repaint_groups(self, batches: list[Batch], now: float) -> None:
        """Paint again the rows of the groups ``batches`` belong to (sums changed)."""
        for group in {self.groups.group_of(batch.id) for batch in batches} - {None}:
            for member in self.groups.present(str(group), self.batches):
                if member in self.rows and self.groups.hidden(member, self.batches):
                    self.remove_row(member)  # folded under a lead listed after it
            lead = self.groups.lead(str(group), self.batches)
            if lead is not None and lead in self.rows:
                for key, cell in self.cells(self.batches[lead], now).items():
                    if key in self.columns:
                        self.update_cell(lead, key, cell)

    def _update_row(self, batch: Batch, old: Batch | None, now: float) -> None:
        new_cells = self.cells(batch, now)
        old_cells = self.cells(old, now) if old is not None else {}
        for key, _, _, _ in self._shown_columns():
            cell = new_cells[key]
            before = old_cells.get(key)
            if before is None or before.plain != cell.plain or before.spans != cell.spans:
                self.update_cell(batch.id, key, cell)

    def toggle_mark(self, batch_id: str) -> None:
        """Mark the row of ``batch_id``, or unmark it."""
        self.marked.symmetric_difference_update({batch_id})
        self._redraw_id(batch_id)

    def clear_marks(self) -> None:
        marked, self.marked = self.marked, set()
        for batch_id in marked:
            self._redraw_id(batch_id)

    def marked_shown(self) -> list[str]:
        """The marked batches that pass the filters, in the table's order."""
        return [str(row.key.value) for row in self.ordered_rows if row.key.value in self.marked]

    def _redraw_id(self, batch_id: str) -> None:
        if batch_id in self.rows:
            self.update_cell(batch_id, "id", IdCell(batch_id, marked=batch_id in self.marked))

    def set_jobs(self, jobs: dict[str, Job]) -> None:
        """The registry's jobs by batch id (descriptions, tags, "mine", groups)."""
        self.jobs = jobs
        self.groups.index(jobs)

    def action_toggle_group(self) -> None:
        """``+``: expand the job group under the cursor to its parts, or fold it."""
        selected = self.selected_id()
        group = self.groups.toggle(selected) if selected is not None else None
        if group is None:
            self.app.notify("Not a part of a job group.", severity="warning")
            return
        self.rebuild()
        lead = self.groups.lead(group, self.batches)
        if lead is not None and lead in self.rows and selected not in self.rows:
            self.move_cursor(row=self.get_row_index(lead))

    def action_select_cursor(self) -> None:
        """Enter: a folded group's row expands; any other row opens its batch."""
        selected = self.selected_id()
        if selected is not None and self.groups.folded_lead(selected, self.batches):
            self.action_toggle_group()
            return
        super().action_select_cursor()

    def finish_page(self) -> None:
        """After a page of :meth:`put`: put the rows back in order if needed."""
        if self._unordered and not self._pending:
            self.resort()

    def resort(self) -> None:
        """Order the rows by the sort column, keeping the cursor on its batch."""
        self._unordered = False
        if not self.row_count:
            return
        selected = self.selected_id()
        batches = self.batches
        jobs = self.jobs
        column = self.sort_column

        def key(values: tuple[Text, ...]) -> Any:
            batch_id = getattr(values[0], "batch_id", "")
            batch = batches.get(batch_id)
            if batch is None:
                return ()
            return poll.sort_key(column, batch, jobs.get(batch_id))

        self.sort(key=key, reverse=self.sort_reverse)
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected))

    def rebuild(self) -> None:
        """Show again the batches that pass the filters, in order, in chunks."""
        if not self._columns_ready:
            self.fit_columns()  # makes the columns, then comes back here
            return
        selected = self.selected_id()
        self.clear()
        self.groups.folding = self.status_filter == "all" and not self.text_filter
        reverse = self.sort_reverse
        chosen = [batch_id for batch_id, batch in self.batches.items() if self.passes(batch)]
        chosen.sort(key=self._key, reverse=reverse)
        self._pending = chosen
        self._unordered = False
        self._add_chunk(self.screenful(), selected)

    def screenful(self) -> int:
        """Rows that fill the table (the terminal's height before the first layout)."""
        return max(self.size.height, self.app.size.height)

    def _add_chunk(self, size: int = CHUNK, selected: str | None = None) -> None:
        now = timefmt.now()
        chunk, self._pending = self._pending[:size], self._pending[size:]
        for batch_id in chunk:
            batch = self.batches[batch_id]
            if batch_id not in self.rows and self.passes(batch):  # it may have changed
                self._append(batch, now)
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected), scroll=True)
        if self._pending:
            self.set_timer(0.01, self._add_chunk)
        elif self._unordered:
            self.resort()

    def add_cached(self, batches: Iterable[Batch]) -> None:
        """Add batches seen in an earlier session, unless already known (live data
        wins); their rows are appended in chunks, in order, and sorted again at the
        end only if they belong before rows already there (the older cached batches,
        the usual case, never do: sorting 10,000 rows would hold the loop)."""
        fresh = [batch for batch in batches if batch.id not in self.batches]
        for batch in fresh:
            self.batches[batch.id] = batch
        chosen = [batch.id for batch in fresh if self.passes(batch)]
        if not chosen:
            return
        chosen.sort(key=self._key, reverse=self.sort_reverse)
        last = self._pending[-1] if self._pending else self._last_row_id()
        if last is not None and self._sorts_before(chosen[0], last):
            self._unordered = True
        idle = not self._pending
        self._pending.extend(chosen)
        if idle:
            self._add_chunk()

    def _last_row_id(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(Coordinate(self.row_count - 1, 0))[0].value)

    def _sorts_before(self, batch_id: str, other: str) -> bool:
        """Whether ``batch_id``'s row belongs before ``other``'s in the current order."""
        key, other_key = self._key(batch_id), self._key(other)
        return bool(key > other_key if self.sort_reverse else key < other_key)

    @property
    def loading_rows(self) -> bool:
        """Whether a rebuild is still adding rows."""
        return bool(self._pending)

    def selected_id(self) -> str | None:
        """The batch id under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate)[0].value)
        except CellDoesNotExist:
            return None

    def refresh_times(self) -> None:
        """Recompute the time cells of the rows on screen (times move on)."""
        if not self.row_count:
            return
        now = timefmt.now()
        top = max(0, int(self.scroll_offset.y))
        keys = [key for key, _, _, _ in self._shown_columns() if key in ("created", "state")]
        for index in range(top, min(self.row_count, top + self.size.height + 1)):
            batch_id = str(self.coordinate_to_cell_key(Coordinate(index, 0))[0].value)
            batch = self.batches.get(batch_id)
            if batch is None:
                continue
            cells = self.cells(batch, now)
            for key in keys:
                if self.get_cell(batch_id, key).plain != cells[key].plain:
                    self.update_cell(batch_id, key, cells[key])

    def toggle_exact(self) -> None:
        """Created as ``3h ago`` or as ``2026-11-25 14:03`` (UTC)."""
        self.exact_times = not self.exact_times
        self._columns_ready = False
        self.fit_columns()
