"""The base of batchdeck's screens: typed access to the app's services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from tui.keys import letter_blocked

if TYPE_CHECKING:
    from tui.app import BatchDeckApp


class DeckScreen(Screen[None]):
    """A screen of :class:`~tui.app.BatchDeckApp`, with its client, registry and
    profile one attribute away (``self.deck.client``)."""

    @property
    def deck(self) -> BatchDeckApp:
        from tui.app import BatchDeckApp

        assert isinstance(self.app, BatchDeckApp)
        return self.app

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A screen's letter keys do not fire while a field has focus (tui.keys);
        screens that override this start with ``super().check_action(...)``."""
        return not letter_blocked(self.focused)
