"""What the queue holds, read from the registry alone (no network): parts, job
groups, and per profile and model the tokens in flight against the limit.

A queued part is a registry job whose ``submission`` table has a ``queue`` table
(written by ``tui.core.queue.enqueue_file``):

    order = 3            0-based place of the part in its group
    parts = 60           how many parts the group has
    tokens = 1234        the part's estimated input tokens
    model = "gpt-4o-mini"
    requests = 10
    enqueued_at = 1767225600.5
    in_flight_at_send = 3702   estimated tokens in flight, this part included, when sent
    paused = true        (the group is paused)
    dropped = true       (the group was dropped)
    unit = "requests"    (an Anthropic part: its lane counts requests, not tokens)
    not_before = 1767225630.0   (refused with a 429: not sent again before then)

Anthropic limits the requests waiting in its processing queue, not tokens, so on an
Anthropic profile a part's weight against the limit is its request count
(:attr:`Part.weight`); an OpenAI part's is its estimated input tokens.

A part sent again after a ``token_limit_exceeded`` failure is a new job with
``retry_of`` = the failed attempt and the same ``order``: the latest attempt of each
``(group_id, order)`` is the part. :func:`queue_view` answers, in one call, what a
screen or ``batchdeck queue ls`` shows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.config import Config, Profile
from tui.core.queue_limits import LimitBook, TokenLimit, limit_for
from tui.core.registry import Job

LIMIT_CODE = "token_limit_exceeded"
_PART_LABEL = re.compile(r" ?\(part [0-9]+/[0-9]+\)$")  # what enqueue_file adds
SENDING = ("intent", "uploading", "uploaded", "creating")

# What a part is doing (Part.phase)
WAITING = "waiting"  # queued, not sent
SENDING_PHASE = "sending"  # the journal is between intent and created
IN_FLIGHT = "in_flight"  # created, the batch is not final
COMPLETED = "completed"
OVER_LIMIT = "over_limit"  # failed with token_limit_exceeded: the runner sends it again
FAILED = "failed"  # failed otherwise, expired, cancelled or abandoned: final


def queue_table(job: Job) -> dict[str, Any] | None:
    """The job's ``submission.queue`` table, if it is a part of the queue."""
    table = (job.submission or {}).get("queue")
    return table if isinstance(table, dict) else None


def _int(table: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = table.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class Part:
    """One attempt at one part of a job group."""

    job: Job
    group_id: str
    order: int
    parts: int
    tokens: int
    model: str
    enqueued_at: float
    paused: bool
    dropped: bool
    in_flight_at_send: int | None
    requests: int = 0
    unit: str = "tokens"  # or "requests" (an Anthropic part)
    not_before: float | None = None

    @property
    def weight(self) -> int:
        """What the part counts against its lane's limit: tokens, or requests."""
        return self.requests if self.unit == "requests" else self.tokens

    def held_until(self, now: float) -> float | None:
        """When a part refused with a 429 may go again (None: it may go now)."""
        return self.not_before if self.not_before is not None and self.not_before > now else None

    @property
    def state(self) -> str:
        return str((self.job.submission or {}).get("state", ""))

    @property
    def phase(self) -> str:
        state = self.state
        if state == "queued":
            return WAITING
        if state in SENDING:
            return SENDING_PHASE
        if state == "abandoned":
            return FAILED
        status = self.job.status
        if status is None or status not in ("completed", "failed", "expired", "cancelled"):
            return IN_FLIGHT
        if status == "completed":
            return COMPLETED
        if status == "failed" and self.over_limit:
            return OVER_LIMIT
        return FAILED

    @property
    def over_limit(self) -> bool:
        errors = (self.job.snapshot or {}).get("errors") or {}
        data = errors.get("data") if isinstance(errors, dict) else errors
        return isinstance(data, list | tuple) and any(
            isinstance(item, dict) and item.get("code") == LIMIT_CODE for item in data
        )

    @property
    def alone_over_limit(self) -> bool:
        """It failed over the limit with nothing else in flight: too big by itself."""
        return self.over_limit and self.in_flight_at_send in (None, self.tokens)

    @property
    def why_failed(self) -> str:
        sub = self.job.submission or {}
        if self.state == "abandoned":
            return str(sub.get("note") or "abandoned")
        if self.over_limit and self.alone_over_limit:
            return f"over the {self.model} limit by itself ({self.tokens} tokens): split smaller"
        return f"batch {self.job.status}"


def part_of(job: Job) -> Part | None:
    table = queue_table(job)
    if table is None or not job.group_id:
        return None
    sent = table.get("in_flight_at_send")
    enqueued = table.get("enqueued_at", job.created_at)
    not_before = table.get("not_before")
    return Part(
        job=job,
        group_id=job.group_id,
        order=_int(table, "order"),
        parts=_int(table, "parts", 1),
        tokens=_int(table, "tokens"),
        model=str(table.get("model") or "?"),
        enqueued_at=float(enqueued) if isinstance(enqueued, int | float) else 0.0,
        paused=table.get("paused") is True,
        dropped=table.get("dropped") is True,
        in_flight_at_send=sent if isinstance(sent, int) and not isinstance(sent, bool) else None,
        requests=_int(table, "requests"),
        unit="requests" if table.get("unit") == "requests" else "tokens",
        not_before=float(not_before) if isinstance(not_before, int | float) else None,
    )


@dataclass
class Group:
    """A job group of the queue: its latest attempt at each part, by order."""

    group_id: str
    profile: str
    model: str
    parts: int
    description: str
    enqueued_at: float
    latest: dict[int, Part] = field(default_factory=dict)
    attempts: int = 0

    @property
    def complete(self) -> bool:
        """Every part was recorded (an enqueue cut short leaves a group that never runs)."""
        return len(self.latest) == self.parts

    @property
    def paused(self) -> bool:
        return any(part.paused for part in self.latest.values())

    @property
    def dropped(self) -> bool:
        return any(part.dropped for part in self.latest.values())

    @property
    def runnable(self) -> bool:
        return self.complete and not self.paused and not self.dropped

    def count(self, *phases: str) -> int:
        return sum(1 for part in self.latest.values() if part.phase in phases)

    @property
    def final(self) -> bool:
        """Nothing left to do: every part completed or failed for good."""
        return self.complete and all(
            part.phase in (COMPLETED, FAILED) or part.alone_over_limit
            for part in self.latest.values()
        )

    @property
    def failed_parts(self) -> int:
        return sum(1 for p in self.latest.values() if p.phase == FAILED or p.alone_over_limit)

    @property
    def failed(self) -> bool:
        return self.failed_parts > 0

    @property
    def status(self) -> str:
        if self.dropped:
            return "dropped"
        if not self.complete:
            return "incomplete"
        if self.final:
            return "failed" if self.failed else "completed"
        if self.paused:
            return "paused"
        return "running" if self.count(SENDING_PHASE, IN_FLIGHT) else "waiting"

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "profile": self.profile,
            "model": self.model,
            "description": self.description,
            "status": self.status,
            "parts": self.parts,
            "recorded": len(self.latest),
            "completed": self.count(COMPLETED),
            "in_flight": self.count(SENDING_PHASE, IN_FLIGHT),
            "waiting": self.count(WAITING, OVER_LIMIT),
            "failed": self.failed_parts,
            "attempts": self.attempts,
        }


def groups_of(jobs: Iterable[Job]) -> dict[str, Group]:
    """The queue's job groups among ``jobs``, each with the latest attempt of each part."""
    jobs = list(jobs)
    superseded = {job.retry_of for job in jobs if job.retry_of}
    groups: dict[str, Group] = {}
    for job in jobs:
        part = part_of(job)
        if part is None:
            continue
        group = groups.get(part.group_id)
        if group is None:
            label = _PART_LABEL.sub("", job.description)
            group = groups[part.group_id] = Group(
                part.group_id, job.profile or "", part.model, part.parts, label, part.enqueued_at
            )
        group.attempts += 1
        group.enqueued_at = min(group.enqueued_at, part.enqueued_at)
        if job.job_id in superseded:
            continue
        known = group.latest.get(part.order)
        if known is None or known.job.created_at <= job.created_at:
            group.latest[part.order] = part
    return groups


def in_flight_tokens(parts: Iterable[Part]) -> int:
    """The weight in flight: estimated tokens, or requests on an Anthropic lane."""
    return sum(part.weight for part in parts if part.phase in (SENDING_PHASE, IN_FLIGHT))


@dataclass(frozen=True)
class Waiting:
    """A part not sent yet and why it waits."""

    job_id: str
    group_id: str
    order: int
    parts: int
    tokens: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "group_id": self.group_id,
            "part": self.order + 1,
            "parts": self.parts,
            "tokens": self.tokens,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Lane:
    """One profile and model: tokens in flight against the limit, and the parts
    waiting for room, in the order they will be sent."""

    profile: str
    model: str
    in_flight: int
    limit: TokenLimit
    waiting: tuple[Waiting, ...]
    unit: str = "tokens"  # what in_flight and the limit count: "tokens" or "requests"

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "model": self.model,
            "unit": self.unit,
            "in_flight_tokens": self.in_flight,
            "limit": self.limit.to_dict(),
            "waiting": [w.to_dict() for w in self.waiting],
        }


@dataclass(frozen=True)
class QueueView:
    lanes: tuple[Lane, ...]
    groups: tuple[Group, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "lanes": [lane.to_dict() for lane in self.lanes],
            "groups": [group.to_dict() for group in self.groups],
        }


def lane_order(groups: Iterable[Group]) -> list[Part]:
    """Parts not sent yet, in the order they go: oldest group first, then by part."""
    ordered = sorted(groups, key=lambda g: (g.enqueued_at, g.group_id))
    return [
        part
        for group in ordered
        for _, part in sorted(group.latest.items())
        if part.phase in (WAITING, OVER_LIMIT)
    ]


def build_lane(profile: Profile, model: str, groups: list[Group], limit: TokenLimit) -> Lane:
    """The lane of ``model``: its waiting parts and the reason each waits."""
    parts = [part for group in groups for part in group.latest.values()]
    unit = "requests" if any(part.unit == "requests" for part in parts) else "tokens"
    in_flight = in_flight_tokens(parts)
    waiting: list[Waiting] = []
    room = in_flight
    blocked: str | None = None
    by_id = {group.group_id: group for group in groups}
    now = time.time()
    for part in lane_order(groups):
        held = part.held_until(now)
        group = by_id[part.group_id]
        if part.alone_over_limit:
            continue
        if group.dropped:
            continue
        if not group.complete:
            reason = f"group incomplete ({len(group.latest)} of {group.parts} parts recorded)"
        elif group.paused:
            reason = "paused"
        elif part.phase == OVER_LIMIT:
            reason = "failed over the limit: the next pass queues it again"
        elif blocked is not None:
            reason = blocked
        elif held is not None:
            clock = time.strftime("%H:%M:%S", time.localtime(held))
            reason = f"refused by the server (429, queue full): waits until {clock}"
            blocked = f"after part {part.order + 1} of {part.group_id}"
        elif limit.fits(room, part.weight):
            reason = "ready: the next pass sends it"
            room += part.weight
        else:
            shown = f"{limit.tokens:,}" if limit.tokens is not None else "?"
            ahead = " or ready ahead" if room > in_flight else ""  # ahead: about to be sent
            reason = f"needs {part.weight:,} {unit}; {room:,} of {shown} in flight{ahead}"
            reason += f" ({limit.source})"
            blocked = f"after part {part.order + 1} of {part.group_id}"
        waiting.append(
            Waiting(part.job.job_id, part.group_id, part.order, part.parts, part.tokens, reason)
        )
    return Lane(profile.name, model, in_flight, limit, tuple(waiting), unit)


def queue_view(jobs: Mapping[str, Job], config: Config, queue_dir: Path) -> QueueView:
    """Per profile and model: tokens in flight, the limit (configured or learned, and
    which), the waiting parts with the reason each waits; and every group's progress.
    ``jobs`` is ``Registry.load()``; ``queue_dir`` holds the learned limits."""
    groups = groups_of(jobs.values())
    learned = LimitBook(queue_dir).read()
    by_lane: dict[tuple[str, str], list[Group]] = {}
    for group in groups.values():
        by_lane.setdefault((group.profile, group.model), []).append(group)
    lanes: list[Lane] = []
    for (name, model), members in sorted(by_lane.items()):
        profile = config.profiles.get(name) or Profile(name)
        limit = limit_for(profile, model, learned.get((name, model)))
        lanes.append(build_lane(profile, model, members, limit))
    ordered = sorted(groups.values(), key=lambda g: (g.enqueued_at, g.group_id))
    return QueueView(tuple(lanes), tuple(ordered))
