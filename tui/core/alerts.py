"""When to notify about a batch, once: final states, stuck batches, expiry.

:func:`due` says which events a batch calls for now (pure, cheap: the app asks for
every batch it fetches); :func:`notify_batch` claims them in the registry and
delivers them (``tui.core.hooks``). The app's pollers, ``batchdeck watch`` and
``batchdeck webhooks`` all call :func:`notify_batch`; each event fires once per
batch even with all of them running, because claiming is one read-modify-write of
the job's ``notified`` table under the registry's lock: only the process that adds
the key delivers the event.

Events (the keys of ``Job.notified``):

- ``final``: the batch is completed, failed, expired or cancelled. Only news: the
  caller saw it running (``seen_active``), or it became final less than
  ``final_within`` ago (default a day), so old batches never fire. A part of a
  queue job group is told with its group, once (``tui.core.group_events``), never
  part by part: a part that failed over the token limit is sent again anyway.
- ``stuck:validating`` / ``stuck:finalizing``: in that state longer than usual.
  "Usual" is a threshold, ``stuck_validating`` (default 1 h) and
  ``stuck_finalizing`` (default 2 h), counted from when the batch entered the state
  (``created_at`` / ``finalizing_at``); OpenAI validates in minutes and finalizes
  large batches in well under an hour, so these only catch real trouble.
- ``expiring``: not final ``expiry_warning`` (default 2 h) before its ``expires_at``.

Only batches with a job in the registry are notified about (the registry is where
"already sent" is kept); ``adopt=True`` gives a batch a job first (``watch`` and
the webhook receiver do: the user named the batch, or the account's webhook did).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from tui.core.hook_settings import HookSettings
from tui.core.hooks import Event, Writer, deliver
from tui.core.models import batch_description
from tui.core.poll import state_since
from tui.core.queue_view import queue_table
from tui.core.timefmt import duration

if TYPE_CHECKING:
    from tui.core.config import Profile
    from tui.core.models import Batch
    from tui.core.registry import Job, Registry

STUCK_STATES = ("validating", "finalizing")


@dataclass
class Outcome:
    """What :func:`notify_batch` did: the events it delivered and what went wrong."""

    fired: list[Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def due(
    batch: Batch,
    job: Job | None,
    settings: HookSettings,
    now: float,
    *,
    seen_active: bool = False,
) -> list[Event]:
    """The events ``batch`` calls for now that ``job`` has not had yet."""
    sent = job.notified if job is not None else {}
    found: list[tuple[str, str, str]] = []  # kind, key, detail
    since = state_since(batch)
    if batch.is_final:
        if job is not None and queue_table(job) is not None:
            return []  # a queue part's end is told once for its group (core.group_events)
        recent = since is not None and now - since <= settings.final_within
        if "final" not in sent and (seen_active or recent):
            found.append(("final", "final", ""))
        return [_event(batch, job, *item) for item in found]
    limits = {"validating": settings.stuck_validating, "finalizing": settings.stuck_finalizing}
    if batch.status in limits and since is not None and now - since > limits[batch.status]:
        key = f"stuck:{batch.status}"
        if key not in sent:
            found.append(("stuck", key, f"{batch.status} for {duration(now - since)}"))
    left = batch.expires_at - now if batch.expires_at else None
    if left is not None and left < settings.expiry_warning and "expiring" not in sent:
        words = f"{batch.status}, expires in {duration(left)}" if left > 0 else "past its expiry"
        found.append(("expiring", "expiring", words))
    return [_event(batch, job, *item) for item in found]


def _event(batch: Batch, job: Job | None, kind: str, key: str, detail: str) -> Event:
    counts = batch.request_counts
    return Event(
        kind=kind,
        key=key,
        batch_id=batch.id,
        status=batch.status,
        description=batch_description(batch, job),
        completed=counts.completed,
        failed=counts.failed,
        total=counts.total,
        detail=detail,
    )


def claim(registry: Registry, job_id: str, keys: list[str], now: float) -> list[str]:
    """Mark ``keys`` as sent for the job, under the registry's lock; the keys this
    call marked (those no one had marked before): deliver exactly those."""
    claimed: list[str] = []

    def mark(job: Job) -> Job:
        claimed[:] = [key for key in keys if key not in job.notified]
        if not claimed:
            return job
        return replace(job, notified={**job.notified, **dict.fromkeys(claimed, now)})

    registry.modify(job_id, mark)
    return claimed


def adopt_batch(registry: Registry, batch: Batch, profile: Profile | None) -> Job | None:
    """Record ``batch``'s snapshot, giving it a job if it has none; a job made here
    belongs to ``profile`` (when given), so only that profile lists the batch."""
    job = registry.record_snapshot(batch, create=True)
    if job is not None and profile is not None and not job.profile:
        job = registry.update(job.job_id, profile=profile.name, base_url=profile.public_base_url())
    return job


def notify_batch(
    registry: Registry,
    batch: Batch,
    settings: HookSettings,
    *,
    now: float | None = None,
    seen_active: bool = False,
    adopt: bool = False,
    profile: Profile | None = None,
    terminal: Writer | None = None,
) -> Outcome:
    """Deliver the events ``batch`` calls for that nobody delivered yet.

    ``adopt``: a batch with no job gets one, of ``profile`` (the account it was
    read from) when given, so that it is listed with that profile's batches only.
    Blocking (it runs hooks): call it from a thread in the app. Registry errors
    propagate (``BatchdeckError``/``OSError``); hook failures are in ``problems``.
    """
    outcome = Outcome()
    if not settings.active:
        return outcome
    now = time.time() if now is None else now
    job = registry.find_by_batch(batch.id)
    if job is None and adopt:
        job = adopt_batch(registry, batch, profile)
    if job is None:
        return outcome
    events = due(batch, job, settings, now, seen_active=seen_active)
    if not events:
        return outcome
    claimed = set(claim(registry, job.job_id, [event.key for event in events], now))
    for event in events:
        if event.key in claimed:
            outcome.fired.append(event)
            outcome.problems.extend(deliver(event, settings, terminal))
    return outcome
