"""FilePreviewDialog: the first lines of a file on the server, shown literally."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from tui.core.preview import Preview
from tui.core.text import one_line
from tui.dialogs.base import Dialog

LINE_WIDTH = 400  # characters of a line shown (the dialog scrolls sideways)


def preview_text(preview: Preview) -> Text:
    """Numbered lines, each on one line with control characters escaped."""
    text = Text(no_wrap=True)
    for number, line in enumerate(preview.lines, start=1):
        text.append(f"{number:>3} │ ", style="dim")
        text.append(one_line(line, LINE_WIDTH))
        text.append("\n")
    if not preview.lines:
        text.append("(empty file)\n", style="dim italic")
    if preview.more:
        text.append("    … the file goes on", style="dim")
    return text


class FilePreviewDialog(Dialog[None]):
    """``title`` (the file's name and id) over its first lines; Escape closes."""

    DEFAULT_CSS = """
    FilePreviewDialog > Vertical {
        width: 110;
        max-height: 90%;
    }
    FilePreviewDialog #preview-lines {
        height: auto;
        max-height: 50vh;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="preview.close"),
    ]

    def __init__(self, title: str, preview: Preview) -> None:
        super().__init__()
        self.title_line = title
        self.preview = preview

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(one_line(self.title_line), style="bold"), id="preview-title")
            with VerticalScroll(id="preview-lines"):
                yield Static(preview_text(self.preview), id="preview-text")
            with Horizontal():
                yield Button("Close", id="preview-close")

    def on_mount(self) -> None:
        self.query_one("#preview-close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
