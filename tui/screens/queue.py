"""The Queue screen: what ``batchdeck queue ls`` prints, live.

Per profile and model a budget bar (estimated input tokens in flight against the
limit, and whether the limit is configured or learned), every job group with its
progress (parts done of all, requests answered), and the parts waiting in the order
they will go, each with why it waits. The selected group can be paused, resumed or
dropped (after a confirmation). Everything is read from the registry (no network)
by a :class:`~tui.screens.poller.ScreenPoller` every :data:`REFRESH_EVERY` seconds;
the app's :class:`~tui.screens.queue_runner.QueueRunner` does the sending.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from tui.core.queue_view import Group, QueueView
from tui.core.text import one_line, plural
from tui.deck import styles_dir
from tui.dialogs.confirm import ConfirmDialog
from tui.screens.base import REPORTED, DeckScreen
from tui.screens.poller import ScreenPoller
from tui.screens.queue_runner import QueueRunner
from tui.widgets.header import DeckHeader
from tui.widgets.queue_budget import BudgetBar
from tui.widgets.queue_rows import group_columns, group_row, waiting_columns, waiting_row

if TYPE_CHECKING:
    from collections.abc import Callable

REFRESH_EVERY = 2.0  # seconds between reads of the registry
EMPTY = "The queue is empty. `batchdeck submit FILE --queue` puts a big job here."


class QueueScreen(DeckScreen):
    """The local queue: budgets, groups, waiting parts."""

    CSS_PATH = str(styles_dir() / "queue.tcss")
    HELP_TITLE = "Queue"
    PALETTE_GROUP = "Queue"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="queue.back", tooltip="Back to the batches"),
        Binding(
            "space",
            "toggle_pause",
            "Pause/resume",
            id="queue.pause",
            tooltip="Pause or resume the selected job group",
        ),
        Binding(
            "d",
            "drop",
            "Drop",
            id="queue.drop",
            tooltip="Drop the selected job group's unsent parts (asks first)",
        ),
        Binding(
            "r",
            "run_now",
            "Run now",
            id="queue.run",
            tooltip="Read the queue again and let the runner pass now",
        ),
    ]

    @dataclass
    class Read(Message):
        view: QueueView

    @dataclass
    class ReadFailed(Message):
        error: Exception

    @dataclass
    class Changed(Message):
        """A pause, resume or drop was done; ``said`` tells the user what."""

        said: str

    def __init__(self) -> None:
        super().__init__()
        self.poller = ScreenPoller(self, self.read_queue)
        self.view: QueueView | None = None
        self._lanes: tuple[tuple[str, str], ...] = ()
        self._columns: dict[str, list[tuple[str, str, int]]] = {}

    def compose(self) -> ComposeResult:
        yield DeckHeader()
        yield Static("Reading the queue…", id="queue-status")
        yield VerticalScroll(id="queue-lanes")
        yield Static(Text("Job groups", style="bold"), classes="queue-title")
        yield DataTable(id="queue-groups", cursor_type="row", zebra_stripes=True)
        waiting = Text("Waiting parts, in the order they go", style="bold")
        yield Static(waiting, classes="queue-title")
        yield DataTable(id="queue-waiting", cursor_type="row")
        yield Footer(compact=True)

    @property
    def groups_table(self) -> DataTable[Text]:
        return self.query_one("#queue-groups", DataTable)

    @property
    def waiting_table(self) -> DataTable[Text]:
        return self.query_one("#queue-waiting", DataTable)

    def on_mount(self) -> None:
        if not self.app.is_running:
            return
        self.groups_table.focus()
        self.poller.now()

    def on_resize(self) -> None:
        if self.view is not None:
            self.paint(self.view)

    # -- reading -------------------------------------------------------------------

    @work(exclusive=True, group="queue-read")
    async def read_queue(self) -> None:
        from tui.core.queue import queue_view

        deck = self.deck
        try:
            view = await asyncio.to_thread(queue_view, deck.registry, deck.config)
        except REPORTED as exc:
            self.post_message(self.ReadFailed(exc))
            return
        self.post_message(self.Read(view))

    def on_queue_screen_read(self, message: Read) -> None:
        self.paint(message.view)
        self.poller.succeeded(REFRESH_EVERY)

    def on_queue_screen_read_failed(self, message: ReadFailed) -> None:
        delay = self.poller.failed(message.error)
        status = self.query_one("#queue-status", Static)
        status.update(Text(f"Cannot read the queue: {message.error} (again in {delay:.0f} s)"))
        status.add_class("-error")

    # -- painting ------------------------------------------------------------------

    def paint(self, view: QueueView) -> None:
        self.view = view
        status = self.query_one("#queue-status", Static)
        status.remove_class("-error")
        status.update(self.status_text(view))
        self._paint_lanes(view)
        width = self.app.size.width
        self._fill(
            self.groups_table,
            group_columns(width),
            [(g.group_id, group_row(g, group_columns(width))) for g in view.groups],
        )
        waits = [wait for lane in view.lanes for wait in lane.waiting]
        self._fill(
            self.waiting_table,
            waiting_columns(width),
            [(w.job_id, waiting_row(w)) for w in waits],
        )

    def status_text(self, view: QueueView) -> Text:
        if not view.groups:
            return Text(EMPTY)
        waiting = sum(len(lane.waiting) for lane in view.lanes)
        text = Text(f"{plural(len(view.groups), 'job group')} · {plural(waiting, 'part')} waiting")
        runner = getattr(self.app, "queue_runner", None)
        if isinstance(runner, QueueRunner) and runner.passes:
            text.append(f" · this app sent {plural(runner.sent, 'part')}", style="dim")
        return text

    def _paint_lanes(self, view: QueueView) -> None:
        box = self.query_one("#queue-lanes", VerticalScroll)
        keys = tuple((lane.profile, lane.model) for lane in view.lanes)
        if keys != self._lanes:
            self._lanes = keys
            box.remove_children()
            box.mount_all(BudgetBar(lane) for lane in view.lanes)
            box.display = bool(keys)
            return
        for bar, lane in zip(box.query(BudgetBar), view.lanes, strict=False):
            bar.lane = lane

    def _fill(
        self,
        table: DataTable[Text],
        columns: list[tuple[str, str, int]],
        rows: list[tuple[str, tuple[Text, ...]]],
    ) -> None:
        """Replace ``table``'s rows, keeping the cursor on the same key."""
        selected = self._selected_key(table)
        row = table.cursor_row
        if self._columns.get(table.id or "") != columns:
            self._columns[table.id or ""] = columns
            table.clear(columns=True)
            for key, title, width in columns:
                table.add_column(title, key=key, width=width)
        else:
            table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if not rows:
            return
        try:
            table.move_cursor(row=table.get_row_index(selected) if selected else row)
        except RowDoesNotExist:
            table.move_cursor(row=min(row, len(rows) - 1))

    @staticmethod
    def _selected_key(table: DataTable[Text]) -> str | None:
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return str(key) if key is not None else None

    # -- acting on a group ---------------------------------------------------------

    def selected_group(self) -> Group | None:
        """The group under the cursor: of the groups table, or of the waiting part."""
        if self.view is None:
            return None
        groups = {group.group_id: group for group in self.view.groups}
        if self.focused is self.waiting_table:
            key = self._selected_key(self.waiting_table)
            waits = {w.job_id: w for lane in self.view.lanes for w in lane.waiting}
            wait = waits.get(key or "")
            return groups.get(wait.group_id) if wait else None
        return groups.get(self._selected_key(self.groups_table) or "")

    def action_toggle_pause(self) -> None:
        from tui.core.queue import pause, resume

        group = self.selected_group()
        if group is None:
            self.notify("No job group selected", severity="warning")
            return
        if group.paused:
            self.change(lambda: f"Resumed {resume(self.deck.registry, group.group_id)}")
        else:
            self.change(lambda: f"Paused {pause(self.deck.registry, group.group_id)}")

    def action_drop(self) -> None:
        from tui.core.queue import drop

        group = self.selected_group()
        if group is None:
            self.notify("No job group selected", severity="warning")
            return
        waiting = group.to_dict()["waiting"]

        def answered(yes: bool | None) -> None:
            if yes:
                self.change(lambda: _dropped(*drop(self.deck.registry, group.group_id)))

        question = f"Drop job group {one_line(group.group_id)}?"
        label = one_line(group.description) or "no description"
        detail = (
            f"{label}: its {plural(waiting, 'unsent part')} leave the queue; "
            "batches already sent carry on."
        )
        self.app.push_screen(ConfirmDialog(question, detail, yes="Drop"), answered)

    @work(group="queue-change")
    async def change(self, act: Callable[[], str]) -> None:
        """Pause, resume or drop in a thread (they wait for a runner's pass to end)."""
        try:
            said = await asyncio.to_thread(act)
        except REPORTED as exc:
            self.post_message(self.Failed("Queue", exc))
            return
        self.post_message(self.Changed(said))

    def on_queue_screen_changed(self, message: Changed) -> None:
        self.notify(message.said)
        self.action_run_now()

    def action_run_now(self) -> None:
        runner = getattr(self.app, "queue_runner", None)
        if isinstance(runner, QueueRunner):
            runner.poke()
        self.poller.now()

    def action_back(self) -> None:
        self.app.pop_screen()


def _dropped(group_id: str, removed: int) -> str:
    return f"Dropped {group_id}: {plural(removed, 'unsent part')} removed"
