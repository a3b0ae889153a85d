"""Retry a batch's failed requests as a new, linked batch: the one code path behind the
results screen's ``R`` and ``batchdeck retry``.

:func:`submit_retry` writes the chosen retry groups' original lines
(:func:`tui.core.results.write_retry_file`) and submits them through the journal
with ``retry_of`` = the parent, so the registry links both ways
(:func:`tui.core.results.retry_links`) and the results of both are merged. With
``queue`` the file goes into the local queue instead (``tui.core.queue``), each part
linked to the parent by its queue table's ``retry_of_batch``.
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
    """The retry's job (its batch id), or with ``queued`` the parts of its job group
    in the local queue (no batch ids yet); the file it sent and the parent's links."""

    jobs: tuple[Job, ...]
    planned: RetryFile
    links: RetryLinks
    queued: bool = False

    @property
    def job(self) -> Job:
        """The retry's job (the first part, when queued)."""
        return self.jobs[0]

    @property
    def group_id(self) -> str | None:
        return self.job.group_id if self.queued else None

    def summary(self) -> str:
        """What was done, in one line for people."""
        count = plural(self.planned.count, "request")
        if self.queued:
            parts = plural(len(self.jobs), "part")
            return f"Retry queued with {count} in {parts} (job group {self.group_id})"
        return f"Retry {self.job.batch_id} submitted with {count}"


async def submit_retry(
    index: ResultIndex,
    batch_id: str,
    groups: Collection[str],
    *,
    registry: Registry,
    client: BatchClient,
    profile: Profile,
    queue: bool = False,
    part_tokens: int | None = None,
) -> Retried:
    """Submit the requests of ``groups`` in ``index`` (the results of ``batch_id``) as
    a new batch linked to it; with ``queue``, put them in the local queue instead
    (split by the model's token limit and ``part_tokens``, one job group, every part
    linked to ``batch_id``): ``batchdeck queue run`` or the app sends them.
    Raises ``NoResultsError`` when nothing is chosen, and what ``enqueue_file``
    raises."""
    from tui.core.anthropic_journal import AnthropicJournal, anthropic_lines_of, journal_for
    from tui.core.anthropic_journal import submit_retry as submit_anthropic_retry
    from tui.core.results import retry_links, retry_path, write_retry_file

    journal = journal_for(registry, client, profile)
    planned = await asyncio.to_thread(write_retry_file, index, retry_path(batch_id), groups)
    metadata = {"retry_of": batch_id[:512]}
    description = f"retry of {batch_id} ({plural(planned.count, 'request')})"
    if isinstance(journal, AnthropicJournal) and queue:  # split by requests, one group
        from tui.core.queue import enqueue_file

        await asyncio.to_thread(anthropic_lines_of, planned.path)
        jobs = await asyncio.to_thread(
            enqueue_file, journal, planned.path, description=description, retry_of_batch=batch_id
        )
    elif isinstance(journal, AnthropicJournal):  # inline {custom_id, params} lines
        jobs = [await submit_anthropic_retry(journal, planned.path, batch_id, planned.count)]
    elif queue:
        from tui.core.queue import enqueue_file

        jobs = await asyncio.to_thread(
            enqueue_file,
            journal,
            planned.path,
            index.endpoint,
            description=description,
            metadata=metadata,
            part_tokens=part_tokens,
            retry_of_batch=batch_id,
        )
    else:
        job = await journal.submit(
            planned.path, index.endpoint, metadata, description, retry_of=batch_id
        )
        jobs = [job]
    links = await asyncio.to_thread(retry_links, registry, batch_id)
    return Retried(tuple(jobs), planned, links, queued=queue)
