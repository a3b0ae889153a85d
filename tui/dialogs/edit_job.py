"""EditJobDialog: edit the local description and tags of a batch's job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.core.text import one_line


@dataclass(frozen=True, slots=True)
class JobEdit:
    """What the dialog returns: the new description and tags."""

    description: str
    tags: tuple[str, ...]


def parse_tags(text: str) -> tuple[str, ...]:
    """Comma- or space-separated tags, stripped, without duplicates, in order."""
    seen: dict[str, None] = {}
    for part in text.replace(",", " ").split():
        seen.setdefault(part.strip(), None)
    return tuple(tag for tag in seen if tag)


class EditJobDialog(ModalScreen[JobEdit | None]):
    """Two inputs; Enter or Save returns a :class:`JobEdit`, Escape returns None."""

    DEFAULT_CSS = """
    EditJobDialog {
        align: center middle;
    }
    EditJobDialog > Vertical {
        width: 72;
        max-width: 95%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    EditJobDialog Label {
        margin-top: 1;
    }
    EditJobDialog Horizontal {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    EditJobDialog Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="edit_job.cancel"),
        Binding("ctrl+s", "save", "Save", id="edit_job.save"),
    ]

    def __init__(self, batch_id: str, description: str, tags: tuple[str, ...]) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.description = description
        self.tags = tags

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Describe {one_line(self.batch_id)}", style="bold"))
            yield Label("Description")
            yield Input(self.description, id="edit-description", placeholder="what this is")
            yield Label("Tags (comma or space separated)")
            yield Input(" ".join(self.tags), id="edit-tags", placeholder="nightly, support")
            with Horizontal():
                yield Button("Cancel", id="edit-cancel")
                yield Button("Save", variant="primary", id="edit-save")

    def on_mount(self) -> None:
        self.query_one("#edit-description", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "edit-save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        description = self.query_one("#edit-description", Input).value.strip()
        tags = parse_tags(self.query_one("#edit-tags", Input).value)
        self.dismiss(JobEdit(description, tags))

    def action_cancel(self) -> None:
        self.dismiss(None)
