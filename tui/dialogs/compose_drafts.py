"""The compose screen's dialogs about drafts: leaving with changes, naming a
template, and choosing a template or the last draft to open.

As in :class:`~tui.dialogs.confirm.ConfirmDialog`, the focused button is the one
that looks chosen, and Enter presses it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.core.drafts import DraftError, check_name
from tui.core.text import one_line
from tui.dialogs.base import Dialog

LAST_DRAFT = "\0last"  # the option id of the last draft (no template name can be this)

DIALOG_CSS = """
{name} .dialog-title {{
    text-style: bold;
}}
{name} .dialog-note {{
    color: $text-muted;
    margin-top: 1;
}}
{name} .dialog-note.-error {{
    color: $error;
}}
{name} Button:focus {{
    background: $accent;
    color: $text;
    text-style: bold;
}}
{name} OptionList {{
    height: auto;
    max-height: 12;
    margin-top: 1;
}}
"""


class LeaveComposeDialog(Dialog[str]):
    """Leaving Compose with changes: ``"save"`` (keep the draft), ``"discard"`` or
    ``"stay"``."""

    DEFAULT_CSS = DIALOG_CSS.format(name="LeaveComposeDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "answer('save')", "Keep draft", id="leave.save"),
        Binding("d", "answer('discard')", "Discard", id="leave.discard"),
        Binding("escape", "answer('stay')", "Stay", id="leave.stay"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Leave Compose? Your changes are not saved.", classes="dialog-title")
            yield Static(
                "Keep draft: reopen it later with F7 (Open). Discard: they are gone.",
                classes="dialog-note",
            )
            with Horizontal():
                yield Button("Stay", id="leave-stay")
                yield Button("Discard", id="leave-discard")
                yield Button("Keep draft", id="leave-save")

    def on_mount(self) -> None:
        self.query_one("#leave-save", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(str(event.button.id).removeprefix("leave-"))

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


class TemplateNameDialog(Dialog[str | None]):
    """Ask a template's name; Enter or Save returns it (checked), Escape None."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TemplateNameDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="template.cancel"),
    ]

    def __init__(self, existing: list[str]) -> None:
        super().__init__()
        self.existing = existing

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Save the compose fields as a template", classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder="e.g. review labels", id="template-name")
            names = ", ".join(self.existing[:8]) + (" …" if len(self.existing) > 8 else "")
            note = f"Saved already: {one_line(names, 200)}" if self.existing else ""
            yield Static(Text(note), id="template-note", classes="dialog-note")
            with Horizontal():
                yield Button("Cancel", id="template-cancel")
                yield Button("Save", id="template-save")

    def on_mount(self) -> None:
        self.query_one("#template-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "template-save":
            self._save()
        else:
            self.dismiss(None)

    def _save(self) -> None:
        try:
            name = check_name(self.query_one("#template-name", Input).value)
        except DraftError as exc:
            note = self.query_one("#template-note", Static)
            note.update(Text(str(exc)))
            note.add_class("-error")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class OpenDraftDialog(Dialog[str | None]):
    """Choose the last draft (:data:`LAST_DRAFT`) or a template by name; Escape None."""

    DEFAULT_CSS = DIALOG_CSS.format(name="OpenDraftDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="open.cancel"),
    ]

    def __init__(self, has_last: bool, templates: list[str]) -> None:
        super().__init__()
        self.has_last = has_last
        self.templates = templates

    def compose(self) -> ComposeResult:
        options = [Option("The last draft", id=LAST_DRAFT)] if self.has_last else []
        options += [Option(Text(f"Template: {one_line(n, 50)}"), id=n) for n in self.templates]
        with Vertical():
            yield Static("Open a draft or a template", classes="dialog-title")
            if options:
                yield OptionList(*options, id="open-choices")
                note = "Enter opens it: it replaces the compose fields."
            else:
                note = "Nothing saved yet: F6 saves a template; leaving keeps a draft."
            yield Static(note, classes="dialog-note")

    def on_mount(self) -> None:
        for choices in self.query(OptionList):
            choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
