"""What screens need from the app, without importing it: the stylesheets' folder and
the :class:`Deck` services (client, registry, profile...).

``tui.app`` imports the screens and the screens import this module, never
``tui.app``: there is no import circle between the shell and its screens.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Config, Profile
    from tui.core.registry import Registry


def styles_dir() -> Path:
    """The ``.tcss`` files: inside the package when installed from a wheel,
    beside it (the repository's ``styles/``) in an editable install."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "styles", package.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FileNotFoundError(f"batchdeck's styles are missing (looked in {package})")


class Deck(Protocol):
    """The app's services as screens see them (``BatchDeckApp`` provides them)."""

    config: Config
    client: BatchClient
    registry: Registry
    profile: Profile
    bell_enabled: bool

    async def prepare_client(self) -> None:
        """Load the SDK off the event loop (once)."""

    async def first_frame(self) -> None:
        """Return once the app's first frame is on the terminal (at once in tests that
        do not run the app): work that would compete with it waits for this."""

    def open_results(self, batch_id: str) -> None:
        """Push the results browser of ``batch_id``."""
