"""EditJobDialog: edit the local description and tags of a batch's job.

The dialog returns what the user changed, not the whole form: saving applies it to
the record as it is on disk then (``registry.modify(job_id, edit.apply)``, a
read-modify-write under the registry lock), so a tag the CLI added while the
dialog was open survives a description edit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from tui.core.registry import Job
from tui.core.text import one_line
from tui.dialogs.base import Dialog


@dataclass(frozen=True, slots=True)
class JobEdit:
    """What the dialog returns: the description and tags as the user left them, and
    as the dialog opened with (so that only the changes are written back)."""

    description: str
    tags: tuple[str, ...]
    old_description: str = ""
    old_tags: tuple[str, ...] = ()

    def apply(self, job: Job) -> Job:
        """``job`` (as stored now) with only this edit's changes: the description if
        the user changed it, the tags the user added and removed; the rest of the
        record, including changes made by others meanwhile, is kept."""
        changes: dict[str, object] = {}
        if self.description != self.old_description:
            changes["description"] = self.description
        added = [tag for tag in self.tags if tag not in self.old_tags]
        removed = set(self.old_tags) - set(self.tags)
        if added or removed:
            kept = [tag for tag in job.tags if tag not in removed]
            changes["tags"] = tuple(kept + [tag for tag in added if tag not in kept])
        return replace(job, **changes) if changes else job  # type: ignore[arg-type]


def parse_tags(text: str) -> tuple[str, ...]:
    """Comma- or space-separated tags, stripped, without duplicates, in order."""
    seen: dict[str, None] = {}
    for part in text.replace(",", " ").split():
        seen.setdefault(part.strip(), None)
    return tuple(tag for tag in seen if tag)


class EditJobDialog(Dialog[JobEdit | None]):
    """Two inputs; Enter or Save returns a :class:`JobEdit`, Escape returns None."""

    DEFAULT_CSS = """
    EditJobDialog > Vertical {
        width: 72;
    }
    EditJobDialog Label {
        margin-top: 1;
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
        self.dismiss(JobEdit(description, tags, self.description.strip(), self.tags))

    def action_cancel(self) -> None:
        self.dismiss(None)
