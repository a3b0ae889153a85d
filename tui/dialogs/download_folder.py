"""DownloadFolderDialog: where the files screen saves the files it downloads."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from tui.core.fsutil import make_private_dirs
from tui.core.text import one_line
from tui.dialogs.base import Dialog


def default_folder() -> Path:
    """The user's ``~/Downloads`` if there is one, else the current directory."""
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.cwd()


class DownloadFolderDialog(Dialog[Path | None]):
    """Enter a folder (created if missing); Download returns it, absolute."""

    DEFAULT_CSS = """
    DownloadFolderDialog > Vertical {
        width: 80;
    }
    DownloadFolderDialog #folder-status {
        color: $error;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="folder.cancel"),
    ]

    def __init__(self, what: str, folder: Path) -> None:
        super().__init__()
        self.what = what
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Download {one_line(self.what)}", style="bold"))
            yield Label("Into the folder")
            yield Input(str(self.folder), id="folder-path")
            yield Static("", id="folder-status")
            with Horizontal():
                yield Button("Cancel", id="folder-cancel")
                yield Button("Download", variant="primary", id="folder-go")

    def on_mount(self) -> None:
        self.query_one("#folder-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.choose(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "folder-go":
            self.choose(self.query_one("#folder-path", Input).value)
        else:
            self.action_cancel()

    def choose(self, value: str) -> None:
        """Dismiss with the folder typed, created (0700) if missing; else say why not."""
        folder = Path(value.strip()).expanduser()
        shown = one_line(str(folder)) if value.strip() else "(nothing)"
        if value.strip() and not folder.exists():
            try:
                make_private_dirs(folder)
            except OSError as exc:
                reason = one_line(exc.strerror or str(exc))
                self.say(f"Could not create {shown}: {reason}")
                return
        if not value.strip() or not folder.is_dir():
            self.say(f"Not a folder: {shown}")
            return
        self.dismiss(folder.resolve())

    def say(self, message: str) -> None:
        self.query_one("#folder-status", Static).update(Text(message))

    def action_cancel(self) -> None:
        self.dismiss(None)
