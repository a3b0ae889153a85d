"""The queue's runner inside the app: while the app is open, one pass of
:func:`tui.core.queue.run_queue_pass` on the active profile every few seconds, as
long as the queue has parts of that profile waiting or in flight.

A timer of the app starts a short worker (group ``queue-runner``) that looks at the
registry (in a thread) and runs a pass when there is something to do; a tick while
a pass is under way is skipped, so passes never overlap. A cron ``batchdeck queue
run`` at the same time is safe: the core's lock lets one runner pass at a time and
the other's pass is a no-op (``busy``). With ``[hooks]`` set, parts and job
groups seen ending fire the notifications (once, whoever sees them first). Problems
and errors are shown as notifications (each distinct one once in a row); the timer
and a pass under way end with the app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from textual.timer import Timer
from textual.worker import Worker

from tui.screens.base import REPORTED, reason

if TYPE_CHECKING:
    from textual.app import App

    from tui.core.config import Profile
    from tui.core.queue import PassReport
    from tui.core.registry import Registry
    from tui.deck import Deck

logger = logging.getLogger(__name__)

QUEUE_EVERY = 15.0  # seconds between passes while the queue has work for this profile
FIRST_AFTER = 1.0  # seconds after start-up before the first look (start-up comes first)


def has_work(registry: Registry, profile: Profile) -> bool:
    """Whether a job group of ``profile`` (on its server) has parts not final: waiting
    ones to send or ones in flight to follow. Reads the registry (blocking)."""
    from tui.core.queue_view import groups_of

    base = profile.public_base_url()
    jobs = [j for j in registry.load().values() if j.profile == profile.name and j.base_url == base]
    return any(not group.final and not group.dropped for group in groups_of(jobs).values())


class QueueRunner:
    """Runs the queue for the app's active profile while the app is open."""

    def __init__(self, app: App[Any], interval: float = QUEUE_EVERY) -> None:
        self.app = app
        self.interval = interval
        self.passes = 0  # passes run (not counting busy ones)
        self.sent = 0  # parts sent by this app's passes
        self.last: PassReport | None = None
        self._said: set[str] = set()  # problems shown at the last pass
        self._worker: Worker[None] | None = None
        self._timer: Timer | None = None
        self._again = False  # a poke came while a pass was under way

    @property
    def deck(self) -> Deck:
        return self.app  # type: ignore[return-value]  # BatchDeckApp provides Deck

    def start(self) -> None:
        """Pass soon (:data:`FIRST_AFTER`), then every :attr:`interval` seconds."""
        self._timer = self.app.set_interval(self.interval, self.tick, name="queue runner")
        self.app.set_timer(min(FIRST_AFTER, self.interval), self.tick, name="first queue pass")

    def tick(self) -> None:
        """Start a pass, unless one is under way."""
        if self._worker is not None and self._worker.is_running:
            return
        self._worker = self.app.run_worker(
            self._passes(), name="queue pass", group="queue-runner", exit_on_error=False
        )

    def poke(self) -> None:
        """Pass now (after a resume, a drop): after the pass under way, if any."""
        if self._worker is not None and self._worker.is_running:
            self._again = True
            return
        self.tick()

    async def _passes(self) -> None:
        while True:
            self._again = False
            await self.run_once()
            if not self._again:
                return

    async def run_once(self) -> PassReport | None:
        """One pass if the active profile's queue has work; None when it had none."""
        from tui.core.queue import run_queue_pass  # not needed for the first frame

        deck = self.deck
        registry, profile, client = deck.registry, deck.profile, deck.client
        try:
            if not await asyncio.to_thread(has_work, registry, profile):
                return None
            await deck.prepare_client()  # the SDK off the event loop, if not yet
            report = await run_queue_pass(
                registry, client, profile, hooks=deck.config.hooks, terminal=self._terminal
            )
        except REPORTED as exc:
            self._say({f"Queue runner: {reason(exc)}"}, "error")
            return None
        except Exception as exc:  # the app goes on; the loop tries again later
            logger.exception("queue pass failed")
            self._say({f"Queue runner: {reason(exc)}"}, "error")
            return None
        if not report.busy:
            self.passes += 1
            self.sent += len(report.sent)
            self.last = report
        for model, tokens in report.learned:
            self.app.notify(f"Learned: the {model} limit is at most {tokens:,} tokens")
        self._say({f"Queue: {problem}" for problem in report.problems}, "warning")
        return report

    def _terminal(self, text: str) -> None:
        """The ``[hooks]`` terminal sequences, through the app's driver (from the
        pass's threads too)."""
        from tui.screens.batch_alerts import _write_to_terminal

        try:
            self.app.call_from_thread(_write_to_terminal, self.app, text)
        except RuntimeError:  # on the app's own thread
            _write_to_terminal(self.app, text)

    def _say(self, messages: set[str], severity: Any) -> None:
        for message in sorted(messages - self._said):
            self.app.notify(message, severity=severity)
        self._said = messages
