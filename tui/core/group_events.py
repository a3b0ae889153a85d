"""A job group of the queue is done: one notification for the whole group, once.

When every part of a group is final (``queue_view.Group.final``),
:func:`notify_groups` fires the ``[hooks]`` ``final`` event for the group
(``tui.core.hooks``): ``BATCHDECK_GROUP_ID``, status ``completed`` or ``failed`` (a
part failed for good), the group's description, and the request counts summed over
the parts' latest attempts. ``tui.core.queue.run_queue_pass`` calls it at the end of
every pass, so the app, ``batchdeck queue run`` and cron all fire it.

Once only, as for batches (``tui.core.alerts``): the key :data:`GROUP_KEY` is claimed
in ``Job.notified`` of the group's first part (its latest attempt, which no longer
changes once the group is final) under the registry's lock; only the caller that
adds it delivers. Old news stays quiet: the group must have been seen unfinished by
the caller (``seen_active``) or have ended less than ``final_within`` ago.
Dropped groups are not notified about.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from tui.core.alerts import Outcome, claim
from tui.core.errors import BatchdeckError
from tui.core.hook_settings import HookSettings
from tui.core.hooks import Event, Writer, deliver
from tui.core.queue_view import Group, Part, queue_table
from tui.core.registry import Registry

GROUP_KEY = "group:final"
FINAL_TIMES = ("completed_at", "failed_at", "expired_at", "cancelled_at")


def _count(table: Mapping[str, Any], key: str) -> int:
    value = table.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _counts(part: Part) -> tuple[int, int, int]:
    """The part's completed, failed and total requests; a part whose batch never
    counted them (refused, abandoned) counts its requests as failed."""
    counts = (part.job.snapshot or {}).get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    total = _count(counts, "total")
    if total:
        return _count(counts, "completed"), _count(counts, "failed"), total
    requests = _count(queue_table(part.job) or {}, "requests")
    return 0, requests, requests


def group_event(group: Group) -> Event:
    """The ``final`` event of a group whose every part is final."""
    completed = failed = total = 0
    for part in group.latest.values():
        done, bad, all_ = _counts(part)
        completed, failed, total = completed + done, failed + bad, total + all_
    status = "failed" if group.failed else "completed"
    return Event(
        kind="final",
        key=GROUP_KEY,
        batch_id="",
        status=status,
        description=group.description,
        completed=completed,
        failed=failed,
        total=total,
        detail=f"{group.parts} parts, {group.failed_parts} failed" if group.failed else "",
        group_id=group.group_id,
    )


def ended_at(group: Group) -> float | None:
    """When the last part became final, from the batches' own times (if known)."""
    times = [
        float(value)
        for part in group.latest.values()
        for value in ((part.job.snapshot or {}).get(name) for name in FINAL_TIMES)
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    return max(times) if times else None


def due_groups(
    groups: Iterable[Group], settings: HookSettings, now: float, seen_active: Collection[str]
) -> list[Group]:
    """The final groups that call for their event and have not had it yet."""
    out = []
    for group in groups:
        if not group.final or group.dropped or not group.latest:
            continue
        if GROUP_KEY in first_part(group).job.notified:
            continue
        ended = ended_at(group)
        recent = ended is None or now - ended <= settings.final_within
        if group.group_id in seen_active or recent:
            out.append(group)
    return out


def first_part(group: Group) -> Part:
    return group.latest[min(group.latest)]


def notify_groups(
    registry: Registry,
    groups: Iterable[Group],
    settings: HookSettings,
    *,
    seen_active: Collection[str] = (),
    now: float | None = None,
    terminal: Writer | None = None,
) -> Outcome:
    """Deliver the ``final`` event of every group in ``groups`` that is done and was
    not notified about yet (see the module docstring). Blocking (it runs hooks).
    Registry errors propagate; hook failures are in ``problems``."""
    outcome = Outcome()
    if not settings.active:
        return outcome
    now = time.time() if now is None else now
    for group in due_groups(groups, settings, now, seen_active):
        if claim(registry, first_part(group).job.job_id, [GROUP_KEY], now):
            event = group_event(group)
            outcome.fired.append(event)
            outcome.problems.extend(deliver(event, settings, terminal))
    return outcome


async def announce_groups(
    registry: Registry,
    before: Mapping[str, Group],
    after: Mapping[str, Group],
    settings: HookSettings,
    terminal: Writer | None = None,
) -> tuple[list[str], list[str]]:
    """For a queue pass that saw ``before`` and left ``after`` (group id -> group):
    :func:`notify_groups` in a thread. The ids of the groups announced and the
    problems, in words; never raises for the registry's or the disk's trouble."""
    if not settings.active:
        return [], []
    unfinished = {group_id for group_id, group in before.items() if not group.final}
    try:
        outcome = await asyncio.to_thread(
            notify_groups,
            registry,
            after.values(),
            settings,
            seen_active=unfinished,
            terminal=terminal,
        )
    except (BatchdeckError, OSError) as exc:
        return [], [f"notifying about job groups: {exc}"]
    return [event.group_id for event in outcome.fired], outcome.problems
