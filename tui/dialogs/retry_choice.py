"""RetryDialog: choose which kinds of failed requests a retry sends again.

One checkbox per retry group that has rows (HTTP 429, 5xx, 4xx, not run, missing...),
with its count; checked by default are the groups that can succeed unchanged
(:data:`tui.core.results.DEFAULT_RETRY`). Retry submits at once; Queue puts the retry
in the local queue (``tui.core.queue``: split by the token limit, sent by the queue
runner). Dismisses with a :class:`RetryChoice`, or ``None`` when cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Static

from tui.core.results import RETRY_GROUPS
from tui.core.text import plural, printable
from tui.dialogs.base import Dialog


@dataclass(frozen=True)
class RetryChoice:
    """The retry groups chosen, and whether to queue the retry rather than send it."""

    groups: frozenset[str]
    queue: bool = False


class RetryDialog(Dialog[RetryChoice | None]):
    """Checkboxes of the retry groups in ``counts`` (group key -> rows); Enter on
    Retry submits the checked ones."""

    DEFAULT_CSS = """
    RetryDialog > Vertical { border: thick $warning; }
    RetryDialog #retry-question { text-style: bold; margin-bottom: 1; }
    RetryDialog #retry-detail { color: $text-muted; margin-top: 1; }
    RetryDialog #retry-total { margin-top: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="retry.cancel"),
    ]

    def __init__(self, counts: Mapping[str, int], detail: str = "") -> None:
        super().__init__()
        self.counts = dict(counts)
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Submit a new batch of these requests:", id="retry-question")
            for group in RETRY_GROUPS:
                count = self.counts.get(group.key, 0)
                if count:
                    yield Checkbox(
                        Text(f"{group.label}: {count}"),
                        group.default,
                        id=f"retry-{group.key}",
                        compact=True,
                    )
            if self.detail:
                yield Static(Text(printable(self.detail)), id="retry-detail")
            yield Static("", id="retry-total")
            with Horizontal():
                yield Button("Cancel", id="retry-no")
                yield Button("Queue", id="retry-queue", tooltip="send it through the token limit")
                yield Button("Retry", variant="warning", id="retry-yes")

    def on_mount(self) -> None:
        self._show_total()
        boxes = self.query(Checkbox)
        if boxes:
            boxes.first().focus()

    def chosen(self) -> frozenset[str]:
        """The keys of the checked groups."""
        return frozenset(
            group.key
            for group in RETRY_GROUPS
            for box in self.query(f"#retry-{group.key}").results(Checkbox)
            if box.value
        )

    def _show_total(self) -> None:
        total = sum(self.counts.get(key, 0) for key in self.chosen())
        self.query_one("#retry-total", Static).update(f"{plural(total, 'request')} to send")
        for button in self.query("#retry-yes, #retry-queue").results(Button):
            button.disabled = total == 0

    def on_checkbox_changed(self) -> None:
        self._show_total()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id in ("retry-yes", "retry-queue"):
            self.dismiss(RetryChoice(self.chosen(), queue=event.button.id == "retry-queue"))
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
