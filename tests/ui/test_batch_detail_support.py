"""Shared set-up for the inspector and files screen tests (no tests of its own).

An embedded server on a :class:`ManualClock` with deterministic ids, the app built
through ``make_app`` against it, ``tui.core.timefmt.now`` pinned to the server's
clock, and helpers that make batches in the states the tests need.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from tests.api.conftest import API_KEY, FAST, chat_lines, jsonl
from tests.ui.conftest import until as until  # the shared wait, for the tests importing it here
from tui.app import BatchDeckApp, make_app
from tui.core import timefmt
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Registry
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"
HOSTILE = "[bold red]x[/] [@click=app.quit]q[/] \x1b[2J\x1b]0;pwned\x07"
HOSTILE_SHOWN = "[bold red]x[/] [@click=app.quit]q[/] \\x1b[2J\\x1b]0;pwned\\x07"
DISPLAY_URL = "http://batchdeck.test/v1"  # shown in the header; the client uses the server's


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A pinned-clock server with reproducible ids; ``timefmt.now`` follows its clock."""
    with LocalServer(
        tmp_path / "server",
        api_key=API_KEY,
        clock=ManualClock(),
        timing=FAST,
        id_seed=7,
        durable=False,
    ) as running:
        monkeypatch.setattr(timefmt, "now", running.clock)
        yield running


def build_app(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, registry: Registry | None = None
) -> BatchDeckApp:
    """The app against ``server``; the header shows a fixed host (for snapshots)."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    shown = Profile("test", base_url=DISPLAY_URL, api_key_env=KEY_ENV)
    real = Profile("test", base_url=server.base_url, api_key_env=KEY_ENV)
    config = Config(profiles={"test": shown}, default_profile="test")
    return make_app(config, BatchClient(real), registry or Registry(durable=False), profile=shown)


def sdk(server: LocalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)


def upload_lines(server: LocalServer, lines: list[Any], name: str = "input.jsonl") -> str:
    return sdk(server).files.create(file=(name, jsonl(lines)), purpose="batch").id


def create(
    server: LocalServer,
    lines: list[Any],
    *,
    name: str = "input.jsonl",
    metadata: dict[str, str] | None = None,
    endpoint: str = "/v1/chat/completions",
) -> str:
    """Upload ``lines`` and create a batch of them; its id."""
    file_id = upload_lines(server, lines, name)
    batch = sdk(server).batches.create(
        input_file_id=file_id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
        metadata=metadata,
    )
    return batch.id


def completed_batch(server: LocalServer, **kw: Any) -> str:
    """Five chat requests, one of which fails; completed with usage."""
    batch_id = create(server, chat_lines(5, fail_every=3), **kw)
    server.advance(60)
    assert server.batch(batch_id)["status"] == "completed"
    return batch_id


def invalid_lines(hostile_id: str = "req-0") -> list[Any]:
    """A file the server refuses: a broken JSON line and a duplicate custom_id."""
    lines: list[Any] = chat_lines(2)
    lines.append("{not json at all")
    duplicate = chat_lines(1)[0]
    duplicate["custom_id"] = hostile_id
    lines.append(duplicate)
    if hostile_id != "req-0":
        lines[0] = {**lines[0], "custom_id": hostile_id}
    return lines


def failed_batch(server: LocalServer, hostile_id: str = "req-0", **kw: Any) -> str:
    batch_id = create(server, invalid_lines(hostile_id), **kw)
    server.advance(60)
    assert server.batch(batch_id)["status"] == "failed"
    return batch_id


def text_of(screen: Any, selector: str) -> str:
    """The plain text a Static shows now (Rich tables and groups rendered, no styles)."""
    from rich.console import Console
    from rich.text import Text

    content = screen.query_one(selector, Static).content
    if isinstance(content, Text):
        return content.plain
    if isinstance(content, str):
        return content
    with open(os.devnull, "w") as sink:
        console = Console(width=160, color_system=None, record=True, file=sink)
        console.print(content)
    return console.export_text()


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until no worker of the app is running (bounded)."""
    for _ in range(200):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return
    raise AssertionError("workers did not settle")


def jsonl_file(path: Path, lines: list[Any]) -> Path:
    path.write_bytes(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()
    )
    return path


Runner = Callable[[Pilot[Any]], Awaitable[None]]
