"""The durable local queue: a job of any size flows through the enqueued-token limit
by itself, crash-safe.

:func:`enqueue_file` validates a file, splits it into parts that each fit the
model's limit (``tui.core.queue_limits``; or ``part_tokens``) and records every part
in the registry as ``queued`` (``Journal.enqueue``), one job group; nothing is sent.

:func:`run_queue_pass` is one pass of the scheduler, for one profile; ``batchdeck
queue run`` loops it, the app can call it from a worker. A pass

1. takes the runner lock (``<registry>/.queue/runner.lock``; another runner holding
   it makes the pass a no-op, so two runners never send a part twice);
2. settles interrupted submits (``Journal.reconcile``: a part cut before its upload
   goes back to ``queued``, one cut after it is finished);
3. refreshes the parts in flight from the API (with ``hooks``, a part that ended
   fires the ``[hooks]`` notifications, once per batch);
4. for a part that failed with ``token_limit_exceeded``: learns that the limit is
   below what was in flight when it was sent, and queues it again as a new job
   (``retry_of`` = the failed one, same file, so the same custom_ids), once;
5. sends the waiting parts, oldest group first and in part order, while the
   estimated tokens in flight for that model plus the next part fit the limit. A
   part that does not fit holds back the parts after it;
6. with ``hooks``: notifies once about each group that is now done
   (``tui.core.group_events``).

Every step is recorded before it is taken, so a runner killed at any moment leaves
nothing lost and nothing sent twice once the next pass has run.

On an Anthropic profile the same queue carries message batches
(``tui.core.anthropic_journal``): parts are split by Anthropic's per-batch limits
(100,000 requests, 256 MB) and the model's limit, which counts **requests** in flight,
not tokens (Anthropic limits the requests waiting in its processing queue); there is
no failure after create, the limit shows as a 429 at create instead. A part refused so
goes back to ``queued`` and waits for the answer's ``retry-after``, holding back the
parts after it; when other parts were in flight, the limit is learned as below what
was in flight with it, as for OpenAI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core import jsonsafe, paths
from tui.core.alerts import notify_batch
from tui.core.anthropic_journal import AnthropicJournal, QueueFullError, journal_for
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.errors import BatchdeckError
from tui.core.group_events import announce_groups
from tui.core.hook_settings import HookSettings
from tui.core.hooks import Writer
from tui.core.journal import Journal, _hold
from tui.core.models import Batch
from tui.core.queue_limits import LimitBook, TokenLimit, limit_for
from tui.core.queue_view import (
    IN_FLIGHT,
    OVER_LIMIT,
    SENDING_PHASE,
    WAITING,
    Group,
    Part,
    QueueView,
    groups_of,
    in_flight_tokens,
    lane_order,
    queue_table,
)
from tui.core.queue_view import queue_view as _view
from tui.core.registry import Job, Registry
from tui.core.request_file import open_request_file
from tui.core.request_report import Limits
from tui.core.request_split import split_counted

__all__ = [
    "PassReport",
    "QueueError",
    "drop",
    "enqueue_file",
    "pause",
    "queue_dir",
    "queue_view",
    "resume",
    "run_queue_pass",
]

RUNNER_LOCK = "runner.lock"


class QueueError(BatchdeckError):
    """A queue command cannot be done; the message says why."""


def queue_dir(registry: Registry) -> Path:
    """Where the queue keeps its lock and learned limits: beside the job records."""
    return registry.root / ".queue"


def queue_view(registry: Registry, config: Config) -> QueueView:
    """Per profile and model: tokens in flight, the limit (configured or learned, and
    which), waiting parts and why each waits; every group's progress. Reads the
    registry only (see :func:`tui.core.queue_view.queue_view`)."""
    return _view(registry.load(), config, queue_dir(registry))


# -- enqueue ---------------------------------------------------------------------------


def _first_request(path: Path) -> tuple[str | None, str | None]:
    """The first line's ``url`` and ``body.model`` (``params.model`` for an Anthropic
    line; validation says what else is wrong)."""
    with open_request_file(path) as handle:
        for raw in handle:
            if raw.strip():
                try:
                    obj = jsonsafe.loads(raw)
                except jsonsafe.JsonInputError:
                    return None, None
                if not isinstance(obj, dict):
                    return None, None
                body = obj.get("body", obj.get("params"))
                model = body.get("model") if isinstance(body, dict) else None
                url = obj.get("url")
                return (
                    url if isinstance(url, str) else None,
                    model if isinstance(model, str) else None,
                )
    return None, None


def _refuse_invalid(source: Path, endpoint: str | None, limits: Limits) -> None:
    """:class:`InvalidRequestFileError` with the file's problems, as ``validate``
    finds them for the profile (an endpoint it does not offer among them), if any
    besides size and count limits (the split deals with those)."""
    from tui.core.requests import InvalidRequestFileError, validate

    report = validate(source, endpoint=endpoint, limits=limits)
    if not report.only_limit_problems:
        raise InvalidRequestFileError(report)


def enqueue_file(
    journal: Journal | AnthropicJournal,
    path: str | Path,
    endpoint: str | None = None,
    *,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    tags: tuple[str, ...] = (),
    output_expires_after: int | None = None,
    part_tokens: int | None = None,
    part_requests: int | None = None,
    parts_dir: Path | None = None,
    completion_window: str | None = None,
    retry_of_batch: str | None = None,
) -> list[Job]:
    """Validate ``path``, split it into parts that each fit the model's known limit
    (and ``part_tokens``, when given) and the profile's per-file limits, and record
    them as ``queued``, to be sent with ``completion_window``: one job group.
    ``retry_of_batch``: the group retries that batch (``tui.core.retry``); every
    attempt of every part keeps it (``tui.core.results.retry_parent``).
    Parts are copied into ``parts_dir/<group>/`` (default: the data dir's
    ``queue/``), so editing the source later changes nothing that waits.

    Raises what the split raises for a bad file (``InvalidRequestFileError``,
    ``SplitError`` naming the line) and :class:`QueueError`. Blocking: run it in a
    thread from async code.

    With an :class:`AnthropicJournal` the file is ``{custom_id, params}`` lines, split
    by requests (the model's limit, ``part_requests``, Anthropic's per-batch limits;
    ``part_tokens`` is for OpenAI files); ``endpoint`` and ``metadata`` stay unset."""
    from tui.core.submission import new_group_id

    source = Path(path)
    if isinstance(journal, AnthropicJournal):
        return _enqueue_anthropic(
            journal,
            source,
            description=description,
            tags=tags,
            part_requests=part_requests,
            parts_dir=parts_dir,
            retry_of_batch=retry_of_batch,
        )
    if part_requests is not None:
        raise QueueError("part_requests is for Anthropic files; split OpenAI files by tokens")
    url, model = _first_request(source)
    limits = journal.profile.limits.request_limits()
    if model is None or (endpoint or url) not in limits.endpoints:
        _refuse_invalid(source, endpoint, limits)  # the validator says what is wrong, if it can
    endpoint = endpoint or url
    if not endpoint:
        raise QueueError(f"{source}: line 1 has no url; give the endpoint")
    if model is None:
        raise QueueError(f"{source}: line 1 has no body.model; the queue keeps limits per model")
    learned = LimitBook(queue_dir(journal.registry)).learned(journal.profile.name, model)
    limit = limit_for(journal.profile, model, learned)
    caps = [cap for cap in (limit.tokens, part_tokens) if cap is not None]
    group_id = new_group_id()
    out = (parts_dir or paths.data_dir() / "queue") / group_id
    parts = split_counted(
        source,
        out,
        journal.profile.limits.request_limits(),
        endpoint=endpoint,
        max_tokens=min(caps) if caps else None,
        count_tokens=True,
    )
    now = time.time()
    jobs: list[Job] = []
    for index, part in enumerate(parts):
        label = f"{description} (part {index + 1}/{len(parts)})".strip()
        table = {
            "order": index,
            "parts": len(parts),
            "tokens": part.tokens,
            "requests": part.requests,
            "model": model,
            "enqueued_at": now,
        }
        if retry_of_batch:
            table["retry_of_batch"] = retry_of_batch
        jobs.append(
            journal.enqueue(
                part.path,
                endpoint,
                metadata,
                label,
                queue=table,
                tags=tags,
                output_expires_after=output_expires_after,
                group_id=group_id,
                completion_window=completion_window,
            )
        )
    return jobs


def _enqueue_anthropic(
    journal: AnthropicJournal,
    source: Path,
    *,
    description: str,
    tags: tuple[str, ...],
    part_requests: int | None,
    parts_dir: Path | None,
    retry_of_batch: str | None,
) -> list[Job]:
    """:func:`enqueue_file` for an Anthropic file: parts of at most the model's limit
    of requests (and ``part_requests``), each recorded ``queued`` with ``unit =
    "requests"``."""
    from tui.core.anthropic_split import split_requests
    from tui.core.submission import new_group_id

    _, model = _first_request(source)
    if model is None:
        raise QueueError(f"{source}: line 1 has no params.model; the queue keeps limits per model")
    learned = LimitBook(queue_dir(journal.registry)).learned(journal.profile.name, model)
    limit = limit_for(journal.profile, model, learned)
    caps = [cap for cap in (limit.tokens, part_requests) if cap is not None]
    group_id = new_group_id()
    out = (parts_dir or paths.data_dir() / "queue") / group_id
    parts = split_requests(source, out, max_requests=min(caps) if caps else None)
    now = time.time()
    jobs: list[Job] = []
    for index, part in enumerate(parts):
        label = f"{description} (part {index + 1}/{len(parts)})".strip()
        table: dict[str, object] = {
            "order": index,
            "parts": len(parts),
            "tokens": part.tokens,
            "requests": part.requests,
            "unit": "requests",
            "model": model,
            "enqueued_at": now,
        }
        if retry_of_batch:
            table["retry_of_batch"] = retry_of_batch
        jobs.append(
            journal.enqueue(part.path, description=label, queue=table, tags=tags, group_id=group_id)
        )
    return jobs


# -- one pass of the runner -------------------------------------------------------------


@dataclass
class PassReport:
    """What one pass did, and what is left (over the groups that can run)."""

    busy: bool = False  # another runner held the lock: nothing was done
    sent: list[str] = field(default_factory=list)  # job ids
    requeued: list[str] = field(default_factory=list)  # job ids of the new attempts
    learned: list[tuple[str, int]] = field(default_factory=list)  # (model, tokens)
    refused: list[str] = field(default_factory=list)  # job ids refused with a 429, queued again
    problems: list[str] = field(default_factory=list)
    waiting: int = 0  # parts not sent yet
    active: int = 0  # parts being sent or in flight
    failed: list[str] = field(default_factory=list)  # group ids failed for good
    held: list[str] = field(default_factory=list)  # paused or incomplete group ids
    notified: list[str] = field(default_factory=list)  # groups whose end was announced

    @property
    def done(self) -> bool:
        return not self.busy and self.waiting == 0 and self.active == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "busy": self.busy,
            "sent": self.sent,
            "requeued": self.requeued,
            "learned": [{"model": m, "tokens": t} for m, t in self.learned],
            "refused": self.refused,
            "problems": self.problems,
            "waiting": self.waiting,
            "active": self.active,
            "failed": self.failed,
            "held": self.held,
            "notified": self.notified,
        }


def _runner_lock(registry: Registry) -> Path:
    return queue_dir(registry) / RUNNER_LOCK


def _groups(registry: Registry, profile: Profile) -> dict[str, Group]:
    base_url = profile.public_base_url()
    jobs = [
        job
        for job in registry.load().values()
        if job.profile == profile.name and job.base_url == base_url
    ]
    return groups_of(jobs)


async def run_queue_pass(
    registry: Registry,
    client: BatchClient,
    profile: Profile,
    *,
    hooks: HookSettings | None = None,
    terminal: Writer | None = None,
) -> PassReport:
    """One pass of the scheduler for ``profile`` (see the module docstring). Never
    raises for one part's trouble: it is in ``problems`` and the next pass tries again.
    With ``hooks`` (the config's ``[hooks]``), a part seen reaching a final state (or
    stuck, or near its expiry) fires the notifications once per batch
    (``tui.core.alerts``), and a job group seen ending fires once for the group."""
    with _hold(_runner_lock(registry), wait=False) as mine:
        if not mine:
            return PassReport(busy=True)
        report = PassReport()
        announcing = hooks is not None and hooks.active
        before = await asyncio.to_thread(_groups, registry, profile) if announcing else {}
        journal = journal_for(registry, client, profile)
        try:
            await journal.reconcile()
        except BatchdeckError as exc:
            report.problems.append(f"settling interrupted submits: {exc}")
        await _refresh(registry, client, profile, report, hooks, terminal)
        await asyncio.to_thread(_requeue_over_limit, journal, report)
        await _send_what_fits(journal, report)
        groups = await asyncio.to_thread(_groups, registry, profile)
        _tally(groups, report)
        if announcing and hooks is not None:
            notified, problems = await announce_groups(registry, before, groups, hooks, terminal)
            report.notified += notified
            report.problems += problems
        return report


async def _refresh(
    registry: Registry,
    client: BatchClient,
    profile: Profile,
    report: PassReport,
    hooks: HookSettings | None,
    terminal: Writer | None,
) -> None:
    groups = await asyncio.to_thread(_groups, registry, profile)
    for group in groups.values():
        for part in group.latest.values():
            if part.phase != IN_FLIGHT or not part.job.batch_id:
                continue
            try:
                batch = await client.retrieve_batch(part.job.batch_id)
            except BatchdeckError as exc:
                report.problems.append(f"{part.job.batch_id}: {exc}")
                continue
            await asyncio.to_thread(registry.record_snapshot, batch)
            if hooks is not None and hooks.active:
                await asyncio.to_thread(_notify, registry, batch, hooks, terminal, report)


def _notify(
    registry: Registry,
    batch: Batch,
    hooks: HookSettings,
    terminal: Writer | None,
    report: PassReport,
) -> None:
    """The part was in flight when this pass began: its final state is news (but a
    failure over the limit, which the queue sends again, is none: ``alerts.due``)."""
    try:
        outcome = notify_batch(registry, batch, hooks, seen_active=True, terminal=terminal)
    except (BatchdeckError, OSError) as exc:
        report.problems.append(f"notifying about {batch.id} failed: {exc}")
        return
    report.problems.extend(outcome.problems)


def _requeue_over_limit(journal: Journal | AnthropicJournal, report: PassReport) -> None:
    """Learn from each part that failed over the limit and queue it again, once."""
    registry, profile = journal.registry, journal.profile
    book = LimitBook(queue_dir(registry))
    groups = _groups(registry, profile)
    failed = [
        part
        for group in groups.values()
        for part in group.latest.values()
        if part.phase == OVER_LIMIT and not part.alone_over_limit
    ]
    failed.sort(key=lambda part: part.in_flight_at_send or part.tokens)  # the lowest teaches
    for part in failed:
        below = part.in_flight_at_send or part.tokens
        if book.learn(profile.name, part.model, below, part.job.batch_id or ""):
            report.learned.append((part.model, below - 1))
        if not groups[part.group_id].dropped:
            report.requeued.append(_requeue(journal, part).job_id)


def _requeue(journal: Journal | AnthropicJournal, part: Part) -> Job:
    """A new queued attempt of ``part``: the same file, order and group."""
    job, sub = part.job, part.job.submission or {}
    table = {k: v for k, v in (queue_table(job) or {}).items() if k != "in_flight_at_send"}
    return journal.enqueue(
        Path(job.input_path or ""),
        str(sub.get("endpoint", "")),
        sub.get("metadata") or {},
        job.description,
        queue=table,
        tags=job.tags,
        output_expires_after=sub.get("output_expires_after"),
        group_id=job.group_id,
        retry_of=job.job_id,
        completion_window=sub.get("completion_window"),
    )


async def _send_what_fits(journal: Journal | AnthropicJournal, report: PassReport) -> None:
    registry, profile = journal.registry, journal.profile
    groups = await asyncio.to_thread(_groups, registry, profile)
    book = LimitBook(queue_dir(registry))
    by_model: dict[str, list[Group]] = {}
    for group in groups.values():
        by_model.setdefault(group.model, []).append(group)
    for model, members in by_model.items():
        learned = await asyncio.to_thread(book.learned, profile.name, model)
        limit = limit_for(profile, model, learned)
        await _send_lane(journal, members, limit, report)


async def _send_lane(
    journal: Journal | AnthropicJournal, groups: list[Group], limit: TokenLimit, report: PassReport
) -> None:
    in_flight = in_flight_tokens(part for group in groups for part in group.latest.values())
    runnable = {group.group_id for group in groups if group.runnable}
    now = time.time()
    for part in lane_order(groups):
        if part.group_id not in runnable or part.phase != WAITING:
            continue
        if part.held_until(now) is not None:
            return  # refused with a 429: it, and the parts after it, wait
        if not limit.fits(in_flight, part.weight):
            return  # parts keep their order: the next one waits for this one
        before, in_flight = in_flight, in_flight + part.weight
        token = part.job.job_id
        try:
            await asyncio.to_thread(_mark_sent_at, journal.registry, token, in_flight)
            await journal.send_queued(token)
        except QueueFullError:
            report.refused.append(token)
            if before > 0:  # the server's limit is below what was in flight with it
                book = LimitBook(queue_dir(journal.registry))
                if await asyncio.to_thread(
                    book.learn, journal.profile.name, part.model, in_flight, ""
                ):
                    report.learned.append((part.model, in_flight - 1))
            return
        except (BatchdeckError, OSError) as exc:
            report.problems.append(f"{token}: {exc}")
            return
        report.sent.append(token)


def _mark_sent_at(registry: Registry, job_id: str, in_flight: int) -> None:
    def mark(job: Job) -> Job:
        table = {**(queue_table(job) or {}), "in_flight_at_send": in_flight}
        return job.with_submission(queue=table)

    registry.modify(job_id, mark)


def _tally(groups: Mapping[str, Group], report: PassReport) -> None:
    for group in groups.values():
        if not group.runnable:
            if not group.final and not group.dropped:
                report.held.append(group.group_id)
            continue
        if group.final:
            if group.failed:
                report.failed.append(group.group_id)
            continue
        report.waiting += group.count(WAITING, OVER_LIMIT)
        report.active += group.count(SENDING_PHASE, IN_FLIGHT)


# -- pause, resume, drop ---------------------------------------------------------------


def _group_jobs(registry: Registry, job: str) -> tuple[str, list[Job]]:
    jobs = registry.load()
    found = jobs.get(job)
    group_id = found.group_id if found is not None and found.group_id else job
    members = [j for j in jobs.values() if j.group_id == group_id and queue_table(j)]
    if not members:
        raise QueueError(f"no queued job group or part {job!r} in the registry")
    return group_id, members


def _set_flag(registry: Registry, job: str, name: str, value: bool) -> tuple[str, int]:
    with _hold(_runner_lock(registry), wait=True):
        group_id, members = _group_jobs(registry, job)
        for member in members:

            def change(current: Job) -> Job:
                table = {k: v for k, v in (queue_table(current) or {}).items() if k != name}
                if value:
                    table[name] = True
                return current.with_submission(queue=table)

            registry.modify(member.job_id, change)
        return group_id, len(members)


def pause(registry: Registry, job: str) -> str:
    """Hold the group of ``job`` (a group id or a part's job id): nothing more of it
    is sent until :func:`resume`; what is in flight carries on. Returns the group id."""
    return _set_flag(registry, job, "paused", True)[0]


def resume(registry: Registry, job: str) -> str:
    return _set_flag(registry, job, "paused", False)[0]


def drop(registry: Registry, job: str) -> tuple[str, int]:
    """Take the group of ``job`` out of the queue: its parts not sent yet are removed
    from the registry (their part files too), the rest are marked dropped (their
    batches carry on; one failing over the limit is not sent again). Returns the
    group id and how many parts were removed."""
    group_id, _ = _set_flag(registry, job, "dropped", True)
    removed = 0
    with _hold(_runner_lock(registry), wait=True):
        for member in _group_jobs(registry, group_id)[1]:
            if (member.submission or {}).get("state") == "queued":
                if member.input_path:  # a part not sent: its file has no other use
                    Path(member.input_path).unlink(missing_ok=True)
                registry.forget(member.job_id)
                removed += 1
    return group_id, removed
