"""ScreenPoller: one poll at a time for a screen, paused while it cannot be seen.

The screen's ``poll`` starts a poll (a worker); the screen calls :meth:`succeeded`
or :meth:`failed` when it has ended (in the handler of the worker's message), and
only then is the next one scheduled: polls never overlap. A poll that falls due
while a modal or another screen is on top of this one waits, looking again every
:data:`RECHECK` seconds. Failures back off (:class:`tui.core.poll.Backoff`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.screen import Screen
from textual.timer import Timer

from tui.core.poll import Backoff

RECHECK = 1.0  # seconds between looks while the screen is covered


class ScreenPoller:
    """Runs ``poll`` for ``screen``: now, after an interval, or after a back-off."""

    def __init__(
        self, screen: Screen[Any], poll: Callable[[], object], backoff: Backoff | None = None
    ) -> None:
        self.screen = screen
        self.poll = poll
        self.backoff = backoff or Backoff()
        self._timer: Timer | None = None

    @property
    def scheduled(self) -> bool:
        """Whether a next poll is waiting for its time."""
        return self._timer is not None

    @property
    def covered(self) -> bool:
        """Whether a modal or another screen is on top (the screen cannot be seen)."""
        return self.screen.app.screen is not self.screen

    def now(self) -> None:
        """Poll at once (``r``), whatever was scheduled."""
        self.stop()
        self.poll()

    def due(self) -> None:
        """The timer's callback: poll, unless the screen is covered (then look again)."""
        self._timer = None
        if self.covered:
            self.schedule(RECHECK)
            return
        self.poll()

    def succeeded(self, interval: float | None) -> None:
        """A poll ended well; the next in ``interval`` seconds (None: no more polls)."""
        self.backoff.success()
        if interval is None:
            self.stop()
        else:
            self.schedule(interval)

    def failed(self, error: BaseException | None = None) -> float:
        """A poll failed; the next after the back-off, whose delay is returned."""
        delay = self.backoff.failure(error)
        self.schedule(delay)
        return delay

    def schedule(self, delay: float) -> None:
        self.stop()
        self._timer = self.screen.set_timer(delay, self.due)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
