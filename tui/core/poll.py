"""Live refresh of the batches list, without Textual: what to fetch, when, and what to say.

- :func:`refresh_active` brings every non-final batch up to date with as few requests
  as the list endpoint allows: it lists pages newest first until every active batch
  it was asked about has been seen (the list returns full batch objects), and
  retrieves one by one only those older than ``max_pages`` pages reach.
- :class:`Backoff` says how long to wait after a failure (longer each time, at least
  what a 429's ``Retry-After`` asks); a success resets it.
- :class:`Watcher` remembers the batches seen active in this session and says when
  one of them reaches a final state.
- :func:`flags` names what looks wrong with a batch: too long validating or
  finalizing, or near its expiry while still running.
- :func:`matches` and :func:`sort_key` are the batches screen's filter and sort.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from tui.core import errors
from tui.core.models import BATCH_STATUSES, Batch, batch_description, shown_metadata
from tui.core.timefmt import duration

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.registry import Job

ACTIVE_INTERVAL = 5.0  # seconds between refreshes while some batch is not final
IDLE_INTERVAL = 30.0  # ... when every known batch is final (new ones may still appear)
LIST_PAGES = 3  # pages listed per refresh before falling back to retrieve
VALIDATING_LIMIT = 3600.0  # flag a batch validating for longer than this
FINALIZING_LIMIT = 7200.0  # ... or finalizing for longer than this
EXPIRY_WARNING = 7200.0  # ... or not final this close to its expiry
STATE_SINCE = {
    "validating": "created_at",
    "in_progress": "in_progress_at",
    "finalizing": "finalizing_at",
    "completed": "completed_at",
    "failed": "failed_at",
    "expired": "expired_at",
    "cancelling": "cancelling_at",
    "cancelled": "cancelled_at",
}
STATUS_FILTERS = ("all", "active", "final", *BATCH_STATUSES)


class Refresh:
    """What one refresh cycle saw, and how many requests it took. A plain class: a
    dataclass's generated methods cost their definition at launch, and none is used."""

    __slots__ = ("batches", "missing", "requests")

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.requests = 0
        self.missing: list[str] = []  # active ids the server no longer knows


async def refresh_active(
    client: BatchClient, active: Collection[str], *, max_pages: int = LIST_PAGES
) -> Refresh:
    """Fetch the current state of the ``active`` batch ids (and the newest batches).

    Always lists the first page (so batches created elsewhere appear), then more
    pages while some active id is still unseen, up to ``max_pages``; the rest are
    retrieved one at a time. Errors propagate (the caller backs off).
    """
    out = Refresh()
    pending = set(active)
    async for page in client.iter_batch_pages():
        out.requests += 1
        out.batches.extend(page)
        pending.difference_update(batch.id for batch in page)
        if not pending or out.requests >= max_pages:
            break
    for batch_id in sorted(pending):
        out.requests += 1
        try:
            out.batches.append(await client.retrieve_batch(batch_id))
        except errors.NotFoundError:
            out.missing.append(batch_id)
    return out


class Backoff:
    """Delays after consecutive failures: ``steps``, then the last step; a 429's
    ``retry_after`` is honoured when it asks for more."""

    def __init__(self, steps: tuple[float, ...] = (2.0, 5.0, 10.0, 30.0, 60.0)) -> None:
        self.steps = steps
        self.failures = 0

    def failure(self, error: BaseException | None = None) -> float:
        """Count a failure; how long to wait before the next try."""
        delay = self.steps[min(self.failures, len(self.steps) - 1)]
        if isinstance(error, errors.AuthError):
            delay = max(delay, self.steps[-1] / 2)  # a bad key will not fix itself soon
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = float(retry_after)
        self.failures += 1
        return delay

    def success(self) -> None:
        self.failures = 0


class Watcher:
    """The batches seen not final in this session; says which of them just finished."""

    def __init__(self) -> None:
        self._watching: set[str] = set()

    def finished(self, batch: Batch, job: Job | None = None) -> bool:
        """Note ``batch``'s state; ``True`` if it was watched and is now final, and is
        news by itself: a part of a queue job group (``job``) is told with its group."""
        if not batch.is_final:
            self._watching.add(batch.id)
            return False
        if batch.id in self._watching:
            self._watching.discard(batch.id)
            from tui.core.queue_view import queue_table  # not needed for the first frame

            return job is None or queue_table(job) is None
        return False

    @property
    def watching(self) -> frozenset[str]:
        return frozenset(self._watching)


def state_since(batch: Batch) -> int | None:
    """When the batch entered its current state (from its timestamps), if known."""
    name = STATE_SINCE.get(batch.status)
    value = getattr(batch, name) if name else None
    return int(value) if value else None


def flags(batch: Batch, now: float) -> list[str]:
    """Plain reasons to look at this batch now (empty if none)."""
    out: list[str] = []
    since = state_since(batch)
    if since is not None:
        stuck = now - since
        if batch.status == "validating" and stuck > VALIDATING_LIMIT:
            out.append(f"validating for {duration(stuck)}")
        if batch.status == "finalizing" and stuck > FINALIZING_LIMIT:
            out.append(f"finalizing for {duration(stuck)}")
    if not batch.is_final and batch.expires_at and batch.expires_at - now < EXPIRY_WARNING:
        left = batch.expires_at - now
        out.append(f"expires in {duration(left)}" if left > 0 else "past its expiry")
    return out


def describe(batch: Batch, job: Job | None) -> str:
    """The text shown for a batch: its description (``models.batch_description``), else its metadata
    (without batchdeck's own token), else the name of its local input file."""
    if described := batch_description(batch, job):
        return described
    shown = ", ".join(f"{key}={value}" for key, value in shown_metadata(batch.metadata).items())
    if not shown and job is not None and job.input_path:
        return PurePath(job.input_path).name
    return shown


def matches(
    batch: Batch, job: Job | None, *, status: str = "all", text: str = "", only_mine: bool = False
) -> bool:
    """Whether a batch passes the screen's filters (``text`` is case-insensitive)."""
    if only_mine and job is None:
        return False
    if status == "active" and batch.is_final:
        return False
    if status == "final" and not batch.is_final:
        return False
    if status not in ("all", "active", "final") and batch.status != status:
        return False
    if text:
        needle = text.casefold()
        haystack = [batch.id, batch.status, batch.endpoint, batch.model or ""]
        haystack.extend(shown_metadata(batch.metadata).values())
        if job is not None:
            haystack.extend((job.description, job.input_path or "", *job.tags))
        return any(needle in item.casefold() for item in haystack)
    return True


SORT_COLUMNS = ("created", "id", "description", "status", "progress", "endpoint", "model", "state")


def sort_key(column: str, batch: Batch, job: Job | None) -> Any:
    """A sort key for ``column`` (one of :data:`SORT_COLUMNS`); ties by creation."""
    tie = (batch.created_at, batch.id)
    if column == "id":
        return (batch.id,)
    if column == "description":
        return (describe(batch, job).casefold(), tie)
    if column == "status":
        order = BATCH_STATUSES.index(batch.status) if batch.status in BATCH_STATUSES else 99
        return (order, tie)
    if column == "progress":
        counts = batch.request_counts
        return (counts.done / counts.total if counts.total else -1.0, counts.total, tie)
    if column == "endpoint":
        return (batch.endpoint, tie)
    if column == "model":
        return ((batch.model or "").casefold(), tie)
    if column == "state":
        return (state_since(batch) or 0, tie)
    return tie


def changed(previous: Mapping[str, Any] | None, batch: Batch) -> bool:
    """Whether a registry snapshot differs from ``batch`` in status or counts."""
    if not previous:
        return True
    counts = previous.get("request_counts") or {}
    now = batch.request_counts
    return (
        previous.get("status") != batch.status
        or counts.get("total", 0) != now.total
        or counts.get("completed", 0) != now.completed
        or counts.get("failed", 0) != now.failed
    )
