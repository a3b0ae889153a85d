"""CreateBatchDialog: a batch from an input file already on the server.

The endpoint is chosen from the batch endpoints; the completion window is the
API's only one (24h), shown as such. The caller submits through :class:`tui.core.journal.Journal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from tui.core.models import BATCH_ENDPOINTS, FileInfo
from tui.core.text import one_line
from tui.dialogs.base import Dialog

WINDOWS = ("24h",)  # the completion windows the Batch API takes


@dataclass(frozen=True, slots=True)
class NewBatch:
    """What the dialog chose: the endpoint and window, and a local description."""

    endpoint: str
    window: str
    description: str


class CreateBatchDialog(Dialog[NewBatch | None]):
    """Choose the endpoint and window for a batch of ``info``; Create returns them."""

    DEFAULT_CSS = """
    CreateBatchDialog > Vertical {
        width: 80;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="create.cancel"),
    ]

    def __init__(self, info: FileInfo, endpoint: str = "/v1/chat/completions") -> None:
        super().__init__()
        self.info = info
        self.endpoint = endpoint if endpoint in BATCH_ENDPOINTS else BATCH_ENDPOINTS[0]

    def compose(self) -> ComposeResult:
        with Vertical():
            title = Text("Create a batch from ", style="bold")
            title.append(one_line(self.info.filename or self.info.id, 60))
            yield Static(title)
            yield Static(Text(one_line(self.info.id), style="dim"))
            yield Label("Endpoint")
            yield Select(
                [(endpoint, endpoint) for endpoint in BATCH_ENDPOINTS],
                value=self.endpoint,
                allow_blank=False,
                id="create-endpoint",
            )
            window = Text("Completion window  ")
            window.append(WINDOWS[0], style="bold")
            window.append("  (the only one the Batch API takes)", style="dim")
            yield Static(window, id="create-window")
            yield Label("Description (local)")
            yield Input(id="create-description", placeholder="what this is")
            with Horizontal():
                yield Button("Cancel", id="create-cancel")
                yield Button("Create batch", variant="primary", id="create-go")

    def on_mount(self) -> None:
        self.query_one("#create-endpoint", Select).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_create()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "create-go":
            self.action_create()
        else:
            self.action_cancel()

    def action_create(self) -> None:
        endpoint = self.query_one("#create-endpoint", Select).value
        description = self.query_one("#create-description", Input).value.strip()
        self.dismiss(NewBatch(str(endpoint), WINDOWS[0], description))

    def action_cancel(self) -> None:
        self.dismiss(None)
