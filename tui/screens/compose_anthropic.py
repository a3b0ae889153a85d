"""The compose screen's submit on an Anthropic profile: check the inputs as
``{custom_id, params}`` lines (:mod:`tui.core.anthropic_compose`), ask, and send one
message batch through the Anthropic journal. Runs in the screen's submit worker; every
outcome comes back to the screen as its messages."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from tui.core.anthropic_compose import check_anthropic
from tui.core.anthropic_journal import AnthropicJournal, journal_for
from tui.core.errors import BatchdeckError
from tui.core.journal import SubmitError
from tui.core.results import record_compose_source
from tui.core.submission import ComposeInputs, SubmitOptions, not_sent_message
from tui.screens.base import reason

if TYPE_CHECKING:
    from tui.screens.compose import ComposeScreen

logger = logging.getLogger(__name__)


async def submit_anthropic(
    screen: ComposeScreen, inputs: ComposeInputs, options: SubmitOptions
) -> None:
    """Check as Anthropic lines, ask, send one message batch through the journal."""
    deck = screen.deck
    try:
        checked = await asyncio.to_thread(check_anthropic, inputs)
        screen.post_message(screen.Checked(checked))
        report = checked.report
        if not report.ok:
            problems = f"{report.problem_count:,} problem(s) in {checked.path}"
            screen.post_message(screen.SubmitEnded([], f"Not sent: {problems}"))
            return
        if not await screen.confirm_submit(1, report.request_count, deck.profile.host()):
            screen.post_message(screen.SubmitEnded([], declined=True))
            return
        journal = journal_for(deck.registry, deck.client, deck.profile)
        if not isinstance(journal, AnthropicJournal):
            raise SubmitError("the app's client is not an Anthropic one; switch profile")
        screen.post_message(screen.Said("Creating the message batch…"))
        job = await journal.submit(checked.path, options.description)
        await asyncio.to_thread(record_compose_source, deck.registry, [job], inputs)
    except (BatchdeckError, OSError) as exc:
        screen.post_message(screen.SubmitEnded([], not_sent_message(exc)))
    except Exception as exc:  # last resort: the screen says so, the app goes on
        logger.exception("submitting the compose file to Anthropic failed")
        screen.post_message(screen.SubmitEnded([], f"Not sent: {reason(exc)}"))
    else:
        screen.post_message(screen.SubmitEnded([job]))
