"""Small model servers on 127.0.0.1 for the gateway tests (``serve --upstream``).

A :class:`FakeUpstream` answers ``POST /v1/chat/completions`` (after ``delay``
seconds, or when the test lets it with :meth:`~FakeUpstream.release` if ``held``)
with a chat completion naming the request's marker (its first message's text) and
itself, and counts every request by marker. It can rate-limit (429 with
``Retry-After``) its first ``limited`` requests, and be killed: its socket closes and
its connections drop, as when the process dies. It runs aiohttp on its own event
loop in a daemon thread; what it saw is read from the test's thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Seen:
    """One request as the upstream saw it."""

    marker: str
    status: int
    at: float  # time.monotonic() when it was answered (or refused)
    authorization: str | None


@dataclass(eq=False)
class FakeUpstream:
    name: str
    delay: float = 0.0
    limited: int = 0  # answer the first N requests 429
    retry_after: str = "1"
    held: bool = False
    seen: list[Seen] = field(default_factory=list)
    inflight: int = 0
    most_inflight: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _gate: asyncio.Semaphore | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answered(self) -> Counter[str]:
        """Requests answered 200, by marker."""
        with self._lock:
            return Counter(x.marker for x in self.seen if x.status == 200)

    def statuses(self) -> list[int]:
        with self._lock:
            return [x.status for x in self.seen]

    def requests(self) -> int:
        with self._lock:
            return len(self.seen)

    def snapshot(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    # --- the server -----------------------------------------------------------------

    async def _answer(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        marker = str(body["messages"][0]["content"])
        auth = request.headers.get("Authorization")
        with self._lock:
            number = len(self.seen)
            limited = number < self.limited
            if limited:
                self.seen.append(Seen(marker, 429, time.monotonic(), auth))
        if limited:
            error = {"message": "Rate limit reached", "type": "requests", "code": None}
            return web.json_response(
                {"error": error}, status=429, headers={"Retry-After": self.retry_after}
            )
        self.inflight += 1
        self.most_inflight = max(self.most_inflight, self.inflight)
        try:
            if self.held:
                assert self._gate is not None
                await self._gate.acquire()
            elif self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.inflight -= 1
        with self._lock:
            self.seen.append(Seen(marker, 200, time.monotonic(), auth))
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{self.name}-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "m"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"{marker} by {self.name}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        }
        return web.json_response(answer, headers={"x-request-id": f"req_{self.name}_{number}"})

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": []})

    def start(self) -> FakeUpstream:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            loop.run_until_complete(self._serve())
            ready.set()
            loop.run_forever()
            loop.close()

        threading.Thread(target=main, name=f"upstream-{self.name}", daemon=True).start()
        ready.wait(30)
        return self

    async def _serve(self) -> None:
        self._gate = asyncio.Semaphore(0)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._answer)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def _call(self, fn: Any) -> Any:
        assert self._loop is not None

        async def run() -> Any:
            return await fn() if asyncio.iscoroutinefunction(fn) else fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def release(self, count: int = 1) -> None:
        """Let ``count`` held requests be answered."""

        def let_go() -> None:
            assert self._gate is not None
            for _ in range(count):
                self._gate.release()

        self._call(let_go)

    def kill(self) -> None:
        """Close the socket and drop every connection, mid-request or not."""
        if self._runner is not None:
            self._call(self._runner.cleanup)
            self._runner = None

    def stop(self) -> None:
        self.kill()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None


def wait_until(condition: Any, timeout: float = 30.0) -> None:
    """Poll ``condition()`` until it holds (fail after ``timeout`` s); for threads
    outside the Textual tests (those use ``tests.ui.conftest.until``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        time.sleep(0.005)
