"""DeckHeader: Textual's Header, safe when its screen goes away while it mounts.

Textual's Header fills in its title from a watcher set up at mount, and that
watcher looks for the title widget. When the app quits (or the screen is closed)
while the screen is still being composed, the title widget was never mounted and
Textual 8's Header raises ``NoMatches``, which fails the app on its way out. This
header sets up the same watchers, and skips the update when there is nothing to
update.
"""

from __future__ import annotations

import contextlib

from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.events import Mount
from textual.widgets import Header
from textual.widgets._header import HeaderTitle


class DeckHeader(Header):
    """The app's title and sub-title (profile and server), as in Textual's Header."""

    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # instead of Header's own watchers (not Widget's: none apply)

        async def set_title() -> None:
            with contextlib.suppress(NoScreen, NoMatches):
                self.query_one(HeaderTitle).update(self.format_title())

        for source in (self.app, self.screen):
            self.watch(source, "title", set_title)
            self.watch(source, "sub_title", set_title)
