"""FleetTable: every profile's batches in one DataTable, newest first, with a Profile
column. Rows are keyed ``PROFILE:BATCH_ID`` (two servers may use the same id).

:meth:`FleetTable.show` takes the fleet's rows: rows that went are removed, changed
ones have their changed cells updated, new ones are appended, and then, only if the
order is off (a page of another profile interleaves), the rows are sorted in place;
nothing is rebuilt, so a long listing arriving page by page stays cheap. The cells
are the batches table's (:mod:`tui.widgets.batch_table`), all ``rich.text.Text``
from ``one_line``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from tui.core import poll, timefmt
from tui.core.fleet import FleetBatch
from tui.core.text import one_line
from tui.widgets.batch_table import (
    PROGRESS_WIDTH,
    STATUS_STYLES,
    IdCell,
    progress_cell,
    state_cell,
)

if TYPE_CHECKING:
    from tui.core.registry import Job

# key, title, width (None: what the others leave), shown when narrow
COLUMNS: tuple[tuple[str, str, int | None, bool], ...] = (
    ("profile", "Profile", 12, True),
    ("id", "ID", 13, True),
    ("status", "Status", 11, True),
    ("progress", "Progress", PROGRESS_WIDTH, True),
    ("created", "Created", 9, False),
    ("state", "In state", 9, False),
    ("description", "Description", None, True),
)
NARROW = 110  # below this width, fewer columns (as in the batches table)
DESCRIPTION_WIDTH = 40


class RefCell(IdCell):
    """The id cell, which also knows its row's ``PROFILE:BATCH_ID`` (for sorting)."""

    def __init__(self, row: FleetBatch) -> None:
        super().__init__(row.batch.id)
        self.ref = row.ref


class FleetTable(DataTable[Text]):
    """The fleet's batches; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="fleet.open"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.shown: dict[str, FleetBatch] = {}  # by ref, in the table's order
        self.jobs: dict[str, Job] = {}  # the registry's, by batch id
        self.narrow = False

    def on_mount(self) -> None:
        self._add_columns()

    def _shown_columns(self) -> list[str]:
        return [key for key, _, _, wide_only in COLUMNS if wide_only or not self.narrow]

    def _add_columns(self) -> None:
        for key, title, width, _ in COLUMNS:
            if key in self._shown_columns():
                self.add_column(title, key=key, width=width or self._description_width())

    def _description_width(self) -> int:
        shown = self._shown_columns()
        used = sum(width or 0 for key, _, width, _ in COLUMNS if key in shown)
        padding = 2 * self.cell_padding * len(shown)
        return max(12, self.size.width - used - padding - 2)  # 2: the scrollbar

    def on_resize(self) -> None:
        """Fewer columns below :data:`NARROW`; the description takes what is left."""
        narrow = 0 < self.size.width < NARROW
        if narrow != self.narrow:
            self.narrow = narrow
            rows = list(self.shown.values())
            self.clear(columns=True)
            self.shown = {}
            self._add_columns()
            self.show(rows)
            return
        column = self.columns.get("description")  # type: ignore[call-overload]
        if column is not None and column.width != self._description_width():
            column.width = self._description_width()
            self._require_update_dimensions = True
            self.refresh()

    def cells(self, row: FleetBatch, now: float) -> dict[str, Text]:
        batch = row.batch
        job = self.jobs.get(batch.id)
        return {
            "profile": Text(one_line(row.profile), no_wrap=True, overflow="ellipsis"),
            "id": RefCell(row),
            "status": Text(one_line(batch.status), style=STATUS_STYLES.get(batch.status, "")),
            "progress": progress_cell(batch),
            "created": Text(timefmt.relative(batch.created_at, now)),
            "state": state_cell(batch, now),
            "description": Text(
                one_line(poll.describe(batch, job), DESCRIPTION_WIDTH),
                no_wrap=True,
                overflow="ellipsis",
            ),
        }

    def show(self, rows: Sequence[FleetBatch]) -> None:
        """Show ``rows`` (newest first, as :meth:`tui.core.fleet.Fleet.rows` gives them)."""
        now = timefmt.now()
        wanted = {row.ref: row for row in rows}
        for gone in [ref for ref in self.shown if ref not in wanted]:
            self.remove_row(gone)
        for row in rows:
            old = self.shown.get(row.ref)
            if old is None:
                cells = self.cells(row, now)
                self.add_row(*(cells[key] for key in self._shown_columns()), key=row.ref)
            elif old.batch != row.batch:
                cells = self.cells(row, now)
                for key in self._shown_columns():
                    self.update_cell(row.ref, key, cells[key])
        self.shown = wanted
        if [row.key.value for row in self.ordered_rows] != list(wanted):
            self._reorder()

    def _reorder(self) -> None:
        """Rows in :attr:`shown`'s order, the cursor staying on its batch."""
        selected = self.selected_ref()
        position = {ref: index for index, ref in enumerate(self.shown)}
        self.sort(key=lambda values: position[values[1].ref])
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected))

    def set_jobs(self, jobs: dict[str, Job]) -> None:
        """The registry's jobs (descriptions): the rows are made again at the next show."""
        self.jobs = jobs
        self.clear()
        self.shown = {}

    def selected_ref(self) -> str | None:
        """``PROFILE:BATCH_ID`` of the row under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate)[0].value)
        except CellDoesNotExist:
            return None

    def selected(self) -> FleetBatch | None:
        ref = self.selected_ref()
        return self.shown.get(ref) if ref is not None else None
