"""ExportDialog: ask where to export results (.csv or .jsonl), which request fields,
and whether to add the columns of the rows file the batch was composed from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from tui.core.results import export_format
from tui.core.text import plural, printable
from tui.dialogs.base import Dialog


@dataclass(frozen=True)
class ExportRequest:
    path: Path
    request_fields: tuple[str, ...]
    source_columns: bool = False  # the columns of the rows file the batch was composed from
    only_shown: bool = False  # only the rows the filters show, not every row


class ExportDialog(Dialog[ExportRequest | None]):
    """A path (its extension picks the format), dotted request fields, whether to write
    only the ``shown`` rows when a filter hides some of the ``total``, and, when the
    batch was composed from a rows file (``source``), whether to add its columns."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
    ]
    DEFAULT_CSS = """
    ExportDialog > Vertical { width: 72; max-width: 100%; }
    ExportDialog Input { margin-bottom: 1; }
    ExportDialog Checkbox { margin-bottom: 1; }
    ExportDialog #export-error { color: $error; height: auto; }
    """

    def __init__(
        self, default_path: Path, source: Path | None = None, total: int = 0, shown: int = 0
    ) -> None:
        super().__init__()
        self.default_path = default_path
        self.source = source
        self.total = total
        self.shown = shown

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Export results to (.csv or .jsonl)")
            yield Input(str(self.default_path), id="export-path")
            yield Label("Request fields to include (comma-separated, e.g. body.model)")
            yield Input("body.model", id="export-fields")
            yield Static(f"All {plural(self.total, 'row')}", id="export-rows")
            if self.shown != self.total:
                yield Checkbox(
                    f"Only the {plural(self.shown, 'shown row')}",
                    True,
                    id="export-only-shown",
                    compact=True,
                )
            if self.source is not None:
                yield Checkbox(
                    Text(f"Include the columns of {printable(self.source.name)}"),
                    True,
                    id="export-source",
                    compact=True,
                )
            yield Static("", id="export-error")
            yield Button("Export", variant="primary", id="export-ok")

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._submit()

    def _submit(self) -> None:
        raw = self.query_one("#export-path", Input).value.strip()
        path = Path(raw).expanduser()
        try:
            export_format(path)
        except ValueError as exc:
            self.query_one("#export-error", Static).update(Text(str(exc)))
            return
        fields = self.query_one("#export-fields", Input).value
        names = tuple(name.strip() for name in fields.split(",") if name.strip())
        boxes = self.query("#export-source").results(Checkbox)
        source_columns = any(box.value for box in boxes)
        only = any(box.value for box in self.query("#export-only-shown").results(Checkbox))
        self.dismiss(ExportRequest(path, names, source_columns, only))

    def action_cancel(self) -> None:
        self.dismiss(None)
