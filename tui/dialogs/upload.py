"""UploadDialog: pick a local batch input file and check it before it is uploaded.

The path is validated with :func:`tui.core.requests.validate` (in a thread: a big
file takes a moment) and every problem is listed with its line number; only a
file the API would accept is returned to the caller, which uploads it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from tui.core.errors import BatchdeckError
from tui.core.requests import ValidationReport, validate
from tui.core.text import one_line
from tui.dialogs.base import Dialog

SHOWN_PROBLEMS = 50


def report_text(report: ValidationReport) -> Text:
    """The problems of a report, one per line, literal (they quote file content)."""
    text = Text()
    text.append(f"{report.problem_count} problem(s) in {report.request_count} requests:\n")
    for problem in report.problems[:SHOWN_PROBLEMS]:
        where = f"line {problem.line}" if problem.line is not None else "file"
        text.append(f"{where:>8}  ", style="bold")
        text.append(one_line(problem.message, 200))
        text.append(f"  [{one_line(problem.code)}]\n", style="dim")
    hidden = report.problem_count - min(len(report.problems), SHOWN_PROBLEMS)
    if hidden > 0:
        text.append(f"… and {hidden} more\n", style="dim")
    return text


class UploadDialog(Dialog[Path | None]):
    """Enter a path; Upload checks the file and returns it if it is valid."""

    DEFAULT_CSS = """
    UploadDialog > Vertical {
        width: 90;
        max-height: 90%;
    }
    UploadDialog #upload-problems {
        height: auto;
        max-height: 14;
    }
    UploadDialog #upload-status.-error {
        color: $error;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="upload.cancel"),
    ]

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.initial = path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Upload a batch input file (purpose batch)", style="bold"))
            yield Label("Path of a .jsonl file")
            yield Input(self.initial, id="upload-path", placeholder="~/requests.jsonl")
            yield Static("", id="upload-status")
            with VerticalScroll(id="upload-problems"):
                yield Static("", id="upload-report")
            with Horizontal():
                yield Button("Cancel", id="upload-cancel")
                yield Button("Check and upload", variant="primary", id="upload-go")

    def on_mount(self) -> None:
        self.query_one("#upload-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.check(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "upload-go":
            self.check(self.query_one("#upload-path", Input).value)
        else:
            self.action_cancel()

    def _status(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#upload-status", Static)
        status.update(Text(one_line(message)))
        status.set_class(error, "-error")

    def check(self, value: str) -> None:
        """Check the path typed; the file itself is validated by a worker."""
        self.query_one("#upload-report", Static).update("")
        path = Path(value.strip()).expanduser()
        if not value.strip():
            self._status("Enter the path of a file.", error=True)
        elif not path.is_file():
            self._status(f"No such file: {one_line(str(path))}", error=True)
        else:
            self._status("Checking…")
            self.validate_file(path)

    @dataclass
    class Checked(Message):
        """What validating ``path`` found: a report, or why it could not be read."""

        path: Path
        report: ValidationReport | None
        error: Exception | None = None

    @work(exclusive=True, group="upload-check")
    async def validate_file(self, path: Path) -> None:
        """Validate the file off the event loop; :meth:`on_upload_dialog_checked` answers."""
        try:
            self.post_message(self.Checked(path, await asyncio.to_thread(validate, path)))
        except (BatchdeckError, OSError, ValueError) as exc:
            self.post_message(self.Checked(path, None, exc))

    def on_upload_dialog_checked(self, message: Checked) -> None:
        """Dismiss with the file if the API would take it; else say why not."""
        report = message.report
        if report is None:
            self._status(f"Cannot read {one_line(str(message.path))}: {message.error}", error=True)
        elif not report.ok:
            self._status("The API would refuse this file; nothing uploaded.", error=True)
            self.query_one("#upload-report", Static).update(report_text(report))
        else:
            self.dismiss(message.path)

    def action_cancel(self) -> None:
        self.dismiss(None)
