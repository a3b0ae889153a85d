"""Executors run one request line of a batch and say how it went.

- :class:`EchoExecutor` (default): the deterministic synthetic model in
  :mod:`tui.localapi.echo`; instant, so the lifecycle runs it inline, in order.
- :class:`UpstreamExecutor`: forwards each body to one of the OpenAI-compatible
  servers of an :class:`~tui.localapi.upstreams.UpstreamPool` (other batchdeck
  servers, vLLM, Ollama, llama.cpp…), retrying 429/5xx and connection failures a
  few times with backoff, and maps the answer into the output line: its status
  code, its ``x-request-id`` and its JSON body. A request that never got an HTTP
  answer becomes ``response: null`` with an ``error``
  ``{code: "upstream_unreachable", message}``. The pool chooses the upstream,
  paces it and takes it out while it fails; this module is the per-line logic.

:func:`usage_of` reads token usage from any endpoint's response body, so a batch's
``usage`` adds up the same way whichever executor ran it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import msgspec

from tui.core import jsonsafe
from tui.localapi import echo
from tui.localapi.ids import derived_id
from tui.localapi.upstreams import Outcome, Upstream, UpstreamPool

Body = dict[str, Any]
JSON_HEADERS = {"Content-Type": "application/json"}
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class ExecResult:
    """How a request went: an HTTP answer, or ``error`` when there was none."""

    status_code: int | None
    body: Body | None
    request_id: str
    error: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Executor(Protocol):
    inline: bool
    """True if ``execute`` never waits (it is then run in order, deterministically)."""

    async def execute(self, url: str, body: Body, *, seed: str, now: float) -> ExecResult: ...

    async def close(self) -> None: ...


class EchoExecutor:
    """Answers with :func:`tui.localapi.echo.respond`."""

    inline = True

    async def execute(self, url: str, body: Body, *, seed: str, now: float) -> ExecResult:
        status, answer = echo.respond(url, body, seed=seed, now=now)
        return ExecResult(status, answer, derived_id("req_", "echo", seed))

    async def close(self) -> None:
        return None


class UpstreamExecutor:
    """Runs each line against an :class:`~tui.localapi.upstreams.UpstreamPool` (or one
    upstream URL, e.g. ``http://host:8000/v1``).

    A line is tried up to ``retries + 1`` times. A 429 pauses that upstream (the pool
    honours its ``Retry-After``) and the line goes again at once, to another upstream
    if one is free; a 5xx or no answer waits ``backoff * 2**attempt`` seconds (at most
    ``max_retry_wait``) and goes again, preferably elsewhere. A line that still fails,
    or finds every upstream out for too long, keeps the last HTTP answer it got, or,
    with none, ``response: null`` and an ``upstream_unreachable`` error.
    """

    inline = False

    def __init__(
        self,
        pool: UpstreamPool | str,
        *,
        retries: int = 3,
        backoff: float = 0.25,
        max_retry_wait: float = 30.0,
    ) -> None:
        self.pool = pool if isinstance(pool, UpstreamPool) else UpstreamPool([pool])
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait

    async def execute(self, url: str, body: Body, *, seed: str, now: float) -> ExecResult:
        last_error = "no attempt made"
        answered: ExecResult | None = None
        previous: Upstream | None = None
        for attempt in range(self.retries + 1):
            wait = min(self.max_retry_wait, self.backoff * 2**attempt)
            upstream = await self.pool.acquire(avoid=previous)
            if upstream is None:
                count = len(self.pool.upstreams)
                last_error = f"no upstream available (all {count} out after failed requests)"
                break
            previous = upstream
            outcome, started = Outcome.CANCELLED, time.monotonic()
            pause: float | None = None
            try:
                status, answer, request_id, pause = await self._post(upstream, url, body)
                outcome = Outcome.of(status)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                outcome = Outcome.UNREACHABLE
                last_error = f"{type(exc).__name__}: {exc}"[:500]
            finally:
                self.pool.release(upstream, outcome, started, retry_after=pause)
            if outcome is not Outcome.UNREACHABLE:
                fallback = request_id or derived_id("req_", "upstream", seed, str(now))
                answered = ExecResult(status, answer, fallback)
                if outcome is Outcome.OK:
                    return answered
            if attempt < self.retries and outcome is not Outcome.RATE_LIMITED:
                await asyncio.sleep(wait)
        if answered is not None:
            return answered
        return ExecResult(
            None,
            None,
            derived_id("req_", "upstream", seed, str(now)),
            {"code": "upstream_unreachable", "message": f"Upstream request failed: {last_error}"},
        )

    async def _post(
        self, upstream: Upstream, url: str, body: Body
    ) -> tuple[int, Body, str | None, float | None]:
        """POST ``body``; (status, JSON object body, request id, Retry-After seconds)."""
        session = self.pool.session
        data = _encode(body)
        async with session.post(
            upstream.target(url), data=data, headers=JSON_HEADERS, allow_redirects=False
        ) as response:
            raw = await response.read()
            request_id = response.headers.get("x-request-id")
            problem = "not a JSON object"
            try:
                answer = jsonsafe.loads(raw) if raw else {}
            except jsonsafe.JsonInputError as exc:
                answer, problem = None, str(exc)
            if not isinstance(answer, dict):
                text = raw[:1000].decode("utf-8", "replace")
                answer = {
                    "error": {
                        "message": f"Upstream returned a body that is {problem}: {text}",
                        "type": "upstream_error",
                        "param": None,
                        "code": None,
                    }
                }
                if response.status < 300:
                    return 502, answer, request_id, None
            return response.status, answer, request_id, retry_after(response.headers)

    async def close(self) -> None:
        await self.pool.close()


def retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (None if neither is a number)."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if seconds == seconds and seconds >= 0:  # not NaN
            return min(seconds, 86_400.0)
    return None


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0


def usage_of(body: Body | None) -> Tokens:
    """Token usage from a response body of any endpoint (zeros when it has none)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return Tokens()

    def num(mapping: Any, key: str) -> int:
        value = mapping.get(key) if isinstance(mapping, dict) else None
        return int(value) if isinstance(value, int | float) else 0

    if "prompt_tokens" in usage:  # chat, completions, embeddings
        return Tokens(
            input=num(usage, "prompt_tokens"),
            cached=num(usage.get("prompt_tokens_details"), "cached_tokens"),
            output=num(usage, "completion_tokens"),
            reasoning=num(usage.get("completion_tokens_details"), "reasoning_tokens"),
        )
    return Tokens(  # responses, images
        input=num(usage, "input_tokens"),
        cached=num(usage.get("input_tokens_details"), "cached_tokens"),
        output=num(usage, "output_tokens"),
        reasoning=num(usage.get("output_tokens_details"), "reasoning_tokens"),
    )
