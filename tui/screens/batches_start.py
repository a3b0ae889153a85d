"""The batches screen's start: what the registry saw last, on screen before the
server answers (:class:`CachedStart`, the base of ``BatchesScreen``).

- The first frame shows a screenful of the newest cached batches: from the
  registry's small file of newest snapshots when it is current (the whole registry
  is then read in a thread after that frame), else from the registry read at once.
- The older cached batches wait until the first listing has answered (or failed):
  until then the SDK import and the first page have the process to themselves.
  Then they are turned into batches in a thread and appended in chunks, each a
  short step of the event loop.
- The live listing waits for the whole registry (:attr:`jobs_ready`), so that the
  rows it adds show their descriptions and tags at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message

from tui.core.models import Batch
from tui.screens.base import REPORTED, DeckScreen
from tui.widgets.batch_table import BatchTable

if TYPE_CHECKING:
    from tui.core.registry import Job

logger = logging.getLogger(__name__)


class CachedStart(DeckScreen):
    """The cached view of a batches screen; see the module docstring."""

    @dataclass(eq=False, repr=False)  # a message: never compared, never printed
    class CacheRead(Message):
        """The whole registry, read after the first frame (``paint_cached``), and
        the jobs of it the cached view shows."""

        jobs: dict[str, Job]
        cached: list[Job]

    @dataclass(eq=False, repr=False)  # a message: never compared, never printed
    class CachedBatches(Message):
        batches: dict[str, Batch]

    def __init__(self) -> None:
        super().__init__()
        self._recorded: dict[str, tuple[object, ...]] = {}  # what the registry last got
        self.jobs_ready = asyncio.Event()  # the whole registry is in table.jobs
        self._rest: list[Job] | None = None  # cached jobs not shown yet, once known
        self._rest_wanted = False  # the first listing answered: show them
        self.showing_cached = False  # the first frame shows cached rows

    @property
    def table(self) -> BatchTable:
        return self.query_one(BatchTable)

    def _registry_jobs(self) -> dict[str, Job]:
        """Every job with a batch id, by batch id: a job belongs to its batch, whatever
        its profile is called now (descriptions, tags and "Mine" follow the batch)."""
        return {job.batch_id: job for job in self.deck.registry.load().values() if job.batch_id}

    def _cached(self, jobs: Iterable[Job]) -> list[Job]:
        """The jobs whose snapshots the cached view shows: this profile's (or none's)."""
        profile = self.deck.profile.name
        return [job for job in jobs if job.snapshot and job.profile in (None, profile)]

    def paint_cached(self, *, wait_for_listing: bool = True) -> None:
        """Show what the registry saw last, before the server answers: a screenful
        now, the rest once :meth:`show_rest_of_cache` is called (at once unless
        ``wait_for_listing``)."""
        table = self.table
        count = table.screenful()
        self._rest, self._rest_wanted = None, not wait_for_listing
        newest = self.deck.registry.newest_snapshots(self.deck.profile.name, count)
        if newest is not None:
            jobs = {job.batch_id: job for job in newest.jobs[:count] if job.batch_id}
            head, total = list(jobs.values()), newest.total
            self.jobs_ready.clear()
            self._read_whole_registry()
        else:
            jobs = self._registry_jobs()
            cached = self._cached(jobs.values())
            cached.sort(key=attrgetter("snapshot_created_at"), reverse=True)
            head, total = cached[:count], len(cached)
            self._rest = cached[count:]
            self.jobs_ready.set()
        table.set_jobs(jobs)
        table.batches.clear()
        table.batches.update(_snapshots(head))
        for batch in table.batches.values():
            self._recorded[batch.id] = counts_key(batch)
        table.rebuild()
        self.showing_cached = bool(table.batches)
        self.say_cached(f"{total} cached batches; loading…")
        self._load_rest_when_ready()

    def say_cached(self, message: str) -> None:
        """The status line (the screen says how)."""

    def show_rest_of_cache(self) -> None:
        """The first listing has answered (or failed): the older cached rows may come."""
        self._rest_wanted = True
        self._load_rest_when_ready()

    def _load_rest_when_ready(self) -> None:
        if self._rest_wanted and self._rest is not None:
            rest, self._rest = self._rest, []
            if rest:
                self._load_rest_of_cache(rest)

    @work(exclusive=True, group="batches-cache", description="cached batches")
    async def _read_whole_registry(self) -> None:
        """Read every job (``paint_cached`` showed only the newest), once the first
        frame is out (the read holds the interpreter for a while)."""
        try:
            await self.deck.first_frame()
            jobs, cached = await asyncio.to_thread(self._read_cached)
        except REPORTED as exc:
            logger.warning("registry unreadable: %s", exc)
            self.jobs_ready.set()  # a failed read must not hold up the listing
            return
        self.post_message(self.CacheRead(jobs, cached))

    def _read_cached(self) -> tuple[dict[str, Job], list[Job]]:
        """(Thread) every job, and those the cached view shows: their snapshots are
        decoded here, not on the event loop (the registry defers that to first use)."""
        jobs = self._registry_jobs()
        return jobs, self._cached(jobs.values())

    def on_cached_start_cache_read(self, message: CacheRead) -> None:
        shown = self.table.batches
        self.table.set_jobs(message.jobs)
        self.jobs_ready.set()
        self._rest = [job for job in message.cached if job.batch_id not in shown]
        self._load_rest_when_ready()

    @work(exclusive=True, group="batches-cache-rest", description="cached batches")
    async def _load_rest_of_cache(self, jobs: list[Job]) -> None:
        """Turn the cached snapshots not shown yet into batches (in a thread)."""
        self.post_message(self.CachedBatches(await asyncio.to_thread(_snapshots, jobs)))

    def on_cached_start_cached_batches(self, message: CachedBatches) -> None:
        self.table.add_cached(message.batches.values())
        for batch in message.batches.values():
            self._recorded.setdefault(batch.id, counts_key(batch))


def _snapshots(jobs: list[Job]) -> dict[str, Batch]:
    """The registry's last-seen batches of ``jobs`` (those whose snapshot still reads)."""
    out: dict[str, Batch] = {}
    for job in jobs:
        batch = job.batch()
        if batch is not None and batch.id == job.batch_id:
            out[batch.id] = batch
    return out


def counts_key(batch: Batch) -> tuple[object, ...]:
    """What of a batch the registry's snapshot is kept current for."""
    counts = batch.request_counts
    return (batch.status, counts.total, counts.completed, counts.failed)
