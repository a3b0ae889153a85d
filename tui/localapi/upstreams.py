"""The upstream pool behind ``batchdeck serve --upstream URL [--upstream URL ...]``.

:class:`UpstreamPool` hands each request attempt the healthy upstream with the
fewest outstanding requests (:meth:`~UpstreamPool.acquire`) and learns from how it
went (:meth:`~UpstreamPool.release`):

- **Concurrency.** Each upstream takes at most ``concurrency`` requests at a time
  (default :data:`DEFAULT_CONCURRENCY`: a model server batches the requests it has at
  once, and 8 keeps a small one busy without queueing much on it; raise it to the
  server's own batch size, e.g. vLLM's ``--max-num-seqs``).
- **Rate limits.** A 429 pauses that upstream alone for its ``Retry-After`` (or
  ``retry-after-ms``; capped) and halves its concurrency, which then grows back by
  one for each window of successes (the others carry on meanwhile).
- **Circuit breaker.** :data:`FAILURE_THRESHOLD` answers in a row that are 5xx or no
  answer at all (refused, reset, timed out) take the upstream out for a cool-down;
  then a health probe (``GET <base>/models``; any answer below 500 is alive) puts it
  back, or keeps it out for twice as long (up to ``max_cooldown``). While every
  upstream is out, lines wait for one to come back, for ``max_outage`` seconds from
  the start of the outage; after that they fail at once until one is back.
- **Stats.** Every ``stats_interval`` seconds one log line per upstream that had
  traffic: requests/s, latency, errors by kind, in flight, and whether it is out.

The pool owns the one HTTP session (with the upstream key, if any); URLs are shown
without any ``user:password@`` part.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8
FAILURE_THRESHOLD = 5


class Outcome(enum.Enum):
    """How one request attempt to an upstream went."""

    OK = "ok"  # an HTTP answer below 500 other than 429: the upstream is alive
    RATE_LIMITED = "429"
    SERVER_ERROR = "5xx"
    UNREACHABLE = "connection"  # refused, reset, timed out: no HTTP answer
    CANCELLED = "cancelled"  # the line was cancelled: says nothing about the upstream

    @classmethod
    def of(cls, status: int) -> Outcome:
        if status == 429:
            return cls.RATE_LIMITED
        return cls.SERVER_ERROR if status >= 500 else cls.OK


def display_url(url: str) -> str:
    """``url`` without the ``user:password@`` part (for logs and banners)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; ValueError saying what is wrong."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise ValueError(f"--upstream {display_url(url)!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"--upstream {display_url(url)!r}: not an http(s) URL with a host "
            "(e.g. http://127.0.0.1:8000/v1)"
        )
    return url.rstrip("/")


@dataclass
class Window:
    """What an upstream did since the last stats line."""

    requests: int = 0
    latency_total: float = 0.0
    latency_max: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class Upstream:
    """One model server and what the pool knows about it."""

    base_url: str
    concurrency: int
    limit: int = 0  # current concurrency: ``concurrency``, less after 429s
    outstanding: int = 0
    failures: int = 0  # 5xx or unanswered attempts in a row
    open_until: float = 0.0  # out (breaker open) until then, 0 = in
    cooldown: float = 0.0
    probing: bool = False
    paused_until: float = 0.0  # after a 429
    grown: int = 0  # successes since ``limit`` last grew
    window: Window = field(default_factory=Window)

    def __post_init__(self) -> None:
        self.limit = self.concurrency

    @property
    def name(self) -> str:
        return display_url(self.base_url)

    @property
    def out(self) -> bool:
        """Taken out by the breaker (until a probe puts it back)."""
        return self.open_until > 0.0

    def target(self, url: str) -> str:
        """``/v1/chat/completions`` against ``http://h/v1`` is ``http://h/v1/chat/completions``."""
        if self.base_url.endswith("/v1") and url.startswith("/v1/"):
            return self.base_url + url[3:]
        return self.base_url + url

    def free(self, now: float) -> bool:
        return not self.out and now >= self.paused_until and self.outstanding < self.limit


class UpstreamPool:
    """The upstreams of one server; lives on the server's event loop."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        api_key: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = 600.0,
        cooldown: float = 5.0,
        max_cooldown: float = 60.0,
        max_pause: float = 30.0,
        max_outage: float = 60.0,
        stats_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("the upstream pool needs at least one upstream URL")
        if concurrency < 1:
            raise ValueError("--upstream-concurrency must be at least 1")
        self.upstreams = [Upstream(check_url(url), concurrency) for url in urls]
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.max_pause = max_pause
        self.max_outage = max_outage
        self.outage_since: float | None = None  # when the last upstream went out
        self.stats_interval = stats_interval
        self.clock = clock
        self._api_key = api_key or None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._waiters: deque[tuple[asyncio.Future[Upstream | None], Upstream | None]] = deque()
        self._stats_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_report = clock()
        self._turn = 0

    @property
    def capacity(self) -> int:
        """Requests the pool may have in flight at once (all upstreams at full speed)."""
        return sum(upstream.concurrency for upstream in self.upstreams)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"User-Agent": "batchdeck-localapi"}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            connector = aiohttp.TCPConnector(limit=0)  # the pool bounds the connections
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers=headers, connector=connector
            )
        return self._session

    # --- choosing an upstream ---------------------------------------------------------

    async def acquire(self, *, avoid: Upstream | None = None) -> Upstream | None:
        """The free upstream with the fewest outstanding requests (``avoid`` last).

        Waits, first come first served, while every upstream is busy or paused by a
        429. While every upstream is out (breaker open), waits for one to come back
        until the outage is ``max_outage`` seconds old; after that returns None at
        once (the line fails) until one is back.
        """
        self._start_stats()
        while True:
            now = self.clock()
            self._probe_due(now)
            self._hand_off(now)
            if not self._waiters:
                choice = self._pick(now, avoid)
                if choice is not None:
                    choice.outstanding += 1
                    return choice
            wake = [u.paused_until for u in self.upstreams if u.paused_until > now]
            if self.outage_since is not None:
                deadline = self.outage_since + self.max_outage
                if now >= deadline:
                    return None
                wake.append(deadline)
                wake.extend(u.open_until for u in self.upstreams if not u.probing)
            granted = await self._wait(avoid, min(wake, default=now + 1.0) - now)
            if granted is not None:
                return granted

    def _pick(self, now: float, avoid: Upstream | None) -> Upstream | None:
        upstreams, best, best_key = self.upstreams, None, (True, 0)
        count = len(upstreams)
        self._turn = (self._turn + 1) % count  # ties go round
        for i in range(count):
            upstream = upstreams[(self._turn + i) % count]
            if upstream.free(now):
                key = (upstream is avoid, upstream.outstanding)
                if best is None or key < best_key:
                    best, best_key = upstream, key
        return best

    async def _wait(self, avoid: Upstream | None, timeout: float) -> Upstream | None:
        """Queue for an upstream :meth:`_hand_off` grants (None after ``timeout`` s)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Upstream | None] = loop.create_future()
        entry = (waiter, avoid)
        self._waiters.append(entry)
        timer = loop.call_later(max(0.001, timeout), _time_out, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            granted = waiter.result() if waiter.done() and not waiter.cancelled() else None
            if granted is not None:  # granted, then cancelled: give the slot back
                granted.outstanding -= 1
                self._hand_off(self.clock())
            raise
        finally:
            timer.cancel()
            if not waiter.done() or waiter.cancelled() or waiter.result() is None:
                with contextlib.suppress(ValueError):  # granted ones are off the queue
                    self._waiters.remove(entry)

    def _hand_off(self, now: float) -> None:
        """Grant free upstreams to the waiters, in the order they came."""
        waiters = self._waiters
        while waiters:
            waiter, avoid = waiters[0]
            if waiter.done():
                waiters.popleft()
                continue
            choice = self._pick(now, avoid)
            if choice is None:
                return
            waiters.popleft()
            choice.outstanding += 1
            waiter.set_result(choice)

    # --- learning from answers --------------------------------------------------------

    def release(
        self,
        upstream: Upstream,
        outcome: Outcome,
        started: float,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Account for one finished attempt on ``upstream`` (started at ``started``)."""
        now = self.clock()
        upstream.outstanding -= 1
        if outcome is not Outcome.CANCELLED:
            window = upstream.window
            latency = now - started
            window.requests += 1
            window.latency_total += latency
            window.latency_max = max(window.latency_max, latency)
            if outcome is not Outcome.OK:
                window.errors[outcome.value] = window.errors.get(outcome.value, 0) + 1
        if outcome is Outcome.OK or outcome is Outcome.RATE_LIMITED:
            upstream.failures = 0
            upstream.cooldown = 0.0
        if outcome is Outcome.OK and upstream.limit < upstream.concurrency:
            upstream.grown += 1
            if upstream.grown >= upstream.limit:
                upstream.limit, upstream.grown = upstream.limit + 1, 0
        elif outcome is Outcome.RATE_LIMITED:
            pause = min(self.max_pause, retry_after if retry_after is not None else 1.0)
            upstream.paused_until = max(upstream.paused_until, now + pause)
            upstream.limit, upstream.grown = max(1, upstream.limit // 2), 0
        elif outcome in (Outcome.SERVER_ERROR, Outcome.UNREACHABLE):
            upstream.failures += 1
            if upstream.failures >= FAILURE_THRESHOLD and not upstream.out:
                self._take_out(upstream, now, f"{upstream.failures} failed requests in a row")
        self._hand_off(now)

    def _take_out(self, upstream: Upstream, now: float, why: str) -> None:
        upstream.cooldown = min(self.max_cooldown, max(self.cooldown, upstream.cooldown * 2))
        upstream.open_until = now + upstream.cooldown
        if self.outage_since is None and all(u.out for u in self.upstreams):
            self.outage_since = now
        log.warning("upstream %s is out for %.0f s: %s", upstream.name, upstream.cooldown, why)

    # --- health probes ----------------------------------------------------------------

    def _probe_due(self, now: float) -> None:
        for upstream in self.upstreams:
            if upstream.out and not upstream.probing and now >= upstream.open_until:
                upstream.probing = True
                task = asyncio.create_task(self._probe(upstream), name="upstream-probe")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _probe(self, upstream: Upstream) -> None:
        why = ""
        try:
            async with self.session.get(
                upstream.target("/v1/models"),
                timeout=aiohttp.ClientTimeout(total=10.0),
                allow_redirects=False,
            ) as response:
                await response.read()
                healthy = response.status < 500
                why = f"health probe answered {response.status}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            healthy, why = False, f"health probe failed ({type(exc).__name__})"
        finally:
            upstream.probing = False
        if healthy:
            upstream.open_until, upstream.failures = 0.0, 0
            self.outage_since = None
            log.warning("upstream %s is back (%s)", upstream.name, why)
        else:
            self._take_out(upstream, self.clock(), why)
        self._hand_off(self.clock())

    # --- stats ------------------------------------------------------------------------

    def _start_stats(self) -> None:
        if self._stats_task is None and self.stats_interval > 0:
            self._stats_task = asyncio.create_task(self._log_stats(), name="upstream-stats")

    async def _log_stats(self) -> None:
        while True:
            await asyncio.sleep(self.stats_interval)
            for line in self.report():
                log.info("%s", line)

    def report(self) -> list[str]:
        """One line per upstream with traffic since the last report; starts a new window."""
        now = self.clock()
        elapsed = max(1e-9, now - self._last_report)
        self._last_report = now
        lines = []
        for upstream in self.upstreams:
            window, upstream.window = upstream.window, Window()
            if not window.requests:
                continue
            average = window.latency_total / window.requests * 1000
            errors = sum(window.errors.values())
            kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(window.errors.items()))
            state = ""
            if upstream.out:
                state = ", out (breaker open)"
            elif upstream.paused_until > now:
                state = f", paused {upstream.paused_until - now:.0f} s (429)"
            lines.append(
                f"upstream {upstream.name}: {window.requests / elapsed:.1f} req/s, "
                f"latency avg {average:.0f} ms max {window.latency_max * 1000:.0f} ms, "
                f"{errors} errors" + (f" ({kinds})" if kinds else "") + ", "
                f"in flight {upstream.outstanding}/{upstream.limit}{state}"
            )
        return lines

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._stats_task] if self._stats_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stats_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None


def _time_out(waiter: asyncio.Future[Upstream | None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


__all__ = ["DEFAULT_CONCURRENCY", "Outcome", "Upstream", "UpstreamPool", "display_url"]
