"""F1 help: the keys that apply now, read from the live bindings.

The app hands over ``screen.active_bindings`` of the screen below (focused widget,
then its screen, then the app), so what is listed is what the keys do right now,
hidden footer keys included. Textual's own navigation keys are listed only where they
are of use (:data:`TEXTUAL_KEPT`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui.dialogs.base import Dialog

# Textual's own bindings (no id) worth listing, by action, in words; the rest (sideways
# scrolling of a row table, copying a selection there is none of, ...) are left out.
TEXTUAL_KEPT = {
    "cursor_up": "Up",
    "cursor_down": "Down",
    "page_up": "Page up",
    "page_down": "Page down",
    "app.focus_next": "Next field",
    "app.focus_previous": "Previous field",
    "quit": "Quit",
    "command_palette": "Command palette",
}
LIST_WORDS = "lists"  # where the list keys (tui.list_keys) and arrows apply
WHERE_RANK = {"screen": 0, LIST_WORDS: 1, "app": 3}  # a widget's keys: 2


def words(name: str) -> str:
    """A class name spelled out: ``BatchTable`` is "Batch table"."""
    found = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", name)
    return " ".join(found).capitalize()


def where_of(active: ActiveBinding, app: Any) -> str:
    """Where a key applies, in a word: the app, the screen, lists, or the widget's
    ``HELP_TITLE`` (else its class name spelled out)."""
    binding, node = active.binding, active.node
    textual_move = not binding.id and binding.action.startswith(("cursor_", "page_"))
    if textual_move or (binding.id or "").startswith("list."):
        return LIST_WORDS
    if node is app:
        return "app"
    if isinstance(node, Screen):
        return "screen"
    title = getattr(node, "HELP_TITLE", None)
    return title if isinstance(title, str) and title else words(type(node).__name__)


def binding_rows(bindings: dict[str, ActiveBinding], app: Any) -> list[tuple[str, str, str]]:
    """(keys, description, where) for batchdeck's bindings and the few useful ones of
    Textual's (:data:`TEXTUAL_KEPT`); keys that do the same thing in the same place share
    a row. Ordered screen, lists, widgets, app; in binding order within each."""
    merged: dict[tuple[str, str], list[str]] = {}
    for active in sorted(bindings.values(), key=lambda active: not active.binding.id):
        binding = active.binding  # batchdeck's own first: ``q`` before ``^q``
        kept = TEXTUAL_KEPT.get(binding.action, "")
        description = binding.description if binding.id else kept
        if not description:
            continue
        display = binding.key_display or app.get_key_display(binding)
        keys = merged.setdefault((description, where_of(active, app)), [])
        if display not in keys:
            keys.append(display)
    rows = [(" ".join(keys), description, where) for (description, where), keys in merged.items()]
    return sorted(rows, key=lambda row: WHERE_RANK.get(row[2], 2))


def screen_title(screen: Screen[Any]) -> str:
    """A screen's name in words: its ``HELP_TITLE``, else its ``PALETTE_GROUP``, else
    its class name spelled out (``BatchDetailScreen``: "Batch detail")."""
    for name in ("HELP_TITLE", "PALETTE_GROUP"):
        title = getattr(screen, name, None)
        if isinstance(title, str) and title:
            return title
    return words(type(screen).__name__.removesuffix("Screen")) or "Screen"


class HelpScreen(Dialog[None]):
    """The keys of the screen below, as a table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, bindings: Mapping[str, ActiveBinding], below: Screen[Any]) -> None:
        super().__init__()
        self._keys: dict[str, ActiveBinding] = dict(bindings)
        self._below = below

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(Text(f"Keys · {screen_title(self._below)}"), id="help-title")
            yield DataTable(id="help-keys", cursor_type="row", show_cursor=False)
            yield Static(Text("Ctrl+P: every command by name · Esc: close"), id="help-hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Key", key="key")
        table.add_column("Does", key="does")
        table.add_column("Where", key="where")
        for display, description, where in binding_rows(self._keys, self.app):
            table.add_row(Text(display, style="bold"), Text(description), Text(where))
        table.focus()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
