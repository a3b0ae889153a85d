"""The compose screen's named templates and last draft (F6 keeps the fields as a
template, F7 opens one or the last draft; :mod:`tui.core.drafts` keeps them): the
dialogs and what their answers do to the screen's fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.core import drafts
from tui.core.drafts import Draft
from tui.core.errors import BatchdeckError
from tui.screens.compose_fields import read_draft, write_draft

if TYPE_CHECKING:
    from tui.screens.compose import ComposeScreen


def save_template(screen: ComposeScreen) -> None:
    """Ask for a name and keep the fields as that template."""
    from tui.dialogs.compose_drafts import TemplateNameDialog

    def named(name: str | None) -> None:
        if not name:
            return
        draft = read_draft(screen)
        try:
            path = drafts.save_template(name, draft)
        except BatchdeckError as exc:
            screen.fail(str(exc))
            return
        screen.mark_kept(draft)
        screen.set_status(f"Template {name} saved ({path})")

    screen.app.push_screen(TemplateNameDialog(drafts.list_templates()), named)


def open_draft(screen: ComposeScreen) -> None:
    """Ask which template (or the last draft) to open, and fill the fields from it."""
    from tui.dialogs.compose_drafts import LAST_DRAFT, OpenDraftDialog

    def chosen(choice: str | None) -> None:
        if choice is None:
            return
        name = "the last draft" if choice == LAST_DRAFT else f"template {choice}"
        try:
            draft = drafts.load_last() if choice == LAST_DRAFT else drafts.load_template(choice)
        except BatchdeckError as exc:
            screen.fail(str(exc))
            return
        if draft is not None:
            open_into(screen, draft, name)

    has_last = drafts.last_draft_path().is_file()
    screen.app.push_screen(OpenDraftDialog(has_last, drafts.list_templates()), chosen)


def open_into(screen: ComposeScreen, draft: Draft, name: str) -> None:
    """Fill the fields from ``draft``; changes not kept are asked about first."""
    from tui.dialogs.confirm import ConfirmDialog

    def replace(yes: bool | None = True) -> None:
        if yes:
            write_draft(screen, draft)
            screen.mark_kept(read_draft(screen))
            screen.checked = None
            screen.show_tab("tab-request")
            screen.set_status(f"Opened {name}")

    if not screen.changed():
        replace()
        return
    question = f"Replace the fields with {name}? Your changes are not kept."
    screen.app.push_screen(ConfirmDialog(question, yes="Replace", no="Keep mine"), replace)
