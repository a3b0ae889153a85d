"""The base of batchdeck's screens: typed access to the app's services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

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
