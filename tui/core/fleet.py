"""Every profile's batches at once (the fleet view), without Textual.

- :class:`Fleet` polls several profiles, each in its own task, on its own schedule and
  :class:`~tui.core.poll.Backoff`: a slow or failing profile never delays the others.
  The first successful cycle of a profile lists all its batches (page by page, each
  page shown as it arrives); later ones refresh what is active
  (:func:`~tui.core.poll.refresh_active`). :meth:`Fleet.rows` merges them newest
  first, each row carrying its profile.
- :class:`Health` is one profile's state: ok, no key, auth refused, rate limited,
  unreachable, server error (or another refusal), since when, its active batches and
  requests in flight.
- :func:`list_profiles` lists several profiles once, concurrently (``ls --all-profiles``).
- :func:`split_ref` reads ``PROFILE:BATCH_ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from tui.core import errors
from tui.core.poll import ACTIVE_INTERVAL, IDLE_INTERVAL, Backoff, refresh_active

if TYPE_CHECKING:
    from tui.core.client import BatchClient
    from tui.core.config import Profile
    from tui.core.models import Batch

WAITING = "waiting"
OK = "ok"
NO_KEY = "no key"
AUTH_REFUSED = "auth refused"
RATE_LIMITED = "rate limited"
UNREACHABLE = "unreachable"
SERVER_ERROR = "server error"
REFUSED = "error"
STATES = (WAITING, OK, NO_KEY, AUTH_REFUSED, RATE_LIMITED, UNREACHABLE, SERVER_ERROR, REFUSED)
ERROR_STATES = {
    errors.RateLimitedError: RATE_LIMITED,
    errors.NetworkError: UNREACHABLE,
    errors.ServerError: SERVER_ERROR,
}

ClientFactory = Callable[["Profile"], "BatchClient"]
Clock = Callable[[], float]
Changed = Callable[[str], None]
"""Called with a profile's name when its rows or its health changed."""


class RefError(errors.BatchdeckError):
    """A ``PROFILE:BATCH_ID`` that names no configured profile (or no batch)."""


def split_ref(ref: str, profiles: Iterable[str]) -> tuple[str | None, str]:
    """``PROFILE:BATCH_ID`` as (profile, batch id); a plain id is ``(None, id)``.

    Batch ids hold no colon, so a prefix must be a configured profile's name, else
    :class:`RefError` says which profiles there are."""
    prefix, colon, batch_id = ref.partition(":")
    if not colon:
        return None, ref
    known = list(profiles)
    if prefix not in known:
        names = ", ".join(sorted(known)) or "none"
        raise RefError(f"{ref!r}: no profile named {prefix!r} (profiles: {names})")
    if not batch_id:
        raise RefError(f"{ref!r}: no batch id after {prefix + ':'!r}")
    return prefix, batch_id


def state_of(error: BaseException, profile: Profile) -> str:
    """The health state an error puts a profile in; a refused key whose variable is
    empty is :data:`NO_KEY`."""
    if isinstance(error, errors.AuthError):
        return NO_KEY if profile.api_key() is None else AUTH_REFUSED
    for kind, state in ERROR_STATES.items():
        if isinstance(error, kind):
            return state
    return REFUSED


def in_flight(batches: Iterable[Batch]) -> int:
    """Requests not yet done in the batches that are not final."""
    return sum(
        max(b.request_counts.total - b.request_counts.done, 0) for b in batches if not b.is_final
    )


@dataclass(frozen=True, slots=True)
class Health:
    """One profile's state as the last poll saw it."""

    profile: str
    state: str = WAITING
    since: float | None = None  # when the profile entered this state
    reason: str = ""  # the error's message (empty when ok)
    active: int = 0  # batches not final
    in_flight: int = 0  # their requests not yet done
    failures: int = 0  # polls failed in a row

    @property
    def ok(self) -> bool:
        return self.state == OK


@dataclass(frozen=True, slots=True)
class FleetBatch:
    """A batch and the profile it belongs to."""

    profile: str
    batch: Batch

    @property
    def ref(self) -> str:
        """``PROFILE:BATCH_ID``, what ``watch``, ``show`` and ``cancel`` accept."""
        return f"{self.profile}:{self.batch.id}"


def newest_first(rows: Iterable[FleetBatch]) -> list[FleetBatch]:
    """Rows by creation time, newest first (ties: by profile, then id)."""
    return sorted(rows, key=lambda r: (-r.batch.created_at, r.profile, r.batch.id))


def default_client(profile: Profile) -> BatchClient:
    """The client of the profile's provider (OpenAI-compatible, Azure, Anthropic...)."""
    from tui.core.anthropic_client import client_for

    return client_for(profile)


class ProfileFeed:
    """One profile's batches and health; :meth:`poll` runs one cycle."""

    def __init__(
        self,
        profile: Profile,
        *,
        client_factory: ClientFactory = default_client,
        clock: Clock = time.time,
        backoff: Backoff | None = None,
        changed: Changed | None = None,
    ) -> None:
        self.profile = profile
        self.batches: dict[str, Batch] = {}
        self.health = Health(profile.name)
        self.backoff = backoff or Backoff()
        self.loaded = False  # the whole list has been read once
        self._client: BatchClient | None = None
        self._client_factory = client_factory
        self._clock = clock
        self._changed = changed or (lambda _name: None)

    @property
    def client(self) -> BatchClient:
        """This profile's client, built on first use (an :class:`~errors.AuthError`
        when the key is missing for a service that needs one)."""
        if self._client is None:
            self._client = self._client_factory(self.profile)
        return self._client

    async def poll(self) -> float:
        """One cycle; how long to wait before the next (the backoff after a failure)."""
        try:
            if self.loaded:
                await self._refresh()
            else:
                await self._load()
        except (errors.BatchdeckError, OSError, ValueError) as exc:  # never stops the others
            self._set_health(state_of(exc, self.profile), str(exc))
            delay = self.backoff.failure(exc)
            self.health = replace(self.health, failures=self.backoff.failures)
            self._changed(self.profile.name)
            return delay
        self.backoff.success()
        self._set_health(OK, "")
        self._changed(self.profile.name)
        active = any(not b.is_final for b in self.batches.values())
        return ACTIVE_INTERVAL if active else IDLE_INTERVAL

    async def _load(self) -> None:
        seen: set[str] = set()
        async for page in self.client.iter_batch_pages():
            for batch in page:
                self.batches[batch.id] = batch
                seen.add(batch.id)
            self._changed(self.profile.name)
        for gone in self.batches.keys() - seen:  # deleted since an earlier, partial load
            del self.batches[gone]
        self.loaded = True

    async def _refresh(self) -> None:
        active = [b.id for b in self.batches.values() if not b.is_final]
        refresh = await refresh_active(self.client, active)
        for batch in refresh.batches:
            self.batches[batch.id] = batch
        for gone in refresh.missing:
            self.batches.pop(gone, None)

    def _set_health(self, state: str, reason: str) -> None:
        batches = self.batches.values()
        since = self.health.since if self.health.state == state else self._clock()
        self.health = Health(
            self.profile.name,
            state,
            since,
            reason,
            active=sum(1 for b in batches if not b.is_final),
            in_flight=in_flight(batches),
            failures=self.backoff.failures,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


@dataclass
class Fleet:
    """Several profiles polled at once; run :meth:`run` as one task, read
    :meth:`rows` and :meth:`health` whenever ``changed`` says something moved."""

    profiles: Sequence[Profile]
    client_factory: ClientFactory = default_client
    clock: Clock = time.time
    changed: Changed | None = None
    backoff_steps: tuple[float, ...] | None = None
    feeds: dict[str, ProfileFeed] = field(init=False)

    def __post_init__(self) -> None:
        self.feeds = {
            p.name: ProfileFeed(
                p,
                client_factory=self.client_factory,
                clock=self.clock,
                backoff=Backoff(self.backoff_steps) if self.backoff_steps else None,
                changed=self.changed,
            )
            for p in self.profiles
        }
        self._wake = {name: asyncio.Event() for name in self.feeds}

    def rows(self) -> list[FleetBatch]:
        """Every profile's batches, newest first."""
        return newest_first(
            FleetBatch(name, batch)
            for name, feed in self.feeds.items()
            for batch in feed.batches.values()
        )

    def health(self) -> list[Health]:
        """Each profile's health, in the config's order."""
        return [feed.health for feed in self.feeds.values()]

    def client(self, profile: str) -> BatchClient:
        """The client of ``profile`` (for acting on one of its batches)."""
        return self.feeds[profile].client

    def refresh_now(self, profile: str | None = None) -> None:
        """Cut the wait of one profile (or all) short: poll again now."""
        for name, event in self._wake.items():
            if profile is None or name == profile:
                event.set()

    def update(self, profile: str, batch: Batch) -> None:
        """Show a batch an action just returned (a cancel) without waiting for a poll."""
        feed = self.feeds[profile]
        feed.batches[batch.id] = batch
        if self.changed is not None:
            self.changed(profile)

    async def run(self) -> None:
        """Poll every profile until cancelled, each in its own task."""
        async with asyncio.TaskGroup() as group:
            for name in self.feeds:
                group.create_task(self._loop(name), name=f"fleet-{name}")

    async def _loop(self, name: str) -> None:
        feed, wake = self.feeds[name], self._wake[name]
        while True:
            wake.clear()  # a refresh_now() during the poll still cuts the next wait
            delay = await feed.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), delay)

    async def close(self) -> None:
        await asyncio.gather(*(feed.close() for feed in self.feeds.values()))


@dataclass
class Listing:
    """What :func:`list_profiles` found: the rows, and each profile's health."""

    rows: list[FleetBatch]
    health: list[Health]

    @property
    def failed(self) -> list[Health]:
        return [h for h in self.health if not h.ok]


Collect = Callable[["BatchClient"], Awaitable[list["Batch"]]]


async def list_profiles(
    profiles: Sequence[Profile],
    collect: Collect,
    *,
    client_factory: ClientFactory = default_client,
    clock: Clock = time.time,
) -> Listing:
    """Run ``collect`` (a listing) on every profile's client at once; a profile that
    fails is reported in the listing's health and leaves the others alone."""

    async def one(profile: Profile) -> tuple[list[Batch], Health]:
        client: BatchClient | None = None
        try:
            client = client_factory(profile)
            batches = await collect(client)
        except errors.BatchdeckError as exc:
            return [], Health(profile.name, state_of(exc, profile), clock(), str(exc))
        finally:
            if client is not None:
                await client.close()
        health = Health(
            profile.name,
            OK,
            clock(),
            active=sum(1 for b in batches if not b.is_final),
            in_flight=in_flight(batches),
        )
        return batches, health

    found = await asyncio.gather(*(one(p) for p in profiles))
    rows = newest_first(
        FleetBatch(p.name, b)
        for p, (batches, _) in zip(profiles, found, strict=True)
        for b in batches
    )
    return Listing(rows, [health for _, health in found])
