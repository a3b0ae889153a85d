"""ResultsList: a virtual list of result rows (one line each, drawn on demand).

Only the lines on screen are rendered, so 50,000 rows cost what 40 do: appending
rows, filtering (swapping the list) and scrolling stay immediate. Every cell is
plain text (custom ids and previews come from files): segments carry no markup.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.core.results import ANSWERED, Outcome, ResultRow
from tui.core.text import one_line

OUTCOME_STYLES = {
    Outcome.OK: Style(color="green"),
    Outcome.CUT_OFF: Style(color="yellow"),
    Outcome.HTTP_ERROR: Style(color="red"),
    Outcome.REQUEST_ERROR: Style(color="magenta"),
    Outcome.NOT_RUN_CANCELLED: Style(color="magenta"),
    Outcome.NOT_RUN_EXPIRED: Style(color="magenta"),
    Outcome.MISSING: Style(color="yellow"),
    Outcome.INVALID: Style(color="red", bold=True),
}
# (title, width); the preview takes what is left.
COLUMNS = (("line", 6), ("custom_id", 24), ("outcome", 19), ("tokens", 7))


def row_cells(row: ResultRow) -> list[tuple[str, Style | None]]:
    """The cells of one row, as plain text and a style."""
    line = str(row.input_line) if row.input_line else "-"
    label = row.label + (f" ({row.note})" if row.note else "")
    if row.attempt:
        label = f"{label} #{row.attempt}"
    return [
        (line, Style(dim=True)),
        (one_line(row.custom_id), None),
        (one_line(label), OUTCOME_STYLES.get(row.outcome)),
        (str(row.tokens) if row.tokens else "", None),
        (row.preview, None if row.outcome in ANSWERED else Style(dim=True)),
    ]


def header_line(width: int) -> str:
    """Column titles laid out like :func:`row_cells`."""
    parts = [set_cell_size(title, size) for title, size in COLUMNS]
    return set_cell_size(" ".join([*parts, "answer"]), max(width, 0))


class ResultsList(ScrollView, can_focus=True):
    """Rows of a results index; arrows, pages, home/end and the mouse move the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False, id="results.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="results.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="results.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="results.page_down"),
        Binding("home", "jump(0)", "First", show=False, id="results.first"),
        Binding("end", "jump(-1)", "Last", show=False, id="results.last"),
        Binding("enter", "select", "Details", id="results.select", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"results-list--cursor"}
    DEFAULT_CSS = """
    ResultsList > .results-list--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    ResultsList:blur > .results-list--cursor {
        background: $block-cursor-blurred-background;
    }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        """The cursor moved to ``row`` (None when the list is empty)."""

        def __init__(self, row: ResultRow | None) -> None:
            super().__init__()
            self.row = row

    class Selected(Message):
        """Enter (or a click on the current row) on ``row``."""

        def __init__(self, row: ResultRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[ResultRow] = []
        self.empty_text = ""  # said on the first line when no row is shown

    # -- content ---------------------------------------------------------------

    @property
    def current(self) -> ResultRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def set_rows(self, rows: list[ResultRow], *, follow: bool = True) -> None:
        """Show ``rows``; with ``follow`` the cursor stays on the current row if it is
        still shown, otherwise it goes to the first row."""
        keep = self.current if follow else None
        self.rows = rows
        position = 0
        if keep is not None:
            try:
                position = rows.index(keep)
            except ValueError:
                position = 0
        self._resize()
        if position == 0:
            self.scroll_to(y=0, animate=False, force=True)
        self.cursor = position
        self.refresh()

    def append_rows(self, rows: list[ResultRow]) -> None:
        """Add rows at the end (while indexing); the cursor does not move."""
        if not rows:
            return
        empty = not self.rows
        self.rows.extend(rows)
        self._resize()
        self.refresh()
        if empty:
            self.cursor = 0

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows))

    def on_resize(self) -> None:
        self._resize()
        if self.rows:  # e.g. the detail pane opened: keep the chosen row in sight
            self.call_after_refresh(
                self.scroll_to_region, Region(0, self.cursor, 1, 1), animate=False, force=True
            )

    # -- cursor ------------------------------------------------------------------

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.rows) - 1)) if self.rows else 0

    def watch_cursor(self, value: int) -> None:
        if self.rows:
            self.scroll_to_region(Region(0, value, 1, 1), animate=False, force=True)
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def action_cursor(self, delta: int) -> None:
        self.cursor += delta

    def action_page(self, direction: int) -> None:
        self.cursor += direction * max(self.scrollable_content_region.height - 1, 1)

    def action_jump(self, where: int) -> None:
        self.cursor = len(self.rows) - 1 if where < 0 else 0

    def action_select(self) -> None:
        if self.current is not None:
            self.post_message(self.Selected(self.current))

    async def _on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y
        if 0 <= index < len(self.rows):
            if index == self.cursor and event.chain >= 2:
                self.action_select()
            self.cursor = index

    # -- drawing -----------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = int(self.scroll_offset.y) + y
        base = self.rich_style
        if index >= len(self.rows):
            if index == 0 and self.empty_text:
                muted = base + Style(dim=True)
                text = set_cell_size(f" {self.empty_text}", width)
                return Strip([Segment(text, muted)], width)
            return Strip.blank(width, base)
        row = self.rows[index]
        cursor = index == self.cursor
        line_style = (
            base + self.get_component_rich_style("results-list--cursor") if cursor else base
        )
        segments: list[Segment] = []
        used = 0
        cells = row_cells(row)
        for (text, style), (_, size) in zip(cells, COLUMNS, strict=False):
            segments.append(Segment(set_cell_size(text, size) + " ", _style(line_style, style)))
            used += size + 1
        text, style = cells[-1]
        rest = max(width - used, 0)
        segments.append(Segment(set_cell_size(text, rest), _style(line_style, style)))
        strip = Strip(segments, used + rest)
        return strip.crop(0, width).extend_cell_length(width, line_style)


def _style(line: Style, cell: Style | None) -> Style:
    return line + cell if cell is not None else line
