"""The batches screen: every batch of the account, merged with the local registry.

It paints the registry's last-seen snapshots first (instant, works offline), then
replaces them with live data page by page. A failure is shown in the status line
and retried with back-off; it never ends the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.core import errors
from tui.core.models import Batch
from tui.core.text import one_line
from tui.core.timefmt import relative

if TYPE_CHECKING:
    from tui.app import BatchDeckApp

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
COLUMNS = ("ID", "Description", "Status", "Progress", "Endpoint", "Model", "Created")
RETRY_DELAYS = (2.0, 5.0, 10.0, 30.0, 60.0)


def batch_row(batch: Batch, description: str) -> tuple[Text, ...]:
    """The cells of one batch; every text from the server is literal."""
    counts = batch.request_counts
    progress = f"{counts.done}/{counts.total}" if counts.total else ""
    if counts.failed:
        progress += f" ({counts.failed} failed)"
    return (
        Text(one_line(batch.id)),
        Text(one_line(description, 40)),
        Text(one_line(batch.status), style=STATUS_STYLES.get(batch.status, "")),
        Text(progress),
        Text(one_line(batch.endpoint)),
        Text(one_line(batch.model or "")),
        Text(relative(batch.created_at)),
    )


class BatchesScreen(Screen[None]):
    """All batches, newest first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._failures = 0

    @property
    def deck(self) -> BatchDeckApp:
        from tui.app import BatchDeckApp

        assert isinstance(self.app, BatchDeckApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="status-line")
        yield DataTable(id="batches", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label.lower())
        self._paint_cached()
        self.action_refresh()

    def _descriptions(self) -> dict[str, str]:
        return {
            job.batch_id: job.description or ""
            for job in self.deck.registry.load().values()
            if job.batch_id
        }

    def _paint_cached(self) -> None:
        """Show what the registry saw last, before the server answers."""
        table = self.query_one(DataTable)
        snapshots = []
        for job in self.deck.registry.load().values():
            if job.batch_id and job.snapshot:
                snapshots.append((Batch.from_dict(job.snapshot), job.description or ""))
        snapshots.sort(key=lambda pair: pair[0].created_at, reverse=True)
        for batch, description in snapshots:
            table.add_row(*batch_row(batch, description), key=batch.id)
        self._set_status(f"{len(snapshots)} cached batches; loading…")

    def _set_status(self, message: str, *, error: bool = False) -> None:
        line = self.query_one("#status-line", Static)
        line.update(Text(message))
        line.set_class(error, "-error")

    def _show(self, batch: Batch, description: str) -> None:
        table = self.query_one(DataTable)
        cells = batch_row(batch, description)
        if batch.id in table.rows:
            for column, cell in zip(COLUMNS, cells, strict=True):
                table.update_cell(batch.id, column.lower(), cell)
        else:
            table.add_row(*cells, key=batch.id)

    def action_refresh(self) -> None:
        self.load_batches()

    @work(exclusive=True, group="batches")
    async def load_batches(self) -> None:
        descriptions = self._descriptions()
        seen = 0
        try:
            async for page in self.deck.client.iter_batch_pages():
                for batch in page:
                    self._show(batch, descriptions.get(batch.id, ""))
                seen += len(page)
                self._set_status(f"{seen} batches · {self.deck.profile.host()}")
        except errors.ApiError as exc:
            delay = RETRY_DELAYS[min(self._failures, len(RETRY_DELAYS) - 1)]
            self._failures += 1
            self._set_status(f"{exc.message}  (retrying in {delay:.0f}s)", error=True)
            self.set_timer(delay, self.action_refresh)
            return
        self._failures = 0
        self._set_status(f"{seen} batches · {self.deck.profile.host()}")
