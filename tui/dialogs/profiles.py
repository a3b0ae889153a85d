"""The profile switcher: the profiles of ``config.toml``, pick one to use.

Each line shows the profile's name, its provider (when the profile names one), its
server's host and whether its key variable is set (the key itself is never shown).
The app does the switch: a new client (``BatchClient(profile)``) and the batches
reloaded.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.core.config import Config, Profile
from tui.core.text import one_line
from tui.dialogs.base import Dialog


def profile_label(profile: Profile, current: bool) -> Text:
    """``● work  [groq]  api.groq.com  (GROQ_API_KEY set)``, all literal."""
    label = Text("● " if current else "  ", style="bold" if current else "")
    label.append(one_line(profile.name, 24), style="bold")
    if profile.provider:
        label.append(f"  [{profile.provider}]", style="italic")
    label.append("  " + one_line(profile.host(), 40))
    has_key = profile.api_key() is not None
    label.append(
        f"  ({one_line(profile.api_key_env, 30)} {'set' if has_key else 'not set'})",
        style="" if has_key else "dim",
    )
    return label


class ProfilesScreen(Dialog[str | None]):
    """Pick a profile; dismisses with its name, or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="profiles.cancel"),
    ]

    def __init__(self, config: Config, current: str) -> None:
        super().__init__()
        self._config = config
        self._current = current

    def compose(self) -> ComposeResult:
        names = list(self._config.profiles) or [self._current]
        options = [
            Option(
                profile_label(
                    self._config.profiles.get(name) or Profile(name), name == self._current
                ),
                id=name,
            )
            for name in names
        ]
        with Vertical(id="profiles-box"):
            yield Static(Text("Switch profile"), id="profiles-title")
            yield OptionList(*options, id="profiles-list")
            yield Static(Text("Enter: use · Esc: cancel"), id="profiles-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        names = list(self._config.profiles)
        if self._current in names:
            options.highlighted = names.index(self._current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        name = event.option.id
        self.dismiss(None if name == self._current else name)

    def action_cancel(self) -> None:
        self.dismiss(None)
