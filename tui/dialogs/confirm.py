"""ConfirmDialog: a yes/no question in a modal; dismisses with ``True`` for yes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.core.text import printable
from tui.dialogs.base import Dialog


class ConfirmDialog(Dialog[bool]):
    """Ask ``question``; ``y``/Enter on Yes confirms, ``n``/Escape declines.

    ``question`` and ``detail`` are shown literally (they may hold server text).
    """

    DEFAULT_CSS = """
    ConfirmDialog > Vertical {
        border: thick $warning;
    }
    ConfirmDialog #confirm-question {
        text-style: bold;
    }
    ConfirmDialog #confirm-detail {
        color: $text-muted;
        margin-top: 1;
    }
    ConfirmDialog Button:focus {
        background: $warning;
        color: $text;
        text-style: bold;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "Cancel", id="confirm.cancel"),
    ]

    def __init__(
        self, question: str, detail: str = "", *, yes: str = "Yes", no: str = "No"
    ) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(printable(self.question)), id="confirm-question")
            if self.detail:
                yield Static(Text(printable(self.detail)), id="confirm-detail")
            with Horizontal():
                yield Button(self.no_label, id="confirm-no")
                yield Button(self.yes_label, id="confirm-yes")  # the focused one looks chosen

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
