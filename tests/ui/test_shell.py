"""The thin app shell: starts, paints the registry first, fills in live batches, quits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.api.conftest import API_KEY, FAST, chat_lines, jsonl
from tests.ui.conftest import until
from tui.app import make_app
from tui.core.client import BatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Job, Registry
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer

KEY_ENV = "BATCHDECK_TEST_KEY"
HOSTILE = "[bold red]x[/] [@click=app.quit]q[/] \x1b[2J"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(
        tmp_path / "server", api_key=API_KEY, clock=ManualClock(), timing=FAST, durable=False
    ) as running:
        yield running


def make(server_url: str, monkeypatch: pytest.MonkeyPatch, registry: Registry) -> object:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    profile = Profile("test", base_url=server_url, api_key_env=KEY_ENV)
    config = Config(profiles={"test": profile}, default_profile="test")
    return make_app(config, BatchClient(profile), registry, profile=profile)


def create_batch(server: LocalServer, metadata: dict[str, str]) -> str:
    import openai

    sdk = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
    file_id = sdk.files.create(file=("in.jsonl", jsonl(chat_lines(3))), purpose="batch").id
    batch = sdk.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata=metadata,
    )
    return batch.id


async def test_live_batches_merge_registry_and_show_text_literally(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = create_batch(server, {"note": HOSTILE})
    registry = Registry()
    registry.add(Job(batch_id=batch_id, description=HOSTILE))
    app = make(server.base_url, monkeypatch, registry)
    async with app.run_test(size=(120, 36)) as pilot:  # type: ignore[attr-defined]
        screen = pilot.app.screen
        table = screen.query_one(DataTable)
        status = screen.query_one("#status-line", Static)
        await until(pilot, lambda: table.row_count > 0 and "1 batch ·" in str(status.render()))
        assert table.row_count == 1
        row = [str(cell) for cell in table.get_row(batch_id)]
        assert row[0] == "…" + batch_id[-12:]  # the id's tail; the whole id is the row key
        assert row[1] == "[bold red]x[/] [@click=app.quit]q[/] \\x…"  # literal, cut at 40
        assert row[2] == "validating"
        await pilot.click(DataTable, offset=(45, 1))  # clicking the hostile text does nothing
        cycles = screen.cycles  # type: ignore[attr-defined]
        await pilot.press("r")
        await until(pilot, lambda: screen.cycles > cycles)  # type: ignore[attr-defined]
        assert pilot.app.is_running
        await pilot.press("q")
    assert app.return_code in (0, None)  # type: ignore[attr-defined]


async def test_cached_view_paints_before_server_answers(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry()
    snapshot = {
        "id": "batch_cached",
        "status": "completed",
        "endpoint": "/v1/embeddings",
        "input_file_id": "file_x",
        "created_at": 1_700_000_000,
        "request_counts": {"total": 5, "completed": 5, "failed": 0},
    }
    registry.add(Job(batch_id="batch_cached", description="from last time", snapshot=snapshot))
    server.faults.add("latency", delay=1.0, times=None)
    app = make(server.base_url, monkeypatch, registry)
    async with app.run_test(size=(80, 24)) as pilot:  # type: ignore[attr-defined]
        await pilot.pause()
        table = pilot.app.screen.query_one(DataTable)
        assert [str(c) for c in table.get_row("batch_cached")][1:4] == [
            "from last time",
            "completed",
            "██████ 5/5",
        ]
        await pilot.press("q")


async def test_unreachable_server_shows_state_and_keeps_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make(f"http://127.0.0.1:{port}/v1", monkeypatch, Registry())
    app.client._client = app.client._client.with_options(max_retries=0)  # type: ignore[attr-defined]
    async with app.run_test(size=(80, 24)) as pilot:  # type: ignore[attr-defined]
        status = pilot.app.screen.query_one("#status-line", Static)
        await until(pilot, lambda: "retrying" in str(status.render()))
        assert "Cannot reach the server" in str(status.render())
        assert status.has_class("-error")
        assert pilot.app.is_running
        await pilot.press("q")
