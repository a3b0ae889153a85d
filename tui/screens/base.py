"""The base of batchdeck's screens: the app's services, and how workers report back.

Workers never touch widgets after an ``await``: by then the screen may be on its
way out (Textual removes its children before it cancels its workers). A worker
posts a typed message to its screen instead; Textual delivers it only while the
screen still runs, and the handler paints. A worker's error meant for the user
(:data:`REPORTED`) goes back as :class:`DeckScreen.Failed`, shown by every screen
as one notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.message import Message
from textual.screen import Screen

from tui.core.errors import BatchdeckError
from tui.keys import letter_blocked

if TYPE_CHECKING:
    from tui.deck import Deck

REPORTED = (BatchdeckError, OSError, ValueError)
"""What a worker catches and reports: batchdeck's errors, the disk's, a bad value."""


def reason(exc: BaseException) -> str:
    """An error as a user reads it: batchdeck's and the disk's as they are, others named
    (``ZeroDivisionError: surprise``)."""
    return str(exc) if isinstance(exc, BatchdeckError | OSError) else f"{type(exc).__name__}: {exc}"


class DeckScreen(Screen[None]):
    """A screen of batchdeck, with its client, registry and profile one attribute
    away (``self.deck.client``)."""

    deck_view: Deck | None = None
    """Other services than the app's to act through, set before the screen is pushed
    (the fleet view opens a batch on its own profile: ``screens/fleet.ProfileDeck``)."""

    @property
    def deck(self) -> Deck:
        return self.deck_view if self.deck_view is not None else cast("Deck", self.app)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A screen's letter keys do not fire while a field has focus (tui.keys);
        screens that override this start with ``super().check_action(...)``."""
        return not letter_blocked(self.focused)

    @dataclass(eq=False, repr=False)  # a message: never compared, never printed
    class Failed(Message):
        """A worker could not do what ``doing`` says (``"Download failed"``)."""

        doing: str
        error: Exception

    def on_deck_screen_failed(self, message: Failed) -> None:
        error = message.error  # batchdeck's, the disk's or a bad value as it is; others named
        text = str(error) if isinstance(error, REPORTED) else reason(error)
        self.notify(f"{message.doing}: {text}", severity="error", markup=False)
