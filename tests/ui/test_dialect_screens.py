"""Every screen against the embedded server in each dialect (issue 13): OpenAI, Azure
(``AsyncAzureOpenAI``: the ``api-key`` header, ``?api-version=``), Groq, and OpenAI with
quirks (ISO timestamps, upper-case and unknown statuses, missing counts), each with a
profile of that provider. One flow per screen group, parametrized over the dialects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.api.conftest import FAST
from tests.ui.batches_support import KEY_ENV, batches_screen, build_app, loaded, start_server
from tests.ui.conftest import until
from tests.ui.test_batch_detail_support import settle, text_of
from tests.ui.test_compose import ROWS, fill_template, write_csv
from tui.app import BatchDeckApp
from tui.core.config import Config, Profile
from tui.core.registry import Job, Registry
from tui.dialogs.confirm import ConfirmDialog
from tui.dialogs.retry_choice import RetryDialog
from tui.localapi.server import LocalServer
from tui.screens.batch_detail import BatchDetailScreen
from tui.screens.compose import ComposeScreen
from tui.screens.results import ResultsScreen
from tui.screens.spend import SpendScreen
from tui.widgets.results_list import ResultsList

DIALECTS = ["openai", "azure", "groq", "quirks"]
SIZE = (120, 36)


def dialect_server(root: Path, dialect: str, **kw: Any) -> LocalServer:
    """The embedded server speaking ``dialect`` (``quirks``: openai with odd answers)."""
    if dialect == "quirks":
        return start_server(root, quirks=True, **kw)
    return start_server(root, dialect=dialect, **kw)


def dialect_config(dialect: str, server: LocalServer, **kw: Any) -> Config:
    """A profile of the dialect's provider pointed at ``server``."""
    if dialect == "azure":
        profile = Profile(
            "az",
            provider="azure",
            azure_endpoint=server.url,
            api_version="2024-10-21",
            api_key_env=KEY_ENV,
            **kw,
        )
    elif dialect == "groq":
        profile = Profile(
            "fast", provider="groq", base_url=server.base_url, api_key_env=KEY_ENV, **kw
        )
    elif dialect == "quirks":
        profile = Profile(
            "quirky", provider="compatible", base_url=server.base_url, api_key_env=KEY_ENV, **kw
        )
    else:
        profile = Profile("openai", base_url=server.base_url, api_key_env=KEY_ENV, **kw)
    return Config(profiles={profile.name: profile}, default_profile=profile.name)


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(tmp_path: Path, dialect: str) -> Iterator[LocalServer]:
    running = dialect_server(tmp_path / "server", dialect, timing=FAST)
    try:
        yield running
    finally:
        running.stop()


def app_on(
    server: LocalServer, dialect: str, monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> BatchDeckApp:
    registry = Registry(durable=False)
    return build_app(server, monkeypatch, registry, config=dialect_config(dialect, server, **kw))


def on_top(pilot: Pilot[Any]) -> Any:
    return pilot.app.screen


def said(app: Any, start: str) -> bool:
    return any(n.message.startswith(start) for n in app._notifications)


async def test_compose_inspector_results_and_spend(
    server: LocalServer,
    dialect: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compose submits, the inspector follows the batch to its end (counts unknown
    until the service sends them), the results export and retry, Spend prices it."""
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "reviews.csv", [*ROWS, ("r4", "Broken [fail:500]")])
    app = app_on(server, dialect, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await app.push_screen(ComposeScreen())
        await fill_template(pilot, "reviews.csv")
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(on_top(pilot), ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(on_top(pilot), BatchDetailScreen))
        detail = on_top(pilot)
        assert isinstance(detail, BatchDetailScreen)
        await until(pilot, lambda: detail.is_live)
        await settle(pilot)
        head = text_of(detail, "#detail-head")
        assert ("queued" if dialect == "quirks" else "validating") in head  # as sent
        assert text_of(detail, "#detail-counts") == "no requests counted yet"  # not "0 total"
        assert "2026-01-01 00:00:00 UTC" in text_of(detail, "#detail-timeline")  # ISO read
        batch_id = detail.batch_id

        def ended() -> bool:
            server.advance(5)
            shown = detail.current_batch
            return shown is not None and shown.status == "completed"

        await until(pilot, ended)
        await settle(pilot)
        assert "completed" in text_of(detail, "#detail-head")
        counts = text_of(detail, "#detail-counts")
        assert "4 total  3 completed  1 failed" in counts
        assert "took 2s" in text_of(detail, "#detail-timeline")
        assert "$" in text_of(detail, "#detail-usage")  # priced

        await pilot.press("enter")  # the results
        await until(pilot, lambda: isinstance(on_top(pilot), ResultsScreen) and on_top(pilot).ready)
        results = on_top(pilot)
        labels = [row.label for row in results.query_one(ResultsList).rows]
        assert len(labels) == 4 and labels.count("HTTP 500") == 1
        await pilot.press("x")
        await until(pilot, lambda: bool(app.screen.query("#export-path")))
        target = tmp_path / "export.jsonl"
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.click("#export-ok")
        await until(pilot, lambda: said(app, "Exported 4 rows"))
        exported = [json.loads(line) for line in target.read_text().splitlines()]
        assert sorted(row["custom_id"] for row in exported) == ["r1", "r2", "r3", "r4"]

        await pilot.press("R")
        await until(pilot, lambda: isinstance(on_top(pilot), RetryDialog))
        await pilot.click("#retry-yes")

        def retry() -> Job | None:
            jobs = [j for j in app.registry.load().values() if j.retry_of == batch_id]
            return jobs[0] if jobs and jobs[0].batch_id else None

        await until(pilot, lambda: retry() is not None)
        job = retry()
        assert job is not None and job.batch_id in server.store.batches
        assert server.batch(job.batch_id)["metadata"]["retry_of"] == batch_id

        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(on_top(pilot), ResultsScreen))
        while not isinstance(on_top(pilot), type(batches_screen(pilot))):
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("dollar_sign")
        await until(pilot, lambda: isinstance(on_top(pilot), SpendScreen))
        spend = on_top(pilot)
        await until(pilot, lambda: spend.spend is not None)
        summary = text_of(spend, "#spend-summary")
        assert summary.startswith("Total $") and "for 2 batches" in summary  # and the retry
