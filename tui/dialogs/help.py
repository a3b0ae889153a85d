"""F1 help: the keys that apply now, read from the live bindings.

The app hands over ``screen.active_bindings`` of the screen below (focused widget,
then its screen, then the app), so what is listed is what the keys do right now,
hidden footer keys included.
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


def binding_rows(bindings: dict[str, ActiveBinding], app: Any) -> list[tuple[str, str, str]]:
    """(key, description, where) for every described binding, in a stable order."""
    rows: list[tuple[tuple[int, int], str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for key, active in bindings.items():
        binding = active.binding
        description = binding.description or binding.action
        if (key, description) in seen or not binding.description:
            continue
        seen.add((key, description))
        display = binding.key_display or app.get_key_display(binding)
        node = active.node
        where = (
            "app"
            if node is app
            else ("screen" if isinstance(node, Screen) else type(node).__name__)
        )
        rank = (0 if binding.id else 1, {"screen": 0, "app": 1}.get(where, 2))
        rows.append((rank, display, description, where))
    # batchdeck's own keys (they have ids) first: screen, app, focused widget
    rows.sort(key=lambda row: row[0])
    return [(display, description, where) for _, display, description, where in rows]


def screen_title(screen: Screen[Any]) -> str:
    """A screen's name in words: its ``HELP_TITLE``, else its ``PALETTE_GROUP``, else
    its class name spelled out (``BatchDetailScreen``: "Batch detail")."""
    for name in ("HELP_TITLE", "PALETTE_GROUP"):
        title = getattr(screen, name, None)
        if isinstance(title, str) and title:
            return title
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", type(screen).__name__.removesuffix("Screen"))
    return " ".join(words).capitalize() or "Screen"


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
