"""The app's side of the ``[hooks]`` notifications (``tui.core.alerts``).

The batches screen and the inspector call :func:`notify_batches` with what they
fetched. It picks the batches that call for an event (a cheap check on the jobs
the screen already holds) and hands them to a thread worker, which claims each
event in the registry (once per batch, whoever else is watching), runs the hook
and the desktop notifier, writes the terminal notification through Textual's
driver (OSC 9 / 777, on the app's own terminal), and shows a hook's failure as a
warning. Nothing here can fail a refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from tui.core import alerts, timefmt

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

    from tui.core.models import Batch
    from tui.core.registry import Job
    from tui.deck import Deck

logger = logging.getLogger(__name__)


def notify_batches(
    screen: Screen[Any],
    batches: Sequence[Batch],
    jobs: Mapping[str, Job] | None = None,
    seen_active: Collection[str] = (),
) -> None:
    """Fire what ``batches`` call for; ``jobs`` (by batch id) are the screen's own,
    used to skip the ones with nothing due (``None``: look each one up)."""
    deck = cast("Deck", screen.app)
    settings = deck.config.hooks
    if not settings.active:
        return
    now = timefmt.now()
    if jobs is not None:
        batches = [
            b
            for b in batches
            if (job := jobs.get(b.id)) is not None
            and alerts.due(b, job, settings, now, seen_active=b.id in seen_active)
        ]
    if batches:
        active = frozenset(seen_active)
        screen.run_worker(
            lambda: _fire(screen.app, deck, list(batches), active),
            thread=True,
            group="batch-alerts",
            description="batch notifications",
            exit_on_error=False,
        )


def _fire(app: App[Any], deck: Deck, batches: list[Batch], seen_active: frozenset[str]) -> None:
    """In a thread: claim and deliver; problems become warnings in the app."""
    from tui.screens.base import REPORTED, reason

    def terminal(text: str) -> None:
        app.call_from_thread(_write_to_terminal, app, text)

    for batch in batches:
        try:
            outcome = alerts.notify_batch(
                deck.registry,
                batch,
                deck.config.hooks,
                now=timefmt.now(),
                seen_active=batch.id in seen_active,
                terminal=terminal,
            )
            problems = outcome.problems
        except REPORTED as exc:
            logger.warning("notifying about %s failed: %s", batch.id, exc)
            problems = [f"notifying about {batch.id} failed: {reason(exc)}"]
        for problem in problems:
            app.call_from_thread(
                app.notify, problem, title="Notification", severity="warning", markup=False
            )


def _write_to_terminal(app: App[Any], text: str) -> None:
    """Escape sequences go out as ``App.bell`` sends its BEL: through the driver."""
    driver = app._driver
    if driver is not None:
        driver.write(text)
