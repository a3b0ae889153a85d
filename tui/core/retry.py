"""Retry a batch's failed requests as a new, linked batch: the one code path behind the
results screen's ``R`` and ``batchdeck retry``.

:func:`submit_retry` writes the chosen retry groups' original lines
(:func:`tui.core.results.write_retry_file`) and submits them through the journal
with ``retry_of`` = the parent, so the registry links both ways
(:func:`tui.core.results.retry_links`) and the results of both are merged.
:data:`OUTCOMES` names the choices a script has (``--outcome``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.core.results import DEFAULT_RETRY, RETRY_GROUPS
from tui.core.text import plural

if TYPE_CHECKING:
    from collections.abc import Collection

    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.registry import Job, Registry
    from tui.core.results import ResultIndex, RetryFile, RetryLinks

OUTCOMES: dict[str, frozenset[str]] = {
    "failed": frozenset({"429", "5xx", "4xx", "request_error"}),  # answered with an error
    "expired": frozenset({"expired", "cancelled"}),  # not run before expiry or cancel
    "missing": frozenset({"missing"}),  # no result line at all
    "retryable": DEFAULT_RETRY,  # what can succeed unchanged (as R checks by default)
    "all": frozenset(group.key for group in RETRY_GROUPS),
}
"""``--outcome`` choices and the retry groups (:data:`RETRY_GROUPS` keys) each sends."""


@dataclass(frozen=True, slots=True)
class Retried:
    """The retry's job (its batch id), the file it sent and the parent's links now."""

    job: Job
    planned: RetryFile
    links: RetryLinks


async def submit_retry(
    index: ResultIndex,
    batch_id: str,
    groups: Collection[str],
    *,
    registry: Registry,
    client: BatchClient,
    profile: Profile,
) -> Retried:
    """Submit the requests of ``groups`` in ``index`` (the results of ``batch_id``) as
    a new batch linked to it. Raises ``NoResultsError`` when nothing is chosen."""
    from tui.core.anthropic_journal import AnthropicJournal, journal_for
    from tui.core.anthropic_journal import submit_retry as submit_anthropic_retry
    from tui.core.results import retry_links, retry_path, write_retry_file

    planned = await asyncio.to_thread(write_retry_file, index, retry_path(batch_id), groups)
    journal = journal_for(registry, client, profile)
    if isinstance(journal, AnthropicJournal):  # inline {custom_id, params} lines
        job = await submit_anthropic_retry(journal, planned.path, batch_id, planned.count)
    else:
        job = await journal.submit(
            planned.path,
            index.endpoint,
            {"retry_of": batch_id[:512]},
            f"retry of {batch_id} ({plural(planned.count, 'request')})",
            retry_of=batch_id,
        )
    links = await asyncio.to_thread(retry_links, registry, batch_id)
    return Retried(job, planned, links)
