"""The app on an Anthropic profile: message batches in the list, the inspector, and
their results joined by custom_id, through the same screens as OpenAI's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from tests.api.conftest import API_KEY
from tests.ui.conftest import until
from tui.app import make_app
from tui.core.anthropic_client import AnthropicBatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Job, Registry
from tui.localapi.anthropic_demo import _requests, seed_anthropic_demo
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens.batch_detail import BatchDetailScreen
from tui.screens.results import ResultsScreen
from tui.widgets.results_list import ResultsList

KEY_ENV = "BATCHDECK_TEST_ANTHROPIC_KEY"


@pytest.fixture
def claude_server(tmp_path: Path) -> Iterator[LocalServer]:
    server = LocalServer(tmp_path / "server", api_key=API_KEY, clock=ManualClock(), durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def claude_app(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[dict[str, Any]]]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    seeded = seed_anthropic_demo(server, ahead=100.0)
    profile = Profile("claude", base_url=server.url, api_key_env=KEY_ENV)
    registry = Registry(durable=False)
    for each in seeded:
        registry.add(Job(batch_id=each["id"], description=each["description"], profile="claude"))
    config = Config(profiles={"claude": profile}, default_profile="claude")
    return make_app(config, AnthropicBatchClient(profile), registry, profile=profile), seeded


async def test_the_list_the_inspector_and_the_results(
    claude_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seeded = claude_app(claude_server, monkeypatch)
    async with app.run_test(size=(120, 36)) as pilot:
        status = pilot.app.screen.query_one("#status-line", Static)
        await until(pilot, lambda: str(status.render()).startswith("4 batches"))
        table = pilot.app.screen.query_one(DataTable)
        rows = {str(table.get_row_at(i)[1]): str(table.get_row_at(i)[2]) for i in range(4)}
        assert rows["Claude: support-ticket summaries"] == "completed"
        assert rows["Claude: product copy (running)"] == "in_progress"
        assert rows["Claude: catalogue in French, canceled"] == "cancelled"
        assert rows["Claude: 2019 ticket backfill, expired"] == "expired"

        detail = BatchDetailScreen(seeded[0]["id"])
        await pilot.app.push_screen(detail)
        await until(pilot, lambda: detail.is_live)
        await until(pilot, lambda: "/v1/messages" in _text(detail))
        await pilot.press("escape")

        app.open_results(seeded[0]["id"])
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.ready)
        ids = [row.custom_id for row in app.screen.query_one(ResultsList).rows]
        assert len(ids) == 12 and "req-005" in ids


def _text(screen: Any) -> str:
    return " ".join(str(widget.render()) for widget in screen.query(Static))


async def test_the_demo_has_a_claude_profile_beside_the_openai_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.commands.demo import DEMO_KEY_ENV, build_demo

    monkeypatch.delenv(DEMO_KEY_ENV, raising=False)  # restored after the test
    app, server = build_demo(tmp_path)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            status = pilot.app.screen.query_one("#status-line", Static)
            await until(pilot, lambda: str(status.render()).startswith("11 batches"))
            app.switch_profile("claude-demo")
            await until(pilot, lambda: str(status.render()).startswith("4 batches"))
            assert pilot.app.sub_title.startswith("claude-demo · anthropic · 127.0.0.1:")
            table = pilot.app.screen.query_one(DataTable)
            states = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
            assert states == {"completed", "in_progress", "cancelled", "expired"}
            await pilot.press("q")
    finally:
        server.stop()


async def test_retry_from_the_results_screen_sends_a_message_batch(
    claude_server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    from tui.core.results import DEFAULT_RETRY

    app, seeded = claude_app(claude_server, monkeypatch)
    source = tmp_path / "summaries.jsonl"  # the request file the first batch came from
    source.write_text(
        "".join(json.dumps(r) + "\n" for r in _requests(12, "Summarise ticket", {4: 529, 9: 400}))
    )
    job = app.registry.find_by_batch(seeded[0]["id"])
    app.registry.update(job.job_id, input_path=str(source))
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_results(seeded[0]["id"])
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.ready)
        app.screen.submit_retry(DEFAULT_RETRY)  # what `R` and the dialog's default send
        await until(
            pilot, lambda: any("submitted with 1 request" in n.message for n in app._notifications)
        )
    retries = [j for j in app.registry.load().values() if j.retry_of == seeded[0]["id"]]
    assert len(retries) == 1 and retries[0].batch_id.startswith("msgbatch_")
