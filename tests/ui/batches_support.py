"""Helpers for the batches screen and app shell tests: seeded servers, the app on
them with time pinned to the server's manual clock, and waiting without sleeping."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from tests.api.conftest import API_KEY, chat_lines
from tests.ui.conftest import until as wait_for  # the shared wait, under its old name here
from tui.app import BatchDeckApp, make_app
from tui.core import timefmt
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Job, Registry
from tui.localapi.clock import ManualClock, Timing
from tui.localapi.server import LocalServer
from tui.screens.batches import BatchesScreen

KEY_ENV = "BATCHDECK_TEST_KEY"
STILL = Timing(validation=1e9, per_request=1.0, finalizing=1.0, cancelling=1.0)  # stays put
QUICK = Timing(validation=1.0, per_request=0.0, finalizing=1.0, cancelling=1.0)


def start_server(root: Path, **kw: Any) -> LocalServer:
    """A server on a manual clock with reproducible ids (stop it yourself)."""
    kw.setdefault("clock", ManualClock())
    kw.setdefault("id_seed", 7)
    kw.setdefault("api_key", API_KEY)
    server = LocalServer(root, durable=False, **kw)
    server.start()
    return server


def seed(
    server: LocalServer,
    *,
    active: int = 0,
    final: int = 0,
    metadata: dict[str, str] | None = None,
    timing: Timing = STILL,
    age: float = 3_000,
) -> list[str]:
    """``final`` completed batches (older) and ``active`` validating ones (newer, the
    first created ``age`` seconds ago), straight into the server's store; their
    ids, newest first."""
    data = "".join(json.dumps(line) + "\n" for line in chat_lines(2)).encode()

    def make() -> list[str]:
        now = server.engine.now()
        source = server.store.create_file(
            data, filename="in.jsonl", purpose="batch", created_at=now - 100_000
        )
        ids = []
        for i in range(final + active):
            done = i < final
            record = server.engine.create_batch(
                input_file_id=source["id"],
                endpoint="/v1/chat/completions",
                metadata=metadata or {"n": str(i)},
                timing=timing,
                created_at=now - 90_000 + i * 10 if done else now - age + i,
            )
            if done:
                finish(server, record)
            ids.append(record["id"])
        return ids[::-1]

    ids = server.call(make)
    server.settle()
    return ids


def finish(server: LocalServer, record: dict[str, Any]) -> None:
    """Make a just-created batch ``completed`` at once (cheaper than running it)."""
    start = record["created_at"]
    record.update(
        status="completed",
        model="gpt-4o-mini",
        in_progress_at=start + 1,
        finalizing_at=start + 2,
        completed_at=start + 3,
        request_counts={"total": 2, "completed": 2, "failed": 0},
    )
    server.engine._active.discard(record["id"])
    server.store.save_batch(record)


def build_app(
    server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    registry: Registry | None = None,
    *,
    config: Config | None = None,
    max_retries: int = 0,
) -> BatchDeckApp:
    """The app on ``server`` with ``timefmt.now`` pinned to the server's clock."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setattr(timefmt, "now", server.clock)
    profile = Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)
    config = config or Config(profiles={"test": profile}, default_profile="test")
    profile = config.profile()
    client = BatchClient(profile, max_retries=max_retries)
    return make_app(config, client, registry or Registry(durable=False), profile=profile)


def register(registry: Registry, batch_ids: list[str], **fields: Any) -> None:
    for batch_id in batch_ids:
        registry.add(Job(batch_id=batch_id, **fields))


def status_text(pilot: Pilot[Any]) -> str:
    return str(pilot.app.screen.query_one("#status-line", Static).render())


async def loaded(pilot: Pilot[Any], cycles: int = 1) -> None:
    """Wait until the batches screen finished ``cycles`` successful refresh cycles."""
    screen = batches_screen(pilot)
    await wait_for(pilot, lambda: screen.cycles >= cycles and not screen.table.loading_rows)


def batches_screen(pilot: Pilot[Any]) -> BatchesScreen:
    assert isinstance(pilot.app, BatchDeckApp)
    screen = pilot.app.batches_screen()
    assert screen is not None, "no batches screen"
    return screen


Before = Callable[[Pilot[Any]], Awaitable[None]]
