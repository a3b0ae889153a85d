"""Compose on an Anthropic profile, against the embedded server's Message Batches: the
same fields build ``{custom_id, params}`` lines (system, max_tokens, messages), checked
with Anthropic's rules and estimated; F9 sends one message batch through the
Anthropic journal and opens its inspector."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from textual.widgets import Input, TextArea

from tests.api.conftest import API_KEY, FAST
from tests.ui.conftest import until
from tests.ui.test_compose import ROWS, SIZE, check, compose_screen, text_of, write_csv
from tui.app import make_app
from tui.core.anthropic_client import AnthropicBatchClient
from tui.core.config import Config, Profile
from tui.core.registry import Registry
from tui.localapi.clock import ManualClock
from tui.localapi.server import LocalServer
from tui.screens.compose import ComposeScreen
from tui.widgets.body_form import BodyFormPanel
from tui.widgets.estimate_view import EstimateView

KEY_ENV = "BD_COMPOSE_ANTHROPIC_KEY"
MODEL = "claude-haiku-4-5"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(
        tmp_path / "server",
        api_key=API_KEY,
        clock=ManualClock(start=time.time()),
        timing=FAST,
        durable=False,
        dialect="anthropic",
    ) as running:
        yield running


def claude_deck(server: LocalServer, monkeypatch: pytest.MonkeyPatch, registry: Registry) -> Any:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    profile = Profile("claude", provider="anthropic", base_url=server.url, api_key_env=KEY_ENV)
    config = Config(profiles={"claude": profile}, default_profile="claude")
    return make_app(config, AnthropicBatchClient(profile), registry, profile=profile)


async def open_compose(pilot: Any, tmp_path: Path, *, max_tokens: int | None = 16) -> ComposeScreen:
    write_csv(tmp_path / "reviews.csv", ROWS)
    await pilot.pause()
    await pilot.app.push_screen(ComposeScreen())
    screen = compose_screen(pilot)
    await until(pilot, lambda: screen.query_one("#body-model", Input).value == MODEL)
    screen.query_one(BodyFormPanel).set_values(
        system="One word answers.", prompt="Label: {review}", max_tokens=max_tokens
    )
    if max_tokens is None:
        screen.query_one("#body-max-tokens", Input).value = ""
    screen.query_one("#rows-path", Input).value = "reviews.csv"
    screen.query_one("#id-pattern", Input).value = "{id}"
    await pilot.pause()
    return screen


async def test_check_builds_anthropic_lines_with_an_estimate(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with claude_deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, tmp_path)
        await check(pilot)
        checked = screen.checked
        assert checked is not None and checked.report.ok, text_of(screen, "#compose-status")
        assert checked.report.endpoint == "/v1/messages" and checked.report.model == MODEL
        lines = [json.loads(line) for line in checked.path.read_text().splitlines()]
        assert [line["custom_id"] for line in lines] == ["r1", "r2", "r3"]
        assert lines[0]["params"] == {
            "model": MODEL,
            "max_tokens": 16,
            "system": "One word answers.",
            "messages": [{"role": "user", "content": "Label: Great kettle"}],
        }
        estimate = screen.query_one(EstimateView)
        assert checked.estimate is not None and checked.estimate.input_tokens > 0
        assert estimate.display
        assert "valid" in text_of(screen, "#compose-status")

        await pilot.press("f8")
        await until(pilot, lambda: "params" in text_of(screen, "#preview"))
        assert "Label: Great kettle" in text_of(screen, "#preview")


async def test_max_tokens_is_required_and_nothing_is_sent_without_it(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with claude_deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, tmp_path, max_tokens=None)
        await check(pilot)
        checked = screen.checked
        assert checked is not None and not checked.report.ok
        problem = checked.report.problems[0]
        assert problem.line == 1 and problem.field == "body.max_tokens"
        assert "required by Anthropic" in problem.message
        assert not checked.path.exists()  # nothing half-written
        await pilot.press("f9")
        await until(pilot, lambda: "Not sent" in text_of(screen, "#compose-status"))
        assert not screen.submitted
    with anthropic.Anthropic(base_url=server.url, api_key=API_KEY) as sdk:
        assert list(sdk.messages.batches.list()) == []


async def test_metadata_is_refused_on_an_anthropic_profile(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with claude_deck(server, monkeypatch, Registry()).run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, tmp_path)
        screen.query_one("#metadata", TextArea).text = "team=ml"
        await pilot.press("f9")
        refused = "not for an Anthropic profile"
        await until(pilot, lambda: refused in text_of(screen, "#compose-status"))
        assert not screen.submitted and not screen.busy


async def test_submit_sends_one_message_batch_and_opens_its_inspector(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    registry = Registry()
    async with claude_deck(server, monkeypatch, registry).run_test(size=SIZE) as pilot:
        screen = await open_compose(pilot, tmp_path)
        screen.query_one("#description", Input).value = "claude reviews"
        await pilot.press("f9")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmDialog")
        assert not screen.submitted  # nothing sent before the answer
        await pilot.press("y")
        await until(pilot, lambda: bool(screen.submitted))
        (job,) = screen.submitted
        assert job.batch_id and job.batch_id.startswith("msgbatch_")
        assert job.description == "claude reviews"
        known = registry.find_by_batch(job.batch_id)
        assert known is not None and (known.submission or {}).get("provider") == "anthropic"
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "BatchDetailScreen")
    with anthropic.Anthropic(base_url=server.url, api_key=API_KEY) as sdk:
        batch = sdk.messages.batches.retrieve(job.batch_id)
        assert batch.request_counts.processing == len(ROWS)
