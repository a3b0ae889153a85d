"""Fixtures for the embedded server: a running server (in a thread) with a fresh data
dir, its base URL and key, and the real ``openai.OpenAI`` client pointed at it.

- ``server``: simulated time 100,000x faster than real time with short step timings,
  for tests that watch a batch to its end (they poll with a bounded deadline).
- ``manual_server``: a pinned :class:`ManualClock`; tests move time with
  ``server.advance(seconds)``, so every intermediate state is exact and repeatable.
- ``make_server(**kwargs)``: more servers (restarts, chains), stopped at teardown.

Helpers shared by the api tests live here too (import them from this module).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest

from tui.localapi.clock import ManualClock, Timing
from tui.localapi.server import LocalServer

API_KEY = "sk-test-local"
FAST = Timing(validation=2.0, per_request=0.5, finalizing=2.0, cancelling=2.0)
FINAL = ("completed", "failed", "expired", "cancelled")
MakeServer = Callable[..., LocalServer]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    started: list[LocalServer] = []

    def make(data_dir: Path | None = None, **kwargs: Any) -> LocalServer:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("timing", FAST)
        kwargs.setdefault("durable", False)
        server = LocalServer(data_dir or tmp_path / f"server-{len(started)}", **kwargs)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: MakeServer) -> LocalServer:
    return make_server(time_scale=100_000)


@pytest.fixture
def manual_server(make_server: MakeServer) -> LocalServer:
    return make_server(clock=ManualClock())


@pytest.fixture
def base_url(server: LocalServer) -> str:
    """The running server's OpenAI base URL (``http://127.0.0.1:<port>/v1``)."""
    return server.base_url


@pytest.fixture
def api_key() -> str:
    """The key the fixtures' servers require."""
    return API_KEY


@pytest.fixture
def client(server: LocalServer) -> Iterator[openai.OpenAI]:
    with make_client(server) as sdk:
        yield sdk


@pytest.fixture
def manual_client(manual_server: LocalServer) -> Iterator[openai.OpenAI]:
    with make_client(manual_server) as sdk:
        yield sdk


def make_client(server: LocalServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("max_retries", 2)
    kwargs.setdefault("timeout", 20.0)
    return openai.OpenAI(base_url=server.base_url, **kwargs)


# --- request files ------------------------------------------------------------------


def chat_line(custom_id: str, text: str, *, model: str = "gpt-4o-mini", **extra: Any) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def chat_lines(count: int, *, fail_every: int = 0, prefix: str = "req") -> list[dict]:
    """``count`` chat requests; with ``fail_every`` = k, every k-th asks echo for a 500."""
    lines = []
    for i in range(count):
        marker = " [fail:500]" if fail_every and i % fail_every == fail_every - 1 else ""
        lines.append(
            chat_line(f"{prefix}-{i}", f"Summarise ticket {i}: the parcel is late.{marker}")
        )
    return lines


def jsonl(lines: list[Any]) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()


def upload(client: openai.OpenAI, lines: list[Any], name: str = "input.jsonl") -> str:
    return client.files.create(file=(name, jsonl(lines)), purpose="batch").id


def submit(
    client: openai.OpenAI, lines: list[Any], endpoint: str = "/v1/chat/completions", **kw: Any
) -> Any:
    file_id = upload(client, lines)
    return client.batches.create(
        input_file_id=file_id, endpoint=endpoint, completion_window="24h", **kw
    )


def wait_for(
    client: openai.OpenAI, batch_id: str, statuses: tuple[str, ...] = FINAL, timeout: float = 15.0
) -> Any:
    """Poll until the batch reaches one of ``statuses`` (bounded; fails on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} stuck in {batch.status}")
        time.sleep(0.005)


def read_lines(client: openai.OpenAI, file_id: str) -> list[dict]:
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines()]


# --- raw HTTP (exact status codes, headers and bodies) --------------------------------


def raw(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = API_KEY,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request with the standard library; returns (status, headers, JSON)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=20)
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    data: bytes | None = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, parts.path.rstrip("/") + path, body=data, headers=sent)
        response = conn.getresponse()
        payload = response.read()
        got = {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
    try:
        decoded = json.loads(payload) if payload else None
    except ValueError:
        decoded = payload
    return response.status, got, decoded
