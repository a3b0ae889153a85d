"""Executors run one request line of a batch and say how it went.

- :class:`EchoExecutor` (default): the deterministic synthetic model in
  :mod:`tui.localapi.echo`; instant, so the lifecycle runs it inline, in order.
- :class:`UpstreamExecutor`: forwards each body to an OpenAI-compatible server
  (another batchdeck server, vLLM, Ollama, llama.cpp…) with bounded concurrency,
  retrying 429/5xx and connection failures a few times, and maps the answer into
  the output line: its status code, its ``x-request-id`` and its JSON body. A
  request that never got an HTTP answer becomes ``response: null`` with an
  ``error`` ``{code: "upstream_unreachable", message}``.

:func:`usage_of` reads token usage from any endpoint's response body, so a batch's
``usage`` adds up the same way whichever executor ran it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from tui.core import jsonsafe
from tui.localapi import echo
from tui.localapi.ids import derived_id

Body = dict[str, Any]


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
    """Forwards requests to ``base_url`` (e.g. ``http://host:8000/v1``)."""

    inline = False

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 600.0,
        retries: int = 3,
        max_retry_wait: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self._session: aiohttp.ClientSession | None = None

    def target(self, url: str) -> str:
        """``/v1/chat/completions`` against ``http://h/v1`` is ``http://h/v1/chat/completions``."""
        if self.base_url.endswith("/v1") and url.startswith("/v1/"):
            return self.base_url + url[3:]
        return self.base_url + url

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"User-Agent": "batchdeck-localapi"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=headers)
        return self._session

    async def execute(self, url: str, body: Body, *, seed: str, now: float) -> ExecResult:
        fallback_id = derived_id("req_", "upstream", seed, str(now))
        last_error = "no attempt made"
        async with self._limit:
            for attempt in range(self.retries + 1):
                try:
                    status, answer, request_id, wait = await self._post(url, body)
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"[:500]
                    wait = min(self.max_retry_wait, 0.25 * 2**attempt)
                else:
                    retryable = status == 429 or status >= 500
                    if not retryable or attempt == self.retries:
                        return ExecResult(status, answer, request_id or fallback_id)
                if attempt < self.retries:
                    await asyncio.sleep(wait)
        return ExecResult(
            None,
            None,
            fallback_id,
            {"code": "upstream_unreachable", "message": f"Upstream request failed: {last_error}"},
        )

    async def _post(self, url: str, body: Body) -> tuple[int, Body, str | None, float]:
        session = self._get_session()
        async with session.post(self.target(url), json=body) as response:
            raw = await response.read()
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
                    return 502, answer, response.headers.get("x-request-id"), 0.0
            wait = _retry_after(response.headers, self.max_retry_wait)
            return response.status, answer, response.headers.get("x-request-id"), wait

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _retry_after(headers: Any, cap: float) -> float:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, min(cap, float(value) / divisor))
        except ValueError:
            continue
    return 0.5


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
